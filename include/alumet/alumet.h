/* SPDX-License-Identifier: MIT */
#ifndef ALUMET_ALUMET_H
#define ALUMET_ALUMET_H

#include "config.h"
#include "error.h"
#include "export.h"
#include "log.h"
#include "measurement.h"
#include "metric.h"
#include "output.h"
#include "plugin.h"
#include "resource.h"
#include "source.h"
#include "time.h"
#include "transform.h"
#include "units.h"

#endif
