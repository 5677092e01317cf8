/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CHURND_CONFIG_H
#define CHURND_CONFIG_H

#include "churnd/error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The validated configuration (DESIGN §5), a caller-owned value type.
 *
 * churn_config_init() fills every default; the parser in engine/config.c
 * then overwrites what a file or -X flag sets. The engine reads only the
 * fields it needs and never keeps a pointer into the config past
 * churn_engine_new(). Strings are fixed-size, NUL-terminated arrays so the
 * struct can be copied; only the kafka property list is on the heap and is
 * freed by churn_config_release().
 *
 * Durations are milliseconds, sizes bytes.
 */

enum churn_rule {
    CHURN_RULE_ENGAGEMENT_DROP,
    CHURN_RULE_INACTIVITY,
    CHURN_RULE_PAYMENT_FAILURE_STREAK,
    CHURN_RULE_CARD_EXPIRING,
    CHURN_RULE_DOWNGRADE,
    CHURN_RULE_CANCEL_SCHEDULED,
    CHURN_RULE_TRIAL_LOW_ACTIVATION,
    CHURN_RULE_FEATURE_ABANDONMENT,
    CHURN_RULE_DETRACTOR_FEEDBACK,
    CHURN_RULE_CHARGEBACK,
    CHURN_RULE_HEALTH_CRITICAL,
    CHURN_RULE__COUNT
};

enum churn_severity {
    CHURN_SEV_INFO,
    CHURN_SEV_WARNING,
    CHURN_SEV_CRITICAL,
};

/* When MRR churn is recognised in the metrics (DESIGN §3). */
enum churn_churn_at {
    CHURN_AT_CANCEL,    /* at the canceled/expired event */
    CHURN_AT_EFFECTIVE, /* at the scheduled end (effective_at) */
    CHURN_AT_SCHEDULED, /* when the cancellation is scheduled */
};

enum churn_log_level {
    CHURN_LOG_ERROR,
    CHURN_LOG_WARN,
    CHURN_LOG_INFO,
    CHURN_LOG_DEBUG,
};

enum churn_log_format {
    CHURN_LOG_TEXT,
    CHURN_LOG_JSON,
};

#define CHURN_NAME_MAX         128 /* plan, segment, feature names */
#define CHURN_TOPIC_MAX        250 /* Kafka topic names: up to 249 bytes */
#define CHURN_PATH_MAX         512
#define CHURN_MAX_TOPICS       8
#define CHURN_MAX_PLANS        64
#define CHURN_MAX_KEY_FEATURES 4

struct churn_rule_config {
    bool enabled;
    enum churn_severity severity;
    int64_t cooldown_ms; /* after a resolve, no new firing before this */
};

/* Created on first mention of plan.NAME.*; segment "unknown", tier "". */
struct churn_plan_config {
    char name[CHURN_NAME_MAX];
    char segment[CHURN_NAME_MAX];
    char tier[CHURN_NAME_MAX]; /* "" = none */
    int64_t price;             /* list price, minor units per month */
};

/* One librdkafka property passed through untouched. */
struct churn_kafka_prop {
    enum {
        CHURN_KAFKA_BOTH,
        CHURN_KAFKA_CONSUMER,
        CHURN_KAFKA_PRODUCER,
    } side;
    char *name; /* without the kafka./kafka.consumer./kafka.producer. prefix */
    char *value;
};

struct churn_config {
    /* input. */
    char input_topics[CHURN_MAX_TOPICS][CHURN_TOPIC_MAX];
    size_t input_topic_cnt;
    size_t input_max_event_size;     /* input.max_event_size, bytes */
    int64_t input_dedupe_horizon_ms; /* input.dedupe_horizon */
    size_t input_dedupe_capacity;    /* input.dedupe_capacity, ids */
    int64_t input_allowed_lateness_ms;
    int64_t input_max_future_ms; /* input.max_future, 0 = off */
    int64_t input_max_jump_ms;   /* input.max_jump, 0 = off */

    /* output. */
    char output_signals[CHURN_TOPIC_MAX];
    char output_alerts[CHURN_TOPIC_MAX];
    char output_metrics[CHURN_TOPIC_MAX];
    char output_dlq[CHURN_TOPIC_MAX];
    char output_state[CHURN_TOPIC_MAX]; /* compacted changelog */
    int64_t output_max_inflight;
    int64_t output_flush_timeout_ms;

    /* window. */
    int64_t window_bucket_ms;     /* window.bucket */
    uint32_t window_buckets;      /* window.buckets */
    int64_t window_utc_offset_ms; /* bucket alignment, e.g. -5h */

    /* score. */
    double score_weight_engagement;
    double score_weight_payment;
    double score_weight_subscription;
    double score_weight_feedback;
    double score_band_healthy; /* health >= this: healthy */
    double score_band_watch;   /* >= this: watch */
    double score_band_at_risk; /* >= this: at_risk; below: critical */
    double score_signal_delta;
    int64_t score_recent_ms;   /* recent window, default 7d */
    int64_t score_baseline_ms; /* baseline window before it, default 28d */

    /* rule. */
    struct churn_rule_config rules[CHURN_RULE__COUNT];
    double drop_ratio;             /* rule.engagement_drop.ratio */
    double drop_resolve_ratio;     /* rule.engagement_drop.resolve_ratio */
    double drop_min_expected;      /* rule.engagement_drop.min_expected */
    double drop_z;                 /* rule.engagement_drop.z */
    double drop_min_dispersion;    /* rule.engagement_drop.min_dispersion */
    int64_t drop_window_ms;        /* rule.engagement_drop.window */
    int64_t drop_long_window_ms;   /* rule.engagement_drop.long_window */
    int64_t drop_min_reference_ms; /* rule.engagement_drop.min_reference */
    double drop_usage_z;           /* rule.engagement_drop.usage_z */
    double drop_feedback_weight;   /* rule.engagement_drop.feedback_weight */
    double drop_feature_weight;    /* rule.engagement_drop.feature_weight */
    int64_t inactivity_after_ms;   /* rule.inactivity.after */
    double inactivity_max_gap_p;   /* rule.inactivity.max_gap_probability */
    uint32_t failure_streak;       /* rule.payment_failure_streak.failures */
    int64_t
        failure_unresolved_ms; /* ...payment_failure_streak.unresolved_after */
    int64_t card_within_ms;    /* rule.card_expiring.within */
    double downgrade_contraction; /* rule.downgrade.contraction */
    int64_t trial_before_ms;      /* rule.trial_low_activation.before */
    double trial_max_engagement;  /* rule.trial_low_activation.max_engagement */
    double trial_max_activity;    /* rule.trial_low_activation.max_activity */
    char key_features[CHURN_MAX_KEY_FEATURES][CHURN_NAME_MAX];
    size_t key_feature_cnt;         /* rule.feature_abandonment.features */
    int64_t abandon_after_ms;       /* rule.feature_abandonment.unused */
    double abandon_max_activity;    /* rule.feature_abandonment.max_activity */
    double abandon_z;               /* rule.feature_abandonment.z */
    int32_t detractor_nps_max;      /* rule.detractor_feedback.nps_max */
    double detractor_sentiment_max; /* rule.detractor_feedback.sentiment_max */
    double detractor_max_activity;  /* rule.detractor_feedback.max_activity */
    double detractor_z;             /* rule.detractor_feedback.z */
    int64_t detractor_within_ms;    /* rule.detractor_feedback.within */

    /* plan. */
    struct churn_plan_config plans[CHURN_MAX_PLANS];
    size_t plan_cnt;

    /* geoip. */
    char geoip_database[CHURN_PATH_MAX];

    /* state. */
    char state_dir[CHURN_PATH_MAX];
    int64_t state_snapshot_interval_ms;
    int64_t state_checkpoint_interval_ms;
    size_t state_max_accounts;
    int64_t state_idle_evict_ms;

    /* http. */
    char http_listen[CHURN_NAME_MAX]; /* "" = off */

    /* metrics. */
    int64_t metrics_period_ms;
    enum churn_churn_at metrics_churn_at;

    /* log. */
    enum churn_log_level log_level;
    enum churn_log_format log_format;

    /* kafka. passthrough, in file order (later entries win in librdkafka) */
    struct churn_kafka_prop *kafka_props;
    size_t kafka_prop_cnt;
};

/* Fills cfg with every default. Never fails. */
void churn_config_init(struct churn_config *cfg);

/* Frees the kafka property list; cfg is then as after init. NULL-safe. */
void churn_config_release(struct churn_config *cfg);

/* Rule name as in config keys and alert output ("engagement_drop"). */
const char *churn_rule_name(enum churn_rule rule);

/* "info", "warning", "critical". */
const char *churn_severity_name(enum churn_severity sev);

/*
 * Parses a properties document (the bytes of a config file) into cfg, on top
 * of what cfg already holds. `file` names the source in error messages.
 * On error returns CHURN_EINVAL with err->msg = "FILE:LINE: reason"; cfg is
 * then partially updated and must only be released.
 */
enum churn_err churn_config_parse(struct churn_config *cfg,
                                  const char *file,
                                  const char *buf,
                                  size_t len,
                                  struct churn_error *err);

/*
 * Reads the file at path and parses it as above. A file that cannot be read
 * gives CHURN_EIO with "PATH: cannot read: <strerror>".
 */
enum churn_err churn_config_load(struct churn_config *cfg,
                                 const char *path,
                                 struct churn_error *err);

/*
 * Applies one `key=value` given with -X. Errors read
 * "-X key=value: reason". The same validation as a file line applies,
 * but a -X key may repeat a file key (later wins).
 */
enum churn_err churn_config_set(struct churn_config *cfg,
                                const char *kv,
                                struct churn_error *err);

/*
 * Cross-field checks after all sources are applied (band thresholds in
 * order, weights summing to > 0, lateness below the window span, ...).
 */
enum churn_err churn_config_validate(const struct churn_config *cfg,
                                     struct churn_error *err);

/*
 * Writes the effective configuration, one `key = value` line per key in
 * documentation order, to the caller's callback. Used by check-config.
 */
typedef void (*churn_config_line_fn)(void *ctx, const char *line);
void churn_config_dump(const struct churn_config *cfg,
                       churn_config_line_fn fn,
                       void *ctx);

/*
 * Writes the key reference, one line per fixed key in documentation order:
 * "name<TAB>type<TAB>default<TAB>range<TAB>doc". Used by
 * `check-config --keys`; plan.NAME.* and kafka.* are described last.
 */
void churn_config_keys(churn_config_line_fn fn, void *ctx);

#endif
