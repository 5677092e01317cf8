/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Floor 1: the cost of reading a replay's lines, nothing else. Every line
 * is found (block reads + memchr) and its bytes touched once, so churnd's
 * end-to-end rate can be set against the rate the input can be read at.
 *
 *   floor_read FILE   -> one JSON line on stdout
 */
#include "benchutil.h"

#include <inttypes.h>
#include <stdint.h>

int main(int argc, char **argv)
{
    struct bench_reader r;
    const char *line;
    size_t len;
    uint64_t lines = 0, bytes = 0, sum = 0;
    double t0, secs;
    int rc;

    if (argc != 2) {
        fprintf(stderr, "usage: floor_read FILE\n");
        return 2;
    }
    t0 = bench_now();
    if (!bench_reader_open(&r, argv[1])) {
        perror(argv[1]);
        return 1;
    }
    while ((rc = bench_read_line(&r, &line, &len)) == 1) {
        lines++;
        bytes += len + 1;
        for (size_t i = 0; i < len; i += 64) {
            sum += (unsigned char)line[i]; /* touch every cache line */
        }
    }
    bench_reader_close(&r);
    if (rc < 0) {
        perror(argv[1]);
        return 1;
    }
    secs = bench_now() - t0;
    printf("{\"stage\":\"floor_read\",\"events\":%" PRIu64 ",\"bytes\":%" PRIu64
           ",\"seconds\":%.6f,\"peak_rss_kb\":%ld,\"checksum\":%" PRIu64 "}\n",
           lines, bytes, secs, bench_status_kb("VmHWM"), sum);
    return 0;
}
