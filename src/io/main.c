/* SPDX-License-Identifier: Apache-2.0 */
#include "io/cli.h"

#include <stdio.h>
#include <string.h>

static const struct {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *help;
} commands[] = {
    { "run", churnd_cmd_run, "consume from Kafka and emit signals and alerts" },
    { "replay", churnd_cmd_replay, "run the engine over NDJSON events" },
    { "demo", churnd_cmd_demo, "embedded broker demo, no setup needed" },
    { "gen", churnd_cmd_gen, "generate a synthetic replay with ground truth" },
    { "check-config", churnd_cmd_check_config,
      "validate a config and print the effective one" },
};

static void usage(FILE *out)
{
    fprintf(out, "usage: churnd COMMAND [OPTIONS]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        fprintf(out, "  %-13s %s\n", commands[i].name, commands[i].help);
    }
    fprintf(out, "\ncommon options: -c FILE, -X key=value, -v, --help\n"
                 "'churnd COMMAND --help' shows a command's options.\n"
                 "exit codes: 0 ok, 1 runtime failure, 2 usage or config "
                 "error\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("churnd %s\n", CHURND_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (strcmp(argv[1], commands[i].name) == 0) {
            return commands[i].fn(argc - 1, argv + 1);
        }
    }
    fprintf(stderr, "churnd: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
