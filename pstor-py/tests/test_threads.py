"""The GIL is released during engine calls: Python threads make progress
concurrently. These tests assert outcomes (no timings): a call that held the
GIL while waiting for another thread would deadlock, and the watchdog in
conftest.py would fail the run."""

from __future__ import annotations

import threading

import pstor
from conftest import MIB, new_space

T0 = 1_790_000_000_000_000


def test_a_blocked_call_lets_other_threads_run(engine, tmp_path):
    """A thread blocks in `EventSubscription.get()` (inside the engine, no
    timeout) until the main thread, running Python, causes an event. With
    the GIL held during the wait this could never finish."""
    sub = engine.subscribe()
    got = []
    waiting = threading.Event()

    def waiter():
        waiting.set()
        got.append(sub.get())  # blocks until an event arrives

    t = threading.Thread(target=waiter)
    t.start()
    assert waiting.wait(30)
    # Python work on this thread while the other one is blocked in Rust:
    total = sum(i * i for i in range(200_000))
    assert total > 0
    engine.set_thresholds(alarm_pct=50)  # no event; keep the waiter waiting
    sid = new_space(engine, tmp_path / "s", 2 * MIB)  # emits space_status
    t.join(60)
    assert not t.is_alive(), "the waiter never saw the event"
    assert got and got[0].kind == pstor.EventKind.SPACE_STATUS and got[0].details["space"] == sid


def test_a_thread_runs_while_another_waits_on_a_job(engine, tmp_path):
    (tmp_path / "big").mkdir()
    job = engine.initialize_space(tmp_path / "big", 64 * MIB)
    ticks = []
    stop = threading.Event()

    def ticker():
        while not stop.is_set():
            ticks.append(1)
            stop.wait(0.001)

    t = threading.Thread(target=ticker)
    t.start()
    progress_calls = []
    sid = job.wait(progress=progress_calls.append)
    stop.set()
    t.join()
    assert sid == job.space_id and progress_calls[-1] == 100
    assert ticks, "the ticker thread never ran while the job was awaited"


def test_many_threads_append_and_sync_concurrently(engine, space):
    pool = engine.create_pool("mt", capacity=8 * MIB, spaces=[space])
    n_threads, n_frames = 8, 200
    cams = [engine.register_stream(pool, f"cam-{i}") for i in range(n_threads)]
    barrier = threading.Barrier(n_threads)
    errors = []

    def writer(i):
        try:
            barrier.wait(30)  # all start together
            for k in range(n_frames):
                engine.append(cams[i], T0 + k * 40_000, k % 25 == 0, bytes([i]) * 1500)
                if k % 20 == 19:
                    engine.sync(cams[i])
            engine.sync(cams[i])
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not any(t.is_alive() for t in threads) and errors == []
    for i, cam in enumerate(cams):
        frames = list(engine.read(cam, T0, T0 + n_frames * 40_000))
        assert len(frames) == n_frames and all(f.data == bytes([i]) * 1500 for f in frames)


def test_readers_and_picture_writers_in_parallel(engine, space, camera):
    pics = engine.create_pool("pp", kind="picture", capacity=4 * MIB, spaces=[space])
    for k in range(100):
        engine.append(camera, T0 + k * 40_000, k % 25 == 0, b"r" * 1000)
    engine.sync(camera)
    results = []

    def reader():
        for _ in range(20):
            results.append(sum(1 for _ in engine.read(camera, T0, T0 + 10**7)))

    def putter(n):
        ids = [engine.put_picture(pics, bytes([n]) * 5000, camera_id=f"c{n}", captured_at=T0 + j) for j in range(30)]
        engine.sync_pictures(pics)
        results.append(all(engine.get_picture(i).data == bytes([n]) * 5000 for i in ids))

    threads = [threading.Thread(target=reader) for _ in range(2)] + [
        threading.Thread(target=putter, args=(n,)) for n in range(3)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert results.count(100) == 40 and results.count(True) == 3


def test_many_threads_wait_on_one_job(engine, tmp_path):
    (tmp_path / "s").mkdir()
    job = engine.initialize_space(tmp_path / "s", 32 * MIB)
    got = []
    threads = [threading.Thread(target=lambda: got.append(job.wait())) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert got == [job.space_id] * 4 and job.progress == 100
