/* SPDX-License-Identifier: Apache-2.0 */
#include "io/ndjson.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define READ_CHUNK (1u << 20)

struct churn_ndjson_reader {
    FILE *in;
    size_t max_len;
    char *buf;
    size_t cap;
    size_t start; /* first unread byte */
    size_t end;   /* one past the last byte read */
    bool eof;
    int pipe_fd; /* a pipe, socket or terminal: read(2), else -1 */
    char *line;  /* assembled long line, when it spans refills */
    size_t line_cap;
};

struct churn_ndjson_reader *churn_ndjson_reader_new(FILE *in, size_t max_len)
{
    return churn_ndjson_reader_new_chunk(in, max_len, READ_CHUNK);
}

struct churn_ndjson_reader *
churn_ndjson_reader_new_chunk(FILE *in, size_t max_len, size_t chunk_len)
{
    struct churn_ndjson_reader *r;

    if (chunk_len == 0) {
        return NULL;
    }
    r = calloc(1, sizeof(*r));
    if (r == NULL) {
        return NULL;
    }
    r->in = in;
    r->max_len = max_len;
    /* fread() on a pipe waits until the whole chunk is there; read(2)
     * returns what arrived, so a live stream (`tail -f | churnd replay`)
     * is processed line by line as it comes. The FILE's own buffer is
     * never used then, so the two do not mix. */
    r->pipe_fd = -1;
    {
        int fd = fileno(in);
        struct stat st;
        if (fd >= 0 && fstat(fd, &st) == 0 &&
            (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode) ||
             S_ISCHR(st.st_mode))) {
            r->pipe_fd = fd;
        }
    }
    r->cap = chunk_len;
    r->buf = malloc(r->cap);
    if (r->buf == NULL) {
        free(r);
        return NULL;
    }
    return r;
}

void churn_ndjson_reader_free(struct churn_ndjson_reader *r)
{
    if (r != NULL) {
        free(r->buf);
        free(r->line);
        free(r);
    }
}

static int refill(struct churn_ndjson_reader *r)
{
    size_t n;

    if (r->start > 0) {
        memmove(r->buf, r->buf + r->start, r->end - r->start);
        r->end -= r->start;
        r->start = 0;
    }
    if (r->eof) {
        return 0;
    }
    if (r->pipe_fd >= 0) {
        ssize_t got;
        do {
            got = read(r->pipe_fd, r->buf + r->end, r->cap - r->end);
        } while (got < 0 && errno == EINTR);
        if (got < 0) {
            return -1;
        }
        n = (size_t)got;
    } else {
        n = fread(r->buf + r->end, 1, r->cap - r->end, r->in);
        if (n == 0 && ferror(r->in)) {
            return -1;
        }
    }
    r->end += n;
    if (n == 0) {
        r->eof = true;
        return 0;
    }
    return 1;
}

/*
 * A long line keeps at most max_len + 1 bytes: one more than can be
 * returned, so that a CR ending a line of exactly max_len bytes is still
 * seen (and stripped as part of its CRLF) rather than counted as content.
 */
static size_t keep_len(const struct churn_ndjson_reader *r)
{
    return r->max_len < SIZE_MAX ? r->max_len + 1 : SIZE_MAX;
}

/* Appends p[0..n) to the long-line buffer, keeping at most keep_len()
 * bytes; *dropped is set when bytes beyond that are thrown away. */
static bool line_append(struct churn_ndjson_reader *r,
                        size_t *len,
                        const char *p,
                        size_t n,
                        bool *dropped)
{
    size_t keep = keep_len(r);

    if (*len + n > keep) {
        *dropped = true;
        n = keep > *len ? keep - *len : 0;
    }
    if (*len + n > r->line_cap) {
        size_t ncap = r->line_cap ? r->line_cap : r->cap;
        while (ncap < *len + n) {
            ncap *= 2;
        }
        char *nl = realloc(r->line, ncap);
        if (nl == NULL) {
            return false;
        }
        r->line = nl;
        r->line_cap = ncap;
    }
    if (n > 0) {
        memcpy(r->line + *len, p, n);
    }
    *len += n;
    return true;
}

/*
 * Hands out p[0..n) (or the assembled long line) as the current line: a
 * final CR is the terminator's (CRLF, or a CR ending the input) unless
 * bytes after it were dropped; then content over max_len is cut.
 */
static int emit_line(struct churn_ndjson_reader *r,
                     bool spanning,
                     size_t acc,
                     bool dropped,
                     const char *p,
                     size_t n,
                     const char **line,
                     size_t *len,
                     bool *truncated)
{
    if (spanning) {
        if (!line_append(r, &acc, p, n, &dropped)) {
            errno = ENOMEM;
            return -1;
        }
        p = r->line;
        n = acc;
    }
    if (!dropped && n > 0 && p[n - 1] == '\r') {
        n--;
    }
    if (dropped || n > r->max_len) {
        *truncated = true;
        n = r->max_len;
    }
    *line = p;
    *len = n;
    return 1;
}

int churn_ndjson_read(struct churn_ndjson_reader *r,
                      const char **line,
                      size_t *len,
                      bool *truncated)
{
    size_t acc = 0;
    bool spanning = false, dropped = false;

    *truncated = false;
    for (;;) {
        const char *p = r->buf + r->start;
        size_t avail = r->end - r->start;
        char *nl = memchr(p, '\n', avail);
        int rc;

        if (nl != NULL) {
            r->start += (size_t)(nl - p) + 1;
            return emit_line(r, spanning, acc, dropped, p, (size_t)(nl - p),
                             line, len, truncated);
        }
        if (avail == r->cap) {
            /* A full buffer without a newline: the line spans refills. */
            if (!line_append(r, &acc, p, avail, &dropped)) {
                errno = ENOMEM;
                return -1;
            }
            spanning = true;
            r->start = r->end = 0;
        }
        rc = refill(r);
        if (rc < 0) {
            return -1;
        }
        if (rc == 0) {
            /* End of input: what is left is the last line. */
            p = r->buf + r->start;
            avail = r->end - r->start;
            r->start = r->end;
            if (avail == 0 && !spanning) {
                return 0;
            }
            return emit_line(r, spanning, acc, dropped, p, avail, line, len,
                             truncated);
        }
    }
}

bool churn_utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;

    while (i < n) {
        unsigned c = p[i];
        size_t k;
        uint32_t cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xC2 && c <= 0xDF) {
            k = 1;
            cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            k = 2;
            cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            k = 3;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (i + k >= n) {
            return false;
        }
        for (size_t j = 1; j <= k; j++) {
            if ((p[i + j] & 0xC0) != 0x80) {
                return false;
            }
            cp = (cp << 6) | (p[i + j] & 0x3F);
        }
        if ((k == 2 && cp < 0x800) || (k == 3 && cp < 0x10000) ||
            cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
            return false;
        }
        i += k + 1;
    }
    return true;
}

static void put_escaped(FILE *out, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t run = 0;

    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\' && c != 0x7f) {
            continue;
        }
        fwrite(s + run, 1, i - run, out);
        run = i + 1;
        switch (c) {
        case '"':
            fputs("\\\"", out);
            break;
        case '\\':
            fputs("\\\\", out);
            break;
        case '\n':
            fputs("\\n", out);
            break;
        case '\r':
            fputs("\\r", out);
            break;
        case '\t':
            fputs("\\t", out);
            break;
        default: {
            char u[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };
            fwrite(u, 1, 6, out);
        }
        }
    }
    fwrite(s + run, 1, n - run, out);
}

static void put_str(FILE *out, struct churn_str s)
{
    fputc('"', out);
    put_escaped(out, s.ptr, s.len);
    fputc('"', out);
}

static void put_b64(FILE *out, const unsigned char *p, size_t n)
{
    static const char tbl[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char q[4];

    fputc('"', out);
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < n) {
            v |= (uint32_t)p[i + 1] << 8;
        }
        if (i + 2 < n) {
            v |= p[i + 2];
        }
        q[0] = tbl[(v >> 18) & 63];
        q[1] = tbl[(v >> 12) & 63];
        q[2] = i + 1 < n ? tbl[(v >> 6) & 63] : '=';
        q[3] = i + 2 < n ? tbl[v & 63] : '=';
        fwrite(q, 1, 4, out);
    }
    fputc('"', out);
}

bool churn_ndjson_write_output(FILE *out,
                               const char *topic,
                               const struct churn_output *o)
{
    fputs("{\"topic\":", out);
    put_str(out, (struct churn_str){ topic, strlen(topic) });
    fputs(",\"key\":", out);
    put_str(out, o->key);
    fputs(",\"headers\":{", out);
    for (size_t i = 0; i < o->header_cnt; i++) {
        if (i > 0) {
            fputc(',', out);
        }
        put_str(out, (struct churn_str){ o->headers[i].name,
                                         strlen(o->headers[i].name) });
        fputc(':', out);
        put_str(out, o->headers[i].value);
    }
    fputc('}', out);
    if (o->topic != CHURN_TOPIC_DLQ) {
        fputs(",\"value\":", out);
        fwrite(o->value.ptr, 1, o->value.len, out);
    } else if (churn_utf8_valid(o->value.ptr, o->value.len)) {
        fputs(",\"value\":", out);
        put_str(out, o->value);
    } else {
        fputs(",\"value_b64\":", out);
        put_b64(out, (const unsigned char *)o->value.ptr, o->value.len);
    }
    fputs("}\n", out);
    return !ferror(out);
}
