/* SPDX-License-Identifier: MIT */
/* The on-disk spool of relay-client: every message to the server is written
 * to a segment file before it is sent, and a segment is deleted once the
 * server acknowledged all of it, so that a server outage or a client
 * restart loses nothing (README.md "Guarantees").
 *
 * Layout of the spool directory: segments `<16 hex digits>.seg`, each a
 * sequence of frames exactly as on the wire, starting with a RegisterMetrics
 * of every metric known when it was created (so that a segment is
 * self-contained across restarts: metric ids are those of the agent that
 * wrote it); and `acked`, the text "<segment> <offset>\n" of the first
 * byte not acknowledged (written by rename). Bounded: past max_bytes the
 * oldest segments are deleted and their points counted as dropped.
 * Not thread-safe (the output's thread). No logging. */
#ifndef ALUMET_RELAY_SPOOL_H
#define ALUMET_RELAY_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alumet/error.h"
#include "postcard.h"

struct relay_spool;

/* A position in the spool: segment number and byte offset. */
struct relay_spool_pos {
    uint64_t seg, off;
};

/* Open (create) the spool in dir. *ret_pending_points: the points of
 * earlier runs not acknowledged yet. Caller frees with relay_spool_free. */
int relay_spool_open(const char *dir, uint64_t max_bytes, struct relay_spool **ret,
                     uint64_t *ret_pending_points, struct alumet_error *err);
void relay_spool_free(struct relay_spool *sp);

/* Whether the current segment is full (or there is none): the caller then
 * calls relay_spool_rotate with the RegisterMetrics of all its metrics. */
bool relay_spool_need_rotate(const struct relay_spool *sp);
int relay_spool_rotate(struct relay_spool *sp, const void *header, size_t len,
                       struct alumet_error *err);
/* Append one frame holding points points. Older segments may be dropped to
 * stay under max_bytes: their points are added to *ret_dropped. */
int relay_spool_append(struct relay_spool *sp, const void *frame, size_t len, uint64_t points,
                       uint64_t *ret_dropped, struct alumet_error *err);

/* Start sending again from the first unacknowledged frame (after a
 * reconnection): the RegisterMetrics frames of its segment that come before
 * it are sent again first. */
void relay_spool_rewind(struct relay_spool *sp);
/* The next frame to send into out (cleared first): 1 and *ret_after, the
 * position to acknowledge once the server took it; 0 when all was sent. */
int relay_spool_next(struct relay_spool *sp, struct pc_writer *out,
                     struct relay_spool_pos *ret_after, uint64_t *ret_points,
                     struct alumet_error *err);
/* The server took the frame that ends at pos (points points): delete the
 * segments that are done. relay_spool_save records the position on disk. */
void relay_spool_ack(struct relay_spool *sp, struct relay_spool_pos pos, uint64_t points);
int relay_spool_save(struct relay_spool *sp, struct alumet_error *err);
/* Whether some frame was not acknowledged yet, and how many points wait. */
bool relay_spool_pending(const struct relay_spool *sp);
uint64_t relay_spool_pending_points(const struct relay_spool *sp);

#endif
