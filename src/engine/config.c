/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The configuration table and the properties parser (DESIGN §5).
 *
 * Every fixed key is one row of keys[], in documentation order: its type,
 * where it lives in struct churn_config, its range, its default (as text in
 * canonical units, applied by the same code as a file value) and a one-line
 * doc. Defaults, parsing, the range checks in validate, did-you-mean, the
 * dump and the key reference all read that table, so a new key is one row.
 * The dynamic keys (plan.NAME.*, kafka.*) are handled beside it.
 *
 * Pure: no stdio. snprintf is not I/O; it is declared here as error.c
 * declares vsnprintf, so the engine needs no <stdio.h>.
 */
#include "churnd/config.h"

#include "churnd/event.h"

#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int snprintf(char *str, size_t size, const char *format, ...);

#define MS_SEC  INT64_C(1000)
#define MS_MIN  (60 * MS_SEC)
#define MS_HOUR (60 * MS_MIN)
#define MS_DAY  (24 * MS_HOUR)
#define MS_WEEK (7 * MS_DAY)
#define KIB     INT64_C(1024)
#define MIB     (1024 * KIB)
#define GIB     (1024 * MIB)

#define PRICE_MAX   INT64_C(1000000000000) /* minor units per month */
#define CLIP_LEN    80 /* longest user text quoted in a message */
#define SUGGEST_MAX 3  /* did-you-mean: largest edit distance offered */
#define CAND_MAX    192

/* Enums are stored through store_int() as an int-sized field. */
_Static_assert(sizeof(enum churn_severity) == sizeof(int32_t), "enum size");
_Static_assert(sizeof(enum churn_churn_at) == sizeof(int32_t), "enum size");
_Static_assert(sizeof(enum churn_log_level) == sizeof(int32_t), "enum size");
_Static_assert(sizeof(enum churn_log_format) == sizeof(int32_t), "enum size");

enum key_type {
    KT_DURATION, /* integer + unit (ms s m h d w), or plain 0; int64_t ms */
    KT_SIZE,     /* integer + optional unit (B KiB MiB GiB); size_t bytes */
    KT_INT,      /* integer, in a 4- or 8-byte field */
    KT_DECIMAL,  /* double */
    KT_BOOL,     /* bool */
    KT_ENUM,     /* one of .names, stored as its index */
    KT_TOPIC,    /* one Kafka topic name */
    KT_TOPICS,   /* comma-separated topic names */
    KT_NAMES,    /* comma-separated names (feature names) */
    KT_PATH,     /* file system path, "" = off */
    KT_LISTEN,   /* host:port, "" = off */
};

struct key_desc {
    const char *name;
    enum key_type type;
    size_t off;               /* offsetof the field in struct churn_config */
    size_t size;              /* sizeof the field; lists: of one item */
    size_t cnt_off;           /* lists: offsetof the item count */
    int64_t min, max;         /* numbers (ms, bytes); lists: item count */
    bool zero_ok;             /* 0 is allowed besides min..max */
    const char *const *names; /* enums: allowed values, NULL-terminated */
    const char *def;          /* default, canonical text */
    const char *doc;          /* one line for the reference */
};

static const char *const rule_names[CHURN_RULE__COUNT] = {
    [CHURN_RULE_ENGAGEMENT_DROP] = "engagement_drop",
    [CHURN_RULE_INACTIVITY] = "inactivity",
    [CHURN_RULE_PAYMENT_FAILURE_STREAK] = "payment_failure_streak",
    [CHURN_RULE_CARD_EXPIRING] = "card_expiring",
    [CHURN_RULE_DOWNGRADE] = "downgrade",
    [CHURN_RULE_CANCEL_SCHEDULED] = "cancel_scheduled",
    [CHURN_RULE_TRIAL_LOW_ACTIVATION] = "trial_low_activation",
    [CHURN_RULE_FEATURE_ABANDONMENT] = "feature_abandonment",
    [CHURN_RULE_DETRACTOR_FEEDBACK] = "detractor_feedback",
    [CHURN_RULE_CHARGEBACK] = "chargeback",
    [CHURN_RULE_HEALTH_CRITICAL] = "health_critical",
};

static const char *const severity_names[] = { "info", "warning", "critical",
                                              NULL };
static const char *const churn_at_names[] = { "cancel", "effective",
                                              "scheduled", NULL };
static const char *const log_level_names[] = { "error", "warn", "info", "debug",
                                               NULL };
static const char *const log_format_names[] = { "text", "json", NULL };
static const char *const plan_fields[] = { "segment", "tier", "price" };

/* The table reads best one row per key, so clang-format leaves it. */
/* clang-format off */
#define MSIZE(m) sizeof(((struct churn_config *)0)->m)
#define AT(m)    .off = offsetof(struct churn_config, m), .size = MSIZE(m)

#define DUR(n, m, lo, hi, d, doc_)                                             \
    {                                                                          \
        .name = n, .type = KT_DURATION, AT(m), .min = lo, .max = hi,           \
        .def = d, .doc = doc_                                                  \
    }
#define SIZ(n, m, lo, hi, d, doc_)                                             \
    {                                                                          \
        .name = n, .type = KT_SIZE, AT(m), .min = lo, .max = hi, .def = d,     \
        .doc = doc_                                                            \
    }
#define INT(n, m, lo, hi, d, doc_)                                             \
    {                                                                          \
        .name = n, .type = KT_INT, AT(m), .min = lo, .max = hi, .def = d,      \
        .doc = doc_                                                            \
    }
#define DEC(n, m, lo, hi, d, doc_)                                             \
    {                                                                          \
        .name = n, .type = KT_DECIMAL, AT(m), .min = lo, .max = hi, .def = d,  \
        .doc = doc_                                                            \
    }
#define BOOL(n, m, d, doc_)                                                    \
    {                                                                          \
        .name = n, .type = KT_BOOL, AT(m), .def = d, .doc = doc_               \
    }
#define ENUM(n, m, nm, d, doc_)                                                \
    {                                                                          \
        .name = n, .type = KT_ENUM, AT(m), .names = nm, .def = d,              \
        .doc = doc_                                                            \
    }
#define TOPIC(n, m, d, doc_)                                                   \
    {                                                                          \
        .name = n, .type = KT_TOPIC, AT(m), .def = d, .doc = doc_              \
    }
#define LIST(n, ty, m, cnt, hi, d, doc_)                                       \
    {                                                                          \
        .name = n, .type = ty, AT(m[0]),                                       \
        .cnt_off = offsetof(struct churn_config, cnt),                         \
        .min = (ty) == KT_TOPICS ? 1 : 0, .max = hi, .def = d, .doc = doc_     \
    }
#define STR(n, ty, m, doc_)                                                    \
    {                                                                          \
        .name = n, .type = ty, AT(m), .def = "", .doc = doc_                   \
    }

/* The three keys every rule has, in front of its own. */
#define RULE(r, rn, sev, cool)                                                 \
    BOOL("rule." rn ".enabled", rules[r].enabled, "true",                      \
         "turn the " rn " rule on or off"),                                    \
        ENUM("rule." rn ".severity", rules[r].severity, severity_names, sev,   \
             "severity of its alerts"),                                        \
        DUR("rule." rn ".cooldown", rules[r].cooldown_ms, 0, 90 * MS_DAY,      \
            cool, "after a resolve, no new firing for this long")

static const struct key_desc keys[] = {
    LIST("input.topics", KT_TOPICS, input_topics, input_topic_cnt,
         CHURN_MAX_TOPICS, "churn.events",
         "topics to consume, comma-separated; several must be co-partitioned"),
    SIZ("input.max_event_size", input_max_event_size, 256, 16 * MIB, "64KiB",
        "largest event accepted; bigger ones are dead-lettered"),
    DUR("input.dedupe_horizon", input_dedupe_horizon_ms, 0, 30 * MS_DAY, "1d",
        "how long an event_id is remembered to drop re-deliveries; 0 = off"),
    INT("input.dedupe_capacity", input_dedupe_capacity, 0, 100000000,
        "1000000", "most event ids remembered at once; 0 = no dedupe"),
    DUR("input.allowed_lateness", input_allowed_lateness_ms, 0, 7 * MS_DAY,
        "1h", "how far behind the newest event time an event may arrive"),
    DUR("input.max_future", input_max_future_ms, 0, 3650 * MS_DAY, "1h",
        "how far ahead of its Kafka message timestamp an event time may be; "
        "0 = off"),
    DUR("input.max_jump", input_max_jump_ms, 0, 3650 * MS_DAY, "180d",
        "without a message timestamp (replay), how far ahead of the newest "
        "event time an event may be; 0 = off"),
    TOPIC("output.signals", output_signals, "churn.signals",
          "topic for score signals"),
    TOPIC("output.alerts", output_alerts, "churn.alerts",
          "topic for alerts (firing and resolved)"),
    TOPIC("output.metrics", output_metrics, "churn.metrics",
          "topic for periodic SaaS metrics"),
    TOPIC("output.dlq", output_dlq, "churn.dlq",
          "topic for dead letters (rejected input)"),
    {
        .name = "output.state",
        .type = KT_TOPIC,
        AT(output_state),
        .zero_ok = true,
        .def = "churn.state",
        .doc = "compacted changelog topic for account state; empty = none",
    },
    INT("output.max_inflight", output_max_inflight, 100, 10000000, "50000",
        "outputs awaiting acknowledgement before consumption pauses"),
    DUR("output.flush_timeout", output_flush_timeout_ms, MS_SEC, 10 * MS_MIN,
        "30s", "on shutdown, how long to wait for outputs to be delivered"),
    DUR("window.bucket", window_bucket_ms, MS_MIN, 7 * MS_DAY, "1d",
        "width of one event-time bucket"),
    INT("window.buckets", window_buckets, 8, 64, "35",
        "buckets kept per account; their span must cover recent + baseline"),
    DUR("window.utc_offset", window_utc_offset_ms, -14 * MS_HOUR,
        14 * MS_HOUR, "0", "bucket alignment against UTC, e.g. -5h; signed"),
    DEC("score.weight.engagement", score_weight_engagement, 0, 1, "0.5",
        "weight of the engagement component in health"),
    DEC("score.weight.payment", score_weight_payment, 0, 1, "0.2",
        "weight of the payment component in health"),
    DEC("score.weight.subscription", score_weight_subscription, 0, 1, "0.2",
        "weight of the subscription component in health"),
    DEC("score.weight.feedback", score_weight_feedback, 0, 1, "0.1",
        "weight of the feedback component in health"),
    DEC("score.band.healthy", score_band_healthy, 0, 100, "70",
        "health at or above this is healthy"),
    DEC("score.band.watch", score_band_watch, 0, 100, "50",
        "health at or above this (and below healthy) is watch"),
    DEC("score.band.at_risk", score_band_at_risk, 0, 100, "30",
        "at or above this (and below watch) is at_risk; below it, critical"),
    DEC("score.signal_delta", score_signal_delta, 1, 100, "10",
        "emit a signal when health moves by at least this much"),
    DUR("score.recent", score_recent_ms, MS_DAY, 30 * MS_DAY, "7d",
        "recent activity window; a multiple of window.bucket"),
    DUR("score.baseline", score_baseline_ms, 7 * MS_DAY, 90 * MS_DAY, "28d",
        "baseline window before the recent one; a multiple of window.bucket"),

    RULE(CHURN_RULE_ENGAGEMENT_DROP, "engagement_drop", "warning", "7d"),
    DUR("rule.engagement_drop.window", drop_window_ms, MS_DAY, 28 * MS_DAY,
        "14d", "the window judged against the account's own reference"),
    DUR("rule.engagement_drop.long_window", drop_long_window_ms, 0,
        28 * MS_DAY, "21d",
        "a second, longer window judged the same way; 0 = off"),
    DUR("rule.engagement_drop.min_reference", drop_min_reference_ms, 7 * MS_DAY,
        365 * MS_DAY, "28d",
        "observed days before the window needed for a reference"),
    DEC("rule.engagement_drop.ratio", drop_ratio, 0, 1, "0.5",
        "fire only when the window is at most this share of the expected"),
    DEC("rule.engagement_drop.resolve_ratio", drop_resolve_ratio, 0, 2, "0.75",
        "resolve when the window is back above this share"),
    DEC("rule.engagement_drop.min_expected", drop_min_expected, 0, 1000000,
        "7", "expected window count needed before a drop is judged"),
    DEC("rule.engagement_drop.z", drop_z, 0, 20, "3",
        "evidence needed: the count test's z plus the corroboration weights"),
    DEC("rule.engagement_drop.usage_z", drop_usage_z, 0, 20, "1.5",
        "... of which the count test alone must reach this"),
    DEC("rule.engagement_drop.feedback_weight", drop_feedback_weight, 0, 10,
        "1", "evidence added by a detractor response inside the window"),
    DEC("rule.engagement_drop.feature_weight", drop_feature_weight, 0, 10, "1",
        "evidence added by a key feature, used regularly before, unused for "
        "rule.feature_abandonment.unused"),
    DEC("rule.engagement_drop.min_dispersion", drop_min_dispersion, 1, 100,
        "3", "floor on the count's variance-to-mean ratio (events come in "
        "bursts per visit)"),
    RULE(CHURN_RULE_INACTIVITY, "inactivity", "warning", "7d"),
    DUR("rule.inactivity.after", inactivity_after_ms, MS_HOUR, 365 * MS_DAY,
        "10d", "fire after this long without usage (event time)"),
    DEC("rule.inactivity.max_gap_probability", inactivity_max_gap_p, 0, 1,
        "0.0001", "and only when a gap this long is this unlikely for the "
        "account's own share of active days"),
    RULE(CHURN_RULE_PAYMENT_FAILURE_STREAK, "payment_failure_streak",
         "critical", "3d"),
    INT("rule.payment_failure_streak.failures", failure_streak, 1, 100, "2",
        "failed payments in a row, with no success since, that fire"),
    DUR("rule.payment_failure_streak.unresolved_after", failure_unresolved_ms,
        0, 90 * MS_DAY, "3d",
        "also fire when a failure stays unrecovered this long (0 = never)"),
    RULE(CHURN_RULE_CARD_EXPIRING, "card_expiring", "warning", "14d"),
    DUR("rule.card_expiring.within", card_within_ms, MS_DAY, 365 * MS_DAY,
        "30d", "fire when the card expires within this long"),
    RULE(CHURN_RULE_DOWNGRADE, "downgrade", "warning", "7d"),
    DEC("rule.downgrade.contraction", downgrade_contraction, 0, 1, "0.2",
        "fire when MRR shrinks by at least this share"),
    RULE(CHURN_RULE_CANCEL_SCHEDULED, "cancel_scheduled", "critical", "1d"),
    RULE(CHURN_RULE_TRIAL_LOW_ACTIVATION, "trial_low_activation", "warning",
         "7d"),
    DUR("rule.trial_low_activation.before", trial_before_ms, MS_HOUR,
        60 * MS_DAY, "10d", "judge a trial this long before it ends"),
    DEC("rule.trial_low_activation.max_engagement", trial_max_engagement, 0,
        100, "30", "fire when the trial's engagement is below this, or"),
    DEC("rule.trial_low_activation.max_activity", trial_max_activity, 0, 1,
        "0.5", "... when its activity is at most this share of its plan's "
        "established accounts"),
    RULE(CHURN_RULE_FEATURE_ABANDONMENT, "feature_abandonment", "info", "14d"),
    LIST("rule.feature_abandonment.features", KT_NAMES, key_features,
         key_feature_cnt, CHURN_MAX_KEY_FEATURES, "",
         "key features to watch, comma-separated; empty = rule idle"),
    DUR("rule.feature_abandonment.unused", abandon_after_ms, MS_DAY,
        365 * MS_DAY, "14d", "fire when a key feature is unused this long"),
    DEC("rule.feature_abandonment.max_activity", abandon_max_activity, 0,
        1000, "0.8",
        "... once an engagement_drop window is at most this share of the "
        "account's reference"),
    DEC("rule.feature_abandonment.z", abandon_z, 0, 20, "2.5",
        "... and that window's count test is at least z below it; 0 = the "
        "unused feature alone fires"),
    RULE(CHURN_RULE_DETRACTOR_FEEDBACK, "detractor_feedback", "warning", "7d"),
    INT("rule.detractor_feedback.nps_max", detractor_nps_max, 0, 10, "6",
        "an NPS score at or below this fires"),
    DEC("rule.detractor_feedback.sentiment_max", detractor_sentiment_max, -1,
        1, "-0.5", "a ticket sentiment at or below this fires"),
    DEC("rule.detractor_feedback.max_activity", detractor_max_activity, 0,
        1000, "0.8",
        "... once an engagement_drop window is at most this share of the "
        "account's reference"),
    DEC("rule.detractor_feedback.z", detractor_z, 0, 20, "2.5",
        "... and that window's count test is at least z below it; 0 = any "
        "weak window"),
    DUR("rule.detractor_feedback.within", detractor_within_ms, 0,
        90 * MS_DAY, "14d",
        "a detractor response waits this long for weak usage to fire"),
    RULE(CHURN_RULE_CHARGEBACK, "chargeback", "critical", "1d"),
    RULE(CHURN_RULE_HEALTH_CRITICAL, "health_critical", "critical", "7d"),

    STR("geoip.database", KT_PATH, geoip_database,
        "MaxMind DB file for country lookup; empty = no geo enrichment"),
    STR("state.dir", KT_PATH, state_dir,
        "directory for state snapshots; empty = no snapshots"),
    DUR("state.snapshot_interval", state_snapshot_interval_ms, MS_SEC, MS_DAY,
        "1m", "how often state is snapshotted"),
    DUR("state.checkpoint_interval", state_checkpoint_interval_ms, MS_SEC,
        MS_HOUR, "10s",
        "how often changed state goes to the changelog with its offsets"),
    INT("state.max_accounts", state_max_accounts, 1, 100000000, "2000000",
        "most accounts kept in memory"),
    {
        .name = "state.idle_evict",
        .type = KT_DURATION,
        AT(state_idle_evict_ms),
        .min = MS_DAY,
        .max = 3650 * MS_DAY,
        .zero_ok = true,
        .def = "90d",
        .doc = "evict accounts idle this long; 0 = never",
    },
    {
        .name = "http.listen",
        .type = KT_LISTEN,
        AT(http_listen),
        .def = "127.0.0.1:9476",
        .doc = "run: host:port for /metrics, /healthz, /readyz, /accounts; "
               "empty = off",
    },
    DUR("metrics.period", metrics_period_ms, MS_MIN, 31 * MS_DAY, "1d",
        "period of the SaaS metrics output"),
    ENUM("metrics.churn_at", metrics_churn_at, churn_at_names, "cancel",
         "when MRR churn is counted: at cancel, effective end, or schedule"),
    ENUM("log.level", log_level, log_level_names, "info", "log verbosity"),
    ENUM("log.format", log_format, log_format_names, "text",
         "log line format"),
};

/* clang-format on */

#define KEY_CNT (sizeof(keys) / sizeof(keys[0]))

/* Where each key was set in the file being parsed; absent for -X. */
struct parse_ctx {
    size_t line;
    size_t key_line[KEY_CNT];
    size_t plan_line[CHURN_MAX_PLANS][3];
    size_t *kafka_line; /* by kafka_props index, 0 = not in this file */
    size_t kafka_line_cnt;
};

/* ---- small string helpers ---- */

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_alnum(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static struct churn_str mkstr(const char *ptr, size_t len)
{
    struct churn_str s = { ptr, len };
    return s;
}

static struct churn_str trim(struct churn_str s)
{
    while (s.len > 0 && is_space(s.ptr[0])) {
        s.ptr++;
        s.len--;
    }
    while (s.len > 0 && is_space(s.ptr[s.len - 1])) {
        s.len--;
    }
    return s;
}

static bool str_is(struct churn_str s, const char *lit)
{
    size_t n = strlen(lit);
    return s.len == n && memcmp(s.ptr, lit, n) == 0;
}

static bool str_is_nocase(struct churn_str s, const char *lit)
{
    size_t n = strlen(lit);
    if (s.len != n) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (lower(s.ptr[i]) != lit[i]) {
            return false;
        }
    }
    return true;
}

static bool has_prefix(struct churn_str s, const char *p)
{
    size_t n = strlen(p);
    return s.len >= n && memcmp(s.ptr, p, n) == 0;
}

static bool has_control(struct churn_str s)
{
    for (size_t i = 0; i < s.len; i++) {
        unsigned char c = (unsigned char)s.ptr[i];
        if (c < 0x20 || c == 0x7f) {
            return true;
        }
    }
    return false;
}

/* Copies s into buf (CLIP_LEN + 4 bytes) for quoting in a message. */
static const char *clip(struct churn_str s, char *buf)
{
    size_t n = s.len > CLIP_LEN ? CLIP_LEN : s.len;
    memcpy(buf, s.ptr, n);
    if (n < s.len) {
        memcpy(buf + n, "...", 3);
        n += 3;
    }
    buf[n] = '\0';
    return buf;
}

static void copy_str(char *dst, struct churn_str s)
{
    memcpy(dst, s.ptr, s.len);
    dst[s.len] = '\0';
}

/* ---- field access ---- */

static void *field(struct churn_config *cfg, const struct key_desc *k)
{
    return (char *)cfg + k->off;
}

static const void *cfield(const struct churn_config *cfg,
                          const struct key_desc *k)
{
    return (const char *)cfg + k->off;
}

/*
 * Integers, durations, sizes and enums live in 4- or 8-byte fields; a
 * negative minimum means the field is signed. Values are range-checked
 * before they are stored, so every conversion here is exact.
 */
static void store_int(void *p, const struct key_desc *k, int64_t v)
{
    if (k->size == sizeof(int32_t)) {
        if (k->min < 0) {
            int32_t x = (int32_t)v;
            memcpy(p, &x, sizeof(x));
        } else {
            uint32_t x = (uint32_t)v;
            memcpy(p, &x, sizeof(x));
        }
    } else if (k->min < 0) {
        memcpy(p, &v, sizeof(v));
    } else {
        uint64_t x = (uint64_t)v;
        memcpy(p, &x, sizeof(x));
    }
}

static int64_t load_int(const void *p, const struct key_desc *k)
{
    if (k->size == sizeof(int32_t)) {
        if (k->min < 0) {
            int32_t x;
            memcpy(&x, p, sizeof(x));
            return x;
        }
        uint32_t x;
        memcpy(&x, p, sizeof(x));
        return x;
    }
    if (k->min < 0) {
        int64_t x;
        memcpy(&x, p, sizeof(x));
        return x;
    }
    uint64_t x;
    memcpy(&x, p, sizeof(x));
    return x > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)x;
}

/* ---- number syntax ---- */

enum num {
    NUM_OK,
    NUM_BAD,   /* not the right syntax */
    NUM_RANGE, /* syntax fine, but does not fit in 64 bits */
};

struct unit {
    const char *name;
    int64_t factor;
};

static const struct unit duration_units[] = {
    { "ms", 1 },     { "s", MS_SEC },  { "m", MS_MIN }, { "h", MS_HOUR },
    { "d", MS_DAY }, { "w", MS_WEEK }, { NULL, 0 },
};
static const struct unit size_units[] = {
    { "B", 1 }, { "KiB", KIB }, { "MiB", MIB }, { "GiB", GIB }, { NULL, 0 },
};

/*
 * [+-]digits[unit]. With units, a unit is required unless unit_optional or
 * the number is 0. Overflow anywhere is NUM_RANGE, never wrap-around.
 */
static enum num parse_number(struct churn_str s,
                             const struct unit *units,
                             bool unit_optional,
                             int64_t *out)
{
    size_t i = 0;
    bool neg = false, overflow = false;
    uint64_t mag = 0;
    int64_t factor = 1;

    if (i < s.len && (s.ptr[i] == '+' || s.ptr[i] == '-')) {
        neg = s.ptr[i] == '-';
        i++;
    }
    if (i >= s.len || !is_digit(s.ptr[i])) {
        return NUM_BAD;
    }
    for (; i < s.len && is_digit(s.ptr[i]); i++) {
        unsigned d = (unsigned)(s.ptr[i] - '0');
        if (mag > (UINT64_MAX - d) / 10) {
            overflow = true;
        } else {
            mag = mag * 10 + d;
        }
    }
    struct churn_str unit = mkstr(s.ptr + i, s.len - i);
    if (unit.len == 0) {
        if (units != NULL && !unit_optional && (mag != 0 || overflow)) {
            return NUM_BAD;
        }
    } else {
        const struct unit *u = units;
        for (; u != NULL && u->name != NULL; u++) {
            if (str_is(unit, u->name)) {
                break;
            }
        }
        if (u == NULL || u->name == NULL) {
            return NUM_BAD;
        }
        factor = u->factor;
    }
    if (overflow || mag > (uint64_t)INT64_MAX / (uint64_t)factor) {
        return NUM_RANGE;
    }
    *out = (int64_t)(mag * (uint64_t)factor);
    if (neg) {
        *out = -*out;
    }
    return NUM_OK;
}

/*
 * [+-](digits[.digits*] | .digits)([eE][+-]digits). Checked here so strtod
 * never sees hex, inf, nan or leading blanks.
 */
static enum num parse_decimal(struct churn_str s, double *out)
{
    char buf[128];
    size_t i = 0, digits = 0;
    char *end;

    if (s.len == 0 || s.len >= sizeof(buf)) {
        return NUM_BAD;
    }
    if (s.ptr[i] == '+' || s.ptr[i] == '-') {
        i++;
    }
    for (; i < s.len && is_digit(s.ptr[i]); i++) {
        digits++;
    }
    if (i < s.len && s.ptr[i] == '.') {
        for (i++; i < s.len && is_digit(s.ptr[i]); i++) {
            digits++;
        }
    }
    if (digits == 0) {
        return NUM_BAD;
    }
    if (i < s.len && (s.ptr[i] == 'e' || s.ptr[i] == 'E')) {
        size_t exp_digits = 0;
        i++;
        if (i < s.len && (s.ptr[i] == '+' || s.ptr[i] == '-')) {
            i++;
        }
        for (; i < s.len && is_digit(s.ptr[i]); i++) {
            exp_digits++;
        }
        if (exp_digits == 0) {
            return NUM_BAD;
        }
    }
    if (i != s.len) {
        return NUM_BAD;
    }
    copy_str(buf, s);
    *out = strtod(buf, &end);
    if (*end != '\0') {
        return NUM_BAD; /* a locale with another decimal point */
    }
    return NUM_OK;
}

/* ---- canonical formatting ---- */

static void fmt_duration(int64_t ms, char *buf, size_t cap)
{
    static const struct unit units[] = {
        { "d", MS_DAY }, { "h", MS_HOUR }, { "m", MS_MIN },
        { "s", MS_SEC }, { "ms", 1 },
    };
    if (ms == 0) {
        snprintf(buf, cap, "0");
        return;
    }
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (ms % units[i].factor == 0) {
            snprintf(buf, cap, "%" PRId64 "%s", ms / units[i].factor,
                     units[i].name);
            return;
        }
    }
}

static void fmt_size(int64_t v, char *buf, size_t cap)
{
    static const struct unit units[] = {
        { "GiB", GIB },
        { "MiB", MIB },
        { "KiB", KIB },
    };
    if (v != 0) {
        for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
            if (v % units[i].factor == 0) {
                snprintf(buf, cap, "%" PRId64 "%s", v / units[i].factor,
                         units[i].name);
                return;
            }
        }
    }
    snprintf(buf, cap, "%" PRId64, v);
}

/*
 * The shortest text that reads back as the same double, with at least as
 * many significant digits as the integer part has, so 70 prints as "70"
 * rather than "7e+01".
 */
static void fmt_decimal(double v, char *buf, size_t cap)
{
    int prec = 1;
    for (double mag = v < 0 ? -v : v; mag >= 10 && prec < 17; mag /= 10) {
        prec++;
    }
    for (; prec <= 17; prec++) {
        snprintf(buf, cap, "%.*g", prec, v);
        if (strtod(buf, NULL) == v) {
            return;
        }
    }
}

static void
fmt_bound(const struct key_desc *k, int64_t v, char *buf, size_t cap)
{
    if (k->type == KT_DURATION) {
        fmt_duration(v, buf, cap);
    } else if (k->type == KT_SIZE) {
        fmt_size(v, buf, cap);
    } else {
        snprintf(buf, cap, "%" PRId64, v);
    }
}

/* "1m..7d", or "0 or 1d..3650d" */
static void fmt_range(const struct key_desc *k, char *buf, size_t cap)
{
    char lo[32], hi[32];
    fmt_bound(k, k->min, lo, sizeof(lo));
    fmt_bound(k, k->max, hi, sizeof(hi));
    snprintf(buf, cap, "%s%s..%s", k->zero_ok ? "0 or " : "", lo, hi);
}

static void fmt_enum_names(const char *const *names, char *buf, size_t cap)
{
    size_t n = 0;
    buf[0] = '\0';
    for (size_t i = 0; names[i] != NULL && n < cap; i++) {
        int w = snprintf(buf + n, cap - n, "%s%s", i > 0 ? ", " : "", names[i]);
        if (w < 0) {
            break;
        }
        n += (size_t)w;
    }
}

/* ---- value checks ---- */

static bool is_topic_name(struct churn_str s)
{
    if (s.len == 0 || s.len >= CHURN_TOPIC_MAX || str_is(s, ".") ||
        str_is(s, "..")) {
        return false;
    }
    for (size_t i = 0; i < s.len; i++) {
        char c = s.ptr[i];
        if (!is_alnum(c) && c != '.' && c != '_' && c != '-') {
            return false;
        }
    }
    return true;
}

/* Plan names, segments and tiers: [A-Za-z0-9_-] (plus '.' if dot_ok). */
static bool is_plain_name(struct churn_str s, bool dot_ok)
{
    if (s.len == 0 || s.len >= CHURN_NAME_MAX) {
        return false;
    }
    for (size_t i = 0; i < s.len; i++) {
        char c = s.ptr[i];
        if (!is_alnum(c) && c != '_' && c != '-' && !(dot_ok && c == '.')) {
            return false;
        }
    }
    return true;
}

/* host:port with port 1..65535; IPv6 hosts in brackets; host may be empty. */
static bool is_listen_addr(struct churn_str s)
{
    size_t colon = s.len;
    uint32_t port = 0;

    while (colon > 0 && s.ptr[colon - 1] != ':') {
        colon--;
    }
    if (colon == 0 || colon == s.len || s.len - colon > 5) {
        return false;
    }
    for (size_t i = colon; i < s.len; i++) {
        if (!is_digit(s.ptr[i])) {
            return false;
        }
        port = port * 10 + (uint32_t)(s.ptr[i] - '0');
    }
    if (port == 0 || port > 65535) {
        return false;
    }
    struct churn_str host = mkstr(s.ptr, colon - 1);
    if (host.len > 0 && host.ptr[0] == '[') {
        if (host.len < 3 || host.ptr[host.len - 1] != ']') {
            return false;
        }
        for (size_t i = 1; i + 1 < host.len; i++) {
            char c = host.ptr[i];
            if (!is_alnum(c) && c != ':' && c != '.' && c != '%') {
                return false;
            }
        }
        return true;
    }
    for (size_t i = 0; i < host.len; i++) {
        char c = host.ptr[i];
        if (!is_alnum(c) && c != '.' && c != '-' && c != '_') {
            return false;
        }
    }
    return true;
}

static bool allows_empty(const struct key_desc *k)
{
    return k->type == KT_PATH || k->type == KT_LISTEN ||
           ((k->type == KT_TOPICS || k->type == KT_NAMES) && k->min == 0) ||
           (k->type == KT_TOPIC && k->zero_ok);
}

static enum churn_err bad_value(const struct key_desc *k,
                                struct churn_str v,
                                const char *what,
                                struct churn_error *why)
{
    char q[CLIP_LEN + 4];
    return churn_error_set(why, CHURN_EINVAL, "bad value for '%s': '%s' %s",
                           k->name, clip(v, q), what);
}

static enum churn_err out_of_range(const struct key_desc *k,
                                   const char *shown,
                                   struct churn_error *why)
{
    char range[96];
    fmt_range(k, range, sizeof(range));
    return churn_error_set(why, CHURN_EINVAL,
                           "'%s' out of range: %s (allowed %s)", k->name, shown,
                           range);
}

static bool int_in_range(const struct key_desc *k, int64_t v)
{
    return (v >= k->min && v <= k->max) || (k->zero_ok && v == 0);
}

static enum churn_err set_list(struct churn_config *cfg,
                               const struct key_desc *k,
                               struct churn_str val,
                               struct churn_error *why)
{
    char items[CHURN_MAX_TOPICS][CHURN_TOPIC_MAX];
    size_t cnt = 0, total = 0, pos = 0;
    char q[CLIP_LEN + 4];

    while (val.len > 0 && pos <= val.len) {
        const char *comma = memchr(val.ptr + pos, ',', val.len - pos);
        size_t end = comma != NULL ? (size_t)(comma - val.ptr) : val.len;
        struct churn_str item = trim(mkstr(val.ptr + pos, end - pos));
        pos = end + 1;

        if (item.len == 0) {
            return churn_error_set(why, CHURN_EINVAL,
                                   "bad value for '%s': empty item in '%s'",
                                   k->name, clip(val, q));
        }
        if (k->type == KT_TOPICS && !is_topic_name(item)) {
            return bad_value(k, item,
                             "is not a topic name (1..249 of A-Z a-z 0-9 . _ "
                             "-)",
                             why);
        }
        if (k->type == KT_NAMES && item.len >= k->size) {
            return bad_value(k, item, "is too long (max 127 bytes)", why);
        }
        if (k->type == KT_NAMES && has_control(item)) {
            return bad_value(k, item, "contains a control character", why);
        }
        for (size_t i = 0; i < cnt; i++) {
            if (str_is(item, items[i])) {
                return bad_value(k, item, "is listed twice", why);
            }
        }
        total++;
        if (cnt < (size_t)k->max && cnt < CHURN_MAX_TOPICS) {
            copy_str(items[cnt++], item);
        }
    }
    if (total < (size_t)k->min || total > (size_t)k->max) {
        char shown[32];
        snprintf(shown, sizeof(shown), "%zu items", total);
        return out_of_range(k, shown, why);
    }
    char *dst = field(cfg, k);
    for (size_t i = 0; i < cnt; i++) {
        memcpy(dst + i * k->size, items[i], strlen(items[i]) + 1);
    }
    memcpy((char *)cfg + k->cnt_off, &cnt, sizeof(cnt));
    return CHURN_OK;
}

/* Parses val as k's type and stores it; the reason goes to why. */
static enum churn_err set_value(struct churn_config *cfg,
                                const struct key_desc *k,
                                struct churn_str val,
                                struct churn_error *why)
{
    char q[CLIP_LEN + 4];
    int64_t v = 0;
    enum num r;

    switch (k->type) {
    case KT_DURATION:
    case KT_SIZE:
    case KT_INT:
        r = parse_number(val,
                         k->type == KT_DURATION ? duration_units
                         : k->type == KT_SIZE   ? size_units
                                                : NULL,
                         k->type == KT_SIZE, &v);
        if (r == NUM_BAD) {
            return bad_value(k, val,
                             k->type == KT_DURATION
                                 ? "is not a duration (e.g. 90s, 15m, 36h, 7d)"
                             : k->type == KT_SIZE
                                 ? "is not a size (e.g. 512, 64KiB, 1MiB; "
                                   "units B, KiB, MiB, GiB)"
                                 : "is not an integer",
                             why);
        }
        if (r == NUM_RANGE || !int_in_range(k, v)) {
            return out_of_range(k, clip(val, q), why);
        }
        store_int(field(cfg, k), k, v);
        return CHURN_OK;
    case KT_DECIMAL: {
        double d = 0;
        if (parse_decimal(val, &d) != NUM_OK) {
            return bad_value(k, val, "is not a number (e.g. 0.5, 70)", why);
        }
        if (!(d >= (double)k->min && d <= (double)k->max)) {
            return out_of_range(k, clip(val, q), why);
        }
        memcpy(field(cfg, k), &d, sizeof(d));
        return CHURN_OK;
    }
    case KT_BOOL: {
        static const char *const yes[] = { "true", "yes", "on", "1" };
        static const char *const no[] = { "false", "no", "off", "0" };
        for (size_t i = 0; i < 4; i++) {
            if (str_is_nocase(val, yes[i]) || str_is_nocase(val, no[i])) {
                bool b = str_is_nocase(val, yes[i]);
                memcpy(field(cfg, k), &b, sizeof(b));
                return CHURN_OK;
            }
        }
        return bad_value(
            k, val, "is not a boolean (true/false, yes/no, on/off, 1/0)", why);
    }
    case KT_ENUM: {
        char allowed[96], what[128];
        for (int64_t i = 0; k->names[i] != NULL; i++) {
            if (str_is(val, k->names[i])) {
                store_int(field(cfg, k), k, i);
                return CHURN_OK;
            }
        }
        fmt_enum_names(k->names, allowed, sizeof(allowed));
        snprintf(what, sizeof(what), "is not one of %s", allowed);
        return bad_value(k, val, what, why);
    }
    case KT_TOPIC:
        if (!is_topic_name(val) && !(val.len == 0 && k->zero_ok)) {
            return bad_value(k, val,
                             "is not a topic name (1..249 of A-Z a-z 0-9 . _ "
                             "-)",
                             why);
        }
        copy_str(field(cfg, k), val);
        return CHURN_OK;
    case KT_TOPICS:
    case KT_NAMES:
        return set_list(cfg, k, val, why);
    case KT_PATH:
        if (val.len >= k->size) {
            return bad_value(k, val, "is too long (max 511 bytes)", why);
        }
        if (has_control(val)) {
            return bad_value(k, val, "contains a control character", why);
        }
        copy_str(field(cfg, k), val);
        return CHURN_OK;
    case KT_LISTEN:
        if (val.len > 0 && (val.len >= k->size || !is_listen_addr(val))) {
            return bad_value(k, val,
                             "is not host:port (e.g. 0.0.0.0:9090, "
                             "[::1]:9090, :9090)",
                             why);
        }
        copy_str(field(cfg, k), val);
        return CHURN_OK;
    }
    return churn_error_set(why, CHURN_EINVAL, "'%s' has no type", k->name);
}

/* ---- did you mean ---- */

/* Optimal string alignment distance (Damerau-Levenshtein, restricted). */
static size_t edit_distance(struct churn_str a, const char *b, size_t bn)
{
    size_t rows[3][CAND_MAX + 1];
    size_t *prev2 = rows[0], *prev = rows[1], *cur = rows[2];

    for (size_t j = 0; j <= bn; j++) {
        prev[j] = j;
    }
    for (size_t i = 1; i <= a.len; i++) {
        cur[0] = i;
        for (size_t j = 1; j <= bn; j++) {
            size_t cost = a.ptr[i - 1] == b[j - 1] ? 0 : 1;
            size_t best = prev[j - 1] + cost;
            if (prev[j] + 1 < best) {
                best = prev[j] + 1;
            }
            if (cur[j - 1] + 1 < best) {
                best = cur[j - 1] + 1;
            }
            if (i > 1 && j > 1 && a.ptr[i - 1] == b[j - 2] &&
                a.ptr[i - 2] == b[j - 1] && prev2[j - 2] + 1 < best) {
                best = prev2[j - 2] + 1;
            }
            cur[j] = best;
        }
        size_t *t = prev2;
        prev2 = prev;
        prev = cur;
        cur = t;
    }
    return prev[bn];
}

static void consider(struct churn_str key,
                     const char *cand,
                     size_t limit,
                     size_t *best,
                     char *out)
{
    size_t n = strlen(cand);
    if (n > CAND_MAX) {
        return;
    }
    size_t d = edit_distance(key, cand, n);
    if (d <= limit && d < *best) {
        *best = d;
        memcpy(out, cand, n + 1);
    }
}

/*
 * The known key nearest to key, or "" when nothing is close: at most 3
 * edits, and at most a third of the key's length. Candidates are the table
 * keys, plan.NAME.<field> with the user's NAME, and kafka.<rest> for a
 * mistyped kafka prefix.
 */
static void suggest(struct churn_str key, char out[CAND_MAX + 1])
{
    size_t limit = key.len / 3, best = SIZE_MAX;
    char cand[CAND_MAX + 1];

    out[0] = '\0';
    if (limit > SUGGEST_MAX) {
        limit = SUGGEST_MAX;
    }
    if (limit == 0 || key.len > CAND_MAX) {
        return;
    }
    for (size_t i = 0; i < KEY_CNT; i++) {
        consider(key, keys[i].name, limit, &best, out);
    }
    const char *dot = memchr(key.ptr, '.', key.len);
    if (dot == NULL) {
        return;
    }
    struct churn_str rest =
        mkstr(dot + 1, key.len - (size_t)(dot + 1 - key.ptr));
    const char *last = rest.ptr + rest.len;
    while (last > rest.ptr && last[-1] != '.') {
        last--;
    }
    if (last > rest.ptr) {
        struct churn_str name = mkstr(rest.ptr, (size_t)(last - 1 - rest.ptr));
        if (is_plain_name(name, false)) {
            for (size_t f = 0; f < 3; f++) {
                snprintf(cand, sizeof(cand), "plan.%.*s.%s", (int)name.len,
                         name.ptr, plan_fields[f]);
                consider(key, cand, limit, &best, out);
            }
        }
    }
    if (rest.len > 0) {
        snprintf(cand, sizeof(cand), "kafka.%.*s", (int)rest.len, rest.ptr);
        consider(key, cand, limit, &best, out);
    }
}

static enum churn_err unknown_key(struct churn_str key, struct churn_error *why)
{
    char q[CLIP_LEN + 4], near[CAND_MAX + 1];

    suggest(key, near);
    if (near[0] != '\0') {
        return churn_error_set(why, CHURN_EINVAL,
                               "unknown key '%s' (did you mean '%s'?)",
                               clip(key, q), near);
    }
    return churn_error_set(why, CHURN_EINVAL, "unknown key '%s'", clip(key, q));
}

/* ---- dynamic keys ---- */

static enum churn_err
duplicate(struct churn_str key, size_t first, struct churn_error *why)
{
    char q[CLIP_LEN + 4];
    return churn_error_set(why, CHURN_EINVAL,
                           "duplicate key '%s' (first set on line %zu)",
                           clip(key, q), first);
}

static enum churn_err empty_value(struct churn_str key, struct churn_error *why)
{
    char q[CLIP_LEN + 4];
    return churn_error_set(why, CHURN_EINVAL, "empty value for '%s'",
                           clip(key, q));
}

static char *dup_str(struct churn_str s)
{
    char *p = malloc(s.len + 1);
    if (p != NULL) {
        copy_str(p, s);
    }
    return p;
}

static enum churn_err set_kafka(struct churn_config *cfg,
                                struct churn_str key,
                                struct churn_str val,
                                struct parse_ctx *pc,
                                struct churn_error *why)
{
    struct churn_str name = mkstr(key.ptr + 6, key.len - 6);
    int side = CHURN_KAFKA_BOTH;
    char q[CLIP_LEN + 4];
    size_t i;

    if (has_prefix(name, "consumer.")) {
        side = CHURN_KAFKA_CONSUMER;
        name = mkstr(name.ptr + 9, name.len - 9);
    } else if (has_prefix(name, "producer.")) {
        side = CHURN_KAFKA_PRODUCER;
        name = mkstr(name.ptr + 9, name.len - 9);
    }
    if (name.len == 0) {
        return churn_error_set(why, CHURN_EINVAL,
                               "missing librdkafka property name in '%s'",
                               clip(key, q));
    }
    for (i = 0; i < cfg->kafka_prop_cnt; i++) {
        const struct churn_kafka_prop *p = &cfg->kafka_props[i];
        if ((int)p->side == side && str_is(name, p->name)) {
            break;
        }
    }
    if (pc != NULL && i < pc->kafka_line_cnt && pc->kafka_line[i] != 0) {
        return duplicate(key, pc->kafka_line[i], why);
    }
    if (val.len == 0) {
        return empty_value(key, why);
    }
    char *value = dup_str(val);
    if (value == NULL) {
        return churn_error_set(why, CHURN_ENOMEM, "out of memory");
    }
    if (i < cfg->kafka_prop_cnt) {
        /* A later source (-X after the file) replaces the value in place. */
        free(cfg->kafka_props[i].value);
        cfg->kafka_props[i].value = value;
    } else {
        char *pname = dup_str(name);
        struct churn_kafka_prop *np =
            realloc(cfg->kafka_props, (i + 1) * sizeof(*np));
        if (pname == NULL || np == NULL) {
            free(pname);
            free(value);
            if (np != NULL) {
                cfg->kafka_props = np;
            }
            return churn_error_set(why, CHURN_ENOMEM, "out of memory");
        }
        cfg->kafka_props = np;
        np[i].side = side == CHURN_KAFKA_CONSUMER   ? CHURN_KAFKA_CONSUMER
                     : side == CHURN_KAFKA_PRODUCER ? CHURN_KAFKA_PRODUCER
                                                    : CHURN_KAFKA_BOTH;
        np[i].name = pname;
        np[i].value = value;
        cfg->kafka_prop_cnt = i + 1;
    }
    if (pc != NULL) {
        if (i >= pc->kafka_line_cnt) {
            size_t n = cfg->kafka_prop_cnt;
            size_t *nl = realloc(pc->kafka_line, n * sizeof(*nl));
            if (nl == NULL) {
                return churn_error_set(why, CHURN_ENOMEM, "out of memory");
            }
            memset(nl + pc->kafka_line_cnt, 0,
                   (n - pc->kafka_line_cnt) * sizeof(*nl));
            pc->kafka_line = nl;
            pc->kafka_line_cnt = n;
        }
        pc->kafka_line[i] = pc->line;
    }
    return CHURN_OK;
}

/*
 * Splits "plan.NAME.FIELD"; false when FIELD is not a plan field (then the
 * key is unknown). NAME is checked by the caller.
 */
static bool
split_plan_key(struct churn_str key, struct churn_str *name, size_t *fld)
{
    struct churn_str rest = mkstr(key.ptr + 5, key.len - 5);
    const char *dot = memchr(rest.ptr, '.', rest.len);

    if (dot == NULL) {
        return false;
    }
    *name = mkstr(rest.ptr, (size_t)(dot - rest.ptr));
    struct churn_str f = mkstr(dot + 1, rest.len - name->len - 1);
    for (size_t i = 0; i < 3; i++) {
        if (str_is(f, plan_fields[i])) {
            *fld = i;
            return true;
        }
    }
    return false;
}

static enum churn_err set_plan(struct churn_config *cfg,
                               struct churn_str key,
                               struct churn_str name,
                               size_t fld,
                               struct churn_str val,
                               struct parse_ctx *pc,
                               struct churn_error *why)
{
    char q[CLIP_LEN + 4], qk[CLIP_LEN + 4];
    int64_t price = 0;
    size_t idx;
    enum num r;

    if (!is_plain_name(name, false)) {
        return churn_error_set(why, CHURN_EINVAL,
                               "bad plan name '%s' in '%s' (1..127 of A-Z "
                               "a-z 0-9 _ -)",
                               clip(name, q), clip(key, qk));
    }
    for (idx = 0; idx < cfg->plan_cnt; idx++) {
        if (str_is(name, cfg->plans[idx].name)) {
            break;
        }
    }
    if (pc != NULL && idx < CHURN_MAX_PLANS && pc->plan_line[idx][fld] != 0) {
        return duplicate(key, pc->plan_line[idx][fld], why);
    }
    if (val.len == 0 && fld != 1) {
        return empty_value(key, why);
    }
    switch (fld) {
    case 0:
    case 1:
        if (val.len > 0 && !is_plain_name(val, true)) {
            return churn_error_set(why, CHURN_EINVAL,
                                   "bad value for '%s': '%s' is not a name "
                                   "(1..127 of A-Z a-z 0-9 . _ -)",
                                   clip(key, qk), clip(val, q));
        }
        break;
    default:
        r = parse_number(val, NULL, false, &price);
        if (r == NUM_BAD) {
            return churn_error_set(why, CHURN_EINVAL,
                                   "bad value for '%s': '%s' is not an "
                                   "integer",
                                   clip(key, qk), clip(val, q));
        }
        if (r == NUM_RANGE || price < 0 || price > PRICE_MAX) {
            return churn_error_set(why, CHURN_EINVAL,
                                   "'%s' out of range: %s (allowed "
                                   "0..%" PRId64 ")",
                                   clip(key, qk), clip(val, q), PRICE_MAX);
        }
        break;
    }
    if (idx == cfg->plan_cnt) {
        if (idx == CHURN_MAX_PLANS) {
            return churn_error_set(why, CHURN_EINVAL, "too many plans (max %d)",
                                   CHURN_MAX_PLANS);
        }
        struct churn_plan_config *p = &cfg->plans[idx];
        memset(p, 0, sizeof(*p));
        copy_str(p->name, name);
        memcpy(p->segment, "unknown", sizeof("unknown"));
        cfg->plan_cnt++;
    }
    struct churn_plan_config *p = &cfg->plans[idx];
    if (fld == 0) {
        copy_str(p->segment, val);
    } else if (fld == 1) {
        copy_str(p->tier, val);
    } else {
        p->price = price;
    }
    if (pc != NULL) {
        pc->plan_line[idx][fld] = pc->line;
    }
    return CHURN_OK;
}

static const struct key_desc *find_key(struct churn_str key)
{
    for (size_t i = 0; i < KEY_CNT; i++) {
        if (str_is(key, keys[i].name)) {
            return &keys[i];
        }
    }
    return NULL;
}

/* One key = value, from a file line (pc set) or -X (pc NULL). */
static enum churn_err apply(struct churn_config *cfg,
                            struct churn_str key,
                            struct churn_str val,
                            struct parse_ctx *pc,
                            struct churn_error *why)
{
    const struct key_desc *k = find_key(key);
    struct churn_str name;
    size_t fld;

    if (k != NULL) {
        size_t i = (size_t)(k - keys);
        if (pc != NULL && pc->key_line[i] != 0) {
            return duplicate(key, pc->key_line[i], why);
        }
        if (val.len == 0 && !allows_empty(k)) {
            return empty_value(key, why);
        }
        enum churn_err rc = set_value(cfg, k, val, why);
        if (rc == CHURN_OK && pc != NULL) {
            pc->key_line[i] = pc->line;
        }
        return rc;
    }
    if (has_prefix(key, "kafka.")) {
        return set_kafka(cfg, key, val, pc, why);
    }
    if (has_prefix(key, "plan.") && split_plan_key(key, &name, &fld)) {
        return set_plan(cfg, key, name, fld, val, pc, why);
    }
    return unknown_key(key, why);
}

/* ---- public ---- */

const char *churn_rule_name(enum churn_rule rule)
{
    if ((unsigned)rule < CHURN_RULE__COUNT) {
        return rule_names[rule];
    }
    return "unknown";
}

const char *churn_severity_name(enum churn_severity sev)
{
    if ((unsigned)sev < 3) {
        return severity_names[sev];
    }
    return "unknown";
}

void churn_config_init(struct churn_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    for (size_t i = 0; i < KEY_CNT; i++) {
        /* Defaults are canonical text; the suite checks each one applies. */
        (void)set_value(cfg, &keys[i], mkstr(keys[i].def, strlen(keys[i].def)),
                        NULL);
    }
}

void churn_config_release(struct churn_config *cfg)
{
    if (cfg == NULL) {
        return;
    }
    for (size_t i = 0; i < cfg->kafka_prop_cnt; i++) {
        free(cfg->kafka_props[i].name);
        free(cfg->kafka_props[i].value);
    }
    free(cfg->kafka_props);
    churn_config_init(cfg);
}

enum churn_err churn_config_parse(struct churn_config *cfg,
                                  const char *file,
                                  const char *buf,
                                  size_t len,
                                  struct churn_error *err)
{
    struct parse_ctx *pc = calloc(1, sizeof(*pc));
    struct churn_error why = { 0 };
    enum churn_err rc = CHURN_OK;
    size_t pos = 0;

    if (file == NULL) {
        file = "<config>";
    }
    if (pc == NULL) {
        return churn_error_set(err, CHURN_ENOMEM, "%s: out of memory", file);
    }
    if (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0) {
        pos = 3; /* UTF-8 byte order mark */
    }
    while (pos < len && rc == CHURN_OK) {
        const char *nl = memchr(buf + pos, '\n', len - pos);
        size_t n = nl != NULL ? (size_t)(nl - (buf + pos)) : len - pos;
        struct churn_str line = trim(mkstr(buf + pos, n));
        const char *eq;

        pos += n + 1;
        pc->line++;
        if (line.len == 0 || line.ptr[0] == '#') {
            continue;
        }
        if (memchr(line.ptr, '\0', line.len) != NULL) {
            rc = churn_error_set(&why, CHURN_EINVAL, "NUL byte in line");
            break;
        }
        eq = memchr(line.ptr, '=', line.len);
        if (eq == NULL || eq == line.ptr) {
            rc = churn_error_set(&why, CHURN_EINVAL, "expected 'key = value'");
            break;
        }
        struct churn_str key = trim(mkstr(line.ptr, (size_t)(eq - line.ptr)));
        struct churn_str val =
            trim(mkstr(eq + 1, line.len - (size_t)(eq + 1 - line.ptr)));
        if (key.len == 0) {
            rc = churn_error_set(&why, CHURN_EINVAL, "expected 'key = value'");
            break;
        }
        rc = apply(cfg, key, val, pc, &why);
    }
    if (rc != CHURN_OK) {
        churn_error_set(err, rc, "%s:%zu: %s", file, pc->line, why.msg);
    }
    free(pc->kafka_line);
    free(pc);
    return rc;
}

enum churn_err churn_config_set(struct churn_config *cfg,
                                const char *kv,
                                struct churn_error *err)
{
    struct churn_str all = mkstr(kv, strlen(kv));
    const char *eq = memchr(all.ptr, '=', all.len);
    struct churn_error why = { 0 };
    char q[CLIP_LEN + 4];

    if (eq == NULL || trim(mkstr(kv, (size_t)(eq - kv))).len == 0) {
        return churn_error_set(err, CHURN_EINVAL, "-X %s: expected key=value",
                               clip(all, q));
    }
    struct churn_str key = trim(mkstr(kv, (size_t)(eq - kv)));
    struct churn_str val = trim(mkstr(eq + 1, all.len - (size_t)(eq + 1 - kv)));
    enum churn_err rc = apply(cfg, key, val, NULL, &why);
    if (rc != CHURN_OK) {
        churn_error_set(err, rc, "-X %s: %s", clip(all, q), why.msg);
    }
    return rc;
}

/* The value of table key k in canonical text. */
static void format_value(const struct churn_config *cfg,
                         const struct key_desc *k,
                         char *buf,
                         size_t cap)
{
    const void *p = cfield(cfg, k);

    buf[0] = '\0';
    switch (k->type) {
    case KT_DURATION:
        fmt_duration(load_int(p, k), buf, cap);
        break;
    case KT_SIZE:
        fmt_size(load_int(p, k), buf, cap);
        break;
    case KT_INT:
        snprintf(buf, cap, "%" PRId64, load_int(p, k));
        break;
    case KT_DECIMAL: {
        double d;
        memcpy(&d, p, sizeof(d));
        fmt_decimal(d, buf, cap);
        break;
    }
    case KT_BOOL: {
        bool b;
        memcpy(&b, p, sizeof(b));
        snprintf(buf, cap, "%s", b ? "true" : "false");
        break;
    }
    case KT_ENUM: {
        int64_t v = load_int(p, k), n = 0;
        while (k->names[n] != NULL) {
            n++;
        }
        snprintf(buf, cap, "%s", v >= 0 && v < n ? k->names[v] : "?");
        break;
    }
    case KT_TOPIC:
    case KT_PATH:
    case KT_LISTEN:
        snprintf(buf, cap, "%.*s", (int)(k->size - 1), (const char *)p);
        break;
    case KT_TOPICS:
    case KT_NAMES: {
        size_t cnt, n = 0;
        memcpy(&cnt, (const char *)cfg + k->cnt_off, sizeof(cnt));
        for (size_t i = 0; i < cnt && i < (size_t)k->max && n < cap; i++) {
            int w = snprintf(buf + n, cap - n, "%s%.*s", i > 0 ? "," : "",
                             (int)(k->size - 1), (const char *)p + i * k->size);
            if (w < 0) {
                break;
            }
            n += (size_t)w;
        }
        break;
    }
    }
}

/* "key = value", or "key =" when the value is empty. */
static void emit(churn_config_line_fn fn,
                 void *ctx,
                 char *line,
                 size_t cap,
                 const char *key,
                 const char *val)
{
    snprintf(line, cap, "%s =%s%s", key, val[0] != '\0' ? " " : "", val);
    fn(ctx, line);
}

static bool is_secret(const char *name)
{
    return strstr(name, "password") != NULL || strstr(name, "secret") != NULL ||
           strstr(name, "sasl.oauthbearer.config") != NULL;
}

void churn_config_dump(const struct churn_config *cfg,
                       churn_config_line_fn fn,
                       void *ctx)
{
    char line[4096], val[2048], key[CHURN_NAME_MAX + 16];

    for (size_t i = 0; i < KEY_CNT; i++) {
        format_value(cfg, &keys[i], val, sizeof(val));
        emit(fn, ctx, line, sizeof(line), keys[i].name, val);
    }
    for (size_t i = 0; i < cfg->plan_cnt && i < CHURN_MAX_PLANS; i++) {
        const struct churn_plan_config *p = &cfg->plans[i];
        const char *vals[3] = { p->segment, p->tier, val };
        snprintf(val, sizeof(val), "%" PRId64, p->price);
        for (size_t f = 0; f < 3; f++) {
            snprintf(key, sizeof(key), "plan.%s.%s", p->name, plan_fields[f]);
            emit(fn, ctx, line, sizeof(line), key, vals[f]);
        }
    }
    for (size_t i = 0; i < cfg->kafka_prop_cnt; i++) {
        const struct churn_kafka_prop *p = &cfg->kafka_props[i];
        const char *side = p->side == CHURN_KAFKA_CONSUMER   ? "consumer."
                           : p->side == CHURN_KAFKA_PRODUCER ? "producer."
                                                             : "";
        const char *v = is_secret(p->name) ? "********" : p->value;
        size_t need = strlen(p->name) + strlen(v) + 32;
        char *big = need > sizeof(line) ? malloc(need) : NULL;

        /* Without memory for a long value, the line is cut, not lost. */
        snprintf(big != NULL ? big : line, big != NULL ? need : sizeof(line),
                 "kafka.%s%s = %s", side, p->name, v);
        fn(ctx, big != NULL ? big : line);
        free(big);
    }
}

static const char *type_name(const struct key_desc *k)
{
    switch (k->type) {
    case KT_DURATION:
        return "duration";
    case KT_SIZE:
        return "size";
    case KT_INT:
        return "integer";
    case KT_DECIMAL:
        return "decimal";
    case KT_BOOL:
        return "bool";
    case KT_ENUM:
        return "enum";
    case KT_TOPIC:
        return "topic";
    case KT_TOPICS:
        return "topic list";
    case KT_NAMES:
        return "name list";
    case KT_PATH:
        return "path";
    case KT_LISTEN:
        return "host:port";
    }
    return "?";
}

void churn_config_keys(churn_config_line_fn fn, void *ctx)
{
    char line[512], range[128];

    for (size_t i = 0; i < KEY_CNT; i++) {
        const struct key_desc *k = &keys[i];
        switch (k->type) {
        case KT_DURATION:
        case KT_SIZE:
        case KT_INT:
        case KT_DECIMAL:
            fmt_range(k, range, sizeof(range));
            break;
        case KT_BOOL:
            snprintf(range, sizeof(range), "true, false");
            break;
        case KT_ENUM:
            fmt_enum_names(k->names, range, sizeof(range));
            break;
        case KT_TOPICS:
        case KT_NAMES:
            snprintf(range, sizeof(range), "%" PRId64 "..%" PRId64 " items",
                     k->min, k->max);
            break;
        case KT_TOPIC:
            snprintf(range, sizeof(range), "1..249 of A-Z a-z 0-9 . _ -");
            break;
        case KT_PATH:
        case KT_LISTEN:
            snprintf(range, sizeof(range), "empty = off");
            break;
        }
        snprintf(line, sizeof(line), "%s\t%s\t%s\t%s\t%s", k->name,
                 type_name(k), k->def, range, k->doc);
        fn(ctx, line);
    }
    fn(ctx, "plan.NAME.segment\tname\tunknown\t1..127 of A-Z a-z 0-9 . _ -\t"
            "segment of the plan in metrics; NAME is 1..127 of A-Z a-z 0-9 _ "
            "-, at most 64 plans");
    fn(ctx, "plan.NAME.tier\tname\t\tempty, or as segment\t"
            "tier label of the plan");
    fn(ctx, "plan.NAME.price\tinteger\t0\t0..1000000000000\t"
            "list price, minor units per month");
    fn(ctx, "kafka.PROP\tstring\t\tnon-empty\tlibrdkafka property for both "
            "clients; kafka.consumer.PROP / kafka.producer.PROP for one");
}

/* ---- validation ---- */

static enum churn_err invalid(struct churn_error *err,
                              const char *fmt_a,
                              const char *a,
                              const char *fmt_b,
                              const char *b)
{
    char msg[192];
    snprintf(msg, sizeof(msg), "config: %s (%s) must be %s (%s)", fmt_a, a,
             fmt_b, b);
    return churn_error_set(err, CHURN_EINVAL, "%s", msg);
}

enum churn_err churn_config_validate(const struct churn_config *cfg,
                                     struct churn_error *err)
{
    char a[48], b[48], range[96];

    /* The table ranges, for fields a caller set directly. */
    for (size_t i = 0; i < KEY_CNT; i++) {
        const struct key_desc *k = &keys[i];
        bool ok = true;
        if (k->type == KT_DURATION || k->type == KT_SIZE || k->type == KT_INT) {
            ok = int_in_range(k, load_int(cfield(cfg, k), k));
        } else if (k->type == KT_DECIMAL) {
            double d;
            memcpy(&d, cfield(cfg, k), sizeof(d));
            ok = d >= (double)k->min && d <= (double)k->max;
        } else if (k->type == KT_TOPICS || k->type == KT_NAMES) {
            size_t cnt;
            memcpy(&cnt, (const char *)cfg + k->cnt_off, sizeof(cnt));
            ok = cnt >= (size_t)k->min && cnt <= (size_t)k->max;
        } else if (k->type == KT_TOPIC) {
            const char *t = cfield(cfg, k);
            size_t n = 0;
            while (n < k->size && t[n] != '\0') {
                n++;
            }
            ok = is_topic_name(mkstr(t, n)) || (n == 0 && k->zero_ok);
        }
        if (!ok) {
            char v[2048];
            format_value(cfg, k, v, sizeof(v));
            if (k->type == KT_TOPIC) {
                return churn_error_set(err, CHURN_EINVAL,
                                       "config: '%s' is not a topic name: "
                                       "'%.64s'",
                                       k->name, v);
            }
            fmt_range(k, range, sizeof(range));
            return churn_error_set(err, CHURN_EINVAL,
                                   "config: '%s' out of range: %.64s "
                                   "(allowed %s)",
                                   k->name, v, range);
        }
    }

    if (!(cfg->score_band_healthy > cfg->score_band_watch)) {
        fmt_decimal(cfg->score_band_healthy, a, sizeof(a));
        fmt_decimal(cfg->score_band_watch, b, sizeof(b));
        return invalid(err, "score.band.healthy", a, "above score.band.watch",
                       b);
    }
    if (!(cfg->score_band_watch > cfg->score_band_at_risk)) {
        fmt_decimal(cfg->score_band_watch, a, sizeof(a));
        fmt_decimal(cfg->score_band_at_risk, b, sizeof(b));
        return invalid(err, "score.band.watch", a, "above score.band.at_risk",
                       b);
    }
    if (!(cfg->score_weight_engagement + cfg->score_weight_payment +
              cfg->score_weight_subscription + cfg->score_weight_feedback >
          0)) {
        return churn_error_set(err, CHURN_EINVAL,
                               "config: score.weight.* must not all be 0");
    }
    if (!(cfg->drop_resolve_ratio > cfg->drop_ratio)) {
        fmt_decimal(cfg->drop_resolve_ratio, a, sizeof(a));
        fmt_decimal(cfg->drop_ratio, b, sizeof(b));
        return invalid(err, "rule.engagement_drop.resolve_ratio", a,
                       "above rule.engagement_drop.ratio", b);
    }
    fmt_duration(cfg->window_bucket_ms, b, sizeof(b));
    {
        const struct {
            const char *key;
            int64_t ms;
        } mult[] = {
            { "rule.engagement_drop.window", cfg->drop_window_ms },
            { "rule.engagement_drop.long_window", cfg->drop_long_window_ms },
            { "rule.engagement_drop.min_reference",
              cfg->drop_min_reference_ms },
        };
        for (size_t i = 0; i < sizeof(mult) / sizeof(mult[0]); i++) {
            if (mult[i].ms % cfg->window_bucket_ms != 0) {
                fmt_duration(mult[i].ms, a, sizeof(a));
                return invalid(err, mult[i].key, a,
                               "a multiple of window.bucket", b);
            }
        }
    }
    if (cfg->drop_long_window_ms != 0 &&
        cfg->drop_long_window_ms <= cfg->drop_window_ms) {
        char w[32];
        fmt_duration(cfg->drop_long_window_ms, a, sizeof(a));
        fmt_duration(cfg->drop_window_ms, w, sizeof(w));
        return invalid(err, "rule.engagement_drop.long_window", a,
                       "0 or above rule.engagement_drop.window", w);
    }
    if (cfg->score_recent_ms % cfg->window_bucket_ms != 0) {
        fmt_duration(cfg->score_recent_ms, a, sizeof(a));
        return invalid(err, "score.recent", a, "a multiple of window.bucket",
                       b);
    }
    if (cfg->score_baseline_ms % cfg->window_bucket_ms != 0) {
        fmt_duration(cfg->score_baseline_ms, a, sizeof(a));
        return invalid(err, "score.baseline", a, "a multiple of window.bucket",
                       b);
    }
    /* Both factors are range-checked above: 7d * 64 cannot overflow. */
    int64_t span = cfg->window_bucket_ms * (int64_t)cfg->window_buckets;
    int64_t need = cfg->score_recent_ms + cfg->score_baseline_ms;
    fmt_duration(span, a, sizeof(a));
    if (span < need) {
        fmt_duration(need, b, sizeof(b));
        return invalid(err, "window.bucket * window.buckets", a,
                       "at least score.recent + score.baseline", b);
    }
    /* the longest engagement_drop window leaves a bucket of the ring
     * before it (the rest of its reference can be folded weeks) */
    need = (cfg->drop_long_window_ms > cfg->drop_window_ms
                ? cfg->drop_long_window_ms
                : cfg->drop_window_ms) +
           cfg->window_bucket_ms;
    if (span < need) {
        fmt_duration(need, b, sizeof(b));
        return invalid(err, "window.bucket * window.buckets", a,
                       "at least the longest rule.engagement_drop window + "
                       "window.bucket",
                       b);
    }
    /* Implied by today's ranges (7d < 1d + 7d); kept should they change. */
    if (cfg->input_allowed_lateness_ms >= span) {
        fmt_duration(cfg->input_allowed_lateness_ms, b, sizeof(b));
        return invalid(err, "input.allowed_lateness", b,
                       "below window.bucket * window.buckets", a);
    }
    for (size_t i = 0; i < cfg->input_topic_cnt; i++) {
        const char *t = cfg->input_topics[i];
        const struct {
            const char *name;
            const char *topic;
        } outs[] = {
            { "output.signals", cfg->output_signals },
            { "output.alerts", cfg->output_alerts },
            { "output.metrics", cfg->output_metrics },
            { "output.dlq", cfg->output_dlq },
            { "output.state", cfg->output_state },
        };
        for (size_t o = 0; o < sizeof(outs) / sizeof(outs[0]); o++) {
            if (strcmp(t, outs[o].topic) == 0) {
                return churn_error_set(err, CHURN_EINVAL,
                                       "config: input topic '%.64s' is also "
                                       "%s",
                                       t, outs[o].name);
            }
        }
    }
    return CHURN_OK;
}
