/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_timestamp: bytes -> churn_ts_parse_rfc3339(), checked against an
 * independent reference: a direct reading of the grammar in timefmt.c and
 * the C library's timegm() for the arithmetic.
 *
 * Invariants:
 * - parse accepts exactly what the reference accepts, with the same ms;
 *   a rejection leaves *out_ms alone.
 * - an accepted time lies in [CHURN_TS_MIN_MS, CHURN_TS_MAX_MS], and
 *   churn_ts_format() of it is a 24-byte canonical time that parses back to
 *   the same ms; an input already in canonical form (and not a leap second)
 *   formats back to its own bytes.
 * - churn_ts_format() of any int64 (the first 8 bytes, as a number) is
 *   canonical, and parses back to the value clamped into range.
 */
#define _DEFAULT_SOURCE /* timegm */
#include "churnd/decode.h"
#include "fuzz.h"

#include <string.h>
#include <time.h>

static bool digits(const char *p, int n, int64_t *out)
{
    int64_t v = 0;

    for (int i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9') {
            return false;
        }
        v = v * 10 + (p[i] - '0');
    }
    *out = v;
    return true;
}

static bool is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static bool ref_parse(const char *p, size_t n, int64_t *out_ms)
{
    static const int dim[12] = {
        31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
    };
    int64_t y, mo, d, h, mi, s, oh = 0, om = 0, frac = 0;
    size_t i;
    int sign = 0;

    if (n < 20 || p[4] != '-' || p[7] != '-' || p[13] != ':' || p[16] != ':' ||
        !(p[10] == 'T' || p[10] == 't' || p[10] == ' ')) {
        return false;
    }
    if (!digits(p, 4, &y) || !digits(p + 5, 2, &mo) || !digits(p + 8, 2, &d) ||
        !digits(p + 11, 2, &h) || !digits(p + 14, 2, &mi) ||
        !digits(p + 17, 2, &s)) {
        return false;
    }
    i = 19;
    if (p[i] == '.') {
        size_t start = ++i;
        while (i < n && p[i] >= '0' && p[i] <= '9') {
            i++;
        }
        if (i == start) {
            return false;
        }
        /* the first three digits, padded with zeros: milliseconds */
        for (size_t k = 0; k < 3; k++) {
            frac = frac * 10 + (start + k < i ? p[start + k] - '0' : 0);
        }
    }
    if (i == n - 1 && (p[i] == 'Z' || p[i] == 'z')) {
        sign = 0;
    } else if (i + 6 == n && (p[i] == '+' || p[i] == '-') && p[i + 3] == ':' &&
               digits(p + i + 1, 2, &oh) && digits(p + i + 4, 2, &om)) {
        sign = p[i] == '-' ? -1 : 1;
    } else {
        return false;
    }
    if (mo < 1 || mo > 12 || d < 1 ||
        d > (mo == 2 && is_leap(y) ? 29 : dim[mo - 1]) || h > 23 || mi > 59 ||
        s > 60 || oh > 23 || om > 59) {
        return false;
    }
    int64_t off_min = sign * (oh * 60 + om);
    if (s == 60) {
        /* only at 23:59:60 UTC */
        int64_t utc = ((h * 60 + mi - off_min) % 1440 + 1440) % 1440;
        if (utc != 23 * 60 + 59) {
            return false;
        }
    }
    struct tm tm = { 0 };
    tm.tm_year = (int)(y - 1900);
    tm.tm_mon = (int)(mo - 1);
    tm.tm_mday = (int)d;
    tm.tm_hour = (int)h;
    tm.tm_min = (int)mi;
    tm.tm_sec = (int)s; /* 60 normalises to the next minute */
    time_t t = timegm(&tm);
    int64_t ms = ((int64_t)t - off_min * 60) * 1000 + frac;
    if (ms < CHURN_TS_MIN_MS || ms > CHURN_TS_MAX_MS) {
        return false;
    }
    *out_ms = ms;
    return true;
}

static bool is_canonical(const char *p, size_t n)
{
    static const char shape[] = "dddd-dd-ddTdd:dd:dd.dddZ";

    if (n != sizeof(shape) - 1) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (shape[i] == 'd' ? (p[i] < '0' || p[i] > '9') : p[i] != shape[i]) {
            return false;
        }
    }
    return true;
}

static void check_format(int64_t ms)
{
    char buf[CHURN_TS_BUF_LEN];
    int64_t back = -1;
    int64_t want = ms < CHURN_TS_MIN_MS   ? CHURN_TS_MIN_MS
                   : ms > CHURN_TS_MAX_MS ? CHURN_TS_MAX_MS
                                          : ms;

    memset(buf, 'x', sizeof(buf));
    FUZZ_CHECK(churn_ts_format(ms, buf) == buf, "format returned another buf");
    size_t n = strnlen(buf, sizeof(buf));
    FUZZ_CHECK(is_canonical(buf, n), "format(%lld) = '%.*s'", (long long)ms,
               (int)n, buf);
    FUZZ_CHECK(churn_ts_parse_rfc3339((struct churn_str){ buf, n }, &back) &&
                   back == want,
               "format(%lld) = '%s' parses to %lld", (long long)ms, buf,
               (long long)back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data;
    int64_t ms = INT64_MIN, ref_ms = INT64_MIN;
    bool ok = churn_ts_parse_rfc3339((struct churn_str){ p, size }, &ms);
    bool ref_ok = ref_parse(p, size, &ref_ms);

    FUZZ_CHECK(ok == ref_ok, "'%.*s': parse says %d, reference %d",
               (int)(size > 64 ? 64 : size), p, ok, ref_ok);
    if (!ok) {
        FUZZ_CHECK(ms == INT64_MIN, "a rejection wrote %lld", (long long)ms);
    } else {
        FUZZ_CHECK(ms == ref_ms, "'%.*s': %lld, reference %lld", (int)size, p,
                   (long long)ms, (long long)ref_ms);
        FUZZ_CHECK(ms >= CHURN_TS_MIN_MS && ms <= CHURN_TS_MAX_MS,
                   "accepted out of range: %lld", (long long)ms);
        check_format(ms);
        if (is_canonical(p, size) && !(p[17] == '6' && p[18] == '0')) {
            char buf[CHURN_TS_BUF_LEN];
            churn_ts_format(ms, buf);
            FUZZ_CHECK(memcmp(buf, p, size) == 0, "'%.*s' formats back as '%s'",
                       (int)size, p, buf);
        }
    }
    /* The formatter over any int64, clamped. */
    if (size >= 8) {
        uint64_t u = 0;
        for (int i = 0; i < 8; i++) {
            u = (u << 8) | data[i];
        }
        check_format((int64_t)u);
        check_format((int64_t)(u % (uint64_t)(CHURN_TS_MAX_MS + 1)));
    }
    return 0;
}
