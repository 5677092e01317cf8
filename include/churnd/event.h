/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CHURND_EVENT_H
#define CHURND_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The decoded input event (DESIGN §2). A value type: every string is a view
 * into memory owned by whoever decoded the event (see decode.h) and is not
 * NUL-terminated. Optional fields are present when their CHURN_F_ bit is set
 * in `has`; absent numeric fields hold 0.
 *
 * Time is int64_t milliseconds since the Unix epoch, UTC.
 */

struct churn_str {
    const char *ptr;
    size_t len;
};

#define CHURN_STR_LIT(s) ((struct churn_str){ (s), sizeof(s) - 1 })

enum churn_family {
    CHURN_FAM_SUBSCRIPTION,
    CHURN_FAM_USAGE,
    CHURN_FAM_PAYMENT,
    CHURN_FAM_FEEDBACK,
};

/* Order matters: churn_event_type_name() and decode's table follow it. */
enum churn_event_type {
    CHURN_EV_SUB_CREATED,
    CHURN_EV_SUB_TRIAL_STARTED,
    CHURN_EV_SUB_TRIAL_CONVERTED,
    CHURN_EV_SUB_UPGRADED,
    CHURN_EV_SUB_DOWNGRADED,
    CHURN_EV_SUB_RENEWED,
    CHURN_EV_SUB_PAUSED,
    CHURN_EV_SUB_RESUMED,
    CHURN_EV_SUB_CANCEL_SCHEDULED,
    CHURN_EV_SUB_CANCELED,
    CHURN_EV_SUB_EXPIRED,
    CHURN_EV_SUB_REACTIVATED,
    CHURN_EV_SUB_REFUNDED,
    CHURN_EV_USAGE_LOGIN,
    CHURN_EV_USAGE_SESSION,
    CHURN_EV_USAGE_FEATURE_USED,
    CHURN_EV_USAGE_API_CALL,
    CHURN_EV_PAY_SUCCEEDED,
    CHURN_EV_PAY_FAILED,
    CHURN_EV_PAY_RECOVERED,
    CHURN_EV_PAY_CARD_EXPIRING,
    CHURN_EV_PAY_REFUNDED,
    CHURN_EV_PAY_CHARGEBACK,
    CHURN_EV_FB_NPS,
    CHURN_EV_FB_TICKET,
    CHURN_EV__COUNT
};

/* Presence bits for optional fields. */
enum churn_field {
    CHURN_F_USER_ID = 1u << 0,
    CHURN_F_IP = 1u << 1,
    CHURN_F_PLAN = 1u << 2,
    CHURN_F_MRR = 1u << 3,
    CHURN_F_CURRENCY = 1u << 4,
    CHURN_F_SEATS = 1u << 5,
    CHURN_F_REASON = 1u << 6,
    CHURN_F_EFFECTIVE_AT = 1u << 7,
    CHURN_F_VOLUNTARY = 1u << 8,
    CHURN_F_FEATURE = 1u << 9,
    CHURN_F_COUNT = 1u << 10,
    CHURN_F_DURATION = 1u << 11,
    CHURN_F_AMOUNT = 1u << 12,
    CHURN_F_DECLINE_CODE = 1u << 13,
    CHURN_F_ATTEMPT = 1u << 14,
    CHURN_F_CARD_EXP = 1u << 15,
    CHURN_F_SCORE = 1u << 16,
    CHURN_F_PRIORITY = 1u << 17,
    CHURN_F_SENTIMENT = 1u << 18,
};

struct churn_event {
    enum churn_event_type type;
    uint32_t has; /* enum churn_field bits */
    int64_t ts_ms;
    struct churn_str event_id;
    struct churn_str account_id;
    struct churn_str user_id;
    struct churn_str ip;
    /* subscription */
    struct churn_str plan;
    struct churn_str currency; /* ISO 4217, 3 upper-case letters */
    struct churn_str reason;
    int64_t mrr;   /* minor units, >= 0 */
    int64_t seats; /* >= 0 */
    int64_t effective_at_ms;
    bool voluntary;
    /* usage */
    struct churn_str feature;
    int64_t count;      /* >= 1; 1 when absent */
    int64_t duration_s; /* >= 0 */
    /* payment */
    int64_t amount; /* minor units, >= 0 */
    struct churn_str decline_code;
    int64_t attempt;     /* >= 1 */
    int32_t card_exp_ym; /* year * 12 + (month - 1) */
    /* feedback */
    int32_t score; /* NPS 0..10 */
    struct churn_str priority;
    double sentiment; /* -1..1 */
};

/* "family.name" of type, e.g. "usage.login"; NULL for an invalid type. */
const char *churn_event_type_name(enum churn_event_type type);

/* Family of type. */
enum churn_family churn_event_family(enum churn_event_type type);

/* True when a and b hold the same bytes. */
bool churn_str_eq(struct churn_str a, struct churn_str b);

/* True when s holds exactly the NUL-terminated string lit. */
bool churn_str_eq_cstr(struct churn_str s, const char *lit);

#endif
