/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The kafka.* passthrough: which properties reach which client, churnd's
 * defaults, and the delivery-critical properties that cannot be weakened.
 */
#include "io/kafka.h"
#include "testutil.h"

#include <string.h>

#define B CHURN_KAFKA_BOTH
#define C CHURN_KAFKA_CONSUMER
#define P CHURN_KAFKA_PRODUCER

struct kv {
    int side;
    const char *name;
    const char *value;
};

struct conf_case {
    const char *name;
    struct kv props[4];
    enum churn_kafka_side side;
    const char *key;
    const char *want;     /* value read back; NULL when an error is wanted */
    const char *want_err; /* substring of the error message */
};

static const struct conf_case cases[] = {
    { "both-sides property reaches the consumer",
      { { B, "bootstrap.servers", "h1:9092" } },
      CHURN_SIDE_CONSUMER,
      "bootstrap.servers",
      "h1:9092",
      NULL },
    { "both-sides property reaches the producer",
      { { B, "bootstrap.servers", "h1:9092" } },
      CHURN_SIDE_PRODUCER,
      "bootstrap.servers",
      "h1:9092",
      NULL },
    { "consumer-only property skips the producer",
      { { C, "client.id", "in" } },
      CHURN_SIDE_PRODUCER,
      "client.id",
      "churnd",
      NULL },
    { "side property wins over both, whatever the order",
      { { C, "client.id", "in" }, { B, "client.id", "all" } },
      CHURN_SIDE_CONSUMER,
      "client.id",
      "in",
      NULL },
    { "later both-sides property wins",
      { { B, "client.id", "a" }, { B, "client.id", "b" } },
      CHURN_SIDE_PRODUCER,
      "client.id",
      "b",
      NULL },
    { "group.id under kafka. is not set on the producer",
      { { B, "group.id", "g" } },
      CHURN_SIDE_PRODUCER,
      "group.id",
      "",
      NULL },
    { "group.id under kafka. reaches the consumer",
      { { B, "group.id", "g" } },
      CHURN_SIDE_CONSUMER,
      "group.id",
      "g",
      NULL },
    { "default group id",
      { { 0 } },
      CHURN_SIDE_CONSUMER,
      "group.id",
      "churnd",
      NULL },
    { "default offset reset is earliest",
      { { 0 } },
      CHURN_SIDE_CONSUMER,
      "auto.offset.reset",
      "smallest",
      NULL },
    { "user offset reset is kept",
      { { C, "auto.offset.reset", "latest" } },
      CHURN_SIDE_CONSUMER,
      "auto.offset.reset",
      "largest",
      NULL },
    { "offset store is always manual",
      { { 0 } },
      CHURN_SIDE_CONSUMER,
      "enable.auto.offset.store",
      "false",
      NULL },
    { "idempotence is always on",
      { { 0 } },
      CHURN_SIDE_PRODUCER,
      "enable.idempotence",
      "true",
      NULL },
    { "acks is always all",
      { { 0 } },
      CHURN_SIDE_PRODUCER,
      "acks",
      "-1",
      NULL },
    { "Java-compatible partitioner",
      { { 0 } },
      CHURN_SIDE_PRODUCER,
      "partitioner",
      "murmur2_random",
      NULL },
    { "a second of prefetched input",
      { { 0 } },
      CHURN_SIDE_CONSUMER,
      "queued.min.messages",
      "250000",
      NULL },
    { "outputs batched for 100 ms",
      { { 0 } },
      CHURN_SIDE_PRODUCER,
      "linger.ms",
      "100",
      NULL },
    { "linger.ms may be lowered",
      { { P, "linger.ms", "5" } },
      CHURN_SIDE_PRODUCER,
      "linger.ms",
      "5",
      NULL },
    { "acks=all accepted",
      { { P, "acks", "all" } },
      CHURN_SIDE_PRODUCER,
      "acks",
      "-1",
      NULL },
    { "acks=1 refused",
      { { B, "acks", "1" } },
      CHURN_SIDE_PRODUCER,
      "acks",
      NULL,
      "kafka.acks=1: not allowed" },
    { "idempotence off refused",
      { { P, "enable.idempotence", "false" } },
      CHURN_SIDE_PRODUCER,
      NULL,
      NULL,
      "kafka.producer.enable.idempotence=false: not allowed" },
    { "auto offset store refused",
      { { C, "enable.auto.offset.store", "true" } },
      CHURN_SIDE_CONSUMER,
      NULL,
      NULL,
      "kafka.consumer.enable.auto.offset.store=true" },
    { "transactions refused",
      { { P, "transactional.id", "t" } },
      CHURN_SIDE_PRODUCER,
      NULL,
      NULL,
      "not supported yet" },
    { "unknown property names the churnd key",
      { { C, "no.such.thing", "1" } },
      CHURN_SIDE_CONSUMER,
      NULL,
      NULL,
      "kafka.consumer.no.such.thing: No such configuration property" },
    { "bad value names the churnd key",
      { { B, "session.timeout.ms", "soon" } },
      CHURN_SIDE_CONSUMER,
      NULL,
      NULL,
      "kafka.session.timeout.ms: " },
    { "security settings pass through",
      { { B, "security.protocol", "SASL_SSL" },
        { B, "sasl.mechanisms", "SCRAM-SHA-512" },
        { B, "sasl.username", "u" } },
      CHURN_SIDE_PRODUCER,
      "sasl.mechanisms",
      "SCRAM-SHA-512",
      NULL },
};

START_TEST(test_conf_build)
{
    const struct conf_case *c = &cases[_i];
    struct churn_kafka_prop props[4];
    struct churn_config cfg;
    struct churn_error err = { 0 };
    rd_kafka_conf_t *conf = NULL;
    enum churn_err rc;

    memset(&cfg, 0, sizeof(cfg));
    for (size_t i = 0; i < 4 && c->props[i].name != NULL; i++) {
        props[i].side = c->props[i].side;
        props[i].name = (char *)c->props[i].name;
        props[i].value = (char *)c->props[i].value;
        cfg.kafka_prop_cnt++;
    }
    cfg.kafka_props = props;
    rc = churn_kafka_conf_build(&cfg, c->side, &conf, &err);
    if (c->want_err != NULL) {
        ck_assert_msg(rc == CHURN_EINVAL, "%s: want an error", c->name);
        ck_assert_msg(conf == NULL, "%s: no conf on error", c->name);
        ck_assert_msg(strstr(err.msg, c->want_err) != NULL,
                      "%s: error '%s' lacks '%s'", c->name, err.msg,
                      c->want_err);
        return;
    }
    ck_assert_msg(rc == CHURN_OK, "%s: %s", c->name, err.msg);
    ck_assert_msg(strcmp(churn_kafka_conf_get(conf, c->key), c->want) == 0,
                  "%s: %s is '%s', want '%s'", c->name, c->key,
                  churn_kafka_conf_get(conf, c->key), c->want);
    rd_kafka_conf_destroy(conf);
}
END_TEST

Suite *churn_kafka_conf_suite(void);
Suite *churn_kafka_conf_suite(void)
{
    Suite *s = suite_create("kafka_conf");
    TCase *tc = tcase_create("conf");

    tcase_add_loop_test(tc, test_conf_build, 0,
                        sizeof(cases) / sizeof(cases[0]));
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return churn_test_run(churn_kafka_conf_suite());
}
