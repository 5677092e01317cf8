/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Dead letters too large for one producer message: churn_kafka_dlq_fit()
 * keeps a value whole when it fits with its key and headers, and otherwise
 * gives the longest prefix that fits together with the two headers that
 * mark the cut (churnd.truncated, churnd.original.size).
 */
#include "io/kafka.h"
#include "testutil.h"

#include <string.h>

/* The framing of the dead letter built in fit_case: a 4-byte key and the
 * reason and detail headers. */
#define KEY   "acme"
#define HDRS  (13 + 9 + 10 + 13 + 9 + 10) /* reason=oversized, detail */
#define TRUNC (16 + 4 + 10 + 20 + 20 + 10)
#define FIXED (CHURN_KAFKA_MSG_OVERHEAD + 4 + HDRS)

static const struct {
    const char *name;
    size_t value_len;
    size_t max_msg;
    size_t want;
} fit_cases[] = {
    { "small value fits whole", 100, 1000000, 100 },
    { "value exactly at the limit fits whole", 1000000 - FIXED, 1000000,
      1000000 - FIXED },
    { "one byte over is cut, room for the two headers", 1000000 - FIXED + 1,
      1000000, 1000000 - FIXED - TRUNC },
    { "5 MiB at the librdkafka default is cut", 5 << 20, 1000000,
      1000000 - FIXED - TRUNC },
    { "17 MiB at 32 MiB fits whole", 17 << 20, 32 << 20, 17 << 20 },
    { "a value larger than the limit itself", 2000000, 1000000,
      1000000 - FIXED - TRUNC },
    { "nothing fits when the headers alone do not", 5000, 1150, 0 },
    { "empty value fits", 0, 1200, 0 },
};

START_TEST(test_dlq_fit)
{
    static char value[64];
    struct churn_output o;

    memset(&o, 0, sizeof(o));
    o.topic = CHURN_TOPIC_DLQ;
    o.key = (struct churn_str){ KEY, 4 };
    /* only the length matters: the pointer is never read */
    o.value = (struct churn_str){ value, fit_cases[_i].value_len };
    o.headers[0] = (struct churn_header){ "churnd.reason", { "oversized", 9 } };
    o.headers[1] = (struct churn_header){ "churnd.detail", { "too large", 9 } };
    o.header_cnt = 2;
    size_t got = churn_kafka_dlq_fit(&o, fit_cases[_i].max_msg);
    ck_assert_msg(got == fit_cases[_i].want, "%s: fit %zu, want %zu",
                  fit_cases[_i].name, got, fit_cases[_i].want);
    ck_assert_msg(got <= fit_cases[_i].value_len, "%s: more than the value",
                  fit_cases[_i].name);
}
END_TEST

Suite *churn_kafka_out_suite(void);

Suite *churn_kafka_out_suite(void)
{
    Suite *s = suite_create("kafka_out");
    TCase *tc = tcase_create("dlq_fit");

    tcase_add_loop_test(tc, test_dlq_fit, 0,
                        sizeof(fit_cases) / sizeof(fit_cases[0]));
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return churn_test_run(churn_kafka_out_suite());
}
