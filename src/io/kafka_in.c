/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The input side: a high-level consumer in a group on the input topics.
 *
 * Start-up waits for the cluster and the input topics (logging every
 * attempt), then refuses input topics that are not co-partitioned. On
 * assign, each new partition gets a delivery tracker and shares its
 * partition number's engine; with --from-time, partitions the group never
 * committed start at offsets_for_times(). On revoke, a partition's
 * deliveries are awaited (bounded by output.flush_timeout), its committable
 * offset is committed synchronously, and only then is it released, so a
 * new owner starts exactly after what this instance delivered.
 */
#include "io/kafka.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void error_cb(rd_kafka_t *rk, int code, const char *reason, void *opaque)
{
    struct churn__run *r = opaque;
    char buf[512];

    if (code == RD_KAFKA_RESP_ERR__FATAL) {
        rd_kafka_resp_err_t orig = rd_kafka_fatal_error(rk, buf, sizeof(buf));
        churn_log(CHURN_LOG_ERROR, "consumer fatal error: %s: %s; stopping",
                  rd_kafka_err2name(orig), buf);
        r->fatal = true;
        return;
    }
    if (code == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) {
        r->brokers_down = true; /* not ready until a fetch or statistics */
    }
    churn_log(CHURN_LOG_WARN, "consumer: %s: %s",
              rd_kafka_err2name((rd_kafka_resp_err_t)code), reason);
}

static int stats_cb(rd_kafka_t *rk, char *json, size_t len, void *opaque)
{
    struct churn__run *r = opaque;
    struct churn_error err = { 0 };

    (void)rk;
    if (churn_kafka_lags_parse(&r->lags, json, len, &err) != CHURN_OK) {
        churn_log(CHURN_LOG_WARN, "statistics: %s", err.msg);
        return 0;
    }
    if (r->lags.brokers_up > 0) {
        r->brokers_down = false;
    }
    for (size_t i = 0; i < r->lags.cnt; i++) {
        const struct churn_kafka_lag *l = &r->lags.v[i];
        churn_log(CHURN_LOG_DEBUG,
                  "partition %s[%d]: lag %lld, stored lag %lld, committed "
                  "%lld, high watermark %lld",
                  l->topic, (int)l->partition, (long long)l->lag,
                  (long long)l->lag_stored, (long long)l->committed,
                  (long long)l->hi_offset);
    }
    return 0; /* json is freed by librdkafka */
}

struct churn__tp *
churn__in_find(struct churn__run *r, const char *topic, int32_t partition)
{
    for (size_t i = 0; i < r->tp_cnt; i++) {
        struct churn__tp *tp = r->tps[i];
        if (tp->partition == partition && strcmp(tp->topic, topic) == 0) {
            return tp;
        }
    }
    return NULL;
}

void churn__totals_add(struct churn__run *r, const struct churn_engine *eng)
{
    struct churn_engine_stats s;
    struct churn_engine_stats *t = &r->totals.engine;

    churn_engine_get_stats(eng, &s);
    t->in += s.in;
    t->accepted += s.accepted;
    t->dead_letters += s.dead_letters;
    t->duplicates += s.duplicates;
    for (int i = 0; i < CHURN_REASON__COUNT; i++) {
        t->by_reason[i] += s.by_reason[i];
    }
    t->signals += s.signals;
    t->alerts_firing += s.alerts_firing;
    t->alerts_resolved += s.alerts_resolved;
    for (int i = 0; i < CHURN_RULE__COUNT; i++) {
        t->alerts_by_rule[i] += s.alerts_by_rule[i];
    }
    t->accounts += s.accounts;
    t->evicted_full += s.evicted_full;
    t->evicted_idle += s.evicted_idle;
    t->geo_misses += s.geo_misses;
    t->unknown_plans += s.unknown_plans;
    t->dedupe_dropped += s.dedupe_dropped;
    if (s.watermark_ms > t->watermark_ms) {
        t->watermark_ms = s.watermark_ms;
    }
}

static struct churn__part *
part_get(struct churn__run *r, int32_t partition, struct churn_error *err)
{
    struct churn__part *p;

    for (size_t i = 0; i < r->part_cnt; i++) {
        if (r->parts[i]->partition == partition) {
            return r->parts[i];
        }
    }
    if (r->part_cnt == r->part_cap) {
        size_t cap = r->part_cap != 0 ? r->part_cap * 2 : 16;
        struct churn__part **v = realloc(r->parts, cap * sizeof(*v));
        if (v == NULL) {
            churn_error_set(err, CHURN_ENOMEM, "out of memory");
            return NULL;
        }
        r->parts = v;
        r->part_cap = cap;
    }
    p = calloc(1, sizeof(*p));
    if (p == NULL) {
        churn_error_set(err, CHURN_ENOMEM, "out of memory");
        return NULL;
    }
    p->partition = partition;
    p->eng = churn__ops_engine_new(r, partition, err);
    if (p->eng == NULL) {
        free(p);
        return NULL;
    }
    churn__state_restore(r, p);
    if (churn__ops_engine_serve(r, p->eng, partition, err) != CHURN_OK) {
        churn_engine_free(p->eng);
        free(p);
        return NULL;
    }
    r->parts[r->part_cnt++] = p;
    return p;
}

static void part_put(struct churn__run *r, struct churn__part *p)
{
    if (--p->tp_cnt > 0) {
        return;
    }
    churn__totals_add(r, p->eng);
    churn__ops_engine_free(r, p->eng);
    churn_engine_free(p->eng);
    for (size_t i = 0; i < r->part_cnt; i++) {
        if (r->parts[i] == p) {
            r->parts[i] = r->parts[--r->part_cnt];
            break;
        }
    }
    free(p);
}

static enum churn_err tp_add(struct churn__run *r,
                             const char *topic,
                             int32_t partition,
                             struct churn_error *err)
{
    struct churn__tp *tp;

    if (churn__in_find(r, topic, partition) != NULL) {
        return CHURN_OK;
    }
    if (r->tp_cnt == r->tp_cap) {
        size_t cap = r->tp_cap != 0 ? r->tp_cap * 2 : 16;
        struct churn__tp **v = realloc(r->tps, cap * sizeof(*v));
        if (v == NULL) {
            return churn_error_set(err, CHURN_ENOMEM, "out of memory");
        }
        r->tps = v;
        r->tp_cap = cap;
    }
    tp = calloc(1, sizeof(*tp));
    if (tp == NULL) {
        return churn_error_set(err, CHURN_ENOMEM, "out of memory");
    }
    snprintf(tp->topic, sizeof(tp->topic), "%s", topic);
    tp->partition = partition;
    for (size_t i = 0; i < r->cfg->input_topic_cnt; i++) {
        if (strcmp(r->cfg->input_topics[i], topic) == 0) {
            tp->topic_idx = (int)i;
        }
    }
    tp->stored = -1;
    tp->committed = -1;
    tp->rebuild_until = -1;
    tp->next = -1;
    tp->track = churn_track_new();
    tp->part = tp->track != NULL ? part_get(r, partition, err) : NULL;
    if (tp->part == NULL) {
        churn_track_free(tp->track);
        free(tp);
        return churn_error_set(err, CHURN_ENOMEM, "out of memory");
    }
    tp->part->tp_cnt++;
    r->tps[r->tp_cnt++] = tp;
    return CHURN_OK;
}

static void tp_release(struct churn__run *r, struct churn__tp *tp)
{
    if (churn_track_inflight(tp->track) > 0) {
        /* Late reports still point at it: keep until the producer is gone */
        if (r->zombie_cnt == r->zombie_cap) {
            size_t cap = r->zombie_cap != 0 ? r->zombie_cap * 2 : 8;
            struct churn_track **v = realloc(r->zombies, cap * sizeof(*v));
            if (v == NULL) {
                /* Leaking beats a use-after-free in a delivery report. */
                tp->track = NULL;
            } else {
                r->zombies = v;
                r->zombie_cap = cap;
            }
        }
        if (tp->track != NULL) {
            r->zombies[r->zombie_cnt++] = tp->track;
        }
    } else {
        churn_track_free(tp->track);
    }
    part_put(r, tp->part);
    for (size_t i = 0; i < r->tp_cnt; i++) {
        if (r->tps[i] == tp) {
            r->tps[i] = r->tps[--r->tp_cnt];
            break;
        }
    }
    free(tp);
}

/* Offsets to store: each listed (or every) partition whose committable
 * offset advanced past what was stored. */
static rd_kafka_topic_partition_list_t *
advanced(struct churn__run *r, const rd_kafka_topic_partition_list_t *only)
{
    rd_kafka_topic_partition_list_t *l =
        rd_kafka_topic_partition_list_new((int)r->tp_cnt + 1);

    for (size_t i = 0; i < r->tp_cnt; i++) {
        struct churn__tp *tp = r->tps[i];
        int64_t off = churn_track_committable(tp->track);
        if (only != NULL && rd_kafka_topic_partition_list_find(
                                only, tp->topic, tp->partition) == NULL) {
            continue;
        }
        if (off >= 0 && off > tp->stored) {
            rd_kafka_topic_partition_list_add(l, tp->topic, tp->partition)
                ->offset = off;
        }
    }
    return l;
}

static void store_list(struct churn__run *r, rd_kafka_topic_partition_list_t *l)
{
    rd_kafka_resp_err_t e;

    if (l->cnt == 0) {
        return;
    }
    e = rd_kafka_offsets_store(r->consumer, l);
    for (int i = 0; i < l->cnt; i++) {
        struct churn__tp *tp =
            churn__in_find(r, l->elems[i].topic, l->elems[i].partition);
        if (l->elems[i].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            churn_log(CHURN_LOG_DEBUG,
                      "partition %s[%d]: cannot store offset %lld: %s",
                      l->elems[i].topic, (int)l->elems[i].partition,
                      (long long)l->elems[i].offset,
                      rd_kafka_err2str(l->elems[i].err));
        } else if (tp != NULL) {
            tp->stored = l->elems[i].offset;
        }
    }
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        churn_log(CHURN_LOG_DEBUG, "offsets_store: %s", rd_kafka_err2str(e));
    }
}

void churn__in_store(struct churn__run *r)
{
    rd_kafka_topic_partition_list_t *l = advanced(r, NULL);

    store_list(r, l);
    rd_kafka_topic_partition_list_destroy(l);
}

/* Commits the committable offsets of the listed partitions, synchronously. */
static rd_kafka_resp_err_t
commit_sync(struct churn__run *r, const rd_kafka_topic_partition_list_t *only)
{
    rd_kafka_topic_partition_list_t *l =
        rd_kafka_topic_partition_list_new((int)r->tp_cnt + 1);
    rd_kafka_resp_err_t e = RD_KAFKA_RESP_ERR_NO_ERROR, first = e;

    for (size_t i = 0; i < r->tp_cnt; i++) {
        struct churn__tp *tp = r->tps[i];
        int64_t off = churn_track_committable(tp->track);
        if (off < 0 || off == tp->committed ||
            (only != NULL && rd_kafka_topic_partition_list_find(
                                 only, tp->topic, tp->partition) == NULL)) {
            continue;
        }
        rd_kafka_topic_partition_list_add(l, tp->topic, tp->partition)->offset =
            off;
    }
    if (l->cnt > 0) {
        e = rd_kafka_commit(r->consumer, l, 0);
        if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
            churn_log(CHURN_LOG_WARN, "commit of %d partitions failed: %s",
                      l->cnt, rd_kafka_err2str(e));
        }
        for (int i = 0; i < l->cnt; i++) {
            rd_kafka_topic_partition_t *c = &l->elems[i];
            struct churn__tp *tp = churn__in_find(r, c->topic, c->partition);
            if (e != RD_KAFKA_RESP_ERR_NO_ERROR ||
                c->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
                if (first == RD_KAFKA_RESP_ERR_NO_ERROR) {
                    first = c->err != 0 ? c->err : e;
                }
                churn_log(CHURN_LOG_WARN,
                          "partition %s[%d]: commit of offset %lld failed: %s",
                          c->topic, (int)c->partition, (long long)c->offset,
                          rd_kafka_err2str(c->err != 0 ? c->err : e));
                continue;
            }
            tp->committed = c->offset;
            churn_log(CHURN_LOG_INFO, "partition %s[%d]: committed offset %lld",
                      c->topic, (int)c->partition, (long long)c->offset);
        }
    }
    rd_kafka_topic_partition_list_destroy(l);
    return first;
}

/* Commit errors that go away once the group settles or the coordinator is
 * back. */
static bool is_retriable_commit(rd_kafka_resp_err_t e)
{
    switch (e) {
    case RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS:
    case RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION:
    case RD_KAFKA_RESP_ERR_NOT_COORDINATOR:
    case RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS:
    case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
    case RD_KAFKA_RESP_ERR__WAIT_COORD:
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR__TRANSPORT:
        return true;
    default:
        return false;
    }
}

/*
 * Where each newly assigned partition starts, written into parts' offsets:
 *
 * - never committed: at --from-time if given, else auto.offset.reset;
 * - committed at C: the engine's state is rebuilt first. The partition is
 *   read from its beginning (or from --from-time) with outputs discarded up
 *   to C, then processed live from C. The engine is deterministic, so its
 *   state at C is the state the previous owner had there, and the outputs
 *   from C on are those one uninterrupted instance would have produced.
 *   With --no-rebuild it starts at C with an empty state.
 */
static void plan_offsets(struct churn__run *r,
                         rd_kafka_topic_partition_list_t *parts)
{
    rd_kafka_topic_partition_list_t *times = NULL;
    rd_kafka_resp_err_t e;

    e = rd_kafka_committed(r->consumer, parts, 10000);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        churn_log(CHURN_LOG_WARN,
                  "cannot read committed offsets: %s; using the group's "
                  "offsets without rebuilding state",
                  rd_kafka_err2str(e));
        for (int i = 0; i < parts->cnt; i++) {
            parts->elems[i].offset = RD_KAFKA_OFFSET_INVALID;
        }
        return;
    }
    if (r->opts->has_from_time) {
        times = rd_kafka_topic_partition_list_copy(parts);
        for (int i = 0; i < times->cnt; i++) {
            times->elems[i].offset = r->opts->from_time_ms;
        }
        e = rd_kafka_offsets_for_times(r->consumer, times, 10000);
        if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
            churn_log(CHURN_LOG_WARN, "--from-time: offsets_for_times: %s",
                      rd_kafka_err2str(e));
            rd_kafka_topic_partition_list_destroy(times);
            times = NULL;
        }
    }
    for (int i = 0; i < parts->cnt; i++) {
        rd_kafka_topic_partition_t *p = &parts->elems[i];
        struct churn__tp *tp = churn__in_find(r, p->topic, p->partition);
        int64_t committed = p->offset;
        int64_t start = RD_KAFKA_OFFSET_INVALID;
        int64_t low = -1, high = -1;

        int64_t restored = tp != NULL ? tp->part->restored[tp->topic_idx] : -1;
        if (restored >= 0) {
            /* The state reflects every input before it, and every output
             * of those inputs was delivered before it was written. */
            p->offset = restored;
            tp->next = restored;
            churn_track_resume(tp->track, restored);
            churn_log(CHURN_LOG_INFO,
                      "partition %s[%d]: resuming at offset %lld with restored "
                      "state (committed %lld)",
                      p->topic, (int)p->partition, (long long)restored,
                      (long long)committed);
            continue;
        }
        if (times != NULL && times->elems[i].err == 0) {
            /* -1: no message at or after the time: start at the end. */
            start = times->elems[i].offset >= 0 ? times->elems[i].offset
                                                : RD_KAFKA_OFFSET_END;
        }
        if (committed < 0) {
            p->offset = start;
            if (start != RD_KAFKA_OFFSET_INVALID) {
                churn_log(CHURN_LOG_INFO,
                          "partition %s[%d]: no committed offset, starting "
                          "at %s (--from-time)",
                          p->topic, (int)p->partition,
                          start >= 0 ? "the first message at that time"
                                     : "the end");
            }
            continue;
        }
        p->offset = committed;
        if (r->opts->no_rebuild || tp == NULL || churn__signals() > 0) {
            continue; /* (stopping: nothing more is processed anyway) */
        }
        if (start == RD_KAFKA_OFFSET_INVALID) {
            e = rd_kafka_query_watermark_offsets(
                r->consumer, p->topic, p->partition, &low, &high, 10000);
            if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
                churn_log(CHURN_LOG_WARN,
                          "partition %s[%d]: cannot read its low watermark "
                          "(%s): resuming at %lld without rebuilding state",
                          p->topic, (int)p->partition, rd_kafka_err2str(e),
                          (long long)committed);
                continue;
            }
            start = low;
        }
        if (start >= 0 && start < committed) {
            p->offset = start;
            tp->rebuild_until = committed;
            churn_log(CHURN_LOG_INFO,
                      "partition %s[%d]: rebuilding state from offset %lld, "
                      "live from committed offset %lld",
                      p->topic, (int)p->partition, (long long)start,
                      (long long)committed);
        } else {
            churn_log(CHURN_LOG_INFO,
                      "partition %s[%d]: resuming at committed offset %lld",
                      p->topic, (int)p->partition, (long long)committed);
        }
    }
    if (times != NULL) {
        rd_kafka_topic_partition_list_destroy(times);
    }
}

/* Warns when some partition number is held for only some input topics:
 * their events for one account would be split across instances. */
static void check_colocation(struct churn__run *r)
{
    if (r->cfg->input_topic_cnt < 2) {
        return;
    }
    for (size_t i = 0; i < r->part_cnt; i++) {
        if (r->parts[i]->tp_cnt < r->cfg->input_topic_cnt) {
            churn_log(CHURN_LOG_WARN,
                      "partition %d is assigned for only %zu of %zu input "
                      "topics: an account's events are split across "
                      "instances; use partition.assignment.strategy=range",
                      (int)r->parts[i]->partition, r->parts[i]->tp_cnt,
                      r->cfg->input_topic_cnt);
        }
    }
}

static void on_assign(struct churn__run *r,
                      rd_kafka_topic_partition_list_t *parts,
                      bool coop)
{
    struct churn_error err = { 0 };
    rd_kafka_error_t *error = NULL;
    rd_kafka_resp_err_t e = RD_KAFKA_RESP_ERR_NO_ERROR;

    for (int i = 0; i < parts->cnt; i++) {
        if (tp_add(r, parts->elems[i].topic, parts->elems[i].partition, &err) !=
            CHURN_OK) {
            churn_log(CHURN_LOG_ERROR, "partition %s[%d]: %s",
                      parts->elems[i].topic, (int)parts->elems[i].partition,
                      err.msg);
            r->fatal = true;
        }
        churn_log(CHURN_LOG_INFO, "partition %s[%d]: assigned",
                  parts->elems[i].topic, (int)parts->elems[i].partition);
    }
    if (parts->cnt > 0) {
        plan_offsets(r, parts);
    }
    if (coop) {
        error = rd_kafka_incremental_assign(r->consumer, parts);
    } else {
        e = rd_kafka_assign(r->consumer, parts);
    }
    if (r->stopping || r->paused) {
        rd_kafka_pause_partitions(r->consumer, parts);
    }
    if (error != NULL) {
        churn_log(CHURN_LOG_ERROR, "incremental assign: %s",
                  rd_kafka_error_string(error));
        rd_kafka_error_destroy(error);
        r->fatal = true;
    } else if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        churn_log(CHURN_LOG_ERROR, "assign: %s", rd_kafka_err2str(e));
        r->fatal = true;
    }
    check_colocation(r);
}

/* Finishes the listed partitions' work and releases them. */
static void release(struct churn__run *r,
                    const rd_kafka_topic_partition_list_t *parts,
                    bool lost)
{
    int64_t deadline = churn__now_ms() + r->cfg->output_flush_timeout_ms;

    for (int i = 0; i < parts->cnt; i++) {
        struct churn__tp *tp =
            churn__in_find(r, parts->elems[i].topic, parts->elems[i].partition);
        if (tp == NULL) {
            continue;
        }
        int64_t left = deadline - churn__now_ms();
        if (!churn__out_drain(r, tp->track, left > 0 ? left : 0)) {
            churn_log(CHURN_LOG_WARN,
                      "partition %s[%d]: released with deliveries pending; "
                      "committed only up to offset %lld",
                      tp->topic, (int)tp->partition,
                      (long long)churn_track_committable(tp->track));
        }
    }
    if (lost) {
        churn_log(CHURN_LOG_WARN,
                  "%d partitions lost (session timed out): not committing; "
                  "their new owner reprocesses from the last commit",
                  parts->cnt);
    } else {
        /* Commit at once (the group is waiting, and a slow revoke makes
         * the commit fail with a stale generation), then checkpoint: the
         * new owner starts from that state. Should the checkpoint fail, it
         * starts from an older one and repeats outputs, never loses any. */
        commit_sync(r, parts);
        for (size_t k = 0; k < r->part_cnt; k++) {
            struct churn__part *pt = r->parts[k];
            for (int i = 0; i < parts->cnt && !pt->cp_due; i++) {
                pt->cp_due = parts->elems[i].partition == pt->partition;
            }
        }
        churn__state_checkpoint(r, true);
        for (size_t k = 0; k < r->part_cnt; k++) {
            struct churn__part *pt = r->parts[k];
            bool revoked = false;
            for (int i = 0; i < parts->cnt && !revoked; i++) {
                revoked = parts->elems[i].partition == pt->partition;
            }
            if (revoked && !pt->cp_ok) {
                churn_log(CHURN_LOG_WARN,
                          "partition %d: released without a final checkpoint",
                          (int)pt->partition);
            }
        }
    }
    for (int i = 0; i < parts->cnt; i++) {
        struct churn__tp *tp =
            churn__in_find(r, parts->elems[i].topic, parts->elems[i].partition);
        if (tp != NULL) {
            churn_log(CHURN_LOG_INFO, "partition %s[%d]: released", tp->topic,
                      (int)tp->partition);
            tp_release(r, tp);
        }
    }
}

static void rebalance_cb(rd_kafka_t *rk,
                         rd_kafka_resp_err_t e,
                         rd_kafka_topic_partition_list_t *parts,
                         void *opaque)
{
    struct churn__run *r = opaque;
    bool coop = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
    rd_kafka_error_t *error = NULL;

    r->assigned_once = true;
    r->last_activity_ms = churn__now_ms();
    switch (e) {
    case RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS:
        on_assign(r, parts, coop);
        break;
    case RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS:
        release(r, parts, rd_kafka_assignment_lost(rk) != 0);
        if (coop) {
            error = rd_kafka_incremental_unassign(rk, parts);
        } else {
            rd_kafka_assign(rk, NULL);
        }
        if (error != NULL) {
            churn_log(CHURN_LOG_ERROR, "incremental unassign: %s",
                      rd_kafka_error_string(error));
            rd_kafka_error_destroy(error);
        }
        break;
    default:
        churn_log(CHURN_LOG_ERROR, "rebalance failed: %s", rd_kafka_err2str(e));
        release(r, parts, true);
        rd_kafka_assign(rk, NULL);
        break;
    }
}

/* Waits until every input topic's metadata is available; returns their
 * partition counts in counts[]. Fails only when interrupted by a signal. */
static enum churn_err
wait_for_topics(struct churn__run *r, int *counts, struct churn_error *err)
{
    const char *bootstrap =
        churn_kafka_conf_get(rd_kafka_conf(r->consumer), "bootstrap.servers");
    char servers[512];

    snprintf(servers, sizeof(servers), "%s", bootstrap);
    for (int attempt = 0;; attempt++) {
        bool ready = true;
        for (size_t i = 0; i < r->cfg->input_topic_cnt && ready; i++) {
            const char *name = r->cfg->input_topics[i];
            const struct rd_kafka_metadata *md = NULL;
            rd_kafka_topic_t *rkt = rd_kafka_topic_new(r->consumer, name, NULL);
            rd_kafka_resp_err_t e =
                rd_kafka_metadata(r->consumer, 0, rkt, &md, 5000);
            if (e == RD_KAFKA_RESP_ERR_NO_ERROR && md->topic_cnt == 1) {
                e = md->topics[0].err;
                counts[i] = md->topics[0].partition_cnt;
            }
            if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
                ready = false;
                if (e == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
                    churn_log(CHURN_LOG_WARN,
                              "waiting for input topic '%s' to exist on %s "
                              "(attempt %d)",
                              name, servers, attempt + 1);
                } else {
                    churn_log(attempt == 0 ? CHURN_LOG_INFO : CHURN_LOG_WARN,
                              "waiting for the Kafka cluster at %s: %s "
                              "(attempt %d)",
                              servers, rd_kafka_err2str(e), attempt + 1);
                }
            }
            if (md != NULL) {
                rd_kafka_metadata_destroy(md);
            }
            rd_kafka_topic_destroy(rkt);
        }
        if (ready) {
            return CHURN_OK;
        }
        if (churn__signals() > 0) {
            return churn_error_set(err, CHURN_EIO,
                                   "interrupted while waiting for Kafka at %s",
                                   servers);
        }
        /* Metadata timeouts pace the loop; an instant refusal does not. */
        for (int i = 0; i < 20 && churn__signals() == 0; i++) {
            rd_kafka_poll(r->consumer, 100);
        }
    }
}

enum churn_err churn__in_open(struct churn__run *r, struct churn_error *err)
{
    rd_kafka_conf_t *conf;
    rd_kafka_topic_partition_list_t *subs;
    char errstr[512];
    int counts[CHURN_MAX_TOPICS] = { 0 };
    enum churn_err rc;
    rd_kafka_resp_err_t e;

    rc = churn_kafka_conf_build(r->cfg, CHURN_SIDE_CONSUMER, &conf, err);
    if (rc != CHURN_OK) {
        return rc;
    }
    r->manual_commit =
        strcmp(churn_kafka_conf_get(conf, "enable.auto.commit"), "false") == 0;
    rd_kafka_conf_set_opaque(conf, r);
    rd_kafka_conf_set_error_cb(conf, error_cb);
    rd_kafka_conf_set_log_cb(conf, churn__kafka_log_cb);
    rd_kafka_conf_set_stats_cb(conf, stats_cb);
    rd_kafka_conf_set_rebalance_cb(conf, rebalance_cb);
    r->consumer = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
    if (r->consumer == NULL) {
        rd_kafka_conf_destroy(conf);
        return churn_error_set(err, CHURN_EINVAL, "consumer: %s", errstr);
    }
    rc = wait_for_topics(r, counts, err);
    if (rc != CHURN_OK) {
        return rc;
    }
    /* From here on, callbacks are served by rd_kafka_consumer_poll(). */
    rd_kafka_poll_set_consumer(r->consumer);
    for (size_t i = 1; i < r->cfg->input_topic_cnt; i++) {
        if (counts[i] != counts[0]) {
            return churn_error_set(
                err, CHURN_EINVAL,
                "input topics are not co-partitioned: '%s' has %d "
                "partitions, '%s' has %d; an account's events must land in "
                "the same partition number of every input topic",
                r->cfg->input_topics[0], counts[0], r->cfg->input_topics[i],
                counts[i]);
        }
    }
    rc = churn__state_open(r, counts[0], err);
    if (rc != CHURN_OK) {
        return rc;
    }
    subs = rd_kafka_topic_partition_list_new((int)r->cfg->input_topic_cnt);
    for (size_t i = 0; i < r->cfg->input_topic_cnt; i++) {
        rd_kafka_topic_partition_list_add(subs, r->cfg->input_topics[i],
                                          RD_KAFKA_PARTITION_UA);
        churn_log(CHURN_LOG_INFO, "input topic '%s': %d partitions",
                  r->cfg->input_topics[i], counts[i]);
    }
    e = rd_kafka_subscribe(r->consumer, subs);
    rd_kafka_topic_partition_list_destroy(subs);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        return churn_error_set(err, CHURN_EIO, "subscribe: %s",
                               rd_kafka_err2str(e));
    }
    churn_log(CHURN_LOG_INFO, "joined group '%s'",
              churn_kafka_conf_get(rd_kafka_conf(r->consumer), "group.id"));
    return CHURN_OK;
}

void churn__in_close(struct churn__run *r)
{
    rd_kafka_resp_err_t e;

    if (r->consumer == NULL) {
        return;
    }
    /* Commits what is committable, then leaves the group: the revoke
     * callback releases every partition (nothing is in flight by now). A
     * commit refused because the group is rebalancing (another member
     * joining or leaving) is retried while polling, which lets the
     * rebalance complete; a partition revoked meanwhile is committed and
     * released by the revoke callback. */
    r->stopping = true;
    int64_t deadline = churn__now_ms() + r->cfg->output_flush_timeout_ms;
    for (;;) {
        e = commit_sync(r, NULL);
        if (e == RD_KAFKA_RESP_ERR_NO_ERROR || !is_retriable_commit(e) ||
            churn__now_ms() >= deadline || churn__signals() > 1) {
            break;
        }
        churn_log(CHURN_LOG_INFO, "commit: %s; retrying as the group settles",
                  rd_kafka_err2str(e));
        for (int i = 0; i < 10; i++) {
            rd_kafka_message_t *m = rd_kafka_consumer_poll(r->consumer, 100);
            if (m != NULL) {
                rd_kafka_message_destroy(m); /* not processed, not stored */
            }
        }
    }
    e = rd_kafka_consumer_close(r->consumer);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        churn_log(CHURN_LOG_WARN, "consumer close: %s", rd_kafka_err2str(e));
    }
    while (r->tp_cnt > 0) {
        tp_release(r, r->tps[r->tp_cnt - 1]);
    }
    rd_kafka_destroy(r->consumer);
    r->consumer = NULL;
}
