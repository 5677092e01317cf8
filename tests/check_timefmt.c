/* SPDX-License-Identifier: Apache-2.0 */
/* RFC 3339 parsing and formatting (churn_ts_parse_rfc3339, churn_ts_format). */
#include "churnd/decode.h"
#include "testutil.h"

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BASE_MS 1772366400000LL /* 2026-03-01T12:00:00Z */

struct parse_case {
    const char *name;
    const char *in;
    bool ok;
    int64_t want_ms;
};

static const struct parse_case parse_cases[] = {
    { "utc z", "2026-03-01T12:00:00Z", true, BASE_MS },
    { "lowercase t and z", "2026-03-01t12:00:00z", true, BASE_MS },
    { "space separator", "2026-03-01 12:00:00Z", true, BASE_MS },
    { "offset +00:00", "2026-03-01T12:00:00+00:00", true, BASE_MS },
    { "offset -00:00", "2026-03-01T12:00:00-00:00", true, BASE_MS },
    { "offset +05:30", "2026-03-01T17:30:00+05:30", true, BASE_MS },
    { "offset -08:00", "2026-03-01T04:00:00-08:00", true, BASE_MS },
    { "-08:00 crosses into next year", "2026-12-31T23:30:00-08:00", true,
      1798788600000LL },
    { "+05:30 crosses back into previous year", "2027-01-01T02:00:00+05:30",
      true, 1798749000000LL },
    { "+05:30 crosses back over midnight and month",
      "2026-03-01T00:10:00+05:30", true, 1772304000000LL },
    { "leap day 2024", "2024-02-29T00:00:00Z", true, 1709164800000LL },
    { "leap day 2000", "2000-02-29T12:34:56Z", true, 951827696000LL },
    { "fraction 1 digit", "2026-03-01T12:00:00.1Z", true, BASE_MS + 100 },
    { "fraction 2 digits", "2026-03-01T12:00:00.12Z", true, BASE_MS + 120 },
    { "fraction 3 digits", "2026-03-01T12:00:00.123Z", true, BASE_MS + 123 },
    { "fraction 4 digits", "2026-03-01T12:00:00.1234Z", true, BASE_MS + 123 },
    { "fraction 5 digits", "2026-03-01T12:00:00.12345Z", true, BASE_MS + 123 },
    { "fraction 6 digits", "2026-03-01T12:00:00.123456Z", true, BASE_MS + 123 },
    { "fraction 7 digits", "2026-03-01T12:00:00.1234567Z", true,
      BASE_MS + 123 },
    { "fraction 8 digits", "2026-03-01T12:00:00.12345678Z", true,
      BASE_MS + 123 },
    { "fraction 9 digits", "2026-03-01T12:00:00.123456789Z", true,
      BASE_MS + 123 },
    { "fraction truncated not rounded", "2026-03-01T12:00:00.999999999Z", true,
      BASE_MS + 999 },
    { "fraction 30 digits",
      "2026-03-01T12:00:00.000999999999999999999999999999Z", true, BASE_MS },
    { "fraction with offset", "2026-03-01T13:00:00.5+01:00", true,
      BASE_MS + 500 },
    { "epoch", "1970-01-01T00:00:00Z", true, 0 },
    { "epoch with +05:30", "1970-01-01T05:30:00+05:30", true, 0 },
    { "local year 1969 is epoch in utc", "1969-12-31T23:00:00-01:00", true, 0 },
    { "last ms of 9999", "9999-12-31T23:59:59.999Z", true, CHURN_TS_MAX_MS },
    { "leap second utc", "2016-12-31T23:59:60Z", true, 1483228800000LL },
    { "leap second with fraction", "2016-12-31T23:59:60.5Z", true,
      1483228800500LL },
    { "leap second at -08:00", "2016-12-31T15:59:60-08:00", true,
      1483228800000LL },
    { "empty", "", false, 0 },
    { "date only", "2026-03-01", false, 0 },
    { "no zone", "2026-03-01T12:00:00", false, 0 },
    { "no seconds", "2026-03-01T12:00Z", false, 0 },
    { "one-digit month", "2026-3-01T12:00:00Z", false, 0 },
    { "five-digit year", "10000-01-01T00:00:00Z", false, 0 },
    { "before epoch", "1969-12-31T23:59:59.999Z", false, 0 },
    { "year 0000", "0000-01-01T00:00:00Z", false, 0 },
    { "after 9999 by offset", "9999-12-31T23:59:59.999-00:01", false, 0 },
    { "leap second past 9999", "9999-12-31T23:59:60Z", false, 0 },
    { "feb 29 2023", "2023-02-29T00:00:00Z", false, 0 },
    { "feb 29 2100", "2100-02-29T00:00:00Z", false, 0 },
    { "apr 31", "2026-04-31T00:00:00Z", false, 0 },
    { "month 00", "2026-00-01T00:00:00Z", false, 0 },
    { "month 13", "2026-13-01T00:00:00Z", false, 0 },
    { "day 00", "2026-01-00T00:00:00Z", false, 0 },
    { "day 32", "2026-01-32T00:00:00Z", false, 0 },
    { "hour 24", "2026-03-01T24:00:00Z", false, 0 },
    { "minute 60", "2026-03-01T12:60:00Z", false, 0 },
    { "second 61", "2026-03-01T23:59:61Z", false, 0 },
    { "leap second not at 23:59", "2026-03-01T12:00:60Z", false, 0 },
    { "leap second 23:59:60 local but not utc", "2016-12-31T23:59:60+01:00",
      false, 0 },
    { "offset hour 24", "2026-03-01T12:00:00+24:00", false, 0 },
    { "offset minute 60", "2026-03-01T12:00:00+05:60", false, 0 },
    { "offset without colon", "2026-03-01T12:00:00+0530", false, 0 },
    { "offset hours only", "2026-03-01T12:00:00+05", false, 0 },
    { "offset short minute", "2026-03-01T12:00:00+05:3", false, 0 },
    { "offset with seconds", "2026-03-01T12:00:00+05:30:00", false, 0 },
    { "trailing garbage", "2026-03-01T12:00:00Zx", false, 0 },
    { "trailing space", "2026-03-01T12:00:00Z ", false, 0 },
    { "leading space", " 2026-03-01T12:00:00Z", false, 0 },
    { "dot without digits", "2026-03-01T12:00:00.Z", false, 0 },
    { "comma fraction", "2026-03-01T12:00:00,5Z", false, 0 },
    { "bad separator", "2026-03-01X12:00:00Z", false, 0 },
    { "slashes", "2026/03/01T12:00:00Z", false, 0 },
    { "letter in hour", "2026-03-01T1a:00:00Z", false, 0 },
    { "sign in year", "+026-03-01T12:00:00Z", false, 0 },
    { "sign in minute", "2026-03-01T12:-1:00Z", false, 0 },
    { "lowercase offset letter", "2026-03-01T12:00:00utc", false, 0 },
};

START_TEST(test_parse)
{
    const struct parse_case *c = &parse_cases[_i];
    size_t n = strlen(c->in);
    char *copy = malloc(n + 1); /* exact size: ASan sees over-reads */
    int64_t ms = -42;
    bool ok;

    memcpy(copy, c->in, n);
    ok = churn_ts_parse_rfc3339((struct churn_str){ copy, n }, &ms);
    ck_assert_msg(ok == c->ok, "%s: '%s' parsed %s", c->name, c->in,
                  ok ? "ok" : "bad");
    if (c->ok) {
        ck_assert_msg(ms == c->want_ms, "%s: got %lld want %lld", c->name,
                      (long long)ms, (long long)c->want_ms);
    } else {
        ck_assert_msg(ms == -42, "%s: out written on failure", c->name);
    }
    free(copy);
}
END_TEST

/* Every prefix of a valid time is not a time, except where noted. */
START_TEST(test_parse_prefixes)
{
    static const char *const full[] = {
        "2026-03-01T12:00:00.123+05:30",
        "2026-03-01T12:00:00Z",
    };

    for (size_t f = 0; f < sizeof(full) / sizeof(full[0]); f++) {
        size_t n = strlen(full[f]);

        for (size_t k = 0; k < n; k++) {
            char *copy = malloc(k + 1);
            int64_t ms;

            memcpy(copy, full[f], k);
            ck_assert_msg(
                !churn_ts_parse_rfc3339((struct churn_str){ copy, k }, &ms),
                "prefix %zu of '%s' parsed", k, full[f]);
            free(copy);
        }
    }
}
END_TEST

START_TEST(test_parse_odd_inputs)
{
    int64_t ms;
    const char with_nul[] = "2026-03-01T12:00:00Z\0";

    ck_assert(!churn_ts_parse_rfc3339((struct churn_str){ NULL, 0 }, &ms));
    ck_assert(!churn_ts_parse_rfc3339(
        (struct churn_str){ with_nul, sizeof(with_nul) - 1 }, &ms));
    ck_assert(churn_ts_parse_rfc3339(
        (struct churn_str){ with_nul, sizeof(with_nul) - 2 }, &ms));
    ck_assert_int_eq(ms, BASE_MS);
}
END_TEST

struct format_case {
    const char *name;
    int64_t ms;
    const char *want;
};

static const struct format_case format_cases[] = {
    { "epoch", 0, "1970-01-01T00:00:00.000Z" },
    { "max", CHURN_TS_MAX_MS, "9999-12-31T23:59:59.999Z" },
    { "leap day 2000", 951827696000LL, "2000-02-29T12:34:56.000Z" },
    { "leap day 2024", 1709164800000LL, "2024-02-29T00:00:00.000Z" },
    { "ms", BASE_MS + 123, "2026-03-01T12:00:00.123Z" },
    { "last ms of a year", 1798761599999LL, "2026-12-31T23:59:59.999Z" },
    { "negative clamps to epoch", -1, "1970-01-01T00:00:00.000Z" },
    { "int64 min clamps to epoch", INT64_MIN, "1970-01-01T00:00:00.000Z" },
    { "past max clamps", CHURN_TS_MAX_MS + 1, "9999-12-31T23:59:59.999Z" },
    { "int64 max clamps", INT64_MAX, "9999-12-31T23:59:59.999Z" },
};

START_TEST(test_format)
{
    const struct format_case *c = &format_cases[_i];
    char buf[CHURN_TS_BUF_LEN];

    ck_assert_msg(churn_ts_format(c->ms, buf) == buf, "%s: returns buf",
                  c->name);
    ck_assert_msg(strcmp(buf, c->want) == 0, "%s: got '%s' want '%s'", c->name,
                  buf, c->want);
}
END_TEST

/*
 * Every day from 1970 to 9999 against a naive calendar walk: formatting
 * day * 86400000 + a varying time of day must give the walked date, and
 * parsing the text must give the ms back.
 */
START_TEST(test_every_day_round_trip)
{
    static const int dim[12] = {
        31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
    };
    int y = 1970, m = 1, d = 1;
    int64_t day = 0;

    for (;;) {
        char buf[CHURN_TS_BUF_LEN], want[40];
        int64_t ms = day * 86400000LL + (day * 7919 * 1009) % 86400000LL;
        int64_t back = -1;
        int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

        /* plain ifs: ck_assert marks a point (a pipe write) per call */
        churn_ts_format(ms, buf);
        snprintf(want, sizeof(want), "%04d-%02d-%02d", y, m, d);
        if (strncmp(buf, want, 10) != 0 || strlen(buf) != 24) {
            ck_abort_msg("day %lld: got %s want %s", (long long)day, buf, want);
        }
        if (!churn_ts_parse_rfc3339((struct churn_str){ buf, 24 }, &back) ||
            back != ms) {
            ck_abort_msg("day %lld: %s parses to %lld", (long long)day, buf,
                         (long long)back);
        }
        if (y == 9999 && m == 12 && d == 31) {
            break;
        }
        day++;
        if (++d > dim[m - 1] + (m == 2 && leap)) {
            d = 1;
            if (++m > 12) {
                m = 1;
                y++;
            }
        }
    }
    ck_assert_int_eq(day * 86400000LL + 86399999LL, CHURN_TS_MAX_MS);
}
END_TEST

Suite *churn_timefmt_suite(void);

Suite *churn_timefmt_suite(void)
{
    Suite *s = suite_create("timefmt");
    TCase *tc = tcase_create("parse");

    tcase_add_loop_test(tc, test_parse, 0,
                        sizeof(parse_cases) / sizeof(parse_cases[0]));
    tcase_add_test(tc, test_parse_prefixes);
    tcase_add_test(tc, test_parse_odd_inputs);
    suite_add_tcase(s, tc);
    tc = tcase_create("format");
    tcase_add_loop_test(tc, test_format, 0,
                        sizeof(format_cases) / sizeof(format_cases[0]));
    tcase_add_test(tc, test_every_day_round_trip);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return churn_test_run(churn_timefmt_suite());
}
