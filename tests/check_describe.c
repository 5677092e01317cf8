/* SPDX-License-Identifier: Apache-2.0 */
/*
 * churn_engine_describe_account(): the README's worked example explained
 * number by number, facts and open alerts that match the outputs, an
 * unknown id, escaping, and that describing changes nothing.
 */
#include "enginetest.h"
#include "testutil.h"

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const sets[] = {
    /* the README's worked example fires on a Poisson count (phi = 1) */
    "rule.engagement_drop.min_dispersion=1",
    "plan.team.segment=mid_market",
    "plan.team.tier=team",
    "plan.team.price=9900",
    "plan.starter.segment=smb",
    NULL,
};

static json_t *describe(struct et *t, const char *id)
{
    char *text = NULL;
    size_t len = 99;
    struct churn_error err = { 0 };
    json_error_t je;
    json_t *v;

    ck_assert_int_eq(
        churn_engine_describe_account(
            t->eng, (struct churn_str){ id, strlen(id) }, &text, &len, &err),
        CHURN_OK);
    if (text == NULL) {
        ck_assert_uint_eq(len, 0);
        return NULL;
    }
    ck_assert_uint_eq(strlen(text), len);
    v = json_loadb(text, len, 0, &je);
    ck_assert_msg(v != NULL, "describe is not JSON: %s: %s", je.text, text);
    free(text);
    return v;
}

static double dnum(json_t *o, const char *path)
{
    char buf[128], *save = NULL;

    snprintf(buf, sizeof(buf), "%s", path);
    for (char *k = strtok_r(buf, ".", &save); k;
         k = strtok_r(NULL, ".", &save)) {
        o = json_object_get(o, k);
        ck_assert_msg(o != NULL, "no %s in %s", k, path);
    }
    ck_assert_msg(json_is_number(o), "%s is not a number", path);
    return json_number_value(o);
}

static const char *dstr(json_t *o, const char *path)
{
    char buf[128], *save = NULL;

    snprintf(buf, sizeof(buf), "%s", path);
    for (char *k = strtok_r(buf, ".", &save); k;
         k = strtok_r(NULL, ".", &save)) {
        o = json_object_get(o, k);
        ck_assert_msg(o != NULL, "no %s in %s", k, path);
    }
    return json_is_null(o) ? NULL : json_string_value(o);
}

START_TEST(test_worked_example_explained)
{
    struct et t;
    json_t *d;

    et_init(&t, sets);
    et_worked_example(&t);
    d = describe(&t, "w");
    ck_assert_ptr_nonnull(d);
    ck_assert_str_eq(dstr(d, "account_id"), "w");
    ck_assert_str_eq(dstr(d, "plan"), "team");
    ck_assert_str_eq(dstr(d, "segment"), "mid_market");
    ck_assert_str_eq(dstr(d, "tier"), "team");
    ck_assert_int_eq((int)dnum(d, "list_price"), 9900);
    ck_assert_str_eq(dstr(d, "scores.as_of"), "2026-02-09T00:00:00.000Z");
    /* README: R = 42, mu = 12, E = 84, activity 0.5, engagement 60.1,
     * health 77.6 */
    ck_assert_double_eq_tol(dnum(d, "scores.engagement.recent_events"), 42,
                            1e-9);
    ck_assert_double_eq_tol(dnum(d, "scores.engagement.baseline_daily_mean"),
                            12, 1e-9);
    ck_assert_double_eq_tol(dnum(d, "scores.engagement.expected_recent"), 84,
                            1e-9);
    ck_assert_double_eq_tol(dnum(d, "scores.engagement.activity"), 0.5, 1e-9);
    ck_assert_double_eq_tol(dnum(d, "scores.engagement.recency"), 1, 1e-9);
    ck_assert_double_eq_tol(dnum(d, "scores.components.engagement"), 60.1,
                            1e-9);
    ck_assert_double_eq_tol(dnum(d, "scores.components.payment"), 100, 1e-9);
    ck_assert_double_eq_tol(dnum(d, "scores.components.feedback"), 75, 1e-9);
    ck_assert_double_eq_tol(dnum(d, "scores.health"), 77.6, 1e-9);
    ck_assert_str_eq(dstr(d, "scores.band"), "healthy");
    /* the weights and the components give the health back */
    double h = 0;
    const char *comp[] = { "engagement", "payment", "subscription",
                           "feedback" };
    for (int i = 0; i < 4; i++) {
        char a[64], b[64];
        snprintf(a, sizeof(a), "scores.components.%s", comp[i]);
        snprintf(b, sizeof(b), "scores.weights.%s", comp[i]);
        h += dnum(d, a) * dnum(d, b);
    }
    ck_assert_double_eq_tol(round(h * 10) / 10, 77.6, 1e-9);
    /* the boundary's own score and the signal it sent agree */
    ck_assert_double_eq_tol(dnum(d, "scores.last_boundary.health"), 77.6, 1e-4);
    ck_assert_str_eq(dstr(d, "scores.last_boundary.band"), "healthy");
    ck_assert_str_eq(dstr(d, "scores.last_signal.band"), "healthy");
    /* the window: one bucket per day since the first, and the recent
     * week's buckets add up to R */
    json_t *b = json_object_get(json_object_get(d, "window"), "buckets");
    ck_assert_uint_eq(json_array_size(b), 35);
    ck_assert_str_eq(
        json_string_value(json_object_get(json_array_get(b, 0), "start")),
        "2026-01-05T00:00:00.000Z");
    int64_t all = 0, recent = 0;
    for (size_t i = 0; i < 35; i++) {
        int64_t n =
            json_integer_value(json_object_get(json_array_get(b, i), "events"));
        all += n;
        recent += i >= 28 ? n : 0;
    }
    ck_assert_int_eq(all, 28 * 12 + 7 * 6);
    ck_assert_int_eq(recent, 42);
    ck_assert_double_eq_tol(dnum(json_array_get(b, 0), "users"), 4, 0.5);
    ck_assert_str_eq(dstr(d, "facts.subscription.status"), "active");
    ck_assert_int_eq((int)dnum(d, "facts.subscription.mrr"), 50000);
    ck_assert_int_eq((int)dnum(d, "facts.subscription.seats"), 10);
    ck_assert_str_eq(dstr(d, "facts.last_event"), "2026-02-08T14:00:00.000Z");
    ck_assert_double_eq_tol(dnum(d, "scores.engagement.days_since_usage"), 0,
                            1e-9);
    ck_assert(json_is_true(
        json_object_get(json_object_get(d, "metrics"), "counted_active")));
    /* half of the reference over one week is no engagement_drop yet (its
     * 14-day window is at 75 %): nothing open */
    ck_assert_uint_eq(json_array_size(json_object_get(d, "open_alerts")), 0);
    json_decref(d);
    /* two more weeks at 3 a day: the drop fires and is listed open */
    for (int day = 35; day < 49; day++) {
        et_usage_day(&t, "w", day, 3, 2);
        et_advance(&t, ET_DAYS(day + 1));
    }
    d = describe(&t, "w");
    ck_assert_ptr_nonnull(d);
    json_t *al = json_object_get(d, "open_alerts");
    json_t *fired = et_alert(&t, "engagement_drop", "firing", 0);
    ck_assert_ptr_nonnull(fired);
    ck_assert_uint_eq(json_array_size(al), 1);
    ck_assert_str_eq(dstr(json_array_get(al, 0), "rule"), "engagement_drop");
    ck_assert_str_eq(dstr(json_array_get(al, 0), "alert_id"),
                     json_string_value(json_object_get(fired, "alert_id")));
    json_decref(d);
    et_release(&t);
}
END_TEST

START_TEST(test_payment_facts_and_cooldown)
{
    struct et t;
    json_t *d;

    et_init(&t, sets);
    et_ev(&t, "subscription.created", "p", ET_DAYS(0),
          "\"plan\":\"starter\",\"mrr\":900,\"currency\":\"EUR\"");
    et_ev(&t, "payment.failed", "p", ET_DAYS(1),
          "\"decline_code\":\"insufficient_funds\"");
    et_ev(&t, "payment.failed", "p", ET_DAYS(2),
          "\"decline_code\":\"do_not_honor\"");
    et_ev(&t, "payment.card_expiring", "p", ET_DAYS(2) + ET_HOUR,
          "\"card_exp\":\"2026-12\"");
    et_advance(&t, ET_DAYS(3));
    d = describe(&t, "p");
    ck_assert_ptr_nonnull(d);
    ck_assert_str_eq(dstr(d, "segment"), "smb");
    ck_assert_ptr_null(dstr(d, "tier"));
    ck_assert_int_eq((int)dnum(d, "facts.payment.failures"), 2);
    ck_assert_str_eq(dstr(d, "facts.payment.first_failure_at"),
                     "2026-01-06T00:00:00.000Z");
    ck_assert_str_eq(dstr(d, "facts.payment.last_decline_code"),
                     "do_not_honor");
    ck_assert_str_eq(dstr(d, "facts.payment.decline_class"), "soft");
    ck_assert_str_eq(dstr(d, "facts.payment.card_exp"), "2026-12");
    ck_assert_str_eq(dstr(d, "facts.subscription.currency"), "EUR");
    /* 100 - 40 per failure */
    ck_assert_double_eq_tol(dnum(d, "scores.components.payment"), 20, 1e-9);
    json_t *al = json_object_get(d, "open_alerts");
    ck_assert_uint_eq(json_array_size(al), 1);
    ck_assert_str_eq(dstr(json_array_get(al, 0), "rule"),
                     "payment_failure_streak");
    ck_assert_str_eq(dstr(json_array_get(al, 0), "since"),
                     "2026-01-07T00:00:00.000Z");
    ck_assert_str_eq(
        dstr(json_array_get(al, 0), "alert_id"),
        json_string_value(json_object_get(
            et_alert(&t, "payment_failure_streak", "firing", 0), "alert_id")));
    json_decref(d);

    /* a success resolves it: no open alert, a cool-down of 3 days */
    et_ev(&t, "payment.succeeded", "p", ET_DAYS(3) + ET_HOUR, "");
    et_advance(&t, ET_DAYS(4));
    d = describe(&t, "p");
    ck_assert_uint_eq(json_array_size(json_object_get(d, "open_alerts")), 0);
    json_t *cd = json_object_get(d, "cooldowns");
    ck_assert_uint_eq(json_array_size(cd), 1);
    ck_assert_str_eq(dstr(json_array_get(cd, 0), "until"),
                     "2026-01-11T01:00:00.000Z");
    ck_assert_int_eq((int)dnum(d, "facts.payment.failures"), 0);
    json_decref(d);
    et_release(&t);
}
END_TEST

static const struct {
    const char *name, *feed_id, *ask_id;
    bool found;
} id_cases[] = {
    { "unknown id", "a", "b", false },
    { "prefix of a known id", "abc", "ab", false },
    { "empty id", "a", "", false },
    { "quotes and backslashes are escaped", "q\\\"x\\\\y", "q\"x\\y", true },
    { "non-ASCII id", "k\xc3\xa4se", "k\xc3\xa4se", true },
};

START_TEST(test_ids)
{
    struct et t;
    char line[256];

    et_init(&t, sets);
    snprintf(line, sizeof(line),
             "{\"event_id\":\"1\",\"type\":\"usage.login\",\"account_id\":"
             "\"%s\",\"ts\":%lld}",
             id_cases[_i].feed_id, (long long)ET_DAYS(0));
    et_line(&t, line);
    json_t *d = describe(&t, id_cases[_i].ask_id);
    ck_assert_msg((d != NULL) == id_cases[_i].found, "%s", id_cases[_i].name);
    if (d != NULL) {
        ck_assert_str_eq(dstr(d, "account_id"), id_cases[_i].ask_id);
        ck_assert_ptr_null(dstr(d, "plan"));
        ck_assert_str_eq(dstr(d, "segment"), "unknown");
        ck_assert_str_eq(dstr(d, "facts.subscription.status"), "none");
    }
    json_decref(d);
    et_release(&t);
}
END_TEST

/* Describing between events changes no output. */
START_TEST(test_describe_changes_nothing)
{
    struct et a, b;
    char *da, *db;

    et_init(&a, sets);
    et_init(&b, sets);
    for (int d = 0; d < 40; d++) {
        et_usage_day(&a, "x", d, d < 30 ? 10 : 2, 3);
        et_usage_day(&b, "x", d, d < 30 ? 10 : 2, 3);
        json_decref(describe(&b, "x"));
        json_decref(describe(&b, "nobody"));
    }
    et_finish(&a);
    et_finish(&b);
    da = et_dump(&a);
    db = et_dump(&b);
    ck_assert_msg(strcmp(da, db) == 0, "describe changed the outputs");
    ck_assert_uint_gt(strlen(da), 100);
    free(da);
    free(db);
    et_release(&a);
    et_release(&b);
}
END_TEST

static Suite *churn_describe_suite(void)
{
    Suite *s = suite_create("describe");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, test_worked_example_explained);
    tcase_add_test(tc, test_payment_facts_and_cooldown);
    tcase_add_loop_test(tc, test_ids, 0,
                        sizeof(id_cases) / sizeof(id_cases[0]));
    tcase_add_test(tc, test_describe_changes_nothing);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return churn_test_run(churn_describe_suite());
}
