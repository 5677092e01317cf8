/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Decoder cost against plain jansson: ns/event for json_loadb() alone (no
 * flags, and with the decoder's flags) and for churn_decoder_decode(), on a
 * few typical events. A quick local measurement, not a test. Each figure
 * is the best of ROUNDS rounds, which filters out noise from other load.
 *
 *   bench_decode [ITERATIONS]      (default 100000 per event and round)
 */
#include "churnd/decode.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const events[] = {
    "{\"event_id\":\"9f1c2d7e-0b7a-4c55-9a4e-1f0d2b3c4d5e\",\"type\":"
    "\"usage.login\",\"account_id\":\"acct_000123\",\"user_id\":\"u_42\","
    "\"ts\":\"2026-03-01T12:00:00.123Z\",\"ip\":\"203.0.113.7\"}",
    "{\"event_id\":\"9f1c2d7e-0b7a-4c55-9a4e-1f0d2b3c4d5f\",\"type\":"
    "\"usage.feature_used\",\"account_id\":\"acct_000123\",\"user_id\":"
    "\"u_42\",\"ts\":1772366400123,\"feature\":\"reports.export\",\"count\":"
    "3,\"duration_s\":45}",
    "{\"event_id\":\"9f1c2d7e-0b7a-4c55-9a4e-1f0d2b3c4d60\",\"type\":"
    "\"payment.failed\",\"account_id\":\"acct_000123\",\"ts\":\"2026-03-01T"
    "12:00:00+01:00\",\"amount\":4900,\"currency\":\"EUR\",\"decline_code\":"
    "\"insufficient_funds\",\"attempt\":2}",
    "{\"event_id\":\"9f1c2d7e-0b7a-4c55-9a4e-1f0d2b3c4d61\",\"type\":"
    "\"subscription.upgraded\",\"account_id\":\"acct_000123\",\"ts\":"
    "\"2026-03-01T12:00:00Z\",\"plan\":\"business\",\"mrr\":49900,"
    "\"currency\":\"USD\",\"seats\":25,\"source\":\"billing\",\"meta\":"
    "{\"invoice\":\"in_123\",\"lines\":[1,2,3]}}",
};

#define ROUNDS 5

enum mode {
    PLAIN,
    FLAGS,
    DECODE
};

static double now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* Best ns per event over ROUNDS rounds of iters calls. */
static double measure(enum mode m,
                      const char *s,
                      size_t len,
                      long iters,
                      struct churn_decoder *dec)
{
    struct churn_event ev;
    struct churn_decode_result res;
    double best = 0;

    for (int r = 0; r < ROUNDS; r++) {
        double t0 = now_ns(), dt;

        for (long i = 0; i < iters; i++) {
            switch (m) {
            case PLAIN:
                json_decref(json_loadb(s, len, 0, NULL));
                break;
            case FLAGS:
                json_decref(json_loadb(
                    s, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, NULL));
                break;
            case DECODE:
                churn_decoder_decode(dec, s, len, &ev, &res);
                break;
            }
        }
        dt = (now_ns() - t0) / (double)iters;
        if (r == 0 || dt < best) {
            best = dt;
        }
    }
    return best;
}

int main(int argc, char **argv)
{
    long iters = argc > 1 ? atol(argv[1]) : 100000;
    struct churn_decoder *dec = churn_decoder_new(65536);
    struct churn_event ev;
    struct churn_decode_result res;
    size_t n_ev = sizeof(events) / sizeof(events[0]);
    double tot_plain = 0, tot_flags = 0, tot_dec = 0;

    if (dec == NULL || iters <= 0) {
        return 1;
    }
    printf("%-24s %6s %10s %10s %10s %7s\n", "event", "bytes", "loadb_ns",
           "loadb_f_ns", "decode_ns", "ratio");
    for (size_t e = 0; e < n_ev; e++) {
        const char *s = events[e];
        size_t len = strlen(s);
        double plain, flags, decode;

        if (churn_decoder_decode(dec, s, len, &ev, &res) != CHURN_REASON_NONE) {
            fprintf(stderr, "event %zu does not decode: %s\n", e, res.detail);
            return 1;
        }
        plain = measure(PLAIN, s, len, iters, dec);
        flags = measure(FLAGS, s, len, iters, dec);
        decode = measure(DECODE, s, len, iters, dec);
        printf("%-24s %6zu %10.0f %10.0f %10.0f %6.0f%%\n",
               churn_event_type_name(ev.type), len, plain, flags, decode,
               100.0 * plain / decode);
        tot_plain += plain;
        tot_flags += flags;
        tot_dec += decode;
    }
    printf("%-24s %6s %10.0f %10.0f %10.0f %6.0f%%\n", "mean", "",
           tot_plain / (double)n_ev, tot_flags / (double)n_ev,
           tot_dec / (double)n_ev, 100.0 * tot_plain / tot_dec);
    churn_decoder_free(dec);
    return 0;
}
