/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Rules and the alert lifecycle (DESIGN §7), and the alert and signal
 * outputs (DESIGN §3).
 *
 * Lifecycle per account and rule: idle -> firing once when the condition
 * becomes true (not inside the cool-down) -> silent while it holds ->
 * resolved when it clears (with hysteresis where a rule has one) -> idle
 * with a cool-down. alert_id = xxh3(account_id, rule, since): the same input
 * always gives the same ids, and a resolve carries its firing's id.
 */
#include "engine_int.h"

#include <math.h>
#include <string.h>

#define FACT_WINDOW_MS CHURN__FACT_WINDOW_MS /* one-off facts stay open */

static const char *const rule_kind[CHURN_RULE__COUNT] = {
    [CHURN_RULE_ENGAGEMENT_DROP] = "voluntary",
    [CHURN_RULE_INACTIVITY] = "passive",
    [CHURN_RULE_PAYMENT_FAILURE_STREAK] = "involuntary",
    [CHURN_RULE_CARD_EXPIRING] = "involuntary",
    [CHURN_RULE_DOWNGRADE] = "voluntary",
    [CHURN_RULE_CANCEL_SCHEDULED] = "voluntary",
    [CHURN_RULE_TRIAL_LOW_ACTIVATION] = "voluntary",
    [CHURN_RULE_FEATURE_ABANDONMENT] = "voluntary",
    [CHURN_RULE_DETRACTOR_FEEDBACK] = "voluntary",
    [CHURN_RULE_CHARGEBACK] = "involuntary",
    [CHURN_RULE_HEALTH_CRITICAL] = NULL, /* by dominant component */
};

static bool is_firing(const struct churn__account *acc, enum churn_rule r)
{
    return (acc->firing & (1u << r)) != 0;
}

double churn__inactivity_gap_p(const struct churn__figures *f)
{
    double p;

    if (f->observed_days_before == 0) {
        return 1;
    }
    /* the idle run's first day is part of the observation (the gap ends
     * it), so the active share counts it as observed, not active */
    p = (double)f->active_days_before / (double)f->observed_days_before;
    return pow(1 - p, f->days_since_usage);
}

/* A detractor response (NPS at most nps_max, or a ticket at most
 * sentiment_max) came within `within_ms` before at_ms, and no better NPS came
 * since. */
static bool detractor_within(const struct churn_config *c,
                             const struct churn__account *acc,
                             int64_t at_ms,
                             int64_t within_ms)
{
    bool nps = acc->nps >= 0 && acc->nps <= c->detractor_nps_max;
    bool ticket =
        acc->sentiment_milli <= (int)lround(c->detractor_sentiment_max * 1000);

    return acc->feedback_ms != INT64_MIN &&
           at_ms - acc->feedback_ms <= within_ms && (nps || ticket);
}

/* A key feature used regularly before is unused for the abandonment span. */
static bool key_gone(const struct churn_config *c,
                     const struct churn__figures *f)
{
    uint16_t mask = (uint16_t)((1u << c->key_feature_cnt) - 1);

    return (f->key_regular & mask & ~f->key_used_lately) != 0;
}

/*
 * engagement_drop's evidence for one window (DESIGN §7, README "Rules"): the
 * count test's z, plus a weight for each corroborating fact: a detractor
 * response inside the window, a key feature abandoned. Usage that sank by
 * chance rarely comes with either; a customer who is leaving often sends
 * both. The window fires when it is at most `ratio` of the expected, its z
 * reaches usage_z on its own, and the sum reaches z.
 */
struct drop_eval {
    int win;       /* the window judged, -1: none can be */
    bool feedback; /* a detractor response inside it */
    bool feature;  /* a key feature abandoned */
    double score;  /* z + the weights */
    bool fires;
};

static struct drop_eval drop_window(const struct churn_engine *eng,
                                    const struct churn__account *acc,
                                    const struct churn__figures *f,
                                    int64_t at_ms,
                                    int i)
{
    const struct churn_config *c = &eng->cfg;
    const struct churn__drop *d = &f->drop[i];
    struct drop_eval e = { i, false, false, 0, false };

    e.feedback =
        c->drop_feedback_weight > 0 &&
        detractor_within(c, acc, at_ms, (int64_t)d->n * c->window_bucket_ms);
    e.feature = c->drop_feature_weight > 0 && key_gone(c, f);
    e.score = d->z + (e.feedback ? c->drop_feedback_weight : 0) +
              (e.feature ? c->drop_feature_weight : 0);
    e.fires = d->ok && d->expected >= c->drop_min_expected &&
              d->ratio <= c->drop_ratio && d->z >= c->drop_usage_z &&
              e.score >= c->drop_z;
    return e;
}

/* The window that fires with the most evidence; else the first window
 * that can be judged (its figures explain a resolve); else win -1. */
static struct drop_eval drop_eval(const struct churn_engine *eng,
                                  const struct churn__account *acc,
                                  const struct churn__figures *f,
                                  int64_t at_ms)
{
    struct drop_eval best = { -1, false, false, 0, false };

    for (int i = 0; i < 2; i++) {
        struct drop_eval e;
        if (!f->drop[i].ok) {
            continue;
        }
        e = drop_window(eng, acc, f, at_ms, i);
        if (best.win < 0 ||
            (e.fires && (!best.fires || e.score > best.score))) {
            best = e;
        }
    }
    return best;
}

/* A detractor response is pending: the last NPS or ticket was one, it came
 * within the fact window, and no better NPS came since. */
static bool detractor_pending(const struct churn_config *c,
                              const struct churn__account *acc,
                              int64_t at_ms)
{
    return detractor_within(c, acc, at_ms, c->detractor_within_ms);
}

/*
 * Weak facts (a detractor response, an unused key feature) page only
 * together with usage evidence from the account's own history: an
 * engagement_drop window at most max_activity of the reference with its
 * count test at least z below it, a lower bar than engagement_drop needs
 * alone. Satisfied accounts give one NPS answer in seven or so at 0-6, and
 * a sparse account leaves a feature unused for two weeks now and then.
 * Without a reference there is no history to weigh the fact against. z 0:
 * any window at most max_activity. Returns the window, or -1.
 */
static int
usage_weak(const struct churn__figures *f, double max_activity, double z)
{
    for (int i = 0; i < 2; i++) {
        const struct churn__drop *d = &f->drop[i];
        if (d->ok && d->ratio <= max_activity && (z <= 0 || d->z >= z)) {
            return i;
        }
    }
    return -1;
}

void churn__detractor_judge(struct churn_engine *eng,
                            struct churn__account *acc,
                            int64_t at_ms,
                            const struct churn__figures *f)
{
    struct churn__figures own;
    const struct churn_config *c = &eng->cfg;

    if (!detractor_pending(c, acc, at_ms) ||
        !churn__rule_can_fire(eng, acc, CHURN_RULE_DETRACTOR_FEEDBACK, at_ms)) {
        return;
    }
    if (f == NULL) {
        churn__figures_compute(eng, acc, churn__bucket_of(eng, at_ms), &own);
        f = &own;
    }
    if (usage_weak(f, c->detractor_max_activity, c->detractor_z) >= 0) {
        churn__alert_fire(eng, acc, CHURN_RULE_DETRACTOR_FEEDBACK, at_ms, f);
    }
}

bool churn__card_expires_within(const struct churn_engine *eng,
                                const struct churn__account *acc,
                                int64_t at_ms)
{
    if (acc->card_exp_ym < 0) {
        return false;
    }
    return churn__ym_end_ms(acc->card_exp_ym) - at_ms <=
           eng->cfg.card_within_ms;
}

bool churn__rule_can_fire(const struct churn_engine *eng,
                          const struct churn__account *acc,
                          enum churn_rule rule,
                          int64_t at_ms)
{
    if (!eng->cfg.rules[rule].enabled || is_firing(acc, rule)) {
        return false;
    }
    /* While idle, rule_time is the end of the cool-down. */
    return acc->rule_time[rule] == INT64_MIN || at_ms >= acc->rule_time[rule];
}

static uint64_t alert_id(const struct churn__account *acc,
                         enum churn_rule rule,
                         int64_t since_ms)
{
    unsigned char buf[128 + 1 + 32 + 8];
    const char *name = churn_rule_name(rule);
    size_t n = 0, nl = strlen(name);

    memcpy(buf, churn__acc_id(acc), acc->id_len);
    n += acc->id_len;
    buf[n++] = 0;
    memcpy(buf + n, name, nl);
    n += nl;
    for (int i = 0; i < 8; i++) {
        buf[n++] = (unsigned char)((uint64_t)since_ms >> (8 * i));
    }
    return churn__hash(buf, n);
}

static struct churn_str segment_of(const struct churn_engine *eng,
                                   const struct churn__account *acc)
{
    struct churn_str plan = churn__intern_get(&eng->intern, acc->plan);

    for (size_t i = 0; i < eng->cfg.plan_cnt; i++) {
        if (churn_str_eq_cstr(plan, eng->cfg.plans[i].name)) {
            const char *s = eng->cfg.plans[i].segment;
            return (struct churn_str){ s, strlen(s) };
        }
    }
    return CHURN_STR_LIT("unknown");
}

static size_t region_len(const char *r)
{
    size_t n = 0;

    while (n < 3 && r[n] != '\0') {
        n++;
    }
    return n;
}

static void write_context(struct churn_engine *eng,
                          const struct churn__account *acc)
{
    struct churn__jw *w = &eng->jw;

    churn__jw_str_or_null(w, "plan",
                          churn__intern_get(&eng->intern, acc->plan));
    churn__jw_str(w, "segment", segment_of(eng, acc));
    if (acc->country[0] != '\0') {
        churn__jw_str(w, "country", (struct churn_str){ acc->country, 2 });
        churn__jw_str_or_null(
            w, "region",
            (struct churn_str){ acc->region, region_len(acc->region) });
    } else {
        churn__jw_null(w, "country");
        churn__jw_null(w, "region");
    }
}

static void emit(struct churn_engine *eng,
                 const struct churn__account *acc,
                 enum churn_topic topic,
                 int64_t at_ms)
{
    struct churn__outq *q = &eng->out;
    struct churn_output *o;
    const char *k, *v;

    if (eng->jw.oom) {
        q->oom = true;
        return;
    }
    o = churn__outq_push(q);
    if (o == NULL) {
        return;
    }
    k = churn__outq_copy(q, churn__acc_id(acc), acc->id_len);
    v = churn__outq_copy(q, eng->jw.p, eng->jw.len);
    if (k == NULL || v == NULL) {
        q->cnt--;
        return;
    }
    o->topic = topic;
    o->key = (struct churn_str){ k, acc->id_len };
    o->value = (struct churn_str){ v, eng->jw.len };
    o->event_ms = at_ms;
}

/* The component with the largest weighted shortfall from 100:
 * 0 engagement, 1 payment, 2 subscription, 3 feedback. */
static int dominant(const struct churn_engine *eng,
                    const struct churn__figures *f)
{
    const struct churn_config *c = &eng->cfg;
    double d[4] = {
        c->score_weight_engagement * (100 - f->engagement),
        c->score_weight_payment * (100 - f->payment),
        c->score_weight_subscription * (100 - f->subscription),
        c->score_weight_feedback * (100 - f->feedback),
    };
    int best = 0;

    for (int i = 1; i < 4; i++) {
        if (d[i] > d[best]) {
            best = i;
        }
    }
    return best;
}

static const char *const component_names[4] = { "engagement", "payment",
                                                "subscription", "feedback" };
/* Churn kind by dominant component: idle usage is passive churn, failing
 * payments involuntary, the rest a customer's choice. */
static const char *const component_kinds[4] = { "passive", "involuntary",
                                                "voluntary", "voluntary" };

static void ym_str(int32_t ym, char buf[16])
{
    snprintf(buf, 16, "%04d-%02d", (int)(ym / 12) % 10000, (int)(ym % 12) + 1);
}

/* The usage evidence a weak fact waited for (usage_weak): the window that
 * qualified, else the first, and the bars; the window figures only with
 * figures (f may be NULL when the fact itself fired). */
static void write_usage_weak(struct churn__jw *w,
                             const struct churn__figures *f,
                             double max_activity,
                             double z)
{
    if (f != NULL) {
        int i = usage_weak(f, max_activity, z);
        const struct churn__drop *d = &f->drop[i < 0 ? 0 : i];
        churn__jw_bool(w, "insufficient_history", !d->ok);
        churn__jw_int(w, "window_days", d->n);
        churn__jw_num(w, "window_events", d->events, 0);
        churn__jw_num(w, "expected", d->expected, 2);
        churn__jw_num(w, "activity_ratio", d->ratio, 3);
        churn__jw_num(w, "z", -d->z, 2);
    }
    churn__jw_num(w, "max_activity", max_activity, 3);
    churn__jw_num(w, "threshold_z", -z, 2);
}

/* Writes "evidence":{...} and returns the summary in sum. */
static void write_evidence(struct churn_engine *eng,
                           const struct churn__account *acc,
                           enum churn_rule rule,
                           int64_t at_ms,
                           const struct churn__figures *f,
                           char *sum,
                           size_t sum_len)
{
    const struct churn_config *c = &eng->cfg;
    struct churn__jw *w = &eng->jw;
    int64_t bucket_days = c->window_bucket_ms;

    churn__jw_open(w, "evidence");
    switch (rule) {
    case CHURN_RULE_ENGAGEMENT_DROP: {
        struct drop_eval e = drop_eval(eng, acc, f, at_ms);
        const struct churn__drop *d = &f->drop[e.win < 0 ? 0 : e.win];
        churn__jw_int(w, "window_days", d->n);
        churn__jw_num(w, "window_events", d->events, 0);
        churn__jw_int(w, "reference_days", d->ref_days);
        churn__jw_int(w, "reference_weeks_folded", d->ref_weeks);
        churn__jw_num(w, "reference_daily_mean", d->ref_daily, 3);
        churn__jw_num(w, "expected", d->expected, 2);
        churn__jw_num(w, "ratio", d->ratio, 3);
        churn__jw_num(w, "dispersion", d->dispersion, 3);
        churn__jw_num(w, "z", -d->z, 2);
        churn__jw_bool(w, "detractor_feedback", e.feedback);
        churn__jw_num(w, "feedback_weight", c->drop_feedback_weight, 2);
        churn__jw_bool(w, "key_feature_unused", e.feature);
        churn__jw_num(w, "feature_weight", c->drop_feature_weight, 2);
        churn__jw_num(w, "evidence", e.score, 2);
        churn__jw_num(w, "threshold_evidence", c->drop_z, 2);
        churn__jw_num(w, "threshold_z", -c->drop_usage_z, 2);
        churn__jw_num(w, "threshold_ratio", c->drop_ratio, 3);
        churn__jw_num(w, "resolve_ratio", c->drop_resolve_ratio, 3);
        churn__jw_num(w, "min_expected", c->drop_min_expected, 2);
        snprintf(sum, sum_len,
                 "usage fell to %.0f%% of the account's reference: %.0f "
                 "events in %u days vs %.1f expected (z %.1f)%s%s%s; "
                 "evidence %.2f",
                 100 * d->ratio, d->events, d->n, d->expected, -d->z,
                 e.feedback || e.feature ? ", with " : "",
                 e.feedback ? (e.feature ? "a detractor response and "
                                         : "a detractor response")
                            : "",
                 e.feature ? "a key feature abandoned" : "", e.score);
        break;
    }
    case CHURN_RULE_INACTIVITY:
        churn__jw_int(w, "days_inactive", f->days_since_usage);
        churn__jw_int(w, "threshold_days",
                      c->inactivity_after_ms / bucket_days);
        churn__jw_int(w, "active_days_before", f->active_days_before);
        churn__jw_int(w, "observed_days_before", f->observed_days_before);
        churn__jw_num(w, "gap_probability", churn__inactivity_gap_p(f), 8);
        churn__jw_num(w, "max_gap_probability", c->inactivity_max_gap_p, 8);
        snprintf(sum, sum_len,
                 "no usage for %d days; active %u of the %u "
                 "days before (gap probability %.1e)",
                 f->days_since_usage, f->active_days_before,
                 f->observed_days_before, churn__inactivity_gap_p(f));
        break;
    case CHURN_RULE_PAYMENT_FAILURE_STREAK: {
        struct churn_str code = churn__intern_get(&eng->intern, acc->decline);
        enum churn__decline_class cls = churn__decline_classify(code);
        double unrecovered =
            acc->fail_ms == INT64_MIN
                ? 0
                : (double)(at_ms - acc->fail_ms) / (double)CHURN__DAY_MS;
        churn__jw_int(w, "failures", acc->fail_streak);
        churn__jw_int(w, "threshold", c->failure_streak);
        churn__jw_time(w, "first_failure_at", acc->fail_ms);
        churn__jw_num(w, "days_unrecovered", unrecovered, 2);
        churn__jw_str_or_null(w, "last_decline_code", code);
        churn__jw_cstr(w, "decline_class", churn__decline_class_name(cls));
        churn__jw_bool(w, "hard_decline",
                       (acc->flags & CHURN__AF_HARD_DECLINE) != 0);
        snprintf(sum, sum_len,
                 "%u failed payment%s, unrecovered for %.1f "
                 "days, last decline %.*s (%s)",
                 acc->fail_streak, acc->fail_streak == 1 ? "" : "s",
                 unrecovered, code.len ? (int)code.len : 4,
                 code.len ? code.ptr : "none", churn__decline_class_name(cls));
        break;
    }
    case CHURN_RULE_CARD_EXPIRING: {
        char ym[16];
        int64_t end = churn__ym_end_ms(acc->card_exp_ym);
        int64_t days = (end - at_ms) / CHURN__DAY_MS;
        ym_str(acc->card_exp_ym, ym);
        churn__jw_cstr(w, "card_exp", ym);
        churn__jw_time(w, "expires_at", end);
        churn__jw_int(w, "days_left", days);
        churn__jw_int(w, "within_days", c->card_within_ms / CHURN__DAY_MS);
        if (days >= 0) {
            snprintf(sum, sum_len,
                     "card %s expires in %lld days, no newer "
                     "card on file",
                     ym, (long long)days);
        } else {
            snprintf(sum, sum_len,
                     "card %s has expired, no newer card on "
                     "file",
                     ym);
        }
        break;
    }
    case CHURN_RULE_DOWNGRADE: {
        double cut = acc->prev_mrr > 0 ? (double)(acc->prev_mrr - acc->mrr) /
                                             (double)acc->prev_mrr
                                       : 0;
        churn__jw_int(w, "previous_mrr", acc->prev_mrr);
        churn__jw_int(w, "mrr", acc->mrr);
        churn__jw_num(w, "contraction", cut, 3);
        churn__jw_int(w, "previous_seats", acc->prev_seats);
        churn__jw_int(w, "seats", acc->seats);
        churn__jw_num(w, "threshold", c->downgrade_contraction, 3);
        snprintf(sum, sum_len,
                 "downgraded: MRR %lld -> %lld (-%.0f%%), "
                 "seats %d -> %d",
                 (long long)acc->prev_mrr, (long long)acc->mrr, 100 * cut,
                 acc->prev_seats, acc->seats);
        break;
    }
    case CHURN_RULE_CANCEL_SCHEDULED: {
        struct churn_str r =
            churn__intern_get(&eng->intern, acc->cancel_reason);
        char t[CHURN_TS_BUF_LEN];
        churn__jw_time(w, "effective_at", acc->cancel_at_ms);
        churn__jw_str_or_null(w, "reason", r);
        churn__jw_bool(w, "voluntary", !(acc->flags & CHURN__AF_INVOLUNTARY));
        snprintf(sum, sum_len, "cancellation scheduled for %s, reason: %.*s",
                 churn_ts_format(acc->cancel_at_ms, t), r.len ? (int)r.len : 4,
                 r.len ? r.ptr : "none");
        break;
    }
    case CHURN_RULE_TRIAL_LOW_ACTIVATION: {
        char t[CHURN_TS_BUF_LEN];
        churn__jw_time(w, "trial_end", acc->trial_end_ms);
        churn__jw_int(w, "days_left",
                      (acc->trial_end_ms - at_ms) / CHURN__DAY_MS);
        churn__jw_num(w, "engagement", f ? f->engagement : 0, 1);
        churn__jw_num(w, "threshold", c->trial_max_engagement, 1);
        churn__jw_num(w, "activity_vs_plan", f ? f->plan_ratio : 0, 3);
        churn__jw_int(w, "days_observed", f ? f->plan_days : 0);
        churn__jw_num(w, "events_observed", f ? f->plan_events : 0, 0);
        churn__jw_num(w, "expected_events", f ? f->plan_expected : 0, 2);
        churn__jw_num(w, "seat_elasticity", f ? 1 + f->plan_slope : 1, 3);
        churn__jw_num(w, "max_activity", c->trial_max_activity, 3);
        snprintf(sum, sum_len,
                 "trial ends %s: engagement %.1f, activity "
                 "%.0f%% of its plan's accounts",
                 churn_ts_format(acc->trial_end_ms, t), f ? f->engagement : 0,
                 f ? 100 * f->plan_ratio : 0);
        break;
    }
    case CHURN_RULE_FEATURE_ABANDONMENT: {
        size_t len = 0;
        sum[0] = '\0';
        churn__jw_arr_open(w, "features");
        for (size_t i = 0, n = 0; i < c->key_feature_cnt; i++) {
            if (!((f->key_regular >> i) & 1) ||
                ((f->key_used_lately >> i) & 1)) {
                continue;
            }
            churn__jw_cstr(w, NULL, c->key_features[i]);
            if (len < sum_len) {
                len +=
                    (size_t)snprintf(sum + len, sum_len - len, "%s%s",
                                     n++ > 0 ? ", " : "", c->key_features[i]);
            }
        }
        churn__jw_arr_close(w);
        churn__jw_int(w, "unused_days", c->abandon_after_ms / bucket_days);
        write_usage_weak(w, f, c->abandon_max_activity, c->abandon_z);
        if (len < sum_len) {
            snprintf(sum + len, sum_len - len, " unused for %lld days",
                     (long long)(c->abandon_after_ms / bucket_days));
        }
        break;
    }
    case CHURN_RULE_DETRACTOR_FEEDBACK:
        if (acc->nps >= 0) {
            churn__jw_int(w, "nps", acc->nps);
        } else {
            churn__jw_null(w, "nps");
        }
        churn__jw_num(w, "sentiment", acc->sentiment_milli / 1000.0, 3);
        churn__jw_int(w, "nps_max", c->detractor_nps_max);
        churn__jw_num(w, "sentiment_max", c->detractor_sentiment_max, 3);
        churn__jw_time(w, "feedback_at", acc->feedback_ms);
        write_usage_weak(w, f, c->detractor_max_activity, c->detractor_z);
        if (acc->feedback_ms != INT64_MIN && acc->nps >= 0 &&
            acc->nps <= c->detractor_nps_max) {
            snprintf(sum, sum_len, "detractor feedback: NPS %d (at most %d)",
                     acc->nps, c->detractor_nps_max);
        } else {
            snprintf(sum, sum_len,
                     "negative ticket: sentiment %.2f (at most "
                     "%.2f)",
                     acc->sentiment_milli / 1000.0, c->detractor_sentiment_max);
        }
        break;
    case CHURN_RULE_CHARGEBACK:
        churn__jw_time(w, "chargeback_at", acc->chargeback_ms);
        snprintf(sum, sum_len, "chargeback filed");
        break;
    case CHURN_RULE_HEALTH_CRITICAL:
        churn__jw_num(w, "health", f->health, 1);
        churn__jw_num(w, "threshold", c->score_band_at_risk, 1);
        churn__jw_num(w, "engagement", f->engagement, 1);
        churn__jw_num(w, "payment", f->payment, 1);
        churn__jw_num(w, "subscription", f->subscription, 1);
        churn__jw_num(w, "feedback", f->feedback, 1);
        churn__jw_cstr(w, "dominant", component_names[dominant(eng, f)]);
        snprintf(sum, sum_len,
                 "health %.1f is critical (below %.0f), "
                 "mostly %s",
                 f->health, c->score_band_at_risk,
                 component_names[dominant(eng, f)]);
        break;
    case CHURN_RULE__COUNT:
        break;
    }
    churn__jw_close(w);
}

static void write_alert(struct churn_engine *eng,
                        const struct churn__account *acc,
                        enum churn_rule rule,
                        bool firing,
                        int64_t since_ms,
                        int64_t at_ms,
                        const struct churn__figures *f,
                        const char *outcome)
{
    struct churn__jw *w = &eng->jw;
    char id[20], sum[256];
    uint64_t h = alert_id(acc, rule, since_ms);
    const char *kind = rule_kind[rule];

    snprintf(id, sizeof(id), "%016llx", (unsigned long long)h);
    if (rule == CHURN_RULE_CANCEL_SCHEDULED &&
        (acc->flags & CHURN__AF_INVOLUNTARY)) {
        kind = "involuntary";
    }
    if (kind == NULL) {
        kind = f ? component_kinds[dominant(eng, f)] : "voluntary";
    }
    churn__jw_reset(w);
    churn__jw_open(w, NULL);
    churn__jw_cstr(w, "alert_id", id);
    churn__jw_cstr(w, "rule", churn_rule_name(rule));
    churn__jw_cstr(w, "status", firing ? "firing" : "resolved");
    churn__jw_cstr(w, "severity",
                   churn_severity_name(eng->cfg.rules[rule].severity));
    churn__jw_str(w, "account_id",
                  (struct churn_str){ churn__acc_id(acc), acc->id_len });
    churn__jw_time(w, "since", since_ms);
    churn__jw_time(w, "event_time", at_ms);
    write_context(eng, acc);
    churn__jw_int(w, "mrr_at_risk", acc->mrr);
    churn__jw_str_or_null(w, "currency",
                          churn__intern_get(&eng->intern, acc->currency));
    churn__jw_cstr(w, "churn_kind", kind);
    if (!firing) {
        churn__jw_cstr(w, "outcome", outcome);
    }
    write_evidence(eng, acc, rule, at_ms, f, sum, sizeof(sum));
    if (!firing) {
        /* The evidence holds the figures at the resolve; the summary says
         * what ended and how long it lasted. */
        snprintf(sum, sizeof(sum), "%s resolved (%s) after %.1f days",
                 churn_rule_name(rule), outcome,
                 (double)(at_ms - since_ms) / (double)CHURN__DAY_MS);
    }
    churn__jw_cstr(w, "summary", sum);
    churn__jw_close(w);
}

void churn__alert_fire(struct churn_engine *eng,
                       struct churn__account *acc,
                       enum churn_rule rule,
                       int64_t at_ms,
                       const struct churn__figures *f)
{
    acc->firing |= (uint16_t)(1u << rule);
    acc->rule_time[rule] = at_ms;
    write_alert(eng, acc, rule, true, at_ms, at_ms, f, NULL);
    emit(eng, acc, CHURN_TOPIC_ALERTS, at_ms);
    eng->stats.alerts_firing++;
    eng->stats.alerts_by_rule[rule]++;
}

void churn__alert_resolve(struct churn_engine *eng,
                          struct churn__account *acc,
                          enum churn_rule rule,
                          int64_t at_ms,
                          const char *outcome)
{
    int64_t since = acc->rule_time[rule];
    struct churn__figures f;
    const struct churn__figures *fp = NULL;

    if (rule == CHURN_RULE_ENGAGEMENT_DROP || rule == CHURN_RULE_INACTIVITY ||
        rule == CHURN_RULE_FEATURE_ABANDONMENT ||
        rule == CHURN_RULE_TRIAL_LOW_ACTIVATION ||
        rule == CHURN_RULE_HEALTH_CRITICAL) {
        /* Evidence at resolve time: the figures that cleared it. */
        churn__figures_compute(eng, acc, churn__bucket_of(eng, at_ms), &f);
        fp = &f;
    }
    acc->firing &= (uint16_t) ~(1u << rule);
    acc->rule_time[rule] = at_ms + eng->cfg.rules[rule].cooldown_ms;
    write_alert(eng, acc, rule, false, since, at_ms, fp, outcome);
    emit(eng, acc, CHURN_TOPIC_ALERTS, at_ms);
    eng->stats.alerts_resolved++;
    eng->stats.alerts_resolved_by_rule[rule]++;
}

static void rule_step(struct churn_engine *eng,
                      struct churn__account *acc,
                      enum churn_rule rule,
                      bool fire,
                      bool clear,
                      bool silent,
                      int64_t at_ms,
                      const struct churn__figures *f,
                      const char *outcome)
{
    if (is_firing(acc, rule)) {
        if (clear) {
            churn__alert_resolve(eng, acc, rule, at_ms, outcome);
        }
    } else if (fire && !silent && churn__rule_can_fire(eng, acc, rule, at_ms)) {
        churn__alert_fire(eng, acc, rule, at_ms, f);
    }
}

void churn__detect_boundary(struct churn_engine *eng,
                            struct churn__account *acc,
                            const struct churn__figures *f,
                            int64_t at_ms)
{
    const struct churn_config *c = &eng->cfg;
    int64_t bucket = c->window_bucket_ms;
    bool paused = acc->status == CHURN__ST_PAUSED;
    bool canceling = acc->status == CHURN__ST_CANCEL_SCHEDULED ||
                     is_firing(acc, CHURN_RULE_CANCEL_SCHEDULED);
    /* until the recent window is clear of a pause, it is no evidence */
    bool after_pause =
        acc->resumed_bucket != INT32_MIN &&
        f->boundary - acc->resumed_bucket <= (int32_t)f->recent_n;
    bool usage_silent = paused || canceling;
    bool fire, clear;

    /* engagement_drop: count tests of the last weeks against the account's
     * own long reference, corroborated by feedback and key features */
    {
        struct drop_eval e = drop_eval(eng, acc, f, at_ms);
        fire = e.fires;
        clear =
            f->drop[0].ok ? f->drop[0].ratio >= c->drop_resolve_ratio : paused;
    }
    rule_step(eng, acc, CHURN_RULE_ENGAGEMENT_DROP, fire, clear,
              usage_silent || after_pause, at_ms, f, "cleared");

    /* inactivity: a timer on the watermark, judged against the account's
     * own rhythm: a gap of d idle days when a share p of days is active
     * has probability about (1 - p)^d */
    clear = f->days_since_usage < c->inactivity_after_ms / bucket;
    fire = !clear && f->observed_days_before >= 7 &&
           churn__inactivity_gap_p(f) <= c->inactivity_max_gap_p;
    rule_step(eng, acc, CHURN_RULE_INACTIVITY, fire, clear, usage_silent, at_ms,
              f, "cleared");

    /* payment_failure_streak, the time half: a failure left unrecovered */
    if (c->failure_unresolved_ms > 0 && acc->fail_streak > 0 &&
        acc->fail_ms != INT64_MIN &&
        at_ms - acc->fail_ms >= c->failure_unresolved_ms &&
        churn__rule_can_fire(eng, acc, CHURN_RULE_PAYMENT_FAILURE_STREAK,
                             at_ms)) {
        churn__alert_fire(eng, acc, CHURN_RULE_PAYMENT_FAILURE_STREAK, at_ms,
                          f);
    }

    /* card_expiring */
    fire = churn__card_expires_within(eng, acc, at_ms);
    rule_step(eng, acc, CHURN_RULE_CARD_EXPIRING, fire, !fire, false, at_ms, f,
              "card_updated");

    /* trial_low_activation */
    fire = acc->status == CHURN__ST_TRIALING && acc->trial_end_ms > at_ms &&
           acc->trial_end_ms - at_ms <= c->trial_before_ms &&
           (f->engagement < c->trial_max_engagement ||
            (f->plan_expected > 0 && f->plan_ratio <= c->trial_max_activity));
    clear = acc->status != CHURN__ST_TRIALING ||
            (f->engagement >= c->trial_max_engagement + 10 &&
             (f->plan_expected <= 0 ||
              f->plan_ratio > c->trial_max_activity + 0.1));
    rule_step(eng, acc, CHURN_RULE_TRIAL_LOW_ACTIVATION, fire, clear, paused,
              at_ms, f, "cleared");

    /* feature_abandonment: a key feature used regularly, unused since, with
     * usage evidence (usage_weak) */
    if (c->key_feature_cnt > 0) {
        clear = !key_gone(c, f);
        fire = !clear &&
               (c->abandon_z <= 0 ||
                usage_weak(f, c->abandon_max_activity, c->abandon_z) >= 0);
        rule_step(eng, acc, CHURN_RULE_FEATURE_ABANDONMENT, fire, clear,
                  usage_silent || after_pause, at_ms, f, "cleared");
    }

    /* detractor_feedback: a pending detractor once usage is weak too */
    if (!usage_silent) {
        churn__detractor_judge(eng, acc, at_ms, f);
    }

    /* health_critical, resolving only 5 points above the band */
    fire = f->band == CHURN__BAND_CRITICAL;
    clear = f->health >= c->score_band_at_risk + 5;
    rule_step(eng, acc, CHURN_RULE_HEALTH_CRITICAL, fire, clear, canceling,
              at_ms, f, "cleared");

    /* one-off facts stay open for a window, then resolve */
    if (is_firing(acc, CHURN_RULE_DOWNGRADE) &&
        at_ms - acc->rule_time[CHURN_RULE_DOWNGRADE] >= FACT_WINDOW_MS) {
        churn__alert_resolve(eng, acc, CHURN_RULE_DOWNGRADE, at_ms, "expired");
    }
    if (is_firing(acc, CHURN_RULE_DETRACTOR_FEEDBACK) &&
        at_ms - acc->rule_time[CHURN_RULE_DETRACTOR_FEEDBACK] >=
            FACT_WINDOW_MS) {
        churn__alert_resolve(eng, acc, CHURN_RULE_DETRACTOR_FEEDBACK, at_ms,
                             "expired");
    }
    if (is_firing(acc, CHURN_RULE_CHARGEBACK) &&
        at_ms - acc->rule_time[CHURN_RULE_CHARGEBACK] >= FACT_WINDOW_MS) {
        churn__alert_resolve(eng, acc, CHURN_RULE_CHARGEBACK, at_ms, "expired");
    }
}

void churn__write_components(struct churn__jw *w,
                             const struct churn__figures *f)
{
    churn__jw_open(w, "components");
    churn__jw_num(w, "engagement", f->engagement, 1);
    churn__jw_num(w, "payment", f->payment, 1);
    churn__jw_num(w, "subscription", f->subscription, 1);
    churn__jw_num(w, "feedback", f->feedback, 1);
    churn__jw_close(w);
}

void churn__write_usage_figures(struct churn__jw *w,
                                const struct churn__figures *f)
{
    churn__jw_num(w, "active_users_recent", f->users_recent, 1);
    churn__jw_num(w, "active_users_baseline_weekly", f->users_base_weekly, 1);
    churn__jw_num(w, "features_recent", f->features_recent, 1);
    churn__jw_num(w, "features_baseline_weekly", f->features_base_weekly, 1);
    churn__jw_int(w, "logins_recent", (int64_t)f->logins_recent);
    churn__jw_int(w, "session_minutes_recent", (int64_t)f->session_min_recent);
    churn__jw_int(w, "api_calls_recent", (int64_t)f->api_calls_recent);
    churn__jw_int(w, "days_since_usage", f->days_since_usage);
    churn__jw_bool(w, "insufficient_history", f->insufficient);
}

void churn__signal_maybe(struct churn_engine *eng,
                         struct churn__account *acc,
                         const struct churn__figures *f,
                         int64_t at_ms)
{
    struct churn__jw *w = &eng->jw;
    bool first = acc->signaled_band == CHURN__BAND_NONE;

    acc->band = f->band;
    acc->health = (float)f->health;
    acc->engagement = (float)f->engagement;
    if (!first && f->band == acc->signaled_band &&
        fabs(f->health - acc->signaled_health) < eng->cfg.score_signal_delta) {
        return;
    }
    churn__jw_reset(w);
    churn__jw_open(w, NULL);
    churn__jw_str(w, "account_id",
                  (struct churn_str){ churn__acc_id(acc), acc->id_len });
    churn__jw_time(w, "event_time", at_ms);
    churn__jw_num(w, "health", f->health, 1);
    churn__jw_cstr(w, "band", churn__band_name(f->band));
    if (first) {
        churn__jw_null(w, "previous_band");
    } else {
        churn__jw_cstr(w, "previous_band",
                       churn__band_name(acc->signaled_band));
    }
    churn__write_components(w, f);
    churn__jw_open(w, "engagement");
    churn__jw_num(w, "activity", f->activity, 3);
    churn__jw_num(w, "breadth", f->breadth, 3);
    churn__jw_num(w, "users", f->users, 3);
    churn__jw_num(w, "recency", f->recency, 3);
    churn__jw_num(w, "recent_events", f->recent_events, 0);
    churn__jw_num(w, "baseline_daily_mean", f->base_daily_mean, 3);
    churn__jw_num(w, "expected_recent", f->expected, 2);
    churn__jw_num(w, "ratio", f->ratio, 3);
    churn__write_usage_figures(w, f);
    churn__jw_close(w);
    write_context(eng, acc);
    churn__jw_int(w, "mrr", acc->mrr);
    churn__jw_str_or_null(w, "currency",
                          churn__intern_get(&eng->intern, acc->currency));
    churn__jw_close(w);
    emit(eng, acc, CHURN_TOPIC_SIGNALS, at_ms);
    acc->signaled_band = f->band;
    acc->signaled_health = (float)f->health;
    acc->flags |= CHURN__AF_SCORED;
    eng->stats.signals++;
}

uint64_t churn__alert_id(const struct churn__account *acc,
                         enum churn_rule rule,
                         int64_t since_ms)
{
    return alert_id(acc, rule, since_ms);
}
