/* Error paths of the pstor C SDK's remote mode (pstor_connect) against a
 * real pstor-server: NULL and malformed options, nothing listening, a peer
 * that never answers, wrong keys; then, connected, a server's refusal with
 * the engine's number, a pipelined append's refusal reported by the next
 * call, and every call after close. Every failure must be its documented
 * result code with a message and must leave the outputs untouched;
 * valgrind (scripts/test-c-sdk.sh) checks there is no bad access or leak.
 *
 *   remote_errors HOST PORT DATA_PORT ACCESS_KEY SECRET_KEY
 *
 * The server must have a video (or mixed) pool. */
/* POSIX.1-2008 (sockets, close): declared by the system headers under -std=c11
 * only when asked for, so the documented `cc -std=c11 ...` line builds it. */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "expect.h"
#include "pstor.h"


static const int64_t T0 = INT64_C(1795392000000000);

/* A loopback TCP socket bound to a port the system chose; with `listening`
 * it accepts connections (into its backlog) and never answers. */
static int loopback_socket(int listening, uint16_t *port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || getsockname(fd, (struct sockaddr *)&a, &len) != 0 ||
      (listening && listen(fd, 8) != 0)) {
    perror("socket");
    exit(1);
  }
  *port = ntohs(a.sin_port);
  return fd;
}

int main(int argc, char **argv) {
  if (argc != 6) {
    fprintf(stderr, "usage: %s HOST PORT DATA_PORT ACCESS_KEY SECRET_KEY\n", argv[0]);
    return 2;
  }
  pstor_remote_options good;
  pstor_remote_options_default(&good);
  good.host = argv[1];
  good.signalling_port = (uint16_t)atoi(argv[2]);
  good.data_port = (uint16_t)atoi(argv[3]);
  good.access_key = argv[4];
  good.secret_key = argv[5];
  good.connect_timeout_ms = 2000;
  good.request_timeout_ms = 10000;

  pstor_engine *const sentinel = (pstor_engine *)&good; /* never dereferenced */
  pstor_engine *out = sentinel;

  /* --- options ------------------------------------------------------- */
  pstor_remote_options_default(NULL); /* a no-op */
  pstor_remote_options d;
  memset(&d, 0xab, sizeof d);
  pstor_remote_options_default(&d);
  TRUE(d.host == NULL && d.access_key == NULL && d.secret_key == NULL);
  TRUE(d.signalling_port == 6036 && d.data_port == 6037 && d.data_connections == 4);
  TRUE(d.connect_timeout_ms == 5000 && d.request_timeout_ms == 30000);

  EXPECT(pstor_connect(NULL, &out), PSTOR_NULL_PARAMETER);
  EXPECT(pstor_connect(&d, &out), PSTOR_NULL_PARAMETER); /* host and keys unset */
  EXPECT(pstor_connect(&good, NULL), PSTOR_NULL_PARAMETER);
  pstor_remote_options o = good;
  o.secret_key = NULL;
  EXPECT(pstor_connect(&o, &out), PSTOR_NULL_PARAMETER);
  const char bad_utf8[] = {'h', (char)0xff, 0};
  o = good;
  o.host = bad_utf8;
  EXPECT(pstor_connect(&o, &out), PSTOR_INVALID_UTF8);
  o = good;
  o.access_key = bad_utf8;
  EXPECT(pstor_connect(&o, &out), PSTOR_INVALID_UTF8);
  o = good;
  o.host = "";
  EXPECT(pstor_connect(&o, &out), PSTOR_INVALID_ARGUMENT);
  o = good;
  o.data_port = 0;
  EXPECT(pstor_connect(&o, &out), PSTOR_INVALID_ARGUMENT);
  o = good;
  o.request_timeout_ms = 0;
  EXPECT(pstor_connect(&o, &out), PSTOR_INVALID_ARGUMENT);
  o = good;
  o.data_connections = 0;
  EXPECT(pstor_connect(&o, &out), PSTOR_INVALID_ARGUMENT);

  /* --- the network ----------------------------------------------------- */
  uint16_t port = 0;
  close(loopback_socket(0, &port)); /* bound, then released: nothing listens */
  o = good;
  o.signalling_port = o.data_port = port;
  EXPECT(pstor_connect(&o, &out), PSTOR_DISCONNECTED);
  int mute = loopback_socket(1, &port); /* accepts, never says Hello */
  o.signalling_port = o.data_port = port;
  o.connect_timeout_ms = 300;
  EXPECT(pstor_connect(&o, &out), PSTOR_TIMEOUT);
  close(mute);
  o = good;
  o.secret_key = "not-the-secret-key-0123456789";
  EXPECT(pstor_connect(&o, &out), PSTOR_AUTH_FAILED);
  o = good;
  o.access_key = "PSAKNOBODY0000000000";
  EXPECT(pstor_connect(&o, &out), PSTOR_AUTH_FAILED);
  TRUE(out == sentinel); /* outputs are written only on success */

  /* --- connected ------------------------------------------------------ */
  pstor_engine *engine = NULL;
  OK(pstor_connect(&good, &engine));
  if (engine == NULL) return 1;
  uint32_t pool = 0;
  pstor_pool_list *pools = NULL;
  OK(pstor_pool_list_new(engine, &pools));
  for (size_t i = 0; i < pstor_pool_list_len(pools); i++) {
    pstor_pool_info p;
    OK(pstor_pool_list_at(pools, i, &p));
    if (pool == 0 && (p.kind == PSTOR_POOL_VIDEO || p.kind == PSTOR_POOL_MIXED)) pool = p.id;
  }
  pstor_pool_list_free(pools);
  TRUE(pool != 0);

  /* A server's refusal arrives with the engine's number and message. */
  uint64_t cam = 777;
  EXPECT(pstor_stream_register(engine, 424242, "cam-x", 1, PSTOR_STREAM_MAIN, "H264", &cam), PSTOR_POOL_NOT_FOUND);
  EXPECT(pstor_stream_register(engine, pool, bad_utf8, 1, PSTOR_STREAM_MAIN, "H264", &cam), PSTOR_INVALID_UTF8);
  EXPECT(pstor_stream_register(engine, pool, "cam-x", 1, 9, "H264", &cam), PSTOR_INVALID_ARGUMENT);
  TRUE(cam == 777);
  pstor_result r = pstor_stream_find(engine, "remote-errors-cam", 1, PSTOR_STREAM_MAIN, &cam);
  if (r == PSTOR_STREAM_NOT_FOUND)
    r = pstor_stream_register(engine, pool, "remote-errors-cam", 1, PSTOR_STREAM_MAIN, "H264", &cam);
  OK(r);

  /* Appends are pipelined: a refused frame is reported by the stream's
   * next append, flush or sync, once. */
  static uint8_t frame[1000];
  memset(frame, 0x5a, sizeof frame);
  int64_t ts = T0 + 365 * 86400 * INT64_C(1000000); /* after any earlier run's frames */
  pstor_stream_list *streams = NULL;
  OK(pstor_stream_list_new(engine, &streams));
  for (size_t i = 0; i < pstor_stream_list_len(streams); i++) {
    pstor_stream_info s;
    OK(pstor_stream_list_at(streams, i, &s));
    if (s.id == cam && s.has_frames && s.last_ts >= ts) ts = s.last_ts + 1000000;
  }
  pstor_stream_list_free(streams);
  OK(pstor_stream_append(engine, cam, ts, true, frame, sizeof frame));
  OK(pstor_stream_sync(engine, cam));
  OK(pstor_stream_append(engine, cam, ts - 1, true, frame, sizeof frame)); /* out of order: not known yet */
  EXPECT(pstor_stream_sync(engine, cam), PSTOR_OUT_OF_ORDER);
  OK(pstor_stream_sync(engine, cam)); /* reported once */
  OK(pstor_stream_append(engine, cam, ts + 40000, false, frame, sizeof frame));
  EXPECT(pstor_stream_append(engine, cam, ts + 80000, false, NULL, 10), PSTOR_NULL_PARAMETER);
  OK(pstor_stream_flush(engine, cam));
  {
    /* An append to a stream that does not exist is accepted (pipelined);
     * its flush says so. On a client of its own, because that client's
     * close may say it again: the close syncs every stream the client
     * appended to, and the server does not know this one. */
    pstor_engine *other = NULL;
    OK(pstor_connect(&good, &other));
    OK(pstor_stream_append(other, 987654321, ts, true, frame, sizeof frame));
    EXPECT(pstor_stream_flush(other, 987654321), PSTOR_STREAM_NOT_FOUND);
    pstor_result closed = pstor_engine_close(other);
    TRUE(closed == PSTOR_OK || closed == PSTOR_STREAM_NOT_FOUND);
    pstor_engine_free(other);
  }
  EXPECT(pstor_read_open(engine, 987654321, T0, T0 + 1, NULL), PSTOR_NULL_PARAMETER);
  pstor_frame_iter *it = NULL;
  EXPECT(pstor_read_open(engine, 987654321, T0, T0 + 1, &it), PSTOR_STREAM_NOT_FOUND);
  TRUE(it == NULL);
  size_t unfixed = 99;
  OK(pstor_engine_check(engine, false, &unfixed));
  TRUE(unfixed == 0);

  /* --- closed: the client, not the server ------------------------------ */
  OK(pstor_engine_close(engine));
  OK(pstor_engine_close(engine)); /* closing again does nothing */
  EXPECT(pstor_stream_append(engine, cam, ts + 120000, false, frame, sizeof frame), PSTOR_CLOSED);
  EXPECT(pstor_stream_sync(engine, cam), PSTOR_CLOSED);
  EXPECT(pstor_pool_list_new(engine, &pools), PSTOR_CLOSED);
  EXPECT(pstor_engine_sync_all(engine), PSTOR_CLOSED);
  pstor_engine_free(engine);
  pstor_engine_free(NULL);

  /* The server kept the data: a new client reads it back. */
  OK(pstor_connect(&good, &engine));
  size_t frames = 0;
  OK(pstor_read_open(engine, cam, ts, ts + 40000, &it));
  bool has = true;
  while (it != NULL && has) {
    pstor_frame f;
    OK(pstor_frame_iter_next(it, &f, &has));
    if (has) frames++;
  }
  pstor_frame_iter_free(it);
  TRUE(frames == 2);
  pstor_engine_free(engine); /* closes first */

  if (failures) {
    fprintf(stderr, "%d failures\n", failures);
    return 1;
  }
  printf("ok\n");
  return 0;
}
