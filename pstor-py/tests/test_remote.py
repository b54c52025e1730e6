"""Remote mode: ``pstor.connect`` to a real pstor-server process (see
conftest.Server). The round trips of the other modules already run in both
modes (the ``engine`` fixture); these are the remote mode's own cases:
connecting, wrong keys, a server that is not there or goes away, pipelined
appends, several clients, many threads."""

from __future__ import annotations

import datetime
import socket
import threading
import time

import pytest

import pstor
from conftest import ACCESS_KEY, MIB, SECRET_KEY, open_engine

T0 = 1_790_000_000_000_000


def free_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def video_pool(engine: pstor.Engine) -> int:
    [space] = engine.spaces()
    return engine.create_pool("video", capacity=8 * MIB, spaces=[space.id], max_lock_pct=50)


def test_connect_gives_the_same_engine_class(server):
    with server.connect() as e:
        assert type(e) is pstor.Engine and not e.closed
        assert e.remote == f"{server.host}:{server.signalling_port}" and e.data_dir is None
        assert repr(e) == f"<pstor.Engine remote {e.remote} (open)>"
        [space] = e.spaces()
        assert space.path == str(server.space_dir) and space.status == pstor.SpaceStatus.NORMAL
    assert e.closed and "(closed)" in repr(e)
    with pytest.raises(pstor.Closed):
        e.pools()
    e.close()  # again: nothing


def test_wrong_keys_are_auth_failed(server):
    for access, secret in [(ACCESS_KEY, "not-the-secret-key-0123456789"), ("PSAKNOBODY0000000000", SECRET_KEY)]:
        with pytest.raises(pstor.AuthFailed) as ei:
            server.connect(access_key=access, secret_key=secret)
        assert ei.value.code == 701 and ei.value.code_name == "PSTOR_AUTH_FAILED"
        assert isinstance(ei.value, pstor.NetworkError)
    # The server is fine afterwards.
    with server.connect() as e:
        assert len(e.spaces()) == 1


def test_nothing_listening_is_disconnected():
    port = free_port()
    with pytest.raises(pstor.Disconnected) as ei:
        pstor.connect("127.0.0.1", ACCESS_KEY, SECRET_KEY, signalling_port=port, data_port=port)
    assert ei.value.code == 706 and isinstance(ei.value, pstor.NetworkError)


def test_a_silent_peer_times_out_with_the_gil_released():
    """A listener that accepts but never says Hello: connect waits
    connect_timeout, and other Python threads run meanwhile."""
    with socket.socket() as mute:
        mute.bind(("127.0.0.1", 0))
        mute.listen(4)
        port = mute.getsockname()[1]
        ticks = []
        stop = threading.Event()

        def ticker():
            while not stop.is_set():
                ticks.append(1)
                stop.wait(0.005)

        t = threading.Thread(target=ticker)
        t.start()
        try:
            with pytest.raises(pstor.Timeout) as ei:
                pstor.connect("127.0.0.1", ACCESS_KEY, SECRET_KEY, signalling_port=port, data_port=port,
                              connect_timeout=0.5)
        finally:
            stop.set()
            t.join()
    assert ei.value.code == 705
    assert len(ticks) > 5, "the ticker did not run while connect waited"


@pytest.mark.parametrize(
    "kw",
    [
        {"timeout": 0},
        {"timeout": -1.0},
        {"timeout": float("nan")},
        {"connect_timeout": float("inf")},
        {"data_connections": 0},
        {"data_connections": 100_000},
        {"signalling_port": 0},
    ],
)
def test_bad_options_are_invalid_arguments(kw):
    with pytest.raises(pstor.InvalidArgument):
        pstor.connect("127.0.0.1", ACCESS_KEY, SECRET_KEY, **kw)


def test_bad_option_types():
    with pytest.raises(pstor.InvalidArgument):
        pstor.connect("", ACCESS_KEY, SECRET_KEY)
    with pytest.raises(OverflowError):
        pstor.connect("127.0.0.1", ACCESS_KEY, SECRET_KEY, signalling_port=70_000)
    with pytest.raises(TypeError):
        pstor.connect("127.0.0.1", ACCESS_KEY)  # no secret key
    with pytest.raises(TypeError):
        pstor.connect("127.0.0.1", ACCESS_KEY, SECRET_KEY, 6036)  # the options are keyword-only


def test_a_server_that_goes_away_is_disconnected(tmp_path):
    from conftest import Server

    srv = Server(tmp_path / "srv")
    e = srv.connect(timeout=5.0)
    try:
        pool = video_pool(e)
        cam = e.register_stream(pool, "cam-gone")
        e.append(cam, T0, True, b"x" * 1000)
        e.sync(cam)
        srv.stop()
        with pytest.raises(pstor.Disconnected):
            e.pools()
        # Frames appended since the last sync have an unknown outcome: the
        # stream's next call says so.
        e.append(cam, T0 + 40_000, False, b"y" * 1000)
        with pytest.raises((pstor.Disconnected, pstor.Timeout)):
            e.sync(cam)
    finally:
        try:
            e.close()  # closes the client; what it could not sync, it says
        except (pstor.Disconnected, pstor.Timeout):
            pass
        srv.stop(check=False)


def test_pipelined_append_errors_come_with_the_next_call(server):
    with server.connect() as e:
        cam = e.register_stream(video_pool(e), "cam-p")
        e.append(cam, T0, True, b"a" * 100)
        e.sync(cam)
        e.append(cam, T0 - 1, True, b"late")  # refused by the server, later
        with pytest.raises(pstor.OutOfOrder) as ei:
            e.sync(cam)
        assert ei.value.code == 402
        e.sync(cam)  # reported once; the stream goes on
        e.append(cam, T0 + 1, False, b"b" * 100)
        e.flush(cam)
        assert [f.ts for f in e.read(cam, T0, T0 + 10)] == [T0, T0 + 1]
    # An unknown stream: the append is accepted, its flush refused. On a
    # client of its own, because that client's close may say it again (it
    # syncs every stream it appended to, and the server knows none such).
    other = server.connect()
    try:
        other.append(12345, T0, True, b"x")
        with pytest.raises(pstor.StreamNotFound):
            other.flush(12345)
    finally:
        try:
            other.close()
        except pstor.StreamNotFound:
            pass
    assert other.closed


def test_two_clients_share_the_server(server):
    a = server.connect()
    b = server.connect(data_connections=1)
    try:
        pool = video_pool(a)
        cam = a.register_stream(pool, "cam-shared")
        assert b.find_stream("cam-shared") == cam
        for i in range(50):
            a.append(cam, T0 + i * 40_000, i % 25 == 0, bytes([i]) * 2000)
        a.flush(cam)
        got = [(f.ts, f.data) for f in b.read(cam, T0, T0 + 10**9)]
        assert got == [(T0 + i * 40_000, bytes([i]) * 2000) for i in range(50)]
        lid = b.lock(cam, T0, T0 + 1_000_000)
        assert [lk.id for lk in a.locks()] == [lid]
        a.unlock(lid)
        assert b.locks() == []
        a.set_thresholds(alarm_pct=30)
        a.edit_pool(pool, name="renamed")
        assert b.pool(pool).name == "renamed" and b.thresholds().alarm_pct == 30
        a.close()
        assert b.stream(cam).last_ts == T0 + 49 * 40_000  # the server goes on
    finally:
        a.close()
        b.close()


def test_events_reach_a_subscription_over_the_network(server, tmp_path):
    with server.connect() as e:
        sub = e.subscribe()
        (tmp_path / "s2").mkdir()
        sid = e.initialize_space(tmp_path / "s2", 2 * MIB).wait()
        ev = sub.get(timeout=30)
        assert ev is not None and ev.kind == pstor.EventKind.SPACE_STATUS and ev.details["space"] == sid


def test_recording_schedules_over_the_sdk(server):
    """A VMS manages the server's recording schedules: the same objects as
    the management API, the password never returned, typed refusals, and a
    camera that is not there reported as a streaming error."""
    with server.connect() as e:
        pool = video_pool(e)
        dead = free_port()  # nothing listens there: the camera is down
        wanted = {"camera_id": "py-cam", "name": "Dock <1>", "ip": "127.0.0.1", "port": dead, "pool": pool,
                  "username": "admin", "password": "never-returned"}
        made = e.create_schedule(wanted)
        sid = made["id"]
        assert made["has_password"] is True and "password" not in made
        assert made["rtsp_url"] == f"rtsp://127.0.0.1:{dead}/Streaming/Channels/101"
        page, total = e.list_schedules("dock")
        assert total == 1 and [s["id"] for s in page] == [sid]
        assert e.list_schedules("nobody") == ([], 0)
        deadline = time.monotonic() + 30
        while (status := e.get_schedule(sid)["status"]) is None or status["state"] != "streaming_error":
            assert time.monotonic() < deadline, status
            time.sleep(0.2)
        assert status["reason"]
        # A replace takes the fields of a new schedule (not the answer's id,
        # status or times: those are refused as unknown fields).
        with pytest.raises(pstor.Error) as unknown:
            e.replace_schedule(sid, made)
        assert unknown.value.code == 817 and "unknown field" in str(unknown.value)
        changed = e.replace_schedule(sid, {**wanted, "password": None, "enabled": False})
        assert changed["has_password"] is False and changed["enabled"] is False
        with pytest.raises(pstor.Error) as bad:
            e.create_schedule({"camera_id": "x", "ip": "127.0.0.1", "pool": pool, "channel": 0})
        assert bad.value.code == 817 and "channel" in str(bad.value)
        with pytest.raises(pstor.Error) as dup:
            e.schedule_event(sid, True)  # a continuous schedule has no events
        assert dup.value.code == 812
        e.delete_schedule(sid)
        with pytest.raises(pstor.Error) as gone:
            e.get_schedule(sid)
        assert gone.value.code == 807


def test_schedules_need_a_server(tmp_path):
    e = open_engine(tmp_path / "engine")
    try:
        with pytest.raises(pstor.Unsupported):
            e.list_schedules()
    finally:
        e.close()


def test_many_threads_write_concurrently_then_read_back(server):
    """16 threads, each recording two cameras of its own with syncs, through
    one client (its data connections are shared); then everything is read
    back, from this client and from a second one."""
    e = server.connect(data_connections=4)
    try:
        pool = video_pool(e)
        n_threads, n_frames = 16, 150
        cams = [e.register_stream(pool, f"mt-{i}") for i in range(2 * n_threads)]
        barrier = threading.Barrier(n_threads)
        errors = []

        def frame(c, k):
            return bytes([c % 256, k % 256]) * 400

        def writer(t):
            mine = cams[2 * t : 2 * t + 2]
            try:
                barrier.wait(30)
                for k in range(n_frames):
                    for c in mine:
                        e.append(c, T0 + k * 40_000, k % 25 == 0, frame(c, k))
                    if k % 25 == 24:
                        e.sync_streams(mine)
                e.sync_streams(mine)
            except Exception as ex:  # pragma: no cover - reported below
                errors.append(ex)

        threads = [threading.Thread(target=writer, args=(t,)) for t in range(n_threads)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert not any(t.is_alive() for t in threads) and errors == []
        with server.connect() as other:
            for reader in (e, other):
                for c in cams:
                    frames = list(reader.read(c, T0, T0 + n_frames * 40_000))
                    assert [f.ts for f in frames] == [T0 + k * 40_000 for k in range(n_frames)]
                    assert all(f.data == frame(c, k) for k, f in enumerate(frames))
    finally:
        e.close()


def test_today_needs_no_stream_remotely(server):
    """today() is the server's `today` operation: it works on a fresh server
    without streams, and agrees with a stream's inspection."""
    with server.connect() as e:
        assert e.streams() == []
        # The test server keeps UTC (no utc_offset_minutes).
        assert e.today() == datetime.datetime.now(datetime.timezone.utc).date()
        e.register_stream(video_pool(e), "cam-t")
        assert e.today() == e.inspect_today(e.find_stream("cam-t")).date
