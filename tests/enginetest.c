/* SPDX-License-Identifier: Apache-2.0 */
#include "enginetest.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *topic_short(enum churn_topic t)
{
    switch (t) {
    case CHURN_TOPIC_SIGNALS:
        return "signals";
    case CHURN_TOPIC_ALERTS:
        return "alerts";
    case CHURN_TOPIC_METRICS:
        return "metrics";
    default:
        return "dlq";
    }
}

static void collect(struct et *t)
{
    const struct churn_output *o;
    size_t n = churn_engine_outputs(t->eng, &o);

    for (size_t i = 0; i < n; i++) {
        json_t *rec = json_object();
        json_t *hdr = json_object();
        json_object_set_new(rec, "topic", json_string(topic_short(o[i].topic)));
        json_object_set_new(rec, "key",
                            json_stringn(o[i].key.ptr, o[i].key.len));
        for (size_t h = 0; h < o[i].header_cnt; h++) {
            json_object_set_new(hdr, o[i].headers[h].name,
                                json_stringn_nocheck(o[i].headers[h].value.ptr,
                                                     o[i].headers[h].value.len));
        }
        json_object_set_new(rec, "headers", hdr);
        if (o[i].topic == CHURN_TOPIC_DLQ) {
            json_object_set_new(rec, "raw", json_stringn_nocheck(o[i].value.ptr,
                                                               o[i].value.len));
        } else {
            json_error_t e;
            json_t *v = json_loadb(o[i].value.ptr, o[i].value.len, 0, &e);
            ck_assert_msg(v != NULL, "output is not JSON: %s: %.*s", e.text,
                          (int)o[i].value.len, o[i].value.ptr);
            json_object_set_new(rec, "value", v);
        }
        json_object_set_new(rec, "text",
                            json_stringn_nocheck(o[i].value.ptr,
                                                 o[i].value.len));
        json_array_append_new(t->outs, rec);
    }
    churn_engine_outputs_clear(t->eng);
}

void et_init(struct et *t, const char *const *sets)
{
    et_init_geo(t, sets, NULL, NULL);
}

void et_init_geo(struct et *t, const char *const *sets, churn_geo_fn geo,
                 void *geo_ctx)
{
    struct churn_error err = { 0 };

    memset(t, 0, sizeof(*t));
    churn_config_init(&t->cfg);
    for (size_t i = 0; sets != NULL && sets[i] != NULL; i++) {
        ck_assert_msg(churn_config_set(&t->cfg, sets[i], &err) == CHURN_OK,
                      "config %s: %s", sets[i], err.msg);
    }
    t->eng = churn_engine_new(&t->cfg, geo, geo_ctx, &err);
    ck_assert_msg(t->eng != NULL, "engine: %s", err.msg);
    t->outs = json_array();
}

void et_release(struct et *t)
{
    churn_engine_free(t->eng);
    churn_config_release(&t->cfg);
    json_decref(t->outs);
    memset(t, 0, sizeof(*t));
}

void et_line(struct et *t, const char *line)
{
    struct churn_error err = { 0 };
    struct churn_source src = { "test", -1, 0, -1, { NULL, 0 } };

    ck_assert_msg(churn_engine_feed(t->eng, line, strlen(line), &src, &err) ==
                      CHURN_OK,
                  "feed: %s", err.msg);
    collect(t);
}

void et_ev(struct et *t, const char *type, const char *acc, int64_t ts_ms,
           const char *extra)
{
    char line[4096];

    snprintf(line, sizeof(line),
             "{\"event_id\":\"e%lu\",\"type\":\"%s\",\"account_id\":\"%s\","
             "\"ts\":%lld%s%s}",
             ++t->next_id, type, acc, (long long)ts_ms,
             extra && *extra ? "," : "", extra ? extra : "");
    et_line(t, line);
}

void et_usage_day(struct et *t, const char *acc, int d, int n, int users)
{
    for (int k = 0; k < n; k++) {
        char extra[128];
        int64_t ts = ET_DAYS(d) + 8 * ET_HOUR + (int64_t)k * (8 * ET_HOUR) / n;
        snprintf(extra, sizeof(extra),
                 "\"user_id\":\"u%d\",\"feature\":\"f%d\"",
                 users > 0 ? k % users : 0, k % 3);
        et_ev(t, "usage.feature_used", acc, ts, extra);
    }
}

void et_worked_example(struct et *t)
{
    et_ev(t, "subscription.created", "w", ET_DAYS(0),
          "\"plan\":\"team\",\"mrr\":50000,\"currency\":\"USD\",\"seats\":10");
    for (int d = 0; d < 28; d++) {
        et_usage_day(t, "w", d, 12, 4);
    }
    for (int d = 28; d < 35; d++) {
        for (int k = 0; k < 6; k++) {
            char extra[96];
            snprintf(extra, sizeof(extra),
                     "\"user_id\":\"u%d\",\"feature\":\"f%d\"", k % 2,
                     k % 2);
            et_ev(t, "usage.feature_used", "w",
                  ET_DAYS(d) + 9 * ET_HOUR + k * ET_HOUR, extra);
        }
    }
    et_advance(t, ET_DAYS(35));
}

void et_advance(struct et *t, int64_t wm_ms)
{
    struct churn_error err = { 0 };

    ck_assert(churn_engine_advance(t->eng, wm_ms, &err) == CHURN_OK);
    collect(t);
}

void et_finish(struct et *t)
{
    struct churn_error err = { 0 };

    ck_assert(churn_engine_finish(t->eng, &err) == CHURN_OK);
    collect(t);
}

static bool matches(json_t *rec, const char *topic, const char *key,
                    const char *val)
{
    json_t *v;

    if (strcmp(json_string_value(json_object_get(rec, "topic")), topic) != 0) {
        return false;
    }
    if (key == NULL) {
        return true;
    }
    v = json_object_get(json_object_get(rec, "value"), key);
    return json_is_string(v) && strcmp(json_string_value(v), val) == 0;
}

size_t et_count(const struct et *t, const char *topic, const char *key,
                const char *val)
{
    size_t n = 0, i;
    json_t *rec;

    json_array_foreach(t->outs, i, rec)
    {
        n += matches(rec, topic, key, val);
    }
    return n;
}

json_t *et_find(const struct et *t, const char *topic, const char *key,
                const char *val, size_t which)
{
    size_t i;
    json_t *rec;

    json_array_foreach(t->outs, i, rec)
    {
        if (matches(rec, topic, key, val) && which-- == 0) {
            return json_object_get(rec, topic[0] == 'd' ? "raw" : "value");
        }
    }
    return NULL;
}

size_t et_alerts(const struct et *t, const char *rule, const char *status)
{
    size_t n = 0;

    for (size_t i = 0; et_alert(t, rule, status, i) != NULL; i++) {
        n++;
    }
    return n;
}

json_t *et_alert(const struct et *t, const char *rule, const char *status,
                 size_t which)
{
    size_t i;
    json_t *rec;

    json_array_foreach(t->outs, i, rec)
    {
        json_t *v = json_object_get(rec, "value");
        if (!matches(rec, "alerts", "rule", rule)) {
            continue;
        }
        if (status != NULL &&
            strcmp(json_string_value(json_object_get(v, "status")), status)) {
            continue;
        }
        if (which-- == 0) {
            return v;
        }
    }
    return NULL;
}

char *et_dump(const struct et *t)
{
    size_t i, len = 0;
    json_t *rec;
    char *buf = NULL;
    FILE *f = open_memstream(&buf, &len);

    json_array_foreach(t->outs, i, rec)
    {
        fprintf(f, "%s %s\n", json_string_value(json_object_get(rec, "topic")),
                json_string_value(json_object_get(rec, "text")));
    }
    fclose(f);
    return buf;
}
