/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Every default rule: fires at its threshold and not just below, fires once
 * while the condition holds, resolves when it clears (not inside the
 * hysteresis band), respects its cool-down, time rules fire from the
 * watermark alone, evidence equals the inputs, ids are stable.
 */
#include "enginetest.h"
#include "testutil.h"

#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define CREATED                                                                \
    "\"plan\":\"team\",\"mrr\":10000,\"currency\":\"USD\",\"seats\":5"

static const char *str(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);

    return json_is_string(v) ? json_string_value(v) : "";
}

static double num(json_t *o, const char *k)
{
    return json_number_value(json_object_get(o, k));
}

static json_t *evidence(json_t *alert)
{
    return json_object_get(alert, "evidence");
}

static int64_t ts_of(json_t *alert, const char *k)
{
    int64_t ms = 0;
    const char *s = str(alert, k);

    ck_assert(churn_ts_parse_rfc3339((struct churn_str){ s, strlen(s) }, &ms));
    return ms;
}

/* ---- engagement_drop ---- */

/*
 * 35 days at `base`/day, then 14 days at `low`/day, one boundary at a time
 * to day 49. ET_T0 is bucket 20458 (4 mod 7), so weeks of the fold start on
 * days 3, 10, 17, ...: at day 49 (head day 48, ring days 12..48) the weeks
 * of days 3 and 10 are folded, days 0..2 began a week before the account
 * and are not an observation, and the ring's reference runs from day 17 to
 * 34: 2 x 7 + 18 = 32 reference days, all at `base`.
 */
static void drop_story(struct et *t, int base, int low)
{
    et_ev(t, "subscription.created", "d", ET_DAYS(0), CREATED);
    for (int d = 0; d < 49; d++) {
        et_usage_day(t, "d", d, d < 35 ? base : low, 3);
        et_advance(t, ET_DAYS(d + 1));
    }
}

#define DROP_REF_DAYS 32

/* The count test at day 49 recomputed: window 14 days, reference 32. */
static double drop_z(int base, int low, double phi)
{
    double e = 14.0 * base;

    return (14.0 * low - e) / sqrt(phi * e * (1 + 14.0 / DROP_REF_DAYS));
}

static const struct {
    const char *name;
    int base, low;
    const char *sets[5];
    bool fires;
} drop_cases[] = {
    { "half of the reference fires (ratio 0.5 inclusive)",
      12,
      6,
      { "rule.engagement_drop.min_dispersion=1", NULL },
      true },
    { "just above half stays quiet",
      12,
      7,
      { "rule.engagement_drop.min_dispersion=1", "rule.engagement_drop.z=0",
        "rule.engagement_drop.usage_z=0", NULL },
      false },
    { "evidence at the threshold fires",
      12,
      6,
      { "rule.engagement_drop.min_dispersion=1",
        "rule.engagement_drop.long_window=0", "rule.engagement_drop.z=5.40",
        NULL },
      true },
    { "evidence just short of it is quiet",
      12,
      6,
      { "rule.engagement_drop.min_dispersion=1",
        "rule.engagement_drop.long_window=0", "rule.engagement_drop.z=5.41",
        NULL },
      false },
    { "usage z short of usage_z is quiet",
      12,
      6,
      { "rule.engagement_drop.min_dispersion=1",
        "rule.engagement_drop.long_window=0", "rule.engagement_drop.z=1",
        "rule.engagement_drop.usage_z=5.41", NULL },
      false },
    { "expected below min_expected is not judged",
      1,
      0,
      { "rule.engagement_drop.min_dispersion=1", "rule.engagement_drop.z=1",
        "rule.engagement_drop.min_expected=14.01", NULL },
      false },
    { "steady stays quiet", 12, 12, { NULL }, false },
};

START_TEST(test_drop_threshold)
{
    struct et t;

    ck_assert_double_eq_tol(drop_z(12, 6, 1), -5.405, 0.001);
    et_init(&t, drop_cases[_i].sets);
    drop_story(&t, drop_cases[_i].base, drop_cases[_i].low);
    ck_assert_msg(et_alerts(&t, "engagement_drop", "firing") ==
                      (drop_cases[_i].fires ? 1u : 0u),
                  "%s", drop_cases[_i].name);
    if (drop_cases[_i].fires) {
        int b = drop_cases[_i].base, l = drop_cases[_i].low;
        json_t *a = et_alert(&t, "engagement_drop", "firing", 0);
        json_t *e = evidence(a);
        /* only day 49's window is all low: before it the ratio is above 0.5 */
        ck_assert_int_eq(ts_of(a, "event_time"), ET_DAYS(49));
        ck_assert_int_eq((int)num(e, "window_days"), 14);
        ck_assert_int_eq((int)num(e, "reference_days"), DROP_REF_DAYS);
        ck_assert_int_eq((int)num(e, "reference_weeks_folded"), 2);
        ck_assert_double_eq_tol(num(e, "reference_daily_mean"), b, 1e-9);
        ck_assert_double_eq_tol(num(e, "window_events"), 14 * l, 1e-9);
        ck_assert_double_eq_tol(num(e, "expected"), 14 * b, 1e-9);
        ck_assert_double_eq_tol(num(e, "ratio"), (double)l / b, 1e-3);
        ck_assert_double_eq_tol(num(e, "dispersion"), 1, 1e-9);
        ck_assert_double_eq_tol(num(e, "z"), round(drop_z(b, l, 1) * 100) / 100,
                                1e-9);
        ck_assert_double_eq_tol(num(e, "evidence"),
                                round(-drop_z(b, l, 1) * 100) / 100, 1e-9);
        ck_assert(json_is_false(json_object_get(e, "detractor_feedback")));
        ck_assert(json_is_false(json_object_get(e, "key_feature_unused")));
        ck_assert_str_eq(str(a, "churn_kind"), "voluntary");
        ck_assert_str_eq(str(a, "severity"), "warning");
        ck_assert_ptr_nonnull(strstr(str(a, "summary"), "usage fell to 50%"));
    }
    et_release(&t);
}
END_TEST

START_TEST(test_drop_dispersion_floor)
{
    struct et t;

    /* 10 -> 5 a day is z = -2.85 with the default floor phi >= 3: short of
     * 3 alone; 40 -> 20 is -5.70 */
    ck_assert_double_eq_tol(drop_z(10, 5, 3), -2.85, 0.005);
    et_init(&t, NULL);
    drop_story(&t, 10, 5);
    ck_assert_uint_eq(et_alerts(&t, "engagement_drop", NULL), 0);
    et_release(&t);
    et_init(&t, NULL);
    drop_story(&t, 40, 20);
    json_t *a = et_alert(&t, "engagement_drop", "firing", 0);
    ck_assert_ptr_nonnull(a);
    ck_assert_double_eq_tol(num(evidence(a), "dispersion"), 3, 1e-9);
    ck_assert_double_eq_tol(num(evidence(a), "z"),
                            round(drop_z(40, 20, 3) * 100) / 100, 1e-9);
    et_release(&t);
}
END_TEST

/* A 12 -> 6 drop (z -3.12 with the default floor, short of an evidence bar
 * of 3.25 set here) with a corroborating
 * fact: a detractor response inside the window, or a key feature used
 * every reference day and never in the window. */
struct corroboration_case {
    const char *name;
    int nps_day; /* -1: none */
    int nps;
    bool key;
    const char *sets[4];
    bool fires;
};

#define EV325 "rule.engagement_drop.z=3.25"

static const struct corroboration_case corroboration_cases[] = {
    { "alone it is short", -1, 0, false, { EV325, NULL }, false },
    { "a detractor inside the window fires",
      40,
      3,
      false,
      { EV325, NULL },
      true },
    { "a promoter does not", 40, 9, false, { EV325, NULL }, false },
    { "a detractor before the window does not",
      33,
      3,
      false,
      { EV325, "rule.engagement_drop.long_window=0", NULL },
      false },
    { "a key feature abandoned fires",
      -1,
      0,
      true,
      { EV325, "rule.feature_abandonment.features=f0", NULL },
      true },
    { "feature_weight 0 ignores it",
      -1,
      0,
      true,
      { EV325, "rule.feature_abandonment.features=f0",
        "rule.engagement_drop.feature_weight=0", NULL },
      false },
};

START_TEST(test_drop_corroborated)
{
    const struct corroboration_case *c = &corroboration_cases[_i];
    struct et t;

    et_init(&t, c->sets);
    et_ev(&t, "subscription.created", "d", ET_DAYS(0), CREATED);
    for (int d = 0; d < 49; d++) {
        if (d < 35) {
            et_usage_day(&t, "d", d, 12, 3);
        } else {
            /* 6 a day, none of them on f0 */
            for (int k = 0; k < 6; k++) {
                et_ev(&t, "usage.feature_used", "d",
                      ET_DAYS(d) + 8 * ET_HOUR + k * ET_HOUR,
                      c->key ? "\"user_id\":\"u0\",\"feature\":\"f1\""
                             : "\"user_id\":\"u0\",\"feature\":\"f0\"");
            }
        }
        if (d == c->nps_day) {
            char extra[64];
            snprintf(extra, sizeof(extra), "\"user_id\":\"u0\",\"score\":%d",
                     c->nps);
            et_ev(&t, "feedback.nps", "d", ET_DAYS(d) + 12 * ET_HOUR, extra);
        }
        et_advance(&t, ET_DAYS(d + 1));
    }
    ck_assert_msg(et_alerts(&t, "engagement_drop", "firing") ==
                      (c->fires ? 1u : 0u),
                  "%s", c->name);
    if (c->fires) {
        json_t *e = evidence(et_alert(&t, "engagement_drop", "firing", 0));
        double z = num(e, "z");
        ck_assert_msg(
            json_is_true(json_object_get(e, c->key ? "key_feature_unused"
                                                   : "detractor_feedback")),
            "%s", c->name);
        ck_assert_double_eq_tol(num(e, "evidence"), -z + 1, 0.011);
        ck_assert(num(e, "evidence") >= 3.25);
        ck_assert(-z < 3.25);
    }
    et_release(&t);
}
END_TEST

START_TEST(test_drop_once_hysteresis_resolve)
{
    struct et t;
    const char *sets[] = { "rule.engagement_drop.min_dispersion=1",
                           "rule.engagement_drop.long_window=0", NULL };

    et_init(&t, sets);
    drop_story(&t, 12, 6);
    ck_assert_uint_eq(et_alerts(&t, "engagement_drop", "firing"), 1);
    /* back to 12/day from day 49: the window's ratio climbs by about 1/28 a
     * day; inside the band (below 0.75) it stays silent */
    for (int d = 49; d < 70; d++) {
        et_usage_day(&t, "d", d, 12, 3);
        et_advance(&t, ET_DAYS(d + 1));
        if (et_alerts(&t, "engagement_drop", "resolved") == 0) {
            ck_assert_msg(d + 1 < 60, "not resolved by day %d", d + 1);
        }
    }
    ck_assert_uint_eq(et_alerts(&t, "engagement_drop", "firing"), 1);
    ck_assert_uint_eq(et_alerts(&t, "engagement_drop", "resolved"), 1);
    json_t *f = et_alert(&t, "engagement_drop", "firing", 0);
    json_t *r = et_alert(&t, "engagement_drop", "resolved", 0);
    json_t *e = evidence(r);
    /* the day before the resolve was still inside the band: the window
     * then had one 12 fewer in place of a 6 */
    ck_assert(num(e, "ratio") >= 0.75);
    ck_assert(num(e, "ratio") - 6 / num(e, "expected") < 0.75);
    ck_assert(ts_of(r, "event_time") > ET_DAYS(52));
    ck_assert_str_eq(str(r, "alert_id"), str(f, "alert_id"));
    ck_assert_str_eq(str(r, "since"), str(f, "since"));
    ck_assert_str_eq(str(r, "outcome"), "cleared");
    et_release(&t);
}
END_TEST

START_TEST(test_drop_weekend_is_not_a_drop)
{
    struct et t;

    /* weekdays 20, weekends 2: a normal week never looks like a drop, and
     * a low-volume weekend inside the window is expected */
    et_init(&t, NULL);
    et_ev(&t, "subscription.created", "w", ET_DAYS(0), CREATED);
    for (int d = 0; d < 91; d++) {
        et_usage_day(&t, "w", d, d % 7 >= 5 ? 2 : 20, 3);
        et_advance(&t, ET_DAYS(d + 1));
    }
    ck_assert_uint_eq(et_alerts(&t, "engagement_drop", NULL), 0);
    et_release(&t);
}
END_TEST

/* ---- engagement_drop: the long reference ---- */

/* 60 days at 20 a day, then a fade of one event a day to 2 a day: the
 * 28-day baseline before the last week sinks with the fade, the folded
 * weeks keep where the account was. */
START_TEST(test_drop_long_reference)
{
    struct et t;

    et_init(&t, NULL);
    et_ev(&t, "subscription.created", "g", ET_DAYS(0), CREATED);
    for (int d = 0; d < 90; d++) {
        int n = d < 60 ? 20 : (d - 60 < 18 ? 19 - (d - 60) : 2);
        et_usage_day(&t, "g", d, n, 3);
        et_advance(&t, ET_DAYS(d + 1));
    }
    ck_assert_uint_eq(et_alerts(&t, "engagement_drop", "firing"), 1);
    json_t *a = et_alert(&t, "engagement_drop", "firing", 0);
    json_t *e = evidence(a);
    ck_assert(num(e, "reference_weeks_folded") >= 3);
    /* the reference still reads close to the level before the fade */
    ck_assert(num(e, "reference_daily_mean") > 15);
    ck_assert(num(e, "ratio") <= 0.5);
    ck_assert(ts_of(a, "event_time") < ET_DAYS(80));
    et_release(&t);
}
END_TEST

/* ---- inactivity: a watermark timer ---- */

START_TEST(test_inactivity_from_watermark)
{
    struct et t;

    et_init(&t, NULL);
    et_ev(&t, "subscription.created", "i", ET_DAYS(0), CREATED);
    for (int d = 0; d <= 20; d++) {
        et_usage_day(&t, "i", d, 3, 1);
    }
    /* no more events for the account; time moves by the watermark only */
    et_advance(&t, ET_DAYS(30));
    ck_assert_uint_eq(et_alerts(&t, "inactivity", NULL), 0);
    et_advance(&t, ET_DAYS(31));
    ck_assert_uint_eq(et_alerts(&t, "inactivity", "firing"), 1);
    json_t *a = et_alert(&t, "inactivity", "firing", 0);
    ck_assert_int_eq((int)num(evidence(a), "days_inactive"), 10);
    ck_assert_int_eq((int)num(evidence(a), "active_days_before"), 21);
    ck_assert_double_eq_tol(num(evidence(a), "gap_probability"), 0, 1e-12);
    ck_assert_str_eq(str(a, "churn_kind"), "passive");
    et_advance(&t, ET_DAYS(40));
    ck_assert_uint_eq(et_alerts(&t, "inactivity", "firing"), 1);
    et_usage_day(&t, "i", 40, 1, 1);
    et_advance(&t, ET_DAYS(41) + ET_HOUR);
    ck_assert_uint_eq(et_alerts(&t, "inactivity", "resolved"), 1);
    et_release(&t);
}
END_TEST

START_TEST(test_inactivity_respects_rhythm)
{
    struct et t;

    /* active one day in four: 14 quiet days have probability 0.75^14 =
     * 1.8 % for this account, far above the 0.01 % bar */
    et_init(&t, NULL);
    et_ev(&t, "subscription.created", "s", ET_DAYS(0), CREATED);
    for (int d = 0; d <= 28; d += 4) {
        et_usage_day(&t, "s", d, 3, 1);
    }
    et_advance(&t, ET_DAYS(50));
    ck_assert_uint_eq(et_alerts(&t, "inactivity", NULL), 0);
    et_release(&t);
}
END_TEST

/* ---- payment_failure_streak ---- */

static const struct {
    const char *name;
    const char *codes[3];
    int fire_at; /* 1-based failure that fires; 0: none */
} streak_cases[] = {
    /* (unresolved_after is off here; test_payment_unresolved covers it) */
    { "one soft failure is quiet", { "insufficient_funds", NULL }, 0 },
    { "second soft failure fires",
      { "insufficient_funds", "do_not_honor" },
      2 },
    { "hard decline fires at once", { "fraudulent", NULL }, 1 },
    { "stolen card fires at once", { "stolen_card", NULL }, 1 },
};

START_TEST(test_payment_streak)
{
    struct et t;
    int n = 0;
    const char *sets[] = { "rule.payment_failure_streak.unresolved_after=0",
                           NULL };

    et_init(&t, sets);
    et_ev(&t, "subscription.created", "p", ET_DAYS(0), CREATED);
    for (int k = 0; k < 3 && streak_cases[_i].codes[k]; k++) {
        char extra[96];
        snprintf(extra, sizeof(extra),
                 "\"decline_code\":\"%s\",\"amount\":"
                 "10000,\"currency\":\"USD\"",
                 streak_cases[_i].codes[k]);
        et_ev(&t, "payment.failed", "p", ET_DAYS(1 + 3 * k), extra);
        n++;
    }
    et_advance(&t, ET_DAYS(20));
    if (streak_cases[_i].fire_at == 0) {
        ck_assert_msg(et_alerts(&t, "payment_failure_streak", NULL) == 0, "%s",
                      streak_cases[_i].name);
    } else {
        json_t *a = et_alert(&t, "payment_failure_streak", "firing", 0);
        ck_assert_msg(a != NULL, "%s", streak_cases[_i].name);
        ck_assert_uint_eq(et_alerts(&t, "payment_failure_streak", "firing"), 1);
        ck_assert_int_eq(ts_of(a, "event_time"),
                         ET_DAYS(1 + 3 * (streak_cases[_i].fire_at - 1)));
        ck_assert_int_eq((int)num(evidence(a), "failures"),
                         streak_cases[_i].fire_at);
        ck_assert_str_eq(str(evidence(a), "last_decline_code"),
                         streak_cases[_i].codes[streak_cases[_i].fire_at - 1]);
        ck_assert_str_eq(str(a, "churn_kind"), "involuntary");
        ck_assert_int_eq((int)num(a, "mrr_at_risk"), 10000);
    }
    (void)n;
    et_release(&t);
}
END_TEST

START_TEST(test_payment_unresolved)
{
    struct et t;
    const char *fail = "\"decline_code\":\"insufficient_funds\"";

    /* one failure recovered the next day: quiet; one left for 3 days fires
     * at the first boundary 3 days after it */
    et_init(&t, NULL);
    et_ev(&t, "subscription.created", "u", ET_DAYS(0), CREATED);
    et_ev(&t, "payment.failed", "u", ET_DAYS(1) + 6 * ET_HOUR, fail);
    et_ev(&t, "payment.succeeded", "u", ET_DAYS(2), "");
    et_ev(&t, "payment.failed", "u", ET_DAYS(10) + 6 * ET_HOUR, fail);
    et_advance(&t, ET_DAYS(13));
    ck_assert_uint_eq(et_alerts(&t, "payment_failure_streak", NULL), 0);
    et_advance(&t, ET_DAYS(14));
    json_t *a = et_alert(&t, "payment_failure_streak", "firing", 0);
    ck_assert_ptr_nonnull(a);
    ck_assert_int_eq(ts_of(a, "event_time"), ET_DAYS(14));
    ck_assert_int_eq((int)num(evidence(a), "failures"), 1);
    ck_assert_double_eq_tol(num(evidence(a), "days_unrecovered"), 3.75, 1e-9);
    et_release(&t);
}
END_TEST

START_TEST(test_payment_recovery_and_cooldown)
{
    struct et t;
    const char *sets[] = { "rule.payment_failure_streak.cooldown=5d", NULL };
    const char *fail = "\"decline_code\":\"insufficient_funds\"";

    et_init(&t, sets);
    et_ev(&t, "subscription.created", "p", ET_DAYS(0), CREATED);
    et_ev(&t, "payment.failed", "p", ET_DAYS(1), fail);
    et_ev(&t, "payment.failed", "p", ET_DAYS(2), fail);
    et_ev(&t, "payment.recovered", "p", ET_DAYS(3), "");
    et_advance(&t, ET_DAYS(4));
    ck_assert_uint_eq(et_alerts(&t, "payment_failure_streak", "resolved"), 1);
    ck_assert_str_eq(
        str(et_alert(&t, "payment_failure_streak", "resolved", 0), "outcome"),
        "recovered");
    /* a new streak inside the 5-day cool-down stays silent ... */
    et_ev(&t, "payment.failed", "p", ET_DAYS(5), fail);
    et_ev(&t, "payment.failed", "p", ET_DAYS(6), fail);
    et_advance(&t, ET_DAYS(7));
    ck_assert_uint_eq(et_alerts(&t, "payment_failure_streak", "firing"), 1);
    /* ... and the next failure after it fires */
    et_ev(&t, "payment.failed", "p", ET_DAYS(9), fail);
    et_advance(&t, ET_DAYS(10));
    ck_assert_uint_eq(et_alerts(&t, "payment_failure_streak", "firing"), 2);
    et_release(&t);
}
END_TEST

/* ---- card_expiring ---- */

START_TEST(test_card_expiring_from_watermark)
{
    struct et t;

    et_init(&t, NULL);
    et_ev(&t, "subscription.created", "c", ET_DAYS(0), CREATED);
    /* card 2026-03 is valid through 2026-03-31: ends 2026-04-01T00:00Z;
     * 30 days before that is 2026-03-02 = ET_DAYS(56) */
    et_ev(&t, "payment.card_expiring", "c", ET_DAYS(1),
          "\"card_exp\":\"2026-03\"");
    et_advance(&t, ET_DAYS(55));
    ck_assert_uint_eq(et_alerts(&t, "card_expiring", NULL), 0);
    et_advance(&t, ET_DAYS(56));
    ck_assert_uint_eq(et_alerts(&t, "card_expiring", "firing"), 1);
    json_t *a = et_alert(&t, "card_expiring", "firing", 0);
    ck_assert_str_eq(str(evidence(a), "card_exp"), "2026-03");
    ck_assert_int_eq((int)num(evidence(a), "days_left"), 30);
    et_advance(&t, ET_DAYS(60));
    ck_assert_uint_eq(et_alerts(&t, "card_expiring", "firing"), 1);
    et_ev(&t, "payment.succeeded", "c", ET_DAYS(61),
          "\"card_exp\":\"2029-03\",\"amount\":10000,\"currency\":\"USD\"");
    et_advance(&t, ET_DAYS(62));
    ck_assert_uint_eq(et_alerts(&t, "card_expiring", "resolved"), 1);
    ck_assert_str_eq(
        str(et_alert(&t, "card_expiring", "resolved", 0), "outcome"),
        "card_updated");
    et_release(&t);
}
END_TEST

/* ---- downgrade ---- */

static const struct {
    const char *name;
    const char *extra;
    bool fires;
} downgrade_cases[] = {
    { "20 % contraction fires", "\"mrr\":8000,\"currency\":\"USD\"", true },
    { "19 % contraction is quiet", "\"mrr\":8100,\"currency\":\"USD\"", false },
    { "fewer seats fire", "\"mrr\":9900,\"currency\":\"USD\",\"seats\":4",
      true },
};

START_TEST(test_downgrade)
{
    struct et t;

    et_init(&t, NULL);
    et_ev(&t, "subscription.created", "g", ET_DAYS(0), CREATED);
    et_ev(&t, "subscription.downgraded", "g", ET_DAYS(2),
          downgrade_cases[_i].extra);
    et_advance(&t, ET_DAYS(3));
    ck_assert_msg(et_alerts(&t, "downgrade", "firing") ==
                      (downgrade_cases[_i].fires ? 1u : 0u),
                  "%s", downgrade_cases[_i].name);
    if (downgrade_cases[_i].fires) {
        json_t *e = evidence(et_alert(&t, "downgrade", "firing", 0));
        ck_assert_int_eq((int)num(e, "previous_mrr"), 10000);
    }
    et_release(&t);
}
END_TEST

/* ---- cancel_scheduled, inhibition, churned outcome ---- */

START_TEST(test_cancel_inhibits_and_churns)
{
    struct et t;

    et_init(&t, NULL);
    et_ev(&t, "subscription.created", "x", ET_DAYS(0), CREATED);
    for (int d = 0; d < 10; d++) {
        et_usage_day(&t, "x", d, 3, 1);
    }
    et_ev(&t, "payment.failed", "x", ET_DAYS(9) + 20 * ET_HOUR,
          "\"decline_code\":\"fraudulent\"");
    et_ev(&t, "subscription.cancel_scheduled", "x", ET_DAYS(10),
          "\"effective_at\":\"2026-03-01T00:00:00Z\",\"reason\":\"too_"
          "expensive\"");
    et_advance(&t, ET_DAYS(40));
    json_t *a = et_alert(&t, "cancel_scheduled", "firing", 0);
    ck_assert_ptr_nonnull(a);
    ck_assert_str_eq(str(evidence(a), "reason"), "too_expensive");
    ck_assert_str_eq(str(evidence(a), "effective_at"),
                     "2026-03-01T00:00:00.000Z");
    /* 30 idle days, but the scheduled cancellation explains them */
    ck_assert_uint_eq(et_alerts(&t, "inactivity", NULL), 0);
    ck_assert_uint_eq(et_alerts(&t, "payment_failure_streak", "firing"), 1);
    et_ev(&t, "subscription.canceled", "x", ET_DAYS(55), "");
    et_advance(&t, ET_DAYS(56));
    ck_assert_str_eq(
        str(et_alert(&t, "cancel_scheduled", "resolved", 0), "outcome"),
        "churned");
    ck_assert_str_eq(
        str(et_alert(&t, "payment_failure_streak", "resolved", 0), "outcome"),
        "churned");
    /* a closed account is no longer judged */
    size_t n = json_array_size(t.outs);
    et_advance(&t, ET_DAYS(90));
    ck_assert_uint_eq(json_array_size(t.outs), n);
    et_release(&t);
}
END_TEST

START_TEST(test_pause_silences_usage_rules)
{
    struct et t;

    et_init(&t, NULL);
    et_ev(&t, "subscription.created", "z", ET_DAYS(0), CREATED);
    for (int d = 0; d < 30; d++) {
        et_usage_day(&t, "z", d, 12, 3);
    }
    et_ev(&t, "subscription.paused", "z", ET_DAYS(30), "");
    et_advance(&t, ET_DAYS(60));
    ck_assert_uint_eq(et_alerts(&t, "engagement_drop", NULL), 0);
    ck_assert_uint_eq(et_alerts(&t, "inactivity", NULL), 0);
    /* resumed: the paused weeks are neither a drop nor idleness; idle
     * days count again from the resume */
    et_ev(&t, "subscription.resumed", "z", ET_DAYS(60) + 2 * ET_HOUR, "");
    for (int d = 60; d < 70; d++) {
        et_usage_day(&t, "z", d, 12, 3);
        et_advance(&t, ET_DAYS(d + 1));
    }
    ck_assert_uint_eq(et_alerts(&t, "engagement_drop", NULL), 0);
    ck_assert_uint_eq(et_alerts(&t, "inactivity", NULL), 0);
    et_release(&t);
}
END_TEST

/* ---- trial_low_activation ---- */

static const struct {
    const char *name;
    int advance_to;
    int per_day;
    bool fires;
} trial_cases[] = {
    { "11 days before the end: too early", 3, 0, false },
    { "10 days before the end, idle trial fires", 4, 0, true },
    { "10 days before the end, active trial is quiet", 4, 40, false },
};

START_TEST(test_trial_low_activation)
{
    struct et t;
    char extra[128];

    et_init(&t, NULL);
    snprintf(extra, sizeof(extra), "\"plan\":\"team\",\"effective_at\":%lld",
             (long long)ET_DAYS(14));
    et_ev(&t, "subscription.trial_started", "tr", ET_DAYS(0), extra);
    for (int d = 0; d < trial_cases[_i].advance_to; d++) {
        if (trial_cases[_i].per_day > 0) {
            et_usage_day(&t, "tr", d, trial_cases[_i].per_day, 3);
        }
    }
    et_advance(&t, ET_DAYS(trial_cases[_i].advance_to));
    ck_assert_msg(et_alerts(&t, "trial_low_activation", "firing") ==
                      (trial_cases[_i].fires ? 1u : 0u),
                  "%s", trial_cases[_i].name);
    et_release(&t);
}
END_TEST

START_TEST(test_trial_low_activity_vs_plan)
{
    struct et t;
    char extra[128];
    char id[16];

    /* six established `team` accounts at 20 events a day and 3 seats form
     * the cohort; a 3-seat trial doing a quarter of that fires, one doing
     * as much does not */
    et_init(&t, NULL);
    for (int a = 0; a < 6; a++) {
        snprintf(id, sizeof(id), "est%d", a);
        et_ev(&t, "subscription.created", id, ET_DAYS(0) + a,
              "\"plan\":\"team\",\"mrr\":100,\"currency\":\"USD\",\"seats\":3");
    }
    char trial[128];
    snprintf(trial, sizeof(trial),
             "\"plan\":\"team\",\"seats\":3,\"effective_at\":%lld",
             (long long)ET_DAYS(44));
    /* in event-time order: twenty slots a day, accounts interleaved */
    for (int d = 0; d < 35; d++) {
        if (d == 30) {
            et_ev(&t, "subscription.trial_started", "slow",
                  ET_DAYS(30) + ET_HOUR, trial);
            et_ev(&t, "subscription.trial_started", "keen",
                  ET_DAYS(30) + ET_HOUR, trial);
        }
        for (int k = 0; k < 20; k++) {
            int64_t ts = ET_DAYS(d) + 8 * ET_HOUR + k * 20 * ET_MIN(1);
            for (int a = 0; a < 8; a++) {
                if (a >= 6 && (d < 30 || (a == 6 && k % 4 != 0))) {
                    continue; /* trials from day 30; "slow" a quarter */
                }
                snprintf(id, sizeof(id), "est%d", a);
                snprintf(extra, sizeof(extra),
                         "\"user_id\":\"u%d\",\"feature\":\"f%d\"", k % 3,
                         k % 3);
                et_ev(&t, "usage.feature_used",
                      a == 6   ? "slow"
                      : a == 7 ? "keen"
                               : id,
                      ts + a, extra);
            }
        }
        et_advance(&t, ET_DAYS(d + 1));
    }
    json_t *a = et_alert(&t, "trial_low_activation", "firing", 0);
    ck_assert_ptr_nonnull(a);
    ck_assert_str_eq(str(a, "account_id"), "slow");
    ck_assert_int_eq(ts_of(a, "event_time"), ET_DAYS(34));
    ck_assert_double_eq_tol(num(evidence(a), "activity_vs_plan"), 0.25, 1e-3);
    ck_assert_uint_eq(et_alerts(&t, "trial_low_activation", "firing"), 1);
    et_release(&t);
}
END_TEST

START_TEST(test_trial_with_own_baseline_vs_plan)
{
    struct et t;
    char extra[128], id[16], trial[128];

    /* a 30-day trial from day 0: by the time it is judged (10 days before
     * its end) it has two weeks of its own history, which is no reason to
     * judge it against itself; it is judged against the plan's paying
     * accounts, over every day since it started */
    et_init(&t, NULL);
    snprintf(trial, sizeof(trial),
             "\"plan\":\"team\",\"seats\":3,\"effective_at\":%lld",
             (long long)(ET_DAYS(30) + ET_HOUR));
    for (int a = 0; a < 6; a++) {
        snprintf(id, sizeof(id), "est%d", a);
        et_ev(&t, "subscription.created", id, ET_DAYS(0) + a,
              "\"plan\":\"team\",\"mrr\":100,\"currency\":\"USD\",\"seats\":3");
    }
    et_ev(&t, "subscription.trial_started", "slow", ET_DAYS(0) + ET_HOUR,
          trial);
    et_ev(&t, "subscription.trial_started", "keen", ET_DAYS(0) + ET_HOUR,
          trial);
    for (int d = 0; d < 26; d++) {
        for (int k = 0; k < 20; k++) {
            int64_t ts = ET_DAYS(d) + 8 * ET_HOUR + k * 20 * ET_MIN(1);
            for (int a = 0; a < 8; a++) {
                if (a == 6 && k % 4 != 0) {
                    continue; /* "slow" does a quarter */
                }
                snprintf(id, sizeof(id), "est%d", a);
                snprintf(extra, sizeof(extra),
                         "\"user_id\":\"u%d\",\"feature\":\"f%d\"", k % 3,
                         k % 3);
                et_ev(&t, "usage.feature_used",
                      a == 6   ? "slow"
                      : a == 7 ? "keen"
                               : id,
                      ts + a, extra);
            }
        }
        et_advance(&t, ET_DAYS(d + 1));
    }
    ck_assert_uint_eq(et_alerts(&t, "trial_low_activation", "firing"), 1);
    json_t *a = et_alert(&t, "trial_low_activation", "firing", 0);
    json_t *e = evidence(a);
    int64_t at = ts_of(a, "event_time");
    ck_assert_str_eq(str(a, "account_id"), "slow");
    ck_assert(at >= ET_DAYS(21) && at <= ET_DAYS(23));
    ck_assert_double_eq_tol(num(e, "activity_vs_plan"), 0.25, 1e-3);
    ck_assert_int_eq((int)num(e, "days_observed"), (at - ET_T0) / ET_DAY);
    ck_assert_double_eq_tol(num(e, "events_observed"),
                            5.0 * (double)((at - ET_T0) / ET_DAY), 1e-9);
    ck_assert_double_eq_tol(num(e, "expected_events"),
                            20.0 * (double)((at - ET_T0) / ET_DAY), 1e-6);
    et_release(&t);
}
END_TEST

/* ---- feature_abandonment ---- */

START_TEST(test_feature_abandonment)
{
    struct et t;
    /* z 0: the unused feature alone fires (the usage bar: below) */
    const char *sets[] = { "rule.feature_abandonment.features=reports,export",
                           "rule.feature_abandonment.z=0", NULL };
    const char *dflt[] = { "rule.feature_abandonment.features=reports,export",
                           NULL };

    /* by default it needs usage evidence too: steady usage stays quiet */
    et_init(&t, dflt);
    et_ev(&t, "subscription.created", "f", ET_DAYS(0), CREATED);
    for (int d = 0; d < 50; d++) {
        et_usage_day(&t, "f", d, 10, 2);
        if (d < 21) {
            et_ev(&t, "usage.feature_used", "f", ET_DAYS(d) + 20 * ET_HOUR,
                  "\"feature\":\"reports\"");
        }
        et_advance(&t, ET_DAYS(d + 1));
    }
    ck_assert_uint_eq(et_alerts(&t, "feature_abandonment", NULL), 0);
    et_release(&t);

    et_init(&t, sets);
    et_ev(&t, "subscription.created", "f", ET_DAYS(0), CREATED);
    for (int d = 0; d < 50; d++) {
        et_usage_day(&t, "f", d, 10, 2); /* features f0..f2 */
        if (d < 21) {
            et_ev(&t, "usage.feature_used", "f", ET_DAYS(d) + 20 * ET_HOUR,
                  "\"feature\":\"reports\"");
        }
        et_advance(&t, ET_DAYS(d + 1));
        if (d + 1 < 35) {
            /* unused only since day 21: 14 idle days complete at day 35 */
            ck_assert_msg(et_alerts(&t, "feature_abandonment", NULL) == 0,
                          "early at %d", d + 1);
        }
    }
    json_t *a = et_alert(&t, "feature_abandonment", "firing", 0);
    ck_assert_ptr_nonnull(a);
    ck_assert_int_eq(ts_of(a, "event_time"), ET_DAYS(35));
    json_t *fs = json_object_get(evidence(a), "features");
    ck_assert_uint_eq(json_array_size(fs), 1);
    ck_assert_str_eq(json_string_value(json_array_get(fs, 0)), "reports");
    et_release(&t);
}
END_TEST

/* ---- detractor_feedback ---- */

/* 42 days at 10 events a day, then `recent` a day; the feedback arrives on
 * day fb_day at 20:00 and the watermark runs one day at a time to `until`.
 * A response on day 56 sees a 14-day window of 14 x recent against 140
 * expected: recent 8 is the 80 % mark (inclusive), 9 is above it. */
struct fb_story {
    const char *name;
    int recent;        /* events a day from day 42 */
    int fb_day;        /* day of the response */
    const char *type;  /* its type */
    const char *extra; /* its fields */
    const char *later; /* a second response on fb_day + 2, or NULL */
    int until;         /* watermark, in days */
    int fire_day;      /* expected firing (event time day, 0: none) */
    bool at_event;     /* fires at the response's own time */
};

static const struct fb_story detractor_cases[] = {
    { "nps 6 with usage at 80 % fires at once", 8, 56, "feedback.nps",
      "\"score\":6", NULL, 59, 56, true },
    { "nps 7 with weak usage is quiet", 5, 56, "feedback.nps", "\"score\":7",
      NULL, 60, 0, false },
    { "sentiment -0.5 with weak usage fires", 5, 56, "feedback.ticket",
      "\"sentiment\":-0.5", NULL, 59, 56, true },
    { "sentiment -0.49 is quiet", 5, 56, "feedback.ticket",
      "\"sentiment\":-0.49", NULL, 60, 0, false },
    { "nps 6 with usage at 90 % waits", 9, 56, "feedback.nps", "\"score\":6",
      NULL, 60, 0, false },
    { "nps 3 on a steady account stays quiet", 10, 56, "feedback.nps",
      "\"score\":3", NULL, 80, 0, false },
    /* usage weakens from day 42; the response on day 43 waits and fires at
     * the first boundary whose window is at most 80 %: k days at 5 in it
     * with 140 - 5k <= 112, k = 6: day 48 */
    { "weak usage later fires at a boundary", 5, 43, "feedback.nps",
      "\"score\":2", NULL, 52, -1, false },
    { "a better NPS ends the wait", 9, 56, "feedback.nps", "\"score\":2",
      "\"score\":9", 80, 0, false },
};

START_TEST(test_detractor)
{
    const struct fb_story *c = &detractor_cases[_i];
    struct et t;
    char extra[64];
    /* the activity share alone: the z bar has its own cases below */
    const char *sets[] = { "rule.detractor_feedback.z=0",
                           "rule.engagement_drop.long_window=0", NULL };

    et_init(&t, sets);
    et_ev(&t, "subscription.created", "n", ET_DAYS(0), CREATED);
    for (int d = 0; d < c->until; d++) {
        et_usage_day(&t, "n", d, d < 42 ? 10 : c->recent, 3);
        if (d == c->fb_day) {
            et_ev(&t, c->type, "n", ET_DAYS(d) + 20 * ET_HOUR, c->extra);
        }
        if (c->later && d == c->fb_day + 2) {
            snprintf(extra, sizeof(extra), "%s", c->later);
            et_ev(&t, "feedback.nps", "n", ET_DAYS(d) + 20 * ET_HOUR, extra);
        }
        et_advance(&t, ET_DAYS(d + 1));
    }
    if (c->fire_day == 0) {
        ck_assert_msg(et_alerts(&t, "detractor_feedback", "firing") == 0, "%s",
                      c->name);
        et_release(&t);
        return;
    }
    json_t *a = et_alert(&t, "detractor_feedback", "firing", 0);
    ck_assert_msg(a != NULL, "%s", c->name);
    ck_assert_msg(et_alerts(&t, "detractor_feedback", "firing") == 1, "%s",
                  c->name);
    json_t *e = evidence(a);
    if (c->at_event) {
        ck_assert_msg(ts_of(a, "event_time") ==
                          ET_DAYS(c->fire_day) + 20 * ET_HOUR,
                      "%s", c->name);
    } else {
        ck_assert_msg(ts_of(a, "event_time") == ET_DAYS(48), "%s", c->name);
    }
    ck_assert_msg(num(e, "activity_ratio") <= 0.8, "%s", c->name);
    ck_assert_double_eq_tol(num(e, "max_activity"), 0.8, 1e-9);
    ck_assert_double_eq_tol(num(e, "expected"), 140, 1e-9);
    ck_assert_int_eq((int)num(e, "window_days"), 14);
    ck_assert_int_eq(ts_of(e, "feedback_at"),
                     ET_DAYS(c->fb_day) + 20 * ET_HOUR);
    et_release(&t);
}
END_TEST

/* The z bar: 42 days at 10 events a day, then `recent` a day, an NPS of 2
 * on day 56. At day 56 the reference is 39 days (three folded weeks and
 * days 24..41 of the ring); with the dispersion floor 3 the window's count
 * test is (14 x recent - 140) / sqrt(3 x 140 x (1 + 14 / 39)): -3.52 for 4
 * a day, -1.76 for 7. */
struct fbz_case {
    const char *name;
    int recent;
    const char *z;       /* rule.detractor_feedback.z */
    const char *max_act; /* rule.detractor_feedback.max_activity */
    bool fires;
};

static const struct fbz_case detractor_z_cases[] = {
    { "count test at the bar fires", 4, "3.51", "0.4", true },
    { "count test just above the bar is quiet", 4, "3.52", "0.4", false },
    { "a weaker window is quiet at the default", 7, "2.5", "0.8", false },
    { "a steady account is quiet", 10, "2.5", "0.8", false },
};

static double fbz(int recent)
{
    return (14.0 * recent - 140) / sqrt(3 * 140 * (1 + 14.0 / 39));
}

START_TEST(test_detractor_z)
{
    const struct fbz_case *c = &detractor_z_cases[_i];
    char zs[64], ms[64];
    const char *sets[] = { zs, ms, "rule.engagement_drop.long_window=0", NULL };
    struct et t;

    ck_assert_double_eq_tol(fbz(4), -3.516, 0.001);
    snprintf(zs, sizeof(zs), "rule.detractor_feedback.z=%s", c->z);
    snprintf(ms, sizeof(ms), "rule.detractor_feedback.max_activity=%s",
             c->max_act);
    et_init(&t, sets);
    et_ev(&t, "subscription.created", "z", ET_DAYS(0), CREATED);
    for (int d = 0; d < 57; d++) {
        et_usage_day(&t, "z", d, d < 42 ? 10 : c->recent, 3);
        if (d == 56) {
            et_ev(&t, "feedback.nps", "z", ET_DAYS(d) + 20 * ET_HOUR,
                  "\"score\":2");
        }
        et_advance(&t, ET_DAYS(d + 1));
    }
    if (!c->fires) {
        ck_assert_msg(et_alerts(&t, "detractor_feedback", "firing") == 0, "%s",
                      c->name);
        et_release(&t);
        return;
    }
    ck_assert_msg(et_alerts(&t, "detractor_feedback", "firing") == 1, "%s",
                  c->name);
    json_t *a = et_alert(&t, "detractor_feedback", "firing", 0);
    json_t *e = evidence(a);
    ck_assert_msg(ts_of(a, "event_time") == ET_DAYS(56) + 20 * ET_HOUR, "%s",
                  c->name);
    ck_assert_msg(fabs(num(e, "z") - fbz(c->recent)) < 0.006, "%s: z %g",
                  c->name, num(e, "z"));
    ck_assert_msg(fabs(num(e, "threshold_z") + atof(c->z)) < 1e-9, "%s",
                  c->name);
    ck_assert_msg(fabs(num(e, "expected") - 140) < 1e-9, "%s", c->name);
    ck_assert_msg(fabs(num(e, "window_events") - 14.0 * c->recent) < 1e-9, "%s",
                  c->name);
    et_release(&t);
}
END_TEST

START_TEST(test_detractor_waits_within)
{
    struct et t;
    const char *sets[] = { "rule.detractor_feedback.within=3d",
                           "rule.detractor_feedback.z=0", NULL };

    /* the response on day 33 waits 3 days; usage only weakens from day
     * 42: too late, quiet. With max_activity 1000 it fires whatever the
     * usage, but not before there is a reference to judge by: day 45 is
     * the first boundary with 28 reference days before its window. */
    et_init(&t, sets);
    et_ev(&t, "subscription.created", "w", ET_DAYS(0), CREATED);
    for (int d = 0; d < 56; d++) {
        et_usage_day(&t, "w", d, d < 42 ? 10 : 2, 3);
        if (d == 33) {
            et_ev(&t, "feedback.nps", "w", ET_DAYS(d) + 20 * ET_HOUR,
                  "\"score\":1");
        }
        et_advance(&t, ET_DAYS(d + 1));
    }
    ck_assert_uint_eq(et_alerts(&t, "detractor_feedback", NULL), 0);
    et_release(&t);

    const char *any[] = { "rule.detractor_feedback.max_activity=1000",
                          "rule.detractor_feedback.z=0", NULL };
    et_init(&t, any);
    et_ev(&t, "subscription.created", "w", ET_DAYS(0), CREATED);
    for (int d = 0; d < 50; d++) {
        et_usage_day(&t, "w", d, 10, 3);
        if (d == 33) {
            et_ev(&t, "feedback.nps", "w", ET_DAYS(d) + 20 * ET_HOUR,
                  "\"score\":1");
        }
        et_advance(&t, ET_DAYS(d + 1));
    }
    ck_assert_uint_eq(et_alerts(&t, "detractor_feedback", "firing"), 1);
    json_t *a = et_alert(&t, "detractor_feedback", "firing", 0);
    ck_assert_int_eq(ts_of(a, "event_time"), ET_DAYS(45));
    ck_assert(
        json_is_false(json_object_get(evidence(a), "insufficient_history")));
    et_release(&t);
}
END_TEST

/* ---- chargeback: fact window and cool-down ---- */

START_TEST(test_chargeback_window_and_cooldown)
{
    struct et t;
    const char *sets[] = { "rule.chargeback.cooldown=10d", NULL };

    et_init(&t, sets);
    et_ev(&t, "subscription.created", "cb", ET_DAYS(0), CREATED);
    et_ev(&t, "payment.chargeback", "cb", ET_DAYS(1),
          "\"amount\":500,\"currency\":\"USD\"");
    et_advance(&t, ET_DAYS(2));
    ck_assert_uint_eq(et_alerts(&t, "chargeback", "firing"), 1);
    ck_assert_str_eq(str(et_alert(&t, "chargeback", "firing", 0), "severity"),
                     "critical");
    /* fired at day 1 (its event time): open for 30 days */
    et_advance(&t, ET_DAYS(30));
    ck_assert_uint_eq(et_alerts(&t, "chargeback", "resolved"), 0);
    et_advance(&t, ET_DAYS(31));
    ck_assert_uint_eq(et_alerts(&t, "chargeback", "resolved"), 1);
    /* resolved at day 31: quiet until day 41 */
    et_ev(&t, "payment.chargeback", "cb", ET_DAYS(40) + 22 * ET_HOUR, "");
    et_advance(&t, ET_DAYS(41));
    ck_assert_uint_eq(et_alerts(&t, "chargeback", "firing"), 1);
    et_ev(&t, "payment.chargeback", "cb", ET_DAYS(41) + ET_HOUR, "");
    et_advance(&t, ET_DAYS(42));
    ck_assert_uint_eq(et_alerts(&t, "chargeback", "firing"), 2);
    et_release(&t);
}
END_TEST

/* ---- health_critical ---- */

START_TEST(test_health_critical)
{
    struct et t;
    const char *sets[] = { "score.weight.engagement=0",
                           "score.weight.payment=1",
                           "score.weight.subscription=0",
                           "score.weight.feedback=0", NULL };
    const char *hard = "\"decline_code\":\"do_not_honor\"";

    et_init(&t, sets);
    et_ev(&t, "subscription.created", "h", ET_DAYS(0), CREATED);
    /* payment component: 100 - 40 per failure: 60, 20 */
    et_ev(&t, "payment.failed", "h", ET_DAYS(1), hard);
    et_advance(&t, ET_DAYS(3));
    ck_assert_uint_eq(et_alerts(&t, "health_critical", NULL), 0);
    et_ev(&t, "payment.failed", "h", ET_DAYS(3) + ET_HOUR, hard);
    et_advance(&t, ET_DAYS(5));
    json_t *a = et_alert(&t, "health_critical", "firing", 0);
    ck_assert_ptr_nonnull(a);
    ck_assert_double_eq_tol(num(evidence(a), "health"), 20, 1e-9);
    ck_assert_str_eq(str(evidence(a), "dominant"), "payment");
    ck_assert_str_eq(str(a, "churn_kind"), "involuntary");
    et_ev(&t, "payment.succeeded", "h", ET_DAYS(5) + ET_HOUR, "");
    et_advance(&t, ET_DAYS(7));
    ck_assert_uint_eq(et_alerts(&t, "health_critical", "resolved"), 1);
    et_release(&t);
}
END_TEST

/* ---- ids ---- */

static char *ids_of_run(int64_t shift)
{
    struct et t;
    char *out = calloc(1, 4096);

    et_init(&t, NULL);
    et_ev(&t, "subscription.created", "id", ET_DAYS(0) + shift, CREATED);
    et_ev(&t, "payment.chargeback", "id", ET_DAYS(1) + shift, "");
    et_ev(&t, "feedback.nps", "id", ET_DAYS(2) + shift, "\"score\":1");
    et_advance(&t, ET_DAYS(40) + shift);
    for (size_t i = 0; i < 8; i++) {
        json_t *a = et_find(&t, "alerts", NULL, NULL, i);
        if (a == NULL) {
            break;
        }
        strcat(out, str(a, "alert_id"));
        strcat(out, " ");
    }
    et_release(&t);
    return out;
}

START_TEST(test_alert_ids_stable)
{
    char *a = ids_of_run(0), *b = ids_of_run(0), *c = ids_of_run(ET_HOUR);

    ck_assert_uint_gt(strlen(a), 0);
    ck_assert_str_eq(a, b);
    /* ids hash the start time: another start, other ids */
    ck_assert_str_ne(a, c);
    free(a);
    free(b);
    free(c);
}
END_TEST

static Suite *churn_detect_suite(void)
{
    Suite *s = suite_create("detect");
    TCase *tc = tcase_create("rules");

    tcase_add_loop_test(tc, test_drop_threshold, 0,
                        sizeof(drop_cases) / sizeof(drop_cases[0]));
    tcase_add_test(tc, test_drop_dispersion_floor);
    tcase_add_test(tc, test_drop_once_hysteresis_resolve);
    tcase_add_test(tc, test_drop_weekend_is_not_a_drop);
    tcase_add_loop_test(tc, test_drop_corroborated, 0,
                        sizeof(corroboration_cases) /
                            sizeof(corroboration_cases[0]));
    tcase_add_test(tc, test_drop_long_reference);
    tcase_add_test(tc, test_inactivity_from_watermark);
    tcase_add_test(tc, test_inactivity_respects_rhythm);
    tcase_add_loop_test(tc, test_payment_streak, 0,
                        sizeof(streak_cases) / sizeof(streak_cases[0]));
    tcase_add_test(tc, test_payment_unresolved);
    tcase_add_test(tc, test_payment_recovery_and_cooldown);
    tcase_add_test(tc, test_card_expiring_from_watermark);
    tcase_add_loop_test(tc, test_downgrade, 0,
                        sizeof(downgrade_cases) / sizeof(downgrade_cases[0]));
    tcase_add_test(tc, test_cancel_inhibits_and_churns);
    tcase_add_test(tc, test_pause_silences_usage_rules);
    tcase_add_loop_test(tc, test_trial_low_activation, 0,
                        sizeof(trial_cases) / sizeof(trial_cases[0]));
    tcase_add_test(tc, test_trial_low_activity_vs_plan);
    tcase_add_test(tc, test_trial_with_own_baseline_vs_plan);
    tcase_add_test(tc, test_feature_abandonment);
    tcase_add_loop_test(tc, test_detractor, 0,
                        sizeof(detractor_cases) / sizeof(detractor_cases[0]));
    tcase_add_loop_test(tc, test_detractor_z, 0,
                        sizeof(detractor_z_cases) /
                            sizeof(detractor_z_cases[0]));
    tcase_add_test(tc, test_detractor_waits_within);
    tcase_add_test(tc, test_chargeback_window_and_cooldown);
    tcase_add_test(tc, test_health_critical);
    tcase_add_test(tc, test_alert_ids_stable);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return churn_test_run(churn_detect_suite());
}
