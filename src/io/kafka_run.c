/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `churnd run`: the consumer loop that wires the input, one engine per
 * partition and the producer together, and its shutdown.
 *
 * Loop: poll one message, feed it to its partition's engine, produce every
 * output it caused, clear them; serve delivery reports; every 200 ms store
 * the offsets that became committable. Shutdown (signal, idle exit or a
 * fatal error): pause fetching, wait for outstanding deliveries (bounded by
 * output.flush_timeout), commit synchronously, leave the group.
 */
#include "churnd/decode.h"
#include "io/cli.h"
#include "io/http.h"
#include "io/kafka.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t signal_cnt;

static void on_signal(int sig)
{
    static const char msg[] = "churnd: second signal, exiting now\n";

    (void)sig;
    if (signal_cnt > 0) {
        /* The first signal drains; a second must end the process even while
         * it is blocked inside librdkafka (close, flush), where no flag is
         * looked at. _exit is async-signal-safe; setting a flag is not
         * enough here, so this departs from STYLE's flag-only rule. */
        ssize_t w = write(STDERR_FILENO, msg, sizeof(msg) - 1);
        (void)w;
        _exit(1);
    }
    signal_cnt = 1;
}

int churn__signals(void)
{
    return (int)signal_cnt;
}

int64_t churn__now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t churn__now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

bool churn_kafka_parse_time(const char *s, int64_t *out_ms)
{
    char *end;
    long long v;

    if (s == NULL || *s == '\0') {
        return false;
    }
    if (strspn(s, "0123456789") == strlen(s)) {
        v = strtoll(s, &end, 10);
        if (*end != '\0' || v < 0) {
            return false;
        }
        *out_ms = v;
        return true;
    }
    return churn_ts_parse_rfc3339((struct churn_str){ s, strlen(s) }, out_ms);
}

static void install_signals(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

/* Feeds one message and produces what it caused. now_ns is when the
 * loop received it (the start of the feed time /metrics shows). */
static void
handle_message(struct churn__run *r, rd_kafka_message_t *m, int64_t now_ns)
{
    const char *topic = rd_kafka_topic_name(m->rkt);
    struct churn__tp *tp = churn__in_find(r, topic, m->partition);
    struct churn_error err = { 0 };
    rd_kafka_timestamp_type_t tstype;
    struct churn_source src;

    if (tp == NULL) {
        /* Fetched before a revoke: its new owner processes it. */
        churn_log(CHURN_LOG_DEBUG,
                  "partition %s[%d] offset %lld: not assigned, skipped", topic,
                  (int)m->partition, (long long)m->offset);
        return;
    }
    src.topic = topic;
    src.partition = m->partition;
    src.offset = m->offset;
    src.timestamp_ms = rd_kafka_message_timestamp(m, &tstype);
    src.key = (struct churn_str){ m->key, m->key_len };
    tp->at_eof = false;
    tp->next = m->offset + 1;
    if (m->offset < tp->rebuild_until) {
        r->totals.rebuilt++;
        r->totals.rebuilt_by_topic[tp->topic_idx]++;
    } else {
        r->totals.consumed++;
        r->totals.consumed_by_topic[tp->topic_idx]++;
    }
    /* HTTP reads the engine between events (io/http.h) */
    churn_http_enter(r->http);
    enum churn_err frc =
        churn_engine_feed(tp->part->eng, m->payload, m->len, &src, &err);
    if (r->http != NULL) {
        churn_http_observe_ns(r->http, (uint64_t)(churn__now_ns() - now_ns));
    }
    churn_http_leave(r->http);
    if (frc != CHURN_OK) {
        churn_log(CHURN_LOG_ERROR, "partition %s[%d] offset %lld: %s", topic,
                  (int)m->partition, (long long)m->offset, err.msg);
        churn_engine_outputs_clear(tp->part->eng);
        r->fatal = true;
        return;
    }
    if (m->offset < tp->rebuild_until) {
        /* Already delivered by the previous owner; only the state counts. */
        churn_engine_outputs_clear(tp->part->eng);
        if (m->offset + 1 == tp->rebuild_until) {
            churn_log(CHURN_LOG_INFO,
                      "partition %s[%d]: state rebuilt, live from offset %lld",
                      topic, (int)m->partition, (long long)m->offset + 1);
        }
        return;
    }
    if (churn__out_produce(r, tp, &src, &err) != CHURN_OK) {
        churn_log(CHURN_LOG_ERROR, "%s", err.msg);
    }
}

/*
 * --idle-exit declares the input ended: like a replay's last line, each
 * engine applies what waits for the watermark and evaluates every boundary
 * up to its newest event, and those outputs are delivered before exit.
 */
static void finish_all(struct churn__run *r)
{
    struct churn_error err = { 0 };

    for (size_t i = 0; i < r->tp_cnt && !r->fatal; i++) {
        struct churn__tp *tp = r->tps[i];
        struct churn_source src = { tp->topic,
                                    tp->partition,
                                    churn_track_committable(tp->track),
                                    -1,
                                    { NULL, 0 } };
        bool first = true;
        /* One finish per engine: the first of its topic-partitions. */
        for (size_t j = 0; j < i; j++) {
            if (r->tps[j]->part == tp->part) {
                first = false;
            }
        }
        if (!first || src.offset < 0) {
            continue;
        }
        /* Tracked on a pseudo input one below the committable offset, so
         * the offset never moves past these outputs' delivery. */
        src.offset -= 1;
        churn_http_enter(r->http);
        enum churn_err frc = churn_engine_finish(tp->part->eng, &err);
        churn_http_leave(r->http);
        if (frc != CHURN_OK) {
            churn_log(CHURN_LOG_ERROR, "partition %s[%d]: %s", tp->topic,
                      (int)tp->partition, err.msg);
            r->fatal = true;
            break;
        }
        if (churn__out_produce(r, tp, &src, &err) != CHURN_OK) {
            churn_log(CHURN_LOG_ERROR, "%s", err.msg);
        }
    }
}

static bool is_idle(struct churn__run *r, int64_t now)
{
    if (r->opts->idle_exit_ms < 0 || !r->assigned_once) {
        return false;
    }
    if (r->opts->hold != NULL && atomic_load(r->opts->hold)) {
        return false;
    }
    /* Holding nothing may only be a step of a rebalance (the cooperative
     * protocol revokes in one round and assigns in the next): wait longer
     * before calling that the end. */
    int64_t need =
        r->tp_cnt > 0 ? r->opts->idle_exit_ms : 3 * r->opts->idle_exit_ms;
    if (now - r->last_activity_ms < need) {
        return false;
    }
    for (size_t i = 0; i < r->tp_cnt; i++) {
        if (!r->tps[i]->at_eof || churn_track_inflight(r->tps[i]->track)) {
            return false;
        }
    }
    return true;
}

static void pause_all(struct churn__run *r)
{
    rd_kafka_topic_partition_list_t *l = NULL;

    if (rd_kafka_assignment(r->consumer, &l) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        rd_kafka_pause_partitions(r->consumer, l);
        rd_kafka_topic_partition_list_destroy(l);
    }
}

static void resume_all(struct churn__run *r)
{
    rd_kafka_topic_partition_list_t *l = NULL;

    if (rd_kafka_assignment(r->consumer, &l) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        rd_kafka_resume_partitions(r->consumer, l);
        rd_kafka_topic_partition_list_destroy(l);
    }
}

/* Back-pressure: past output.max_inflight unacknowledged outputs, fetching
 * pauses (the consumer is still polled, so the group membership holds)
 * until half of them are acknowledged. */
static void pace(struct churn__run *r)
{
    uint64_t n = churn__out_inflight(r);
    uint64_t max = (uint64_t)r->cfg->output_max_inflight;

    if (!r->paused && n >= max) {
        pause_all(r);
        r->paused = true;
        r->pauses++;
        churn_log(CHURN_LOG_WARN,
                  "%llu outputs unacknowledged (output.max_inflight %llu): "
                  "consumption paused",
                  (unsigned long long)n, (unsigned long long)max);
    } else if (r->paused && n <= max / 2) {
        resume_all(r);
        r->paused = false;
        churn_log(CHURN_LOG_INFO, "outputs acknowledged: consumption resumed");
    }
}

static void loop(struct churn__run *r)
{
    r->last_activity_ms = churn__now_ms();
    while (!r->fatal && churn__signals() == 0) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(r->consumer, 100);
        /* One clock read per message: it stamps the feed and the loop. */
        int64_t now_ns = churn__now_ns();
        int64_t now = now_ns / 1000000;

        if (m != NULL) {
            if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR ||
                m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                r->brokers_down = false; /* a fetch answered */
            }
            if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
                handle_message(r, m, now_ns);
                r->last_activity_ms = now;
                if (r->first_msg_ms == 0) {
                    r->first_msg_ms = now;
                }
                r->last_msg_ms = now;
            } else if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                struct churn__tp *tp = churn__in_find(
                    r, rd_kafka_topic_name(m->rkt), m->partition);
                if (tp != NULL) {
                    tp->at_eof = true;
                }
                churn_log(CHURN_LOG_DEBUG,
                          "partition %s[%d]: end at offset %lld",
                          rd_kafka_topic_name(m->rkt), (int)m->partition,
                          (long long)m->offset);
            } else {
                churn_log(CHURN_LOG_WARN, "consume: %s%s%s",
                          m->rkt != NULL ? rd_kafka_topic_name(m->rkt) : "",
                          m->rkt != NULL ? ": " : "",
                          rd_kafka_message_errstr(m));
            }
            rd_kafka_message_destroy(m);
        }
        /* Delivery reports and back-pressure once per millisecond, not
         * per message: each poll takes the producer's queue lock, and
         * counting what is in flight walks every partition's tracker. */
        if (now != r->last_serve_ms || r->paused) {
            rd_kafka_poll(r->producer, r->paused ? 50 : 0);
            pace(r);
            r->last_serve_ms = now;
        }
        churn__state_tick(r, now);
        if (now - r->last_store_ms >= 200) {
            churn__in_store(r);
            churn__ops_tick(r);
            r->last_store_ms = now;
        }
        if (r->manual_commit && now - r->last_commit_ms >= 5000) {
            rd_kafka_commit(r->consumer, NULL, 1);
            r->last_commit_ms = now;
        }
        if (is_idle(r, now)) {
            churn_log(CHURN_LOG_INFO,
                      "every partition at its end and idle for %lld ms: "
                      "stopping (--idle-exit)",
                      (long long)r->opts->idle_exit_ms);
            finish_all(r);
            break;
        }
    }
}

/* The engines' ledger (every input lands in exactly one of the first
 * four), so an operator and the hostile-input test can check nothing was
 * lost: in = accepted + dead letters + duplicates. */
static void log_inputs(const struct churn__run *r)
{
    const struct churn_engine_stats *e = &r->totals.engine;
    char reasons[512] = "";
    size_t n = 0;

    for (int i = 1; i < CHURN_REASON__COUNT && n < sizeof(reasons); i++) {
        if (e->by_reason[i] > 0) {
            int w = snprintf(reasons + n, sizeof(reasons) - n, "%s%s %llu",
                             n > 0 ? ", " : "",
                             churn_reason_name((enum churn_reason)i),
                             (unsigned long long)e->by_reason[i]);
            n += w > 0 ? (size_t)w : 0;
        }
    }
    churn_log(CHURN_LOG_INFO,
              "inputs: in %llu = accepted %llu + dead letters %llu + "
              "duplicates %llu; dead letters by reason: %s; %llu cut to fit "
              "message.max.bytes",
              (unsigned long long)e->in, (unsigned long long)e->accepted,
              (unsigned long long)e->dead_letters,
              (unsigned long long)e->duplicates, n > 0 ? reasons : "none",
              (unsigned long long)r->dlq_truncated);
}

int churn_kafka_run(const struct churn_config *cfg,
                    const struct churn_kafka_opts *opts,
                    struct churn_kafka_totals *totals)
{
    struct churn__run r;
    struct churn_error err = { 0 };
    int code = 0;

    memset(&r, 0, sizeof(r));
    r.cfg = cfg;
    r.opts = opts;
    r.totals.engine.watermark_ms = INT64_MIN;
    r.last_checkpoint_ms = churn__now_ms();
    install_signals();

    if (churn__ops_open(&r, &err) != CHURN_OK ||
        churn__out_open(&r, &err) != CHURN_OK ||
        churn__in_open(&r, &err) != CHURN_OK) {
        churn_log(CHURN_LOG_ERROR, "%s", err.msg);
        code = err.code == CHURN_EINVAL && r.consumer == NULL ? 2 : 1;
        goto out;
    }
    loop(&r);
    churn_http_set_ready(r.http, false);
    if (r.consumer != NULL) {
        pause_all(&r);
        if (churn__signals() > 0) {
            churn_log(CHURN_LOG_INFO, "signal received: draining");
        }
        churn__out_drain(&r, NULL, cfg->output_flush_timeout_ms);
        churn__in_store(&r);
    }
    code = r.fatal ? 1 : 0;
out:
    churn__in_close(&r);
    churn__state_close(&r);
    churn__out_close(&r);
    churn__ops_close(&r);
    for (size_t i = 0; i < r.zombie_cnt; i++) {
        churn_track_free(r.zombies[i]);
    }
    free(r.zombies);
    free(r.tps);
    free(r.parts);
    churn_kafka_lags_release(&r.lags);
    if (r.fatal) {
        code = 1;
    }
    int64_t busy_ms = r.last_msg_ms - r.first_msg_ms;
    churn_log(code == 0 ? CHURN_LOG_INFO : CHURN_LOG_ERROR,
              "stopped: consumed %llu, rebuilt %llu, produced %llu, "
              "delivered %llu; %.0f events/s from first to last message%s",
              (unsigned long long)r.totals.consumed,
              (unsigned long long)r.totals.rebuilt,
              (unsigned long long)r.totals.produced,
              (unsigned long long)r.totals.delivered,
              busy_ms > 0 ? (double)(r.totals.consumed + r.totals.rebuilt) *
                                1000.0 / (double)busy_ms
                          : 0.0,
              code == 0 ? "" : " (exit 1)");
    log_inputs(&r);
    if (totals != NULL) {
        *totals = r.totals;
    }
    return code;
}

static void run_usage(FILE *out)
{
    fprintf(out,
            "usage: churnd run -c FILE [-X key=value]... [--from-time TIME]\n"
            "                  [--idle-exit MS] [--no-rebuild] [-v]\n"
            "\n"
            "The daemon: a member of the consumer group kafka.group.id on\n"
            "input.topics, one engine per partition; outputs go to the\n"
            "output.* topics once, committed after delivery. http.listen\n"
            "(default 127.0.0.1:9476; empty = off) serves /metrics, /healthz,\n"
            "/readyz and /accounts/{id}. SIGTERM/SIGINT drain and exit 0;\n"
            "SIGHUP re-opens geoip.database.\n"
            "\n"
            "  -c, --config FILE  config file (default: built-in defaults)\n"
            "  -X key=value       set one config key after the file;\n"
            "                     repeatable, later wins (default: none)\n"
            "  --from-time TIME   partitions the group never committed start\n"
            "                     at TIME, RFC 3339 or epoch ms (default:\n"
            "                     kafka.auto.offset.reset, earliest)\n"
            "  --idle-exit MS     treat the input as ended once every\n"
            "                     assigned partition is at its end and\n"
            "                     nothing arrived for MS milliseconds: flush\n"
            "                     the engines (as replay does), deliver,\n"
            "                     commit, exit 0 (default: never)\n"
            "  --no-rebuild       resume partitions at the committed offset\n"
            "                     with empty state instead of rebuilding it\n"
            "                     from the input (default: rebuild)\n"
            "  -v                 debug logging (default: log.level)\n"
            "  -h, --help         this help\n"
            "\n"
            "exit: 0 after a clean drain, 1 runtime failure, 2 usage or\n"
            "      configuration error\n");
}

int churnd_cmd_run(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "config", required_argument, NULL, 'c' },
        { "from-time", required_argument, NULL, 'T' },
        { "idle-exit", required_argument, NULL, 'I' },
        { "no-rebuild", no_argument, NULL, 'R' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    struct churnd_cli_common common = { 0 };
    struct churn_kafka_opts opts = { 0 };
    struct churn_config cfg;
    int opt, code;

    opts.idle_exit_ms = -1;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "c:X:vh", longopts, NULL)) != -1) {
        if (churnd_cli_common_opt(&common, opt, optarg)) {
            continue;
        }
        switch (opt) {
        case 'T':
            if (!churn_kafka_parse_time(optarg, &opts.from_time_ms)) {
                fprintf(stderr,
                        "churnd run: bad --from-time '%s': want RFC 3339 or "
                        "epoch milliseconds\n",
                        optarg);
                return 2;
            }
            opts.has_from_time = true;
            break;
        case 'I': {
            char *end;
            long long v = strtoll(optarg, &end, 10);
            if (*optarg == '\0' || *end != '\0' || v < 0) {
                fprintf(stderr, "churnd run: bad --idle-exit '%s'\n", optarg);
                return 2;
            }
            opts.idle_exit_ms = v;
            break;
        }
        case 'R':
            opts.no_rebuild = true;
            break;
        case 'h':
            run_usage(stdout);
            return 0;
        default:
            run_usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "churnd run: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    if (churnd_cli_config(&common, &cfg) != 0) {
        return 2;
    }
    churn_log_setup(common.verbose > 0 ? CHURN_LOG_DEBUG : cfg.log_level,
                    cfg.log_format);
    code = churn_kafka_run(&cfg, &opts, NULL);
    churn_config_release(&cfg);
    return code;
}
