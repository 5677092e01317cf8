/* SPDX-License-Identifier: Apache-2.0 */
/* Consumer lag from librdkafka statistics JSON. */
#include "io/kafka.h"
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

/* Trimmed from a real librdkafka 2.0.2 consumer statistics document. */
#define STATS_DOC                                                              \
    "{\"name\":\"churnd#consumer-2\",\"type\":\"consumer\",\"topics\":{"       \
    "\"churn.events\":{\"topic\":\"churn.events\",\"partitions\":{"            \
    "\"0\":{\"partition\":0,\"fetch_state\":\"active\",\"hi_offset\":571,"     \
    "\"committed_offset\":500,\"consumer_lag\":21,"                            \
    "\"consumer_lag_stored\":71},"                                             \
    "\"1\":{\"partition\":1,\"fetch_state\":\"none\",\"hi_offset\":9,"         \
    "\"committed_offset\":-1001,\"consumer_lag\":-1},"                         \
    "\"-1\":{\"partition\":-1,\"fetch_state\":\"none\",\"hi_offset\":-1}}}}}"

struct stats_case {
    const char *name;
    const char *json;
    enum churn_err want_rc;
    size_t want_cnt;
    int64_t want_lag, want_lag_stored, want_committed, want_hi;
};

static const struct stats_case cases[] = {
    { "active partition kept, idle and internal skipped", STATS_DOC, CHURN_OK,
      1, 21, 71, 500, 571 },
    { "no topics yet", "{\"topics\":{}}", CHURN_OK, 0, 0, 0, 0, 0 },
    { "missing figures read as -1",
      "{\"topics\":{\"t\":{\"partitions\":{\"3\":{\"partition\":3,"
      "\"fetch_state\":\"active\"}}}}}",
      CHURN_OK, 1, -1, -1, -1, -1 },
    { "not json", "{\"topics\":", CHURN_EINVAL, 0, 0, 0, 0, 0 },
    { "no topics object", "{\"name\":\"x\"}", CHURN_EINVAL, 0, 0, 0, 0, 0 },
};

START_TEST(test_stats_parse)
{
    const struct stats_case *c = &cases[_i];
    struct churn_kafka_lags lags = { 0 };
    struct churn_error err = { 0 };
    struct churn_kafka_lag keep = { .topic = "old", .partition = 7 };
    enum churn_err rc;

    /* A failed parse keeps the previous figures. */
    lags.v = malloc(sizeof(keep));
    lags.v[0] = keep;
    lags.cnt = lags.cap = 1;
    rc = churn_kafka_lags_parse(&lags, c->json, strlen(c->json), &err);
    ck_assert_msg(rc == c->want_rc, "%s: rc %d (%s)", c->name, rc, err.msg);
    if (rc != CHURN_OK) {
        ck_assert_msg(lags.cnt == 1 && lags.v[0].partition == 7,
                      "%s: previous figures lost", c->name);
        ck_assert_msg(err.msg[0] != '\0', "%s: no message", c->name);
    } else {
        ck_assert_msg(lags.cnt == c->want_cnt, "%s: %zu partitions, want %zu",
                      c->name, lags.cnt, c->want_cnt);
        if (c->want_cnt > 0) {
            const struct churn_kafka_lag *l = &lags.v[0];
            ck_assert_msg(l->lag == c->want_lag &&
                              l->lag_stored == c->want_lag_stored &&
                              l->committed == c->want_committed &&
                              l->hi_offset == c->want_hi,
                          "%s: got lag %lld stored %lld committed %lld hi "
                          "%lld",
                          c->name, (long long)l->lag, (long long)l->lag_stored,
                          (long long)l->committed, (long long)l->hi_offset);
        }
    }
    churn_kafka_lags_release(&lags);
}
END_TEST

Suite *churn_kafka_stats_suite(void);
Suite *churn_kafka_stats_suite(void)
{
    Suite *s = suite_create("kafka_stats");
    TCase *tc = tcase_create("stats");

    tcase_add_loop_test(tc, test_stats_parse, 0,
                        sizeof(cases) / sizeof(cases[0]));
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return churn_test_run(churn_kafka_stats_suite());
}
