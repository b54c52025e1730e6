/* A tour of the pstor C SDK on an embedded engine: initialize a storage
 * space (with progress), create a pool, record two synthetic cameras, read a
 * range back and check it, list the recorded ranges, lock a range, print the
 * video inspection of the day, store and read back a picture, and print the
 * events. Error paths are in pstor-ffi/tests/c/errors.c.
 *
 *   record DATA_DIR
 *
 * DATA_DIR must exist and be empty; the engine's catalog and one storage
 * space are created under it. Built with the line of pstor-ffi/README.md
 * plus -Wextra -Werror -pedantic, and run under valgrind, by
 * scripts/test-c-sdk.sh. */
/* POSIX.1-2008 (nanosleep, gmtime_r): declared by the system headers under -std=c11
 * only when asked for, so the documented `cc -std=c11 ...` line builds it. */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "pstor.h"

static int check(pstor_result r, const char *what) {
  if (r == PSTOR_OK) return 0;
  char msg[256];
  size_t n = 0;
  pstor_result_message(r, msg, sizeof msg, &n);
  fprintf(stderr, "%s failed: %u: %s\n", what, (unsigned)r, msg);
  return 1;
}

static const int64_t SEC = 1000000;

/* Initializes the space as a job, printing its progress. */
static int initialize_space(pstor_engine *engine, const char *dir, uint32_t *space) {
  pstor_space_job *job = NULL;
  if (check(pstor_space_initialize_start(engine, dir, 64u << 20, 0, &job), "start initializing")) return 1;
  uint8_t pct = 0;
  bool done = false;
  while (!check(pstor_space_job_progress(job, &pct, &done), "progress") && !done) {
    printf("initializing %s: %u%%\n", dir, (unsigned)pct);
    nanosleep(&(struct timespec){.tv_nsec = 20000000}, NULL); /* 20 ms */
  }
  int failed = check(pstor_space_job_wait(job, space), "initialize space");
  pstor_space_job_free(job);
  return failed;
}

static int print_spaces_and_pools(pstor_engine *engine) {
  pstor_space_list *spaces = NULL;
  pstor_pool_list *pools = NULL;
  int failed = check(pstor_space_list_new(engine, &spaces), "list spaces");
  for (size_t i = 0; !failed && i < pstor_space_list_len(spaces); i++) {
    pstor_space_info s;
    failed |= check(pstor_space_list_at(spaces, i, &s), "space");
    if (!failed)
      printf("space %u at %s: status %u, %" PRIu64 " MiB, %" PRIu64 " MiB reserved by pools\n", s.id, s.path,
             s.status, s.capacity >> 20, s.reserved >> 20);
  }
  failed |= check(pstor_pool_list_new(engine, &pools), "list pools");
  for (size_t i = 0; !failed && i < pstor_pool_list_len(pools); i++) {
    pstor_pool_info p;
    failed |= check(pstor_pool_list_at(pools, i, &p), "pool");
    if (!failed)
      printf("pool %u \"%s\": kind %u, %" PRIu64 " MiB, %" PRIu64 " KiB used, cycle %u days\n", p.id, p.name, p.kind,
             p.capacity >> 20, p.used >> 10, p.cycle_days);
  }
  pstor_space_list_free(spaces);
  pstor_pool_list_free(pools);
  return failed;
}

/* Reads seconds 3..5 of camera 2 back; the read starts at the key frame at
 * second 2, and every frame must be camera 2's. */
static int read_back(pstor_engine *engine, uint64_t cam, int64_t t0) {
  pstor_frame_iter *it = NULL;
  if (check(pstor_read_open(engine, cam, t0 + 3 * SEC, t0 + 5 * SEC, &it), "read")) return 1;
  size_t frames = 0, bytes = 0;
  int64_t first = 0;
  bool has = true;
  int failed = 0;
  while (!failed) {
    pstor_frame f;
    failed |= check(pstor_frame_iter_next(it, &f, &has), "next frame");
    if (failed || !has) break;
    if (frames == 0) first = f.ts;
    if (f.len < 2 || f.data[1] != 1) {
      fprintf(stderr, "frame at %" PRId64 " is not camera 2's\n", f.ts);
      failed = 1;
    }
    frames++;
    bytes += f.len;
  }
  pstor_frame_iter_free(it);
  printf("read %zu frames, %zu bytes, first at +%" PRId64 " ms (the key frame)\n", frames, bytes,
         (first - t0) / 1000);
  if (!failed && (frames != 76 || first != t0 + 2 * SEC)) {
    fprintf(stderr, "expected 76 frames from +2000 ms\n");
    failed = 1;
  }
  return failed;
}

/* Locks seconds 2..6 of a camera as evidence, and lists the locks. */
static int lock_evidence(pstor_engine *engine, uint64_t cam, int64_t t0) {
  uint64_t lock = 0;
  if (check(pstor_lock_stream(engine, cam, t0 + 2 * SEC, t0 + 6 * SEC, PSTOR_NEVER, &lock), "lock")) return 1;
  pstor_lock_list *locks = NULL;
  int failed = check(pstor_lock_list_new(engine, &locks), "list locks");
  for (size_t i = 0; !failed && i < pstor_lock_list_len(locks); i++) {
    pstor_lock_info l;
    failed |= check(pstor_lock_list_at(locks, i, &l), "lock");
    if (!failed)
      printf("lock %" PRIu64 ": stream %" PRIu64 " +%" PRId64 " s .. +%" PRId64 " s, %s\n", l.id, l.stream,
             (l.start - t0) / SEC, (l.end - t0) / SEC, l.expires == PSTOR_NEVER ? "until unlocked" : "expires");
  }
  if (!failed && pstor_lock_list_len(locks) != 1) {
    fprintf(stderr, "expected one lock\n");
    failed = 1;
  }
  pstor_lock_list_free(locks);
  return failed;
}

/* Recorded ranges and the video inspection of the day of t0. */
static int inspect(pstor_engine *engine, uint64_t cam, int64_t t0) {
  pstor_range_list *ranges = NULL;
  int failed = check(pstor_recorded_ranges(engine, cam, t0 - 3600 * SEC, t0 + 3600 * SEC, SEC, &ranges), "ranges");
  for (size_t i = 0; !failed && i < pstor_range_list_len(ranges); i++) {
    pstor_range r;
    failed |= check(pstor_range_list_at(ranges, i, &r), "range");
    if (!failed) printf("recorded: +%" PRId64 " ms .. +%" PRId64 " ms\n", (r.start - t0) / 1000, (r.end - t0) / 1000);
  }
  pstor_range_list_free(ranges);

  time_t secs = (time_t)(t0 / SEC);
  struct tm day;
  gmtime_r(&secs, &day);
  pstor_day_inspection d;
  failed |= check(pstor_inspect_day(engine, cam, day.tm_year + 1900, (uint32_t)day.tm_mon + 1, (uint32_t)day.tm_mday, &d),
                  "inspect day");
  if (failed) return failed;
  printf("inspection of %04d-%02u-%02u: %" PRIu64 " s recorded, %u exception hours of %u\n", d.year, d.month, d.day,
         d.recorded_secs, d.exception_hours, d.n_hours);
  for (uint32_t h = 0; h < d.n_hours; h++)
    if (d.hours[h].recorded_secs > 0)
      printf("  %02u:00 %4u s recorded, %u gaps%s\n", d.hours[h].hour, d.hours[h].recorded_secs, d.hours[h].gaps,
             d.hours[h].exception ? " (exception)" : "");
  if (d.recorded_secs < 9 || d.recorded_secs > 10) {
    fprintf(stderr, "expected about 10 s recorded\n");
    failed = 1;
  }
  return failed;
}

/* Stores a snapshot in a picture pool, reads it back and checks it. */
static int picture(pstor_engine *engine, uint32_t space, int64_t t0) {
  uint32_t pool = 0;
  pstor_pool_spec spec = {"pictures", PSTOR_POOL_PICTURE, 8u << 20, &space, 1, PSTOR_OVERWRITE_OLDEST, 30, 20};
  if (check(pstor_pool_create(engine, &spec, &pool), "create picture pool")) return 1;
  static uint8_t jpeg[100000];
  for (size_t i = 0; i < sizeof jpeg; i++) jpeg[i] = (uint8_t)(i * 13 + 1);
  pstor_picture_meta meta = {"cam-1", t0 + 4 * SEC, "image/jpeg", "snapshots", "cam-1/plate.jpg"};
  pstor_picture_id id;
  int failed = check(pstor_picture_put(engine, pool, &meta, jpeg, sizeof jpeg, &id), "put picture");
  failed |= !failed && check(pstor_picture_sync(engine, pool), "sync pictures");
  if (failed) return failed;
  pstor_picture *pic = NULL;
  failed |= check(pstor_picture_get(engine, id.text, &pic), "get picture");
  const uint8_t *data = NULL;
  size_t len = 0;
  pstor_picture_info info;
  failed |= !failed && check(pstor_picture_data(pic, &data, &len), "picture data");
  failed |= !failed && check(pstor_picture_info_of(pic, &info), "picture info");
  if (!failed) {
    printf("picture %s: %zu bytes of %s from %s, key %s/%s, md5 %02x%02x..\n", id.text, len, info.content_type,
           info.camera_id, info.bucket, info.key, info.md5[0], info.md5[1]);
    if (len != sizeof jpeg || memcmp(data, jpeg, len) != 0) {
      fprintf(stderr, "picture bytes differ\n");
      failed = 1;
    }
  }
  pstor_picture_free(pic);
  return failed;
}

static int print_events(pstor_engine *engine) {
  pstor_event_list *events = NULL;
  int failed = check(pstor_event_list_new(engine, 0, &events), "events");
  for (size_t i = 0; !failed && i < pstor_event_list_len(events); i++) {
    pstor_event ev;
    failed |= check(pstor_event_list_at(events, i, &ev), "event");
    if (!failed) printf("event %" PRIu64 " %s: %s\n", ev.seq, ev.kind, ev.text);
  }
  pstor_event_list_free(events);
  return failed;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s DATA_DIR\n", argv[0]);
    return 2;
  }
  char engine_dir[4096], space_dir[4096];
  snprintf(engine_dir, sizeof engine_dir, "%s/engine", argv[1]);
  snprintf(space_dir, sizeof space_dir, "%s/space1", argv[1]);
  if (mkdir(space_dir, 0755) != 0) {
    perror("mkdir");
    return 1;
  }

  pstor_engine_options opts;
  if (check(pstor_engine_options_default(&opts), "options")) return 1;
  opts.min_space_capacity = 64u << 20; /* a small space for the example */
  opts.segment_size = 4u << 20;
  pstor_engine *engine = NULL;
  if (check(pstor_engine_open(engine_dir, &opts, &engine), "open")) return 1;

  uint32_t space = 0, pool = 0;
  uint64_t cams[2] = {0, 0};
  int failed = initialize_space(engine, space_dir, &space);
  pstor_pool_spec spec = {"video", PSTOR_POOL_VIDEO, 40u << 20, &space, 1, PSTOR_OVERWRITE_OLDEST, 30, 20};
  failed |= failed || check(pstor_pool_create(engine, &spec, &pool), "create pool");
  failed |= failed || check(pstor_stream_register(engine, pool, "cam-1", 1, PSTOR_STREAM_MAIN, "H264", &cams[0]), "register");
  failed |= failed || check(pstor_stream_register(engine, pool, "cam-2", 1, PSTOR_STREAM_MAIN, "H264", &cams[1]), "register");
  if (failed) goto out;

  /* 10 s at 25 fps: a 40 KB key frame every 2 s, 8 KB frames between. */
  const int64_t t0 = INT64_C(1795392000000000); /* 2026-11-23 00:00 UTC */
  static uint8_t frame[40000];
  for (size_t i = 0; i < sizeof frame; i++) frame[i] = (uint8_t)(i * 7);
  for (int i = 0; i < 250 && !failed; i++) {
    for (int c = 0; c < 2; c++) {
      int key = i % 50 == 0;
      frame[0] = (uint8_t)i;
      frame[1] = (uint8_t)c;
      failed |= check(pstor_stream_append(engine, cams[c], t0 + i * 40000, key, frame, key ? 40000 : 8000), "append");
    }
  }
  for (int c = 0; c < 2 && !failed; c++) failed |= check(pstor_stream_sync(engine, cams[c]), "sync");

  failed |= failed || read_back(engine, cams[1], t0);
  failed |= failed || lock_evidence(engine, cams[0], t0);
  failed |= failed || inspect(engine, cams[0], t0);
  failed |= failed || picture(engine, space, t0);
  failed |= failed || print_spaces_and_pools(engine);
  failed |= failed || print_events(engine);

out:
  failed |= check(pstor_engine_close(engine), "close");
  pstor_engine_free(engine);
  printf(failed ? "FAILED\n" : "ok\n");
  return failed;
}
