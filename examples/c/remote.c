/* The pstor C SDK in remote mode: the same handle and calls as record.c, on
 * a pstor-server reached over the SDK protocol (ports 6036/6037). Connects
 * and authenticates, finds a video (or mixed) pool on the server, records
 * two synthetic cameras for 10 s, syncs, reads a range back and checks
 * every byte, lists the recorded ranges, locks a range for an hour, and
 * prints today's video inspection.
 *
 *   remote HOST PORT ACCESS_KEY SECRET_KEY [DATA_PORT]
 *
 * PORT is the server's signalling port; DATA_PORT defaults to PORT + 1 (as
 * 6036/6037). The keys are a pair from the server's credentials file, which
 * `pstor-server keys show` prints as shell exports; on the server's machine:
 *
 *   eval "$(pstor-server keys show --data pstor-data)"
 *   ./remote localhost 6036 "$PSTOR_ACCESS_KEY" "$PSTOR_SECRET_KEY"
 *
 * Running it again continues the same cameras after their newest frame.
 * Built with the line of pstor-ffi/README.md plus -Wextra -Werror -pedantic,
 * and run against a real pstor-server under valgrind, by
 * scripts/test-c-sdk.sh. */
/* POSIX.1-2008 (clock_gettime, CLOCK_REALTIME): declared by the system headers under -std=c11
 * only when asked for, so the documented `cc -std=c11 ...` line builds it. */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
static const int FRAMES = 250; /* 10 s at 25 fps */
static const int64_t FRAME_US = 40000;

static int64_t now_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_REALTIME, &t);
  return (int64_t)t.tv_sec * SEC + t.tv_nsec / 1000;
}

static int parse_port(const char *text, uint16_t *out) {
  char *end = NULL;
  unsigned long v = strtoul(text, &end, 10);
  if (*text == '\0' || *end != '\0' || v == 0 || v > 65535) {
    fprintf(stderr, "not a port: %s\n", text);
    return 1;
  }
  *out = (uint16_t)v;
  return 0;
}

/* The first video or mixed pool on the server. */
static int find_pool(pstor_engine *engine, uint32_t *pool) {
  pstor_pool_list *pools = NULL;
  if (check(pstor_pool_list_new(engine, &pools), "list pools")) return 1;
  int found = 0;
  for (size_t i = 0; i < pstor_pool_list_len(pools) && !found; i++) {
    pstor_pool_info p;
    if (check(pstor_pool_list_at(pools, i, &p), "pool")) break;
    if (p.kind == PSTOR_POOL_VIDEO || p.kind == PSTOR_POOL_MIXED) {
      printf("pool %u \"%s\": %" PRIu64 " MiB, %" PRIu64 " KiB used\n", p.id, p.name, p.capacity >> 20, p.used >> 10);
      *pool = p.id;
      found = 1;
    }
  }
  pstor_pool_list_free(pools);
  if (!found) fprintf(stderr, "the server has no video or mixed pool\n");
  return !found;
}

/* The camera's stream (registered on first use) and the newest frame
 * recorded on it so far (0: none). */
static int camera(pstor_engine *engine, uint32_t pool, const char *id, uint64_t *cam, int64_t *last_ts) {
  pstor_result r = pstor_stream_find(engine, id, 1, PSTOR_STREAM_MAIN, cam);
  if (r == PSTOR_STREAM_NOT_FOUND) r = pstor_stream_register(engine, pool, id, 1, PSTOR_STREAM_MAIN, "H264", cam);
  if (check(r, "find or register a camera")) return 1;
  pstor_stream_list *streams = NULL;
  if (check(pstor_stream_list_new(engine, &streams), "list streams")) return 1;
  *last_ts = 0;
  for (size_t i = 0; i < pstor_stream_list_len(streams); i++) {
    pstor_stream_info s;
    if (pstor_stream_list_at(streams, i, &s) == PSTOR_OK && s.id == *cam && s.has_frames) *last_ts = s.last_ts;
  }
  pstor_stream_list_free(streams);
  return 0;
}

/* Frame `i` of camera `c`: byte 0 is i, byte 1 the camera, the rest a
 * pattern; a 40 KB key frame every 2 s, 8 KB frames between. */
static size_t fill_frame(uint8_t *frame, int c, int i) {
  size_t len = i % 50 == 0 ? 40000 : 8000;
  for (size_t j = 0; j < len; j++) frame[j] = (uint8_t)(j * 7 + (size_t)i);
  frame[0] = (uint8_t)i;
  frame[1] = (uint8_t)c;
  return len;
}

/* Reads seconds 3..5 of camera `c` back: from the key frame at second 2,
 * 76 frames, every byte as written. */
static int read_back(pstor_engine *engine, uint64_t cam, int c, int64_t t0) {
  pstor_frame_iter *it = NULL;
  if (check(pstor_read_open(engine, cam, t0 + 3 * SEC, t0 + 5 * SEC, &it), "read")) return 1;
  static uint8_t want[40000];
  int frames = 0, failed = 0;
  int64_t first = 0;
  bool has = true;
  while (!failed) {
    pstor_frame f;
    failed |= check(pstor_frame_iter_next(it, &f, &has), "next frame");
    if (failed || !has) break;
    if (frames == 0) first = f.ts;
    int i = (int)((f.ts - t0) / FRAME_US);
    size_t len = fill_frame(want, c, i);
    if (f.len != len || memcmp(f.data, want, len) != 0 || f.key != (i % 50 == 0)) {
      fprintf(stderr, "frame %d of camera %d differs\n", i, c + 1);
      failed = 1;
    }
    frames++;
  }
  pstor_frame_iter_free(it);
  printf("read camera %d: %d frames from +%" PRId64 " ms (the key frame)\n", c + 1, frames, (first - t0) / 1000);
  if (!failed && (frames != 76 || first != t0 + 2 * SEC)) {
    fprintf(stderr, "expected 76 frames from +2000 ms\n");
    failed = 1;
  }
  return failed;
}

/* The recorded ranges around the run, a lock on seconds 2..6 for an hour,
 * and today's inspection. */
static int ranges_lock_inspect(pstor_engine *engine, uint64_t cam, int64_t t0) {
  pstor_range_list *ranges = NULL;
  int failed = check(pstor_recorded_ranges(engine, cam, t0, t0 + 20 * SEC, SEC, &ranges), "ranges");
  for (size_t i = 0; !failed && i < pstor_range_list_len(ranges); i++) {
    pstor_range r;
    failed |= check(pstor_range_list_at(ranges, i, &r), "range");
    if (!failed) printf("recorded: +%" PRId64 " ms .. +%" PRId64 " ms\n", (r.start - t0) / 1000, (r.end - t0) / 1000);
  }
  if (!failed && pstor_range_list_len(ranges) != 1) {
    fprintf(stderr, "expected one recorded range\n");
    failed = 1;
  }
  pstor_range_list_free(ranges);

  uint64_t lock = 0;
  int64_t expires = now_us() + 3600 * SEC;
  failed |= failed || check(pstor_lock_stream(engine, cam, t0 + 2 * SEC, t0 + 6 * SEC, expires, &lock), "lock");
  if (!failed) printf("lock %" PRIu64 ": +2 s .. +6 s of camera 1, for an hour\n", lock);

  pstor_day_inspection d;
  failed |= failed || check(pstor_inspect_today(engine, cam, &d), "inspect today");
  if (failed) return failed;
  printf("today (%04d-%02u-%02u, the server's calendar): %" PRIu64 " s recorded, %u exception hours of %u\n", d.year,
         d.month, d.day, d.recorded_secs, d.exception_hours, d.n_hours);
  for (uint32_t h = 0; h < d.n_hours; h++)
    if (d.hours[h].recorded_secs > 0)
      printf("  %02u:00 %4u s recorded, %u gaps%s\n", d.hours[h].hour, d.hours[h].recorded_secs, d.hours[h].gaps,
             d.hours[h].exception ? " (exception)" : "");
  return failed;
}

int main(int argc, char **argv) {
  if (argc != 5 && argc != 6) {
    fprintf(stderr, "usage: %s HOST PORT ACCESS_KEY SECRET_KEY [DATA_PORT]\n", argv[0]);
    return 2;
  }
  pstor_remote_options opts;
  pstor_remote_options_default(&opts);
  opts.host = argv[1];
  opts.access_key = argv[3];
  opts.secret_key = argv[4];
  if (parse_port(argv[2], &opts.signalling_port)) return 2;
  if (argc == 6) {
    if (parse_port(argv[5], &opts.data_port)) return 2;
  } else if (opts.signalling_port == 65535) {
    fprintf(stderr, "give DATA_PORT: PORT + 1 is not a port\n");
    return 2;
  } else {
    opts.data_port = (uint16_t)(opts.signalling_port + 1);
  }
  opts.data_connections = 2;

  pstor_engine *engine = NULL;
  if (check(pstor_connect(&opts, &engine), "connect")) return 1;
  printf("connected to %s:%u (data port %u)\n", opts.host, (unsigned)opts.signalling_port, (unsigned)opts.data_port);

  uint32_t pool = 0;
  uint64_t cams[2] = {0, 0};
  int64_t last[2] = {0, 0};
  int failed = find_pool(engine, &pool);
  failed |= failed || camera(engine, pool, "remote-cam-1", &cams[0], &last[0]);
  failed |= failed || camera(engine, pool, "remote-cam-2", &cams[1], &last[1]);
  if (failed) goto out;

  /* The 10 s up to now (the inspection counts today up to now), after
   * anything an earlier run recorded. */
  int64_t t0 = now_us() - 10 * SEC;
  for (int c = 0; c < 2; c++)
    if (last[c] + SEC > t0) t0 = last[c] + SEC;
  static uint8_t frame[40000];
  for (int i = 0; i < FRAMES && !failed; i++) {
    for (int c = 0; c < 2 && !failed; c++) {
      size_t len = fill_frame(frame, c, i);
      /* Pipelined: a refusal is reported by this stream's next call. */
      failed |= check(pstor_stream_append(engine, cams[c], t0 + i * FRAME_US, i % 50 == 0, frame, len), "append");
    }
  }
  for (int c = 0; c < 2 && !failed; c++) failed |= check(pstor_stream_sync(engine, cams[c]), "sync");
  if (!failed) printf("recorded 2 cameras x %d frames, synced (durable on the server)\n", FRAMES);

  failed |= failed || read_back(engine, cams[1], 1, t0);
  failed |= failed || read_back(engine, cams[0], 0, t0);
  failed |= failed || ranges_lock_inspect(engine, cams[0], t0);

out:
  /* Remote: closes this client's connections; the server keeps running. */
  failed |= check(pstor_engine_close(engine), "close");
  pstor_engine_free(engine);
  printf(failed ? "FAILED\n" : "ok\n");
  return failed;
}
