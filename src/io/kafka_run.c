/* SPDX-License-Identifier: Apache-2.0 */
#include <stdio.h>

#include "io/cli.h"

int churnd_cmd_run(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "churnd run: not built yet\n");
    return 1;
}

int churnd_cmd_demo(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "churnd demo: not built yet\n");
    return 1;
}
