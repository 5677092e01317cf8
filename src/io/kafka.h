/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CHURND_IO_KAFKA_H
#define CHURND_IO_KAFKA_H

#include "churnd/config.h"
#include "churnd/engine.h"
#include "churnd/error.h"

#include <librdkafka/rdkafka.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The Kafka adapter: `churnd run` and `churnd demo` (DESIGN §1, §3, §4).
 *
 * One process runs one high-level consumer in a group on the input topics,
 * one engine per assigned partition number (co-partitioned input topics
 * share it), and one idempotent producer for every output. Everything runs
 * on the calling thread: delivery reports, rebalances and statistics are
 * served from rd_kafka_poll()/rd_kafka_consumer_poll() there, so no state
 * here is shared between threads (librdkafka's log callback, which runs on
 * its own threads, only formats a line).
 *
 * Delivery (at-least-once): each input that caused outputs gets a ticket
 * counting its outstanding deliveries. An input offset becomes committable
 * only when it and every earlier input of its partition have all their
 * outputs acknowledged (churn_track_*). Offsets are stored with
 * rd_kafka_offsets_store() (enable.auto.offset.store=false) and committed by
 * the auto-commit timer, and synchronously on revoke and shutdown.
 *
 * Time: the engine runs on event time only; wall-clock time here is used for
 * timeouts, idle detection and log stamps, never for outputs.
 */

/* ---- logging (kafka_log.c) ---- */

/* Sets the threshold and format for churn_log(). Not thread-safe: call
 * before any client exists. */
void churn_log_setup(enum churn_log_level level, enum churn_log_format fmt);

/* Writes one line to stderr if level passes the threshold. Thread-safe. */
void churn_log(enum churn_log_level level, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* True when level passes the threshold. */
bool churn_log_enabled(enum churn_log_level level);

/* ---- client configuration (kafka_conf.c) ---- */

enum churn_kafka_side {
    CHURN_SIDE_CONSUMER,
    CHURN_SIDE_PRODUCER,
};

/*
 * Builds a librdkafka configuration for one side: churnd's defaults, then
 * every kafka.* property in file order, then kafka.consumer.* or
 * kafka.producer.* for this side, then the properties churnd's delivery
 * guarantee depends on (consumer: enable.auto.offset.store=false,
 * enable.partition.eof=true; producer: enable.idempotence=true, acks=all).
 * Setting one of those to another value is refused with CHURN_EINVAL. An
 * unknown or invalid property yields CHURN_EINVAL with librdkafka's text
 * and the churnd key (`kafka.consumer.foo`). On success *out is a new conf
 * the caller owns (rd_kafka_new() takes it); on error *out is NULL.
 */
enum churn_err churn_kafka_conf_build(const struct churn_config *cfg,
                                      enum churn_kafka_side side,
                                      rd_kafka_conf_t **out,
                                      struct churn_error *err);

/* Value of a property in conf (for tests and logs); "" when unset. The
 * returned pointer is to a static thread-local buffer. */
const char *churn_kafka_conf_get(const rd_kafka_conf_t *conf, const char *name);

/* ---- delivery tracking (kafka_track.c) ---- */

/*
 * One tracker per assigned input topic-partition. Inputs are added in
 * consumption order; an input with outputs gets a ticket that is passed as
 * each output's message opaque. The tracker owns its tickets: after
 * churn_track_free() no delivery report for them may arrive (free only
 * when churn_track_pending() is 0 or the producer is destroyed).
 */
struct churn_track;
struct churn_ticket;

struct churn_track *churn_track_new(void);
void churn_track_free(struct churn_track *tr);

/*
 * Records the input at offset, which caused out_cnt outputs. Offsets must
 * increase. When out_cnt > 0, *ticket receives the ticket for its outputs,
 * else NULL. Returns CHURN_ENOMEM (nothing recorded) or CHURN_OK.
 */
enum churn_err churn_track_add(struct churn_track *tr,
                               int64_t offset,
                               uint32_t out_cnt,
                               struct churn_ticket **ticket);

/* A delivery report for one output of ticket: ok or failed. A failed
 * delivery holds its input (and all later ones) uncommittable forever. */
void churn_track_done(struct churn_ticket *tk, bool ok);

/* Marks the ticket's remaining n outputs as never produced (failure). */
void churn_track_abandon(struct churn_ticket *tk, uint32_t n);

/* Declares every input below offset complete (consumption resumes there
 * with state that reflects them). Only before the first input is added. */
void churn_track_resume(struct churn_track *tr, int64_t offset);

/* The next offset to commit (every input below it is complete), or -1 when
 * nothing was added yet. */
int64_t churn_track_committable(const struct churn_track *tr);

/* Inputs with outputs still outstanding. */
size_t churn_track_pending(const struct churn_track *tr);

/* Outputs (deliveries) still outstanding. */
uint64_t churn_track_inflight(const struct churn_track *tr);

/* True once a delivery of this tracker failed. */
bool churn_track_has_failed(const struct churn_track *tr);

/* The tracker of a ticket. */
struct churn_track *churn_ticket_track(const struct churn_ticket *tk);

/* ---- statistics (kafka_stats.c) ---- */

/* Consumer lag of one partition as librdkafka last reported it (-1 when
 * unknown). Kept for the metrics endpoint. */
struct churn_kafka_lag {
    char topic[CHURN_NAME_MAX];
    int32_t partition;
    int64_t lag;        /* high watermark - consumed position */
    int64_t lag_stored; /* high watermark - stored (committable) offset */
    int64_t committed;
    int64_t hi_offset;
};

struct churn_kafka_lags {
    struct churn_kafka_lag *v;
    size_t cnt, cap;
    /* From the same document: brokers (not the internal one) and how many
     * are in state UP; the consumer group's join state is "steady" (1),
     * another (0), or absent (-1: not a group consumer, or not reported). */
    int brokers, brokers_up;
    int group_steady;
};

/*
 * Parses a librdkafka statistics JSON document (statistics.interval.ms)
 * and replaces lags with its per-partition consumer figures (partitions
 * the consumer fetches; the internal partition -1 is skipped). On a parse
 * error returns CHURN_EINVAL and leaves lags unchanged.
 */
enum churn_err churn_kafka_lags_parse(struct churn_kafka_lags *lags,
                                      const char *json,
                                      size_t len,
                                      struct churn_error *err);
void churn_kafka_lags_release(struct churn_kafka_lags *lags);

/* ---- dead letters that do not fit (kafka_out.c) ---- */

/* Room kept for the record and batch framing of one message (librdkafka
 * counts 36 bytes per record against message.max.bytes, a batch adds 61). */
#define CHURN_KAFKA_MSG_OVERHEAD 1024

/*
 * How many bytes of dead letter o's value can be produced in one message of
 * at most max_msg_bytes (the producer's message.max.bytes) together with its
 * key, its headers and, when cut, the churnd.truncated and
 * churnd.original.size headers: o->value.len when it fits whole, else the
 * length of the longest prefix that fits (0 when not even the headers fit).
 * Pure.
 */
size_t churn_kafka_dlq_fit(const struct churn_output *o, size_t max_msg_bytes);

/* ---- the daemon (kafka_in.c, kafka_out.c, kafka_run.c) ---- */

struct churn_geoip;
struct churn_http;
struct churn__kview;

/* Called for each output the broker acknowledged (demo: live alerts). */
typedef void (*churn_kafka_delivered_fn)(void *ctx,
                                         enum churn_topic topic,
                                         const rd_kafka_message_t *msg);

struct churn_kafka_opts {
    bool has_from_time;
    int64_t from_time_ms; /* --from-time: new partitions start here */
    int64_t idle_exit_ms; /* < 0: never; else exit 0 after EOF + idle */
    bool no_rebuild;      /* resume at the committed offset, empty state */
    churn_kafka_delivered_fn on_delivered; /* may be NULL */
    void *ctx;
    /* While non-NULL and true, idle exit waits (demo: still producing). */
    const atomic_bool *hold;
};

struct churn_kafka_totals {
    struct churn_engine_stats engine; /* summed over every engine */
    uint64_t consumed;                /* live inputs (rebuilds not counted) */
    uint64_t rebuilt;                 /* inputs re-read to rebuild state */
    uint64_t produced;
    uint64_t delivered;
    /* The same per topic, for /metrics: inputs by the index of their topic
     * in input.topics, outputs by enum churn_topic. */
    uint64_t consumed_by_topic[CHURN_MAX_TOPICS];
    uint64_t rebuilt_by_topic[CHURN_MAX_TOPICS];
    uint64_t produced_by_topic[CHURN_TOPIC__COUNT];
    uint64_t delivered_by_topic[CHURN_TOPIC__COUNT];
    uint64_t failed_by_topic[CHURN_TOPIC__COUNT]; /* produce or delivery */
    uint64_t queue_full; /* produce waited on a full local queue */
};

/*
 * Runs the daemon until a signal (SIGINT/SIGTERM, installed here), idle
 * exit or a fatal error. cfg is borrowed. Returns the process exit code:
 * 0 after a clean drain, 1 on a runtime failure (fatal producer error,
 * failed delivery, broker never reached before a signal, input topics not
 * co-partitioned), 2 on a bad kafka.* property. totals may be NULL.
 */
int churn_kafka_run(const struct churn_config *cfg,
                    const struct churn_kafka_opts *opts,
                    struct churn_kafka_totals *totals);

/* Parses --from-time: RFC 3339 or epoch milliseconds. */
bool churn_kafka_parse_time(const char *s, int64_t *out_ms);

/* ---- internals shared by kafka_in.c, kafka_out.c and kafka_run.c ---- */

/* One engine per assigned partition number; co-partitioned input topics'
 * partitions with the same number share it. */
struct churn__part {
    int32_t partition;
    struct churn_engine *eng;
    size_t tp_cnt; /* assigned topic-partitions using it */
    /* Durable state (kafka_state.c): where the restored state left each
     * input topic (by input.topics index; -1: no state for it) */
    int64_t restored[CHURN_MAX_TOPICS];
    uint64_t seq;             /* last checkpoint's sequence number */
    int64_t changelog_at;     /* its offset in the changelog; -1 none */
    int64_t last_snapshot_ms; /* monotonic */
    /* One round of churn__state_checkpoint(): set by the caller, cleared
     * by it; cp_ok tells whether this partition's checkpoint was written. */
    bool cp_due;
    bool cp_ok;
};

/* One assigned input topic-partition. */
struct churn__tp {
    char topic[CHURN_NAME_MAX];
    int32_t partition;
    struct churn_track *track;
    struct churn__part *part;
    int64_t stored;        /* last offset handed to offsets_store, -1 none */
    int64_t committed;     /* last offset committed synchronously, -1 none */
    int64_t rebuild_until; /* below it: rebuild state, discard outputs */
    int64_t next;          /* offset after the last message fed; -1 none */
    bool at_eof;
    int topic_idx; /* index in cfg->input_topics */
};

/* Acknowledgements of one changelog partition (= input partition number):
 * its records unacknowledged and, since its checkpoint began, whether one
 * failed and the offset of the last one acknowledged. */
struct churn__cl_acks {
    uint64_t inflight;
    bool failed;
    int64_t last_offset;
};

struct churn__run {
    const struct churn_config *cfg;
    const struct churn_kafka_opts *opts;
    rd_kafka_t *consumer;
    rd_kafka_t *producer;
    rd_kafka_topic_t *out_rkt[CHURN_TOPIC__COUNT];
    struct churn__tp **tps;
    size_t tp_cnt, tp_cap;
    struct churn__part **parts;
    size_t part_cnt, part_cap;
    /* Trackers of released partitions whose deliveries timed out: kept
     * until the producer is gone, as late reports still point at them. */
    struct churn_track **zombies;
    size_t zombie_cnt, zombie_cap;
    struct churn_kafka_lags lags;
    struct churn_kafka_totals totals;
    bool manual_commit; /* enable.auto.commit=false: commit ourselves */
    bool assigned_once; /* a rebalance assigned (possibly nothing) */
    bool fatal;         /* stop and exit 1 */
    bool stopping;      /* shutting down: take no new work */
    uint64_t failed_deliveries;
    size_t max_msg_bytes;     /* the producer's message.max.bytes */
    uint64_t dlq_truncated;   /* dead letters cut to fit max_msg_bytes */
    int64_t last_activity_ms; /* monotonic */
    int64_t first_msg_ms, last_msg_ms; /* for the throughput log line */
    int64_t last_store_ms;
    int64_t last_serve_ms; /* producer polled, back-pressure judged */
    int64_t last_commit_ms;
    /* durable state (kafka_state.c) */
    rd_kafka_topic_t *state_rkt;    /* the changelog; NULL: none */
    rd_kafka_t *restorer;           /* reads the changelog; made on demand */
    uint64_t cl_inflight;           /* changelog records unacknowledged */
    struct churn__cl_acks *cl_acks; /* by changelog partition */
    size_t cl_part_cnt;
    int64_t last_checkpoint_ms; /* monotonic */
    uint64_t checkpoints, checkpoint_failures, snapshots, snapshot_failures;
    uint64_t restored_snapshot, restored_changelog, restore_refused;
    /* back-pressure */
    bool paused;
    uint64_t pauses;
    /* Operations (kafka_ops.c): GeoIP database, the HTTP endpoint and
     * what it shows, readiness. */
    struct churn_geoip *geo;
    struct churn_http *http;
    struct churn__kview *view;
    bool brokers_down; /* error_cb: all brokers down, until a fetch */
};

/* Monotonic milliseconds, nanoseconds. */
int64_t churn__now_ms(void);
int64_t churn__now_ns(void);

/* Number of SIGINT/SIGTERM received so far. */
int churn__signals(void);

/* librdkafka's log lines through churn_log (both clients). */
void churn__kafka_log_cb(const rd_kafka_t *rk,
                         int level,
                         const char *fac,
                         const char *buf);

/* kafka_out.c: the producer. */
enum churn_err churn__out_open(struct churn__run *r, struct churn_error *err);
/* Produces every output the engine holds for the input at src (tracked on
 * tp) and clears them. Blocks on a full queue (back-pressure). Returns
 * CHURN_EIO when an output cannot be produced (r->fatal is then set). */
enum churn_err churn__out_produce(struct churn__run *r,
                                  struct churn__tp *tp,
                                  const struct churn_source *src,
                                  struct churn_error *err);
/* Outputs not yet acknowledged, over every tracker (released partitions'
 * included). */
uint64_t churn__out_inflight(const struct churn__run *r);
/* Serves delivery reports for up to timeout_ms. */
void churn__out_poll(struct churn__run *r, int timeout_ms);
/* Waits until every delivery of track (NULL: of all partitions) is
 * reported, at most timeout_ms; true when none is outstanding. */
bool churn__out_drain(struct churn__run *r,
                      const struct churn_track *track,
                      int64_t timeout_ms);
void churn__out_close(struct churn__run *r);

/* kafka_state.c: snapshots, the changelog, restores. */
/* The opaque of changelog records' delivery reports. */
extern char churn__changelog_opaque;
/* Checks the changelog topic (partition count = the input's: else
 * CHURN_EINVAL; missing: the changelog is off, with a warning). */
enum churn_err churn__state_open(struct churn__run *r,
                                 int input_partitions,
                                 struct churn_error *err);
void churn__state_close(struct churn__run *r);
/* Gives a new partition number its state: the snapshot in state.dir, then
 * the changelog's newer checkpoints; sets p->restored[] where it found
 * state. Replaces p->eng. Never fails: with nothing usable the state stays
 * empty (and kafka_in.c falls back to rebuilding it from the input). */
void churn__state_restore(struct churn__run *r, struct churn__part *p);
/* A changelog record's delivery report (kafka_out.c's callback). */
void churn__state_acked(struct churn__run *r,
                        const rd_kafka_message_t *msg,
                        bool ok);
/* Checkpoints every partition with cp_due set, together: waits for their
 * outputs, writes each one's changes and offsets to the changelog, waits
 * once for all of those records, then writes a snapshot where one is due
 * (or force). Clears cp_due and sets cp_ok, false for a partition whose
 * checkpoint could not be written (outputs or changelog unacknowledged,
 * failed). Returns how many failed. */
size_t churn__state_checkpoint(struct churn__run *r, bool force_snapshot);
/* Checkpoints every partition whose state.checkpoint_interval passed. */
void churn__state_tick(struct churn__run *r, int64_t now_ms);

/* kafka_in.c: the consumer. */
enum churn_err churn__in_open(struct churn__run *r, struct churn_error *err);
/* Stores every partition's committable offset that advanced. */
void churn__in_store(struct churn__run *r);
/* Finds the assigned topic-partition; NULL when not assigned. */
struct churn__tp *
churn__in_find(struct churn__run *r, const char *topic, int32_t partition);
/* Releases every partition still held and closes the consumer. */
void churn__in_close(struct churn__run *r);
/* Adds an engine's totals into r->totals. */
void churn__totals_add(struct churn__run *r, const struct churn_engine *eng);

/* kafka_ops.c: operations around the loop. */
/* Opens geoip.database (if set) and starts the HTTP endpoint (if
 * http.listen is set): CHURN_EIO/EINVAL naming the path or address. */
enum churn_err churn__ops_open(struct churn__run *r, struct churn_error *err);
/* A new engine for partition, GeoIP attached. */
struct churn_engine *churn__ops_engine_new(struct churn__run *r,
                                           int32_t partition,
                                           struct churn_error *err);
/* Once its state is restored (which may replace the engine): attaches
 * GeoIP again and serves eng over HTTP. CHURN_ENOMEM only. */
enum churn_err churn__ops_engine_serve(struct churn__run *r,
                                       struct churn_engine *eng,
                                       int32_t partition,
                                       struct churn_error *err);
/* Stops serving eng over HTTP (before it is freed). */
void churn__ops_engine_free(struct churn__run *r, struct churn_engine *eng);
/* Called by the loop about every 200 ms: a pending SIGHUP re-opens the
 * GeoIP database, and what /metrics and /readyz show is refreshed. */
void churn__ops_tick(struct churn__run *r);
void churn__ops_close(struct churn__run *r);

#endif
