/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_decode: raw bytes -> churn_decoder_decode().
 *
 * Invariants (decode.h, README "Event contract"):
 * - The verdict is CHURN_REASON_NONE or exactly one known reason other than
 *   `late` (the decoder owns no watermark), with a non-empty detail that is
 *   NUL-terminated inside the buffer, valid UTF-8 and free of control bytes.
 *   On a rejection the event is all zero.
 * - An accepted event satisfies every rule of the contract: a known type,
 *   ids of 1..128 bytes, ts and effective_at within 1970..9999, the type's
 *   required fields present, only its family's fields set, every number in
 *   its range, currency with money, count 1 when absent, every string valid
 *   UTF-8 without NUL (reading them all also proves the views are live).
 *   The input itself was valid UTF-8 and within the size limit.
 * - Re-encoding an accepted event as JSON and decoding it again gives the
 *   same event (nothing is lost or invented between bytes and struct).
 * - Decoding again without a result struct gives the same verdict.
 * - A second decoder with a 256-byte limit gives the same verdict and
 *   detail when the input fits, and `oversized` when it does not: the size
 *   check comes first and counts neither the Schema Registry frame nor the
 *   BOM.
 */
#include "churnd/decode.h"
#include "fuzz.h"

#include <jansson.h>
#include <string.h>

#define BIG_MAX   65536
#define SMALL_MAX 256

#define MAX_MONEY 1000000000000000LL

static void
check_str(const char *what, struct churn_str s, size_t min, size_t max)
{
    FUZZ_CHECK(s.len >= min && s.len <= max, "%s is %zu bytes", what, s.len);
    FUZZ_CHECK(s.len == 0 || s.ptr != NULL, "%s has no bytes", what);
    FUZZ_CHECK(s.len == 0 || memchr(s.ptr, '\0', s.len) == NULL,
               "%s holds a NUL", what);
    FUZZ_CHECK(s.len == 0 || fuzz_utf8_valid((const uint8_t *)s.ptr, s.len),
               "%s is not UTF-8", what);
}

static bool has(const struct churn_event *ev, uint32_t bit)
{
    return (ev->has & bit) != 0;
}

/* The bits each family may set, besides the envelope's user_id and ip. */
static uint32_t family_bits(enum churn_family f)
{
    switch (f) {
    case CHURN_FAM_SUBSCRIPTION:
        return CHURN_F_PLAN | CHURN_F_MRR | CHURN_F_CURRENCY | CHURN_F_SEATS |
               CHURN_F_REASON | CHURN_F_EFFECTIVE_AT | CHURN_F_VOLUNTARY;
    case CHURN_FAM_USAGE:
        return CHURN_F_FEATURE | CHURN_F_COUNT | CHURN_F_DURATION;
    case CHURN_FAM_PAYMENT:
        return CHURN_F_AMOUNT | CHURN_F_CURRENCY | CHURN_F_DECLINE_CODE |
               CHURN_F_ATTEMPT | CHURN_F_CARD_EXP;
    case CHURN_FAM_FEEDBACK:
        return CHURN_F_SCORE | CHURN_F_PRIORITY | CHURN_F_SENTIMENT;
    }
    return 0;
}

static uint32_t required_bits(enum churn_event_type t)
{
    switch (t) {
    case CHURN_EV_SUB_CREATED:
    case CHURN_EV_SUB_TRIAL_CONVERTED:
        return CHURN_F_PLAN | CHURN_F_MRR | CHURN_F_CURRENCY;
    case CHURN_EV_SUB_TRIAL_STARTED:
        return CHURN_F_PLAN;
    case CHURN_EV_SUB_UPGRADED:
    case CHURN_EV_SUB_DOWNGRADED:
        return CHURN_F_MRR | CHURN_F_CURRENCY;
    case CHURN_EV_SUB_CANCEL_SCHEDULED:
        return CHURN_F_EFFECTIVE_AT;
    case CHURN_EV_USAGE_FEATURE_USED:
        return CHURN_F_FEATURE;
    case CHURN_EV_PAY_CARD_EXPIRING:
        return CHURN_F_CARD_EXP;
    case CHURN_EV_FB_NPS:
        return CHURN_F_SCORE;
    default:
        return 0;
    }
}

static void check_event(const struct churn_event *ev)
{
    FUZZ_CHECK((unsigned)ev->type < CHURN_EV__COUNT, "type %d", ev->type);
    FUZZ_CHECK(churn_event_type_name(ev->type) != NULL, "type %d", ev->type);
    enum churn_family fam = churn_event_family(ev->type);
    uint32_t allowed = CHURN_F_USER_ID | CHURN_F_IP | family_bits(fam);
    uint32_t req = required_bits(ev->type);

    FUZZ_CHECK((ev->has & ~allowed) == 0, "has %#x for type %s", ev->has,
               churn_event_type_name(ev->type));
    FUZZ_CHECK((ev->has & req) == req, "has %#x lacks required %#x", ev->has,
               req);
    check_str("event_id", ev->event_id, 1, 128);
    check_str("account_id", ev->account_id, 1, 128);
    FUZZ_CHECK(ev->ts_ms >= CHURN_TS_MIN_MS && ev->ts_ms <= CHURN_TS_MAX_MS,
               "ts %lld", (long long)ev->ts_ms);

    /* Present strings are in range; absent ones are empty. */
    const struct {
        const char *name;
        uint32_t bit;
        struct churn_str s;
        size_t min, max;
    } strs[] = {
        { "user_id", CHURN_F_USER_ID, ev->user_id, 1, 128 },
        { "ip", CHURN_F_IP, ev->ip, 0, 64 },
        { "plan", CHURN_F_PLAN, ev->plan, 1, 128 },
        { "currency", CHURN_F_CURRENCY, ev->currency, 3, 3 },
        { "reason", CHURN_F_REASON, ev->reason, 1, 128 },
        { "feature", CHURN_F_FEATURE, ev->feature, 1, 128 },
        { "decline_code", CHURN_F_DECLINE_CODE, ev->decline_code, 1, 128 },
        { "priority", CHURN_F_PRIORITY, ev->priority, 1, 32 },
    };
    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
        if (has(ev, strs[i].bit)) {
            check_str(strs[i].name, strs[i].s, strs[i].min, strs[i].max);
        } else {
            FUZZ_CHECK(strs[i].s.len == 0 && strs[i].s.ptr == NULL,
                       "absent %s is set", strs[i].name);
        }
    }
    if (has(ev, CHURN_F_CURRENCY)) {
        for (int i = 0; i < 3; i++) {
            FUZZ_CHECK(ev->currency.ptr[i] >= 'A' && ev->currency.ptr[i] <= 'Z',
                       "currency byte %d", i);
        }
    }
    if (has(ev, CHURN_F_MRR) || has(ev, CHURN_F_AMOUNT)) {
        FUZZ_CHECK(has(ev, CHURN_F_CURRENCY), "money without a currency");
    }

    /* Present numbers are in range; absent ones are 0 (count: 1). */
    const struct {
        const char *name;
        uint32_t bit;
        int64_t v, min, max, absent;
    } nums[] = {
        { "mrr", CHURN_F_MRR, ev->mrr, 0, MAX_MONEY, 0 },
        { "seats", CHURN_F_SEATS, ev->seats, 0, 10000000, 0 },
        { "effective_at", CHURN_F_EFFECTIVE_AT, ev->effective_at_ms,
          CHURN_TS_MIN_MS, CHURN_TS_MAX_MS, 0 },
        { "count", CHURN_F_COUNT, ev->count, 1, 1000000000, 1 },
        { "duration_s", CHURN_F_DURATION, ev->duration_s, 0, 10000000, 0 },
        { "amount", CHURN_F_AMOUNT, ev->amount, 0, MAX_MONEY, 0 },
        { "attempt", CHURN_F_ATTEMPT, ev->attempt, 1, 1000, 0 },
        { "card_exp", CHURN_F_CARD_EXP, ev->card_exp_ym, 2000 * 12,
          9999 * 12 + 11, 0 },
        { "score", CHURN_F_SCORE, ev->score, 0, 10, 0 },
    };
    for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
        if (has(ev, nums[i].bit)) {
            FUZZ_CHECK(nums[i].v >= nums[i].min && nums[i].v <= nums[i].max,
                       "%s = %lld", nums[i].name, (long long)nums[i].v);
        } else {
            FUZZ_CHECK(nums[i].v == nums[i].absent, "absent %s = %lld",
                       nums[i].name, (long long)nums[i].v);
        }
    }
    if (has(ev, CHURN_F_SENTIMENT)) {
        FUZZ_CHECK(ev->sentiment >= -1.0 && ev->sentiment <= 1.0,
                   "sentiment %g", ev->sentiment);
    } else {
        FUZZ_CHECK(ev->sentiment == 0.0, "absent sentiment %g", ev->sentiment);
    }
    if (!has(ev, CHURN_F_VOLUNTARY)) {
        FUZZ_CHECK(!ev->voluntary, "absent voluntary is true");
    }
}

static void check_rejection(enum churn_reason r,
                            const struct churn_decode_result *res,
                            const struct churn_event *ev)
{
    static const struct churn_event zero;

    FUZZ_CHECK(r > CHURN_REASON_NONE && r < CHURN_REASON__COUNT &&
                   r != CHURN_REASON_LATE && r != CHURN_REASON_FUTURE,
               "reason %d", r);
    FUZZ_CHECK(res->reason == r, "result says %d, call returned %d",
               res->reason, r);
    FUZZ_CHECK(strcmp(churn_reason_name(r), "invalid") != 0, "reason %d", r);
    size_t n = strnlen(res->detail, sizeof(res->detail));
    FUZZ_CHECK(n > 0 && n < sizeof(res->detail), "detail length %zu", n);
    FUZZ_CHECK(fuzz_utf8_valid((const uint8_t *)res->detail, n),
               "detail is not UTF-8");
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)res->detail[i];
        FUZZ_CHECK(c >= 0x20 && c != 0x7f, "detail byte %zu is %#x", i, c);
    }
    FUZZ_CHECK(memcmp(ev, &zero, sizeof(zero)) == 0,
               "event not zeroed after a rejection");
}

static json_t *str_json(struct churn_str s)
{
    return json_stringn(s.ptr, s.len);
}

/* The accepted event as canonical JSON: times as epoch ms. */
static char *encode(const struct churn_event *ev, size_t *len)
{
    json_t *o = json_object();
    char *text;

    json_object_set_new(o, "type",
                        json_string(churn_event_type_name(ev->type)));
    json_object_set_new(o, "event_id", str_json(ev->event_id));
    json_object_set_new(o, "account_id", str_json(ev->account_id));
    json_object_set_new(o, "ts", json_integer(ev->ts_ms));
    const struct {
        const char *key;
        uint32_t bit;
        struct churn_str s;
    } strs[] = {
        { "user_id", CHURN_F_USER_ID, ev->user_id },
        { "ip", CHURN_F_IP, ev->ip },
        { "plan", CHURN_F_PLAN, ev->plan },
        { "currency", CHURN_F_CURRENCY, ev->currency },
        { "reason", CHURN_F_REASON, ev->reason },
        { "feature", CHURN_F_FEATURE, ev->feature },
        { "decline_code", CHURN_F_DECLINE_CODE, ev->decline_code },
        { "priority", CHURN_F_PRIORITY, ev->priority },
    };
    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
        if (has(ev, strs[i].bit)) {
            json_object_set_new(o, strs[i].key, str_json(strs[i].s));
        }
    }
    const struct {
        const char *key;
        uint32_t bit;
        int64_t v;
    } nums[] = {
        { "mrr", CHURN_F_MRR, ev->mrr },
        { "seats", CHURN_F_SEATS, ev->seats },
        { "effective_at", CHURN_F_EFFECTIVE_AT, ev->effective_at_ms },
        { "count", CHURN_F_COUNT, ev->count },
        { "duration_s", CHURN_F_DURATION, ev->duration_s },
        { "amount", CHURN_F_AMOUNT, ev->amount },
        { "attempt", CHURN_F_ATTEMPT, ev->attempt },
        { "score", CHURN_F_SCORE, ev->score },
    };
    for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
        if (has(ev, nums[i].bit)) {
            json_object_set_new(o, nums[i].key, json_integer(nums[i].v));
        }
    }
    if (has(ev, CHURN_F_VOLUNTARY)) {
        json_object_set_new(o, "voluntary", json_boolean(ev->voluntary));
    }
    if (has(ev, CHURN_F_CARD_EXP)) {
        char ym[16];
        snprintf(ym, sizeof(ym), "%04d-%02d", ev->card_exp_ym / 12,
                 ev->card_exp_ym % 12 + 1);
        json_object_set_new(o, "card_exp", json_string(ym));
    }
    if (has(ev, CHURN_F_SENTIMENT)) {
        json_object_set_new(o, "sentiment", json_real(ev->sentiment));
    }
    text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    FUZZ_CHECK(text != NULL, "cannot re-encode the event");
    *len = strlen(text);
    return text;
}

static bool str_same(struct churn_str a, struct churn_str b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

static void check_same_event(const struct churn_event *a,
                             const struct churn_event *b,
                             const char *how)
{
    FUZZ_CHECK(a->type == b->type && a->has == b->has && a->ts_ms == b->ts_ms,
               "%s: type/has/ts differ (%d/%#x/%lld vs %d/%#x/%lld)", how,
               a->type, a->has, (long long)a->ts_ms, b->type, b->has,
               (long long)b->ts_ms);
    FUZZ_CHECK(str_same(a->event_id, b->event_id) &&
                   str_same(a->account_id, b->account_id) &&
                   str_same(a->user_id, b->user_id) && str_same(a->ip, b->ip) &&
                   str_same(a->plan, b->plan) &&
                   str_same(a->currency, b->currency) &&
                   str_same(a->reason, b->reason) &&
                   str_same(a->feature, b->feature) &&
                   str_same(a->decline_code, b->decline_code) &&
                   str_same(a->priority, b->priority),
               "%s: a string differs", how);
    FUZZ_CHECK(a->mrr == b->mrr && a->seats == b->seats &&
                   a->effective_at_ms == b->effective_at_ms &&
                   a->voluntary == b->voluntary && a->count == b->count &&
                   a->duration_s == b->duration_s && a->amount == b->amount &&
                   a->attempt == b->attempt &&
                   a->card_exp_ym == b->card_exp_ym && a->score == b->score &&
                   a->sentiment == b->sentiment,
               "%s: a number differs", how);
}

/* Length of the input after the Schema Registry frame and BOM (decode.h). */
static size_t payload_len(const uint8_t *data, size_t size)
{
    size_t skip = 0;

    if (size >= 5 && data[0] == 0) {
        skip = 5;
    }
    if (size - skip >= 3 && memcmp(data + skip, "\xEF\xBB\xBF", 3) == 0) {
        skip += 3;
    }
    return size - skip;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct churn_decoder *big = churn_decoder_new(BIG_MAX);
    struct churn_decoder *small = churn_decoder_new(SMALL_MAX);
    struct churn_decoder *again = churn_decoder_new(BIG_MAX);
    struct churn_event ev, ev2, ev3;
    struct churn_decode_result res, res2, res3;
    const char *buf = (const char *)data;
    size_t plen = payload_len(data, size);
    enum churn_reason r, r2;

    FUZZ_CHECK(big != NULL && small != NULL && again != NULL, "out of memory");
    r = churn_decoder_decode(big, buf, size, &ev, &res);
    if (r == CHURN_REASON_NONE) {
        FUZZ_CHECK(res.reason == CHURN_REASON_NONE && res.detail[0] == '\0',
                   "accepted with detail '%s'", res.detail);
        FUZZ_CHECK(plen <= BIG_MAX, "accepted %zu bytes", plen);
        FUZZ_CHECK(fuzz_utf8_valid(data + (size - plen), plen),
                   "accepted input that is not UTF-8");
        check_event(&ev);

        size_t tlen;
        char *text = encode(&ev, &tlen);
        enum churn_reason r3 =
            churn_decoder_decode(again, text, tlen, &ev3, &res3);
        FUZZ_CHECK(r3 == CHURN_REASON_NONE, "re-encoded event rejected: %s",
                   res3.detail);
        check_same_event(&ev, &ev3, "re-encoded");
        free(text);
    } else {
        check_rejection(r, &res, &ev);
    }

    if (size == 0) { /* buf may be NULL when len is 0 */
        FUZZ_CHECK(churn_decoder_decode(again, NULL, 0, &ev3, &res3) == r &&
                       strcmp(res3.detail, res.detail) == 0,
                   "NULL and an empty buffer differ");
    }
    /* Without a result struct (res may be NULL): the same verdict. */
    FUZZ_CHECK(churn_decoder_decode(again, buf, size, &ev3, NULL) == r,
               "the verdict depends on res being NULL");

    r2 = churn_decoder_decode(small, buf, size, &ev2, &res2);
    if (plen > SMALL_MAX) {
        FUZZ_CHECK(r2 == CHURN_REASON_OVERSIZED, "%zu bytes gave %s", plen,
                   churn_reason_name(r2));
    } else {
        FUZZ_CHECK(r2 == r, "verdict depends on the limit: %s vs %s",
                   churn_reason_name(r), churn_reason_name(r2));
        FUZZ_CHECK(strcmp(res.detail, res2.detail) == 0,
                   "detail depends on the limit: '%s' vs '%s'", res.detail,
                   res2.detail);
        if (r == CHURN_REASON_NONE) {
            check_same_event(&ev, &ev2, "second decoder");
        }
    }
    if (r2 != CHURN_REASON_NONE) {
        check_rejection(r2, &res2, &ev2);
    }

    churn_decoder_free(big);
    churn_decoder_free(small);
    churn_decoder_free(again);
    return 0;
}
