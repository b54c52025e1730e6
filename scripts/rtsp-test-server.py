#!/usr/bin/env python3
"""A real RTSP server for pstor's recorder tests and benchmark: GStreamer's
gst-rtsp-server (through PyGObject) serving the files that
scripts/make-test-media.sh makes as live cameras at Hikvision paths, looped
forever in real time, never re-encoded.

  /Streaming/Channels/101   h264-main (1280x720 H.264, 4 Mbit/s)
  /Streaming/Channels/102   h264-sub  (640x360 H.264, 512 kbit/s)
  /Streaming/Channels/201   h265-main (1280x720 H.265, 2 Mbit/s)
  /Streaming/Channels/301   h264-main behind RTSP Digest authentication
  /resolution-change        10 s of h264-main, 10 s of h264-alt (640x360), ...
  /audio-only               an SDP with one A-law audio stream and no video

How the loop is made: at start-up each MP4 is demuxed once by GStreamer
(filesrc ! qtdemux ! appsink) into memory: its samples as they are in the
file (4-byte length-prefixed NAL units) and its caps (avcC/hvcC as
codec_data). Each path's pipeline is `appsrc ! rtph264pay/rtph265pay`; a
feeder pushes the samples into the appsrc at 25 fps, one every 40 ms, with
presentation times it counts itself (the previous one + 40 ms, so the RTP
timestamps go up by 3600 a frame, across loop points too), from the first
sample again after the last. The payloader (config-interval=-1) sends the
SPS/PPS (VPS too for H.265) of codec_data before every key frame; at the
switch of /resolution-change the appsrc's caps change to the other file's
codec_data, so the first key frame after it comes with the new parameter
sets. Nothing but the parameter sets is added to the file's NAL units.

Each path is one pipeline shared by all its clients (set_shared), made when
its first client comes and dropped when its last one leaves; a client that
joins a running one starts wherever the stream is (maybe mid-GOP, like a
camera). TCP interleaved and UDP transports are offered. RTCP sender reports
are sent by rtpbin (over the interleaved channel with TCP), their NTP time
from the system's real-time clock at the time of sending.

Prints `READY rtsp://127.0.0.1:PORT` once listening; logs to stderr. Keeps
working across SIGSTOP/SIGCONT (a stalled camera: after the stall the feeder
resumes at the next key frame, its timestamps moved on by the stall's length,
like a camera whose clock ran on); exits with 0 on SIGTERM/SIGINT.

Usage: rtsp-test-server.py --media DIR [--port N] [--address A]
                           [--user U --password P] [--rtcp-interval-ms MS]
Runs with the system python (/usr/bin/python3), which has PyGObject."""
import argparse
import os
import signal
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtsp", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtsp, GstRtspServer  # noqa: E402

FRAME_NS = 40_000_000  # 25 fps
# Later than this behind the clock (the process was stopped, or starved):
# skip to the next key frame at the present time instead of catching up.
STALL_NS = 1_000_000_000


def log(msg):
    print(f"rtsp-test-server: {msg}", file=sys.stderr, flush=True)


class Clip:
    """One MP4's video track in memory: caps (with codec_data) and samples."""

    def __init__(self, path):
        self.name = os.path.basename(path)
        pipe = Gst.parse_launch(
            f'filesrc location="{path}" ! qtdemux name=d d.video_0 ! '
            "appsink name=sink sync=false emit-signals=false")
        sink = pipe.get_by_name("sink")
        pipe.set_state(Gst.State.PLAYING)
        self.caps, self.samples = None, []  # samples: (bytes, is_key)
        while True:
            sample = sink.emit("pull-sample")
            if sample is None:
                break
            buf = sample.get_buffer()
            self.caps = self.caps or sample.get_caps()
            key = not buf.has_flags(Gst.BufferFlags.DELTA_UNIT)
            self.samples.append((buf.extract_dup(0, buf.get_size()), key))
        msg = pipe.get_bus().pop_filtered(Gst.MessageType.ERROR)
        pipe.set_state(Gst.State.NULL)
        if msg is not None:
            sys.exit(f"rtsp-test-server: {path}: {msg.parse_error()[0].message}")
        if not self.samples or not self.samples[0][1]:
            sys.exit(f"rtsp-test-server: {path}: no video, or it does not start with a key frame")
        s = self.caps.get_structure(0)
        self.h265 = s.get_name() == "video/x-h265"
        log(f"{self.name}: {s.get_name()} {s.get_value('width')}x{s.get_value('height')}, "
            f"{len(self.samples)} samples, {sum(k for _, k in self.samples)} key")


class Feeder:
    """Pushes a playlist of clips into one media's appsrc in real time."""

    def __init__(self, name, media, appsrc, playlist):
        self.name, self.src = name, appsrc
        # The cycle: (caps, bytes, key) for every frame of every clip in turn.
        self.cycle = [(c.caps, data, key) for c in playlist for data, key in c.samples]
        self.k = 0  # position in the cycle of the next frame
        self.pts = None  # presentation (running) time of the next frame
        self.caps = None
        self.pushed = self.skipped = 0
        self.stopped = False
        media.connect("unprepared", self.stop)
        self.timer = GLib.timeout_add(5, self.tick)

    def stop(self, *_):
        if not self.stopped:
            self.stopped = True
            log(f"{self.name}: media dropped after {self.pushed} frames")

    def tick(self):
        if self.stopped:
            return False
        # Only while PLAYING: a shared media paused with no client playing
        # has its running time stopped, and so do our timestamps.
        if self.src.current_state != Gst.State.PLAYING:
            self.timer = GLib.timeout_add(20, self.tick)
            return False
        clock = self.src.get_clock()
        now = clock.get_time() - self.src.get_base_time()
        if self.pts is None:
            self.pts = now
        elif now - self.pts > STALL_NS:
            # A stall: go on from the next key frame, at the present time.
            skipped = 0
            while not self.cycle[self.k][2]:
                self.k = (self.k + 1) % len(self.cycle)
                skipped += 1
            late = now - self.pts
            self.pts += (late // FRAME_NS) * FRAME_NS
            self.skipped += skipped
            log(f"{self.name}: {late / 1e9:.1f} s late (stopped?); going on at the next key frame "
                f"({skipped} frames skipped)")
        while self.pts <= now:
            caps, data, _key = self.cycle[self.k]
            buf = Gst.Buffer.new_wrapped(data)
            buf.pts = buf.dts = self.pts
            buf.duration = FRAME_NS
            if caps is not self.caps:
                self.caps = caps
                sample = Gst.Sample.new(buf, caps, None, None)
            else:
                sample = Gst.Sample.new(buf, None, None, None)
            ret = self.src.emit("push-sample", sample)
            if ret != Gst.FlowReturn.OK:
                # Flushing: the media is going away ("unprepared" follows).
                self.timer = GLib.timeout_add(20, self.tick)
                return False
            self.pushed += 1
            self.k = (self.k + 1) % len(self.cycle)
            self.pts += FRAME_NS
        # Wake up when the next frame is due (a timeout in ms, rounded up).
        self.timer = GLib.timeout_add(max(1, -(-(self.pts - now) // 1_000_000)), self.tick)
        return False


class VideoFactory(GstRtspServer.RTSPMediaFactory):
    def __init__(self, name, playlist, rtcp_interval_ms):
        super().__init__()
        self.name, self.playlist, self.rtcp_interval_ms = name, playlist, rtcp_interval_ms
        h265 = playlist[0].h265
        pay = "rtph265pay" if h265 else "rtph264pay"
        # At most 4 s queued in the appsrc (a prepared media that nobody
        # plays yet), the oldest dropped first.
        self.set_launch(
            "( appsrc name=src is-live=true format=time do-timestamp=false "
            "max-buffers=100 leaky-type=downstream "
            f"! {pay} name=pay0 pt=96 config-interval=-1 )")
        self.set_shared(True)
        self.connect("media-configure", self.configure)

    def configure(self, _factory, media):
        log(f"{self.name}: new media")
        src = media.get_element().get_by_name_recurse_up("src")
        src.set_property("caps", self.playlist[0].caps)
        if self.rtcp_interval_ms:
            media.connect("new-stream", self.new_stream)
        Feeder(self.name, media, src, self.playlist)

    def new_stream(self, _media, stream):
        # The stream's RTPSession exists once it has joined the bin; the
        # media's "prepared" comes after that.
        def prepared(_m):
            session = stream.get_rtpsession()
            if session is not None:
                session.set_property("rtcp-min-interval", self.rtcp_interval_ms * 1_000_000)

        _media.connect("prepared", prepared)


class AudioFactory(GstRtspServer.RTSPMediaFactory):
    def __init__(self):
        super().__init__()
        self.set_launch(
            "( audiotestsrc is-live=true wave=sine freq=440 samplesperbuffer=160 "
            "! audio/x-raw,rate=8000,channels=1 ! alawenc ! rtppcmapay name=pay0 pt=8 )")
        self.set_shared(True)


def allow(factory, roles):
    """Lets `roles` play from `factory`. Everybody else may see that the path
    exists but not play it: gst-rtsp-server answers 401 Unauthorized, with a
    Digest challenge, to a client without the construct permission (and 404
    to one without the access permission, which would never be asked for
    credentials)."""
    for role in ("anonymous", "user"):
        play = "true" if role in roles else "false"
        factory.add_role_from_structure(Gst.Structure.new_from_string(
            f"{role}, media.factory.access=(boolean)true, media.factory.construct=(boolean){play}"))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--media", required=True, help="the folder of make-test-media.sh")
    ap.add_argument("--port", type=int, default=8554, help="0: any free port")
    ap.add_argument("--address", default="127.0.0.1")
    ap.add_argument("--user", default="cam")
    ap.add_argument("--password", default="secret-pass")
    ap.add_argument("--rtcp-interval-ms", type=int, default=0,
                    help="RTCP minimum interval (0: rtpbin's default, 5 s)")
    a = ap.parse_args()
    Gst.init(None)
    clip = {n: Clip(os.path.join(a.media, f"{n}.mp4"))
            for n in ("h264-main", "h264-sub", "h265-main", "h264-alt")}

    server = GstRtspServer.RTSPServer()
    server.set_address(a.address)
    server.set_service(str(a.port))
    # Digest on one path: a request without credentials gets the default
    # token, role "anonymous", which every other path lets in.
    auth = GstRtspServer.RTSPAuth()
    auth.set_supported_methods(GstRtsp.RTSPAuthMethod.DIGEST)
    auth.set_realm("pstor-test-camera")
    anonymous = GstRtspServer.RTSPToken.new()
    anonymous.set_string("media.factory.role", "anonymous")
    auth.set_default_token(anonymous)
    user = GstRtspServer.RTSPToken.new()
    user.set_string("media.factory.role", "user")
    auth.add_digest(a.user, a.password, user)
    server.set_auth(auth)

    rtcp = a.rtcp_interval_ms
    everyone = ["anonymous", "user"]
    paths = {
        "/Streaming/Channels/101": (VideoFactory("101", [clip["h264-main"]], rtcp), everyone),
        "/Streaming/Channels/102": (VideoFactory("102", [clip["h264-sub"]], rtcp), everyone),
        "/Streaming/Channels/201": (VideoFactory("201", [clip["h265-main"]], rtcp), everyone),
        "/Streaming/Channels/301": (VideoFactory("301", [clip["h264-main"]], rtcp), ["user"]),
        "/resolution-change": (VideoFactory("resolution-change", [clip["h264-main"], clip["h264-alt"]], rtcp),
                               everyone),
        "/audio-only": (AudioFactory(), everyone),
    }
    mounts = server.get_mount_points()
    for path, (factory, roles) in paths.items():
        allow(factory, roles)
        mounts.add_factory(path, factory)
    if server.attach(None) == 0:
        sys.exit(f"rtsp-test-server: cannot listen on {a.address}:{a.port}")

    # Sessions of clients gone without a TEARDOWN (UDP) time out (60 s).
    pool = server.get_session_pool()
    GLib.timeout_add_seconds(2, lambda: pool.cleanup() >= 0)

    loop = GLib.MainLoop()

    def quit_(sig):
        log(f"signal {sig}: exiting")
        loop.quit()
        return False

    for sig in (signal.SIGTERM, signal.SIGINT):
        GLib.unix_signal_add(GLib.PRIORITY_HIGH, sig, quit_, sig)
    print(f"READY rtsp://{a.address}:{server.get_bound_port()}", flush=True)
    log(f"listening on {a.address}:{server.get_bound_port()}, paths: {' '.join(paths)}")
    loop.run()


if __name__ == "__main__":
    main()
