/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CHURN_TESTUTIL_H
#define CHURN_TESTUTIL_H

#include <check.h>
#include <stddef.h>

/*
 * Shared by the Check suites. Each check_<module>.c defines
 * `Suite *churn_<module>_suite(void)` and a main that calls
 * churn_test_run() with it.
 */

/* Runs suite with CK_FORK as set in the environment; returns exit status. */
int churn_test_run(Suite *suite);

/* Reads a whole file into a malloc'ed NUL-terminated buffer; NULL on error. */
char *churn_test_slurp(const char *path, size_t *len_out);

#endif
