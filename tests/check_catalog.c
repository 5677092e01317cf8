/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The plan catalog (plan.NAME.*): plans map to their segment in alerts,
 * signals and metrics; plans not listed map to segment "unknown", and every
 * event naming one is counted (stats.unknown_plans).
 */
#include "enginetest.h"
#include "testutil.h"

#include <check.h>
#include <stdio.h>
#include <string.h>

static const char *const catalog[] = {
    "plan.starter.segment=smb",
    "plan.team.segment=mid_market",
    "plan.team.tier=team",
    "plan.team.price=9900",
    "plan.free.price=0", /* listed, segment left at its default */
    NULL,
};

struct ev {
    const char *id, *type, *extra;
};

static const struct {
    const char *name;
    struct ev evs[4];
    uint64_t want;
} unknown_cases[] = {
    { "a listed plan is not counted",
      { { "1", "subscription.created",
          "\"plan\":\"team\",\"mrr\":1,\"currency\":\"USD\"" } },
      0 },
    { "an unlisted plan on created",
      { { "1", "subscription.created",
          "\"plan\":\"mystery\",\"mrr\":1,\"currency\":\"USD\"" } },
      1 },
    { "every event naming it counts",
      { { "1", "subscription.created",
          "\"plan\":\"mystery\",\"mrr\":1,\"currency\":\"USD\"" },
        { "2", "subscription.upgraded",
          "\"plan\":\"mystery\",\"mrr\":2,\"currency\":\"USD\"" },
        { "3", "subscription.renewed", "\"plan\":\"mystery\"" } },
      3 },
    { "an event that does not set the plan still counts",
      { { "1", "subscription.created",
          "\"plan\":\"team\",\"mrr\":1,\"currency\":\"USD\"" },
        { "2", "subscription.paused", "\"plan\":\"mystery\"" } },
      1 },
    { "an event a closed account ignores still counts",
      { { "1", "subscription.created",
          "\"plan\":\"team\",\"mrr\":1,\"currency\":\"USD\"" },
        { "2", "subscription.canceled", "" },
        { "3", "subscription.renewed", "\"plan\":\"mystery\"" } },
      1 },
    { "no plan field, nothing to count",
      { { "1", "subscription.created",
          "\"plan\":\"team\",\"mrr\":1,\"currency\":\"USD\"" },
        { "2", "subscription.renewed", "" } },
      0 },
    { "a duplicate is not counted twice",
      { { "1", "subscription.created",
          "\"plan\":\"mystery\",\"mrr\":1,\"currency\":\"USD\"" },
        { "1", "subscription.created",
          "\"plan\":\"mystery\",\"mrr\":1,\"currency\":\"USD\"" } },
      1 },
    { "names are case-sensitive",
      { { "1", "subscription.created",
          "\"plan\":\"Team\",\"mrr\":1,\"currency\":\"USD\"" } },
      1 },
    { "a listed plan with the default segment is still listed",
      { { "1", "subscription.created",
          "\"plan\":\"free\",\"mrr\":1,\"currency\":\"USD\"" } },
      0 },
};

START_TEST(test_unknown_plans_counted)
{
    struct et t;
    struct churn_engine_stats st;
    char line[512];

    et_init(&t, catalog);
    for (int i = 0; i < 4 && unknown_cases[_i].evs[i].id; i++) {
        const struct ev *e = &unknown_cases[_i].evs[i];
        snprintf(line, sizeof(line),
                 "{\"event_id\":\"%s\",\"type\":\"%s\",\"account_id\":\"a\","
                 "\"ts\":%lld%s%s}",
                 e->id, e->type, (long long)(ET_DAYS(0) + i * ET_HOUR),
                 *e->extra ? "," : "", e->extra);
        et_line(&t, line);
    }
    et_finish(&t);
    churn_engine_get_stats(t.eng, &st);
    ck_assert_msg(st.dead_letters == 0, "%s: a dead letter",
                  unknown_cases[_i].name);
    ck_assert_msg(st.unknown_plans == unknown_cases[_i].want,
                  "%s: unknown_plans %llu, want %llu", unknown_cases[_i].name,
                  (unsigned long long)st.unknown_plans,
                  (unsigned long long)unknown_cases[_i].want);
    et_release(&t);
}
END_TEST

static const struct {
    const char *name, *plan, *segment;
} segment_cases[] = {
    { "team is mid_market", "team", "mid_market" },
    { "starter is smb", "starter", "smb" },
    { "an unlisted plan is unknown", "mystery", "unknown" },
    { "a listed plan without a segment is unknown", "free", "unknown" },
};

START_TEST(test_segment_in_alerts_and_metrics)
{
    struct et t;
    char extra[160], slice[64];
    const char *sets[16];
    size_t n = 0;

    for (size_t i = 0; catalog[i] != NULL; i++) {
        sets[n++] = catalog[i];
    }
    sets[n++] = "metrics.period=1d";
    sets[n] = NULL;
    et_init(&t, sets);
    snprintf(extra, sizeof(extra),
             "\"plan\":\"%s\",\"mrr\":1000,\"currency\":\"USD\"",
             segment_cases[_i].plan);
    et_ev(&t, "subscription.created", "a", ET_DAYS(0), extra);
    et_ev(&t, "subscription.cancel_scheduled", "a", ET_DAYS(0) + ET_HOUR,
          "\"effective_at\":\"2026-02-01T00:00:00Z\"");
    et_advance(&t, ET_DAYS(1));
    json_t *al = et_alert(&t, "cancel_scheduled", "firing", 0);
    ck_assert_msg(al != NULL, "%s: no alert", segment_cases[_i].name);
    ck_assert_str_eq(json_string_value(json_object_get(al, "segment")),
                     segment_cases[_i].segment);
    ck_assert_str_eq(json_string_value(json_object_get(al, "plan")),
                     segment_cases[_i].plan);
    snprintf(slice, sizeof(slice), "segment:%s", segment_cases[_i].segment);
    json_t *r = et_find(&t, "metrics", "slice", slice, 0);
    ck_assert_msg(r != NULL, "%s: no %s record", segment_cases[_i].name, slice);
    ck_assert_int_eq(json_integer_value(json_object_get(
                         json_object_get(r, "accounts"), "end")),
                     1);
    /* exactly one segment record: the account is in one segment */
    ck_assert_uint_eq(et_count(&t, "metrics", "dimension", "segment"), 1);
    et_release(&t);
}
END_TEST

/* Listed and unlisted plans that share the segment name "unknown" share
 * one segment slice. */
START_TEST(test_unknown_segment_is_one_slice)
{
    struct et t;
    const char *sets[16];
    size_t n = 0;

    for (size_t i = 0; catalog[i] != NULL; i++) {
        sets[n++] = catalog[i];
    }
    sets[n++] = "metrics.period=1d";
    sets[n] = NULL;
    et_init(&t, sets);
    et_ev(&t, "subscription.created", "f", ET_DAYS(0),
          "\"plan\":\"free\",\"mrr\":0,\"currency\":\"EUR\"");
    et_ev(&t, "subscription.created", "m", ET_DAYS(0),
          "\"plan\":\"mystery\",\"mrr\":500,\"currency\":\"EUR\"");
    et_ev(&t, "subscription.created", "s", ET_DAYS(0),
          "\"plan\":\"starter\",\"mrr\":700,\"currency\":\"EUR\"");
    et_advance(&t, ET_DAYS(1));
    ck_assert_uint_eq(et_count(&t, "metrics", "slice", "segment:unknown"), 1);
    json_t *r = et_find(&t, "metrics", "slice", "segment:unknown", 0);
    json_t *a = json_object_get(r, "accounts");
    ck_assert_int_eq(json_integer_value(json_object_get(a, "end")), 2);
    json_t *eur = json_object_get(json_object_get(r, "mrr"), "EUR");
    ck_assert_int_eq(json_integer_value(json_object_get(eur, "end")), 500);
    /* plan slices keep their own names, listed or not */
    ck_assert_uint_eq(et_count(&t, "metrics", "slice", "plan:free"), 1);
    ck_assert_uint_eq(et_count(&t, "metrics", "slice", "plan:mystery"), 1);
    ck_assert_uint_eq(et_count(&t, "metrics", "slice", "segment:smb"), 1);
    et_release(&t);
}
END_TEST

static Suite *churn_catalog_suite(void)
{
    Suite *s = suite_create("catalog");
    TCase *tc = tcase_create("core");

    tcase_add_loop_test(tc, test_unknown_plans_counted, 0,
                        sizeof(unknown_cases) / sizeof(unknown_cases[0]));
    tcase_add_loop_test(tc, test_segment_in_alerts_and_metrics, 0,
                        sizeof(segment_cases) / sizeof(segment_cases[0]));
    tcase_add_test(tc, test_unknown_segment_is_one_slice);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return churn_test_run(churn_catalog_suite());
}
