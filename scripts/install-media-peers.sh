#!/usr/bin/env bash
# Installs the real media peers of the recorder's tests and benchmark, from
# Debian's packages: ffmpeg/ffprobe (the test media and their ground truth),
# GStreamer's RTSP server with its Python bindings (the camera that
# scripts/rtsp-test-server.py plays) and the GStreamer plugins it uses
# (appsrc, the H.264/H.265 parsers and RTP payloaders, the A-law encoder of
# the audio-only stream). Does nothing when they are all there.
set -euo pipefail
need=()
command -v ffmpeg >/dev/null && command -v ffprobe >/dev/null || need+=(ffmpeg)
python3 - <<'PY' 2>/dev/null || need+=(python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad)
import gi
gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import Gst, GstRtspServer
Gst.init(None)
for f in ("appsrc", "h264parse", "h265parse", "rtph264pay", "rtph265pay", "alawenc", "rtppcmapay", "audiotestsrc"):
    assert Gst.ElementFactory.find(f), f
PY
if [ ${#need[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
ffmpeg -hide_banner -version | head -1
