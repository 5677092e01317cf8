/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_config: bytes as a config file -> churn_config_parse().
 *
 * Invariants (config.h, README "Configuration"):
 * - An error is CHURN_EINVAL with a message "fuzz.conf:LINE: reason", LINE
 *   a line that exists in the input and the reason non-empty.
 * - On success churn_config_dump() writes one "key = value" line per key,
 *   and that dump parsed into a fresh config dumps identically (the dump is
 *   a faithful, re-readable description of the effective config).
 * - The first line applied as `-X` behaves like a one-line file: both
 *   succeed or both fail, and a failure reads "-X ...: reason".
 * - When the config also validates, an engine built on it takes a short
 *   story (every family, a month of event time) without breaking its own
 *   accounting: in = accepted + dead letters + duplicates, accounts within
 *   state.max_accounts.
 * - churn_config_release() frees everything (ASan's leak check).
 */
#include "churnd/config.h"
#include "churnd/engine.h"
#include "fuzz.h"

#include <string.h>

#define FILE_NAME "fuzz.conf"

struct dump {
    char *p;
    size_t len, cap;
    size_t lines;
};

static void dump_line(void *ctx, const char *line)
{
    struct dump *d = ctx;
    size_t n = strlen(line);

    FUZZ_CHECK(memchr(line, '\n', n) == NULL, "dump line holds a newline");
    FUZZ_CHECK(strstr(line, " =") != NULL, "dump line '%s' has no ' ='", line);
    if (d->len + n + 2 > d->cap) {
        size_t ncap = d->cap ? d->cap : 8192;
        while (ncap < d->len + n + 2) {
            ncap *= 2;
        }
        char *np = realloc(d->p, ncap);
        FUZZ_CHECK(np != NULL, "out of memory");
        d->p = np;
        d->cap = ncap;
    }
    memcpy(d->p + d->len, line, n);
    d->len += n;
    d->p[d->len++] = '\n';
    d->p[d->len] = '\0';
    d->lines++;
}

static void dump_of(const struct churn_config *cfg, struct dump *d)
{
    memset(d, 0, sizeof(*d));
    churn_config_dump(cfg, dump_line, d);
    FUZZ_CHECK(d->p != NULL && d->lines > 0, "empty dump");
}

static size_t line_count(const uint8_t *data, size_t size)
{
    size_t n = 1;

    for (size_t i = 0; i < size; i++) {
        n += data[i] == '\n';
    }
    return n;
}

static void check_error(const struct churn_error *err, size_t lines)
{
    const char *m = err->msg;
    size_t pre = strlen(FILE_NAME ":");
    char *end;

    FUZZ_CHECK(err->code == CHURN_EINVAL, "code %d: %s", err->code, m);
    FUZZ_CHECK(strnlen(m, sizeof(err->msg)) < sizeof(err->msg),
               "message not terminated");
    FUZZ_CHECK(strncmp(m, FILE_NAME ":", pre) == 0 && m[pre] >= '1' &&
                   m[pre] <= '9',
               "message '%s' does not start with FILE:LINE", m);
    unsigned long line = strtoul(m + pre, &end, 10);
    FUZZ_CHECK(line >= 1 && line <= lines, "line %lu of %zu", line, lines);
    FUZZ_CHECK(end[0] == ':' && end[1] == ' ' && end[2] != '\0',
               "message '%s' has no ': reason'", m);
}

/* A month of one account's life; the numbers are epoch ms (March 2026). */
static const char *const story[] = {
    "{\"event_id\":\"s1\",\"type\":\"subscription.created\",\"account_id\":"
    "\"a\",\"ts\":1772366400000,\"plan\":\"pro\",\"mrr\":4900,\"currency\":"
    "\"USD\",\"seats\":5}",
    "{\"event_id\":\"u1\",\"type\":\"usage.feature_used\",\"account_id\":"
    "\"a\",\"ts\":1772370000000,\"user_id\":\"u\",\"feature\":\"reports\"}",
    "{\"event_id\":\"p1\",\"type\":\"payment.failed\",\"account_id\":\"a\","
    "\"ts\":1772456400000,\"amount\":4900,\"currency\":\"USD\","
    "\"decline_code\":\"fraudulent\"}",
    "{\"event_id\":\"c1\",\"type\":\"payment.card_expiring\",\"account_id\":"
    "\"a\",\"ts\":1772542800000,\"card_exp\":\"2026-03\"}",
    "{\"event_id\":\"f1\",\"type\":\"feedback.nps\",\"account_id\":\"b\","
    "\"ts\":1772629200000,\"score\":2}",
    "{\"event_id\":\"d1\",\"type\":\"subscription.downgraded\",\"account_id\":"
    "\"a\",\"ts\":1773000000000,\"mrr\":900,\"currency\":\"USD\"}",
    "{\"event_id\":\"u2\",\"type\":\"usage.login\",\"account_id\":\"b\","
    "\"ts\":1775000000000}",
    "not json",
};

static void run_engine(const struct churn_config *cfg)
{
    struct churn_error err = { 0 };
    struct churn_engine *eng = churn_engine_new(cfg, NULL, NULL, &err);
    struct churn_engine_stats st;

    FUZZ_CHECK(eng != NULL, "a validated config was refused: %s", err.msg);
    for (size_t i = 0; i < sizeof(story) / sizeof(story[0]); i++) {
        struct churn_source src = {
            "fuzz", -1, (int64_t)i + 1, -1, { NULL, 0 }
        };
        FUZZ_CHECK(churn_engine_feed(eng, story[i], strlen(story[i]), &src,
                                     &err) == CHURN_OK,
                   "feed: %s", err.msg);
        churn_engine_get_stats(eng, &st);
        FUZZ_CHECK(st.in == st.accepted + st.dead_letters + st.duplicates,
                   "in %llu != %llu + %llu + %llu", (unsigned long long)st.in,
                   (unsigned long long)st.accepted,
                   (unsigned long long)st.dead_letters,
                   (unsigned long long)st.duplicates);
        FUZZ_CHECK(st.accounts <= cfg->state_max_accounts, "%llu accounts",
                   (unsigned long long)st.accounts);
    }
    FUZZ_CHECK(churn_engine_finish(eng, &err) == CHURN_OK, "finish: %s",
               err.msg);
    churn_engine_free(eng);
}

/* The first line of the input, as -X would take it (NUL-terminated). */
static void check_dash_x(const uint8_t *data, size_t size)
{
    const uint8_t *nl = memchr(data, '\n', size);
    size_t n = nl ? (size_t)(nl - data) : size;
    struct churn_config a, b;
    struct churn_error ea = { 0 }, eb = { 0 };
    char *kv;

    if (memchr(data, '\0', n) != NULL || n == 0) {
        return;
    }
    /* Only lines a file would apply: not comments, not BOM-prefixed. */
    size_t s = 0;
    while (s < n && (data[s] == ' ' || data[s] == '\t' || data[s] == '\r' ||
                     data[s] == '\v' || data[s] == '\f')) {
        s++;
    }
    if (s == n || data[s] == '#' || data[0] == 0xEF) {
        return;
    }
    kv = malloc(n + 1);
    FUZZ_CHECK(kv != NULL, "out of memory");
    memcpy(kv, data, n);
    kv[n] = '\0';
    churn_config_init(&a);
    churn_config_init(&b);
    enum churn_err ra = churn_config_set(&a, kv, &ea);
    enum churn_err rb = churn_config_parse(&b, FILE_NAME, kv, n, &eb);
    FUZZ_CHECK((ra == CHURN_OK) == (rb == CHURN_OK),
               "-X '%s' gives %d ('%s'), a file gives %d ('%s')", kv, ra,
               ea.msg, rb, eb.msg);
    if (ra != CHURN_OK) {
        FUZZ_CHECK(strncmp(ea.msg, "-X ", 3) == 0 && strstr(ea.msg, ": "),
                   "-X message '%s'", ea.msg);
    } else {
        struct dump da, db;
        dump_of(&a, &da);
        dump_of(&b, &db);
        FUZZ_CHECK(da.len == db.len && memcmp(da.p, db.p, da.len) == 0,
                   "-X '%s' and a file set different configs", kv);
        free(da.p);
        free(db.p);
    }
    churn_config_release(&a);
    churn_config_release(&b);
    free(kv);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct churn_config cfg, back;
    struct churn_error err = { 0 };
    enum churn_err rc;

    churn_config_init(&cfg);
    rc = churn_config_parse(&cfg, FILE_NAME, (const char *)data, size, &err);
    if (rc != CHURN_OK) {
        check_error(&err, line_count(data, size));
    } else {
        struct dump d1, d2;
        struct churn_error e2 = { 0 };

        dump_of(&cfg, &d1);
        churn_config_init(&back);
        FUZZ_CHECK(churn_config_parse(&back, "dump", d1.p, d1.len, &e2) ==
                       CHURN_OK,
                   "the dump does not parse: %s", e2.msg);
        dump_of(&back, &d2);
        FUZZ_CHECK(d1.len == d2.len && memcmp(d1.p, d2.p, d1.len) == 0,
                   "dump -> parse -> dump changed:\n%s\n---\n%s", d1.p, d2.p);
        free(d1.p);
        free(d2.p);
        churn_config_release(&back);

        struct churn_error ev = { 0 };
        if (churn_config_validate(&cfg, &ev) == CHURN_OK) {
            run_engine(&cfg);
        } else {
            FUZZ_CHECK(ev.code == CHURN_EINVAL && ev.msg[0] != '\0',
                       "validate failed without a message");
        }
    }
    churn_config_release(&cfg);
    check_dash_x(data, size);
    return 0;
}
