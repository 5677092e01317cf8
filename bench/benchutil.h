/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CHURN_BENCHUTIL_H
#define CHURN_BENCHUTIL_H

/*
 * Small helpers shared by the benchmark programs (header-only so each
 * bench program stays one source file): a monotonic clock, peak and current RSS
 * from /proc/self/status, and a block line reader that hands out each line
 * (without its LF or CRLF) as a view valid until the next call.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static inline double bench_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* "VmHWM" (peak) or "VmRSS" (current) in KiB; -1 when unknown. */
static inline long bench_status_kb(const char *field)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    size_t n = strlen(field);
    long kb = -1;

    if (f == NULL) {
        return -1;
    }
    while (fgets(line, sizeof(line), f) != NULL) {
        if (strncmp(line, field, n) == 0 && line[n] == ':') {
            kb = strtol(line + n + 1, NULL, 10);
            break;
        }
    }
    fclose(f);
    return kb;
}

struct bench_reader {
    FILE *f;
    char *buf;
    size_t cap, start, end;
    bool eof;
};

static inline bool bench_reader_open(struct bench_reader *r, const char *path)
{
    memset(r, 0, sizeof(*r));
    r->f = fopen(path, "rb");
    r->cap = 1u << 20;
    r->buf = malloc(r->cap);
    if (r->f == NULL || r->buf == NULL) {
        if (r->f != NULL) {
            fclose(r->f);
        }
        free(r->buf);
        return false;
    }
    return true;
}

static inline void bench_reader_close(struct bench_reader *r)
{
    fclose(r->f);
    free(r->buf);
}

/* 1 and a line, 0 at the end, -1 on a read or allocation error. */
static inline int
bench_read_line(struct bench_reader *r, const char **line, size_t *len)
{
    for (;;) {
        char *nl = r->end > r->start
                       ? memchr(r->buf + r->start, '\n', r->end - r->start)
                       : NULL;
        if (nl != NULL || (r->eof && r->end > r->start)) {
            size_t stop = nl != NULL ? (size_t)(nl - r->buf) : r->end;
            *line = r->buf + r->start;
            *len = stop - r->start;
            if (*len > 0 && (*line)[*len - 1] == '\r') {
                (*len)--;
            }
            r->start = nl != NULL ? stop + 1 : r->end;
            return 1;
        }
        if (r->eof) {
            return 0;
        }
        if (r->start > 0) {
            memmove(r->buf, r->buf + r->start, r->end - r->start);
            r->end -= r->start;
            r->start = 0;
        }
        if (r->end == r->cap) {
            char *nb = realloc(r->buf, r->cap * 2);
            if (nb == NULL) {
                return -1;
            }
            r->buf = nb;
            r->cap *= 2;
        }
        size_t got = fread(r->buf + r->end, 1, r->cap - r->end, r->f);
        if (got == 0) {
            if (ferror(r->f)) {
                return -1;
            }
            r->eof = true;
        }
        r->end += got;
    }
}

#endif
