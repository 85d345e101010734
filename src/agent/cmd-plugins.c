/* SPDX-License-Identifier: MIT */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "agent.h"

static const char plugins_help[] =
    "Show the plugins that are available\n\nUsage: alumet-agent plugins [OPTIONS] <COMMAND>\n\n"
    "Commands:\n  list  List the plugins that are available in this agent\n  help  Print this "
    "message or the help of the given subcommand(s)\n\nOptions:\n      --status  Show which "
    "plugins are enabled in the configuration\n  -h, --help    Print help\n";

static const char list_help[] =
    "List the plugins that are available in this agent\n\nUsage: alumet-agent plugins list "
    "[OPTIONS]\n\nOptions:\n      --status  Show which plugins are enabled in the "
    "configuration\n  -h, --help    Print help\n";

static void plugins_print(struct agent *a, bool enabled)
{
    for (size_t i = 0; i < a->plugins.len; i++)
        if (a->plugins.items[i].enabled == enabled)
            printf("- %s v%s\n", a->plugins.items[i].def->name, a->plugins.items[i].def->version);
}

int cmd_plugins(int argc, char **argv, struct agent *a)
{
    bool status = false, list = false, help = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--status") == 0) {
            status = true;
        } else if (strcmp(argv[i], "list") == 0) {
            list = true;
        } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0 ||
                   strcmp(argv[i], "help") == 0) {
            help = true;
        } else if (!help) {
            fprintf(stderr, "error: unexpected argument '%s' found\n\n%s", argv[i], plugins_help);
            return 2;
        }
    }
    if (help) {
        fputs(list ? list_help : plugins_help, stdout);
        return 0;
    }
    if (!list) {
        fprintf(stderr, "error: 'alumet-agent plugins' requires a subcommand but one was not "
                        "provided\n  [subcommands: list, help]\n");
        return 2;
    }
    static const char closing[] =
        "\nTo enable or disable plugins, edit the configuration file or use the --plugins "
        "option.\n";
    if (!status) {
        printf("Available plugins:\n");
        for (size_t i = 0; i < a->plugins.len; i++)
            printf("- %s v%s\n", a->plugins.items[i].def->name, a->plugins.items[i].def->version);
        fputs(closing, stdout);
        return 0;
    }
    if (agent_load_config(a, false) < 0)
        return 1;
    printf("Enabled plugins:\n");
    plugins_print(a, true);
    printf("\nDisabled plugins:\n");
    plugins_print(a, false);
    fputs(closing, stdout);
    return 0;
}
