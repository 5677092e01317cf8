/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CHURND_ENGINE_H
#define CHURND_ENGINE_H

#include "churnd/config.h"
#include "churnd/decode.h"
#include "churnd/error.h"
#include "churnd/event.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The pure engine (DESIGN §1): decode -> enrich -> state -> score -> detect
 * -> emit, with no I/O, no clock, no globals and no threads. One engine
 * serves one partition set; several may live in one process.
 *
 * Time: driven only by event time. Every fed event advances the engine's
 * watermark to max(event time seen) - input.allowed_lateness; the caller may
 * also advance it explicitly (an idle partition, end of a replay). Rules run
 * as the watermark passes bucket boundaries.
 *
 * Outputs: each call appends the outputs it caused to the engine's output
 * list, in a deterministic order. They are owned by the engine and stay
 * valid until churn_engine_outputs_clear() or churn_engine_free(); feeding
 * more events appends and never moves earlier outputs' bytes.
 */

enum churn_topic {
    CHURN_TOPIC_SIGNALS,
    CHURN_TOPIC_ALERTS,
    CHURN_TOPIC_METRICS,
    CHURN_TOPIC_DLQ,
    CHURN_TOPIC__COUNT
};

/* Where an input came from; copied into dead letters' headers. */
struct churn_source {
    const char *topic;    /* Kafka topic, or the replay file name ("-") */
    int32_t partition;    /* -1 on the replay path */
    int64_t offset;       /* Kafka offset, or the 1-based line number */
    int64_t timestamp_ms; /* Kafka message timestamp, -1 when none */
    struct churn_str key; /* Kafka key, empty on the replay path */
};

#define CHURN_MAX_HEADERS 8

struct churn_header {
    const char *name;
    struct churn_str value;
};

struct churn_output {
    enum churn_topic topic;
    struct churn_str key;
    struct churn_str value; /* JSON text; a dead letter's original bytes */
    struct churn_header headers[CHURN_MAX_HEADERS];
    size_t header_cnt;
    int64_t event_ms; /* event time that caused it */
};

/* Running totals; every input lands in exactly one of the first four. */
struct churn_engine_stats {
    uint64_t in;           /* inputs fed */
    uint64_t accepted;     /* applied to state */
    uint64_t dead_letters; /* sent to the dead-letter output */
    uint64_t duplicates;   /* same event_id inside the dedupe horizon */
    uint64_t by_reason[CHURN_REASON__COUNT];
    uint64_t signals;
    uint64_t alerts_firing;
    uint64_t alerts_resolved;
    uint64_t alerts_by_rule[CHURN_RULE__COUNT]; /* fired */
    uint64_t alerts_resolved_by_rule[CHURN_RULE__COUNT];
    uint64_t alerts_open_by_rule[CHURN_RULE__COUNT]; /* firing now */
    uint64_t accounts;                               /* in state now */
    uint64_t evicted_full;   /* evicted because state.max_accounts */
    uint64_t evicted_idle;   /* evicted after state.idle_evict */
    uint64_t geo_misses;     /* IP given but not resolved */
    uint64_t unknown_plans;  /* events naming a plan not in the catalog */
    uint64_t dedupe_dropped; /* ids forgotten early: dedupe capacity */
    int64_t watermark_ms;    /* INT64_MIN before the first event */
    uint64_t metrics;        /* metrics records emitted */
};

/* GeoIP lookup: fills country (ISO 3166-1 alpha-2) and region (ISO 3166-2
 * subdivision code without the country part), NUL-terminated; returns false
 * when ip does not resolve. Must not keep ip. */
struct churn_geo {
    char country[3];
    char region[4];
};
typedef bool (*churn_geo_fn)(void *ctx,
                             struct churn_str ip,
                             struct churn_geo *out);

struct churn_engine;

/*
 * A new engine for cfg (copied; cfg is borrowed for the call). geo may be
 * NULL (no enrichment). Returns NULL with err set on a bad config
 * (CHURN_EINVAL) or allocation failure (CHURN_ENOMEM).
 */
struct churn_engine *churn_engine_new(const struct churn_config *cfg,
                                      churn_geo_fn geo,
                                      void *geo_ctx,
                                      struct churn_error *err);

/* NULL-safe; frees all state and outputs. */
void churn_engine_free(struct churn_engine *eng);

/* Replaces the GeoIP lookup (NULL: none), e.g. on an engine restored from
 * a snapshot, which is made without one. Later events use it. */
void churn_engine_set_geo(struct churn_engine *eng,
                          churn_geo_fn geo,
                          void *geo_ctx);

/*
 * Feeds the raw bytes of one input (a Kafka value or NDJSON line without its
 * line terminator). Decodes it; a bad input becomes a dead-letter output with
 * the original bytes; a duplicate is counted; a good one is applied.
 * Returns CHURN_OK, or CHURN_ENOMEM (the input was not applied and may be
 * fed again). Bad input is never an error.
 */
enum churn_err churn_engine_feed(struct churn_engine *eng,
                                 const char *buf,
                                 size_t len,
                                 const struct churn_source *src,
                                 struct churn_error *err);

/*
 * Applies an already decoded, valid event (the views are borrowed). Late and
 * duplicate events are handled as in churn_engine_feed(); a late event's
 * dead letter then carries the event re-encoded as its value.
 */
enum churn_err churn_engine_apply(struct churn_engine *eng,
                                  const struct churn_event *ev,
                                  const struct churn_source *src,
                                  struct churn_error *err);

/*
 * Advances event time: sets the watermark to max(current, watermark_ms) and
 * runs every rule and timer due up to it. Never moves it backwards.
 * watermark_ms is first clamped to [CHURN_TS_MIN_MS, CHURN_TS_MAX_MS].
 */
enum churn_err churn_engine_advance(struct churn_engine *eng,
                                    int64_t watermark_ms,
                                    struct churn_error *err);

/*
 * End of input (a replay's last line): advances the watermark to the newest
 * event time seen, as if the allowed lateness had passed, so every waiting
 * event is applied and every boundary up to it evaluated.
 */
enum churn_err churn_engine_finish(struct churn_engine *eng,
                                   struct churn_error *err);

/* The outputs collected since the last clear. */
size_t churn_engine_outputs(const struct churn_engine *eng,
                            const struct churn_output **out);

/* Releases the collected outputs. */
void churn_engine_outputs_clear(struct churn_engine *eng);

/* Receives outputs before the call that causes them returns: the n outputs
 * in out (engine-owned, valid only during the callback), in output order.
 * Everything handed to it is cleared from the engine's list afterwards. */
typedef void (*churn_output_fn)(void *ctx,
                                const struct churn_output *out,
                                size_t n);

/* Optional. A boundary evaluates every account and may emit a signal for
 * each; with a sink set the engine hands outputs over in batches while it
 * does, so the list never holds more than about CHURN_OUTPUT_BATCH
 * outputs, instead of one per account. A caller that must tie outputs to
 * its input (Kafka offsets) leaves it unset and drains after each call.
 * fn NULL unsets it. The sink must not call back into the engine. */
#define CHURN_OUTPUT_BATCH 1024
void churn_engine_set_output_fn(struct churn_engine *eng,
                                churn_output_fn fn,
                                void *ctx);

/* Current totals. */
void churn_engine_get_stats(const struct churn_engine *eng,
                            struct churn_engine_stats *out);

/* Topic name the config assigns to t. */
const char *churn_engine_topic_name(const struct churn_engine *eng,
                                    enum churn_topic t);

/* Bytes of state held per account (fixed; see state.h). */
size_t churn_engine_account_bytes(const struct churn_engine *eng);

/*
 * Explains one account (GET /accounts/{id}): one JSON object with its
 * scores recomputed at the current bucket boundary together with every
 * component and figure behind them, the band and health of its last
 * boundary and signal, its window buckets, its subscription, payment and
 * feedback facts, its open alerts and cool-downs, and how the metrics
 * ledger counts it. id is borrowed.
 *
 * On success *json is a malloc'ed, NUL-terminated buffer of *len bytes that
 * the caller frees with free(); *json is NULL (and CHURN_OK returned) when
 * no account has that id. CHURN_ENOMEM leaves *json NULL.
 *
 * Reads the engine without changing it (no outputs, no state). Like every
 * call here it must not run concurrently with another call on the same
 * engine: an HTTP thread takes the processing loop's lock around it.
 * Time: the figures are those of the boundary the watermark last passed.
 */
enum churn_err churn_engine_describe_account(const struct churn_engine *eng,
                                             struct churn_str id,
                                             char **json,
                                             size_t *len,
                                             struct churn_error *err);

#endif
