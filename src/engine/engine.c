/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The engine's input side: decode, dedupe, lateness, the usage path, the
 * reorder heap for order-sensitive events, and the watermark that drives
 * boundary evaluation (see internal.h for the invariants).
 */
#include "engine_int.h"
#include "metrics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- time ---- */

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;

    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

int32_t churn__bucket_of(const struct churn_engine *eng, int64_t ts_ms)
{
    return (int32_t)floor_div(ts_ms + eng->cfg.window_utc_offset_ms,
                              eng->cfg.window_bucket_ms);
}

int64_t churn__bucket_start(const struct churn_engine *eng, int32_t b)
{
    return (int64_t)b * eng->cfg.window_bucket_ms -
           eng->cfg.window_utc_offset_ms;
}

/* ---- dedupe ---- */

static bool dd_contains(const struct churn__dedupe *d, uint64_t h)
{
    if (d->set == NULL) {
        return false;
    }
    for (size_t i = (size_t)h & d->set_mask;; i = (i + 1) & d->set_mask) {
        if (d->set[i] == 0) {
            return false;
        }
        if (d->set[i] == h) {
            return true;
        }
    }
}

static void dd_set_remove(struct churn__dedupe *d, uint64_t h)
{
    size_t i = (size_t)h & d->set_mask;

    while (d->set[i] != h) {
        if (d->set[i] == 0) {
            return;
        }
        i = (i + 1) & d->set_mask;
    }
    d->set[i] = 0;
    d->set_cnt--;
    for (size_t j = (i + 1) & d->set_mask; d->set[j] != 0;
         j = (j + 1) & d->set_mask) {
        size_t home = (size_t)d->set[j] & d->set_mask;
        bool in_range =
            (i <= j) ? (home > i && home <= j) : (home > i || home <= j);
        if (!in_range) {
            d->set[i] = d->set[j];
            d->set[j] = 0;
            i = j;
        }
    }
}

static bool dd_set_grow(struct churn__dedupe *d)
{
    size_t ncap = d->set ? (d->set_mask + 1) * 2 : 1024;
    uint64_t *ns = calloc(ncap, sizeof(*ns));

    if (ns == NULL) {
        return false;
    }
    if (d->set != NULL) {
        for (size_t i = 0; i <= d->set_mask; i++) {
            uint64_t h = d->set[i];
            if (h == 0) {
                continue;
            }
            size_t j = (size_t)h & (ncap - 1);
            while (ns[j] != 0) {
                j = (j + 1) & (ncap - 1);
            }
            ns[j] = h;
        }
        free(d->set);
    }
    d->set = ns;
    d->set_mask = ncap - 1;
    return true;
}

static void dd_pop(struct churn__dedupe *d)
{
    dd_set_remove(d, d->fifo[d->fifo_head].hash);
    d->fifo_head = (d->fifo_head + 1) % d->fifo_cap;
    d->fifo_cnt--;
}

/* Returns false on allocation failure. */
static bool
dd_insert(struct churn__dedupe *d, uint64_t h, int64_t ts_ms, uint64_t *dropped)
{
    if (d->capacity == 0) {
        return true;
    }
    if (d->fifo_cnt == d->capacity) {
        dd_pop(d);
        (*dropped)++;
    }
    if (d->fifo_cnt == d->fifo_cap) {
        size_t ncap = d->fifo_cap ? d->fifo_cap * 2 : 1024;
        if (ncap > d->capacity) {
            ncap = d->capacity;
        }
        struct dd_entry *nf = malloc(ncap * sizeof(*nf));
        if (nf == NULL) {
            return false;
        }
        for (size_t k = 0; k < d->fifo_cnt; k++) {
            nf[k] = d->fifo[(d->fifo_head + k) % d->fifo_cap];
        }
        free(d->fifo);
        d->fifo = nf;
        d->fifo_cap = ncap;
        d->fifo_head = 0;
    }
    if ((d->set_cnt + 1) * 2 > (d->set ? d->set_mask + 1 : 0)) {
        if (!dd_set_grow(d)) {
            return false;
        }
    }
    size_t i = (size_t)h & d->set_mask;
    while (d->set[i] != 0) {
        i = (i + 1) & d->set_mask;
    }
    d->set[i] = h;
    d->set_cnt++;
    d->fifo[(d->fifo_head + d->fifo_cnt) % d->fifo_cap] =
        (struct dd_entry){ h, ts_ms };
    d->fifo_cnt++;
    return true;
}

static void dd_expire(struct churn__dedupe *d, int64_t cutoff_ms)
{
    while (d->fifo_cnt > 0 && d->fifo[d->fifo_head].ts_ms < cutoff_ms) {
        dd_pop(d);
    }
}

static void dd_release(struct churn__dedupe *d)
{
    free(d->set);
    free(d->fifo);
    memset(d, 0, sizeof(*d));
}

static uint64_t id_hash(struct churn_str id)
{
    uint64_t h = churn__hash(id.ptr, id.len);

    return h ? h : 1;
}

bool churn__dedupe_add(struct churn_engine *eng, uint64_t hash, int64_t ts_ms)
{
    return dd_insert(&eng->dedupe, hash, ts_ms, &eng->stats.dedupe_dropped);
}

void churn__dedupe_clear(struct churn_engine *eng)
{
    size_t capacity = eng->dedupe.capacity;

    dd_release(&eng->dedupe);
    eng->dedupe.capacity = capacity;
}

/* ---- reorder heap: (ts, event_id, seq) order ---- */

static int pending_cmp(const struct churn__pending *a,
                       const struct churn__pending *b)
{
    if (a->ev.ts_ms != b->ev.ts_ms) {
        return a->ev.ts_ms < b->ev.ts_ms ? -1 : 1;
    }
    size_t n = a->ev.event_id.len < b->ev.event_id.len ? a->ev.event_id.len
                                                       : b->ev.event_id.len;
    int c = memcmp(a->ev.event_id.ptr, b->ev.event_id.ptr, n);
    if (c != 0) {
        return c;
    }
    if (a->ev.event_id.len != b->ev.event_id.len) {
        return a->ev.event_id.len < b->ev.event_id.len ? -1 : 1;
    }
    return a->seq < b->seq ? -1 : (a->seq > b->seq);
}

static void heap_swap(struct churn__heap *h, size_t i, size_t j)
{
    struct churn__pending t = h->v[i];

    h->v[i] = h->v[j];
    h->v[j] = t;
}

static bool heap_push(struct churn__heap *h, struct churn__pending *p)
{
    if (h->cnt == h->cap) {
        size_t ncap = h->cap ? h->cap * 2 : 64;
        struct churn__pending *nv = realloc(h->v, ncap * sizeof(*nv));
        if (nv == NULL) {
            return false;
        }
        h->v = nv;
        h->cap = ncap;
    }
    size_t i = h->cnt++;
    h->v[i] = *p;
    while (i > 0) {
        size_t up = (i - 1) / 2;
        if (pending_cmp(&h->v[i], &h->v[up]) >= 0) {
            break;
        }
        heap_swap(h, i, up);
        i = up;
    }
    return true;
}

/* Halves the vector when it is mostly empty: a burst of order-sensitive
 * events (every account created in the same hour) must not stay resident. */
static void heap_shrink(struct churn__heap *h)
{
    if (h->cap > 1024 && h->cnt < h->cap / 4) {
        struct churn__pending *nv = realloc(h->v, h->cap / 2 * sizeof(*nv));
        if (nv != NULL) {
            h->v = nv;
            h->cap /= 2;
        }
    }
}

static struct churn__pending heap_pop(struct churn__heap *h)
{
    struct churn__pending top = h->v[0];
    size_t i = 0;

    h->v[0] = h->v[--h->cnt];
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < h->cnt && pending_cmp(&h->v[l], &h->v[m]) < 0) {
            m = l;
        }
        if (r < h->cnt && pending_cmp(&h->v[r], &h->v[m]) < 0) {
            m = r;
        }
        if (m == i) {
            break;
        }
        heap_swap(h, i, m);
        i = m;
    }
    heap_shrink(h);
    return top;
}

/* Gives a pending event's bytes back; frees its chunk when it was the
 * last one there (the tail is kept and reused once empty). */
static void pending_unref(struct churn__heap *h, struct churn__pending *p)
{
    struct churn__pending_chunk *c = p->chunk;

    if (c == NULL) {
        return;
    }
    p->chunk = NULL;
    if (--c->live > 0) {
        return;
    }
    if (c == h->tail) {
        c->used = 0;
    } else {
        free(c);
    }
}

/* Room for n bytes at the tail, starting a new chunk when it is full. */
static struct churn__pending_chunk *pending_room(struct churn__heap *h,
                                                 size_t n)
{
    struct churn__pending_chunk *c = h->tail;

    if (c != NULL && c->size - c->used >= n) {
        return c;
    }
    size_t size = n > CHURN__PENDING_CHUNK ? n : CHURN__PENDING_CHUNK;
    struct churn__pending_chunk *nc = malloc(sizeof(*nc) + size);
    if (nc == NULL) {
        return NULL;
    }
    nc->used = 0;
    nc->live = 0;
    nc->size = size;
    if (c != NULL && c->live == 0) {
        free(c);
    }
    h->tail = nc;
    return nc;
}

/* Deep-copies ev's strings into the chunks; p holds a reference. */
static bool pending_make(struct churn__heap *h,
                         struct churn__pending *p,
                         const struct churn_event *ev,
                         uint64_t seq)
{
    struct churn_str *strs[] = {
        &p->ev.event_id,     &p->ev.account_id, &p->ev.user_id, &p->ev.ip,
        &p->ev.plan,         &p->ev.currency,   &p->ev.reason,  &p->ev.feature,
        &p->ev.decline_code, &p->ev.priority,
    };
    struct churn__pending_chunk *c;
    size_t total = 0;
    char *w;

    p->ev = *ev;
    p->seq = seq;
    p->chunk = NULL;
    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
        total += strs[i]->len;
    }
    c = pending_room(h, total ? total : 1);
    if (c == NULL) {
        return false;
    }
    w = c->data + c->used;
    c->used += total;
    c->live++;
    p->chunk = c;
    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
        if (strs[i]->len > 0) {
            memcpy(w, strs[i]->ptr, strs[i]->len);
        }
        strs[i]->ptr = w;
        w += strs[i]->len;
    }
    return true;
}

bool churn__pending_add(struct churn_engine *eng,
                        const struct churn_event *ev,
                        uint64_t seq)
{
    struct churn__pending p;

    if (!pending_make(&eng->pending, &p, ev, seq)) {
        return false;
    }
    if (!heap_push(&eng->pending, &p)) {
        pending_unref(&eng->pending, &p);
        return false;
    }
    return true;
}

void churn__pending_clear(struct churn_engine *eng)
{
    for (size_t i = 0; i < eng->pending.cnt; i++) {
        pending_unref(&eng->pending, &eng->pending.v[i]);
    }
    eng->pending.cnt = 0;
}

static void on_evict(void *ctx, struct churn__account *acc)
{
    churn__metrics_evict(ctx, acc);
    churn__state_removed(ctx, acc);
}

/* ---- lifecycle ---- */

struct churn_engine *churn_engine_new(const struct churn_config *cfg,
                                      churn_geo_fn geo,
                                      void *geo_ctx,
                                      struct churn_error *err)
{
    struct churn_engine *eng;

    if (churn_config_validate(cfg, err) != CHURN_OK) {
        return NULL;
    }
    eng = calloc(1, sizeof(*eng));
    if (eng == NULL) {
        churn_error_set(err, CHURN_ENOMEM, "cannot allocate the engine");
        return NULL;
    }
    eng->cfg = *cfg;
    eng->cfg.kafka_props = NULL;
    eng->cfg.kafka_prop_cnt = 0;
    eng->geo = geo;
    eng->geo_ctx = geo_ctx;
    /* The ring keeps window.buckets completed buckets plus the bucket in
     * progress and those the allowed lateness can still reach; with fewer,
     * the oldest baseline bucket would roll off before it is judged. */
    eng->ring_len = cfg->window_buckets + 1 +
                    (uint32_t)((cfg->input_allowed_lateness_ms +
                                cfg->window_bucket_ms - 1) /
                               cfg->window_bucket_ms);
    eng->week_n = (uint32_t)(7 * CHURN__DAY_MS / cfg->window_bucket_ms);
    if (eng->week_n == 0) {
        eng->week_n = 1;
    }
    eng->max_ts = INT64_MIN;
    eng->evaluated = INT32_MIN;
    eng->stats.watermark_ms = INT64_MIN;
    eng->dedupe.capacity = cfg->input_dedupe_capacity;
    for (size_t i = 0; i < cfg->key_feature_cnt; i++) {
        eng->key_feature_hash[i] =
            churn__hash(cfg->key_features[i], strlen(cfg->key_features[i]));
    }
    eng->dec = churn_decoder_new(cfg->input_max_event_size);
    eng->accounts = churn__table_new(eng->ring_len, cfg->state_max_accounts);
    eng->cohort = calloc(CHURN__INTERN_MAX, sizeof(*eng->cohort));
    eng->cohort_next = calloc(CHURN__INTERN_MAX, sizeof(*eng->cohort_next));
    eng->metrics = churn__metrics_new(eng);
    if (eng->dec == NULL || eng->accounts == NULL || eng->cohort == NULL ||
        eng->cohort_next == NULL || eng->metrics == NULL) {
        churn_engine_free(eng);
        churn_error_set(err, CHURN_ENOMEM, "cannot allocate the engine");
        return NULL;
    }
    churn__table_on_evict(eng->accounts, on_evict, eng);
    return eng;
}

void churn_engine_set_geo(struct churn_engine *eng,
                          churn_geo_fn geo,
                          void *geo_ctx)
{
    eng->geo = geo;
    eng->geo_ctx = geo_ctx;
}

void churn_engine_free(struct churn_engine *eng)
{
    if (eng == NULL) {
        return;
    }
    churn_decoder_free(eng->dec);
    churn__table_free(eng->accounts);
    dd_release(&eng->dedupe);
    churn__pending_clear(eng);
    free(eng->pending.tail);
    free(eng->pending.v);
    churn__intern_release(&eng->intern);
    churn__ww_release(&eng->removed);
    churn__outq_release(&eng->out);
    churn__jw_release(&eng->jw);
    free(eng->cohort);
    free(eng->cohort_next);
    churn__metrics_free(eng->metrics);
    free(eng->verify_copy);
    free(eng);
}

const char *churn_engine_topic_name(const struct churn_engine *eng,
                                    enum churn_topic t)
{
    switch (t) {
    case CHURN_TOPIC_SIGNALS:
        return eng->cfg.output_signals;
    case CHURN_TOPIC_ALERTS:
        return eng->cfg.output_alerts;
    case CHURN_TOPIC_METRICS:
        return eng->cfg.output_metrics;
    case CHURN_TOPIC_DLQ:
    case CHURN_TOPIC__COUNT:
        break;
    }
    return eng->cfg.output_dlq;
}

size_t churn_engine_account_bytes(const struct churn_engine *eng)
{
    return churn__table_account_bytes(eng->accounts);
}

size_t churn_engine_outputs(const struct churn_engine *eng,
                            const struct churn_output **out)
{
    *out = eng->out.v;
    return eng->out.cnt;
}

void churn_engine_outputs_clear(struct churn_engine *eng)
{
    churn__outq_clear(&eng->out);
}

void churn_engine_set_output_fn(struct churn_engine *eng,
                                churn_output_fn fn,
                                void *ctx)
{
    eng->sink = fn;
    eng->sink_ctx = ctx;
}

/* Hands a full batch to the sink; called only where no output view is
 * held (between accounts of a boundary). */
static void sink_maybe(struct churn_engine *eng)
{
    if (eng->sink != NULL && eng->out.cnt >= CHURN_OUTPUT_BATCH &&
        !eng->out.oom) {
        eng->sink(eng->sink_ctx, eng->out.v, eng->out.cnt);
        churn__outq_clear(&eng->out);
    }
}

void churn_engine_get_stats(const struct churn_engine *eng,
                            struct churn_engine_stats *out)
{
    *out = eng->stats;
    out->accounts = churn__table_count(eng->accounts);
    for (int r = 0; r < CHURN_RULE__COUNT; r++) {
        out->alerts_open_by_rule[r] =
            out->alerts_by_rule[r] - out->alerts_resolved_by_rule[r] -
            churn__metrics_evicted_open(eng, (enum churn_rule)r);
    }
}

/* ---- dead letters ---- */

static void dead_letter(struct churn_engine *eng,
                        const char *buf,
                        size_t len,
                        const struct churn_source *src,
                        enum churn_reason reason,
                        const char *detail,
                        struct churn_str key,
                        int64_t event_ms,
                        int64_t by_ms)
{
    struct churn__outq *q = &eng->out;
    struct churn_output *o = churn__outq_push(q);
    const char *p;

    eng->stats.dead_letters++;
    eng->stats.by_reason[reason]++;
    if (o == NULL) {
        return;
    }
    o->topic = CHURN_TOPIC_DLQ;
    o->event_ms = event_ms;
    if (src != NULL && src->key.len > 0) {
        key = src->key;
    }
    p = churn__outq_copy(q, key.ptr, key.len);
    o->key = (struct churn_str){ p ? p : "", p ? key.len : 0 };
    p = churn__outq_copy(q, buf, len);
    o->value = (struct churn_str){ p ? p : "", p ? len : 0 };
    churn__outq_header(q, o, "churnd.reason",
                       (struct churn_str){ churn_reason_name(reason),
                                           strlen(churn_reason_name(reason)) });
    churn__outq_header(q, o, "churnd.detail",
                       (struct churn_str){ detail, strlen(detail) });
    if (src == NULL) {
        return;
    }
    const char *topic = src->topic ? src->topic : "";
    if (src->partition < 0) {
        churn__outq_header(q, o, "churnd.source.file",
                           (struct churn_str){ topic, strlen(topic) });
        churn__jw_reset(&eng->jw);
        churn__jw_int(&eng->jw, NULL, src->offset);
        churn__outq_header(q, o, "churnd.source.line",
                           (struct churn_str){ eng->jw.p, eng->jw.len });
    } else {
        churn__outq_header(q, o, "churnd.source.topic",
                           (struct churn_str){ topic, strlen(topic) });
        int64_t nums[3] = { src->partition, src->offset, src->timestamp_ms };
        const char *names[3] = { "churnd.source.partition",
                                 "churnd.source.offset",
                                 "churnd.source.timestamp" };
        for (int i = 0; i < 3; i++) {
            churn__jw_reset(&eng->jw);
            churn__jw_int(&eng->jw, NULL, nums[i]);
            churn__outq_header(q, o, names[i],
                               (struct churn_str){ eng->jw.p, eng->jw.len });
        }
    }
    if (reason == CHURN_REASON_LATE || reason == CHURN_REASON_FUTURE) {
        churn__jw_reset(&eng->jw);
        churn__jw_int(&eng->jw, NULL, by_ms);
        churn__outq_header(q, o,
                           reason == CHURN_REASON_LATE ? "churnd.late_by_ms"
                                                       : "churnd.future_by_ms",
                           (struct churn_str){ eng->jw.p, eng->jw.len });
    }
}

/* ---- usage path: commutative updates only ---- */

static uint32_t sat_add32(uint32_t a, uint64_t b)
{
    uint64_t s = (uint64_t)a + b;

    return s > UINT32_MAX ? UINT32_MAX : (uint32_t)s;
}

static uint16_t sat_add16(uint16_t a, uint64_t b)
{
    uint64_t s = (uint64_t)a + b;

    return s > UINT16_MAX ? UINT16_MAX : (uint16_t)s;
}

static uint16_t feature_bit(const struct churn_engine *eng,
                            struct churn_str feature)
{
    uint64_t h = churn__hash(feature.ptr, feature.len);
    size_t k = eng->cfg.key_feature_cnt;

    for (size_t i = 0; i < k; i++) {
        if (eng->key_feature_hash[i] == h &&
            churn_str_eq_cstr(feature, eng->cfg.key_features[i])) {
            return (uint16_t)(1u << i);
        }
    }
    return (uint16_t)(1u << (k + h % (CHURN__FEATURE_BITS - k)));
}

static void apply_usage(struct churn_engine *eng,
                        struct churn__account *acc,
                        const struct churn_event *ev,
                        int32_t b)
{
    struct churn__ring_view v = churn__ring(acc, eng->ring_len);
    uint32_t s;

    /* Cannot happen for an on-time event (the ring spans the lateness);
     * guarded so a bucket never lands in a newer bucket's slot. */
    if (acc->head_bucket != INT32_MIN &&
        (int64_t)acc->head_bucket - b >= (int64_t)eng->ring_len) {
        return;
    }
    s = churn__ring_touch(acc, eng->ring_len, eng->week_n, b);

    v.events[s] = sat_add32(v.events[s], 1);
    if (ev->has & CHURN_F_USER_ID) {
        v.users[s] |=
            1u << (churn__hash(ev->user_id.ptr, ev->user_id.len) % 32u);
    }
    switch (ev->type) {
    case CHURN_EV_USAGE_LOGIN:
        v.logins[s] = sat_add16(v.logins[s], 1);
        break;
    case CHURN_EV_USAGE_SESSION:
        v.session_min[s] =
            sat_add16(v.session_min[s], (uint64_t)(ev->duration_s + 59) / 60);
        break;
    case CHURN_EV_USAGE_API_CALL:
        v.api_calls[s] = sat_add32(v.api_calls[s], (uint64_t)ev->count);
        break;
    default:
        break;
    }
    if (ev->has & CHURN_F_FEATURE) {
        v.features[s] |= feature_bit(eng, ev->feature);
    }
}

static void apply_geo(struct churn_engine *eng,
                      struct churn__account *acc,
                      const struct churn_event *ev)
{
    struct churn_geo g;

    if (!(ev->has & CHURN_F_IP) || eng->geo == NULL) {
        return;
    }
    memset(&g, 0, sizeof(g));
    if (!eng->geo(eng->geo_ctx, ev->ip, &g) || g.country[0] == '\0') {
        eng->stats.geo_misses++;
        return;
    }
    /* Keep the country of the newest event; on a tie the larger code, so
     * the result does not depend on arrival order. */
    if (ev->ts_ms > acc->geo_ms ||
        (ev->ts_ms == acc->geo_ms && memcmp(g.country, acc->country, 2) > 0)) {
        acc->geo_ms = ev->ts_ms;
        memcpy(acc->country, g.country, 2);
        memcpy(acc->region, g.region, 3);
    }
    churn__metrics_geo(eng, acc, ev->ts_ms, g.country);
}

/* ---- boundaries ---- */

static bool is_closed(const struct churn__account *acc)
{
    return acc->status == CHURN__ST_CANCELED ||
           acc->status == CHURN__ST_EXPIRED;
}

/* Judges one account at a boundary: figures, its share of the cohorts,
 * rules and signal; returns the boundary it is next due at. */
static int32_t evaluate_account(struct churn_engine *eng,
                                struct churn__account *acc,
                                int32_t boundary,
                                int64_t at_ms,
                                bool *gathered)
{
    struct churn__figures f;

    *gathered = false;
    if (acc->first_ms >= at_ms) {
        return boundary + 1;
    }
    if (is_closed(acc)) {
        /* only a fact (an upsert, which marks it due) reopens it */
        return INT32_MAX;
    }
    acc->changed = 1;
    churn__figures_compute(eng, acc, boundary, &f);
    /* the norm is set by established paying accounts: a trial is
     * judged against them, never against other trials */
    if (!f.insufficient && f.base_daily_mean > 0 &&
        acc->status != CHURN__ST_TRIALING) {
        churn__cohort_add(&eng->cohort_next[acc->plan],
                          acc->seats > 0 ? acc->seats : 1, f.base_daily_mean);
        *gathered = true;
    }
    churn__detect_boundary(eng, acc, &f, at_ms);
    churn__signal_maybe(eng, acc, &f, at_ms);
    return churn__account_next_due(eng, acc, &f, boundary);
}

/* VERIFY: evaluates an account the due walk would have skipped and counts
 * it in due_misses when that changed anything. */
static void verify_skip(struct churn_engine *eng,
                        struct churn__account *acc,
                        int32_t boundary,
                        int64_t at_ms)
{
    size_t bytes = churn__table_account_bytes(eng->accounts);
    size_t outs = eng->out.cnt;
    bool gathered;

    if (eng->verify_copy == NULL) {
        eng->verify_copy = malloc(bytes);
        if (eng->verify_copy == NULL) {
            eng->out.oom = true;
            return;
        }
    }
    memcpy(eng->verify_copy, acc, bytes);
    (void)evaluate_account(eng, acc, boundary, at_ms, &gathered);
    /* evaluation marks it for the changelog; that alone is no change */
    ((struct churn__account *)(void *)eng->verify_copy)->changed = acc->changed;
    if (gathered || eng->out.cnt != outs ||
        memcmp(eng->verify_copy, acc, bytes) != 0) {
        eng->due_misses++;
    }
}

static void evaluate_boundary(struct churn_engine *eng, int32_t boundary)
{
    int64_t at_ms = churn__bucket_start(eng, boundary);
    bool all = eng->eval_mode != CHURN__EVAL_DUE;
    struct churn__due_walk w;
    struct churn__account *acc;
    size_t walked = 0;
    bool gathered;

    /* The cohorts gathered at the previous boundary score this one's new
     * accounts; this pass gathers the next ones. Settled accounts have no
     * baseline, so skipping them leaves the cohorts as they would be. */
    struct churn__cohort *t = eng->cohort;
    eng->cohort = eng->cohort_next;
    eng->cohort_next = t;
    memset(eng->cohort_next, 0, CHURN__INTERN_MAX * sizeof(*t));
    /* The table walks its accounts in (hash, id) order, the order of the
     * outputs of one boundary; only those due, unless a test asks for all. */
    churn__table_due_begin(eng->accounts, &w, all ? INT32_MAX : boundary);
    while ((acc = churn__table_due_next(eng->accounts, &w)) != NULL) {
        walked++;
        if (churn__table_due_get(eng->accounts, &w) > boundary) {
            eng->due_skipped++;
            if (eng->eval_mode == CHURN__EVAL_VERIFY) {
                verify_skip(eng, acc, boundary, at_ms);
                sink_maybe(eng);
            }
            if (eng->eval_mode != CHURN__EVAL_FULL) {
                continue;
            }
        }
        eng->due_evaluated++;
        churn__table_due_set(eng->accounts, &w,
                             evaluate_account(eng, acc, boundary, at_ms,
                                              &gathered));
        sink_maybe(eng);
    }
    if (!all) {
        eng->due_skipped += churn__table_count(eng->accounts) - walked;
    }
}

static void
release_until(struct churn_engine *eng, int64_t limit_ms, bool inclusive)
{
    while (eng->pending.cnt > 0) {
        const struct churn__pending *top = &eng->pending.v[0];
        if (top->ev.ts_ms > limit_ms ||
            (!inclusive && top->ev.ts_ms == limit_ms)) {
            break;
        }
        struct churn__pending p = heap_pop(&eng->pending);
        struct churn__account *acc;
        bool created;

        acc = churn__table_upsert(
            eng->accounts, p.ev.account_id,
            churn__hash(p.ev.account_id.ptr, p.ev.account_id.len), p.ev.ts_ms,
            &created, &eng->stats.evicted_full);
        if (acc != NULL) {
            struct churn__mview mv;
            if (created && p.ev.ts_ms < acc->first_ms) {
                acc->first_ms = p.ev.ts_ms;
            }
            churn__metrics_before(eng, acc, p.ev.ts_ms, &mv);
            churn__facts_apply(eng, acc, &p.ev);
            churn__metrics_after(eng, acc, p.ev.ts_ms, &mv);
        } else {
            eng->out.oom = true;
        }
        pending_unref(&eng->pending, &p);
    }
}

/* Moves the watermark to wm: releases waiting events and evaluates every
 * boundary passed (buckets, then metrics periods ending at the same time),
 * in event-time order. */
static void advance_to(struct churn_engine *eng, int64_t wm)
{
    int32_t target;

    if (wm <= eng->stats.watermark_ms) {
        return;
    }
    eng->stats.watermark_ms = wm;
    target = churn__bucket_of(eng, wm);
    if (eng->evaluated == INT32_MIN) {
        eng->evaluated = target;
    }
    /* A jump over more than the ring leaves nothing to judge in between;
     * evaluating each skipped bucket would only cost time. */
    if ((int64_t)target - eng->evaluated > (int64_t)eng->ring_len + 1) {
        eng->evaluated = target - (int32_t)eng->ring_len - 1;
    }
    churn__metrics_begin(eng, wm);
    for (;;) {
        int64_t period_end = churn__metrics_due(eng, wm);
        if (eng->evaluated < target &&
            churn__bucket_start(eng, eng->evaluated + 1) <= period_end) {
            int32_t b = eng->evaluated + 1;
            int64_t start = churn__bucket_start(eng, b);
            release_until(eng, start, false);
            evaluate_boundary(eng, b);
            eng->evaluated = b;
            /* Idleness is judged per bucket too: a scan of the whole table
             * on every watermark step would cost more than the events. */
            if (eng->cfg.state_idle_evict_ms > 0) {
                eng->stats.evicted_idle += churn__table_evict_idle(
                    eng->accounts, start - eng->cfg.state_idle_evict_ms);
            }
        } else if (period_end != INT64_MAX) {
            release_until(eng, period_end, false);
            churn__metrics_close(eng, period_end);
        } else {
            break;
        }
    }
    release_until(eng, wm, false);
    if (eng->cfg.input_dedupe_horizon_ms > 0) {
        dd_expire(&eng->dedupe, wm - eng->cfg.input_dedupe_horizon_ms);
    }
}

enum churn_err churn_engine_advance(struct churn_engine *eng,
                                    int64_t watermark_ms,
                                    struct churn_error *err)
{
    /* No event time lies outside the bounds, so moving past them means
     * nothing more; clamping keeps the bucket arithmetic from overflowing
     * (INT64_MAX plus a UTC offset, found by fuzz_engine). */
    if (watermark_ms > CHURN_TS_MAX_MS) {
        watermark_ms = CHURN_TS_MAX_MS;
    } else if (watermark_ms < CHURN_TS_MIN_MS) {
        watermark_ms = CHURN_TS_MIN_MS;
    }
    advance_to(eng, watermark_ms);
    if (eng->out.oom) {
        return churn_error_set(err, CHURN_ENOMEM, "out of memory");
    }
    return CHURN_OK;
}

/* ---- input ---- */

/*
 * Dead-letters a decoded event as late or future. Pre-decoded input
 * (churn_engine_apply) has no bytes of its own: its envelope is re-encoded
 * so the dead letter still identifies the event.
 */
static enum churn_err reject(struct churn_engine *eng,
                             const struct churn_event *ev,
                             const char *raw,
                             size_t raw_len,
                             const struct churn_source *src,
                             enum churn_reason reason,
                             const char *detail,
                             int64_t by_ms,
                             struct churn_error *err)
{
    if (raw == NULL) {
        struct churn__jw *w = &eng->jw;
        churn__jw_reset(w);
        churn__jw_open(w, NULL);
        churn__jw_str(w, "event_id", ev->event_id);
        churn__jw_cstr(w, "type", churn_event_type_name(ev->type));
        churn__jw_str(w, "account_id", ev->account_id);
        churn__jw_int(w, "ts", ev->ts_ms);
        churn__jw_close(w);
        if (w->oom) {
            return churn_error_set(err, CHURN_ENOMEM, "out of memory");
        }
        /* dead_letter() reuses the writer: copy the bytes out first */
        raw = churn__outq_copy(&eng->out, w->p, w->len);
        raw_len = w->len;
        if (raw == NULL) {
            return churn_error_set(err, CHURN_ENOMEM, "out of memory");
        }
    }
    dead_letter(eng, raw, raw_len, src, reason, detail, ev->account_id,
                ev->ts_ms, by_ms);
    return eng->out.oom
               ? churn_error_set(err, CHURN_ENOMEM, "outputs: out of memory")
               : CHURN_OK;
}

/*
 * The future bound (input.max_future, input.max_jump). An event far ahead
 * of real time would move the watermark there and make every later event
 * late, so it is dead-lettered instead. The reference comes from the input,
 * never from a clock, so the engine stays deterministic: the Kafka message
 * timestamp (CreateTime or LogAppendTime) when the input has one, as an
 * event cannot have happened long after it was produced; else (replay, or
 * a message without a timestamp) the newest event time accepted so far,
 * with the looser input.max_jump, since a replay may legitimately resume
 * after a quiet period. The first event without a timestamp has no
 * reference and is accepted. Writes the detail and how far ahead it is.
 */
static bool is_future(const struct churn_engine *eng,
                      const struct churn_event *ev,
                      const struct churn_source *src,
                      char *detail,
                      size_t detail_len,
                      int64_t *ahead_ms)
{
    char a[CHURN_TS_BUF_LEN], b[CHURN_TS_BUF_LEN];
    bool kafka = src != NULL && src->timestamp_ms > 0;
    int64_t ref = kafka ? src->timestamp_ms : eng->max_ts;
    int64_t bound =
        kafka ? eng->cfg.input_max_future_ms : eng->cfg.input_max_jump_ms;

    /* Both are >= 0 here, so the difference cannot overflow. */
    if (bound <= 0 || ref == INT64_MIN || ev->ts_ms - ref <= bound) {
        return false;
    }
    *ahead_ms = ev->ts_ms - ref;
    snprintf(detail, detail_len,
             "event time %s is ahead of the %s %s by more "
             "than %s",
             churn_ts_format(ev->ts_ms, a),
             kafka ? "message timestamp" : "newest event time",
             churn_ts_format(ref, b),
             kafka ? "input.max_future" : "input.max_jump");
    return true;
}

static enum churn_err accept_event(struct churn_engine *eng,
                                   const struct churn_event *ev,
                                   const char *raw,
                                   size_t raw_len,
                                   const struct churn_source *src,
                                   struct churn_error *err)
{
    uint64_t idh = id_hash(ev->event_id);
    struct churn__account *acc;
    char detail[160];
    int64_t ahead;
    bool created;
    int32_t b;

    if (eng->dedupe.capacity > 0 && dd_contains(&eng->dedupe, idh)) {
        eng->stats.duplicates++;
        return CHURN_OK;
    }
    if (eng->stats.watermark_ms != INT64_MIN &&
        ev->ts_ms < eng->stats.watermark_ms) {
        char wm[CHURN_TS_BUF_LEN];

        snprintf(detail, sizeof(detail), "event time behind the watermark %s",
                 churn_ts_format(eng->stats.watermark_ms, wm));
        return reject(eng, ev, raw, raw_len, src, CHURN_REASON_LATE, detail,
                      eng->stats.watermark_ms - ev->ts_ms, err);
    }
    if (is_future(eng, ev, src, detail, sizeof(detail), &ahead)) {
        return reject(eng, ev, raw, raw_len, src, CHURN_REASON_FUTURE, detail,
                      ahead, err);
    }
    if (!dd_insert(&eng->dedupe, idh, ev->ts_ms, &eng->stats.dedupe_dropped)) {
        return churn_error_set(err, CHURN_ENOMEM, "dedupe: out of memory");
    }
    eng->stats.accepted++;
    /* Move the watermark first: the boundaries it passes are judged on the
     * events before this one, whatever this one's bucket. */
    if (ev->ts_ms > eng->max_ts) {
        eng->max_ts = ev->ts_ms;
        advance_to(eng, ev->ts_ms - eng->cfg.input_allowed_lateness_ms);
    }
    acc =
        churn__table_upsert(eng->accounts, ev->account_id,
                            churn__hash(ev->account_id.ptr, ev->account_id.len),
                            ev->ts_ms, &created, &eng->stats.evicted_full);
    if (acc == NULL) {
        return churn_error_set(err, CHURN_ENOMEM, "accounts: out of memory");
    }
    if (ev->ts_ms < acc->first_ms) {
        acc->first_ms = ev->ts_ms;
    }
    if (ev->ts_ms > acc->last_ms) {
        acc->last_ms = ev->ts_ms;
    }
    b = churn__bucket_of(eng, ev->ts_ms);
    if (b < acc->first_bucket) {
        acc->first_bucket = b;
    }
    apply_geo(eng, acc, ev);
    if (churn_event_family(ev->type) == CHURN_FAM_USAGE) {
        apply_usage(eng, acc, ev, b);
    } else {
        if (!churn__pending_add(eng, ev, eng->seq++)) {
            return churn_error_set(err, CHURN_ENOMEM, "reorder: out of memory");
        }
    }
    if (eng->out.oom) {
        return churn_error_set(err, CHURN_ENOMEM, "outputs: out of memory");
    }
    return CHURN_OK;
}

enum churn_err churn_engine_feed(struct churn_engine *eng,
                                 const char *buf,
                                 size_t len,
                                 const struct churn_source *src,
                                 struct churn_error *err)
{
    struct churn_event ev;
    struct churn_decode_result res;
    enum churn_reason r;

    eng->stats.in++;
    r = churn_decoder_decode(eng->dec, buf, len, &ev, &res);
    if (r != CHURN_REASON_NONE) {
        dead_letter(eng, buf, len, src, r, res.detail,
                    (struct churn_str){ "", 0 }, INT64_MIN, 0);
        return eng->out.oom ? churn_error_set(err, CHURN_ENOMEM,
                                              "outputs: out of memory")
                            : CHURN_OK;
    }
    return accept_event(eng, &ev, buf, len, src, err);
}

enum churn_err churn_engine_apply(struct churn_engine *eng,
                                  const struct churn_event *ev,
                                  const struct churn_source *src,
                                  struct churn_error *err)
{
    eng->stats.in++;
    return accept_event(eng, ev, NULL, 0, src, err);
}

enum churn_err churn_engine_finish(struct churn_engine *eng,
                                   struct churn_error *err)
{
    if (eng->max_ts == INT64_MIN) {
        return CHURN_OK;
    }
    advance_to(eng, eng->max_ts);
    /* the watermark releases events before it; at the end of input those
     * at the newest time itself are due too */
    release_until(eng, eng->max_ts, true);
    if (eng->out.oom) {
        return churn_error_set(err, CHURN_ENOMEM, "out of memory");
    }
    return CHURN_OK;
}
