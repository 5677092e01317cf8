/* SPDX-License-Identifier: Apache-2.0 */
/* Placeholder: replaced by the config module. */
#include "churnd/config.h"

enum churn_err churn_config_load(struct churn_config *cfg, const char *path,
                                 struct churn_error *err)
{
    (void)cfg;
    return churn_error_set(err, CHURN_EINVAL, "%s: not supported yet", path);
}
