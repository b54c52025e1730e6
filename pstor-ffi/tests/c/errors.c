/* Error paths of the pstor C SDK: NULL arguments, use of a closed engine,
 * unknown and malformed ids, bad enum values, full pools, lock quotas, bad
 * UTF-8, short message buffers. Every failure must be its documented result
 * code with a message, must leave the outputs untouched, and must never
 * crash; valgrind (scripts/test-c-sdk.sh) checks there is no bad access or
 * leak along the way.
 *
 *   errors DATA_DIR      (an existing, empty folder) */
/* POSIX.1-2008 (mkdir): declared by the system headers under -std=c11
 * only when asked for, so the documented `cc -std=c11 ...` line builds it. */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "expect.h"
#include "pstor.h"

static const int64_t SEC = 1000000;
static const int64_t T0 = INT64_C(1795392000000000);

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
  static uint8_t frame[40000];
  memset(frame, 0x5a, sizeof frame);

  /* --- messages ------------------------------------------------------ */
  char tiny[8];
  size_t n = 12345;
  EXPECT(pstor_result_message(PSTOR_POOL_FULL, tiny, 0, &n), PSTOR_BUFFER_TOO_SMALL);
  TRUE(n == 12345); /* outputs untouched on failure */
  EXPECT(pstor_result_message(PSTOR_POOL_FULL, NULL, 8, &n), PSTOR_NULL_PARAMETER);
  OK(pstor_result_message(PSTOR_POOL_FULL, tiny, sizeof tiny, &n));
  TRUE(n == 7 && tiny[7] == '\0'); /* cut to fit, NUL-terminated */
  char msg[128];
  OK(pstor_result_message(4242, msg, sizeof msg, &n));
  TRUE(strstr(msg, "4242") != NULL);
  /* The network's codes (remote mode) have their numbers and messages. */
  TRUE(PSTOR_PROTOCOL == 700 && PSTOR_UNSUPPORTED == 707);
  const pstor_result network[] = {PSTOR_PROTOCOL, PSTOR_AUTH_FAILED, PSTOR_UNKNOWN_REQUEST, PSTOR_FRAME_TOO_LARGE,
                                  PSTOR_BUSY,     PSTOR_TIMEOUT,     PSTOR_DISCONNECTED,    PSTOR_UNSUPPORTED};
  for (size_t i = 0; i < sizeof network / sizeof network[0]; i++) {
    OK(pstor_result_message(network[i], msg, sizeof msg, &n));
    TRUE(n > 0 && strstr(msg, "unknown result code") == NULL);
  }
  OK(pstor_result_message(PSTOR_TIMEOUT, msg, sizeof msg, &n));
  TRUE(strstr(msg, "in time") != NULL);

  /* --- opening --------------------------------------------------------- */
  pstor_engine *engine = NULL;
  pstor_engine_options opts;
  EXPECT(pstor_engine_options_default(NULL), PSTOR_NULL_PARAMETER);
  OK(pstor_engine_options_default(&opts));
  opts.min_space_capacity = 8u << 20;
  opts.segment_size = 1u << 20;
  EXPECT(pstor_engine_open(NULL, &opts, &engine), PSTOR_NULL_PARAMETER);
  EXPECT(pstor_engine_open(engine_dir, &opts, NULL), PSTOR_NULL_PARAMETER);
  EXPECT(pstor_engine_open("\xff\xfe", &opts, &engine), PSTOR_INVALID_UTF8);
  TRUE(engine == NULL);
  OK(pstor_engine_open(engine_dir, &opts, &engine));
  if (engine == NULL) return 1;

  /* --- spaces ---------------------------------------------------------- */
  uint32_t space = 99;
  EXPECT(pstor_space_initialize(engine, "/nonexistent/pstor", 16u << 20, &space), PSTOR_PATH_NOT_FOUND);
  EXPECT(pstor_space_initialize(engine, space_dir, 1u << 20, &space), PSTOR_CAPACITY_TOO_SMALL);
  TRUE(space == 99);
  pstor_space_job *job = NULL;
  EXPECT(pstor_space_initialize_start(engine, space_dir, 16u << 20, 12345, &job), PSTOR_BAD_SEGMENT_SIZE);
  TRUE(job == NULL);
  OK(pstor_space_initialize(engine, space_dir, 16u << 20, &space));
  EXPECT(pstor_space_initialize(engine, space_dir, 16u << 20, &space), PSTOR_ALREADY_INITIALIZED);
  pstor_space_list *spaces = NULL;
  EXPECT(pstor_space_status(engine, space + 1, &spaces), PSTOR_SPACE_NOT_FOUND);
  OK(pstor_space_status(engine, space, &spaces));
  pstor_space_info si;
  EXPECT(pstor_space_list_at(spaces, 1, &si), PSTOR_INVALID_ARGUMENT);
  EXPECT(pstor_space_list_at(spaces, 0, NULL), PSTOR_NULL_PARAMETER);
  EXPECT(pstor_space_list_at(NULL, 0, &si), PSTOR_NULL_PARAMETER);
  TRUE(pstor_space_list_len(NULL) == 0);
  pstor_space_list_free(spaces);
  EXPECT(pstor_space_delete(engine, space), PSTOR_SPACE_STATUS); /* only a lost space */
  EXPECT(pstor_space_job_wait(NULL, &space), PSTOR_NULL_PARAMETER);

  /* --- pools ----------------------------------------------------------- */
  uint32_t video = 0, full = 0, pics = 0, scratch = 0, none = 777;
  pstor_pool_spec spec = {"video", PSTOR_POOL_VIDEO, 4u << 20, &space, 1, PSTOR_OVERWRITE_OLDEST, 30, 0};
  pstor_pool_spec bad = spec;
  bad.kind = 9;
  EXPECT(pstor_pool_create(engine, &bad, &none), PSTOR_INVALID_ARGUMENT);
  bad = spec;
  bad.strategy = 9;
  EXPECT(pstor_pool_create(engine, &bad, &none), PSTOR_INVALID_ARGUMENT);
  bad = spec;
  bad.max_lock_pct = 300;
  EXPECT(pstor_pool_create(engine, &bad, &none), PSTOR_INVALID_ARGUMENT);
  bad = spec;
  bad.name = NULL;
  EXPECT(pstor_pool_create(engine, &bad, &none), PSTOR_NULL_PARAMETER);
  bad = spec;
  bad.spaces = NULL;
  EXPECT(pstor_pool_create(engine, &bad, &none), PSTOR_NULL_PARAMETER);
  bad = spec;
  bad.capacity = 1ull << 40;
  EXPECT(pstor_pool_create(engine, &bad, &none), PSTOR_CAPACITY_EXCEEDS_FREE);
  TRUE(none == 777);
  OK(pstor_pool_create(engine, &spec, &video));
  EXPECT(pstor_pool_create(engine, &spec, &none), PSTOR_DUPLICATE_POOL_NAME);
  pstor_pool_spec full_spec = {"full", PSTOR_POOL_VIDEO, 2u << 20, &space, 1, PSTOR_STOP_WHEN_FULL, 0, 50};
  OK(pstor_pool_create(engine, &full_spec, &full));
  pstor_pool_spec pic_spec = {"pictures", PSTOR_POOL_PICTURE, 2u << 20, &space, 1, PSTOR_OVERWRITE_OLDEST, 0, 50};
  OK(pstor_pool_create(engine, &pic_spec, &pics));
  pstor_pool_spec scratch_spec = {"scratch", PSTOR_POOL_MIXED, 2u << 20, NULL, 0, PSTOR_OVERWRITE_OLDEST, 0, 50};
  OK(pstor_pool_create(engine, &scratch_spec, &scratch));
  pstor_pool_changes edit = {PSTOR_POOL_EDIT_NAME | 0x100, "renamed", 0, 0, 0, 0};
  EXPECT(pstor_pool_edit(engine, scratch, &edit), PSTOR_INVALID_ARGUMENT);
  edit.fields = PSTOR_POOL_EDIT_NAME;
  edit.name = "video";
  EXPECT(pstor_pool_edit(engine, scratch, &edit), PSTOR_DUPLICATE_POOL_NAME);
  EXPECT(pstor_pool_edit(engine, 4242, &edit), PSTOR_POOL_NOT_FOUND);
  edit.name = "renamed";
  OK(pstor_pool_edit(engine, scratch, &edit));
  OK(pstor_pool_delete(engine, scratch));
  EXPECT(pstor_pool_delete(engine, scratch), PSTOR_POOL_NOT_FOUND);
  pstor_pool_list *pools = NULL;
  OK(pstor_pool_list_new(engine, &pools));
  TRUE(pstor_pool_list_len(pools) == 3);
  pstor_pool_list_free(pools);

  /* --- streams --------------------------------------------------------- */
  uint64_t cam = 0, cam_full = 0, unused = 555;
  EXPECT(pstor_stream_register(engine, 4242, "cam-1", 1, PSTOR_STREAM_MAIN, "H264", &unused), PSTOR_POOL_NOT_FOUND);
  EXPECT(pstor_stream_register(engine, video, "cam-1", 1, 7, "H264", &unused), PSTOR_INVALID_ARGUMENT);
  EXPECT(pstor_stream_register(engine, video, NULL, 1, PSTOR_STREAM_MAIN, "H264", &unused), PSTOR_NULL_PARAMETER);
  EXPECT(pstor_stream_register(engine, pics, "cam-1", 1, PSTOR_STREAM_MAIN, "H264", &unused), PSTOR_WRONG_POOL_KIND);
  TRUE(unused == 555);
  OK(pstor_stream_register(engine, video, "cam-1", 1, PSTOR_STREAM_MAIN, "H264", &cam));
  EXPECT(pstor_stream_register(engine, video, "cam-1", 1, PSTOR_STREAM_MAIN, "H264", &unused), PSTOR_STREAM_EXISTS);
  OK(pstor_stream_register(engine, full, "cam-2", 1, PSTOR_STREAM_MAIN, "H264", &cam_full));
  EXPECT(pstor_stream_find(engine, "cam-9", 1, PSTOR_STREAM_MAIN, &unused), PSTOR_STREAM_NOT_FOUND);
  OK(pstor_stream_find(engine, "cam-1", 1, PSTOR_STREAM_MAIN, &unused));
  TRUE(unused == cam);

  OK(pstor_stream_append(engine, cam, T0, true, frame, 1000));
  EXPECT(pstor_stream_append(NULL, cam, T0 + 1, true, frame, 10), PSTOR_NULL_PARAMETER);
  EXPECT(pstor_stream_append(engine, cam, T0 + 1, true, NULL, 10), PSTOR_NULL_PARAMETER);
  EXPECT(pstor_stream_append(engine, cam, T0 + 1, true, NULL, 0), PSTOR_FRAME_SIZE);
  EXPECT(pstor_stream_append(engine, cam, T0 - 1, true, frame, 10), PSTOR_OUT_OF_ORDER);
  EXPECT(pstor_stream_append(engine, cam, T0, true, frame, 10), PSTOR_DUPLICATE_TIMESTAMP);
  EXPECT(pstor_stream_append(engine, 4242, T0, true, frame, 10), PSTOR_STREAM_NOT_FOUND);
  EXPECT(pstor_stream_sync(engine, 4242), PSTOR_STREAM_NOT_FOUND);
  OK(pstor_stream_sync(engine, cam));

  /* A stop-when-full pool of 2 MiB refuses frames once full. */
  pstor_result r = PSTOR_OK;
  for (int i = 0; i < 200 && r == PSTOR_OK; i++) {
    r = pstor_stream_append(engine, cam_full, T0 + i * SEC / 25, i % 25 == 0, frame, sizeof frame);
    if (r == PSTOR_OK && i % 10 == 9) r = pstor_stream_sync(engine, cam_full);
  }
  EXPECT(r, PSTOR_POOL_FULL);

  /* --- reads ----------------------------------------------------------- */
  pstor_frame_iter *it = NULL;
  EXPECT(pstor_read_open(engine, 4242, T0, T0 + SEC, &it), PSTOR_STREAM_NOT_FOUND);
  EXPECT(pstor_read_open(engine, cam, T0, T0 + SEC, NULL), PSTOR_NULL_PARAMETER);
  TRUE(it == NULL);
  OK(pstor_read_open(engine, cam, T0, T0 + SEC, &it));
  pstor_frame f;
  bool has = false;
  EXPECT(pstor_frame_iter_next(it, NULL, &has), PSTOR_NULL_PARAMETER);
  EXPECT(pstor_frame_iter_next(NULL, &f, &has), PSTOR_NULL_PARAMETER);
  OK(pstor_frame_iter_next(it, &f, &has));
  TRUE(has && f.ts == T0 && f.len == 1000);
  OK(pstor_frame_iter_next(it, &f, &has));
  TRUE(!has);
  pstor_frame_iter_free(it);
  pstor_frame_iter_free(NULL);
  pstor_range_list *ranges = NULL;
  EXPECT(pstor_recorded_ranges(engine, 4242, T0, T0 + SEC, SEC, &ranges), PSTOR_STREAM_NOT_FOUND);
  TRUE(ranges == NULL);

  /* --- locks ----------------------------------------------------------- */
  uint64_t lock = 0;
  EXPECT(pstor_lock_stream(engine, cam, T0, T0 + SEC, PSTOR_NEVER, &lock), PSTOR_LOCK_QUOTA_EXCEEDED); /* quota 0 % */
  EXPECT(pstor_lock_stream(engine, 4242, T0, T0 + SEC, PSTOR_NEVER, &lock), PSTOR_STREAM_NOT_FOUND);
  EXPECT(pstor_unlock(engine, 4242), PSTOR_LOCK_NOT_FOUND);
  EXPECT(pstor_lock_extend(engine, 4242, PSTOR_NEVER), PSTOR_LOCK_NOT_FOUND);
  EXPECT(pstor_lock_pictures(engine, pics, "", T0, T0 + SEC, PSTOR_NEVER, &lock), PSTOR_INVALID_ARGUMENT);
  OK(pstor_lock_stream(engine, cam_full, T0, T0 + SEC / 10, PSTOR_NEVER, &lock)); /* one segment: within the 50 % of 2 MiB */
  EXPECT(pstor_pool_delete(engine, full), PSTOR_POOL_HAS_LOCKS);
  OK(pstor_unlock(engine, lock));

  /* --- inspection ------------------------------------------------------ */
  pstor_day_inspection day;
  pstor_month_inspection month;
  EXPECT(pstor_inspect_day(engine, cam, 2026, 13, 1, &day), PSTOR_INVALID_ARGUMENT);
  EXPECT(pstor_inspect_day(engine, cam, 2026, 2, 30, &day), PSTOR_INVALID_ARGUMENT);
  EXPECT(pstor_inspect_day(engine, 4242, 2026, 11, 23, &day), PSTOR_STREAM_NOT_FOUND);
  EXPECT(pstor_inspect_month(engine, cam, 2026, 0, &month), PSTOR_INVALID_ARGUMENT);
  OK(pstor_inspect_month(engine, cam, 2026, 11, &month));
  TRUE(month.n_days == 30);

  /* --- pictures -------------------------------------------------------- */
  pstor_picture_meta meta = {"cam-1", T0, "image/jpeg", NULL, NULL};
  pstor_picture_id id;
  memset(&id, 'x', sizeof id);
  EXPECT(pstor_picture_put(engine, video, &meta, frame, 100, &id), PSTOR_WRONG_POOL_KIND);
  EXPECT(pstor_picture_put(engine, 4242, &meta, frame, 100, &id), PSTOR_POOL_NOT_FOUND);
  EXPECT(pstor_picture_put(engine, pics, &meta, frame, 0, &id), PSTOR_PICTURE_SIZE);
  meta.camera_id = "";
  EXPECT(pstor_picture_put(engine, pics, &meta, frame, 100, &id), PSTOR_INVALID_ARGUMENT);
  meta.camera_id = "cam-1";
  meta.bucket = "b";
  EXPECT(pstor_picture_put(engine, pics, &meta, frame, 100, &id), PSTOR_NULL_PARAMETER); /* bucket without key */
  TRUE(id.text[0] == 'x');
  meta.key = "k";
  OK(pstor_picture_put(engine, pics, &meta, frame, 100, &id));
  TRUE(strlen(id.text) == PSTOR_PICTURE_ID_LEN);
  pstor_picture *pic = NULL;
  EXPECT(pstor_picture_get(engine, "not-an-id", &pic), PSTOR_INVALID_PICTURE_ID);
  EXPECT(pstor_picture_get(engine, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA*", &pic), PSTOR_INVALID_PICTURE_ID);
  EXPECT(pstor_picture_get(engine, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", &pic), PSTOR_PICTURE_NOT_FOUND);
  char forged[PSTOR_PICTURE_ID_LEN + 1];
  memcpy(forged, id.text, sizeof forged);
  forged[PSTOR_PICTURE_ID_LEN - 1] = forged[PSTOR_PICTURE_ID_LEN - 1] == 'A' ? 'B' : 'A'; /* another cookie */
  EXPECT(pstor_picture_get(engine, forged, &pic), PSTOR_PICTURE_NOT_FOUND);
  EXPECT(pstor_picture_get_by_key(engine, "b", "missing", &pic), PSTOR_KEY_NOT_FOUND);
  EXPECT(pstor_picture_get_range(engine, id.text, 90, 20, &pic), PSTOR_INVALID_ARGUMENT);
  TRUE(pic == NULL);
  OK(pstor_picture_get_by_key(engine, "b", "k", &pic));
  const uint8_t *data = NULL;
  size_t len = 0;
  OK(pstor_picture_data(pic, &data, &len));
  TRUE(len == 100 && memcmp(data, frame, 100) == 0);
  pstor_picture_free(pic);
  OK(pstor_picture_delete(engine, id.text));
  EXPECT(pstor_picture_delete(engine, id.text), PSTOR_PICTURE_NOT_FOUND);
  EXPECT(pstor_picture_head(engine, id.text, &pic), PSTOR_PICTURE_NOT_FOUND);
  EXPECT(pstor_picture_delete_by_key(engine, "b", "k"), PSTOR_KEY_NOT_FOUND);
  pstor_picture_query q = {pics, NULL, T0 + SEC, T0, 10, NULL, 0};
  pstor_picture_list *found = NULL;
  EXPECT(pstor_picture_list_new(engine, &q, &found), PSTOR_INVALID_ARGUMENT); /* start after end */
  q.start = T0 - SEC;
  q.end = T0 + SEC;
  q.after_id = "bad";
  EXPECT(pstor_picture_list_new(engine, &q, &found), PSTOR_INVALID_PICTURE_ID);
  q.after_id = NULL;
  OK(pstor_picture_list_new(engine, &q, &found));
  TRUE(pstor_picture_list_len(found) == 0); /* the one picture was deleted */
  pstor_picture_list_free(found);

  /* --- after close: every call says PSTOR_CLOSED ------------------------ */
  /* The close completes, and reports the frames still buffered for the full
   * pool (never acknowledged by a sync) that it could not store. */
  EXPECT(pstor_engine_close(engine), PSTOR_POOL_FULL);
  OK(pstor_engine_close(engine)); /* closing again is harmless */
  EXPECT(pstor_stream_append(engine, cam, T0 + 10 * SEC, true, frame, 10), PSTOR_CLOSED);
  EXPECT(pstor_stream_sync(engine, cam), PSTOR_CLOSED);
  EXPECT(pstor_read_open(engine, cam, T0, T0 + SEC, &it), PSTOR_CLOSED);
  EXPECT(pstor_pool_list_new(engine, &pools), PSTOR_CLOSED);
  EXPECT(pstor_space_list_new(engine, &spaces), PSTOR_CLOSED);
  EXPECT(pstor_picture_put(engine, pics, &meta, frame, 100, &id), PSTOR_CLOSED);
  EXPECT(pstor_lock_stream(engine, cam, T0, T0 + SEC, PSTOR_NEVER, &lock), PSTOR_CLOSED);
  EXPECT(pstor_pool_create(engine, &spec, &none), PSTOR_CLOSED);
  pstor_engine_free(engine);
  pstor_engine_free(NULL);

  printf(failures ? "%d FAILED\n" : "all error paths ok\n", failures);
  return failures != 0;
}
