/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CHURND_IO_NDJSON_H
#define CHURND_IO_NDJSON_H

/*
 * NDJSON line input and output for the replay path.
 *
 * The reader yields each line without its terminator (LF or CRLF); a last
 * line without a newline is a line. Lines up to `max_len` bytes are returned
 * whole; a longer line is consumed to its end and returned cut to max_len
 * bytes with *truncated set, so memory stays bounded and the line is still
 * dead-lettered (as oversized). Views are valid until the next call.
 */

#include "churnd/engine.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct churn_ndjson_reader;

struct churn_ndjson_reader *churn_ndjson_reader_new(FILE *in, size_t max_len);

/*
 * As churn_ndjson_reader_new(), reading chunk_len bytes at a time (> 0;
 * the default is 1 MiB). The lines returned do not depend on chunk_len;
 * the fuzz target uses tiny chunks so lines span refills.
 */
struct churn_ndjson_reader *
churn_ndjson_reader_new_chunk(FILE *in, size_t max_len, size_t chunk_len);
void churn_ndjson_reader_free(struct churn_ndjson_reader *r);

/* 1: a line; 0: end of input; -1: read error (errno set). */
int churn_ndjson_read(struct churn_ndjson_reader *r,
                      const char **line,
                      size_t *len,
                      bool *truncated);

/* True when p[0..n) is valid UTF-8 (no overlongs, no surrogates). */
bool churn_utf8_valid(const char *p, size_t n);

/*
 * Writes one output as an NDJSON line:
 *   {"topic":T,"key":K,"headers":{...},"value":V}
 * V is the output's JSON value as is; a dead letter's original bytes are a
 * JSON string when they are valid UTF-8 and "value_b64" otherwise. Returns
 * false on a write error.
 */
bool churn_ndjson_write_output(FILE *out,
                               const char *topic,
                               const struct churn_output *o);

#endif
