#!/usr/bin/env python3
"""capacity_test: will this volume keep up with my cameras, and how many days
of video will the pool hold?

Simulates N cameras recording at a given bitrate (key frame every GOP frames,
frames paced in real time unless --max-speed) and, optionally, a stream of
pictures (snapshots, plate crops), against a pstor resource pool: embedded
in --data, or on a pstor-server with --remote. Embedded, on a fresh folder
it initializes a storage space of --capacity-gib and a pool using all of it;
later runs reuse them. Remote, it uses the server's pool --pool (created on
first use in the server's storage space with the most room, at most
--capacity-gib). Without --pool, on a server with no room for a new pool
whose space is all in one pool that takes video (the embedded default of
`pstor-server run`: one mixed pool "default"), it records into that pool.
Writers run in threads (pstor releases the GIL during its calls); each
camera's frames are synced once per second of stream time (one group commit
per writer thread).

It reports the sustained write rate, append and sync latency percentiles,
pictures per second, whether the writers kept up with real time, and the
retention the pool's capacity gives at this load. --json prints one JSON
object instead of the text summary.

Examples:
  python capacity_test.py --data /mnt/disk1/pstor-test --capacity-gib 50 \\
      --cameras 64 --bitrate-mbit 4 --seconds 60
  python capacity_test.py --data /tmp/t --capacity-gib 0.1 --cameras 4 --seconds 3 --json
  eval "$(pstor-server keys show --data pstor-data)"   # on the server: exports PSTOR_ACCESS_KEY, PSTOR_SECRET_KEY
  python capacity_test.py --remote localhost:6036 --capacity-gib 20 --cameras 32 --seconds 60
"""

from __future__ import annotations

import argparse
import json
import math
import os
import pathlib
import sys
import threading
import time

# The pstor package, imported by main() once the arguments are parsed, so
# that --help and usage errors work where it is not installed.
pstor = None

GIB = 1 << 30
DEFAULT_SIGNALLING_PORT = 6036
MIB = 1 << 20
POOL_NAME = "capacity-test"
DEFAULT_SEGMENT = 256 * MIB


def positive(kind):
    def parse(text):
        try:
            v = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if not v > 0 or (isinstance(v, float) and not math.isfinite(v)):
            raise argparse.ArgumentTypeError(f"must be > 0: {text!r}")
        return v

    return parse


def non_negative(text):
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if v < 0 or not math.isfinite(v):
        raise argparse.ArgumentTypeError(f"must be >= 0: {text!r}")
    return v


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        prog="capacity_test.py",
        description=__doc__.split("\n\n")[0] + "\n\n" + __doc__.split("\n\n", 1)[1].split("Examples:")[0],
        epilog="Examples:" + __doc__.split("Examples:")[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    g = p.add_argument_group("storage (give --data, or --remote)")
    g.add_argument("--data", type=pathlib.Path, metavar="DIR",
                   help="embedded: folder for the test: DIR/engine (catalog) and DIR/space (the storage space); "
                        "created with a space and pool on first run, reused later")
    g.add_argument("--remote", metavar="HOST[:PORT]",
                   help="remote: a pstor-server's address and signalling port (default port: 6036)")
    g.add_argument("--data-port", type=positive(int), metavar="N",
                   help="remote: the server's data port (default: the signalling port + 1, as 6036/6037)")
    g.add_argument("--access-key", default=os.environ.get("PSTOR_ACCESS_KEY"), metavar="KEY",
                   help="remote: the access key (default: $PSTOR_ACCESS_KEY)")
    g.add_argument("--secret-key", default=os.environ.get("PSTOR_SECRET_KEY"), metavar="KEY",
                   help="remote: the secret key (default: $PSTOR_SECRET_KEY, which keeps it out of the process list)")
    g.add_argument("--pool", metavar="NAME",
                   help=f"remote: the server's pool to record into (default: {POOL_NAME}, created if missing; "
                        "if there is no room for it and exactly one pool takes video, that pool)")
    g.add_argument("--capacity-gib", type=positive(float), default=10.0, metavar="G",
                   help="embedded: size of the storage space to create on a fresh DIR (default: 10); remote: the "
                        "most the pool created on the server may take")
    g.add_argument("--segment-mib", type=positive(int), default=None, metavar="M",
                   help="segment size for a fresh space (default: 256, less for small capacities)")
    g = p.add_argument_group("load")
    g.add_argument("--cameras", type=positive(int), default=8, metavar="N", help="cameras to simulate (default: 8)")
    g.add_argument("--bitrate-mbit", type=positive(float), default=4.0, metavar="B",
                   help="average bitrate of each camera in Mbit/s (default: 4)")
    g.add_argument("--fps", type=positive(int), default=25, help="frames per second per camera (default: 25)")
    g.add_argument("--gop", type=positive(int), default=50,
                   help="frames per group of pictures: a key frame (5x a P frame) every GOP frames (default: 50)")
    g.add_argument("--pictures-per-sec", type=non_negative, default=0.0, metavar="P",
                   help="pictures stored per second, all cameras together (default: 0)")
    g.add_argument("--picture-kib", type=positive(float), default=100.0, metavar="K",
                   help="size of each picture in KiB (default: 100)")
    g.add_argument("--seconds", type=positive(float), default=30.0, metavar="S", help="how long to run (default: 30)")
    g.add_argument("--threads", type=positive(int), default=None, metavar="T",
                   help="writer threads the cameras are spread over (default: min(cameras, 2 x CPUs))")
    g.add_argument("--max-speed", action="store_true",
                   help="write as fast as possible instead of in real time (measures the ceiling)")
    g = p.add_argument_group("output")
    g.add_argument("--json", action="store_true", help="print one JSON object with the results on stdout")
    g.add_argument("--quiet", action="store_true", help="no progress line on stderr")
    a = p.parse_args(argv)
    if (a.data is None) == (a.remote is None):
        p.error("give either --data DIR (embedded) or --remote HOST[:PORT] (a pstor-server)")
    if a.remote is not None:
        host, _, port = a.remote.rpartition(":") if a.remote.count(":") == 1 else (a.remote, "", "")
        try:
            a.host, a.signalling_port = host, int(port) if port else DEFAULT_SIGNALLING_PORT
        except ValueError:
            p.error(f"--remote {a.remote!r}: the port is not a number")
        if not a.host or not 0 < a.signalling_port < 65536:
            p.error(f"--remote {a.remote!r}: give HOST or HOST:PORT")
        if a.data_port is None:
            a.data_port = a.signalling_port + 1
        if not a.access_key or not a.secret_key:
            p.error("--remote needs --access-key and --secret-key (or $PSTOR_ACCESS_KEY and $PSTOR_SECRET_KEY)")
    elif a.data_port is not None or a.pool is not None:
        p.error("--data-port and --pool are for --remote")
    a.pool_given = a.pool is not None
    if a.pool is None:
        a.pool = POOL_NAME
    if a.threads is None:
        a.threads = min(a.cameras, 2 * (os.cpu_count() or 1))
    a.threads = min(a.threads, a.cameras)
    return a


def percentile(sorted_values, pct):
    if not sorted_values:
        return None
    k = min(len(sorted_values) - 1, max(0, math.ceil(pct / 100 * len(sorted_values)) - 1))
    return sorted_values[k]


def latency_summary(ns_values):
    v = sorted(ns_values)
    ms = lambda x: None if x is None else round(x / 1e6, 3)  # noqa: E731
    return {
        "count": len(v),
        "p50_ms": ms(percentile(v, 50)),
        "p95_ms": ms(percentile(v, 95)),
        "p99_ms": ms(percentile(v, 99)),
        "max_ms": ms(v[-1] if v else None),
    }


class Stats:
    """Counters shared by the writer threads (each appends to its own lists)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.frames = 0
        self.video_bytes = 0
        self.pictures = 0
        self.picture_bytes = 0
        self.append_ns = []
        self.sync_ns = []
        self.put_ns = []
        self.lag_s = 0.0
        self.error = None


def check_segments(engine, pool, args, where):
    """Every camera records into a segment of its own: the pool must have
    room for two per writer."""
    segment_size = max(engine.space(s).segment_size for s in pool.spaces)
    segments = pool.capacity // segment_size
    writers = args.cameras + (1 if args.pictures_per_sec > 0 else 0)
    if segments < 2 * writers:
        raise SystemExit(
            f"error: the pool has {segments} segments of {segment_size / MIB:g} MiB for {writers} writers; every "
            f"camera records into a segment of its own, so it needs at least {2 * writers}: {where}"
        )


def connect_remote(args):
    """Connects to the server and finds (or creates) the pool --pool."""
    engine = pstor.connect(
        args.host, args.access_key, args.secret_key, signalling_port=args.signalling_port, data_port=args.data_port
    )
    try:
        pool = next((p for p in engine.pools() if p.name == args.pool), None)
        if pool is None:
            spaces = [s for s in engine.spaces() if s.status == pstor.SpaceStatus.NORMAL]
            if not spaces:
                raise SystemExit(f"error: the server at {args.remote} has no storage space in service")
            best = max(spaces, key=lambda s: s.capacity - s.reserved)
            cap = min(best.capacity - best.reserved, int(args.capacity_gib * GIB)) // best.segment_size
            cap *= best.segment_size
            video = [p for p in engine.pools() if p.kind in (pstor.PoolKind.VIDEO, pstor.PoolKind.MIXED)]
            if cap <= 0 and not args.pool_given and len(video) == 1:
                # All the room is in one pool (the embedded default's): use it.
                pool = video[0]
                say(args, f"no room for a pool {args.pool!r} on the server: using its only video pool {pool.name!r}")
            elif cap <= 0:
                raise SystemExit(f"error: no room left on the server's spaces for a pool; name an existing one "
                                 f"with --pool ({', '.join(p.name for p in engine.pools()) or 'none'})")
            else:
                kind = pstor.PoolKind.MIXED if args.pictures_per_sec > 0 else pstor.PoolKind.VIDEO
                say(args, f"creating pool {args.pool!r} of {cap / GIB:.2f} GiB on the server's space {best.id}")
                pool = engine.pool(
                    engine.create_pool(args.pool, kind=kind, capacity=cap, spaces=[best.id], cycle_days=0)
                )
        if args.pictures_per_sec > 0 and pool.kind == pstor.PoolKind.VIDEO:
            raise SystemExit(f"error: the server's pool {pool.name!r} stores video only; name another with --pool")
        if args.pictures_per_sec == 0 and pool.kind == pstor.PoolKind.PICTURE:
            raise SystemExit(f"error: the server's pool {pool.name!r} stores pictures only; name another with --pool")
        check_segments(engine, pool, args, "name a larger pool with --pool")
        return engine, pool
    except BaseException:
        engine.close()
        raise


def open_or_create(args):
    """Opens the engine in DIR (or connects to the server) and finds (or
    creates) the space and pool."""
    if args.remote is not None:
        return connect_remote(args)
    data = args.data
    data.mkdir(parents=True, exist_ok=True)
    capacity = int(args.capacity_gib * GIB)
    if args.segment_mib:
        segment = args.segment_mib * MIB
    else:
        # Each recording stream (and the picture writer) fills a segment of
        # its own: leave every writer several segments, and at least 16.
        want = max(16, 4 * (args.cameras + 1))
        segment = max(64 << 10, min(DEFAULT_SEGMENT, (capacity // want) >> 16 << 16))
    engine = pstor.Engine(
        data / "engine", min_space_capacity=min(capacity, 5 * GIB), segment_size=segment, segments_per_file=16
    )
    try:
        pool = next((p for p in engine.pools() if p.name == POOL_NAME), None)
        if pool is None:
            space_dir = data / "space"
            space_dir.mkdir(exist_ok=True)
            known = [s for s in engine.spaces() if pathlib.Path(s.path) == space_dir]
            if known:
                sid = known[0].id
            else:
                say(args, f"initializing a {args.capacity_gib:g} GiB storage space in {space_dir} ...")
                job = engine.initialize_space(space_dir, capacity)
                sid = job.wait(progress=None if args.quiet else lambda pct: progress_line(f"initializing: {pct}%"))
                if not args.quiet:
                    progress_line("", end=True)
            cap = engine.space(sid).capacity - engine.space(sid).reserved
            kind = pstor.PoolKind.MIXED if args.pictures_per_sec > 0 else pstor.PoolKind.VIDEO
            pid = engine.create_pool(POOL_NAME, kind=kind, capacity=cap, spaces=[sid], cycle_days=0)
            pool = engine.pool(pid)
        elif args.pictures_per_sec > 0 and pool.kind == pstor.PoolKind.VIDEO:
            raise SystemExit(f"error: the pool in {data} stores video only; use a fresh --data for pictures")
        check_segments(engine, pool, args,
                       "use a fresh --data with a larger --capacity-gib or a smaller --segment-mib")
        return engine, pool
    except BaseException:
        engine.close()
        raise


_tty = sys.stderr.isatty()


def progress_line(text, end=False):
    if _tty:
        sys.stderr.write("\r\x1b[K" + text + ("\n" if end else ""))
    elif text:
        sys.stderr.write(text + "\n")
    sys.stderr.flush()


def say(args, text):
    if not args.quiet:
        print(text, file=sys.stderr)


def frame_sizes(args):
    """(key frame bytes, P frame bytes) giving the average bitrate."""
    avg = args.bitrate_mbit * 1e6 / 8 / args.fps
    p = avg * args.gop / (args.gop + 4)  # a key frame is 5 P frames
    return max(1, int(round(5 * p))), max(1, int(round(p)))


def video_writer(engine, cams, args, stats, start_wall, start_ts, stop):
    key_size, p_size = frame_sizes(args)
    key_frame, p_frame = os.urandom(key_size), os.urandom(p_size)
    interval_us = 1_000_000 / args.fps
    append_ns, sync_ns = [], []
    frames = nbytes = 0
    n = 0
    try:
        while not stop.is_set():
            due = n / args.fps
            if due >= args.seconds:
                break
            if not args.max_speed:
                ahead = start_wall + due - time.monotonic()
                if ahead > 0:
                    stop.wait(ahead)
                    if stop.is_set():
                        break
                else:
                    with stats.lock:
                        stats.lag_s = max(stats.lag_s, -ahead)
            ts = start_ts + int(n * interval_us)
            key = n % args.gop == 0
            data = key_frame if key else p_frame
            for cam in cams:
                t0 = time.perf_counter_ns()
                engine.append(cam, ts, key, data)
                append_ns.append(time.perf_counter_ns() - t0)
            frames += len(cams)
            nbytes += len(cams) * len(data)
            n += 1
            if n % args.fps == 0:  # one second of stream time: make it durable
                t0 = time.perf_counter_ns()
                engine.sync_streams(cams)
                sync_ns.append(time.perf_counter_ns() - t0)
                with stats.lock:
                    stats.frames += frames
                    stats.video_bytes += nbytes
                frames = nbytes = 0
        t0 = time.perf_counter_ns()
        engine.sync_streams(cams)
        sync_ns.append(time.perf_counter_ns() - t0)
    except Exception as e:  # reported by main
        with stats.lock:
            stats.error = stats.error or e
        stop.set()
    finally:
        with stats.lock:
            stats.frames += frames
            stats.video_bytes += nbytes
            stats.append_ns.extend(append_ns)
            stats.sync_ns.extend(sync_ns)


def picture_writer(engine, pool_id, args, stats, start_wall, start_ts, stop):
    size = int(args.picture_kib * 1024)
    blob = bytearray(os.urandom(size))
    put_ns = []
    n = 0
    last_sync = time.monotonic()
    try:
        while not stop.is_set():
            due = n / args.pictures_per_sec
            if due >= args.seconds:
                break
            if not args.max_speed:
                ahead = start_wall + due - time.monotonic()
                if ahead > 0 and stop.wait(ahead):
                    break
            blob[:8] = n.to_bytes(8, "little")  # every picture differs
            t0 = time.perf_counter_ns()
            engine.put_picture(
                pool_id, blob, camera_id=f"capcam-{n % args.cameras}",
                captured_at=start_ts + int(due * 1e6), content_type="image/jpeg",
            )
            put_ns.append(time.perf_counter_ns() - t0)
            n += 1
            with stats.lock:
                stats.pictures += 1
                stats.picture_bytes += size
            if time.monotonic() - last_sync >= 1.0:
                engine.sync_pictures(pool_id)
                last_sync = time.monotonic()
        engine.sync_pictures(pool_id)
    except Exception as e:
        with stats.lock:
            stats.error = stats.error or e
        stop.set()
    finally:
        with stats.lock:
            stats.put_ns.extend(put_ns)


def run(args):
    engine, pool = open_or_create(args)
    with engine:
        cams = []
        for i in range(args.cameras):
            cam = engine.find_stream(f"capcam-{i}", 1, "main")
            if cam is None or engine.stream(cam).pool != pool.id:
                cam = engine.register_stream(pool.id, f"capcam-{i}", channel=1, kind="main")
            cams.append(cam)
        # Stream time continues after the newest frame of an earlier run.
        newest = max((engine.stream(c).last_ts or 0 for c in cams), default=0)
        start_ts = max(pstor.now_us(), newest + 1_000_000)
        stats = Stats()
        stop = threading.Event()
        start_wall = time.monotonic()
        groups = [cams[i :: args.threads] for i in range(args.threads)]
        threads = [
            threading.Thread(target=video_writer, args=(engine, g, args, stats, start_wall, start_ts, stop), daemon=True)
            for g in groups
        ]
        if args.pictures_per_sec > 0:
            threads.append(
                threading.Thread(
                    target=picture_writer, args=(engine, pool.id, args, stats, start_wall, start_ts, stop), daemon=True
                )
            )
        for t in threads:
            t.start()
        interrupted = False
        try:
            last_bytes, last_t = 0, start_wall
            while any(t.is_alive() for t in threads):
                for t in threads:
                    t.join(timeout=max(0.0, 1.0 - (time.monotonic() - last_t)))
                    if time.monotonic() - last_t >= 1.0:
                        break
                now = time.monotonic()
                with stats.lock:
                    done_bytes = stats.video_bytes + stats.picture_bytes
                    lag, pics = stats.lag_s, stats.pictures
                if not args.quiet and now - last_t >= 0.999:
                    rate = (done_bytes - last_bytes) / (now - last_t) / MIB
                    progress_line(
                        f"[{now - start_wall:6.1f}s/{args.seconds:g}s] {args.cameras} cameras: {rate:8.2f} MiB/s, "
                        f"{pics} pictures, max lag {lag:.2f} s"
                    )
                    last_bytes, last_t = done_bytes, now
        except KeyboardInterrupt:
            interrupted = True
            stop.set()
            for t in threads:
                t.join()
        elapsed = time.monotonic() - start_wall
        if not args.quiet:
            progress_line("", end=True)
        if stats.error is not None:
            raise stats.error
        pool = engine.pool(pool.id)
    return summarize(args, stats, pool, elapsed, interrupted)


def summarize(args, stats, pool, elapsed, interrupted):
    video_rate = stats.video_bytes / elapsed if elapsed > 0 else 0.0
    offered_video = args.cameras * args.bitrate_mbit * 1e6 / 8
    offered_pictures = args.pictures_per_sec * args.picture_kib * 1024
    daily = (offered_video + offered_pictures) * 86_400
    return {
        "config": {
            "data": None if args.data is None else str(args.data),
            "remote": None if args.remote is None else f"{args.host}:{args.signalling_port}",
            "cameras": args.cameras,
            "bitrate_mbit": args.bitrate_mbit,
            "fps": args.fps,
            "gop": args.gop,
            "pictures_per_sec": args.pictures_per_sec,
            "picture_kib": args.picture_kib,
            "seconds": args.seconds,
            "threads": args.threads,
            "max_speed": args.max_speed,
        },
        "elapsed_s": round(elapsed, 3),
        "interrupted": interrupted,
        "frames": stats.frames,
        "video_bytes": stats.video_bytes,
        "sustained_mib_s": round((stats.video_bytes + stats.picture_bytes) / elapsed / MIB, 3) if elapsed else 0.0,
        "video_mib_s": round(video_rate / MIB, 3),
        "offered_mib_s": round((offered_video + offered_pictures) / MIB, 3),
        "kept_up": args.max_speed or stats.lag_s < 1.0,
        "max_lag_s": round(stats.lag_s, 3),
        "append_latency": latency_summary(stats.append_ns),
        "sync_latency": latency_summary(stats.sync_ns),
        "pictures": stats.pictures,
        "pictures_per_s": round(stats.pictures / elapsed, 2) if elapsed else 0.0,
        "picture_put_latency": latency_summary(stats.put_ns),
        "pool": {"id": pool.id, "name": pool.name, "capacity": pool.capacity, "used": pool.used},
        "retention_days": round(pool.capacity / daily, 4) if daily else None,
    }


def print_text(r):
    c = r["config"]
    lat = lambda d: (  # noqa: E731
        f"p50 {d['p50_ms']} ms, p95 {d['p95_ms']} ms, p99 {d['p99_ms']} ms ({d['count']} calls)" if d["count"] else "-"
    )
    where = f"pstor-server {c['remote']}" if c["remote"] else c["data"]
    print(f"{c['cameras']} cameras at {c['bitrate_mbit']:g} Mbit/s, {c['fps']} fps, GOP {c['gop']}, "
          f"for {r['elapsed_s']:.1f} s in {c['threads']} threads{' (max speed)' if c['max_speed'] else ''}, "
          f"into {where}")
    print(f"  sustained write:   {r['sustained_mib_s']:.2f} MiB/s (offered {r['offered_mib_s']:.2f} MiB/s)")
    if not c["max_speed"]:
        print(f"  kept up:           {'yes' if r['kept_up'] else 'NO'} (max lag {r['max_lag_s']:.2f} s)")
    print(f"  append latency:    {lat(r['append_latency'])}")
    print(f"  sync latency:      {lat(r['sync_latency'])}")
    if c["pictures_per_sec"]:
        print(f"  pictures:          {r['pictures_per_s']:.1f}/s of {c['picture_kib']:g} KiB; "
              f"put {lat(r['picture_put_latency'])}")
    gib = r["pool"]["capacity"] / GIB
    days = r["retention_days"]
    if days is not None:
        span = f"{days:.2f} days" if days >= 1 else f"{days * 24:.2f} hours"
        print(f"  retention:         {span} in the pool's {gib:.2f} GiB at this load")


def import_pstor():
    global pstor
    try:
        import pstor
    except ImportError:  # pragma: no cover - explained to the operator
        sys.exit("error: the pstor Python package is not installed (see pstor-py/README.md)")


def main(argv=None):
    args = parse_args(argv)
    import_pstor()
    try:
        result = run(args)
    except pstor.Error as e:
        print(f"error: {e} [{e.code_name}]", file=sys.stderr)
        return 1
    except OSError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(result))
    else:
        print_text(result)
    return 130 if result["interrupted"] else 0


if __name__ == "__main__":
    sys.exit(main())
