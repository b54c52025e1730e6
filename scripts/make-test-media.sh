#!/usr/bin/env bash
# The camera media of the recorder's tests and benchmark, which
# scripts/rtsp-test-server.py serves: testsrc2 at 25 fps, no audio, a closed
# GOP of 25 frames (a key frame every second), no B-frames, 10 s (250
# frames) each, constant-ish bitrate (maxrate = bufsize = bitrate), encoded
# with ffmpeg into MP4 (+faststart) in OUTDIR:
#   h264-main.mp4  1280x720 H.264 Main, 4 Mbit/s    (Hikvision channel 1 main)
#   h264-sub.mp4    640x360 H.264 Main, 512 kbit/s  (channel 1 sub)
#   h265-main.mp4  1280x720 H.265 Main, 2 Mbit/s    (channel 2 main)
#   h264-alt.mp4    640x360 H.264 Main, 1 Mbit/s    (the resolution-change test)
# and for each NAME.manifest.json, ffprobe's account of its packets
# (scripts/media-manifest.py): the truth the tests compare with.
# Idempotent: OUTDIR/stamp holds a line of parameters per file, and a file
# whose line is there (and whose .mp4 and manifest are) is not made again.
# Usage: make-test-media.sh OUTDIR
set -euo pipefail
out=${1:?usage: make-test-media.sh OUTDIR}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out"
# One maker at a time: test binaries that run side by side all ask for it.
exec 9>"$out/.lock"
flock 9
stamp=$out/stamp
touch "$stamp"
started=$(date +%s.%N)

# Common to all: the source, the GOP, the container.
common=(-nostdin -loglevel error -y -f lavfi)
gop=(-r 25 -g 25 -keyint_min 25 -sc_threshold 0 -bf 0 -pix_fmt yuv420p -t 10 -an -movflags +faststart)
v=4 # bump when something below changes that the parameters do not say

# NAME CODEC SIZE BITRATE: the parameters, as the stamp records them.
params() { echo "$1 v$v testsrc2 $2 $3 25fps gop25 bf0 10s $4"; }

made() { # NAME PARAMS
  grep -qxF "$2" "$stamp" && [ -s "$out/$1.mp4" ] && [ -s "$out/$1.manifest.json" ]
}

encode() { # NAME CODEC SIZE BITRATE
  local name=$1 codec=$2 size=$3 rate=$4 p enc
  p=$(params "$@")
  if made "$name" "$p"; then
    return 0
  fi
  case $codec in
  h264) enc=(-c:v libx264 -preset veryfast -profile:v main) ;;
  h265) enc=(-c:v libx265 -preset ultrafast -tag:v hvc1
    -x265-params "log-level=error:info=0:keyint=25:min-keyint=25:bframes=0:scenecut=0:open-gop=0:repeat-headers=0") ;;
  esac
  ffmpeg "${common[@]}" -i "testsrc2=s=$size:r=25" "${enc[@]}" \
    -b:v "$rate" -maxrate "$rate" -bufsize "$rate" "${gop[@]}" "$out/$name.tmp.mp4"
  mv "$out/$name.tmp.mp4" "$out/$name.mp4"
  python3 "$here/media-manifest.py" "$out/$name.mp4" >"$out/$name.manifest.tmp"
  mv "$out/$name.manifest.tmp" "$out/$name.manifest.json"
  echo "$p" >"$out/$name.stamp"
}

# Four encodes side by side (2 cores); each writes its own stamp line.
pids=()
encode h264-main h264 1280x720 4M & pids+=($!)
encode h264-sub h264 640x360 512k & pids+=($!)
encode h264-alt h264 640x360 1M & pids+=($!)
encode h265-main h265 1280x720 2M & pids+=($!)
rc=0
for p in "${pids[@]}"; do wait "$p" || rc=1; done
[ "$rc" = 0 ] || { echo "make-test-media: an encode failed" >&2; exit 1; }

# Merge the new stamp lines into the stamp file (one line a file).
for f in "$out"/*.stamp; do
  [ -e "$f" ] || continue
  name=$(basename "$f" .stamp)
  { grep -v "^$name " "$stamp" || true; cat "$f"; } >"$stamp.tmp"
  mv "$stamp.tmp" "$stamp"
  rm -f "$f"
done
echo "make-test-media: $out ready in $(awk "BEGIN{printf \"%.1f\", $(date +%s.%N) - $started}") s" >&2
