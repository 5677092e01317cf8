/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Decoding and validation of the input contract (DESIGN §2, decode.h).
 *
 * One call is: unframe, size check, json_loadb(), then one pass over the
 * top-level object that files each known key's value into a slot, then the
 * checks below in a fixed order. Collecting first and checking second makes
 * the verdict independent of key order in the input, and the single pass
 * costs less than one json_object_get() (a hash) per field.
 *
 * Order of checks; the first one that fails decides the reason:
 *   1. size       input, after the Schema Registry frame and a UTF-8 BOM
 *                 are stripped, longer than max_event_len: `oversized`
 *   2. json       json_loadb() errors, the first one in the text:
 *                 `bad_encoding` (invalid UTF-8), `duplicate_key`,
 *                 `bad_value` (number too big for int64 or double),
 *                 `not_json` (everything else: syntax, truncation, trailing
 *                 data, NUL bytes, \u0000, lone surrogates, depth > 2048)
 *   3. object     top level is not an object: `not_object`
 *   4. type       `type` missing/null, not a string, not one of the 25
 *   5. envelope   event_id, account_id, ts, user_id, ip
 *   6. family     the family's fields in DESIGN order (fam_slots below):
 *                 subscription: plan mrr currency seats reason effective_at
 *                               voluntary
 *                 usage:        feature count duration_s
 *                 payment:      amount currency decline_code attempt card_exp
 *                 feedback:     score priority sentiment
 * Within one field: missing (or null) and required -> `missing_field`;
 * wrong JSON type -> `bad_field_type`; bad length/range/format ->
 * `bad_value`. `ts` is the exception: any value that is not a usable time
 * (wrong type, real number, unparseable, out of range) is `bad_timestamp`,
 * which is reserved for the event time; `effective_at` follows the general
 * rule. Fields of another family are ignored like unknown fields.
 */
#include "churnd/decode.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* vsnprintf is not I/O; declare it here so the engine needs no <stdio.h>. */
int vsnprintf(char *str, size_t size, const char *format, va_list ap);

#define MAX_ID_LEN       128 /* event_id, account_id, user_id */
#define MAX_NAME_LEN     128 /* plan, feature, decline_code, reason */
#define MAX_PRIORITY_LEN 32
/*
 * The longest IP text is an IPv6 address with an IPv4 tail and a zone
 * (45 + zone); 64 bytes is ample, and the bound lets enrichment copy the
 * text into a fixed buffer for the GeoIP lookup.
 */
#define MAX_IP_LEN      64
#define MAX_MONEY       1000000000000000LL /* 1e15 minor units */
#define MAX_SEATS       10000000LL
#define MAX_COUNT       1000000000LL
#define MAX_DURATION_S  10000000LL
#define MAX_ATTEMPT     1000LL
#define MAX_QUOTE_LEN   64 /* bytes of input quoted in a detail */
#define SR_FRAME_LEN    5  /* Schema Registry: magic 0 + 4-byte schema id */
#define JSON_LOAD_FLAGS (JSON_REJECT_DUPLICATES | JSON_DECODE_ANY)

/* The fields the contract knows; the order is the order of checks. */
enum slot {
    S_TYPE,
    S_EVENT_ID,
    S_ACCOUNT_ID,
    S_TS,
    S_USER_ID,
    S_IP,
    S_PLAN,
    S_MRR,
    S_CURRENCY,
    S_SEATS,
    S_REASON,
    S_EFFECTIVE_AT,
    S_VOLUNTARY,
    S_FEATURE,
    S_COUNT,
    S_DURATION_S,
    S_AMOUNT,
    S_DECLINE_CODE,
    S_ATTEMPT,
    S_CARD_EXP,
    S_SCORE,
    S_PRIORITY,
    S_SENTIMENT,
    S__COUNT,
    S__END = S__COUNT /* terminates fam_slots rows */
};

static const char *const slot_names[S__COUNT] = {
    [S_TYPE] = "type",
    [S_EVENT_ID] = "event_id",
    [S_ACCOUNT_ID] = "account_id",
    [S_TS] = "ts",
    [S_USER_ID] = "user_id",
    [S_IP] = "ip",
    [S_PLAN] = "plan",
    [S_MRR] = "mrr",
    [S_CURRENCY] = "currency",
    [S_SEATS] = "seats",
    [S_REASON] = "reason",
    [S_EFFECTIVE_AT] = "effective_at",
    [S_VOLUNTARY] = "voluntary",
    [S_FEATURE] = "feature",
    [S_COUNT] = "count",
    [S_DURATION_S] = "duration_s",
    [S_AMOUNT] = "amount",
    [S_DECLINE_CODE] = "decline_code",
    [S_ATTEMPT] = "attempt",
    [S_CARD_EXP] = "card_exp",
    [S_SCORE] = "score",
    [S_PRIORITY] = "priority",
    [S_SENTIMENT] = "sentiment",
};

static const unsigned char fam_slots[4][8] = {
    [CHURN_FAM_SUBSCRIPTION] = { S_PLAN, S_MRR, S_CURRENCY, S_SEATS, S_REASON,
                                 S_EFFECTIVE_AT, S_VOLUNTARY, S__END },
    [CHURN_FAM_USAGE] = { S_FEATURE, S_COUNT, S_DURATION_S, S__END },
    [CHURN_FAM_PAYMENT] = { S_AMOUNT, S_CURRENCY, S_DECLINE_CODE, S_ATTEMPT,
                            S_CARD_EXP, S__END },
    [CHURN_FAM_FEEDBACK] = { S_SCORE, S_PRIORITY, S_SENTIMENT, S__END },
};

/* A slot as a bit of required_slots. */
#define SB(s) (1u << (s))
_Static_assert(S__COUNT <= 32, "slots must fit the uint32_t masks");

/* Family fields each type requires (currency is handled by its own rule). */
static const uint32_t required_slots[CHURN_EV__COUNT] = {
    [CHURN_EV_SUB_CREATED] = SB(S_PLAN) | SB(S_MRR),
    [CHURN_EV_SUB_TRIAL_STARTED] = SB(S_PLAN),
    [CHURN_EV_SUB_TRIAL_CONVERTED] = SB(S_PLAN) | SB(S_MRR),
    [CHURN_EV_SUB_UPGRADED] = SB(S_MRR),
    [CHURN_EV_SUB_DOWNGRADED] = SB(S_MRR),
    [CHURN_EV_SUB_CANCEL_SCHEDULED] = SB(S_EFFECTIVE_AT),
    [CHURN_EV_USAGE_FEATURE_USED] = SB(S_FEATURE),
    [CHURN_EV_PAY_CARD_EXPIRING] = SB(S_CARD_EXP),
    [CHURN_EV_FB_NPS] = SB(S_SCORE),
};

/*
 * Type names split as family prefix + name, so a lookup compares the
 * prefix once and then only the names of one family. check_decode tests
 * the table against churn_event_type_name().
 */
struct type_name {
    const char *name;
    size_t len;
};
#define TN(s)                                                                  \
    {                                                                          \
        s, sizeof(s) - 1                                                       \
    }
static const struct type_name type_names[CHURN_EV__COUNT] = {
    [CHURN_EV_SUB_CREATED] = TN("created"),
    [CHURN_EV_SUB_TRIAL_STARTED] = TN("trial_started"),
    [CHURN_EV_SUB_TRIAL_CONVERTED] = TN("trial_converted"),
    [CHURN_EV_SUB_UPGRADED] = TN("upgraded"),
    [CHURN_EV_SUB_DOWNGRADED] = TN("downgraded"),
    [CHURN_EV_SUB_RENEWED] = TN("renewed"),
    [CHURN_EV_SUB_PAUSED] = TN("paused"),
    [CHURN_EV_SUB_RESUMED] = TN("resumed"),
    [CHURN_EV_SUB_CANCEL_SCHEDULED] = TN("cancel_scheduled"),
    [CHURN_EV_SUB_CANCELED] = TN("canceled"),
    [CHURN_EV_SUB_EXPIRED] = TN("expired"),
    [CHURN_EV_SUB_REACTIVATED] = TN("reactivated"),
    [CHURN_EV_SUB_REFUNDED] = TN("refunded"),
    [CHURN_EV_USAGE_LOGIN] = TN("login"),
    [CHURN_EV_USAGE_SESSION] = TN("session"),
    [CHURN_EV_USAGE_FEATURE_USED] = TN("feature_used"),
    [CHURN_EV_USAGE_API_CALL] = TN("api_call"),
    [CHURN_EV_PAY_SUCCEEDED] = TN("succeeded"),
    [CHURN_EV_PAY_FAILED] = TN("failed"),
    [CHURN_EV_PAY_RECOVERED] = TN("recovered"),
    [CHURN_EV_PAY_CARD_EXPIRING] = TN("card_expiring"),
    [CHURN_EV_PAY_REFUNDED] = TN("refunded"),
    [CHURN_EV_PAY_CHARGEBACK] = TN("chargeback"),
    [CHURN_EV_FB_NPS] = TN("nps"),
    [CHURN_EV_FB_TICKET] = TN("ticket"),
};
static const struct {
    struct type_name prefix;
    enum churn_event_type first, last;
} families[4] = {
    [CHURN_FAM_SUBSCRIPTION] = { TN("subscription."), CHURN_EV_SUB_CREATED,
                                 CHURN_EV_SUB_REFUNDED },
    [CHURN_FAM_USAGE] = { TN("usage."), CHURN_EV_USAGE_LOGIN,
                          CHURN_EV_USAGE_API_CALL },
    [CHURN_FAM_PAYMENT] = { TN("payment."), CHURN_EV_PAY_SUCCEEDED,
                            CHURN_EV_PAY_CHARGEBACK },
    [CHURN_FAM_FEEDBACK] = { TN("feedback."), CHURN_EV_FB_NPS,
                             CHURN_EV_FB_TICKET },
};
#undef TN

static const char *const reason_names[CHURN_REASON__COUNT] = {
    [CHURN_REASON_NONE] = "none",
    [CHURN_REASON_NOT_JSON] = "not_json",
    [CHURN_REASON_BAD_ENCODING] = "bad_encoding",
    [CHURN_REASON_NOT_OBJECT] = "not_object",
    [CHURN_REASON_OVERSIZED] = "oversized",
    [CHURN_REASON_DUPLICATE_KEY] = "duplicate_key",
    [CHURN_REASON_MISSING_FIELD] = "missing_field",
    [CHURN_REASON_BAD_FIELD_TYPE] = "bad_field_type",
    [CHURN_REASON_BAD_VALUE] = "bad_value",
    [CHURN_REASON_UNKNOWN_TYPE] = "unknown_type",
    [CHURN_REASON_BAD_TIMESTAMP] = "bad_timestamp",
    [CHURN_REASON_LATE] = "late",
    [CHURN_REASON_FUTURE] = "future",
};

static const char *const reason_meanings[CHURN_REASON__COUNT] = {
    [CHURN_REASON_NONE] = "the event is valid",
    [CHURN_REASON_NOT_JSON] =
        "not valid JSON text (syntax error, truncation, trailing data, "
        "a NUL byte, nesting too deep)",
    [CHURN_REASON_BAD_ENCODING] = "the bytes are not valid UTF-8",
    [CHURN_REASON_NOT_OBJECT] = "valid JSON, but the top level is not an "
                                "object",
    [CHURN_REASON_OVERSIZED] = "longer than input.max_event_size bytes",
    [CHURN_REASON_DUPLICATE_KEY] = "an object has the same key twice",
    [CHURN_REASON_MISSING_FIELD] =
        "a required field is absent or null (the detail names it)",
    [CHURN_REASON_BAD_FIELD_TYPE] =
        "a field has the wrong JSON type (the detail names it)",
    [CHURN_REASON_BAD_VALUE] = "a field has the right type but a value out "
                               "of range or in the wrong format",
    [CHURN_REASON_UNKNOWN_TYPE] = "`type` is not one of the event types of "
                                  "the contract",
    [CHURN_REASON_BAD_TIMESTAMP] =
        "`ts` is not an RFC 3339 time or integer epoch milliseconds in "
        "1970..9999",
    [CHURN_REASON_LATE] = "event time is behind the watermark by more than "
                          "the allowed lateness",
    [CHURN_REASON_FUTURE] =
        "event time is ahead of the Kafka message timestamp by more than "
        "input.max_future (without a message timestamp: ahead of the newest "
        "event time by more than input.max_jump)",
};

/*
 * The last good document is kept so the event's views stay valid without a
 * copy; it is released at the next decode. jansson allocates each document
 * itself and offers only a process-wide allocator hook, which a library must
 * not take, so there is nothing else to reuse between calls.
 */
struct churn_decoder {
    size_t max_event_len;
    json_t *root; /* NULL after a rejection */
};

/* One decode in progress. */
struct ctx {
    json_t *v[S__COUNT]; /* value of each known key; NULL if absent/null */
    struct churn_event *ev;
    struct churn_decode_result *res;
};

const char *churn_reason_name(enum churn_reason reason)
{
    if ((unsigned)reason >= CHURN_REASON__COUNT) {
        return "invalid";
    }
    return reason_names[reason];
}

const char *churn_reason_meaning(enum churn_reason reason)
{
    if ((unsigned)reason >= CHURN_REASON__COUNT) {
        return "not a reason code";
    }
    return reason_meanings[reason];
}

struct churn_decoder *churn_decoder_new(size_t max_event_len)
{
    struct churn_decoder *dec = calloc(1, sizeof(*dec));

    if (dec != NULL) {
        dec->max_event_len = max_event_len;
    }
    return dec;
}

void churn_decoder_free(struct churn_decoder *dec)
{
    if (dec != NULL) {
        json_decref(dec->root);
        free(dec);
    }
}

/* ---- detail messages (error path only) ---- */

/*
 * Length of the valid UTF-8 sequence at p (NUL-terminated), or 0 when it is
 * not one (bad lead, bad or missing continuation, overlong, surrogate,
 * above U+10FFFF).
 */
static size_t utf8_seq_len(const unsigned char *p)
{
    unsigned c = p[0];
    size_t n;
    uint32_t cp;

    if (c < 0x80) {
        return 1;
    } else if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
        cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xC0) != 0x80) {
            return 0;
        }
        cp = (cp << 6) | (p[i] & 0x3Fu);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
        (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) {
        return 0;
    }
    return n;
}

/*
 * Makes s valid UTF-8 without control characters, in place: each bad byte
 * becomes '?'. Details end up in Kafka headers and JSON outputs, and they
 * quote input (type names, keys, jansson's context) that may hold anything.
 */
static void sanitize(char *s)
{
    unsigned char *r = (unsigned char *)s, *w = r;

    while (*r != '\0') {
        size_t n = utf8_seq_len(r);

        if (n == 0 || (n == 1 && (*r < 0x20 || *r == 0x7F))) {
            *w++ = '?';
            r++;
            continue;
        }
        while (n-- > 0) {
            *w++ = *r++;
        }
    }
    *w = '\0';
}

/* At most MAX_QUOTE_LEN bytes of s, cut on a UTF-8 character boundary. */
static int quote_len(const char *s, size_t len)
{
    if (len > MAX_QUOTE_LEN) {
        len = MAX_QUOTE_LEN;
        while (len > 0 && ((unsigned char)s[len] & 0xC0) == 0x80) {
            len--;
        }
    }
    return (int)len;
}

static const char *quote_more(size_t len)
{
    return len > MAX_QUOTE_LEN ? "..." : "";
}

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static enum churn_reason
fail(struct ctx *c, enum churn_reason reason, const char *fmt, ...)
{
    va_list ap;

    if (c->res != NULL) {
        c->res->reason = reason;
        va_start(ap, fmt);
        vsnprintf(c->res->detail, sizeof(c->res->detail), fmt, ap);
        va_end(ap);
        sanitize(c->res->detail);
    }
    return reason;
}

static enum churn_reason missing(struct ctx *c, enum slot s)
{
    return fail(c, CHURN_REASON_MISSING_FIELD, "missing field '%s'",
                slot_names[s]);
}

static enum churn_reason bad_type(struct ctx *c, enum slot s, const char *what)
{
    return fail(c, CHURN_REASON_BAD_FIELD_TYPE, "bad field '%s': must be %s",
                slot_names[s], what);
}

/* ---- the one pass over the object ---- */

static int slot_of(const char *k, size_t n)
{
#define IS(lit, s)                                                             \
    do {                                                                       \
        if (memcmp(k, lit, n) == 0) {                                          \
            return s;                                                          \
        }                                                                      \
    } while (0)
    switch (n) {
    case 2:
        IS("ts", S_TS);
        IS("ip", S_IP);
        break;
    case 3:
        IS("mrr", S_MRR);
        break;
    case 4:
        IS("type", S_TYPE);
        IS("plan", S_PLAN);
        break;
    case 5:
        IS("count", S_COUNT);
        IS("seats", S_SEATS);
        IS("score", S_SCORE);
        break;
    case 6:
        IS("amount", S_AMOUNT);
        IS("reason", S_REASON);
        break;
    case 7:
        IS("user_id", S_USER_ID);
        IS("feature", S_FEATURE);
        IS("attempt", S_ATTEMPT);
        break;
    case 8:
        if (k[0] == 'e') {
            IS("event_id", S_EVENT_ID);
        } else if (k[0] == 'c') {
            IS("currency", S_CURRENCY);
            IS("card_exp", S_CARD_EXP);
        } else {
            IS("priority", S_PRIORITY);
        }
        break;
    case 9:
        IS("voluntary", S_VOLUNTARY);
        IS("sentiment", S_SENTIMENT);
        break;
    case 10:
        IS("account_id", S_ACCOUNT_ID);
        IS("duration_s", S_DURATION_S);
        break;
    case 12:
        IS("effective_at", S_EFFECTIVE_AT);
        IS("decline_code", S_DECLINE_CODE);
        break;
    default:
        break;
    }
    return -1;
#undef IS
}

static void collect(struct ctx *c, json_t *obj)
{
    for (void *it = json_object_iter(obj); it != NULL;
         it = json_object_iter_next(obj, it)) {
        json_t *v = json_object_iter_value(it);
        int s;

        if (json_is_null(v)) {
            continue; /* null is absent */
        }
        s = slot_of(json_object_iter_key(it), json_object_iter_key_len(it));
        if (s >= 0) {
            c->v[s] = v;
        }
    }
}

/* ---- typed field checks: each returns NONE when absent and optional ---- */

static enum churn_reason str_field(struct ctx *c,
                                   enum slot s,
                                   bool required,
                                   size_t min_len,
                                   size_t max_len,
                                   uint32_t bit,
                                   struct churn_str *out)
{
    json_t *v = c->v[s];
    size_t len;

    if (v == NULL) {
        return required ? missing(c, s) : CHURN_REASON_NONE;
    }
    if (!json_is_string(v)) {
        return bad_type(c, s, "a string");
    }
    len = json_string_length(v);
    if (len < min_len || len > max_len) {
        return fail(c, CHURN_REASON_BAD_VALUE,
                    "bad field '%s': must be %zu..%zu bytes, got %zu",
                    slot_names[s], min_len, max_len, len);
    }
    out->ptr = json_string_value(v);
    out->len = len;
    c->ev->has |= bit;
    return CHURN_REASON_NONE;
}

static enum churn_reason int_field(struct ctx *c,
                                   enum slot s,
                                   bool required,
                                   int64_t min,
                                   int64_t max,
                                   uint32_t bit,
                                   int64_t *out)
{
    json_t *v = c->v[s];
    int64_t x;

    if (v == NULL) {
        return required ? missing(c, s) : CHURN_REASON_NONE;
    }
    if (!json_is_integer(v)) {
        return bad_type(c, s, "an integer");
    }
    x = (int64_t)json_integer_value(v);
    if (x < min || x > max) {
        return fail(c, CHURN_REASON_BAD_VALUE,
                    "bad field '%s': must be an integer %lld..%lld",
                    slot_names[s], (long long)min, (long long)max);
    }
    *out = x;
    c->ev->has |= bit;
    return CHURN_REASON_NONE;
}

/* A time: an RFC 3339 string or integer epoch ms; false if not usable. */
static bool time_value(json_t *v, int64_t *out_ms)
{
    if (json_is_string(v)) {
        struct churn_str s = { json_string_value(v), json_string_length(v) };

        return churn_ts_parse_rfc3339(s, out_ms);
    }
    if (json_is_integer(v)) {
        json_int_t x = json_integer_value(v);

        if (x < CHURN_TS_MIN_MS || x > CHURN_TS_MAX_MS) {
            return false;
        }
        *out_ms = (int64_t)x;
        return true;
    }
    return false;
}

#define TIME_FORMS                                                             \
    "an RFC 3339 time or integer epoch ms 0..253402300799999 (1970..9999)"

static enum churn_reason ts_field(struct ctx *c)
{
    json_t *v = c->v[S_TS];

    if (v == NULL) {
        return missing(c, S_TS);
    }
    if (!time_value(v, &c->ev->ts_ms)) {
        return fail(c, CHURN_REASON_BAD_TIMESTAMP,
                    "bad field 'ts': must be " TIME_FORMS);
    }
    return CHURN_REASON_NONE;
}

static enum churn_reason effective_at_field(struct ctx *c, bool required)
{
    json_t *v = c->v[S_EFFECTIVE_AT];

    if (v == NULL) {
        return required ? missing(c, S_EFFECTIVE_AT) : CHURN_REASON_NONE;
    }
    if (!json_is_string(v) && !json_is_integer(v)) {
        return bad_type(c, S_EFFECTIVE_AT, "a string or an integer");
    }
    if (!time_value(v, &c->ev->effective_at_ms)) {
        return fail(c, CHURN_REASON_BAD_VALUE,
                    "bad field 'effective_at': must be " TIME_FORMS);
    }
    c->ev->has |= CHURN_F_EFFECTIVE_AT;
    return CHURN_REASON_NONE;
}

static enum churn_reason currency_field(struct ctx *c)
{
    json_t *v = c->v[S_CURRENCY];
    const char *p;

    if (v == NULL) {
        /* money without a currency means nothing */
        if (c->ev->has & (CHURN_F_MRR | CHURN_F_AMOUNT)) {
            return missing(c, S_CURRENCY);
        }
        return CHURN_REASON_NONE;
    }
    if (!json_is_string(v)) {
        return bad_type(c, S_CURRENCY, "a string");
    }
    p = json_string_value(v);
    if (json_string_length(v) != 3 || p[0] < 'A' || p[0] > 'Z' || p[1] < 'A' ||
        p[1] > 'Z' || p[2] < 'A' || p[2] > 'Z') {
        return fail(c, CHURN_REASON_BAD_VALUE,
                    "bad field 'currency': must be 3 upper-case ASCII letters "
                    "(ISO 4217)");
    }
    c->ev->currency.ptr = p;
    c->ev->currency.len = 3;
    c->ev->has |= CHURN_F_CURRENCY;
    return CHURN_REASON_NONE;
}

static enum churn_reason voluntary_field(struct ctx *c)
{
    json_t *v = c->v[S_VOLUNTARY];

    if (v == NULL) {
        return CHURN_REASON_NONE;
    }
    if (!json_is_boolean(v)) {
        return bad_type(c, S_VOLUNTARY, "a boolean");
    }
    c->ev->voluntary = json_is_true(v);
    c->ev->has |= CHURN_F_VOLUNTARY;
    return CHURN_REASON_NONE;
}

static enum churn_reason card_exp_field(struct ctx *c, bool required)
{
    json_t *v = c->v[S_CARD_EXP];
    const char *p;
    int64_t y, m = -1;

    if (v == NULL) {
        return required ? missing(c, S_CARD_EXP) : CHURN_REASON_NONE;
    }
    if (!json_is_string(v)) {
        return bad_type(c, S_CARD_EXP, "a string");
    }
    p = json_string_value(v);
    y = -1;
    if (json_string_length(v) == 7 && p[4] == '-') {
        y = 0;
        m = 0;
        for (int i = 0; i < 7; i++) {
            if (i == 4) {
                continue;
            }
            if (p[i] < '0' || p[i] > '9') {
                y = -1;
                break;
            }
            if (i < 4) {
                y = y * 10 + (p[i] - '0');
            } else {
                m = m * 10 + (p[i] - '0');
            }
        }
    }
    if (y < 2000 || m < 1 || m > 12) {
        return fail(c, CHURN_REASON_BAD_VALUE,
                    "bad field 'card_exp': must be YYYY-MM, year 2000..9999, "
                    "month 01..12");
    }
    c->ev->card_exp_ym = (int32_t)(y * 12 + m - 1);
    c->ev->has |= CHURN_F_CARD_EXP;
    return CHURN_REASON_NONE;
}

static enum churn_reason sentiment_field(struct ctx *c)
{
    json_t *v = c->v[S_SENTIMENT];
    double x;

    if (v == NULL) {
        return CHURN_REASON_NONE;
    }
    if (!json_is_number(v)) {
        return bad_type(c, S_SENTIMENT, "a number");
    }
    x = json_number_value(v);
    if (!(x >= -1.0 && x <= 1.0)) {
        return fail(c, CHURN_REASON_BAD_VALUE,
                    "bad field 'sentiment': must be a number -1..1");
    }
    c->ev->sentiment = x;
    c->ev->has |= CHURN_F_SENTIMENT;
    return CHURN_REASON_NONE;
}

static enum churn_reason family_field(struct ctx *c, enum slot s, bool req)
{
    struct churn_event *ev = c->ev;
    int64_t x = 0;
    enum churn_reason r;

    switch (s) {
    case S_PLAN:
        return str_field(c, s, req, 1, MAX_NAME_LEN, CHURN_F_PLAN, &ev->plan);
    case S_MRR:
        return int_field(c, s, req, 0, MAX_MONEY, CHURN_F_MRR, &ev->mrr);
    case S_CURRENCY:
        return currency_field(c);
    case S_SEATS:
        return int_field(c, s, req, 0, MAX_SEATS, CHURN_F_SEATS, &ev->seats);
    case S_REASON:
        return str_field(c, s, req, 1, MAX_NAME_LEN, CHURN_F_REASON,
                         &ev->reason);
    case S_EFFECTIVE_AT:
        return effective_at_field(c, req);
    case S_VOLUNTARY:
        return voluntary_field(c);
    case S_FEATURE:
        return str_field(c, s, req, 1, MAX_NAME_LEN, CHURN_F_FEATURE,
                         &ev->feature);
    case S_COUNT:
        return int_field(c, s, req, 1, MAX_COUNT, CHURN_F_COUNT, &ev->count);
    case S_DURATION_S:
        return int_field(c, s, req, 0, MAX_DURATION_S, CHURN_F_DURATION,
                         &ev->duration_s);
    case S_AMOUNT:
        return int_field(c, s, req, 0, MAX_MONEY, CHURN_F_AMOUNT, &ev->amount);
    case S_DECLINE_CODE:
        return str_field(c, s, req, 1, MAX_NAME_LEN, CHURN_F_DECLINE_CODE,
                         &ev->decline_code);
    case S_ATTEMPT:
        return int_field(c, s, req, 1, MAX_ATTEMPT, CHURN_F_ATTEMPT,
                         &ev->attempt);
    case S_CARD_EXP:
        return card_exp_field(c, req);
    case S_SCORE:
        r = int_field(c, s, req, 0, 10, CHURN_F_SCORE, &x);
        ev->score = (int32_t)x;
        return r;
    case S_PRIORITY:
        return str_field(c, s, req, 1, MAX_PRIORITY_LEN, CHURN_F_PRIORITY,
                         &ev->priority);
    case S_SENTIMENT:
        return sentiment_field(c);
    default:
        break;
    }
    return CHURN_REASON_NONE;
}

static enum churn_reason type_field(struct ctx *c)
{
    json_t *v = c->v[S_TYPE];
    const char *p;
    size_t n;

    if (v == NULL) {
        return missing(c, S_TYPE);
    }
    if (!json_is_string(v)) {
        return bad_type(c, S_TYPE, "a string");
    }
    p = json_string_value(v);
    n = json_string_length(v);
    for (size_t f = 0; f < 4; f++) {
        size_t pl = families[f].prefix.len;

        if (n <= pl || memcmp(p, families[f].prefix.name, pl) != 0) {
            continue;
        }
        for (int t = (int)families[f].first; t <= (int)families[f].last; t++) {
            if (type_names[t].len == n - pl &&
                memcmp(p + pl, type_names[t].name, n - pl) == 0) {
                c->ev->type = (enum churn_event_type)t;
                return CHURN_REASON_NONE;
            }
        }
        break;
    }
    return fail(c, CHURN_REASON_UNKNOWN_TYPE, "unknown type '%.*s%s'",
                quote_len(p, n), p, quote_more(n));
}

static enum churn_reason check_event(struct ctx *c)
{
    struct churn_event *ev = c->ev;
    const unsigned char *fs;
    uint32_t req;
    enum churn_reason r;

    if ((r = type_field(c)) != CHURN_REASON_NONE ||
        (r = str_field(c, S_EVENT_ID, true, 1, MAX_ID_LEN, 0, &ev->event_id)) !=
            CHURN_REASON_NONE ||
        (r = str_field(c, S_ACCOUNT_ID, true, 1, MAX_ID_LEN, 0,
                       &ev->account_id)) != CHURN_REASON_NONE ||
        (r = ts_field(c)) != CHURN_REASON_NONE ||
        (r = str_field(c, S_USER_ID, false, 1, MAX_ID_LEN, CHURN_F_USER_ID,
                       &ev->user_id)) != CHURN_REASON_NONE) {
        return r;
    }
    if (c->v[S_IP] != NULL) {
        /* content is enrichment's business (it counts bad IPs) */
        if (!json_is_string(c->v[S_IP])) {
            return bad_type(c, S_IP, "a string");
        }
        if (json_string_length(c->v[S_IP]) > MAX_IP_LEN) {
            return fail(c, CHURN_REASON_BAD_VALUE,
                        "bad field 'ip': must be at most %d bytes, longer "
                        "than any IP address",
                        MAX_IP_LEN);
        }
        ev->ip.ptr = json_string_value(c->v[S_IP]);
        ev->ip.len = json_string_length(c->v[S_IP]);
        ev->has |= CHURN_F_IP;
    }
    req = required_slots[ev->type];
    fs = fam_slots[churn_event_family(ev->type)];
    for (; *fs != S__END; fs++) {
        r = family_field(c, (enum slot) * fs, (req & SB(*fs)) != 0);
        if (r != CHURN_REASON_NONE) {
            return r;
        }
    }
    if (!(ev->has & CHURN_F_COUNT)) {
        ev->count = 1;
    }
    return CHURN_REASON_NONE;
}

/*
 * The raw text of the JSON string that ends just before buf[end] (its
 * closing quote is buf[end - 1]), without quotes; false if there is none.
 * Used to name the key in jansson's duplicate-key and overflow errors,
 * which report only a position.
 */
static bool
raw_string_before(const char *buf, size_t end, const char **s, size_t *n)
{
    if (end < 2 || buf[end - 1] != '"') {
        return false;
    }
    for (size_t i = end - 1; i-- > 0;) {
        size_t bs = 0;

        if (buf[i] != '"') {
            continue;
        }
        while (bs < i && buf[i - 1 - bs] == '\\') {
            bs++;
        }
        if (bs % 2 == 0) {
            *s = buf + i + 1;
            *n = end - 1 - (i + 1);
            return true;
        }
    }
    return false;
}

static bool is_json_ws(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

static bool is_number_char(char ch)
{
    return (ch >= '0' && ch <= '9') || ch == '+' || ch == '-' || ch == '.' ||
           ch == 'e' || ch == 'E';
}

/* The key whose number value ends at buf[end]: `"key" : 123`. */
static bool
key_before_number(const char *buf, size_t end, const char **s, size_t *n)
{
    size_t i = end;

    while (i > 0 && is_number_char(buf[i - 1])) {
        i--;
    }
    while (i > 0 && is_json_ws(buf[i - 1])) {
        i--;
    }
    if (i == 0 || buf[i - 1] != ':') {
        return false;
    }
    i--;
    while (i > 0 && is_json_ws(buf[i - 1])) {
        i--;
    }
    return raw_string_before(buf, i, s, n);
}

static enum churn_reason json_failure(struct ctx *c,
                                      const json_error_t *je,
                                      const char *text,
                                      size_t text_len,
                                      size_t skipped)
{
    size_t pos = je->position < 0 ? 0 : (size_t)je->position;
    const char *k;
    size_t kn;

    if (pos > text_len) {
        pos = text_len;
    }
    switch (json_error_code(je)) {
    case json_error_invalid_utf8:
        return fail(c, CHURN_REASON_BAD_ENCODING,
                    "bad encoding: %s at byte %zu", je->text, pos + skipped);
    case json_error_duplicate_key:
        if (raw_string_before(text, pos, &k, &kn)) {
            return fail(c, CHURN_REASON_DUPLICATE_KEY,
                        "duplicate key '%.*s%s' at byte %zu", quote_len(k, kn),
                        k, quote_more(kn), pos + skipped);
        }
        return fail(c, CHURN_REASON_DUPLICATE_KEY, "duplicate key at byte %zu",
                    pos + skipped);
    case json_error_numeric_overflow:
        if (key_before_number(text, pos, &k, &kn)) {
            return fail(c, CHURN_REASON_BAD_VALUE,
                        "bad field '%.*s%s': %s at byte %zu", quote_len(k, kn),
                        k, quote_more(kn), je->text, pos + skipped);
        }
        return fail(c, CHURN_REASON_BAD_VALUE, "bad value: %s at byte %zu",
                    je->text, pos + skipped);
    case json_error_null_character:
    case json_error_null_byte_in_key:
        return fail(c, CHURN_REASON_NOT_JSON,
                    "not json: a string holds \\u0000 at byte %zu",
                    pos + skipped);
    default:
        if (text_len == 0) {
            return fail(c, CHURN_REASON_NOT_JSON, "not json: empty input");
        }
        return fail(c, CHURN_REASON_NOT_JSON, "not json: %s at byte %zu",
                    je->text, pos + skipped);
    }
}

static const char *json_kind(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
    case JSON_REAL:
        return "a number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    case JSON_NULL:
        return "null";
    }
    return "unknown";
}

enum churn_reason churn_decoder_decode(struct churn_decoder *dec,
                                       const char *buf,
                                       size_t len,
                                       struct churn_event *ev,
                                       struct churn_decode_result *res)
{
    struct ctx c;
    json_error_t je;
    const char *text = buf;
    size_t text_len = len, skipped = 0;
    enum churn_reason r;

    json_decref(dec->root);
    dec->root = NULL;
    memset(ev, 0, sizeof(*ev));
    memset(c.v, 0, sizeof(c.v));
    c.ev = ev;
    c.res = res;
    if (res != NULL) {
        res->reason = CHURN_REASON_NONE;
        res->detail[0] = '\0';
    }
    if (text == NULL) {
        text = ""; /* json_loadb() rejects NULL even with length 0 */
        text_len = 0;
    }
    /* JSON text cannot start with a 0 byte, so this is never ambiguous. */
    if (text_len >= SR_FRAME_LEN && text[0] == '\0') {
        skipped = SR_FRAME_LEN;
    }
    /* A UTF-8 byte order mark (RFC 8259 §8.1 lets parsers ignore it). */
    if (text_len - skipped >= 3 &&
        memcmp(text + skipped, "\xEF\xBB\xBF", 3) == 0) {
        skipped += 3;
    }
    text += skipped;
    text_len -= skipped;
    if (text_len > dec->max_event_len) {
        return fail(&c, CHURN_REASON_OVERSIZED,
                    "event is %zu bytes, over the limit of %zu", text_len,
                    dec->max_event_len);
    }
    dec->root = json_loadb(text, text_len, JSON_LOAD_FLAGS, &je);
    if (dec->root == NULL) {
        return json_failure(&c, &je, text, text_len, skipped);
    }
    if (!json_is_object(dec->root)) {
        r = fail(&c, CHURN_REASON_NOT_OBJECT,
                 "not an object: the top level is %s", json_kind(dec->root));
        goto out;
    }
    collect(&c, dec->root);
    r = check_event(&c);
out:
    if (r != CHURN_REASON_NONE) {
        memset(ev, 0, sizeof(*ev));
        json_decref(dec->root);
        dec->root = NULL;
    }
    return r;
}
