/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CHURN_ENGINE_WIRE_H
#define CHURN_ENGINE_WIRE_H

/*
 * Little-endian encoding for state records (state.c, metrics.c): a growable
 * writer and a bounds-checked reader. Integers are written byte by byte, so
 * the bytes do not depend on the host's byte order; doubles and floats go
 * through their IEEE 754 bit patterns.
 *
 * Errors are sticky: a writer that ran out of memory keeps oom set and
 * writes nothing more; a reader that ran past its end (or was marked bad by
 * a check) returns zeros from then on. Callers test the flag once at the end.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct churn__ww {
    unsigned char *p;
    size_t len, cap;
    bool oom;
};

struct churn__wr {
    const unsigned char *p;
    size_t len, pos;
    bool bad;
};

bool churn__ww_reserve(struct churn__ww *w, size_t n);
void churn__ww_release(struct churn__ww *w);

static inline void churn__ww_bytes(struct churn__ww *w, const void *p, size_t n)
{
    if (n == 0 || !churn__ww_reserve(w, n)) {
        return;
    }
    memcpy(w->p + w->len, p, n);
    w->len += n;
}

static inline void churn__ww_uint(struct churn__ww *w, uint64_t v, unsigned n)
{
    unsigned char b[8];

    for (unsigned i = 0; i < n; i++) {
        b[i] = (unsigned char)(v >> (8 * i));
    }
    churn__ww_bytes(w, b, n);
}

#define churn__ww_u8(w, v)  churn__ww_uint((w), (uint8_t)(v), 1)
#define churn__ww_u16(w, v) churn__ww_uint((w), (uint16_t)(v), 2)
#define churn__ww_u32(w, v) churn__ww_uint((w), (uint32_t)(v), 4)
#define churn__ww_u64(w, v) churn__ww_uint((w), (uint64_t)(v), 8)

static inline void churn__ww_f64(struct churn__ww *w, double d)
{
    uint64_t v;

    memcpy(&v, &d, sizeof(v));
    churn__ww_uint(w, v, 8);
}

/* u32 length, then the bytes */
static inline void churn__ww_str(struct churn__ww *w, const char *p, size_t n)
{
    churn__ww_u32(w, n);
    churn__ww_bytes(w, p, n);
}

static inline const unsigned char *churn__wr_take(struct churn__wr *r, size_t n)
{
    if (r->bad || n > r->len - r->pos) {
        r->bad = true;
        return NULL;
    }
    r->pos += n;
    return r->p + r->pos - n;
}

static inline uint64_t churn__wr_uint(struct churn__wr *r, unsigned n)
{
    const unsigned char *b = churn__wr_take(r, n);
    uint64_t v = 0;

    for (unsigned i = 0; b != NULL && i < n; i++) {
        v |= (uint64_t)b[i] << (8 * i);
    }
    return v;
}

#define churn__wr_u8(r)  ((uint8_t)churn__wr_uint((r), 1))
#define churn__wr_u16(r) ((uint16_t)churn__wr_uint((r), 2))
#define churn__wr_u32(r) ((uint32_t)churn__wr_uint((r), 4))
#define churn__wr_u64(r) churn__wr_uint((r), 8)
#define churn__wr_i32(r) ((int32_t)churn__wr_u32(r))
#define churn__wr_i64(r) ((int64_t)churn__wr_u64(r))

static inline double churn__wr_f64(struct churn__wr *r)
{
    uint64_t v = churn__wr_uint(r, 8);
    double d;

    memcpy(&d, &v, sizeof(d));
    return d;
}

/* A length-prefixed string of at most max bytes; a view into the record. */
static inline const char *
churn__wr_str(struct churn__wr *r, size_t max, size_t *len)
{
    uint32_t n = churn__wr_u32(r);

    if (n > max) {
        r->bad = true;
    }
    const unsigned char *p = churn__wr_take(r, r->bad ? 0 : n);
    *len = p != NULL ? n : 0;
    return p != NULL ? (const char *)p : "";
}

/* Marks the record bad unless cond holds (a range check on a read value). */
static inline void churn__wr_check(struct churn__wr *r, bool cond)
{
    if (!cond) {
        r->bad = true;
    }
}

#endif
