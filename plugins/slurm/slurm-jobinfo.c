/* SPDX-License-Identifier: MIT */
/* The user, name, account and partition of a Slurm job, from
 * `scontrol -o show job <id>`, asked once per job (when its first cgroup is
 * found) and kept until its cgroup is removed. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "alumet/time.h"
#include "slurm.h"

#define SLURM_SCONTROL_TIMEOUT_MS 2000
#define SLURM_SCONTROL_MAX_OUTPUT 65536

extern char **environ;

/* The value of "Key=" in the line: up to the next " Word=" (a job name may
 * hold spaces). NULL when absent or "(null)"; -ENOMEM in *r. */
static char *slurm_field(const char *text, const char *key, int *r)
{
    size_t k = strlen(key);
    const char *p = text;
    while ((p = strstr(p, key))) {
        if ((p == text || p[-1] == ' ') && p[k] == '=')
            break;
        p += k;
    }
    if (!p)
        return NULL;
    const char *v = p + k + 1, *end = v;
    for (;;) {
        end += strcspn(end, " \n");
        if (*end != ' ')
            break;
        const char *w = end + 1;
        size_t word = strspn(w, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_:/");
        if (word > 0 && w[word] == '=')
            break;
        end = w;
    }
    if ((size_t)(end - v) == 6 && memcmp(v, "(null)", 6) == 0)
        return NULL;
    char *s = strndup(v, (size_t)(end - v));
    if (!s)
        *r = -ENOMEM;
    return s;
}

int slurm_job_info_parse(const char *text, struct slurm_job_info *ret)
{
    int r = 0;
    uint64_t job_id = ret->job_id;
    *ret = (struct slurm_job_info){.job_id = job_id, .known = true};
    ret->name = slurm_field(text, "JobName", &r);
    ret->account = slurm_field(text, "Account", &r);
    ret->partition = slurm_field(text, "Partition", &r);
    /* UserId=alice(1000) */
    char *u = slurm_field(text, "UserId", &r);
    if (u) {
        char *open = strrchr(u, '(');
        if (open && open > u) {
            char *end;
            unsigned long long uid = strtoull(open + 1, &end, 10);
            if (end != open + 1 && *end == ')') {
                ret->has_uid = true;
                ret->uid = uid;
            }
            *open = '\0';
        }
        ret->user = u;
    }
    return r;
}

static void slurm_job_info_free(struct slurm_job_info *j)
{
    free(j->user);
    free(j->name);
    free(j->account);
    free(j->partition);
}

/* Run `<command> -o show job <id>`; its output (stdout and stderr) in out,
 * always a string (empty when the spawn fails). The exit status, -ETIMEDOUT,
 * or a negative errno from the spawn. */
static int slurm_scontrol(const char *command, uint64_t job_id, char *out, size_t size)
{
    out[0] = '\0';
    char id[32];
    snprintf(id, sizeof(id), "%llu", (unsigned long long)job_id);
    char *argv[] = {(char *)command, "-o", "show", "job", id, NULL};
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) < 0)
        return -errno;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 2);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    pid_t pid;
    int r = posix_spawnp(&pid, command, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    if (r != 0) {
        close(fds[0]);
        return -r;
    }
    size_t len = 0;
    alumet_time_ns deadline =
        alumet_time_monotonic() + (alumet_time_ns)SLURM_SCONTROL_TIMEOUT_MS * 1000000;
    bool timed_out = false;
    for (;;) {
        alumet_time_ns now = alumet_time_monotonic();
        if (now >= deadline) {
            timed_out = true;
            break;
        }
        struct pollfd p = {fds[0], POLLIN, 0};
        int k = poll(&p, 1, (int)((deadline - now) / 1000000) + 1);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            timed_out = k == 0;
            break;
        }
        char tmp[4096];
        ssize_t n = read(fds[0], tmp, sizeof(tmp));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        size_t take = (size_t)n < size - 1 - len ? (size_t)n : size - 1 - len;
        memcpy(out + len, tmp, take);
        len += take;
    }
    out[len] = '\0';
    close(fds[0]);
    if (timed_out)
        kill(pid, SIGKILL);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (timed_out)
        return -ETIMEDOUT;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

const struct slurm_job_info *slurm_jobinfo_get(struct slurm_jobinfo *ji, struct cgroups *cg,
                                               uint64_t job_id)
{
    for (size_t i = 0; i < ji->n; i++)
        if (ji->jobs[i].job_id == job_id)
            return &ji->jobs[i];
    if (ji->n == ji->cap) {
        size_t ncap = ji->cap ? ji->cap * 2 : 16;
        struct slurm_job_info *a = reallocarray(ji->jobs, ncap, sizeof(*a));
        if (!a)
            return NULL;
        ji->jobs = a;
        ji->cap = ncap;
    }
    struct slurm_job_info *j = &ji->jobs[ji->n];
    *j = (struct slurm_job_info){.job_id = job_id};
    if (ji->command) {
        char *out = malloc(SLURM_SCONTROL_MAX_OUTPUT);
        if (!out)
            return NULL;
        int r = slurm_scontrol(ji->command, job_id, out, SLURM_SCONTROL_MAX_OUTPUT);
        out[strcspn(out, "\n")] = '\0'; /* -o: one line */
        if (r == 0) {
            if (slurm_job_info_parse(out, j) < 0) {
                slurm_job_info_free(j);
                free(out);
                return NULL;
            }
        } else if (r == -ENOENT) {
            cgroups_log(cg, ALUMET_LOG_WARN,
                        "cannot run '%s': not found; the jobs' points have no user, job_name, "
                        "account nor partition attribute (set plugins.slurm.scontrol_path)",
                        ji->command);
            free(ji->command);
            ji->command = NULL;
        } else if (r < 0) {
            cgroups_log(cg, ALUMET_LOG_WARN,
                        "'%s -o show job %llu': %s; the points of job %llu have no user, "
                        "job_name, account nor partition attribute",
                        ji->command, (unsigned long long)job_id,
                        r == -ETIMEDOUT ? "no answer in 2 s" : strerror(-r),
                        (unsigned long long)job_id);
        } else {
            cgroups_log(cg, ALUMET_LOG_WARN,
                        "'%s -o show job %llu' exited with status %d (%s); the points of job "
                        "%llu have no user, job_name, account nor partition attribute",
                        ji->command, (unsigned long long)job_id, r, out,
                        (unsigned long long)job_id);
        }
        free(out);
    }
    ji->n++;
    return j;
}

void slurm_jobinfo_forget(struct slurm_jobinfo *ji, uint64_t job_id)
{
    for (size_t i = 0; i < ji->n; i++)
        if (ji->jobs[i].job_id == job_id) {
            slurm_job_info_free(&ji->jobs[i]);
            ji->jobs[i] = ji->jobs[--ji->n];
            return;
        }
}

void slurm_jobinfo_done(struct slurm_jobinfo *ji)
{
    for (size_t i = 0; i < ji->n; i++)
        slurm_job_info_free(&ji->jobs[i]);
    free(ji->jobs);
    free(ji->command);
    *ji = (struct slurm_jobinfo){0};
}
