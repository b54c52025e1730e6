"""Shared fixtures: a tiny engine (1 MiB minimum spaces, 256 KiB segments)
in pytest's tmp_path, with a space and pools ready."""

from __future__ import annotations

import faulthandler
import pathlib
import sys

import pytest
from hypothesis import settings

import pstor

# No example database left in the work tree; the same examples every run.
settings.register_profile("pstor", database=None, derandomize=False)
settings.load_profile("pstor")

MIB = 1 << 20
SEG = 256 << 10

# A hung test (e.g. a call that wrongly holds the GIL while it waits for
# another thread) dumps every thread's stack and fails the run instead of
# hanging it.
faulthandler.dump_traceback_later(600, exit=True, file=sys.stderr)


def open_engine(path: pathlib.Path, **kw) -> pstor.Engine:
    return pstor.Engine(path, min_space_capacity=MIB, segment_size=SEG, **kw)


def new_space(engine: pstor.Engine, path: pathlib.Path, capacity: int = 8 * MIB) -> int:
    path.mkdir(parents=True, exist_ok=True)
    return engine.initialize_space(path, capacity).wait()


@pytest.fixture
def engine(tmp_path):
    e = open_engine(tmp_path / "engine")
    yield e
    e.close()


@pytest.fixture
def space(engine, tmp_path):
    return new_space(engine, tmp_path / "space1", 16 * MIB)


@pytest.fixture
def video_pool(engine, space):
    return engine.create_pool("video", capacity=4 * MIB, spaces=[space], max_lock_pct=50)


@pytest.fixture
def picture_pool(engine, space):
    return engine.create_pool("pictures", kind=pstor.PoolKind.PICTURE, capacity=4 * MIB, spaces=[space])


@pytest.fixture
def camera(engine, video_pool):
    return engine.register_stream(video_pool, "cam-1")


def repo_root() -> pathlib.Path:
    return pathlib.Path(__file__).resolve().parents[2]
