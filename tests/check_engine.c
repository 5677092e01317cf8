/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Engine state, event-time windows and watermark, eviction, dedupe, scores
 * and signals. White-box where a number must be checked exactly: tests may
 * read internals through src/engine/engine_int.h.
 */
#include "engine_int.h"
#include "enginetest.h"
#include "testutil.h"

#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static struct churn__account *account(struct et *t, const char *id)
{
    struct churn_str s = { id, strlen(id) };

    return churn__table_find(t->eng->accounts, s, churn__hash(id, strlen(id)));
}

static uint32_t events_in_bucket(struct et *t, const char *id, int32_t b)
{
    struct churn__account *acc = account(t, id);
    int32_t s;

    ck_assert_ptr_nonnull(acc);
    s = churn__ring_slot(acc, t->eng->ring_len, b);
    return s < 0 ? 0 : churn__ring(acc, t->eng->ring_len).events[s];
}

/* ---- bucket alignment ---- */

static const struct {
    const char *name;
    const char *offset; /* window.utc_offset */
    const char *ts_a, *ts_b;
    bool same_bucket;
} align_cases[] = {
    { "utc midnight splits", "0", "2026-01-05T23:59:59.999Z",
      "2026-01-06T00:00:00.000Z", false },
    { "utc same day", "0", "2026-01-05T00:00:00Z", "2026-01-05T23:59:59Z",
      true },
    { "offset input, same utc day", "0", "2026-01-05T20:00:00-03:00",
      "2026-01-05T23:30:00Z", true },
    { "offset input crosses utc midnight", "0", "2026-01-05T22:00:00-03:00",
      "2026-01-05T23:30:00Z", false },
    { "local days at -5h", "-5h", "2026-01-06T04:59:59Z",
      "2026-01-05T05:00:00Z", true },
    { "local midnight at -5h", "-5h", "2026-01-06T04:59:59Z",
      "2026-01-06T05:00:00Z", false },
    { "local midnight at +5h30", "330m", "2026-01-05T18:29:59Z",
      "2026-01-05T18:30:00Z", false },
};

START_TEST(test_bucket_alignment)
{
    struct et t;
    char set[64], line[256];

    snprintf(set, sizeof(set), "window.utc_offset=%s", align_cases[_i].offset);
    /* the pairs are up to a day apart: a lateness that accepts both */
    const char *sets[] = { set, "input.allowed_lateness=2d", NULL };
    et_init(&t, sets);
    snprintf(line, sizeof(line),
             "{\"event_id\":\"a\",\"type\":\"usage.login\",\"account_id\":"
             "\"x\",\"ts\":\"%s\"}",
             align_cases[_i].ts_a);
    et_line(&t, line);
    snprintf(line, sizeof(line),
             "{\"event_id\":\"b\",\"type\":\"usage.login\",\"account_id\":"
             "\"x\",\"ts\":\"%s\"}",
             align_cases[_i].ts_b);
    et_line(&t, line);
    struct churn__account *acc = account(&t, "x");
    ck_assert_ptr_nonnull(acc);
    struct churn_event ev;
    int64_t a, b;
    ck_assert(churn_ts_parse_rfc3339(
        (struct churn_str){ align_cases[_i].ts_a,
                            strlen(align_cases[_i].ts_a) },
        &a));
    ck_assert(churn_ts_parse_rfc3339(
        (struct churn_str){ align_cases[_i].ts_b,
                            strlen(align_cases[_i].ts_b) },
        &b));
    (void)ev;
    int32_t ba = churn__bucket_of(t.eng, a), bb = churn__bucket_of(t.eng, b);
    ck_assert_msg((ba == bb) == align_cases[_i].same_bucket, "%s: %d vs %d",
                  align_cases[_i].name, ba, bb);
    if (ba == bb) {
        ck_assert_uint_eq(events_in_bucket(&t, "x", ba), 2);
    } else {
        ck_assert_uint_eq(events_in_bucket(&t, "x", ba), 1);
        ck_assert_uint_eq(events_in_bucket(&t, "x", bb), 1);
    }
    et_release(&t);
}
END_TEST

/* ---- watermark: out of order, late ---- */

START_TEST(test_out_of_order_within_lateness)
{
    struct et t;
    const char *sets[] = { "input.allowed_lateness=1h", NULL };

    et_init(&t, sets);
    et_ev(&t, "usage.login", "a", ET_DAYS(1) + 10 * ET_MIN(1), "");
    /* 59 minutes earlier and across the midnight boundary: still on time */
    et_ev(&t, "usage.login", "a", ET_DAYS(1) - 49 * 60000, "");
    ck_assert_uint_eq(et_count(&t, "dlq", NULL, NULL), 0);
    ck_assert_uint_eq(
        events_in_bucket(&t, "a", churn__bucket_of(t.eng, ET_DAYS(0))), 1);
    ck_assert_uint_eq(
        events_in_bucket(&t, "a", churn__bucket_of(t.eng, ET_DAYS(1))), 1);
    et_release(&t);
}
END_TEST

START_TEST(test_late_beyond_lateness)
{
    struct et t;
    const char *sets[] = { "input.allowed_lateness=1h", NULL };
    struct churn_engine_stats st;

    et_init(&t, sets);
    et_ev(&t, "usage.login", "a", ET_DAYS(1) + 2 * ET_HOUR, "");
    /* watermark = day1 01:00; this one is 30 min behind it */
    et_ev(&t, "usage.login", "a", ET_DAYS(1) + 30 * 60000, "");
    ck_assert_uint_eq(et_count(&t, "dlq", NULL, NULL), 1);
    json_t *rec = json_array_get(t.outs, json_array_size(t.outs) - 1);
    json_t *h = json_object_get(rec, "headers");
    ck_assert_str_eq(json_string_value(json_object_get(h, "churnd.reason")),
                     "late");
    ck_assert_str_eq(json_string_value(json_object_get(h, "churnd.late_by_ms")),
                     "1800000");
    /* the dead letter carries the original bytes */
    ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(rec, "raw")),
                                 "\"event_id\":\"e2\""));
    churn_engine_get_stats(t.eng, &st);
    ck_assert_uint_eq(st.in, 2);
    ck_assert_uint_eq(st.accepted, 1);
    ck_assert_uint_eq(st.by_reason[CHURN_REASON_LATE], 1);
    ck_assert_uint_eq(
        events_in_bucket(&t, "a", churn__bucket_of(t.eng, ET_DAYS(1))), 1);
    et_release(&t);
}
END_TEST

START_TEST(test_late_pre_decoded)
{
    struct et t;
    struct churn_event ev;
    struct churn_error err = { 0 };
    struct churn_source src = { "p", 3, 42, 1000, { "a", 1 } };

    et_init(&t, NULL);
    et_ev(&t, "usage.login", "a", ET_DAYS(1), "");
    memset(&ev, 0, sizeof(ev));
    ev.type = CHURN_EV_USAGE_LOGIN;
    ev.event_id = (struct churn_str){ "old", 3 };
    ev.account_id = (struct churn_str){ "a", 1 };
    ev.ts_ms = ET_DAYS(0);
    ck_assert(churn_engine_apply(t.eng, &ev, &src, &err) == CHURN_OK);
    const struct churn_output *o;
    ck_assert_uint_eq(churn_engine_outputs(t.eng, &o), 1);
    ck_assert_int_eq(o[0].topic, CHURN_TOPIC_DLQ);
    ck_assert_str_eq(o[0].headers[0].value.ptr[0] == 'l' ? "late" : "x",
                     "late");
    const char want[] = "{\"event_id\":\"old\",\"type\":\"usage.login\","
                        "\"account_id\":\"a\",\"ts\":1767571200000}";
    ck_assert_uint_eq(o[0].value.len, sizeof(want) - 1);
    ck_assert(memcmp(o[0].value.ptr, want, sizeof(want) - 1) == 0);
    /* Kafka source: the six source headers */
    ck_assert_uint_ge(o[0].header_cnt, 6);
    ck_assert_str_eq(o[0].headers[2].name, "churnd.source.topic");
    et_release(&t);
}
END_TEST

/* ---- the future bound (input.max_future, input.max_jump) ---- */

#define FAR_FUTURE 253402300799999LL /* 9999-12-31T23:59:59.999Z */
#define NO_TS      (-1LL)

struct future_step {
    int64_t ts_ms;    /* event time */
    int64_t kafka_ms; /* message timestamp; NO_TS = replay (no timestamp) */
    const char *want; /* "ok", or the dead letter's reason */
    int64_t by_ms;    /* churnd.future_by_ms / late_by_ms when dead-lettered */
};

static const struct {
    const char *name;
    const char *sets[3];
    struct future_step steps[4];
    int64_t watermark_ms; /* after the last step */
} future_cases[] = {
    { "kafka: 1h 1ms ahead of the message timestamp is future",
      { NULL },
      { { ET_DAYS(1) + ET_HOUR + 1, ET_DAYS(1), "future", ET_HOUR + 1 },
        { ET_DAYS(1), ET_DAYS(1), "ok", 0 } },
      ET_DAYS(1) - ET_HOUR },
    { "kafka: exactly input.max_future ahead is accepted",
      { NULL },
      { { ET_DAYS(1) + ET_HOUR, ET_DAYS(1), "ok", 0 } },
      ET_DAYS(1) },
    { "kafka: a far-future event does not poison what follows",
      { NULL },
      { { ET_DAYS(1), ET_DAYS(1), "ok", 0 },
        { FAR_FUTURE, ET_DAYS(1), "future", FAR_FUTURE - ET_DAYS(1) },
        { ET_DAYS(1) + ET_MIN(1), ET_DAYS(1) + ET_MIN(2), "ok", 0 },
        { ET_DAYS(1) + ET_MIN(3), ET_DAYS(1) + ET_MIN(3), "ok", 0 } },
      ET_DAYS(1) + ET_MIN(3) - ET_HOUR },
    { "kafka: backfill (old events, new timestamps) is accepted",
      { NULL },
      { { ET_DAYS(0), ET_DAYS(300), "ok", 0 },
        { ET_DAYS(2), ET_DAYS(300), "ok", 0 } },
      ET_DAYS(2) - ET_HOUR },
    { "kafka: the message timestamp, not the jump bound, is the reference",
      { NULL },
      { { ET_DAYS(0), ET_DAYS(0), "ok", 0 },
        { ET_DAYS(400), ET_DAYS(400), "ok", 0 } },
      ET_DAYS(400) - ET_HOUR },
    { "kafka: a wider input.max_future",
      { "input.max_future=2d", NULL },
      { { ET_DAYS(3), ET_DAYS(1), "ok", 0 },
        { ET_DAYS(5) + 1, ET_DAYS(3), "future", 2 * ET_DAY + 1 } },
      ET_DAYS(3) - ET_HOUR },
    { "kafka: input.max_future=0 turns it off",
      { "input.max_future=0", NULL },
      { { ET_DAYS(1), ET_DAYS(1), "ok", 0 },
        { FAR_FUTURE, ET_DAYS(1), "ok", 0 },
        { ET_DAYS(1), ET_DAYS(1), "late", FAR_FUTURE - ET_HOUR - ET_DAYS(1) } },
      FAR_FUTURE - ET_HOUR },
    { "kafka: late is decided before future",
      { NULL },
      { { ET_DAYS(2), ET_DAYS(2), "ok", 0 },
        { ET_DAYS(1), ET_DAYS(0), "late", ET_DAY - ET_HOUR } },
      ET_DAYS(2) - ET_HOUR },
    { "replay: a jump past input.max_jump is future, a 3-day gap is not",
      { NULL },
      { { ET_DAYS(1), NO_TS, "ok", 0 },
        { ET_DAYS(1) + 180 * ET_DAY + 1, NO_TS, "future", 180 * ET_DAY + 1 },
        { ET_DAYS(4), NO_TS, "ok", 0 },
        { ET_DAYS(4) + 180 * ET_DAY, NO_TS, "ok", 0 } },
      ET_DAYS(184) - ET_HOUR },
    { "replay: a far-future line in the middle does not poison the rest",
      { NULL },
      { { ET_DAYS(1), NO_TS, "ok", 0 },
        { FAR_FUTURE, NO_TS, "future", FAR_FUTURE - ET_DAYS(1) },
        { ET_DAYS(1) + ET_MIN(5), NO_TS, "ok", 0 } },
      ET_DAYS(1) + ET_MIN(5) - ET_HOUR },
    { "replay: the first event has no reference and is accepted",
      { NULL },
      { { FAR_FUTURE, NO_TS, "ok", 0 },
        { ET_DAYS(1), NO_TS, "late", FAR_FUTURE - ET_HOUR - ET_DAYS(1) } },
      FAR_FUTURE - ET_HOUR },
    { "replay: the reference is the newest accepted time, not a rejected one",
      { "input.max_jump=1d", NULL },
      { { ET_DAYS(1), NO_TS, "ok", 0 },
        { ET_DAYS(3), NO_TS, "future", 2 * ET_DAY },
        { ET_DAYS(2) + 1, NO_TS, "future", ET_DAY + 1 },
        { ET_DAYS(2), NO_TS, "ok", 0 } },
      ET_DAYS(2) - ET_HOUR },
    { "replay: input.max_jump=0 turns it off",
      { "input.max_jump=0", NULL },
      { { ET_DAYS(1), NO_TS, "ok", 0 }, { ET_DAYS(1000), NO_TS, "ok", 0 } },
      ET_DAYS(1000) - ET_HOUR },
};

static const char *out_header(const struct churn_output *o, const char *name)
{
    static char buf[128];

    for (size_t i = 0; i < o->header_cnt; i++) {
        if (strcmp(o->headers[i].name, name) == 0) {
            snprintf(buf, sizeof(buf), "%.*s", (int)o->headers[i].value.len,
                     o->headers[i].value.ptr);
            return buf;
        }
    }
    return NULL;
}

START_TEST(test_future_bound)
{
    struct et t;
    struct churn_engine_stats st;
    uint64_t future_cnt = 0;

    et_init(&t, future_cases[_i].sets);
    for (size_t k = 0; k < 4 && future_cases[_i].steps[k].want; k++) {
        const struct future_step *s = &future_cases[_i].steps[k];
        struct churn_source src = {
            "churn.events", 0, (int64_t)k, s->kafka_ms, { "a", 1 }
        };
        struct churn_error err = { 0 };
        const struct churn_output *o;
        const struct churn_output *dl = NULL;
        char line[256];
        size_t n;

        if (s->kafka_ms == NO_TS) {
            src = (struct churn_source){
                "f.jsonl", -1, (int64_t)k + 1, -1, { NULL, 0 }
            };
        }
        snprintf(line, sizeof(line),
                 "{\"event_id\":\"f%zu\",\"type\":\"usage.login\","
                 "\"account_id\":\"a\",\"ts\":%lld}",
                 k, (long long)s->ts_ms);
        ck_assert_msg(churn_engine_feed(t.eng, line, strlen(line), &src,
                                        &err) == CHURN_OK,
                      "%s: step %zu: %s", future_cases[_i].name, k, err.msg);
        n = churn_engine_outputs(t.eng, &o);
        for (size_t j = 0; j < n; j++) {
            if (o[j].topic == CHURN_TOPIC_DLQ) {
                ck_assert_msg(dl == NULL, "%s: step %zu: two dead letters",
                              future_cases[_i].name, k);
                dl = &o[j];
            }
        }
        if (strcmp(s->want, "ok") == 0) {
            ck_assert_msg(dl == NULL, "%s: step %zu: dead-lettered %s (%s)",
                          future_cases[_i].name, k,
                          dl ? out_header(dl, "churnd.reason") : "",
                          dl ? out_header(dl, "churnd.detail") : "");
        } else {
            char by[32];
            const char *hname = strcmp(s->want, "future") == 0
                                    ? "churnd.future_by_ms"
                                    : "churnd.late_by_ms";
            ck_assert_msg(dl != NULL, "%s: step %zu: accepted, want %s",
                          future_cases[_i].name, k, s->want);
            ck_assert_msg(strcmp(out_header(dl, "churnd.reason"), s->want) == 0,
                          "%s: step %zu: reason %s, want %s",
                          future_cases[_i].name, k,
                          out_header(dl, "churnd.reason"), s->want);
            snprintf(by, sizeof(by), "%lld", (long long)s->by_ms);
            ck_assert_msg(
                out_header(dl, hname) != NULL &&
                    strcmp(out_header(dl, hname), by) == 0,
                "%s: step %zu: %s %s, want %s", future_cases[_i].name, k, hname,
                out_header(dl, hname) ? out_header(dl, hname) : "-", by);
            /* the dead letter keeps the original bytes and the key */
            ck_assert_msg(dl->value.len == strlen(line) &&
                              memcmp(dl->value.ptr, line, dl->value.len) == 0,
                          "%s: step %zu: dead letter bytes differ",
                          future_cases[_i].name, k);
            ck_assert_msg(dl->key.len == 1 && dl->key.ptr[0] == 'a',
                          "%s: step %zu: dead letter key",
                          future_cases[_i].name, k);
            if (strcmp(s->want, "future") == 0) {
                future_cnt++;
                ck_assert_msg(
                    strstr(out_header(dl, "churnd.detail"),
                           s->kafka_ms == NO_TS ? "input.max_jump"
                                                : "input.max_future") != NULL,
                    "%s: step %zu: detail names the wrong bound: %s",
                    future_cases[_i].name, k, out_header(dl, "churnd.detail"));
            }
        }
        churn_engine_outputs_clear(t.eng);
    }
    churn_engine_get_stats(t.eng, &st);
    ck_assert_msg(st.by_reason[CHURN_REASON_FUTURE] == future_cnt,
                  "%s: %llu future in the stats, want %llu",
                  future_cases[_i].name,
                  (unsigned long long)st.by_reason[CHURN_REASON_FUTURE],
                  (unsigned long long)future_cnt);
    ck_assert_msg(st.in == st.accepted + st.dead_letters + st.duplicates,
                  "%s: in != accepted + dead letters + duplicates",
                  future_cases[_i].name);
    ck_assert_msg(st.watermark_ms == future_cases[_i].watermark_ms,
                  "%s: watermark %lld, want %lld", future_cases[_i].name,
                  (long long)st.watermark_ms,
                  (long long)future_cases[_i].watermark_ms);
    et_release(&t);
}
END_TEST

START_TEST(test_future_pre_decoded)
{
    struct et t;
    struct churn_event ev;
    struct churn_error err = { 0 };
    struct churn_source src = { "p", 3, 42, ET_DAYS(1), { "a", 1 } };
    const struct churn_output *o;
    const char want[] = "{\"event_id\":\"fut\",\"type\":\"usage.login\","
                        "\"account_id\":\"a\",\"ts\":1767745800000}";

    et_init(&t, NULL);
    memset(&ev, 0, sizeof(ev));
    ev.type = CHURN_EV_USAGE_LOGIN;
    ev.event_id = (struct churn_str){ "fut", 3 };
    ev.account_id = (struct churn_str){ "a", 1 };
    ev.ts_ms = ET_DAYS(2) + 30 * ET_MIN(1);
    ck_assert(churn_engine_apply(t.eng, &ev, &src, &err) == CHURN_OK);
    ck_assert_uint_eq(churn_engine_outputs(t.eng, &o), 1);
    ck_assert_int_eq(o[0].topic, CHURN_TOPIC_DLQ);
    ck_assert_str_eq(out_header(&o[0], "churnd.reason"), "future");
    ck_assert_str_eq(out_header(&o[0], "churnd.future_by_ms"), "88200000");
    /* no bytes of its own: the envelope, re-encoded */
    ck_assert_uint_eq(o[0].value.len, sizeof(want) - 1);
    ck_assert(memcmp(o[0].value.ptr, want, sizeof(want) - 1) == 0);
    et_release(&t);
}
END_TEST

/* The weeks leaving the ring fold into engagement_drop's long reference:
 * whole weeks (aligned on bucket 0; ET_T0 is 4 mod 7, so weeks start on
 * days 3, 10, ...) once their first day leaves, the account's partial first
 * week skipped, and a long silence folds zero weeks, down to exactly zero
 * past 64 of them. */
/* The plan cohort's line: ln(per seat) on ln(seats), a ridge slope
 * clamped to [-0.5, 0], read back at any size. */
static const struct {
    const char *name;
    double power; /* per seat = 10 x seats^power */
    bool spread;  /* seats 1..54 (e^0..e^4), else all 10 */
    double slope; /* expected, NAN: the ridge formula */
} cohort_cases[] = {
    { "one size: per seat, slope 0", -0.3, false, 0 },
    { "a power law: the ridge slope", -0.3, true, NAN },
    { "steeper than -0.5 clamps", -0.9, true, -0.5 },
    { "more per seat when larger clamps at 0", 0.4, true, 0 },
};

START_TEST(test_cohort_line)
{
    struct churn__cohort a = { 0 }, b = { 0 };
    double sxx = 0, mean = 0, slope, per;
    int n = 41;

    for (int i = 0; i < n; i++) {
        double seats =
            cohort_cases[_i].spread ? round(exp(4.0 * i / (n - 1))) : 10;
        double seats_r = cohort_cases[_i].spread
                             ? round(exp(4.0 * (n - 1 - i) / (n - 1)))
                             : 10;
        churn__cohort_add(&a, seats,
                          seats * 10 * pow(seats, cohort_cases[_i].power));
        churn__cohort_add(&b, seats_r,
                          seats_r * 10 * pow(seats_r, cohort_cases[_i].power));
        mean += log(seats) / n;
    }
    /* the sums do not depend on the order the accounts came in */
    ck_assert_int_eq(a.sum_log_per_seat, b.sum_log_per_seat);
    ck_assert_int_eq(a.sum_ls_lp, b.sum_ls_lp);
    ck_assert_uint_eq(a.cnt, (unsigned)n);
    for (int i = 0; i < n; i++) {
        double seats =
            cohort_cases[_i].spread ? round(exp(4.0 * i / (n - 1))) : 10;
        sxx += (log(seats) - mean) * (log(seats) - mean);
    }
    per = churn__cohort_per_seat(&a, 10, &slope);
    if (isnan(cohort_cases[_i].slope)) {
        ck_assert_double_eq_tol(slope, -0.3 * sxx / (sxx + 0.5 * n), 1e-4);
        ck_assert(slope < -0.2 && slope > -0.3);
    } else {
        ck_assert_double_eq_tol(slope, cohort_cases[_i].slope, 1e-6);
    }
    if (!cohort_cases[_i].spread) {
        ck_assert_double_eq_tol(per, 10 * pow(10, -0.3), 1e-4);
    }
    /* twice the seats, 2^slope per seat */
    ck_assert_double_eq_tol(churn__cohort_per_seat(&a, 20, NULL) / per,
                            pow(2, slope), 1e-9);
}
END_TEST

START_TEST(test_ring_fold)
{
    struct et t;
    struct churn__account *acc;
    const char *sets[] = { "input.max_jump=0", "state.idle_evict=0", NULL };

    et_init(&t, sets);
    for (int d = 0; d < 60; d++) {
        for (int k = 0; k <= d % 7; k++) { /* 1..7 a day, 28 a week */
            et_ev(&t, "usage.login", "f", ET_DAYS(d) + ET_HOUR + k, "");
        }
    }
    acc = account(&t, "f");
    /* head day 59, ring days 23..59: weeks of days 3, 10, 17 folded (the
     * week of day -4 began before the account) */
    ck_assert_uint_eq(acc->fold_weeks, 3);
    ck_assert_float_eq_tol(acc->fold_mean, 28, 1e-4);
    ck_assert_float_eq_tol(acc->fold_sq, 28 * 28, 1e-2);
    ck_assert_int_eq(churn__ring_ref_start(acc, t.eng->ring_len, 7),
                     churn__bucket_of(t.eng, ET_DAYS(24)));
    /* 30 silent weeks, then one event: the weight is capped at 8 weeks and
     * each of about 25 zero weeks takes an eighth of what is left: 28 x
     * (7/8)^25 is about 1 */
    et_ev(&t, "usage.login", "f", ET_DAYS(60 + 210) + ET_HOUR, "");
    ck_assert_uint_eq(acc->fold_weeks, CHURN__FOLD_WEEKS);
    ck_assert(acc->fold_mean > 28 * 0.02 && acc->fold_mean < 28 * 0.05);
    /* past 64 silent weeks the reference is zero */
    et_ev(&t, "usage.login", "f", ET_DAYS(270 + 600) + ET_HOUR, "");
    ck_assert_float_eq(acc->fold_mean, 0);
    ck_assert_float_eq(acc->fold_sq, 0);
    et_release(&t);
}
END_TEST

START_TEST(test_ring_rollover_long_gap)
{
    struct et t;

    et_init(&t, NULL);
    et_ev(&t, "usage.login", "a", ET_DAYS(0) + ET_HOUR, "");
    et_ev(&t, "usage.login", "a", ET_DAYS(3) + ET_HOUR, "");
    et_ev(&t, "usage.login", "a", ET_DAYS(100) + ET_HOUR, "");
    struct churn__account *acc = account(&t, "a");
    ck_assert_int_eq(acc->head_bucket, churn__bucket_of(t.eng, ET_DAYS(100)));
    /* day 0 and 3 rolled off: not in the ring, and their slots are clear */
    ck_assert_int_eq(churn__ring_slot(acc, t.eng->ring_len,
                                      churn__bucket_of(t.eng, ET_DAYS(3))),
                     -1);
    uint64_t total = 0;
    struct churn__ring_view v = churn__ring(acc, t.eng->ring_len);
    for (uint32_t i = 0; i < t.eng->ring_len; i++) {
        total += v.events[i];
    }
    ck_assert_uint_eq(total, 1);
    /* a 36-day gap rolls everything; a 34-day one keeps the old bucket */
    et_ev(&t, "usage.login", "b", ET_DAYS(101), "");
    et_ev(&t, "usage.login", "b", ET_DAYS(135), "");
    ck_assert_uint_eq(
        events_in_bucket(&t, "b", churn__bucket_of(t.eng, ET_DAYS(101))), 1);
    et_release(&t);
}
END_TEST

/* ---- eviction ---- */

START_TEST(test_evict_at_max_accounts)
{
    struct et t;
    const char *sets[] = { "state.max_accounts=3", NULL };
    struct churn_engine_stats st;

    et_init(&t, sets);
    et_ev(&t, "usage.login", "old", ET_DAYS(0), "");
    et_ev(&t, "usage.login", "mid", ET_DAYS(0) + ET_HOUR, "");
    et_ev(&t, "usage.login", "new", ET_DAYS(0) + 2 * ET_HOUR, "");
    et_ev(&t, "usage.login", "newest", ET_DAYS(0) + 3 * ET_HOUR, "");
    churn_engine_get_stats(t.eng, &st);
    ck_assert_uint_eq(st.accounts, 3);
    ck_assert_uint_eq(st.evicted_full, 1);
    /* the idlest (oldest last event) went */
    ck_assert_ptr_null(account(&t, "old"));
    ck_assert_ptr_nonnull(account(&t, "newest"));
    et_release(&t);
}
END_TEST

START_TEST(test_evict_idle_on_watermark)
{
    struct et t;
    const char *sets[] = { "state.idle_evict=5d", NULL };
    struct churn_engine_stats st;

    et_init(&t, sets);
    et_ev(&t, "usage.login", "idle", ET_DAYS(0), "");
    et_ev(&t, "usage.login", "busy", ET_DAYS(0), "");
    et_ev(&t, "usage.login", "busy", ET_DAYS(4), "");
    ck_assert_ptr_nonnull(account(&t, "idle"));
    /* judged at bucket boundaries: the day-6 boundary passes at 01:00 */
    et_ev(&t, "usage.login", "busy", ET_DAYS(6) + 30 * ET_MIN(1), "");
    ck_assert_ptr_nonnull(account(&t, "idle"));
    et_ev(&t, "usage.login", "busy", ET_DAYS(6) + 2 * ET_HOUR, "");
    churn_engine_get_stats(t.eng, &st);
    ck_assert_ptr_null(account(&t, "idle"));
    ck_assert_ptr_nonnull(account(&t, "busy"));
    ck_assert_uint_eq(st.evicted_idle, 1);
    et_release(&t);
}
END_TEST

/* ---- dedupe ---- */

START_TEST(test_duplicate_ids)
{
    struct et t;
    struct churn_engine_stats st;
    const char *line = "{\"event_id\":\"dup\",\"type\":\"usage.login\","
                       "\"account_id\":\"a\",\"ts\":1767571200000}";

    et_init(&t, NULL);
    et_line(&t, line);
    et_line(&t, line);
    et_line(&t, line);
    churn_engine_get_stats(t.eng, &st);
    ck_assert_uint_eq(st.in, 3);
    ck_assert_uint_eq(st.accepted, 1);
    ck_assert_uint_eq(st.duplicates, 2);
    ck_assert_uint_eq(st.dead_letters, 0);
    ck_assert_uint_eq(events_in_bucket(&t, "a", churn__bucket_of(t.eng, ET_T0)),
                      1);
    et_release(&t);
}
END_TEST

START_TEST(test_dedupe_horizon_and_capacity)
{
    struct et t;
    const char *sets[] = { "input.dedupe_horizon=1d", "input.dedupe_capacity=2",
                           NULL };
    struct churn_engine_stats st;

    et_init(&t, sets);
    et_line(&t, "{\"event_id\":\"x\",\"type\":\"usage.login\","
                "\"account_id\":\"a\",\"ts\":1767571200000}");
    /* two days later (within lateness of nothing: fresh time) the same id is
     * outside the horizon and counts again */
    et_ev(&t, "usage.login", "a", ET_DAYS(3), "");
    et_line(&t, "{\"event_id\":\"x\",\"type\":\"usage.login\","
                "\"account_id\":\"a\",\"ts\":1767830400000}");
    churn_engine_get_stats(t.eng, &st);
    ck_assert_uint_eq(st.duplicates, 0);
    ck_assert_uint_eq(st.accepted, 3);
    /* capacity 2: the third distinct id pushes the first out early */
    et_ev(&t, "usage.login", "a", ET_DAYS(3) + 1, "");
    churn_engine_get_stats(t.eng, &st);
    ck_assert_uint_ge(st.dedupe_dropped, 1);
    et_release(&t);
}
END_TEST

/* ---- sketches ---- */

START_TEST(test_bitmap_estimate_error_bound)
{
    /* Linear counting with m = 32: within 10 % up to 30 items, averaged
     * over many random item sets (the bound stated in window.c). */
    for (unsigned n = 1; n <= 30; n++) {
        double sum = 0;
        for (unsigned trial = 0; trial < 400; trial++) {
            uint32_t bits = 0;
            for (unsigned k = 0; k < n; k++) {
                char id[32];
                int len = snprintf(id, sizeof(id), "user-%u-%u", trial, k);
                bits |= 1u << (churn__hash(id, (size_t)len) % 32u);
            }
            sum += churn__bitmap_estimate(bits, 32);
        }
        double mean = sum / 400;
        ck_assert_msg(fabs(mean - n) <= 0.1 * n + 0.05,
                      "n=%u: mean estimate %.2f", n, mean);
    }
}
END_TEST

/* ---- scores: the README's worked example ---- */

START_TEST(test_score_worked_example)
{
    struct et t;
    struct churn__figures f;

    et_init(&t, NULL);
    et_worked_example(&t);
    struct churn__account *acc = account(&t, "w");
    churn__figures_compute(t.eng, acc, churn__bucket_of(t.eng, ET_DAYS(35)),
                           &f);
    ck_assert(!f.insufficient);
    ck_assert_double_eq_tol(f.recent_events, 42, 1e-9);
    ck_assert_double_eq_tol(f.base_daily_mean, 12, 1e-9);
    ck_assert_double_eq_tol(f.expected, 84, 1e-9);
    ck_assert_double_eq_tol(f.ratio, 0.5, 1e-9);
    /* a steady baseline estimates phi = 1; the floor makes it 3 */
    ck_assert_double_eq_tol(f.dispersion, 3, 1e-9);
    ck_assert_double_eq_tol(f.z, (42 - 84) / sqrt(3 * 84 * (1 + 7.0 / 28)),
                            1e-9);
    ck_assert_double_eq_tol(f.activity, 0.5, 1e-9);
    ck_assert_int_eq(f.days_since_usage, 0);
    ck_assert_double_eq_tol(f.recency, 1, 1e-9);
    /* breadth and users are sketch ratios: recompute them from the
     * figures the README shows */
    ck_assert_double_eq_tol(
        f.breadth, fmin(1, f.features_recent / f.features_base_weekly), 1e-9);
    ck_assert_double_eq_tol(
        f.users, fmin(1, f.users_recent / f.users_base_weekly), 1e-9);
    double eng = 100 * (0.5 * f.activity + 0.2 * f.breadth + 0.15 * f.users +
                        0.15 * f.recency);
    ck_assert_double_eq_tol(f.engagement, round(eng * 10) / 10, 1e-9);
    ck_assert_double_eq_tol(f.payment, 100, 1e-9);
    ck_assert_double_eq_tol(f.subscription, 100, 1e-9);
    ck_assert_double_eq_tol(f.feedback, 75, 1e-9);
    double health = 0.5 * f.engagement + 0.2 * 100 + 0.2 * 100 + 0.1 * 75;
    ck_assert_double_eq_tol(f.health, round(health * 10) / 10, 1e-9);
    et_release(&t);
}
END_TEST

START_TEST(test_new_account_not_a_drop)
{
    struct et t;
    struct churn__figures f;

    et_init(&t, NULL);
    /* three days of history only, then silence for four days */
    for (int d = 0; d < 3; d++) {
        et_usage_day(&t, "n", d, 20, 3);
    }
    et_advance(&t, ET_DAYS(7));
    churn__figures_compute(t.eng, account(&t, "n"),
                           churn__bucket_of(t.eng, ET_DAYS(7)), &f);
    ck_assert(f.insufficient);
    ck_assert_uint_eq(et_alerts(&t, "engagement_drop", NULL), 0);
    json_t *sig = et_find(&t, "signals", "account_id", "n", 0);
    ck_assert_ptr_nonnull(sig);
    ck_assert(json_is_true(json_object_get(json_object_get(sig, "engagement"),
                                           "insufficient_history")));
    et_release(&t);
}
END_TEST

/* ---- bands and signals ---- */

static const struct {
    const char *name;
    const char *status_event; /* drives the subscription component */
    const char *want_band;
} band_cases[] = {
    /* weights: only subscription counts, so health = its component:
     * active 100, trialing 80, paused 50, cancel_scheduled 0 */
    { "active is healthy", "subscription.created", "healthy" },
    { "trialing at exactly 80 is healthy at threshold 80",
      "subscription.trial_started", "healthy" },
    { "paused at exactly 50 is watch", "subscription.paused", "watch" },
    { "cancel scheduled is critical", "subscription.cancel_scheduled",
      "critical" },
};

START_TEST(test_band_thresholds)
{
    struct et t;
    const char *sets[] = {
        "score.weight.engagement=0", "score.weight.payment=0",
        "score.weight.feedback=0",   "score.weight.subscription=1",
        "score.band.healthy=80",     "score.band.watch=50",
        "score.band.at_risk=30",     NULL
    };

    et_init(&t, sets);
    et_ev(&t, "subscription.created", "b", ET_DAYS(0),
          "\"plan\":\"team\",\"mrr\":100,\"currency\":\"USD\"");
    if (strcmp(band_cases[_i].status_event, "subscription.created") != 0) {
        const char *extra = "";
        if (strstr(band_cases[_i].status_event, "trial")) {
            extra = "\"plan\":\"team\",\"effective_at\":1799107200000";
        } else if (strstr(band_cases[_i].status_event, "cancel")) {
            extra = "\"effective_at\":1799107200000";
        }
        et_ev(&t, band_cases[_i].status_event, "b", ET_DAYS(0) + ET_HOUR,
              extra);
    }
    et_advance(&t, ET_DAYS(1));
    json_t *sig = et_find(&t, "signals", "account_id", "b", 0);
    ck_assert_msg(sig != NULL, "%s: no signal", band_cases[_i].name);
    ck_assert_msg(strcmp(json_string_value(json_object_get(sig, "band")),
                         band_cases[_i].want_band) == 0,
                  "%s: band %s", band_cases[_i].name,
                  json_string_value(json_object_get(sig, "band")));
    et_release(&t);
}
END_TEST

START_TEST(test_signal_delta)
{
    struct et t;
    /* health = feedback component only: NPS x 10 */
    const char *sets[] = { "score.weight.engagement=0",
                           "score.weight.payment=0",
                           "score.weight.subscription=0",
                           "score.weight.feedback=1",
                           "score.band.healthy=10",
                           "score.band.watch=5",
                           "score.band.at_risk=1",
                           "score.signal_delta=20",
                           "rule.detractor_feedback.enabled=false",
                           NULL };

    et_init(&t, sets);
    et_ev(&t, "feedback.nps", "s", ET_DAYS(0), "\"score\":9");
    et_advance(&t, ET_DAYS(1)); /* first signal: 90 */
    ck_assert_uint_eq(et_count(&t, "signals", NULL, NULL), 1);
    et_ev(&t, "feedback.nps", "s", ET_DAYS(1) + ET_HOUR, "\"score\":8");
    et_advance(&t, ET_DAYS(2)); /* 80: moved 10 < 20, same band: silent */
    ck_assert_uint_eq(et_count(&t, "signals", NULL, NULL), 1);
    et_ev(&t, "feedback.nps", "s", ET_DAYS(2) + ET_HOUR, "\"score\":7");
    et_advance(&t, ET_DAYS(3)); /* 70: moved 20 from the last signal */
    ck_assert_uint_eq(et_count(&t, "signals", NULL, NULL), 2);
    json_t *sig = et_find(&t, "signals", NULL, NULL, 1);
    ck_assert_double_eq_tol(json_number_value(json_object_get(sig, "health")),
                            70, 1e-9);
    ck_assert_str_eq(json_string_value(json_object_get(sig, "previous_band")),
                     "healthy");
    et_release(&t);
}
END_TEST

/* ---- determinism ---- */

/* A mixed story, emitted as lines; shuffled within the lateness bound it
 * must give the same outputs. */
struct story_line {
    char *text;
    int64_t arrival; /* event time, plus a delay when shuffled */
};

static int arrival_cmp(const void *a, const void *b)
{
    const struct story_line *x = a, *y = b;

    return x->arrival < y->arrival ? -1 : x->arrival > y->arrival;
}

static struct story_line *story_lines(size_t *n)
{
    size_t cap = 4096, cnt = 0;
    struct story_line *v = malloc(cap * sizeof(*v));
    char buf[512];
    unsigned id = 0;

    /* in event-time order: ten-minute slots, accounts interleaved */
    for (int d = 0; d < 60; d++) {
        for (int k = 0; k < 12; k++) {
            for (int a = 0; a < 4; a++) {
                int per_day = (a == 1 && d >= 40) ? 1 : 8 + a;
                if (k >= per_day) {
                    continue;
                }
                snprintf(buf, sizeof(buf),
                         "{\"event_id\":\"s%u\",\"type\":\"usage.login\","
                         "\"account_id\":\"acct%d\",\"user_id\":\"u%d\","
                         "\"ts\":%lld}",
                         id++, a, k % 3,
                         (long long)(ET_DAYS(d) + 3 * ET_HOUR +
                                     k * 10 * ET_MIN(1) + a));
                v[cnt].arrival =
                    ET_DAYS(d) + 3 * ET_HOUR + k * 10 * ET_MIN(1) + a;
                v[cnt++].text = strdup(buf);
            }
        }
        if (d == 20 || d == 23) {
            snprintf(buf, sizeof(buf),
                     "{\"event_id\":\"p%u\",\"type\":\"payment.failed\","
                     "\"account_id\":\"acct2\",\"decline_code\":"
                     "\"insufficient_funds\",\"ts\":%lld}",
                     id++, (long long)(ET_DAYS(d) + 5 * ET_HOUR));
            v[cnt].arrival = ET_DAYS(d) + 5 * ET_HOUR;
            v[cnt++].text = strdup(buf);
        }
    }
    *n = cnt;
    return v;
}

static char *run_lines(struct story_line *lines, size_t n)
{
    struct et t;
    char *dump;

    et_init(&t, NULL);
    for (size_t i = 0; i < n; i++) {
        et_line(&t, lines[i].text);
    }
    et_finish(&t);
    dump = et_dump(&t);
    et_release(&t);
    return dump;
}

START_TEST(test_determinism_and_shuffle)
{
    size_t n;
    struct story_line *lines = story_lines(&n);
    char *a = run_lines(lines, n);
    char *b = run_lines(lines, n);

    /* (strcmp: the dumps are too long for Check's messages) */
    ck_assert_msg(strcmp(a, b) == 0, "two runs of one input differ");
    ck_assert_ptr_nonnull(strstr(a, "engagement_drop"));
    ck_assert_ptr_nonnull(strstr(a, "payment_failure_streak"));
    /* arrival = event time + a delay of up to 50 minutes: inside the 1 h
     * lateness, so nothing turns late and nothing may change */
    unsigned seed = 12345;
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        lines[i].arrival += (int64_t)((seed >> 8) % 50) * ET_MIN(1);
    }
    qsort(lines, n, sizeof(*lines), arrival_cmp);
    char *c = run_lines(lines, n);
    ck_assert_msg(strcmp(a, c) == 0, "shuffled input changed the output");
    for (size_t i = 0; i < n; i++) {
        free(lines[i].text);
    }
    free(lines);
    free(a);
    free(b);
    free(c);
}
END_TEST

START_TEST(test_account_bytes)
{
    struct et t;

    et_init(&t, NULL);
    /* the documented fixed size at the default 35 buckets */
    ck_assert_uint_le(churn_engine_account_bytes(t.eng), 960);
    et_release(&t);
}
END_TEST

static Suite *churn_engine_suite(void)
{
    Suite *s = suite_create("engine");
    TCase *tc = tcase_create("core");

    tcase_add_loop_test(tc, test_bucket_alignment, 0,
                        sizeof(align_cases) / sizeof(align_cases[0]));
    tcase_add_test(tc, test_out_of_order_within_lateness);
    tcase_add_test(tc, test_late_beyond_lateness);
    tcase_add_test(tc, test_late_pre_decoded);
    tcase_add_loop_test(tc, test_future_bound, 0,
                        sizeof(future_cases) / sizeof(future_cases[0]));
    tcase_add_test(tc, test_future_pre_decoded);
    tcase_add_test(tc, test_ring_rollover_long_gap);
    tcase_add_test(tc, test_ring_fold);
    tcase_add_loop_test(tc, test_cohort_line, 0,
                        sizeof(cohort_cases) / sizeof(cohort_cases[0]));
    tcase_add_test(tc, test_evict_at_max_accounts);
    tcase_add_test(tc, test_evict_idle_on_watermark);
    tcase_add_test(tc, test_duplicate_ids);
    tcase_add_test(tc, test_dedupe_horizon_and_capacity);
    tcase_add_test(tc, test_bitmap_estimate_error_bound);
    tcase_add_test(tc, test_score_worked_example);
    tcase_add_test(tc, test_new_account_not_a_drop);
    tcase_add_loop_test(tc, test_band_thresholds, 0,
                        sizeof(band_cases) / sizeof(band_cases[0]));
    tcase_add_test(tc, test_signal_delta);
    tcase_add_test(tc, test_determinism_and_shuffle);
    tcase_add_test(tc, test_account_bytes);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return churn_test_run(churn_engine_suite());
}
