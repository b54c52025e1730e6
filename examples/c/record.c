/* Records two synthetic cameras into an embedded pstor engine, reads a
 * range back and checks it, then exercises error paths (NULL arguments, bad
 * ids, a frame out of order) and prints their messages.
 *
 *   record DATA_DIR
 *
 * DATA_DIR must exist and be empty; the engine's catalog and one storage
 * space are created under it. Built with -Wall -Wextra -Werror -pedantic and
 * run under valgrind by scripts/test-all.sh. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "pstor.h"

static int check(pstor_result r, const char *what) {
  if (r == PSTOR_OK) return 0;
  char msg[256];
  size_t n = 0;
  pstor_result_message(r, msg, sizeof msg, &n);
  fprintf(stderr, "%s failed: %u: %s\n", what, (unsigned)r, msg);
  return 1;
}

/* Expects `r` to be `want`, and prints its message. */
static int expect(pstor_result r, pstor_result want, const char *what) {
  char msg[256];
  size_t n = 0;
  pstor_result_message(r, msg, sizeof msg, &n);
  printf("%-34s -> %u: %s\n", what, (unsigned)r, msg);
  if (r != want) {
    fprintf(stderr, "%s: expected %u\n", what, (unsigned)want);
    return 1;
  }
  return 0;
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

  int failed = 0;
  uint32_t space = 0, pool = 0;
  uint64_t cams[2] = {0, 0};
  failed |= check(pstor_space_initialize(engine, space_dir, 64u << 20, &space), "initialize space");
  pstor_pool_spec spec = {"video", PSTOR_POOL_VIDEO, 48u << 20, &space, 1, PSTOR_OVERWRITE_OLDEST, 30, 20};
  failed |= check(pstor_pool_create(engine, &spec, &pool), "create pool");
  failed |= check(pstor_stream_register(engine, pool, "cam-1", 1, PSTOR_STREAM_MAIN, "H264", &cams[0]), "register");
  failed |= check(pstor_stream_register(engine, pool, "cam-2", 1, PSTOR_STREAM_MAIN, "H264", &cams[1]), "register");
  if (failed) goto out;

  /* 10 s at 25 fps: a 40 KB key frame every 2 s, 8 KB frames between. */
  const int64_t t0 = INT64_C(1795392000000000);
  static uint8_t frame[40000];
  for (size_t i = 0; i < sizeof frame; i++) frame[i] = (uint8_t)(i * 7);
  for (int i = 0; i < 250 && !failed; i++) {
    for (int c = 0; c < 2; c++) {
      int key = i % 50 == 0;
      frame[0] = (uint8_t)i;
      frame[1] = (uint8_t)c;
      failed |= check(pstor_stream_append(engine, cams[c], t0 + i * 40000, key, frame, key ? 40000 : 8000),
                      "append");
    }
  }
  for (int c = 0; c < 2 && !failed; c++) failed |= check(pstor_stream_sync(engine, cams[c]), "sync");
  if (failed) goto out;

  /* Read seconds 3..5 of camera 2: starts at the key frame at second 2. */
  pstor_frame_iter *it = NULL;
  failed |= check(pstor_read_open(engine, cams[1], t0 + 3000000, t0 + 5000000, &it), "read");
  size_t frames = 0, bytes = 0;
  int64_t first = 0;
  bool has = true;
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
  if (frames != 76 || first != t0 + 2000000) {
    fprintf(stderr, "expected 76 frames from +2000 ms\n");
    failed = 1;
  }

  /* Error paths: every one a result code with a message, never a crash. */
  uint64_t unused = 0;
  failed |= expect(pstor_stream_append(NULL, cams[0], t0, 1, frame, 10), PSTOR_NULL_PARAMETER, "append, NULL engine");
  failed |= expect(pstor_stream_append(engine, cams[0], t0, 1, NULL, 10), PSTOR_NULL_PARAMETER, "append, NULL data");
  failed |= expect(pstor_stream_append(engine, cams[0], t0, 1, frame, 10), PSTOR_OUT_OF_ORDER, "append, old timestamp");
  failed |= expect(pstor_stream_append(engine, 12345, t0, 1, frame, 10), PSTOR_STREAM_NOT_FOUND, "append, unknown stream");
  failed |= expect(pstor_stream_register(engine, 777, "cam-9", 1, PSTOR_STREAM_MAIN, "H264", &unused),
                   PSTOR_POOL_NOT_FOUND, "register, unknown pool");
  failed |= expect(pstor_stream_register(engine, pool, "cam-9", 1, 42, "H264", &unused), PSTOR_INVALID_ARGUMENT,
                   "register, bad stream kind");
  failed |= expect(pstor_space_initialize(engine, "/nonexistent/pstor", 64u << 20, &space), PSTOR_PATH_NOT_FOUND,
                   "initialize, missing folder");
  char tiny[4];
  size_t n = 0;
  failed |= expect(pstor_result_message(PSTOR_POOL_FULL, tiny, 0, &n), PSTOR_BUFFER_TOO_SMALL, "message, no room");

out:
  failed |= check(pstor_engine_close(engine), "close");
  failed |= expect(pstor_stream_sync(engine, cams[0]), PSTOR_CLOSED, "sync after close");
  pstor_engine_free(engine);
  printf(failed ? "FAILED\n" : "ok\n");
  return failed;
}
