/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `churnd replay`: the engine over NDJSON. Reads events from a file or
 * stdin, writes every output as one NDJSON line (stdout, or one file per
 * topic with --out DIR), and prints a summary on stderr.
 */
#include "churnd/engine.h"
#include "io/cli.h"
#include "io/geoip.h"
#include "io/http.h"
#include "io/ndjson.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/*
 * Lines longer than this are cut (and dead-lettered as oversized). It is
 * over the largest input.max_event_size (16 MiB) by more than the decoder
 * strips before its size check (a 5-byte Schema Registry frame and a 3-byte
 * BOM), so a cut line is always oversized: cut at exactly 16 MiB, a line of
 * a valid event padded with spaces was accepted under a 16 MiB limit.
 */
#define REPLAY_MAX_LINE ((16u << 20) + 64u)

struct sinks {
    FILE *files[CHURN_TOPIC__COUNT]; /* NULL entries: stdout */
    FILE *all;
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: churnd replay [-c FILE] [-X key=value]... [--out DIR]\n"
            "                     [--summary FILE] [--http ADDR]\n"
            "                     [--http-linger SECS] [INPUT|-]\n"
            "\n"
            "Runs the engine over NDJSON events (one JSON event per line;\n"
            "CRLF and a last line without newline accepted) and writes every\n"
            "output as one NDJSON line {topic,key,headers,value}.\n"
            "\n"
            "  -c, --config FILE  config file (default: built-in defaults)\n"
            "  -X key=value     set a config key; repeatable, later wins\n"
            "                   (default: none)\n"
            "  --out DIR        write DIR/<topic>.jsonl per topic (default:\n"
            "                   every output on stdout)\n"
            "  --summary FILE   write the run's counters as JSON to FILE\n"
            "                   (default: none; the summary is on stderr)\n"
            "  --http ADDR      serve /metrics, /healthz, /readyz and\n"
            "                   /accounts/{id} on ADDR (host:port, [v6]:port,\n"
            "                   :port; port 0 picks one, printed on stderr)\n"
            "                   (default: off; http.listen is for run)\n"
            "  --http-linger SECS  after the input, keep serving for SECS\n"
            "                   seconds or until SIGINT/SIGTERM (default 0)\n"
            "  -v               print the summary even on failure (default:\n"
            "                   off)\n"
            "  -h, --help       this help\n"
            "  INPUT            events file (default: '-', stdin)\n"
            "\n"
            "SIGHUP re-opens geoip.database between two lines.\n"
            "\n"
            "exit: 0 ok (dead letters are not errors), 1 runtime failure,\n"
            "      2 usage or configuration error\n");
}

static bool write_outputs(struct churn_engine *eng, struct sinks *s)
{
    const struct churn_output *o;
    size_t n = churn_engine_outputs(eng, &o);
    bool ok = true;

    for (size_t i = 0; i < n; i++) {
        FILE *f = s->files[o[i].topic] ? s->files[o[i].topic] : s->all;
        ok &= churn_ndjson_write_output(
            f, churn_engine_topic_name(eng, o[i].topic), &o[i]);
    }
    churn_engine_outputs_clear(eng);
    return ok;
}

struct sink_ctx {
    struct churn_engine *eng;
    struct sinks *sinks;
    bool ok;
};

/* Outputs handed over mid-call (a boundary's burst of signals). */
static void sink_outputs(void *ctx, const struct churn_output *o, size_t n)
{
    struct sink_ctx *c = ctx;

    for (size_t i = 0; i < n; i++) {
        FILE *f = c->sinks->files[o[i].topic] ? c->sinks->files[o[i].topic]
                                              : c->sinks->all;
        c->ok &= churn_ndjson_write_output(
            f, churn_engine_topic_name(c->eng, o[i].topic), &o[i]);
    }
}

static void print_summary(FILE *f,
                          const struct churn_engine_stats *st,
                          uint64_t blank,
                          uint64_t truncated,
                          bool json)
{
    if (json) {
        fprintf(f,
                "{\"in\":%llu,\"accepted\":%llu,\"dead_letters\":%llu,"
                "\"duplicates\":%llu,\"blank_lines\":%llu,"
                "\"truncated_lines\":%llu,\"signals\":%llu,"
                "\"alerts_firing\":%llu,\"alerts_resolved\":%llu,"
                "\"accounts\":%llu,\"evicted_full\":%llu,"
                "\"evicted_idle\":%llu,\"geo_misses\":%llu,"
                "\"unknown_plans\":%llu,\"metrics\":%llu,"
                "\"dead_letters_by_reason\":{",
                (unsigned long long)st->in, (unsigned long long)st->accepted,
                (unsigned long long)st->dead_letters,
                (unsigned long long)st->duplicates, (unsigned long long)blank,
                (unsigned long long)truncated, (unsigned long long)st->signals,
                (unsigned long long)st->alerts_firing,
                (unsigned long long)st->alerts_resolved,
                (unsigned long long)st->accounts,
                (unsigned long long)st->evicted_full,
                (unsigned long long)st->evicted_idle,
                (unsigned long long)st->geo_misses,
                (unsigned long long)st->unknown_plans,
                (unsigned long long)st->metrics);
        bool first = true;
        for (int r = 1; r < CHURN_REASON__COUNT; r++) {
            if (st->by_reason[r] == 0) {
                continue;
            }
            fprintf(f, "%s\"%s\":%llu", first ? "" : ",",
                    churn_reason_name((enum churn_reason)r),
                    (unsigned long long)st->by_reason[r]);
            first = false;
        }
        fprintf(f, "},\"alerts_by_rule\":{");
        first = true;
        for (int r = 0; r < CHURN_RULE__COUNT; r++) {
            if (st->alerts_by_rule[r] == 0) {
                continue;
            }
            fprintf(f, "%s\"%s\":%llu", first ? "" : ",",
                    churn_rule_name((enum churn_rule)r),
                    (unsigned long long)st->alerts_by_rule[r]);
            first = false;
        }
        fprintf(f, "}}\n");
        return;
    }
    fprintf(f,
            "churnd replay: %llu in = %llu accepted + %llu dead letters + "
            "%llu duplicates; %llu signals, %llu alerts fired, %llu "
            "resolved, %llu accounts\n",
            (unsigned long long)st->in, (unsigned long long)st->accepted,
            (unsigned long long)st->dead_letters,
            (unsigned long long)st->duplicates, (unsigned long long)st->signals,
            (unsigned long long)st->alerts_firing,
            (unsigned long long)st->alerts_resolved,
            (unsigned long long)st->accounts);
    for (int r = 1; r < CHURN_REASON__COUNT; r++) {
        if (st->by_reason[r] > 0) {
            fprintf(f, "  dead letters %-15s %llu\n",
                    churn_reason_name((enum churn_reason)r),
                    (unsigned long long)st->by_reason[r]);
        }
    }
}

static bool
open_sinks(struct sinks *s, const char *dir, const struct churn_engine *eng)
{
    char path[4096];

    memset(s, 0, sizeof(*s));
    s->all = stdout;
    if (dir == NULL) {
        return true;
    }
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "churnd replay: %s: %s\n", dir, strerror(errno));
        return false;
    }
    for (int t = 0; t < CHURN_TOPIC__COUNT; t++) {
        snprintf(path, sizeof(path), "%s/%s.jsonl", dir,
                 churn_engine_topic_name(eng, (enum churn_topic)t));
        s->files[t] = fopen(path, "w");
        if (s->files[t] == NULL) {
            fprintf(stderr, "churnd replay: %s: %s\n", path, strerror(errno));
            return false;
        }
    }
    return true;
}

static bool close_sinks(struct sinks *s)
{
    bool ok = fflush(s->all) == 0;

    for (int t = 0; t < CHURN_TOPIC__COUNT; t++) {
        if (s->files[t] != NULL) {
            ok &= fclose(s->files[t]) == 0;
        }
    }
    return ok;
}

static volatile sig_atomic_t stop_linger;

static void on_stop_signal(int sig)
{
    (void)sig;
    stop_linger = 1;
}

/* After the input: keep the HTTP endpoint up for secs seconds, or until
 * SIGINT/SIGTERM, so the final state can be queried. */
static void linger(long secs)
{
    struct sigaction sa;
    struct timespec step = { 0, 50 * 1000 * 1000 };

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    for (long ticks = secs * 20; ticks > 0 && !stop_linger; ticks--) {
        nanosleep(&step, NULL);
    }
}

/* SIGHUP: between two lines, the GeoIP database is opened again and
 * swapped in; a failure keeps the old one. */
static void reopen_geoip(struct churn_geoip *geo, struct churn_http *http)
{
    struct churn_error err = { 0 };
    enum churn_err rc;

    churn_http_enter(http);
    rc = churn_geoip_reopen(geo, &err);
    churn_http_leave(http);
    if (rc == CHURN_OK) {
        fprintf(stderr, "churnd replay: SIGHUP: GeoIP database %s re-opened\n",
                churn_geoip_path(geo));
    } else {
        fprintf(stderr,
                "churnd replay: SIGHUP: %s; keeping the database in use\n",
                err.msg);
    }
}

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static bool is_blank(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r') {
            return false;
        }
    }
    return true;
}

int churnd_cmd_replay(int argc, char **argv)
{
    static const struct option longs[] = {
        { "config", required_argument, NULL, 'c' },
        { "out", required_argument, NULL, 'o' },
        { "summary", required_argument, NULL, 's' },
        { "http", required_argument, NULL, 'H' },
        { "http-linger", required_argument, NULL, 'L' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    struct churnd_cli_common common = { 0 };
    struct churn_config cfg;
    struct churn_error err = { 0 };
    struct churn_engine *eng = NULL;
    struct churn_geoip *geo = NULL;
    struct churn_ndjson_reader *rd = NULL;
    struct churn_http *http = NULL;
    struct sinks sinks = { 0 };
    struct sink_ctx sink = { NULL, &sinks, true };
    const char *out_dir = NULL, *summary_path = NULL, *input = "-";
    const char *http_addr = NULL;
    long linger_s = 0;
    FILE *in = stdin;
    uint64_t lineno = 0, blank = 0, truncated_cnt = 0;
    int opt, rc = 1;

    optind = 1;
    while ((opt = getopt_long(argc, argv, "c:X:vh", longs, NULL)) != -1) {
        if (churnd_cli_common_opt(&common, opt, optarg)) {
            continue;
        }
        switch (opt) {
        case 'o':
            out_dir = optarg;
            break;
        case 's':
            summary_path = optarg;
            break;
        case 'H':
            http_addr = optarg;
            break;
        case 'L': {
            char *end;
            errno = 0;
            linger_s = strtol(optarg, &end, 10);
            if (errno != 0 || end == optarg || *end != '\0' || linger_s < 0 ||
                linger_s > 86400) {
                fprintf(stderr,
                        "churnd replay: --http-linger: '%s' is not "
                        "0..86400 seconds\n",
                        optarg);
                return 2;
            }
            break;
        }
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        input = argv[optind++];
    }
    if (optind < argc) {
        fprintf(stderr, "churnd replay: one input at most\n");
        return 2;
    }
    if (churnd_cli_config(&common, &cfg) != 0) {
        return 2;
    }
    if (cfg.geoip_database[0] != '\0') {
        geo = churn_geoip_open(cfg.geoip_database, &err);
        if (geo == NULL) {
            fprintf(stderr, "churnd replay: %s\n", err.msg);
            churn_config_release(&cfg);
            return 2;
        }
    }
    eng = churn_engine_new(&cfg, geo ? churn_geoip_lookup : NULL, geo, &err);
    if (eng == NULL) {
        fprintf(stderr, "churnd replay: %s\n", err.msg);
        rc = err.code == CHURN_EINVAL ? 2 : 1;
        goto out;
    }
    if (http_addr != NULL) {
        http = churn_http_start(http_addr, &err);
        if (http == NULL) {
            fprintf(stderr, "churnd replay: %s\n", err.msg);
            rc = err.code == CHURN_EINVAL ? 2 : 1;
            goto out;
        }
        churn_http_set_engine(http, eng, &cfg);
        if (geo != NULL && churn_http_add_collector(http, churn_geoip_collect,
                                                    geo, &err) != CHURN_OK) {
            fprintf(stderr, "churnd replay: %s\n", err.msg);
            goto out;
        }
        fprintf(stderr, "churnd replay: http on %s\n",
                churn_http_address(http));
    }
    if (strcmp(input, "-") != 0) {
        in = fopen(input, "rb");
        if (in == NULL) {
            fprintf(stderr, "churnd replay: %s: %s\n", input, strerror(errno));
            goto out;
        }
    }
    rd = churn_ndjson_reader_new(in, REPLAY_MAX_LINE);
    if (rd == NULL || !open_sinks(&sinks, out_dir, eng)) {
        goto out;
    }
    /* A boundary's signals go out in batches while it runs (inside the
     * HTTP lock, unlike the outputs written after each event). */
    sink.eng = eng;
    churn_engine_set_output_fn(eng, sink_outputs, &sink);
    churn_http_set_ready(http, true);
    if (geo != NULL) {
        churn_geoip_sighup_install();
    }
    for (;;) {
        const char *line;
        size_t len;
        bool truncated;
        int r = churn_ndjson_read(rd, &line, &len, &truncated);
        if (r < 0) {
            fprintf(stderr, "churnd replay: %s: read error: %s\n", input,
                    strerror(errno));
            goto out;
        }
        if (r == 0) {
            break;
        }
        lineno++;
        if (is_blank(line, len)) {
            blank++;
            continue;
        }
        truncated_cnt += truncated;
        if (geo != NULL && churn_geoip_sighup_take()) {
            reopen_geoip(geo, http);
        }
        struct churn_source src = {
            input, -1, (int64_t)lineno, -1, { NULL, 0 }
        };
        churn_http_enter(http);
        uint64_t t0 = http ? now_ns() : 0;
        enum churn_err frc = churn_engine_feed(eng, line, len, &src, &err);
        if (http != NULL) {
            churn_http_observe_ns(http, now_ns() - t0);
        }
        churn_http_leave(http);
        if (frc != CHURN_OK) {
            fprintf(stderr, "churnd replay: %s:%llu: %s\n", input,
                    (unsigned long long)lineno, err.msg);
            goto out;
        }
        /* The outputs are only ever touched by this thread (an HTTP
         * request reads state and counters, never them), so they are
         * written without the lock: a slow stdout does not hold up a
         * scrape. */
        if (!write_outputs(eng, &sinks) || !sink.ok) {
            fprintf(stderr, "churnd replay: write error: %s\n",
                    strerror(errno));
            goto out;
        }
    }
    churn_http_enter(http);
    enum churn_err frc = churn_engine_finish(eng, &err);
    churn_http_leave(http);
    if (frc != CHURN_OK || !write_outputs(eng, &sinks) || !sink.ok) {
        fprintf(stderr, "churnd replay: %s\n",
                err.code ? err.msg : "write error");
        goto out;
    }
    rc = 0;
out:
    if (!close_sinks(&sinks) && rc == 0) {
        fprintf(stderr, "churnd replay: write error: %s\n", strerror(errno));
        rc = 1;
    }
    if (eng != NULL) {
        struct churn_engine_stats st;
        churn_engine_get_stats(eng, &st);
        if (rc == 0 || common.verbose) {
            print_summary(stderr, &st, blank, truncated_cnt, false);
        }
        if (summary_path != NULL) {
            FILE *f = fopen(summary_path, "w");
            if (f == NULL) {
                fprintf(stderr, "churnd replay: %s: %s\n", summary_path,
                        strerror(errno));
                rc = rc ? rc : 1;
            } else {
                print_summary(f, &st, blank, truncated_cnt, true);
                fclose(f);
            }
        }
    }
    if (http != NULL && rc == 0 && linger_s > 0) {
        linger(linger_s);
    }
    churn_http_stop(http);
    churn_ndjson_reader_free(rd);
    if (in != NULL && in != stdin) {
        fclose(in);
    }
    churn_engine_free(eng);
    churn_geoip_close(geo);
    churn_config_release(&cfg);
    return rc;
}
