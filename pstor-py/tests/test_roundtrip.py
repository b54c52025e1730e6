"""Property tests (hypothesis): what goes in comes out identical."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pstor
from conftest import MIB, MODES, Server, new_space, open_engine

T0 = 1_790_000_000_000_000
u32 = st.integers(min_value=0, max_value=2**32 - 1)
FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module", params=MODES)
def shared(request, tmp_path_factory):
    """One engine for the module, embedded or on a pstor-server; each example
    uses its own stream or names."""
    root = tmp_path_factory.mktemp("rt")
    srv = None
    if request.param == "embedded":
        e = open_engine(root / "e")
        sid = new_space(e, root / "s", 32 * MIB)
    else:
        srv = Server(root / "server", space_mib=32)
        e = srv.connect()
        [sid] = [s.id for s in e.spaces()]
    video = e.create_pool("v", capacity=12 * MIB, spaces=[sid])
    pics = e.create_pool("p", kind="picture", capacity=12 * MIB, spaces=[sid])
    yield e, video, pics
    e.close()
    if srv is not None:
        srv.stop()


_counter = itertools.count()

frames_st = st.lists(
    st.tuples(st.integers(min_value=1, max_value=5_000_000), st.booleans(), st.binary(min_size=1, max_size=3000)),
    min_size=1,
    max_size=40,
)


@FAST
@given(frames=frames_st, start=st.integers(min_value=-(2**40), max_value=2**50))
def test_frames_round_trip(shared, frames, start):
    engine, video, _ = shared
    cam = engine.register_stream(video, f"cam-{next(_counter)}")
    expected = []
    ts = start
    for gap, key, data in frames:
        ts += gap
        key = key or not expected  # a read starts at a key frame
        engine.append(cam, ts, key, data)
        expected.append((ts, key, data))
    engine.sync(cam)
    got = [(f.ts, f.key, f.data) for f in engine.read(cam, expected[0][0], expected[-1][0])]
    assert got == expected


text = st.text(min_size=1, max_size=40).filter(lambda s: "\x00" not in s)


@FAST
@given(
    data=st.binary(min_size=1, max_size=20_000),
    camera=st.text(min_size=1, max_size=60),
    captured_at=st.integers(min_value=-(2**62), max_value=2**62),
    content_type=st.text(max_size=30),
    named=st.booleans(),
    bucket=st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=3, max_size=20),
    key=st.text(min_size=1, max_size=100),
)
def test_pictures_round_trip(shared, data, camera, captured_at, content_type, named, bucket, key):
    engine, _, pics = shared
    kw = {"bucket": bucket, "key": key} if named else {}
    try:
        pid = engine.put_picture(
            pics, data, camera_id=camera, captured_at=captured_at, content_type=content_type, **kw
        )
    except pstor.InvalidArgument:
        # The engine bounds names in bytes (camera <= 256, type <= 127, ...):
        # only refused when over.
        assert len(camera.encode()) > 256 or len(content_type.encode()) > 127 or (named and len(key.encode()) > 1024)
        return
    pic = engine.get_picture(pid)
    assert pic.data == data
    info = pic.info
    assert (info.camera_id, info.captured_at, info.content_type) == (camera, captured_at, content_type)
    assert (info.bucket, info.key) == ((bucket, key) if named else (None, None))
    assert engine.get_picture(pstor.PictureId(str(pid))).data == data
    if named:
        assert engine.get_picture_by_key(bucket, key).data == data
    engine.delete_picture(pid)


@settings(max_examples=300, deadline=None)
@given(space=u32, segment=u32, generation=u32, offset=u32, length=u32, cookie=u32)
def test_picture_id_text_round_trip(space, segment, generation, offset, length, cookie):
    pid = pstor.PictureId.from_parts(space, segment, generation, offset, length, cookie)
    text = str(pid)
    assert len(text) == 32 and all(c.isalnum() or c in "-_" for c in text)
    back = pstor.PictureId(text)
    assert back == pid and hash(back) == hash(pid)
    assert (back.space, back.segment, back.generation, back.offset, back.length, back.cookie) == (
        space,
        segment,
        generation,
        offset,
        length,
        cookie,
    )
    assert pstor.PictureId.from_bytes(pid.to_bytes()) == pid
    assert repr(pid) == f"PictureId('{text}')"


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_arbitrary_picture_id_text_never_crashes(text):
    try:
        pid = pstor.PictureId(text)
    except pstor.InvalidPictureId:
        return
    assert str(pid) == text


@FAST
@given(fields=st.tuples(u32, u32, u32, u32, u32, u32))
def test_forged_ids_are_refused_not_served(shared, fields):
    engine, _, _ = shared
    pid = pstor.PictureId.from_parts(*fields)
    with pytest.raises((pstor.NotFound, pstor.InvalidArgument, pstor.Corrupt)):
        engine.get_picture(pid)
