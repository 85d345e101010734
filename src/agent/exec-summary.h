/* SPDX-License-Identifier: MIT */
/* The energy summary printed at the end of exec. */
#ifndef ALUMET_AGENT_EXEC_SUMMARY_H
#define ALUMET_AGENT_EXEC_SUMMARY_H

#include <stdio.h>

#include "alumet/alumet.h"

struct exec_summary;

struct exec_summary *exec_summary_new(void);
void exec_summary_free(struct exec_summary *s);
/* Register the summary as an output of p (before the pipeline starts). */
int exec_summary_register(struct exec_summary *s, struct alumet_pipeline *p,
                          struct alumet_error *err);
/* Print the summary: the command (NULL-terminated argv), its status text,
 * the measured duration and where the full data was written. */
void exec_summary_print(struct exec_summary *s, FILE *f, const char *const *argv,
                        const char *status, double seconds, const char *data_where);

#endif
