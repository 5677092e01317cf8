/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `churnd gen`: the command line over tools/gen.h. Lines are copied into a
 * 1 MiB buffer and written with one fwrite per buffer; the truth file gets
 * the account records first, then one record per bad or late line as the
 * stream is produced.
 */
#include "io/cli.h"
#include "tools/gen.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define OUT_BUF_LEN (1u << 20)

static void usage(FILE *f)
{
    struct churn_gen_opts d;

    churn_gen_opts_init(&d);
    fprintf(f,
            "usage: churnd gen [OPTIONS]\n"
            "\n"
            "Writes a deterministic synthetic event replay (NDJSON, arrival "
            "order) and,\n"
            "optionally, its ground truth.\n"
            "\n"
            "  --seed N           PRNG seed (default %" PRIu64 ")\n"
            "  --accounts N       number of accounts (default %u)\n"
            "  --days D           span in days, 7..3660 (default %u)\n"
            "  --start YYYY-MM-DD first day, UTC (default 2026-01-05)\n"
            "  --events N         scale usage so the output is about N lines "
            "(default 0:\n"
            "                     natural volume); k and M suffixes allowed\n"
            "  --late-rate R      share of usage events arriving 2..12 h late "
            "(default %g)\n"
            "  --jitter-rate R    share of events arriving up to 45 min late "
            "(default %g)\n"
            "  --dup-rate R       share of events re-sent as duplicates "
            "(default %g)\n"
            "  --bad-rate R       malformed lines per event, every "
            "dead-letter reason in\n"
            "                     rotation (default %g)\n"
            "  --mix SPEC         archetype shares, e.g. "
            "healthy_steady=0.9,sudden_drop=0.1;\n"
            "                     unlisted archetypes get 0 (default:",
            d.seed, d.accounts, d.days, d.late_rate, d.jitter_rate, d.dup_rate,
            d.bad_rate);
    for (int a = 0; a < CHURN_GEN__COUNT; a++) {
        fprintf(f, "%s%s=%g", a % 3 == 0 ? "\n                     " : ",",
                churn_gen_archetype_name((enum churn_gen_archetype)a),
                d.mix[a]);
    }
    fprintf(f, ")\n"
               "  --truth FILE       write the ground truth (JSON lines) "
               "(default: none)\n"
               "  -o, --output FILE  write events to FILE (default stdout)\n"
               "  -v                 print counts and the rate to stderr "
               "(default: off)\n"
               "  -h, --help         this help\n"
               "\n"
               "Late and bad lines assume churnd's defaults "
               "input.allowed_lateness = 1h and\n"
               "input.max_event_size = 64KiB.\n");
}

/* Parses a decimal count with an optional k/M/G suffix. */
static bool parse_count(const char *s, uint64_t max, uint64_t *out)
{
    uint64_t v = 0, mul = 1;
    const char *p = s;

    if (*p == '\0') {
        return false;
    }
    for (; *p >= '0' && *p <= '9'; p++) {
        if (v > (UINT64_MAX - 9) / 10) {
            return false;
        }
        v = v * 10 + (uint64_t)(*p - '0');
    }
    if (p == s) {
        return false;
    }
    if (*p == 'k' || *p == 'K') {
        mul = 1000;
        p++;
    } else if (*p == 'M') {
        mul = 1000000;
        p++;
    } else if (*p == 'G') {
        mul = 1000000000;
        p++;
    }
    if (*p != '\0' || v > max / mul) {
        return false;
    }
    *out = v * mul;
    return true;
}

static bool parse_rate(const char *s, double *out)
{
    char *end;
    double v;

    errno = 0;
    v = strtod(s, &end);
    if (end == s || *end != '\0' || errno != 0 || !(v >= 0.0 && v <= 1.0)) {
        return false;
    }
    *out = v;
    return true;
}

/* `"2026-01-05T09:12:33.120Z"` with the quotes, or `null`. */
static void format_ts(int64_t ms, char buf[64])
{
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;

    if (ms == INT64_MIN || gmtime_r(&secs, &tm) == NULL) {
        strcpy(buf, "null");
        return;
    }
    snprintf(buf, 64, "\"%04d-%02d-%02dT%02d:%02d:%02d.%03uZ\"",
             (tm.tm_year + 1900) % 10000, (tm.tm_mon + 1) % 100,
             tm.tm_mday % 100, tm.tm_hour % 100, tm.tm_min % 100,
             tm.tm_sec % 100, (unsigned)(ms % 1000) % 1000u);
}

static int write_truth_accounts(FILE *f, const struct churn_gen *g)
{
    size_t n = churn_gen_account_cnt(g);

    for (size_t i = 0; i < n; i++) {
        struct churn_gen_truth t;
        char dec[64], chu[64];

        churn_gen_account_truth(g, i, &t);
        format_ts(t.decision_ms, dec);
        format_ts(t.churn_ms, chu);
        fprintf(f,
                "{\"record\":\"account\",\"account_id\":\"%s\","
                "\"archetype\":\"%s\",\"plan\":\"%s\",\"country\":\"%s\","
                "\"churned\":%s,\"kind\":%s%s%s,\"decision_at\":%s,"
                "\"churn_at\":%s,\"at_risk\":%s}\n",
                t.account_id, churn_gen_archetype_name(t.archetype), t.plan,
                t.country, t.churned ? "true" : "false", t.churned ? "\"" : "",
                t.churned ? churn_gen_kind_name(t.kind) : "null",
                t.churned ? "\"" : "", dec, chu, t.at_risk ? "true" : "false");
    }
    return ferror(f) ? -1 : 0;
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int churnd_cmd_gen(int argc, char **argv)
{
    enum {
        OPT_SEED = 256,
        OPT_ACCOUNTS,
        OPT_DAYS,
        OPT_START,
        OPT_EVENTS,
        OPT_LATE,
        OPT_JITTER,
        OPT_DUP,
        OPT_BAD,
        OPT_MIX,
        OPT_TRUTH,
    };
    static const struct option longopts[] = {
        { "seed", required_argument, NULL, OPT_SEED },
        { "accounts", required_argument, NULL, OPT_ACCOUNTS },
        { "days", required_argument, NULL, OPT_DAYS },
        { "start", required_argument, NULL, OPT_START },
        { "events", required_argument, NULL, OPT_EVENTS },
        { "late-rate", required_argument, NULL, OPT_LATE },
        { "jitter-rate", required_argument, NULL, OPT_JITTER },
        { "dup-rate", required_argument, NULL, OPT_DUP },
        { "bad-rate", required_argument, NULL, OPT_BAD },
        { "mix", required_argument, NULL, OPT_MIX },
        { "truth", required_argument, NULL, OPT_TRUTH },
        { "output", required_argument, NULL, 'o' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    struct churn_gen_opts o;
    struct churn_error err = { 0 };
    struct churn_gen *g = NULL;
    const char *out_path = NULL, *truth_path = NULL;
    FILE *out = NULL, *truth = NULL;
    char *buf = NULL;
    size_t used = 0;
    int verbose = 0, opt, rc = 1;
    uint64_t v;
    double t0;
    const char *line;
    size_t len;

    churn_gen_opts_init(&o);
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":o:vh", longopts, NULL)) != -1) {
        switch (opt) {
        case OPT_SEED:
            if (!parse_count(optarg, UINT64_MAX, &o.seed)) {
                goto bad_value;
            }
            break;
        case OPT_ACCOUNTS:
            if (!parse_count(optarg, 10000000, &v) || v == 0) {
                goto bad_value;
            }
            o.accounts = (uint32_t)v;
            break;
        case OPT_DAYS:
            if (!parse_count(optarg, 3660, &v) || v < 7) {
                goto bad_value;
            }
            o.days = (uint32_t)v;
            break;
        case OPT_START:
            if (!churn_gen_parse_date(optarg, &o.start_ms)) {
                goto bad_value;
            }
            break;
        case OPT_EVENTS:
            if (!parse_count(optarg, UINT64_C(1) << 40, &o.events)) {
                goto bad_value;
            }
            break;
        case OPT_LATE:
            if (!parse_rate(optarg, &o.late_rate)) {
                goto bad_value;
            }
            break;
        case OPT_JITTER:
            if (!parse_rate(optarg, &o.jitter_rate)) {
                goto bad_value;
            }
            break;
        case OPT_DUP:
            if (!parse_rate(optarg, &o.dup_rate)) {
                goto bad_value;
            }
            break;
        case OPT_BAD:
            if (!parse_rate(optarg, &o.bad_rate)) {
                goto bad_value;
            }
            break;
        case OPT_MIX:
            if (churn_gen_opts_set_mix(&o, optarg, &err) != CHURN_OK) {
                fprintf(stderr, "churnd gen: %s\n", err.msg);
                return 2;
            }
            break;
        case OPT_TRUTH:
            truth_path = optarg;
            break;
        case 'o':
            out_path = optarg;
            break;
        case 'v':
            verbose++;
            break;
        case 'h':
            usage(stdout);
            return 0;
        case ':':
            fprintf(stderr, "churnd gen: option '%s' needs a value\n",
                    argv[optind - 1]);
            return 2;
        default:
            fprintf(stderr, "churnd gen: unknown option '%s'\n",
                    argv[optind - 1]);
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "churnd gen: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }

    t0 = now_s();
    g = churn_gen_new(&o, &err);
    if (g == NULL) {
        fprintf(stderr, "churnd gen: %s\n", err.msg);
        return err.code == CHURN_EINVAL ? 2 : 1;
    }
    out = out_path != NULL ? fopen(out_path, "wb") : stdout;
    if (out == NULL) {
        fprintf(stderr, "churnd gen: cannot open '%s': %s\n", out_path,
                strerror(errno));
        goto out;
    }
    if (truth_path != NULL) {
        truth = fopen(truth_path, "w");
        if (truth == NULL) {
            fprintf(stderr, "churnd gen: cannot open '%s': %s\n", truth_path,
                    strerror(errno));
            goto out;
        }
        if (write_truth_accounts(truth, g) != 0) {
            fprintf(stderr, "churnd gen: cannot write '%s'\n", truth_path);
            goto out;
        }
    }
    buf = malloc(OUT_BUF_LEN);
    if (buf == NULL) {
        fprintf(stderr, "churnd gen: out of memory\n");
        goto out;
    }
    while (churn_gen_next(g, &line, &len)) {
        if (used + len + 1 > OUT_BUF_LEN) {
            if (used > 0 && fwrite(buf, 1, used, out) != used) {
                goto write_error;
            }
            used = 0;
            if (len + 1 > OUT_BUF_LEN) {
                if (fwrite(line, 1, len, out) != len ||
                    putc('\n', out) == EOF) {
                    goto write_error;
                }
                len = 0;
                line = NULL;
            }
        }
        if (line != NULL) {
            memcpy(buf + used, line, len);
            used += len;
            buf[used++] = '\n';
        }
        if (truth != NULL) {
            struct churn_gen_line info;
            churn_gen_line_info(g, &info);
            if (info.reason != CHURN_REASON_NONE) {
                fprintf(truth,
                        "{\"record\":\"bad\",\"line\":%" PRIu64
                        ",\"reason\":\"%s\"}\n",
                        info.line_no, churn_gen_reason_name(info.reason));
            }
        }
    }
    if (churn_gen_error(g) != CHURN_OK) {
        fprintf(stderr, "churnd gen: out of memory\n");
        goto out;
    }
    if (used > 0 && fwrite(buf, 1, used, out) != used) {
        goto write_error;
    }
    if (fflush(out) != 0 || (truth != NULL && fflush(truth) != 0)) {
        goto write_error;
    }
    if (verbose > 0) {
        struct churn_gen_stats st;
        double secs = now_s() - t0;

        churn_gen_get_stats(g, &st);
        fprintf(stderr,
                "churnd gen: %" PRIu64 " lines (%" PRIu64 " events, %" PRIu64
                " duplicates, %" PRIu64 " late, %" PRIu64 " bad, %" PRIu64
                " late dropped), usage scale %.4f, %.3f s, %.0f lines/s\n",
                st.lines, st.events, st.duplicates, st.late, st.bad,
                st.dropped_late, st.usage_scale, secs,
                secs > 0 ? (double)st.lines / secs : 0.0);
    }
    rc = 0;
    goto out;

bad_value:
    for (size_t k = 0; longopts[k].name != NULL; k++) {
        if (longopts[k].val == opt) {
            fprintf(stderr, "churnd gen: bad value '%s' for --%s\n", optarg,
                    longopts[k].name);
        }
    }
    return 2;
write_error:
    fprintf(stderr, "churnd gen: write failed: %s\n", strerror(errno));
out:
    free(buf);
    if (out != NULL && out != stdout && fclose(out) != 0 && rc == 0) {
        fprintf(stderr, "churnd gen: write failed: %s\n", strerror(errno));
        rc = 1;
    }
    if (truth != NULL && fclose(truth) != 0 && rc == 0) {
        fprintf(stderr, "churnd gen: write failed: %s\n", strerror(errno));
        rc = 1;
    }
    churn_gen_free(g);
    return rc;
}
