/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The boundary walk judges only the accounts due (src/engine/due.c). Its
 * contract: the outputs are byte for byte those of judging every account at
 * every boundary. Each case runs a generated replay (churn gen) three ways
 * on the same lines:
 *   DUE     the walk as shipped;
 *   FULL    every account at every boundary (the reference);
 *   VERIFY  every account, counting the skipped ones whose evaluation
 *           would have changed an output, a byte of the account or the
 *           cohorts (must be 0);
 * and compares every output (topic, key, value, headers, event time), the
 * engine's counters and a full state export.
 */
#define _GNU_SOURCE /* memmem */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "churnd/state.h"
#include "engine_int.h"
#include "enginetest.h"
#include "testutil.h"
#include "tools/gen.h"

/* All output bytes of a run, in order, and the count per alert rule. */
struct run {
    char *p;
    size_t len, cap;
    size_t outputs;
    size_t fired[CHURN_RULE__COUNT];
    struct churn_engine_stats stats;
    uint64_t evaluated, skipped, misses;
    char *state;
    size_t state_len, state_cap;
};

static void put(char **p, size_t *len, size_t *cap, const void *b, size_t n)
{
    if (*len + n + 1 > *cap) {
        size_t nc = (*cap ? *cap * 2 : 1 << 16);
        while (nc < *len + n + 1) {
            nc *= 2;
        }
        *p = realloc(*p, nc);
        ck_assert_ptr_nonnull(*p);
        *cap = nc;
    }
    memcpy(*p + *len, b, n);
    *len += n;
}

static void put_str(struct run *r, struct churn_str s)
{
    put(&r->p, &r->len, &r->cap, &s.len, sizeof(s.len));
    put(&r->p, &r->len, &r->cap, s.ptr, s.len);
}

static void take_outputs(struct churn_engine *eng, struct run *r)
{
    const struct churn_output *o;
    size_t n = churn_engine_outputs(eng, &o);

    for (size_t i = 0; i < n; i++) {
        put(&r->p, &r->len, &r->cap, &o[i].topic, sizeof(o[i].topic));
        put(&r->p, &r->len, &r->cap, &o[i].event_ms, sizeof(o[i].event_ms));
        put_str(r, o[i].key);
        put_str(r, o[i].value);
        for (size_t h = 0; h < o[i].header_cnt; h++) {
            put(&r->p, &r->len, &r->cap, o[i].headers[h].name,
                strlen(o[i].headers[h].name));
            put_str(r, o[i].headers[h].value);
        }
        if (o[i].topic == CHURN_TOPIC_ALERTS) {
            for (int k = 0; k < CHURN_RULE__COUNT; k++) {
                char pat[64];
                snprintf(pat, sizeof(pat), "\"rule\":\"%s\",\"status\":\"firing\"",
                         churn_rule_name((enum churn_rule)k));
                if (memmem(o[i].value.ptr, o[i].value.len, pat,
                           strlen(pat)) != NULL) {
                    r->fired[k]++;
                }
            }
        }
        r->outputs++;
    }
    churn_engine_outputs_clear(eng);
}

static enum churn_err take_state(void *ctx,
                                 struct churn_str key,
                                 const void *value,
                                 size_t len,
                                 struct churn_error *err)
{
    struct run *r = ctx;

    (void)err;
    put(&r->state, &r->state_len, &r->state_cap, &key.len, sizeof(key.len));
    put(&r->state, &r->state_len, &r->state_cap, key.ptr, key.len);
    put(&r->state, &r->state_len, &r->state_cap, &len, sizeof(len));
    if (value != NULL) {
        put(&r->state, &r->state_len, &r->state_cap, value, len);
    }
    return CHURN_OK;
}

static const struct {
    const char *name;
    uint64_t seed;
    uint32_t accounts, days;
    uint64_t events; /* 0: natural volume; else sparse usage, as bench */
    const char *mix; /* NULL: the generator's default */
    const char *sets[6];
    /* rules the replay must make fire (a skip missing one of their
     * dependencies would then show as a difference) */
    enum churn_rule must_fire[6];
    size_t must_fire_cnt;
    unsigned min_skip_pct; /* of account-boundaries the walk must skip */
} cases[] = {
    { "default mix, 120 days", 1, 400, 120, 0, NULL, { NULL },
      { CHURN_RULE_INACTIVITY, CHURN_RULE_CARD_EXPIRING,
        CHURN_RULE_PAYMENT_FAILURE_STREAK, CHURN_RULE_TRIAL_LOW_ACTIVATION,
        CHURN_RULE_DETRACTOR_FEEDBACK, CHURN_RULE_DOWNGRADE },
      6, 4 },
    { "default mix, 28 days, seed 2", 2, 1500, 28, 0, NULL, { NULL },
      { CHURN_RULE_CARD_EXPIRING, CHURN_RULE_PAYMENT_FAILURE_STREAK,
        CHURN_RULE_CHARGEBACK },
      3, 2 },
    { "silent accounts: pauses, trials, cards, failures", 3, 500, 90, 0,
      "pause_resume=0.3,trial_no_convert=0.2,card_expiring=0.2,"
      "payment_failure=0.2,gradual_disengage=0.1",
      { "rule.inactivity.after=5d", "rule.inactivity.cooldown=3d",
        "rule.card_expiring.cooldown=2d", NULL },
      { CHURN_RULE_INACTIVITY, CHURN_RULE_CARD_EXPIRING,
        CHURN_RULE_PAYMENT_FAILURE_STREAK, CHURN_RULE_TRIAL_LOW_ACTIVATION,
        CHURN_RULE_CHARGEBACK },
      5, 10 },
    { "key features, short cool-downs", 4, 400, 100, 0, NULL,
      { "rule.feature_abandonment.features=export,reports,api",
        "rule.health_critical.cooldown=1d", "rule.downgrade.cooldown=1d",
        "rule.detractor_feedback.cooldown=1d", NULL },
      { CHURN_RULE_INACTIVITY, CHURN_RULE_FEATURE_ABANDONMENT,
        CHURN_RULE_DETRACTOR_FEEDBACK },
      3, 3 },
    { "sparse usage, 28 days (the scaling benchmark's shape)", 7, 3000, 28,
      18000, NULL, { NULL },
      { CHURN_RULE_CARD_EXPIRING, CHURN_RULE_PAYMENT_FAILURE_STREAK,
        CHURN_RULE_HEALTH_CRITICAL },
      3, 20 },
    /* without the count tests, idle accounts with usage settle too */
    { "sparse usage, 150 days, no count tests", 8, 1500, 150, 40000, NULL,
      { "rule.engagement_drop.enabled=false",
        "rule.detractor_feedback.enabled=false", NULL },
      { CHURN_RULE_CARD_EXPIRING, CHURN_RULE_PAYMENT_FAILURE_STREAK,
        CHURN_RULE_INACTIVITY, CHURN_RULE_DOWNGRADE, CHURN_RULE_CHARGEBACK },
      5, 20 },
    { "sparse usage, silent accounts, short cool-downs", 9, 1500, 120, 30000,
      "pause_resume=0.3,trial_no_convert=0.1,card_expiring=0.2,"
      "payment_failure=0.2,downgrade_cancel=0.1,gradual_disengage=0.1",
      { "rule.inactivity.after=5d", "rule.inactivity.cooldown=2d",
        "rule.card_expiring.cooldown=1d", "rule.engagement_drop.enabled=false",
        "rule.detractor_feedback.enabled=false", NULL },
      { CHURN_RULE_INACTIVITY, CHURN_RULE_CARD_EXPIRING,
        CHURN_RULE_PAYMENT_FAILURE_STREAK, CHURN_RULE_HEALTH_CRITICAL,
        CHURN_RULE_DOWNGRADE },
      5, 20 },
    /* accounts come and go faster than they settle: no share asked */
    { "max_accounts eviction and idle eviction", 5, 800, 60, 0, NULL,
      { "state.max_accounts=300", "state.idle_evict=20d", NULL },
      { CHURN_RULE_CARD_EXPIRING, CHURN_RULE_PAYMENT_FAILURE_STREAK }, 2, 0 },
    { "six-hour buckets", 6, 300, 45, 0, NULL,
      { "window.bucket=6h", "window.buckets=64", "score.recent=2d",
        "score.baseline=8d", "rule.engagement_drop.long_window=0", NULL },
      { CHURN_RULE_CARD_EXPIRING, CHURN_RULE_HEALTH_CRITICAL,
        CHURN_RULE_INACTIVITY },
      3, 4 },
};

static void run_case(int i, enum churn__eval_mode mode, struct run *r)
{
    struct churn_gen_opts o;
    struct churn_error err = { 0 };
    struct churn_config cfg;
    struct churn_engine *eng;
    struct churn_gen *g;
    const char *line;
    size_t len;
    uint64_t n = 0;

    memset(r, 0, sizeof(*r));
    churn_gen_opts_init(&o);
    o.seed = cases[i].seed;
    o.accounts = cases[i].accounts;
    o.days = cases[i].days;
    o.events = cases[i].events;
    if (cases[i].mix != NULL) {
        ck_assert_msg(churn_gen_opts_set_mix(&o, cases[i].mix, &err) ==
                          CHURN_OK,
                      "%s: mix: %s", cases[i].name, err.msg);
    }
    churn_config_init(&cfg);
    for (size_t k = 0; cases[i].sets[k] != NULL; k++) {
        ck_assert_msg(churn_config_set(&cfg, cases[i].sets[k], &err) ==
                          CHURN_OK,
                      "%s: %s: %s", cases[i].name, cases[i].sets[k], err.msg);
    }
    eng = churn_engine_new(&cfg, NULL, NULL, &err);
    ck_assert_msg(eng != NULL, "%s: engine: %s", cases[i].name, err.msg);
    eng->eval_mode = mode;
    g = churn_gen_new(&o, &err);
    ck_assert_msg(g != NULL, "%s: gen: %s", cases[i].name, err.msg);
    while (churn_gen_next(g, &line, &len)) {
        struct churn_source src = { "t", -1, (int64_t)n++, -1, { NULL, 0 } };
        ck_assert_msg(churn_engine_feed(eng, line, len, &src, &err) ==
                          CHURN_OK,
                      "%s: feed: %s", cases[i].name, err.msg);
        take_outputs(eng, r);
        /* now and then a snapshot, as run does (it must not disturb) */
        if (n % 20011 == 0) {
            size_t keep = r->state_len;
            ck_assert(churn_engine_export(eng, true, take_state, r, &err) ==
                      CHURN_OK);
            r->state_len = keep;
        }
    }
    ck_assert_msg(churn_engine_finish(eng, &err) == CHURN_OK, "%s: %s",
                  cases[i].name, err.msg);
    take_outputs(eng, r);
    ck_assert(churn_engine_export(eng, true, take_state, r, &err) == CHURN_OK);
    churn_engine_get_stats(eng, &r->stats);
    r->evaluated = eng->due_evaluated;
    r->skipped = eng->due_skipped;
    r->misses = eng->due_misses;
    churn_gen_free(g);
    churn_engine_free(eng);
    churn_config_release(&cfg);
}

static void run_release(struct run *r)
{
    free(r->p);
    free(r->state);
}

static size_t first_diff(const char *a, const char *b, size_t n)
{
    size_t k = 0;

    while (k < n && a[k] == b[k]) {
        k++;
    }
    return k;
}

START_TEST(test_due_matches_full)
{
    struct run due, full, verify;

    run_case(_i, CHURN__EVAL_DUE, &due);
    run_case(_i, CHURN__EVAL_FULL, &full);
    run_case(_i, CHURN__EVAL_VERIFY, &verify);

    if (getenv("DUE_DEBUG") != NULL) {
        fprintf(stderr, "%s: %zu outputs, evaluated %llu skipped %llu:",
                cases[_i].name, full.outputs,
                (unsigned long long)due.evaluated,
                (unsigned long long)due.skipped);
        for (int k = 0; k < CHURN_RULE__COUNT; k++) {
            fprintf(stderr, " %s=%zu", churn_rule_name((enum churn_rule)k),
                    full.fired[k]);
        }
        fprintf(stderr, "\n");
    }
    ck_assert_msg(full.outputs > 1000, "%s: only %zu outputs", cases[_i].name,
                  full.outputs);
    for (size_t k = 0; k < cases[_i].must_fire_cnt; k++) {
        enum churn_rule rule = cases[_i].must_fire[k];
        ck_assert_msg(full.fired[rule] > 0, "%s: no %s alert fired",
                      cases[_i].name, churn_rule_name(rule));
    }
    ck_assert_msg(due.outputs == full.outputs && due.len == full.len &&
                      memcmp(due.p, full.p, due.len) == 0,
                  "%s: outputs differ: %zu vs %zu, first byte %zu of %zu",
                  cases[_i].name, due.outputs, full.outputs,
                  first_diff(due.p, full.p,
                             due.len < full.len ? due.len : full.len),
                  full.len);
    ck_assert_msg(verify.len == full.len &&
                      memcmp(verify.p, full.p, full.len) == 0,
                  "%s: verify run differs", cases[_i].name);
    ck_assert_msg(verify.misses == 0,
                  "%s: %llu skipped account-boundaries would have changed",
                  cases[_i].name, (unsigned long long)verify.misses);
    ck_assert_msg(memcmp(&due.stats, &full.stats, sizeof(due.stats)) == 0,
                  "%s: counters differ", cases[_i].name);
    ck_assert_msg(due.state_len == full.state_len &&
                      memcmp(due.state, full.state, due.state_len) == 0,
                  "%s: final state differs", cases[_i].name);
    /* and the walk does skip: a good share of account-boundaries */
    ck_assert_msg(due.skipped * 100 >= (due.evaluated + due.skipped) *
                                           cases[_i].min_skip_pct,
                  "%s: skipped only %llu of %llu", cases[_i].name,
                  (unsigned long long)due.skipped,
                  (unsigned long long)(due.evaluated + due.skipped));
    ck_assert_msg(due.evaluated + due.skipped == full.evaluated,
                  "%s: %llu + %llu account-boundaries, full walk %llu",
                  cases[_i].name, (unsigned long long)due.evaluated,
                  (unsigned long long)due.skipped,
                  (unsigned long long)full.evaluated);
    run_release(&due);
    run_release(&full);
    run_release(&verify);
}
END_TEST

/*
 * Hand-built accounts whose only way to an output is a time the walk must
 * schedule: each account has facts and no usage, so it settles two weeks
 * after its first event, and the output the case expects comes later. A
 * ticker account moves the watermark a day at a time. With the time left
 * out of churn__account_next_due, the DUE run misses the output.
 */
struct fact {
    int day; /* usage.login x 20 when type is "usage" */
    const char *type;
    const char *extra;
};

static const struct {
    const char *name;
    const char *sets[4];
    struct fact facts[10];
    int days; /* the ticker runs to this day */
    const char *rule, *status;
    size_t want; /* at least this many such alerts */
    int signal_day; /* a signal for "a" at this day; 0: none asked */
} timed[] = {
    { "payment_failure_streak fires when its cool-down ends",
      { "rule.payment_failure_streak.cooldown=20d", NULL },
      { { 0, "subscription.created", "\"plan\":\"pro\",\"mrr\":9900,\"currency\":\"USD\"" },
        { 1, "payment.failed", "\"decline_code\":\"insufficient_funds\"" },
        { 2, "payment.failed", "\"decline_code\":\"insufficient_funds\"" },
        { 3, "payment.succeeded", "\"amount\":9900,\"currency\":\"USD\"" },
        { 4, "payment.failed", "\"decline_code\":\"insufficient_funds\"" },
        { 0, NULL, NULL } },
      40, "payment_failure_streak", "firing", 2, 0 },
    { "a downgrade alert expires after its fact window",
      { NULL },
      { { 0, "subscription.created", "\"plan\":\"pro\",\"mrr\":9900,\"currency\":\"USD\"" },
        { 1, "subscription.downgraded", "\"plan\":\"pro\",\"mrr\":6000,\"currency\":\"USD\"" },
        { 10, "subscription.downgraded",
          "\"plan\":\"pro\",\"mrr\":5000,\"currency\":\"USD\"" },
        { 0, NULL, NULL } },
      45, "downgrade", "resolved", 1, 0 },
    { "a downgrade weighs on subscription for 30 days",
      { "score.signal_delta=1", NULL },
      { { 0, "subscription.created", "\"plan\":\"pro\",\"mrr\":9900,\"currency\":\"USD\"" },
        { 1, "subscription.downgraded", "\"plan\":\"pro\",\"mrr\":6000,\"currency\":\"USD\"" },
        { 10, "subscription.downgraded",
          "\"plan\":\"pro\",\"mrr\":3000,\"currency\":\"USD\"" },
        { 0, NULL, NULL } },
      50, "downgrade", "firing", 1, 41 },
    { "engagement_drop judges an idle account before it has a baseline",
      { "window.buckets=64", "score.baseline=56d",
        "rule.engagement_drop.min_reference=10d", NULL },
      { { 0, "usage", NULL }, { 1, "usage", NULL }, { 2, "usage", NULL },
        { 3, "usage", NULL }, { 4, "usage", NULL }, { 5, "usage", NULL },
        { 6, "usage", NULL }, { 0, NULL, NULL } },
      40, "engagement_drop", "firing", 1, 0 },
    { "a chargeback weighs on payment for 90 days",
      { NULL },
      { { 0, "subscription.created", "\"plan\":\"pro\",\"mrr\":9900,\"currency\":\"USD\"" },
        { 1, "payment.chargeback", "\"amount\":9900,\"currency\":\"USD\"" },
        { 0, NULL, NULL } },
      100, "chargeback", "resolved", 1, 92 },
};

static char *run_timed(int i, enum churn__eval_mode mode, uint64_t *misses,
                       struct et *keep)
{
    struct et t;
    char *dump;
    size_t f = 0;

    et_init(&t, timed[i].sets);
    t.eng->eval_mode = mode;
    for (int d = 0; d <= timed[i].days; d++) {
        et_usage_day(&t, "tick", d, 1, 1);
        while (timed[i].facts[f].type != NULL && timed[i].facts[f].day == d) {
            if (strcmp(timed[i].facts[f].type, "usage") == 0) {
                et_usage_day(&t, "a", d, 20, 2);
            } else {
                et_ev(&t, timed[i].facts[f].type, "a",
                      ET_DAYS(d) + 10 * ET_HOUR, timed[i].facts[f].extra);
            }
            f++;
        }
    }
    et_finish(&t);
    *misses = t.eng->due_misses;
    dump = et_dump(&t);
    if (getenv("DUE_DEBUG") != NULL && mode == CHURN__EVAL_FULL) {
        fprintf(stderr, "%s\n", dump);
    }
    if (keep != NULL) {
        *keep = t;
    } else {
        et_release(&t);
    }
    return dump;
}

START_TEST(test_due_timed)
{
    uint64_t m_due, m_full, m_verify;
    struct et full;
    char *due = run_timed(_i, CHURN__EVAL_DUE, &m_due, NULL);
    char *ref = run_timed(_i, CHURN__EVAL_FULL, &m_full, &full);
    char *verify = run_timed(_i, CHURN__EVAL_VERIFY, &m_verify, NULL);

    ck_assert_msg(et_alerts(&full, timed[_i].rule, timed[_i].status) >=
                      timed[_i].want,
                  "%s: %zu %s %s alerts", timed[_i].name,
                  et_alerts(&full, timed[_i].rule, timed[_i].status),
                  timed[_i].rule, timed[_i].status);
    if (timed[_i].signal_day > 0) {
        /* event_time is RFC 3339: compare its day */
        time_t secs = (time_t)(ET_DAYS(timed[_i].signal_day) / 1000);
        char day[16];
        struct tm tm;
        bool seen = false;
        json_t *v;

        gmtime_r(&secs, &tm);
        strftime(day, sizeof(day), "%Y-%m-%d", &tm);
        for (size_t k = 0;
             (v = et_find(&full, "signals", "account_id", "a", k)) != NULL;
             k++) {
            const char *at = json_string_value(json_object_get(v, "event_time"));
            seen = seen || (at != NULL && strncmp(at, day, 10) == 0);
        }
        ck_assert_msg(seen, "%s: no signal for a on day %d", timed[_i].name,
                      timed[_i].signal_day);
    }
    ck_assert_msg(strcmp(due, ref) == 0, "%s: outputs differ", timed[_i].name);
    ck_assert_msg(strcmp(verify, ref) == 0, "%s: verify differs",
                  timed[_i].name);
    ck_assert_msg(m_verify == 0, "%s: %llu wrong skips", timed[_i].name,
                  (unsigned long long)m_verify);
    free(due);
    free(ref);
    free(verify);
    et_release(&full);
}
END_TEST

Suite *churn_due_suite(void);

Suite *churn_due_suite(void)
{
    Suite *s = suite_create("due");
    TCase *tc = tcase_create("replays");

    tcase_set_timeout(tc, 600);
    tcase_add_loop_test(tc, test_due_matches_full, 0,
                        (int)(sizeof(cases) / sizeof(cases[0])));
    suite_add_tcase(s, tc);
    tc = tcase_create("timed");
    tcase_add_loop_test(tc, test_due_timed, 0,
                        (int)(sizeof(timed) / sizeof(timed[0])));
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return churn_test_run(churn_due_suite());
}
