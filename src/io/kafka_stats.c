/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Consumer lag from librdkafka's statistics JSON (statistics.interval.ms):
 * topics.T.partitions.P.{consumer_lag, consumer_lag_stored,
 * committed_offset, hi_offset}. Partitions the consumer does not fetch
 * (fetch_state "none") and the internal partition -1 are skipped.
 */
#include "io/kafka.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int64_t num(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);

    return json_is_integer(v) ? (int64_t)json_integer_value(v) : -1;
}

static bool push(struct churn_kafka_lags *l, const struct churn_kafka_lag *x)
{
    if (l->cnt == l->cap) {
        size_t cap = l->cap != 0 ? l->cap * 2 : 16;
        struct churn_kafka_lag *v = realloc(l->v, cap * sizeof(*v));
        if (v == NULL) {
            return false;
        }
        l->v = v;
        l->cap = cap;
    }
    l->v[l->cnt++] = *x;
    return true;
}

enum churn_err churn_kafka_lags_parse(struct churn_kafka_lags *lags,
                                      const char *json,
                                      size_t len,
                                      struct churn_error *err)
{
    struct churn_kafka_lags out = { 0 };
    json_error_t jerr;
    json_t *root = json_loadb(json, len, 0, &jerr);
    const json_t *topics;
    const char *tname;
    json_t *t;
    enum churn_err rc = CHURN_OK;

    if (root == NULL) {
        return churn_error_set(err, CHURN_EINVAL, "bad statistics json: %s",
                               jerr.text);
    }
    topics = json_object_get(root, "topics");
    if (!json_is_object(topics)) {
        json_decref(root);
        return churn_error_set(err, CHURN_EINVAL,
                               "bad statistics json: no 'topics' object");
    }
    out.group_steady = -1;
    {
        const json_t *brokers = json_object_get(root, "brokers");
        const json_t *cgrp = json_object_get(root, "cgrp");
        const char *bname;
        json_t *b;
        json_object_foreach((json_t *)brokers, bname, b)
        {
            const char *src = json_string_value(json_object_get(b, "source"));
            const char *st = json_string_value(json_object_get(b, "state"));
            /* the internal and the bootstrap-only pseudo brokers do not
             * count: "learned" and "configured" ones do */
            if (src != NULL && strcmp(src, "internal") == 0) {
                continue;
            }
            if (num(b, "nodeid") < 0) {
                continue;
            }
            out.brokers++;
            out.brokers_up += st != NULL && strcmp(st, "UP") == 0;
        }
        const char *js = json_string_value(json_object_get(cgrp, "join_state"));
        if (js != NULL) {
            out.group_steady = strcmp(js, "steady") == 0;
        }
    }
    json_object_foreach((json_t *)topics, tname, t)
    {
        const json_t *parts = json_object_get(t, "partitions");
        const char *pname;
        json_t *p;

        if (!json_is_object(parts)) {
            continue;
        }
        json_object_foreach((json_t *)parts, pname, p)
        {
            struct churn_kafka_lag x = { 0 };
            const char *state =
                json_string_value(json_object_get(p, "fetch_state"));
            int64_t id = num(p, "partition");

            if (id < 0 || (state != NULL && strcmp(state, "none") == 0)) {
                continue;
            }
            snprintf(x.topic, sizeof(x.topic), "%s", tname);
            x.partition = (int32_t)id;
            x.lag = num(p, "consumer_lag");
            x.lag_stored = num(p, "consumer_lag_stored");
            x.committed = num(p, "committed_offset");
            x.hi_offset = num(p, "hi_offset");
            if (!push(&out, &x)) {
                rc = churn_error_set(err, CHURN_ENOMEM, "out of memory");
                break;
            }
        }
    }
    json_decref(root);
    if (rc != CHURN_OK) {
        churn_kafka_lags_release(&out);
        return rc;
    }
    churn_kafka_lags_release(lags);
    *lags = out;
    return CHURN_OK;
}

void churn_kafka_lags_release(struct churn_kafka_lags *lags)
{
    free(lags->v);
    *lags = (struct churn_kafka_lags){ 0 };
}
