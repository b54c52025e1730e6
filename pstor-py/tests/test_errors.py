"""Exceptions: every stable error number has a class, and real failures
raise the right one."""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import socket
import struct
import threading
import zlib

import pytest

import pstor
from conftest import MIB, new_space, open_engine, repo_root

T0 = 1_790_000_000_000_000


def doc_codes():
    """(number, C name) rows of docs/error-codes.md."""
    text = (repo_root() / "docs" / "error-codes.md").read_text()
    # The management API's own codes (pstor-server, HTTP only) follow their heading.
    text = text.split("## The management API's codes")[0]
    rows = []
    for line in text.splitlines():
        m = re.match(r"\|\s*(\d+)\s*\|\s*`?(PSTOR_[A-Z0-9_]+)`?\s*\|", line)
        if m:
            rows.append((int(m.group(1)), m.group(2)))
    return rows


def test_every_documented_code_has_a_class():
    rows = doc_codes()
    assert len(rows) >= 40
    assert rows == [(n, c) for n, c, _ in pstor.error_codes()], "docs/error-codes.md and the build differ"
    classes = set()
    for number, c_name in rows:
        if number == 0:
            with pytest.raises(ValueError):
                pstor.error_class(0)
            continue
        cls = pstor.error_class(number)
        assert issubclass(cls, pstor.Error) and cls is not pstor.Error, c_name
        assert cls.code == number and cls.__doc__
        assert getattr(pstor, cls.__name__) is cls and cls.__module__ == "pstor"
        e = cls("message", number, c_name)
        assert (e.code, e.code_name, str(e)) == (number, c_name, "message")
        classes.add(cls)
    assert len(classes) == len(rows) - 1  # one class per number
    assert pstor.error_class(123456) is pstor.Error  # a number from a newer version


def test_groups():
    assert issubclass(pstor.PoolNotFound, pstor.NotFound) and issubclass(pstor.NotFound, LookupError)
    assert issubclass(pstor.InvalidPictureId, pstor.InvalidArgument)
    assert issubclass(pstor.InvalidArgument, ValueError)
    assert issubclass(pstor.PoolFull, pstor.CapacityError)
    assert issubclass(pstor.LockQuotaExceeded, pstor.CapacityError)
    assert issubclass(pstor.Corrupt, pstor.StorageError) and issubclass(pstor.IoError, pstor.StorageError)
    assert issubclass(pstor.Closed, pstor.StateError)
    for name in ("SpaceNotFound", "StreamNotFound", "PictureNotFound", "KeyNotFound", "LockNotFound", "PathNotFound"):
        assert issubclass(getattr(pstor, name), pstor.NotFound)


def test_network_errors():
    """Remote mode's codes (700-707): a group of their own, not OSErrors."""
    names = {
        700: "ProtocolError",
        701: "AuthFailed",
        702: "UnknownRequest",
        703: "FrameTooLarge",
        704: "Busy",
        705: "Timeout",
        706: "Disconnected",
        708: "ServerRestarted",
    }
    for number, name in names.items():
        cls = pstor.error_class(number)
        assert cls is getattr(pstor, name) and issubclass(cls, pstor.NetworkError), name
        assert not issubclass(cls, OSError), name
        e = cls("the server went away", number, f"PSTOR_{number}")
        assert str(e) == "the server went away" and e.code == number
    assert issubclass(pstor.NetworkError, pstor.Error)
    # Not the built-in TimeoutError (an OSError): that is what local waits raise.
    assert not issubclass(pstor.Timeout, TimeoutError) and pstor.Timeout is not TimeoutError
    # Unsupported: no network failure, no retry helps.
    assert pstor.error_class(707) is pstor.Unsupported and pstor.Unsupported.code == 707
    assert issubclass(pstor.Unsupported, NotImplementedError) and issubclass(pstor.Unsupported, pstor.Error)
    assert not issubclass(pstor.Unsupported, pstor.NetworkError)
    with pytest.raises(NotImplementedError):
        raise pstor.Unsupported("not in remote mode", 707, "PSTOR_UNSUPPORTED")


def test_pickling_keeps_the_code():
    import pickle

    e = pickle.loads(pickle.dumps(pstor.PoolFull("full", 306, "PSTOR_POOL_FULL")))
    assert type(e) is pstor.PoolFull and e.code == 306 and str(e) == "full"


def test_unknown_pool_id(engine):
    with pytest.raises(pstor.PoolNotFound) as ei:
        engine.pool(424242)
    assert ei.value.code == 302 and ei.value.code_name == "PSTOR_POOL_NOT_FOUND"
    assert "424242" in str(ei.value)


def test_bad_picture_id_text(engine):
    for bad in ["", "short", "A" * 31, "A" * 33, "!" * 32, "ä" * 16]:
        with pytest.raises(pstor.InvalidPictureId) as ei:
            engine.get_picture(bad)
        assert ei.value.code == 500
        with pytest.raises(pstor.InvalidPictureId):
            pstor.PictureId(bad)


def test_append_to_a_closed_engine(engine, camera):
    engine.append(camera, T0, True, b"x")
    engine.close()
    with pytest.raises(pstor.Closed) as ei:
        engine.append(camera, T0 + 1, True, b"x")
    assert ei.value.code == 901 and ei.value.code_name == "PSTOR_CLOSED"
    calls = (
        engine.pools,
        engine.spaces,
        engine.streams,
        engine.locks,
        engine.poll_events,
        engine.check,
        engine.thresholds,
        engine.today,
        engine.subscribe,
        engine.run_maintenance,
        engine.checkpoint,
        lambda: engine.find_stream("cam"),
        lambda: engine.set_thresholds(alarm_pct=20),
        lambda: engine.sync_pictures(1),
    )
    for call in calls:
        with pytest.raises(pstor.Closed):
            call()
    assert engine.closed
    engine.close()  # closing again does nothing


def test_pool_full_with_stop_when_full(engine, space):
    pool = engine.create_pool("stop", kind="picture", capacity=MIB, spaces=[space], strategy="stop_when_full")
    with pytest.raises(pstor.PoolFull) as ei:
        for i in range(1000):
            engine.put_picture(pool, bytes([i % 256]) * 50_000, camera_id="c", captured_at=T0 + i)
    assert ei.value.code == 306 and isinstance(ei.value, pstor.CapacityError)
    assert i > 5  # it stored some first


def test_lock_quota_exceeded(engine, space):
    pool = engine.create_pool("nolocks", capacity=2 * MIB, spaces=[space], max_lock_pct=0)
    cam = engine.register_stream(pool, "c")
    for i in range(20):
        engine.append(cam, T0 + i * 40_000, True, b"v" * 5000)
    engine.sync(cam)
    with pytest.raises(pstor.LockQuotaExceeded) as ei:
        engine.lock(cam, T0, T0 + 10**6)
    assert ei.value.code == 601


def test_a_corrupt_byte_on_disk(tmp_path):
    marker = b"\xa5MARKER\x5a" * 100
    with open_engine(tmp_path / "e") as e:
        sid = new_space(e, tmp_path / "s")
        pool = e.create_pool("v", capacity=2 * MIB, spaces=[sid])
        cam = e.register_stream(pool, "c")
        for i in range(10):
            e.append(cam, T0 + i * 40_000, i == 0, marker)
        e.sync(cam)
    hits = 0
    for f in sorted((tmp_path / "s").rglob("*")):
        if f.is_file():
            data = bytearray(f.read_bytes())
            at = data.find(marker)
            if at >= 0:
                data[at + 50] ^= 0xFF
                f.write_bytes(bytes(data))
                hits += 1
    assert hits == 1, "the frame bytes were not found on disk"
    with open_engine(tmp_path / "e") as e:
        with pytest.raises(pstor.Corrupt) as ei:
            list(e.read(cam, T0, T0 + 10**6))
        assert ei.value.code == 101 and isinstance(ei.value, pstor.StorageError)
        assert not e.check().is_clean


def _frame(kind: int, op: int, request_id: int, body: bytes) -> bytes:
    """One SDK protocol frame (docs/sdk-protocol.md §2): header + body."""
    head = b"PS" + struct.pack("<BBHHII", 1, kind, op, 0, request_id, len(body))
    return head + struct.pack("<I", zlib.crc32(head + body)) + body


def _read_frame(conn: socket.socket) -> tuple[int, int, bytes]:
    def exactly(n: int) -> bytes:
        buf = b""
        while len(buf) < n:
            chunk = conn.recv(n - len(buf))
            if not chunk:
                raise EOFError
            buf += chunk
        return buf

    head = exactly(20)
    _ver, _kind, op, _flags, request_id, length = struct.unpack("<BBHHII", head[2:16])
    return op, request_id, exactly(length)


class NewerServer:
    """A server of a later protocol version, on loopback: it speaks the
    handshake of docs/sdk-protocol.md §3 (its Hello, the HMAC proofs) on
    its two ports and answers every request with an error number this
    build does not know. The real pstor-server sends only numbers it knows,
    so this is the only way to meet one; it is a real peer on real sockets,
    the client under test is the real one."""

    def __init__(self, code: int, message: str):
        self.code, self.message = code, message
        self.listeners = [socket.create_server(("127.0.0.1", 0)) for _ in range(2)]
        for role, sock in enumerate(self.listeners, start=1):
            threading.Thread(target=self._accept, args=(sock, role), daemon=True).start()

    def port(self, role: int) -> int:
        return self.listeners[role - 1].getsockname()[1]

    def _accept(self, sock: socket.socket, role: int) -> None:
        while True:
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn, role), daemon=True).start()

    def _serve(self, conn: socket.socket, role: int) -> None:
        with conn:
            nonce = os.urandom(32)
            version = b"pstor-server 9.0.0"
            hello = nonce + struct.pack("<BIIH", role, 1 << 20, 16, len(version)) + version
            hello += struct.pack("<QI", 0x5EED, 300_000)  # instance, idle timeout (ms)
            conn.sendall(_frame(6, 0x0001, 0, hello))
            try:
                _op, auth_id, auth = _read_frame(conn)
                (key_len,) = struct.unpack("<H", auth[:2])
                client_nonce = auth[2 + key_len : 2 + key_len + 32]
                proof = hmac.new(SECRET.encode(), b"pstor-server-v1" + client_nonce + nonce, hashlib.sha256).digest()
                conn.sendall(_frame(2, 0x0002, auth_id, proof))
                while True:
                    op, request_id, _body = _read_frame(conn)
                    text = self.message.encode()
                    conn.sendall(_frame(3, op, request_id, struct.pack("<IH", self.code, len(text)) + text))
            except (EOFError, OSError):
                return

    def close(self) -> None:
        for s in self.listeners:
            s.close()


SECRET = "a-newer-servers-secret"


def test_an_unknown_number_from_a_newer_server_is_kept():
    """Remote mode: an error number this version does not know (950, from
    a newer server) raises the base class ``pstor.Error`` with that number
    as ``.code`` (not 99) and the server's message."""
    server = NewerServer(950, "refused by a rule of a newer version")
    try:
        e = pstor.connect(
            "127.0.0.1", "PSAKNEWER", SECRET, signalling_port=server.port(1), data_port=server.port(2)
        )
        try:
            with pytest.raises(pstor.Error) as ei:
                e.pools()
            assert type(ei.value) is pstor.Error
            assert ei.value.code == 950 and ei.value.code_name == "PSTOR_UNKNOWN"
            assert str(ei.value) == "refused by a rule of a newer version"
        finally:
            try:
                e.close()
            except pstor.Error:
                pass
    finally:
        server.close()
