#!/usr/bin/env python3
"""The truth about a test media file, from ffprobe (not from pstor's code):
codec, size, frame rate, the avcC/hvcC payload, and for each video packet
its time, key flag, size and SHA-256, of the packet as it is ("sha256_full")
and with every parameter-set NAL unit removed ("sha256": H.264 SPS/PPS,
types 7 and 8; H.265 VPS/SPS/PPS, types 32 to 34). MP4 packets are 4-byte
big-endian length-prefixed NAL units; the hash is of the units left, still
length-prefixed. A recorder that gets the stream over RTSP sees the
parameter sets in band before key frames, hence the second hash.

Usage: media-manifest.py FILE.mp4 > FILE.manifest.json
Standard library only; any python3."""
import hashlib
import json
import re
import subprocess
import sys

LINE = re.compile(r"^([0-9a-fA-F]{8}):\s(.*)$")
GROUP = re.compile(r"^(?:[0-9a-fA-F]{2})+$")


def dump_bytes(text, what):
    """The bytes of an ffprobe -show_data hex dump: lines of an 8-digit hex
    offset, a colon, up to 16 bytes in groups of 2 (4 hex digits, the last
    group maybe 2), then two or more spaces and the bytes as ASCII."""
    out = bytearray()
    for line in text.splitlines():
        if not line.strip():
            continue
        m = LINE.match(line)
        if not m:
            sys.exit(f"media-manifest: {what}: not a hex dump line: {line!r}")
        if int(m.group(1), 16) != len(out):
            sys.exit(f"media-manifest: {what}: offset {m.group(1)} where {len(out):08x} was due")
        # The hex part ends at the first run of two spaces (the ASCII part,
        # which may hold spaces and hex-looking letters, follows it).
        hex_part = m.group(2).split("  ", 1)[0]
        groups = hex_part.split()
        if not groups or len(groups) > 8 or not all(GROUP.match(g) and len(g) <= 4 for g in groups):
            sys.exit(f"media-manifest: {what}: bad hex in {line!r}")
        if any(len(g) != 4 for g in groups[:-1]):
            sys.exit(f"media-manifest: {what}: bad hex in {line!r}")
        out += bytes.fromhex("".join(groups))
    return bytes(out)


def nal_units(data, what):
    """The NAL units of a length-prefixed packet, each with its prefix."""
    units, i = [], 0
    while i < len(data):
        if i + 4 > len(data):
            sys.exit(f"media-manifest: {what}: a truncated length prefix at {i}")
        n = int.from_bytes(data[i:i + 4], "big")
        if n == 0 or i + 4 + n > len(data):
            sys.exit(f"media-manifest: {what}: a NAL unit of {n} bytes at {i} in {len(data)}")
        units.append(data[i:i + 4 + n])
        i += 4 + n
    return units


def is_parameter_set(unit, h265):
    if h265:
        return 32 <= (unit[4] >> 1) & 0x3F <= 34
    return unit[4] & 0x1F in (7, 8)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: media-manifest.py FILE.mp4 > FILE.manifest.json")
    path = sys.argv[1]
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_streams", "-show_packets",
         "-show_data", "-of", "json", path],
        check=True, capture_output=True, text=True).stdout
    info = json.loads(probe)
    if not info.get("streams"):
        sys.exit(f"media-manifest: {path}: no video stream")
    st = info["streams"][0]
    if st["codec_name"] not in ("h264", "hevc"):
        sys.exit(f"media-manifest: {path}: codec {st['codec_name']}, not H.264 or H.265")
    h265 = st["codec_name"] == "hevc"
    num, den = (int(x) for x in st["time_base"].split("/"))

    def us(ticks):
        return int(ticks) * 1_000_000 * num // den

    packets = []
    for i, p in enumerate(info.get("packets", [])):
        what = f"{path}: packet {i}"
        data = dump_bytes(p.get("data", ""), what)
        if len(data) != int(p["size"]):
            sys.exit(f"media-manifest: {what}: {len(data)} bytes in the dump, {p['size']} in size")
        kept = b"".join(u for u in nal_units(data, what) if not is_parameter_set(u, h265))
        packets.append({
            "index": i,
            "pts_us": us(p["pts"]),
            "duration_us": us(p.get("duration", 0)),
            "key": "K" in p.get("flags", ""),
            "size": len(data),
            "sha256": hashlib.sha256(kept).hexdigest(),
            "sha256_full": hashlib.sha256(data).hexdigest(),
        })
    if not packets:
        sys.exit(f"media-manifest: {path}: no packets")
    rate_num, rate_den = (int(x) for x in st["r_frame_rate"].split("/"))
    json.dump({
        "codec": "H265" if h265 else "H264",
        "width": st["width"],
        "height": st["height"],
        "frame_rate": round(rate_num / rate_den),
        "extradata_hex": dump_bytes(st.get("extradata", ""), f"{path}: extradata").hex(),
        "packets": packets,
    }, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
