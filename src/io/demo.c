/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `churnd demo`: everything in one process, no setup. librdkafka's mock
 * cluster stands in for Kafka; a producer thread writes a generated replay
 * (src/tools/gen.h) into the input topic while the main thread runs the same
 * consumer loop as `churnd run` (churn_kafka_run), printing each alert the
 * broker acknowledged as one line, then a summary. It ends by itself once
 * the replay is produced and fully consumed.
 */
#include "churnd/decode.h"
#include "io/cli.h"
#include "io/kafka.h"
#include "tools/gen.h"

#include <getopt.h>
#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEMO_PARTITIONS 4

struct demo {
    rd_kafka_t *producer;
    struct churn_gen *gen;
    const char *topic;
    atomic_bool producing;
    uint64_t produced;
    uint64_t failed;
    uint64_t alerts_printed;
    bool quiet;
};

static void demo_dr(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    struct demo *d = opaque;

    (void)rk;
    if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        d->failed++;
    }
}

static void *produce_main(void *arg)
{
    struct demo *d = arg;
    const char *line;
    size_t len;

    while (churn_gen_next(d->gen, &line, &len)) {
        struct churn_gen_line info;
        rd_kafka_resp_err_t e;

        churn_gen_line_info(d->gen, &info);
        do {
            /* The message timestamp is the event time, as if each event
             * were produced as it happened: the replay is generated, not
             * live, and stamped with today's clock its later events would
             * be ahead of their messages (input.max_future). */
            e = rd_kafka_producev(
                d->producer, RD_KAFKA_V_TOPIC(d->topic),
                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                RD_KAFKA_V_KEY(info.key.ptr, info.key.len),
                RD_KAFKA_V_VALUE((void *)line, len),
                RD_KAFKA_V_TIMESTAMP(info.event_ms > 0 ? info.event_ms : 0),
                RD_KAFKA_V_END);
            if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                rd_kafka_poll(d->producer, 50);
            }
        } while (e == RD_KAFKA_RESP_ERR__QUEUE_FULL && churn__signals() == 0);
        if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
            churn_log(CHURN_LOG_ERROR, "demo producer: %s",
                      rd_kafka_err2str(e));
            break;
        }
        d->produced++;
        rd_kafka_poll(d->producer, 0);
    }
    rd_kafka_flush(d->producer, 30000);
    atomic_store(&d->producing, false);
    return NULL;
}

static const char *jstr(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s != NULL ? s : "-";
}

/* One readable line per alert the broker acknowledged. */
static void
on_delivered(void *ctx, enum churn_topic topic, const rd_kafka_message_t *m)
{
    struct demo *d = ctx;
    json_t *o;

    if (topic != CHURN_TOPIC_ALERTS || d->quiet) {
        return;
    }
    o = json_loadb(m->payload, m->len, 0, NULL);
    if (o == NULL) {
        return;
    }
    const char *status = jstr(o, "status");
    printf("%.16s  %-8s  %-22s  %-12s  %s\n", jstr(o, "event_time"),
           strcmp(status, "resolved") == 0 ? "resolved" : jstr(o, "severity"),
           jstr(o, "rule"), jstr(o, "account_id"), jstr(o, "summary"));
    fflush(stdout);
    d->alerts_printed++;
    json_decref(o);
}

static void demo_usage(FILE *out)
{
    fprintf(out,
            "usage: churnd demo [--events N] [--accounts N] [--seed N] "
            "[--quiet]\n"
            "                   [-c FILE] [-X k=v]... [-v]\n"
            "\n"
            "Runs an in-process Kafka mock cluster, produces a generated\n"
            "replay into it and consumes it with churnd, printing alerts as\n"
            "they fire and a summary.\n"
            "\n"
            "  --events N         events to generate (default 20000)\n"
            "  --accounts N       accounts (default 300)\n"
            "  --seed N           generator seed (default 1)\n"
            "  -q, --quiet        print only the summary (default: off)\n"
            "  -c, --config FILE  config file (default: built-in defaults)\n"
            "  -X key=value       set one config key; repeatable, later wins\n"
            "                     (default: none; no HTTP endpoint unless\n"
            "                     -X http.listen=ADDR)\n"
            "  -v                 debug logging (default: off)\n"
            "  -h, --help         this help\n");
}

static bool parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    char *end;
    unsigned long long v;

    if (*s == '\0' || *s == '-') {
        return false;
    }
    v = strtoull(s, &end, 10);
    if (*end != '\0' || v < min || v > max) {
        return false;
    }
    *out = v;
    return true;
}

static int
set_kafka(struct churn_config *cfg, const char *fmt, const char *value)
{
    char kv[600];
    struct churn_error err = { 0 };

    snprintf(kv, sizeof(kv), fmt, value);
    if (churn_config_set(cfg, kv, &err) != CHURN_OK) {
        fprintf(stderr, "churnd demo: %s\n", err.msg);
        return 2;
    }
    return 0;
}

static void print_summary(const struct demo *d,
                          const struct churn_kafka_totals *t,
                          double secs)
{
    const struct churn_engine_stats *s = &t->engine;

    printf("\nsummary\n");
    printf("  events produced:  %llu\n", (unsigned long long)d->produced);
    printf("  events consumed:  %llu in %.1f s (%.0f events/s)\n",
           (unsigned long long)t->consumed, secs,
           secs > 0 ? (double)t->consumed / secs : 0.0);
    printf("  accepted:         %llu\n", (unsigned long long)s->accepted);
    printf("  duplicates:       %llu\n", (unsigned long long)s->duplicates);
    printf("  dead letters:     %llu\n", (unsigned long long)s->dead_letters);
    for (int i = 1; i < CHURN_REASON__COUNT; i++) {
        if (s->by_reason[i] > 0) {
            printf("    %-22s %llu\n", churn_reason_name((enum churn_reason)i),
                   (unsigned long long)s->by_reason[i]);
        }
    }
    printf("  signals:          %llu\n", (unsigned long long)s->signals);
    printf("  alerts firing:    %llu\n", (unsigned long long)s->alerts_firing);
    printf("  alerts resolved:  %llu\n",
           (unsigned long long)s->alerts_resolved);
    for (int i = 0; i < CHURN_RULE__COUNT; i++) {
        if (s->alerts_by_rule[i] > 0) {
            printf("    %-22s %llu\n", churn_rule_name((enum churn_rule)i),
                   (unsigned long long)s->alerts_by_rule[i]);
        }
    }
    printf("  outputs delivered: %llu of %llu\n",
           (unsigned long long)t->delivered, (unsigned long long)t->produced);
}

int churnd_cmd_demo(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "events", required_argument, NULL, 'e' },
        { "accounts", required_argument, NULL, 'a' },
        { "seed", required_argument, NULL, 's' },
        { "quiet", no_argument, NULL, 'q' },
        { "config", required_argument, NULL, 'c' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    struct churnd_cli_common common = { 0 };
    struct churn_gen_opts gopts;
    struct churn_config cfg;
    struct churn_kafka_opts kopts = { 0 };
    struct churn_kafka_totals totals = { 0 };
    struct churn_error err = { 0 };
    struct demo d;
    uint64_t events = 20000, accounts = 300, seed = 1;
    rd_kafka_t *mrk = NULL;
    rd_kafka_mock_cluster_t *mc = NULL;
    rd_kafka_conf_t *pconf;
    pthread_t thread;
    bool started = false;
    char errstr[512];
    int opt, code = 1;

    memset(&d, 0, sizeof(d));
    optind = 1;
    while ((opt = getopt_long(argc, argv, "c:X:vhq", longopts, NULL)) != -1) {
        if (churnd_cli_common_opt(&common, opt, optarg)) {
            continue;
        }
        switch (opt) {
        case 'e':
            if (!parse_u64(optarg, 1, 100000000, &events)) {
                fprintf(stderr, "churnd demo: bad --events '%s'\n", optarg);
                return 2;
            }
            break;
        case 'a':
            if (!parse_u64(optarg, 1, 10000000, &accounts)) {
                fprintf(stderr, "churnd demo: bad --accounts '%s'\n", optarg);
                return 2;
            }
            break;
        case 's':
            if (!parse_u64(optarg, 0, UINT64_MAX, &seed)) {
                fprintf(stderr, "churnd demo: bad --seed '%s'\n", optarg);
                return 2;
            }
            break;
        case 'q':
            d.quiet = true;
            break;
        case 'h':
            demo_usage(stdout);
            return 0;
        default:
            demo_usage(stderr);
            return 2;
        }
    }
    if (churnd_cli_config(&common, &cfg) != 0) {
        return 2;
    }
    /* The demo serves HTTP only when asked on the command line: a daemon's
     * default port may be taken by a running churnd. */
    bool http_asked = false;
    for (size_t i = 0; i < common.set_cnt; i++) {
        http_asked |= strncmp(common.sets[i], "http.listen=", 12) == 0;
    }
    if (!http_asked) {
        cfg.http_listen[0] = '\0';
    }
    churn_log_setup(common.verbose > 0 ? CHURN_LOG_DEBUG : CHURN_LOG_WARN,
                    cfg.log_format);

    /* The cluster lives on its own client handle. */
    pconf = rd_kafka_conf_new();
    rd_kafka_conf_set(pconf, "log_level", "3", NULL, 0);
    mrk = rd_kafka_new(RD_KAFKA_PRODUCER, pconf, errstr, sizeof(errstr));
    if (mrk == NULL) {
        rd_kafka_conf_destroy(pconf);
        fprintf(stderr, "churnd demo: %s\n", errstr);
        goto out;
    }
    mc = rd_kafka_mock_cluster_new(mrk, 1);
    if (mc == NULL) {
        fprintf(stderr, "churnd demo: cannot start the mock cluster\n");
        goto out;
    }
    const char *names[] = { cfg.input_topics[0], cfg.output_signals,
                            cfg.output_alerts, cfg.output_metrics,
                            cfg.output_dlq };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        rd_kafka_mock_topic_create(mc, names[i], DEMO_PARTITIONS, 1);
    }
    for (size_t i = 1; i < cfg.input_topic_cnt; i++) {
        rd_kafka_mock_topic_create(mc, cfg.input_topics[i], DEMO_PARTITIONS, 1);
    }
    const char *bootstrap = rd_kafka_mock_cluster_bootstraps(mc);
    code = set_kafka(&cfg, "kafka.bootstrap.servers=%s", bootstrap);
    code =
        code != 0 ? code : set_kafka(&cfg, "kafka.group.id=%s", "churnd-demo");
    code = code != 0 ? code
                     : set_kafka(&cfg, "kafka.consumer.session.timeout.ms=%s",
                                 "6000");
    code =
        code != 0
            ? code
            : set_kafka(&cfg, "kafka.consumer.heartbeat.interval.ms=%s", "500");
    if (code != 0) {
        goto out;
    }

    churn_gen_opts_init(&gopts);
    gopts.seed = seed;
    gopts.accounts = (uint32_t)accounts;
    gopts.events = events;
    gopts.bad_rate = 0.002;
    d.gen = churn_gen_new(&gopts, &err);
    if (d.gen == NULL) {
        fprintf(stderr, "churnd demo: %s\n", err.msg);
        code = 2;
        goto out;
    }
    pconf = rd_kafka_conf_new();
    rd_kafka_conf_set(pconf, "bootstrap.servers", bootstrap, NULL, 0);
    rd_kafka_conf_set(pconf, "enable.idempotence", "true", NULL, 0);
    rd_kafka_conf_set(pconf, "partitioner", "murmur2_random", NULL, 0);
    rd_kafka_conf_set(pconf, "log_level", "3", NULL, 0);
    rd_kafka_conf_set_opaque(pconf, &d);
    rd_kafka_conf_set_dr_msg_cb(pconf, demo_dr);
    d.producer = rd_kafka_new(RD_KAFKA_PRODUCER, pconf, errstr, sizeof(errstr));
    if (d.producer == NULL) {
        rd_kafka_conf_destroy(pconf);
        fprintf(stderr, "churnd demo: %s\n", errstr);
        code = 1;
        goto out;
    }
    d.topic = cfg.input_topics[0];
    atomic_init(&d.producing, true);

    printf("churnd demo: mock Kafka cluster at %s; producing %llu generated "
           "events for %llu accounts into '%s' (%d partitions)\n\n",
           bootstrap, (unsigned long long)events, (unsigned long long)accounts,
           d.topic, DEMO_PARTITIONS);
    printf("%-16s  %-8s  %-22s  %-12s  %s\n", "event time", "severity", "rule",
           "account", "summary");
    fflush(stdout);
    if (pthread_create(&thread, NULL, produce_main, &d) != 0) {
        fprintf(stderr, "churnd demo: cannot start the producer thread\n");
        code = 1;
        goto out;
    }
    started = true;

    kopts.idle_exit_ms = 1500;
    kopts.on_delivered = on_delivered;
    kopts.ctx = &d;
    kopts.hold = &d.producing;
    int64_t t0 = churn__now_ms();
    code = churn_kafka_run(&cfg, &kopts, &totals);
    double secs = (double)(churn__now_ms() - t0) / 1000.0;
    pthread_join(thread, NULL);
    started = false;
    if (d.failed > 0) {
        fprintf(stderr, "churnd demo: %llu events could not be produced\n",
                (unsigned long long)d.failed);
        code = 1;
    }
    print_summary(&d, &totals, secs);
out:
    if (started) {
        pthread_join(thread, NULL);
    }
    if (d.producer != NULL) {
        rd_kafka_destroy(d.producer);
    }
    churn_gen_free(d.gen);
    if (mc != NULL) {
        rd_kafka_mock_cluster_destroy(mc);
    }
    if (mrk != NULL) {
        rd_kafka_destroy(mrk);
    }
    churn_config_release(&cfg);
    return code;
}
