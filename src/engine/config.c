/* SPDX-License-Identifier: Apache-2.0 */
/* Placeholder: replaced by the config module. */
#include "churnd/config.h"

#include <string.h>

void churn_config_init(struct churn_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
}

void churn_config_release(struct churn_config *cfg)
{
    (void)cfg;
}

enum churn_err churn_config_set(struct churn_config *cfg, const char *kv,
                                struct churn_error *err)
{
    (void)cfg;
    return churn_error_set(err, CHURN_EINVAL, "-X %s: not supported yet", kv);
}

enum churn_err churn_config_validate(const struct churn_config *cfg,
                                     struct churn_error *err)
{
    (void)cfg;
    (void)err;
    return CHURN_OK;
}
