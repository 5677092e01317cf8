/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Decoding and validation of the input contract (decode.h).
 *
 * Case JSON is written with single quotes for readability; jdup() turns
 * them into double quotes. Every input is copied into a buffer of exactly
 * its length before decoding, so ASan catches any read past the end.
 */
#include "churnd/decode.h"
#include "testutil.h"

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BASE_MS 1772366400000LL /* 2026-03-01T12:00:00Z */
#define MAX_LEN 65536

#define EID "'event_id':'e1'"
#define AID "'account_id':'a1'"
#define TS  "'ts':'2026-03-01T12:00:00Z'"
#define ENV EID "," AID "," TS
/* An event of type t with the default envelope and the fields in rest. */
#define EV(t, rest) "{'type':'" t "'," ENV rest "}"

#define X16  "xxxxxxxxxxxxxxxx"
#define X32  X16 X16
#define X64  X32 X32
#define X128 X64 X64

/* ---- helpers ---- */

/* s with every ' turned into ", in a buffer of exactly strlen(s) bytes. */
static char *jdup(const char *s, size_t *len)
{
    size_t n = strlen(s);
    char *p = malloc(n ? n : 1);

    ck_assert_ptr_nonnull(p);
    for (size_t i = 0; i < n; i++) {
        p[i] = s[i] == '\'' ? '"' : s[i];
    }
    *len = n;
    return p;
}

static char *bdup(const char *s, size_t n)
{
    char *p = malloc(n ? n : 1);

    ck_assert_ptr_nonnull(p);
    memcpy(p, s, n);
    return p;
}

/* Decodes the single-quoted JSON s with a fresh decoder. */
static enum churn_reason decode_json(const char *s,
                                     size_t max_len,
                                     struct churn_event *ev,
                                     struct churn_decode_result *res)
{
    struct churn_decoder *dec = churn_decoder_new(max_len);
    size_t n;
    char *buf = jdup(s, &n);
    enum churn_reason r;

    ck_assert_ptr_nonnull(dec);
    r = churn_decoder_decode(dec, buf, n, ev, res);
    free(buf);
    churn_decoder_free(dec);
    return r;
}

static bool is_zero_event(const struct churn_event *ev)
{
    static const struct churn_event zero;

    return memcmp(ev, &zero, sizeof(zero)) == 0;
}

/* True when s is valid UTF-8 without control characters. */
static bool is_clean_text(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;

    while (*p != '\0') {
        size_t n;

        if (*p < 0x20 || *p == 0x7F) {
            return false;
        }
        if (*p < 0x80) {
            p++;
            continue;
        }
        n = *p >= 0xF0 ? 4 : *p >= 0xE0 ? 3 : 2;
        if (*p < 0xC2 || *p > 0xF4) {
            return false;
        }
        for (size_t i = 1; i < n; i++) {
            if ((p[i] & 0xC0) != 0x80) {
                return false;
            }
        }
        p += n;
    }
    return true;
}

/* Checks the invariants of a rejection. */
static void assert_rejected(const char *name,
                            enum churn_reason r,
                            const struct churn_event *ev,
                            const struct churn_decode_result *res)
{
    ck_assert_msg(r != CHURN_REASON_NONE && r < CHURN_REASON__COUNT &&
                      r != CHURN_REASON_LATE,
                  "%s: reason %d", name, (int)r);
    ck_assert_msg(res->reason == r, "%s: res->reason %d != %d", name,
                  (int)res->reason, (int)r);
    ck_assert_msg(res->detail[0] != '\0', "%s: empty detail", name);
    ck_assert_msg(is_clean_text(res->detail), "%s: detail not clean: %s", name,
                  res->detail);
    ck_assert_msg(res->detail[0] < 'A' || res->detail[0] > 'Z',
                  "%s: detail starts upper-case: %s", name, res->detail);
    ck_assert_msg(is_zero_event(ev), "%s: event not zeroed on failure", name);
}

/*
 * Every proper prefix of a valid event must be rejected (none of them is a
 * complete object), each with a clean reason and never a crash.
 */
static void
assert_prefixes_rejected(const char *name, const char *buf, size_t n)
{
    struct churn_decoder *dec = churn_decoder_new(MAX_LEN);

    ck_assert_ptr_nonnull(dec);
    for (size_t k = 0; k < n; k++) {
        struct churn_event ev;
        struct churn_decode_result res;
        char *p = bdup(buf, k);
        enum churn_reason r = churn_decoder_decode(dec, p, k, &ev, &res);

        free(p);
        if (r == CHURN_REASON_NONE || res.detail[0] == '\0' ||
            !is_zero_event(&ev)) {
            ck_abort_msg("%s: prefix of %zu bytes: reason %s '%s'", name, k,
                         churn_reason_name(r), res.detail);
        }
    }
    churn_decoder_free(dec);
}

/* ---- valid events: every decoded field is checked ---- */

/* Expected event; NULL strings are absent, count 0 means the default 1. */
struct want {
    enum churn_event_type type;
    uint32_t has;
    int64_t ts_ms;
    const char *event_id;   /* NULL: "e1" */
    const char *account_id; /* NULL: "a1" */
    const char *user_id, *ip, *plan, *currency, *reason;
    int64_t mrr, seats, effective_at_ms;
    bool voluntary;
    const char *feature;
    int64_t count, duration_s, amount;
    const char *decline_code;
    int64_t attempt;
    int32_t card_exp_ym, score;
    const char *priority;
    double sentiment;
};

struct valid_case {
    const char *name;
    const char *json;
    struct want want;
};

static const struct valid_case valid_cases[] = {
    { "subscription.created",
      "{'type':'subscription.created','event_id':'evt-001','account_id':"
      "'acct_1','ts':'2026-03-01T12:00:00Z','user_id':'u1','ip':'203.0.113."
      "7','plan':'pro','mrr':4900,'currency':'USD','seats':5}",
      { .type = CHURN_EV_SUB_CREATED,
        .has = CHURN_F_USER_ID | CHURN_F_IP | CHURN_F_PLAN | CHURN_F_MRR |
               CHURN_F_CURRENCY | CHURN_F_SEATS,
        .ts_ms = BASE_MS,
        .event_id = "evt-001",
        .account_id = "acct_1",
        .user_id = "u1",
        .ip = "203.0.113.7",
        .plan = "pro",
        .mrr = 4900,
        .currency = "USD",
        .seats = 5 } },
    { "subscription.trial_started",
      EV("subscription.trial_started",
         ",'plan':'trial','effective_at':'2026-03-15T00:00:00Z'"),
      { .type = CHURN_EV_SUB_TRIAL_STARTED,
        .has = CHURN_F_PLAN | CHURN_F_EFFECTIVE_AT,
        .ts_ms = BASE_MS,
        .plan = "trial",
        .effective_at_ms = 1773532800000LL } },
    { "subscription.trial_converted",
      "{'type':'subscription.trial_converted','event_id':'e1','account_id':"
      "'a1','ts':'2026-03-01T12:00:00-05:00','plan':'pro','mrr':4900,"
      "'currency':'EUR'}",
      { .type = CHURN_EV_SUB_TRIAL_CONVERTED,
        .has = CHURN_F_PLAN | CHURN_F_MRR | CHURN_F_CURRENCY,
        .ts_ms = 1772384400000LL,
        .plan = "pro",
        .mrr = 4900,
        .currency = "EUR" } },
    { "subscription.upgraded",
      "{'type':'subscription.upgraded','event_id':'e1','account_id':'a1',"
      "'ts':1772366400123,'plan':'business','mrr':9900,'currency':'USD',"
      "'seats':12}",
      { .type = CHURN_EV_SUB_UPGRADED,
        .has = CHURN_F_PLAN | CHURN_F_MRR | CHURN_F_CURRENCY | CHURN_F_SEATS,
        .ts_ms = BASE_MS + 123,
        .plan = "business",
        .mrr = 9900,
        .currency = "USD",
        .seats = 12 } },
    { "subscription.downgraded",
      EV("subscription.downgraded", ",'mrr':1900,'currency':'USD'"),
      { .type = CHURN_EV_SUB_DOWNGRADED,
        .has = CHURN_F_MRR | CHURN_F_CURRENCY,
        .ts_ms = BASE_MS,
        .mrr = 1900,
        .currency = "USD" } },
    { "subscription.renewed",
      EV("subscription.renewed", ""),
      { .type = CHURN_EV_SUB_RENEWED, .ts_ms = BASE_MS } },
    { "subscription.paused",
      EV("subscription.paused", ",'reason':'seasonal','plan':null"),
      { .type = CHURN_EV_SUB_PAUSED,
        .has = CHURN_F_REASON,
        .ts_ms = BASE_MS,
        .reason = "seasonal" } },
    { "subscription.resumed",
      EV("subscription.resumed", ",'user_id':null,'ip':null"),
      { .type = CHURN_EV_SUB_RESUMED, .ts_ms = BASE_MS } },
    { "subscription.cancel_scheduled",
      EV("subscription.cancel_scheduled",
         ",'effective_at':1775001600000,'reason':'too_expensive',"
         "'voluntary':true"),
      { .type = CHURN_EV_SUB_CANCEL_SCHEDULED,
        .has = CHURN_F_EFFECTIVE_AT | CHURN_F_REASON | CHURN_F_VOLUNTARY,
        .ts_ms = BASE_MS,
        .effective_at_ms = 1775001600000LL,
        .reason = "too_expensive",
        .voluntary = true } },
    { "subscription.canceled",
      EV("subscription.canceled", ",'voluntary':false"),
      { .type = CHURN_EV_SUB_CANCELED,
        .has = CHURN_F_VOLUNTARY,
        .ts_ms = BASE_MS,
        .voluntary = false } },
    { "subscription.expired",
      EV("subscription.expired", ",'seats':0"),
      { .type = CHURN_EV_SUB_EXPIRED,
        .has = CHURN_F_SEATS,
        .ts_ms = BASE_MS,
        .seats = 0 } },
    { "subscription.reactivated",
      EV("subscription.reactivated", ",'plan':'pro','mrr':0,'currency':'JPY'"),
      { .type = CHURN_EV_SUB_REACTIVATED,
        .has = CHURN_F_PLAN | CHURN_F_MRR | CHURN_F_CURRENCY,
        .ts_ms = BASE_MS,
        .plan = "pro",
        .mrr = 0,
        .currency = "JPY" } },
    { "subscription.refunded",
      EV("subscription.refunded",
         ",'extra':{'nested':[1,{'deep':null}]},'feature':5,'score':'x'"),
      { .type = CHURN_EV_SUB_REFUNDED, .ts_ms = BASE_MS } },
    { "usage.login",
      EV("usage.login", ",'user_id':'u_1','ip':'2001:db8::1'"),
      { .type = CHURN_EV_USAGE_LOGIN,
        .has = CHURN_F_USER_ID | CHURN_F_IP,
        .ts_ms = BASE_MS,
        .user_id = "u_1",
        .ip = "2001:db8::1" } },
    { "usage.session",
      EV("usage.session", ",'duration_s':1800,'count':null"),
      { .type = CHURN_EV_USAGE_SESSION,
        .has = CHURN_F_DURATION,
        .ts_ms = BASE_MS,
        .duration_s = 1800 } },
    { "usage.feature_used",
      EV("usage.feature_used", ",'feature':'reports.export','count':3"),
      { .type = CHURN_EV_USAGE_FEATURE_USED,
        .has = CHURN_F_FEATURE | CHURN_F_COUNT,
        .ts_ms = BASE_MS,
        .feature = "reports.export",
        .count = 3 } },
    { "usage.api_call",
      EV("usage.api_call", ",'count':1000000000,'mrr':'not checked'"),
      { .type = CHURN_EV_USAGE_API_CALL,
        .has = CHURN_F_COUNT,
        .ts_ms = BASE_MS,
        .count = 1000000000 } },
    { "payment.succeeded",
      EV("payment.succeeded", ",'amount':4900,'currency':'USD'"),
      { .type = CHURN_EV_PAY_SUCCEEDED,
        .has = CHURN_F_AMOUNT | CHURN_F_CURRENCY,
        .ts_ms = BASE_MS,
        .amount = 4900,
        .currency = "USD" } },
    { "payment.failed",
      EV("payment.failed",
         ",'amount':4900,'currency':'USD','decline_code':'insufficient_"
         "funds','attempt':2"),
      { .type = CHURN_EV_PAY_FAILED,
        .has = CHURN_F_AMOUNT | CHURN_F_CURRENCY | CHURN_F_DECLINE_CODE |
               CHURN_F_ATTEMPT,
        .ts_ms = BASE_MS,
        .amount = 4900,
        .currency = "USD",
        .decline_code = "insufficient_funds",
        .attempt = 2 } },
    { "payment.recovered",
      EV("payment.recovered", ",'attempt':1000"),
      { .type = CHURN_EV_PAY_RECOVERED,
        .has = CHURN_F_ATTEMPT,
        .ts_ms = BASE_MS,
        .attempt = 1000 } },
    { "payment.card_expiring",
      EV("payment.card_expiring", ",'card_exp':'2026-04'"),
      { .type = CHURN_EV_PAY_CARD_EXPIRING,
        .has = CHURN_F_CARD_EXP,
        .ts_ms = BASE_MS,
        .card_exp_ym = 2026 * 12 + 3 } },
    { "payment.refunded",
      EV("payment.refunded", ",'amount':1000000000000000,'currency':'GBP'"),
      { .type = CHURN_EV_PAY_REFUNDED,
        .has = CHURN_F_AMOUNT | CHURN_F_CURRENCY,
        .ts_ms = BASE_MS,
        .amount = 1000000000000000LL,
        .currency = "GBP" } },
    { "payment.chargeback",
      EV("payment.chargeback",
         ",'amount':0,'currency':'USD','plan':5,'decline_code':'fraudulent'"),
      { .type = CHURN_EV_PAY_CHARGEBACK,
        .has = CHURN_F_AMOUNT | CHURN_F_CURRENCY | CHURN_F_DECLINE_CODE,
        .ts_ms = BASE_MS,
        .amount = 0,
        .currency = "USD",
        .decline_code = "fraudulent" } },
    { "feedback.nps",
      EV("feedback.nps", ",'score':10,'user_id':'u_3'"),
      { .type = CHURN_EV_FB_NPS,
        .has = CHURN_F_SCORE | CHURN_F_USER_ID,
        .ts_ms = BASE_MS,
        .user_id = "u_3",
        .score = 10 } },
    { "feedback.ticket",
      EV("feedback.ticket", ",'priority':'high','sentiment':-0.75"),
      { .type = CHURN_EV_FB_TICKET,
        .has = CHURN_F_PRIORITY | CHURN_F_SENTIMENT,
        .ts_ms = BASE_MS,
        .priority = "high",
        .sentiment = -0.75 } },
    /* more than one case per type from here: envelope forms */
    { "keys in any order, escapes in strings",
      "{'ts':0,'user_id':'J\\u00f6rg \\\"jo\\\"','account_id':'a\\/1',"
      "'event_id':'e1','type':'usage.login'}",
      { .type = CHURN_EV_USAGE_LOGIN,
        .has = CHURN_F_USER_ID,
        .ts_ms = 0,
        .account_id = "a/1",
        .user_id = "J\xc3\xb6rg \"jo\"" } },
    { "ts max integer, sentiment integer 1",
      "{'type':'feedback.ticket','event_id':'e1','account_id':'a1','ts':"
      "253402300799999,'sentiment':1}",
      { .type = CHURN_EV_FB_TICKET,
        .has = CHURN_F_SENTIMENT,
        .ts_ms = CHURN_TS_MAX_MS,
        .sentiment = 1.0 } },
    { "128-byte ids, escaped key",
      "{'type':'usage.login','event_id':'" X128 "','account_id':'" X128
      "','\\u0074s':'2026-03-01T12:00:00Z','user_id':'" X128 "'}",
      { .type = CHURN_EV_USAGE_LOGIN,
        .has = CHURN_F_USER_ID,
        .ts_ms = BASE_MS,
        .event_id = X128,
        .account_id = X128,
        .user_id = X128 } },
};

static void assert_str(const char *name,
                       const char *field,
                       struct churn_str got,
                       const char *want)
{
    if (want == NULL) {
        ck_assert_msg(got.ptr == NULL && got.len == 0,
                      "%s: %s should be absent, is %zu bytes", name, field,
                      got.len);
        return;
    }
    ck_assert_msg(churn_str_eq_cstr(got, want), "%s: %s is '%.*s', want '%s'",
                  name, field, (int)got.len, got.ptr ? got.ptr : "", want);
}

static void assert_event(const char *name,
                         const struct churn_event *ev,
                         const struct want *w)
{
    ck_assert_msg(ev->type == w->type, "%s: type %d want %d", name,
                  (int)ev->type, (int)w->type);
    ck_assert_msg(ev->has == w->has, "%s: has 0x%x want 0x%x", name, ev->has,
                  w->has);
    ck_assert_msg(ev->ts_ms == w->ts_ms, "%s: ts %lld want %lld", name,
                  (long long)ev->ts_ms, (long long)w->ts_ms);
    assert_str(name, "event_id", ev->event_id,
               w->event_id ? w->event_id : "e1");
    assert_str(name, "account_id", ev->account_id,
               w->account_id ? w->account_id : "a1");
    assert_str(name, "user_id", ev->user_id, w->user_id);
    assert_str(name, "ip", ev->ip, w->ip);
    assert_str(name, "plan", ev->plan, w->plan);
    assert_str(name, "currency", ev->currency, w->currency);
    assert_str(name, "reason", ev->reason, w->reason);
    assert_str(name, "feature", ev->feature, w->feature);
    assert_str(name, "decline_code", ev->decline_code, w->decline_code);
    assert_str(name, "priority", ev->priority, w->priority);
    ck_assert_msg(ev->mrr == w->mrr, "%s: mrr %lld", name, (long long)ev->mrr);
    ck_assert_msg(ev->seats == w->seats, "%s: seats %lld", name,
                  (long long)ev->seats);
    ck_assert_msg(ev->effective_at_ms == w->effective_at_ms,
                  "%s: effective_at %lld", name,
                  (long long)ev->effective_at_ms);
    ck_assert_msg(ev->voluntary == w->voluntary, "%s: voluntary", name);
    ck_assert_msg(ev->count == (w->count ? w->count : 1), "%s: count %lld",
                  name, (long long)ev->count);
    ck_assert_msg(ev->duration_s == w->duration_s, "%s: duration_s %lld", name,
                  (long long)ev->duration_s);
    ck_assert_msg(ev->amount == w->amount, "%s: amount %lld", name,
                  (long long)ev->amount);
    ck_assert_msg(ev->attempt == w->attempt, "%s: attempt %lld", name,
                  (long long)ev->attempt);
    ck_assert_msg(ev->card_exp_ym == w->card_exp_ym, "%s: card_exp_ym %d", name,
                  (int)ev->card_exp_ym);
    ck_assert_msg(ev->score == w->score, "%s: score %d", name, (int)ev->score);
    ck_assert_msg(ev->sentiment == w->sentiment, "%s: sentiment %g", name,
                  ev->sentiment);
}

START_TEST(test_valid)
{
    const struct valid_case *c = &valid_cases[_i];
    struct churn_decoder *dec = churn_decoder_new(MAX_LEN);
    struct churn_event ev;
    struct churn_decode_result res;
    size_t n;
    char *buf = jdup(c->json, &n);
    enum churn_reason r = churn_decoder_decode(dec, buf, n, &ev, &res);

    ck_assert_msg(r == CHURN_REASON_NONE, "%s: %s: %s", c->name,
                  churn_reason_name(r), res.detail);
    ck_assert_msg(res.reason == CHURN_REASON_NONE && res.detail[0] == '\0',
                  "%s: result not cleared", c->name);
    /* the views live in the decoder, not in the input */
    memset(buf, '#', n);
    free(buf);
    assert_event(c->name, &ev, &c->want);
    churn_decoder_free(dec);

    buf = jdup(c->json, &n);
    assert_prefixes_rejected(c->name, buf, n);
    free(buf);
}
END_TEST

/* ---- rejections (and a few boundary acceptances) ---- */

struct reason_case {
    const char *name;
    const char *json;
    enum churn_reason want;
    const char *detail; /* expected substring of the detail */
};

#define R_NONE   CHURN_REASON_NONE
#define R_JSON   CHURN_REASON_NOT_JSON
#define R_OBJ    CHURN_REASON_NOT_OBJECT
#define R_DUP    CHURN_REASON_DUPLICATE_KEY
#define R_MISS   CHURN_REASON_MISSING_FIELD
#define R_TYPE   CHURN_REASON_BAD_FIELD_TYPE
#define R_VALUE  CHURN_REASON_BAD_VALUE
#define R_UNK    CHURN_REASON_UNKNOWN_TYPE
#define R_TSTAMP CHURN_REASON_BAD_TIMESTAMP

static const struct reason_case reason_cases[] = {
    /* json and object */
    { "empty", "", R_JSON, "not json: empty input" },
    { "whitespace only", "  \t ", R_JSON, "not json:" },
    { "open brace", "{", R_JSON, "not json:" },
    { "truncated in a string", "{'type':'usage.lo", R_JSON,
      "premature end of input" },
    { "trailing garbage", EV("usage.login", "") " x", R_JSON,
      "end of file expected" },
    { "two objects", "{}{}", R_JSON, "end of file expected" },
    { "trailing comma", "{'a':1,}", R_JSON, "not json:" },
    { "comment", "{/* c */}", R_JSON, "not json:" },
    { "NaN", "{'a':NaN}", R_JSON, "not json:" },
    { "leading zero", "{'a':01}", R_JSON, "not json:" },
    { "unquoted key", "{a:1}", R_JSON, "not json:" },
    { "lone surrogate escape", "{'a':'\\ud800'}", R_JSON, "not json:" },
    { "escaped nul in value", EV("usage.login", ",'user_id':'a\\u0000b'"),
      R_JSON, "\\u0000" },
    { "escaped nul in key", "{'a\\u0000':1}", R_JSON, "\\u0000" },
    { "raw newline in string", "{'a':'x\ny'}", R_JSON, "newline" },
    { "array", "[" EV("usage.login", "") "]", R_OBJ, "top level is an array" },
    { "number", "42", R_OBJ, "top level is a number" },
    { "string", "'usage.login'", R_OBJ, "top level is a string" },
    { "null", "null", R_OBJ, "top level is null" },
    { "true", "true", R_OBJ, "top level is a boolean" },
    { "duplicate type", "{'type':'usage.login','type':'usage.login'," ENV "}",
      R_DUP, "duplicate key 'type'" },
    { "duplicate nested key", EV("usage.login", ",'x':{'k':1,'k':2}"), R_DUP,
      "duplicate key 'k'" },
    { "duplicate by escape", EV("usage.login", ",'\\u0074s':1"), R_DUP,
      "duplicate key '\\u0074s'" },
    { "integer overflow names its field",
      EV("subscription.renewed", ",'mrr':99999999999999999999"), R_VALUE,
      "bad field 'mrr': too big integer" },
    { "real overflow names its field",
      EV("subscription.renewed", ",'mrr' : 1e400"), R_VALUE,
      "bad field 'mrr': real number overflow" },
    { "overflow in an array", EV("usage.login", ",'x':[1e400]"), R_VALUE,
      "bad value: real number overflow" },
    /* type */
    { "type missing", "{" ENV "}", R_MISS, "missing field 'type'" },
    { "type null", "{'type':null," ENV "}", R_MISS, "missing field 'type'" },
    { "type number", "{'type':5," ENV "}", R_TYPE,
      "bad field 'type': must be a string" },
    { "type object", "{'type':{}," ENV "}", R_TYPE, "bad field 'type'" },
    { "type unknown", EV("usage.logon", ""), R_UNK,
      "unknown type 'usage.logon'" },
    { "type family only", EV("usage.", ""), R_UNK, "unknown type 'usage.'" },
    { "type name only", EV("login", ""), R_UNK, "unknown type 'login'" },
    { "type wrong family", EV("payment.login", ""), R_UNK, "'payment.login'" },
    { "type upper case", EV("Usage.login", ""), R_UNK, "'Usage.login'" },
    { "type trailing space", EV("usage.login ", ""), R_UNK, "'usage.login '" },
    { "type empty", EV("", ""), R_UNK, "unknown type ''" },
    /* order: type, then envelope, then family */
    { "type checked before envelope", "{'type':'nope'}", R_UNK, "'nope'" },
    { "missing type before missing ids", "{'ts':1}", R_MISS, "'type'" },
    { "event_id before account_id",
      "{'type':'usage.login','ts':1,'account_id':5}", R_MISS,
      "missing field 'event_id'" },
    { "envelope before family",
      "{'type':'feedback.nps','event_id':'e','account_id':'a','ts':true}",
      R_TSTAMP, "'ts'" },
    { "family order plan before mrr", EV("subscription.created", ",'mrr':-1"),
      R_MISS, "missing field 'plan'" },
    { "family order not key order",
      "{'seats':-1,'mrr':-1,'type':'subscription.upgraded'," ENV "}", R_VALUE,
      "bad field 'mrr'" },
    /* event_id */
    { "event_id missing", "{'type':'usage.login'," AID "," TS "}", R_MISS,
      "missing field 'event_id'" },
    { "event_id null", "{'type':'usage.login','event_id':null," AID "," TS "}",
      R_MISS, "missing field 'event_id'" },
    { "event_id number", "{'type':'usage.login','event_id':1," AID "," TS "}",
      R_TYPE, "bad field 'event_id': must be a string" },
    { "event_id empty", "{'type':'usage.login','event_id':''," AID "," TS "}",
      R_VALUE, "bad field 'event_id': must be 1..128 bytes, got 0" },
    { "event_id 1 byte", "{'type':'usage.login','event_id':'x'," AID "," TS "}",
      R_NONE, NULL },
    { "event_id 129 bytes",
      "{'type':'usage.login','event_id':'" X128 "x'," AID "," TS "}", R_VALUE,
      "bad field 'event_id': must be 1..128 bytes, got 129" },
    { "event_id 129 bytes by escapes",
      "{'type':'usage.login','event_id':'" X64 X32 X16 "xxxxxxxxxxxxxxx\\u00e9'"
      "," AID "," TS "}",
      R_VALUE, "got 129" },
    /* account_id */
    { "account_id missing", "{'type':'usage.login'," EID "," TS "}", R_MISS,
      "missing field 'account_id'" },
    { "account_id null",
      "{'type':'usage.login','account_id':null," EID "," TS "}", R_MISS,
      "missing field 'account_id'" },
    { "account_id array",
      "{'type':'usage.login','account_id':['a']," EID "," TS "}", R_TYPE,
      "bad field 'account_id': must be a string" },
    { "account_id empty",
      "{'type':'usage.login','account_id':''," EID "," TS "}", R_VALUE,
      "bad field 'account_id'" },
    { "account_id 129 bytes",
      "{'type':'usage.login','account_id':'" X128 "x'," EID "," TS "}", R_VALUE,
      "bad field 'account_id': must be 1..128 bytes, got 129" },
    /* ts */
    { "ts missing", "{'type':'usage.login'," EID "," AID "}", R_MISS,
      "missing field 'ts'" },
    { "ts null", "{'type':'usage.login','ts':null," EID "," AID "}", R_MISS,
      "missing field 'ts'" },
    { "ts boolean", "{'type':'usage.login','ts':true," EID "," AID "}",
      R_TSTAMP, "bad field 'ts'" },
    { "ts real", "{'type':'usage.login','ts':1772366400000.0," EID "," AID "}",
      R_TSTAMP, "bad field 'ts'" },
    { "ts exponent", "{'type':'usage.login','ts':1.7e12," EID "," AID "}",
      R_TSTAMP, "bad field 'ts'" },
    { "ts object", "{'type':'usage.login','ts':{}," EID "," AID "}", R_TSTAMP,
      "bad field 'ts'" },
    { "ts words", "{'type':'usage.login','ts':'yesterday'," EID "," AID "}",
      R_TSTAMP, "bad field 'ts': must be an RFC 3339 time" },
    { "ts empty string", "{'type':'usage.login','ts':''," EID "," AID "}",
      R_TSTAMP, "bad field 'ts'" },
    { "ts feb 30",
      "{'type':'usage.login','ts':'2026-02-30T00:00:00Z'," EID "," AID "}",
      R_TSTAMP, "bad field 'ts'" },
    { "ts without zone",
      "{'type':'usage.login','ts':'2026-03-01T12:00:00'," EID "," AID "}",
      R_TSTAMP, "bad field 'ts'" },
    { "ts negative", "{'type':'usage.login','ts':-1," EID "," AID "}", R_TSTAMP,
      "bad field 'ts'" },
    { "ts past 9999",
      "{'type':'usage.login','ts':253402300800000," EID "," AID "}", R_TSTAMP,
      "bad field 'ts'" },
    { "ts seconds are taken as ms",
      "{'type':'usage.login','ts':1772366400," EID "," AID "}", R_NONE, NULL },
    /* user_id and ip */
    { "user_id null", EV("usage.login", ",'user_id':null"), R_NONE, NULL },
    { "user_id number", EV("usage.login", ",'user_id':7"), R_TYPE,
      "bad field 'user_id': must be a string" },
    { "user_id empty", EV("usage.login", ",'user_id':''"), R_VALUE,
      "bad field 'user_id': must be 1..128 bytes, got 0" },
    { "user_id 128", EV("usage.login", ",'user_id':'" X128 "'"), R_NONE, NULL },
    { "user_id 129", EV("usage.login", ",'user_id':'" X128 "x'"), R_VALUE,
      "bad field 'user_id'" },
    { "ip null", EV("usage.login", ",'ip':null"), R_NONE, NULL },
    { "ip number", EV("usage.login", ",'ip':3232235777"), R_TYPE,
      "bad field 'ip': must be a string" },
    { "ip not an address is left to enrichment",
      EV("usage.login", ",'ip':'not-an-ip'"), R_NONE, NULL },
    { "ip empty is left to enrichment", EV("usage.login", ",'ip':''"), R_NONE,
      NULL },
    { "ip 64 bytes", EV("usage.login", ",'ip':'" X64 "'"), R_NONE, NULL },
    { "ip 65 bytes", EV("usage.login", ",'ip':'" X64 "x'"), R_VALUE,
      "bad field 'ip': must be at most 64 bytes" },
    /* required family fields, per type */
    { "created without plan",
      EV("subscription.created", ",'mrr':1,'currency':'USD'"), R_MISS,
      "missing field 'plan'" },
    { "created with null plan",
      EV("subscription.created", ",'plan':null,'mrr':1,'currency':'USD'"),
      R_MISS, "missing field 'plan'" },
    { "created without mrr", EV("subscription.created", ",'plan':'p'"), R_MISS,
      "missing field 'mrr'" },
    { "created without currency",
      EV("subscription.created", ",'plan':'p','mrr':1"), R_MISS,
      "missing field 'currency'" },
    { "trial_started without plan", EV("subscription.trial_started", ""),
      R_MISS, "missing field 'plan'" },
    { "trial_started without effective_at",
      EV("subscription.trial_started", ",'plan':'p'"), R_NONE, NULL },
    { "trial_converted without plan",
      EV("subscription.trial_converted", ",'mrr':1,'currency':'USD'"), R_MISS,
      "missing field 'plan'" },
    { "trial_converted without mrr",
      EV("subscription.trial_converted", ",'plan':'p'"), R_MISS,
      "missing field 'mrr'" },
    { "upgraded without mrr",
      EV("subscription.upgraded", ",'plan':'p','seats':3"), R_MISS,
      "missing field 'mrr'" },
    { "upgraded with null mrr", EV("subscription.upgraded", ",'mrr':null"),
      R_MISS, "missing field 'mrr'" },
    { "downgraded without mrr", EV("subscription.downgraded", ""), R_MISS,
      "missing field 'mrr'" },
    { "downgraded without currency", EV("subscription.downgraded", ",'mrr':1"),
      R_MISS, "missing field 'currency'" },
    { "cancel_scheduled without effective_at",
      EV("subscription.cancel_scheduled", ",'reason':'r'"), R_MISS,
      "missing field 'effective_at'" },
    { "cancel_scheduled with null effective_at",
      EV("subscription.cancel_scheduled", ",'effective_at':null"), R_MISS,
      "missing field 'effective_at'" },
    { "renewed with mrr but no currency",
      EV("subscription.renewed", ",'mrr':100"), R_MISS,
      "missing field 'currency'" },
    { "currency without money", EV("subscription.renewed", ",'currency':'USD'"),
      R_NONE, NULL },
    { "feature_used without feature", EV("usage.feature_used", ",'count':2"),
      R_MISS, "missing field 'feature'" },
    { "feature_used with null feature",
      EV("usage.feature_used", ",'feature':null"), R_MISS,
      "missing field 'feature'" },
    { "card_expiring without card_exp", EV("payment.card_expiring", ""), R_MISS,
      "missing field 'card_exp'" },
    { "payment with amount but no currency",
      EV("payment.succeeded", ",'amount':100"), R_MISS,
      "missing field 'currency'" },
    { "payment with null currency",
      EV("payment.failed", ",'amount':100,'currency':null"), R_MISS,
      "missing field 'currency'" },
    { "nps without score", EV("feedback.nps", ""), R_MISS,
      "missing field 'score'" },
    { "nps with null score", EV("feedback.nps", ",'score':null"), R_MISS,
      "missing field 'score'" },
    { "ticket without anything", EV("feedback.ticket", ""), R_NONE, NULL },
    /* subscription field values */
    { "mrr 1e15",
      EV("subscription.renewed", ",'mrr':1000000000000000,'currency':'USD'"),
      R_NONE, NULL },
    { "mrr 1e15+1",
      EV("subscription.renewed", ",'mrr':1000000000000001,'currency':'USD'"),
      R_VALUE, "bad field 'mrr': must be an integer 0..1000000000000000" },
    { "mrr negative", EV("subscription.renewed", ",'mrr':-1,'currency':'USD'"),
      R_VALUE, "bad field 'mrr'" },
    { "mrr string",
      EV("subscription.renewed", ",'mrr':'4900','currency':'USD'"), R_TYPE,
      "bad field 'mrr': must be an integer" },
    { "mrr real", EV("subscription.renewed", ",'mrr':49.0,'currency':'USD'"),
      R_TYPE, "bad field 'mrr': must be an integer" },
    { "mrr exponent", EV("subscription.renewed", ",'mrr':1e3,'currency':'USD'"),
      R_TYPE, "bad field 'mrr'" },
    { "mrr boolean", EV("subscription.renewed", ",'mrr':true"), R_TYPE,
      "bad field 'mrr'" },
    { "currency lower case",
      EV("subscription.renewed", ",'mrr':1,'currency':'usd'"), R_VALUE,
      "bad field 'currency': must be 3 upper-case ASCII letters" },
    { "currency 2 letters",
      EV("subscription.renewed", ",'mrr':1,'currency':'US'"), R_VALUE,
      "bad field 'currency'" },
    { "currency 4 letters",
      EV("subscription.renewed", ",'mrr':1,'currency':'USDT'"), R_VALUE,
      "bad field 'currency'" },
    { "currency symbol",
      EV("subscription.renewed", ",'mrr':1,'currency':'U$D'"), R_VALUE,
      "bad field 'currency'" },
    { "currency non-ascii",
      EV("subscription.renewed", ",'mrr':1,'currency':'\\u00c9UR'"), R_VALUE,
      "bad field 'currency'" },
    { "currency empty", EV("subscription.renewed", ",'currency':''"), R_VALUE,
      "bad field 'currency'" },
    { "currency number", EV("subscription.renewed", ",'currency':840"), R_TYPE,
      "bad field 'currency': must be a string" },
    { "seats max", EV("subscription.renewed", ",'seats':10000000"), R_NONE,
      NULL },
    { "seats over max", EV("subscription.renewed", ",'seats':10000001"),
      R_VALUE, "bad field 'seats': must be an integer 0..10000000" },
    { "seats negative", EV("subscription.renewed", ",'seats':-1"), R_VALUE,
      "bad field 'seats'" },
    { "seats string", EV("subscription.renewed", ",'seats':'5'"), R_TYPE,
      "bad field 'seats': must be an integer" },
    { "plan empty", EV("subscription.renewed", ",'plan':''"), R_VALUE,
      "bad field 'plan': must be 1..128 bytes, got 0" },
    { "plan 128", EV("subscription.renewed", ",'plan':'" X128 "'"), R_NONE,
      NULL },
    { "plan 129", EV("subscription.renewed", ",'plan':'" X128 "x'"), R_VALUE,
      "bad field 'plan'" },
    { "plan number", EV("subscription.renewed", ",'plan':5"), R_TYPE,
      "bad field 'plan': must be a string" },
    { "reason empty", EV("subscription.canceled", ",'reason':''"), R_VALUE,
      "bad field 'reason'" },
    { "reason 129", EV("subscription.canceled", ",'reason':'" X128 "x'"),
      R_VALUE, "bad field 'reason'" },
    { "reason array", EV("subscription.canceled", ",'reason':[]"), R_TYPE,
      "bad field 'reason': must be a string" },
    { "effective_at boolean",
      EV("subscription.cancel_scheduled", ",'effective_at':true"), R_TYPE,
      "bad field 'effective_at': must be a string or an integer" },
    { "effective_at real",
      EV("subscription.cancel_scheduled", ",'effective_at':1.5"), R_TYPE,
      "bad field 'effective_at'" },
    { "effective_at words",
      EV("subscription.cancel_scheduled", ",'effective_at':'next month'"),
      R_VALUE, "bad field 'effective_at': must be an RFC 3339 time" },
    { "effective_at negative",
      EV("subscription.cancel_scheduled", ",'effective_at':-5"), R_VALUE,
      "bad field 'effective_at'" },
    { "effective_at with offset",
      EV("subscription.cancel_scheduled",
         ",'effective_at':'2026-04-01T00:00:00+02:00'"),
      R_NONE, NULL },
    { "voluntary string", EV("subscription.canceled", ",'voluntary':'yes'"),
      R_TYPE, "bad field 'voluntary': must be a boolean" },
    { "voluntary number", EV("subscription.canceled", ",'voluntary':1"), R_TYPE,
      "bad field 'voluntary'" },
    /* usage field values */
    { "feature empty", EV("usage.feature_used", ",'feature':''"), R_VALUE,
      "bad field 'feature'" },
    { "feature number", EV("usage.feature_used", ",'feature':5"), R_TYPE,
      "bad field 'feature': must be a string" },
    { "feature 129", EV("usage.feature_used", ",'feature':'" X128 "x'"),
      R_VALUE, "bad field 'feature'" },
    { "count 0", EV("usage.api_call", ",'count':0"), R_VALUE,
      "bad field 'count': must be an integer 1..1000000000" },
    { "count 1e9+1", EV("usage.api_call", ",'count':1000000001"), R_VALUE,
      "bad field 'count'" },
    { "count string", EV("usage.api_call", ",'count':'3'"), R_TYPE,
      "bad field 'count': must be an integer" },
    { "count real", EV("usage.api_call", ",'count':2.0"), R_TYPE,
      "bad field 'count'" },
    { "duration_s 0", EV("usage.session", ",'duration_s':0"), R_NONE, NULL },
    { "duration_s max", EV("usage.session", ",'duration_s':10000000"), R_NONE,
      NULL },
    { "duration_s over max", EV("usage.session", ",'duration_s':10000001"),
      R_VALUE, "bad field 'duration_s': must be an integer 0..10000000" },
    { "duration_s negative", EV("usage.session", ",'duration_s':-1"), R_VALUE,
      "bad field 'duration_s'" },
    { "duration_s string", EV("usage.session", ",'duration_s':'60'"), R_TYPE,
      "bad field 'duration_s'" },
    /* payment field values */
    { "amount 1e15+1",
      EV("payment.succeeded", ",'amount':1000000000000001,'currency':'USD'"),
      R_VALUE, "bad field 'amount': must be an integer 0..1000000000000000" },
    { "amount negative",
      EV("payment.refunded", ",'amount':-5,'currency':'USD'"), R_VALUE,
      "bad field 'amount'" },
    { "amount string",
      EV("payment.succeeded", ",'amount':'49.00','currency':'USD'"), R_TYPE,
      "bad field 'amount': must be an integer" },
    { "amount checked before currency",
      EV("payment.succeeded", ",'amount':-1,'currency':'usd'"), R_VALUE,
      "bad field 'amount'" },
    { "decline_code empty", EV("payment.failed", ",'decline_code':''"), R_VALUE,
      "bad field 'decline_code'" },
    { "decline_code number", EV("payment.failed", ",'decline_code':51"), R_TYPE,
      "bad field 'decline_code': must be a string" },
    { "attempt 0", EV("payment.failed", ",'attempt':0"), R_VALUE,
      "bad field 'attempt': must be an integer 1..1000" },
    { "attempt 1", EV("payment.failed", ",'attempt':1"), R_NONE, NULL },
    { "attempt 1001", EV("payment.failed", ",'attempt':1001"), R_VALUE,
      "bad field 'attempt'" },
    { "attempt string", EV("payment.failed", ",'attempt':'2'"), R_TYPE,
      "bad field 'attempt'" },
    { "card_exp 2000-01", EV("payment.card_expiring", ",'card_exp':'2000-01'"),
      R_NONE, NULL },
    { "card_exp 9999-12", EV("payment.card_expiring", ",'card_exp':'9999-12'"),
      R_NONE, NULL },
    { "card_exp month 13", EV("payment.card_expiring", ",'card_exp':'2026-13'"),
      R_VALUE, "bad field 'card_exp': must be YYYY-MM" },
    { "card_exp month 00", EV("payment.card_expiring", ",'card_exp':'2026-00'"),
      R_VALUE, "bad field 'card_exp'" },
    { "card_exp year 1999",
      EV("payment.card_expiring", ",'card_exp':'1999-12'"), R_VALUE,
      "bad field 'card_exp'" },
    { "card_exp two-digit year",
      EV("payment.card_expiring", ",'card_exp':'26-04'"), R_VALUE,
      "bad field 'card_exp'" },
    { "card_exp one-digit month",
      EV("payment.card_expiring", ",'card_exp':'2026-4'"), R_VALUE,
      "bad field 'card_exp'" },
    { "card_exp slash", EV("payment.card_expiring", ",'card_exp':'2026/04'"),
      R_VALUE, "bad field 'card_exp'" },
    { "card_exp with day",
      EV("payment.card_expiring", ",'card_exp':'2026-04-01'"), R_VALUE,
      "bad field 'card_exp'" },
    { "card_exp signed", EV("payment.card_expiring", ",'card_exp':'2026--4'"),
      R_VALUE, "bad field 'card_exp'" },
    { "card_exp MM/YY", EV("payment.card_expiring", ",'card_exp':'04/26'"),
      R_VALUE, "bad field 'card_exp'" },
    { "card_exp number", EV("payment.card_expiring", ",'card_exp':202604"),
      R_TYPE, "bad field 'card_exp': must be a string" },
    /* feedback field values */
    { "score 0", EV("feedback.nps", ",'score':0"), R_NONE, NULL },
    { "score 11", EV("feedback.nps", ",'score':11"), R_VALUE,
      "bad field 'score': must be an integer 0..10" },
    { "score -1", EV("feedback.nps", ",'score':-1"), R_VALUE,
      "bad field 'score'" },
    { "score string", EV("feedback.nps", ",'score':'9'"), R_TYPE,
      "bad field 'score': must be an integer" },
    { "score real", EV("feedback.nps", ",'score':9.5"), R_TYPE,
      "bad field 'score'" },
    { "sentiment -1", EV("feedback.ticket", ",'sentiment':-1"), R_NONE, NULL },
    { "sentiment 1.5", EV("feedback.ticket", ",'sentiment':1.5"), R_VALUE,
      "bad field 'sentiment': must be a number -1..1" },
    { "sentiment -1.01", EV("feedback.ticket", ",'sentiment':-1.01"), R_VALUE,
      "bad field 'sentiment'" },
    { "sentiment 2", EV("feedback.ticket", ",'sentiment':2"), R_VALUE,
      "bad field 'sentiment'" },
    { "sentiment string", EV("feedback.ticket", ",'sentiment':'neg'"), R_TYPE,
      "bad field 'sentiment': must be a number" },
    { "sentiment boolean", EV("feedback.ticket", ",'sentiment':false"), R_TYPE,
      "bad field 'sentiment'" },
    { "priority 32", EV("feedback.ticket", ",'priority':'" X32 "'"), R_NONE,
      NULL },
    { "priority 33", EV("feedback.ticket", ",'priority':'" X32 "x'"), R_VALUE,
      "bad field 'priority': must be 1..32 bytes, got 33" },
    { "priority empty", EV("feedback.ticket", ",'priority':''"), R_VALUE,
      "bad field 'priority'" },
    { "priority number", EV("feedback.ticket", ",'priority':1"), R_TYPE,
      "bad field 'priority': must be a string" },
    /* fields of another family are ignored, like unknown fields */
    { "usage ignores subscription fields",
      EV("usage.login", ",'mrr':'x','plan':[],'currency':1"), R_NONE, NULL },
    { "payment ignores feedback fields",
      EV("payment.failed", ",'score':99,'sentiment':'x'"), R_NONE, NULL },
    { "feedback ignores payment fields",
      EV("feedback.nps", ",'score':5,'amount':-1"), R_NONE, NULL },
    { "subscription ignores usage fields",
      EV("subscription.paused", ",'count':0,'card_exp':1"), R_NONE, NULL },
};

START_TEST(test_reason)
{
    const struct reason_case *c = &reason_cases[_i];
    struct churn_event ev;
    struct churn_decode_result res;
    enum churn_reason r = decode_json(c->json, MAX_LEN, &ev, &res);

    ck_assert_msg(r == c->want, "%s: got %s (%s), want %s", c->name,
                  churn_reason_name(r), res.detail, churn_reason_name(c->want));
    if (c->want == CHURN_REASON_NONE) {
        ck_assert_msg(res.detail[0] == '\0', "%s: detail on success", c->name);
        return;
    }
    assert_rejected(c->name, r, &ev, &res);
    ck_assert_msg(strstr(res.detail, c->detail) != NULL,
                  "%s: detail '%s' lacks '%s'", c->name, res.detail, c->detail);
}
END_TEST

/*
 * The family fields are checked in DESIGN order whatever the key order:
 * with fields k..n-1 all of a wrong type (written in reverse), field k is
 * the one reported. The types have no required family field, so only
 * type errors are in play.
 */
START_TEST(test_family_order)
{
    static const struct {
        const char *type;
        const char *fields[8];
    } fams[] = {
        { "subscription.renewed",
          { "plan", "mrr", "currency", "seats", "reason", "effective_at",
            "voluntary", NULL } },
        { "usage.login", { "feature", "count", "duration_s", NULL } },
        { "payment.failed",
          { "amount", "currency", "decline_code", "attempt", "card_exp",
            NULL } },
        { "feedback.ticket", { "score", "priority", "sentiment", NULL } },
    };

    for (size_t f = 0; f < sizeof(fams) / sizeof(fams[0]); f++) {
        size_t n = 0;

        while (fams[f].fields[n] != NULL) {
            n++;
        }
        for (size_t k = 0; k < n; k++) {
            char json[1024], want[64];
            size_t p = 0;
            struct churn_event ev;
            struct churn_decode_result res;
            enum churn_reason r;

            p += (size_t)snprintf(json + p, sizeof(json) - p, "{'type':'%s'",
                                  fams[f].type);
            for (size_t i = n; i-- > k;) {
                p += (size_t)snprintf(json + p, sizeof(json) - p, ",'%s':[]",
                                      fams[f].fields[i]);
            }
            snprintf(json + p, sizeof(json) - p, "," ENV "}");
            r = decode_json(json, MAX_LEN, &ev, &res);
            snprintf(want, sizeof(want), "bad field '%s'", fams[f].fields[k]);
            ck_assert_msg(r == CHURN_REASON_BAD_FIELD_TYPE &&
                              strstr(res.detail, want) != NULL,
                          "%s from %s: got %s (%s)", fams[f].type,
                          fams[f].fields[k], churn_reason_name(r), res.detail);
        }
    }
}
END_TEST

/* ---- raw bytes: framing, BOM, encoding, NUL ---- */

struct raw_case {
    const char *name;
    const char *bytes;
    size_t len;
    enum churn_reason want;
    const char *detail;
};

#define RAW(s) s, sizeof(s) - 1
#define GOOD                                                                   \
    "{\"type\":\"usage.login\",\"event_id\":\"e1\",\"account_id\":\"a1\","     \
    "\"ts\":1}"
#define WITH_USER(u)                                                           \
    "{\"type\":\"usage.login\",\"event_id\":\"e1\",\"account_id\":\"a1\","     \
    "\"ts\":1,\"user_id\":\"" u "\"}"
#define FRAME "\0\0\0\0\x2a"
#define BOM   "\xef\xbb\xbf"

static const struct raw_case raw_cases[] = {
    { "plain", RAW(GOOD), R_NONE, NULL },
    { "schema registry frame", RAW(FRAME GOOD), R_NONE, NULL },
    { "frame with a big schema id", RAW("\0\xff\xff\xff\xff" GOOD), R_NONE,
      NULL },
    { "frame then bom", RAW(FRAME BOM GOOD), R_NONE, NULL },
    { "bom", RAW(BOM GOOD), R_NONE, NULL },
    { "trailing crlf", RAW(GOOD "\r\n"), R_NONE, NULL },
    { "frame of invalid json", RAW(FRAME "{"), R_JSON, "at byte 6" },
    { "frame only", RAW(FRAME), R_JSON, "not json: empty input" },
    { "short frame", RAW("\0\0\0"), R_JSON, "not json" },
    { "lone zero byte", RAW("\0"), R_JSON, "not json" },
    { "frame of an array", RAW(FRAME "[]"), R_OBJ, "array" },
    { "two boms", RAW(BOM BOM GOOD), R_JSON, "not json" },
    { "bom only", RAW(BOM), R_JSON, "empty input" },
    { "bom inside", RAW("{" BOM "}"), R_JSON, "not json" },
    { "utf-16 bom", RAW("\xff\xfe{}"), CHURN_REASON_BAD_ENCODING,
      "bad encoding: unable to decode byte 0xff at byte 0" },
    { "latin-1 byte in a value", RAW(WITH_USER("J\xf6rg")),
      CHURN_REASON_BAD_ENCODING, "bad encoding" },
    { "overlong slash", RAW(WITH_USER("\xc0\xaf")), CHURN_REASON_BAD_ENCODING,
      "bad encoding" },
    { "encoded surrogate", RAW(WITH_USER("\xed\xa0\x80")),
      CHURN_REASON_BAD_ENCODING, "bad encoding" },
    { "cut multi-byte sequence", RAW(WITH_USER("\xe2\x82")),
      CHURN_REASON_BAD_ENCODING, "bad encoding" },
    { "above U+10FFFF", RAW(WITH_USER("\xf4\x90\x80\x80")),
      CHURN_REASON_BAD_ENCODING, "bad encoding" },
    { "invalid utf-8 in a key", RAW("{\"\xff\":1}"), CHURN_REASON_BAD_ENCODING,
      "bad encoding" },
    { "invalid utf-8 in a framed value", RAW(FRAME WITH_USER("\x80")),
      CHURN_REASON_BAD_ENCODING, "bad encoding" },
    { "valid multi-byte user", RAW(WITH_USER("\xe2\x82\xac\xf0\x9f\x98\x80")),
      R_NONE, NULL },
    { "nul byte inside a string", RAW(WITH_USER("a\0b")), R_JSON,
      "control character 0x0" },
    { "nul byte between tokens",
      RAW("{\"type\":\"usage.login\",\0\"event_id\":\"e1\"}"), R_JSON,
      "not json" },
    { "nul byte after the object", RAW(GOOD "\0"), R_JSON, "not json" },
    { "control character in a string", RAW(WITH_USER("a\x01")), R_JSON,
      "control character" },
};

START_TEST(test_raw)
{
    const struct raw_case *c = &raw_cases[_i];
    struct churn_decoder *dec = churn_decoder_new(MAX_LEN);
    struct churn_event ev;
    struct churn_decode_result res;
    char *buf = bdup(c->bytes, c->len);
    enum churn_reason r = churn_decoder_decode(dec, buf, c->len, &ev, &res);

    free(buf);
    ck_assert_msg(r == c->want, "%s: got %s (%s), want %s", c->name,
                  churn_reason_name(r), res.detail, churn_reason_name(c->want));
    if (c->want == CHURN_REASON_NONE) {
        ck_assert_msg(churn_str_eq_cstr(ev.event_id, "e1") &&
                          churn_str_eq_cstr(ev.account_id, "a1"),
                      "%s: envelope", c->name);
    } else {
        assert_rejected(c->name, r, &ev, &res);
        ck_assert_msg(strstr(res.detail, c->detail) != NULL,
                      "%s: detail '%s' lacks '%s'", c->name, res.detail,
                      c->detail);
    }
    churn_decoder_free(dec);
}
END_TEST

/* ---- size limit ---- */

START_TEST(test_oversized)
{
    const char *good = GOOD;
    size_t n = strlen(good);
    struct churn_decoder *dec = churn_decoder_new(n);
    struct churn_event ev;
    struct churn_decode_result res;
    char *buf = malloc(n + 8);
    char want[160];

    memcpy(buf, good, n);
    ck_assert_int_eq(churn_decoder_decode(dec, buf, n, &ev, &res),
                     CHURN_REASON_NONE);

    buf[n] = ' ';
    ck_assert_int_eq(churn_decoder_decode(dec, buf, n + 1, &ev, &res),
                     CHURN_REASON_OVERSIZED);
    assert_rejected("max+1", CHURN_REASON_OVERSIZED, &ev, &res);
    snprintf(want, sizeof(want), "event is %zu bytes, over the limit of %zu",
             n + 1, n);
    ck_assert_str_eq(res.detail, want);

    /* the size is checked before parsing: garbage of max+1 is oversized */
    memset(buf, 0xff, n + 1);
    ck_assert_int_eq(churn_decoder_decode(dec, buf, n + 1, &ev, &res),
                     CHURN_REASON_OVERSIZED);

    /* neither the frame nor a BOM counts */
    memcpy(buf, FRAME, 5);
    memcpy(buf + 5, good, n);
    ck_assert_int_eq(churn_decoder_decode(dec, buf, n + 5, &ev, &res),
                     CHURN_REASON_NONE);
    memcpy(buf, BOM, 3);
    memcpy(buf + 3, good, n);
    ck_assert_int_eq(churn_decoder_decode(dec, buf, n + 3, &ev, &res),
                     CHURN_REASON_NONE);
    memcpy(buf, FRAME BOM, 8);
    memcpy(buf + 8, good, n);
    ck_assert_int_eq(churn_decoder_decode(dec, buf, n + 8, &ev, &res),
                     CHURN_REASON_NONE);
    churn_decoder_free(dec);

    /* a zero limit rejects everything but the empty input */
    dec = churn_decoder_new(0);
    ck_assert_int_eq(churn_decoder_decode(dec, buf, 1, &ev, &res),
                     CHURN_REASON_OVERSIZED);
    ck_assert_int_eq(churn_decoder_decode(dec, buf, 0, &ev, &res),
                     CHURN_REASON_NOT_JSON);
    churn_decoder_free(dec);
    free(buf);
}
END_TEST

/* ---- nesting ---- */

START_TEST(test_deep_nesting)
{
    static const struct {
        const char *name, *head, *open, *close, *tail;
    } shapes[] = {
        { "arrays", "", "[", "]", "" },
        { "objects", "", "{\"a\":", "}", "" },
        { "inside an event",
          "{\"type\":\"usage.login\",\"event_id\":\"e1\",\"account_id\":"
          "\"a1\",\"ts\":1,\"x\":",
          "[", "]", "}" },
    };
    const size_t depth = 100000;

    for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++) {
        size_t hl = strlen(shapes[s].head), ol = strlen(shapes[s].open),
               cl = strlen(shapes[s].close), tl = strlen(shapes[s].tail);
        size_t n = hl + depth * (ol + cl) + 1 + tl, p = 0;
        char *buf = malloc(n);
        struct churn_decoder *dec = churn_decoder_new(n);
        struct churn_event ev;
        struct churn_decode_result res;
        enum churn_reason r;

        memcpy(buf + p, shapes[s].head, hl);
        p += hl;
        for (size_t i = 0; i < depth; i++, p += ol) {
            memcpy(buf + p, shapes[s].open, ol);
        }
        buf[p++] = '1';
        for (size_t i = 0; i < depth; i++, p += cl) {
            memcpy(buf + p, shapes[s].close, cl);
        }
        memcpy(buf + p, shapes[s].tail, tl);
        ck_assert_uint_eq(p + tl, n);
        r = churn_decoder_decode(dec, buf, n, &ev, &res);
        ck_assert_msg(r == CHURN_REASON_NOT_JSON, "%s: got %s (%s)",
                      shapes[s].name, churn_reason_name(r), res.detail);
        assert_rejected(shapes[s].name, r, &ev, &res);
        ck_assert_msg(strstr(res.detail, "depth") != NULL, "%s: detail %s",
                      shapes[s].name, res.detail);
        churn_decoder_free(dec);
        free(buf);
    }
}
END_TEST

/* ---- details quote input safely ---- */

START_TEST(test_detail_quoting)
{
    struct churn_event ev;
    struct churn_decode_result res;

    /* long type: 64 bytes quoted, then "..." */
    ck_assert_int_eq(decode_json(EV(X128 X128, ""), MAX_LEN, &ev, &res),
                     CHURN_REASON_UNKNOWN_TYPE);
    ck_assert_str_eq(res.detail, "unknown type '" X64 "...'");

    /* the cut does not split a UTF-8 character (é is 2 bytes at 63..64) */
    ck_assert_int_eq(decode_json(EV(X32 X16 "xxxxxxxxxxxxxxx\\u00e9xxxx", ""),
                                 MAX_LEN, &ev, &res),
                     CHURN_REASON_UNKNOWN_TYPE);
    ck_assert_str_eq(res.detail,
                     "unknown type '" X32 X16 "xxxxxxxxxxxxxxx...'");
    ck_assert(is_clean_text(res.detail));

    /* control characters and non-ASCII in a type */
    ck_assert_int_eq(
        decode_json(EV("a\\nb\\u0007\\u00e9", ""), MAX_LEN, &ev, &res),
        CHURN_REASON_UNKNOWN_TYPE);
    ck_assert_str_eq(res.detail, "unknown type 'a?b?\xc3\xa9'");

    /* a long duplicate key */
    ck_assert_int_eq(
        decode_json("{'" X128 "':1,'" X128 "':2}", MAX_LEN, &ev, &res),
        CHURN_REASON_DUPLICATE_KEY);
    ck_assert_msg(strncmp(res.detail, "duplicate key '" X64 "...'", 83) == 0,
                  "detail %s", res.detail);

    /* detail always fits with its NUL */
    ck_assert_int_eq(decode_json("{'" X128 X128 "':1e999}", MAX_LEN, &ev, &res),
                     CHURN_REASON_BAD_VALUE);
    ck_assert(strlen(res.detail) < sizeof(res.detail));
    ck_assert(is_clean_text(res.detail));
}
END_TEST

/* ---- decoder lifetime and API edges ---- */

START_TEST(test_reuse_and_lifetime)
{
    struct churn_decoder *dec = churn_decoder_new(MAX_LEN);
    struct churn_event ev, ev2;
    struct churn_decode_result res;
    size_t n;
    char *good = jdup(valid_cases[0].json, &n);

    for (int i = 0; i < 1000; i++) {
        ck_assert_int_eq(churn_decoder_decode(dec, good, n, &ev, &res),
                         CHURN_REASON_NONE);
        ck_assert(churn_str_eq_cstr(ev.plan, "pro"));
        ck_assert_int_eq(churn_decoder_decode(dec, good, n - 1, &ev, &res),
                         CHURN_REASON_NOT_JSON);
        ck_assert(is_zero_event(&ev));
    }
    /* res may be NULL */
    ck_assert_int_eq(churn_decoder_decode(dec, good, n, &ev, NULL),
                     CHURN_REASON_NONE);
    ck_assert_int_eq(churn_decoder_decode(dec, "{", 1, &ev2, NULL),
                     CHURN_REASON_NOT_JSON);
    ck_assert(is_zero_event(&ev2));
    /* NULL buffer with length 0 is empty input */
    ck_assert_int_eq(churn_decoder_decode(dec, NULL, 0, &ev, &res),
                     CHURN_REASON_NOT_JSON);
    churn_decoder_free(dec);
    churn_decoder_free(NULL);
    free(good);
}
END_TEST

START_TEST(test_reason_names)
{
    static const char *const want[CHURN_REASON__COUNT] = {
        "none",      "not_json",      "bad_encoding",  "not_object",
        "oversized", "duplicate_key", "missing_field", "bad_field_type",
        "bad_value", "unknown_type",  "bad_timestamp", "late",
        "future",
    };

    for (int r = 0; r < CHURN_REASON__COUNT; r++) {
        const char *m = churn_reason_meaning((enum churn_reason)r);

        ck_assert_str_eq(churn_reason_name((enum churn_reason)r), want[r]);
        ck_assert_msg(m != NULL && strlen(m) > 10 && is_clean_text(m) &&
                          m[strlen(m) - 1] != '.',
                      "meaning of %s", want[r]);
        for (int q = 0; q < r; q++) {
            ck_assert_str_ne(m, churn_reason_meaning((enum churn_reason)q));
        }
    }
    ck_assert_str_eq(churn_reason_name(CHURN_REASON__COUNT), "invalid");
    ck_assert_ptr_nonnull(churn_reason_meaning(CHURN_REASON__COUNT));
}
END_TEST

/* decode's type table agrees with churn_event_type_name() */
START_TEST(test_type_table)
{
    struct churn_decoder *dec = churn_decoder_new(MAX_LEN);

    for (int t = 0; t < CHURN_EV__COUNT; t++) {
        char json[512];
        struct churn_event ev;
        struct churn_decode_result res;
        enum churn_reason r;
        int n = snprintf(
            json, sizeof(json),
            "{\"type\":\"%s\",\"event_id\":\"e\",\"account_id\":\"a\","
            "\"ts\":5,\"plan\":\"p\",\"mrr\":1,\"currency\":\"USD\","
            "\"effective_at\":6,\"feature\":\"f\",\"card_exp\":\"2030-01\","
            "\"score\":7}",
            churn_event_type_name((enum churn_event_type)t));

        r = churn_decoder_decode(dec, json, (size_t)n, &ev, &res);
        ck_assert_msg(r == CHURN_REASON_NONE, "%s: %s",
                      churn_event_type_name((enum churn_event_type)t),
                      res.detail);
        ck_assert_int_eq(ev.type, t);
    }
    churn_decoder_free(dec);
}
END_TEST

/* ---- fixtures ---- */

/* Splits a JSONL file into lines (without '\n'); returns the count. */
static size_t
split_lines(char *text, size_t len, char **lines, size_t *lens, size_t cap)
{
    size_t cnt = 0, start = 0;

    for (size_t i = 0; i < len; i++) {
        if (text[i] == '\n') {
            ck_assert_uint_lt(cnt, cap);
            lines[cnt] = text + start;
            lens[cnt++] = i - start;
            start = i + 1;
        }
    }
    ck_assert_msg(start == len, "fixture does not end with a newline");
    return cnt;
}

START_TEST(test_fixture_good)
{
    size_t len, n;
    char *text = churn_test_slurp(CHURN_FIXTURES "/decode_good.jsonl", &len);
    char *lines[64];
    size_t lens[64];
    struct churn_decoder *dec = churn_decoder_new(1024);

    ck_assert_ptr_nonnull(text);
    n = split_lines(text, len, lines, lens, 64);
    ck_assert_uint_eq(n, CHURN_EV__COUNT);
    for (size_t i = 0; i < n; i++) {
        struct churn_event ev;
        struct churn_decode_result res;
        char *buf = bdup(lines[i], lens[i]);
        enum churn_reason r =
            churn_decoder_decode(dec, buf, lens[i], &ev, &res);

        ck_assert_msg(r == CHURN_REASON_NONE, "line %zu: %s: %s", i + 1,
                      churn_reason_name(r), res.detail);
        ck_assert_msg(ev.type == (enum churn_event_type)i,
                      "line %zu: type %s, want one line per type in order",
                      i + 1, churn_event_type_name(ev.type));
        ck_assert(churn_str_eq_cstr(ev.account_id, "acct_42"));
        assert_prefixes_rejected(churn_event_type_name(ev.type), buf, lens[i]);
        free(buf);
    }
    churn_decoder_free(dec);
    free(text);
}
END_TEST

START_TEST(test_fixture_bad)
{
    /* one line per reason the decoder can give, in file order */
    static const struct {
        enum churn_reason reason;
        const char *detail;
    } want[] = {
        { CHURN_REASON_NOT_JSON, "premature end of input" },
        { CHURN_REASON_BAD_ENCODING, "unable to decode byte 0xf6" },
        { CHURN_REASON_NOT_OBJECT, "array" },
        { CHURN_REASON_OVERSIZED, "over the limit of 1024" },
        { CHURN_REASON_DUPLICATE_KEY, "duplicate key 'account_id'" },
        { CHURN_REASON_MISSING_FIELD, "missing field 'account_id'" },
        { CHURN_REASON_BAD_FIELD_TYPE, "bad field 'mrr'" },
        { CHURN_REASON_BAD_VALUE, "bad field 'score'" },
        { CHURN_REASON_UNKNOWN_TYPE, "unknown type 'usage.logon'" },
        { CHURN_REASON_BAD_TIMESTAMP, "bad field 'ts'" },
    };
    const size_t want_cnt = sizeof(want) / sizeof(want[0]);
    size_t len, n;
    char *text = churn_test_slurp(CHURN_FIXTURES "/decode_bad.jsonl", &len);
    char *lines[64];
    size_t lens[64];
    struct churn_decoder *dec = churn_decoder_new(1024);
    bool seen[CHURN_REASON__COUNT] = { false };

    ck_assert_ptr_nonnull(text);
    n = split_lines(text, len, lines, lens, 64);
    ck_assert_uint_eq(n, want_cnt);
    for (size_t i = 0; i < n; i++) {
        struct churn_event ev;
        struct churn_decode_result res;
        char *buf = bdup(lines[i], lens[i]);
        enum churn_reason r =
            churn_decoder_decode(dec, buf, lens[i], &ev, &res);
        char name[32];

        free(buf);
        snprintf(name, sizeof(name), "line %zu", i + 1);
        ck_assert_msg(r == want[i].reason, "line %zu: got %s (%s), want %s",
                      i + 1, churn_reason_name(r), res.detail,
                      churn_reason_name(want[i].reason));
        assert_rejected(name, r, &ev, &res);
        ck_assert_msg(strstr(res.detail, want[i].detail) != NULL,
                      "line %zu: detail '%s' lacks '%s'", i + 1, res.detail,
                      want[i].detail);
        seen[r] = true;
    }
    /* every decoder reason is covered ('late' and 'future' belong to the
     * engine) */
    for (int r = 1; r < CHURN_REASON__COUNT; r++) {
        ck_assert_msg(seen[r] || r == CHURN_REASON_LATE ||
                          r == CHURN_REASON_FUTURE,
                      "no line for %s",
                      churn_reason_name((enum churn_reason)r));
    }
    churn_decoder_free(dec);
    free(text);
}
END_TEST

Suite *churn_decode_suite(void);

Suite *churn_decode_suite(void)
{
    Suite *s = suite_create("decode");
    TCase *tc = tcase_create("valid");

    tcase_add_loop_test(tc, test_valid, 0,
                        sizeof(valid_cases) / sizeof(valid_cases[0]));
    tcase_add_test(tc, test_type_table);
    suite_add_tcase(s, tc);

    tc = tcase_create("reasons");
    tcase_add_loop_test(tc, test_reason, 0,
                        sizeof(reason_cases) / sizeof(reason_cases[0]));
    tcase_add_test(tc, test_family_order);
    tcase_add_loop_test(tc, test_raw, 0,
                        sizeof(raw_cases) / sizeof(raw_cases[0]));
    tcase_add_test(tc, test_oversized);
    tcase_add_test(tc, test_deep_nesting);
    tcase_add_test(tc, test_detail_quoting);
    tcase_add_test(tc, test_reason_names);
    suite_add_tcase(s, tc);

    tc = tcase_create("api");
    tcase_add_test(tc, test_reuse_and_lifetime);
    suite_add_tcase(s, tc);

    tc = tcase_create("fixtures");
    tcase_add_test(tc, test_fixture_good);
    tcase_add_test(tc, test_fixture_bad);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return churn_test_run(churn_decode_suite());
}
