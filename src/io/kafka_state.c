/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Durable state for `churnd run` (DESIGN §8): checkpoints, the changelog
 * topic and restores.
 *
 * A checkpoint of partition number P, every state.checkpoint_interval and
 * when P is revoked or churnd stops:
 *   1. waits until every output of P's inputs is acknowledged, so the state
 *      about to be written never runs ahead of what was delivered;
 *   2. writes the accounts that changed since the last checkpoint (and a
 *      tombstone per account that left) to the changelog's partition P,
 *      then the checkpoint record: the input offsets the state reflects and
 *      the engine's partition record, in chunks of at most CHUNK bytes
 *      under keys "\0churnd.checkpoint.N";
 *   3. waits for those to be acknowledged;
 *   4. when state.snapshot_interval has passed (or on revoke and stop),
 *      writes the snapshot file with the checkpoint's offsets and the
 *      changelog offset of its checkpoint record.
 *
 * A restore of P (when P is assigned): the snapshot file if it is valid,
 * then every complete checkpoint the changelog holds after the snapshot's
 * (all of them without a snapshot); P's input topics then resume at the
 * offsets the last checkpoint applied reflects. Records after the last
 * complete checkpoint belong to a checkpoint that was cut short: they are
 * not applied, and their keys are marked so that the next checkpoint
 * overwrites them. Anything refused (a corrupt file, a checkpoint the
 * engine rejects) is logged and the state is rebuilt, never loaded half.
 */
#include "churnd/state.h"
#include "io/http.h"
#include "io/kafka.h"
#include "io/le.h"
#include "io/state_file.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char churn__changelog_opaque;

#define CHUNK      (512 * 1024)
#define CP_MAGIC   0x4b434843u /* "CHCK" */
#define CP_KEY     "\0churnd.checkpoint."
#define CP_KEY_LEN (sizeof(CP_KEY) - 1)
#define CP_HDR_LEN 16 /* magic, seq, index, count */

/* ---- little-endian helpers for the checkpoint record ---- */

struct bytes {
    unsigned char *p;
    size_t len, cap;
    bool oom;
};

static void b_add(struct bytes *b, const void *p, size_t n)
{
    if (b->oom || n == 0) {
        return;
    }
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n) {
            cap *= 2;
        }
        unsigned char *np = realloc(b->p, cap);
        if (np == NULL) {
            b->oom = true;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->len, p, n);
    b->len += n;
}

static void b_uint(struct bytes *b, uint64_t v, unsigned n)
{
    unsigned char x[8];

    churn_le_put(x, v, n);
    b_add(b, x, n);
}

static int topic_index(const struct churn_config *cfg, const char *topic)
{
    for (size_t i = 0; i < cfg->input_topic_cnt; i++) {
        if (strcmp(cfg->input_topics[i], topic) == 0) {
            return (int)i;
        }
    }
    return -1;
}

/* ---- opening ---- */

enum churn_err churn__state_open(struct churn__run *r,
                                 int input_partitions,
                                 struct churn_error *err)
{
    const char *name = r->cfg->output_state;
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_topic_t *rkt;
    rd_kafka_resp_err_t e;
    int parts = -1;

    if (r->cfg->state_dir[0] != '\0') {
        churn_log(CHURN_LOG_INFO, "snapshots in %s every %lld s",
                  r->cfg->state_dir,
                  (long long)r->cfg->state_snapshot_interval_ms / 1000);
    }
    if (name[0] == '\0') {
        churn_log(CHURN_LOG_INFO, "changelog off (output.state is empty)");
        return CHURN_OK;
    }
    /* the consumer's metadata requests never create topics */
    rkt = rd_kafka_topic_new(r->consumer, name, NULL);
    e = rd_kafka_metadata(r->consumer, 0, rkt, &md, 10000);
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR && md->topic_cnt == 1) {
        e = md->topics[0].err;
        parts = md->topics[0].partition_cnt;
    }
    if (md != NULL) {
        rd_kafka_metadata_destroy(md);
    }
    rd_kafka_topic_destroy(rkt);
    if (e == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
        churn_log(CHURN_LOG_WARN,
                  "changelog topic '%s' does not exist: changelog off, so a "
                  "partition that moves is rebuilt from its snapshot or the "
                  "input; create it with cleanup.policy=compact and %d "
                  "partitions",
                  name, input_partitions);
        return CHURN_OK;
    }
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        return churn_error_set(err, CHURN_EIO, "changelog topic '%s': %s", name,
                               rd_kafka_err2str(e));
    }
    if (parts != input_partitions) {
        return churn_error_set(err, CHURN_EINVAL,
                               "changelog topic '%s' has %d partitions, the "
                               "input %d: they must be co-partitioned",
                               name, parts, input_partitions);
    }
    r->cl_acks = calloc((size_t)parts, sizeof(*r->cl_acks));
    if (r->cl_acks == NULL) {
        return churn_error_set(err, CHURN_ENOMEM, "out of memory");
    }
    r->cl_part_cnt = (size_t)parts;
    r->state_rkt = rd_kafka_topic_new(r->producer, name, NULL);
    if (r->state_rkt == NULL) {
        return churn_error_set(err, CHURN_EIO, "changelog topic '%s': %s", name,
                               rd_kafka_err2str(rd_kafka_last_error()));
    }
    churn_log(CHURN_LOG_INFO, "changelog '%s', checkpoints every %lld ms", name,
              (long long)r->cfg->state_checkpoint_interval_ms);
    return CHURN_OK;
}

void churn__state_close(struct churn__run *r)
{
    if (r->restorer != NULL) {
        rd_kafka_consumer_close(r->restorer);
        rd_kafka_destroy(r->restorer);
        r->restorer = NULL;
    }
    if (r->state_rkt != NULL) {
        rd_kafka_topic_destroy(r->state_rkt);
        r->state_rkt = NULL;
    }
    /* reports still to come (the producer is flushed later) skip it */
    free(r->cl_acks);
    r->cl_acks = NULL;
    r->cl_part_cnt = 0;
}

void churn__state_acked(struct churn__run *r,
                        const rd_kafka_message_t *msg,
                        bool ok)
{
    struct churn__cl_acks *a = NULL;

    r->cl_inflight--;
    if (msg->partition >= 0 && (size_t)msg->partition < r->cl_part_cnt) {
        a = &r->cl_acks[msg->partition];
        a->inflight--;
    }
    if (!ok) {
        churn_log(CHURN_LOG_ERROR, "changelog delivery to %s[%d] failed: %s",
                  rd_kafka_topic_name(msg->rkt), (int)msg->partition,
                  rd_kafka_err2str(msg->err));
        if (a != NULL) {
            a->failed = true;
        }
    } else if (a != NULL && msg->offset > a->last_offset) {
        a->last_offset = msg->offset;
    }
}

/* ---- checkpoints ---- */

static bool produce_state(struct churn__run *r,
                          int32_t partition,
                          const void *key,
                          size_t klen,
                          const void *value,
                          size_t len)
{
    rd_kafka_resp_err_t e;

    for (;;) {
        e = rd_kafka_producev(
            r->producer, RD_KAFKA_V_RKT(r->state_rkt),
            RD_KAFKA_V_PARTITION(partition),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_VALUE((void *)value, len), RD_KAFKA_V_KEY(key, klen),
            RD_KAFKA_V_OPAQUE(&churn__changelog_opaque), RD_KAFKA_V_END);
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL || churn__signals() > 1) {
            break;
        }
        rd_kafka_poll(r->producer, 100);
    }
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        churn_log(CHURN_LOG_ERROR, "changelog %s[%d]: cannot produce: %s",
                  rd_kafka_topic_name(r->state_rkt), (int)partition,
                  rd_kafka_err2str(e));
        return false;
    }
    r->cl_inflight++;
    r->cl_acks[partition].inflight++;
    return true;
}

struct cp_ctx {
    struct churn__run *r;
    int32_t partition;
    struct bytes payload; /* offsets + the partition record */
};

static enum churn_err cp_record(void *ctx,
                                struct churn_str key,
                                const void *value,
                                size_t len,
                                struct churn_error *err)
{
    struct cp_ctx *c = ctx;

    if (key.len == 0) {
        b_add(&c->payload, value, len);
        return c->payload.oom
                   ? churn_error_set(err, CHURN_ENOMEM, "out of memory")
                   : CHURN_OK;
    }
    if (!produce_state(c->r, c->partition, key.ptr, key.len, value, len)) {
        return churn_error_set(err, CHURN_EIO, "changelog produce failed");
    }
    return CHURN_OK;
}

/* Waits until every changelog record is acknowledged (or deadline). */
static void wait_changelog(struct churn__run *r, int64_t deadline)
{
    while (r->cl_inflight > 0 && churn__now_ms() < deadline &&
           churn__signals() < 2) {
        rd_kafka_poll(r->producer, 50);
    }
}

/* The offsets p's state reflects, by input.topics index. */
static void
offsets_of(struct churn__run *r, const struct churn__part *p, int64_t *off)
{
    for (size_t i = 0; i < r->cfg->input_topic_cnt; i++) {
        struct churn__tp *tp =
            churn__in_find(r, r->cfg->input_topics[i], p->partition);
        off[i] = tp != NULL && tp->next >= 0 ? tp->next : p->restored[i];
    }
}

/* Produces p's changed accounts and its checkpoint record (sequence seq)
 * without waiting for them. False when one could not be produced. */
static bool write_changelog(struct churn__run *r,
                            struct churn__part *p,
                            const int64_t *off,
                            uint64_t seq)
{
    struct cp_ctx c = { r, p->partition, { 0 } };
    struct churn_error err = { 0 };

    if (p->partition < 0 || (size_t)p->partition >= r->cl_part_cnt) {
        /* the input gained partitions the changelog does not have */
        churn_log(CHURN_LOG_ERROR,
                  "partition %d: the changelog has only %zu partitions",
                  (int)p->partition, r->cl_part_cnt);
        return false;
    }
    r->cl_acks[p->partition].failed = false;
    r->cl_acks[p->partition].last_offset = -1;
    b_uint(&c.payload, r->cfg->input_topic_cnt, 4);
    for (size_t i = 0; i < r->cfg->input_topic_cnt; i++) {
        size_t n = strlen(r->cfg->input_topics[i]);
        b_uint(&c.payload, n, 2);
        b_add(&c.payload, r->cfg->input_topics[i], n);
        b_uint(&c.payload, (uint64_t)off[i], 8);
    }
    /* the export clears change marks: no reader may see it half done */
    churn_http_enter(r->http);
    bool ok =
        churn_engine_export(p->eng, false, cp_record, &c, &err) == CHURN_OK;
    churn_http_leave(r->http);
    if (!ok) {
        churn_log(CHURN_LOG_ERROR, "partition %d: checkpoint: %s",
                  (int)p->partition, err.msg);
    }
    size_t chunks = (c.payload.len + CHUNK - 1) / CHUNK;
    for (size_t i = 0; ok && i < chunks; i++) {
        struct bytes v = { 0 };
        char key[CP_KEY_LEN + 8];
        size_t n = c.payload.len - i * CHUNK < CHUNK ? c.payload.len - i * CHUNK
                                                     : CHUNK;
        b_uint(&v, CP_MAGIC, 4);
        b_uint(&v, seq, 8);
        b_uint(&v, i, 2);
        b_uint(&v, chunks, 2);
        b_add(&v, c.payload.p + i * CHUNK, n);
        memcpy(key, CP_KEY, CP_KEY_LEN);
        /* i < chunks, a u16: at most 5 digits (and GCC can see it) */
        int kl = snprintf(key + CP_KEY_LEN, 8, "%u", (unsigned)(i % 65536u));
        ok = !v.oom && produce_state(r, p->partition, key,
                                     CP_KEY_LEN + (size_t)kl, v.p, v.len);
        free(v.p);
    }
    free(c.payload.p);
    return ok;
}

/* After the wait: p's checkpoint seq counts if every record was
 * acknowledged. Else what was not may be lost: write it all next time. */
static bool changelog_done(struct churn__run *r,
                           struct churn__part *p,
                           uint64_t seq,
                           bool produced)
{
    const struct churn__cl_acks *a =
        produced ? &r->cl_acks[p->partition] : NULL;

    if (a == NULL || a->failed || a->inflight > 0) {
        churn_engine_changed_all(p->eng);
        churn_log(CHURN_LOG_WARN,
                  "partition %d: changelog checkpoint %llu not acknowledged; "
                  "the next one writes the whole state",
                  (int)p->partition, (unsigned long long)seq);
        return false;
    }
    p->seq = seq;
    p->changelog_at = a->last_offset;
    return true;
}

static void write_snapshot(struct churn__run *r,
                           struct churn__part *p,
                           const int64_t *off,
                           int64_t now)
{
    struct churn_snapshot_meta meta;
    struct churn_error err = { 0 };

    memset(&meta, 0, sizeof(meta));
    meta.partition = p->partition;
    meta.seq = p->seq;
    meta.changelog_at = r->state_rkt != NULL ? p->changelog_at : -1;
    meta.topic_cnt = r->cfg->input_topic_cnt;
    for (size_t i = 0; i < meta.topic_cnt; i++) {
        snprintf(meta.topics[i], sizeof(meta.topics[i]), "%s",
                 r->cfg->input_topics[i]);
        meta.offsets[i] = off[i];
    }
    if (churn_snapshot_write(r->cfg->state_dir, p->eng, &meta, &err) !=
        CHURN_OK) {
        r->snapshot_failures++;
        churn_log(CHURN_LOG_ERROR,
                  "partition %d: %s; the previous snapshot stays, the "
                  "changelog still has the state",
                  (int)p->partition, err.msg);
    } else {
        r->snapshots++;
        p->last_snapshot_ms = now;
        churn_log(CHURN_LOG_DEBUG, "partition %d: snapshot %llu written",
                  (int)p->partition, (unsigned long long)p->seq);
    }
}

/* Waits for the outputs of every input p's state reflects; false when one
 * is unacknowledged at deadline or failed. */
static bool outputs_delivered(struct churn__run *r,
                              const struct churn__part *p,
                              int64_t deadline)
{
    for (size_t i = 0; i < r->tp_cnt; i++) {
        struct churn__tp *tp = r->tps[i];
        if (tp->part != p) {
            continue;
        }
        int64_t left = deadline - churn__now_ms();
        if (!churn__out_drain(r, tp->track, left > 0 ? left : 0) ||
            churn_track_has_failed(tp->track)) {
            return false;
        }
    }
    return true;
}

/* What one round does with a partition. */
enum cp_step {
    CP_SKIP,      /* nothing to write: done */
    CP_FAILED,    /* could not be written */
    CP_CHANGELOG, /* records produced, awaiting acknowledgement */
    CP_SNAPSHOT,  /* no changelog: a snapshot only */
};

/* Partitions checkpointed per round: their offsets stay on the stack. */
#define CP_ROUND 64

/*
 * Every due partition waits for its outputs, then produces its records;
 * one wait covers all of them. Done one partition at a time, each would
 * wait for its own records before the next began: a round trip (the
 * producer's linger.ms and more) per partition, which with 50 partitions
 * stalled consumption for a large share of every checkpoint interval.
 */
static size_t checkpoint_round(struct churn__run *r,
                               struct churn__part **ps,
                               size_t n,
                               bool force_snapshot)
{
    int64_t now = churn__now_ms();
    int64_t deadline = now + r->cfg->output_flush_timeout_ms;
    int64_t off[CP_ROUND][CHURN_MAX_TOPICS];
    enum cp_step step[CP_ROUND];
    bool want_snap[CP_ROUND];
    uint64_t seq[CP_ROUND];
    bool produced[CP_ROUND];
    bool any_changelog = false;
    size_t failed = 0, written = 0;

    for (size_t k = 0; k < n; k++) {
        struct churn__part *p = ps[k];
        want_snap[k] =
            r->cfg->state_dir[0] != '\0' &&
            (force_snapshot ||
             now - p->last_snapshot_ms >= r->cfg->state_snapshot_interval_ms);
        step[k] = CP_SKIP;
        if (r->state_rkt == NULL && !want_snap[k]) {
            continue;
        }
        /* 1. the state written must not run ahead of what was delivered */
        if (!outputs_delivered(r, p, deadline)) {
            step[k] = CP_FAILED;
            continue;
        }
        offsets_of(r, p, off[k]);
        bool any = false;
        for (size_t i = 0; i < r->cfg->input_topic_cnt; i++) {
            any = any || off[k][i] >= 0;
        }
        if (!any) {
            continue; /* the state reflects no input yet: nothing to keep */
        }
        if (r->state_rkt == NULL) {
            step[k] = CP_SNAPSHOT;
            continue;
        }
        /* 2. the changelog */
        seq[k] = p->seq + 1;
        produced[k] = write_changelog(r, p, off[k], seq[k]);
        step[k] = CP_CHANGELOG;
        any_changelog = true;
    }
    /* 3. one wait for every partition's records */
    if (any_changelog) {
        wait_changelog(r, churn__now_ms() + r->cfg->output_flush_timeout_ms);
    }
    for (size_t k = 0; k < n; k++) {
        struct churn__part *p = ps[k];
        if (step[k] == CP_CHANGELOG) {
            if (changelog_done(r, p, seq[k], produced[k])) {
                r->checkpoints++;
                written++;
            } else {
                step[k] = CP_FAILED;
            }
        }
        p->cp_ok = step[k] != CP_FAILED;
        if (!p->cp_ok) {
            r->checkpoint_failures++;
            failed++;
            continue;
        }
        /* 4. the snapshot */
        if (step[k] != CP_SKIP && want_snap[k]) {
            write_snapshot(r, p, off[k], now);
        }
    }
    churn_log(CHURN_LOG_DEBUG,
              "checkpoint round: %zu partitions, %zu to the changelog, %zu "
              "failed, in %lld ms",
              n, written, failed, (long long)(churn__now_ms() - now));
    return failed;
}

size_t churn__state_checkpoint(struct churn__run *r, bool force_snapshot)
{
    struct churn__part *ps[CP_ROUND];
    size_t n = 0, failed = 0;

    for (size_t i = 0; i < r->part_cnt; i++) {
        struct churn__part *p = r->parts[i];
        if (!p->cp_due) {
            continue;
        }
        p->cp_due = false;
        ps[n++] = p;
        if (n == CP_ROUND) {
            failed += checkpoint_round(r, ps, n, force_snapshot);
            n = 0;
        }
    }
    if (n > 0) {
        failed += checkpoint_round(r, ps, n, force_snapshot);
    }
    return failed;
}

void churn__state_tick(struct churn__run *r, int64_t now_ms)
{
    if (now_ms - r->last_checkpoint_ms < r->cfg->state_checkpoint_interval_ms) {
        return;
    }
    if (r->fatal) {
        return;
    }
    for (size_t i = 0; i < r->part_cnt; i++) {
        r->parts[i]->cp_due = true;
    }
    churn__state_checkpoint(r, false);
    /* The interval runs from the end of a round: a round slower than the
     * interval (a slow broker) must still leave time to consume. */
    r->last_checkpoint_ms = churn__now_ms();
}

/* ---- restores ---- */

struct rec {
    char *key;
    size_t klen;
    char *val; /* NULL: tombstone */
    size_t len;
};

struct restore {
    struct churn__run *r;
    struct churn__part *p;
    struct churn_engine *eng;
    struct rec *recs; /* since the last complete checkpoint */
    size_t rec_cnt, rec_cap;
    struct bytes cp; /* the checkpoint being assembled */
    uint64_t cp_seq;
    uint32_t cp_next, cp_cnt;
    bool cp_active;
    int64_t offsets[CHURN_MAX_TOPICS];
    bool have_offsets;
    uint64_t applied;
    bool failed;
    char why[300];
};

static void recs_clear(struct restore *x)
{
    for (size_t i = 0; i < x->rec_cnt; i++) {
        free(x->recs[i].key);
        free(x->recs[i].val);
    }
    x->rec_cnt = 0;
}

static bool recs_push(struct restore *x,
                      const void *key,
                      size_t klen,
                      const void *val,
                      size_t len)
{
    if (x->rec_cnt == x->rec_cap) {
        size_t cap = x->rec_cap ? x->rec_cap * 2 : 256;
        struct rec *v = realloc(x->recs, cap * sizeof(*v));
        if (v == NULL) {
            return false;
        }
        x->recs = v;
        x->rec_cap = cap;
    }
    struct rec *rc = &x->recs[x->rec_cnt];
    rc->key = malloc(klen ? klen : 1);
    rc->val = val != NULL ? malloc(len ? len : 1) : NULL;
    if (rc->key == NULL || (val != NULL && rc->val == NULL)) {
        free(rc->key);
        free(rc->val);
        return false;
    }
    memcpy(rc->key, key, klen);
    rc->klen = klen;
    if (val != NULL) {
        memcpy(rc->val, val, len);
    }
    rc->len = len;
    x->rec_cnt++;
    return true;
}

static void fail(struct restore *x, const char *why)
{
    if (!x->failed) {
        x->failed = true;
        snprintf(x->why, sizeof(x->why), "%s", why);
    }
}

/* A complete checkpoint: its offsets, the accounts before it, then its
 * partition record. */
static void apply_checkpoint(struct restore *x)
{
    const unsigned char *p = x->cp.p;
    size_t len = x->cp.len, pos = 4;
    struct churn_error err = { 0 };
    int64_t off[CHURN_MAX_TOPICS];

    for (size_t i = 0; i < CHURN_MAX_TOPICS; i++) {
        off[i] = -1;
    }
    if (len < 4) {
        fail(x, "checkpoint record too short");
        return;
    }
    uint32_t n = (uint32_t)churn_le_get(p, 4);
    for (uint32_t i = 0; i < n; i++) {
        if (len - pos < 2) {
            fail(x, "checkpoint record: malformed offsets");
            return;
        }
        size_t tl = (size_t)churn_le_get(p + pos, 2);
        pos += 2;
        if (len - pos < tl + 8 || tl >= CHURN_TOPIC_MAX) {
            fail(x, "checkpoint record: malformed offsets");
            return;
        }
        char topic[CHURN_TOPIC_MAX];
        memcpy(topic, p + pos, tl);
        topic[tl] = '\0';
        pos += tl;
        int idx = topic_index(x->r->cfg, topic);
        if (idx >= 0) {
            off[idx] = (int64_t)churn_le_get(p + pos, 8);
        }
        pos += 8;
    }
    bool any = false;
    for (size_t i = 0; i < CHURN_MAX_TOPICS; i++) {
        any = any || off[i] >= 0;
    }
    if (!any) {
        fail(x, "a checkpoint without input offsets");
        return;
    }
    for (size_t i = 0; i < x->rec_cnt; i++) {
        if (churn_engine_import(
                x->eng, (struct churn_str){ x->recs[i].key, x->recs[i].klen },
                x->recs[i].val, x->recs[i].len, &err) != CHURN_OK) {
            fail(x, err.msg);
            return;
        }
    }
    if (churn_engine_import(x->eng, (struct churn_str){ "", 0 }, p + pos,
                            len - pos, &err) != CHURN_OK) {
        fail(x, err.msg);
        return;
    }
    recs_clear(x);
    memcpy(x->offsets, off, sizeof(off));
    x->have_offsets = true;
    x->p->seq = x->cp_seq;
    x->applied++;
}

static void on_record(struct restore *x, const rd_kafka_message_t *m)
{
    if (m->key_len >= CP_KEY_LEN && memcmp(m->key, CP_KEY, CP_KEY_LEN) == 0) {
        const unsigned char *v = m->payload;
        if (v == NULL || m->len < CP_HDR_LEN ||
            churn_le_get(v, 4) != CP_MAGIC) {
            x->cp_active = false;
            return;
        }
        uint64_t seq = churn_le_get(v + 4, 8);
        uint32_t idx = (uint32_t)churn_le_get(v + 12, 2);
        uint32_t cnt = (uint32_t)churn_le_get(v + 14, 2);
        if (idx == 0) {
            x->cp.len = 0;
            x->cp_active = cnt > 0;
            x->cp_seq = seq;
            x->cp_cnt = cnt;
            x->cp_next = 0;
        }
        if (!x->cp_active || seq != x->cp_seq || idx != x->cp_next ||
            cnt != x->cp_cnt) {
            /* a chunk of a checkpoint the log no longer holds whole */
            x->cp_active = false;
            return;
        }
        b_add(&x->cp, v + CP_HDR_LEN, m->len - CP_HDR_LEN);
        x->cp_next++;
        if (x->cp.oom) {
            fail(x, "out of memory");
        } else if (x->cp_next == x->cp_cnt) {
            x->cp_active = false;
            apply_checkpoint(x);
        }
        return;
    }
    if (m->key_len == 0) {
        return; /* not ours */
    }
    if (!recs_push(x, m->key, m->key_len, m->payload, m->len)) {
        fail(x, "out of memory");
    }
}

static rd_kafka_t *restorer(struct churn__run *r)
{
    rd_kafka_conf_t *conf;
    struct churn_error err = { 0 };
    char errstr[512];

    if (r->restorer != NULL) {
        return r->restorer;
    }
    if (churn_kafka_conf_build(r->cfg, CHURN_SIDE_CONSUMER, &conf, &err) !=
        CHURN_OK) {
        churn_log(CHURN_LOG_ERROR, "changelog reader: %s", err.msg);
        return NULL;
    }
    /* assign() only: it never joins the group nor commits */
    rd_kafka_conf_set(conf, "enable.auto.commit", "false", NULL, 0);
    /* a restore runs inside the rebalance: do not idle in fetches */
    rd_kafka_conf_set(conf, "fetch.wait.max.ms", "10", NULL, 0);
    rd_kafka_conf_set_log_cb(conf, churn__kafka_log_cb);
    r->restorer = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
    if (r->restorer == NULL) {
        rd_kafka_conf_destroy(conf);
        churn_log(CHURN_LOG_ERROR, "changelog reader: %s", errstr);
    }
    return r->restorer;
}

/* Reads the changelog's partition from offset `from` to its end. */
static void read_changelog(struct restore *x, int64_t from)
{
    struct churn__run *r = x->r;
    const char *topic = rd_kafka_topic_name(r->state_rkt);
    rd_kafka_t *rk = restorer(r);
    int64_t lo = 0, hi = 0;
    rd_kafka_resp_err_t e;

    if (rk == NULL) {
        fail(x, "no changelog reader");
        return;
    }
    e = rd_kafka_query_watermark_offsets(rk, topic, x->p->partition, &lo, &hi,
                                         10000);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        fail(x, rd_kafka_err2str(e));
        return;
    }
    if (from < lo) {
        from = lo;
    }
    if (from >= hi) {
        return;
    }
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, topic, x->p->partition)->offset = from;
    e = rd_kafka_assign(rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        fail(x, rd_kafka_err2str(e));
        return;
    }
    int64_t quiet_since = churn__now_ms();
    int64_t expect = from; /* the log is read once, in offset order */
    uint64_t n = 0;
    while (!x->failed && churn__signals() == 0 && expect < hi) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
        if (m == NULL) {
            if (churn__now_ms() - quiet_since > 30000) {
                fail(x, "timed out reading the changelog");
            }
            continue;
        }
        quiet_since = churn__now_ms();
        /* An earlier read of this reader (another partition, or this one
         * before) can leave messages and end-of-partition events queued:
         * only this partition's offsets from `expect` on count. */
        bool ours = m->rkt != NULL && m->partition == x->p->partition &&
                    strcmp(rd_kafka_topic_name(m->rkt), topic) == 0;
        if (!ours) {
            /* left over */
        } else if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            if (m->offset >= hi) {
                expect = hi; /* the end, as it was when the read began */
            }
        } else if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            churn_log(CHURN_LOG_WARN, "changelog %s[%d]: %s", topic,
                      (int)x->p->partition, rd_kafka_message_errstr(m));
        } else if (m->offset >= expect) {
            on_record(x, m);
            n++;
            expect = m->offset + 1;
        }
        rd_kafka_message_destroy(m);
    }
    if (expect < hi && !x->failed) {
        fail(x, "interrupted by shutdown");
    }
    rd_kafka_assign(rk, NULL);
    churn_log(CHURN_LOG_INFO,
              "partition %d: read %llu changelog records from offset %lld, "
              "%llu checkpoints applied",
              (int)x->p->partition, (unsigned long long)n, (long long)from,
              (unsigned long long)x->applied);
}

void churn__state_restore(struct churn__run *r, struct churn__part *p)
{
    struct restore x;
    struct churn_snapshot_meta meta;
    struct churn_error err = { 0 };
    bool from_snapshot = false;
    int64_t from = 0;

    for (size_t i = 0; i < CHURN_MAX_TOPICS; i++) {
        p->restored[i] = -1;
    }
    p->changelog_at = -1;
    p->seq = 0;
    p->last_snapshot_ms = churn__now_ms();
    if (r->state_rkt != NULL) {
        churn_engine_track_changes(p->eng, true);
    }
    if (r->state_rkt == NULL && r->cfg->state_dir[0] == '\0') {
        return;
    }
    memset(&x, 0, sizeof(x));
    x.r = r;
    x.p = p;
    for (size_t i = 0; i < CHURN_MAX_TOPICS; i++) {
        x.offsets[i] = -1;
    }
    if (r->cfg->state_dir[0] != '\0') {
        enum churn_err rc = churn_snapshot_load(r->cfg->state_dir, p->partition,
                                                r->cfg, &x.eng, &meta, &err);
        if (rc == CHURN_OK) {
            from_snapshot = true;
            p->seq = meta.seq;
            p->changelog_at = meta.changelog_at;
            for (size_t i = 0; i < meta.topic_cnt; i++) {
                int idx = topic_index(r->cfg, meta.topics[i]);
                if (idx >= 0) {
                    x.offsets[idx] = meta.offsets[i];
                }
            }
            x.have_offsets = true;
            from = meta.changelog_at + 1;
            churn_log(CHURN_LOG_INFO,
                      "partition %d: snapshot %llu loaded (changelog offset "
                      "%lld)",
                      (int)p->partition, (unsigned long long)meta.seq,
                      (long long)meta.changelog_at);
        } else if (rc == CHURN_EFORMAT) {
            r->restore_refused++;
            churn_log(CHURN_LOG_ERROR, "partition %d: %s; rebuilding",
                      (int)p->partition, err.msg);
        } else {
            churn_log(CHURN_LOG_INFO, "partition %d: no snapshot (%s)",
                      (int)p->partition, err.msg);
        }
    }
    if (!from_snapshot) {
        x.eng = churn_engine_new(r->cfg, NULL, NULL, &err);
        if (x.eng == NULL) {
            churn_log(CHURN_LOG_ERROR, "partition %d: %s", (int)p->partition,
                      err.msg);
            return;
        }
    }
    if (r->state_rkt != NULL) {
        read_changelog(&x, from);
    }
    if (x.failed && churn__signals() > 0) {
        churn_log(CHURN_LOG_INFO,
                  "partition %d: restore interrupted by shutdown",
                  (int)p->partition);
        churn_engine_free(x.eng);
    } else if (x.failed) {
        r->restore_refused++;
        churn_log(CHURN_LOG_ERROR,
                  "partition %d: changelog refused: %s; rebuilding from the "
                  "input",
                  (int)p->partition, x.why);
        churn_engine_free(x.eng);
    } else if (x.have_offsets) {
        if (r->state_rkt != NULL) {
            churn_engine_track_changes(x.eng, true);
        }
        churn_engine_free(p->eng);
        p->eng = x.eng;
        memcpy(p->restored, x.offsets, sizeof(p->restored));
        if (x.applied > 0) {
            r->restored_changelog++;
        } else {
            r->restored_snapshot++;
        }
        struct churn_engine_stats s;
        churn_engine_get_stats(p->eng, &s);
        churn_log(CHURN_LOG_INFO,
                  "partition %d: state restored (%s%s): %llu accounts, "
                  "checkpoint %llu",
                  (int)p->partition, from_snapshot ? "snapshot" : "changelog",
                  from_snapshot && x.applied > 0 ? " + changelog" : "",
                  (unsigned long long)s.accounts, (unsigned long long)p->seq);
    } else {
        churn_engine_free(x.eng); /* nothing found: the fresh engine stays */
    }
    /* Records of a cut-short checkpoint: the next checkpoint overwrites
     * them (with the account, or its removal). */
    for (size_t i = 0; !x.failed && i < x.rec_cnt; i++) {
        churn_engine_touch(
            p->eng, (struct churn_str){ x.recs[i].key, x.recs[i].klen }, NULL);
    }
    recs_clear(&x);
    free(x.recs);
    free(x.cp.p);
}
