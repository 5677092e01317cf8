/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CHURN_ENGINETEST_H
#define CHURN_ENGINETEST_H

/*
 * A small harness for driving an engine with hand-built events and looking
 * at what came out. Outputs are parsed with jansson into `outs` (one object
 * per output: {"topic":..., "value":..., "headers":{...}}).
 */

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "churnd/engine.h"

#define ET_DAY   86400000LL
#define ET_HOUR  3600000LL
#define ET_T0    1767571200000LL /* 2026-01-05T00:00:00Z, a Monday */
#define ET_DAYS(n) (ET_T0 + (int64_t)(n) * ET_DAY)
#define ET_MIN(n) ((int64_t)(n) * 60000LL)

struct et {
    struct churn_engine *eng;
    struct churn_config cfg;
    json_t *outs; /* array */
    unsigned long next_id;
};

/* A new engine with the defaults plus each "key=value" of sets (NULL-ended).
 * Fails the test on a config error. */
void et_init(struct et *t, const char *const *sets);
/* The same with a GeoIP callback. */
void et_init_geo(struct et *t, const char *const *sets, churn_geo_fn geo,
                 void *geo_ctx);
void et_release(struct et *t);

/* Feeds a raw line and collects its outputs. */
void et_line(struct et *t, const char *line);

/* Feeds {"event_id":auto,"type":type,"account_id":acc,"ts":ts_ms,<extra>}
 * where extra is either "" or a JSON fragment like "\"mrr\":100". */
void et_ev(struct et *t, const char *type, const char *acc, int64_t ts_ms,
           const char *extra);

/* n usage.login events for acc spread over day d (from ET_T0), each with
 * user "u<k % users>" and feature "f<k % 3>". */
void et_usage_day(struct et *t, const char *acc, int d, int n, int users);

/* The README's worked example, account "w": 28 baseline days of 12 events
 * a day by 4 users on 3 features, then a week of 6 a day by 2 users on 2
 * features; the watermark ends at day 35. */
void et_worked_example(struct et *t);

void et_advance(struct et *t, int64_t wm_ms);
void et_finish(struct et *t);

/* Outputs on topic ("alerts", "signals", "dlq") whose value has field
 * `key` equal to `val` (both may be NULL: all on the topic). */
size_t et_count(const struct et *t, const char *topic, const char *key,
                const char *val);
/* The i-th (0-based) such output's value, or NULL. */
json_t *et_find(const struct et *t, const char *topic, const char *key,
                const char *val, size_t i);
/* Alerts with rule and status ("firing"/"resolved"). */
size_t et_alerts(const struct et *t, const char *rule, const char *status);
json_t *et_alert(const struct et *t, const char *rule, const char *status,
                 size_t i);
/* Concatenated output lines, for byte comparisons; caller frees. */
char *et_dump(const struct et *t);

#endif
