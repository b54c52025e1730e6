"""The API end to end: spaces, pools, streams, reads, locks, inspection,
pictures, events, check, close."""

from __future__ import annotations

import datetime as dt

import pytest

import pstor
from conftest import MIB, SEG, new_space, open_engine

T0 = 1_790_000_000_000_000  # 2026-09-21, µs


def record(engine, cam, n=100, start=T0, step=40_000, size=1000, gop=25):
    frames = [(start + i * step, i % gop == 0, bytes([i % 256]) * size) for i in range(n)]
    for ts, key, data in frames:
        engine.append(cam, ts, key, data)
    return frames


def test_context_manager_closes(tmp_path):
    with open_engine(tmp_path / "e") as e:
        assert not e.closed
        assert "open" in repr(e)
    assert e.closed
    with pytest.raises(pstor.Closed):
        e.spaces()
    e.close()  # closing again is a no-op
    # The folder can be opened again once closed (the lock is released).
    with pstor.Engine.open(tmp_path / "e", min_space_capacity=MIB, segment_size=SEG) as e2:
        assert e2.spaces() == []


@pytest.mark.embedded_only
def test_second_engine_on_same_folder_is_in_use(engine, tmp_path):
    with pytest.raises(pstor.InUse) as ei:
        open_engine(tmp_path / "engine")
    assert isinstance(ei.value, pstor.StateError)


def test_spaces(engine, tmp_path):
    before = {s.id for s in engine.spaces()}  # remote: the server's configured space
    (tmp_path / "s").mkdir()
    job = engine.initialize_space(tmp_path / "s", 4 * MIB)
    seen = []
    sid = job.wait(progress=seen.append)
    assert sid == job.space_id and job.done and job.progress == 100
    assert seen[-1] == 100 and seen == sorted(seen)
    assert job.wait() == sid  # waiting again gives the same answer
    info = engine.space(sid)
    assert info.status == pstor.SpaceStatus.NORMAL == "normal"
    assert info.capacity == 4 * MIB and info.segment_size == SEG
    assert {s.id for s in engine.spaces()} == before | {sid} and sid not in before
    assert "SpaceInfo(id=" in repr(info) and info.to_dict()["capacity"] == 4 * MIB
    with pytest.raises(pstor.AlreadyInitialized):
        engine.initialize_space(tmp_path / "s", 4 * MIB)
    with pytest.raises(pstor.SpaceStatusError):
        engine.delete_space(sid)  # only Lost spaces may be deleted
    with pytest.raises(pstor.ConfirmationRequired):
        engine.reinitialize_space(sid)
    engine.reinitialize_space(sid, confirm=True)
    with pytest.raises(pstor.PathNotFound):
        engine.initialize_space(tmp_path / "nope", 4 * MIB)
    with pytest.raises(pstor.CapacityTooSmall):
        (tmp_path / "small").mkdir()
        engine.initialize_space(tmp_path / "small", 1000)


def test_cancel_a_job(engine, tmp_path):
    (tmp_path / "s").mkdir()
    job = engine.initialize_space(tmp_path / "s", 64 * MIB)
    job.cancel()
    try:
        job.wait(timeout=60)
    except pstor.Cancelled as e:
        assert e.code == 207
    else:  # it may have finished before the cancel was seen
        assert job.progress == 100


def test_restore_space(tmp_path):
    with open_engine(tmp_path / "a") as a:
        sid = new_space(a, tmp_path / "s")
        pool = a.create_pool("v", capacity=2 * MIB, spaces=[sid])
        cam = a.register_stream(pool, "cam-9")
        record(a, cam, 50)
        a.sync(cam)
    with open_engine(tmp_path / "b") as b:
        assert b.restore_space(tmp_path / "s").wait() == sid
        assert [p.name for p in b.pools()] == ["v"]
        cam = b.find_stream("cam-9")
        assert cam is not None
        assert len(list(b.read(cam, T0, T0 + 10**9))) == 50


def test_pools(engine, space):
    p = engine.create_pool(
        "evidence", capacity=2 * MIB, spaces=[space], kind="MIXED", strategy="stop_when_full", cycle_days=7
    )
    info = engine.pool(p)
    assert info.kind is pstor.PoolKind.MIXED and info.strategy is pstor.OverwriteStrategy.STOP_WHEN_FULL
    assert (info.name, info.capacity, info.cycle_days, info.spaces) == ("evidence", 2 * MIB, 7, [space])
    assert info.status == pstor.PoolStatus.NORMAL
    engine.edit_pool(p, name="evidence2", capacity=3 * MIB, strategy=pstor.OverwriteStrategy.OVERWRITE_OLDEST)
    info2 = engine.pool(p)
    assert (info2.name, info2.capacity, info2.strategy) == ("evidence2", 3 * MIB, "overwrite_oldest")
    assert info2 != info and engine.pool(p) == info2
    assert [x.id for x in engine.pools()] == [p]
    with pytest.raises(pstor.DuplicatePoolName):
        engine.create_pool("evidence2", capacity=MIB, spaces=[space])
    with pytest.raises(pstor.CapacityExceedsFree):
        engine.create_pool("huge", capacity=1 << 40, spaces=[space])
    with pytest.raises(pstor.InvalidArgument):
        engine.create_pool("x", capacity=MIB, kind="tape")
    engine.delete_pool(p)
    with pytest.raises(pstor.PoolNotFound):
        engine.pool(p)


def test_streams_append_read(engine, video_pool, mode):
    cam = engine.register_stream(video_pool, "cam-1", channel=2, kind=pstor.StreamKind.SUB, codec_config=b"\x00sps")
    assert engine.find_stream("cam-1", 2, "sub") == cam and engine.find_stream("cam-1") is None
    with pytest.raises(pstor.StreamExists):
        engine.register_stream(video_pool, "cam-1", channel=2, kind="sub")
    frames = record(engine, cam, 100)
    engine.flush(cam)
    got = [(f.ts, f.key, f.data) for f in engine.read(cam, T0, T0 + 10**9)]
    assert got == frames
    # From the key frame at or before start.
    part = list(engine.read(cam, T0 + 30 * 40_000, T0 + 60 * 40_000))
    assert part[0].ts == T0 + 25 * 40_000 and part[0].key and part[-1].ts == T0 + 60 * 40_000
    ts, key, data = part[0]
    assert (ts, key, data) == (part[0].ts, True, part[0].data) and part[0] == part[0]
    info = engine.stream(cam)
    assert (info.first_ts, info.last_ts, info.codec_config, info.kind) == (T0, frames[-1][0], b"\x00sps", "sub")
    engine.sync(cam)
    engine.sync_streams([cam])
    engine.sync_all()
    ranges = engine.recorded_ranges(cam, T0, T0 + 10**9)
    assert ranges == [(T0, frames[-1][0])]
    # datetimes work as timestamps.
    start = pstor.from_us(T0)
    assert start.tzinfo is not None and pstor.to_us(start) == T0
    assert len(list(engine.read(cam, start, start + dt.timedelta(seconds=1)))) == 26
    with pytest.raises(ValueError):
        engine.read(cam, dt.datetime(2026, 1, 1), T0)  # naive
    # A refused frame raises from the append (embedded) or, appends being
    # pipelined, from the stream's next append, flush or sync (remote).
    with pytest.raises(pstor.OutOfOrder):
        engine.append(cam, T0, True, b"late")
        engine.flush(cam)
    with pytest.raises(pstor.DuplicateTimestamp):
        engine.append(cam, frames[-1][0], True, b"dup")
        engine.flush(cam)
    with pytest.raises(pstor.FrameSize):
        engine.append(cam, frames[-1][0] + 1, True, b"")
        engine.flush(cam)
    with pytest.raises(pstor.StreamNotFound):
        engine.flush(12345)
    if mode == "embedded":  # remote: test_remote.py (the append is accepted, its flush refused)
        with pytest.raises(pstor.StreamNotFound):
            engine.append(12345, T0, True, b"x")


def test_buffers_are_accepted(engine, camera):
    import array

    payloads = [b"bytes", bytearray(b"bytearray"), memoryview(b"memoryview"), array.array("i", [1, 2, 3])]
    for i, p in enumerate(payloads):
        engine.append(camera, T0 + i, True, p)
    engine.flush(camera)
    got = [f.data for f in engine.read(camera, T0, T0 + 10)]
    assert got == [bytes(p) if not isinstance(p, array.array) else p.tobytes() for p in payloads]
    assert all(type(d) is bytes for d in got)


def test_locks(engine, camera, video_pool):
    record(engine, camera, 50)
    engine.sync(camera)
    lid = engine.lock(camera, T0, T0 + 1_000_000)
    [lk] = engine.locks()
    assert (lk.id, lk.stream, lk.start, lk.end, lk.expires, lk.pool) == (lid, camera, T0, T0 + 1_000_000, None, None)
    far = pstor.now_us() + 86_400_000_000
    engine.extend_lock(lid, far)
    assert engine.locks()[0].expires == far
    assert engine.pool(video_pool).locked > 0
    with pytest.raises(pstor.PoolHasLocks):
        engine.delete_pool(video_pool)
    with pytest.raises(pstor.InvalidArgument):
        engine.extend_lock(lid, 1)  # in the past
    engine.unlock(lid)
    assert engine.locks() == []
    with pytest.raises(pstor.LockNotFound):
        engine.unlock(lid)


def test_inspection(engine, camera):
    now = pstor.now_us()
    # Record the last 20 seconds, one frame per second.
    for i in range(20):
        engine.append(camera, now - (20 - i) * 1_000_000, i == 0, b"f" * 100)
    engine.flush(camera)
    today = engine.today()
    assert isinstance(today, dt.date)
    day = engine.inspect_today(camera)
    assert day.date == today and day.stream == camera
    assert 15 <= day.recorded_secs <= 25 and day.exception_hours >= 1
    assert engine.inspect_day(camera, today) == day or engine.inspect_day(camera, today).date == today
    month = engine.inspect_month(camera, today.year, today.month)
    assert month[-1].date == today and month[-1].recorded_secs == day.recorded_secs
    with pytest.raises(pstor.InvalidArgument):
        engine.inspect_month(camera, today.year, 13)
    with pytest.raises(pstor.InvalidArgument):
        engine.inspect_month(camera, 0, 1)
    with pytest.raises(TypeError):
        engine.inspect_day(camera, "2026-01-01")


def test_pictures(engine, picture_pool):
    data = bytes(range(256)) * 40
    pid = engine.put_picture(
        picture_pool, data, camera_id="cam-1", captured_at=T0, content_type="image/jpeg", bucket="plates", key="a.jpg"
    )
    assert isinstance(pid, pstor.PictureId) and len(str(pid)) == pstor.PICTURE_ID_CHARS
    engine.sync_pictures(picture_pool)
    pic = engine.get_picture(pid)
    assert pic.data == data and pic.info.id == pid and pic.info.size == len(data)
    assert (pic.info.bucket, pic.info.key, pic.info.camera_id, pic.info.captured_at) == ("plates", "a.jpg", "cam-1", T0)
    import hashlib

    assert pic.info.etag == hashlib.md5(data).hexdigest()
    assert engine.get_picture(str(pid)).data == data  # the text form works too
    assert engine.head_picture(pid) == pic.info
    assert engine.get_picture_range(pid, 10, 20).data == data[10:30]
    with pytest.raises(pstor.InvalidArgument):
        engine.get_picture_range(pid, len(data), 1)
    assert engine.picture_id_for_key("plates", "a.jpg") == pid
    assert engine.get_picture_by_key("plates", "a.jpg").data == data
    assert engine.list_keys("plates") == [("a.jpg", pid)]
    assert engine.list_keys("plates", "b") == []
    pid2 = engine.put_picture(picture_pool, b"second", camera_id="cam-2", captured_at=T0 + 1)
    all_ = engine.list_pictures(picture_pool, T0, T0 + 10)
    assert [p.id for p in all_] == [pid, pid2]
    page = engine.list_pictures(picture_pool, T0, T0 + 10, limit=1)
    rest = engine.list_pictures(picture_pool, T0, T0 + 10, after=(page[-1].captured_at, page[-1].id))
    assert [p.id for p in page + rest] == [pid, pid2]
    assert [p.id for p in engine.list_pictures(picture_pool, T0, T0 + 10, camera_id="cam-2")] == [pid2]
    engine.delete_picture(pid2)
    with pytest.raises(pstor.PictureNotFound):
        engine.get_picture(pid2)
    engine.delete_picture_by_key("plates", "a.jpg")
    with pytest.raises(pstor.KeyNotFound):
        engine.get_picture_by_key("plates", "a.jpg")
    with pytest.raises(pstor.InvalidArgument):
        engine.put_picture(picture_pool, b"x", camera_id="c", captured_at=T0, bucket="only-bucket")
    with pytest.raises(pstor.PictureSize):
        engine.put_picture(picture_pool, b"", camera_id="c", captured_at=T0)


def test_wrong_pool_kind(engine, picture_pool, video_pool):
    with pytest.raises(pstor.WrongPoolKind):
        engine.register_stream(picture_pool, "cam")
    with pytest.raises(pstor.WrongPoolKind):
        engine.put_picture(video_pool, b"x", camera_id="c", captured_at=T0)


# Remote: the server's engine still holds the frames it could not store; its
# graceful stop reports that (final sync: PoolFull) and exits 1.
@pytest.mark.server_exit(1)
def test_events_poll_and_subscribe(engine, space):
    sub = engine.subscribe()
    p = engine.create_pool("full", capacity=MIB, spaces=[space], strategy="stop_when_full")
    cam = engine.register_stream(p, "cam")
    with pytest.raises(pstor.PoolFull):
        for i in range(10_000):
            engine.append(cam, T0 + i * 40_000, True, b"x" * 20_000)
            engine.sync(cam)
    evs = engine.poll_events()
    assert evs and all(isinstance(e, pstor.Event) for e in evs)
    full = [e for e in evs if e.kind == pstor.EventKind.POOL_FULL]
    assert full and full[0].details["pool"] == p and "refuses writes" in full[0].message
    assert engine.poll_events(evs[-1].seq) == []
    first = sub.get(timeout=5)  # the subscription sees what came after it
    assert first is not None and first.seq == full[0].seq
    assert repr(first).startswith("Event(seq=")
    assert sub.get(timeout=0) is None
    later = engine.subscribe()
    # The frames still buffered cannot be stored: close says so, and closes
    # (remote: this client's close syncs what it appended, which fails so).
    with pytest.raises(pstor.PoolFull):
        engine.close()
    assert engine.closed
    # A subscription ends with the engine: no wait, no error.
    assert later.get(timeout=30) is None and list(later) == []


def test_check(engine, camera, mode):
    record(engine, camera, 30)
    engine.sync(camera)
    report = engine.check()
    assert report.is_clean and report.records >= 1 and report.problems == []
    if mode == "embedded":
        engine.run_maintenance()
        engine.checkpoint()
    else:
        # The server runs both itself; the SDK protocol does not offer them.
        for call in (engine.run_maintenance, engine.checkpoint):
            with pytest.raises(pstor.Unsupported) as ei:
                call()
            assert ei.value.code == 707 and isinstance(ei.value, NotImplementedError)


def test_thresholds(engine):
    t = engine.thresholds()
    assert (t.overwrite_pct, t.alarm_pct, t.volume_free_pct) == (10, 10, 0)
    engine.set_thresholds(alarm_pct=20)
    assert engine.thresholds().alarm_pct == 20 and engine.thresholds().overwrite_pct == 10
    with pytest.raises(pstor.InvalidArgument):
        engine.set_thresholds(alarm_pct=101)
    with pytest.raises(OverflowError):
        engine.set_thresholds(alarm_pct=1000)


def test_docstrings_everywhere():
    for name in pstor.__all__:
        obj = getattr(pstor, name)
        if isinstance(obj, type):
            assert obj.__doc__, name
            for attr, member in vars(obj).items():
                if not attr.startswith("_") and callable(member):
                    assert member.__doc__, f"{name}.{attr}"
    assert "µs" in (pstor.Engine.append.__doc__ or "")


def test_the_type_stub_covers_the_runtime():
    import ast
    import pathlib

    stub = ast.parse((pathlib.Path(pstor.__file__).parent / "__init__.pyi").read_text())
    names = set()
    methods = {}
    for node in stub.body:
        if isinstance(node, ast.ClassDef):
            names.add(node.name)
            methods[node.name] = {n.name for n in node.body if isinstance(n, ast.FunctionDef)}
        elif isinstance(node, ast.FunctionDef):
            names.add(node.name)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.ImportFrom):
            names.update(a.asname or a.name for a in node.names)
    missing = [n for n in pstor.__all__ if n not in names]
    assert missing == [], f"not in __init__.pyi: {missing}"
    for cls in ("Engine", "SpaceJob", "PictureId", "EventSubscription"):
        runtime = {m for m in dir(getattr(pstor, cls)) if not m.startswith("_")}
        assert runtime <= methods[cls] | {"to_dict"}, f"{cls}: {runtime - methods[cls]} not in the stub"


@pytest.mark.embedded_only
def test_the_default_minimum_space_is_the_servers(tmp_path):
    # One default for the embedded engine, the C SDK and pstor-server: 1 GiB.
    assert pstor.DEFAULT_MIN_SPACE_CAPACITY == 1 << 30
    with pstor.Engine(tmp_path / "e", segment_size=SEG) as e:
        (tmp_path / "small").mkdir()
        with pytest.raises(pstor.CapacityTooSmall) as ei:
            e.initialize_space(tmp_path / "small", pstor.DEFAULT_MIN_SPACE_CAPACITY - 1).wait()
        assert f"minimum of {pstor.DEFAULT_MIN_SPACE_CAPACITY} bytes" in str(ei.value)
        assert new_space(e, tmp_path / "ok", pstor.DEFAULT_MIN_SPACE_CAPACITY) >= 0
