/* SPDX-License-Identifier: Apache-2.0 */
/*
 * churn_config_load(): the I/O half of the config module. It reads the
 * whole file and hands the bytes to the pure parser in engine/config.c.
 */
#include "churnd/config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A config file is a few KiB; anything this big is the wrong file. */
#define CONFIG_FILE_MAX (16u * 1024 * 1024)

enum churn_err churn_config_load(struct churn_config *cfg,
                                 const char *path,
                                 struct churn_error *err)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t len = 0, cap = 0;
    enum churn_err rc;

    if (f == NULL) {
        return churn_error_set(err, CHURN_EIO, "%s: cannot read: %s", path,
                               strerror(errno));
    }
    for (;;) {
        if (len == cap) {
            size_t ncap = cap == 0 ? 8192 : cap * 2;
            char *nbuf;
            if (cap >= CONFIG_FILE_MAX) {
                rc = churn_error_set(err, CHURN_EIO,
                                     "%s: cannot read: larger than 16 MiB",
                                     path);
                goto out;
            }
            nbuf = realloc(buf, ncap);
            if (nbuf == NULL) {
                rc = churn_error_set(err, CHURN_ENOMEM, "%s: out of memory",
                                     path);
                goto out;
            }
            buf = nbuf;
            cap = ncap;
        }
        size_t n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (n == 0) {
            break;
        }
    }
    if (ferror(f)) {
        rc = churn_error_set(err, CHURN_EIO, "%s: cannot read: %s", path,
                             strerror(errno));
        goto out;
    }
    rc = churn_config_parse(cfg, path, buf, len, err);
out:
    free(buf);
    fclose(f);
    return rc;
}
