// Records two synthetic cameras into an embedded pstor engine through the
// C++ face (pstor-ffi/cxx/include/pstor.hpp), reads them back and checks
// every byte, prints the recorded ranges, locks a range, prints the day's
// video inspection, stores, reads and deletes a picture, then makes
// deliberate mistakes and checks the error numbers. Finally it reopens the
// engine and reads again.
//
//   record DATA_DIR
//
// DATA_DIR must exist and be empty. Built with -Wall -Wextra -Werror
// -pedantic and run under valgrind by scripts/test-cpp.sh. Exits 1 on any
// unexpected outcome.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <filesystem>
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
    std::printf("%-36s -> %3u %-28.*s %s\n", what, e.code(), static_cast<int>(e.code_name().size()),
                e.code_name().data(), e.what());
    check(e.is(want), std::string(what) + ": expected code " + std::to_string(static_cast<std::uint32_t>(want)));
    return;
  }
  check(false, std::string(what) + ": no error thrown");
}

constexpr std::int64_t t0 = INT64_C(1795392000000000);  // 2026-11-23 00:00:00 UTC
constexpr int frames_per_camera = 250;                  // 10 s at 25 fps
constexpr std::int64_t frame_us = 40000;

bool is_key(int i) { return i % 50 == 0; }  // a key frame every 2 s

/// The bytes of frame `i` of camera `c`: every byte is checked on the way back.
std::vector<std::uint8_t> frame_bytes(int c, int i) {
  std::vector<std::uint8_t> b(is_key(i) ? 40000 : 8000);
  for (std::size_t j = 0; j < b.size(); j++) b[j] = static_cast<std::uint8_t>(j * 7 + i * 13 + c * 101);
  return b;
}

/// Reads all of a camera back and checks the timestamps, key flags and bytes.
void verify_camera(const pstor::Engine &engine, pstor::StreamId cam, int c) {
  int i = 0;
  for (const pstor::Frame &f : engine.read(cam, t0, t0 + frames_per_camera * frame_us)) {
    std::vector<std::uint8_t> want = frame_bytes(c, i);
    bool same = f.ts == t0 + i * frame_us && f.key == is_key(i) && f.data.size() == want.size() &&
                std::equal(f.data.begin(), f.data.end(), want.begin());
    check(same, "camera " + std::to_string(c + 1) + " frame " + std::to_string(i) + " differs");
    i++;
  }
  check(i == frames_per_camera, "camera " + std::to_string(c + 1) + ": " + std::to_string(i) + " frames read");
}

std::string ms(pstor::Timestamp ts) { return "+" + std::to_string((ts - t0) / 1000) + " ms"; }

}  // namespace

int main(int argc, char **argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DATA_DIR\n", argv[0]);
    return 2;
  }
  const std::filesystem::path root(argv[1]);
  const std::string engine_dir = (root / "engine").string();
  const std::string space_dir = (root / "space1").string();
  std::filesystem::create_directory(space_dir);

  pstor::EngineOptions opts = pstor::default_options();
  opts.min_space_capacity = 64u << 20;  // a small space for the example
  opts.segment_size = 4u << 20;

  pstor::StreamId cams[2] = {0, 0};
  try {
    pstor::Engine engine = pstor::Engine::open(engine_dir, opts);

    // A storage space, a video pool and a picture pool.
    unsigned last_progress = 0;
    pstor::SpaceId space = engine.initialize_space({.path = space_dir, .capacity = 64u << 20},
                                                   [&](unsigned pct) { last_progress = pct; });
    check(last_progress == 100, "progress ends at 100");
    pstor::PoolId video = engine.create_pool(
        {.name = "video", .kind = pstor::PoolKind::Video, .capacity = 40u << 20, .spaces = {space}, .max_lock_pct = 20});
    pstor::PoolId pictures = engine.create_pool(
        {.name = "pictures", .kind = pstor::PoolKind::Picture, .capacity = 16u << 20, .spaces = {space}});
    for (int c = 0; c < 2; c++) {
      cams[c] = engine.register_stream({.pool = video, .camera_id = "cam-" + std::to_string(c + 1)});
    }
    std::printf("space %u, video pool %u, picture pool %u, streams %" PRIu64 " %" PRIu64 "\n", space, video, pictures,
                cams[0], cams[1]);

    // Record both cameras at once, one thread each: an Engine is shared.
    std::atomic<int> thread_failures{0};
    std::vector<std::thread> writers;
    for (int c = 0; c < 2; c++) {
      writers.emplace_back([&, c] {
        try {
          for (int i = 0; i < frames_per_camera; i++) {
            std::vector<std::uint8_t> b = frame_bytes(c, i);
            engine.append(cams[c], t0 + i * frame_us, is_key(i), b);
          }
          engine.sync(cams[c]);
        } catch (const pstor::Error &e) {
          std::fprintf(stderr, "camera %d: %s (%u)\n", c + 1, e.what(), e.code());
          thread_failures++;
        }
      });
    }
    for (std::thread &t : writers) t.join();
    check(thread_failures == 0, "recording");

    // Read everything back, then seconds 3..5 of camera 2 (from the key
    // frame at second 2), pulling frames with next().
    for (int c = 0; c < 2; c++) verify_camera(engine, cams[c], c);
    pstor::FrameReader reader = engine.read(cams[1], t0 + 3000000, t0 + 5000000);
    std::size_t n = 0, bytes = 0;
    pstor::Timestamp first = 0;
    while (std::optional<pstor::Frame> f = reader.next()) {
      if (n++ == 0) first = f->ts;
      bytes += f->data.size();
    }
    std::printf("read %zu frames, %zu bytes, first at %s (the key frame)\n", n, bytes, ms(first).c_str());
    check(n == 76 && first == t0 + 2000000, "76 frames from +2000 ms");

    // Recorded ranges.
    for (int c = 0; c < 2; c++) {
      pstor::List<pstor::TimeRange> ranges = engine.recorded_ranges(cams[c], t0 - 60000000, t0 + 60000000, 1000000);
      for (const pstor::TimeRange &r : ranges) {
        std::printf("camera %d recorded %s .. %s\n", c + 1, ms(r.start).c_str(), ms(r.end).c_str());
      }
      check(ranges.size() == 1 && ranges[0].start == t0 && ranges[0].end == t0 + (frames_per_camera - 1) * frame_us,
            "one recorded range per camera");
    }

    // Locks: one until unlocked, one expiring in an hour.
    pstor::LockId evidence = engine.lock(cams[0], t0 + 2000000, t0 + 4000000);
    auto in_an_hour = std::chrono::duration_cast<std::chrono::microseconds>(
                          (std::chrono::system_clock::now() + std::chrono::hours(1)).time_since_epoch())
                          .count();
    pstor::LockId brief = engine.lock(cams[1], t0, t0 + 1000000, in_an_hour);
    for (const pstor::LockInfo &l : engine.locks()) {
      std::printf("lock %" PRIu64 ": stream %" PRIu64 " %s .. %s%s\n", l.id, l.stream, ms(l.range.start).c_str(),
                  ms(l.range.end).c_str(), l.has_expiry ? ", expires in an hour" : "");
    }
    check(engine.locks().size() == 2, "two locks");
    engine.unlock(brief);
    pstor::List<pstor::LockInfo> locks = engine.locks();
    check(locks.size() == 1 && locks[0].id == evidence && locks[0].stream == cams[0] && !locks[0].has_expiry,
          "the evidence lock remains");

    // Video inspection of the recorded day.
    pstor::DayInspection day = engine.inspect_day(cams[0], {.year = 2026, .month = 11, .day = 23});
    std::printf("inspection of 2026-11-23, camera 1: %" PRIu64 " s recorded, %u exception hours\n", day.recorded_secs,
                day.exception_hours);
    for (const pstor::HourInspection &h : day.hours) {
      if (h.recorded_secs > 0) {
        std::printf("  %02u:00  %4u s recorded, %zu gaps%s\n", h.hour, h.recorded_secs, h.gaps.size(),
                    h.exception ? " (exception hour)" : "");
      }
    }
    check(day.hours.size() == 24 && day.recorded_secs >= 9 && day.recorded_secs <= 10 && day.hours[0].exception,
          "the day has 10 s of video, in hour 0");

    // A picture: put, get by id and by key, head, list, delete.
    std::vector<std::uint8_t> jpeg(30000);
    for (std::size_t j = 0; j < jpeg.size(); j++) jpeg[j] = static_cast<std::uint8_t>(j * 31 + 5);
    pstor::PictureId id = engine.put_picture(
        pictures, {.camera_id = "cam-1", .captured_at = t0 + 1000000, .key = pstor::PictureKey{"plates", "a.jpg"}}, jpeg);
    engine.sync_pictures(pictures);
    {
      pstor::Picture pic = engine.get_picture(id);
      pstor::Picture moved = std::move(pic);  // the bytes stay where they are
      pstor::Bytes data = moved.data();
      check(std::equal(data.begin(), data.end(), jpeg.begin(), jpeg.end()), "picture bytes");
      pstor::PictureInfo info = moved.info();
      std::printf("picture %.*s: %" PRIu64 " bytes, %s, etag %s\n", static_cast<int>(id.str().size()), id.str().data(),
                  info.size, std::string(info.content_type).c_str(), std::string(info.etag).c_str());
      check(info.size == jpeg.size() && info.has_key && std::string(info.bucket) == "plates", "picture info");
      check(std::string(engine.get_picture(pstor::PictureKey{"plates", "a.jpg"}).info().id) == id.str(), "get by key");
      check(std::string(engine.head_picture(id).etag) == std::string(info.etag), "head");
      check(engine.list_pictures({.pool = pictures, .camera_id = "cam-1"}).size() == 1, "list");
      check(pstor::PictureId::parse(id.str()) == id, "id round trip");
    }
    engine.delete_picture(id);
    expect_error("get a deleted picture", pstor::ErrorCode::PictureNotFound, [&] { engine.get_picture(id); });

    // Deliberate mistakes: each is a pstor::Error with its stable number.
    std::vector<std::uint8_t> small(10, 1);
    expect_error("append, unknown stream", pstor::ErrorCode::StreamNotFound,
                 [&] { engine.append(12345, t0 + 20000000, true, small); });
    expect_error("append, old timestamp", pstor::ErrorCode::OutOfOrder, [&] { engine.append(cams[0], t0, true, small); });
    expect_error("append, empty frame", pstor::ErrorCode::FrameSize,
                 [&] { engine.append(cams[0], t0 + 20000000, true, {}); });
    expect_error("register, unknown pool", pstor::ErrorCode::PoolNotFound,
                 [&] { engine.register_stream({.pool = 777, .camera_id = "cam-9"}); });
    expect_error("register, bad stream kind", pstor::ErrorCode::InvalidArgument, [&] {
      engine.register_stream({.pool = video, .camera_id = "cam-9", .kind = static_cast<pstor::StreamKind>(42)});
    });
    expect_error("register, camera id not UTF-8", pstor::ErrorCode::InvalidUtf8,
                 [&] { engine.register_stream({.pool = video, .camera_id = "cam-\xff"}); });
    expect_error("picture id, bad text", pstor::ErrorCode::InvalidPictureId,
                 [&] { pstor::PictureId::parse("not-a-picture-id"); });
    expect_error("picture into a video pool", pstor::ErrorCode::WrongPoolKind,
                 [&] { engine.put_picture(video, {.camera_id = "cam-1", .captured_at = t0}, jpeg); });
    expect_error("unlock twice", pstor::ErrorCode::LockNotFound, [&] { engine.unlock(brief); });
    expect_error("initialize, missing folder", pstor::ErrorCode::PathNotFound,
                 [&] { engine.initialize_space({.path = "/nonexistent/pstor", .capacity = 64u << 20}); });
    expect_error("inspect, no such date", pstor::ErrorCode::InvalidArgument,
                 [&] { engine.inspect_day(cams[0], {.year = 2026, .month = 2, .day = 30}); });

    // Moving the engine: the new object works, the old one says so.
    pstor::Engine owner = std::move(engine);
    expect_error("sync, moved-from engine", pstor::ErrorCode::Closed, [&] { engine.sync(cams[0]); });
    owner.sync_all();

    owner.close();
    expect_error("sync after close", pstor::ErrorCode::Closed, [&] { owner.sync(cams[0]); });
    expect_error("read after close", pstor::ErrorCode::Closed, [&] { owner.read(cams[0], t0, t0 + 1000000); });
    expect_error("unlock after close", pstor::ErrorCode::Closed, [&] { owner.unlock(evidence); });
    owner.close();  // twice is fine
  } catch (const pstor::Error &e) {
    std::fprintf(stderr, "unexpected error %u %.*s: %s\n", e.code(), static_cast<int>(e.code_name().size()),
                 e.code_name().data(), e.what());
    failures++;
  }

  // Reopen: everything synced is there, found by camera. The destructor closes.
  try {
    pstor::Engine engine = pstor::Engine::open(engine_dir, opts);
    for (int c = 0; c < 2; c++) {
      std::optional<pstor::StreamId> s = engine.find_stream("cam-" + std::to_string(c + 1), 1, pstor::StreamKind::Main);
      check(s == cams[c], "stream found after reopening");
      if (s) verify_camera(engine, *s, c);
    }
    check(!engine.find_stream("cam-9", 1, pstor::StreamKind::Main), "no cam-9");
    check(engine.spaces().size() == 1 && engine.pools().size() == 2 && engine.locks().size() == 1,
          "space, pools and lock after reopening");
  } catch (const pstor::Error &e) {
    std::fprintf(stderr, "unexpected error after reopening %u: %s\n", e.code(), e.what());
    failures++;
  }

  std::printf(failures ? "FAILED\n" : "ok\n");
  return failures ? 1 : 0;
}
