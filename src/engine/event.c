/* SPDX-License-Identifier: Apache-2.0 */
#include "churnd/event.h"

#include <string.h>

static const char *const type_names[CHURN_EV__COUNT] = {
    [CHURN_EV_SUB_CREATED] = "subscription.created",
    [CHURN_EV_SUB_TRIAL_STARTED] = "subscription.trial_started",
    [CHURN_EV_SUB_TRIAL_CONVERTED] = "subscription.trial_converted",
    [CHURN_EV_SUB_UPGRADED] = "subscription.upgraded",
    [CHURN_EV_SUB_DOWNGRADED] = "subscription.downgraded",
    [CHURN_EV_SUB_RENEWED] = "subscription.renewed",
    [CHURN_EV_SUB_PAUSED] = "subscription.paused",
    [CHURN_EV_SUB_RESUMED] = "subscription.resumed",
    [CHURN_EV_SUB_CANCEL_SCHEDULED] = "subscription.cancel_scheduled",
    [CHURN_EV_SUB_CANCELED] = "subscription.canceled",
    [CHURN_EV_SUB_EXPIRED] = "subscription.expired",
    [CHURN_EV_SUB_REACTIVATED] = "subscription.reactivated",
    [CHURN_EV_SUB_REFUNDED] = "subscription.refunded",
    [CHURN_EV_USAGE_LOGIN] = "usage.login",
    [CHURN_EV_USAGE_SESSION] = "usage.session",
    [CHURN_EV_USAGE_FEATURE_USED] = "usage.feature_used",
    [CHURN_EV_USAGE_API_CALL] = "usage.api_call",
    [CHURN_EV_PAY_SUCCEEDED] = "payment.succeeded",
    [CHURN_EV_PAY_FAILED] = "payment.failed",
    [CHURN_EV_PAY_RECOVERED] = "payment.recovered",
    [CHURN_EV_PAY_CARD_EXPIRING] = "payment.card_expiring",
    [CHURN_EV_PAY_REFUNDED] = "payment.refunded",
    [CHURN_EV_PAY_CHARGEBACK] = "payment.chargeback",
    [CHURN_EV_FB_NPS] = "feedback.nps",
    [CHURN_EV_FB_TICKET] = "feedback.ticket",
};

const char *churn_event_type_name(enum churn_event_type type)
{
    if ((unsigned)type >= CHURN_EV__COUNT) {
        return NULL;
    }
    return type_names[type];
}

enum churn_family churn_event_family(enum churn_event_type type)
{
    if (type <= CHURN_EV_SUB_REFUNDED) {
        return CHURN_FAM_SUBSCRIPTION;
    }
    if (type <= CHURN_EV_USAGE_API_CALL) {
        return CHURN_FAM_USAGE;
    }
    if (type <= CHURN_EV_PAY_CHARGEBACK) {
        return CHURN_FAM_PAYMENT;
    }
    return CHURN_FAM_FEEDBACK;
}

bool churn_str_eq(struct churn_str a, struct churn_str b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

bool churn_str_eq_cstr(struct churn_str s, const char *lit)
{
    size_t n = strlen(lit);

    return s.len == n && (n == 0 || memcmp(s.ptr, lit, n) == 0);
}
