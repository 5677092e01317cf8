/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The output side: one idempotent producer (acks=all) for all outputs.
 *
 * Each output is produced with a copy of its bytes (the engine reuses its
 * buffers) and its input's ticket as opaque; the delivery report completes
 * the ticket. A full local queue blocks the consumer loop here (polling for
 * reports) rather than dropping anything. A delivery that finally fails
 * (after librdkafka's own retries) or a fatal producer error stops the
 * daemon: that input's offset is never committed.
 *
 * A dead letter carries its input's exact bytes when they fit in one
 * message (message.max.bytes, librdkafka's default 1000000, below the
 * broker's default topic limit of 1 MiB). A larger input (an oversized
 * event can be up to the input topic's own limit) would be refused by the
 * producer and, that failure being fatal, stop the daemon at the same
 * offset on every restart. So it is cut to the longest prefix that fits and
 * marked with churnd.truncated=true and churnd.original.size=<bytes>; the
 * whole input stays at churnd.source.topic/partition/offset. Raise
 * kafka.producer.message.max.bytes (and the DLQ topic's max.message.bytes)
 * to keep such inputs whole.
 */
#include "io/kafka.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HDR_TRUNCATED     "churnd.truncated"
#define HDR_ORIGINAL_SIZE "churnd.original.size"
/* A header's serialized size beyond its name and value: two varints. */
#define HDR_FRAMING 10

static const char *topic_label(enum churn_topic t)
{
    static const char *const names[] = { "signals", "alerts", "metrics",
                                         "dlq" };
    return (size_t)t < sizeof(names) / sizeof(names[0]) ? names[t] : "?";
}

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque)
{
    struct churn__run *r = opaque;
    struct churn_ticket *tk = msg->_private;
    bool ok = msg->err == RD_KAFKA_RESP_ERR_NO_ERROR;

    (void)rk;
    if (msg->_private == &churn__changelog_opaque) {
        churn__state_acked(r, msg, ok);
        return;
    }
    for (int t = 0; t < CHURN_TOPIC__COUNT; t++) {
        if (r->out_rkt[t] == msg->rkt) {
            (ok ? r->totals.delivered_by_topic
                : r->totals.failed_by_topic)[t]++;
        }
    }
    if (!ok) {
        /* The first failures say why; the rest would only repeat it. */
        if (r->failed_deliveries++ < 5) {
            churn_log(CHURN_LOG_ERROR,
                      "delivery to %s failed: %s; not committing past it",
                      rd_kafka_topic_name(msg->rkt),
                      rd_kafka_err2str(msg->err));
        }
        r->fatal = true;
    } else {
        r->totals.delivered++;
        if (r->opts->on_delivered != NULL) {
            for (int t = 0; t < CHURN_TOPIC__COUNT; t++) {
                if (r->out_rkt[t] == msg->rkt) {
                    r->opts->on_delivered(r->opts->ctx, (enum churn_topic)t,
                                          msg);
                }
            }
        }
    }
    if (tk != NULL) {
        churn_track_done(tk, ok);
    }
}

static void error_cb(rd_kafka_t *rk, int code, const char *reason, void *opaque)
{
    struct churn__run *r = opaque;
    char buf[512];

    if (code == RD_KAFKA_RESP_ERR__FATAL) {
        rd_kafka_resp_err_t orig = rd_kafka_fatal_error(rk, buf, sizeof(buf));
        churn_log(CHURN_LOG_ERROR, "producer fatal error: %s: %s; stopping",
                  rd_kafka_err2name(orig), buf);
        r->fatal = true;
        return;
    }
    churn_log(CHURN_LOG_WARN, "producer: %s: %s",
              rd_kafka_err2name((rd_kafka_resp_err_t)code), reason);
}

void churn__kafka_log_cb(const rd_kafka_t *rk,
                         int level,
                         const char *fac,
                         const char *buf)
{
    /* syslog levels: 0-3 are errors, 4 warnings, 5-6 info, 7 debug. The
     * client's own errors are transient or also reach error_cb, so they
     * log as warnings. */
    enum churn_log_level l = level <= 4   ? CHURN_LOG_WARN
                             : level <= 6 ? CHURN_LOG_INFO
                                          : CHURN_LOG_DEBUG;
    churn_log(l, "librdkafka %s %s: %s", rd_kafka_name(rk), fac, buf);
}

enum churn_err churn__out_open(struct churn__run *r, struct churn_error *err)
{
    const char *names[CHURN_TOPIC__COUNT] = { r->cfg->output_signals,
                                              r->cfg->output_alerts,
                                              r->cfg->output_metrics,
                                              r->cfg->output_dlq };
    rd_kafka_conf_t *conf;
    char errstr[512];
    enum churn_err rc;

    rc = churn_kafka_conf_build(r->cfg, CHURN_SIDE_PRODUCER, &conf, err);
    if (rc != CHURN_OK) {
        return rc;
    }
    rd_kafka_conf_set_opaque(conf, r);
    rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
    rd_kafka_conf_set_error_cb(conf, error_cb);
    rd_kafka_conf_set_log_cb(conf, churn__kafka_log_cb);
    r->producer = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (r->producer == NULL) {
        rd_kafka_conf_destroy(conf);
        return churn_error_set(err, CHURN_EINVAL, "producer: %s", errstr);
    }
    r->max_msg_bytes = (size_t)strtoull(
        churn_kafka_conf_get(rd_kafka_conf(r->producer), "message.max.bytes"),
        NULL, 10);
    for (int t = 0; t < CHURN_TOPIC__COUNT; t++) {
        r->out_rkt[t] = rd_kafka_topic_new(r->producer, names[t], NULL);
        if (r->out_rkt[t] == NULL) {
            return churn_error_set(err, CHURN_EINVAL, "output topic '%s': %s",
                                   names[t],
                                   rd_kafka_err2str(rd_kafka_last_error()));
        }
    }
    return CHURN_OK;
}

size_t churn_kafka_dlq_fit(const struct churn_output *o, size_t max_msg_bytes)
{
    size_t fixed = CHURN_KAFKA_MSG_OVERHEAD + o->key.len;

    for (size_t i = 0; i < o->header_cnt; i++) {
        fixed +=
            strlen(o->headers[i].name) + o->headers[i].value.len + HDR_FRAMING;
    }
    if (o->value.len <= max_msg_bytes &&
        fixed <= max_msg_bytes - o->value.len) {
        return o->value.len;
    }
    /* cut: the two headers that say so, the size with up to 20 digits */
    fixed += sizeof(HDR_TRUNCATED) - 1 + 4 + HDR_FRAMING +
             sizeof(HDR_ORIGINAL_SIZE) - 1 + 20 + HDR_FRAMING;
    return fixed < max_msg_bytes ? max_msg_bytes - fixed : 0;
}

/* The output's headers; when value_len is below the value's length, also
 * the two that mark it as cut. */
static rd_kafka_headers_t *headers_of(const struct churn_output *o,
                                      size_t value_len)
{
    rd_kafka_headers_t *h;
    char size[24];

    if (o->header_cnt == 0 && value_len == o->value.len) {
        return NULL;
    }
    h = rd_kafka_headers_new(o->header_cnt + 2);
    for (size_t i = 0; i < o->header_cnt; i++) {
        rd_kafka_header_add(h, o->headers[i].name, -1, o->headers[i].value.ptr,
                            (ssize_t)o->headers[i].value.len);
    }
    if (value_len < o->value.len) {
        snprintf(size, sizeof(size), "%zu", o->value.len);
        rd_kafka_header_add(h, HDR_TRUNCATED, -1, "true", 4);
        rd_kafka_header_add(h, HDR_ORIGINAL_SIZE, -1, size, -1);
    }
    return h;
}

/* Produces one output, waiting while the local queue is full. */
static rd_kafka_resp_err_t produce_one(struct churn__run *r,
                                       const struct churn_output *o,
                                       size_t value_len,
                                       struct churn_ticket *tk)
{
    rd_kafka_headers_t *hdrs = headers_of(o, value_len);
    rd_kafka_resp_err_t e;
    bool waited = false;

    for (;;) {
        /* producev, not produceva: in librdkafka 2.0 only producev hands
         * the headers back to the caller on every failure path (produceva
         * frees them after a partitioner error, and a retry or destroy here
         * would then be a double free). */
        const void *key = o->key.len > 0 ? o->key.ptr : NULL;
        if (hdrs != NULL) {
            e = rd_kafka_producev(
                r->producer, RD_KAFKA_V_RKT(r->out_rkt[o->topic]),
                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                RD_KAFKA_V_VALUE((void *)o->value.ptr, value_len),
                RD_KAFKA_V_KEY(key, o->key.len), RD_KAFKA_V_HEADERS(hdrs),
                RD_KAFKA_V_OPAQUE(tk), RD_KAFKA_V_END);
        } else {
            e = rd_kafka_producev(
                r->producer, RD_KAFKA_V_RKT(r->out_rkt[o->topic]),
                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                RD_KAFKA_V_VALUE((void *)o->value.ptr, value_len),
                RD_KAFKA_V_KEY(key, o->key.len), RD_KAFKA_V_OPAQUE(tk),
                RD_KAFKA_V_END);
        }
        if (e == RD_KAFKA_RESP_ERR_NO_ERROR) {
            return e; /* headers now owned by the message */
        }
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL || r->fatal ||
            churn__signals() > 1) {
            break;
        }
        if (!waited) {
            churn_log(CHURN_LOG_DEBUG, "producer queue full, waiting");
            r->totals.queue_full++;
            waited = true;
        }
        rd_kafka_poll(r->producer, 100);
    }
    /* Only a full queue provably leaves the headers with us (the message
     * was never built). After any other failure librdkafka 2.0.2 may
     * already have freed them with the message (a topic whose partitions
     * vanished crashed here), and that failure ends the run, so they are
     * left alone rather than risk a double free. */
    if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        rd_kafka_headers_destroy(hdrs);
    }
    return e;
}

enum churn_err churn__out_produce(struct churn__run *r,
                                  struct churn__tp *tp,
                                  const struct churn_source *src,
                                  struct churn_error *err)
{
    struct churn_engine *eng = tp->part->eng;
    const struct churn_output *outs;
    size_t cnt = churn_engine_outputs(eng, &outs);
    struct churn_ticket *tk = NULL;
    enum churn_err rc;

    rc = churn_track_add(tp->track, src->offset, (uint32_t)cnt, &tk);
    if (rc != CHURN_OK) {
        churn_engine_outputs_clear(eng);
        r->fatal = true;
        return churn_error_set(err, rc, "out of memory tracking outputs");
    }
    for (size_t i = 0; i < cnt; i++) {
        size_t value_len = outs[i].value.len;
        if (outs[i].topic == CHURN_TOPIC_DLQ) {
            value_len = churn_kafka_dlq_fit(&outs[i], r->max_msg_bytes);
        }
        if (value_len < outs[i].value.len) {
            r->dlq_truncated++;
            churn_log(CHURN_LOG_WARN,
                      "partition %s[%d] offset %lld: dead letter of %zu bytes "
                      "cut to %zu to fit message.max.bytes %zu "
                      "(churnd.truncated=true)",
                      tp->topic, (int)tp->partition, (long long)src->offset,
                      outs[i].value.len, value_len, r->max_msg_bytes);
        }
        rd_kafka_resp_err_t e = produce_one(r, &outs[i], value_len, tk);
        if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
            churn_track_abandon(tk, (uint32_t)(cnt - i));
            r->totals.failed_by_topic[outs[i].topic]++;
            churn_engine_outputs_clear(eng);
            r->fatal = true;
            return churn_error_set(
                err, CHURN_EIO,
                "partition %s[%d] offset %lld: cannot produce to %s (%s): %s",
                tp->topic, (int)tp->partition, (long long)src->offset,
                rd_kafka_topic_name(r->out_rkt[outs[i].topic]),
                topic_label(outs[i].topic), rd_kafka_err2str(e));
        }
        r->totals.produced++;
        r->totals.produced_by_topic[outs[i].topic]++;
    }
    churn_engine_outputs_clear(eng);
    return CHURN_OK;
}

void churn__out_poll(struct churn__run *r, int timeout_ms)
{
    rd_kafka_poll(r->producer, timeout_ms);
}

uint64_t churn__out_inflight(const struct churn__run *r)
{
    uint64_t n = 0;

    for (size_t i = 0; i < r->tp_cnt; i++) {
        n += churn_track_inflight(r->tps[i]->track);
    }
    for (size_t i = 0; i < r->zombie_cnt; i++) {
        n += churn_track_inflight(r->zombies[i]);
    }
    return n;
}

bool churn__out_drain(struct churn__run *r,
                      const struct churn_track *track,
                      int64_t timeout_ms)
{
    int64_t deadline = churn__now_ms() + timeout_ms;
    int64_t next_log = churn__now_ms() + 5000;

    for (;;) {
        uint64_t left = track != NULL ? churn_track_inflight(track)
                                      : churn__out_inflight(r);
        int64_t now = churn__now_ms();
        if (left == 0) {
            return true;
        }
        if (now >= deadline || churn__signals() > 1) {
            churn_log(CHURN_LOG_WARN,
                      "%llu outputs still unacknowledged after %lld ms; "
                      "their inputs stay uncommitted",
                      (unsigned long long)left, (long long)timeout_ms);
            return false;
        }
        if (now >= next_log) {
            churn_log(CHURN_LOG_INFO, "waiting for %llu deliveries",
                      (unsigned long long)left);
            next_log = now + 5000;
        }
        rd_kafka_poll(r->producer, 100);
    }
}

void churn__out_close(struct churn__run *r)
{
    if (r->producer == NULL) {
        return;
    }
    if (r->failed_deliveries > 5) {
        churn_log(CHURN_LOG_ERROR, "%llu deliveries failed in all",
                  (unsigned long long)r->failed_deliveries);
    }
    if (!r->fatal) {
        rd_kafka_flush(r->producer, 1000);
    } else {
        rd_kafka_purge(r->producer,
                       RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        rd_kafka_poll(r->producer, 0);
    }
    for (int t = 0; t < CHURN_TOPIC__COUNT; t++) {
        if (r->out_rkt[t] != NULL) {
            rd_kafka_topic_destroy(r->out_rkt[t]);
            r->out_rkt[t] = NULL;
        }
    }
    rd_kafka_destroy(r->producer);
    r->producer = NULL;
}
