/* SPDX-License-Identifier: Apache-2.0 */
/*
 * RFC 3339 parsing and formatting for event times (decode.h).
 *
 * Pure arithmetic on the proleptic Gregorian calendar: no timegm(), no
 * locale, no clock. Days are counted from 1970-01-01 with the usual
 * "shift the year to start in March" trick, so that the leap day is the
 * last day of its year and needs no special case.
 */
#include "churnd/decode.h"

#include <stdbool.h>
#include <stdint.h>

#define MS_PER_DAY 86400000LL

static bool is_leap_year(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int64_t y, int m)
{
    static const int dim[12] = {
        31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
    };

    return m == 2 && is_leap_year(y) ? 29 : dim[m - 1];
}

/*
 * Days since 1970-01-01 of the civil date y-m-d, for y >= 0. The year is
 * taken to start on March 1st, so a 400-year era has 146097 days and the
 * day of the shifted year follows from the month by (153 * mp + 2) / 5.
 */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    int64_t era, yoe, doy, doe;
    int mp = m > 2 ? m - 3 : m + 9; /* March = 0 .. February = 11 */

    if (m <= 2) {
        y -= 1;
    }
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * mp + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468; /* 719468: 0000-03-01 to epoch */
}

/* Inverse of days_from_civil() for days >= 0. */
static void civil_from_days(int64_t days, int64_t *y, int *m, int *d)
{
    int64_t z = days + 719468;
    int64_t era = z / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;

    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2 ? 1 : 0);
}

/* n decimal digits at p, or -1 when one of them is not a digit. */
static int64_t digits(const char *p, int n)
{
    int64_t v = 0;

    for (int i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9') {
            return -1;
        }
        v = v * 10 + (p[i] - '0');
    }
    return v;
}

/*
 * Grammar (RFC 3339 §5.6, "date-time"):
 *   YYYY-MM-DD ('T' | 't' | ' ') HH:MM:SS ['.' 1*DIGIT] ('Z' | 'z' | ('+' |
 *   '-') HH:MM)
 * The space separator is the one RFC 3339 §5.6 NOTE allows for readability.
 * The fraction may have any number of digits; it is truncated to ms. A leap
 * second (SS = 60) is accepted only where it can occur, at 23:59:60 UTC
 * (so 15:59:60-08:00 is one), and counts as the first second of the next
 * day: there is no table of real leap seconds. The result, after applying
 * the offset, must lie in [CHURN_TS_MIN_MS, CHURN_TS_MAX_MS].
 */
bool churn_ts_parse_rfc3339(struct churn_str s, int64_t *out_ms)
{
    const char *p = s.ptr;
    size_t n = s.len, i;
    int64_t year, mon, day, hour, min, sec, frac_ms = 0, off_min = 0;
    int64_t ms, utc_min_of_day;

    if (p == NULL || n < 20) { /* shortest: YYYY-MM-DDTHH:MM:SSZ */
        return false;
    }
    if (p[4] != '-' || p[7] != '-' ||
        (p[10] != 'T' && p[10] != 't' && p[10] != ' ') || p[13] != ':' ||
        p[16] != ':') {
        return false;
    }
    year = digits(p, 4);
    mon = digits(p + 5, 2);
    day = digits(p + 8, 2);
    hour = digits(p + 11, 2);
    min = digits(p + 14, 2);
    sec = digits(p + 17, 2);
    if (year < 0 || mon < 1 || mon > 12 || day < 1 ||
        day > days_in_month(year, (int)mon) || hour < 0 || hour > 23 ||
        min < 0 || min > 59 || sec < 0 || sec > 60) {
        return false;
    }
    i = 19;
    if (p[i] == '.') {
        size_t start = ++i;

        while (i < n && p[i] >= '0' && p[i] <= '9') {
            if (i - start < 3) {
                frac_ms = frac_ms * 10 + (p[i] - '0');
            }
            i++;
        }
        if (i == start) {
            return false;
        }
        for (size_t k = i - start; k < 3; k++) {
            frac_ms *= 10;
        }
    }
    if (i >= n) {
        return false;
    }
    if (p[i] == 'Z' || p[i] == 'z') {
        i++;
    } else if (p[i] == '+' || p[i] == '-') {
        int64_t oh, om;

        if (n - i < 6 || p[i + 3] != ':') {
            return false;
        }
        oh = digits(p + i + 1, 2);
        om = digits(p + i + 4, 2);
        if (oh < 0 || oh > 23 || om < 0 || om > 59) {
            return false;
        }
        off_min = (oh * 60 + om) * (p[i] == '-' ? -1 : 1);
        i += 6;
    } else {
        return false;
    }
    if (i != n) {
        return false;
    }
    if (sec == 60) {
        utc_min_of_day = ((hour * 60 + min - off_min) % 1440 + 1440) % 1440;
        if (utc_min_of_day != 23 * 60 + 59) {
            return false;
        }
    }
    ms = days_from_civil(year, (int)mon, (int)day) * MS_PER_DAY +
         ((hour * 60 + min - off_min) * 60 + sec) * 1000 + frac_ms;
    if (ms < CHURN_TS_MIN_MS || ms > CHURN_TS_MAX_MS) {
        return false;
    }
    *out_ms = ms;
    return true;
}

static char *put_digits(char *p, int64_t v, int width)
{
    for (int i = width - 1; i >= 0; i--) {
        p[i] = (char)('0' + v % 10);
        v /= 10;
    }
    return p + width;
}

/*
 * ms outside [CHURN_TS_MIN_MS, CHURN_TS_MAX_MS] is clamped to the nearest
 * bound, so the text is always a valid 4-digit-year RFC 3339 time.
 */
char *churn_ts_format(int64_t ms, char *buf)
{
    int64_t days, rem, y;
    int m, d;
    char *p = buf;

    if (ms < CHURN_TS_MIN_MS) {
        ms = CHURN_TS_MIN_MS;
    } else if (ms > CHURN_TS_MAX_MS) {
        ms = CHURN_TS_MAX_MS;
    }
    days = ms / MS_PER_DAY;
    rem = ms % MS_PER_DAY;
    civil_from_days(days, &y, &m, &d);
    p = put_digits(p, y, 4);
    *p++ = '-';
    p = put_digits(p, m, 2);
    *p++ = '-';
    p = put_digits(p, d, 2);
    *p++ = 'T';
    p = put_digits(p, rem / 3600000, 2);
    *p++ = ':';
    p = put_digits(p, rem / 60000 % 60, 2);
    *p++ = ':';
    p = put_digits(p, rem / 1000 % 60, 2);
    *p++ = '.';
    p = put_digits(p, rem % 1000, 3);
    *p++ = 'Z';
    *p = '\0';
    return buf;
}
