/* SPDX-License-Identifier: Apache-2.0 */
/*
 * State records (include/churnd/state.h): a restored engine continues with
 * byte-identical outputs, from a snapshot and from a changelog; records
 * round-trip byte for byte; foreign, malformed and inconsistent records are
 * refused.
 */
#include "churnd/config.h"
#include "churnd/engine.h"
#include "churnd/state.h"
#include "testutil.h"
#include "tools/gen.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

/* ---- a generated stream, held in memory ---- */

struct lines {
    char **v;
    size_t *len;
    size_t cnt;
};

static struct lines gen_lines(uint64_t seed, uint32_t accounts, uint32_t days)
{
    struct churn_gen_opts o;
    struct churn_error err = { 0 };
    struct lines l = { 0 };
    size_t cap = 0;
    const char *line;
    size_t len;

    churn_gen_opts_init(&o);
    o.seed = seed;
    o.accounts = accounts;
    o.days = days;
    o.bad_rate = 0.01;
    struct churn_gen *g = churn_gen_new(&o, &err);
    ck_assert_msg(g != NULL, "gen: %s", err.msg);
    while (churn_gen_next(g, &line, &len)) {
        if (l.cnt == cap) {
            cap = cap ? cap * 2 : 1024;
            l.v = realloc(l.v, cap * sizeof(*l.v));
            l.len = realloc(l.len, cap * sizeof(*l.len));
        }
        l.v[l.cnt] = malloc(len ? len : 1);
        memcpy(l.v[l.cnt], line, len);
        l.len[l.cnt++] = len;
    }
    churn_gen_free(g);
    return l;
}

static void lines_free(struct lines *l)
{
    for (size_t i = 0; i < l->cnt; i++) {
        free(l->v[i]);
    }
    free(l->v);
    free(l->len);
}

/* ---- engines and their outputs ---- */

struct buf {
    char *p;
    size_t len, cap;
};

static void buf_add(struct buf *b, const void *p, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->p = realloc(b->p, b->cap);
    }
    memcpy(b->p + b->len, p, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static struct churn_config config_with(const char *set)
{
    struct churn_config cfg;
    struct churn_error err = { 0 };

    churn_config_init(&cfg);
    if (set != NULL) {
        ck_assert_msg(churn_config_set(&cfg, set, &err) == CHURN_OK, "%s: %s",
                      set, err.msg);
    }
    return cfg;
}

static struct churn_engine *engine_new(const struct churn_config *cfg)
{
    struct churn_error err = { 0 };
    struct churn_engine *e = churn_engine_new(cfg, NULL, NULL, &err);

    ck_assert_msg(e != NULL, "engine: %s", err.msg);
    return e;
}

/* Moves the engine's outputs into b (topic, key, value per line). */
static void take(struct churn_engine *e, struct buf *b)
{
    const struct churn_output *o;
    size_t n = churn_engine_outputs(e, &o);

    for (size_t i = 0; b != NULL && i < n; i++) {
        char t = (char)('0' + o[i].topic);
        buf_add(b, &t, 1);
        buf_add(b, o[i].key.ptr, o[i].key.len);
        buf_add(b, "\t", 1);
        buf_add(b, o[i].value.ptr, o[i].value.len);
        buf_add(b, "\n", 1);
    }
    churn_engine_outputs_clear(e);
}

static void feed(struct churn_engine *e,
                 const struct lines *l,
                 size_t from,
                 size_t to,
                 struct buf *b)
{
    struct churn_error err = { 0 };

    for (size_t i = from; i < to; i++) {
        struct churn_source src = { "t", 0, (int64_t)i, -1, { "", 0 } };
        ck_assert_msg(churn_engine_feed(e, l->v[i], l->len[i], &src, &err) ==
                          CHURN_OK,
                      "feed line %zu: %s", i, err.msg);
        take(e, b);
    }
}

static void finish(struct churn_engine *e, struct buf *b)
{
    struct churn_error err = { 0 };

    ck_assert_msg(churn_engine_finish(e, &err) == CHURN_OK, "%s", err.msg);
    take(e, b);
}

/* ---- records, kept as a log ---- */

struct rec {
    char *key;
    size_t key_len;
    char *val; /* NULL: removal */
    size_t len;
};

struct log {
    struct rec *v;
    size_t cnt, cap;
};

static enum churn_err to_log(void *ctx,
                             struct churn_str key,
                             const void *value,
                             size_t len,
                             struct churn_error *err)
{
    struct log *l = ctx;

    (void)err;
    if (l->cnt == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 256;
        l->v = realloc(l->v, l->cap * sizeof(*l->v));
    }
    struct rec *r = &l->v[l->cnt++];
    r->key = malloc(key.len + 1);
    memcpy(r->key, key.ptr, key.len);
    r->key_len = key.len;
    r->val = NULL;
    r->len = len;
    if (value != NULL) {
        r->val = malloc(len ? len : 1);
        memcpy(r->val, value, len);
    }
    return CHURN_OK;
}

static void log_free(struct log *l)
{
    for (size_t i = 0; i < l->cnt; i++) {
        free(l->v[i].key);
        free(l->v[i].val);
    }
    free(l->v);
    memset(l, 0, sizeof(*l));
}

static enum churn_err
import_log(struct churn_engine *e, const struct log *l, struct churn_error *err)
{
    for (size_t i = 0; i < l->cnt; i++) {
        enum churn_err rc = churn_engine_import(
            e, (struct churn_str){ l->v[i].key, l->v[i].key_len }, l->v[i].val,
            l->v[i].len, err);
        if (rc != CHURN_OK) {
            return rc;
        }
    }
    return CHURN_OK;
}

static struct log export_all(struct churn_engine *e)
{
    struct log l = { 0 };
    struct churn_error err = { 0 };

    ck_assert_msg(churn_engine_export(e, true, to_log, &l, &err) == CHURN_OK,
                  "%s", err.msg);
    return l;
}

static struct lines stream;

/* Renames account from to to in every line; returns the lines changed. */
static size_t rename_account(struct lines *l, const char *from, const char *to)
{
    size_t fl = strlen(from), tl = strlen(to), n = 0;

    for (size_t i = 0; i < l->cnt; i++) {
        char *p = NULL;
        for (size_t k = 0; k + fl <= l->len[i] && p == NULL; k++) {
            if (memcmp(l->v[i] + k, from, fl) == 0) {
                p = l->v[i] + k;
            }
        }
        if (p == NULL) {
            continue;
        }
        size_t at = (size_t)(p - l->v[i]);
        char *nl = malloc(l->len[i] - fl + tl);
        memcpy(nl, l->v[i], at);
        memcpy(nl + at, to, tl);
        memcpy(nl + at + tl, p + fl, l->len[i] - at - fl);
        free(l->v[i]);
        l->v[i] = nl;
        l->len[i] = l->len[i] - fl + tl;
        n++;
    }
    return n;
}

static void stream_setup(void)
{
    stream = gen_lines(5, 80, 75);
    /* Ids past the account block's inline buffer live on the heap: one of
     * each kind, and one exactly at the limit (CHURN__ID_INLINE). */
    ck_assert_uint_gt(rename_account(&stream, "\"acct_000003\"",
                                     "\"acct_000003-with-a-long-tail-that-"
                                     "needs-its-own-heap-copy\""),
                      0);
    ck_assert_uint_gt(
        rename_account(&stream, "\"acct_000004\"", "\"acct_000004-24-bytes-idx\""),
        0);
}

static void stream_teardown(void)
{
    lines_free(&stream);
    memset(&stream, 0, sizeof(stream));
}

/* ---- a snapshot taken anywhere continues identically ---- */

static const double split_at[] = { 0.05, 0.37, 0.5, 0.81, 0.999 };

START_TEST(snapshot_continues)
{
    size_t k = (size_t)(split_at[_i] * (double)stream.cnt);
    struct churn_config cfg = config_with(NULL);
    struct churn_engine *a = engine_new(&cfg);
    struct churn_engine *b = engine_new(&cfg);
    struct buf want = { 0 }, got = { 0 };
    struct churn_error err = { 0 };

    feed(a, &stream, 0, k, NULL);
    struct log snap = export_all(a);
    ck_assert_msg(import_log(b, &snap, &err) == CHURN_OK, "split %zu: %s", k,
                  err.msg);
    feed(a, &stream, k, stream.cnt, &want);
    finish(a, &want);
    feed(b, &stream, k, stream.cnt, &got);
    finish(b, &got);
    ck_assert_msg(want.len > 0 || split_at[_i] > 0.9,
                  "the tail produced outputs");
    ck_assert_msg(want.len == got.len &&
                      (want.len == 0 || memcmp(want.p, got.p, want.len) == 0),
                  "split at line %zu of %zu: restored engine's outputs "
                  "differ (%zu vs %zu bytes)",
                  k, stream.cnt, want.len, got.len);

    struct churn_engine_stats sa, sb;
    churn_engine_get_stats(a, &sa);
    churn_engine_get_stats(b, &sb);
    ck_assert_uint_eq(sa.in, sb.in);
    ck_assert_uint_eq(sa.accepted, sb.accepted);
    ck_assert_uint_eq(sa.duplicates, sb.duplicates);
    ck_assert_uint_eq(sa.accounts, sb.accounts);
    log_free(&snap);
    free(want.p);
    free(got.p);
    churn_engine_free(a);
    churn_engine_free(b);
    churn_config_release(&cfg);
}
END_TEST

/* Every record of a restored engine equals the one it was read from. */
START_TEST(records_round_trip)
{
    struct churn_config cfg = config_with(NULL);
    struct churn_engine *a = engine_new(&cfg);
    struct churn_engine *b = engine_new(&cfg);
    struct churn_error err = { 0 };

    feed(a, &stream, 0, stream.cnt / 2, NULL);
    struct log la = export_all(a);
    ck_assert_msg(import_log(b, &la, &err) == CHURN_OK, "%s", err.msg);
    struct log lb = export_all(b);
    ck_assert_uint_eq(la.cnt, lb.cnt);
    ck_assert_uint_gt(la.cnt, 20);
    /* Table order may differ: match by key. */
    for (size_t i = 0; i < la.cnt; i++) {
        size_t j = 0;
        while (j < lb.cnt &&
               (lb.v[j].key_len != la.v[i].key_len ||
                memcmp(lb.v[j].key, la.v[i].key, la.v[i].key_len) != 0)) {
            j++;
        }
        ck_assert_msg(j < lb.cnt, "record %zu missing after restore", i);
        size_t at = 0;
        while (at < la.v[i].len && at < lb.v[j].len &&
               la.v[i].val[at] == lb.v[j].val[at]) {
            at++;
        }
        ck_assert_msg(la.v[i].len == lb.v[j].len && at == la.v[i].len,
                      "record '%.*s' differs after a round trip at byte %zu "
                      "(%zu vs %zu bytes)",
                      (int)la.v[i].key_len, la.v[i].key, at, la.v[i].len,
                      lb.v[j].len);
    }
    log_free(&la);
    log_free(&lb);
    churn_engine_free(a);
    churn_engine_free(b);
    churn_config_release(&cfg);
}
END_TEST

/* ---- the changelog: flushes of changes rebuild the same engine ---- */

START_TEST(changelog_continues)
{
    struct churn_config cfg = config_with(NULL);
    struct churn_engine *a = engine_new(&cfg);
    struct churn_engine *b = engine_new(&cfg);
    struct log log = { 0 };
    struct buf want = { 0 }, got = { 0 };
    struct churn_error err = { 0 };
    size_t step = stream.cnt / 23 + 1, k = 0;
    size_t full = 0;

    churn_engine_track_changes(a, true);
    /* flushes every `step` lines up to about two thirds of the stream */
    while (k + step < stream.cnt * 2 / 3) {
        feed(a, &stream, k, k + step, NULL);
        k += step;
        ck_assert(churn_engine_export(a, false, to_log, &log, &err) ==
                  CHURN_OK);
    }
    struct churn_engine_stats s;
    churn_engine_get_stats(a, &s);
    ck_assert_msg(import_log(b, &log, &err) == CHURN_OK, "%s", err.msg);
    /* a flush writes only what changed: less than every account each time */
    for (size_t i = 0; i < log.cnt; i++) {
        full += log.v[i].val != NULL;
    }
    ck_assert_msg(full < 23 * (s.accounts + 1),
                  "%zu account records for %llu accounts over 23 flushes", full,
                  (unsigned long long)s.accounts);
    feed(a, &stream, k, stream.cnt, &want);
    finish(a, &want);
    feed(b, &stream, k, stream.cnt, &got);
    finish(b, &got);
    ck_assert_msg(want.len == got.len &&
                      (want.len == 0 || memcmp(want.p, got.p, want.len) == 0),
                  "engine rebuilt from the changelog differs (%zu vs %zu "
                  "bytes)",
                  want.len, got.len);
    log_free(&log);
    free(want.p);
    free(got.p);
    churn_engine_free(a);
    churn_engine_free(b);
    churn_config_release(&cfg);
}
END_TEST

/* Evicted accounts are written as removals, and a rebuild drops them. */
START_TEST(changelog_removals)
{
    struct churn_config cfg = config_with("state.max_accounts=20");
    struct churn_engine *a = engine_new(&cfg);
    struct churn_engine *b = engine_new(&cfg);
    struct log log = { 0 };
    struct churn_error err = { 0 };
    size_t removals = 0;

    churn_engine_track_changes(a, true);
    for (size_t k = 0; k < stream.cnt / 2; k += 500) {
        size_t to = k + 500 < stream.cnt / 2 ? k + 500 : stream.cnt / 2;
        feed(a, &stream, k, to, NULL);
        ck_assert(churn_engine_export(a, false, to_log, &log, &err) ==
                  CHURN_OK);
    }
    for (size_t i = 0; i < log.cnt; i++) {
        removals += log.v[i].val == NULL;
    }
    ck_assert_msg(removals > 0, "evictions at state.max_accounts are logged");
    ck_assert_msg(import_log(b, &log, &err) == CHURN_OK, "%s", err.msg);
    struct churn_engine_stats sa, sb;
    churn_engine_get_stats(a, &sa);
    churn_engine_get_stats(b, &sb);
    ck_assert_uint_eq(sa.accounts, 20);
    ck_assert_uint_eq(sb.accounts, sa.accounts);
    log_free(&log);
    churn_engine_free(a);
    churn_engine_free(b);
    churn_config_release(&cfg);
}
END_TEST

/* ---- refusals ---- */

static struct log sample_log(const struct churn_config *cfg)
{
    struct churn_engine *a = engine_new(cfg);

    feed(a, &stream, 0, stream.cnt / 3, NULL);
    struct log l = export_all(a);
    churn_engine_free(a);
    return l;
}

static size_t first_account(const struct log *l)
{
    for (size_t i = 0; i < l->cnt; i++) {
        if (l->v[i].key_len > 0 && l->v[i].val != NULL) {
            return i;
        }
    }
    ck_abort_msg("no account record");
    return 0;
}

enum mangle {
    M_VERSION,      /* version field + 1 */
    M_MAGIC,        /* first byte */
    M_TRUNCATED,    /* last byte cut */
    M_TRAILING,     /* a byte more */
    M_HEAD_SLOT,    /* ring slot out of range */
    M_PART_VERSION, /* partition record's version */
    M_PART_CUT,     /* partition record cut in half */
};

static const struct {
    const char *name;
    enum mangle m;
    const char *expect; /* in the message */
} refusals[] = {
    { "account: other version", M_VERSION, "version" },
    { "account: not a record", M_MAGIC, "not a churnd" },
    { "account: truncated", M_TRUNCATED, "malformed" },
    { "account: trailing byte", M_TRAILING, "malformed" },
    { "account: ring slot out of range", M_HEAD_SLOT, "malformed" },
    { "partition: other version", M_PART_VERSION, "version" },
    { "partition: truncated", M_PART_CUT, "malformed" },
};

START_TEST(refuse_malformed)
{
    struct churn_config cfg = config_with(NULL);
    struct log l = sample_log(&cfg);
    struct churn_engine *b = engine_new(&cfg);
    struct churn_error err = { 0 };
    size_t a = first_account(&l);
    struct rec *part = &l.v[l.cnt - 1];
    struct rec *acc = &l.v[a];

    ck_assert_uint_eq(part->key_len, 0);
    switch (refusals[_i].m) {
    case M_VERSION:
        acc->val[4]++;
        break;
    case M_MAGIC:
        acc->val[0] ^= 0x55;
        break;
    case M_TRUNCATED:
        acc->len--;
        break;
    case M_TRAILING:
        acc->val = realloc(acc->val, acc->len + 1);
        acc->val[acc->len++] = 0;
        break;
    case M_HEAD_SLOT:
        /* header 14 bytes; head_slot is the 7th one-byte field */
        acc->val[14 + 6] = (char)0xff;
        break;
    case M_PART_VERSION:
        part->val[4]++;
        break;
    case M_PART_CUT:
        part->len /= 2;
        break;
    }
    enum churn_err rc = import_log(b, &l, &err);
    ck_assert_msg(rc == CHURN_EFORMAT, "%s: import gave %d (%s)",
                  refusals[_i].name, (int)rc, err.msg);
    ck_assert_msg(strstr(err.msg, refusals[_i].expect) != NULL,
                  "%s: message '%s' lacks '%s'", refusals[_i].name, err.msg,
                  refusals[_i].expect);
    log_free(&l);
    churn_engine_free(b);
    churn_config_release(&cfg);
}
END_TEST

/* State written under another window shape is foreign. */
START_TEST(refuse_other_shape)
{
    struct churn_config cfg = config_with(NULL);
    struct churn_config other = config_with("window.buckets=42");
    struct log l = sample_log(&cfg);
    struct churn_engine *b = engine_new(&other);
    struct churn_error err = { 0 };

    ck_assert_int_eq(import_log(b, &l, &err), CHURN_EFORMAT);
    ck_assert_msg(strstr(err.msg, "window.bucket") != NULL, "%s", err.msg);
    log_free(&l);
    churn_engine_free(b);
    churn_config_release(&cfg);
    churn_config_release(&other);
}
END_TEST

/* A partition record of another lineage (its interned strings disagree with
 * those already imported) is refused rather than mixed in. */
START_TEST(refuse_other_lineage)
{
    struct churn_config cfg = config_with(NULL);
    struct churn_engine *x = engine_new(&cfg);
    struct churn_engine *b = engine_new(&cfg);
    struct churn_error err = { 0 };

    /* the same events in another order intern plans in another order */
    feed(x, &stream, stream.cnt / 3, stream.cnt / 2, NULL);
    struct log lx = export_all(x);
    struct log l = sample_log(&cfg);
    ck_assert_msg(import_log(b, &l, &err) == CHURN_OK, "%s", err.msg);
    ck_assert_int_eq(import_log(b, &lx, &err), CHURN_EFORMAT);
    ck_assert_msg(strstr(err.msg, "lineage") != NULL, "%s", err.msg);
    log_free(&l);
    log_free(&lx);
    churn_engine_free(x);
    churn_engine_free(b);
    churn_config_release(&cfg);
}
END_TEST

static Suite *state_suite(void)
{
    Suite *s = suite_create("state");
    TCase *tc = tcase_create("records");

    tcase_add_unchecked_fixture(tc, stream_setup, stream_teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, snapshot_continues, 0,
                        (int)(sizeof(split_at) / sizeof(split_at[0])));
    tcase_add_test(tc, records_round_trip);
    tcase_add_test(tc, changelog_continues);
    tcase_add_test(tc, changelog_removals);
    tcase_add_loop_test(tc, refuse_malformed, 0,
                        (int)(sizeof(refusals) / sizeof(refusals[0])));
    tcase_add_test(tc, refuse_other_shape);
    tcase_add_test(tc, refuse_other_lineage);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return churn_test_run(state_suite());
}
