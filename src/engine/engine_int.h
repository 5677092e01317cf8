/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CHURN_ENGINE_INT_H
#define CHURN_ENGINE_INT_H

/*
 * struct churn_engine and the calls between engine.c (input, dedupe,
 * reorder, watermark), facts.c (subscription/payment/feedback state),
 * score.c (figures and scores) and detect.c (rules, alerts, signals).
 */

#include "churnd/engine.h"
#include "emit.h"
#include "internal.h"
#include "wire.h"

/* Bounded set of recent event_id hashes (64-bit xxh3; a false duplicate
 * needs a 64-bit collision among the ids inside the horizon). */
struct churn__dedupe {
    uint64_t *set; /* open addressing, 0 = empty */
    size_t set_mask;
    size_t set_cnt;
    struct dd_entry {
        uint64_t hash;
        int64_t ts_ms;
    } * fifo; /* arrival order */
    size_t fifo_cap, fifo_head, fifo_cnt;
    size_t capacity; /* input.dedupe_capacity */
};

/*
 * The bytes of waiting events live in chunks of CHURN__PENDING_CHUNK bytes,
 * appended in arrival order and freed whole once every event in them has
 * been released. Events are released in about the order they arrive (within
 * the lateness), so a chunk empties soon after the next one starts; and as
 * chunks are large, freeing one returns its memory to the system, where a
 * burst of small mallocs (every account created in the same hour) would
 * stay resident in the allocator.
 */
#define CHURN__PENDING_CHUNK (256u << 10)

struct churn__pending_chunk {
    size_t used; /* bytes appended */
    size_t live; /* events in it not yet released */
    size_t size; /* bytes of data (larger than the default for a huge event) */
    char data[];
};

/* An order-sensitive event waiting for the watermark: an owned copy. */
struct churn__pending {
    struct churn_event ev;               /* views into chunk */
    struct churn__pending_chunk *chunk;  /* holds the bytes; NULL: none */
    uint64_t seq;
};

struct churn__heap {
    struct churn__pending *v;
    size_t cnt, cap;
    struct churn__pending_chunk *tail; /* being appended to; may be NULL */
};

/*
 * engagement_drop's count test of one window: the last n buckets against the
 * account's reference, every observed bucket before them (those still in
 * the ring plus the folded weeks, see window.c). The window's events are
 * compared with the reference daily mean x n under quasi-Poisson counts,
 * phi pooled from the weekday-adjusted ring days and the folded weekly
 * counts: z = (E - R) / sqrt(phi E (1 + n / reference_days)), positive
 * below the expected.
 */
struct churn__drop {
    bool ok;            /* enough reference and no pause in the window */
    uint32_t n;         /* window buckets */
    double events;      /* R */
    uint32_t ref_days;  /* observed buckets in the reference */
    uint32_t ref_weeks; /* ... of which folded weeks */
    double ref_daily;   /* reference daily mean */
    double expected;    /* E */
    double ratio;       /* R / E */
    double dispersion;  /* phi, floored */
    double z;           /* the deficit in standard deviations */
};

/* The figures behind an account's scores at one boundary. */
struct churn__figures {
    int32_t boundary;  /* first incomplete bucket */
    bool insufficient; /* no usable baseline */
    uint32_t recent_n, base_n, base_avail;
    double recent_events;   /* R */
    double base_events;     /* S */
    double base_daily_mean; /* mu */
    double expected;        /* E = mu * recent_n, or the cohort's */
    double ratio;           /* R / E */
    double dispersion;      /* phi */
    double z;               /* (R - E) / sqrt(phi E) */
    /* engagement_drop's count tests: [0] rule.engagement_drop.window,
     * [1] its long_window (see struct churn__drop) */
    struct churn__drop drop[2];
    uint16_t key_regular; /* key feature bits used on >= 3 reference days */
    /* without a baseline or while trialing: activity since the first event
     * (at most the whole window) against the plan's cohort, per seat */
    uint32_t plan_days;   /* completed buckets since the first event */
    double plan_events;   /* events in them */
    double plan_expected; /* cohort daily mean per seat x seats x days */
    double plan_ratio;    /* plan_events / plan_expected; 0: no cohort */
    double plan_slope;    /* the cohort's slope of ln(per seat) on ln(seats) */
    double users_recent, users_base_weekly;
    double features_recent, features_base_weekly;
    int32_t days_since_usage;
    uint32_t active_days_before;   /* active buckets in the ring before the */
    uint32_t observed_days_before; /* ... current idle run, since the first */
    uint64_t logins_recent, session_min_recent, api_calls_recent;
    uint16_t key_used_base; /* feature bits seen in the baseline */
    uint16_t
        key_used_lately; /* ... in the last rule.feature_abandonment.unused */
    /* components, 0..100 */
    double activity, breadth, users, recency;
    double engagement, payment, subscription, feedback, health;
    uint8_t band;
};

/* A plan's typical activity: a log-log line through its established
 * (baseline, not trialing) accounts' baseline daily events per seat against
 * their seats (activity is heavy-tailed, so logs; and larger accounts use
 * less per seat, so a slope). Gathered while the previous boundary scored
 * its accounts, summed in fixed point (2^-20) so the result does not depend
 * on account order; churn__cohort_per_seat() reads it.
 */
struct churn__cohort {
    int64_t sum_log_per_seat; /* sum of ln(baseline mean per seat) * 2^20 */
    int64_t sum_ls;           /* sum of ln(seats) * 2^20 */
    int64_t sum_ls2;          /* sum of ln(seats)^2 * 2^20 */
    int64_t sum_ls_lp;        /* sum of ln(seats) ln(per seat) * 2^20 */
    uint32_t cnt;
};

/* Adds an established account (seats, baseline daily mean) to c. */
void churn__cohort_add(struct churn__cohort *c, double seats, double daily);
/* The cohort's typical daily events per seat for an account of `seats`,
 * and the slope of ln(per seat) on ln(seats) behind it (0: per seat, the
 * same at every size) in *slope when not NULL. */
double churn__cohort_per_seat(const struct churn__cohort *c,
                              double seats,
                              double *slope);

#define CHURN__COHORT_SCALE 1048576.0

/* How long facts weigh on scores and rules (score.c, detect.c; due.c
 * schedules a re-evaluation where each one ends). */
#define CHURN__FACT_WINDOW_MS      (30 * CHURN__DAY_MS) /* one-off alerts */
#define CHURN__CHARGEBACK_WEIGH_MS (90 * CHURN__DAY_MS) /* payment = 0 */
#define CHURN__DOWNGRADE_WEIGH_MS  (30 * CHURN__DAY_MS) /* subscription */
#define CHURN__FEEDBACK_WEIGH_MS   (30 * CHURN__DAY_MS) /* ticket sentiment */

/* How the boundary walk picks accounts (test-only; no config key). */
enum churn__eval_mode {
    CHURN__EVAL_DUE,    /* only accounts due (churn__account_next_due) */
    CHURN__EVAL_FULL,   /* every account at every boundary, as before */
    CHURN__EVAL_VERIFY, /* every account, counting skips that were wrong */
};

struct churn_engine {
    struct churn_config cfg; /* copy; kafka_props not owned (NULL) */
    churn_geo_fn geo;
    void *geo_ctx;
    struct churn_decoder *dec;
    struct churn__table *accounts;
    struct churn__dedupe dedupe;
    struct churn__heap pending;
    struct churn__intern intern;
    struct churn__outq out;
    struct churn__jw jw;
    struct churn_engine_stats stats;
    uint32_t ring_len;
    uint32_t week_n; /* buckets in 7 days, at least 1 */
    int64_t max_ts;
    int32_t evaluated; /* last boundary evaluated; INT32_MIN: none */
    uint64_t seq;
    uint64_t key_feature_hash[CHURN_MAX_KEY_FEATURES];
    struct churn__cohort *cohort;      /* per plan intern id, in use */
    struct churn__cohort *cohort_next; /* gathered for the next boundary */
    struct churn__metrics *metrics;    /* metrics.c */
    churn_output_fn sink;              /* may be NULL */
    void *sink_ctx;
    /* state.c: the changelog's bookkeeping while tracking is on */
    bool track_changes;
    struct churn__ww removed; /* ids removed since the last export: u8 len,
                                 bytes */
    /* boundary walk (due.c): mode and counts */
    enum churn__eval_mode eval_mode;
    uint64_t due_evaluated; /* account evaluations */
    uint64_t due_skipped;   /* account-boundaries skipped as settled */
    uint64_t due_misses;    /* VERIFY: skipped ones that would have changed */
    unsigned char *verify_copy; /* VERIFY: an account block before */
};

/* engine.c, for state.c: the dedupe set and the reorder heap */
bool churn__dedupe_add(struct churn_engine *eng, uint64_t hash, int64_t ts_ms);
void churn__dedupe_clear(struct churn_engine *eng);
bool churn__pending_add(struct churn_engine *eng,
                        const struct churn_event *ev,
                        uint64_t seq);
void churn__pending_clear(struct churn_engine *eng);

/* state.c: an account is leaving the table (the changelog's removal). */
void churn__state_removed(struct churn_engine *eng,
                          const struct churn__account *acc);

/* metrics.c: the ledgers as part of the partition record. */
void churn__metrics_save(const struct churn_engine *eng, struct churn__ww *w);
/* Replaces the ledgers; false on a malformed record or out of memory. */
bool churn__metrics_load(struct churn_engine *eng, struct churn__wr *r);

int32_t churn__bucket_of(const struct churn_engine *eng, int64_t ts_ms);
int64_t churn__bucket_start(const struct churn_engine *eng, int32_t b);

/* facts.c: applies a released order-sensitive event. */
void churn__facts_apply(struct churn_engine *eng,
                        struct churn__account *acc,
                        const struct churn_event *ev);

/* score.c */
void churn__figures_compute(struct churn_engine *eng,
                            struct churn__account *acc,
                            int32_t boundary,
                            struct churn__figures *f);
const char *churn__band_name(uint8_t band);

/* due.c: the first boundary after boundary at which evaluating acc could
 * change anything (outputs, the account, the cohorts), given f, its figures
 * at boundary, and no event or fact for it in between. */
int32_t churn__account_next_due(const struct churn_engine *eng,
                                const struct churn__account *acc,
                                const struct churn__figures *f,
                                int32_t boundary);

/* detect.c */
/* inactivity's probability of an idle run as long as f's under the
 * account's own active-day share */
double churn__inactivity_gap_p(const struct churn__figures *f);
void churn__detect_boundary(struct churn_engine *eng,
                            struct churn__account *acc,
                            const struct churn__figures *f,
                            int64_t at_ms);
void churn__alert_fire(struct churn_engine *eng,
                       struct churn__account *acc,
                       enum churn_rule rule,
                       int64_t at_ms,
                       const struct churn__figures *f);
void churn__alert_resolve(struct churn_engine *eng,
                          struct churn__account *acc,
                          enum churn_rule rule,
                          int64_t at_ms,
                          const char *outcome);
bool churn__rule_can_fire(const struct churn_engine *eng,
                          const struct churn__account *acc,
                          enum churn_rule rule,
                          int64_t at_ms);
/* Writes "components":{engagement,payment,subscription,feedback}, as
 * signals and /accounts/{id} show them. */
void churn__write_components(struct churn__jw *w,
                             const struct churn__figures *f);
/* Writes the usage figures behind engagement (active users and features,
 * logins, session minutes, API calls, recency, insufficient_history), as
 * signals and /accounts/{id} show them. */
void churn__write_usage_figures(struct churn__jw *w,
                                const struct churn__figures *f);
void churn__signal_maybe(struct churn_engine *eng,
                         struct churn__account *acc,
                         const struct churn__figures *f,
                         int64_t at_ms);

/* detect.c: fires detractor_feedback at at_ms when a detractor response
 * (the account's last NPS or ticket) is pending and the account's usage is
 * weak by f (NULL: the figures of the buckets completed before at_ms). */
void churn__detractor_judge(struct churn_engine *eng,
                            struct churn__account *acc,
                            int64_t at_ms,
                            const struct churn__figures *f);

/* detect.c: the deterministic id of the alert on acc's rule since since_ms */
uint64_t churn__alert_id(const struct churn__account *acc,
                         enum churn_rule rule,
                         int64_t since_ms);

/* Calendar helpers: the year*12+month-1 of ms (UTC), and the first instant
 * after card month ym (a card is valid through the end of its month). */
int32_t churn__ym_of(int64_t ms);
int64_t churn__ym_end_ms(int32_t ym);
/* True when the account's card ends within rule.card_expiring.within of
 * at_ms, or has already ended, and no newer card was seen. */
bool churn__card_expires_within(const struct churn_engine *eng,
                                const struct churn__account *acc,
                                int64_t at_ms);

/* Decline code classes (DESIGN §7: one table). */
enum churn__decline_class {
    CHURN__DECLINE_SOFT,
    CHURN__DECLINE_HARD,
    CHURN__DECLINE_NEW_CARD,
};
enum churn__decline_class churn__decline_classify(struct churn_str code);
const char *churn__decline_class_name(enum churn__decline_class c);

#endif
