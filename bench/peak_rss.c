/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Runs a command and reports its peak RSS. A child's ru_maxrss includes the
 * high-water mark of the process it was forked from (the kernel carries the
 * old address space's mark across exec), so measuring from a big parent
 * such as Python inflates small programs; this launcher is tiny.
 *
 *   peak_rss CMD [ARGS...]   -> runs CMD, then prints "cpu_s=S" (user +
 *                               system time of CMD and its threads) and
 *                               "peak_rss_kb=N" as the last lines on stderr;
 *                               exits with CMD's status
 */
#include <stdio.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    struct rusage ru;
    pid_t pid;
    int status;

    if (argc < 2) {
        fprintf(stderr, "usage: peak_rss CMD [ARGS...]\n");
        return 2;
    }
    pid = fork();
    if (pid < 0) {
        perror("fork");
        return 1;
    }
    if (pid == 0) {
        execvp(argv[1], argv + 1);
        perror(argv[1]);
        _exit(127);
    }
    if (waitpid(pid, &status, 0) < 0 || getrusage(RUSAGE_CHILDREN, &ru) < 0) {
        perror("waitpid");
        return 1;
    }
    fprintf(stderr, "cpu_s=%.3f\npeak_rss_kb=%ld\n",
            (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6,
            ru.ru_maxrss);
    if (WIFEXITED(status)) {
        return WEXITSTATUS(status);
    }
    return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}
