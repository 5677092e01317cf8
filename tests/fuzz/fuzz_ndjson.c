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
 *
 * Each line then goes out again as a dead letter through
 * churn_ndjson_write_output(), the replay path's writer: the NDJSON line it
 * writes is one JSON object (jansson, duplicate keys rejected) whose
 * topic, key and headers read back as given and whose `value` (when the
 * bytes are UTF-8) or `value_b64` (otherwise) gives back the exact bytes;
 * churn_utf8_valid() agrees with an independent check.
 */
#define _GNU_SOURCE /* fopencookie */
#include "fuzz.h"
#include "io/ndjson.h"

#include <jansson.h>
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

static int b64_val(char c)
{
    static const char tbl[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const char *p = c ? strchr(tbl, c) : NULL;

    return p ? (int)(p - tbl) : -1;
}

/* Decodes padded base64 s[0..n) into out (n / 4 * 3 bytes); -1 if bad. */
static long b64_decode(const char *s, size_t n, uint8_t *out)
{
    size_t w = 0;

    if (n % 4 != 0) {
        return -1;
    }
    for (size_t i = 0; i < n; i += 4) {
        int v[4];
        for (int k = 0; k < 4; k++) {
            v[k] =
                s[i + k] == '=' && i + 4 == n && k >= 2 ? 0 : b64_val(s[i + k]);
            if (v[k] < 0) {
                return -1;
            }
        }
        uint32_t x = (uint32_t)(v[0] << 18 | v[1] << 12 | v[2] << 6 | v[3]);
        out[w++] = (uint8_t)(x >> 16);
        if (s[i + 2] != '=') {
            out[w++] = (uint8_t)(x >> 8);
        }
        if (s[i + 3] != '=') {
            out[w++] = (uint8_t)x;
        }
    }
    return (long)w;
}

static bool json_bytes_eq(json_t *v, const char *p, size_t n)
{
    return json_is_string(v) && json_string_length(v) == n &&
           (n == 0 || memcmp(json_string_value(v), p, n) == 0);
}

/* The line as a dead letter through the replay writer, read back. */
static void check_written(const char *line, size_t len)
{
    static const char key[] = "k\"\\\x01\x7f\xc3\xa9";
    struct churn_output o;
    char *text = NULL;
    size_t text_len = 0;
    FILE *mem = open_memstream(&text, &text_len);
    bool utf8 = fuzz_utf8_valid((const uint8_t *)line, len);
    json_error_t je;

    FUZZ_CHECK(mem != NULL, "open_memstream failed");
    FUZZ_CHECK(churn_utf8_valid(line, len) == utf8,
               "churn_utf8_valid says %d for %zu bytes", !utf8, len);
    memset(&o, 0, sizeof(o));
    o.topic = CHURN_TOPIC_DLQ;
    o.key = (struct churn_str){ key, sizeof(key) - 1 };
    o.value = (struct churn_str){ line, len };
    o.headers[0].name = "churnd.detail";
    o.headers[0].value = (struct churn_str){ line, len };
    o.header_cnt = utf8 ? 1 : 0; /* headers are UTF-8 text */
    FUZZ_CHECK(churn_ndjson_write_output(mem, "churn.dlq", &o),
               "write_output failed");
    fclose(mem);
    FUZZ_CHECK(text_len > 0 && text[text_len - 1] == '\n' &&
                   memchr(text, '\n', text_len) == text + text_len - 1,
               "the output is not one line");
    json_t *j = json_loadb(text, text_len,
                           JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &je);
    FUZZ_CHECK(j != NULL, "the output line is not JSON: %s", je.text);
    FUZZ_CHECK(
        json_bytes_eq(json_object_get(j, "topic"), "churn.dlq", 9) &&
            json_bytes_eq(json_object_get(j, "key"), key, sizeof(key) - 1),
        "topic or key changed");
    json_t *h = json_object_get(j, "headers");
    FUZZ_CHECK(json_is_object(h) && json_object_size(h) == o.header_cnt,
               "headers changed");
    if (o.header_cnt > 0) {
        FUZZ_CHECK(json_bytes_eq(json_object_get(h, "churnd.detail"),
                                 o.headers[0].value.ptr,
                                 o.headers[0].value.len),
                   "header value changed");
    }
    json_t *v = json_object_get(j, "value");
    json_t *b = json_object_get(j, "value_b64");
    FUZZ_CHECK((v != NULL) == utf8 && (b != NULL) == !utf8,
               "value/value_b64 choice wrong for %s bytes",
               utf8 ? "UTF-8" : "non-UTF-8");
    if (utf8) {
        FUZZ_CHECK(json_bytes_eq(v, line, len), "value bytes differ");
    } else {
        FUZZ_CHECK(json_is_string(b), "value_b64 is not a string");
        uint8_t *raw = malloc(json_string_length(b) / 4 * 3 + 1);
        FUZZ_CHECK(raw != NULL, "out of memory");
        long n = b64_decode(json_string_value(b), json_string_length(b), raw);
        FUZZ_CHECK(n == (long)len && memcmp(raw, line, len) == 0,
                   "value_b64 does not decode to the bytes");
        free(raw);
    }
    json_decref(j);
    free(text);
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
        check_written(line, len);
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
