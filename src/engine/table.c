/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The account table: open addressing with linear probing over 16-byte slots
 * (hash, account pointer), backward-shift deletion (no tombstones), load
 * factor <= 3/4, doubling growth. Accounts are fixed-size blocks owned by
 * the table.
 *
 * At state.max_accounts the table evicts before it inserts: like Redis's
 * approximated LRU it samples 16 slots (positions derived from the new key's
 * hash, so the choice is deterministic) and evicts the one idle longest.
 */
#include <stdlib.h>
#include <string.h>

#define XXH_INLINE_ALL
#include "internal.h"

#include <xxhash.h>

struct slot {
    uint64_t hash;
    struct churn__account *acc; /* NULL: empty */
};

struct churn__table {
    struct slot *slots;
    size_t mask; /* capacity - 1, capacity a power of two */
    size_t cnt;
    size_t max_accounts;
    uint64_t generation; /* bumped by every insert and removal */
    uint32_t ring_len;
    size_t acc_bytes;
    churn__table_fn on_evict; /* may be NULL */
    void *on_evict_ctx;
};

#define SAMPLE_CNT 16

uint64_t churn__hash(const void *p, size_t len)
{
    return XXH3_64bits(p, len);
}

struct churn__table *churn__table_new(uint32_t ring_len, size_t max_accounts)
{
    struct churn__table *t = calloc(1, sizeof(*t));

    if (t == NULL) {
        return NULL;
    }
    t->mask = 1024 - 1;
    t->slots = calloc(t->mask + 1, sizeof(*t->slots));
    if (t->slots == NULL) {
        free(t);
        return NULL;
    }
    t->ring_len = ring_len;
    t->max_accounts = max_accounts;
    t->acc_bytes = sizeof(struct churn__account) +
                   (size_t)ring_len * CHURN__RING_BYTES_PER_BUCKET;
    return t;
}

static void account_free(struct churn__account *acc)
{
    if (acc != NULL) {
        free(acc->id);
        free(acc);
    }
}

void churn__table_free(struct churn__table *t)
{
    if (t == NULL) {
        return;
    }
    for (size_t i = 0; i <= t->mask; i++) {
        account_free(t->slots[i].acc);
    }
    free(t->slots);
    free(t);
}

static size_t
find_slot(const struct churn__table *t, struct churn_str id, uint64_t hash)
{
    size_t i = (size_t)hash & t->mask;

    for (;;) {
        const struct slot *s = &t->slots[i];
        if (s->acc == NULL) {
            return i;
        }
        if (s->hash == hash && s->acc->id_len == id.len &&
            memcmp(s->acc->id, id.ptr, id.len) == 0) {
            return i;
        }
        i = (i + 1) & t->mask;
    }
}

struct churn__account *
churn__table_find(struct churn__table *t, struct churn_str id, uint64_t hash)
{
    return t->slots[find_slot(t, id, hash)].acc;
}

static bool grow(struct churn__table *t)
{
    size_t ncap = (t->mask + 1) * 2;
    struct slot *ns = calloc(ncap, sizeof(*ns));

    if (ns == NULL) {
        return false;
    }
    for (size_t i = 0; i <= t->mask; i++) {
        struct slot s = t->slots[i];
        if (s.acc == NULL) {
            continue;
        }
        size_t j = (size_t)s.hash & (ncap - 1);
        while (ns[j].acc != NULL) {
            j = (j + 1) & (ncap - 1);
        }
        ns[j] = s;
    }
    free(t->slots);
    t->slots = ns;
    t->mask = ncap - 1;
    return true;
}

static void remove_at(struct churn__table *t, size_t i)
{
    size_t j = i;

    account_free(t->slots[i].acc);
    t->slots[i].acc = NULL;
    t->cnt--;
    t->generation++;
    /* Backward shift: move later members of the probe run into the hole. */
    for (;;) {
        j = (j + 1) & t->mask;
        if (t->slots[j].acc == NULL) {
            return;
        }
        size_t home = (size_t)t->slots[j].hash & t->mask;
        /* Move j into i when home is not cyclically in (i, j]. */
        bool in_range =
            (i <= j) ? (home > i && home <= j) : (home > i || home <= j);
        if (!in_range) {
            t->slots[i] = t->slots[j];
            t->slots[j].acc = NULL;
            i = j;
        }
    }
}

void churn__table_on_evict(struct churn__table *t,
                           churn__table_fn fn,
                           void *ctx)
{
    t->on_evict = fn;
    t->on_evict_ctx = ctx;
}

static void evict_at(struct churn__table *t, size_t i)
{
    if (t->on_evict != NULL) {
        t->on_evict(t->on_evict_ctx, t->slots[i].acc);
    }
    remove_at(t, i);
}

static void evict_one(struct churn__table *t, uint64_t hash)
{
    size_t best = SIZE_MAX;
    int64_t best_ms = INT64_MAX;
    uint64_t x = hash;

    for (int n = 0; n < SAMPLE_CNT; n++) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        size_t i = (size_t)(x >> 17) & t->mask;
        /* Walk to the next occupied slot; the table is non-empty. */
        while (t->slots[i].acc == NULL) {
            i = (i + 1) & t->mask;
        }
        if (t->slots[i].acc->last_ms < best_ms) {
            best_ms = t->slots[i].acc->last_ms;
            best = i;
        }
    }
    evict_at(t, best);
}

static struct churn__account *account_new(const struct churn__table *t,
                                          struct churn_str id,
                                          uint64_t hash,
                                          int64_t now_ms)
{
    struct churn__account *acc = calloc(1, t->acc_bytes);

    if (acc == NULL) {
        return NULL;
    }
    acc->id = malloc(id.len ? id.len : 1);
    if (acc->id == NULL) {
        free(acc);
        return NULL;
    }
    memcpy(acc->id, id.ptr, id.len);
    acc->id_len = (uint8_t)id.len;
    acc->hash = hash;
    acc->nps = -1;
    acc->band = CHURN__BAND_NONE;
    acc->signaled_band = CHURN__BAND_NONE;
    acc->head_bucket = INT32_MIN;
    acc->first_bucket = INT32_MAX;
    acc->card_exp_ym = -1;
    acc->resumed_bucket = INT32_MIN;
    acc->first_ms = now_ms;
    acc->last_ms = now_ms;
    acc->geo_ms = INT64_MIN;
    acc->trial_end_ms = INT64_MIN;
    acc->cancel_at_ms = INT64_MIN;
    acc->downgrade_ms = INT64_MIN;
    acc->feedback_ms = INT64_MIN;
    acc->chargeback_ms = INT64_MIN;
    acc->fail_ms = INT64_MIN;
    for (int r = 0; r < CHURN_RULE__COUNT; r++) {
        acc->rule_time[r] = INT64_MIN;
    }
    return acc;
}

struct churn__account *churn__table_upsert(struct churn__table *t,
                                           struct churn_str id,
                                           uint64_t hash,
                                           int64_t now_ms,
                                           bool *created,
                                           uint64_t *evicted)
{
    size_t i = find_slot(t, id, hash);
    struct churn__account *acc;

    *created = false;
    if (t->slots[i].acc != NULL) {
        t->slots[i].acc->changed = 1; /* the caller is about to change it */
        return t->slots[i].acc;
    }
    if (t->cnt >= t->max_accounts) {
        evict_one(t, hash);
        (*evicted)++;
    }
    if ((t->cnt + 1) * 4 > (t->mask + 1) * 3) {
        if (!grow(t)) {
            return NULL;
        }
    }
    acc = account_new(t, id, hash, now_ms);
    if (acc == NULL) {
        return NULL;
    }
    acc->changed = 1;
    i = find_slot(t, id, hash);
    t->slots[i].hash = hash;
    t->slots[i].acc = acc;
    t->cnt++;
    t->generation++;
    *created = true;
    return acc;
}

void churn__table_remove(struct churn__table *t, struct churn__account *acc)
{
    struct churn_str id = { acc->id, acc->id_len };

    remove_at(t, find_slot(t, id, acc->hash));
}

size_t churn__table_count(const struct churn__table *t)
{
    return t->cnt;
}

void churn__table_each(struct churn__table *t, churn__table_fn fn, void *ctx)
{
    for (size_t i = 0; i <= t->mask; i++) {
        if (t->slots[i].acc != NULL) {
            fn(ctx, t->slots[i].acc);
        }
    }
}

size_t churn__table_evict_idle(struct churn__table *t, int64_t cutoff_ms)
{
    size_t n = 0;

    for (size_t i = 0; i <= t->mask;) {
        struct churn__account *acc = t->slots[i].acc;
        if (acc != NULL && acc->last_ms < cutoff_ms) {
            /* The backward shift may move an unvisited account into i. */
            evict_at(t, i);
            n++;
            continue;
        }
        i++;
    }
    return n;
}

uint64_t churn__table_generation(const struct churn__table *t)
{
    return t->generation;
}

size_t churn__table_account_bytes(const struct churn__table *t)
{
    return t->acc_bytes;
}
