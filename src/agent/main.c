/* SPDX-License-Identifier: MIT */
/* alumet-agent: global options, then a command from the table below. */
#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "alumet-build-config.h"
#include "alumet/log.h"
#include "core/config/config-tree.h"
#include "util/edit-distance.h"

extern struct alumet_log_topic alumet__log_agent;
#define ALUMET_LOG_DEFAULT_TOPIC (&alumet__log_agent)

struct command {
    const char *name;
    int (*fn)(int argc, char **argv, struct agent *a);
    const char *summary;
};

static const struct command commands[] = {
    {"run", cmd_run, "Run the agent and monitor the system"},
    {"exec", cmd_exec, "Execute a command and observe its process"},
    {"watch", cmd_watch, "Watch a running process"},
    {"config", cmd_config, "Manipulate the configuration"},
    {"plugins", cmd_plugins, "Show the plugins that are available"},
    {"doctor", cmd_doctor, "Check what this machine lets the enabled plugins measure"},
    {"report", cmd_report, "Write an HTML report of a CSV file"},
};

static const char help_text[] =
    "Usage: alumet-agent [OPTIONS] [COMMAND]\n"
    "\n"
    "Commands:\n"
    "  run      Run the agent and monitor the system\n"
    "  exec     Execute a command and observe its process\n"
    "  watch    Watch a running process\n"
    "  config   Manipulate the configuration\n"
    "  plugins  Show the plugins that are available\n"
    "  doctor   Check what this machine lets the enabled plugins measure\n"
    "  report   Write an HTML report of a CSV file\n"
    "  help     Print this message or the help of the given subcommand(s)\n"
    "\n"
    "Options:\n"
    "      --config <CONFIG>\n"
    "          Path to the config file [env: ALUMET_CONFIG=] [default: alumet-config.toml]\n"
    "      --no-default-config\n"
    "          If set, the config file must exist, otherwise the agent will fail to start with "
    "an error\n"
    "      --config-override <CONFIG_OVERRIDE>\n"
    "          Override the config file; a TOML document such as "
    "'plugins.rapl.poll_interval=\"1ms\"' (repeatable)\n"
    "      --plugins <PLUGINS>\n"
    "          List of plugins to enable, separated by commas. Other plugins will be disabled\n"
    "      --max-update-interval <MAX_UPDATE_INTERVAL>\n"
    "          Maximum amount of time between two updates of the sources' commands\n"
    "      --source-channel-size <SOURCE_CHANNEL_SIZE>\n"
    "          Capacity of the buffer between the sources and the transforms, in buffers\n"
    "      --normal-worker-threads <NORMAL_WORKER_THREADS>\n"
    "          Accepted for compatibility (this agent polls each source on its own thread) "
    "[env: ALUMET_NORMAL_THREADS=]\n"
    "      --priority-worker-threads <PRIORITY_WORKER_THREADS>\n"
    "          0 keeps the sources polled every 3 ms or faster at the normal priority; "
    "otherwise they run at the real-time priority SCHED_FIFO 55 (needs CAP_SYS_NICE) "
    "[env: ALUMET_PRIORITY_THREADS=]\n"
    "      --output-file <OUTPUT_FILE>\n"
    "          Shortcut for --config-override 'plugins.csv.output_path=\"FILE\"'\n"
    "      --relay-out <RELAY_OUT>\n"
    "          Shortcut for --config-override 'plugins.relay-client.relay_server=\"ADDR\"'\n"
    "      --relay-in <RELAY_IN>\n"
    "          Shortcut for --config-override 'plugins.relay-server.address=\"ADDR\"'\n"
    "      --plugin-dir <PLUGIN_DIR>\n"
    "          Load every dynamic plugin (*.so) of this directory [env: ALUMET_PLUGIN_DIR=]\n"
    "  -h, --help\n"
    "          Print help\n"
    "  -V, --version\n"
    "          Print version\n";

static const struct command *find_command(const char *name)
{
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

static void suggest_command(const char *name)
{
    const char *best = NULL;
    size_t bd = 3;
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        size_t d = edit_distance(name, commands[i].name);
        if (d < bd) {
            bd = d;
            best = commands[i].name;
        }
    }
    fprintf(stderr, "error: unrecognized subcommand '%s'\n", name);
    if (best)
        fprintf(stderr, "\n  tip: a similar subcommand exists: '%s'\n", best);
    fprintf(stderr, "\nUsage: alumet-agent [OPTIONS] [COMMAND]\n\nFor more information, try "
                    "'--help'.\n");
}

static bool is_help(const char *arg)
{
    return strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0;
}

/* Does the command line ask for the command's help? Then the command prints
 * it, and nothing else runs (no welcome line, no plugin loading). For exec
 * only the words before PROGRAM count: the rest is the child's. */
static bool wants_help(const char *name, int argc, char **argv)
{
    bool exec = strcmp(name, "exec") == 0;
    for (int i = 1; i < argc; i++) {
        if (is_help(argv[i]))
            return true;
        if (exec && (argv[i][0] != '-' || strcmp(argv[i], "--") == 0))
            return false;
        if (!exec && i == 1 && strcmp(argv[i], "help") == 0)
            return true;
    }
    return false;
}

/* "--opt value" or "--opt=value": returns the value and advances *i. */
static const char *opt_value(int argc, char **argv, int *i, const char *opt)
{
    size_t l = strlen(opt);
    const char *arg = argv[*i];
    if (strncmp(arg, opt, l) != 0)
        return NULL;
    if (arg[l] == '=')
        return arg + l + 1;
    if (arg[l] != '\0')
        return NULL;
    if (*i + 1 >= argc) {
        fprintf(stderr, "error: a value is required for '%s <%s>' but none was supplied\n", opt,
                opt + 2);
        exit(2);
    }
    return argv[++*i];
}

static int append_plugins(struct agent *a, const char *v)
{
    size_t old = a->plugins_flag_owned ? strlen(a->plugins_flag_owned) : 0;
    char *n = realloc(a->plugins_flag_owned, old + strlen(v) + 2);
    if (!n)
        return -ENOMEM;
    if (old)
        n[old++] = ',';
    memcpy(n + old, v, strlen(v) + 1);
    a->plugins_flag_owned = n;
    a->plugins_flag = n;
    return 0;
}

static int parse_globals(int argc, char **argv, struct agent *a)
{
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        const char *arg = argv[i], *v;
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            fputs(help_text, stdout);
            exit(0);
        } else if (strcmp(arg, "-V") == 0 || strcmp(arg, "--version") == 0) {
            printf("alumet-agent %s\n", ALUMET_VERSION);
            exit(0);
        } else if (strcmp(arg, "--no-default-config") == 0) {
            a->no_default_config = true;
        } else if ((v = opt_value(argc, argv, &i, "--config-override"))) {
            if (a->n_overrides == AGENT_MAX_OVERRIDES) {
                fprintf(stderr, "error: too many --config-override (max %d)\n",
                        AGENT_MAX_OVERRIDES);
                exit(2);
            }
            a->overrides[a->n_overrides++] = v;
        } else if ((v = opt_value(argc, argv, &i, "--config"))) {
            a->config_path = v;
        } else if ((v = opt_value(argc, argv, &i, "--plugins"))) {
            if (append_plugins(a, v) < 0)
                exit(1);
        } else if ((v = opt_value(argc, argv, &i, "--max-update-interval"))) {
            a->max_update_interval = v;
        } else if ((v = opt_value(argc, argv, &i, "--source-channel-size"))) {
            a->source_channel_size = v;
        } else if ((v = opt_value(argc, argv, &i, "--normal-worker-threads"))) {
            alumet_log_debug("--normal-worker-threads is accepted for compatibility only");
        } else if ((v = opt_value(argc, argv, &i, "--priority-worker-threads"))) {
            a->priority_threads = v;
        } else if ((v = opt_value(argc, argv, &i, "--output-file"))) {
            a->output_file = v;
        } else if ((v = opt_value(argc, argv, &i, "--relay-out"))) {
            a->relay_out = v;
        } else if ((v = opt_value(argc, argv, &i, "--relay-in"))) {
            a->relay_in = v;
        } else if ((v = opt_value(argc, argv, &i, "--plugin-dir"))) {
            a->plugin_dir = v;
        } else {
            fprintf(stderr,
                    "error: unexpected argument '%s' found\n\nUsage: alumet-agent [OPTIONS] "
                    "[COMMAND]\n\nFor more information, try '--help'.\n",
                    arg);
            exit(2);
        }
    }
    return i;
}

/* A bundled module: next to the agent (build tree), else where it is installed. */
static void agent_module_path(const char *name, char *path, size_t size)
{
    char exe[PATH_MAX / 2];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = '\0';
            snprintf(path, size, "%s/alumet-plugin-%s.so", exe, name);
            if (access(path, R_OK) == 0)
                return;
        }
    }
    snprintf(path, size, "%s/alumet-plugin-%s.so", ALUMET_MODULE_DIR, name);
}

static void load_dir_report(void *data, const char *msg)
{
    int *failures = data;
    (*failures)++;
    alumet_log_error("%s", msg);
}

/* Set the log levels from the variable var (value spec); a level that does
 * not exist is an error naming the variable, the item and the valid levels. */
static int configure_log(const char *var, const char *spec)
{
    if (alumet_log_configure(spec) == 0)
        return 0;
    /* find the first bad item to name it */
    const char *p = spec, *bad = spec;
    size_t bad_len = strlen(spec);
    while (*p) {
        size_t len = strcspn(p, ",");
        char item[256];
        snprintf(item, sizeof(item), "%.*s", (int)len, p);
        if (len > 0 && alumet_log_configure(item) < 0) {
            bad = p;
            bad_len = len;
            break;
        }
        p += len + (p[len] == ',');
    }
    alumet_log_configure(NULL);
    fprintf(stderr,
            "error: invalid %s '%s': '%.*s': expected a level (off, error, warn, info, debug, "
            "trace) or TARGET=LEVEL items separated by commas, such as \"info,rapl=debug\"\n",
            var, spec, (int)bad_len, bad);
    return -EINVAL;
}

int main(int argc, char **argv)
{
    struct agent a = {.config_path = AGENT_DEFAULT_CONFIG_PATH, .argv0 = argv[0]};
    const char *env;
    /* upstream's RUST_LOG, same syntax; ALUMET_LOG wins */
    const char *log_var = secure_getenv("ALUMET_LOG") ? "ALUMET_LOG" : "RUST_LOG";
    if (configure_log(log_var, secure_getenv(log_var)) < 0)
        return 1;
    /* a closed pipe (jsonl to a reader that went away, a child that died at
     * its gate) is an error to report, not a silent death */
    signal(SIGPIPE, SIG_IGN);
    /* a fixed mmap threshold: the large arrays (point buffers, output text)
     * are mapped apart and go back to the system when freed or shrunk after
     * a burst; glibc's dynamic threshold would otherwise move them into the
     * heaps of the threads, where they stay */
    mallopt(M_MMAP_THRESHOLD, 256 * 1024);
    /* one heap for all the threads: each thread's own arena keeps its free
     * chunks resident (at 10,000 processes 0.3 to 0.5 MiB more in the
     * procfs overhead benchmark); the threads allocate little once started,
     * so the shared lock costs no measurable CPU (bench/README.md, "Memory at
     * 10,000 processes, second pass") */
    mallopt(M_ARENA_MAX, 1);
    agent_install_crash_report();
    if ((env = secure_getenv("ALUMET_CONFIG")) && *env)
        a.config_path = env;
    if ((env = secure_getenv("ALUMET_PLUGIN_DIR")) && *env)
        a.plugin_dir = env;
    if ((env = secure_getenv("ALUMET_PRIORITY_THREADS")) && *env)
        a.priority_threads = env;

    int first = parse_globals(argc, argv, &a);
    const char *name = first < argc ? argv[first] : "run";
    if (strcmp(name, "help") == 0) {
        if (first + 1 < argc && find_command(argv[first + 1])) {
            char *hargv[] = {argv[first + 1], "--help", NULL};
            return find_command(argv[first + 1])->fn(2, hargv, &a);
        }
        fputs(help_text, stdout);
        return 0;
    }
    const struct command *cmd = find_command(name);
    if (!cmd) {
        suggest_command(name);
        return 2;
    }
    if (first < argc && wants_help(name, argc - first, argv + first))
        return cmd->fn(argc - first, argv + first, &a);
    alumet_log_info("Starting Alumet agent 'alumet-agent' v%s", ALUMET_VERSION);

    struct alumet_error err = {0};
    int r = 0;
    for (const struct agent_builtin *b = agent_builtin_plugins; (b->def || b->name) && r == 0;
         b++) {
        if (b->def) {
            r = alumet__plugins_add(&a.plugins, b->def, NULL, &err);
        } else {
            char path[PATH_MAX];
            agent_module_path(b->name, path, sizeof(path));
            r = alumet__plugins_add_module(&a.plugins, b->name, b->version, path, b->symbol, &err);
        }
    }
    if (r < 0)
        alumet_log_error("%s", err.msg);
    if (r == 0 && a.plugin_dir) {
        int failures = 0;
        r = alumet__plugins_load_dir(&a.plugins, a.plugin_dir, load_dir_report, &failures, &err);
        if (r < 0)
            alumet_log_error("%s", err.msg);
        else
            r = failures ? -EINVAL : 0;
    }
    int status = 1;
    if (r == 0 && agent_apply_plugins_flag(&a) == 0) {
        char **sub_argv = first < argc ? argv + first : (char *[]){"run", NULL};
        int sub_argc = first < argc ? argc - first : 1;
        status = cmd->fn(sub_argc, sub_argv, &a);
    }
    toml_free(a.config);
    alumet__plugins_done(&a.plugins);
    free(a.plugins_flag_owned);
    return status;
}
