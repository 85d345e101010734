/* SPDX-License-Identifier: MIT */
/* The spool of relay-client: frames come back in order with the position
 * to acknowledge, a restart resends from the first unacknowledged frame
 * (after the RegisterMetrics of its segment), and the bound drops the
 * oldest segment with its points counted. */
#include "alumet-test.h"

#include <errno.h>
#include <stdbool.h>

#include "plugins/relay/postcard.h"
#include "plugins/relay/relay-proto.h"
#include "plugins/relay/relay-spool.h"

/* A RegisterMetrics frame of one metric named name. */
static void metrics_frame(struct pc_writer *w, const char *name)
{
    struct relay_metric m = {7, {name, strlen(name)}, 1, {"J", 1}, {"", 0}};
    pc_writer_clear(w);
    assert_int_equal(relay_encode_metrics(w, "n", &m, 1), 0);
}

/* A SendMeasurements frame announcing count points, with filler bytes. */
static void points_frame(struct pc_writer *w, size_t count, size_t filler, uint8_t mark)
{
    uint8_t *b = calloc(1, filler ? filler : 1);
    assert_non_null(b);
    memset(b, mark, filler);
    pc_writer_clear(w);
    assert_int_equal(relay_encode_send(w, "n", count, b, filler), 0);
    free(b);
}

static void append(struct relay_spool *sp, const struct pc_writer *w, uint64_t points,
                   uint64_t *dropped)
{
    struct alumet_error err = {0};
    assert_int_equal(relay_spool_append(sp, w->data, w->len, points, dropped, &err), 0);
}

/* The next frame must be want (bytes), with the given points. */
static struct relay_spool_pos expect_next(struct relay_spool *sp, const struct pc_writer *want,
                                          uint64_t points)
{
    struct pc_writer got = PC_WRITER_INIT;
    struct relay_spool_pos after = {0, 0};
    uint64_t n = 99;
    struct alumet_error err = {0};
    assert_int_equal(relay_spool_next(sp, &got, &after, &n, &err), 1);
    assert_int_equal(got.len, want->len);
    assert_memory_equal(got.data, want->data, want->len);
    assert_int_equal(n, points);
    pc_writer_done(&got);
    return after;
}

static void expect_end(struct relay_spool *sp)
{
    struct pc_writer got = PC_WRITER_INIT;
    struct relay_spool_pos after;
    uint64_t n;
    struct alumet_error err = {0};
    assert_int_equal(relay_spool_next(sp, &got, &after, &n, &err), 0);
    pc_writer_done(&got);
}

static void test_restart_resends_unacknowledged(void **state)
{
    (void)state;
    char *dir = alumet_test_tmpdir();
    char spool_dir[PATH_MAX];
    snprintf(spool_dir, sizeof(spool_dir), "%s/spool", dir);
    struct relay_spool *sp;
    uint64_t pending = 99, dropped = 0;
    struct alumet_error err = {0};
    struct pc_writer h = PC_WRITER_INIT, f1 = PC_WRITER_INIT, m2 = PC_WRITER_INIT,
                     f3 = PC_WRITER_INIT;
    metrics_frame(&h, "a");
    points_frame(&f1, 2, 10, 0x11);
    metrics_frame(&m2, "b");
    points_frame(&f3, 3, 10, 0x33);

    assert_int_equal(relay_spool_open(spool_dir, 1 << 20, &sp, &pending, &err), 0);
    assert_int_equal(pending, 0);
    assert_true(relay_spool_need_rotate(sp));
    assert_int_equal(relay_spool_rotate(sp, h.data, h.len, &err), 0);
    assert_false(relay_spool_need_rotate(sp));
    append(sp, &f1, 2, &dropped);
    append(sp, &m2, 0, &dropped);
    append(sp, &f3, 3, &dropped);
    assert_int_equal(relay_spool_pending_points(sp), 5);
    struct relay_spool_pos a_h = expect_next(sp, &h, 0);
    struct relay_spool_pos a_f1 = expect_next(sp, &f1, 2);
    expect_next(sp, &m2, 0);
    expect_next(sp, &f3, 3);
    expect_end(sp);
    assert_int_equal(a_h.off, h.len);
    assert_int_equal(a_f1.off, h.len + f1.len);
    /* the server took the header and the first points, then the client stops */
    relay_spool_ack(sp, a_h, 0);
    relay_spool_ack(sp, a_f1, 2);
    assert_int_equal(relay_spool_save(sp, &err), 0);
    assert_int_equal(relay_spool_pending_points(sp), 3);
    assert_true(relay_spool_pending(sp));
    relay_spool_free(sp);

    /* the next run: the header again (its metrics), then m2 and f3 */
    assert_int_equal(relay_spool_open(spool_dir, 1 << 20, &sp, &pending, &err), 0);
    assert_int_equal(pending, 3);
    struct relay_spool_pos again = expect_next(sp, &h, 0);
    assert_int_equal(again.off, a_f1.off); /* acknowledges nothing new */
    expect_next(sp, &m2, 0);
    struct relay_spool_pos a_f3 = expect_next(sp, &f3, 3);
    expect_end(sp);
    /* a reconnection rewinds the same way */
    relay_spool_rewind(sp);
    expect_next(sp, &h, 0);
    expect_next(sp, &m2, 0);
    expect_next(sp, &f3, 3);
    relay_spool_ack(sp, a_f3, 3);
    assert_false(relay_spool_pending(sp));
    assert_int_equal(relay_spool_pending_points(sp), 0);
    /* a new segment of this run: the old one, done, is deleted */
    assert_int_equal(relay_spool_rotate(sp, h.data, h.len, &err), 0);
    append(sp, &f1, 2, &dropped);
    struct relay_spool_pos b_h = expect_next(sp, &h, 0);
    assert_int_equal(b_h.seg, a_f3.seg + 1);
    relay_spool_ack(sp, b_h, 0);
    char old_seg[PATH_MAX + 32];
    snprintf(old_seg, sizeof(old_seg), "%s/%016llx.seg", spool_dir, (unsigned long long)a_f3.seg);
    assert_int_equal(access(old_seg, F_OK), -1);
    assert_int_equal(relay_spool_save(sp, &err), 0);
    relay_spool_free(sp);
    char acked_path[PATH_MAX + 8];
    snprintf(acked_path, sizeof(acked_path), "%s/acked", spool_dir);
    char *acked = alumet_test_read_file(acked_path);
    char want[64];
    snprintf(want, sizeof(want), "%016llx %zu\n", (unsigned long long)b_h.seg, h.len);
    assert_string_equal(acked, want);
    free(acked);
    assert_int_equal(dropped, 0);
    pc_writer_done(&h);
    pc_writer_done(&f1);
    pc_writer_done(&m2);
    pc_writer_done(&f3);
    alumet_test_rmtree(dir);
}

static void test_bound_drops_oldest_segment(void **state)
{
    (void)state;
    char *dir = alumet_test_tmpdir();
    struct relay_spool *sp;
    uint64_t pending, dropped = 0;
    struct alumet_error err = {0};
    struct pc_writer h = PC_WRITER_INIT, f = PC_WRITER_INIT;
    metrics_frame(&h, "a");
    points_frame(&f, 10, 30000, 0x55);
    /* max 65536 bytes: segments of 65536 bytes (the smallest) */
    assert_int_equal(relay_spool_open(dir, 65536, &sp, &pending, &err), 0);
    for (int i = 0; i < 3; i++) {
        if (relay_spool_need_rotate(sp))
            assert_int_equal(relay_spool_rotate(sp, h.data, h.len, &err), 0);
        append(sp, &f, 10, &dropped);
    }
    /* one segment over the bound is kept: nothing else to drop */
    assert_int_equal(dropped, 0);
    assert_int_equal(relay_spool_pending_points(sp), 30);
    assert_true(relay_spool_need_rotate(sp));
    assert_int_equal(relay_spool_rotate(sp, h.data, h.len, &err), 0);
    append(sp, &f, 10, &dropped);
    assert_int_equal(dropped, 30);
    assert_int_equal(relay_spool_pending_points(sp), 10);
    /* sending starts at the segment that is left */
    expect_next(sp, &h, 0);
    expect_next(sp, &f, 10);
    expect_end(sp);
    relay_spool_free(sp);
    pc_writer_done(&h);
    pc_writer_done(&f);
    alumet_test_rmtree(dir);
}

/* A frame torn by a crash at the end of a segment is ignored. */
static void test_torn_frame_ignored(void **state)
{
    (void)state;
    char *dir = alumet_test_tmpdir();
    struct relay_spool *sp;
    uint64_t pending, dropped = 0;
    struct alumet_error err = {0};
    struct pc_writer h = PC_WRITER_INIT, f = PC_WRITER_INIT;
    metrics_frame(&h, "a");
    points_frame(&f, 4, 8, 0x77);
    assert_int_equal(relay_spool_open(dir, 1 << 20, &sp, &pending, &err), 0);
    assert_int_equal(relay_spool_rotate(sp, h.data, h.len, &err), 0);
    append(sp, &f, 4, &dropped);
    struct pc_writer half = PC_WRITER_INIT;
    pc_put_bytes(&half, f.data, f.len / 2);
    append(sp, &half, 4, &dropped);
    relay_spool_free(sp);
    assert_int_equal(relay_spool_open(dir, 1 << 20, &sp, &pending, &err), 0);
    assert_int_equal(pending, 4);
    expect_next(sp, &h, 0);
    expect_next(sp, &f, 4);
    expect_end(sp);
    relay_spool_free(sp);
    pc_writer_done(&h);
    pc_writer_done(&f);
    pc_writer_done(&half);
    alumet_test_rmtree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_restart_resends_unacknowledged),
        cmocka_unit_test(test_bound_drops_oldest_segment),
        cmocka_unit_test(test_torn_frame_ignored),
    };
    return alumet_run_tests(tests);
}
