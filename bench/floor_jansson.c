/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Floor 2: the irreducible parse. Each line is parsed with jansson (the
 * flags churnd's decoder uses) and the envelope fields event_id, type,
 * account_id and ts are read; nothing is validated or kept. churnd's end to
 * end rate is judged against this one.
 *
 *   floor_jansson FILE   -> one JSON line on stdout
 */
#include "benchutil.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdint.h>

int main(int argc, char **argv)
{
    static const char *const keys[] = { "event_id", "type", "account_id" };
    struct bench_reader r;
    const char *line;
    size_t len;
    uint64_t lines = 0, bytes = 0, parsed = 0, sum = 0;
    double t0, secs;
    int rc;

    if (argc != 2) {
        fprintf(stderr, "usage: floor_jansson FILE\n");
        return 2;
    }
    t0 = bench_now();
    if (!bench_reader_open(&r, argv[1])) {
        perror(argv[1]);
        return 1;
    }
    while ((rc = bench_read_line(&r, &line, &len)) == 1) {
        json_t *root, *ts;

        lines++;
        bytes += len + 1;
        root = json_loadb(line, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY,
                          NULL);
        if (root == NULL) {
            continue;
        }
        if (json_is_object(root)) {
            parsed++;
            for (size_t k = 0; k < 3; k++) {
                sum += json_string_length(json_object_get(root, keys[k]));
            }
            ts = json_object_get(root, "ts");
            sum += json_is_integer(ts) ? (uint64_t)json_integer_value(ts)
                                       : json_string_length(ts);
        }
        json_decref(root);
    }
    bench_reader_close(&r);
    if (rc < 0) {
        perror(argv[1]);
        return 1;
    }
    secs = bench_now() - t0;
    printf("{\"stage\":\"floor_jansson\",\"events\":%" PRIu64
           ",\"bytes\":%" PRIu64 ",\"parsed\":%" PRIu64
           ",\"seconds\":%.6f,\"peak_rss_kb\":%ld,\"checksum\":%" PRIu64 "}\n",
           lines, bytes, parsed, secs, bench_status_kb("VmHWM"), sum);
    return 0;
}
