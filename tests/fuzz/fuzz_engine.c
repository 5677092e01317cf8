/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_engine: the engine driven by a fuzzed sequence of valid but
 * adversarial events (engine.h).
 *
 * The first three bytes pick a config: state.max_accounts (1..8, or 1000),
 * bucket width (3h x 64, 1d x 35, 7d x 8), lateness (0, 1h, 7d), a tiny
 * dedupe set, UTC offsets of -14h/+14h, no cool-downs, key features, idle
 * eviction. Every later byte steers one step: an event of any of the 25
 * types (fed as bytes, or decoded and applied), bytes that are no event, a
 * burst of up to 71 events (new accounts each time: table growth,
 * eviction; new plans, currencies, reasons: the intern table
 * filling up), an explicit watermark advance (also to INT64_MIN/MAX), or
 * end of input. Events carry extreme timestamps (1970, 9999, far behind
 * the watermark), huge counts, MRR and amounts at their limits, ids of
 * 1 and 128 bytes with quotes, escapes and non-ASCII, repeated event ids.
 * Every generated event is valid, so the decoder must accept it.
 *
 * After every step, on engine A:
 * - stats: in = accepted + dead letters + duplicates, and the step moved
 *   exactly one of them; dead letters = sum by reason; accounts <=
 *   state.max_accounts; the watermark never goes back; the signal, alert
 *   and dead-letter counters equal the outputs seen.
 * - each dead letter: a known reason code, a non-empty detail, the source
 *   headers, and as value the exact bytes fed (the event id for an applied
 *   event that came too late).
 * - each signal and alert: valid JSON (jansson, duplicate keys rejected),
 *   key = account_id, event_time an RFC 3339 time equal to the output's
 *   event_ms; health, components and evidence scores in 0..100, engagement
 *   parts in 0..1, counters >= 0, band consistent with health; alert ids 16
 *   hex digits, since <= event_time, a resolve answers a firing alert with
 *   the same id and no alert fires twice without a resolve (unless its
 *   account was evicted in between).
 * Engine B takes the same steps; its outputs must be byte-identical
 * (determinism: no uninitialised memory, no address-dependent order).
 */
#include "churnd/config.h"
#include "churnd/decode.h"
#include "churnd/engine.h"
#include "fuzz.h"

#include <jansson.h>
#include <math.h>
#include <string.h>

#define BASE_MS   1772366400000LL /* 2026-03-01T12:00:00Z */
#define MIN_MS    60000LL
#define HOUR_MS   3600000LL
#define DAY_MS    86400000LL
#define MAX_MONEY 1000000000000000LL
#define MAX_STEPS 160

/* ---- configuration ---- */

static void set(struct churn_config *cfg, const char *kv)
{
    struct churn_error err = { 0 };

    FUZZ_CHECK(churn_config_set(cfg, kv, &err) == CHURN_OK, "-X %s: %s", kv,
               err.msg);
}

static void make_config(struct fuzz_bytes *b, struct churn_config *cfg)
{
    static const char *const rules[] = {
        "engagement_drop",      "inactivity",          "payment_failure_streak",
        "card_expiring",        "downgrade",           "cancel_scheduled",
        "trial_low_activation", "feature_abandonment", "detractor_feedback",
        "chargeback",           "health_critical",
    };
    uint8_t b0 = fuzz_u8(b), b1 = fuzz_u8(b), b2 = fuzz_u8(b);
    char kv[128];
    struct churn_error err = { 0 };

    churn_config_init(cfg);
    snprintf(kv, sizeof(kv), "state.max_accounts=%d",
             (b0 & 0x80) ? 1000 : 1 + (b0 & 7));
    set(cfg, kv);
    switch ((b0 >> 3) & 3) {
    case 1:
        set(cfg, "window.bucket=3h");
        set(cfg, "window.buckets=64");
        set(cfg, "score.recent=1d");
        set(cfg, "score.baseline=7d");
        set(cfg, "rule.engagement_drop.window=7d");
        set(cfg, "rule.engagement_drop.long_window=0");
        break;
    case 2:
        set(cfg, "window.bucket=7d");
        set(cfg, "window.buckets=8");
        break;
    default:
        break;
    }
    switch ((b0 >> 5) & 3) {
    case 1:
        set(cfg, "input.allowed_lateness=0");
        break;
    case 2:
        set(cfg, "input.allowed_lateness=7d");
        break;
    default:
        break;
    }
    if (b1 & 1) {
        set(cfg, "input.dedupe_capacity=3");
    }
    if (b1 & 2) {
        set(cfg, "input.dedupe_horizon=0");
    }
    if (b1 & 4) {
        set(cfg, (b1 & 8) ? "window.utc_offset=-14h" : "window.utc_offset=14h");
    }
    if (b1 & 16) {
        for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
            snprintf(kv, sizeof(kv), "rule.%s.cooldown=0", rules[i]);
            set(cfg, kv);
        }
    }
    if (b1 & 32) {
        set(cfg, "rule.feature_abandonment.features=f0,f1,f2,f3");
        set(cfg, "rule.feature_abandonment.unused=1d");
    }
    if (b1 & 64) {
        set(cfg, "state.idle_evict=1d");
    }
    if (b1 & 128) {
        set(cfg, "input.dedupe_capacity=0");
    }
    if (b2 & 1) {
        set(cfg, "rule.payment_failure_streak.failures=1");
        set(cfg, "rule.inactivity.after=1h");
        set(cfg, "score.signal_delta=1");
    }
    if (b2 & 2) {
        set(cfg, "rule.trial_low_activation.before=60d");
        set(cfg, "rule.trial_low_activation.max_engagement=100");
        set(cfg, "rule.engagement_drop.min_expected=0");
        set(cfg, "rule.engagement_drop.z=0");
        set(cfg, "rule.engagement_drop.ratio=1");
        set(cfg, "rule.engagement_drop.resolve_ratio=2");
    }
    if (b2 & 4) {
        set(cfg, "score.weight.engagement=0");
        set(cfg, "score.weight.payment=0");
        set(cfg, "score.weight.subscription=0");
        set(cfg, "score.weight.feedback=1");
        set(cfg, "score.band.healthy=100");
        set(cfg, "score.band.watch=0.1");
        set(cfg, "score.band.at_risk=0");
    }
    if (b2 & 8) {
        set(cfg, "plan.pro.segment=smb");
        set(cfg, "plan.pro.price=1000000000000");
    }
    /* the future bound: off, tight, or the defaults (1h, 180d) */
    switch ((b2 >> 4) & 3) {
    case 1:
        set(cfg, "input.max_future=0");
        set(cfg, "input.max_jump=0");
        break;
    case 2:
        set(cfg, "input.max_future=1s");
        set(cfg, "input.max_jump=1h");
        break;
    default:
        break;
    }
    FUZZ_CHECK(churn_config_validate(cfg, &err) == CHURN_OK,
               "preset config invalid: %s", err.msg);
}

/* ---- event generation ---- */

struct gen {
    struct fuzz_bytes b;
    int64_t cur; /* event time the relative timestamps start from */
    uint64_t serial;
    char recent_ids[8][48];
    unsigned recent_cnt;
};

static const char *const plans[] = { "free",     "team",
                                     "pro",      "enterprise",
                                     "trial",    "\xc3\xbc\xe2\x80\xa8plan",
                                     "a\"b\\c\n" };
static const char *const declines[] = {
    "fraudulent",         "stolen_card",  "lost_card",
    "pickup_card",        "expired_card", "invalid_cvc",
    "insufficient_funds", "do_not_honor", "incorrect_number",
    "card_not_supported",
};
static const char *const features[] = { "f0",  "f1",          "f2",
                                        "f3",  "reports",     "export",
                                        "api", "\xe2\x98\x83" };

static int64_t clamp_ts(int64_t t)
{
    return t < CHURN_TS_MIN_MS   ? CHURN_TS_MIN_MS
           : t > CHURN_TS_MAX_MS ? CHURN_TS_MAX_MS
                                 : t;
}

/* An event time: near the current one, far ahead, far behind, extreme. */
static int64_t gen_time(struct gen *g)
{
    uint8_t m = fuzz_u8(&g->b);
    int64_t t;

    switch (m % 10) {
    case 0:
    case 1:
    case 2: /* minutes around now, mostly forward */
        t = g->cur + ((int64_t)fuzz_u8(&g->b) - 32) * 5 * MIN_MS;
        break;
    case 3:
    case 4: /* days ahead */
        t = g->cur + (int64_t)(fuzz_u8(&g->b) % 48) * DAY_MS +
            (int64_t)fuzz_u8(&g->b) * MIN_MS;
        break;
    case 5: /* weeks behind: late */
        t = g->cur - (int64_t)(1 + fuzz_u8(&g->b) % 60) * DAY_MS;
        break;
    case 6:
        t = (fuzz_u8(&g->b) & 1) ? CHURN_TS_MIN_MS : CHURN_TS_MAX_MS;
        break;
    case 7: /* anywhere */
        t = (int64_t)(fuzz_uint(&g->b, 6) % (uint64_t)(CHURN_TS_MAX_MS + 1));
        break;
    case 8: /* near the ends */
        t = (fuzz_u8(&g->b) & 1)
                ? CHURN_TS_MAX_MS - (int64_t)fuzz_uint(&g->b, 4) * MIN_MS
                : (int64_t)fuzz_uint(&g->b, 4) * MIN_MS;
        break;
    default:
        t = g->cur;
        break;
    }
    t = clamp_ts(t);
    if (m % 10 <= 4) {
        g->cur = t;
    }
    return t;
}

/* A time as JSON: epoch ms, canonical text, or text with an offset. */
static json_t *time_json(struct gen *g, int64_t t)
{
    char buf[CHURN_TS_BUF_LEN + 8];
    uint8_t m = fuzz_u8(&g->b);

    if (m % 4 == 1) {
        return json_string(churn_ts_format(t, buf));
    }
    if (m % 4 == 2) {
        int off_min = (int)(m >> 2) * 23 - 840; /* -14:00 .. +14:25 */
        int64_t local = t + (int64_t)off_min * MIN_MS;
        if (off_min >= -1439 && off_min <= 1439 && local >= CHURN_TS_MIN_MS &&
            local <= CHURN_TS_MAX_MS) {
            int a = off_min < 0 ? -off_min : off_min;
            churn_ts_format(local, buf);
            snprintf(buf + 23, sizeof(buf) - 23, "%c%02d:%02d",
                     off_min < 0 ? '-' : '+', a / 60, a % 60);
            return json_string(buf);
        }
    }
    return json_integer(t);
}

static json_t *money(struct gen *g)
{
    switch (fuzz_u8(&g->b) % 6) {
    case 0:
        return json_integer(0);
    case 1:
        return json_integer(MAX_MONEY);
    case 2:
        return json_integer(1);
    case 3:
        return json_integer(
            (json_int_t)(fuzz_uint(&g->b, 7) % (uint64_t)(MAX_MONEY + 1)));
    default:
        return json_integer(900 + 1000 * (json_int_t)(fuzz_u8(&g->b) % 20));
    }
}

static json_t *pick(struct gen *g, const char *const *v, size_t n)
{
    return json_string(v[fuzz_u8(&g->b) % n]);
}

static json_t *account_json(struct gen *g)
{
    uint8_t m = fuzz_u8(&g->b);
    char buf[130];

    if (m < 200) {
        snprintf(buf, sizeof(buf), "acct-%u", m % 24);
        return json_string(buf);
    }
    switch (m % 4) {
    case 0: /* 128 bytes */
        memset(buf, 'a' + m % 26, 128);
        return json_stringn(buf, 128);
    case 1:
        return json_string("x");
    case 2: /* quotes, escapes, a control byte, U+2028, 4-byte UTF-8 */
        return json_string("q\"\\/\b\x01\xe2\x80\xa8\xf0\x9f\x98\x80");
    default: /* 128 bytes of 2-byte characters */
        for (int i = 0; i < 128; i += 2) {
            buf[i] = '\xc3';
            buf[i + 1] = (char)(0x80 + m % 64);
        }
        return json_stringn(buf, 128);
    }
}

static json_t *event_id_json(struct gen *g)
{
    uint8_t m = fuzz_u8(&g->b);
    char buf[48];

    if (m < 48 && g->recent_cnt > 0) { /* a re-delivery */
        return json_string(
            g->recent_ids[m % (g->recent_cnt < 8 ? g->recent_cnt : 8)]);
    }
    snprintf(buf, sizeof(buf), "ev-%llu", (unsigned long long)g->serial++);
    memcpy(g->recent_ids[g->recent_cnt % 8], buf, sizeof(buf));
    g->recent_cnt++;
    return json_string(buf);
}

/* A valid event as JSON text (malloc'ed). */
static char *gen_event(struct gen *g, size_t *len)
{
    json_t *o = json_object();
    enum churn_event_type t =
        (enum churn_event_type)(fuzz_u8(&g->b) % CHURN_EV__COUNT);
    uint8_t opt = fuzz_u8(&g->b); /* which optional fields */
    int64_t ts = gen_time(g);
    bool money_set = false;
    char buf[64];

    json_object_set_new(o, "event_id", event_id_json(g));
    json_object_set_new(o, "type", json_string(churn_event_type_name(t)));
    json_object_set_new(o, "account_id", account_json(g));
    json_object_set_new(o, "ts", time_json(g, ts));
    if (opt & 1) {
        snprintf(buf, sizeof(buf), "u%u", fuzz_u8(&g->b) % 40);
        json_object_set_new(o, "user_id", json_string(buf));
    }
    if (opt & 2) {
        static const char *const ips[] = { "203.0.113.7", "2001:db8::1", "x",
                                           "", "10.0.0.1" };
        json_object_set_new(o, "ip", pick(g, ips, 5));
    }
    switch (churn_event_family(t)) {
    case CHURN_FAM_SUBSCRIPTION:
        if (opt & 4 || t == CHURN_EV_SUB_CREATED ||
            t == CHURN_EV_SUB_TRIAL_STARTED ||
            t == CHURN_EV_SUB_TRIAL_CONVERTED) {
            json_object_set_new(o, "plan", pick(g, plans, 7));
        }
        if (opt & 8 || t == CHURN_EV_SUB_CREATED ||
            t == CHURN_EV_SUB_TRIAL_CONVERTED || t == CHURN_EV_SUB_UPGRADED ||
            t == CHURN_EV_SUB_DOWNGRADED) {
            json_object_set_new(o, "mrr", money(g));
            money_set = true;
        }
        if (opt & 16) {
            json_int_t seats[] = { 0, 1, 2, 5, 10000000 };
            json_object_set_new(o, "seats",
                                json_integer(seats[fuzz_u8(&g->b) % 5]));
        }
        if (opt & 32 || t == CHURN_EV_SUB_CANCEL_SCHEDULED) {
            uint8_t m = fuzz_u8(&g->b);
            int64_t at = m < 16 ? (m & 1 ? CHURN_TS_MAX_MS : CHURN_TS_MIN_MS)
                                : clamp_ts(ts + ((int64_t)m - 64) * DAY_MS);
            json_object_set_new(o, "effective_at", time_json(g, at));
        }
        if (opt & 64) {
            json_object_set_new(o, "voluntary",
                                json_boolean(fuzz_u8(&g->b) & 1));
        }
        if (opt & 128) {
            json_object_set_new(o, "reason", pick(g, plans, 7));
        }
        break;
    case CHURN_FAM_USAGE:
        if (opt & 4 || t == CHURN_EV_USAGE_FEATURE_USED) {
            json_object_set_new(o, "feature", pick(g, features, 8));
        }
        if (opt & 8) {
            json_int_t counts[] = { 1, 2, 1000, 1000000000 };
            json_object_set_new(o, "count",
                                json_integer(counts[fuzz_u8(&g->b) % 4]));
        }
        if (opt & 16) {
            json_int_t d[] = { 0, 1, 59, 3600, 10000000 };
            json_object_set_new(o, "duration_s",
                                json_integer(d[fuzz_u8(&g->b) % 5]));
        }
        break;
    case CHURN_FAM_PAYMENT:
        if (opt & 4) {
            json_object_set_new(o, "amount", money(g));
            money_set = true;
        }
        if (opt & 8) {
            json_object_set_new(o, "decline_code", pick(g, declines, 10));
        }
        if (opt & 16) {
            json_object_set_new(
                o, "attempt",
                json_integer(1 + (json_int_t)(fuzz_u8(&g->b) * 4 % 1000)));
        }
        if (opt & 32 || t == CHURN_EV_PAY_CARD_EXPIRING) {
            uint8_t m = fuzz_u8(&g->b);
            int year;
            char cur[CHURN_TS_BUF_LEN];
            if (m < 200) { /* around now */
                churn_ts_format(g->cur, cur);
                year = atoi(cur) + (m % 5) - 2;
                year = year < 2000 ? 2000 : year > 9999 ? 9999 : year;
            } else {
                year = m & 1 ? 9999 : 2000;
            }
            snprintf(buf, sizeof(buf), "%04d-%02d", year, 1 + m % 12);
            json_object_set_new(o, "card_exp", json_string(buf));
        }
        break;
    case CHURN_FAM_FEEDBACK:
        if (opt & 4 || t == CHURN_EV_FB_NPS) {
            json_object_set_new(o, "score", json_integer(fuzz_u8(&g->b) % 11));
        }
        if (opt & 8) {
            json_object_set_new(o, "priority", json_string("urgent"));
        }
        if (opt & 16) {
            double s[] = { -1.0, 1.0, 0.0, -0.5, -0.4999, 0.25 };
            json_object_set_new(o, "sentiment",
                                json_real(s[fuzz_u8(&g->b) % 6]));
        }
        break;
    }
    if (money_set || (opt & 64 && churn_event_family(t) == CHURN_FAM_PAYMENT)) {
        static const char *const cur[] = { "USD", "EUR", "JPY", "ZZZ" };
        json_object_set_new(o, "currency", pick(g, cur, 4));
    }
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    FUZZ_CHECK(text != NULL, "json_dumps failed");
    *len = strlen(text);
    return text;
}

/* ---- checking ---- */

struct watch {
    const struct churn_config *cfg;
    struct churn_engine_stats last;
    uint64_t signals, alerts, dlq; /* outputs seen */
    struct firing {
        uint64_t id;
        uint64_t evictions; /* accounts evicted before its step */
    } * firing;             /* alerts firing now */
    size_t firing_cnt, firing_cap;
    uint64_t evictions_now; /* at the end of the step being checked */
};

static double num(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);

    FUZZ_CHECK(json_is_number(v), "'%s' is not a number", key);
    return json_number_value(v);
}

static void check_score(json_t *o, const char *key, double max)
{
    double v = num(o, key);

    FUZZ_CHECK(v >= 0 && v <= max, "'%s' = %g, outside 0..%g", key, v, max);
}

static int band_of(const struct churn_config *cfg, double health)
{
    return health >= cfg->score_band_healthy   ? 0
           : health >= cfg->score_band_watch   ? 1
           : health >= cfg->score_band_at_risk ? 2
                                               : 3;
}

static int band_index(json_t *v)
{
    static const char *const names[] = { "healthy", "watch", "at_risk",
                                         "critical" };

    FUZZ_CHECK(json_is_string(v), "band is not a string");
    for (int i = 0; i < 4; i++) {
        if (strcmp(json_string_value(v), names[i]) == 0) {
            return i;
        }
    }
    FUZZ_CHECK(false, "unknown band '%s'", json_string_value(v));
    return -1;
}

static int64_t time_field(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    int64_t ms = -1;

    FUZZ_CHECK(json_is_string(v), "'%s' is not a string", key);
    FUZZ_CHECK(
        churn_ts_parse_rfc3339(
            (struct churn_str){ json_string_value(v), json_string_length(v) },
            &ms),
        "'%s' = '%s' is not RFC 3339", key, json_string_value(v));
    return ms;
}

static void check_signal(struct watch *w, json_t *o)
{
    json_t *c = json_object_get(o, "components");
    json_t *e = json_object_get(o, "engagement");
    json_t *prev = json_object_get(o, "previous_band");
    double health = num(o, "health");

    check_score(o, "health", 100);
    FUZZ_CHECK(json_is_object(c) && json_is_object(e), "signal parts missing");
    check_score(c, "engagement", 100);
    check_score(c, "payment", 100);
    check_score(c, "subscription", 100);
    check_score(c, "feedback", 100);
    check_score(e, "activity", 1);
    check_score(e, "breadth", 1);
    check_score(e, "users", 1);
    check_score(e, "recency", 1);
    static const char *const counters[] = {
        "recent_events",          "baseline_daily_mean", "expected_recent",
        "active_users_recent",    "features_recent",     "logins_recent",
        "session_minutes_recent", "api_calls_recent",    "days_since_usage",
    };
    for (size_t i = 0; i < sizeof(counters) / sizeof(counters[0]); i++) {
        check_score(e, counters[i], INFINITY);
    }
    FUZZ_CHECK(json_is_boolean(json_object_get(e, "insufficient_history")),
               "insufficient_history is not a boolean");
    int band = band_index(json_object_get(o, "band"));
    FUZZ_CHECK(band == band_of(w->cfg, health), "health %.1f in band %d",
               health, band);
    FUZZ_CHECK(json_is_null(prev) || band_index(prev) >= 0,
               "previous_band is neither null nor a band");
    check_score(o, "mrr", INFINITY);
}

/*
 * An alert may fire again with the same id only when its account was
 * evicted meanwhile (state.max_accounts, idle eviction): the new account
 * knows nothing of the old firing, and the same (account, rule, since)
 * gives the same id, which downstream dedupes.
 */
static void firing_add(struct watch *w, uint64_t id)
{
    uint64_t before = w->last.evicted_full + w->last.evicted_idle;

    for (size_t i = 0; i < w->firing_cnt; i++) {
        if (w->firing[i].id == id) {
            FUZZ_CHECK(w->evictions_now > w->firing[i].evictions,
                       "alert %016llx fires twice", (unsigned long long)id);
            w->firing[i].evictions = before;
            return;
        }
    }
    if (w->firing_cnt == w->firing_cap) {
        w->firing_cap = w->firing_cap ? w->firing_cap * 2 : 64;
        w->firing = realloc(w->firing, w->firing_cap * sizeof(*w->firing));
        FUZZ_CHECK(w->firing != NULL, "out of memory");
    }
    w->firing[w->firing_cnt].id = id;
    w->firing[w->firing_cnt].evictions = before;
    w->firing_cnt++;
}

static void firing_remove(struct watch *w, uint64_t id)
{
    for (size_t i = 0; i < w->firing_cnt; i++) {
        if (w->firing[i].id == id) {
            w->firing[i] = w->firing[--w->firing_cnt];
            return;
        }
    }
    FUZZ_CHECK(false, "resolve of alert %016llx, which is not firing",
               (unsigned long long)id);
}

static void check_alert(struct watch *w, json_t *o, int64_t event_ms)
{
    static const char *const score_keys[] = { "health", "engagement", "payment",
                                              "subscription", "feedback" };
    const char *id = json_string_value(json_object_get(o, "alert_id"));
    const char *status = json_string_value(json_object_get(o, "status"));
    const char *rule = json_string_value(json_object_get(o, "rule"));
    json_t *ev = json_object_get(o, "evidence");
    bool known = false;
    char *end;

    FUZZ_CHECK(id != NULL && strlen(id) == 16, "alert_id '%s'", id);
    uint64_t h = strtoull(id, &end, 16);
    FUZZ_CHECK(*end == '\0', "alert_id '%s' is not hex", id);
    for (int r = 0; r < CHURN_RULE__COUNT; r++) {
        known |= rule != NULL && strcmp(rule, churn_rule_name(r)) == 0;
    }
    FUZZ_CHECK(known, "unknown rule '%s'", rule);
    FUZZ_CHECK(status != NULL, "no status");
    int64_t since = time_field(o, "since");
    FUZZ_CHECK(since <= event_ms, "%s alert since %lld after event_time %lld",
               rule, (long long)since, (long long)event_ms);
    if (strcmp(status, "firing") == 0) {
        FUZZ_CHECK(since == event_ms, "firing %s since %lld at %lld", rule,
                   (long long)since, (long long)event_ms);
        firing_add(w, h);
    } else {
        FUZZ_CHECK(strcmp(status, "resolved") == 0, "status '%s'", status);
        FUZZ_CHECK(json_is_string(json_object_get(o, "outcome")),
                   "resolve without outcome");
        firing_remove(w, h);
    }
    FUZZ_CHECK(json_is_object(ev), "%s alert without evidence", rule);
    for (size_t i = 0; i < sizeof(score_keys) / sizeof(score_keys[0]); i++) {
        if (json_object_get(ev, score_keys[i]) != NULL) {
            check_score(ev, score_keys[i], 100);
        }
    }
    check_score(o, "mrr_at_risk", INFINITY);
    FUZZ_CHECK(json_is_string(json_object_get(o, "summary")), "no summary");
}

static const char *
header(const struct churn_output *o, const char *name, size_t *len)
{
    for (size_t i = 0; i < o->header_cnt; i++) {
        if (strcmp(o->headers[i].name, name) == 0) {
            *len = o->headers[i].value.len;
            return o->headers[i].value.ptr;
        }
    }
    return NULL;
}

struct step {
    const char *raw; /* bytes fed, or NULL for an applied event */
    size_t raw_len;
    struct churn_str event_id; /* applied events */
    const struct churn_source *src;
    bool is_input; /* fed or applied one input */
};

static void check_dead_letter(const struct churn_output *o,
                              const struct step *s)
{
    size_t rl = 0, dl = 0, n = 0;
    const char *reason = header(o, "churnd.reason", &rl);
    const char *detail = header(o, "churnd.detail", &dl);
    bool known = false;

    FUZZ_CHECK(s->is_input, "a dead letter without an input");
    FUZZ_CHECK(reason != NULL && detail != NULL && dl > 0,
               "dead letter without reason or detail");
    for (int r = 1; r < CHURN_REASON__COUNT; r++) {
        const char *name = churn_reason_name((enum churn_reason)r);
        known |= rl == strlen(name) && memcmp(reason, name, rl) == 0;
    }
    FUZZ_CHECK(known, "unknown reason code '%.*s'", (int)rl, reason);
    bool is_late = rl == 4 && memcmp(reason, "late", 4) == 0;
    bool is_future = rl == 6 && memcmp(reason, "future", 6) == 0;
    if (s->raw != NULL) {
        FUZZ_CHECK(o->value.len == s->raw_len &&
                       (s->raw_len == 0 ||
                        memcmp(o->value.ptr, s->raw, s->raw_len) == 0),
                   "dead letter bytes differ from the input");
    } else {
        /* a pre-decoded event has no bytes: its envelope, re-encoded */
        json_error_t je;
        json_t *env = json_loadb(o->value.ptr, o->value.len, 0, &je);
        json_t *id = json_object_get(env, "event_id");
        FUZZ_CHECK(json_is_string(id) &&
                       json_string_length(id) == s->event_id.len &&
                       memcmp(json_string_value(id), s->event_id.ptr,
                              s->event_id.len) == 0,
                   "a late applied event's dead letter is not its envelope");
        json_decref(env);
        FUZZ_CHECK(is_late || is_future,
                   "an applied valid event dead-lettered as neither late nor "
                   "future");
    }
    if (is_late) {
        const char *lb = header(o, "churnd.late_by_ms", &n);
        FUZZ_CHECK(lb != NULL && n > 0 && lb[0] >= '1' && lb[0] <= '9',
                   "late without a positive late_by_ms");
    }
    if (is_future) {
        const char *fb = header(o, "churnd.future_by_ms", &n);
        FUZZ_CHECK(fb != NULL && n > 0 && fb[0] >= '1' && fb[0] <= '9',
                   "future without a positive future_by_ms");
    }
    if (s->src->partition < 0) {
        FUZZ_CHECK(header(o, "churnd.source.file", &n) != NULL &&
                       header(o, "churnd.source.line", &n) != NULL,
                   "replay dead letter without its position");
    } else {
        FUZZ_CHECK(header(o, "churnd.source.topic", &n) != NULL &&
                       header(o, "churnd.source.offset", &n) != NULL,
                   "Kafka dead letter without its position");
        if (s->src->key.len > 0) {
            FUZZ_CHECK(o->key.len == s->src->key.len &&
                           memcmp(o->key.ptr, s->src->key.ptr, o->key.len) == 0,
                       "dead letter key is not the Kafka key");
        }
    }
}

/* FUZZ_TRACE=1 in the environment prints every step and output, to read
 * what a crasher did (tests/fuzz/README in the report). */
static bool tracing(void)
{
    static int on = -1;

    if (on < 0) {
        on = getenv("FUZZ_TRACE") != NULL;
    }
    return on;
}

static void
check_step(struct watch *w, struct churn_engine *eng, const struct step *s)
{
    struct churn_engine_stats st;
    const struct churn_output *out;
    size_t n = churn_engine_outputs(eng, &out);
    uint64_t by_reason = 0, by_rule = 0;

    if (tracing()) {
        churn_engine_get_stats(eng, &st);
        fprintf(stderr, "-- step: %.*s (watermark %lld)\n",
                s->raw ? (int)(s->raw_len > 400 ? 400 : s->raw_len)
                       : (int)s->event_id.len,
                s->raw ? s->raw : s->event_id.ptr, (long long)st.watermark_ms);
        for (size_t i = 0; i < n; i++) {
            fprintf(stderr, "   out %d: %.*s\n", out[i].topic,
                    (int)(out[i].value.len > 600 ? 600 : out[i].value.len),
                    out[i].value.ptr);
        }
    }

    churn_engine_get_stats(eng, &st);
    w->evictions_now = st.evicted_full + st.evicted_idle;
    FUZZ_CHECK(st.in == st.accepted + st.dead_letters + st.duplicates,
               "in %llu != %llu accepted + %llu dead + %llu dup",
               (unsigned long long)st.in, (unsigned long long)st.accepted,
               (unsigned long long)st.dead_letters,
               (unsigned long long)st.duplicates);
    FUZZ_CHECK(st.in == w->last.in + (s->is_input ? 1 : 0), "in moved by %lld",
               (long long)(st.in - w->last.in));
    for (int r = 0; r < CHURN_REASON__COUNT; r++) {
        by_reason += st.by_reason[r];
    }
    FUZZ_CHECK(st.by_reason[CHURN_REASON_NONE] == 0 &&
                   by_reason == st.dead_letters,
               "dead letters by reason do not add up");
    for (int r = 0; r < CHURN_RULE__COUNT; r++) {
        by_rule += st.alerts_by_rule[r];
    }
    FUZZ_CHECK(by_rule == st.alerts_firing, "alerts by rule do not add up");
    FUZZ_CHECK(st.accounts <= w->cfg->state_max_accounts,
               "%llu accounts, max %zu", (unsigned long long)st.accounts,
               w->cfg->state_max_accounts);
    FUZZ_CHECK(st.watermark_ms >= w->last.watermark_ms,
               "watermark went back from %lld to %lld",
               (long long)w->last.watermark_ms, (long long)st.watermark_ms);
    FUZZ_CHECK(st.accepted >= w->last.accepted &&
                   st.duplicates >= w->last.duplicates &&
                   st.dead_letters >= w->last.dead_letters,
               "a counter went back");

    for (size_t i = 0; i < n; i++) {
        const struct churn_output *o = &out[i];
        json_error_t je;
        json_t *v;

        FUZZ_CHECK((unsigned)o->topic < CHURN_TOPIC__COUNT, "topic %d",
                   o->topic);
        FUZZ_CHECK(o->header_cnt <= CHURN_MAX_HEADERS, "%zu headers",
                   o->header_cnt);
        if (o->topic == CHURN_TOPIC_DLQ) {
            w->dlq++;
            check_dead_letter(o, s);
            continue;
        }
        v = json_loadb(o->value.ptr, o->value.len, JSON_REJECT_DUPLICATES, &je);
        FUZZ_CHECK(v != NULL, "output is not JSON: %s: %.*s", je.text,
                   (int)(o->value.len > 300 ? 300 : o->value.len),
                   o->value.ptr);
        FUZZ_CHECK(json_is_object(v), "output is not an object");
        int64_t at = time_field(v, "event_time");
        int64_t want = clamp_ts(o->event_ms);
        FUZZ_CHECK(at == want, "event_time %lld, output event_ms %lld",
                   (long long)at, (long long)o->event_ms);
        /* signals and alerts are keyed by account, metrics by slice */
        json_t *acc = json_object_get(
            v, o->topic == CHURN_TOPIC_METRICS ? "slice" : "account_id");
        FUZZ_CHECK(
            json_is_string(acc) && json_string_length(acc) == o->key.len &&
                memcmp(json_string_value(acc), o->key.ptr, o->key.len) == 0,
            "key is not the account_id (the slice for metrics)");
        if (o->topic == CHURN_TOPIC_SIGNALS) {
            w->signals++;
            check_signal(w, v);
        } else if (o->topic == CHURN_TOPIC_ALERTS) {
            w->alerts++;
            check_alert(w, v, at);
        }
        json_decref(v);
    }
    FUZZ_CHECK(w->signals == st.signals, "%llu signals emitted, stats say %llu",
               (unsigned long long)w->signals, (unsigned long long)st.signals);
    FUZZ_CHECK(w->alerts == st.alerts_firing + st.alerts_resolved,
               "%llu alerts emitted, stats say %llu + %llu",
               (unsigned long long)w->alerts,
               (unsigned long long)st.alerts_firing,
               (unsigned long long)st.alerts_resolved);
    FUZZ_CHECK(w->dlq == st.dead_letters, "%llu dead letters, stats say %llu",
               (unsigned long long)w->dlq, (unsigned long long)st.dead_letters);
    w->last = st;
}

/* Engines A and B emitted the same bytes; then both lists are cleared. */
static void check_same(struct churn_engine *a, struct churn_engine *b)
{
    const struct churn_output *oa, *ob;
    size_t na = churn_engine_outputs(a, &oa), nb = churn_engine_outputs(b, &ob);

    FUZZ_CHECK(na == nb, "engine A emitted %zu outputs, B %zu", na, nb);
    for (size_t i = 0; i < na; i++) {
        FUZZ_CHECK(oa[i].topic == ob[i].topic &&
                       oa[i].event_ms == ob[i].event_ms &&
                       oa[i].value.len == ob[i].value.len &&
                       memcmp(oa[i].value.ptr, ob[i].value.ptr,
                              oa[i].value.len) == 0 &&
                       oa[i].key.len == ob[i].key.len &&
                       memcmp(oa[i].key.ptr, ob[i].key.ptr, oa[i].key.len) == 0,
                   "output %zu differs between two identical runs", i);
    }
    churn_engine_outputs_clear(a);
    churn_engine_outputs_clear(b);
}

static bool fake_geo(void *ctx, struct churn_str ip, struct churn_geo *out)
{
    (void)ctx;
    if (ip.len == 0 || ip.ptr[0] == 'x') {
        return false;
    }
    if (ip.ptr[0] == '1') { /* resolves, but to no country */
        return true;
    }
    out->country[0] = (char)('A' + ip.len % 26);
    out->country[1] = (char)('A' + (unsigned char)ip.ptr[ip.len - 1] % 26);
    memcpy(out->region, "CA", 3);
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct gen g = { { data, size }, BASE_MS, 0, { { 0 } }, 0 };
    struct churn_config cfg;
    struct churn_error err = { 0 };
    struct churn_engine *a, *b;
    struct churn_decoder *dec;
    struct watch w = { 0 };

    make_config(&g.b, &cfg);
    a = churn_engine_new(&cfg, fake_geo, NULL, &err);
    FUZZ_CHECK(a != NULL, "engine_new: %s", err.msg);
    b = churn_engine_new(&cfg, fake_geo, NULL, &err);
    FUZZ_CHECK(b != NULL, "engine_new: %s", err.msg);
    dec = churn_decoder_new(cfg.input_max_event_size);
    FUZZ_CHECK(dec != NULL, "decoder_new failed");
    w.cfg = &cfg;
    churn_engine_get_stats(a, &w.last);

    for (int step = 0; step < MAX_STEPS && g.b.n > 0; step++) {
        uint8_t op = fuzz_u8(&g.b);
        struct churn_source src = {
            "fuzz.jsonl", -1, step + 1, -1, { NULL, 0 }
        };
        struct step s = { NULL, 0, { NULL, 0 }, &src, false };
        char *text = NULL;
        size_t len = 0;
        enum churn_err ra = CHURN_OK, rb = CHURN_OK;

        if (op & 0x80) { /* a Kafka source, keyed or not */
            src.topic = "churn.events";
            src.partition = op & 3;
            src.timestamp_ms = (op & 4) ? -1 : BASE_MS;
            if (op & 8) {
                src.key = (struct churn_str){ "kafka-key", 9 };
            }
        }
        switch (op % 16) {
        case 0:
        case 1:
        case 2:
        case 3:
        case 4:
        case 5: { /* decode, then apply */
            struct churn_event ev;
            struct churn_decode_result res;
            text = gen_event(&g, &len);
            FUZZ_CHECK(churn_decoder_decode(dec, text, len, &ev, &res) ==
                           CHURN_REASON_NONE,
                       "a valid event was rejected: %s: %s", res.detail, text);
            s.is_input = true;
            s.event_id = ev.event_id;
            ra = churn_engine_apply(a, &ev, &src, &err);
            rb = churn_engine_apply(b, &ev, &src, &err);
            break;
        }
        case 6:
        case 7:
        case 8:
        case 9:
        case 10: /* the bytes, fed */
            text = gen_event(&g, &len);
            s.is_input = true;
            break;
        case 11: { /* an event cut short, or with one byte changed */
            text = gen_event(&g, &len);
            size_t at = (size_t)fuzz_uint(&g.b, 2) % (len + 1);
            uint8_t m = fuzz_u8(&g.b);
            if (m & 1) {
                len = at;
            } else if (at < len) {
                text[at] = (char)(m >> 1 | (m & 2 ? 0x80 : 0));
            }
            s.is_input = true;
            break;
        }
        case 12: { /* raw fuzz bytes */
            size_t k = fuzz_u8(&g.b) % 64;
            if (k > g.b.n) {
                k = g.b.n;
            }
            text = malloc(k ? k : 1);
            FUZZ_CHECK(text != NULL, "out of memory");
            memcpy(text, g.b.p, k);
            g.b.p += k;
            g.b.n -= k;
            len = k;
            s.is_input = true;
            break;
        }
        case 13: { /* a burst: many accounts, plans and currencies */
            unsigned cnt = 8 + fuzz_u8(&g.b) % 64;
            uint8_t kind = fuzz_u8(&g.b);
            for (unsigned i = 0; i < cnt; i++) {
                char ev[384];
                int n = snprintf(
                    ev, sizeof(ev),
                    "{\"event_id\":\"burst-%d-%u\",\"type\":\"%s\","
                    "\"account_id\":\"b%d-%u\",\"ts\":%lld,"
                    "\"plan\":\"p%d-%u\",\"mrr\":%u,\"currency\":"
                    "\"%c%c%c\",\"reason\":\"r%d-%u\",\"user_id\":\"u%u\"}",
                    step, i,
                    (kind & 1) ? "subscription.created" : "usage.login",
                    (kind & 2) ? step : 0, (kind & 2) ? i : i % 7,
                    (long long)(g.cur + i * 1000LL), step, i, i,
                    'A' + step % 26, 'A' + i % 26, 'A' + (i / 26 + step) % 26,
                    step, i, i);
                struct churn_source bs = {
                    "burst", -1, (int64_t)i + 1, -1, { NULL, 0 }
                };
                FUZZ_CHECK(churn_engine_feed(a, ev, (size_t)n, &bs, &err) ==
                                   CHURN_OK &&
                               churn_engine_feed(b, ev, (size_t)n, &bs, &err) ==
                                   CHURN_OK,
                           "burst feed: %s", err.msg);
                struct step one = { ev, (size_t)n, { NULL, 0 }, &bs, true };
                check_step(&w, a, &one);
                check_same(a, b);
            }
            continue;
        }
        case 14: { /* advance the watermark */
            uint8_t m = fuzz_u8(&g.b);
            struct churn_engine_stats st;
            int64_t to;
            churn_engine_get_stats(a, &st);
            switch (m % 6) {
            case 0:
                to = INT64_MAX;
                break;
            case 1:
                to = INT64_MIN;
                break;
            case 2:
                to = CHURN_TS_MAX_MS;
                break;
            case 3:
                to = -1;
                break;
            default: /* hours or days ahead of now */
                to = clamp_ts(st.watermark_ms == INT64_MIN ? g.cur
                                                           : st.watermark_ms) +
                     (int64_t)(m >> 3) * ((m & 4) ? DAY_MS : HOUR_MS);
                break;
            }
            ra = churn_engine_advance(a, to, &err);
            rb = churn_engine_advance(b, to, &err);
            break;
        }
        default: /* end of input */
            ra = churn_engine_finish(a, &err);
            rb = churn_engine_finish(b, &err);
            break;
        }
        if (s.is_input && s.event_id.ptr == NULL) {
            s.raw = text;
            s.raw_len = len;
            ra = churn_engine_feed(a, text, len, &src, &err);
            rb = churn_engine_feed(b, text, len, &src, &err);
        }
        FUZZ_CHECK(ra == CHURN_OK && rb == CHURN_OK, "step %d: %s", step,
                   err.msg);
        check_step(&w, a, &s);
        check_same(a, b);
        free(text);
    }
    FUZZ_CHECK(churn_engine_finish(a, &err) == CHURN_OK &&
                   churn_engine_finish(b, &err) == CHURN_OK,
               "finish: %s", err.msg);
    struct step end = { NULL, 0, { NULL, 0 }, NULL, false };
    check_step(&w, a, &end);
    check_same(a, b);

    free(w.firing);
    churn_decoder_free(dec);
    churn_engine_free(a);
    churn_engine_free(b);
    churn_config_release(&cfg);
    return 0;
}
