/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Subscription, payment and feedback facts, applied in event-time order as
 * the watermark releases them, and the rules those events trigger directly
 * (payment_failure_streak, downgrade, cancel_scheduled, chargeback,
 * detractor_feedback, card_expiring on its notice).
 */
#include "engine_int.h"
#include "metrics.h"

#include <string.h>

/* The decline-code table (DESIGN §7), kept in this one place. Codes not
 * listed are soft: the issuer may accept a retry. */
static const struct {
    const char *code;
    enum churn__decline_class cls;
} declines[] = {
    { "fraudulent", CHURN__DECLINE_HARD },
    { "stolen_card", CHURN__DECLINE_HARD },
    { "lost_card", CHURN__DECLINE_HARD },
    { "pickup_card", CHURN__DECLINE_HARD },
    { "expired_card", CHURN__DECLINE_NEW_CARD },
    { "incorrect_number", CHURN__DECLINE_NEW_CARD },
    { "invalid_number", CHURN__DECLINE_NEW_CARD },
    { "invalid_expiry_month", CHURN__DECLINE_NEW_CARD },
    { "invalid_expiry_year", CHURN__DECLINE_NEW_CARD },
    { "card_not_supported", CHURN__DECLINE_NEW_CARD },
    { "invalid_account", CHURN__DECLINE_NEW_CARD },
    { "new_account_information_available", CHURN__DECLINE_NEW_CARD },
};

enum churn__decline_class churn__decline_classify(struct churn_str code)
{
    for (size_t i = 0; i < sizeof(declines) / sizeof(declines[0]); i++) {
        if (churn_str_eq_cstr(code, declines[i].code)) {
            return declines[i].cls;
        }
    }
    return CHURN__DECLINE_SOFT;
}

const char *churn__decline_class_name(enum churn__decline_class c)
{
    switch (c) {
    case CHURN__DECLINE_HARD:
        return "hard";
    case CHURN__DECLINE_NEW_CARD:
        return "needs_new_card";
    case CHURN__DECLINE_SOFT:
        break;
    }
    return "soft";
}

static void resolve_if_firing(struct churn_engine *eng,
                              struct churn__account *acc,
                              enum churn_rule rule,
                              int64_t at_ms,
                              const char *outcome)
{
    if (acc->firing & (1u << rule)) {
        churn__alert_resolve(eng, acc, rule, at_ms, outcome);
    }
}

static void fire_if_allowed(struct churn_engine *eng,
                            struct churn__account *acc,
                            enum churn_rule rule,
                            int64_t at_ms)
{
    if (churn__rule_can_fire(eng, acc, rule, at_ms)) {
        churn__alert_fire(eng, acc, rule, at_ms, NULL);
    }
}

static void set_plan_money(struct churn_engine *eng,
                           struct churn__account *acc,
                           const struct churn_event *ev)
{
    if (ev->has & CHURN_F_PLAN) {
        acc->plan = churn__intern(&eng->intern, ev->plan);
    }
    if (ev->has & CHURN_F_MRR) {
        acc->mrr = ev->mrr;
    }
    if (ev->has & CHURN_F_CURRENCY) {
        acc->currency = churn__intern(&eng->intern, ev->currency);
    }
    if (ev->has & CHURN_F_SEATS) {
        acc->seats = ev->seats > INT32_MAX ? INT32_MAX : (int32_t)ev->seats;
    }
}

static void close_account(struct churn_engine *eng,
                          struct churn__account *acc,
                          const struct churn_event *ev,
                          uint8_t status)
{
    bool voluntary = (ev->has & CHURN_F_VOLUNTARY)
                         ? ev->voluntary
                         : !(acc->flags & CHURN__AF_INVOLUNTARY);

    if (status == CHURN__ST_EXPIRED && !(ev->has & CHURN_F_VOLUNTARY) &&
        acc->fail_streak > 0) {
        voluntary = false;
    }
    if (voluntary) {
        acc->flags &= (uint8_t)~CHURN__AF_INVOLUNTARY;
    } else {
        acc->flags |= CHURN__AF_INVOLUNTARY;
    }
    for (int r = 0; r < CHURN_RULE__COUNT; r++) {
        resolve_if_firing(eng, acc, (enum churn_rule)r, ev->ts_ms, "churned");
    }
    acc->status = status;
}

static void on_subscription(struct churn_engine *eng,
                            struct churn__account *acc,
                            const struct churn_event *ev)
{
    int64_t t = ev->ts_ms;

    switch (ev->type) {
    case CHURN_EV_SUB_CREATED:
        set_plan_money(eng, acc, ev);
        acc->status = CHURN__ST_ACTIVE;
        break;
    case CHURN_EV_SUB_TRIAL_STARTED:
        set_plan_money(eng, acc, ev);
        acc->status = CHURN__ST_TRIALING;
        acc->trial_end_ms = (ev->has & CHURN_F_EFFECTIVE_AT)
                                ? ev->effective_at_ms
                                : t + 14 * CHURN__DAY_MS;
        break;
    case CHURN_EV_SUB_TRIAL_CONVERTED:
        set_plan_money(eng, acc, ev);
        acc->status = CHURN__ST_ACTIVE;
        resolve_if_firing(eng, acc, CHURN_RULE_TRIAL_LOW_ACTIVATION, t,
                          "converted");
        break;
    case CHURN_EV_SUB_UPGRADED:
    case CHURN_EV_SUB_RENEWED:
    case CHURN_EV_SUB_REACTIVATED:
    case CHURN_EV_SUB_RESUMED:
        set_plan_money(eng, acc, ev);
        if (ev->type != CHURN_EV_SUB_RENEWED || acc->status == CHURN__ST_NONE) {
            acc->status = CHURN__ST_ACTIVE;
        }
        if (ev->type == CHURN_EV_SUB_RESUMED) {
            /* the paused days are neither inactivity nor a drop */
            acc->resumed_bucket = churn__bucket_of(eng, t);
        }
        if (ev->type == CHURN_EV_SUB_REACTIVATED) {
            acc->cancel_at_ms = INT64_MIN;
            acc->flags &= (uint8_t)~CHURN__AF_INVOLUNTARY;
            resolve_if_firing(eng, acc, CHURN_RULE_CANCEL_SCHEDULED, t,
                              "reactivated");
        }
        if ((acc->firing & (1u << CHURN_RULE_DOWNGRADE)) &&
            acc->mrr >= acc->prev_mrr && acc->seats >= acc->prev_seats) {
            churn__alert_resolve(eng, acc, CHURN_RULE_DOWNGRADE, t,
                                 "recovered");
        }
        break;
    case CHURN_EV_SUB_DOWNGRADED: {
        int64_t old_mrr = acc->mrr;
        int32_t old_seats = acc->seats;
        set_plan_money(eng, acc, ev);
        acc->prev_mrr = old_mrr;
        acc->prev_seats = old_seats;
        acc->downgrade_ms = t;
        double contraction =
            old_mrr > 0 ? (double)(old_mrr - acc->mrr) / (double)old_mrr : 0;
        bool seats_cut = (ev->has & CHURN_F_SEATS) && acc->seats < old_seats;
        if (contraction >= eng->cfg.downgrade_contraction || seats_cut) {
            fire_if_allowed(eng, acc, CHURN_RULE_DOWNGRADE, t);
        }
        break;
    }
    case CHURN_EV_SUB_PAUSED:
        acc->status = CHURN__ST_PAUSED;
        break;
    case CHURN_EV_SUB_CANCEL_SCHEDULED:
        acc->status = CHURN__ST_CANCEL_SCHEDULED;
        acc->cancel_at_ms = ev->effective_at_ms;
        acc->cancel_reason = (ev->has & CHURN_F_REASON)
                                 ? churn__intern(&eng->intern, ev->reason)
                                 : 0;
        if ((ev->has & CHURN_F_VOLUNTARY) && !ev->voluntary) {
            acc->flags |= CHURN__AF_INVOLUNTARY;
        }
        fire_if_allowed(eng, acc, CHURN_RULE_CANCEL_SCHEDULED, t);
        break;
    case CHURN_EV_SUB_CANCELED:
        close_account(eng, acc, ev, CHURN__ST_CANCELED);
        break;
    case CHURN_EV_SUB_EXPIRED:
        close_account(eng, acc, ev, CHURN__ST_EXPIRED);
        break;
    case CHURN_EV_SUB_REFUNDED:
    default:
        break;
    }
}

static void on_payment(struct churn_engine *eng,
                       struct churn__account *acc,
                       const struct churn_event *ev)
{
    int64_t t = ev->ts_ms;

    if ((ev->has & CHURN_F_CARD_EXP) && ev->card_exp_ym > acc->card_exp_ym) {
        acc->card_exp_ym = ev->card_exp_ym;
        acc->flags &= (uint8_t)~CHURN__AF_NEEDS_NEW_CARD;
        resolve_if_firing(eng, acc, CHURN_RULE_CARD_EXPIRING, t,
                          "card_updated");
    }
    switch (ev->type) {
    case CHURN_EV_PAY_SUCCEEDED:
    case CHURN_EV_PAY_RECOVERED:
        acc->fail_streak = 0;
        acc->fail_ms = INT64_MIN;
        acc->flags &=
            (uint8_t) ~(CHURN__AF_HARD_DECLINE | CHURN__AF_NEEDS_NEW_CARD);
        resolve_if_firing(eng, acc, CHURN_RULE_PAYMENT_FAILURE_STREAK, t,
                          "recovered");
        break;
    case CHURN_EV_PAY_FAILED: {
        enum churn__decline_class cls =
            churn__decline_classify(ev->decline_code);
        if (acc->fail_streak < UINT8_MAX) {
            acc->fail_streak++;
        }
        if (acc->fail_ms == INT64_MIN) {
            acc->fail_ms = t;
        }
        acc->decline = (ev->has & CHURN_F_DECLINE_CODE)
                           ? churn__intern(&eng->intern, ev->decline_code)
                           : 0;
        if (cls == CHURN__DECLINE_HARD) {
            acc->flags |= CHURN__AF_HARD_DECLINE;
        } else if (cls == CHURN__DECLINE_NEW_CARD) {
            acc->flags |= CHURN__AF_NEEDS_NEW_CARD;
        }
        if (acc->fail_streak >= eng->cfg.failure_streak ||
            cls == CHURN__DECLINE_HARD) {
            fire_if_allowed(eng, acc, CHURN_RULE_PAYMENT_FAILURE_STREAK, t);
        }
        break;
    }
    case CHURN_EV_PAY_CARD_EXPIRING:
        if (acc->card_exp_ym < 0 && (ev->has & CHURN_F_CARD_EXP)) {
            acc->card_exp_ym = ev->card_exp_ym;
        }
        break;
    case CHURN_EV_PAY_CHARGEBACK:
        acc->chargeback_ms = t;
        fire_if_allowed(eng, acc, CHURN_RULE_CHARGEBACK, t);
        break;
    case CHURN_EV_PAY_REFUNDED:
    default:
        break;
    }
}

static void on_feedback(struct churn_engine *eng,
                        struct churn__account *acc,
                        const struct churn_event *ev)
{
    int64_t t = ev->ts_ms;
    bool detractor = false;

    if (ev->type == CHURN_EV_FB_NPS) {
        acc->nps = (int8_t)ev->score;
        detractor = ev->score <= eng->cfg.detractor_nps_max;
    } else if (ev->has & CHURN_F_SENTIMENT) {
        acc->sentiment_milli = (int16_t)(ev->sentiment * 1000.0);
        detractor = ev->sentiment <= eng->cfg.detractor_sentiment_max;
    }
    if (detractor) {
        acc->feedback_ms = t;
        /* judged against the usage of the completed buckets before it;
         * if that usage holds up, later boundaries judge it again */
        churn__detractor_judge(eng, acc, t, NULL);
    } else if (ev->type == CHURN_EV_FB_NPS) {
        resolve_if_firing(eng, acc, CHURN_RULE_DETRACTOR_FEEDBACK, t,
                          "cleared");
    }
}

void churn__facts_apply(struct churn_engine *eng,
                        struct churn__account *acc,
                        const struct churn_event *ev)
{
    /* every event naming a plan the catalog does not list, whatever it
     * then does to the account */
    if ((ev->has & CHURN_F_PLAN) && churn__catalog_find(eng, ev->plan) < 0) {
        eng->stats.unknown_plans++;
    }
    if ((acc->status == CHURN__ST_CANCELED ||
         acc->status == CHURN__ST_EXPIRED) &&
        ev->type != CHURN_EV_SUB_REACTIVATED &&
        ev->type != CHURN_EV_SUB_CREATED &&
        ev->type != CHURN_EV_SUB_TRIAL_STARTED) {
        /* A closed account keeps its final facts; only a new subscription
         * reopens it. */
        return;
    }
    switch (churn_event_family(ev->type)) {
    case CHURN_FAM_SUBSCRIPTION:
        on_subscription(eng, acc, ev);
        break;
    case CHURN_FAM_PAYMENT:
        on_payment(eng, acc, ev);
        break;
    case CHURN_FAM_FEEDBACK:
        on_feedback(eng, acc, ev);
        break;
    case CHURN_FAM_USAGE:
        break;
    }
}
