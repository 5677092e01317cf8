/* SPDX-License-Identifier: Apache-2.0 */
/* The JSON writer's number formatting: fast fixed point equals printf. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emit.h"
#include "testutil.h"

/* printf's %.*f with trailing zeros and a bare point dropped, -0 as 0 */
static void reference(double v, int d, char *out, size_t cap)
{
    int n = snprintf(out, cap, "%.*f", d, v);
    if (strchr(out, '.') != NULL) {
        while (n > 0 && out[n - 1] == '0') {
            out[--n] = '\0';
        }
        if (n > 0 && out[n - 1] == '.') {
            out[--n] = '\0';
        }
    }
    if (strcmp(out, "-0") == 0) {
        strcpy(out, "0");
    }
}

static void written(double v, int d, char *out, size_t cap)
{
    struct churn__jw w = { 0 };

    churn__jw_num(&w, NULL, v, d);
    snprintf(out, cap, "%.*s", (int)w.len, w.p);
    churn__jw_release(&w);
}

static const struct {
    double v;
    int d;
    const char *want;
} cases[] = {
    { 0, 3, "0" },         { 0.5, 3, "0.5" },      { 3.0, 1, "3" },
    { -2.37, 2, "-2.37" }, { 77.55, 1, "77.5" },   { 1e-9, 3, "0" },
    { -1e-9, 3, "0" },     { 123456.789, 2, "123456.79" },
    { 84, 2, "84" },       { 0.0001, 8, "0.0001" }, { 42, 0, "42" },
    { NAN, 2, "null" },    { INFINITY, 2, "null" }, { 2e12, 1, "2000000000000" },
};

START_TEST(test_num_cases)
{
    char got[64];

    written(cases[_i].v, cases[_i].d, got, sizeof(got));
    ck_assert_msg(strcmp(got, cases[_i].want) == 0, "%.17g/%d: got %s want %s",
                  cases[_i].v, cases[_i].d, got, cases[_i].want);
}
END_TEST

START_TEST(test_num_matches_printf)
{
    unsigned long long x = 88172645463325252ULL;
    int checked = 0;

    for (int i = 0; i < 200000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        int d = (int)(x % 9);
        double mag = pow(10, (double)(x >> 8 & 7) - 2);
        double v = ((double)(x >> 11) / 9007199254740992.0 - 0.5) * mag;
        double scaled = fabs(v) * pow(10, d);
        if (fabs(scaled - floor(scaled) - 0.5) < 1e-6) {
            continue; /* a decimal tie: printf rounds the exact binary */
        }
        char a[64], b[64];
        reference(v, d, a, sizeof(a));
        written(v, d, b, sizeof(b));
        ck_assert_msg(strcmp(a, b) == 0, "%.17g/%d: printf %s, writer %s", v,
                      d, a, b);
        checked++;
    }
    ck_assert_int_gt(checked, 190000);
}
END_TEST

START_TEST(test_int)
{
    const long long vals[] = { 0, 1, -1, 1000000000000000LL, INT64_MAX,
                               INT64_MIN };
    for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
        struct churn__jw w = { 0 };
        char want[32];
        churn__jw_int(&w, NULL, vals[i]);
        snprintf(want, sizeof(want), "%lld", vals[i]);
        ck_assert_uint_eq(w.len, strlen(want));
        ck_assert(memcmp(w.p, want, w.len) == 0);
        churn__jw_release(&w);
    }
}
END_TEST

static Suite *churn_emit_suite(void)
{
    Suite *s = suite_create("emit");
    TCase *tc = tcase_create("numbers");

    tcase_add_loop_test(tc, test_num_cases, 0,
                        sizeof(cases) / sizeof(cases[0]));
    tcase_add_test(tc, test_num_matches_printf);
    tcase_add_test(tc, test_int);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return churn_test_run(churn_emit_suite());
}
