/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The account table (src/engine/table.c): an ordered hash table over slab
 * blocks. Random inserts, finds, removals (idle eviction) and evictions at
 * the cap are checked against a plain reference array, under hash
 * distributions that force long runs, equal hashes (order by id), the
 * overflow tail and growth; after every step the walk must visit exactly
 * the live accounts in (hash, id) order.
 */
#include "internal.h"
#include "testutil.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum hash_kind {
    H_XXH3,     /* the real hash of the id */
    H_EQUAL,    /* every id the same hash: ordered by id alone */
    H_TOP,      /* hashes near UINT64_MAX: runs reach the overflow tail */
    H_LOW_ONLY, /* top bits zero: everything shares home slot 0 */
    H_FEW,      /* 8 distinct hashes */
};

struct table_case {
    const char *name;
    enum hash_kind kind;
    int accounts; /* distinct ids drawn from */
    int ops;
    int long_every; /* every n-th id is longer than the inline buffer */
    size_t max_accounts;
};

static const struct table_case cases[] = {
    { "xxh3 2000 ids", H_XXH3, 2000, 20000, 7, 1000000 },
    { "equal hashes", H_EQUAL, 300, 3000, 5, 1000000 },
    { "hashes at the top", H_TOP, 3000, 20000, 0, 1000000 },
    { "top bits zero", H_LOW_ONLY, 400, 4000, 3, 1000000 },
    { "eight hashes", H_FEW, 500, 5000, 4, 1000000 },
    { "cap 300 (evictions)", H_XXH3, 2000, 10000, 9, 300 },
    { "cap 50, equal hashes", H_EQUAL, 200, 2000, 2, 50 },
};

struct ref {
    char id[200];
    size_t len;
    uint64_t hash;
    bool live;
    int64_t last_ms;
};

static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static uint64_t hash_for(enum hash_kind k, const char *id, size_t len, int i)
{
    switch (k) {
    case H_EQUAL:
        return 0x8000000000000000ULL;
    case H_TOP:
        return UINT64_MAX - (uint64_t)(i % 97);
    case H_LOW_ONLY:
        return (uint64_t)i * 2654435761u % 100000;
    case H_FEW:
        return (uint64_t)(i % 8) * 0x2000000000000000ULL;
    case H_XXH3:
        break;
    }
    return churn__hash(id, len);
}

static int ref_cmp(const struct ref *a, const struct ref *b)
{
    if (a->hash != b->hash) {
        return a->hash < b->hash ? -1 : 1;
    }
    size_t n = a->len < b->len ? a->len : b->len;
    int c = memcmp(a->id, b->id, n);
    if (c != 0) {
        return c;
    }
    return (int)a->len - (int)b->len;
}

static int ref_qcmp(const void *a, const void *b)
{
    return ref_cmp(*(const struct ref *const *)a, *(const struct ref *const *)b);
}

/* The walk must be exactly the live references, sorted. */
static void check_walk(const char *name,
                       int step,
                       struct churn__table *t,
                       struct ref *refs,
                       int n)
{
    struct ref **live = malloc((size_t)n * sizeof(*live));
    int cnt = 0;
    size_t pos = 0;
    struct churn__account *acc;

    for (int i = 0; i < n; i++) {
        if (refs[i].live) {
            live[cnt++] = &refs[i];
        }
    }
    qsort(live, (size_t)cnt, sizeof(*live), ref_qcmp);
    ck_assert_msg(churn__table_count(t) == (size_t)cnt,
                  "%s step %d: count %zu, want %d", name, step,
                  churn__table_count(t), cnt);
    for (int k = 0; k < cnt; k++) {
        acc = churn__table_next(t, &pos);
        ck_assert_msg(acc != NULL, "%s step %d: walk ended at %d of %d", name,
                      step, k, cnt);
        ck_assert_msg(acc->id_len == live[k]->len &&
                          memcmp(churn__acc_id(acc), live[k]->id, live[k]->len) == 0,
                      "%s step %d: walk position %d holds the wrong account",
                      name, step, k);
        ck_assert_msg(acc->last_ms == live[k]->last_ms,
                      "%s step %d: account %d lost its state", name, step, k);
    }
    ck_assert_msg(churn__table_next(t, &pos) == NULL,
                  "%s step %d: walk longer than %d", name, step, cnt);
    free(live);
}

static void on_evict(void *ctx, struct churn__account *acc)
{
    struct ref *refs = ((void **)ctx)[0];
    int n = *(int *)((void **)ctx)[1];

    for (int i = 0; i < n; i++) {
        if (refs[i].live && refs[i].len == acc->id_len &&
            memcmp(refs[i].id, churn__acc_id(acc), acc->id_len) == 0) {
            refs[i].live = false;
            return;
        }
    }
    ck_abort_msg("evicted an account the reference does not hold");
}

START_TEST(test_table_ops)
{
    const struct table_case *c = &cases[_i];
    struct churn__table *t = churn__table_new(37, c->max_accounts);
    struct ref *refs = calloc((size_t)c->accounts, sizeof(*refs));
    uint64_t seed = 0x9E3779B97F4A7C15ULL + (uint64_t)_i;
    int n = c->accounts;
    void *ctx[2] = { refs, &n };
    uint64_t evicted = 0;
    int64_t now = 0;

    ck_assert(t != NULL);
    churn__table_on_evict(t, on_evict, ctx);
    for (int i = 0; i < n; i++) {
        bool longer = c->long_every && i % c->long_every == 0;
        if (longer) {
            refs[i].len =
                (size_t)snprintf(refs[i].id, sizeof(refs[i].id),
                                 "account-with-a-long-id-%0*d", 100 + i % 60, i);
        } else {
            refs[i].len =
                (size_t)snprintf(refs[i].id, sizeof(refs[i].id), "a%d", i);
        }
        refs[i].hash = hash_for(c->kind, refs[i].id, refs[i].len, i);
    }
    for (int step = 0; step < c->ops; step++) {
        int i = (int)(rng_next(&seed) % (uint64_t)n);
        struct churn_str id = { refs[i].id, refs[i].len };
        uint64_t r = rng_next(&seed) % 10;
        now++;
        if (r < 7) {
            bool created;
            struct churn__account *acc = churn__table_upsert(
                t, id, refs[i].hash, now, &created, &evicted);
            ck_assert_msg(acc != NULL, "%s step %d: upsert failed", c->name,
                          step);
            ck_assert_msg(created == !refs[i].live,
                          "%s step %d: created %d for a %s id", c->name, step,
                          created, refs[i].live ? "known" : "new");
            ck_assert_msg(acc->id_len == id.len &&
                              memcmp(churn__acc_id(acc), id.ptr, id.len) == 0,
                          "%s step %d: upsert returned another account",
                          c->name, step);
            acc->last_ms = now;
            refs[i].live = true;
            refs[i].last_ms = now;
        } else if (r < 9 || c->max_accounts < (size_t)n) {
            struct churn__account *acc =
                churn__table_find(t, id, refs[i].hash);
            ck_assert_msg((acc != NULL) == refs[i].live,
                          "%s step %d: find %s", c->name, step,
                          refs[i].live ? "missed" : "found a removed id");
        } else if (c->max_accounts >= (size_t)n) {
            /* idle eviction of everything older than a random cutoff (not
             * in the cap cases: it would keep the table under the cap) */
            int64_t cutoff = now - (int64_t)(rng_next(&seed) % 2000) - 1;
            size_t want = 0;
            for (int k = 0; k < n; k++) {
                want += refs[k].live && refs[k].last_ms < cutoff;
            }
            size_t got = churn__table_evict_idle(t, cutoff);
            ck_assert_msg(got == want, "%s step %d: evicted %zu idle, want %zu",
                          c->name, step, got, want);
        }
        if (step % 97 == 0 || step == c->ops - 1) {
            check_walk(c->name, step, t, refs, n);
        }
        ck_assert_msg(churn__table_count(t) <= c->max_accounts,
                      "%s step %d: over the cap", c->name, step);
    }
    if (c->max_accounts < (size_t)n) {
        ck_assert_msg(evicted > 0, "%s: the cap never evicted", c->name);
    }
    churn__table_free(t);
    free(refs);
}
END_TEST

/* Blocks are reused after a removal and start zeroed (fresh ring). */
START_TEST(test_table_block_reuse)
{
    struct churn__table *t = churn__table_new(37, 1000);
    struct churn_str a = { "first", 5 }, b = { "second", 6 };
    uint64_t ev = 0;
    bool created;
    struct churn__account *x =
        churn__table_upsert(t, a, churn__hash(a.ptr, a.len), 5, &created, &ev);

    memset(x->ring, 0xAB, 37 * CHURN__RING_BYTES_PER_BUCKET);
    x->last_ms = 5;
    ck_assert_uint_eq(churn__table_evict_idle(t, 6), 1);
    struct churn__account *y =
        churn__table_upsert(t, b, churn__hash(b.ptr, b.len), 9, &created, &ev);
    ck_assert_msg(y == x, "a freed block is reused");
    for (size_t k = 0; k < 37 * CHURN__RING_BYTES_PER_BUCKET; k++) {
        ck_assert_msg(y->ring[k] == 0, "ring byte %zu not cleared", k);
    }
    ck_assert(y->first_ms == 9 && y->head_bucket == INT32_MIN);
    ck_assert_uint_eq(churn__table_account_bytes(t) % 64, 0);
    churn__table_free(t);
}
END_TEST

static Suite *churn_table_suite(void)
{
    Suite *s = suite_create("table");
    TCase *tc = tcase_create("core");

    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_table_ops, 0,
                        (int)(sizeof(cases) / sizeof(cases[0])));
    tcase_add_test(tc, test_table_block_reuse);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return churn_test_run(churn_table_suite());
}
