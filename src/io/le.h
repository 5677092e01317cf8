/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CHURND_IO_LE_H
#define CHURND_IO_LE_H

/*
 * Little-endian integers for the io side's binary formats (snapshot files,
 * changelog checkpoint records), byte by byte so the bytes do not depend on
 * the host.
 */

#include <stdint.h>

/* Writes the low n bytes (1..8) of v into b. */
static inline void churn_le_put(unsigned char *b, uint64_t v, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        b[i] = (unsigned char)(v >> (8 * i));
    }
}

/* Reads n bytes (1..8) from p. */
static inline uint64_t churn_le_get(const unsigned char *p, unsigned n)
{
    uint64_t v = 0;

    for (unsigned i = 0; i < n; i++) {
        v |= (uint64_t)p[i] << (8 * i);
    }
    return v;
}

#endif
