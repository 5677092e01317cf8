/* SPDX-License-Identifier: Apache-2.0 */
#include "io/cli.h"

#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <maxminddb.h>
#include <microhttpd.h>
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
    fprintf(out, "usage: churnd COMMAND [OPTIONS]\n"
                 "       churnd --help | --version\n"
                 "\n"
                 "A real-time churn-signal engine for SaaS event streams.\n"
                 "\n"
                 "commands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        fprintf(out, "  %-13s %s\n", commands[i].name, commands[i].help);
    }
    fprintf(out,
            "\n"
            "options:\n"
            "  -h, --help     this help (default: off)\n"
            "  -V, --version  print the version of churnd and of librdkafka,\n"
            "                 jansson, libmaxminddb and libmicrohttpd\n"
            "\n"
            "options most commands take (see 'churnd COMMAND --help'):\n"
            "  -c FILE        config file (default: the built-in defaults;\n"
            "                 'churnd check-config --keys' lists every key)\n"
            "  -X key=value   set one config key after the file; repeatable,\n"
            "                 later wins (default: none)\n"
            "  -v             more verbose (default: off)\n"
            "\n"
            "exit codes: 0 ok, 1 runtime failure, 2 usage or config error\n"
            "manual: man churnd\n");
}

static void version(void)
{
    printf("churnd %s\n", CHURND_VERSION);
    printf("librdkafka %s\n", rd_kafka_version_str());
    printf("jansson %s\n", jansson_version_str());
    printf("libmaxminddb %s\n", MMDB_lib_version());
    printf("libmicrohttpd %s\n", MHD_get_version());
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
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
        version();
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
