/* SPDX-License-Identifier: MIT */
/* The on-disk spool of relay-client: see relay-spool.h. */
#include "relay-spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "relay-proto.h"

struct relay_seg {
    uint64_t seq, size;
    uint64_t points, acked; /* points in the segment, and acknowledged */
};

struct relay_spool {
    int dirfd;
    uint64_t max_bytes, seg_max, total;
    struct relay_seg *segs;
    size_t nsegs;
    int cur_fd; /* the last segment, for appending */
    struct relay_spool_pos ack, send;
    bool replay; /* sending the RegisterMetrics before ack again */
    uint64_t replay_off;
};

static int relay_spool_errno(struct alumet_error *err, int r, const char *what, uint64_t seq)
{
    return alumet_error_set(err, r, "spool: cannot %s segment %016" PRIx64 ": %s", what, seq,
                            strerror(-r));
}

static void relay_seg_name(char *buf, size_t size, uint64_t seq)
{
    snprintf(buf, size, "%016" PRIx64 ".seg", seq);
}

static int relay_seg_open(struct relay_spool *sp, uint64_t seq, int flags)
{
    char name[32];
    relay_seg_name(name, sizeof(name), seq);
    int fd = openat(sp->dirfd, name, flags | O_CLOEXEC, 0600);
    return fd < 0 ? -errno : fd;
}

static ssize_t relay_pread_full(int fd, void *buf, size_t len, uint64_t off)
{
    size_t got = 0;
    while (got < len) {
        ssize_t n = pread(fd, (char *)buf + got, len - got, (off_t)(off + got));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        if (n == 0)
            break;
        got += (size_t)n;
    }
    return (ssize_t)got;
}

/* Read the frame at off of fd into out. 1, 0 at the end (or a torn frame
 * at the end, left by a crash), < 0 on error. kind/points describe it. */
static int relay_seg_frame(int fd, uint64_t off, uint64_t size, struct pc_writer *out,
                           uint32_t *ret_kind, uint64_t *ret_points)
{
    uint8_t h[4];
    if (off + 4 > size)
        return 0;
    ssize_t n = relay_pread_full(fd, h, 4, off);
    if (n < 4)
        return n < 0 ? (int)n : 0;
    uint32_t len = relay_be32(h);
    if (len > RELAY_MAX_BODY || off + 4 + len > size)
        return 0;
    pc_writer_clear(out);
    uint8_t *d = pc_writer_reserve(out, (size_t)len + 4);
    if (!d)
        return -ENOMEM;
    n = relay_pread_full(fd, d, (size_t)len + 4, off);
    if (n < (ssize_t)len + 4)
        return n < 0 ? (int)n : 0;
    out->len = (size_t)len + 4;
    struct pc_reader r = pc_reader_of(d + 4, len);
    struct relay_str sender;
    uint32_t kind = UINT32_MAX;
    size_t count = 0;
    if (relay_decode_head(&r, &sender, &kind) < 0)
        kind = UINT32_MAX;
    if (kind == RELAY_MSG_SEND_MEASUREMENTS && relay_decode_count(&r, 1, &count) < 0)
        count = 0;
    *ret_kind = kind;
    *ret_points = kind == RELAY_MSG_SEND_MEASUREMENTS ? count : 0;
    return 1;
}

/* Points of a segment from off to its end; the size up to the last whole frame. */
static int relay_seg_scan(struct relay_spool *sp, uint64_t seq, uint64_t size, uint64_t from,
                          uint64_t *ret_points, uint64_t *ret_valid)
{
    int fd = relay_seg_open(sp, seq, O_RDONLY);
    if (fd < 0)
        return fd;
    struct pc_writer w = PC_WRITER_INIT;
    uint64_t off = 0, points = 0;
    int r;
    uint32_t kind;
    uint64_t n = 0; /* set whenever relay_seg_frame returns 1; gcc -O3 cannot tell */
    while ((r = relay_seg_frame(fd, off, size, &w, &kind, &n)) > 0) {
        if (off >= from)
            points += n;
        off += w.len;
    }
    pc_writer_done(&w);
    close(fd);
    *ret_points = points;
    *ret_valid = off;
    return r < 0 ? r : 0;
}

static int relay_seg_cmp(const void *a, const void *b)
{
    const struct relay_seg *x = a, *y = b;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int relay_spool_save_ack(struct relay_spool *sp, struct alumet_error *err)
{
    char text[64];
    int n = snprintf(text, sizeof(text), "%016" PRIx64 " %" PRIu64 "\n", sp->ack.seg, sp->ack.off);
    int fd = openat(sp->dirfd, "acked.tmp", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || write(fd, text, (size_t)n) != n || close(fd) < 0 ||
        renameat(sp->dirfd, "acked.tmp", sp->dirfd, "acked") < 0) {
        int r = -errno;
        if (fd >= 0)
            close(fd);
        return alumet_error_set(err, r, "spool: cannot record the acknowledged position: %s",
                                strerror(-r));
    }
    return 0;
}

/* Delete segs[0]. */
static void relay_spool_drop_first(struct relay_spool *sp)
{
    char name[32];
    relay_seg_name(name, sizeof(name), sp->segs[0].seq);
    unlinkat(sp->dirfd, name, 0);
    sp->total -= sp->segs[0].size;
    memmove(sp->segs, sp->segs + 1, (sp->nsegs - 1) * sizeof(*sp->segs));
    sp->nsegs--;
    if (sp->nsegs) {
        struct relay_spool_pos first = {sp->segs[0].seq, 0};
        if (sp->ack.seg < first.seg)
            sp->ack = first;
        if (sp->send.seg < first.seg) {
            sp->send = first;
            sp->replay = false;
        }
    }
}

/* Delete the segments that are wholly acknowledged (never the last one). */
static void relay_spool_trim(struct relay_spool *sp)
{
    while (sp->nsegs > 1 && (sp->ack.seg > sp->segs[0].seq ||
                             (sp->ack.seg == sp->segs[0].seq && sp->ack.off >= sp->segs[0].size)))
        relay_spool_drop_first(sp);
}

int relay_spool_open(const char *dir, uint64_t max_bytes, struct relay_spool **ret,
                     uint64_t *ret_pending_points, struct alumet_error *err)
{
    if (mkdir(dir, 0700) < 0 && errno != EEXIST)
        return alumet_error_set(err, -errno, "cannot create the spool directory '%s': %s", dir,
                                strerror(errno));
    struct relay_spool *sp = calloc(1, sizeof(*sp));
    if (!sp)
        return alumet_error_set(err, -ENOMEM, "out of memory");
    sp->cur_fd = -1;
    sp->max_bytes = max_bytes;
    sp->seg_max = max_bytes / 16 > 65536 ? max_bytes / 16 : 65536;
    sp->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int r = 0;
    DIR *d = NULL;
    if (sp->dirfd < 0 || !(d = fdopendir(dup(sp->dirfd)))) {
        r = alumet_error_set(err, -errno, "cannot open the spool directory '%s': %s", dir,
                             strerror(errno));
        goto err_free;
    }
    struct dirent *e;
    while ((e = readdir(d))) {
        char *end;
        uint64_t seq = strtoull(e->d_name, &end, 16);
        struct stat st;
        if (strlen(e->d_name) != 20 || strcmp(end, ".seg") != 0 ||
            fstatat(sp->dirfd, e->d_name, &st, 0) < 0)
            continue;
        struct relay_seg *segs = realloc(sp->segs, (sp->nsegs + 1) * sizeof(*segs));
        if (!segs) {
            r = alumet_error_set(err, -ENOMEM, "out of memory");
            break;
        }
        sp->segs = segs;
        sp->segs[sp->nsegs++] = (struct relay_seg){seq, (uint64_t)st.st_size, 0, 0};
    }
    closedir(d);
    if (r < 0)
        goto err_free;
    if (sp->nsegs)
        qsort(sp->segs, sp->nsegs, sizeof(*sp->segs), relay_seg_cmp);
    /* the acknowledged position of the previous run */
    FILE *f = NULL;
    int afd = openat(sp->dirfd, "acked", O_RDONLY | O_CLOEXEC);
    if (afd >= 0 && (f = fdopen(afd, "r"))) {
        uint64_t seg, off;
        if (fscanf(f, "%" SCNx64 " %" SCNu64, &seg, &off) == 2)
            sp->ack = (struct relay_spool_pos){seg, off};
        fclose(f);
    } else if (afd >= 0) {
        close(afd);
    }
    while (sp->nsegs && sp->segs[0].seq < sp->ack.seg)
        relay_spool_drop_first(sp);
    if (sp->nsegs && sp->ack.seg != sp->segs[0].seq)
        sp->ack = (struct relay_spool_pos){sp->segs[0].seq, 0};
    uint64_t pending = 0;
    for (size_t i = 0; i < sp->nsegs; i++) {
        uint64_t valid;
        uint64_t from = i == 0 ? sp->ack.off : 0;
        r = relay_seg_scan(sp, sp->segs[i].seq, sp->segs[i].size, from, &sp->segs[i].points,
                           &valid);
        if (r < 0) {
            relay_spool_errno(err, r, "read", sp->segs[i].seq);
            goto err_free;
        }
        sp->segs[i].size = valid; /* a torn last frame (crash) is ignored */
        sp->total += valid;
        pending += sp->segs[i].points;
    }
    if (sp->nsegs && sp->ack.off > sp->segs[0].size)
        sp->ack.off = sp->segs[0].size;
    sp->send = sp->ack;
    relay_spool_rewind(sp);
    *ret = sp;
    *ret_pending_points = pending;
    return 0;

err_free:
    relay_spool_free(sp);
    return r;
}

void relay_spool_free(struct relay_spool *sp)
{
    if (!sp)
        return;
    if (sp->cur_fd >= 0)
        close(sp->cur_fd);
    if (sp->dirfd >= 0)
        close(sp->dirfd);
    free(sp->segs);
    free(sp);
}

bool relay_spool_need_rotate(const struct relay_spool *sp)
{
    return sp->cur_fd < 0 || sp->segs[sp->nsegs - 1].size >= sp->seg_max;
}

static int relay_spool_write(struct relay_spool *sp, const void *frame, size_t len,
                             struct alumet_error *err)
{
    struct relay_seg *last = &sp->segs[sp->nsegs - 1];
    size_t done = 0;
    while (done < len) {
        ssize_t n =
            pwrite(sp->cur_fd, (const char *)frame + done, len - done, (off_t)(last->size + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int r = -errno;
            /* a partial frame is cut at the next open; here forget it */
            return relay_spool_errno(err, r, "write", last->seq);
        }
        done += (size_t)n;
    }
    last->size += len;
    sp->total += len;
    return 0;
}

int relay_spool_rotate(struct relay_spool *sp, const void *header, size_t len,
                       struct alumet_error *err)
{
    uint64_t seq = sp->nsegs ? sp->segs[sp->nsegs - 1].seq + 1 : (sp->ack.seg ? sp->ack.seg : 1);
    struct relay_seg *segs = realloc(sp->segs, (sp->nsegs + 1) * sizeof(*segs));
    if (!segs)
        return alumet_error_set(err, -ENOMEM, "out of memory");
    sp->segs = segs;
    int fd = relay_seg_open(sp, seq, O_RDWR | O_CREAT | O_TRUNC);
    if (fd < 0)
        return relay_spool_errno(err, fd, "create", seq);
    if (sp->cur_fd >= 0)
        close(sp->cur_fd);
    sp->cur_fd = fd;
    sp->segs[sp->nsegs++] = (struct relay_seg){seq, 0, 0, 0};
    if (sp->nsegs == 1)
        sp->ack = sp->send = (struct relay_spool_pos){seq, 0};
    return relay_spool_write(sp, header, len, err);
}

int relay_spool_append(struct relay_spool *sp, const void *frame, size_t len, uint64_t points,
                       uint64_t *ret_dropped, struct alumet_error *err)
{
    int r = relay_spool_write(sp, frame, len, err);
    if (r < 0)
        return r;
    sp->segs[sp->nsegs - 1].points += points;
    while (sp->total > sp->max_bytes && sp->nsegs > 1) {
        *ret_dropped += sp->segs[0].points - sp->segs[0].acked;
        relay_spool_drop_first(sp);
    }
    return 0;
}

void relay_spool_rewind(struct relay_spool *sp)
{
    sp->send = sp->ack;
    sp->replay = sp->ack.off > 0;
    sp->replay_off = 0;
}

static const struct relay_seg *relay_spool_seg(const struct relay_spool *sp, uint64_t seq)
{
    for (size_t i = 0; i < sp->nsegs; i++)
        if (sp->segs[i].seq == seq)
            return &sp->segs[i];
    return NULL;
}

int relay_spool_next(struct relay_spool *sp, struct pc_writer *out,
                     struct relay_spool_pos *ret_after, uint64_t *ret_points,
                     struct alumet_error *err)
{
    for (;;) {
        const struct relay_seg *seg = relay_spool_seg(sp, sp->send.seg);
        if (!seg)
            return 0;
        uint64_t off = sp->replay ? sp->replay_off : sp->send.off;
        if (sp->replay && off >= sp->send.off) {
            sp->replay = false;
            continue;
        }
        if (off >= seg->size) {
            if (seg == &sp->segs[sp->nsegs - 1])
                return 0;
            sp->send = (struct relay_spool_pos){seg[1].seq, 0};
            continue;
        }
        int fd = seg == &sp->segs[sp->nsegs - 1] && sp->cur_fd >= 0
                     ? dup(sp->cur_fd)
                     : relay_seg_open(sp, seg->seq, O_RDONLY);
        if (fd < 0)
            return relay_spool_errno(err, fd < 0 ? -errno : fd, "open", seg->seq);
        uint32_t kind;
        uint64_t points = 0; /* set when r is 1; gcc -O3 cannot tell */
        int r = relay_seg_frame(fd, off, seg->size, out, &kind, &points);
        close(fd);
        if (r < 0)
            return relay_spool_errno(err, r, "read", seg->seq);
        if (r == 0)
            return alumet_error_set(err, -EBADMSG,
                                    "spool: segment %016" PRIx64 " is damaged at offset %" PRIu64,
                                    seg->seq, off);
        if (sp->replay) {
            sp->replay_off += out->len;
            if (kind != RELAY_MSG_REGISTER_METRICS)
                continue;
            *ret_after = sp->ack; /* nothing new is acknowledged by these */
            *ret_points = 0;
            return 1;
        }
        sp->send.off += out->len;
        *ret_after = sp->send;
        *ret_points = points;
        return 1;
    }
}

void relay_spool_ack(struct relay_spool *sp, struct relay_spool_pos pos, uint64_t points)
{
    for (size_t i = 0; i < sp->nsegs; i++)
        if (sp->segs[i].seq == pos.seg)
            sp->segs[i].acked += points;
    if (pos.seg > sp->ack.seg || (pos.seg == sp->ack.seg && pos.off > sp->ack.off))
        sp->ack = pos;
    relay_spool_trim(sp);
}

int relay_spool_save(struct relay_spool *sp, struct alumet_error *err)
{
    return relay_spool_save_ack(sp, err);
}

bool relay_spool_pending(const struct relay_spool *sp)
{
    if (!sp->nsegs)
        return false;
    const struct relay_seg *last = &sp->segs[sp->nsegs - 1];
    return sp->ack.seg < last->seq || sp->ack.off < last->size;
}

uint64_t relay_spool_pending_points(const struct relay_spool *sp)
{
    uint64_t n = 0;
    for (size_t i = 0; i < sp->nsegs; i++)
        n += sp->segs[i].points - sp->segs[i].acked;
    return n;
}
