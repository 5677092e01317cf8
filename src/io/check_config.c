/* SPDX-License-Identifier: Apache-2.0 */
/*
 * churnd check-config: builds the effective configuration exactly as `run`
 * does (defaults, then -c FILE, then each -X in order, then cross-field
 * validation) and prints it, so a platform team can review what a daemon
 * would run with. Exit 0 valid, 2 usage or configuration error, 1 when the
 * output cannot be written.
 */
#include "io/cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void usage(FILE *out)
{
    fprintf(out,
            "usage: churnd check-config [-c FILE] [-X key=value]... [-v]\n"
            "       churnd check-config --keys\n"
            "\n"
            "Validates the configuration (built-in defaults, then FILE, then\n"
            "each -X in order) and prints the effective one, one\n"
            "'key = value' per line, secrets masked.\n"
            "\n"
            "options:\n"
            "  -c FILE        properties file (default: defaults only)\n"
            "  -X key=value   set one key after the file; repeatable, later "
            "wins\n"
            "                 (default: none)\n"
            "  -v             more verbose (default: off)\n"
            "  --keys         list every key: type, default, range, meaning\n"
            "  -h, --help     show this help\n"
            "\n"
            "exit codes: 0 valid, 2 usage or configuration error\n");
}

static void print_line(void *ctx, const char *line)
{
    fprintf(ctx, "%s\n", line);
}

/* The reference from churn_config_keys(), tab-separated, as columns. */
static void print_key(void *ctx, const char *line)
{
    const char *col[5] = { "", "", "", "", "" };
    char buf[1024];
    size_t n = 0;

    snprintf(buf, sizeof(buf), "%s", line);
    col[n++] = buf;
    for (char *p = buf; *p != '\0' && n < 5; p++) {
        if (*p == '\t') {
            *p = '\0';
            col[n++] = p + 1;
        }
    }
    fprintf(ctx, "%-44s %-10s %-13s %-30s %s\n", col[0], col[1],
            col[2][0] != '\0' ? col[2] : "\"\"", col[3], col[4]);
}

static int finish_output(void)
{
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "churnd: cannot write output: %s\n", strerror(errno));
        return 1;
    }
    return 0;
}

int churnd_cmd_check_config(int argc, char **argv)
{
    struct churnd_cli_common common;
    struct churn_config cfg;
    int opt, rc;

    memset(&common, 0, sizeof(common));
    for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
        if (strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 0;
        }
        if (strcmp(argv[i], "--keys") == 0) {
            churn_config_keys(print_key, stdout);
            return finish_output();
        }
    }
    opterr = 0;
    optind = 1;
    while ((opt = getopt(argc, argv, ":c:X:vh")) != -1) {
        if (opt == 'h') {
            usage(stdout);
            return 0;
        }
        if (opt == 'X' &&
            common.set_cnt == sizeof(common.sets) / sizeof(common.sets[0])) {
            fprintf(stderr, "churnd check-config: too many -X (max %zu)\n",
                    sizeof(common.sets) / sizeof(common.sets[0]));
            return 2;
        }
        if (churnd_cli_common_opt(&common, opt, optarg)) {
            continue;
        }
        if (opt == ':') {
            fprintf(stderr, "churnd check-config: option -%c needs a value\n",
                    optopt);
        } else {
            fprintf(stderr, "churnd check-config: unknown option '-%c'\n",
                    optopt);
        }
        fprintf(stderr, "see 'churnd check-config --help'\n");
        return 2;
    }
    if (optind < argc) {
        fprintf(stderr, "churnd check-config: unexpected argument '%s'\n",
                argv[optind]);
        fprintf(stderr, "see 'churnd check-config --help'\n");
        return 2;
    }
    rc = churnd_cli_config(&common, &cfg);
    if (rc != 0) {
        return rc;
    }
    churn_config_dump(&cfg, print_line, stdout);
    churn_config_release(&cfg);
    rc = finish_output();
    if (rc == 0) {
        if (common.verbose > 0) {
            fprintf(stderr, "churnd: config from %s, %zu -X\n",
                    common.config_path != NULL ? common.config_path
                                               : "defaults",
                    common.set_cnt);
        }
        fprintf(stderr, "config ok\n");
    }
    return rc;
}
