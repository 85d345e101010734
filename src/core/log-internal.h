/* SPDX-License-Identifier: MIT */
#ifndef ALUMET_CORE_LOG_INTERNAL_H
#define ALUMET_CORE_LOG_INTERNAL_H

#include "alumet/log.h"

/* Topics of the core, one per subsystem. */
extern struct alumet_log_topic alumet__log_core;
extern struct alumet_log_topic alumet__log_pipeline;
extern struct alumet_log_topic alumet__log_agent;

#endif
