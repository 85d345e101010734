/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <string.h>

#include "agent.h"

int cmd_run(int argc, char **argv, struct agent *a)
{
    if (argc > 1 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
        fputs("Run the agent and monitor the system\n\nUsage: alumet-agent run\n\nOptions:\n"
              "  -h, --help  Print help\n",
              stdout);
        return 0;
    }
    if (argc > 1) {
        fprintf(stderr, "error: unexpected argument '%s' found\n\nUsage: alumet-agent run\n",
                argv[1]);
        return 2;
    }
    if (agent_load_config(a, false) < 0)
        return 1;
    if (agent_install_signals() < 0)
        return 1;
    struct alumet_pipeline *p;
    if (agent_start(a, &p, NULL, NULL, NULL) < 0) {
        agent_remove_signals();
        return 1;
    }
    alumet__pipeline_wait_shutdown_request(p);
    int errors = agent_stop(a, p);
    agent_remove_signals();
    return errors ? 1 : 0;
}
