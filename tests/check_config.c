/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The config module: every value type good and bad, every error form with
 * its exact "FILE:LINE: reason", CRLF/BOM/comments, -X, validation, the
 * kafka passthrough, the dump round trip, and config/churnd.conf against
 * the built-in defaults.
 */
#include "churnd/config.h"
#include "testutil.h"

#include <check.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FIX CHURN_FIXTURES "/config/"

/* ---- helpers ---- */

struct text {
    char *p;
    size_t len, cap;
};

static void text_add(struct text *t, const char *s)
{
    size_t n = strlen(s);
    if (t->len + n + 2 > t->cap) {
        t->cap = (t->len + n + 2) * 2;
        t->p = realloc(t->p, t->cap);
        ck_assert_ptr_nonnull(t->p);
    }
    memcpy(t->p + t->len, s, n);
    t->len += n;
    t->p[t->len++] = '\n';
    t->p[t->len] = '\0';
}

static void text_line(void *ctx, const char *line)
{
    text_add(ctx, line);
}

/* The dump as one string, a line per key; the caller frees it. */
static char *dump(const struct churn_config *cfg)
{
    struct text t = { 0 };
    churn_config_dump(cfg, text_line, &t);
    return t.p;
}

/* The dumped value of key, or NULL when the dump has no such line. */
static const char *dump_value(const struct churn_config *cfg, const char *key)
{
    static char val[4096];
    char *d = dump(cfg), *p = d;
    size_t klen = strlen(key);
    const char *found = NULL;

    while (p != NULL && *p != '\0') {
        char *nl = strchr(p, '\n');
        *nl = '\0';
        if (strncmp(p, key, klen) == 0 && p[klen] == ' ' &&
            p[klen + 1] == '=') {
            snprintf(val, sizeof(val), "%s",
                     p[klen + 2] == ' ' ? p + klen + 3 : p + klen + 2);
            found = val;
            break;
        }
        p = nl + 1;
    }
    free(d);
    return found;
}

static enum churn_err
parse_text(struct churn_config *cfg, const char *text, struct churn_error *err)
{
    return churn_config_parse(cfg, "t.conf", text, strlen(text), err);
}

/* Lines of dump d not starting with any of the prefixes, joined. */
static char *dump_without(const char *d, const char *const *prefixes)
{
    struct text t = { 0 };
    char *copy = strdup(d), *line, *save = NULL;

    text_add(&t, "");
    for (line = strtok_r(copy, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
        bool skip = false;
        for (size_t i = 0; prefixes[i] != NULL; i++) {
            skip = skip || strncmp(line, prefixes[i], strlen(prefixes[i])) == 0;
        }
        if (!skip) {
            text_add(&t, line);
        }
    }
    free(copy);
    return t.p;
}

/* Fails naming the first line where dumps a and b differ. */
static void assert_same_dump(const char *a, const char *b, const char *what)
{
    size_t line = 1, i = 0;

    while (a[i] != '\0' && a[i] == b[i]) {
        line += a[i] == '\n';
        i++;
    }
    if (a[i] == b[i]) {
        return;
    }
    size_t start = i;
    while (start > 0 && a[start - 1] != '\n') {
        start--;
    }
    ck_abort_msg("%s: line %zu differs:\n  '%.*s'\n  '%.*s'", what, line,
                 (int)strcspn(a + start, "\n"), a + start,
                 (int)strcspn(b + start, "\n"), b + start);
}

/* ---- good values: each type, canonical dump value ---- */

static const struct {
    const char *name, *key, *value, *want;
} good[] = {
    { "duration seconds", "output.flush_timeout", "90s", "90s" },
    { "duration minutes", "window.bucket", "15m", "15m" },
    { "duration hours", "window.bucket", "36h", "36h" },
    { "duration days", "window.bucket", "7d", "7d" },
    { "duration week", "rule.inactivity.after", "2w", "14d" },
    { "duration ms", "rule.chargeback.cooldown", "500ms", "500ms" },
    { "duration ms not whole s", "output.flush_timeout", "1500ms", "1500ms" },
    { "duration 24h canonical", "input.dedupe_horizon", "24h", "1d" },
    { "duration 1440m canonical", "input.dedupe_horizon", "1440m", "1d" },
    { "duration 60s canonical", "state.snapshot_interval", "60s", "1m" },
    { "duration plain zero", "input.dedupe_horizon", "0", "0" },
    { "duration zero with unit", "input.allowed_lateness", "0s", "0" },
    { "duration leading zeros", "window.bucket", "007d", "7d" },
    { "duration min bound", "window.bucket", "1m", "1m" },
    { "duration max bound", "window.bucket", "168h", "7d" },
    { "signed duration negative", "window.utc_offset", "-5h", "-5h" },
    { "signed duration positive", "window.utc_offset", "+14h", "14h" },
    { "signed duration minutes", "window.utc_offset", "-330m", "-330m" },
    { "signed duration min bound", "window.utc_offset", "-14h", "-14h" },
    { "signed duration -0", "window.utc_offset", "-0", "0" },
    { "idle_evict zero = never", "state.idle_evict", "0", "0" },
    { "idle_evict lower bound", "state.idle_evict", "1d", "1d" },
    { "size plain bytes", "input.max_event_size", "512", "512" },
    { "size with B", "input.max_event_size", "1000B", "1000" },
    { "size KiB", "input.max_event_size", "64KiB", "64KiB" },
    { "size bytes canonical KiB", "input.max_event_size", "3072", "3KiB" },
    { "size MiB", "input.max_event_size", "1MiB", "1MiB" },
    { "size KiB canonical MiB", "input.max_event_size", "2048KiB", "2MiB" },
    { "size max bound", "input.max_event_size", "16MiB", "16MiB" },
    { "size min bound", "input.max_event_size", "256", "256" },
    { "integer", "window.buckets", "40", "40" },
    { "integer plus sign", "window.buckets", "+10", "10" },
    { "integer leading zero", "window.buckets", "08", "8" },
    { "integer size_t field", "state.max_accounts", "100000000", "100000000" },
    { "integer zero", "input.dedupe_capacity", "0", "0" },
    { "integer int32 field", "rule.detractor_feedback.nps_max", "10", "10" },
    { "decimal", "score.weight.engagement", "0.25", "0.25" },
    { "decimal leading dot", "score.weight.engagement", ".5", "0.5" },
    { "decimal trailing dot", "score.weight.engagement", "1.", "1" },
    { "decimal exponent", "score.weight.engagement", "1e-1", "0.1" },
    { "decimal tiny", "score.weight.engagement", "1e-5", "1e-05" },
    { "decimal integer form", "score.band.healthy", "85", "85" },
    { "decimal fraction", "score.band.healthy", "70.25", "70.25" },
    { "decimal 3.0", "rule.engagement_drop.z", "3.0", "3" },
    { "decimal negative", "rule.detractor_feedback.sentiment_max", "-1", "-1" },
    { "decimal 17 digits", "score.weight.feedback", "0.30000000000000004",
      "0.30000000000000004" },
    { "bool true", "rule.inactivity.enabled", "true", "true" },
    { "bool false", "rule.inactivity.enabled", "false", "false" },
    { "bool yes", "rule.inactivity.enabled", "yes", "true" },
    { "bool no", "rule.inactivity.enabled", "no", "false" },
    { "bool on", "rule.inactivity.enabled", "on", "true" },
    { "bool off", "rule.inactivity.enabled", "off", "false" },
    { "bool 1", "rule.inactivity.enabled", "1", "true" },
    { "bool 0", "rule.inactivity.enabled", "0", "false" },
    { "bool upper case", "rule.inactivity.enabled", "FALSE", "false" },
    { "enum severity info", "rule.downgrade.severity", "info", "info" },
    { "enum severity critical", "rule.downgrade.severity", "critical",
      "critical" },
    { "enum churn_at", "metrics.churn_at", "effective", "effective" },
    { "enum churn_at scheduled", "metrics.churn_at", "scheduled", "scheduled" },
    { "enum log level", "log.level", "debug", "debug" },
    { "enum log format", "log.format", "json", "json" },
    { "topic", "output.dlq", "my-dlq_v2.x", "my-dlq_v2.x" },
    { "topic list one", "input.topics", "events", "events" },
    { "topic list trimmed", "input.topics", " a , b ,c ", "a,b,c" },
    { "topic list eight", "input.topics", "a,b,c,d,e,f,g,h",
      "a,b,c,d,e,f,g,h" },
    { "name list", "rule.feature_abandonment.features", "export, reports",
      "export,reports" },
    { "name list with space", "rule.feature_abandonment.features",
      "api keys,sso", "api keys,sso" },
    { "name list four", "rule.feature_abandonment.features", "a,b,c,d",
      "a,b,c,d" },
    { "name list empty", "rule.feature_abandonment.features", "", "" },
    { "path", "geoip.database", "/var/lib/GeoIP/GeoLite2-Country.mmdb",
      "/var/lib/GeoIP/GeoLite2-Country.mmdb" },
    { "path with # and space", "state.dir", "/srv/churnd #1",
      "/srv/churnd #1" },
    { "path empty", "state.dir", "", "" },
    { "listen all interfaces", "http.listen", ":9090", ":9090" },
    { "listen ipv4", "http.listen", "0.0.0.0:9090", "0.0.0.0:9090" },
    { "listen ipv6", "http.listen", "[::1]:9090", "[::1]:9090" },
    { "listen name", "http.listen", "localhost:65535", "localhost:65535" },
    { "listen empty", "http.listen", "", "" },
    { "plan segment", "plan.team.segment", "mid_market", "mid_market" },
    { "plan tier with dot", "plan.team.tier", "gold.plus", "gold.plus" },
    { "plan tier empty", "plan.team.tier", "", "" },
    { "plan price", "plan.team.price", "9900", "9900" },
    { "plan price max", "plan.team.price", "1000000000000", "1000000000000" },
    { "kafka both", "kafka.bootstrap.servers", "a:9092,b:9092",
      "a:9092,b:9092" },
    { "kafka consumer", "kafka.consumer.group.id", "g", "g" },
    { "kafka producer", "kafka.producer.linger.ms", "5", "5" },
    { "kafka value with = and #", "kafka.client.id", "a=b #c", "a=b #c" },
};

START_TEST(test_good_value)
{
    struct churn_config cfg;
    struct churn_error err = { 0 };
    char line[512];
    const char *got;

    churn_config_init(&cfg);
    snprintf(line, sizeof(line), "%s = %s\n", good[_i].key, good[_i].value);
    ck_assert_msg(parse_text(&cfg, line, &err) == CHURN_OK, "%s: %s",
                  good[_i].name, err.msg);
    got = dump_value(&cfg, good[_i].key);
    ck_assert_msg(got != NULL && strcmp(got, good[_i].want) == 0,
                  "%s: dump '%s', want '%s'", good[_i].name,
                  got ? got : "(none)", good[_i].want);
    /* the same through -X */
    churn_config_release(&cfg);
    snprintf(line, sizeof(line), "%s=%s", good[_i].key, good[_i].value);
    ck_assert_msg(churn_config_set(&cfg, line, &err) == CHURN_OK, "%s: -X %s",
                  good[_i].name, err.msg);
    got = dump_value(&cfg, good[_i].key);
    ck_assert_msg(got != NULL && strcmp(got, good[_i].want) == 0,
                  "%s: -X dump '%s'", good[_i].name, got ? got : "(none)");
    churn_config_release(&cfg);
}
END_TEST

/* ---- bad lines: the exact "t.conf:1: reason" ---- */

static const struct {
    const char *name, *line, *want;
} bad[] = {
    /* durations */
    { "duration word", "window.bucket = fast",
      "bad value for 'window.bucket': 'fast' is not a duration (e.g. 90s, "
      "15m, 36h, 7d)" },
    { "duration without unit", "window.bucket = 90",
      "bad value for 'window.bucket': '90' is not a duration (e.g. 90s, 15m, "
      "36h, 7d)" },
    { "duration fraction", "window.bucket = 1.5h",
      "bad value for 'window.bucket': '1.5h' is not a duration (e.g. 90s, "
      "15m, 36h, 7d)" },
    { "duration space before unit", "window.bucket = 90 s",
      "bad value for 'window.bucket': '90 s' is not a duration (e.g. 90s, "
      "15m, 36h, 7d)" },
    { "duration unknown unit", "window.bucket = 1M",
      "bad value for 'window.bucket': '1M' is not a duration (e.g. 90s, 15m, "
      "36h, 7d)" },
    { "duration unit only", "window.bucket = d",
      "bad value for 'window.bucket': 'd' is not a duration (e.g. 90s, 15m, "
      "36h, 7d)" },
    { "duration above max", "window.bucket = 200h",
      "'window.bucket' out of range: 200h (allowed 1m..7d)" },
    { "duration below min", "window.bucket = 30s",
      "'window.bucket' out of range: 30s (allowed 1m..7d)" },
    { "duration negative", "window.bucket = -1d",
      "'window.bucket' out of range: -1d (allowed 1m..7d)" },
    { "duration digits overflow", "window.bucket = 99999999999999999999d",
      "'window.bucket' out of range: 99999999999999999999d (allowed "
      "1m..7d)" },
    { "duration unit overflow", "window.bucket = 9223372036854775807d",
      "'window.bucket' out of range: 9223372036854775807d (allowed "
      "1m..7d)" },
    { "signed duration below", "window.utc_offset = -15h",
      "'window.utc_offset' out of range: -15h (allowed -14h..14h)" },
    { "idle_evict gap", "state.idle_evict = 12h",
      "'state.idle_evict' out of range: 12h (allowed 0 or 1d..3650d)" },
    { "cooldown above max", "rule.chargeback.cooldown = 13w",
      "'rule.chargeback.cooldown' out of range: 13w (allowed 0..90d)" },
    /* sizes */
    { "size KB", "input.max_event_size = 64KB",
      "bad value for 'input.max_event_size': '64KB' is not a size (e.g. 512, "
      "64KiB, 1MiB; units B, KiB, MiB, GiB)" },
    { "size lower-case unit", "input.max_event_size = 64kib",
      "bad value for 'input.max_event_size': '64kib' is not a size (e.g. 512, "
      "64KiB, 1MiB; units B, KiB, MiB, GiB)" },
    { "size above max", "input.max_event_size = 1GiB",
      "'input.max_event_size' out of range: 1GiB (allowed 256..16MiB)" },
    { "size below min", "input.max_event_size = 255",
      "'input.max_event_size' out of range: 255 (allowed 256..16MiB)" },
    { "size overflow", "input.max_event_size = 18446744073709551616",
      "'input.max_event_size' out of range: 18446744073709551616 (allowed "
      "256..16MiB)" },
    { "size unit overflow", "input.max_event_size = 9007199254740992GiB",
      "'input.max_event_size' out of range: 9007199254740992GiB (allowed "
      "256..16MiB)" },
    /* integers */
    { "integer below min", "window.buckets = 5",
      "'window.buckets' out of range: 5 (allowed 8..64)" },
    { "integer above max", "window.buckets = 65",
      "'window.buckets' out of range: 65 (allowed 8..64)" },
    { "integer negative", "input.dedupe_capacity = -1",
      "'input.dedupe_capacity' out of range: -1 (allowed 0..100000000)" },
    { "integer fraction", "window.buckets = 3.5",
      "bad value for 'window.buckets': '3.5' is not an integer" },
    { "integer hex", "window.buckets = 0x10",
      "bad value for 'window.buckets': '0x10' is not an integer" },
    { "integer exponent", "window.buckets = 1e2",
      "bad value for 'window.buckets': '1e2' is not an integer" },
    { "integer with unit", "window.buckets = 10s",
      "bad value for 'window.buckets': '10s' is not an integer" },
    { "integer overflow", "window.buckets = 99999999999999999999999",
      "'window.buckets' out of range: 99999999999999999999999 (allowed "
      "8..64)" },
    { "integer int32 above", "rule.detractor_feedback.nps_max = 11",
      "'rule.detractor_feedback.nps_max' out of range: 11 (allowed 0..10)" },
    /* decimals */
    { "decimal word", "score.weight.engagement = abc",
      "bad value for 'score.weight.engagement': 'abc' is not a number (e.g. "
      "0.5, 70)" },
    { "decimal nan", "score.weight.engagement = nan",
      "bad value for 'score.weight.engagement': 'nan' is not a number (e.g. "
      "0.5, 70)" },
    { "decimal inf", "score.weight.engagement = inf",
      "bad value for 'score.weight.engagement': 'inf' is not a number (e.g. "
      "0.5, 70)" },
    { "decimal hex float", "score.weight.engagement = 0x1p-1",
      "bad value for 'score.weight.engagement': '0x1p-1' is not a number "
      "(e.g. 0.5, 70)" },
    { "decimal comma", "score.weight.engagement = 0,5",
      "bad value for 'score.weight.engagement': '0,5' is not a number (e.g. "
      "0.5, 70)" },
    { "decimal dot only", "score.weight.engagement = .",
      "bad value for 'score.weight.engagement': '.' is not a number (e.g. "
      "0.5, 70)" },
    { "decimal bare exponent", "score.weight.engagement = 1e",
      "bad value for 'score.weight.engagement': '1e' is not a number (e.g. "
      "0.5, 70)" },
    { "decimal percent", "score.weight.engagement = 50%",
      "bad value for 'score.weight.engagement': '50%' is not a number (e.g. "
      "0.5, 70)" },
    { "decimal above max", "score.weight.engagement = 1.5",
      "'score.weight.engagement' out of range: 1.5 (allowed 0..1)" },
    { "decimal overflow", "score.weight.engagement = 1e999",
      "'score.weight.engagement' out of range: 1e999 (allowed 0..1)" },
    { "decimal below signed min",
      "rule.detractor_feedback.sentiment_max = -1.01",
      "'rule.detractor_feedback.sentiment_max' out of range: -1.01 (allowed "
      "-1..1)" },
    { "decimal delta below min", "score.signal_delta = 0.5",
      "'score.signal_delta' out of range: 0.5 (allowed 1..100)" },
    /* booleans and enums */
    { "bool word", "rule.inactivity.enabled = maybe",
      "bad value for 'rule.inactivity.enabled': 'maybe' is not a boolean "
      "(true/false, yes/no, on/off, 1/0)" },
    { "bool 2", "rule.inactivity.enabled = 2",
      "bad value for 'rule.inactivity.enabled': '2' is not a boolean "
      "(true/false, yes/no, on/off, 1/0)" },
    { "enum log level", "log.level = loud",
      "bad value for 'log.level': 'loud' is not one of error, warn, info, "
      "debug" },
    { "enum is case-sensitive", "log.level = INFO",
      "bad value for 'log.level': 'INFO' is not one of error, warn, info, "
      "debug" },
    { "enum severity", "rule.chargeback.severity = high",
      "bad value for 'rule.chargeback.severity': 'high' is not one of info, "
      "warning, critical" },
    { "enum churn_at", "metrics.churn_at = now",
      "bad value for 'metrics.churn_at': 'now' is not one of cancel, "
      "effective, scheduled" },
    { "enum log format", "log.format = xml",
      "bad value for 'log.format': 'xml' is not one of text, json" },
    /* topics and lists */
    { "list empty item", "input.topics = a,,b",
      "bad value for 'input.topics': empty item in 'a,,b'" },
    { "list trailing comma", "input.topics = a,",
      "bad value for 'input.topics': empty item in 'a,'" },
    { "list blank item", "input.topics = a, ,b",
      "bad value for 'input.topics': empty item in 'a, ,b'" },
    { "list bad topic", "input.topics = a b",
      "bad value for 'input.topics': 'a b' is not a topic name (1..249 of A-Z "
      "a-z 0-9 . _ -)" },
    { "list repeated topic", "input.topics = a,b,a",
      "bad value for 'input.topics': 'a' is listed twice" },
    { "list too many topics", "input.topics = a,b,c,d,e,f,g,h,i",
      "'input.topics' out of range: 9 items (allowed 1..8)" },
    { "list too many features", "rule.feature_abandonment.features = a,b,c,d,e",
      "'rule.feature_abandonment.features' out of range: 5 items (allowed "
      "0..4)" },
    { "topic dotdot", "output.dlq = ..",
      "bad value for 'output.dlq': '..' is not a topic name (1..249 of A-Z "
      "a-z 0-9 . _ -)" },
    { "topic slash", "output.dlq = churn/dlq",
      "bad value for 'output.dlq': 'churn/dlq' is not a topic name (1..249 of "
      "A-Z a-z 0-9 . _ -)" },
    /* host:port */
    { "listen no port", "http.listen = localhost",
      "bad value for 'http.listen': 'localhost' is not host:port (e.g. "
      "0.0.0.0:9090, [::1]:9090, :9090)" },
    { "listen port 0", "http.listen = :0",
      "bad value for 'http.listen': ':0' is not host:port (e.g. 0.0.0.0:9090, "
      "[::1]:9090, :9090)" },
    { "listen port too big", "http.listen = :65536",
      "bad value for 'http.listen': ':65536' is not host:port (e.g. "
      "0.0.0.0:9090, [::1]:9090, :9090)" },
    { "listen bare ipv6", "http.listen = ::1:80",
      "bad value for 'http.listen': '::1:80' is not host:port (e.g. "
      "0.0.0.0:9090, [::1]:9090, :9090)" },
    /* empty values */
    { "empty duration", "window.bucket =", "empty value for 'window.bucket'" },
    { "empty blank value",
      "window.buckets =   ", "empty value for 'window.buckets'" },
    { "empty topic list", "input.topics =", "empty value for 'input.topics'" },
    { "empty topic", "output.alerts =", "empty value for 'output.alerts'" },
    { "empty bool",
      "rule.downgrade.enabled=", "empty value for 'rule.downgrade.enabled'" },
    { "empty kafka", "kafka.client.id =", "empty value for 'kafka.client.id'" },
    { "empty plan segment",
      "plan.a.segment =", "empty value for 'plan.a.segment'" },
    { "empty plan price", "plan.a.price =", "empty value for 'plan.a.price'" },
    /* unknown keys */
    { "unknown with suggestion", "rule.engagment_drop.ratio = 0.3",
      "unknown key 'rule.engagment_drop.ratio' (did you mean "
      "'rule.engagement_drop.ratio'?)" },
    { "unknown transposition", "windwo.bucket = 1d",
      "unknown key 'windwo.bucket' (did you mean 'window.bucket'?)" },
    { "unknown case", "Window.Bucket = 1d",
      "unknown key 'Window.Bucket' (did you mean 'window.bucket'?)" },
    { "unknown short", "log.levle = info",
      "unknown key 'log.levle' (did you mean 'log.level'?)" },
    { "unknown space in key", "window bucket = 1d",
      "unknown key 'window bucket' (did you mean 'window.bucket'?)" },
    { "unknown rule key", "rule.inactivty.after = 1d",
      "unknown key 'rule.inactivty.after' (did you mean "
      "'rule.inactivity.after'?)" },
    { "unknown no suggestion", "foo = 1", "unknown key 'foo'" },
    { "unknown far from all", "totally.unrelated.key = 1",
      "unknown key 'totally.unrelated.key'" },
    { "unknown short key no suggestion", "log = x", "unknown key 'log'" },
    { "unknown plan field", "plan.starter.segmnt = smb",
      "unknown key 'plan.starter.segmnt' (did you mean "
      "'plan.starter.segment'?)" },
    { "unknown plan prefix", "plna.team.tier = x",
      "unknown key 'plna.team.tier' (did you mean 'plan.team.tier'?)" },
    { "unknown plan without field", "plan.starter = x",
      "unknown key 'plan.starter'" },
    { "unknown kafka prefix", "kafak.bootstrap.servers = x",
      "unknown key 'kafak.bootstrap.servers' (did you mean "
      "'kafka.bootstrap.servers'?)" },
    { "unknown long key clipped",
      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
      "aaaaaaaaaaaaaaaaaaaa = 1",
      "unknown key "
      "'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
      "aaaaaaaaa...'" },
    /* plans and kafka keys */
    { "plan bad name", "plan.st@rter.tier = x",
      "bad plan name 'st@rter' in 'plan.st@rter.tier' (1..127 of A-Z a-z 0-9 "
      "_ -)" },
    { "plan empty name", "plan..tier = x",
      "bad plan name '' in 'plan..tier' (1..127 of A-Z a-z 0-9 _ -)" },
    { "plan bad segment", "plan.a.segment = mid market",
      "bad value for 'plan.a.segment': 'mid market' is not a name (1..127 of "
      "A-Z a-z 0-9 . _ -)" },
    { "plan price fraction", "plan.a.price = 9.99",
      "bad value for 'plan.a.price': '9.99' is not an integer" },
    { "plan price negative", "plan.a.price = -1",
      "'plan.a.price' out of range: -1 (allowed 0..1000000000000)" },
    { "kafka without name", "kafka. = x",
      "missing librdkafka property name in 'kafka.'" },
    { "kafka consumer without name", "kafka.consumer. = x",
      "missing librdkafka property name in 'kafka.consumer.'" },
    /* line shape */
    { "missing equals", "window.bucket 1d", "expected 'key = value'" },
    { "missing key", "= 5", "expected 'key = value'" },
    { "blank key", "   = 5", "expected 'key = value'" },
};

START_TEST(test_bad_line)
{
    struct churn_config cfg;
    struct churn_error err = { 0 };
    char want[300];

    churn_config_init(&cfg);
    snprintf(want, sizeof(want), "t.conf:1: %s", bad[_i].want);
    ck_assert_msg(parse_text(&cfg, bad[_i].line, &err) == CHURN_EINVAL,
                  "%s: accepted", bad[_i].name);
    ck_assert_msg(err.code == CHURN_EINVAL, "%s: code %d", bad[_i].name,
                  err.code);
    ck_assert_msg(strcmp(err.msg, want) == 0, "%s:\n got  '%s'\n want '%s'",
                  bad[_i].name, err.msg, want);
    churn_config_release(&cfg);
}
END_TEST

/* Values that need building: topic name length, plan name length. */
START_TEST(test_long_names)
{
    struct churn_config cfg;
    struct churn_error err = { 0 };
    char line[600], name[300];

    churn_config_init(&cfg);
    memset(name, 't', 249);
    name[249] = '\0';
    snprintf(line, sizeof(line), "output.dlq = %s\n", name);
    ck_assert_msg(parse_text(&cfg, line, &err) == CHURN_OK, "249: %s", err.msg);
    ck_assert_str_eq(cfg.output_dlq, name);
    snprintf(line, sizeof(line), "input.topics = a,%s\n", name);
    ck_assert_msg(parse_text(&cfg, line, &err) == CHURN_OK, "list 249: %s",
                  err.msg);
    ck_assert_str_eq(cfg.input_topics[1], name);

    strcat(name, "t"); /* 250 */
    snprintf(line, sizeof(line), "output.alerts = %s\n", name);
    ck_assert(parse_text(&cfg, line, &err) == CHURN_EINVAL);
    ck_assert_msg(strstr(err.msg, "is not a topic name") != NULL, "%s",
                  err.msg);

    churn_error_clear(&err);
    memset(name, 'p', 127);
    name[127] = '\0';
    snprintf(line, sizeof(line), "plan.%s.price = 1\n", name);
    ck_assert_msg(parse_text(&cfg, line, &err) == CHURN_OK, "plan 127: %s",
                  err.msg);
    ck_assert_str_eq(cfg.plans[0].name, name);
    strcat(name, "p");
    snprintf(line, sizeof(line), "plan.%s.price = 1\n", name);
    ck_assert(parse_text(&cfg, line, &err) == CHURN_EINVAL);
    ck_assert_msg(strncmp(err.msg, "t.conf:1: bad plan name '", 25) == 0, "%s",
                  err.msg);

    churn_error_clear(&err);
    memset(name, 'f', 128);
    name[128] = '\0';
    snprintf(line, sizeof(line), "rule.feature_abandonment.features = %s\n",
             name);
    ck_assert(parse_text(&cfg, line, &err) == CHURN_EINVAL);
    ck_assert_msg(strstr(err.msg, "is too long (max 127 bytes)") != NULL, "%s",
                  err.msg);
    churn_config_release(&cfg);
}
END_TEST

/* ---- files: each error form with its real line number ---- */

static const struct {
    const char *file, *want;
} file_errors[] = {
    { "unknown_key.conf",
      "4: unknown key 'rule.engagment_drop.ratio' (did you mean "
      "'rule.engagement_drop.ratio'?)" },
    { "duplicate.conf",
      "7: duplicate key 'input.topics' (first set on line 3)" },
    { "duplicate_plan.conf",
      "4: duplicate key 'plan.team.price' (first set on line 2)" },
    { "duplicate_kafka.conf",
      "3: duplicate key 'kafka.bootstrap.servers' (first set on line 1)" },
    { "missing_equals.conf", "2: expected 'key = value'" },
    { "bad_value.conf",
      "3: bad value for 'window.bucket': 'fast' is not a duration (e.g. 90s, "
      "15m, 36h, 7d)" },
    { "out_of_range.conf",
      "3: 'window.buckets' out of range: 5 (allowed 8..64)" },
    { "empty_value.conf", "3: empty value for 'output.alerts'" },
};

START_TEST(test_file_error)
{
    struct churn_config cfg;
    struct churn_error err = { 0 };
    char want[512];

    churn_config_init(&cfg);
    snprintf(want, sizeof(want), "%s%s:%s", FIX, file_errors[_i].file,
             file_errors[_i].want);
    char path[512];
    snprintf(path, sizeof(path), "%s%s", FIX, file_errors[_i].file);
    ck_assert_msg(churn_config_load(&cfg, path, &err) == CHURN_EINVAL,
                  "%s: accepted", file_errors[_i].file);
    ck_assert_msg(strcmp(err.msg, want) == 0, "%s:\n got  '%s'\n want '%s'",
                  file_errors[_i].file, err.msg, want);
    churn_config_release(&cfg);
}
END_TEST

START_TEST(test_load_unreadable)
{
    struct churn_config cfg;
    struct churn_error err = { 0 };
    char want[512];

    churn_config_init(&cfg);
    ck_assert(churn_config_load(&cfg, FIX "no-such.conf", &err) == CHURN_EIO);
    snprintf(want, sizeof(want), "%sno-such.conf: cannot read: %s", FIX,
             strerror(ENOENT));
    ck_assert_str_eq(err.msg, want);

    churn_error_clear(&err);
    ck_assert(churn_config_load(&cfg, CHURN_FIXTURES "/config", &err) ==
              CHURN_EIO);
    snprintf(want, sizeof(want), "%s/config: cannot read: %s", CHURN_FIXTURES,
             strerror(EISDIR));
    ck_assert_str_eq(err.msg, want);
    churn_config_release(&cfg);
}
END_TEST

START_TEST(test_comments_and_blanks)
{
    struct churn_config cfg;
    struct churn_error err = { 0 };

    churn_config_init(&cfg);
    ck_assert_msg(churn_config_load(&cfg, FIX "comments.conf", &err) ==
                      CHURN_OK,
                  "%s", err.msg);
    ck_assert_int_eq(cfg.window_bucket_ms, 12 * 3600 * 1000);
    ck_assert_uint_eq(cfg.window_buckets, 64);
    ck_assert_uint_eq(cfg.key_feature_cnt, 3);
    ck_assert_str_eq(cfg.key_features[0], "export");
    ck_assert_str_eq(cfg.key_features[1], "reports");
    ck_assert_str_eq(cfg.key_features[2], "api-keys");
    ck_assert_uint_eq(cfg.kafka_prop_cnt, 2);
    /* no inline comments: '#' belongs to the value */
    ck_assert_str_eq(cfg.kafka_props[0].name, "sasl.password");
    ck_assert_str_eq(cfg.kafka_props[0].value, "p#ss # not a comment");
    /* the first '=' splits; later ones belong to the value */
    ck_assert_str_eq(cfg.kafka_props[1].name, "client.id");
    ck_assert_str_eq(cfg.kafka_props[1].value, "a=b");
    churn_config_release(&cfg);
}
END_TEST

START_TEST(test_bom_and_crlf)
{
    struct churn_config cfg;
    struct churn_error err = { 0 };
    const char *text = "\xEF\xBB\xBFwindow.bucket = 12h\r\n"
                       "\r\n"
                       "  # comment\r\n"
                       "input.topics = a , b\r\n"
                       "state.dir = /x\r\n";

    churn_config_init(&cfg);
    ck_assert_msg(parse_text(&cfg, text, &err) == CHURN_OK, "%s", err.msg);
    ck_assert_int_eq(cfg.window_bucket_ms, 12 * 3600 * 1000);
    ck_assert_uint_eq(cfg.input_topic_cnt, 2);
    ck_assert_str_eq(cfg.input_topics[1], "b");
    ck_assert_str_eq(cfg.state_dir, "/x"); /* no '\r' kept */
    churn_config_release(&cfg);

    /* the same from a file */
    ck_assert_msg(churn_config_load(&cfg, FIX "bom_crlf.conf", &err) ==
                      CHURN_OK,
                  "%s", err.msg);
    ck_assert_int_eq(cfg.window_bucket_ms, 6 * 3600 * 1000);
    ck_assert_str_eq(cfg.input_topics[0], "x");
    ck_assert_str_eq(cfg.input_topics[1], "y");
    ck_assert_int_eq(cfg.log_format, CHURN_LOG_JSON);
    churn_config_release(&cfg);

    /* line numbers count CRLF lines */
    ck_assert(parse_text(&cfg, "\r\n# c\r\nwindow.buckets = 1\r\n", &err) ==
              CHURN_EINVAL);
    ck_assert_str_eq(err.msg,
                     "t.conf:3: 'window.buckets' out of range: 1 (allowed "
                     "8..64)");
    churn_config_release(&cfg);

    /* a BOM anywhere else is not skipped */
    churn_error_clear(&err);
    ck_assert(parse_text(&cfg,
                         "log.level = info\n\xEF\xBB\xBFlog.format = json\n",
                         &err) == CHURN_EINVAL);
    ck_assert_msg(strncmp(err.msg, "t.conf:2: unknown key '", 23) == 0, "%s",
                  err.msg);
    churn_config_release(&cfg);
}
END_TEST

START_TEST(test_buffer_edges)
{
    struct churn_config cfg;
    struct churn_error err = { 0 };
    const char nul[] = "window.bucket = 1d\nlog.level = in\0fo\n";

    churn_config_init(&cfg);
    ck_assert(churn_config_parse(&cfg, "t.conf", "", 0, &err) == CHURN_OK);
    ck_assert(parse_text(&cfg, "\xEF\xBB\xBF", &err) == CHURN_OK);
    /* last line without a newline */
    ck_assert(parse_text(&cfg, "window.buckets = 40", &err) == CHURN_OK);
    ck_assert_uint_eq(cfg.window_buckets, 40);
    /* a NUL byte inside a line */
    ck_assert(churn_config_parse(&cfg, "t.conf", nul, sizeof(nul) - 1, &err) ==
              CHURN_EINVAL);
    ck_assert_str_eq(err.msg, "t.conf:2: NUL byte in line");
    churn_config_release(&cfg);

    /* a NULL file name still gives a prefix */
    churn_error_clear(&err);
    ck_assert(churn_config_parse(&cfg, NULL, "x\n", 2, &err) == CHURN_EINVAL);
    ck_assert_str_eq(err.msg, "<config>:1: expected 'key = value'");
    churn_config_release(&cfg);
}
END_TEST

START_TEST(test_too_many_plans)
{
    struct churn_config cfg;
    struct churn_error err = { 0 };
    struct text t = { 0 };
    char line[64];

    churn_config_init(&cfg);
    for (int i = 0; i < CHURN_MAX_PLANS; i++) {
        snprintf(line, sizeof(line), "plan.p%d.price = %d", i, i);
        text_add(&t, line);
    }
    /* another field of an existing plan is fine at the limit */
    text_add(&t, "plan.p0.segment = smb");
    ck_assert_msg(parse_text(&cfg, t.p, &err) == CHURN_OK, "%s", err.msg);
    ck_assert_uint_eq(cfg.plan_cnt, CHURN_MAX_PLANS);
    ck_assert_str_eq(cfg.plans[0].segment, "smb");
    ck_assert_str_eq(cfg.plans[1].segment, "unknown");
    ck_assert_str_eq(cfg.plans[1].tier, "");
    ck_assert_int_eq(cfg.plans[63].price, 63);
    churn_config_release(&cfg);

    text_add(&t, "plan.one_more.segment = smb");
    ck_assert(parse_text(&cfg, t.p, &err) == CHURN_EINVAL);
    ck_assert_str_eq(err.msg, "t.conf:66: too many plans (max 64)");
    churn_config_release(&cfg);
    free(t.p);
}
END_TEST

/* ---- -X ---- */

static const struct {
    const char *name, *kv, *want;
} set_errors[] = {
    { "out of range", "window.buckets=5",
      "-X window.buckets=5: 'window.buckets' out of range: 5 (allowed 8..64)" },
    { "no equals", "foo", "-X foo: expected key=value" },
    { "no key", "=5", "-X =5: expected key=value" },
    { "blank key", "  =5", "-X   =5: expected key=value" },
    { "unknown key", "windw.bucket=1d",
      "-X windw.bucket=1d: unknown key 'windw.bucket' (did you mean "
      "'window.bucket'?)" },
    { "bad value", "log.level=loud",
      "-X log.level=loud: bad value for 'log.level': 'loud' is not one of "
      "error, warn, info, debug" },
    { "empty value", "kafka.acks=",
      "-X kafka.acks=: empty value for "
      "'kafka.acks'" },
    { "spaces trimmed", " window.bucket = fast ",
      "-X  window.bucket = fast : bad value for 'window.bucket': 'fast' is not "
      "a duration (e.g. 90s, 15m, 36h, 7d)" },
};

START_TEST(test_set_error)
{
    struct churn_config cfg;
    struct churn_error err = { 0 };

    churn_config_init(&cfg);
    ck_assert_msg(churn_config_set(&cfg, set_errors[_i].kv, &err) ==
                      CHURN_EINVAL,
                  "%s: accepted", set_errors[_i].name);
    ck_assert_msg(strcmp(err.msg, set_errors[_i].want) == 0,
                  "%s:\n got  '%s'\n want '%s'", set_errors[_i].name, err.msg,
                  set_errors[_i].want);
    churn_config_release(&cfg);
}
END_TEST

START_TEST(test_set_overrides_file)
{
    struct churn_config cfg;
    struct churn_error err = { 0 };

    churn_config_init(&cfg);
    ck_assert(parse_text(&cfg,
                         "window.buckets = 40\n"
                         "kafka.client.id = from-file\n"
                         "plan.team.price = 100\n",
                         &err) == CHURN_OK);
    /* -X may repeat a file key, and itself; the later value wins */
    ck_assert(churn_config_set(&cfg, "window.buckets=50", &err) == CHURN_OK);
    ck_assert(churn_config_set(&cfg, "window.buckets=60", &err) == CHURN_OK);
    ck_assert(churn_config_set(&cfg, "kafka.client.id=from-x", &err) ==
              CHURN_OK);
    ck_assert(churn_config_set(&cfg, "plan.team.price=200", &err) == CHURN_OK);
    ck_assert(churn_config_set(&cfg, "kafka.producer.client.id=p", &err) ==
              CHURN_OK);
    ck_assert_uint_eq(cfg.window_buckets, 60);
    ck_assert_uint_eq(cfg.plan_cnt, 1);
    ck_assert_int_eq(cfg.plans[0].price, 200);
    /* replaced in place, not appended; the producer one is a separate key */
    ck_assert_uint_eq(cfg.kafka_prop_cnt, 2);
    ck_assert_str_eq(cfg.kafka_props[0].value, "from-x");
    ck_assert_int_eq(cfg.kafka_props[1].side, CHURN_KAFKA_PRODUCER);
    ck_assert_str_eq(dump_value(&cfg, "window.buckets"), "60");

    /* a second file on top of the first is not a duplicate either */
    ck_assert(parse_text(&cfg, "window.buckets = 64\n", &err) == CHURN_OK);
    ck_assert_uint_eq(cfg.window_buckets, 64);
    churn_config_release(&cfg);
}
END_TEST

/* ---- validation ---- */

static const struct {
    const char *name;
    const char *sets[5];
    const char *want;
} invalid[] = {
    { "bands healthy below watch",
      { "score.band.healthy=70", "score.band.watch=80" },
      "config: score.band.healthy (70) must be above score.band.watch (80)" },
    { "bands healthy equal watch",
      { "score.band.healthy=50.5", "score.band.watch=50.5" },
      "config: score.band.healthy (50.5) must be above score.band.watch "
      "(50.5)" },
    { "bands watch below at_risk",
      { "score.band.watch=50", "score.band.at_risk=60" },
      "config: score.band.watch (50) must be above score.band.at_risk (60)" },
    { "weights all zero",
      { "score.weight.engagement=0", "score.weight.payment=0",
        "score.weight.subscription=0", "score.weight.feedback=0" },
      "config: score.weight.* must not all be 0" },
    { "resolve ratio not above ratio",
      { "rule.engagement_drop.ratio=0.5",
        "rule.engagement_drop.resolve_ratio=0.5" },
      "config: rule.engagement_drop.resolve_ratio (0.5) must be above "
      "rule.engagement_drop.ratio (0.5)" },
    { "recent not a multiple",
      { "score.recent=36h" },
      "config: score.recent (36h) must be a multiple of window.bucket (1d)" },
    { "baseline not a multiple",
      { "window.bucket=7d", "score.baseline=30d" },
      "config: score.baseline (30d) must be a multiple of window.bucket "
      "(7d)" },
    { "span too short",
      { "window.buckets=34" },
      "config: window.bucket * window.buckets (34d) must be at least "
      "score.recent + score.baseline (35d)" },
    { "span too short with hours",
      { "window.bucket=12h", "window.buckets=64" },
      "config: window.bucket * window.buckets (32d) must be at least "
      "score.recent + score.baseline (35d)" },
    { "input topic is an output",
      { "input.topics=in,churn.alerts" },
      "config: input topic 'churn.alerts' is also output.alerts" },
    { "input topic is the dlq",
      { "output.dlq=in", "input.topics=in" },
      "config: input topic 'in' is also output.dlq" },
};

START_TEST(test_validate_error)
{
    struct churn_config cfg;
    struct churn_error err = { 0 };

    churn_config_init(&cfg);
    for (size_t i = 0; i < 5 && invalid[_i].sets[i] != NULL; i++) {
        ck_assert_msg(churn_config_set(&cfg, invalid[_i].sets[i], &err) ==
                          CHURN_OK,
                      "%s: %s", invalid[_i].name, err.msg);
    }
    ck_assert_msg(churn_config_validate(&cfg, &err) == CHURN_EINVAL,
                  "%s: valid", invalid[_i].name);
    ck_assert_msg(strcmp(err.msg, invalid[_i].want) == 0,
                  "%s:\n got  '%s'\n want '%s'", invalid[_i].name, err.msg,
                  invalid[_i].want);
    churn_config_release(&cfg);
}
END_TEST

START_TEST(test_validate_fields)
{
    struct churn_config cfg;
    struct churn_error err = { 0 };

    churn_config_init(&cfg);
    ck_assert_msg(churn_config_validate(&cfg, &err) == CHURN_OK, "defaults: %s",
                  err.msg);

    /* fields set by code are range-checked through the same table */
    cfg.window_buckets = 5;
    ck_assert(churn_config_validate(&cfg, &err) == CHURN_EINVAL);
    ck_assert_str_eq(
        err.msg, "config: 'window.buckets' out of range: 5 (allowed 8..64)");
    churn_config_release(&cfg);
    churn_error_clear(&err);

    cfg.score_weight_payment = -0.5;
    ck_assert(churn_config_validate(&cfg, &err) == CHURN_EINVAL);
    ck_assert_str_eq(err.msg, "config: 'score.weight.payment' out of range: "
                              "-0.5 (allowed 0..1)");
    churn_config_release(&cfg);
    churn_error_clear(&err);

    cfg.output_dlq[0] = '\0';
    ck_assert(churn_config_validate(&cfg, &err) == CHURN_EINVAL);
    ck_assert_str_eq(err.msg, "config: 'output.dlq' is not a topic name: ''");
    churn_config_release(&cfg);
    churn_error_clear(&err);

    /*
     * The tightest legal window (8 x 1d = 1d recent + 7d baseline, a 7d
     * engagement_drop window) with the largest lateness (7d) is valid: the
     * ranges keep lateness below the span, so the lateness check can only guard
     * future range changes.
     */
    const char *tight[] = { "window.buckets=8",
                            "score.recent=1d",
                            "score.baseline=7d",
                            "input.allowed_lateness=7d",
                            "rule.engagement_drop.window=7d",
                            "rule.engagement_drop.long_window=0" };
    for (size_t i = 0; i < 6; i++) {
        ck_assert(churn_config_set(&cfg, tight[i], &err) == CHURN_OK);
    }
    ck_assert_msg(churn_config_validate(&cfg, &err) == CHURN_OK, "%s", err.msg);
    churn_config_release(&cfg);
}
END_TEST

/* ---- kafka passthrough ---- */

START_TEST(test_kafka_passthrough)
{
    struct churn_config cfg;
    struct churn_error err = { 0 };
    static const struct {
        int side;
        const char *name, *value, *dumped;
    } want[] = {
        { CHURN_KAFKA_BOTH, "bootstrap.servers", "b1:9092,b2:9092",
          "kafka.bootstrap.servers = b1:9092,b2:9092" },
        { CHURN_KAFKA_CONSUMER, "group.id", "churnd",
          "kafka.consumer.group.id = churnd" },
        { CHURN_KAFKA_PRODUCER, "linger.ms", "5",
          "kafka.producer.linger.ms = 5" },
        { CHURN_KAFKA_CONSUMER, "bootstrap.servers", "c:9092",
          "kafka.consumer.bootstrap.servers = c:9092" },
        { CHURN_KAFKA_BOTH, "consumer", "x", "kafka.consumer = x" },
        { CHURN_KAFKA_BOTH, "sasl.password", "p#ss word",
          "kafka.sasl.password = ********" },
        { CHURN_KAFKA_PRODUCER, "ssl.key.password", "k",
          "kafka.producer.ssl.key.password = ********" },
        { CHURN_KAFKA_BOTH, "sasl.oauthbearer.client.secret", "s",
          "kafka.sasl.oauthbearer.client.secret = ********" },
        { CHURN_KAFKA_BOTH, "sasl.oauthbearer.config", "principal=a",
          "kafka.sasl.oauthbearer.config = ********" },
        { CHURN_KAFKA_BOTH, "sasl.username", "churnd",
          "kafka.sasl.username = churnd" },
    };
    const size_t n = sizeof(want) / sizeof(want[0]);
    struct text t = { 0 };
    char line[256];

    for (size_t i = 0; i < n; i++) {
        const char *side = want[i].side == CHURN_KAFKA_CONSUMER   ? "consumer."
                           : want[i].side == CHURN_KAFKA_PRODUCER ? "producer."
                                                                  : "";
        snprintf(line, sizeof(line), "kafka.%s%s = %s", side, want[i].name,
                 want[i].value);
        text_add(&t, line);
    }
    churn_config_init(&cfg);
    ck_assert_msg(parse_text(&cfg, t.p, &err) == CHURN_OK, "%s", err.msg);
    ck_assert_uint_eq(cfg.kafka_prop_cnt, n);
    char *d = dump(&cfg);
    for (size_t i = 0; i < n; i++) {
        ck_assert_msg((int)cfg.kafka_props[i].side == want[i].side,
                      "prop %zu side %d", i, cfg.kafka_props[i].side);
        ck_assert_str_eq(cfg.kafka_props[i].name, want[i].name);
        ck_assert_str_eq(cfg.kafka_props[i].value, want[i].value);
        snprintf(line, sizeof(line), "\n%s\n", want[i].dumped);
        ck_assert_msg(strstr(d, line) != NULL, "dump lacks '%s'",
                      want[i].dumped);
    }
    ck_assert_msg(strstr(d, "p#ss") == NULL, "password in dump");
    free(d);
    free(t.p);

    /* release empties the list and leaves the defaults */
    churn_config_release(&cfg);
    ck_assert_uint_eq(cfg.kafka_prop_cnt, 0);
    ck_assert_ptr_null(cfg.kafka_props);
    ck_assert_uint_eq(cfg.window_buckets, 35);
    churn_config_release(NULL);
}
END_TEST

/* ---- dump ---- */

START_TEST(test_dump_round_trip)
{
    static const char *const files[] = { NULL, FIX "roundtrip.conf",
                                         FIX "comments.conf" };
    struct churn_config a, b;
    struct churn_error err = { 0 };

    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        churn_config_init(&a);
        churn_config_init(&b);
        if (files[i] != NULL) {
            ck_assert_msg(churn_config_load(&a, files[i], &err) == CHURN_OK,
                          "%s", err.msg);
        }
        char *d1 = dump(&a);
        ck_assert_msg(churn_config_parse(&b, "dump", d1, strlen(d1), &err) ==
                          CHURN_OK,
                      "%s: dump does not parse: %s", files[i], err.msg);
        char *d2 = dump(&b);
        assert_same_dump(d1, d2, files[i] != NULL ? files[i] : "defaults");
        free(d1);
        free(d2);
        churn_config_release(&a);
        churn_config_release(&b);
    }

    /* the round-trip fixture is also valid, and really away from defaults */
    churn_config_init(&a);
    ck_assert(churn_config_load(&a, FIX "roundtrip.conf", &err) == CHURN_OK);
    ck_assert_msg(churn_config_validate(&a, &err) == CHURN_OK, "%s", err.msg);
    ck_assert_str_eq(dump_value(&a, "score.weight.feedback"),
                     "0.30000000000000004");
    ck_assert_str_eq(dump_value(&a, "window.utc_offset"), "-330m");
    ck_assert_str_eq(dump_value(&a, "plan.pro.tier"), "");
    ck_assert_str_eq(dump_value(&a, "plan.enterprise-2024.tier"), "gold.plus");
    ck_assert_str_eq(dump_value(&a, "kafka.sasl.password"), "********");
    churn_config_release(&a);
}
END_TEST

/* Splits the key reference line into its 5 tab-separated columns. */
struct ref {
    struct text names, defaults;
    size_t cnt;
};

static void ref_line(void *ctx, const char *line)
{
    struct ref *r = ctx;
    char buf[1024], *col[5] = { 0 };
    size_t n = 0;

    snprintf(buf, sizeof(buf), "%s", line);
    col[n++] = buf;
    for (char *p = buf; *p != '\0'; p++) {
        if (*p == '\t') {
            *p = '\0';
            ck_assert_msg(n < 5, "too many columns: %s", line);
            col[n++] = p + 1;
        }
    }
    ck_assert_msg(n == 5 && col[4][0] != '\0', "bad reference line: %s", line);
    if (strstr(col[0], "NAME") == NULL && strstr(col[0], "PROP") == NULL) {
        text_add(&r->names, col[0]);
        text_add(&r->defaults, col[2]);
        r->cnt++;
    }
}

START_TEST(test_defaults_and_reference)
{
    struct churn_config cfg;
    struct ref r = { 0 };
    char *names, *defs, *save1 = NULL, *save2 = NULL, *n, *v;
    size_t dumped = 0;

    churn_config_init(&cfg);
    churn_config_keys(ref_line, &r);
    /* the reference lists every dumped key, in the same order, and each
     * default as text is exactly the value init produced */
    names = r.names.p;
    defs = r.defaults.p;
    char *d = dump(&cfg);
    for (char *p = d; *p != '\0'; p = strchr(p, '\n') + 1) {
        dumped++;
    }
    ck_assert_uint_eq(r.cnt, dumped);
    n = strtok_r(names, "\n", &save1);
    for (size_t i = 0; i < r.cnt; i++) {
        /* defaults may be empty, so split by hand */
        v = save2 == NULL ? defs : save2;
        char *nl = strchr(v, '\n');
        *nl = '\0';
        save2 = nl + 1;
        const char *got = dump_value(&cfg, n);
        ck_assert_msg(got != NULL, "key '%s' not dumped", n);
        ck_assert_msg(strcmp(got, v) == 0,
                      "%s: init gives '%s', table says '%s'", n, got, v);
        n = strtok_r(NULL, "\n", &save1);
    }
    free(d);
    free(r.names.p);
    free(r.defaults.p);

    /* the defaults from the brief, spot-checked in the struct */
    ck_assert_uint_eq(cfg.input_topic_cnt, 1);
    ck_assert_str_eq(cfg.input_topics[0], "churn.events");
    ck_assert_uint_eq(cfg.input_max_event_size, 64 * 1024);
    ck_assert_int_eq(cfg.input_dedupe_horizon_ms, 86400000LL);
    ck_assert_uint_eq(cfg.input_dedupe_capacity, 1000000);
    ck_assert_int_eq(cfg.window_bucket_ms, 86400000LL);
    ck_assert_uint_eq(cfg.window_buckets, 35);
    ck_assert_str_eq(cfg.output_state, "churn.state");
    ck_assert(cfg.score_weight_engagement == 0.5);
    ck_assert(cfg.drop_resolve_ratio == 0.75);
    ck_assert(cfg.detractor_sentiment_max == -0.5);
    ck_assert_int_eq(cfg.detractor_nps_max, 6);
    ck_assert_uint_eq(cfg.failure_streak, 2);
    ck_assert_int_eq(cfg.state_snapshot_interval_ms, 60000);
    ck_assert_uint_eq(cfg.state_max_accounts, 2000000);
    ck_assert_int_eq(cfg.metrics_churn_at, CHURN_AT_CANCEL);
    ck_assert_int_eq(cfg.log_level, CHURN_LOG_INFO);
    ck_assert_int_eq(cfg.log_format, CHURN_LOG_TEXT);
    ck_assert_uint_eq(cfg.plan_cnt, 0);
    ck_assert_uint_eq(cfg.kafka_prop_cnt, 0);
    churn_config_release(&cfg);
}
END_TEST

/* Each rule: its name, its keys, its default severity and cooldown. */
static const struct {
    enum churn_rule rule;
    const char *name;
    enum churn_severity sev;
    long long cooldown_days;
} rules[] = {
    { CHURN_RULE_ENGAGEMENT_DROP, "engagement_drop", CHURN_SEV_WARNING, 7 },
    { CHURN_RULE_INACTIVITY, "inactivity", CHURN_SEV_WARNING, 7 },
    { CHURN_RULE_PAYMENT_FAILURE_STREAK, "payment_failure_streak",
      CHURN_SEV_CRITICAL, 3 },
    { CHURN_RULE_CARD_EXPIRING, "card_expiring", CHURN_SEV_WARNING, 14 },
    { CHURN_RULE_DOWNGRADE, "downgrade", CHURN_SEV_WARNING, 7 },
    { CHURN_RULE_CANCEL_SCHEDULED, "cancel_scheduled", CHURN_SEV_CRITICAL, 1 },
    { CHURN_RULE_TRIAL_LOW_ACTIVATION, "trial_low_activation",
      CHURN_SEV_WARNING, 7 },
    { CHURN_RULE_FEATURE_ABANDONMENT, "feature_abandonment", CHURN_SEV_INFO,
      14 },
    { CHURN_RULE_DETRACTOR_FEEDBACK, "detractor_feedback", CHURN_SEV_WARNING,
      7 },
    { CHURN_RULE_CHARGEBACK, "chargeback", CHURN_SEV_CRITICAL, 1 },
    { CHURN_RULE_HEALTH_CRITICAL, "health_critical", CHURN_SEV_CRITICAL, 7 },
};

START_TEST(test_rule)
{
    struct churn_config cfg;
    struct churn_error err = { 0 };
    char key[128], kv[160];

    ck_assert_int_eq(sizeof(rules) / sizeof(rules[0]), CHURN_RULE__COUNT);
    ck_assert_str_eq(churn_rule_name(rules[_i].rule), rules[_i].name);
    churn_config_init(&cfg);
    ck_assert(cfg.rules[rules[_i].rule].enabled);
    ck_assert_int_eq(cfg.rules[rules[_i].rule].severity, rules[_i].sev);
    ck_assert_int_eq(cfg.rules[rules[_i].rule].cooldown_ms,
                     rules[_i].cooldown_days * 86400000LL);

    /* the keys named after churn_rule_name() reach this rule's slot */
    snprintf(kv, sizeof(kv), "rule.%s.enabled=false", rules[_i].name);
    ck_assert_msg(churn_config_set(&cfg, kv, &err) == CHURN_OK, "%s", err.msg);
    snprintf(kv, sizeof(kv), "rule.%s.severity=info", rules[_i].name);
    ck_assert_msg(churn_config_set(&cfg, kv, &err) == CHURN_OK, "%s", err.msg);
    snprintf(kv, sizeof(kv), "rule.%s.cooldown=90m", rules[_i].name);
    ck_assert_msg(churn_config_set(&cfg, kv, &err) == CHURN_OK, "%s", err.msg);
    for (size_t r = 0; r < CHURN_RULE__COUNT; r++) {
        bool me = r == (size_t)rules[_i].rule;
        ck_assert_msg(cfg.rules[r].enabled == !me, "%s touched rule %zu",
                      rules[_i].name, r);
        ck_assert_int_eq(cfg.rules[r].cooldown_ms == 90 * 60000LL, me);
        ck_assert_int_eq(cfg.rules[r].severity == CHURN_SEV_INFO,
                         me || rules[r].sev == CHURN_SEV_INFO);
    }
    snprintf(key, sizeof(key), "rule.%s.severity", rules[_i].name);
    ck_assert_str_eq(dump_value(&cfg, key), "info");
    churn_config_release(&cfg);
}
END_TEST

START_TEST(test_names)
{
    ck_assert_str_eq(churn_severity_name(CHURN_SEV_INFO), "info");
    ck_assert_str_eq(churn_severity_name(CHURN_SEV_WARNING), "warning");
    ck_assert_str_eq(churn_severity_name(CHURN_SEV_CRITICAL), "critical");
    ck_assert_str_eq(churn_severity_name((enum churn_severity)7), "unknown");
    ck_assert_str_eq(churn_rule_name(CHURN_RULE__COUNT), "unknown");
}
END_TEST

/* ---- config/churnd.conf ---- */

static bool is_key_line(const char *line)
{
    return line[0] != '\0' && line[0] != '#' && strchr(line, '=') != NULL;
}

START_TEST(test_example_file)
{
    static const char *const non_table[] = { "plan.", "kafka.", NULL };
    struct churn_config def, ex;
    struct churn_error err = { 0 };
    const char *path = CHURN_SOURCE_DIR "/config/churnd.conf";

    churn_config_init(&def);
    churn_config_init(&ex);
    ck_assert_msg(churn_config_load(&ex, path, &err) == CHURN_OK, "%s",
                  err.msg);
    ck_assert_msg(churn_config_validate(&ex, &err) == CHURN_OK, "%s", err.msg);

    /* every non-plan key at exactly its default */
    char *d_def = dump(&def), *d_ex = dump(&ex);
    char *a = dump_without(d_def, non_table),
         *b = dump_without(d_ex, non_table);
    assert_same_dump(a, b, "config/churnd.conf against the defaults");

    /* the example plan catalog and the kafka lines */
    ck_assert_uint_eq(ex.plan_cnt, 3);
    ck_assert_str_eq(dump_value(&ex, "plan.starter.segment"), "smb");
    ck_assert_str_eq(dump_value(&ex, "plan.team.segment"), "mid_market");
    ck_assert_str_eq(dump_value(&ex, "plan.business.segment"), "enterprise");
    ck_assert_str_eq(dump_value(&ex, "plan.business.tier"), "business");
    ck_assert_str_eq(dump_value(&ex, "kafka.bootstrap.servers"),
                     "localhost:9092");

    /* every table key is set in the file, once, under a comment */
    size_t len;
    char *file = churn_test_slurp(path, &len);
    ck_assert_ptr_nonnull(file);
    /* the SASL/SSL example is there, commented out */
    ck_assert_ptr_nonnull(
        strstr(file, "\n# kafka.security.protocol = SASL_SSL"));
    ck_assert_ptr_nonnull(strstr(file, "\n# kafka.sasl.mechanisms = "));
    ck_assert_ptr_nonnull(strstr(file, "\n# kafka.sasl.username = "));
    ck_assert_ptr_nonnull(strstr(file, "\n# kafka.sasl.password = "));
    ck_assert_ptr_nonnull(strstr(file, "\n# kafka.ssl.ca.location = "));

    char *lines[1024];
    size_t nlines = 0;
    for (char *p = file; *p != '\0';) { /* keeps blank lines */
        char *nl = strchr(p, '\n');
        ck_assert(nlines < 1024);
        lines[nlines++] = p;
        if (nl == NULL) {
            break;
        }
        *nl = '\0';
        p = nl + 1;
    }
    for (char *k = strtok(a, "\n"); k != NULL; k = strtok(NULL, "\n")) {
        char *eq = strstr(k, " =");
        if (eq == NULL) {
            continue;
        }
        *eq = '\0';
        size_t seen = 0, klen = strlen(k);
        for (size_t i = 0; i < nlines; i++) {
            if (strncmp(lines[i], k, klen) != 0 || lines[i][klen] != ' ') {
                continue;
            }
            seen++;
            size_t j = i;
            while (j > 0 && is_key_line(lines[j - 1])) {
                j--;
            }
            ck_assert_msg(j > 0 && lines[j - 1][0] == '#',
                          "'%s' has no comment above it", k);
        }
        ck_assert_msg(seen == 1, "'%s' set %zu times in churnd.conf", k, seen);
    }
    free(file);
    free(a);
    free(b);
    free(d_def);
    free(d_ex);
    churn_config_release(&def);
    churn_config_release(&ex);
}
END_TEST

static Suite *churn_config_suite(void)
{
    Suite *s = suite_create("config");
    TCase *tc;

    tc = tcase_create("values");
    tcase_add_loop_test(tc, test_good_value, 0, sizeof(good) / sizeof(good[0]));
    tcase_add_loop_test(tc, test_bad_line, 0, sizeof(bad) / sizeof(bad[0]));
    tcase_add_test(tc, test_long_names);
    suite_add_tcase(s, tc);

    tc = tcase_create("files");
    tcase_add_loop_test(tc, test_file_error, 0,
                        sizeof(file_errors) / sizeof(file_errors[0]));
    tcase_add_test(tc, test_load_unreadable);
    tcase_add_test(tc, test_comments_and_blanks);
    tcase_add_test(tc, test_bom_and_crlf);
    tcase_add_test(tc, test_buffer_edges);
    tcase_add_test(tc, test_too_many_plans);
    suite_add_tcase(s, tc);

    tc = tcase_create("set");
    tcase_add_loop_test(tc, test_set_error, 0,
                        sizeof(set_errors) / sizeof(set_errors[0]));
    tcase_add_test(tc, test_set_overrides_file);
    suite_add_tcase(s, tc);

    tc = tcase_create("validate");
    tcase_add_loop_test(tc, test_validate_error, 0,
                        sizeof(invalid) / sizeof(invalid[0]));
    tcase_add_test(tc, test_validate_fields);
    suite_add_tcase(s, tc);

    tc = tcase_create("output");
    tcase_add_test(tc, test_kafka_passthrough);
    tcase_add_test(tc, test_dump_round_trip);
    tcase_add_test(tc, test_defaults_and_reference);
    tcase_add_loop_test(tc, test_rule, 0, sizeof(rules) / sizeof(rules[0]));
    tcase_add_test(tc, test_names);
    tcase_add_test(tc, test_example_file);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return churn_test_run(churn_config_suite());
}
