/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_ndjson: bytes through churn_ndjson_reader, with arbitrary chunking.
 *
 * Input: byte 0 picks the line limit (max_len), byte 1 the reader's chunk
 * size and byte 2 the most bytes the stream hands out per read, so lines
 * span refills and the stdio layer sees short reads; the rest is the file.
 *
 * Invariant: the lines returned are exactly the model's. The file splits
 * at each LF; a last piece without LF is a line too (none when the file
 * ends with LF). A line's content is its piece without one trailing CR.
 * Content of at most max_len bytes comes back whole with truncated false;
 * longer content comes back as its first max_len bytes with truncated
 * true. So, without truncation, the lines joined with their terminators
 * give back the input byte for byte (CR before LF, and a CR ending the
 * file, are the terminators' part). After the last line every read says
 * end of input.
 */
#define _GNU_SOURCE /* fopencookie */
#include "fuzz.h"
#include "io/ndjson.h"

#include <stdio.h>
#include <string.h>
#include <sys/types.h>

struct stream {
    const uint8_t *p;
    size_t n, pos, step;
};

static ssize_t stream_read(void *cookie, char *buf, size_t size)
{
    struct stream *s = cookie;
    size_t n = s->n - s->pos;

    if (n > size) {
        n = size;
    }
    if (n > s->step) {
        n = s->step;
    }
    memcpy(buf, s->p + s->pos, n);
    s->pos += n;
    return (ssize_t)n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_bytes b = { data, size };
    uint8_t b0 = fuzz_u8(&b), b1 = fuzz_u8(&b), b2 = fuzz_u8(&b);
    /* mostly tiny limits, sometimes one no line reaches */
    size_t max_len = (b0 & 0x80) ? 1u << 20 : (size_t)(b0 & 0x3f);
    size_t chunk = 1 + (size_t)(b1 % 32);
    struct stream st = { b.p, b.n, 0, 1 + (size_t)(b2 % 64) };
    cookie_io_functions_t io = { .read = stream_read };
    FILE *f = fopencookie(&st, "r", io);
    struct churn_ndjson_reader *r;
    size_t pos = 0, lines = 0;

    FUZZ_CHECK(f != NULL, "fopencookie failed");
    if (b2 & 0x80) {
        setvbuf(f, NULL, _IONBF, 0); /* every fread reaches the cookie */
    }
    r = churn_ndjson_reader_new_chunk(f, max_len, chunk);
    FUZZ_CHECK(r != NULL, "reader_new failed");
    for (;;) {
        const char *line = NULL;
        size_t len = (size_t)-1;
        bool trunc = true;
        int rc = churn_ndjson_read(r, &line, &len, &trunc);

        FUZZ_CHECK(rc == 0 || rc == 1, "read returned %d", rc);
        if (rc == 0) {
            FUZZ_CHECK(pos == b.n, "end of input at byte %zu of %zu", pos, b.n);
            break;
        }
        FUZZ_CHECK(pos < b.n, "line %zu after the end of input", lines + 1);

        /* The model's next line: the piece up to LF or end of input. */
        const uint8_t *start = b.p + pos;
        const uint8_t *nl = memchr(start, '\n', b.n - pos);
        size_t piece = nl ? (size_t)(nl - start) : b.n - pos;
        size_t content = piece;
        if (content > 0 && start[content - 1] == '\r') {
            content--;
        }
        size_t want = content <= max_len ? content : max_len;
        bool want_trunc = content > max_len;

        lines++;
        FUZZ_CHECK(len == want && trunc == want_trunc,
                   "line %zu (max_len %zu, chunk %zu): got %zu bytes%s, want "
                   "%zu%s",
                   lines, max_len, chunk, len, trunc ? " (truncated)" : "",
                   want, want_trunc ? " (truncated)" : "");
        FUZZ_CHECK(len == 0 || memcmp(line, start, len) == 0,
                   "line %zu: bytes differ", lines);
        pos += piece + (nl != NULL);
    }
    /* End of input is sticky. */
    for (int i = 0; i < 2; i++) {
        const char *line;
        size_t len;
        bool trunc;
        FUZZ_CHECK(churn_ndjson_read(r, &line, &len, &trunc) == 0,
                   "a read after the end returned a line");
    }
    churn_ndjson_reader_free(r);
    fclose(f);
    return 0;
}
