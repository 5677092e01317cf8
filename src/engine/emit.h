/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CHURN_ENGINE_EMIT_H
#define CHURN_ENGINE_EMIT_H

/*
 * Output collection and a small JSON writer.
 *
 * churn__outq owns the outputs of the engine: their structs in a vector and
 * their bytes in an arena of chunks that never move, so a view handed out
 * stays valid until churn__outq_clear().
 *
 * churn__jw writes compact JSON into a growable buffer with a fixed key
 * order (the order of the calls), so output is byte-stable. Strings are
 * escaped per RFC 8259 and must be valid UTF-8 (they come from jansson or
 * from the engine's own tables). Allocation failure is sticky in `oom`.
 */

#include "churnd/engine.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct churn__chunk;

struct churn__outq {
    struct churn_output *v;
    size_t cnt;
    size_t cap;
    struct churn__chunk *chunks; /* newest first */
    bool oom;
};

void churn__outq_clear(struct churn__outq *q);
void churn__outq_release(struct churn__outq *q);
/* Copies n bytes into the arena; NULL (and q->oom) on failure. */
const char *churn__outq_copy(struct churn__outq *q, const void *p, size_t n);
/* A new zeroed output at the end; NULL (and q->oom) on failure. */
struct churn_output *churn__outq_push(struct churn__outq *q);
/* Adds a header whose name is static and whose value is copied. */
void churn__outq_header(struct churn__outq *q,
                        struct churn_output *o,
                        const char *name,
                        struct churn_str value);

struct churn__jw {
    char *p;
    size_t len;
    size_t cap;
    bool oom;
    bool comma; /* a value precedes at this level */
};

void churn__jw_reset(struct churn__jw *w);
void churn__jw_release(struct churn__jw *w);
void churn__jw_open(struct churn__jw *w, const char *key); /* key NULL: top */
void churn__jw_close(struct churn__jw *w);
void churn__jw_arr_open(struct churn__jw *w, const char *key);
void churn__jw_arr_close(struct churn__jw *w);
void churn__jw_str(struct churn__jw *w, const char *key, struct churn_str s);
void churn__jw_cstr(struct churn__jw *w, const char *key, const char *s);
void churn__jw_int(struct churn__jw *w, const char *key, int64_t v);
/* A number rounded to `decimals` places, trailing zeros dropped. */
void churn__jw_num(struct churn__jw *w,
                   const char *key,
                   double v,
                   int decimals);
void churn__jw_bool(struct churn__jw *w, const char *key, bool v);
void churn__jw_null(struct churn__jw *w, const char *key);
void churn__jw_time(struct churn__jw *w, const char *key, int64_t ms);
/* A string or null when s is empty. */
void churn__jw_str_or_null(struct churn__jw *w,
                           const char *key,
                           struct churn_str s);
/* Appends raw bytes (no escaping). */
void churn__jw_raw(struct churn__jw *w, const char *p, size_t n);
/* Appends s escaped as a JSON string body (without quotes). */
void churn__jw_escape(struct churn__jw *w, struct churn_str s);

#endif
