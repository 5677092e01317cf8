/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Operations around `churnd run`'s loop: the GeoIP database and its reload
 * on SIGHUP, the HTTP endpoint (http.listen) serving every partition's
 * engine, and what /metrics and /readyz show about Kafka.
 *
 * Threads. The loop and librdkafka's callbacks run on one thread; the HTTP
 * server on its own. The HTTP thread reads only what it is given under the
 * engine lock (io/http.h): the engines (fed between churn_http_enter and
 * _leave), and a view of the Kafka figures that churn__ops_tick() copies
 * in under the same lock every 200 ms. So a scrape never sees a
 * half-updated partition list, and the loop waits for a scrape at most for
 * the time it takes to copy or render.
 */
#include "io/geoip.h"
#include "io/http.h"
#include "io/kafka.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct view_row {
    char topic[CHURN_NAME_MAX];
    int32_t partition;
    int64_t position;    /* next offset to fetch, -1 unknown */
    int64_t high;        /* high watermark (end offset), -1 unknown */
    int64_t low;         /* low watermark, -1 unknown */
    int64_t committable; /* next offset whose inputs are all delivered */
    int64_t committed;   /* group's committed offset (statistics), -1 */
    bool paused;
    bool rebuilding;
};

/* What the HTTP thread reads; written by churn__ops_tick under the lock. */
struct churn__kview {
    const struct churn_config *cfg;
    struct view_row *rows;
    size_t cnt, cap;
    struct churn_kafka_totals totals;
    uint64_t inflight;
    int brokers, brokers_up;
    uint64_t pauses;
    /* durable state (kafka_state.c) */
    uint64_t checkpoints, checkpoint_failures, snapshots, snapshot_failures;
    uint64_t restored_snapshot, restored_changelog, restore_refused;
    uint64_t cl_inflight;
};

/* A counter of the view and its label value. */
struct view_counter {
    const char *value;
    size_t off;
};

static void series(struct churn_prom *p,
                   const char *name,
                   const struct view_row *row,
                   double v)
{
    char part[16];

    snprintf(part, sizeof(part), "%d", (int)row->partition);
    churn_prom_sample(
        p, name,
        (const char *[]){ "topic", row->topic, "partition", part, NULL }, v);
}

/* churn_http_collect_fn: the Kafka families. */
static void collect(void *ctx, struct churn_prom *p)
{
    const struct churn__kview *v = ctx;
    const struct churn_config *cfg = v->cfg;
    const char *outs[CHURN_TOPIC__COUNT] = { cfg->output_signals,
                                             cfg->output_alerts,
                                             cfg->output_metrics,
                                             cfg->output_dlq };

    churn_prom_family(p, "churnd_partitions_assigned", "gauge",
                      "input topic-partitions assigned to this instance");
    churn_prom_sample(p, "churnd_partitions_assigned", NULL, (double)v->cnt);

    churn_prom_family(p, "churnd_consumer_lag", "gauge",
                      "messages between the consumer position and the high "
                      "watermark, per input partition");
    for (size_t i = 0; i < v->cnt; i++) {
        const struct view_row *r = &v->rows[i];
        if (r->high >= 0 && r->position >= 0) {
            int64_t lag = r->high - r->position;
            series(p, "churnd_consumer_lag", r, (double)(lag > 0 ? lag : 0));
        }
    }
    churn_prom_family(p, "churnd_consumer_commit_lag", "gauge",
                      "messages between the committable offset (inputs "
                      "whose outputs are all delivered) and the high "
                      "watermark");
    for (size_t i = 0; i < v->cnt; i++) {
        const struct view_row *r = &v->rows[i];
        if (r->high >= 0 && r->committable >= 0) {
            int64_t lag = r->high - r->committable;
            series(p, "churnd_consumer_commit_lag", r,
                   (double)(lag > 0 ? lag : 0));
        }
    }
    static const struct {
        const char *name, *help;
        size_t off;
    } offs[] = {
        { "churnd_partition_high_watermark",
          "high watermark (end offset) of the input partition",
          offsetof(struct view_row, high) },
        { "churnd_partition_low_watermark",
          "low watermark (first kept offset) of the input partition",
          offsetof(struct view_row, low) },
        { "churnd_partition_position", "next offset the consumer fetches",
          offsetof(struct view_row, position) },
        { "churnd_partition_committable_offset",
          "offset up to which every input's outputs are delivered",
          offsetof(struct view_row, committable) },
        { "churnd_partition_committed_offset",
          "the group's committed offset (from librdkafka statistics)",
          offsetof(struct view_row, committed) },
    };
    for (size_t k = 0; k < sizeof(offs) / sizeof(offs[0]); k++) {
        churn_prom_family(p, offs[k].name, "gauge", offs[k].help);
        for (size_t i = 0; i < v->cnt; i++) {
            int64_t x;
            memcpy(&x, (const char *)&v->rows[i] + offs[k].off, sizeof(x));
            if (x >= 0) {
                series(p, offs[k].name, &v->rows[i], (double)x);
            }
        }
    }
    churn_prom_family(p, "churnd_consumer_paused", "gauge",
                      "1 while consumption of the partition is paused "
                      "(back-pressure)");
    for (size_t i = 0; i < v->cnt; i++) {
        series(p, "churnd_consumer_paused", &v->rows[i],
               v->rows[i].paused ? 1 : 0);
    }
    churn_prom_family(p, "churnd_partition_rebuilding", "gauge",
                      "1 while the partition's state is rebuilt by "
                      "re-reading it (outputs discarded)");
    for (size_t i = 0; i < v->cnt; i++) {
        series(p, "churnd_partition_rebuilding", &v->rows[i],
               v->rows[i].rebuilding ? 1 : 0);
    }

    churn_prom_family(p, "churnd_kafka_consumed_total", "counter",
                      "input messages processed live, by topic");
    for (size_t t = 0; t < cfg->input_topic_cnt; t++) {
        churn_prom_sample(
            p, "churnd_kafka_consumed_total",
            (const char *[]){ "topic", cfg->input_topics[t], NULL },
            (double)v->totals.consumed_by_topic[t]);
    }
    churn_prom_family(p, "churnd_kafka_rebuilt_total", "counter",
                      "input messages re-read to rebuild state, by topic");
    for (size_t t = 0; t < cfg->input_topic_cnt; t++) {
        churn_prom_sample(
            p, "churnd_kafka_rebuilt_total",
            (const char *[]){ "topic", cfg->input_topics[t], NULL },
            (double)v->totals.rebuilt_by_topic[t]);
    }
    static const struct {
        const char *name, *help;
        size_t off;
    } out_fams[] = {
        { "churnd_kafka_produced_total", "outputs handed to the producer",
          offsetof(struct churn_kafka_totals, produced_by_topic) },
        { "churnd_kafka_delivered_total",
          "outputs acknowledged by the brokers (acks=all)",
          offsetof(struct churn_kafka_totals, delivered_by_topic) },
        { "churnd_kafka_produce_errors_total",
          "outputs that could not be produced or delivered (churnd stops)",
          offsetof(struct churn_kafka_totals, failed_by_topic) },
    };
    for (size_t k = 0; k < sizeof(out_fams) / sizeof(out_fams[0]); k++) {
        churn_prom_family(p, out_fams[k].name, "counter", out_fams[k].help);
        for (int t = 0; t < CHURN_TOPIC__COUNT; t++) {
            uint64_t x;
            memcpy(&x,
                   (const char *)&v->totals + out_fams[k].off +
                       (size_t)t * sizeof(uint64_t),
                   sizeof(x));
            churn_prom_sample(p, out_fams[k].name,
                              (const char *[]){ "topic", outs[t], NULL },
                              (double)x);
        }
    }
    churn_prom_family(p, "churnd_producer_queue_full_total", "counter",
                      "times the producer's local queue was full and the "
                      "loop waited (back-pressure)");
    churn_prom_sample(p, "churnd_producer_queue_full_total", NULL,
                      (double)v->totals.queue_full);
    churn_prom_family(p, "churnd_consumer_pauses_total", "counter",
                      "times consumption was paused because too many "
                      "outputs were unacknowledged");
    churn_prom_sample(p, "churnd_consumer_pauses_total", NULL,
                      (double)v->pauses);
    static const struct view_counter cps[] = {
        { "ok", offsetof(struct churn__kview, checkpoints) },
        { "failed", offsetof(struct churn__kview, checkpoint_failures) },
    };
    static const struct view_counter snaps[] = {
        { "ok", offsetof(struct churn__kview, snapshots) },
        { "failed", offsetof(struct churn__kview, snapshot_failures) },
    };
    static const struct view_counter restores[] = {
        { "snapshot", offsetof(struct churn__kview, restored_snapshot) },
        { "changelog", offsetof(struct churn__kview, restored_changelog) },
        { "refused", offsetof(struct churn__kview, restore_refused) },
    };
    static const struct {
        const char *name, *help, *label;
        const struct view_counter *rows;
        size_t cnt;
    } state_fams[] = {
        { "churnd_state_checkpoints_total",
          "state checkpoints written to the changelog topic, by result",
          "result", cps, 2 },
        { "churnd_state_snapshots_total",
          "state snapshots written to state.dir, by result", "result", snaps,
          2 },
        { "churnd_state_restores_total",
          "partition states restored on assignment, by source (refused: a "
          "corrupt or mismatched snapshot or changelog, rebuilt instead)",
          "source", restores, 3 },
    };
    for (size_t k = 0; k < sizeof(state_fams) / sizeof(state_fams[0]); k++) {
        churn_prom_family(p, state_fams[k].name, "counter", state_fams[k].help);
        for (size_t i = 0; i < state_fams[k].cnt; i++) {
            const struct view_counter *row = &state_fams[k].rows[i];
            uint64_t x;
            memcpy(&x, (const char *)v + row->off, sizeof(x));
            churn_prom_sample(
                p, state_fams[k].name,
                (const char *[]){ state_fams[k].label, row->value, NULL },
                (double)x);
        }
    }
    churn_prom_family(p, "churnd_state_changelog_inflight", "gauge",
                      "changelog records produced and not yet acknowledged");
    churn_prom_sample(p, "churnd_state_changelog_inflight", NULL,
                      (double)v->cl_inflight);
    churn_prom_family(p, "churnd_kafka_deliveries_inflight", "gauge",
                      "outputs produced and not yet acknowledged");
    churn_prom_sample(p, "churnd_kafka_deliveries_inflight", NULL,
                      (double)v->inflight);
    churn_prom_family(p, "churnd_kafka_brokers_up", "gauge",
                      "brokers the consumer is connected to (statistics)");
    churn_prom_sample(p, "churnd_kafka_brokers_up", NULL,
                      (double)v->brokers_up);
}

enum churn_err churn__ops_open(struct churn__run *r, struct churn_error *err)
{
    const struct churn_config *cfg = r->cfg;

    r->lags.group_steady = -1;
    r->view = calloc(1, sizeof(*r->view));
    if (r->view == NULL) {
        return churn_error_set(err, CHURN_ENOMEM, "out of memory");
    }
    r->view->cfg = cfg;
    if (cfg->geoip_database[0] != '\0') {
        r->geo = churn_geoip_open(cfg->geoip_database, err);
        if (r->geo == NULL) {
            return err != NULL ? err->code : CHURN_EIO;
        }
        churn_log(CHURN_LOG_INFO, "GeoIP database %s (SIGHUP re-opens it)",
                  cfg->geoip_database);
    }
    /* SIGHUP never ends the daemon; without a database it is only logged */
    churn_geoip_sighup_install();
    if (cfg->http_listen[0] == '\0') {
        return CHURN_OK;
    }
    r->http = churn_http_start(cfg->http_listen, err);
    if (r->http == NULL) {
        return err != NULL ? err->code : CHURN_EIO;
    }
    if (churn_http_add_collector(r->http, collect, r->view, err) != CHURN_OK ||
        (r->geo != NULL &&
         churn_http_add_collector(r->http, churn_geoip_collect, r->geo, err) !=
             CHURN_OK)) {
        return CHURN_ENOMEM;
    }
    /* /accounts answers 503 and the rules' severities label the alert
     * series before any partition is assigned */
    churn_http_set_engine(r->http, NULL, cfg);
    churn_log(CHURN_LOG_INFO, "http on %s", churn_http_address(r->http));
    return CHURN_OK;
}

struct churn_engine *churn__ops_engine_new(struct churn__run *r,
                                           int32_t partition,
                                           struct churn_error *err)
{
    (void)partition;
    return churn_engine_new(r->cfg, r->geo != NULL ? churn_geoip_lookup : NULL,
                            r->geo, err);
}

enum churn_err churn__ops_engine_serve(struct churn__run *r,
                                       struct churn_engine *eng,
                                       int32_t partition,
                                       struct churn_error *err)
{
    /* a snapshot's engine comes without a lookup */
    churn_engine_set_geo(eng, r->geo != NULL ? churn_geoip_lookup : NULL,
                         r->geo);
    return churn_http_add_engine(r->http, eng, partition, r->cfg, err);
}

void churn__ops_engine_free(struct churn__run *r, struct churn_engine *eng)
{
    churn_http_remove_engine(r->http, eng);
}

static void reopen_geoip(struct churn__run *r)
{
    struct churn_error err = { 0 };
    enum churn_err rc;

    if (r->geo == NULL) {
        churn_log(CHURN_LOG_INFO,
                  "SIGHUP: no geoip.database configured, nothing to re-open");
        return;
    }
    /* between two messages, and under the lock /metrics reads it with */
    churn_http_enter(r->http);
    rc = churn_geoip_reopen(r->geo, &err);
    churn_http_leave(r->http);
    if (rc == CHURN_OK) {
        churn_log(CHURN_LOG_INFO, "SIGHUP: GeoIP database %s re-opened",
                  churn_geoip_path(r->geo));
    } else {
        churn_log(CHURN_LOG_ERROR, "SIGHUP: %s; keeping the database in use",
                  err.msg);
    }
}

/* Ready: the group gave this member its partitions (none is a valid
 * share when there are more members than partitions) and the brokers are
 * reachable. */
static bool is_ready(const struct churn__run *r)
{
    return r->assigned_once && !r->stopping && !r->fatal && !r->brokers_down &&
           r->lags.group_steady != 0 &&
           (r->lags.brokers == 0 || r->lags.brokers_up > 0);
}

/* Copies the Kafka figures into the view; the lock is held. */
static void publish(struct churn__run *r,
                    const rd_kafka_topic_partition_list_t *pos)
{
    struct churn__kview *v = r->view;

    if (v->cap < r->tp_cnt) {
        struct view_row *nr = realloc(v->rows, r->tp_cnt * sizeof(*nr));
        if (nr == NULL) {
            return; /* the last view stays: better stale than torn */
        }
        v->rows = nr;
        v->cap = r->tp_cnt;
    }
    v->inflight = 0;
    for (size_t i = 0; i < r->tp_cnt; i++) {
        const struct churn__tp *tp = r->tps[i];
        struct view_row *row = &v->rows[i];
        int64_t lo = -1, hi = -1;

        snprintf(row->topic, sizeof(row->topic), "%s", tp->topic);
        row->partition = tp->partition;
        row->position = -1;
        if (pos != NULL) {
            const rd_kafka_topic_partition_t *e =
                rd_kafka_topic_partition_list_find(pos, tp->topic,
                                                   tp->partition);
            if (e != NULL && e->err == 0 && e->offset >= 0) {
                row->position = e->offset;
            }
        }
        /* cached from the last fetch response: no broker round trip */
        if (rd_kafka_get_watermark_offsets(r->consumer, tp->topic,
                                           tp->partition, &lo,
                                           &hi) != RD_KAFKA_RESP_ERR_NO_ERROR) {
            lo = hi = -1;
        }
        row->low = lo;
        row->high = hi;
        row->committable = churn_track_committable(tp->track);
        row->committed = -1;
        for (size_t k = 0; k < r->lags.cnt; k++) {
            const struct churn_kafka_lag *l = &r->lags.v[k];
            if (l->partition == tp->partition &&
                strcmp(l->topic, tp->topic) == 0) {
                row->committed = l->committed;
            }
        }
        if (row->position < 0 && row->committed >= 0) {
            /* nothing fetched yet: fetching starts at the committed offset */
            row->position = row->committed;
        }
        row->paused = r->paused; /* back-pressure pauses every partition */
        row->rebuilding =
            row->position >= 0 && row->position < tp->rebuild_until;
        v->inflight += churn_track_inflight(tp->track);
    }
    v->cnt = r->tp_cnt;
    v->totals = r->totals;
    v->brokers = r->lags.brokers;
    v->brokers_up = r->lags.brokers_up;
    v->pauses = r->pauses;
    v->checkpoints = r->checkpoints;
    v->checkpoint_failures = r->checkpoint_failures;
    v->snapshots = r->snapshots;
    v->snapshot_failures = r->snapshot_failures;
    v->restored_snapshot = r->restored_snapshot;
    v->restored_changelog = r->restored_changelog;
    v->restore_refused = r->restore_refused;
    v->cl_inflight = r->cl_inflight;
}

void churn__ops_tick(struct churn__run *r)
{
    rd_kafka_topic_partition_list_t *pos = NULL;

    if (churn_geoip_sighup_take()) {
        reopen_geoip(r);
    }
    if (r->http == NULL) {
        return;
    }
    churn_http_set_ready(r->http, is_ready(r));
    if (r->consumer != NULL) {
        pos = rd_kafka_topic_partition_list_new((int)r->tp_cnt + 1);
        for (size_t i = 0; i < r->tp_cnt; i++) {
            rd_kafka_topic_partition_list_add(pos, r->tps[i]->topic,
                                              r->tps[i]->partition);
        }
        /* the local fetch positions: no broker round trip */
        if (rd_kafka_position(r->consumer, pos) != RD_KAFKA_RESP_ERR_NO_ERROR) {
            rd_kafka_topic_partition_list_destroy(pos);
            pos = NULL;
        }
    }
    churn_http_enter(r->http);
    publish(r, pos);
    churn_http_leave(r->http);
    if (pos != NULL) {
        rd_kafka_topic_partition_list_destroy(pos);
    }
}

void churn__ops_close(struct churn__run *r)
{
    churn_http_stop(r->http);
    r->http = NULL;
    churn_geoip_close(r->geo);
    r->geo = NULL;
    if (r->view != NULL) {
        free(r->view->rows);
        free(r->view);
        r->view = NULL;
    }
}
