// pstor.hpp: the C++ face of pstor, a storage engine for video surveillance.
//
// A thin C++20 layer over the cxx bridge of crate pstor-cxx: every call goes
// to the Rust engine, embedded (Engine::open) or on a pstor-server
// (Engine::connect); this header only adapts types (std::string_view and
// std::span in, RAII objects out) and turns errors into pstor::Error.
//
// Build: `cargo build --release -p pstor-cxx`, then compile with
// `-std=c++20 -Ipstor-ffi/cxx/include -Itarget/cxxbridge` and link
// target/release/libpstor_cxx.a (see pstor-ffi/cxx/README.md).
//
// Errors: every fallible call throws pstor::Error, whose code() is the stable
// number of docs/error-codes.md (the same as the C API's pstor_result).
//
// Threads: a pstor::Engine may be used from many threads at once (its
// methods are const). A FrameReader, Picture or SpaceJob is used by one
// thread at a time.
//
// Lifetimes: a Frame's data is valid until the reader moves on (next
// increment or next()) or is destroyed; a Picture's data as long as that
// Picture. Readers, pictures and jobs may outlive the Engine object that made
// them: they keep what they need alive, so they stay memory-safe. After
// close(), every Engine method throws PSTOR_CLOSED.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <iterator>
#include <limits>
#include <optional>
#include <ostream>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "pstor-cxx/src/bridge.rs.h"
#include "rust/cxx.h"

namespace pstor {

// ---- plain types ------------------------------------------------------------

/// Storage space id.
using SpaceId = std::uint32_t;
/// Resource pool id.
using PoolId = std::uint32_t;
/// Stream id (never 0).
using StreamId = std::uint64_t;
/// Lock id (never 0).
using LockId = std::uint64_t;
/// Microseconds since the Unix epoch, UTC.
using Timestamp = std::int64_t;
/// Bytes passed in or handed out; never owned by the span.
using Bytes = std::span<const std::uint8_t>;

/// A list returned by the engine: a rust::Vec (range-for, size(), [],
/// begin()/end()). Its strings are rust::String: `std::string(s)` converts,
/// `<<` prints.
template <class T>
using List = rust::Vec<T>;

using ErrorCode = ffi::ErrorCode;
using PoolKind = ffi::PoolKind;
using OverwriteStrategy = ffi::OverwriteStrategy;
using StreamKind = ffi::StreamKind;
using SpaceStatus = ffi::SpaceStatus;
using PoolStatus = ffi::PoolStatus;
using EngineOptions = ffi::EngineOptions;
using TimeRange = ffi::TimeRange;
using Date = ffi::Date;
using HourInspection = ffi::HourInspection;
using DayInspection = ffi::DayInspection;
using DaySummary = ffi::DaySummary;
using SpaceInfo = ffi::SpaceInfo;
using PoolInfo = ffi::PoolInfo;
using LockInfo = ffi::LockInfo;
using PictureInfo = ffi::PictureInfo;

/// The production defaults (5 GiB minimum space, 256 MiB segments, UTC).
inline EngineOptions default_options() { return ffi::default_engine_options(); }

// ---- errors -------------------------------------------------------------------

/// What every failing call throws. what() is the detailed message (which
/// object, and why); code() the stable number.
class Error : public std::runtime_error {
 public:
  Error(std::uint32_t code, const std::string &message) : std::runtime_error(message), code_(code) {}
  Error(ErrorCode code, const std::string &message) : Error(static_cast<std::uint32_t>(code), message) {}

  /// The stable number (docs/error-codes.md), e.g. 302.
  std::uint32_t code() const noexcept { return code_; }
  /// The same as an enum; may hold a number this header has no name for.
  ErrorCode error_code() const noexcept { return static_cast<ErrorCode>(code_); }
  /// Whether this is the error `c`.
  bool is(ErrorCode c) const noexcept { return error_code() == c; }
  /// The C name, e.g. "PSTOR_POOL_NOT_FOUND" ("PSTOR_UNKNOWN" if unknown).
  std::string_view code_name() const noexcept { return view(ffi::error_code_name(code_)); }
  /// The code's one-line description.
  std::string_view description() const noexcept { return view(ffi::error_code_description(code_)); }

 private:
  static std::string_view view(rust::Str s) noexcept { return {s.data(), s.size()}; }
  std::uint32_t code_;
};

namespace detail {

/// Runs a bridge call; a Rust error becomes pstor::Error with its number,
/// which the Rust side left in a thread-local just before cxx threw.
template <class F>
decltype(auto) call(F &&f) {
  try {
    return std::forward<F>(f)();
  } catch (const rust::Error &e) {
    std::uint32_t code = ffi::last_error_code();
    throw Error(code != 0 ? code : static_cast<std::uint32_t>(ErrorCode::Unknown), e.what());
  } catch (const std::invalid_argument &e) {
    // Only rust::Str's constructor throws this here: text that is not UTF-8.
    throw Error(ErrorCode::InvalidUtf8, e.what());
  }
}

inline rust::Str str(std::string_view s) { return rust::Str(s.data(), s.size()); }
inline rust::Slice<const std::uint8_t> slice(Bytes b) noexcept { return {b.data(), b.size()}; }
template <class T>
rust::Slice<const T> slice(const std::vector<T> &v) noexcept {
  return {v.data(), v.size()};
}
inline Bytes span(rust::Slice<const std::uint8_t> s) noexcept { return {s.data(), s.size()}; }

/// A rust::Box that can be moved from and then tells so, instead of
/// dereferencing null.
template <class T>
class Handle {
 public:
  Handle(rust::Box<T> b, ErrorCode moved_code, const char *moved_what) noexcept
      : box_(std::move(b)), moved_code_(moved_code), moved_what_(moved_what) {}
  Handle(Handle &&o) noexcept : box_(std::move(o.box_)), moved_code_(o.moved_code_), moved_what_(o.moved_what_) {
    o.box_.reset();
  }
  Handle &operator=(Handle &&o) noexcept {
    if (this != &o) {
      box_ = std::move(o.box_);
      o.box_.reset();
    }
    return *this;
  }
  Handle(const Handle &) = delete;
  Handle &operator=(const Handle &) = delete;
  ~Handle() = default;

  const T &get() const {
    if (!box_) throw Error(moved_code_, moved_what_);
    return **box_;
  }
  T &get() {
    if (!box_) throw Error(moved_code_, moved_what_);
    return **box_;
  }

 private:
  std::optional<rust::Box<T>> box_;
  ErrorCode moved_code_;
  const char *moved_what_;
};

}  // namespace detail

// ---- picture ids ------------------------------------------------------------

/// A picture's id: 32 URL-safe characters naming where it is stored. A value
/// type; parse() checks the form, the engine checks the rest.
class PictureId {
 public:
  static constexpr std::size_t chars = 32;

  /// Throws Error (PSTOR_INVALID_PICTURE_ID) if `text` is not an id.
  static PictureId parse(std::string_view text) {
    detail::call([&] { ffi::check_picture_id(detail::str(text)); });
    return PictureId(text);
  }
  /// The 32-character text.
  std::string_view str() const noexcept { return {text_, chars}; }
  friend bool operator==(const PictureId &a, const PictureId &b) noexcept { return a.str() == b.str(); }
  friend std::ostream &operator<<(std::ostream &os, const PictureId &id) { return os << id.str(); }

 private:
  friend class Engine;
  PictureId() = default;
  /// From text the engine made (already well formed).
  explicit PictureId(std::string_view text) noexcept { text.copy(text_, chars); }
  char text_[chars] = {};
};

// ---- inputs -------------------------------------------------------------------

/// Where and how to reach a pstor-server (Engine::connect). Set `host`,
/// `access_key` and `secret_key`; the rest has the defaults of the manual's
/// ports and of the remote client.
struct RemoteOptions {
  /// Host name or address of the server.
  std::string host{};
  /// SDK signalling port.
  std::uint16_t signalling_port = 6036;
  /// SDK data port.
  std::uint16_t data_port = 6037;
  /// The access key (the public half of the key pair).
  std::string access_key{};
  /// The secret key: never sent; it keys the handshake's HMAC.
  std::string secret_key{};
  /// How long to wait for a TCP connection and its handshake.
  std::chrono::milliseconds connect_timeout{5000};
  /// How long to wait for a reply.
  std::chrono::milliseconds request_timeout{30000};
  /// Parallel data connections for appends, reads and pictures.
  std::uint32_t data_connections = 4;
};

/// A folder to initialize into a storage space.
struct SpaceSpec {
  std::string path{};
  std::uint64_t capacity = 0;
  /// Segment size in bytes; 0: the engine's option.
  std::uint64_t segment_size = 0;
};

/// A new resource pool.
struct PoolSpec {
  std::string name{};
  PoolKind kind = PoolKind::Video;
  std::uint64_t capacity = 0;
  std::vector<SpaceId> spaces{};
  OverwriteStrategy strategy = OverwriteStrategy::OverwriteOldest;
  /// Retention in days (0: until overwritten).
  std::uint32_t cycle_days = 30;
  /// Most of the capacity that locks may hold, in percent.
  std::uint8_t max_lock_pct = 10;
};

/// A camera stream to register.
struct StreamSpec {
  PoolId pool = 0;
  std::string camera_id{};
  std::uint32_t channel = 1;
  StreamKind kind = StreamKind::Main;
  std::string codec = "H264";
  /// Opaque codec configuration (e.g. SPS/PPS), returned to readers as is.
  std::vector<std::uint8_t> codec_config{};
};

/// Where a picture may also be found by name (S3-style).
struct PictureKey {
  std::string bucket{};
  std::string key{};
};

/// What is stored beside a picture's bytes.
struct PictureMeta {
  std::string camera_id{};
  Timestamp captured_at = 0;
  std::string content_type = "image/jpeg";
  std::optional<PictureKey> key{};
};

/// A listing of a pool's pictures by capture time.
struct PictureQuery {
  PoolId pool = 0;
  /// Empty: every camera.
  std::string camera_id{};
  Timestamp start = 0;
  Timestamp end = std::numeric_limits<Timestamp>::max();
  std::size_t limit = 100;
  /// The last result of the previous page (capture time, id).
  std::optional<std::pair<Timestamp, PictureId>> after{};
};

// ---- results ------------------------------------------------------------------

/// One frame. `data` is valid until the reader that returned it moves on or
/// is destroyed.
struct Frame {
  Timestamp ts = 0;
  bool key = false;
  Bytes data{};
};

/// Frames of a time range, in order, from the key frame at or before the
/// range's start: an input range (read once).
///
///     for (const pstor::Frame& f : engine.read(cam, start, end)) { ... }
///
/// A damaged or overwritten record throws Error (PSTOR_CORRUPT,
/// PSTOR_OVERWRITTEN) from the increment, after the frames before it.
class FrameReader {
 public:
  class iterator {
   public:
    using value_type = Frame;
    using difference_type = std::ptrdiff_t;
    using reference = const Frame &;
    using iterator_category = std::input_iterator_tag;

    iterator() = default;
    reference operator*() const noexcept { return frame_; }
    const Frame *operator->() const noexcept { return &frame_; }
    iterator &operator++() {
      advance();
      return *this;
    }
    void operator++(int) { advance(); }
    friend bool operator==(const iterator &it, std::default_sentinel_t) noexcept { return it.reader_ == nullptr; }

   private:
    friend class FrameReader;
    explicit iterator(FrameReader *r) : reader_(r) { advance(); }
    void advance() {
      if (auto f = reader_->next()) {
        frame_ = *f;
      } else {
        reader_ = nullptr;
        frame_ = Frame{};
      }
    }
    FrameReader *reader_ = nullptr;
    Frame frame_;
  };

  /// The next frame, or nullopt at the end of the range.
  std::optional<Frame> next() {
    ffi::FrameReader &r = inner_.get();
    if (!detail::call([&] { return r.next(); })) return std::nullopt;
    return Frame{r.ts(), r.key(), detail::span(r.data())};
  }
  /// Moves to the first frame not yet read.
  iterator begin() { return iterator(this); }
  std::default_sentinel_t end() const noexcept { return {}; }

 private:
  friend class Engine;
  explicit FrameReader(rust::Box<ffi::FrameReader> r)
      : inner_(std::move(r), ErrorCode::InvalidArgument, "this pstor::FrameReader was moved from") {}
  detail::Handle<ffi::FrameReader> inner_;
};

static_assert(std::input_iterator<FrameReader::iterator>);
static_assert(std::sentinel_for<std::default_sentinel_t, FrameReader::iterator>);

/// A picture read back; owns its bytes.
class Picture {
 public:
  /// Its metadata.
  PictureInfo info() const { return inner_.get().info(); }
  /// Its bytes, valid as long as this Picture (moving it keeps them valid).
  Bytes data() const { return detail::span(inner_.get().data()); }

 private:
  friend class Engine;
  explicit Picture(rust::Box<ffi::Picture> p)
      : inner_(std::move(p), ErrorCode::InvalidArgument, "this pstor::Picture was moved from") {}
  detail::Handle<ffi::Picture> inner_;
};

/// A running storage space initialization or restore. Destroying it
/// without wait() lets the job finish in the background.
class SpaceJob {
 public:
  /// The space being initialized.
  SpaceId space() const { return inner_.get().space(); }
  /// Progress in percent.
  unsigned progress() const { return inner_.get().progress(); }
  /// Whether it has finished (wait() then returns at once).
  bool finished() const { return inner_.get().is_finished(); }
  /// Asks it to stop; wait() then throws PSTOR_CANCELLED.
  void cancel() const { inner_.get().cancel(); }
  /// Waits for the end; the space id, or throws what went wrong.
  SpaceId wait() {
    ffi::SpaceJob &j = inner_.get();
    return detail::call([&] { return j.wait(); });
  }

 private:
  friend class Engine;
  explicit SpaceJob(rust::Box<ffi::SpaceJob> j)
      : inner_(std::move(j), ErrorCode::InvalidArgument, "this pstor::SpaceJob was moved from") {}
  detail::Handle<ffi::SpaceJob> inner_;
};

// ---- the engine -------------------------------------------------------------

/// An open pstor engine. Movable, not copyable; the destructor closes it
/// (errors then go unseen: call close() to see them). Every method may be
/// called from many threads at once. After close() (or on a moved-from
/// Engine) calls throw PSTOR_CLOSED.
class Engine {
 public:
  /// Called with the progress in percent while a space is initialized.
  using ProgressFn = std::function<void(unsigned percent)>;

  /// Opens (or creates) the engine whose catalog is in folder `data_dir`.
  static Engine open(std::string_view data_dir, const EngineOptions &options = default_options()) {
    return Engine(detail::call([&] { return ffi::open_engine(detail::str(data_dir), options); }));
  }

  /// Connects to a pstor-server and authenticates (mutually); every method
  /// then goes to the server over the SDK protocol. Throws
  /// PSTOR_AUTH_FAILED (wrong keys), PSTOR_DISCONNECTED (nothing listening),
  /// PSTOR_TIMEOUT, PSTOR_BUSY, PSTOR_INVALID_ARGUMENT (an empty host, a
  /// port, timeout or connection count of 0). See pstor-ffi/cxx/README.md
  /// ("Remote mode") for what differs from an embedded engine.
  static Engine connect(const RemoteOptions &options) {
    return Engine(detail::call([&] {
      return ffi::connect_engine(detail::str(options.host), options.signalling_port, options.data_port,
                                 detail::str(options.access_key), detail::str(options.secret_key),
                                 options.connect_timeout.count(), options.request_timeout.count(),
                                 options.data_connections);
    }));
  }

  /// Clean shutdown: flushes and syncs everything and writes the
  /// clean-shutdown checkpoint. Closing twice is fine. Remote: closes the
  /// client's connections (the server keeps running) and reports an append
  /// failure not reported yet.
  void close() const {
    call([&](const ffi::Engine &e) { e.close(); });
  }

  // -- storage spaces

  /// Starts initializing `spec.path` (an existing, empty folder) into a
  /// storage space; poll or wait on the job.
  SpaceJob start_initialize_space(const SpaceSpec &spec) const {
    return SpaceJob(call([&](const ffi::Engine &e) {
      return e.initialize_space(detail::str(spec.path), spec.capacity, spec.segment_size);
    }));
  }
  /// Initializes a storage space and waits for it, reporting progress to
  /// `on_progress` (if any) every `poll`. Returns the new space's id.
  SpaceId initialize_space(const SpaceSpec &spec, const ProgressFn &on_progress = nullptr,
                           std::chrono::milliseconds poll = std::chrono::milliseconds(20)) const {
    SpaceJob job = start_initialize_space(spec);
    while (on_progress && !job.finished()) {
      on_progress(job.progress());
      std::this_thread::sleep_for(poll);
    }
    SpaceId id = job.wait();
    if (on_progress) on_progress(100);
    return id;
  }
  /// Starts restoring a storage space found on disk that this engine does
  /// not know (its pools, streams and locks come with it).
  SpaceJob start_restore_space(std::string_view path) const {
    return SpaceJob(call([&](const ffi::Engine &e) { return e.restore_space(detail::str(path)); }));
  }
  /// Every storage space.
  List<SpaceInfo> spaces() const {
    return call([&](const ffi::Engine &e) { return e.spaces(); });
  }

  // -- resource pools

  /// Creates a resource pool; its id.
  PoolId create_pool(const PoolSpec &spec) const {
    return call([&](const ffi::Engine &e) {
      return e.create_pool(detail::str(spec.name), spec.kind, spec.capacity, detail::slice(spec.spaces), spec.strategy,
                           spec.cycle_days, spec.max_lock_pct);
    });
  }
  /// Deletes a pool that holds no streams and no locks.
  void delete_pool(PoolId pool) const {
    call([&](const ffi::Engine &e) { e.delete_pool(pool); });
  }
  /// Every resource pool.
  List<PoolInfo> pools() const {
    return call([&](const ffi::Engine &e) { return e.pools(); });
  }

  // -- streams and recording

  /// Registers a camera stream; its id.
  StreamId register_stream(const StreamSpec &spec) const {
    return call([&](const ffi::Engine &e) {
      return e.register_stream(spec.pool, detail::str(spec.camera_id), spec.channel, spec.kind, detail::str(spec.codec),
                               detail::slice(spec.codec_config));
    });
  }
  /// The id of a registered stream, if there is one.
  std::optional<StreamId> find_stream(std::string_view camera_id, std::uint32_t channel, StreamKind kind) const {
    StreamId id = call([&](const ffi::Engine &e) { return e.find_stream(detail::str(camera_id), channel, kind); });
    return id != 0 ? std::optional<StreamId>(id) : std::nullopt;
  }
  /// Appends one frame (its bytes are copied). Timestamps must increase.
  void append(StreamId stream, Timestamp ts, bool key, Bytes data) const {
    call([&](const ffi::Engine &e) { e.append(stream, ts, key, detail::slice(data)); });
  }
  /// Returns once the stream's appended frames are durable.
  void sync(StreamId stream) const {
    call([&](const ffi::Engine &e) { e.sync(stream); });
  }
  /// Returns once every stream's appended frames are durable.
  void sync_all() const {
    call([&](const ffi::Engine &e) { e.sync_all(); });
  }

  // -- reading

  /// Frames of `[start, end]` (µs UTC, inclusive), from the key frame at or
  /// before `start`.
  FrameReader read(StreamId stream, Timestamp start, Timestamp end) const {
    return FrameReader(call([&](const ffi::Engine &e) { return e.read(stream, start, end); }));
  }
  /// The recorded stretches of `[start, end]`, merging gaps up to
  /// `tolerance_us`.
  List<TimeRange> recorded_ranges(StreamId stream, Timestamp start, Timestamp end, std::int64_t tolerance_us) const {
    return call([&](const ffi::Engine &e) { return e.recorded_ranges(stream, start, end, tolerance_us); });
  }

  // -- locks

  /// Protects a stream's `[start, end]` against overwrite and retention,
  /// until unlock() or `expires` (µs UTC).
  LockId lock(StreamId stream, Timestamp start, Timestamp end, std::optional<Timestamp> expires = std::nullopt) const {
    return call([&](const ffi::Engine &e) { return e.lock(stream, start, end, expires.has_value(), expires.value_or(0)); });
  }
  /// Protects one camera's pictures in a pool, captured within `[start, end]`.
  LockId lock_pictures(PoolId pool, std::string_view camera_id, Timestamp start, Timestamp end,
                       std::optional<Timestamp> expires = std::nullopt) const {
    return call([&](const ffi::Engine &e) {
      return e.lock_pictures(pool, detail::str(camera_id), start, end, expires.has_value(), expires.value_or(0));
    });
  }
  /// Removes a lock.
  void unlock(LockId lock) const {
    call([&](const ffi::Engine &e) { e.unlock(lock); });
  }
  /// The locks in force.
  List<LockInfo> locks() const {
    return call([&](const ffi::Engine &e) { return e.locks(); });
  }

  // -- video inspection

  /// Today in the engine's time zone (EngineOptions::utc_offset_minutes).
  Date today() const {
    return call([&](const ffi::Engine &e) { return e.today(); });
  }
  /// Per hour of `date`: recorded seconds, gaps, exception hours.
  DayInspection inspect_day(StreamId stream, Date date) const {
    return call([&](const ffi::Engine &e) { return e.inspect_day(stream, date); });
  }
  /// Per day of a month: recorded seconds and exception hours.
  List<DaySummary> inspect_month(StreamId stream, std::int32_t year, std::uint32_t month) const {
    return call([&](const ffi::Engine &e) { return e.inspect_month(stream, year, month); });
  }

  // -- pictures

  /// Stores a picture in a picture or mixed pool; readable at once, durable
  /// after sync_pictures().
  PictureId put_picture(PoolId pool, const PictureMeta &meta, Bytes data) const {
    rust::String id = call([&](const ffi::Engine &e) {
      static const PictureKey none;
      const PictureKey &k = meta.key ? *meta.key : none;
      return e.put_picture(pool, detail::str(meta.camera_id), meta.captured_at, detail::str(meta.content_type),
                           meta.key.has_value(), detail::str(k.bucket), detail::str(k.key), detail::slice(data));
    });
    return PictureId(std::string_view(id.data(), id.size()));
  }
  /// Returns once the pool's stored pictures are durable.
  void sync_pictures(PoolId pool) const {
    call([&](const ffi::Engine &e) { e.sync_pictures(pool); });
  }
  /// Reads a picture (one positioned read, checked).
  Picture get_picture(const PictureId &id) const {
    return Picture(call([&](const ffi::Engine &e) { return e.get_picture(detail::str(id.str())); }));
  }
  /// Reads the picture stored under a bucket and key.
  Picture get_picture(const PictureKey &key) const {
    return Picture(
        call([&](const ffi::Engine &e) { return e.get_picture_by_key(detail::str(key.bucket), detail::str(key.key)); }));
  }
  /// A picture's metadata without its bytes.
  PictureInfo head_picture(const PictureId &id) const {
    return call([&](const ffi::Engine &e) { return e.head_picture(detail::str(id.str())); });
  }
  /// Deletes a picture: it is never served again.
  void delete_picture(const PictureId &id) const {
    call([&](const ffi::Engine &e) { e.delete_picture(detail::str(id.str())); });
  }
  /// Pictures of a pool by capture time, then id.
  List<PictureInfo> list_pictures(const PictureQuery &q) const {
    return call([&](const ffi::Engine &e) {
      Timestamp after_ts = q.after ? q.after->first : 0;
      std::string_view after_id = q.after ? q.after->second.str() : std::string_view();
      return e.list_pictures(q.pool, detail::str(q.camera_id), q.start, q.end, q.limit, after_ts,
                             detail::str(after_id));
    });
  }

 private:
  explicit Engine(rust::Box<ffi::Engine> e)
      : inner_(std::move(e), ErrorCode::Closed, "this pstor::Engine was moved from") {}

  template <class F>
  auto call(F &&f) const -> std::invoke_result_t<F, const ffi::Engine &> {
    const ffi::Engine &e = inner_.get();
    return detail::call([&] { return f(e); });
  }

  detail::Handle<ffi::Engine> inner_;
};

}  // namespace pstor
