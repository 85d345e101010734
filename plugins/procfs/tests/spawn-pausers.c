/* SPDX-License-Identifier: MIT */
/* Test helper of test_procfs_many_e2e.py: fork N children that wait in
 * pause() (a few pages each, no exec), print "ready M" (M: the children
 * made; fewer than N when fork failed, the reason on stderr), then wait for
 * end of file on stdin and kill and reap them. The children also die with
 * the helper (PR_SET_PDEATHSIG). Usage: spawn-pausers N */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    long n = argc == 2 ? strtol(argv[1], NULL, 10) : -1;
    if (n <= 0) {
        fprintf(stderr, "usage: spawn-pausers N (N > 0)\n");
        return 2;
    }
    pid_t *kids = calloc((size_t)n, sizeof(*kids));
    if (!kids) {
        fprintf(stderr, "spawn-pausers: out of memory\n");
        return 1;
    }
    pid_t self = getpid();
    long made = 0;
    for (; made < n; made++) {
        pid_t p = fork();
        if (p == 0) {
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            if (getppid() != self)
                _exit(0);
            for (;;)
                pause();
        }
        if (p < 0) {
            fprintf(stderr, "spawn-pausers: fork of child %ld: %s\n", made + 1, strerror(errno));
            break;
        }
        kids[made] = p;
    }
    printf("ready %ld\n", made);
    fflush(stdout);
    char b[256];
    while (read(STDIN_FILENO, b, sizeof(b)) > 0)
        ;
    for (long i = 0; i < made; i++)
        kill(kids[i], SIGKILL);
    while (wait(NULL) > 0 || errno == EINTR)
        ;
    free(kids);
    return 0;
}
