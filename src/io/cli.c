/* SPDX-License-Identifier: Apache-2.0 */
#include "io/cli.h"

#include <stdio.h>

bool churnd_cli_common_opt(struct churnd_cli_common *c,
                           int opt,
                           const char *optarg_)
{
    switch (opt) {
    case 'c':
        c->config_path = optarg_;
        return true;
    case 'X':
        if (c->set_cnt < sizeof(c->sets) / sizeof(c->sets[0])) {
            c->sets[c->set_cnt++] = optarg_;
        } else {
            c->set_dropped++;
        }
        return true;
    case 'v':
        c->verbose++;
        return true;
    default:
        return false;
    }
}

int churnd_cli_config(const struct churnd_cli_common *c,
                      struct churn_config *cfg)
{
    struct churn_error err = { 0 };

    churn_config_init(cfg);
    if (c->set_dropped > 0) {
        churn_error_set(&err, CHURN_EINVAL,
                        "too many -X options (max %zu; put them in a file)",
                        sizeof(c->sets) / sizeof(c->sets[0]));
        goto fail;
    }
    if (c->config_path != NULL &&
        churn_config_load(cfg, c->config_path, &err) != CHURN_OK) {
        goto fail;
    }
    for (size_t i = 0; i < c->set_cnt; i++) {
        if (churn_config_set(cfg, c->sets[i], &err) != CHURN_OK) {
            goto fail;
        }
    }
    if (churn_config_validate(cfg, &err) != CHURN_OK) {
        goto fail;
    }
    return 0;
fail:
    fprintf(stderr, "churnd: %s\n", err.msg);
    churn_config_release(cfg);
    return 2;
}
