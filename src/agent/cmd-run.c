/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "alumet/config.h"

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
    /* a status line every minute (ALUMET_STATUS_INTERVAL: another period, "0": none) */
    alumet_time_ns every = 60 * ALUMET_NSEC_PER_SEC;
    const char *env = secure_getenv("ALUMET_STATUS_INTERVAL");
    if (env && strcmp(env, "0") == 0)
        every = 0;
    else if (env && *env && alumet_duration_parse(env, &every) < 0) {
        fprintf(stderr,
                "error: invalid ALUMET_STATUS_INTERVAL '%s': expected a duration such as "
                "\"1m\" or \"30s\", or \"0\" for no periodic status line\n",
                env);
        return 1;
    }
    /* before the signal thread starts: it reads the period from its first wait */
    agent_signals_status_every(every);
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
