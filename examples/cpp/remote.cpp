// The C++ face in remote mode: the same pstor::Engine as record.cpp, on a
// pstor-server reached over the SDK protocol (ports 6036/6037). Connects
// (pstor::Engine::connect), finds a video or mixed pool on the server,
// records two synthetic cameras from two threads, syncs, reads everything
// back and checks every byte, locks a range for an hour, prints today's
// video inspection, then makes deliberate mistakes and checks the error
// numbers (wrong key, unknown pool, an out-of-order frame reported by the
// next sync, calls after close).
//
//   remote HOST PORT ACCESS_KEY SECRET_KEY [DATA_PORT]
//
// PORT is the signalling port; DATA_PORT defaults to PORT + 1 (as
// 6036/6037). The keys are a pair from the server's credentials file, which
// `pstor-server keys show` prints as shell exports; on the server's machine:
//
//   eval "$(pstor-server keys show --data pstor-data)"
//   ./remote localhost 6036 "$PSTOR_ACCESS_KEY" "$PSTOR_SECRET_KEY"
//
// Running it again continues the cameras after their newest frame. Built
// with the line of pstor-ffi/cxx/README.md and run against a real
// pstor-server under valgrind by scripts/test-cpp.sh. Exits 1 on any
// unexpected outcome.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "pstor.hpp"

namespace {

int failures = 0;

void check(bool ok, const std::string &what) {
  if (!ok) {
    std::fprintf(stderr, "FAILED: %s\n", what.c_str());
    failures++;
  }
}

/// Runs `f`, which must throw pstor::Error `want`.
template <class F>
void expect_error(const char *what, pstor::ErrorCode want, F &&f) {
  try {
    f();
  } catch (const pstor::Error &e) {
    std::printf("%-34s -> %3u %-26.*s %s\n", what, e.code(), static_cast<int>(e.code_name().size()),
                e.code_name().data(), e.what());
    check(e.is(want), std::string(what) + ": expected code " + std::to_string(static_cast<std::uint32_t>(want)));
    return;
  }
  check(false, std::string(what) + ": no error thrown");
}

constexpr int frames_per_camera = 250;  // 10 s at 25 fps
constexpr std::int64_t frame_us = 40000;
constexpr std::int64_t sec = 1000000;

bool is_key(int i) { return i % 50 == 0; }  // a key frame every 2 s

/// The bytes of frame `i` of camera `c`: every byte is checked on the way back.
std::vector<std::uint8_t> frame_bytes(int c, int i) {
  std::vector<std::uint8_t> b(is_key(i) ? 40000 : 8000);
  for (std::size_t j = 0; j < b.size(); j++) b[j] = static_cast<std::uint8_t>(j * 7 + i * 13 + c * 101);
  return b;
}

pstor::Timestamp now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::uint16_t port(const char *text) {
  char *end = nullptr;
  unsigned long v = std::strtoul(text, &end, 10);
  if (*text == '\0' || *end != '\0' || v == 0 || v > 65535) {
    std::fprintf(stderr, "not a port: %s\n", text);
    std::exit(2);
  }
  return static_cast<std::uint16_t>(v);
}

/// The camera's stream (registered on first use) and its newest recorded
/// frame (0 if none).
std::pair<pstor::StreamId, pstor::Timestamp> camera(const pstor::Engine &engine, pstor::PoolId pool,
                                                    const std::string &id) {
  std::optional<pstor::StreamId> cam = engine.find_stream(id, 1, pstor::StreamKind::Main);
  if (!cam) return {engine.register_stream({.pool = pool, .camera_id = id}), 0};
  pstor::List<pstor::TimeRange> ranges =
      engine.recorded_ranges(*cam, 0, std::numeric_limits<pstor::Timestamp>::max(), 0);
  return {*cam, ranges.empty() ? 0 : ranges[ranges.size() - 1].end};
}

/// Reads a camera's run back and checks the timestamps, key flags and bytes.
void verify_camera(const pstor::Engine &engine, pstor::StreamId cam, int c, pstor::Timestamp t0) {
  int i = 0;
  for (const pstor::Frame &f : engine.read(cam, t0, t0 + (frames_per_camera - 1) * frame_us)) {
    std::vector<std::uint8_t> want = frame_bytes(c, i);
    bool same = f.ts == t0 + i * frame_us && f.key == is_key(i) && f.data.size() == want.size() &&
                std::equal(f.data.begin(), f.data.end(), want.begin());
    check(same, "camera " + std::to_string(c + 1) + " frame " + std::to_string(i) + " differs");
    i++;
  }
  check(i == frames_per_camera, "camera " + std::to_string(c + 1) + ": " + std::to_string(i) + " frames read");
}

}  // namespace

int main(int argc, char **argv) {
  if (argc != 5 && argc != 6) {
    std::fprintf(stderr, "usage: %s HOST PORT ACCESS_KEY SECRET_KEY [DATA_PORT]\n", argv[0]);
    return 2;
  }
  pstor::RemoteOptions opts{.host = argv[1], .access_key = argv[3], .secret_key = argv[4]};
  opts.signalling_port = port(argv[2]);
  opts.data_port = argc == 6 ? port(argv[5]) : static_cast<std::uint16_t>(opts.signalling_port + 1);
  opts.data_connections = 2;

  // Wrong keys never get a connection.
  expect_error("connect, wrong secret key", pstor::ErrorCode::AuthFailed, [&] {
    pstor::RemoteOptions wrong = opts;
    wrong.secret_key = "not-the-secret-key-0123456789";
    pstor::Engine::connect(wrong);
  });
  expect_error("connect, empty host", pstor::ErrorCode::InvalidArgument, [&] {
    pstor::RemoteOptions wrong = opts;
    wrong.host.clear();
    pstor::Engine::connect(wrong);
  });

  try {
    pstor::Engine engine = pstor::Engine::connect(opts);
    std::printf("connected to %s:%u (data port %u)\n", opts.host.c_str(), opts.signalling_port, opts.data_port);

    pstor::PoolId pool = 0;
    for (const pstor::PoolInfo &p : engine.pools()) {
      if (pool == 0 && (p.kind == pstor::PoolKind::Video || p.kind == pstor::PoolKind::Mixed)) {
        pool = p.id;
        std::printf("pool %u \"%s\": %" PRIu64 " MiB, %" PRIu64 " KiB used\n", p.id, std::string(p.name).c_str(),
                    p.capacity >> 20, p.used >> 10);
      }
    }
    if (pool == 0) throw pstor::Error(pstor::ErrorCode::PoolNotFound, "the server has no video or mixed pool");

    // The 10 s up to now (the inspection counts today up to now), after
    // anything an earlier run recorded.
    auto [cam1, last1] = camera(engine, pool, "remote-cpp-cam-1");
    auto [cam2, last2] = camera(engine, pool, "remote-cpp-cam-2");
    const pstor::StreamId cams[2] = {cam1, cam2};
    const pstor::Timestamp t0 = std::max({now_us() - 10 * sec, last1 + sec, last2 + sec});

    // Record both cameras at once, one thread each: an Engine is shared.
    std::atomic<int> thread_failures{0};
    std::vector<std::thread> writers;
    for (int c = 0; c < 2; c++) {
      writers.emplace_back([&, c] {
        try {
          for (int i = 0; i < frames_per_camera; i++) {
            std::vector<std::uint8_t> b = frame_bytes(c, i);
            engine.append(cams[c], t0 + i * frame_us, is_key(i), b);  // pipelined
          }
          engine.sync(cams[c]);  // durable on the server (and reports any refused frame)
        } catch (const pstor::Error &e) {
          std::fprintf(stderr, "camera %d: %s (%u)\n", c + 1, e.what(), e.code());
          thread_failures++;
        }
      });
    }
    for (std::thread &t : writers) t.join();
    check(thread_failures == 0, "recording");
    std::printf("recorded 2 cameras x %d frames from 2 threads, synced\n", frames_per_camera);

    for (int c = 0; c < 2; c++) verify_camera(engine, cams[c], c, t0);
    pstor::FrameReader reader = engine.read(cams[1], t0 + 3 * sec, t0 + 5 * sec);
    std::size_t n = 0;
    pstor::Timestamp first = 0;
    while (std::optional<pstor::Frame> f = reader.next()) {
      if (n++ == 0) first = f->ts;
    }
    std::printf("read %zu frames of camera 2 from +%" PRId64 " ms (the key frame)\n", n, (first - t0) / 1000);
    check(n == 76 && first == t0 + 2 * sec, "76 frames from +2000 ms");

    pstor::LockId lock = engine.lock(cams[0], t0 + 2 * sec, t0 + 6 * sec, now_us() + 3600 * sec);
    bool listed = false;
    for (const pstor::LockInfo &l : engine.locks()) listed |= l.id == lock && l.stream == cams[0] && l.has_expiry;
    check(listed, "the lock is listed");
    std::printf("lock %" PRIu64 ": +2 s .. +6 s of camera 1, for an hour\n", lock);

    pstor::Date today = engine.today();
    pstor::DayInspection day = engine.inspect_day(cams[0], today);
    std::printf("today (%04d-%02u-%02u, the server's calendar), camera 1: %" PRIu64 " s recorded, %u exception hours\n",
                today.year, today.month, today.day, day.recorded_secs, day.exception_hours);
    for (const pstor::HourInspection &h : day.hours) {
      if (h.recorded_secs > 0) {
        std::printf("  %02u:00  %4u s recorded, %zu gaps%s\n", h.hour, h.recorded_secs, h.gaps.size(),
                    h.exception ? " (exception hour)" : "");
      }
    }

    // Deliberate mistakes: the server's refusals carry the engine's numbers.
    std::vector<std::uint8_t> small(10, 1);
    expect_error("register, unknown pool", pstor::ErrorCode::PoolNotFound,
                 [&] { engine.register_stream({.pool = 777, .camera_id = "cam-9"}); });
    expect_error("append old frame, then sync", pstor::ErrorCode::OutOfOrder, [&] {
      engine.append(cams[0], t0, true, small);  // pipelined: accepted here...
      engine.sync(cams[0]);                     // ...refused by the server, reported here
    });
    engine.sync(cams[0]);  // reported once: the stream goes on
    expect_error("read, unknown stream", pstor::ErrorCode::StreamNotFound, [&] { engine.read(12345, t0, t0 + sec); });

    // Closing closes this client; the server keeps running.
    engine.close();
    expect_error("sync after close", pstor::ErrorCode::Closed, [&] { engine.sync(cams[0]); });
    engine.close();  // twice is fine
  } catch (const pstor::Error &e) {
    std::fprintf(stderr, "unexpected error %u %.*s: %s\n", e.code(), static_cast<int>(e.code_name().size()),
                 e.code_name().data(), e.what());
    failures++;
  }
  std::printf(failures ? "FAILED\n" : "ok\n");
  return failures ? 1 : 0;
}
