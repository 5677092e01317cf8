/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Delivery tracking: an input offset becomes committable only when it and
 * every earlier input of its partition have all outputs acknowledged.
 *
 * Each case is a script of ops, with the committable offset expected after
 * each op:  aO:N  add input at offset O with N outputs;  dK / fK  one
 * delivery of the K-th added input succeeded / failed;  xK  abandon the
 * K-th input's remaining outputs (never produced).
 */
#include "io/kafka.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct track_case {
    const char *name;
    const char *ops;
    const char *want; /* committable after each op */
    size_t want_pending;
    uint64_t want_inflight;
    bool want_failed;
};

static const struct track_case cases[] = {
    { "inputs without outputs commit at once", "a5:0 a6:0", "6 7", 0, 0,
      false },
    { "in-order deliveries", "a0:1 a1:1 d0 d1", "0 0 1 2", 0, 0, false },
    { "out-of-order deliveries wait for the oldest", "a0:1 a1:1 d1 d0",
      "0 0 0 2", 0, 0, false },
    { "several outputs per input", "a0:2 a1:0 a2:1 d0 d2 d0", "0 0 0 0 0 3", 0,
      0, false },
    { "input without outputs behind a pending one", "a0:1 a1:0 a2:0 d0",
      "0 0 0 3", 0, 0, false },
    { "offset gaps (compaction, markers)", "a10:0 a15:1 a20:0 d1",
      "11 15 15 21", 0, 0, false },
    { "failed delivery holds its input forever", "a0:1 a1:1 f0 d1", "0 0 0 0",
      2, 0, true },
    { "failure keeps earlier progress", "a0:1 a1:1 d0 f1 a2:0", "0 0 1 1 1", 1,
      0, true },
    { "abandoned outputs hold the input", "a0:3 d0 x0 a1:0", "0 0 0 0", 1, 0,
      true },
    { "pending counts only unfinished inputs", "a0:2 a1:1 a2:0 d1", "0 0 0 0",
      2, 2, false },
};

START_TEST(test_track_script)
{
    const struct track_case *c = &cases[_i];
    struct churn_track *tr = churn_track_new();
    struct churn_ticket *tickets[64] = { 0 };
    size_t added = 0;
    char ops[256], want[256];
    char *op_save, *want_save;

    ck_assert_msg(tr != NULL, "%s: churn_track_new", c->name);
    snprintf(ops, sizeof(ops), "%s", c->ops);
    snprintf(want, sizeof(want), "%s", c->want);
    char *w = strtok_r(want, " ", &want_save);
    for (char *op = strtok_r(ops, " ", &op_save); op != NULL;
         op = strtok_r(NULL, " ", &op_save)) {
        long k = strtol(op + 1, NULL, 10);
        switch (op[0]) {
        case 'a': {
            long long off;
            unsigned n;
            ck_assert_msg(sscanf(op, "a%lld:%u", &off, &n) == 2, "%s: bad op",
                          c->name);
            ck_assert_msg(churn_track_add(tr, off, n, &tickets[added]) ==
                              CHURN_OK,
                          "%s: add %s", c->name, op);
            ck_assert_msg((tickets[added] != NULL) == (n > 0),
                          "%s: ticket only with outputs (%s)", c->name, op);
            added++;
            break;
        }
        case 'd':
        case 'f':
            churn_track_done(tickets[k], op[0] == 'd');
            break;
        case 'x':
            churn_track_abandon(tickets[k], 100);
            break;
        default:
            ck_abort_msg("%s: unknown op %s", c->name, op);
        }
        ck_assert_msg(w != NULL, "%s: no expectation for op %s", c->name, op);
        ck_assert_msg(churn_track_committable(tr) == strtoll(w, NULL, 10),
                      "%s: after %s committable %lld, want %s", c->name, op,
                      (long long)churn_track_committable(tr), w);
        w = strtok_r(NULL, " ", &want_save);
    }
    ck_assert_msg(churn_track_pending(tr) == c->want_pending,
                  "%s: pending %zu, want %zu", c->name, churn_track_pending(tr),
                  c->want_pending);
    ck_assert_msg(churn_track_inflight(tr) == c->want_inflight,
                  "%s: inflight %llu, want %llu", c->name,
                  (unsigned long long)churn_track_inflight(tr),
                  (unsigned long long)c->want_inflight);
    ck_assert_msg(churn_track_has_failed(tr) == c->want_failed,
                  "%s: failed flag", c->name);
    churn_track_free(tr);
}
END_TEST

START_TEST(test_track_empty)
{
    struct churn_track *tr = churn_track_new();

    ck_assert_int_eq(churn_track_committable(tr), -1);
    ck_assert_uint_eq(churn_track_pending(tr), 0);
    churn_track_free(tr);
    churn_track_free(NULL);
}
END_TEST

/* Many tickets completed newest-first: the ring grows and wraps, and the
 * committable offset jumps only when the oldest completes. */
START_TEST(test_track_ring_growth)
{
    enum {
        N = 1000
    };
    struct churn_track *tr = churn_track_new();
    struct churn_ticket **tk = calloc(N, sizeof(*tk));

    for (int round = 0; round < 3; round++) {
        int64_t base = (int64_t)round * N;
        for (int i = 0; i < N; i++) {
            ck_assert(churn_track_add(tr, base + i, 1, &tk[i]) == CHURN_OK);
        }
        for (int i = N - 1; i > 0; i--) {
            churn_track_done(tk[i], true);
            ck_assert_msg(churn_track_committable(tr) == base,
                          "round %d: committable moved before the oldest",
                          round);
        }
        churn_track_done(tk[0], true);
        ck_assert_int_eq(churn_track_committable(tr), base + N);
        ck_assert_uint_eq(churn_track_pending(tr), 0);
    }
    /* Free with tickets outstanding frees them too (ASan checks). */
    ck_assert(churn_track_add(tr, 5000, 2, &tk[0]) == CHURN_OK);
    churn_track_free(tr);
    free(tk);
}
END_TEST

Suite *churn_kafka_track_suite(void);
Suite *churn_kafka_track_suite(void)
{
    Suite *s = suite_create("kafka_track");
    TCase *tc = tcase_create("track");

    tcase_add_loop_test(tc, test_track_script, 0,
                        sizeof(cases) / sizeof(cases[0]));
    tcase_add_test(tc, test_track_empty);
    tcase_add_test(tc, test_track_ring_growth);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return churn_test_run(churn_kafka_track_suite());
}
