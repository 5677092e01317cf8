/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CHURN_ENGINE_INTERNAL_H
#define CHURN_ENGINE_INTERNAL_H

/*
 * Internals shared by the engine's stage files (churn__ prefix). Nothing here
 * is part of the public API.
 *
 * Invariants:
 * - An account's state is one fixed-size block: struct churn__account plus a
 *   ring of window.buckets buckets stored column-wise (see ring accessors).
 *   Nothing in it grows with the account's event count.
 * - Usage events update only commutative state (bucket sums, bitmap ORs, max
 *   and min times), so their arrival order inside the lateness bound does not
 *   matter. Subscription, payment and feedback events are order-sensitive;
 *   they wait in a reorder heap and are applied in (ts, event_id) order once
 *   the watermark passes them.
 * - Scores and time-driven rules are evaluated only when the watermark
 *   crosses a bucket boundary, over completed buckets, and the outputs of one
 *   boundary are ordered by account hash and id: the output sequence is a
 *   function of the input set, not of the arrival order.
 */

#include "churnd/engine.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define CHURN__DAY_MS 86400000LL

/* Formatting is not I/O: declared here so the engine needs no <stdio.h>
 * (tests/engine_purity.sh checks no stdio call is linked in). */
int snprintf(char *str, size_t size, const char *format, ...);

enum churn__status {
    CHURN__ST_NONE, /* no subscription event seen yet */
    CHURN__ST_TRIALING,
    CHURN__ST_ACTIVE,
    CHURN__ST_PAUSED,
    CHURN__ST_CANCEL_SCHEDULED,
    CHURN__ST_CANCELED,
    CHURN__ST_EXPIRED,
};

enum churn__band {
    CHURN__BAND_HEALTHY,
    CHURN__BAND_WATCH,
    CHURN__BAND_AT_RISK,
    CHURN__BAND_CRITICAL,
    CHURN__BAND_NONE, /* not scored yet */
};

enum churn__acct_flag {
    CHURN__AF_HARD_DECLINE = 1u << 0,   /* last failure was a hard decline */
    CHURN__AF_INVOLUNTARY = 1u << 1,    /* cancellation not voluntary */
    CHURN__AF_SCORED = 1u << 2,         /* a signal was emitted */
    CHURN__AF_NEEDS_NEW_CARD = 1u << 3, /* last decline asks for a new card */
    /* metrics.c's ledger state (see metrics.h) */
    CHURN__AF_M_COUNTED = 1u << 4,    /* counted as an active account */
    CHURN__AF_M_IN_COUNTRY = 1u << 5, /* ... and in m_country's ledger */
    CHURN__AF_M_EVER = 1u << 6,       /* has been counted before */
    CHURN__AF_M_REACT = 1u << 7,      /* joins its country as reactivated */
};

/* Interned strings (plans, currencies, decline codes, reasons): id 0 is
 * "none"; when the table is full new strings map to CHURN__INTERN_OTHER. */
#define CHURN__INTERN_MAX   1024
#define CHURN__INTERN_OTHER 1

struct churn__intern {
    char *str[CHURN__INTERN_MAX];
    uint16_t len[CHURN__INTERN_MAX];
    uint16_t cnt;
    uint16_t slots[2048]; /* open addressing over ids; 0 = empty */
};

/* Account ids up to this length live inside the account block; longer
 * ones (rare: the decoder allows 128 bytes) get a heap copy. 24 bytes hold
 * Stripe-style ids (cus_ + 14) and most tenant keys; not a UUID (36). */
#define CHURN__ID_INLINE 24

/*
 * A rule's lifecycle in one int64: while the rule fires, the event time it
 * started (since); while idle, the event time before which it may not fire
 * again (cool-down). `firing` in the account says which meaning applies.
 */
struct churn__account {
    uint8_t id_len;      /* the id: churn__acc_id() */
    uint8_t status;      /* enum churn__status */
    uint8_t fail_streak; /* failed payments since the last success */
    uint8_t flags;       /* enum churn__acct_flag */
    uint8_t band;        /* band at the last boundary */
    uint8_t signaled_band;
    int8_t nps;        /* last NPS, -1 none */
    uint8_t head_slot; /* ring slot of head_bucket */
    char country[2];
    char region[3];
    char m_country[2]; /* metrics: the country the ledger counts it in */
    char geo_cur[2];   /* metrics: newest country before the period end */
    char geo_next[2];  /* metrics: newest country at or after it */
    uint8_t changed;   /* since the last changelog export (state.c) */
    uint16_t plan;     /* interned */
    uint16_t currency; /* interned */
    uint16_t decline;  /* interned, last decline code */
    uint16_t cancel_reason;
    uint16_t firing;         /* bit per enum churn_rule */
    int16_t sentiment_milli; /* last ticket sentiment x 1000 */
    float health;            /* at the last boundary */
    float signaled_health;   /* in the last signal */
    float engagement;        /* at the last boundary */
    int32_t head_bucket;     /* newest bucket index in the ring */
    int32_t first_bucket;    /* bucket of the first event */
    int32_t card_exp_ym;     /* -1 unknown */
    int32_t resumed_bucket;  /* bucket of the last resume; INT32_MIN */
    int32_t seats;
    int32_t prev_seats;    /* before the last downgrade */
    uint32_t geo_cur_rel;  /* geo_cur's time - period start + 1; 0 older */
    uint32_t geo_next_rel; /* geo_next's time - period end + 1; 0 none */
    /* Weeks that left the ring, as engagement_drop's long reference
     * (window.c): EWMA over at most CHURN__FOLD_WEEKS of the weekly event
     * count and of its square. */
    float fold_mean;
    int64_t first_ms;
    int64_t last_ms; /* newest event time (idle eviction) */
    int64_t geo_ms;  /* event time of the country we keep */
    int64_t mrr;
    int64_t prev_mrr; /* before the last downgrade */
    int64_t trial_end_ms;
    int64_t cancel_at_ms; /* scheduled cancellation, effective time */
    int64_t downgrade_ms;
    int64_t feedback_ms; /* last detractor feedback */
    int64_t chargeback_ms;
    int64_t fail_ms; /* first failure of the current streak */
    int64_t rule_time[CHURN_RULE__COUNT];
    /* the id when it fits, else a pointer to its heap copy */
    char id_inline[CHURN__ID_INLINE];
    float fold_sq;
    uint8_t fold_weeks;   /* weeks in fold_mean, at most CHURN__FOLD_WEEKS */
    _Alignas(8) unsigned char ring[]; /* see churn__ring_*: u32 columns */
};

/* The weight cap of the folded weeks: the reference forgets with a time
 * constant of about this many weeks. */
#define CHURN__FOLD_WEEKS 8u

/* The account's id (id_len bytes, not NUL-terminated). */
static inline const char *churn__acc_id(const struct churn__account *acc)
{
    const char *p;

    if (acc->id_len <= CHURN__ID_INLINE) {
        return acc->id_inline;
    }
    memcpy(&p, acc->id_inline, sizeof(p));
    return p;
}

/* Column layout of the ring, per bucket: events u32, api_calls u32,
 * users bitmap u32, features bitmap u16, logins u16, session minutes u16. */
#define CHURN__RING_BYTES_PER_BUCKET 18u

struct churn__ring_view {
    uint32_t *events;
    uint32_t *api_calls;
    uint32_t *users;
    uint16_t *features;
    uint16_t *logins;
    uint16_t *session_min;
};

/* Number of bits of the feature bitmap reserved for configured key features;
 * other features hash into the remaining bits. */
#define CHURN__FEATURE_BITS 16u

/* ---- table.c: account table ---- */

struct churn__table;

struct churn__table *churn__table_new(uint32_t ring_len, size_t max_accounts);
void churn__table_free(struct churn__table *t);
/* Finds the account for id, or NULL. */
struct churn__account *
churn__table_find(struct churn__table *t, struct churn_str id, uint64_t hash);
/* Finds or inserts (zeroed ring, fields initialised); *created tells which.
 * At max_accounts evicts the account with the oldest last_ms first (counted
 * in *evicted). NULL on allocation failure or an id over 255 bytes. An
 * account block never moves while it is in the table. */
struct churn__account *churn__table_upsert(struct churn__table *t,
                                           struct churn_str id,
                                           uint64_t hash,
                                           int64_t now_ms,
                                           bool *created,
                                           uint64_t *evicted);
/* Removes acc, which was inserted with hash = churn__hash(its id) as the
 * engine does (the pointer is invalid afterwards); no eviction callback. */
void churn__table_remove(struct churn__table *t, struct churn__account *acc);
size_t churn__table_count(const struct churn__table *t);
/* Walks the accounts in (hash, id) order, hash as given to upsert, id
 * compared bytewise then by length: *pos starts at 0; NULL at the end. No
 * insert or removal may happen during a walk. */
struct churn__account *churn__table_next(struct churn__table *t, size_t *pos);
/*
 * Walks, in the same order, only the accounts due at boundary: those whose
 * due mark is at or before it. Every account is due from its insertion and
 * again after each upsert of it (an event or fact changed it); otherwise its
 * mark is what churn__table_due_set gave at its last evaluation, so a walk
 * skips settled accounts without touching their blocks. No insert or removal
 * may happen during a walk.
 */
struct churn__due_walk {
    size_t pos, ahead;
    unsigned lead;
    int32_t boundary;
};
void churn__table_due_begin(struct churn__table *t,
                            struct churn__due_walk *w,
                            int32_t boundary);
struct churn__account *churn__table_due_next(struct churn__table *t,
                                             struct churn__due_walk *w);
/* The due mark of the account churn__table_due_next returned last, and
 * setting it. */
int32_t churn__table_due_get(const struct churn__table *t,
                             const struct churn__due_walk *w);
void churn__table_due_set(struct churn__table *t,
                          const struct churn__due_walk *w,
                          int32_t due);
/* Calls fn for each account, in the same order; fn may not insert or
 * remove. */
typedef void (*churn__table_fn)(void *ctx, struct churn__account *acc);
void churn__table_each(struct churn__table *t, churn__table_fn fn, void *ctx);
/* The same for an fn that reads only struct churn__account, not the ring:
 * it fetches ahead only the struct's cache lines. */
void churn__table_each_struct(struct churn__table *t,
                              churn__table_fn fn,
                              void *ctx);
/* Sets a function called with each account the table is about to evict
 * (at max_accounts or idle), before it is freed. */
void churn__table_on_evict(struct churn__table *t,
                           churn__table_fn fn,
                           void *ctx);
/* Removes every account with last_ms < cutoff_ms; returns how many. */
size_t churn__table_evict_idle(struct churn__table *t, int64_t cutoff_ms);
/* Bytes of one account block in the slab (struct, ring, alignment). */
size_t churn__table_account_bytes(const struct churn__table *t);

uint64_t churn__hash(const void *p, size_t len);

/* ---- window.c: ring of event-time buckets ---- */

struct churn__ring_view churn__ring(struct churn__account *acc,
                                    uint32_t ring_len);
/* Makes bucket b current (clearing slots that roll over, after folding the
 * weeks of `unit` buckets that leave into fold_*); b must be > head -
 * ring_len. Returns the slot of b. */
uint32_t churn__ring_touch(struct churn__account *acc,
                           uint32_t ring_len,
                           uint32_t unit,
                           int32_t b);
/* The oldest bucket of the ring not yet folded (nor skipped) into fold_*,
 * at least first_bucket; INT32_MAX without a ring. Buckets from here to
 * the head plus the folded weeks are the whole observed history. */
int32_t churn__ring_ref_start(const struct churn__account *acc,
                              uint32_t ring_len,
                              uint32_t unit);
/* Slot of bucket b, or -1 when b is not in the ring (future or rolled
 * off). Inline and division-free: scoring calls it for every bucket. */
static inline int32_t
churn__ring_slot(const struct churn__account *acc, uint32_t ring_len, int32_t b)
{
    int64_t d;

    if (acc->head_bucket == INT32_MIN) {
        return -1;
    }
    d = (int64_t)acc->head_bucket - b;
    if (d < 0 || d >= (int64_t)ring_len) {
        return -1;
    }
    d = (int64_t)acc->head_slot - d;
    return (int32_t)(d < 0 ? d + ring_len : d);
}
/* Linear-counting estimate of the distinct items in a bitmap of m bits. */
double churn__bitmap_estimate(uint32_t bits, unsigned m);

/* ---- intern ---- */
uint16_t churn__intern(struct churn__intern *in, struct churn_str s);
struct churn_str churn__intern_get(const struct churn__intern *in, uint16_t id);
void churn__intern_release(struct churn__intern *in);

#endif
