/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The SaaS metrics output: a scripted month against hand-computed numbers,
 * per-currency separation, when churn is recognised (metrics.churn_at),
 * the country dimension, eviction, a watermark jump, and a randomised story
 * whose every record must balance and whose output must not depend on the
 * arrival order inside the lateness.
 */
#include "engine_int.h"
#include "enginetest.h"
#include "testutil.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define P30 (30 * ET_DAY)
/* the first 30-day period (epoch-aligned) starting after ET_T0 */
#define PS       ((ET_T0 / P30 + 1) * P30)
#define AT(d, h) (PS + (int64_t)(d)*ET_DAY + (int64_t)(h)*ET_HOUR)

static const char *const catalog[] = {
    "plan.starter.segment=smb",
    "plan.team.segment=mid_market",
    "plan.business.segment=enterprise",
};

/* defaults + the catalog + extra (NULL-ended) */
static void
init(struct et *t, const char *const *extra, churn_geo_fn geo, void *geo_ctx)
{
    const char *sets[32];
    size_t n = 0;

    for (size_t i = 0; i < sizeof(catalog) / sizeof(catalog[0]); i++) {
        sets[n++] = catalog[i];
    }
    for (size_t i = 0; extra != NULL && extra[i] != NULL; i++) {
        sets[n++] = extra[i];
    }
    sets[n] = NULL;
    et_init_geo(t, sets, geo, geo_ctx);
}

static int64_t ts_of(json_t *v, const char *key)
{
    int64_t ms = 0;
    const char *s = json_string_value(json_object_get(v, key));

    ck_assert_ptr_nonnull(s);
    ck_assert(churn_ts_parse_rfc3339((struct churn_str){ s, strlen(s) }, &ms));
    return ms;
}

/* The record of slice for the period ending at end_ms, or NULL. */
static json_t *rec(const struct et *t, const char *slice, int64_t end_ms)
{
    json_t *v;

    for (size_t i = 0; (v = et_find(t, "metrics", "slice", slice, i)); i++) {
        if (ts_of(v, "period_end") == end_ms) {
            return v;
        }
    }
    return NULL;
}

static int64_t num(json_t *obj, const char *key)
{
    json_t *x = json_object_get(obj, key);

    ck_assert_msg(json_is_integer(x), "no integer '%s'", key);
    return json_integer_value(x);
}

static int64_t acc_fig(json_t *r, const char *key)
{
    return num(json_object_get(r, "accounts"), key);
}

static int64_t mrr_fig(json_t *r, const char *cur, const char *key)
{
    json_t *c = json_object_get(json_object_get(r, "mrr"), cur);

    ck_assert_msg(c != NULL, "no currency %s", cur);
    return num(c, key);
}

static double rate_of(json_t *obj, const char *key)
{
    json_t *x = json_object_get(obj, key);

    ck_assert_msg(json_is_number(x), "no number '%s'", key);
    return json_number_value(x);
}

/* Every metrics record balances: accounts and each currency's MRR, churn
 * splits add up, health bands cover the active accounts, and each slice's
 * start equals its previous end. Returns the number of records. */
static size_t check_all_balanced(const struct et *t)
{
    json_t *v;
    size_t i;
    json_t *last_end = json_object();

    for (i = 0; (v = et_find(t, "metrics", NULL, NULL, i)); i++) {
        const char *slice = json_string_value(json_object_get(v, "slice"));
        json_t *a = json_object_get(v, "accounts");
        int64_t lhs = num(a, "start") + num(a, "new") + num(a, "reactivated") +
                      num(a, "transfer_in") - num(a, "churned") -
                      num(a, "transfer_out") - num(a, "evicted");
        ck_assert_msg(lhs == num(a, "end"), "%s: accounts do not balance",
                      slice);
        ck_assert_int_eq(num(a, "churned"), num(a, "churned_voluntary") +
                                                num(a, "churned_involuntary"));
        int64_t bands = 0;
        const char *bk;
        json_t *bv;
        json_object_foreach(json_object_get(v, "health_bands"), bk, bv)
        {
            bands += json_integer_value(bv);
        }
        ck_assert_msg(bands == num(a, "end"), "%s: bands %lld != end %lld",
                      slice, (long long)bands, (long long)num(a, "end"));
        const char *cur;
        json_t *m;
        json_object_foreach(json_object_get(v, "mrr"), cur, m)
        {
            int64_t l = num(m, "start") + num(m, "new") + num(m, "expansion") +
                        num(m, "reactivation") + num(m, "transfer_in") -
                        num(m, "contraction") - num(m, "churned") -
                        num(m, "transfer_out") - num(m, "evicted");
            ck_assert_msg(l == num(m, "end"), "%s %s: MRR does not balance",
                          slice, cur);
            ck_assert_int_eq(num(m, "churned"),
                             num(m, "churned_voluntary") +
                                 num(m, "churned_involuntary"));
        }
        json_t *prev = json_object_get(last_end, slice);
        if (prev != NULL && json_integer_value(json_array_get(prev, 0)) ==
                                ts_of(v, "period_start")) {
            ck_assert_msg(json_integer_value(json_array_get(prev, 1)) ==
                              num(a, "start"),
                          "%s: start is not the previous end", slice);
        }
        json_object_set_new(last_end, slice,
                            json_pack("[II]",
                                      (json_int_t)ts_of(v, "period_end"),
                                      (json_int_t)num(a, "end")));
    }
    json_decref(last_end);
    return i;
}

/* ---- the scripted month ---- */

struct step {
    int day, hour; /* from PS; negative days: the period before */
    const char *type, *acc, *extra;
};

static const struct step month[] = {
    /* the period before: five active accounts, a6 churns */
    { -2, 1, "subscription.created", "a1",
      "\"plan\":\"team\",\"mrr\":10000,\"currency\":\"USD\"" },
    { -2, 2, "subscription.created", "a2",
      "\"plan\":\"team\",\"mrr\":20000,\"currency\":\"USD\"" },
    { -2, 3, "subscription.created", "a3",
      "\"plan\":\"starter\",\"mrr\":5000,\"currency\":\"USD\"" },
    { -2, 4, "subscription.created", "a4",
      "\"plan\":\"business\",\"mrr\":50000,\"currency\":\"USD\"" },
    { -2, 5, "subscription.created", "a5",
      "\"plan\":\"team\",\"mrr\":8000,\"currency\":\"EUR\"" },
    { -2, 6, "subscription.created", "a6",
      "\"plan\":\"starter\",\"mrr\":3000,\"currency\":\"USD\"" },
    { -1, 6, "subscription.canceled", "a6", "" },
    /* the month */
    { 2, 12, "subscription.created", "n1",
      "\"plan\":\"team\",\"mrr\":12000,\"currency\":\"USD\"" },
    { 3, 12, "subscription.upgraded", "a1",
      "\"plan\":\"business\",\"mrr\":15000,\"currency\":\"USD\"" },
    { 5, 12, "subscription.downgraded", "a2",
      "\"mrr\":14000,\"currency\":\"USD\"" },
    { 8, 12, "subscription.canceled", "a3", "\"voluntary\":true" },
    { 9, 12, "payment.failed", "a4",
      "\"decline_code\":\"insufficient_funds\"" },
    { 10, 1, "payment.failed", "a4",
      "\"decline_code\":\"insufficient_funds\"" },
    { 10, 12, "subscription.expired", "a4", "" },
    { 12, 12, "subscription.reactivated", "a6",
      "\"plan\":\"starter\",\"mrr\":3000,\"currency\":\"USD\"" },
    { 15, 12, "subscription.upgraded", "a5",
      "\"mrr\":10000,\"currency\":\"EUR\"" },
    { 20, 12, "subscription.trial_started", "t1", "\"plan\":\"team\"" },
    { 22, 12, "subscription.paused", "a2", "" },
};

static void run_month(struct et *t)
{
    for (size_t i = 0; i < sizeof(month) / sizeof(month[0]); i++) {
        et_ev(t, month[i].type, month[i].acc, AT(month[i].day, month[i].hour),
              month[i].extra);
    }
    et_advance(t, PS + P30);
}

START_TEST(test_scripted_month)
{
    struct et t;
    json_t *r;

    init(&t, (const char *const[]){ "metrics.period=30d", NULL }, NULL, NULL);
    run_month(&t);
    check_all_balanced(&t);

    /* the period before closes when the month's first event moves the
     * watermark past PS: five active, a6 new and churned */
    r = rec(&t, "overall", PS);
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(acc_fig(r, "new"), 6);
    ck_assert_int_eq(acc_fig(r, "churned"), 1);
    ck_assert_int_eq(acc_fig(r, "end"), 5);

    r = rec(&t, "overall", PS + P30);
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(ts_of(r, "period_start"), PS);
    ck_assert_int_eq(ts_of(r, "event_time"), PS + P30);
    /* accounts: 5 + 1 new (n1) + 1 reactivated (a6) - 2 churned = 5 */
    ck_assert_int_eq(acc_fig(r, "start"), 5);
    ck_assert_int_eq(acc_fig(r, "new"), 1);
    ck_assert_int_eq(acc_fig(r, "reactivated"), 1);
    ck_assert_int_eq(acc_fig(r, "churned"), 2);
    ck_assert_int_eq(acc_fig(r, "churned_voluntary"), 1);   /* a3 */
    ck_assert_int_eq(acc_fig(r, "churned_involuntary"), 1); /* a4, failed */
    ck_assert_int_eq(acc_fig(r, "end"), 5);
    ck_assert_int_eq(acc_fig(r, "paused"), 1);   /* a2 */
    ck_assert_int_eq(acc_fig(r, "trialing"), 1); /* t1 */
    ck_assert_double_eq_tol(rate_of(r, "customer_churn_rate"), 0.4, 1e-9);
    /* USD: 85000 + 12000 new + 5000 expansion + 3000 reactivation
     *      - 6000 contraction - 55000 churned = 44000 */
    ck_assert_int_eq(mrr_fig(r, "USD", "start"), 85000);
    ck_assert_int_eq(mrr_fig(r, "USD", "new"), 12000);
    ck_assert_int_eq(mrr_fig(r, "USD", "expansion"), 5000);
    ck_assert_int_eq(mrr_fig(r, "USD", "reactivation"), 3000);
    ck_assert_int_eq(mrr_fig(r, "USD", "contraction"), 6000);
    ck_assert_int_eq(mrr_fig(r, "USD", "churned"), 55000);
    ck_assert_int_eq(mrr_fig(r, "USD", "churned_voluntary"), 5000);
    ck_assert_int_eq(mrr_fig(r, "USD", "churned_involuntary"), 50000);
    ck_assert_int_eq(mrr_fig(r, "USD", "transfer_in"), 0);
    ck_assert_int_eq(mrr_fig(r, "USD", "transfer_out"), 0);
    ck_assert_int_eq(mrr_fig(r, "USD", "end"), 44000);
    ck_assert_int_eq(mrr_fig(r, "USD", "paused"), 14000);
    json_t *usd = json_object_get(json_object_get(r, "mrr"), "USD");
    /* (55000 + 6000) / 85000 and (55000 + 6000 - 5000 - 3000) / 85000 */
    ck_assert_double_eq_tol(rate_of(usd, "gross_mrr_churn_rate"),
                            61000.0 / 85000, 1e-6);
    ck_assert_double_eq_tol(rate_of(usd, "net_mrr_churn_rate"), 53000.0 / 85000,
                            1e-6);
    /* EUR never mixes with USD: 8000 + 2000 expansion; net churn -0.25 */
    ck_assert_int_eq(mrr_fig(r, "EUR", "start"), 8000);
    ck_assert_int_eq(mrr_fig(r, "EUR", "expansion"), 2000);
    ck_assert_int_eq(mrr_fig(r, "EUR", "end"), 10000);
    json_t *eur = json_object_get(json_object_get(r, "mrr"), "EUR");
    ck_assert_double_eq_tol(rate_of(eur, "gross_mrr_churn_rate"), 0, 1e-9);
    ck_assert_double_eq_tol(rate_of(eur, "net_mrr_churn_rate"), -0.25, 1e-9);

    /* plan:team: a1 leaves for business at its old 10000 */
    r = rec(&t, "plan:team", PS + P30);
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(acc_fig(r, "start"), 3);
    ck_assert_int_eq(acc_fig(r, "new"), 1);
    ck_assert_int_eq(acc_fig(r, "transfer_out"), 1);
    ck_assert_int_eq(acc_fig(r, "end"), 3);
    ck_assert_int_eq(acc_fig(r, "trialing"), 1);
    ck_assert_int_eq(mrr_fig(r, "USD", "start"), 30000);
    ck_assert_int_eq(mrr_fig(r, "USD", "transfer_out"), 10000);
    ck_assert_int_eq(mrr_fig(r, "USD", "contraction"), 6000);
    ck_assert_int_eq(mrr_fig(r, "USD", "end"), 26000);
    ck_assert_int_eq(mrr_fig(r, "EUR", "end"), 10000);
    /* plan:business: a1 arrives at 10000 and expands by 5000; a4 churns */
    r = rec(&t, "plan:business", PS + P30);
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(acc_fig(r, "transfer_in"), 1);
    ck_assert_int_eq(acc_fig(r, "churned_involuntary"), 1);
    ck_assert_int_eq(mrr_fig(r, "USD", "transfer_in"), 10000);
    ck_assert_int_eq(mrr_fig(r, "USD", "expansion"), 5000);
    ck_assert_int_eq(mrr_fig(r, "USD", "churned"), 50000);
    ck_assert_int_eq(mrr_fig(r, "USD", "end"), 15000);
    /* plan:starter: a3 churns, a6 comes back */
    r = rec(&t, "plan:starter", PS + P30);
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(acc_fig(r, "start"), 1);
    ck_assert_int_eq(acc_fig(r, "reactivated"), 1);
    ck_assert_int_eq(acc_fig(r, "churned_voluntary"), 1);
    ck_assert_int_eq(mrr_fig(r, "USD", "reactivation"), 3000);
    ck_assert_int_eq(mrr_fig(r, "USD", "end"), 3000);
    /* segments follow the catalog */
    r = rec(&t, "segment:enterprise", PS + P30);
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(mrr_fig(r, "USD", "end"), 15000);
    r = rec(&t, "segment:mid_market", PS + P30);
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(mrr_fig(r, "USD", "end"), 26000);
    ck_assert_ptr_null(rec(&t, "segment:unknown", PS + P30));
    /* no geo: every account is in country:none */
    r = rec(&t, "country:none", PS + P30);
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(acc_fig(r, "end"), 5);
    ck_assert_str_eq(json_string_value(json_object_get(r, "dimension")),
                     "country");
    ck_assert(json_is_null(json_object_get(r, "value")));
    et_release(&t);
}
END_TEST

/* Records come out per period in a fixed order: overall, plans, countries,
 * segments, each by name; the key is the slice. */
START_TEST(test_record_order_and_key)
{
    struct et t;
    const char *want[] = { "overall",
                           "plan:business",
                           "plan:starter",
                           "plan:team",
                           "country:none",
                           "segment:enterprise",
                           "segment:mid_market",
                           "segment:smb" };
    size_t n = 0, i;
    json_t *o;

    init(&t, (const char *const[]){ "metrics.period=30d", NULL }, NULL, NULL);
    run_month(&t);
    json_array_foreach(t.outs, i, o)
    {
        json_t *v = json_object_get(o, "value");
        if (strcmp(json_string_value(json_object_get(o, "topic")), "metrics") !=
                0 ||
            ts_of(v, "period_end") != PS + P30) {
            continue;
        }
        ck_assert_uint_lt(n, sizeof(want) / sizeof(want[0]));
        ck_assert_str_eq(json_string_value(json_object_get(v, "slice")),
                         want[n]);
        ck_assert_str_eq(json_string_value(json_object_get(o, "key")), want[n]);
        n++;
    }
    ck_assert_uint_eq(n, sizeof(want) / sizeof(want[0]));
    et_release(&t);
}
END_TEST

/* ---- metrics.churn_at ---- */

static const struct {
    const char *name;
    const char *churn_at;
    int64_t effective; /* effective_at of the schedule */
    int64_t canceled;  /* a canceled event, 0 = none */
    int64_t reactivated;
    bool involuntary;
    int64_t churned[2], reactivated_cnt[2]; /* in the month, the next */
} churn_at_cases[] = {
    { "scheduled: counted when scheduled",
      "scheduled",
      AT(40, 0),
      0,
      0,
      false,
      { 1, 0 },
      { 0, 0 } },
    { "effective: counted at the scheduled end, no event needed",
      "effective",
      AT(40, 0),
      0,
      0,
      false,
      { 0, 1 },
      { 0, 0 } },
    { "cancel: counted at the canceled event",
      "cancel",
      AT(40, 0),
      AT(45, 0),
      0,
      false,
      { 0, 1 },
      { 0, 0 } },
    { "cancel: no canceled event, no churn",
      "cancel",
      AT(40, 0),
      0,
      0,
      false,
      { 0, 0 },
      { 0, 0 } },
    { "effective: an end on the period end belongs to the next",
      "effective",
      PS + P30,
      0,
      0,
      false,
      { 0, 1 },
      { 0, 0 } },
    { "effective: reactivated before the end never churned",
      "effective",
      AT(40, 0),
      0,
      AT(20, 0),
      false,
      { 0, 0 },
      { 0, 0 } },
    { "scheduled: reactivated before the end churned and came back",
      "scheduled",
      AT(40, 0),
      0,
      AT(20, 0),
      false,
      { 1, 0 },
      { 1, 0 } },
    { "effective: reactivated after the end",
      "effective",
      AT(40, 0),
      0,
      AT(50, 0),
      false,
      { 0, 1 },
      { 0, 1 } },
    { "effective: canceled early counts at the cancel",
      "effective",
      AT(40, 0),
      AT(10, 0),
      0,
      false,
      { 1, 0 },
      { 0, 0 } },
    { "scheduled: involuntary schedule",
      "scheduled",
      AT(40, 0),
      0,
      0,
      true,
      { 1, 0 },
      { 0, 0 } },
};

START_TEST(test_churn_at)
{
    struct et t;
    char set[64], extra[160], ts[CHURN_TS_BUF_LEN];

    snprintf(set, sizeof(set), "metrics.churn_at=%s",
             churn_at_cases[_i].churn_at);
    init(&t, (const char *const[]){ "metrics.period=30d", set, NULL }, NULL,
         NULL);
    et_ev(&t, "subscription.created", "a", AT(-2, 0),
          "\"plan\":\"team\",\"mrr\":1000,\"currency\":\"USD\"");
    et_ev(&t, "subscription.created", "keep", AT(-2, 0),
          "\"plan\":\"team\",\"mrr\":7,\"currency\":\"USD\"");
    snprintf(extra, sizeof(extra), "\"effective_at\":\"%s\"%s",
             churn_ts_format(churn_at_cases[_i].effective, ts),
             churn_at_cases[_i].involuntary ? ",\"voluntary\":false" : "");
    et_ev(&t, "subscription.cancel_scheduled", "a", AT(5, 0), extra);
    /* the other account's events keep the watermark moving */
    for (int d = 6; d < 60; d++) {
        et_ev(&t, "usage.login", "keep", AT(d, 0), "");
        if (AT(d, 0) == churn_at_cases[_i].canceled ||
            (churn_at_cases[_i].canceled > AT(d, 0) &&
             churn_at_cases[_i].canceled < AT(d + 1, 0))) {
            et_ev(&t, "subscription.canceled", "a", churn_at_cases[_i].canceled,
                  "");
        }
        if (churn_at_cases[_i].reactivated >= AT(d, 0) &&
            churn_at_cases[_i].reactivated < AT(d + 1, 0)) {
            et_ev(&t, "subscription.reactivated", "a",
                  churn_at_cases[_i].reactivated, "");
        }
    }
    et_advance(&t, PS + 2 * P30);
    check_all_balanced(&t);
    for (int p = 0; p < 2; p++) {
        json_t *r = rec(&t, "overall", PS + (p + 1) * P30);
        ck_assert_msg(r != NULL, "%s: no record", churn_at_cases[_i].name);
        ck_assert_msg(acc_fig(r, "churned") == churn_at_cases[_i].churned[p],
                      "%s: period %d churned %lld", churn_at_cases[_i].name, p,
                      (long long)acc_fig(r, "churned"));
        ck_assert_msg(acc_fig(r, "reactivated") ==
                          churn_at_cases[_i].reactivated_cnt[p],
                      "%s: period %d reactivated %lld", churn_at_cases[_i].name,
                      p, (long long)acc_fig(r, "reactivated"));
        ck_assert_msg(acc_fig(r, "churned_involuntary") ==
                          (churn_at_cases[_i].involuntary
                               ? churn_at_cases[_i].churned[p]
                               : 0),
                      "%s: period %d involuntary", churn_at_cases[_i].name, p);
        ck_assert_msg(mrr_fig(r, "USD", "churned") ==
                          1000 * churn_at_cases[_i].churned[p],
                      "%s: period %d churned MRR", churn_at_cases[_i].name, p);
        ck_assert_str_eq(json_string_value(json_object_get(r, "churn_at")),
                         churn_at_cases[_i].churn_at);
    }
    et_release(&t);
}
END_TEST

/* ---- currencies ---- */

START_TEST(test_currency_switch_moves_between_ledgers)
{
    struct et t;
    json_t *r;

    init(&t, (const char *const[]){ "metrics.period=30d", NULL }, NULL, NULL);
    et_ev(&t, "subscription.created", "u", AT(-2, 0),
          "\"plan\":\"team\",\"mrr\":1000,\"currency\":\"USD\"");
    et_ev(&t, "subscription.created", "e", AT(-2, 0),
          "\"plan\":\"team\",\"mrr\":2000,\"currency\":\"EUR\"");
    et_ev(&t, "subscription.created", "g", AT(-2, 0),
          "\"plan\":\"starter\",\"mrr\":300,\"currency\":\"GBP\"");
    /* u moves to EUR (same plan); g moves to EUR and to another plan */
    et_ev(&t, "subscription.upgraded", "u", AT(3, 0),
          "\"mrr\":900,\"currency\":\"EUR\"");
    et_ev(&t, "subscription.upgraded", "g", AT(4, 0),
          "\"plan\":\"team\",\"mrr\":400,\"currency\":\"EUR\"");
    et_advance(&t, PS + P30);
    check_all_balanced(&t);
    r = rec(&t, "overall", PS + P30);
    ck_assert_ptr_nonnull(r);
    /* no account moved in or out of the overall slice */
    ck_assert_int_eq(acc_fig(r, "transfer_in"), 0);
    ck_assert_int_eq(acc_fig(r, "transfer_out"), 0);
    ck_assert_int_eq(mrr_fig(r, "USD", "transfer_out"), 1000);
    ck_assert_int_eq(mrr_fig(r, "USD", "end"), 0);
    ck_assert_int_eq(mrr_fig(r, "GBP", "transfer_out"), 300);
    ck_assert_int_eq(mrr_fig(r, "EUR", "transfer_in"), 1300);
    ck_assert_int_eq(mrr_fig(r, "EUR", "expansion"), 0);
    ck_assert_int_eq(mrr_fig(r, "EUR", "end"), 3300);
    /* g joins plan:team in EUR at its new MRR */
    r = rec(&t, "plan:team", PS + P30);
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(acc_fig(r, "transfer_in"), 1);
    ck_assert_int_eq(mrr_fig(r, "EUR", "transfer_in"), 1300);
    ck_assert_int_eq(mrr_fig(r, "EUR", "end"), 3300);
    r = rec(&t, "plan:starter", PS + P30);
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(acc_fig(r, "transfer_out"), 1);
    ck_assert_int_eq(mrr_fig(r, "GBP", "transfer_out"), 300);
    ck_assert_int_eq(acc_fig(r, "end"), 0);
    et_release(&t);
}
END_TEST

/* ---- country ---- */

static bool table_geo(void *ctx, struct churn_str ip, struct churn_geo *out)
{
    static const struct {
        const char *ip, *cc;
    } tab[] = {
        { "192.0.2.1", "DE" },
        { "198.51.100.7", "FR" },
        { "203.0.113.9", "US" },
        { "2001:db8::1", "JP" },
    };

    (void)ctx;
    for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {
        if (churn_str_eq_cstr(ip, tab[i].ip)) {
            memset(out, 0, sizeof(*out));
            memcpy(out->country, tab[i].cc, 2);
            return true;
        }
    }
    return false;
}

START_TEST(test_country_at_period_end)
{
    struct et t;
    json_t *r;
    const char *de = "\"ip\":\"192.0.2.1\"", *fr = "\"ip\":\"198.51.100.7\"";

    init(&t, (const char *const[]){ "metrics.period=30d", NULL }, table_geo,
         NULL);
    et_ev(&t, "subscription.created", "m", AT(-2, 0),
          "\"plan\":\"team\",\"mrr\":1000,\"currency\":\"USD\"");
    et_ev(&t, "usage.login", "m", AT(-2, 1), de);
    /* m moves to FR during the month: one transfer at the month's end;
     * n is new in the month, seen in DE then FR: it joins FR at the end */
    et_ev(&t, "usage.login", "n", AT(3, 0), de);
    et_ev(&t, "subscription.created", "n", AT(4, 0),
          "\"plan\":\"team\",\"mrr\":700,\"currency\":\"USD\"");
    et_ev(&t, "usage.login", "m", AT(10, 0), fr);
    et_ev(&t, "subscription.upgraded", "m", AT(12, 0),
          "\"mrr\":1500,\"currency\":\"USD\"");
    et_ev(&t, "usage.login", "n", AT(20, 0), fr);
    /* an IP seen after the month's end (inside the lateness, before the
     * close) does not count for the month */
    et_ev(&t, "usage.login", "m", PS + P30 + 10 * ET_MIN(1), de);
    et_advance(&t, PS + P30);
    check_all_balanced(&t);

    r = rec(&t, "country:DE", PS);
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(acc_fig(r, "new"), 1);
    ck_assert_int_eq(mrr_fig(r, "USD", "end"), 1000);

    r = rec(&t, "country:DE", PS + P30);
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(acc_fig(r, "start"), 1);
    /* the upgrade happened while m was still counted in DE */
    ck_assert_int_eq(mrr_fig(r, "USD", "expansion"), 500);
    ck_assert_int_eq(acc_fig(r, "transfer_out"), 1);
    ck_assert_int_eq(mrr_fig(r, "USD", "transfer_out"), 1500);
    ck_assert_int_eq(acc_fig(r, "end"), 0);

    r = rec(&t, "country:FR", PS + P30);
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(acc_fig(r, "transfer_in"), 1);
    ck_assert_int_eq(acc_fig(r, "new"), 1);
    ck_assert_int_eq(mrr_fig(r, "USD", "new"), 700);
    ck_assert_int_eq(mrr_fig(r, "USD", "transfer_in"), 1500);
    ck_assert_int_eq(acc_fig(r, "end"), 2);
    ck_assert_str_eq(json_string_value(json_object_get(r, "value")), "FR");

    /* the next month: m is back in DE by its last IP */
    et_ev(&t, "usage.login", "n", PS + 2 * P30 + ET_HOUR, "");
    r = rec(&t, "country:DE", PS + 2 * P30);
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(acc_fig(r, "transfer_in"), 1);
    ck_assert_int_eq(acc_fig(r, "end"), 1);
    et_release(&t);
}
END_TEST

/* ---- eviction and watermark jumps ---- */

START_TEST(test_eviction_leaves_the_ledger)
{
    struct et t;
    struct churn_engine_stats st;
    json_t *r;

    init(&t,
         (const char *const[]){ "metrics.period=30d", "state.max_accounts=2",
                                NULL },
         NULL, NULL);
    et_ev(&t, "subscription.created", "a", AT(-2, 0),
          "\"plan\":\"team\",\"mrr\":1000,\"currency\":\"USD\"");
    et_ev(&t, "payment.chargeback", "a", AT(-2, 1), "");
    et_ev(&t, "subscription.created", "b", AT(-2, 2),
          "\"plan\":\"team\",\"mrr\":2000,\"currency\":\"USD\"");
    /* in the month, b and c are busy; the idlest (a) is evicted for c */
    et_ev(&t, "usage.login", "b", AT(1, 0), "");
    et_ev(&t, "subscription.created", "c", AT(2, 0),
          "\"plan\":\"starter\",\"mrr\":500,\"currency\":\"USD\"");
    et_advance(&t, PS + P30);
    check_all_balanced(&t);
    r = rec(&t, "overall", PS + P30);
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(acc_fig(r, "evicted"), 1);
    ck_assert_int_eq(mrr_fig(r, "USD", "evicted"), 1000);
    ck_assert_int_eq(acc_fig(r, "churned"), 0);
    ck_assert_int_eq(mrr_fig(r, "USD", "end"), 2500);
    churn_engine_get_stats(t.eng, &st);
    ck_assert_uint_eq(st.evicted_full, 1);
    /* a's chargeback alert fired and was never resolved, but its account
     * is gone: it no longer counts as open */
    ck_assert_uint_eq(st.alerts_by_rule[CHURN_RULE_CHARGEBACK], 1);
    ck_assert_uint_eq(st.alerts_resolved_by_rule[CHURN_RULE_CHARGEBACK], 0);
    ck_assert_uint_eq(st.alerts_open_by_rule[CHURN_RULE_CHARGEBACK], 0);
    et_release(&t);
}
END_TEST

START_TEST(test_idle_eviction_leaves_the_ledger)
{
    struct et t;
    json_t *r;

    init(&t,
         (const char *const[]){ "metrics.period=1d", "state.idle_evict=1d",
                                NULL },
         NULL, NULL);
    et_ev(&t, "subscription.created", "a", ET_DAYS(0) + ET_HOUR,
          "\"plan\":\"team\",\"mrr\":1000,\"currency\":\"USD\"");
    et_ev(&t, "subscription.created", "b", ET_DAYS(0) + ET_HOUR,
          "\"plan\":\"team\",\"mrr\":300,\"currency\":\"USD\"");
    for (int d = 1; d < 4; d++) {
        et_ev(&t, "usage.login", "b", ET_DAYS(d) + 2 * ET_HOUR, "");
    }
    et_advance(&t, ET_DAYS(4));
    check_all_balanced(&t);
    /* a is idle for more than a day at the day-2 boundary */
    r = rec(&t, "overall", ET_DAYS(2));
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(acc_fig(r, "evicted"), 1);
    ck_assert_int_eq(mrr_fig(r, "USD", "evicted"), 1000);
    ck_assert_int_eq(acc_fig(r, "end"), 1);
    r = rec(&t, "plan:team", ET_DAYS(2));
    ck_assert_int_eq(acc_fig(r, "evicted"), 1);
    et_release(&t);
}
END_TEST

START_TEST(test_watermark_jump_is_one_record)
{
    struct et t;
    json_t *r;
    size_t n = 0;

    /* (no idle eviction: the account must survive the jump; no jump
     * bound: this jump is the point) */
    init(&t,
         (const char *const[]){ "metrics.period=1d", "state.idle_evict=0",
                                "input.max_jump=0", NULL },
         NULL, NULL);
    et_ev(&t, "subscription.created", "a", ET_DAYS(0) + ET_HOUR,
          "\"plan\":\"team\",\"mrr\":1000,\"currency\":\"USD\"");
    et_ev(&t, "usage.login", "a", ET_DAYS(5000) + 2 * ET_HOUR, "");
    check_all_balanced(&t);
    while (et_find(&t, "metrics", "slice", "overall", n) != NULL) {
        n++;
    }
    /* day 0, then days 1..4999 as one record (more than 1000 periods) */
    ck_assert_uint_eq(n, 2);
    r = et_find(&t, "metrics", "slice", "overall", 1);
    ck_assert_int_eq(ts_of(r, "period_start"), ET_DAYS(1));
    ck_assert_int_eq(ts_of(r, "period_end"), ET_DAYS(5000));
    ck_assert_int_eq(acc_fig(r, "start"), 1);
    ck_assert_int_eq(acc_fig(r, "end"), 1);
    /* and the periods after it are one day again */
    et_advance(&t, ET_DAYS(5001));
    r = et_find(&t, "metrics", "slice", "overall", 2);
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(ts_of(r, "period_start"), ET_DAYS(5000));
    ck_assert_int_eq(ts_of(r, "period_end"), ET_DAYS(5001));
    et_release(&t);
}
END_TEST

/* Health bands count the active accounts by their band at the last
 * boundary (white-box: compared with the accounts' state). */
START_TEST(test_bands_from_last_boundary)
{
    struct et t;
    int64_t want[5] = { 0 };
    const char *names[5] = { "healthy", "watch", "at_risk", "critical",
                             "unscored" };

    init(&t, (const char *const[]){ "metrics.period=12h", NULL }, NULL, NULL);
    et_ev(&t, "subscription.created", "busy", ET_DAYS(0),
          "\"plan\":\"team\",\"mrr\":1000,\"currency\":\"USD\"");
    et_ev(&t, "subscription.created", "idle", ET_DAYS(0),
          "\"plan\":\"team\",\"mrr\":1000,\"currency\":\"USD\"");
    et_ev(&t, "subscription.created", "sad", ET_DAYS(0),
          "\"plan\":\"team\",\"mrr\":1000,\"currency\":\"USD\"");
    for (int d = 0; d < 20; d++) {
        et_usage_day(&t, "busy", d, 10, 3);
        if (d == 10) {
            et_ev(&t, "payment.failed", "sad", ET_DAYS(d) + ET_HOUR,
                  "\"decline_code\":\"fraudulent\"");
            et_ev(&t, "feedback.nps", "sad", ET_DAYS(d) + ET_HOUR,
                  "\"score\":0");
        }
    }
    /* created after the day's boundary: not scored at mid-day */
    et_ev(&t, "subscription.created", "newbie", ET_DAYS(20) + 2 * ET_HOUR,
          "\"plan\":\"team\",\"mrr\":1000,\"currency\":\"USD\"");
    et_advance(&t, ET_DAYS(20) + 12 * ET_HOUR);
    const char *ids[] = { "busy", "idle", "sad", "newbie" };
    for (size_t i = 0; i < 4; i++) {
        struct churn__account *acc = churn__table_find(
            t.eng->accounts, (struct churn_str){ ids[i], strlen(ids[i]) },
            churn__hash(ids[i], strlen(ids[i])));
        ck_assert_ptr_nonnull(acc);
        want[acc->band < 5 ? acc->band : 4]++;
    }
    ck_assert_int_eq(want[4], 1); /* newbie */
    json_t *r = rec(&t, "overall", ET_DAYS(20) + 12 * ET_HOUR);
    ck_assert_ptr_nonnull(r);
    for (int b = 0; b < 5; b++) {
        ck_assert_msg(num(json_object_get(r, "health_bands"), names[b]) ==
                          want[b],
                      "band %s", names[b]);
    }
    et_release(&t);
}
END_TEST

/* ---- a randomised story ---- */

struct line {
    char *text;
    int64_t ts, arrival;
};

static int line_cmp(const void *a, const void *b)
{
    const struct line *x = a, *y = b;

    if (x->arrival != y->arrival) {
        return x->arrival < y->arrival ? -1 : 1;
    }
    return x->ts < y->ts ? -1 : x->ts > y->ts;
}

static unsigned rnd(unsigned *s)
{
    *s = *s * 1103515245u + 12345u;
    return (*s >> 8) & 0xffffff;
}

/* Random subscription lives over 120 days: plan, currency and country
 * changes, pauses, schedules, cancels, expiries, reactivations, trials,
 * with more accounts than state.max_accounts. */
static struct line *random_story(unsigned seed, size_t *n)
{
    static const char *const types[] = {
        "subscription.created",
        "subscription.upgraded",
        "subscription.downgraded",
        "subscription.paused",
        "subscription.resumed",
        "subscription.cancel_scheduled",
        "subscription.canceled",
        "subscription.expired",
        "subscription.reactivated",
        "subscription.trial_started",
        "subscription.trial_converted",
        "payment.failed",
        "usage.login",
        "usage.login",
    };
    static const char *const plans[] = { "starter", "team", "business",
                                         "legacy" };
    static const char *const curs[] = { "USD", "EUR" };
    static const char *const ips[] = { "192.0.2.1", "198.51.100.7",
                                       "203.0.113.9", "2001:db8::1",
                                       "10.0.0.1" };
    size_t cap = 8192, cnt = 0;
    struct line *v = malloc(cap * sizeof(*v));
    char buf[512], ts[CHURN_TS_BUF_LEN];

    for (int i = 0; i < 6000; i++) {
        int64_t t = ET_T0 + (int64_t)i * 29 * ET_MIN(1);
        unsigned a = rnd(&seed) % 60;
        const char *ty = types[rnd(&seed) % (sizeof(types) / sizeof(types[0]))];
        int len =
            snprintf(buf, sizeof(buf),
                     "{\"event_id\":\"r%d\",\"type\":\"%s\","
                     "\"account_id\":\"acct%u\",\"ts\":%lld,\"ip\":\"%s\"",
                     i, ty, a, (long long)t,
                     ips[rnd(&seed) % (sizeof(ips) / sizeof(ips[0]))]);
        if (strncmp(ty, "subscription.", 13) == 0 &&
            strcmp(ty, "subscription.cancel_scheduled") != 0) {
            len += snprintf(buf + len, sizeof(buf) - (size_t)len,
                            ",\"plan\":\"%s\",\"mrr\":%u,\"currency\":\"%s\"",
                            plans[rnd(&seed) % 4], 100 * (rnd(&seed) % 20),
                            curs[rnd(&seed) % 7 == 0]);
        }
        if (strcmp(ty, "subscription.cancel_scheduled") == 0) {
            len += snprintf(
                buf + len, sizeof(buf) - (size_t)len,
                ",\"effective_at\":\"%s\",\"voluntary\":%s",
                churn_ts_format(t + (int64_t)(rnd(&seed) % 20) * ET_DAY, ts),
                rnd(&seed) % 3 ? "true" : "false");
        }
        snprintf(buf + len, sizeof(buf) - (size_t)len, "}");
        if (cnt == cap) {
            cap *= 2;
            v = realloc(v, cap * sizeof(*v));
        }
        v[cnt].ts = t;
        v[cnt].arrival = t;
        v[cnt++].text = strdup(buf);
    }
    *n = cnt;
    return v;
}

/* Alerts take the account's newest-arrived country, which is not yet
 * arrival-order free (the engine's apply_geo); the rest of them must be. */
static void drop_geo(json_t *o)
{
    json_t *v = json_object_get(o, "value");

    json_object_del(v, "country");
    json_object_del(v, "region");
    char *text = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
    json_object_set_new(o, "text", json_string(text));
    free(text);
}

static char *run_story(
    struct line *v, size_t n, const char *topic, bool evict, size_t *records)
{
    struct et t;
    size_t i, len = 0;
    json_t *o;
    char *buf = NULL;
    FILE *f = open_memstream(&buf, &len);

    init(&t,
         (const char *const[]){ "metrics.period=1d",
                                "metrics.churn_at=effective",
                                evict ? "state.max_accounts=50" : NULL, NULL },
         table_geo, NULL);
    for (i = 0; i < n; i++) {
        et_line(&t, v[i].text);
    }
    et_finish(&t);
    *records = check_all_balanced(&t);
    json_array_foreach(t.outs, i, o)
    {
        if (strcmp(json_string_value(json_object_get(o, "topic")), topic) ==
            0) {
            if (strcmp(topic, "alerts") == 0) {
                drop_geo(o);
            }
            fprintf(f, "%s\n", json_string_value(json_object_get(o, "text")));
        }
    }
    fclose(f);
    et_release(&t);
    return buf;
}

/* Per period, the plan slices (and the segment slices) partition the
 * overall one: their movements add up to its movements (transfers net),
 * and the country slices add up to its end figures. */
static void check_partitions(const char *dump)
{
    json_t *sums = json_object(); /* "period|dim|field" -> sum */
    const char *p = dump;
    static const char *const fields[] = { "start",   "new",     "reactivated",
                                          "churned", "evicted", "end" };

    while (*p) {
        const char *e = strchr(p, '\n');
        json_t *v = json_loadb(p, (size_t)(e - p), 0, NULL);
        const char *dim = json_string_value(json_object_get(v, "dimension"));
        const char *pe = json_string_value(json_object_get(v, "period_end"));
        json_t *a = json_object_get(v, "accounts");
        char key[160];
        for (size_t f = 0; f < sizeof(fields) / sizeof(fields[0]); f++) {
            if (strcmp(dim, "country") == 0 && strcmp(fields[f], "end") &&
                strcmp(fields[f], "start")) {
                continue;
            }
            snprintf(key, sizeof(key), "%s|%s|%s", pe, dim, fields[f]);
            json_t *s = json_object_get(sums, key);
            json_int_t x = (s ? json_integer_value(s) : 0) + num(a, fields[f]);
            json_object_set_new(sums, key, json_integer(x));
        }
        snprintf(key, sizeof(key), "%s|%s|net_transfer", pe, dim);
        json_t *s = json_object_get(sums, key);
        json_object_set_new(sums, key,
                            json_integer((s ? json_integer_value(s) : 0) +
                                         num(a, "transfer_in") -
                                         num(a, "transfer_out")));
        const char *cur;
        json_t *m;
        json_object_foreach(json_object_get(v, "mrr"), cur, m)
        {
            snprintf(key, sizeof(key), "%s|%s|mrr_end_%s", pe, dim, cur);
            s = json_object_get(sums, key);
            json_object_set_new(
                sums, key,
                json_integer((s ? json_integer_value(s) : 0) + num(m, "end")));
            snprintf(key, sizeof(key), "%s|%s|mrr_churned_%s", pe, dim, cur);
            s = json_object_get(sums, key);
            json_object_set_new(sums, key,
                                json_integer((s ? json_integer_value(s) : 0) +
                                             num(m, "churned")));
        }
        json_decref(v);
        p = e + 1;
    }
    const char *k;
    json_t *x;
    size_t checked = 0;
    json_object_foreach(sums, k, x)
    {
        const char *bar = strchr(k, '|');
        const char *bar2 = strchr(bar + 1, '|');
        if (strncmp(bar + 1, "overall", 7) != 0) {
            continue;
        }
        for (int d = 0; d < 3; d++) {
            static const char *const dims[] = { "plan", "segment", "country" };
            char other[160];
            if (d == 2 && strncmp(bar2 + 1, "end", 3) != 0 &&
                strncmp(bar2 + 1, "start", 5) != 0 &&
                strncmp(bar2 + 1, "mrr_end", 7) != 0) {
                continue;
            }
            snprintf(other, sizeof(other), "%.*s|%s|%s", (int)(bar - k), k,
                     dims[d], bar2 + 1);
            json_t *y = json_object_get(sums, other);
            json_int_t yv = y ? json_integer_value(y) : 0;
            ck_assert_msg(yv == json_integer_value(x) ||
                              (strstr(k, "net_transfer") && yv == 0 &&
                               json_integer_value(x) == 0),
                          "%s: %s sums to %lld, overall %lld", other, dims[d],
                          (long long)yv, (long long)json_integer_value(x));
            checked++;
        }
    }
    ck_assert_uint_gt(checked, 100);
    json_decref(sums);
}

START_TEST(test_random_story_balances_and_is_order_free)
{
    size_t n, recs;
    struct line *v = random_story(7, &n);
    char *ev = run_story(v, n, "metrics", true, &recs);
    char *a = run_story(v, n, "metrics", false, &recs);
    char *al = run_story(v, n, "alerts", false, &recs);
    unsigned seed = 99;

    /* with evictions (more accounts than state.max_accounts) */
    ck_assert_ptr_nonnull(strstr(ev, "\"evicted\":1"));
    check_partitions(ev);
    ck_assert_uint_gt(recs, 500);
    ck_assert_ptr_nonnull(strstr(a, "\"reactivated\":1"));
    ck_assert_ptr_nonnull(strstr(a, "\"transfer_in\":1"));
    ck_assert_ptr_nonnull(strstr(a, "\"churned_involuntary\":1"));
    ck_assert_ptr_nonnull(strstr(a, "\"slice\":\"country:JP\""));
    ck_assert_ptr_nonnull(strstr(a, "\"slice\":\"segment:unknown\""));
    check_partitions(a);
    /* arrival = event time + up to 50 minutes: inside the 1 h lateness */
    for (size_t i = 0; i < n; i++) {
        v[i].arrival += (int64_t)(rnd(&seed) % 50) * ET_MIN(1);
    }
    qsort(v, n, sizeof(*v), line_cmp);
    char *b = run_story(v, n, "metrics", false, &recs);
    char *bl = run_story(v, n, "alerts", false, &recs);
    ck_assert_msg(strcmp(a, b) == 0, "shuffled input changed the metrics");
    ck_assert_msg(strcmp(al, bl) == 0, "shuffled input changed the alerts");
    for (size_t i = 0; i < n; i++) {
        free(v[i].text);
    }
    free(v);
    free(ev);
    free(a);
    free(b);
    free(al);
    free(bl);
}
END_TEST

static Suite *churn_metrics_suite(void)
{
    Suite *s = suite_create("metrics");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, test_scripted_month);
    tcase_add_test(tc, test_record_order_and_key);
    tcase_add_loop_test(tc, test_churn_at, 0,
                        sizeof(churn_at_cases) / sizeof(churn_at_cases[0]));
    tcase_add_test(tc, test_currency_switch_moves_between_ledgers);
    tcase_add_test(tc, test_country_at_period_end);
    tcase_add_test(tc, test_eviction_leaves_the_ledger);
    tcase_add_test(tc, test_idle_eviction_leaves_the_ledger);
    tcase_add_test(tc, test_watermark_jump_is_one_record);
    tcase_add_test(tc, test_bands_from_last_boundary);
    tcase_add_test(tc, test_random_story_balances_and_is_order_free);
    tcase_set_timeout(tc, 120);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return churn_test_run(churn_metrics_suite());
}
