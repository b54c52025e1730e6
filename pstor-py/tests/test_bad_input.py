"""Bad input raises a Python exception; it never crashes the interpreter."""

from __future__ import annotations

import pytest

import pstor
from conftest import MIB

T0 = 1_790_000_000_000_000


@pytest.mark.parametrize(
    "call",
    [
        lambda e, c: e.append(c, T0, True, "a str is not bytes"),
        lambda e, c: e.append(c, T0, True, None),
        lambda e, c: e.append(c, T0, True, 12),
        lambda e, c: e.append(c, "2026", True, b"x"),
        lambda e, c: e.append(c, 1.5, True, b"x"),
        lambda e, c: e.append(c, True, True, b"x"),
        lambda e, c: e.append(-1, T0, True, b"x"),
        lambda e, c: e.append(2**64, T0, True, b"x"),
        lambda e, c: e.append(c, 2**63, True, b"x"),
        lambda e, c: e.read(c, T0, 10**30),
        lambda e, c: e.pool(-5),
        lambda e, c: e.create_pool("x", capacity=-1),
        lambda e, c: e.create_pool("x", capacity=2**70),
        lambda e, c: e.create_pool("x", capacity=MIB, max_lock_pct=300),
        lambda e, c: e.create_pool("\ud800", capacity=MIB),
        lambda e, c: e.register_stream(1, "cam\udcff"),
        lambda e, c: e.initialize_space("/tmp/\ud800", MIB),
        lambda e, c: e.initialize_space("/tmp", -1),
        lambda e, c: e.get_picture(12),
        lambda e, c: e.get_picture("\ud800" * 32),
        lambda e, c: e.get_picture_range("A" * 32, 2**64, 1),
        lambda e, c: e.list_pictures(1, T0, T0, limit=-1),
        lambda e, c: e.list_pictures(1, T0, T0, limit=2**40),
        lambda e, c: e.list_keys("b", limit=10**12),
        lambda e, c: e.list_pictures(1, T0 + 5, T0),
        lambda e, c: e.inspect_day(c, object()),
        lambda e, c: e.lock(c, T0 + 10, T0),
        lambda e, c: e.recorded_ranges(c, T0, T0, tolerance_us=2**64),
        lambda e, c: e.sync_streams("not a list"),
        lambda e, c: e.subscribe().get(timeout=-1),
        lambda e, c: e.subscribe().get(timeout=float("nan")),
        lambda e, c: pstor.PictureId.from_bytes(b"short"),
        lambda e, c: pstor.PictureId.from_parts(-1, 0, 0, 0, 0, 0),
        lambda e, c: pstor.Engine(12),
    ],
)
def test_bad_input_raises(engine, camera, call):
    with pytest.raises((pstor.Error, TypeError, ValueError, OverflowError, UnicodeError)):
        call(engine, camera)
    # The engine still works afterwards.
    assert engine.stream(camera).id == camera


def test_huge_frame_is_refused(engine, camera):
    # Remote, a frame larger than the largest request the server accepts
    # (its max_body, announced in its Hello) is refused by the client before
    # it is sent, with the same class as embedded.
    with pytest.raises(pstor.FrameSize):
        engine.append(camera, T0, True, bytes(17 << 20))


def test_non_contiguous_buffer(engine, camera):
    view = memoryview(bytes(range(100)))[::2]
    engine.append(camera, T0, True, view)
    engine.flush(camera)
    assert [f.data for f in engine.read(camera, T0, T0)] == [bytes(view)]
