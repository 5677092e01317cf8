/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Figures and scores of an account at a bucket boundary B: only completed
 * buckets (< B) count. The formulas are written out in the README
 * ("Scores"); keep the two in step.
 *
 *   recent   = the score.recent buckets before B          (default 7)
 *   baseline = the score.baseline buckets before recent   (default 28)
 */
#include "engine_int.h"

#include <math.h>
#include <string.h>

static double clamp01(double x)
{
    return x < 0 ? 0 : (x > 1 ? 1 : x);
}

const char *churn__band_name(uint8_t band)
{
    switch (band) {
    case CHURN__BAND_HEALTHY:
        return "healthy";
    case CHURN__BAND_WATCH:
        return "watch";
    case CHURN__BAND_AT_RISK:
        return "at_risk";
    case CHURN__BAND_CRITICAL:
        return "critical";
    default:
        return "none";
    }
}

/* Variance-to-mean ratio of daily counts around their weekday means
 * (quasi-Poisson phi, not floored), with its degrees of freedom in *df (0
 * when it cannot be estimated). */
static double weekday_phi(
    const double *x, uint32_t n, uint32_t period, double mean, uint32_t *df)
{
    double gsum[32] = { 0 }, gcnt[32] = { 0 }, ss = 0;
    uint32_t groups = 0;

    *df = 0;
    if (mean <= 0 || n < 2) {
        return 0;
    }
    if (period > 32 || n < 2 * period) {
        period = 1;
    }
    /* g runs i % period without a division per day */
    for (uint32_t i = 0, g = 0; i < n; i++, g = g + 1 == period ? 0 : g + 1) {
        gsum[g] += x[i];
        gcnt[g] += 1;
    }
    for (uint32_t g = 0; g < period; g++) {
        groups += gcnt[g] > 0;
    }
    for (uint32_t i = 0, g = 0; i < n; i++, g = g + 1 == period ? 0 : g + 1) {
        double d = x[i] - gsum[g] / gcnt[g];
        ss += d * d;
    }
    if (n <= groups) {
        return 0;
    }
    *df = n - groups;
    return ss / (double)*df / mean;
}

/* Dispersion of the baseline's daily counts around their weekday means
 * (phi >= 1): bursty accounts need stronger evidence. */
static double
dispersion(const double *x, uint32_t n, uint32_t period, double mean)
{
    uint32_t df;
    double phi = weekday_phi(x, n, period, mean, &df);

    return df == 0 || phi < 1 ? 1 : phi;
}

/*
 * engagement_drop's count test of the last d->n buckets before B (struct
 * churn__drop). The reference is every observed bucket before the window:
 * the folded weeks plus the ring from churn__ring_ref_start, so a decline
 * that has lasted weeks is measured against where the account was, not
 * against its own fading baseline. Not judged while a pause overlaps the
 * window, nor with fewer than min_reference observed days.
 */
static void drop_test(const struct churn_engine *eng,
                      const struct churn__account *acc,
                      const struct churn__ring_view *v,
                      int32_t boundary,
                      uint32_t period,
                      struct churn__drop *d)
{
    const struct churn_config *cfg = &eng->cfg;
    int32_t win = boundary - (int32_t)d->n;
    int32_t from = churn__ring_ref_start(acc, eng->ring_len, eng->week_n);
    double x[64], ring_sum = 0, fold_sum;
    uint32_t rn = 0, quiet, df_ring, df_fold = 0;
    double phi_ring, phi_fold = 0, pooled;

    if (acc->resumed_bucket != INT32_MIN && acc->resumed_bucket >= win) {
        return;
    }
    /* Past the head the days are silent: a stale ring (a long-quiet
     * account) has more reference days than x holds, all zero beyond it. */
    for (int32_t b = from; b < win && rn < 64; b++) {
        int32_t s = churn__ring_slot(acc, eng->ring_len, b);
        x[rn] = s < 0 ? 0 : v->events[s];
        ring_sum += x[rn++];
    }
    quiet = from < win && (uint32_t)(win - from) > rn
                ? (uint32_t)(win - from) - rn
                : 0;
    for (int32_t b = win; b < boundary; b++) {
        int32_t s = churn__ring_slot(acc, eng->ring_len, b);
        d->events += s < 0 ? 0 : v->events[s];
    }
    d->ref_weeks = acc->fold_weeks;
    d->ref_days = rn + quiet + d->ref_weeks * eng->week_n;
    if (d->ref_days == 0 || (int64_t)d->ref_days * cfg->window_bucket_ms <
                                cfg->drop_min_reference_ms) {
        return;
    }
    fold_sum = (double)acc->fold_mean * d->ref_weeks;
    d->ref_daily = (ring_sum + fold_sum) / d->ref_days;
    if (d->ref_daily <= 0) {
        return;
    }
    d->expected = d->ref_daily * d->n;
    d->ratio = d->events / d->expected;
    phi_ring = weekday_phi(x, rn, period, rn ? ring_sum / rn : 0, &df_ring);
    if (d->ref_weeks >= 2 && acc->fold_mean > 0) {
        double m = acc->fold_mean, var = (double)acc->fold_sq - m * m;
        /* a week's count has variance phi x its mean */
        phi_fold = (var < 0 ? 0 : var) * d->ref_weeks / (d->ref_weeks - 1) / m;
        df_fold = d->ref_weeks - 1u;
    }
    pooled = df_ring + df_fold > 0 ? (phi_ring * df_ring + phi_fold * df_fold) /
                                         (df_ring + df_fold)
                                   : 0;
    d->dispersion =
        pooled < cfg->drop_min_dispersion ? cfg->drop_min_dispersion : pooled;
    d->z = (d->expected - d->events) /
           sqrt(d->dispersion * d->expected * (1 + (double)d->n / d->ref_days));
    d->ok = true;
}

/* Key features (their bits) used on at least 3 observed buckets before
 * the last rule.feature_abandonment.unused: used regularly, not once. */
static uint16_t key_regular(const struct churn_engine *eng,
                            const struct churn__account *acc,
                            const struct churn__ring_view *v,
                            int32_t boundary)
{
    const struct churn_config *cfg = &eng->cfg;
    int32_t from = churn__ring_ref_start(acc, eng->ring_len, eng->week_n);
    int32_t to =
        boundary - (int32_t)(cfg->abandon_after_ms / cfg->window_bucket_ms);
    uint8_t days[CHURN__FEATURE_BITS] = { 0 };
    uint16_t out = 0;

    if (cfg->key_feature_cnt == 0) {
        return 0;
    }
    for (int32_t b = from; b < to; b++) {
        int32_t s = churn__ring_slot(acc, eng->ring_len, b);
        if (s < 0) {
            continue;
        }
        for (size_t k = 0; k < cfg->key_feature_cnt; k++) {
            days[k] =
                (uint8_t)(days[k] + (((unsigned)v->features[s] >> k & 1u) != 0
                                         ? 1u
                                         : 0u));
        }
    }
    for (size_t k = 0; k < cfg->key_feature_cnt; k++) {
        out |= (uint16_t)(days[k] >= 3 ? 1u << k : 0u);
    }
    return out;
}

void churn__cohort_add(struct churn__cohort *c, double seats, double daily)
{
    double ls = log(seats), lp = log(daily / seats);

    c->sum_log_per_seat += llround(lp * CHURN__COHORT_SCALE);
    c->sum_ls += llround(ls * CHURN__COHORT_SCALE);
    c->sum_ls2 += llround(ls * ls * CHURN__COHORT_SCALE);
    c->sum_ls_lp += llround(ls * lp * CHURN__COHORT_SCALE);
    c->cnt++;
}

/*
 * ln(per seat) = mean + slope (ln seats - mean ln seats), the slope a ridge
 * regression over the cohort (lambda 0.5 per account pulls it to 0, "per
 * seat", when the plan's accounts differ little in size) clamped to
 * [-0.5, 0]: a larger account uses at most as much per seat, and at least
 * as much in all as the square root of its size says.
 */
double churn__cohort_per_seat(const struct churn__cohort *c,
                              double seats,
                              double *slope)
{
    double n = c->cnt, b = 0;
    double mp = (double)c->sum_log_per_seat / CHURN__COHORT_SCALE / n;
    double ms = (double)c->sum_ls / CHURN__COHORT_SCALE / n;
    double sxx = (double)c->sum_ls2 / CHURN__COHORT_SCALE - n * ms * ms;
    double sxy = (double)c->sum_ls_lp / CHURN__COHORT_SCALE - n * ms * mp;

    if (sxx > 0) {
        b = sxy / (sxx + 0.5 * n);
        b = b < -0.5 ? -0.5 : (b > 0 ? 0 : b);
    }
    if (slope != NULL) {
        *slope = b;
    }
    return exp(mp + b * (log(seats) - ms));
}

/*
 * A young account's (or a trial's) activity against its plan's cohort: the
 * events of every completed day since its first event, up to the whole
 * window, against the cohort's daily mean per seat for as many days. The
 * whole record is steadier than the last week, and a trial that already
 * has two weeks of its own "baseline" is still judged against accounts
 * that pay.
 */
static void plan_activity(const struct churn_engine *eng,
                          const struct churn__account *acc,
                          int32_t boundary,
                          const struct churn__ring_view *v,
                          struct churn__figures *f)
{
    const struct churn__cohort *c = &eng->cohort[acc->plan];
    double seats = acc->seats > 0 ? acc->seats : 1;
    int32_t from = boundary - (int32_t)(f->recent_n + f->base_n);

    if (c->cnt < 5 || (!f->insufficient && acc->status != CHURN__ST_TRIALING)) {
        return;
    }
    if (from < acc->first_bucket) {
        from = acc->first_bucket;
    }
    for (int32_t b = from; b < boundary; b++) {
        int32_t s = churn__ring_slot(acc, eng->ring_len, b);
        f->plan_events += s < 0 ? 0 : v->events[s];
        f->plan_days++;
    }
    if (f->plan_days > 0) {
        f->plan_expected = churn__cohort_per_seat(c, seats, &f->plan_slope) *
                           seats * f->plan_days;
        f->plan_ratio = f->plan_events / f->plan_expected;
    }
}

static double payment_component(const struct churn_engine *eng,
                                const struct churn__account *acc,
                                int64_t at_ms)
{
    double p = 100;
    int32_t ym_now;

    if (acc->flags & CHURN__AF_HARD_DECLINE) {
        p = 0;
    } else if (acc->fail_streak > 0) {
        p = 100 - 40.0 * acc->fail_streak;
    }
    if (acc->card_exp_ym >= 0) {
        ym_now = churn__ym_of(at_ms);
        if (acc->card_exp_ym < ym_now) {
            p = p < 20 ? p : 20;
        } else if (churn__card_expires_within(eng, acc, at_ms)) {
            p = p < 60 ? p : 60;
        }
    }
    if (acc->chargeback_ms != INT64_MIN &&
        at_ms - acc->chargeback_ms < CHURN__CHARGEBACK_WEIGH_MS) {
        p = 0;
    }
    return p < 0 ? 0 : p;
}

static double subscription_component(const struct churn_engine *eng,
                                     const struct churn__account *acc,
                                     int64_t at_ms)
{
    double s;

    switch (acc->status) {
    case CHURN__ST_TRIALING:
        s = 80;
        break;
    case CHURN__ST_PAUSED:
        s = 50;
        break;
    case CHURN__ST_CANCEL_SCHEDULED:
    case CHURN__ST_CANCELED:
    case CHURN__ST_EXPIRED:
        s = 0;
        break;
    default:
        s = 100;
    }
    if (s > 0 && acc->downgrade_ms != INT64_MIN &&
        at_ms - acc->downgrade_ms < CHURN__DOWNGRADE_WEIGH_MS && acc->prev_mrr > 0 &&
        acc->mrr < acc->prev_mrr) {
        double cut = (double)(acc->prev_mrr - acc->mrr) / (double)acc->prev_mrr;
        double d = 100 * (1 - cut);
        s = s < d ? s : d;
    }
    (void)eng;
    return s;
}

static double feedback_component(const struct churn__account *acc,
                                 int64_t at_ms)
{
    double f = 75; /* no feedback: neutral */

    if (acc->nps >= 0) {
        f = 10.0 * acc->nps;
    }
    if (acc->feedback_ms != INT64_MIN &&
        at_ms - acc->feedback_ms < CHURN__FEEDBACK_WEIGH_MS &&
        acc->sentiment_milli < 0) {
        double t = 50 + 50 * (acc->sentiment_milli / 1000.0);
        f = f < t ? f : t;
    }
    return f;
}

/* A baseline is usable from half its length on, and not when empty. */
static bool has_baseline(uint32_t avail, uint32_t base_n, double events)
{
    return avail >= base_n / 2 && events > 0;
}

static void window_lengths(const struct churn_config *cfg,
                           uint32_t *recent_n,
                           uint32_t *base_n)
{
    *recent_n = (uint32_t)(cfg->score_recent_ms / cfg->window_bucket_ms);
    *base_n = (uint32_t)(cfg->score_baseline_ms / cfg->window_bucket_ms);
}

void churn__figures_compute(struct churn_engine *eng,
                            struct churn__account *acc,
                            int32_t boundary,
                            struct churn__figures *f)
{
    const struct churn_config *cfg = &eng->cfg;
    struct churn__ring_view v = churn__ring(acc, eng->ring_len);
    double base_x[64];
    uint32_t users_recent = 0, feat_recent = 0;
    double users_weeks = 0, feat_weeks = 0;
    uint32_t weeks = 0;
    int64_t at_ms = churn__bucket_start(eng, boundary);
    uint32_t period;

    memset(f, 0, sizeof(*f));
    f->boundary = boundary;
    window_lengths(cfg, &f->recent_n, &f->base_n);
    period = (uint32_t)(7 * CHURN__DAY_MS / cfg->window_bucket_ms);
    if (period == 0) {
        period = 1;
    }

    /* recent window */
    for (uint32_t k = 1; k <= f->recent_n; k++) {
        int32_t s = churn__ring_slot(acc, eng->ring_len, boundary - (int32_t)k);
        if (s < 0) {
            continue;
        }
        f->recent_events += v.events[s];
        f->logins_recent += v.logins[s];
        f->session_min_recent += v.session_min[s];
        f->api_calls_recent += v.api_calls[s];
        users_recent |= v.users[s];
        feat_recent |= v.features[s];
    }
    f->users_recent = churn__bitmap_estimate(users_recent, 32);
    f->features_recent = churn__bitmap_estimate(feat_recent, 16);

    /* baseline window, oldest first, only buckets since the first event */
    int32_t base_end = boundary - (int32_t)f->recent_n; /* exclusive */
    int32_t base_start = base_end - (int32_t)f->base_n;
    if (base_start < acc->first_bucket) {
        base_start = acc->first_bucket;
    }
    uint32_t wk_users = 0, wk_feat = 0, in_week = 0;
    uint16_t key_base = 0;
    for (int32_t b = base_start; b < base_end; b++) {
        int32_t s = churn__ring_slot(acc, eng->ring_len, b);
        double x = s < 0 ? 0 : v.events[s];
        base_x[f->base_avail++] = x;
        f->base_events += x;
        if (s >= 0) {
            wk_users |= v.users[s];
            wk_feat |= v.features[s];
            key_base |= v.features[s];
        }
        if (++in_week == period || b + 1 == base_end) {
            if (in_week == period) {
                users_weeks += churn__bitmap_estimate(wk_users, 32);
                feat_weeks += churn__bitmap_estimate(wk_feat, 16);
                weeks++;
            }
            wk_users = wk_feat = 0;
            in_week = 0;
        }
    }
    f->key_used_base = key_base;
    for (int64_t k = 1; k <= cfg->abandon_after_ms / cfg->window_bucket_ms;
         k++) {
        int32_t s = churn__ring_slot(acc, eng->ring_len, boundary - (int32_t)k);
        if (s >= 0) {
            f->key_used_lately |= v.features[s];
        }
    }
    f->users_base_weekly = weeks ? users_weeks / weeks : 0;
    f->features_base_weekly = weeks ? feat_weeks / weeks : 0;

    /* days since the last usage before B */
    f->days_since_usage = -1;
    for (uint32_t k = 1; k <= eng->ring_len; k++) {
        int32_t b = boundary - (int32_t)k;
        int32_t s = churn__ring_slot(acc, eng->ring_len, b);
        if (b < acc->first_bucket) {
            break;
        }
        if (s >= 0 && v.events[s] > 0) {
            f->days_since_usage = (int32_t)k - 1;
            break;
        }
    }
    /* a pause is not idleness: count idle days from the resume on */
    if (acc->resumed_bucket != INT32_MIN && acc->resumed_bucket < boundary &&
        f->days_since_usage > boundary - 1 - acc->resumed_bucket) {
        f->days_since_usage = boundary - 1 - acc->resumed_bucket;
    }

    /* the account's rhythm before the idle run: its share of active days */
    if (f->days_since_usage >= 0) {
        for (int32_t b = boundary - 1 - f->days_since_usage;
             b >= acc->first_bucket; b--) {
            int32_t s = churn__ring_slot(acc, eng->ring_len, b);
            if (s < 0) {
                break;
            }
            f->observed_days_before++;
            f->active_days_before += v.events[s] > 0;
        }
    }
    if (f->days_since_usage < 0) {
        /* No usage inside the ring: idle since the first event at least,
         * counting the first event's day. */
        int64_t d = (int64_t)boundary - acc->first_bucket;
        f->days_since_usage = d > eng->ring_len ? (int32_t)eng->ring_len
                                                : (int32_t)(d < 0 ? 0 : d);
    }

    /* engagement_drop's windows against the long reference */
    f->drop[0].n = (uint32_t)(cfg->drop_window_ms / cfg->window_bucket_ms);
    f->drop[1].n = (uint32_t)(cfg->drop_long_window_ms / cfg->window_bucket_ms);
    for (int i = 0; i < 2; i++) {
        if (f->drop[i].n > 0) {
            drop_test(eng, acc, &v, boundary, period, &f->drop[i]);
        }
    }
    f->key_regular = key_regular(eng, acc, &v, boundary);

    /* activity against the account's own baseline, or its plan's cohort */
    f->insufficient = !has_baseline(f->base_avail, f->base_n, f->base_events);
    if (!f->insufficient) {
        f->base_daily_mean = f->base_events / f->base_avail;
        f->expected = f->base_daily_mean * f->recent_n;
        f->dispersion =
            dispersion(base_x, f->base_avail, period, f->base_daily_mean);
        if (f->dispersion < cfg->drop_min_dispersion) {
            f->dispersion = cfg->drop_min_dispersion;
        }
        f->ratio = f->recent_events / f->expected;
        /* Two-sample count test: E is itself estimated from base_avail
         * days, so Var(R - E) = phi * E * (1 + recent_n / base_avail). */
        f->z = (f->recent_events - f->expected) /
               sqrt(f->dispersion * f->expected *
                    (1 + (double)f->recent_n / f->base_avail));
        f->activity = clamp01(f->ratio);
        f->breadth = f->features_base_weekly > 0
                         ? clamp01(f->features_recent / f->features_base_weekly)
                         : (f->features_recent > 0 ? 1 : 0.5);
        f->users = f->users_base_weekly > 0
                       ? clamp01(f->users_recent / f->users_base_weekly)
                       : (f->users_recent > 0 ? 1 : 0.5);
    } else {
        const struct churn__cohort *c = &eng->cohort[acc->plan];
        int64_t observed = (int64_t)boundary - acc->first_bucket;
        if (observed > f->recent_n) {
            observed = f->recent_n;
        }
        if (observed < 1) {
            observed = 1;
        }
        f->dispersion = 1;
        if (c->cnt >= 5) {
            double seats = acc->seats > 0 ? acc->seats : 1;
            double per_day = churn__cohort_per_seat(c, seats, NULL) * seats;
            f->expected = per_day * (double)observed;
            f->ratio = f->recent_events / f->expected;
            f->activity = clamp01(f->ratio);
        } else {
            f->activity = f->recent_events > 0 ? 1 : 0;
        }
        f->breadth = clamp01(f->features_recent / 3.0);
        f->users = clamp01(f->users_recent /
                           (acc->seats > 0 && acc->seats < 3 ? acc->seats : 3));
    }
    plan_activity(eng, acc, boundary, &v, f);
    f->recency = f->days_since_usage <= 1
                     ? 1
                     : clamp01(1 - (f->days_since_usage - 1) / 13.0);
    f->engagement = 100 * (0.5 * f->activity + 0.2 * f->breadth +
                           0.15 * f->users + 0.15 * f->recency);
    f->payment = payment_component(eng, acc, at_ms);
    f->subscription = subscription_component(eng, acc, at_ms);
    f->feedback = feedback_component(acc, at_ms);

    double wsum = cfg->score_weight_engagement + cfg->score_weight_payment +
                  cfg->score_weight_subscription + cfg->score_weight_feedback;
    f->health = (cfg->score_weight_engagement * f->engagement +
                 cfg->score_weight_payment * f->payment +
                 cfg->score_weight_subscription * f->subscription +
                 cfg->score_weight_feedback * f->feedback) /
                wsum;
    /* Scores are reported to one decimal; bands use the reported value so a
     * user recomputing by hand lands on the same band. */
    f->health = round(f->health * 10) / 10;
    f->engagement = round(f->engagement * 10) / 10;
    if (f->health >= cfg->score_band_healthy) {
        f->band = CHURN__BAND_HEALTHY;
    } else if (f->health >= cfg->score_band_watch) {
        f->band = CHURN__BAND_WATCH;
    } else if (f->health >= cfg->score_band_at_risk) {
        f->band = CHURN__BAND_AT_RISK;
    } else {
        f->band = CHURN__BAND_CRITICAL;
    }
}
