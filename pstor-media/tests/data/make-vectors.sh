#!/usr/bin/env bash
# Makes the test vectors of pstor-media with ffmpeg (libx264, libx265):
# tiny testsrc2 clips; the .avcC/.hvcC are the decoder configuration
# records ffmpeg's MP4 muxer writes (read back with ffprobe), the .h264 /
# .hevc raw Annex B streams. Usage: make-vectors.sh [OUTDIR] (default: here).
set -euo pipefail
out=${1:-$(dirname "$0")}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
src() { echo "testsrc2=s=$1:r=25"; }
ff() { ffmpeg -nostdin -loglevel error -y "$@"; }
# The record of an MP4's video stream: ffprobe's extradata hex dump, undone.
record() {
  ffprobe -v error -select_streams v:0 -show_streams -show_data "$1" | python3 -c '
import re, sys
hexdump, on = "", False
for line in sys.stdin:
    if line.startswith("extradata="):
        on = True
    elif on and re.match(r"[0-9a-f]{8}: ", line):
        hexdump += line[10:50].replace(" ", "")
    elif on:
        break
sys.stdout.buffer.write(bytes.fromhex(hexdump))' >"$2"
  test -s "$2"
}
x264() { # name size frames x264 options...
  local name=$1 size=$2 frames=$3; shift 3
  ff -f lavfi -i "$(src "$size")" -frames:v "$frames" -c:v libx264 "$@" "$tmp/$name.mp4"
  record "$tmp/$name.mp4" "$out/$name.avcC"
}
x265() {
  local name=$1 size=$2 frames=$3; shift 3
  ff -f lavfi -i "$(src "$size")" -frames:v "$frames" -c:v libx265 -tag:v hvc1 "$@" "$tmp/$name.mp4"
  record "$tmp/$name.mp4" "$out/$name.hvcC"
}
q="-x265-params log-level=none:info=0"
x264 h264_baseline_320x240 320x240 2 -profile:v baseline -pix_fmt yuv420p
x264 h264_main_96x64 96x64 2 -profile:v main -pix_fmt yuv420p
x264 h264_main_640x360 640x360 2 -profile:v main -pix_fmt yuv420p
x264 h264_high_130x74_aud 130x74 2 -profile:v high -pix_fmt yuv420p -x264-params aud=1
x264 h264_high_642x362 642x362 2 -profile:v high -pix_fmt yuv420p
x264 h264_high_cqm_320x240 320x240 2 -profile:v high -pix_fmt yuv420p -x264-params cqm=jvt
x264 h264_high_interlaced_322x244 322x244 2 -profile:v high -pix_fmt yuv420p -flags +ildct -x264-params interlaced=1
x264 h264_high422_320x240 320x240 2 -profile:v high422 -pix_fmt yuv422p
x264 h264_high444_bframes_320x240 320x240 4 -profile:v high444 -pix_fmt yuv444p -bf 2
x265 h265_main_96x64 96x64 2 -pix_fmt yuv420p $q
x265 h265_main_130x74_aud 130x74 2 -pix_fmt yuv420p -x265-params log-level=none:info=0:aud=1
x265 h265_main_640x360 640x360 2 -pix_fmt yuv420p $q
x265 h265_main_642x362 642x362 2 -pix_fmt yuv420p $q
x265 h265_rext422_10_320x240 320x240 2 -pix_fmt yuv422p10le $q
x265 h265_temporal_layers_320x240 320x240 4 -pix_fmt yuv420p -x265-params log-level=none:info=0:temporal-layers=1:bframes=2
# Raw streams: the first frames in Annex B.
ff -f lavfi -i "$(src 96x64)" -frames:v 3 -c:v libx264 -profile:v main -pix_fmt yuv420p -f h264 "$out/h264_main_96x64.h264"
ff -f lavfi -i "$(src 130x74)" -frames:v 3 -c:v libx264 -profile:v high -pix_fmt yuv420p -x264-params aud=1 -f h264 "$out/h264_high_130x74_aud.h264"
ff -f lavfi -i "$(src 96x64)" -frames:v 3 -c:v libx265 -pix_fmt yuv420p $q -f hevc "$out/h265_main_96x64.hevc"
ff -f lavfi -i "$(src 130x74)" -frames:v 3 -c:v libx265 -pix_fmt yuv420p -x265-params log-level=none:info=0:aud=1 -f hevc "$out/h265_main_130x74_aud.hevc"
# Longer raw streams for the MP4 tests: 60 frames, a key frame every 10
# (parameter sets in band before each), no B-frames; two sizes for a codec
# change inside one file.
gop="-g 10 -keyint_min 10 -sc_threshold 0 -bf 0"
ff -f lavfi -i "$(src 96x64)" -frames:v 60 -c:v libx264 -profile:v main -pix_fmt yuv420p $gop -f h264 "$out/h264_gop10_96x64.h264"
ff -f lavfi -i "$(src 130x74)" -frames:v 60 -c:v libx264 -profile:v main -pix_fmt yuv420p $gop -f h264 "$out/h264_gop10_130x74.h264"
ff -f lavfi -i "$(src 96x64)" -frames:v 60 -c:v libx265 -pix_fmt yuv420p $gop -x265-params log-level=none:info=0:repeat-headers=1 -f hevc "$out/h265_gop10_96x64.hevc"
