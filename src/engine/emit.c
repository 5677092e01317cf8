/* SPDX-License-Identifier: Apache-2.0 */
#include "emit.h"

#include "churnd/decode.h"
#include "internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK_MIN    65536u
#define SHRINK_ABOVE 4096u /* outputs */

struct churn__chunk {
    struct churn__chunk *next;
    size_t len;
    size_t cap;
    char data[];
};

void churn__outq_clear(struct churn__outq *q)
{
    struct churn__chunk *c = q->chunks;

    /* Keep the newest chunk for reuse; free the rest. */
    if (c != NULL) {
        struct churn__chunk *rest = c->next;
        while (rest != NULL) {
            struct churn__chunk *n = rest->next;
            free(rest);
            rest = n;
        }
        c->next = NULL;
        c->len = 0;
    }
    /* A boundary can emit a signal for every account at once; do not keep
     * that burst's vector for good. */
    if (q->cap > SHRINK_ABOVE && q->cnt < q->cap / 4) {
        free(q->v);
        q->v = NULL;
        q->cap = 0;
    }
    q->cnt = 0;
    q->oom = false;
}

void churn__outq_release(struct churn__outq *q)
{
    churn__outq_clear(q);
    free(q->chunks);
    free(q->v);
    memset(q, 0, sizeof(*q));
}

const char *churn__outq_copy(struct churn__outq *q, const void *p, size_t n)
{
    struct churn__chunk *c = q->chunks;
    char *dst;

    if (c == NULL || c->cap - c->len < n) {
        size_t cap = n > CHUNK_MIN ? n : CHUNK_MIN;
        struct churn__chunk *nc = malloc(sizeof(*nc) + cap);
        if (nc == NULL) {
            q->oom = true;
            return NULL;
        }
        nc->len = 0;
        nc->cap = cap;
        nc->next = c;
        q->chunks = nc;
        c = nc;
    }
    dst = c->data + c->len;
    if (n > 0) {
        memcpy(dst, p, n);
    }
    c->len += n;
    return dst;
}

struct churn_output *churn__outq_push(struct churn__outq *q)
{
    if (q->cnt == q->cap) {
        size_t ncap = q->cap ? q->cap * 2 : 64;
        struct churn_output *nv = realloc(q->v, ncap * sizeof(*nv));
        if (nv == NULL) {
            q->oom = true;
            return NULL;
        }
        q->v = nv;
        q->cap = ncap;
    }
    memset(&q->v[q->cnt], 0, sizeof(q->v[0]));
    return &q->v[q->cnt++];
}

void churn__outq_header(struct churn__outq *q,
                        struct churn_output *o,
                        const char *name,
                        struct churn_str value)
{
    const char *p;

    if (o->header_cnt >= CHURN_MAX_HEADERS) {
        return;
    }
    p = churn__outq_copy(q, value.ptr, value.len);
    if (p == NULL) {
        return;
    }
    o->headers[o->header_cnt].name = name;
    o->headers[o->header_cnt].value.ptr = p;
    o->headers[o->header_cnt].value.len = value.len;
    o->header_cnt++;
}

/* ---- JSON writer ---- */

static void put(struct churn__jw *w, const char *p, size_t n)
{
    if (w->oom) {
        return;
    }
    if (w->cap - w->len < n) {
        size_t ncap = w->cap ? w->cap : 1024;
        while (ncap - w->len < n) {
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
    memcpy(w->p + w->len, p, n);
    w->len += n;
}

static void putc1(struct churn__jw *w, char c)
{
    put(w, &c, 1);
}

void churn__jw_reset(struct churn__jw *w)
{
    w->len = 0;
    w->oom = false;
    w->comma = false;
}

void churn__jw_release(struct churn__jw *w)
{
    free(w->p);
    memset(w, 0, sizeof(*w));
}

void churn__jw_escape(struct churn__jw *w, struct churn_str s)
{
    static const char hex[] = "0123456789abcdef";
    size_t run = 0;

    for (size_t i = 0; i < s.len; i++) {
        unsigned char c = (unsigned char)s.ptr[i];
        if (c >= 0x20 && c != '"' && c != '\\') {
            continue;
        }
        put(w, s.ptr + run, i - run);
        run = i + 1;
        switch (c) {
        case '"':
            put(w, "\\\"", 2);
            break;
        case '\\':
            put(w, "\\\\", 2);
            break;
        case '\n':
            put(w, "\\n", 2);
            break;
        case '\r':
            put(w, "\\r", 2);
            break;
        case '\t':
            put(w, "\\t", 2);
            break;
        default: {
            char u[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };
            put(w, u, 6);
        }
        }
    }
    put(w, s.ptr + run, s.len - run);
}

static void key(struct churn__jw *w, const char *k)
{
    if (w->comma) {
        putc1(w, ',');
    }
    w->comma = true;
    if (k != NULL) {
        putc1(w, '"');
        put(w, k, strlen(k));
        put(w, "\":", 2);
    }
}

void churn__jw_open(struct churn__jw *w, const char *k)
{
    key(w, k);
    putc1(w, '{');
    w->comma = false;
}

void churn__jw_close(struct churn__jw *w)
{
    putc1(w, '}');
    w->comma = true;
}

void churn__jw_arr_open(struct churn__jw *w, const char *k)
{
    key(w, k);
    putc1(w, '[');
    w->comma = false;
}

void churn__jw_arr_close(struct churn__jw *w)
{
    putc1(w, ']');
    w->comma = true;
}

void churn__jw_str(struct churn__jw *w, const char *k, struct churn_str s)
{
    key(w, k);
    putc1(w, '"');
    churn__jw_escape(w, s);
    putc1(w, '"');
}

void churn__jw_cstr(struct churn__jw *w, const char *k, const char *s)
{
    struct churn_str v = { s, strlen(s) };

    churn__jw_str(w, k, v);
}

void churn__jw_str_or_null(struct churn__jw *w,
                           const char *k,
                           struct churn_str s)
{
    if (s.len == 0) {
        churn__jw_null(w, k);
    } else {
        churn__jw_str(w, k, s);
    }
}

/* Decimal digits of u, right-aligned ending at end; returns the start. */
static char *utoa_rev(uint64_t u, char *end)
{
    do {
        *--end = (char)('0' + u % 10);
        u /= 10;
    } while (u != 0);
    return end;
}

void churn__jw_int(struct churn__jw *w, const char *k, int64_t v)
{
    char buf[24];
    char *end = buf + sizeof(buf);
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    char *p = utoa_rev(u, end);

    if (v < 0) {
        *--p = '-';
    }
    key(w, k);
    put(w, p, (size_t)(end - p));
}

void churn__jw_num(struct churn__jw *w, const char *k, double v, int decimals)
{
    char buf[48];
    int n;

    key(w, k);
    if (!isfinite(v)) {
        put(w, "null", 4);
        return;
    }
    static const double pow10[9] = {
        1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8
    };
    double x = decimals >= 0 && decimals <= 8 ? fabs(v) * pow10[decimals] : 0;
    if (decimals >= 0 && decimals <= 8 && fabs(v) < 1e9 &&
        fabs(x - floor(x) - 0.5) > 1e-6) {
        /* Fixed point by integer arithmetic, several times faster than
         * printf's %f (signals carry about twenty numbers each). Near a
         * decimal tie the product above may round the other way than the
         * exact binary value does, so those go to printf below. */
        uint64_t scaled = (uint64_t)llround(x);
        uint64_t ip = scaled / (uint64_t)pow10[decimals];
        uint64_t fp = scaled % (uint64_t)pow10[decimals];
        char *end = buf + sizeof(buf), *p;
        int d = decimals;
        /* fraction digits, dropping trailing zeros */
        while (d > 0 && fp % 10 == 0) {
            fp /= 10;
            d--;
        }
        p = end;
        if (d > 0) {
            for (int i = 0; i < d; i++) {
                *--p = (char)('0' + fp % 10);
                fp /= 10;
            }
            *--p = '.';
        }
        p = utoa_rev(ip, p);
        if (v < 0 && scaled != 0) {
            *--p = '-';
        }
        put(w, p, (size_t)(end - p));
        return;
    }
    n = snprintf(buf, sizeof(buf), "%.*f", decimals, v);
    if (n < 0 || (size_t)n >= sizeof(buf)) {
        put(w, "null", 4);
        return;
    }
    /* Drop trailing zeros and a bare point: 0.500 -> 0.5, 3.000 -> 3. */
    if (memchr(buf, '.', (size_t)n) != NULL) {
        while (n > 0 && buf[n - 1] == '0') {
            n--;
        }
        if (n > 0 && buf[n - 1] == '.') {
            n--;
        }
    }
    if (n == 2 && buf[0] == '-' && buf[1] == '0') {
        buf[0] = '0';
        n = 1;
    }
    put(w, buf, (size_t)n);
}

void churn__jw_bool(struct churn__jw *w, const char *k, bool v)
{
    key(w, k);
    if (v) {
        put(w, "true", 4);
    } else {
        put(w, "false", 5);
    }
}

void churn__jw_null(struct churn__jw *w, const char *k)
{
    key(w, k);
    put(w, "null", 4);
}

void churn__jw_time(struct churn__jw *w, const char *k, int64_t ms)
{
    char buf[CHURN_TS_BUF_LEN];

    if (ms == INT64_MIN) {
        churn__jw_null(w, k);
        return;
    }
    churn__jw_cstr(w, k, churn_ts_format(ms, buf));
}

void churn__jw_raw(struct churn__jw *w, const char *p, size_t n)
{
    put(w, p, n);
}
