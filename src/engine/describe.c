/* SPDX-License-Identifier: Apache-2.0 */
/*
 * churn_engine_describe_account(): everything churnd knows about one
 * account, as the numbers the signals and alerts were built from, so a
 * user can recompute each score by hand (README "Scores").
 *
 * It writes with its own JSON writer and recomputes the figures into a
 * local struct: the engine's outputs, scratch writer and state are left
 * as they were. The casts from const are for internal readers
 * (churn__figures_compute, churn__ring) that take non-const pointers but
 * only read.
 */
#include "engine_int.h"
#include "metrics.h"

#include <stdlib.h>
#include <string.h>

static const char *status_name(uint8_t st)
{
    switch (st) {
    case CHURN__ST_TRIALING:
        return "trialing";
    case CHURN__ST_ACTIVE:
        return "active";
    case CHURN__ST_PAUSED:
        return "paused";
    case CHURN__ST_CANCEL_SCHEDULED:
        return "cancel_scheduled";
    case CHURN__ST_CANCELED:
        return "canceled";
    case CHURN__ST_EXPIRED:
        return "expired";
    default:
        return "none";
    }
}

static void band_or_null(struct churn__jw *w, const char *key, uint8_t band)
{
    if (band >= CHURN__BAND_NONE) {
        churn__jw_null(w, key);
    } else {
        churn__jw_cstr(w, key, churn__band_name(band));
    }
}

static struct churn_str str2(const char *p, size_t max)
{
    size_t n = 0;

    while (n < max && p[n] != '\0') {
        n++;
    }
    return (struct churn_str){ p, n };
}

static void write_scores(const struct churn_engine *eng,
                         const struct churn__account *acc,
                         const struct churn__figures *f,
                         struct churn__jw *w)
{
    const struct churn_config *c = &eng->cfg;

    churn__jw_open(w, "scores");
    churn__jw_time(w, "as_of", churn__bucket_start(eng, f->boundary));
    churn__jw_num(w, "health", f->health, 1);
    churn__jw_cstr(w, "band", churn__band_name(f->band));
    churn__write_components(w, f);
    churn__jw_open(w, "weights");
    churn__jw_num(w, "engagement", c->score_weight_engagement, 4);
    churn__jw_num(w, "payment", c->score_weight_payment, 4);
    churn__jw_num(w, "subscription", c->score_weight_subscription, 4);
    churn__jw_num(w, "feedback", c->score_weight_feedback, 4);
    churn__jw_close(w);
    churn__jw_open(w, "band_thresholds");
    churn__jw_num(w, "healthy", c->score_band_healthy, 2);
    churn__jw_num(w, "watch", c->score_band_watch, 2);
    churn__jw_num(w, "at_risk", c->score_band_at_risk, 2);
    churn__jw_close(w);
    churn__jw_open(w, "engagement");
    churn__jw_num(w, "activity", f->activity, 4);
    churn__jw_num(w, "breadth", f->breadth, 4);
    churn__jw_num(w, "users", f->users, 4);
    churn__jw_num(w, "recency", f->recency, 4);
    churn__jw_int(w, "recent_days", f->recent_n);
    churn__jw_int(w, "baseline_days", f->base_avail);
    churn__jw_num(w, "recent_events", f->recent_events, 0);
    churn__jw_num(w, "baseline_events", f->base_events, 0);
    churn__jw_num(w, "baseline_daily_mean", f->base_daily_mean, 3);
    churn__jw_num(w, "expected_recent", f->expected, 2);
    churn__jw_num(w, "ratio", f->ratio, 3);
    churn__jw_num(w, "dispersion", f->dispersion, 3);
    churn__jw_num(w, "z", f->z, 2);
    churn__write_usage_figures(w, f);
    churn__jw_close(w);
    /* what the last boundary and the last signal said */
    churn__jw_open(w, "last_boundary");
    if (acc->band >= CHURN__BAND_NONE) {
        churn__jw_null(w, "health");
    } else {
        churn__jw_num(w, "health", acc->health, 1);
    }
    band_or_null(w, "band", acc->band);
    churn__jw_close(w);
    churn__jw_open(w, "last_signal");
    if (acc->signaled_band >= CHURN__BAND_NONE) {
        churn__jw_null(w, "health");
    } else {
        churn__jw_num(w, "health", acc->signaled_health, 1);
    }
    band_or_null(w, "band", acc->signaled_band);
    churn__jw_close(w);
    churn__jw_close(w);
}

static void write_facts(const struct churn_engine *eng,
                        const struct churn__account *acc,
                        struct churn__jw *w)
{
    const struct churn__intern *in = &eng->intern;
    struct churn_str decline = churn__intern_get(in, acc->decline);

    churn__jw_open(w, "facts");
    churn__jw_open(w, "subscription");
    churn__jw_cstr(w, "status", status_name(acc->status));
    churn__jw_int(w, "mrr", acc->mrr);
    churn__jw_str_or_null(w, "currency", churn__intern_get(in, acc->currency));
    churn__jw_int(w, "seats", acc->seats);
    if (acc->downgrade_ms != INT64_MIN) {
        churn__jw_time(w, "downgraded_at", acc->downgrade_ms);
        churn__jw_int(w, "previous_mrr", acc->prev_mrr);
        churn__jw_int(w, "previous_seats", acc->prev_seats);
    } else {
        churn__jw_null(w, "downgraded_at");
    }
    churn__jw_time(w, "trial_end", acc->trial_end_ms);
    churn__jw_time(w, "cancel_at", acc->cancel_at_ms);
    churn__jw_str_or_null(w, "cancel_reason",
                          churn__intern_get(in, acc->cancel_reason));
    churn__jw_bool(w, "involuntary", (acc->flags & CHURN__AF_INVOLUNTARY) != 0);
    churn__jw_close(w);

    churn__jw_open(w, "payment");
    churn__jw_int(w, "failures", acc->fail_streak);
    churn__jw_time(w, "first_failure_at", acc->fail_ms);
    churn__jw_str_or_null(w, "last_decline_code", decline);
    if (decline.len > 0) {
        churn__jw_cstr(
            w, "decline_class",
            churn__decline_class_name(churn__decline_classify(decline)));
    } else {
        churn__jw_null(w, "decline_class");
    }
    churn__jw_bool(w, "hard_decline",
                   (acc->flags & CHURN__AF_HARD_DECLINE) != 0);
    churn__jw_bool(w, "needs_new_card",
                   (acc->flags & CHURN__AF_NEEDS_NEW_CARD) != 0);
    if (acc->card_exp_ym >= 0) {
        char ym[16];
        snprintf(ym, sizeof(ym), "%04d-%02d", (int)(acc->card_exp_ym / 12),
                 (int)(acc->card_exp_ym % 12) + 1);
        churn__jw_cstr(w, "card_exp", ym);
    } else {
        churn__jw_null(w, "card_exp");
    }
    churn__jw_time(w, "chargeback_at", acc->chargeback_ms);
    churn__jw_close(w);

    churn__jw_open(w, "feedback");
    if (acc->nps >= 0) {
        churn__jw_int(w, "nps", acc->nps);
    } else {
        churn__jw_null(w, "nps");
    }
    churn__jw_num(w, "sentiment", acc->sentiment_milli / 1000.0, 3);
    churn__jw_time(w, "detractor_at", acc->feedback_ms);
    churn__jw_close(w);

    churn__jw_time(w, "first_event", acc->first_ms);
    churn__jw_time(w, "last_event", acc->last_ms);
    churn__jw_close(w);
}

/* The ring, oldest bucket first, from the account's first bucket on. */
static void write_window(const struct churn_engine *eng,
                         const struct churn__account *acc,
                         struct churn__jw *w)
{
    struct churn__account *a = (struct churn__account *)acc;
    struct churn__ring_view v = churn__ring(a, eng->ring_len);

    churn__jw_open(w, "window");
    churn__jw_int(w, "bucket_ms", eng->cfg.window_bucket_ms);
    churn__jw_arr_open(w, "buckets");
    if (acc->head_bucket != INT32_MIN) {
        int32_t oldest = acc->head_bucket - (int32_t)eng->ring_len + 1;
        if (oldest < acc->first_bucket) {
            oldest = acc->first_bucket;
        }
        for (int32_t b = oldest; b <= acc->head_bucket; b++) {
            int32_t s = churn__ring_slot(acc, eng->ring_len, b);
            if (s < 0) {
                continue;
            }
            churn__jw_open(w, NULL);
            churn__jw_time(w, "start", churn__bucket_start(eng, b));
            churn__jw_int(w, "events", v.events[s]);
            churn__jw_int(w, "logins", v.logins[s]);
            churn__jw_int(w, "session_minutes", v.session_min[s]);
            churn__jw_int(w, "api_calls", v.api_calls[s]);
            churn__jw_num(w, "users", churn__bitmap_estimate(v.users[s], 32),
                          1);
            churn__jw_num(w, "features",
                          churn__bitmap_estimate(v.features[s], 16), 1);
            churn__jw_close(w);
        }
    }
    churn__jw_arr_close(w);
    churn__jw_close(w);
}

static void write_alerts(const struct churn_engine *eng,
                         const struct churn__account *acc,
                         struct churn__jw *w)
{
    int64_t now = eng->stats.watermark_ms;

    churn__jw_arr_open(w, "open_alerts");
    for (int r = 0; r < CHURN_RULE__COUNT; r++) {
        char id[20];
        if (!(acc->firing & (1u << r))) {
            continue;
        }
        snprintf(id, sizeof(id), "%016llx",
                 (unsigned long long)churn__alert_id(acc, (enum churn_rule)r,
                                                     acc->rule_time[r]));
        churn__jw_open(w, NULL);
        churn__jw_cstr(w, "alert_id", id);
        churn__jw_cstr(w, "rule", churn_rule_name((enum churn_rule)r));
        churn__jw_cstr(w, "severity",
                       churn_severity_name(eng->cfg.rules[r].severity));
        churn__jw_time(w, "since", acc->rule_time[r]);
        churn__jw_close(w);
    }
    churn__jw_arr_close(w);
    /* rules resolved lately, silent until their cool-down ends */
    churn__jw_arr_open(w, "cooldowns");
    for (int r = 0; r < CHURN_RULE__COUNT; r++) {
        if ((acc->firing & (1u << r)) || acc->rule_time[r] == INT64_MIN ||
            acc->rule_time[r] <= now) {
            continue;
        }
        churn__jw_open(w, NULL);
        churn__jw_cstr(w, "rule", churn_rule_name((enum churn_rule)r));
        churn__jw_time(w, "until", acc->rule_time[r]);
        churn__jw_close(w);
    }
    churn__jw_arr_close(w);
}

enum churn_err churn_engine_describe_account(const struct churn_engine *eng,
                                             struct churn_str id,
                                             char **json,
                                             size_t *len,
                                             struct churn_error *err)
{
    struct churn_engine *e = (struct churn_engine *)eng;
    struct churn__account *acc;
    struct churn__jw w = { 0 };
    struct churn__figures f;
    struct churn_str plan;
    int cat;

    *json = NULL;
    *len = 0;
    acc = churn__table_find(e->accounts, id, churn__hash(id.ptr, id.len));
    if (acc == NULL) {
        return CHURN_OK;
    }
    plan = churn__intern_get(&eng->intern, acc->plan);
    cat = plan.len > 0 ? churn__catalog_find(eng, plan) : -1;
    churn__figures_compute(e, acc,
                           eng->evaluated != INT32_MIN
                               ? eng->evaluated
                               : churn__bucket_of(eng, acc->last_ms) + 1,
                           &f);

    churn__jw_open(&w, NULL);
    churn__jw_str(&w, "account_id", id);
    churn__jw_time(&w, "watermark", eng->stats.watermark_ms);
    churn__jw_str_or_null(&w, "plan", plan);
    churn__jw_str(&w, "segment", churn__catalog_segment(eng, acc->plan));
    if (cat >= 0) {
        const struct churn_plan_config *p = &eng->cfg.plans[cat];
        churn__jw_str_or_null(&w, "tier", str2(p->tier, sizeof(p->tier)));
        churn__jw_int(&w, "list_price", p->price);
    } else {
        churn__jw_null(&w, "tier");
        churn__jw_null(&w, "list_price");
    }
    if (acc->country[0] != '\0') {
        churn__jw_str(&w, "country", str2(acc->country, 2));
        churn__jw_str_or_null(&w, "region", str2(acc->region, 3));
    } else {
        churn__jw_null(&w, "country");
        churn__jw_null(&w, "region");
    }
    write_scores(eng, acc, &f, &w);
    write_facts(eng, acc, &w);
    write_window(eng, acc, &w);
    write_alerts(eng, acc, &w);
    churn__jw_open(&w, "metrics");
    churn__jw_bool(&w, "counted_active",
                   (acc->flags & CHURN__AF_M_COUNTED) != 0);
    if ((acc->flags & CHURN__AF_M_IN_COUNTRY) && acc->m_country[0] != '\0') {
        churn__jw_str(&w, "country", str2(acc->m_country, 2));
    } else {
        churn__jw_null(&w, "country");
    }
    churn__jw_close(&w);
    churn__jw_close(&w);
    churn__jw_raw(&w, "", 1); /* the NUL */
    if (w.oom) {
        churn__jw_release(&w);
        return churn_error_set(err, CHURN_ENOMEM, "describe: out of memory");
    }
    *json = w.p;
    *len = w.len - 1;
    return CHURN_OK;
}
