/* SPDX-License-Identifier: Apache-2.0 */
#include <stdio.h>

#include "io/cli.h"

int churnd_cmd_replay(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "churnd replay: not built yet\n");
    return 1;
}
