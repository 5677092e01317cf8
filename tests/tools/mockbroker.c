/* SPDX-License-Identifier: Apache-2.0 */
#define _GNU_SOURCE
/*
 * mockbroker: librdkafka's mock cluster as a standalone process, for the
 * integration tests.
 *
 *   mockbroker [--brokers N] [--topic NAME:PARTITIONS]...
 *
 * Prints `bootstrap=HOST:PORT,...` as its first stdout line, then reads one
 * command per stdin line and answers `ok` or `error REASON` on one line:
 *
 *   topic NAME PARTITIONS     create a topic
 *   down BROKERID             disconnect a broker, refuse new connections
 *   up BROKERID               accept connections again
 *   rtt BROKERID MS           delay every response of a broker
 *   error API ERRCODE COUNT   fail the next COUNT requests of API (name or
 *                             number, e.g. Produce) with ERRCODE (name as in
 *                             librdkafka without RD_KAFKA_RESP_ERR_, e.g.
 *                             NOT_LEADER_FOR_PARTITION, or a number)
 *   clear API                 drop pending injected errors of API
 *   quit                      stop (as does end of input)
 *
 * BROKERID -1 means every broker. The mock API is experimental in
 * librdkafka; this tool targets 2.0.x.
 */
#include <errno.h>
#include <getopt.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_TOPICS 32

static const struct {
    const char *name;
    int16_t key;
} apis[] = {
    { "Produce", 0 },          { "Fetch", 1 },
    { "ListOffsets", 2 },      { "Metadata", 3 },
    { "OffsetCommit", 8 },     { "OffsetFetch", 9 },
    { "FindCoordinator", 10 }, { "JoinGroup", 11 },
    { "Heartbeat", 12 },       { "LeaveGroup", 13 },
    { "SyncGroup", 14 },       { "ApiVersions", 18 },
    { "InitProducerId", 22 },  { "AddPartitionsToTxn", 24 },
    { "EndTxn", 26 },
};

static bool parse_long(const char *s, long min, long max, long *out)
{
    char *end;

    if (s == NULL || *s == '\0') {
        return false;
    }
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max) {
        return false;
    }
    *out = v;
    return true;
}

static bool parse_api(const char *s, int16_t *out)
{
    long v;

    for (size_t i = 0; i < sizeof(apis) / sizeof(apis[0]); i++) {
        if (strcasecmp(s, apis[i].name) == 0) {
            *out = apis[i].key;
            return true;
        }
    }
    if (parse_long(s, 0, 100, &v)) {
        *out = (int16_t)v;
        return true;
    }
    return false;
}

static bool parse_errcode(const char *s, rd_kafka_resp_err_t *out)
{
    const struct rd_kafka_err_desc *descs;
    size_t cnt;
    long v;

    if (strncmp(s, "RD_KAFKA_RESP_ERR_", 18) == 0) {
        s += 18;
    }
    rd_kafka_get_err_descs(&descs, &cnt);
    for (size_t i = 0; i < cnt; i++) {
        if (descs[i].name != NULL && strcasecmp(descs[i].name, s) == 0) {
            *out = descs[i].code;
            return true;
        }
    }
    if (parse_long(s, -200, 200, &v)) {
        *out = (rd_kafka_resp_err_t)v;
        return true;
    }
    return false;
}

static bool create_topic(rd_kafka_mock_cluster_t *mc,
                         const char *name,
                         const char *parts,
                         int brokers,
                         char *why,
                         size_t why_len)
{
    long n;
    rd_kafka_resp_err_t e;

    if (!parse_long(parts, 1, 10000, &n)) {
        snprintf(why, why_len, "bad partition count '%s'", parts);
        return false;
    }
    e = rd_kafka_mock_topic_create(mc, name, (int)n, brokers < 3 ? brokers : 3);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(why, why_len, "topic '%s': %s", name, rd_kafka_err2str(e));
        return false;
    }
    return true;
}

/* Runs one command line; returns false on quit. */
static bool command(rd_kafka_mock_cluster_t *mc, int brokers, char *line)
{
    char *argv[8];
    int argc = 0;
    char why[256] = "";
    bool ok = false;
    long id, n;
    int16_t api;
    rd_kafka_resp_err_t code, e = RD_KAFKA_RESP_ERR_NO_ERROR;

    for (char *tok = strtok(line, " \t\r\n"); tok != NULL && argc < 8;
         tok = strtok(NULL, " \t\r\n")) {
        argv[argc++] = tok;
    }
    if (argc == 0) {
        return true;
    }
    if (strcmp(argv[0], "quit") == 0) {
        printf("ok\n");
        fflush(stdout);
        return false;
    } else if (strcmp(argv[0], "topic") == 0 && argc == 3) {
        ok = create_topic(mc, argv[1], argv[2], brokers, why, sizeof(why));
    } else if ((strcmp(argv[0], "down") == 0 || strcmp(argv[0], "up") == 0) &&
               argc == 2) {
        if (!parse_long(argv[1], -1, brokers, &id)) {
            snprintf(why, sizeof(why), "bad broker id '%s'", argv[1]);
        } else {
            e = argv[0][0] == 'd'
                    ? rd_kafka_mock_broker_set_down(mc, (int32_t)id)
                    : rd_kafka_mock_broker_set_up(mc, (int32_t)id);
            ok = e == RD_KAFKA_RESP_ERR_NO_ERROR;
        }
    } else if (strcmp(argv[0], "rtt") == 0 && argc == 3) {
        if (!parse_long(argv[1], -1, brokers, &id) ||
            !parse_long(argv[2], 0, 3600000, &n)) {
            snprintf(why, sizeof(why), "usage: rtt BROKERID MS");
        } else {
            e = rd_kafka_mock_broker_set_rtt(mc, (int32_t)id, (int)n);
            ok = e == RD_KAFKA_RESP_ERR_NO_ERROR;
        }
    } else if (strcmp(argv[0], "error") == 0 && argc == 4) {
        if (!parse_api(argv[1], &api)) {
            snprintf(why, sizeof(why), "unknown api '%s'", argv[1]);
        } else if (!parse_errcode(argv[2], &code)) {
            snprintf(why, sizeof(why), "unknown error code '%s'", argv[2]);
        } else if (!parse_long(argv[3], 1, 100000, &n)) {
            snprintf(why, sizeof(why), "bad count '%s'", argv[3]);
        } else {
            rd_kafka_resp_err_t *errs = calloc((size_t)n, sizeof(*errs));
            if (errs == NULL) {
                snprintf(why, sizeof(why), "out of memory");
            } else {
                for (long i = 0; i < n; i++) {
                    errs[i] = code;
                }
                rd_kafka_mock_push_request_errors_array(mc, api, (size_t)n,
                                                        errs);
                free(errs);
                ok = true;
            }
        }
    } else if (strcmp(argv[0], "clear") == 0 && argc == 2) {
        if (!parse_api(argv[1], &api)) {
            snprintf(why, sizeof(why), "unknown api '%s'", argv[1]);
        } else {
            rd_kafka_mock_clear_request_errors(mc, api);
            ok = true;
        }
    } else {
        snprintf(why, sizeof(why), "unknown command '%s' or wrong arguments",
                 argv[0]);
    }
    if (!ok && why[0] == '\0') {
        snprintf(why, sizeof(why), "%s", rd_kafka_err2str(e));
    }
    if (ok) {
        printf("ok\n");
    } else {
        printf("error %s\n", why);
    }
    fflush(stdout);
    return true;
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: mockbroker [--brokers N] [--topic NAME:PARTITIONS]...\n"
            "commands on stdin: topic NAME PARTITIONS | down ID | up ID |"
            " rtt ID MS |\n  error API ERRCODE COUNT | clear API | quit\n");
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "brokers", required_argument, NULL, 'b' },
        { "topic", required_argument, NULL, 't' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *topics[MAX_TOPICS];
    size_t topic_cnt = 0;
    long brokers = 1;
    char errstr[512];
    char line[1024];
    int opt;

    while ((opt = getopt_long(argc, argv, "b:t:h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'b':
            if (!parse_long(optarg, 1, 16, &brokers)) {
                fprintf(stderr, "mockbroker: bad --brokers '%s'\n", optarg);
                return 2;
            }
            break;
        case 't':
            if (topic_cnt == MAX_TOPICS || strchr(optarg, ':') == NULL) {
                fprintf(stderr, "mockbroker: bad --topic '%s'\n", optarg);
                return 2;
            }
            topics[topic_cnt++] = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }

    /* The cluster needs a client handle for its bookkeeping only. */
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "3", NULL, 0);
    rd_kafka_t *rk =
        rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (rk == NULL) {
        rd_kafka_conf_destroy(conf);
        fprintf(stderr, "mockbroker: %s\n", errstr);
        return 1;
    }
    rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(rk, (int)brokers);
    if (mc == NULL) {
        fprintf(stderr, "mockbroker: cannot create the mock cluster\n");
        rd_kafka_destroy(rk);
        return 1;
    }
    for (size_t i = 0; i < topic_cnt; i++) {
        char why[256];
        char *colon = strrchr(topics[i], ':');
        *colon = '\0';
        if (!create_topic(mc, topics[i], colon + 1, (int)brokers, why,
                          sizeof(why))) {
            fprintf(stderr, "mockbroker: %s\n", why);
            rd_kafka_mock_cluster_destroy(mc);
            rd_kafka_destroy(rk);
            return 2;
        }
    }
    printf("bootstrap=%s\n", rd_kafka_mock_cluster_bootstraps(mc));
    fflush(stdout);

    while (fgets(line, sizeof(line), stdin) != NULL) {
        if (!command(mc, (int)brokers, line)) {
            break;
        }
    }
    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(rk);
    return 0;
}
