/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CHURND_CLI_H
#define CHURND_CLI_H

#include "churnd/config.h"

#include <stdbool.h>
#include <stdio.h>

/*
 * The churnd subcommands. Each takes the arguments after the subcommand
 * name (argv[0] is the subcommand) and returns the process exit code:
 * 0 ok, 1 runtime failure, 2 usage or configuration error.
 */
int churnd_cmd_replay(int argc, char **argv);
int churnd_cmd_check_config(int argc, char **argv);
int churnd_cmd_gen(int argc, char **argv);
int churnd_cmd_run(int argc, char **argv);
int churnd_cmd_demo(int argc, char **argv);

/*
 * Options every subcommand shares: -c FILE, -X key=value (repeatable, later
 * wins), -v (more verbose). churnd_cli_common_opt() is called by a
 * subcommand's option loop for each option; it returns true when it
 * consumed the option.
 */
struct churnd_cli_common {
    const char *config_path; /* NULL: defaults only */
    const char *sets[256];   /* -X values, in order */
    size_t set_cnt;
    size_t set_dropped; /* -X beyond the array: an error, never ignored */
    int verbose;
};

bool churnd_cli_common_opt(struct churnd_cli_common *c,
                           int opt,
                           const char *optarg_);

/*
 * Builds the effective config: defaults, then the file, then each -X, then
 * cross-field validation. On error prints "churnd: FILE:LINE: reason" to
 * stderr, releases cfg and returns 2; otherwise 0.
 */
int churnd_cli_config(const struct churnd_cli_common *c,
                      struct churn_config *cfg);

#endif
