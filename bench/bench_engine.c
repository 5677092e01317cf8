/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The engine alone: every line of a replay is decoded first (into owned
 * copies: the decoder's views die with its next call), then only
 * churn_engine_apply() over all of them is timed, plus the final
 * churn_engine_finish(); outputs are dropped every 4096 events as a sink
 * would. No GeoIP. Also reports the engine's documented bytes of state per
 * account and the RSS the state really took (RSS after minus before,
 * divided by the accounts held).
 *
 *   bench_engine FILE   -> one JSON line on stdout
 */
#include "benchutil.h"
#include "churnd/config.h"
#include "churnd/decode.h"
#include "churnd/engine.h"

#include <inttypes.h>
#include <stdint.h>

#define ARENA_CHUNK (16u << 20)

/* Append-only string storage: chunks never move, so views stay valid. */
struct arena {
    char **chunks;
    size_t n, cap, used;
};

static bool arena_copy(struct arena *a, struct churn_str *s)
{
    char *dst;

    if (s->len == 0) {
        return true;
    }
    if (a->n == 0 || a->used + s->len > ARENA_CHUNK) {
        if (a->n == a->cap) {
            size_t cap = a->cap ? a->cap * 2 : 16;
            char **c = realloc(a->chunks, cap * sizeof(*c));
            if (c == NULL) {
                return false;
            }
            a->chunks = c;
            a->cap = cap;
        }
        a->chunks[a->n] = malloc(ARENA_CHUNK);
        if (a->chunks[a->n] == NULL) {
            return false;
        }
        a->n++;
        a->used = 0;
    }
    dst = a->chunks[a->n - 1] + a->used;
    memcpy(dst, s->ptr, s->len);
    a->used += s->len;
    s->ptr = dst;
    return true;
}

static bool own_event(struct arena *a, struct churn_event *ev)
{
    struct churn_str *strs[] = { &ev->event_id,     &ev->account_id,
                                 &ev->user_id,      &ev->ip,
                                 &ev->plan,         &ev->currency,
                                 &ev->reason,       &ev->feature,
                                 &ev->decline_code, &ev->priority };

    for (size_t k = 0; k < sizeof(strs) / sizeof(strs[0]); k++) {
        if (!arena_copy(a, strs[k])) {
            return false;
        }
    }
    return true;
}

/* A sink drops outputs as they come, as churnd replay writes them. */
static void drop_outputs(void *ctx, const struct churn_output *out, size_t n)
{
    (void)ctx;
    (void)out;
    (void)n;
}

int main(int argc, char **argv)
{
    struct bench_reader r;
    struct churn_config cfg;
    struct churn_error err = { 0 };
    struct churn_decoder *dec = NULL;
    struct churn_engine *eng = NULL;
    struct churn_engine_stats st;
    struct churn_event *evs = NULL;
    struct arena arena = { 0 };
    size_t n = 0, cap = 0;
    uint64_t lines = 0, bytes = 0, undecodable = 0;
    const char *line;
    size_t len;
    long rss0, rss1;
    double t0, secs;
    int rc;

    if (argc != 2) {
        fprintf(stderr, "usage: bench_engine FILE\n");
        return 2;
    }
    churn_config_init(&cfg);
    if (churn_config_validate(&cfg, &err) != CHURN_OK) {
        fprintf(stderr, "bench_engine: %s\n", err.msg);
        return 1;
    }
    dec = churn_decoder_new(cfg.input_max_event_size);
    if (dec == NULL || !bench_reader_open(&r, argv[1])) {
        fprintf(stderr, "bench_engine: cannot open %s\n", argv[1]);
        return 1;
    }
    while ((rc = bench_read_line(&r, &line, &len)) == 1) {
        struct churn_event ev;

        lines++;
        bytes += len + 1;
        if (churn_decoder_decode(dec, line, len, &ev, NULL) !=
            CHURN_REASON_NONE) {
            undecodable++;
            continue;
        }
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 65536;
            struct churn_event *e = realloc(evs, ncap * sizeof(*e));
            if (e == NULL) {
                rc = -1;
                break;
            }
            evs = e;
            cap = ncap;
        }
        if (!own_event(&arena, &ev)) {
            rc = -1;
            break;
        }
        evs[n++] = ev;
    }
    bench_reader_close(&r);
    churn_decoder_free(dec);
    if (rc < 0) {
        fprintf(stderr, "bench_engine: read or allocation failure\n");
        return 1;
    }

    rss0 = bench_status_kb("VmRSS");
    eng = churn_engine_new(&cfg, NULL, NULL, &err);
    if (eng == NULL) {
        fprintf(stderr, "bench_engine: %s\n", err.msg);
        return 1;
    }
    churn_engine_set_output_fn(eng, drop_outputs, NULL);
    t0 = bench_now();
    for (size_t i = 0; i < n; i++) {
        struct churn_source src = {
            "bench", -1, (int64_t)i + 1, -1, { NULL, 0 }
        };
        if (churn_engine_apply(eng, &evs[i], &src, &err) != CHURN_OK) {
            fprintf(stderr, "bench_engine: event %zu: %s\n", i, err.msg);
            return 1;
        }
        if ((i & 4095) == 4095) {
            churn_engine_outputs_clear(eng);
        }
    }
    if (churn_engine_finish(eng, &err) != CHURN_OK) {
        fprintf(stderr, "bench_engine: %s\n", err.msg);
        return 1;
    }
    churn_engine_outputs_clear(eng);
    secs = bench_now() - t0;
    rss1 = bench_status_kb("VmRSS");
    churn_engine_get_stats(eng, &st);

    printf("{\"stage\":\"engine_apply\",\"events\":%zu,\"lines\":%" PRIu64
           ",\"bytes\":%" PRIu64 ",\"undecodable\":%" PRIu64
           ",\"seconds\":%.6f,\"accounts\":%" PRIu64
           ",\"account_bytes\":%zu,\"rss_before_kb\":%ld,\"rss_after_kb\":%ld"
           ",\"rss_delta_bytes_per_account\":%.1f,\"peak_rss_kb\":%ld"
           ",\"signals\":%" PRIu64 ",\"alerts\":%" PRIu64 "}\n",
           n, lines, bytes, undecodable, secs, st.accounts,
           churn_engine_account_bytes(eng), rss0, rss1,
           st.accounts ? (double)(rss1 - rss0) * 1024.0 / (double)st.accounts
                       : 0.0,
           bench_status_kb("VmHWM"), st.signals,
           st.alerts_firing + st.alerts_resolved);
    churn_engine_free(eng);
    for (size_t k = 0; k < arena.n; k++) {
        free(arena.chunks[k]);
    }
    free(arena.chunks);
    free(evs);
    churn_config_release(&cfg);
    return 0;
}
