/* SPDX-License-Identifier: Apache-2.0 */
#include "churnd/error.h"

#include <stdarg.h>
#include <stddef.h>

/* vsnprintf is not I/O; declare it here so the engine needs no <stdio.h>. */
int vsnprintf(char *str, size_t size, const char *format, va_list ap);

const char *churn_strerror(enum churn_err code)
{
    switch (code) {
    case CHURN_OK:
        return "success";
    case CHURN_EINVAL:
        return "invalid argument";
    case CHURN_ENOMEM:
        return "out of memory";
    case CHURN_EDECODE:
        return "cannot decode input";
    case CHURN_ELATE:
        return "event behind the watermark";
    case CHURN_EIO:
        return "input/output error";
    case CHURN_ELIMIT:
        return "limit reached";
    case CHURN_EFORMAT:
        return "bad stored state";
    }
    return "unknown error";
}

enum churn_err churn_error_set(struct churn_error *err,
                               enum churn_err code,
                               const char *fmt,
                               ...)
{
    va_list ap;

    if (err == NULL || err->code != CHURN_OK) {
        return code;
    }
    err->code = code;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    return code;
}

void churn_error_clear(struct churn_error *err)
{
    if (err != NULL) {
        err->code = CHURN_OK;
        err->msg[0] = '\0';
    }
}
