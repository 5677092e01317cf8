/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One line per log record on stderr, text or JSON (log.format). Lines are
 * formatted into a local buffer and written with one fwrite so that
 * librdkafka's threads and the main thread never interleave within a line.
 */
#include "io/kafka.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static enum churn_log_level log_level = CHURN_LOG_INFO;
static enum churn_log_format log_format = CHURN_LOG_TEXT;

static const char *const level_names[] = {
    [CHURN_LOG_ERROR] = "error",
    [CHURN_LOG_WARN] = "warn",
    [CHURN_LOG_INFO] = "info",
    [CHURN_LOG_DEBUG] = "debug",
};

void churn_log_setup(enum churn_log_level level, enum churn_log_format fmt)
{
    log_level = level;
    log_format = fmt;
}

bool churn_log_enabled(enum churn_log_level level)
{
    return level <= log_level;
}

static void stamp(char *buf, size_t len)
{
    struct timespec ts;
    struct tm tm;

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, len - n, ".%03ldZ", ts.tv_nsec / 1000000);
}

void churn_log(enum churn_log_level level, const char *fmt, ...)
{
    char msg[1024];
    char ts[40];
    char line[1400];
    va_list ap;
    int n;

    if (!churn_log_enabled(level)) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    stamp(ts, sizeof(ts));
    if (log_format == CHURN_LOG_JSON) {
        json_t *o = json_pack("{s:s, s:s, s:s}", "ts", ts, "level",
                              level_names[level], "msg", msg);
        char *s = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
        n = snprintf(line, sizeof(line), "%s\n", s != NULL ? s : msg);
        free(s);
        json_decref(o);
    } else {
        n = snprintf(line, sizeof(line), "%s churnd %s: %s\n", ts,
                     level_names[level], msg);
    }
    if (n > 0) {
        size_t len = (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1;
        line[len - 1] = '\n';
        fwrite(line, 1, len, stderr);
    }
}
