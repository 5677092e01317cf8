/* SPDX-License-Identifier: Apache-2.0 */
/*
 * When an account must be judged again: the boundary walk (engine.c) visits
 * only the accounts due at a boundary, so the cost of a boundary follows the
 * accounts whose figures can move, not the size of the table.
 *
 * An account is due at the next boundary after any event or fact for it
 * (churn__table_upsert marks it), and otherwise at the boundary
 * churn__account_next_due gave at its last evaluation. That function must be
 * exact in one direction: at every boundary it skips, a full evaluation
 * would change nothing at all (no output, no byte of the account, no cohort
 * contribution). tests/check_due.c runs generated replays both ways and
 * compares every output byte, and CHURN__EVAL_VERIFY evaluates the skipped
 * accounts too and counts any that would have changed.
 *
 * It settles only a simple, common case and returns the next boundary for
 * everything else: an account without a usable baseline, with no usage in
 * its recent window and idle long enough that recency is 0, not trialing.
 * Then its figures cannot move except at the times listed in next_due
 * below, and neither can its health, band or rules.
 */
#include "engine_int.h"

#include <string.h>

/* The first boundary whose start is at or after t (at most one early: the
 * bucket that holds t), kept after boundary; INT32_MAX for no time. */
static void due_at_time(const struct churn_engine *eng,
                        int64_t t,
                        int32_t boundary,
                        int32_t *due)
{
    int32_t b;

    if (t == INT64_MIN || t <= churn__bucket_start(eng, boundary) ||
        t > CHURN_TS_MAX_MS) {
        return;
    }
    b = churn__bucket_of(eng, t);
    if (b <= boundary) {
        b = boundary + 1;
    }
    if (b < *due) {
        *due = b;
    }
}

static void due_at_bucket(int64_t b, int32_t boundary, int32_t *due)
{
    if (b <= boundary) {
        return;
    }
    if (b < *due) {
        *due = (int32_t)b;
    }
}

/* The newest bucket of the ring with usage; false when none. */
static bool newest_usage(const struct churn_engine *eng,
                         struct churn__account *acc,
                         int32_t *newest)
{
    struct churn__ring_view v;

    if (acc->head_bucket == INT32_MIN) {
        return false;
    }
    v = churn__ring(acc, eng->ring_len);
    for (uint32_t k = 0; k < eng->ring_len; k++) {
        int32_t b = acc->head_bucket - (int32_t)k;
        int32_t s = churn__ring_slot(acc, eng->ring_len, b);
        if (s >= 0 && v.events[s] > 0) {
            *newest = b;
            return true;
        }
    }
    return false;
}

/*
 * Could evaluating acc at a boundary after `boundary` change anything? The
 * answer is the first boundary at which it could. Dependencies, each with
 * the time it can next change (a new rule or figure must be added here, or
 * the account stays due at every boundary):
 *
 * - Settled only when (else due at boundary + 1):
 *   usage in the ring or folded weeks, with engagement_drop or
 *     detractor_feedback enabled: none (their count tests judge an idle
 *     account against a reference that grows every boundary);
 *   trialing: no (plan_activity and the trial rule follow the cohorts,
 *     which move every boundary);
 *   usable baseline: no (base_daily_mean feeds the cohorts and the drop,
 *     decline and detractor tests, which move as the window slides);
 *   usage in the recent window at boundary + 1: none (recent_events and
 *     with them activity against the cohorts); nor, with key features, in
 *     the last rule.feature_abandonment.unused (key_used_lately);
 *   recency: 0 (days_since_usage only grows while idle, so it stays 0).
 * - Then engagement is constant, and these can still move:
 *   baseline becomes usable: avail reaches base_n / 2 while usage is in it;
 *   inactivity: fires at the first idle length whose gap probability is
 *     at most rule.inactivity.max_gap_p (idle days grow by one a boundary);
 *   the after-pause silence of feature_abandonment ends (resumed_bucket +
 *     recent_n + 1; reachable only with score.recent over 14 days);
 *   cool-downs ending (rule_time of a rule not firing);
 *   one-off alerts expiring (downgrade, detractor_feedback, chargeback:
 *     since + CHURN__FACT_WINDOW_MS);
 *   payment_failure_streak's time half (fail_ms + failure_unresolved);
 *   card: within rule.card_expiring.within of its end, and its end
 *     (card_expiring, the payment component);
 *   the payment, subscription and feedback components' windows
 *     (chargeback, downgrade, feedback + their CHURN__*_WEIGH_MS).
 * Health and band follow from these, and so do signals; engagement_drop,
 * trial_low_activation and detractor_feedback cannot fire without a
 * baseline or a trial; health_critical and the rest follow health and the
 * times above.
 * - And these need no time, given the conditions: usage leaving the
 *   baseline (a settled account's baseline is young or empty, so nothing
 *   leaves it before it becomes usable); usage leaving the ring's reach
 *   (only inactivity's observed days change, and inactivity cannot then
 *   fire or clear); a resume (released before the boundary that judged it,
 *   so days_since_usage's cap already applies); detractor_feedback's
 *   pending window (no baseline, no detractor alert).
 */
int32_t churn__account_next_due(const struct churn_engine *eng,
                                const struct churn__account *acc,
                                const struct churn__figures *f,
                                int32_t boundary)
{
    const struct churn_config *c = &eng->cfg;
    int32_t next = boundary + 1, due = INT32_MAX;
    int64_t bucket_ms = c->window_bucket_ms;
    int64_t recent_n = f->recent_n, base_n = f->base_n;
    int32_t newest = 0;
    bool used;

    if (acc->status == CHURN__ST_TRIALING || !f->insufficient ||
        f->recency != 0) {
        return next;
    }
    used = newest_usage(eng, (struct churn__account *)acc, &newest) ||
           (acc->fold_weeks > 0 && acc->fold_mean > 0);
    /* engagement_drop's windows and detractor_feedback's usage test judge
     * any account with usage in its reference, and their figures move every
     * boundary (the reference grows) */
    if (used && (c->rules[CHURN_RULE_ENGAGEMENT_DROP].enabled ||
                 c->rules[CHURN_RULE_DETRACTOR_FEEDBACK].enabled)) {
        return next;
    }
    if (used) {
        if (!newest_usage(eng, (struct churn__account *)acc, &newest)) {
            return next; /* folded weeks only: not worked out here */
        }
        int64_t quiet = recent_n;
        if (c->key_feature_cnt > 0 && c->abandon_after_ms / bucket_ms > quiet) {
            quiet = c->abandon_after_ms / bucket_ms;
        }
        if ((int64_t)newest >= (int64_t)next - quiet) {
            return next;
        }
        /* usage still inside the baseline's reach: usable from avail on */
        if ((int64_t)newest >= (int64_t)next - recent_n - base_n) {
            due_at_bucket((int64_t)acc->first_bucket + recent_n + base_n / 2,
                          boundary, &due);
            if ((int64_t)acc->first_bucket + recent_n + base_n / 2 <= next) {
                return next;
            }
        }
        /* inactivity: idle days grow by one a boundary until the fallback */
        if (c->rules[CHURN_RULE_INACTIVITY].enabled &&
            !(acc->firing & (1u << CHURN_RULE_INACTIVITY)) &&
            f->observed_days_before >= 7 && f->days_since_usage >= 0) {
            struct churn__figures g = *f;
            int64_t after = c->inactivity_after_ms / bucket_ms;
            for (int32_t k = 1; k <= (int32_t)eng->ring_len; k++) {
                g.days_since_usage = f->days_since_usage + k;
                if (g.days_since_usage >= after &&
                    churn__inactivity_gap_p(&g) <= c->inactivity_max_gap_p) {
                    due_at_bucket((int64_t)boundary + k, boundary, &due);
                    break;
                }
            }
        }
    }
    if (acc->resumed_bucket != INT32_MIN) {
        due_at_bucket((int64_t)acc->resumed_bucket + recent_n + 1, boundary,
                      &due);
    }
    for (int r = 0; r < CHURN_RULE__COUNT; r++) {
        int64_t t = acc->rule_time[r];
        if (t == INT64_MIN) {
            continue;
        }
        if (!(acc->firing & (1u << r))) {
            due_at_time(eng, t, boundary, &due); /* cool-down ends */
        } else if (r == CHURN_RULE_DOWNGRADE ||
                   r == CHURN_RULE_DETRACTOR_FEEDBACK ||
                   r == CHURN_RULE_CHARGEBACK) {
            due_at_time(eng, t + CHURN__FACT_WINDOW_MS, boundary, &due);
        }
    }
    if (acc->fail_streak > 0 && acc->fail_ms != INT64_MIN &&
        c->failure_unresolved_ms > 0) {
        due_at_time(eng, acc->fail_ms + c->failure_unresolved_ms, boundary,
                    &due);
    }
    if (acc->card_exp_ym >= 0) {
        int64_t end = churn__ym_end_ms(acc->card_exp_ym);
        due_at_time(eng, end - c->card_within_ms, boundary, &due);
        due_at_time(eng, end, boundary, &due);
    }
    if (acc->chargeback_ms != INT64_MIN) {
        due_at_time(eng, acc->chargeback_ms + CHURN__CHARGEBACK_WEIGH_MS,
                    boundary, &due);
    }
    if (acc->downgrade_ms != INT64_MIN) {
        due_at_time(eng, acc->downgrade_ms + CHURN__DOWNGRADE_WEIGH_MS,
                    boundary, &due);
    }
    if (acc->feedback_ms != INT64_MIN) {
        due_at_time(eng, acc->feedback_ms + CHURN__FEEDBACK_WEIGH_MS, boundary,
                    &due);
    }
    return due;
}
