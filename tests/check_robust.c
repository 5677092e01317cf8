/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Regression tests for what fuzzing and the hostile-input work found (the
 * inputs themselves are in tests/fixtures/crashers/<target>/ and are also
 * replayed through the fuzz targets' invariants by ctest's fuzz_corpus_*).
 *
 * - ndjson: a line of exactly max_len bytes ended by CRLF (or a CR at the
 *   end of input) was reported as truncated: the CR counted as content.
 * - engine: churn_engine_advance(INT64_MAX) overflowed the bucket
 *   arithmetic (signed overflow, caught by UBSan); the watermark is now
 *   clamped to the event-time bounds.
 * - engine: a boundary evaluated with no account in the table called
 *   qsort(NULL, 0, ...) (undefined; UBSan): an explicit advance before the
 *   first event, then an event far ahead.
 * - engine: churn_engine_finish() left waiting events stamped with the
 *   newest event time in the reorder heap, so e.g. a cancellation
 *   scheduled by the last event of a replay never fired.
 */
#define _GNU_SOURCE /* fmemopen */
#include "enginetest.h"
#include "io/ndjson.h"
#include "testutil.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- ndjson: lines at the limit ---- */

static const struct {
    const char *name;
    const char *input;
    size_t max_len;
    size_t chunk;
    const char *want[4]; /* lines; a leading '!' marks "truncated" */
} line_cases[] = {
    { "crlf line of max_len", "abc\r\n", 3, 1024, { "abc" } },
    { "crlf line of max_len, tiny chunks",
      "abc\r\nabcd\r\n",
      3,
      2,
      { "abc", "!abc" } },
    { "cr ends the input at max_len", "abc\r", 3, 1024, { "abc" } },
    { "cr only, limit 0", "\r", 0, 1, { "" } },
    { "cr inside a long line is content", "ab\rcd\n", 3, 1, { "!ab\r" } },
    { "lf line of max_len + 1", "abcd\n", 3, 1024, { "!abc" } },
    { "crlf line of max_len + 1, spanning",
      "abcd\r\nx",
      3,
      1,
      { "!abc", "x" } },
    { "blank lines", "\n\r\n", 0, 1, { "", "" } },
};

START_TEST(test_ndjson_line_limit)
{
    const char *in = line_cases[_i].input;
    FILE *f = fmemopen((void *)in, strlen(in), "r");
    struct churn_ndjson_reader *r;
    size_t k = 0;

    ck_assert_ptr_nonnull(f);
    r = churn_ndjson_reader_new_chunk(f, line_cases[_i].max_len,
                                      line_cases[_i].chunk);
    ck_assert_ptr_nonnull(r);
    for (;;) {
        const char *line;
        size_t len;
        bool trunc;
        int rc = churn_ndjson_read(r, &line, &len, &trunc);

        ck_assert_msg(rc >= 0, "%s: read error", line_cases[_i].name);
        if (rc == 0) {
            break;
        }
        const char *want = line_cases[_i].want[k];
        ck_assert_msg(k < 4 && want != NULL, "%s: extra line %zu",
                      line_cases[_i].name, k + 1);
        bool want_trunc = want[0] == '!';
        want += want_trunc;
        ck_assert_msg(len == strlen(want) && memcmp(line, want, len) == 0 &&
                          trunc == want_trunc,
                      "%s: line %zu is '%.*s'%s, want '%s'%s",
                      line_cases[_i].name, k + 1, (int)len, line,
                      trunc ? " (truncated)" : "", want,
                      want_trunc ? " (truncated)" : "");
        k++;
    }
    ck_assert_msg(k == 4 || line_cases[_i].want[k] == NULL,
                  "%s: only %zu lines", line_cases[_i].name, k);
    churn_ndjson_reader_free(r);
    fclose(f);
}
END_TEST

/* ---- engine: advancing to any int64 ---- */

static const struct {
    const char *name;
    const char *offset; /* window.utc_offset */
    int64_t to;
    int64_t want_wm;
} advance_cases[] = {
    { "INT64_MAX, +14h", "14h", INT64_MAX, 253402300799999LL },
    { "INT64_MAX, -14h", "-14h", INT64_MAX, 253402300799999LL },
    { "INT64_MIN + 1, -14h", "-14h", INT64_MIN + 1, 0 },
    { "-1", "0", -1, 0 },
    { "just past the end", "0", 253402300800000LL, 253402300799999LL },
};

START_TEST(test_advance_extremes)
{
    char off[64];
    const char *sets[] = { off, NULL };
    struct et t;
    struct churn_engine_stats st;

    snprintf(off, sizeof(off), "window.utc_offset=%s",
             advance_cases[_i].offset);
    et_init(&t, sets);
    et_ev(&t, "usage.login", "a", ET_T0, "");
    et_advance(&t, advance_cases[_i].to);
    churn_engine_get_stats(t.eng, &st);
    if (advance_cases[_i].want_wm > ET_T0) {
        ck_assert_msg(st.watermark_ms == advance_cases[_i].want_wm,
                      "%s: watermark %lld", advance_cases[_i].name,
                      (long long)st.watermark_ms);
        /* an event before the end of time is now late */
        et_ev(&t, "usage.login", "a", ET_T0 + ET_DAY, "");
        ck_assert_msg(et_count(&t, "dlq", NULL, NULL) == 1,
                      "%s: event not late", advance_cases[_i].name);
    } else {
        ck_assert_msg(st.watermark_ms == ET_T0 - ET_HOUR,
                      "%s: watermark moved back to %lld",
                      advance_cases[_i].name, (long long)st.watermark_ms);
    }
    et_release(&t);
}
END_TEST

/* ---- engine: boundaries with an empty table ---- */

static const struct {
    const char *name;
    const char *sets[7]; /* NULL-terminated */
    int64_t advance_to;
} empty_cases[] = {
    { "advance to 0, event in 2026", { NULL }, 0 },
    { "advance 40 days before, 3h buckets",
      { "window.bucket=3h", "window.buckets=64", "score.recent=1d",
        "score.baseline=7d", "rule.engagement_drop.window=7d",
        "rule.engagement_drop.long_window=0" },
      ET_T0 - 40 * ET_DAY },
    { "advance 1 day before, no lateness",
      { "input.allowed_lateness=0", NULL },
      ET_T0 - ET_DAY },
};

START_TEST(test_boundaries_without_accounts)
{
    struct et t;
    struct churn_engine_stats st;

    et_init(&t, empty_cases[_i].sets);
    et_advance(&t, empty_cases[_i].advance_to);
    et_ev(&t, "usage.login", "a", ET_T0, "");
    et_ev(&t, "usage.login", "a", ET_T0 + 3 * ET_DAY, "");
    et_finish(&t);
    churn_engine_get_stats(t.eng, &st);
    ck_assert_msg(st.accepted == 2 && st.accounts == 1,
                  "%s: %llu accepted, %llu accounts", empty_cases[_i].name,
                  (unsigned long long)st.accepted,
                  (unsigned long long)st.accounts);
    et_release(&t);
}
END_TEST

/* ---- engine: finish applies the newest events ---- */

static const struct {
    const char *name;
    const char *lateness;
    const char *type;
    const char *extra;
    const char *rule;
} finish_cases[] = {
    { "cancel at the newest time", "1h", "subscription.cancel_scheduled",
      "\"effective_at\":\"2026-02-01T00:00:00Z\"", "cancel_scheduled" },
    { "cancel, no lateness", "0", "subscription.cancel_scheduled",
      "\"effective_at\":\"2026-02-01T00:00:00Z\"", "cancel_scheduled" },
    { "chargeback at the newest time", "1h", "payment.chargeback",
      "\"amount\":4900,\"currency\":\"USD\"", "chargeback" },
    { "hard decline, 7d lateness", "7d", "payment.failed",
      "\"decline_code\":\"fraudulent\"", "payment_failure_streak" },
};

START_TEST(test_finish_applies_newest)
{
    char late[64];
    const char *sets[] = { late, NULL };
    struct et t;

    snprintf(late, sizeof(late), "input.allowed_lateness=%s",
             finish_cases[_i].lateness);
    et_init(&t, sets);
    et_ev(&t, "subscription.created", "a", ET_T0,
          "\"plan\":\"pro\",\"mrr\":4900,\"currency\":\"USD\"");
    et_ev(&t, finish_cases[_i].type, "a", ET_T0 + ET_HOUR,
          finish_cases[_i].extra);
    et_finish(&t);
    ck_assert_msg(et_alerts(&t, finish_cases[_i].rule, "firing") == 1,
                  "%s: the last event was not applied at finish",
                  finish_cases[_i].name);
    /* finishing twice changes nothing */
    size_t before = et_count(&t, "alerts", NULL, NULL);
    et_finish(&t);
    ck_assert_msg(et_count(&t, "alerts", NULL, NULL) == before,
                  "%s: second finish emitted more", finish_cases[_i].name);
    et_release(&t);
}
END_TEST

static Suite *churn_robust_suite(void)
{
    Suite *s = suite_create("robust");
    TCase *tc = tcase_create("findings");

    tcase_add_loop_test(tc, test_ndjson_line_limit, 0,
                        sizeof(line_cases) / sizeof(line_cases[0]));
    tcase_add_loop_test(tc, test_advance_extremes, 0,
                        sizeof(advance_cases) / sizeof(advance_cases[0]));
    tcase_add_loop_test(tc, test_boundaries_without_accounts, 0,
                        sizeof(empty_cases) / sizeof(empty_cases[0]));
    tcase_add_loop_test(tc, test_finish_applies_newest, 0,
                        sizeof(finish_cases) / sizeof(finish_cases[0]));
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return churn_test_run(churn_robust_suite());
}
