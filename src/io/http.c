/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The HTTP endpoint over libmicrohttpd (see http.h for the routes and the
 * locking contract). We bind the socket ourselves (getaddrinfo, so IPv6,
 * ":port" and port 0 work the same everywhere and a bind error names the
 * address) and hand it to MHD, which serves it from one internal thread.
 *
 * The engine lock: the processing loop holds `mu` while it calls the
 * engine. A request announces itself in `waiting` before it blocks on mu;
 * the loop's next enter sees it and waits on `cv` (releasing mu) until no
 * request is waiting, so a busy loop cannot starve a request.
 */
#include "io/http.h"

#include <errno.h>
#include <math.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Processing latency buckets, upper bounds in nanoseconds. */
static const uint64_t lat_bounds_ns[] = {
    1000,     2500,     5000,     10000,     25000,     50000,
    100000,   250000,   500000,   1000000,   2500000,   5000000,
    10000000, 25000000, 50000000, 100000000, 250000000, 1000000000,
};
#define LAT_N (sizeof(lat_bounds_ns) / sizeof(lat_bounds_ns[0]))

struct collector {
    churn_http_collect_fn fn;
    void *ctx;
};

/* An engine requests read: replay's one (partition -1) or one per input
 * partition in run. */
struct served {
    struct churn_engine *eng;
    int32_t partition;
};

struct churn_http {
    struct MHD_Daemon *d;
    int fd;
    char addr[96];

    pthread_mutex_t mu; /* the engine lock; guards everything below */
    pthread_cond_t cv;
    atomic_uint waiting; /* requests blocked on mu */
    atomic_bool ready;
    struct served *engs;
    size_t eng_cnt, eng_cap;
    /* Counters of engines already removed (a revoked partition), so the
     * totals /metrics shows never go down. */
    struct churn_engine_stats retired;
    enum churn_severity severity[CHURN_RULE__COUNT];
    uint64_t lat_cnt[LAT_N + 1]; /* per bucket, the last is +Inf */
    uint64_t lat_sum_ns;
    uint64_t lat_total;
    struct collector *coll;
    size_t coll_cnt, coll_cap;
};

/* ---- Prometheus text writer ---- */

struct churn_prom {
    char *p;
    size_t len, cap;
    bool oom;
};

static void prom_put(struct churn_prom *w, const char *s, size_t n)
{
    if (w->oom) {
        return;
    }
    if (w->len + n + 1 > w->cap) {
        size_t ncap = w->cap ? w->cap : 4096;
        while (w->len + n + 1 > ncap) {
            ncap *= 2;
        }
        char *np = realloc(w->p, ncap);
        if (np == NULL) {
            w->oom = true;
            return;
        }
        w->p = np;
        w->cap = ncap;
    }
    memcpy(w->p + w->len, s, n);
    w->len += n;
    w->p[w->len] = '\0';
}

static void prom_puts(struct churn_prom *w, const char *s)
{
    prom_put(w, s, strlen(s));
}

static void prom_printf(struct churn_prom *w, const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n > 0) {
        prom_put(w, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
    }
}

void churn_prom_family(struct churn_prom *p,
                       const char *name,
                       const char *type,
                       const char *help)
{
    /* HELP text escapes backslash and newline */
    prom_printf(p, "# HELP %s ", name);
    for (const char *c = help; *c; c++) {
        if (*c == '\\') {
            prom_puts(p, "\\\\");
        } else if (*c == '\n') {
            prom_puts(p, "\\n");
        } else {
            prom_put(p, c, 1);
        }
    }
    prom_printf(p, "\n# TYPE %s %s\n", name, type);
}

static void prom_value(struct churn_prom *p, double v)
{
    if (isnan(v)) {
        prom_puts(p, "NaN");
    } else if (isinf(v)) {
        prom_puts(p, v > 0 ? "+Inf" : "-Inf");
    } else if (v == floor(v) && fabs(v) < 9007199254740992.0) {
        prom_printf(p, "%.0f", v);
    } else {
        /* the shortest of %.15g and %.17g that reads back the same */
        char buf[40];
        snprintf(buf, sizeof(buf), "%.15g", v);
        if (strtod(buf, NULL) != v) {
            snprintf(buf, sizeof(buf), "%.17g", v);
        }
        prom_puts(p, buf);
    }
}

void churn_prom_sample(struct churn_prom *p,
                       const char *name,
                       const char *const *labels,
                       double value)
{
    prom_puts(p, name);
    if (labels != NULL && labels[0] != NULL) {
        prom_puts(p, "{");
        for (size_t i = 0; labels[i] != NULL && labels[i + 1] != NULL; i += 2) {
            if (i > 0) {
                prom_puts(p, ",");
            }
            prom_puts(p, labels[i]);
            prom_puts(p, "=\"");
            for (const char *c = labels[i + 1]; *c; c++) {
                if (*c == '\\' || *c == '"') {
                    prom_put(p, "\\", 1);
                    prom_put(p, c, 1);
                } else if (*c == '\n') {
                    prom_puts(p, "\\n");
                } else {
                    prom_put(p, c, 1);
                }
            }
            prom_puts(p, "\"");
        }
        prom_puts(p, "}");
    }
    prom_puts(p, " ");
    prom_value(p, value);
    prom_puts(p, "\n");
}

static void one(struct churn_prom *p,
                const char *name,
                const char *type,
                const char *help,
                double v)
{
    churn_prom_family(p, name, type, help);
    churn_prom_sample(p, name, NULL, v);
}

/* Adds src's counters into dst; with gauges, also the figures that
 * describe the present (accounts, open alerts) and the newest watermark. */
static void stats_add(struct churn_engine_stats *dst,
                      const struct churn_engine_stats *src,
                      bool gauges)
{
    dst->in += src->in;
    dst->accepted += src->accepted;
    dst->dead_letters += src->dead_letters;
    dst->duplicates += src->duplicates;
    for (int i = 0; i < CHURN_REASON__COUNT; i++) {
        dst->by_reason[i] += src->by_reason[i];
    }
    dst->signals += src->signals;
    dst->alerts_firing += src->alerts_firing;
    dst->alerts_resolved += src->alerts_resolved;
    for (int i = 0; i < CHURN_RULE__COUNT; i++) {
        dst->alerts_by_rule[i] += src->alerts_by_rule[i];
        dst->alerts_resolved_by_rule[i] += src->alerts_resolved_by_rule[i];
        if (gauges) {
            dst->alerts_open_by_rule[i] += src->alerts_open_by_rule[i];
        }
    }
    if (gauges) {
        dst->accounts += src->accounts;
        if (src->watermark_ms > dst->watermark_ms) {
            dst->watermark_ms = src->watermark_ms;
        }
    }
    dst->evicted_full += src->evicted_full;
    dst->evicted_idle += src->evicted_idle;
    dst->geo_misses += src->geo_misses;
    dst->unknown_plans += src->unknown_plans;
    dst->dedupe_dropped += src->dedupe_dropped;
    dst->metrics += src->metrics;
}

/* Everything /metrics shows; called with mu held. */
static void render(struct churn_http *h, struct churn_prom *p)
{
    struct churn_engine_stats st;
    char le[32];

    one(p, "churnd_ready", "gauge", "1 when the input is ready (readyz)",
        atomic_load(&h->ready) ? 1 : 0);
    churn_prom_family(p, "churnd_build_info", "gauge", "churnd version");
    churn_prom_sample(p, "churnd_build_info",
                      (const char *[]){ "version", CHURND_VERSION, NULL }, 1);

    churn_prom_family(p, "churnd_event_processing_seconds", "histogram",
                      "time the engine took per input event");
    uint64_t cum = 0;
    for (size_t i = 0; i <= LAT_N; i++) {
        cum += h->lat_cnt[i];
        if (i < LAT_N) {
            snprintf(le, sizeof(le), "%g", (double)lat_bounds_ns[i] / 1e9);
        } else {
            snprintf(le, sizeof(le), "+Inf");
        }
        churn_prom_sample(p, "churnd_event_processing_seconds_bucket",
                          (const char *[]){ "le", le, NULL }, (double)cum);
    }
    churn_prom_sample(p, "churnd_event_processing_seconds_sum", NULL,
                      (double)h->lat_sum_ns / 1e9);
    churn_prom_sample(p, "churnd_event_processing_seconds_count", NULL,
                      (double)h->lat_total);

    /* Counters: every engine served so far; gauges: the engines now. */
    st = h->retired;
    st.accounts = 0;
    st.watermark_ms = INT64_MIN;
    memset(st.alerts_open_by_rule, 0, sizeof(st.alerts_open_by_rule));
    for (size_t i = 0; i < h->eng_cnt; i++) {
        struct churn_engine_stats one_st;
        churn_engine_get_stats(h->engs[i].eng, &one_st);
        stats_add(&st, &one_st, true);
    }
    /* Topic names come from the config, the same in every engine. */
    const struct churn_engine *eng0 = h->eng_cnt > 0 ? h->engs[0].eng : NULL;
    one(p, "churnd_engines", "gauge",
        "engines in this process (run: one per assigned partition number)",
        (double)h->eng_cnt);
    one(p, "churnd_events_in_total", "counter",
        "inputs fed to the engine (run: including inputs re-read to rebuild "
        "state)",
        (double)st.in);
    one(p, "churnd_events_accepted_total", "counter", "inputs applied to state",
        (double)st.accepted);
    one(p, "churnd_duplicates_total", "counter",
        "inputs skipped as re-deliveries of an event_id",
        (double)st.duplicates);
    churn_prom_family(p, "churnd_dead_letters_total", "counter",
                      "inputs dead-lettered, by reason code");
    for (int r = 1; r < CHURN_REASON__COUNT; r++) {
        churn_prom_sample(
            p, "churnd_dead_letters_total",
            (const char *[]){ "reason", churn_reason_name((enum churn_reason)r),
                              NULL },
            (double)st.by_reason[r]);
    }
    if (eng0 != NULL) {
        churn_prom_family(p, "churnd_outputs_total", "counter",
                          "outputs the engine made, by topic (run: including "
                          "those discarded while rebuilding state)");
        const double outs[CHURN_TOPIC__COUNT] = {
            [CHURN_TOPIC_SIGNALS] = (double)st.signals,
            [CHURN_TOPIC_ALERTS] =
                (double)(st.alerts_firing + st.alerts_resolved),
            [CHURN_TOPIC_METRICS] = (double)st.metrics,
            [CHURN_TOPIC_DLQ] = (double)st.dead_letters,
        };
        for (int t = 0; t < CHURN_TOPIC__COUNT; t++) {
            churn_prom_sample(
                p, "churnd_outputs_total",
                (const char *[]){
                    "topic", churn_engine_topic_name(eng0, (enum churn_topic)t),
                    NULL },
                outs[t]);
        }
    }
    one(p, "churnd_signals_total", "counter", "signals emitted",
        (double)st.signals);
    static const char *const alert_fams[3][3] = {
        { "churnd_alerts_fired_total", "counter", "alerts fired" },
        { "churnd_alerts_resolved_total", "counter", "alerts resolved" },
        { "churnd_alerts_open", "gauge", "alerts firing now" },
    };
    for (int k = 0; k < 3; k++) {
        churn_prom_family(p, alert_fams[k][0], alert_fams[k][1],
                          alert_fams[k][2]);
        for (int r = 0; r < CHURN_RULE__COUNT; r++) {
            const uint64_t *v = k == 0   ? st.alerts_by_rule
                                : k == 1 ? st.alerts_resolved_by_rule
                                         : st.alerts_open_by_rule;
            churn_prom_sample(
                p, alert_fams[k][0],
                (const char *[]){ "rule", churn_rule_name((enum churn_rule)r),
                                  "severity",
                                  churn_severity_name(h->severity[r]), NULL },
                (double)v[r]);
        }
    }
    one(p, "churnd_metrics_records_total", "counter",
        "SaaS metrics records emitted", (double)st.metrics);
    one(p, "churnd_accounts", "gauge", "accounts in state",
        (double)st.accounts);
    if (eng0 != NULL) {
        one(p, "churnd_account_state_bytes", "gauge",
            "fixed bytes of state per account",
            (double)churn_engine_account_bytes(eng0));
    }
    churn_prom_family(p, "churnd_evictions_total", "counter",
                      "accounts evicted from state, by cause");
    churn_prom_sample(p, "churnd_evictions_total",
                      (const char *[]){ "cause", "max_accounts", NULL },
                      (double)st.evicted_full);
    churn_prom_sample(p, "churnd_evictions_total",
                      (const char *[]){ "cause", "idle", NULL },
                      (double)st.evicted_idle);
    one(p, "churnd_dedupe_dropped_total", "counter",
        "event ids forgotten early because of input.dedupe_capacity",
        (double)st.dedupe_dropped);
    one(p, "churnd_geo_misses_total", "counter",
        "events whose ip did not resolve to a country", (double)st.geo_misses);
    one(p, "churnd_unknown_plans_total", "counter",
        "events naming a plan not in the catalog", (double)st.unknown_plans);
    churn_prom_family(p, "churnd_watermark_seconds", "gauge",
                      "event-time watermark (Unix seconds), per engine "
                      "(run: per input partition number)");
    for (size_t i = 0; i < h->eng_cnt; i++) {
        struct churn_engine_stats one_st;
        char part[16];
        churn_engine_get_stats(h->engs[i].eng, &one_st);
        if (one_st.watermark_ms == INT64_MIN) {
            continue;
        }
        snprintf(part, sizeof(part), "%d", (int)h->engs[i].partition);
        churn_prom_sample(p, "churnd_watermark_seconds",
                          h->engs[i].partition >= 0
                              ? (const char *[]){ "partition", part, NULL }
                              : NULL,
                          (double)one_st.watermark_ms / 1000.0);
    }
    for (size_t i = 0; i < h->coll_cnt; i++) {
        h->coll[i].fn(h->coll[i].ctx, p);
    }
}

/* ---- the engine lock ---- */

void churn_http_enter(struct churn_http *h)
{
    if (h == NULL) {
        return;
    }
    pthread_mutex_lock(&h->mu);
    while (atomic_load(&h->waiting) > 0) {
        pthread_cond_wait(&h->cv, &h->mu);
    }
}

void churn_http_leave(struct churn_http *h)
{
    if (h != NULL) {
        pthread_mutex_unlock(&h->mu);
    }
}

/* A request's side of the lock. */
static void req_lock(struct churn_http *h)
{
    atomic_fetch_add(&h->waiting, 1);
    pthread_mutex_lock(&h->mu);
    atomic_fetch_sub(&h->waiting, 1);
}

static void req_unlock(struct churn_http *h)
{
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
}

void churn_http_observe_ns(struct churn_http *h, uint64_t ns)
{
    size_t i = 0;

    if (h == NULL) {
        return;
    }
    while (i < LAT_N && ns > lat_bounds_ns[i]) {
        i++;
    }
    h->lat_cnt[i]++;
    h->lat_sum_ns += ns;
    h->lat_total++;
}

static void set_severities(struct churn_http *h, const struct churn_config *cfg)
{
    for (int r = 0; r < CHURN_RULE__COUNT; r++) {
        h->severity[r] = cfg != NULL ? cfg->rules[r].severity : CHURN_SEV_INFO;
    }
}

/* Removes engine i, keeping its counters; mu held. */
static void drop_engine(struct churn_http *h, size_t i)
{
    struct churn_engine_stats s;

    churn_engine_get_stats(h->engs[i].eng, &s);
    stats_add(&h->retired, &s, false);
    h->engs[i] = h->engs[--h->eng_cnt];
}

/* Appends an engine; mu held. */
static enum churn_err push_engine(struct churn_http *h,
                                  struct churn_engine *eng,
                                  int32_t partition,
                                  struct churn_error *err)
{
    if (h->eng_cnt == h->eng_cap) {
        size_t ncap = h->eng_cap ? h->eng_cap * 2 : 8;
        struct served *ne = realloc(h->engs, ncap * sizeof(*ne));
        if (ne == NULL) {
            return churn_error_set(err, CHURN_ENOMEM, "http: out of memory");
        }
        h->engs = ne;
        h->eng_cap = ncap;
    }
    h->engs[h->eng_cnt++] = (struct served){ eng, partition };
    return CHURN_OK;
}

void churn_http_set_engine(struct churn_http *h,
                           struct churn_engine *eng,
                           const struct churn_config *cfg)
{
    if (h == NULL) {
        return;
    }
    req_lock(h);
    while (h->eng_cnt > 0) {
        drop_engine(h, h->eng_cnt - 1);
    }
    if (eng != NULL) {
        /* the array starts with room for 8: this cannot fail */
        if (push_engine(h, eng, -1, NULL) != CHURN_OK) {
            h->eng_cnt = 0;
        }
    }
    set_severities(h, cfg);
    req_unlock(h);
}

enum churn_err churn_http_add_engine(struct churn_http *h,
                                     struct churn_engine *eng,
                                     int32_t partition,
                                     const struct churn_config *cfg,
                                     struct churn_error *err)
{
    enum churn_err rc;

    if (h == NULL) {
        return CHURN_OK;
    }
    churn_http_enter(h);
    rc = push_engine(h, eng, partition, err);
    set_severities(h, cfg);
    churn_http_leave(h);
    return rc;
}

void churn_http_remove_engine(struct churn_http *h,
                              const struct churn_engine *eng)
{
    if (h == NULL) {
        return;
    }
    churn_http_enter(h);
    for (size_t i = 0; i < h->eng_cnt; i++) {
        if (h->engs[i].eng == eng) {
            drop_engine(h, i);
            break;
        }
    }
    churn_http_leave(h);
}

void churn_http_set_ready(struct churn_http *h, bool ready)
{
    if (h != NULL) {
        atomic_store(&h->ready, ready);
    }
}

enum churn_err churn_http_add_collector(struct churn_http *h,
                                        churn_http_collect_fn fn,
                                        void *ctx,
                                        struct churn_error *err)
{
    enum churn_err rc = CHURN_OK;

    if (h == NULL) {
        return CHURN_OK;
    }
    req_lock(h);
    if (h->coll_cnt == h->coll_cap) {
        size_t ncap = h->coll_cap ? h->coll_cap * 2 : 4;
        struct collector *nc = realloc(h->coll, ncap * sizeof(*nc));
        if (nc == NULL) {
            rc = churn_error_set(err, CHURN_ENOMEM, "http: out of memory");
            goto out;
        }
        h->coll = nc;
        h->coll_cap = ncap;
    }
    h->coll[h->coll_cnt++] = (struct collector){ fn, ctx };
out:
    req_unlock(h);
    return rc;
}

/* ---- requests ---- */

static enum MHD_Result reply(struct MHD_Connection *c,
                             unsigned int status,
                             const char *type,
                             char *body,
                             size_t len,
                             bool owned)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(
        len, body, owned ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    enum MHD_Result ok;

    if (r == NULL) {
        if (owned) {
            free(body);
        }
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED) {
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    }
    ok = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ok;
}

static enum MHD_Result
reply_text(struct MHD_Connection *c, unsigned int status, const char *text)
{
    return reply(c, status, "text/plain; charset=utf-8", (char *)text,
                 strlen(text), false);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* Percent-decodes s into out (at least strlen(s) bytes); false on a bad
 * escape. */
static bool pct_decode(const char *s, char *out, size_t *len)
{
    size_t n = 0;

    for (; *s; s++) {
        if (*s != '%') {
            out[n++] = *s;
            continue;
        }
        int hi = hexval(s[1]), lo = hi < 0 ? -1 : hexval(s[2]);
        if (hi < 0 || lo < 0) {
            return false;
        }
        out[n++] = (char)(hi * 16 + lo);
        s += 2;
    }
    *len = n;
    return true;
}

/* Appends s as a JSON string body: invalid UTF-8 bytes become U+FFFD. */
static void json_escape(struct churn_prom *w, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";

    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            prom_put(w, "\\", 1);
            prom_put(w, s + i++, 1);
        } else if (c < 0x20) {
            char u[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };
            prom_put(w, u, 6);
            i++;
        } else if (c < 0x80) {
            prom_put(w, s + i++, 1);
        } else {
            size_t k = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 0;
            bool ok = k > 0 && k <= 4 && c < 0xf5 && i + k <= n;
            for (size_t j = 1; ok && j < k; j++) {
                ok = ((unsigned char)s[i + j] & 0xc0) == 0x80;
            }
            if (ok) {
                prom_put(w, s + i, k);
                i += k;
            } else {
                prom_puts(w, "\\ufffd");
                i++;
            }
        }
    }
}

static enum MHD_Result reply_json_error(struct MHD_Connection *c,
                                        unsigned int status,
                                        const char *error,
                                        const char *id,
                                        size_t id_len)
{
    struct churn_prom w = { 0 };

    prom_puts(&w, "{\"error\":\"");
    prom_puts(&w, error);
    prom_puts(&w, "\"");
    if (id != NULL) {
        prom_puts(&w, ",\"account_id\":\"");
        json_escape(&w, id, id_len);
        prom_puts(&w, "\"");
    }
    prom_puts(&w, "}\n");
    if (w.oom) {
        free(w.p);
        return MHD_NO;
    }
    return reply(c, status, "application/json", w.p, w.len, true);
}

static enum MHD_Result get_metrics(struct churn_http *h,
                                   struct MHD_Connection *c)
{
    struct churn_prom p = { 0 };

    req_lock(h);
    render(h, &p);
    req_unlock(h);
    if (p.oom) {
        free(p.p);
        return reply_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
    }
    return reply(c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8",
                 p.p, p.len, true);
}

static enum MHD_Result
get_account(struct churn_http *h, struct MHD_Connection *c, const char *raw)
{
    size_t n = strlen(raw), len = 0;
    char *id = malloc(n + 1);
    char *json = NULL;
    struct churn_error err = { 0 };
    enum churn_err rc = CHURN_OK;
    bool have_engine;
    int32_t partition = -1;
    enum MHD_Result r;

    if (id == NULL) {
        return MHD_NO;
    }
    if (!pct_decode(raw, id, &n)) {
        free(id);
        return reply_json_error(c, MHD_HTTP_BAD_REQUEST,
                                "bad percent-encoding in the account id", NULL,
                                0);
    }
    /* run: the engine of the partition that holds the account (an id is
     * in one partition when the input is keyed by account) */
    req_lock(h);
    have_engine = h->eng_cnt > 0;
    for (size_t i = 0; i < h->eng_cnt && n > 0 && rc == CHURN_OK; i++) {
        rc = churn_engine_describe_account(
            h->engs[i].eng, (struct churn_str){ id, n }, &json, &len, &err);
        if (json != NULL) {
            partition = h->engs[i].partition;
            break;
        }
    }
    req_unlock(h);
    if (!have_engine) {
        r = reply_json_error(c, MHD_HTTP_SERVICE_UNAVAILABLE,
                             "no engine yet (no partition assigned)", id, n);
    } else if (rc != CHURN_OK) {
        r = reply_json_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory",
                             id, n);
    } else if (json == NULL) {
        r = reply_json_error(c, MHD_HTTP_NOT_FOUND, "unknown account", id, n);
    } else {
        /* describe's buffer is malloc'ed: MHD frees it */
        struct MHD_Response *resp =
            MHD_create_response_from_buffer(len, json, MHD_RESPMEM_MUST_FREE);
        char pbuf[16];
        if (resp == NULL) {
            free(json);
            free(id);
            return MHD_NO;
        }
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                                "application/json");
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL,
                                "no-store");
        if (partition >= 0) {
            snprintf(pbuf, sizeof(pbuf), "%d", (int)partition);
            MHD_add_response_header(resp, "X-Churnd-Partition", pbuf);
        }
        r = MHD_queue_response(c, MHD_HTTP_OK, resp);
        MHD_destroy_response(resp);
    }
    free(id);
    return r;
}

static enum MHD_Result handle(void *cls,
                              struct MHD_Connection *c,
                              const char *url,
                              const char *method,
                              const char *version,
                              const char *upload,
                              size_t *upload_size,
                              void **req_ctx)
{
    static int seen;
    struct churn_http *h = cls;

    (void)version;
    (void)upload;
    /* the first call announces the request; answer on the next */
    if (*req_ctx == NULL) {
        *req_ctx = &seen;
        return MHD_YES;
    }
    if (*upload_size != 0) {
        *upload_size = 0; /* a body is read and ignored */
        return MHD_YES;
    }
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 &&
        strcmp(method, MHD_HTTP_METHOD_HEAD) != 0) {
        return reply_text(c, MHD_HTTP_METHOD_NOT_ALLOWED,
                          "only GET and HEAD\n");
    }
    if (strcmp(url, "/metrics") == 0) {
        return get_metrics(h, c);
    }
    if (strcmp(url, "/healthz") == 0) {
        return reply_text(c, MHD_HTTP_OK, "ok\n");
    }
    if (strcmp(url, "/readyz") == 0) {
        return atomic_load(&h->ready)
                   ? reply_text(c, MHD_HTTP_OK, "ready\n")
                   : reply_text(c, MHD_HTTP_SERVICE_UNAVAILABLE, "not ready\n");
    }
    if (strncmp(url, "/accounts/", 10) == 0) {
        return get_account(h, c, url + 10);
    }
    return reply_json_error(c, MHD_HTTP_NOT_FOUND, "not found", NULL, 0);
}

/* MHD would percent-decode the path itself, cutting it at a %00; keep it
 * raw and decode the account id with its length. */
static size_t no_unescape(void *cls, struct MHD_Connection *c, char *s)
{
    (void)cls;
    (void)c;
    return strlen(s);
}

/* ---- start, stop ---- */

/* Splits "host:port", "[v6]:port" or ":port". */
static bool split_listen(const char *listen,
                         char *host,
                         size_t host_cap,
                         char *port,
                         size_t port_cap)
{
    const char *colon = strrchr(listen, ':');
    const char *h = listen;
    size_t hn;

    if (colon == NULL || colon[1] == '\0' || strlen(colon + 1) >= port_cap) {
        return false;
    }
    for (const char *p = colon + 1; *p; p++) {
        if (*p < '0' || *p > '9') {
            return false;
        }
    }
    hn = (size_t)(colon - listen);
    if (hn > 0 && h[0] == '[') {
        if (hn < 3 || h[hn - 1] != ']') {
            return false;
        }
        h++;
        hn -= 2;
    }
    if (hn >= host_cap || atol(colon + 1) > 65535) {
        return false;
    }
    memcpy(host, h, hn);
    host[hn] = '\0';
    memcpy(port, colon + 1, strlen(colon + 1) + 1);
    return true;
}

static int bind_listen(const char *where,
                       char *addr,
                       size_t addr_cap,
                       struct churn_error *err)
{
    char host[256], port[8];
    struct addrinfo hints, *res = NULL, *ai;
    int fd = -1, rc, saved = 0;

    if (!split_listen(where, host, sizeof(host), port, sizeof(port))) {
        churn_error_set(err, CHURN_EINVAL,
                        "http '%s': not host:port (e.g. 127.0.0.1:9090, "
                        "[::1]:9090, :9090)",
                        where);
        return -1;
    }
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    rc = getaddrinfo(host[0] ? host : NULL, port, &hints, &res);
    if (rc != 0) {
        churn_error_set(err, CHURN_EINVAL, "http '%s': %s", where,
                        gai_strerror(rc));
        return -1;
    }
    /* ":port": prefer the IPv6 wildcard, which also takes IPv4 */
    for (int pass = 0; pass < 2 && fd < 0; pass++) {
        for (ai = res; ai != NULL; ai = ai->ai_next) {
            if ((pass == 0) != (ai->ai_family == AF_INET6)) {
                continue;
            }
            int s = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
                           ai->ai_protocol);
            int one = 1, off = 0;
            if (s < 0) {
                saved = errno;
                continue;
            }
            setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
            if (ai->ai_family == AF_INET6 && host[0] == '\0') {
                setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off));
            }
            if (bind(s, ai->ai_addr, ai->ai_addrlen) == 0 &&
                listen(s, 64) == 0) {
                fd = s;
                break;
            }
            saved = errno;
            close(s);
        }
    }
    freeaddrinfo(res);
    if (fd < 0) {
        churn_error_set(err, CHURN_EIO, "http '%s': %s", where,
                        strerror(saved ? saved : EADDRNOTAVAIL));
        return -1;
    }
    /* the address actually bound (port 0 picks one) */
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    char hbuf[64], sbuf[8];
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0 &&
        getnameinfo((struct sockaddr *)&ss, sl, hbuf, sizeof(hbuf), sbuf,
                    sizeof(sbuf), NI_NUMERICHOST | NI_NUMERICSERV) == 0) {
        snprintf(addr, addr_cap, ss.ss_family == AF_INET6 ? "[%s]:%s" : "%s:%s",
                 hbuf, sbuf);
    } else {
        snprintf(addr, addr_cap, "%s", where);
    }
    return fd;
}

struct churn_http *churn_http_start(const char *listen, struct churn_error *err)
{
    struct churn_http *h = calloc(1, sizeof(*h));

    if (h == NULL) {
        churn_error_set(err, CHURN_ENOMEM, "http: out of memory");
        return NULL;
    }
    pthread_mutex_init(&h->mu, NULL);
    pthread_cond_init(&h->cv, NULL);
    atomic_init(&h->waiting, 0);
    atomic_init(&h->ready, false);
    h->retired.watermark_ms = INT64_MIN;
    h->fd = bind_listen(listen, h->addr, sizeof(h->addr), err);
    if (h->fd < 0) {
        churn_http_stop(h);
        return NULL;
    }
    h->d = MHD_start_daemon(MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG, 0,
                            NULL, NULL, handle, h, MHD_OPTION_LISTEN_SOCKET,
                            (MHD_socket)h->fd, MHD_OPTION_UNESCAPE_CALLBACK,
                            no_unescape, NULL, MHD_OPTION_CONNECTION_TIMEOUT,
                            (unsigned int)10, MHD_OPTION_CONNECTION_LIMIT,
                            (unsigned int)64, MHD_OPTION_END);
    if (h->d == NULL) {
        churn_error_set(err, CHURN_EIO, "http '%s': cannot start the server",
                        listen);
        churn_http_stop(h);
        return NULL;
    }
    return h;
}

void churn_http_stop(struct churn_http *h)
{
    if (h == NULL) {
        return;
    }
    if (h->d != NULL) {
        MHD_stop_daemon(h->d); /* also closes the listen socket */
    } else if (h->fd >= 0) {
        close(h->fd);
    }
    pthread_cond_destroy(&h->cv);
    pthread_mutex_destroy(&h->mu);
    free(h->coll);
    free(h->engs);
    free(h);
}

const char *churn_http_address(const struct churn_http *h)
{
    return h != NULL ? h->addr : "";
}
