/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "alumet/log.h"

extern struct alumet_log_topic alumet__log_agent;
#define ALUMET_LOG_DEFAULT_TOPIC (&alumet__log_agent)

static const char config_help[] =
    "Manipulate the configuration\n\nUsage: alumet-agent config <COMMAND>\n\nCommands:\n"
    "  regen  Regenerate the configuration file and stop\n"
    "  check  Check the configuration with the enabled plugins, measure nothing\n"
    "  help   Print this message or the help of the given subcommand(s)\n\nOptions:\n"
    "  -h, --help  Print help\n";

static const char regen_help[] =
    "Regenerate the configuration file and stop\n\nUsage: alumet-agent config regen\n\n"
    "Options:\n  -h, --help  Print help\n";
static const char check_help[] =
    "Check the configuration with the enabled plugins, measure nothing\n\nUsage: alumet-agent "
    "config check\n\nOptions:\n  -h, --help  Print help\n";

static int config_regen(struct agent *a)
{
    char *text = agent_default_config(a);
    if (!text)
        return 1;
    int r = agent_write_file(a->config_path, text);
    free(text);
    if (r < 0)
        return 1;
    alumet_log_info("Default configuration file written to: %s", a->config_path);
    return 0;
}

static void check_report(void *data, const char *msg)
{
    int *problems = data;
    (*problems)++;
    alumet_log_error("%s", msg);
}

/* Load the config and init every enabled plugin (nothing is measured);
 * report every problem found, not only the first. */
static int config_check(struct agent *a)
{
    int problems = 0;
    /* unlike the other commands, check never writes the default file */
    if (access(a->config_path, F_OK) < 0 && errno == ENOENT) {
        bool dflt = strcmp(a->config_path, AGENT_DEFAULT_CONFIG_PATH) == 0;
        alumet_log_error("configuration file '%s' not found ('config check' writes nothing): "
                         "create it with 'alumet-agent %s%s%sconfig regen', or point --config (or "
                         "ALUMET_CONFIG) at an existing file",
                         a->config_path, dflt ? "" : "--config ", dflt ? "" : a->config_path,
                         dflt ? "" : " ");
        return 1;
    }
    int r = agent_load_config(a, true);
    if (r < 0 && !a->config)
        return 1;
    if (r < 0)
        problems++;
    struct alumet_error err = {0};
    if (alumet__agent_init_plugins(&a->plugins, true, check_report, &problems, &err) < 0)
        problems++;
    alumet__agent_stop_plugins(&a->plugins);
    if (problems) {
        fprintf(stderr, "configuration '%s' is invalid (see the errors above)\n", a->config_path);
        return 1;
    }
    printf("configuration '%s' is valid\n", a->config_path);
    return 0;
}

int cmd_config(int argc, char **argv, struct agent *a)
{
    if (argc < 2) {
        fprintf(stderr, "error: 'alumet-agent config' requires a subcommand but one was not "
                        "provided\n  [subcommands: regen, check, help]\n");
        return 2;
    }
    /* `config help [SUB]`, `config [SUB] -h` */
    bool help = strcmp(argv[1], "help") == 0;
    const char *sub = help ? (argc > 2 ? argv[2] : NULL) : argv[1];
    for (int i = 1; i < argc; i++)
        help = help || strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0;
    const char *text = NULL;
    if (sub && strcmp(sub, "regen") == 0)
        text = regen_help;
    else if (sub && strcmp(sub, "check") == 0)
        text = check_help;
    else if (!sub || sub[0] == '-' || strcmp(sub, "help") == 0)
        text = config_help;
    if (help && text) {
        fputs(text, stdout);
        return 0;
    }
    if (text == regen_help && argc == 2)
        return config_regen(a);
    if (text == check_help && argc == 2)
        return config_check(a);
    if (text && text != config_help) {
        fprintf(stderr, "error: unexpected argument '%s' found\n\n%s", argv[2], text);
        return 2;
    }
    fprintf(stderr, "error: unrecognized subcommand '%s'\n\n%s", sub ? sub : argv[1], config_help);
    return 2;
}
