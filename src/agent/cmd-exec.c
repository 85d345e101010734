/* SPDX-License-Identifier: MIT */
/* exec: measure once just before the child starts and once just after it
 * ends, propagate its exit status. watch: the same for an existing PID. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent.h"
#include "alumet/log.h"
#include "core/config/config-tree.h"
#include "exec-summary.h"
#include "report.h"
#include "util/edit-distance.h"

extern struct alumet_log_topic alumet__log_agent;
#define ALUMET_LOG_DEFAULT_TOPIC (&alumet__log_agent)

/* The measurement just before the child starts: how long its release may
 * wait for a slow source (whose measurement then comes as soon as it can). */
#define TRIGGER_TIMEOUT (1 * ALUMET_NSEC_PER_SEC)
/* The measurement after the child ended: every source takes it before the
 * child is reaped (its /proc entry holds its final CPU times until then). */
#define FINAL_TRIGGER_TIMEOUT (30 * ALUMET_NSEC_PER_SEC)

static const char exec_help[] =
    "Execute a command and observe its process\n\nUsage: alumet-agent exec [OPTIONS] <PROGRAM> "
    "[ARGS]...\n\nArguments:\n  <PROGRAM>  The program to run\n  [ARGS]...  Arguments to pass "
    "to the program\n\nOptions:\n      --ignore-exit-code  Return a zero exit status even if the "
    "child fails (the agent still fails if it cannot measure)\n      --no-summary        Do not "
    "print the energy summary at the end (also: exec_summary = false)\n      --report <FILE.html> "
    "Write an HTML report (plots, summary, config) of the CSV file at the end\n  -h, --help     "
    "         Print help\n";

/* Upstream's hints when the program cannot be spawned. */
static void exec_hint_not_found(const char *prog, int argc, char **argv)
{
    struct stat pst;
    if (strchr(prog, '/') && stat(prog, &pst) == 0 && S_ISREG(pst.st_mode)) {
        alumet_log_error("hint: '%s' exists, but its interpreter (the '#!' line) or its dynamic "
                         "loader was not found",
                         prog);
        return;
    }
    alumet_log_error("Command '%s' not found", prog);
    const char *base = strncmp(prog, "./", 2) == 0 ? prog + 2 : prog;
    if (base[0] == '/')
        base = strrchr(base, '/') + 1;
    DIR *d = opendir(".");
    const char *best = NULL;
    char best_buf[NAME_MAX + 1];
    size_t bd = 3;
    struct dirent *e;
    while (d && (e = readdir(d))) {
        struct stat st;
        if (stat(e->d_name, &st) < 0 || !S_ISREG(st.st_mode))
            continue;
        size_t dist = edit_distance(base, e->d_name);
        if (dist < bd) {
            bd = dist;
            snprintf(best_buf, sizeof(best_buf), "%s", e->d_name);
            best = best_buf;
        }
    }
    if (d)
        closedir(d);
    char args[1024] = "";
    size_t w = 0;
    for (int i = 1; i < argc && w < sizeof(args); i++)
        w += (size_t)snprintf(args + w, sizeof(args) - w, " %s", argv[i]);
    if (best && bd == 0)
        alumet_log_error("hint: a file named '%s' exists in the current directory; prefix it "
                         "with ./ to run it, for example: alumet-agent exec ./%s%s",
                         best, best, args);
    else if (best)
        alumet_log_error("hint: did you mean ./%s%s", best, args);
    else
        alumet_log_error("hint: no file with a similar name exists in the current directory; "
                         "check the PATH or give the full path of the program");
}

static void exec_hint_permission(const char *prog)
{
    struct stat st;
    if (stat(prog, &st) < 0) {
        char dir[PATH_MAX];
        snprintf(dir, sizeof(dir), "%s", prog);
        char *slash;
        while ((slash = strrchr(dir, '/'))) {
            *slash = '\0';
            const char *dd = dir[0] ? dir : "/";
            if (stat(dd, &st) == 0) {
                if (access(dd, R_OK | X_OK) < 0)
                    alumet_log_error("hint: try chmod +rx %s", dd);
                return;
            }
        }
        return;
    }
    if (S_ISDIR(st.st_mode)) {
        alumet_log_error("hint: '%s' is a directory, not a program", prog);
        return;
    }
    bool need_r = (st.st_mode & 0444) != 0444, need_x = (st.st_mode & 0111) != 0111;
    if (!need_r && !need_x) {
        alumet_log_error("hint: '%s' has its r and x permissions: its file system may be mounted "
                         "noexec, or its '#!' interpreter is not executable",
                         prog);
        return;
    }
    alumet_log_error("hint: the file '%s' is not readable and executable; try chmod %s %s", prog,
                     need_r && need_x ? "+rx"
                     : need_r         ? "+r"
                                      : "+x",
                     prog);
}

/* The child is created stopped at a gate: it waits until the agent has
 * announced it (START event: perf attaches its counters, procfs adds it)
 * and taken the "before" measurement, then execs. So the child and its
 * descendants are measured from their first instruction. An exec failure is
 * reported back through a close-on-exec pipe. */
struct exec_child {
    pid_t pid;
    int gate_fd;   /* write end: one byte releases the child */
    int status_fd; /* read end: errno of a failed execvp, or EOF on success */
};

static int exec_fork(char **argv, const struct rlimit *nofile, struct exec_child *ret)
{
    pid_t agent = getpid();
    int gate[2], status[2];
    if (pipe2(gate, O_CLOEXEC) < 0)
        return -errno;
    if (pipe2(status, O_CLOEXEC) < 0) {
        int r = -errno;
        close(gate[0]);
        close(gate[1]);
        return r;
    }
    pid_t pid = fork();
    if (pid < 0) {
        int r = -errno;
        close(gate[0]);
        close(gate[1]);
        close(status[0]);
        close(status[1]);
        return r;
    }
    if (pid == 0) {
        /* child: default signal dispositions and mask, wait at the gate */
        sigset_t none;
        sigemptyset(&none);
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        signal(SIGPIPE, SIG_DFL);
        sigprocmask(SIG_SETMASK, &none, NULL);
        /* the child does not outlive a killed agent (SIGKILL: certain,
         * even for a program that ignores SIGTERM) */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != agent)
            _exit(127);
        /* the limits of the user's shell, not the ones plugins raised */
        setrlimit(RLIMIT_NOFILE, nofile);
        close(gate[1]);
        close(status[0]);
        char c;
        ssize_t n;
        while ((n = read(gate[0], &c, 1)) < 0 && errno == EINTR)
            ;
        if (n != 1)
            _exit(127); /* the agent went away */
        execvp(argv[0], argv);
        int e = errno;
        if (write(status[1], &e, sizeof(e)) < 0)
            _exit(127);
        _exit(127);
    }
    close(gate[0]);
    close(status[1]);
    *ret = (struct exec_child){.pid = pid, .gate_fd = gate[1], .status_fd = status[0]};
    return 0;
}

/* Release the child; 0 when it exec'd, else the negative errno of execvp. */
static int exec_release(struct exec_child *c)
{
    char go = 1;
    int e = 0;
    ssize_t n = write(c->gate_fd, &go, 1);
    close(c->gate_fd);
    if (n == 1) {
        while ((n = read(c->status_fd, &e, sizeof(e))) < 0 && errno == EINTR)
            ;
    }
    close(c->status_fd);
    return n == (ssize_t)sizeof(e) ? -e : (n == 0 ? 0 : -EIO);
}

/* Where the full data goes: the files of the enabled file outputs, else the
 * names of the enabled output plugins. */
static void exec_data_where(struct agent *a, char *buf, size_t size)
{
    static const char *const file_outputs[] = {"csv", "jsonl"};
    size_t w = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < sizeof(file_outputs) / sizeof(file_outputs[0]); i++) {
        struct agent_plugin *ap = alumet__plugins_find(&a->plugins, file_outputs[i]);
        if (!ap || !ap->enabled)
            continue;
        struct toml_value *path = ap->config ? toml_table_get(ap->config, "output_path") : NULL;
        const char *p = path && path->type == TOML_STRING ? path->u.str.ptr
                        : i == 0                          ? "alumet-output.csv"
                                                          : "alumet-output.jsonl";
        if (w < size)
            w +=
                (size_t)snprintf(buf + w, size - w, "%s%s (%s)", w ? ", " : "", p, file_outputs[i]);
    }
}

/* A number of a table (an integer is accepted), def when absent. */
static double exec_toml_number(struct toml_value *t, const char *key, double def)
{
    struct toml_value *v = t ? toml_table_get(t, key) : NULL;
    if (v && v->type == TOML_FLOAT)
        return v->u.f;
    return v && v->type == TOML_INTEGER ? (double)v->u.i : def;
}

/* The table sci of energy-to-carbon (checked by the plugin's init). */
static void exec_set_sci(struct agent *a, struct exec_summary *sum)
{
    struct agent_plugin *ap = alumet__plugins_find(&a->plugins, "energy-to-carbon");
    struct toml_value *sci = ap && ap->config ? toml_table_get(ap->config, "sci") : NULL;
    if (!sci || sci->type != TOML_TABLE)
        return;
    struct toml_value *name = toml_table_get(sci, "functional_unit");
    exec_summary_set_sci(sum, exec_toml_number(sci, "embodied_g", 0),
                         exec_toml_number(sci, "functional_units", 1),
                         name && name->type == TOML_STRING ? name->u.str.ptr : "run");
}

/* Before the stop: the process's CPU figures (the summary turns them into
 * its share of the energy, and into points). */
static void exec_set_process(struct agent *a, struct exec_summary *sum, double cpu,
                             double machine_busy)
{
    char measured[128], estimated[256];
    /* both texts: the summary says the one of what it found */
    exec_energy_source(a, false, measured, sizeof(measured));
    double w = exec_energy_source(a, true, estimated, sizeof(estimated));
    exec_summary_set_process(sum, cpu, machine_busy, w, measured, estimated);
    exec_set_sci(a, sum);
}

static void exec_print_summary(struct agent *a, struct exec_summary *sum, const char *const *argv,
                               const char *status, const char *duration_what, char **ret_text)
{
    char where[1024];
    exec_data_where(a, where, sizeof(where));
    struct exec_summary_info info = {
        .argv = argv,
        .status = status,
        .duration_what = duration_what,
        .data_where = where,
    };
    exec_summary_print(sum, stderr, &info);
    size_t len;
    FILE *m = ret_text ? open_memstream(ret_text, &len) : NULL;
    if (m) {
        exec_summary_print(sum, m, &info);
        fclose(m);
    }
    exec_summary_free(sum);
}

/* exec --report reads the file of the csv plugin: its output_path
 * (caller frees), or -EINVAL (logged) when the csv plugin is off. */
static int exec_report_csv(struct agent *a, char **ret_path)
{
    struct agent_plugin *csv = alumet__plugins_find(&a->plugins, "csv");
    if (!csv || !csv->enabled) {
        alumet_log_error("exec --report makes its report from the CSV file of the csv plugin, "
                         "which is disabled: enable [plugins.csv] (or add csv to --plugins)");
        return -EINVAL;
    }
    const struct toml_value *v = csv->config && csv->config->type == TOML_TABLE
                                     ? toml_table_get(csv->config, "output_path")
                                     : NULL;
    *ret_path = strdup(v && v->type == TOML_STRING ? v->u.str.ptr : "alumet-output.csv");
    return *ret_path ? 0 : -ENOMEM;
}

/* What the hooks of agent_start share with cmd_exec. */
struct exec_ctx {
    char **argv;                 /* the child's, borrowed */
    const struct rlimit *nofile; /* the limit of open files to give back to the child */
    struct exec_summary *sum;    /* NULL without the summary */
    struct exec_child child;     /* pid -1 until forked */
};

static int exec_register_summary(struct alumet_pipeline *p, void *data, struct alumet_error *err)
{
    struct exec_ctx *x = data;
    return x->sum ? exec_summary_register(x->sum, p, err) : 0;
}

/* After the plugins started, before the sources first poll: create the child
 * (waiting at its gate) and announce it, so that every source knows it from
 * its first poll (procfs then measures the child without listing /proc). */
static int exec_announce(struct alumet_pipeline *p, void *data, struct alumet_error *err)
{
    struct exec_ctx *x = data;
    int r = exec_fork(x->argv, x->nofile, &x->child);
    if (r < 0)
        return alumet_error_set(err, r, "cannot create the child process: %s", strerror(-r));
    struct alumet_consumer c = {.kind = ALUMET_CONSUMER_PROCESS, .num = (uint32_t)x->child.pid};
    if (x->sum)
        exec_summary_set_child(x->sum, x->child.pid);
    alumet_pipeline_publish(p, ALUMET_EVENT_START_CONSUMER_MEASUREMENT, &c, 1);
    return 0;
}

/* Make a child that has not exec'd end, and reap it. */
static void exec_abort(struct exec_child *c)
{
    if (c->pid <= 0)
        return;
    kill(c->pid, SIGKILL);
    if (c->gate_fd >= 0)
        close(c->gate_fd);
    if (c->status_fd >= 0)
        close(c->status_fd);
    while (waitpid(c->pid, NULL, 0) < 0 && errno == EINTR)
        ;
    *c = (struct exec_child){.pid = -1, .gate_fd = -1, .status_fd = -1};
}

int cmd_exec(int argc, char **argv, struct agent *a)
{
    bool ignore = false, summary = true, escaped = false;
    const char *report = NULL;
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "--") == 0) {
            i++;
            escaped = true;
            break;
        } else if (strcmp(argv[i], "--ignore-exit-code") == 0) {
            ignore = true;
        } else if (strcmp(argv[i], "--no-summary") == 0) {
            summary = false;
        } else if (strcmp(argv[i], "--report") == 0) {
            if (i + 1 == argc) {
                fprintf(stderr, "error: a value is required for '--report <FILE.html>' but none "
                                "was supplied\n");
                return 2;
            }
            report = argv[++i];
        } else if (strncmp(argv[i], "--report=", 9) == 0) {
            report = argv[i] + 9;
        } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            fputs(exec_help, stdout);
            return 0;
        } else {
            fprintf(stderr,
                    "error: unexpected argument '%s' found\n\n  tip: to pass '%s' as a "
                    "value, use '-- %s'\n\nUsage: alumet-agent exec [OPTIONS] <PROGRAM> "
                    "[ARGS]...\n",
                    argv[i], argv[i], argv[i]);
            return 2;
        }
    }
    if (i >= argc) {
        fprintf(stderr, "error: the following required arguments were not provided:\n  "
                        "<PROGRAM>\n\nUsage: alumet-agent exec [OPTIONS] <PROGRAM> [ARGS]...\n");
        return 2;
    }
    /* upstream's `exec PROGRAM -- ARGS` (clap's trailing_var_arg): a `--`
     * right after PROGRAM ends the options and is dropped, once */
    if (!escaped && i + 1 < argc && strcmp(argv[i + 1], "--") == 0) {
        memmove(&argv[i + 1], &argv[i + 2], (size_t)(argc - i - 2) * sizeof(*argv));
        argv[--argc] = NULL;
    }
    char **child_argv = argv + i;
    int child_argc = argc - i;

    struct rlimit nofile;
    getrlimit(RLIMIT_NOFILE, &nofile);
    if (agent_load_config(a, false) < 0)
        return 1;
    char *report_csv = NULL;
    if (report && exec_report_csv(a, &report_csv) < 0)
        return 1;
    if (agent_install_signals() < 0) {
        free(report_csv);
        return 1;
    }
    struct exec_summary *sum = summary && a->exec_summary ? exec_summary_new() : NULL;
    struct exec_ctx x = {
        .argv = child_argv,
        .nofile = &nofile,
        .sum = sum,
        .child = {.pid = -1, .gate_fd = -1, .status_fd = -1},
    };
    struct alumet_pipeline *p;
    if (agent_start(a, &p, exec_register_summary, exec_announce, &x) < 0) {
        exec_abort(&x.child);
        agent_remove_signals();
        exec_summary_free(sum);
        free(report_csv);
        return 1;
    }
    struct exec_child child = x.child;
    pid_t pid = child.pid;
    struct alumet_consumer c = {.kind = ALUMET_CONSUMER_PROCESS, .num = (uint32_t)pid};
    int r;
    if (alumet__pipeline_trigger_all_wait(p, TRIGGER_TIMEOUT) < 0)
        alumet_log_warn("Could not trigger a first measurement before the child spawn");
    /* forward from now on: a signal before the release stops the agent */
    agent_forward_signals_to(pid);
    double busy0 = exec_cpu_machine_busy();
    if (sum)
        exec_summary_child_started(sum, pid, alumet_time_now());
    r = agent_signals_stop_requested() ? -ECANCELED : exec_release(&child);
    if (r < 0) {
        agent_forward_signals_to(0);
        if (r == -ECANCELED) {
            exec_abort(&child);
        } else {
            while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
                ;
        }
        if (r == -ECANCELED) {
            alumet_log_info("stopped before the child process was started");
            agent_stop(a, p);
            agent_remove_signals();
            exec_summary_free(sum);
            free(report_csv);
            return 1;
        }
        alumet_log_error("failed to spawn '%s': %s", child_argv[0], strerror(-r));
        if (r == -ENOENT)
            exec_hint_not_found(child_argv[0], child_argc, child_argv);
        else if (r == -EACCES)
            exec_hint_permission(child_argv[0]);
        agent_stop(a, p);
        agent_remove_signals();
        exec_summary_free(sum);
        free(report_csv);
        return 101;
    }
    alumet_log_info("Child process '%s' spawned with pid %d.", child_argv[0], (int)pid);
    struct exec_progress *progress = exec_progress_start(sum);

    /* wait for the end without reaping the child: until the last measurement
     * it stays a zombie whose /proc/<pid>/stat still holds its final CPU times */
    int wstatus = 0;
    siginfo_t info = {0};
    while (waitid(P_PID, (id_t)pid, &info, WEXITED | WNOWAIT) < 0 && errno == EINTR)
        ;
    if (sum)
        exec_summary_child_ended(sum, alumet_time_now());
    exec_progress_stop(progress);
    double busy1 = exec_cpu_machine_busy();
    agent_forward_signals_to(0);
    if (info.si_code == CLD_EXITED)
        alumet_log_info("Child process exited with exit status: %d, Alumet will now stop.",
                        info.si_status);
    else
        alumet_log_info("Child process was killed by signal %d, Alumet will now stop.",
                        info.si_status);
    if (alumet__pipeline_trigger_all_wait(p, FINAL_TRIGGER_TIMEOUT) < 0)
        alumet_log_warn("Could not trigger one last measurement after the child exit");
    struct rusage ru = {0};
    while (wait4(pid, &wstatus, 0, &ru) < 0 && errno == EINTR)
        ;
    alumet_pipeline_publish(p, ALUMET_EVENT_END_CONSUMER_MEASUREMENT, &c, 1);
    if (sum)
        exec_set_process(a, sum,
                         (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                             (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6,
                         busy1 - busy0);
    int errors = agent_stop(a, p);
    agent_remove_signals();
    char *summary_text = NULL;
    if (sum) {
        char status[64];
        if (WIFEXITED(wstatus))
            snprintf(status, sizeof(status), "exit status %d", WEXITSTATUS(wstatus));
        else
            snprintf(status, sizeof(status), "killed by signal %d", WTERMSIG(wstatus));
        exec_print_summary(a, sum, (const char *const *)child_argv, status,
                           "from the start of the process to its end",
                           report ? &summary_text : NULL);
    }
    if (report) {
        char *config = report_read_config(a->config_path);
        struct report_meta m = {.csv_path = report_csv,
                                .config_path = a->config_path,
                                .config_text = config,
                                .summary = summary_text,
                                .overrides = a->overrides,
                                .n_overrides = a->n_overrides,
                                .config_produced = true};
        if (report_generate(report_csv, report, &m) < 0)
            errors++;
        free(config);
    }
    free(summary_text);
    free(report_csv);

    if (errors)
        return 1; /* upstream returns 0 here and loses the failure */
    if (ignore)
        return 0;
    if (WIFEXITED(wstatus)) {
        int code = WEXITSTATUS(wstatus);
        if (code != 0)
            alumet_log_warn("the child process failed with exit code %d; use --ignore-exit-code "
                            "to make the agent return 0 anyway",
                            code);
        return code;
    }
    alumet_log_warn("the child process was killed by a signal; use --ignore-exit-code to make the "
                    "agent return 0 anyway");
    return 1;
}

/* Wait until pid ends or a shutdown is requested (Ctrl+C, SIGTERM). Returns
 * the last CPU time of pid seen (its final one when it was still a zombie),
 * -1 if it could never be read. Sets *ended. */
static double watch_wait(struct alumet_pipeline *p, pid_t pid, bool *ended)
{
    int fd = (int)syscall(SYS_pidfd_open, pid, 0);
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d", (int)pid);
    double cpu = exec_cpu_process(pid), c;
    *ended = false;
    while (!alumet__pipeline_shutdown_requested(p)) {
        if (fd >= 0) {
            struct pollfd pfd = {.fd = fd, .events = POLLIN};
            *ended = poll(&pfd, 1, 100) > 0;
        } else {
            /* old kernel without pidfd_open: look at /proc/<pid> */
            struct stat st;
            *ended = stat(path, &st) < 0;
            if (!*ended)
                usleep(100 * 1000);
        }
        if ((c = exec_cpu_process(pid)) >= 0)
            cpu = c;
        if (*ended)
            break;
    }
    if (fd >= 0)
        close(fd);
    return cpu;
}

static int watch_announce(struct alumet_pipeline *p, void *data, struct alumet_error *err)
{
    (void)err;
    struct exec_ctx *x = data;
    struct alumet_consumer c = {.kind = ALUMET_CONSUMER_PROCESS, .num = (uint32_t)x->child.pid};
    if (x->sum)
        exec_summary_set_child(x->sum, x->child.pid);
    alumet_pipeline_publish(p, ALUMET_EVENT_START_CONSUMER_MEASUREMENT, &c, 1);
    return 0;
}

int cmd_watch(int argc, char **argv, struct agent *a)
{
    if (argc > 1 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
        fputs("Watch a running process\n\nUsage: alumet-agent watch <PID>\n\nArguments:\n  <PID>  "
              "The process to watch\n\nOptions:\n  -h, --help  Print help\n",
              stdout);
        return 0;
    }
    char *end = NULL;
    long long v = argc == 2 ? strtoll(argv[1], &end, 10) : -1;
    if (argc != 2 || *end || v <= 0 || v > INT32_MAX) {
        fprintf(stderr,
                "error: invalid value '%s' for '<PID>': expected a process id\n\nUsage: "
                "alumet-agent watch <PID>\n",
                argc > 1 ? argv[1] : "");
        return 2;
    }
    pid_t pid = (pid_t)v;
    if (agent_load_config(a, false) < 0)
        return 1;
    if (agent_install_signals() < 0)
        return 1;
    struct exec_summary *sum = a->exec_summary ? exec_summary_new() : NULL;
    struct alumet_pipeline *p;
    /* the process is announced before the sources first poll (as exec does) */
    struct exec_ctx x = {.sum = sum, .child = {.pid = pid, .gate_fd = -1, .status_fd = -1}};
    if (agent_start(a, &p, exec_register_summary, watch_announce, &x) < 0) {
        agent_remove_signals();
        exec_summary_free(sum);
        return 1;
    }
    /* unlike upstream, watch triggers every source, as exec does */
    alumet__pipeline_trigger_all_wait(p, TRIGGER_TIMEOUT);
    struct alumet_consumer c = {.kind = ALUMET_CONSUMER_PROCESS, .num = (uint32_t)pid};
    alumet_log_info("Watching process %d.", (int)pid);
    double cpu0 = exec_cpu_process(pid), busy0 = exec_cpu_machine_busy();
    if (sum)
        exec_summary_child_started(sum, pid, alumet_time_now());
    bool ended;
    double cpu1 = watch_wait(p, pid, &ended);
    if (sum)
        exec_summary_child_ended(sum, alumet_time_now());
    double busy1 = exec_cpu_machine_busy();
    if (ended)
        alumet_log_info("Process %d has ended, Alumet will now stop.", (int)pid);
    /* the final measurement, before the sources forget the process */
    alumet__pipeline_trigger_all_wait(p, FINAL_TRIGGER_TIMEOUT);
    alumet_pipeline_publish(p, ALUMET_EVENT_END_CONSUMER_MEASUREMENT, &c, 1);
    if (sum)
        exec_set_process(a, sum, cpu0 >= 0 && cpu1 >= cpu0 ? cpu1 - cpu0 : -1, busy1 - busy0);
    int errors = agent_stop(a, p);
    agent_remove_signals();
    if (sum) {
        char argv0[32];
        snprintf(argv0, sizeof(argv0), "process %d", (int)pid);
        const char *const sargv[] = {argv0, NULL};
        exec_print_summary(a, sum, sargv, ended ? "ended" : "still running, the watch stopped",
                           ended ? "from the start of the watch to the end of the process"
                                 : "of the watch",
                           /* ret_text= */ NULL);
    }
    return errors ? 1 : 0;
}
