/* SPDX-License-Identifier: Apache-2.0 */
/*
 * librdkafka configuration from the kafka.* passthrough (DESIGN §5).
 *
 * Order: churnd defaults < kafka.* < kafka.consumer.* / kafka.producer.* <
 * the properties at-least-once depends on. Those last ones are not silently
 * overridden: a user value that would weaken the guarantee is refused, so a
 * misconfiguration shows at start-up instead of as lost or reordered data.
 */
#include "io/kafka.h"

#include <stdio.h>
#include <string.h>

struct prop {
    const char *name;
    const char *value;
};

static const struct prop consumer_defaults[] = {
    { "client.id", "churnd" },
    { "group.id", "churnd" },
    { "auto.offset.reset", "earliest" },
    { "enable.auto.commit", "true" },
    { "statistics.interval.ms", "15000" },
    /* librdkafka 2.0 stops fetching once this many messages wait in the
     * consumer queue and then backs off for a fixed second (2.1 made it
     * fetch.queue.backoff.ms). At its 100000 that queue held less than a
     * second of churnd's work, so every second churnd sat idle for about
     * 0.3 s waiting for the next fetch (bench/run kafka stage). 250000
     * outlasts the second at replay speed; memory stays bounded by
     * queued.max.messages.kbytes (64 MB of payload). */
    { "queued.min.messages", "250000" },
};

static const struct prop producer_defaults[] = {
    { "client.id", "churnd" },
    /* Same partition for a key as the Java client, so outputs keyed by
     * account_id line up with other producers' data. */
    { "partitioner", "murmur2_random" },
    /* Outputs go to every partition of four topics (and the changelog).
     * librdkafka's producer thread serves each partition's queue on every
     * wakeup, and with 5 ms batches those wakeups cost more CPU than
     * churnd's own work on the same core (bench/run kafka stage: 9.3 s of
     * CPU for 1 M events at 5 ms, 7.6 s at 100 ms). 100 ms, as Kafka
     * Streams uses, is nothing next to hourly buckets. */
    { "linger.ms", "100" },
};

/* Forced properties and the user values that are equivalent to them. */
struct forced {
    const char *name;
    const char *value;
    const char *accepted[3];
    const char *why;
};

static const struct forced consumer_forced[] = {
    { "enable.auto.offset.store",
      "false",
      { "false", NULL },
      "churnd stores an offset only after its outputs are delivered" },
    /* Only used to detect the end of input (--idle-exit); harmless. */
    { "enable.partition.eof", "true", { "true", "false", NULL }, NULL },
};

static const struct forced producer_forced[] = {
    { "enable.idempotence",
      "true",
      { "true", NULL },
      "at-least-once without reordering needs the idempotent producer" },
    { "acks",
      "all",
      { "all", "-1", NULL },
      "an output counts as delivered only when all in-sync replicas have it" },
    { "request.required.acks",
      "all",
      { "all", "-1", NULL },
      "an output counts as delivered only when all in-sync replicas have it" },
    { "transactional.id",
      "",
      { NULL },
      "exactly-once (transactions) is not supported yet" },
};

/*
 * kafka.* goes to both clients, but a property only one side understands
 * makes the other log a CONFWARN at every start; these are skipped on the
 * side that would ignore them anyway.
 */
static const char *const consumer_only[] = {
    "group.id",
    "group.instance.id",
    "session.timeout.ms",
    "heartbeat.interval.ms",
    "auto.offset.reset",
    "enable.auto.commit",
    "auto.commit.interval.ms",
    "partition.assignment.strategy",
    "max.poll.interval.ms",
    "isolation.level",
    "fetch.min.bytes",
    "fetch.max.bytes",
    "fetch.wait.max.ms",
    "max.partition.fetch.bytes",
    "queued.min.messages",
    "queued.max.messages.kbytes",
    "check.crcs",
    NULL,
};

static const char *const producer_only[] = {
    "acks",
    "request.required.acks",
    "linger.ms",
    "queue.buffering.max.ms",
    "queue.buffering.max.messages",
    "queue.buffering.max.kbytes",
    "compression.type",
    "compression.codec",
    "batch.size",
    "batch.num.messages",
    "enable.idempotence",
    "partitioner",
    "message.timeout.ms",
    "delivery.timeout.ms",
    "request.timeout.ms",
    "message.send.max.retries",
    "retries",
    "transactional.id",
    NULL,
};

static bool other_side_only(bool consumer, const char *name)
{
    const char *const *list = consumer ? producer_only : consumer_only;

    for (size_t i = 0; list[i] != NULL; i++) {
        if (strcmp(list[i], name) == 0) {
            return true;
        }
    }
    return false;
}

static const char *prefix(int side)
{
    switch (side) {
    case CHURN_KAFKA_CONSUMER:
        return "kafka.consumer.";
    case CHURN_KAFKA_PRODUCER:
        return "kafka.producer.";
    default:
        return "kafka.";
    }
}

static enum churn_err set(rd_kafka_conf_t *conf,
                          const char *key_prefix,
                          const char *name,
                          const char *value,
                          struct churn_error *err)
{
    char errstr[512];

    if (rd_kafka_conf_set(conf, name, value, errstr, sizeof(errstr)) !=
        RD_KAFKA_CONF_OK) {
        return churn_error_set(err, CHURN_EINVAL, "%s%s: %s", key_prefix, name,
                               errstr);
    }
    return CHURN_OK;
}

static enum churn_err check_forced(const struct forced *f,
                                   size_t cnt,
                                   const struct churn_kafka_prop *p,
                                   struct churn_error *err)
{
    for (size_t i = 0; i < cnt; i++) {
        if (strcmp(p->name, f[i].name) != 0) {
            continue;
        }
        for (size_t j = 0; f[i].accepted[j] != NULL; j++) {
            if (strcmp(p->value, f[i].accepted[j]) == 0) {
                return CHURN_OK;
            }
        }
        return churn_error_set(err, CHURN_EINVAL, "%s%s=%s: not allowed: %s",
                               prefix(p->side), p->name, p->value, f[i].why);
    }
    return CHURN_OK;
}

enum churn_err churn_kafka_conf_build(const struct churn_config *cfg,
                                      enum churn_kafka_side side,
                                      rd_kafka_conf_t **out,
                                      struct churn_error *err)
{
    bool consumer = side == CHURN_SIDE_CONSUMER;
    const struct prop *defs = consumer ? consumer_defaults : producer_defaults;
    size_t def_cnt = consumer ? sizeof(consumer_defaults) / sizeof(defs[0])
                              : sizeof(producer_defaults) / sizeof(defs[0]);
    const struct forced *forced = consumer ? consumer_forced : producer_forced;
    size_t forced_cnt = consumer ? sizeof(consumer_forced) / sizeof(forced[0])
                                 : sizeof(producer_forced) / sizeof(forced[0]);
    int mine = consumer ? CHURN_KAFKA_CONSUMER : CHURN_KAFKA_PRODUCER;
    rd_kafka_conf_t *conf;
    enum churn_err rc = CHURN_OK;

    *out = NULL;
    conf = rd_kafka_conf_new();
    if (conf == NULL) {
        return churn_error_set(err, CHURN_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < def_cnt && rc == CHURN_OK; i++) {
        rc = set(conf, "", defs[i].name, defs[i].value, err);
    }
    /* Both-sides properties first, then this side's, each in file order. */
    for (int pass = 0; pass < 2 && rc == CHURN_OK; pass++) {
        int want = pass == 0 ? CHURN_KAFKA_BOTH : mine;
        for (size_t i = 0; i < cfg->kafka_prop_cnt && rc == CHURN_OK; i++) {
            const struct churn_kafka_prop *p = &cfg->kafka_props[i];
            if ((int)p->side != want || (want == CHURN_KAFKA_BOTH &&
                                         other_side_only(consumer, p->name))) {
                continue;
            }
            rc = check_forced(forced, forced_cnt, p, err);
            if (rc == CHURN_OK) {
                rc = set(conf, prefix(p->side), p->name, p->value, err);
            }
        }
    }
    for (size_t i = 0; i < forced_cnt && rc == CHURN_OK; i++) {
        if (forced[i].value[0] != '\0') {
            rc = set(conf, "", forced[i].name, forced[i].value, err);
        }
    }
    if (rc != CHURN_OK) {
        rd_kafka_conf_destroy(conf);
        return rc;
    }
    *out = conf;
    return CHURN_OK;
}

const char *churn_kafka_conf_get(const rd_kafka_conf_t *conf, const char *name)
{
    static _Thread_local char buf[512];
    size_t len = sizeof(buf);

    if (rd_kafka_conf_get(conf, name, buf, &len) != RD_KAFKA_CONF_OK) {
        buf[0] = '\0';
    }
    return buf;
}
