"""Shared fixtures: a tiny engine (1 MiB minimum spaces, 256 KiB segments)
in pytest's tmp_path, with a space and pools ready.

The ``engine`` fixture comes in two modes, so most tests run twice:
``embedded`` (``pstor.Engine`` on a folder) and ``remote`` (``pstor.connect``
to a real ``pstor-server`` process started for the test, with the same tiny
engine settings and a 16 MiB space, on loopback ports chosen by the system).
The server binary is ``$PSTOR_SERVER_BIN`` (``scripts/test-python.sh`` builds
it and sets it); without it the remote cases are skipped. A test that only
makes sense embedded is marked ``@pytest.mark.embedded_only``."""

from __future__ import annotations

import faulthandler
import os
import pathlib
import queue
import signal
import subprocess
import sys
import threading

import pytest
from hypothesis import settings

import pstor

# No example database left in the work tree; the same examples every run.
settings.register_profile("pstor", database=None, derandomize=False)
settings.load_profile("pstor")

MIB = 1 << 20
SEG = 256 << 10

SERVER_BIN = os.environ.get("PSTOR_SERVER_BIN")
ACCESS_KEY = "PSAKPYTEST0000000001"
SECRET_KEY = "python-test-secret-0123456789"
MODES = ["embedded", "remote"]

# A hung test (e.g. a call that wrongly holds the GIL while it waits for
# another thread) dumps every thread's stack and fails the run instead of
# hanging it.
faulthandler.dump_traceback_later(600, exit=True, file=sys.stderr)


def open_engine(path: pathlib.Path, **kw) -> pstor.Engine:
    return pstor.Engine(path, min_space_capacity=MIB, segment_size=SEG, **kw)


def new_space(engine: pstor.Engine, path: pathlib.Path, capacity: int = 8 * MIB) -> int:
    path.mkdir(parents=True, exist_ok=True)
    return engine.initialize_space(path, capacity).wait()


class Server:
    """A ``pstor-server run`` process on loopback: ports chosen by the system
    (read from its ``listening`` line), a configuration written here (one
    key pair, tiny engine settings, one space of ``space_mib`` at
    ``root/space1``, no pool)."""

    def __init__(self, root: pathlib.Path, space_mib: int = 16):
        if not SERVER_BIN:
            pytest.skip("remote mode: set PSTOR_SERVER_BIN to a pstor-server binary")
        root.mkdir(parents=True, exist_ok=True)
        self.root = root
        self.space_dir = root / "space1"
        config = root / "pstor-server.toml"
        config.write_text(
            f"""data_dir = "{root / 'data'}"
[listen]
bind = "127.0.0.1"
signalling_port = 0
data_port = 0
[playback]
port = 0
data_port = 0
[management]
port = 0
[[spaces]]
path = "{self.space_dir}"
capacity = "{space_mib}MiB"
[keys]
[[keys.pairs]]
access_key = "{ACCESS_KEY}"
secret_key = "{SECRET_KEY}"
[logging]
level = "warn"
[engine]
min_space_capacity = "1MiB"
segment_size = "256KiB"
"""
        )
        self.log = open(root / "server.log", "wb")
        self.proc = subprocess.Popen(
            [SERVER_BIN, "run", "--config", str(config)], stdout=subprocess.PIPE, stderr=self.log, text=True
        )
        lines: queue.Queue[str | None] = queue.Queue()

        def pump() -> None:
            assert self.proc.stdout is not None
            for line in self.proc.stdout:
                lines.put(line)
            lines.put(None)

        threading.Thread(target=pump, daemon=True).start()
        # The server prints one line once both ports listen (bounded wait).
        try:
            line = lines.get(timeout=60)
        except queue.Empty:
            line = None
        if line is None or not line.startswith("listening "):
            self.stop(check=False)
            raise RuntimeError(f"pstor-server did not start: {line!r}; log: {self.log_text()}")
        addrs = dict(w.split("=", 1) for w in line.split()[1:])
        self.host, port = addrs["signalling"].rsplit(":", 1)
        self.signalling_port = int(port)
        self.data_port = int(addrs["data"].rsplit(":", 1)[1])

    def log_text(self) -> str:
        return (self.root / "server.log").read_text(errors="replace")

    def connect(self, **kw) -> pstor.Engine:
        kw.setdefault("signalling_port", self.signalling_port)
        kw.setdefault("data_port", self.data_port)
        return pstor.connect(self.host, kw.pop("access_key", ACCESS_KEY), kw.pop("secret_key", SECRET_KEY), **kw)

    def stop(self, check: bool = True, status: int = 0) -> None:
        """SIGTERM: a graceful shutdown, which must exit `status` (0)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        if check:
            assert self.proc.returncode == status, f"pstor-server exited with {self.proc.returncode}: {self.log_text()}"


def pytest_configure(config):
    config.addinivalue_line("markers", "embedded_only: runs with the embedded engine only (no remote variant)")
    config.addinivalue_line("markers", "server_exit(status): the remote variant's server stops with this status")


def pytest_generate_tests(metafunc):
    # `mode` parametrizes every test that uses the engine fixture (directly or
    # through space, video_pool, camera, ...).
    if "mode" in metafunc.fixturenames:
        embedded_only = metafunc.definition.get_closest_marker("embedded_only") is not None
        metafunc.parametrize("mode", ["embedded"] if embedded_only else MODES)


@pytest.fixture
def server(tmp_path):
    s = Server(tmp_path / "server")
    yield s
    s.stop()


@pytest.fixture
def engine(mode, tmp_path, request):
    if mode == "embedded":
        e = open_engine(tmp_path / "engine")
        yield e
        e.close()
    else:
        srv = Server(tmp_path / "server")
        try:
            e = srv.connect()
            assert e.remote == f"{srv.host}:{srv.signalling_port}" and e.data_dir is None
            yield e
            e.close()
        finally:
            marker = request.node.get_closest_marker("server_exit")
            srv.stop(status=marker.args[0] if marker else 0)


@pytest.fixture
def space(engine, mode, tmp_path):
    if mode == "remote":
        # The server made its configured space (16 MiB, like the embedded one below).
        [info] = engine.spaces()
        return info.id
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
