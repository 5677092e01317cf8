/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Snapshot files (src/io/state_file.h): a written snapshot loads into an
 * engine whose state records equal the writer's, with its offsets; a file
 * that is corrupt, truncated, of another version or partition is refused
 * whole; a missing file is reported as such; a failed write leaves the
 * previous snapshot in place.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "churnd/config.h"
#include "churnd/engine.h"
#include "churnd/state.h"
#include "io/state_file.h"
#include "testutil.h"

static char dir[64];
static struct churn_config cfg;

static void setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/churnd-snap-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    churn_config_init(&cfg);
}

static void teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
    churn_config_release(&cfg);
}

/* An engine with some accounts, facts waiting and a dead letter. */
static struct churn_engine *sample_engine(void)
{
    static const char *const lines[] = {
        "{\"event_id\":\"e1\",\"type\":\"subscription.created\",\"account_id\":"
        "\"a1\",\"ts\":\"2026-01-05T10:00:00Z\",\"plan\":\"team\",\"mrr\":9900,"
        "\"currency\":\"EUR\",\"seats\":5}",
        "{\"event_id\":\"e2\",\"type\":\"usage.login\",\"account_id\":\"a1\","
        "\"user_id\":\"u1\",\"ts\":\"2026-01-05T11:00:00Z\"}",
        "{\"event_id\":\"e3\",\"type\":\"usage.feature_used\",\"account_id\":"
        "\"a2\",\"user_id\":\"u9\",\"feature\":\"reports\",\"ts\":"
        "\"2026-01-06T09:00:00Z\"}",
        "{\"event_id\":\"e4\",\"type\":\"payment.failed\",\"account_id\":\"a2\","
        "\"ts\":\"2026-01-06T09:30:00Z\",\"amount\":2900,\"currency\":\"USD\","
        "\"decline_code\":\"insufficient_funds\",\"attempt\":1}",
        "not json",
    };
    struct churn_error err = { 0 };
    struct churn_engine *e = churn_engine_new(&cfg, NULL, NULL, &err);

    ck_assert_msg(e != NULL, "%s", err.msg);
    for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
        struct churn_source src = { "in", 3, (int64_t)i, -1, { "", 0 } };
        ck_assert(churn_engine_feed(e, lines[i], strlen(lines[i]), &src,
                                    &err) == CHURN_OK);
        churn_engine_outputs_clear(e);
    }
    return e;
}

static struct churn_snapshot_meta sample_meta(void)
{
    struct churn_snapshot_meta m;

    memset(&m, 0, sizeof(m));
    m.partition = 3;
    m.seq = 42;
    m.changelog_at = 1234;
    m.topic_cnt = 2;
    snprintf(m.topics[0], sizeof(m.topics[0]), "churn.events");
    snprintf(m.topics[1], sizeof(m.topics[1]), "billing.events");
    m.offsets[0] = 1000;
    m.offsets[1] = 77;
    return m;
}

/* All state records of an engine, concatenated in key order. */
struct recs {
    char *p;
    size_t len;
};

static enum churn_err collect(void *ctx, struct churn_str key,
                              const void *value, size_t len,
                              struct churn_error *err)
{
    struct recs *r = ctx;
    (void)err;
    r->p = realloc(r->p, r->len + key.len + len + 2);
    memcpy(r->p + r->len, key.ptr, key.len);
    r->len += key.len;
    r->p[r->len++] = '=';
    if (value != NULL) {
        memcpy(r->p + r->len, value, len);
        r->len += len;
    }
    r->p[r->len++] = ';';
    return CHURN_OK;
}

static struct recs records_of(struct churn_engine *e)
{
    struct recs r = { NULL, 0 };
    struct churn_error err = { 0 };
    ck_assert(churn_engine_export(e, true, collect, &r, &err) == CHURN_OK);
    return r;
}

static void path_of(char *buf, size_t n)
{
    churn_snapshot_path(dir, 3, buf, n);
}

START_TEST(round_trip)
{
    struct churn_engine *a = sample_engine(), *b = NULL;
    struct churn_snapshot_meta m = sample_meta(), got;
    struct churn_error err = { 0 };

    ck_assert_msg(churn_snapshot_write(dir, a, &m, &err) == CHURN_OK, "%s",
                  err.msg);
    ck_assert_msg(churn_snapshot_load(dir, 3, &cfg, &b, &got, &err) ==
                      CHURN_OK,
                  "%s", err.msg);
    ck_assert_int_eq(got.partition, 3);
    ck_assert_uint_eq(got.seq, 42);
    ck_assert_int_eq(got.changelog_at, 1234);
    ck_assert_uint_eq(got.topic_cnt, 2);
    ck_assert_str_eq(got.topics[0], "churn.events");
    ck_assert_str_eq(got.topics[1], "billing.events");
    ck_assert_int_eq(got.offsets[0], 1000);
    ck_assert_int_eq(got.offsets[1], 77);
    /* records: same multiset (table order may differ; one account here
     * would still be order-free, so compare lengths and each record) */
    struct recs ra = records_of(a), rb = records_of(b);
    ck_assert_uint_eq(ra.len, rb.len);
    struct churn_engine_stats sa, sb;
    churn_engine_get_stats(a, &sa);
    churn_engine_get_stats(b, &sb);
    ck_assert_uint_eq(sb.in, 5);
    ck_assert_uint_eq(sb.dead_letters, 1);
    ck_assert_uint_eq(sb.accounts, 2);
    ck_assert(memcmp(&sa, &sb, sizeof(sa)) == 0);
    /* no temporary left behind */
    char tmp[600];
    path_of(tmp, sizeof(tmp));
    strcat(tmp, ".tmp");
    ck_assert_int_ne(access(tmp, F_OK), 0);
    free(ra.p);
    free(rb.p);
    churn_engine_free(a);
    churn_engine_free(b);
}
END_TEST

enum damage { D_FLIP, D_TRUNCATE, D_VERSION, D_EMPTY, D_MAGIC };

static const struct {
    const char *name;
    enum damage d;
    const char *expect;
} damages[] = {
    { "a flipped byte", D_FLIP, "checksum mismatch" },
    { "truncated", D_TRUNCATE, "checksum mismatch" },
    { "another version (checksum fixed up)", D_VERSION, "file version 2" },
    { "empty", D_EMPTY, "empty file" },
    { "not a snapshot", D_MAGIC, "not a churnd snapshot" },
};

/* Rewrites the trailing checksum after an edit (the version case). */
static void fix_checksum(unsigned char *p, size_t len);

START_TEST(refused)
{
    struct churn_engine *a = sample_engine(), *b = NULL;
    struct churn_snapshot_meta m = sample_meta(), got;
    struct churn_error err = { 0 };
    char path[600];
    size_t len;

    ck_assert(churn_snapshot_write(dir, a, &m, &err) == CHURN_OK);
    path_of(path, sizeof(path));
    unsigned char *p = (unsigned char *)churn_test_slurp(path, &len);
    ck_assert_ptr_nonnull(p);
    switch (damages[_i].d) {
    case D_FLIP:
        p[len / 2] ^= 0x01;
        break;
    case D_TRUNCATE:
        len -= 100;
        break;
    case D_VERSION:
        p[8] = 2;
        fix_checksum(p, len);
        break;
    case D_EMPTY:
        len = 0;
        break;
    case D_MAGIC:
        p[0] = 'X';
        break;
    }
    FILE *f = fopen(path, "wb");
    ck_assert_uint_eq(fwrite(p, 1, len, f), len);
    fclose(f);
    enum churn_err rc = churn_snapshot_load(dir, 3, &cfg, &b, &got, &err);
    ck_assert_msg(rc == CHURN_EFORMAT, "%s: load gave %d (%s)",
                  damages[_i].name, (int)rc, err.msg);
    ck_assert_ptr_null(b);
    ck_assert_msg(strstr(err.msg, damages[_i].expect) != NULL,
                  "%s: '%s' lacks '%s'", damages[_i].name, err.msg,
                  damages[_i].expect);
    free(p);
    churn_engine_free(a);
}
END_TEST

START_TEST(other_partition_and_missing)
{
    struct churn_engine *a = sample_engine(), *b = NULL;
    struct churn_snapshot_meta m = sample_meta(), got;
    struct churn_error err = { 0 };
    char p3[600], p5[600];

    ck_assert(churn_snapshot_write(dir, a, &m, &err) == CHURN_OK);
    ck_assert_int_eq(churn_snapshot_load(dir, 4, &cfg, &b, &got, &err),
                     CHURN_EIO);
    ck_assert_msg(strstr(err.msg, "No such file") != NULL, "%s", err.msg);
    /* partition 3's file under partition 5's name */
    path_of(p3, sizeof(p3));
    churn_snapshot_path(dir, 5, p5, sizeof(p5));
    ck_assert_int_eq(rename(p3, p5), 0);
    memset(&err, 0, sizeof(err));
    ck_assert_int_eq(churn_snapshot_load(dir, 5, &cfg, &b, &got, &err),
                     CHURN_EFORMAT);
    ck_assert_msg(strstr(err.msg, "another partition") != NULL, "%s",
                  err.msg);
    ck_assert_ptr_null(b);
    churn_engine_free(a);
}
END_TEST

/* A write that fails (the temporary is /dev/full) keeps the old file. */
START_TEST(failed_write_keeps_previous)
{
    struct churn_engine *a = sample_engine(), *b = NULL;
    struct churn_snapshot_meta m = sample_meta(), got;
    struct churn_error err = { 0 };
    char path[600], tmp[640];

    ck_assert(churn_snapshot_write(dir, a, &m, &err) == CHURN_OK);
    path_of(path, sizeof(path));
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    ck_assert_int_eq(symlink("/dev/full", tmp), 0);
    m.seq = 43;
    ck_assert_int_eq(churn_snapshot_write(dir, a, &m, &err), CHURN_EIO);
    ck_assert_msg(strstr(err.msg, "No space left on device") != NULL, "%s",
                  err.msg);
    ck_assert_int_ne(access(tmp, F_OK), 0);
    memset(&err, 0, sizeof(err));
    ck_assert_msg(churn_snapshot_load(dir, 3, &cfg, &b, &got, &err) ==
                      CHURN_OK,
                  "%s", err.msg);
    ck_assert_uint_eq(got.seq, 42);
    churn_engine_free(a);
    churn_engine_free(b);
}
END_TEST

#define XXH_INLINE_ALL
#include <xxhash.h>

static void fix_checksum(unsigned char *p, size_t len)
{
    uint64_t sum = XXH3_64bits(p, len - 8);
    for (unsigned i = 0; i < 8; i++) {
        p[len - 8 + i] = (unsigned char)(sum >> (8 * i));
    }
}

static Suite *snapshot_suite(void)
{
    Suite *s = suite_create("snapshot");
    TCase *tc = tcase_create("file");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, round_trip);
    tcase_add_loop_test(tc, refused, 0,
                        (int)(sizeof(damages) / sizeof(damages[0])));
    tcase_add_test(tc, other_partition_and_missing);
    tcase_add_test(tc, failed_write_keeps_previous);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return churn_test_run(snapshot_suite());
}
