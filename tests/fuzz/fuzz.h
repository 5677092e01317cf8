/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CHURN_FUZZ_H
#define CHURN_FUZZ_H

/*
 * Shared by the libFuzzer targets in tests/fuzz/. Each target defines
 * LLVMFuzzerTestOneInput() and checks its own invariants with FUZZ_CHECK,
 * which prints what broke and aborts, so libFuzzer (or the standalone
 * runner, standalone.c) records the input as a crash.
 *
 * The targets build two ways: with clang -fsanitize=fuzzer (CHURN_FUZZ=ON,
 * tests/fuzz/CMakeLists.txt) and as plain programs over standalone.c, which
 * replay the committed corpora and crashers in every ctest run.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define FUZZ_CHECK(cond, ...)                                                  \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "%s:%d: invariant failed: %s: ", __FILE__,         \
                    __LINE__, #cond);                                          \
            fprintf(stderr, __VA_ARGS__);                                      \
            fputc('\n', stderr);                                               \
            abort();                                                           \
        }                                                                      \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* True when p[0..n) is valid UTF-8 (no overlongs, surrogates or values
 * above U+10FFFF). An independent copy, so the targets do not trust the
 * code they test. */
static inline bool fuzz_utf8_valid(const uint8_t *p, size_t n)
{
    size_t i = 0;

    while (i < n) {
        uint32_t c = p[i], cp;
        size_t k;

        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF) {
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
        if (n - i <= k) {
            return false;
        }
        for (size_t j = 1; j <= k; j++) {
            if ((p[i + j] & 0xC0) != 0x80) {
                return false;
            }
            cp = (cp << 6) | (p[i + j] & 0x3Fu);
        }
        if ((k == 2 && cp < 0x800) || (k == 3 && cp < 0x10000) ||
            cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
            return false;
        }
        i += k + 1;
    }
    return true;
}

/* A cursor over the fuzz input that yields zeros once it runs dry. */
struct fuzz_bytes {
    const uint8_t *p;
    size_t n;
};

static inline uint8_t fuzz_u8(struct fuzz_bytes *b)
{
    if (b->n == 0) {
        return 0;
    }
    b->n--;
    return *b->p++;
}

/* n bytes (n <= 8), big-endian. */
static inline uint64_t fuzz_uint(struct fuzz_bytes *b, int n)
{
    uint64_t v = 0;

    for (int i = 0; i < n; i++) {
        v = (v << 8) | fuzz_u8(b);
    }
    return v;
}

#endif
