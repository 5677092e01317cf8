/* SPDX-License-Identifier: Apache-2.0 */
/* Civil-calendar arithmetic on epoch milliseconds (proleptic Gregorian,
 * UTC), after Howard Hinnant's days_from_civil / civil_from_days. */
#include "engine_int.h"

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;

    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

int32_t churn__ym_of(int64_t ms)
{
    int64_t z = floor_div(ms, CHURN__DAY_MS) + 719468;
    int64_t era = floor_div(z, 146097);
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t m = mp < 10 ? mp + 3 : mp - 9;
    int64_t y = yoe + era * 400 + (m <= 2);

    return (int32_t)(y * 12 + (m - 1));
}

static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
    y -= m <= 2;
    int64_t era = floor_div(y, 400);
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

    return era * 146097 + doe - 719468;
}

int64_t churn__ym_end_ms(int32_t ym)
{
    int64_t next = (int64_t)ym + 1;

    return days_from_civil(next / 12, next % 12 + 1, 1) * CHURN__DAY_MS;
}
