/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CHURND_ERROR_H
#define CHURND_ERROR_H

/*
 * Error codes shared by every module. Fallible calls return an enum churn_err
 * and take a struct churn_error *err last; err may be NULL. The first error
 * recorded in a struct churn_error wins, so a caller can pass one struct
 * through several calls and report the root cause.
 */

enum churn_err {
    CHURN_OK = 0,
    CHURN_EINVAL,  /* bad argument or configuration value */
    CHURN_ENOMEM,  /* allocation failed */
    CHURN_EDECODE, /* input could not be decoded */
    CHURN_ELATE,   /* event older than the watermark allows */
    CHURN_EIO,     /* a read, write or broker operation failed */
    CHURN_ELIMIT,  /* a configured bound was reached */
    CHURN_EFORMAT, /* stored state is malformed, foreign or inconsistent */
};

/*
 * msg is 256 bytes rather than STYLE's 128: config errors quote a key and a
 * did-you-mean suggestion, and both must fit untruncated.
 */
struct churn_error {
    enum churn_err code;
    char msg[256];
};

/* Static text for code; never NULL. */
const char *churn_strerror(enum churn_err code);

/*
 * Records code and a printf-style message in err unless err is NULL or
 * already holds an error. Returns code, so callers can write
 * `return churn_error_set(err, CHURN_EINVAL, "bad key '%s'", k);`.
 */
enum churn_err churn_error_set(struct churn_error *err,
                               enum churn_err code,
                               const char *fmt,
                               ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Empties err (code CHURN_OK, empty message). NULL-safe. */
void churn_error_clear(struct churn_error *err);

#endif
