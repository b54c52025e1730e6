// pstor's player: plays a recording or a camera live from an HLS playlist
// of fragmented MP4 through Media Source Extensions (no hls.js, nothing
// from outside this server), or an .mp4 file as is. Query parameters:
//   src=<playlist URL>   (playlist.m3u8 of a recording, or live.m3u8)
//   mp4=<file URL>       (view.mp4)
// The URLs are signed links, or same-host URLs the session cookie opens.
// window.pstorPlayer tells tests what happened (appended segments, errors).

const TEXT = {
  loading: "Loading…",
  live: "Live",
  noMse: "This browser has no Media Source Extensions: open the playlist in an HLS player.",
  codec: (c) => `This browser cannot play ${c}.`,
  failed: (what) => `Playback failed: ${what}`,
  ended: "End of the recording.",
};
const AHEAD_SECS = 30;
const BEHIND_SECS = 30;

const video = document.getElementById("video");
const statusEl = document.getElementById("status");
const clockEl = document.getElementById("clock");
const state = { appended: 0, errors: [], live: false, codecs: null };
window.pstorPlayer = state;

function say(text) { statusEl.textContent = text; }
function fail(what) {
  state.errors.push(String(what));
  say(TEXT.failed(what));
}

/** The segments of an HLS media playlist. */
export function parsePlaylist(text, base) {
  const lines = text.split(/\r?\n/);
  if (lines[0] !== "#EXTM3U") throw new Error("not an HLS playlist");
  const out = { segments: [], ended: false, sequence: 0, start: 0, programDate: null };
  let map = null, duration = 0, gap = false, at = 0, date = null;
  for (const line of lines) {
    if (line.startsWith("#EXT-X-MEDIA-SEQUENCE:")) out.sequence = Number(line.slice(22));
    else if (line.startsWith("#EXT-X-START:")) out.start = Number(/TIME-OFFSET=([-\d.]+)/.exec(line)?.[1] ?? 0);
    else if (line.startsWith("#EXT-X-MAP:")) map = new URL(/URI="([^"]+)"/.exec(line)[1], base).href;
    else if (line.startsWith("#EXT-X-PROGRAM-DATE-TIME:")) date = Date.parse(line.slice(25));
    else if (line.startsWith("#EXTINF:")) duration = Number(line.slice(8).split(",")[0]);
    else if (line === "#EXT-X-GAP") gap = true;
    else if (line === "#EXT-X-ENDLIST") out.ended = true;
    else if (line && !line.startsWith("#")) {
      const msn = out.sequence + out.segments.length;
      if (out.programDate === null && date !== null) out.programDate = date - at * 1000;
      out.segments.push({ url: new URL(line, base).href, map, duration, gap, msn, at });
      at += duration;
      gap = false;
    }
  }
  return out;
}

/** A link without its signature (exp, key, sig). */
function unsigned(url) {
  const u = new URL(url);
  for (const p of ["exp", "key", "sig"]) u.searchParams.delete(p);
  return u.href;
}

function once(target, event) {
  return new Promise((resolve) => target.addEventListener(event, resolve, { once: true }));
}

async function fetchOk(url) {
  const r = await fetch(url, { credentials: "same-origin" });
  if (!r.ok) {
    let why = `${r.status}`;
    try { why += ` ${(await r.json()).error.message}`; } catch { /* not JSON */ }
    throw new Error(why);
  }
  return r;
}

class Player {
  constructor(src) {
    this.src = src;
    this.ms = new MediaSource();
    this.sb = null;
    this.map = null;
    this.playlist = null;
    this.appended = new Set();
    this.busy = false;
    this.offset = 0;
  }

  async start() {
    video.src = URL.createObjectURL(this.ms);
    await once(this.ms, "sourceopen");
    await this.reload();
    state.live = !this.playlist.ended;
    if (state.live) {
      say(TEXT.live);
    }
    video.addEventListener("timeupdate", () => this.pump());
    video.addEventListener("seeking", () => this.pump());
    const first = this.playlist.segments.find((s) => !s.gap);
    const startAt = state.live ? this.timeOf(first) : this.playlist.start;
    // Until an init segment is in, the element cannot seek: fill first.
    await this.pump(startAt);
    video.currentTime = startAt;
    video.addEventListener("waiting", () => this.skipHole());
    this.skipHole();
    video.play().catch(() => { /* autoplay may need a click */ });
    if (state.live) this.follow();
  }

  /** Where a segment starts on the media timeline. */
  timeOf(seg) {
    return seg.at + this.offset;
  }

  async reload(msn) {
    const url = new URL(this.src, location.href);
    if (msn !== undefined) url.searchParams.set("_HLS_msn", String(msn));
    const text = await (await fetchOk(url.href)).text();
    this.playlist = parsePlaylist(text, url.href);
    if (!this.playlist.ended) {
      // Live segments decode from the Unix epoch: place them there.
      const first = this.playlist.segments[0];
      this.offset = this.playlist.programDate !== null ? this.playlist.programDate / 1000 - first.at : 0;
    }
  }

  async append(bytes) {
    this.sb.appendBuffer(bytes);
    await once(this.sb, "updateend");
  }

  async useMap(map) {
    // Links are signed anew at each reload: compare them unsigned.
    const key = unsigned(map);
    if (key === this.map) return;
    const r = await fetchOk(map);
    const codecs = r.headers.get("X-Pstor-Codecs") || "avc1.42E01E";
    const type = `video/mp4; codecs="${codecs}"`;
    if (!MediaSource.isTypeSupported(type)) throw new Error(TEXT.codec(codecs));
    const init = await r.arrayBuffer();
    if (!this.sb) {
      this.sb = this.ms.addSourceBuffer(type);
    } else if (codecs !== state.codecs && this.sb.changeType) {
      this.sb.changeType(type);
    }
    state.codecs = codecs;
    await this.append(init);
    this.map = key;
  }

  /** Appends the segments around the play position (or `at`); evicts old ones. */
  async pump(at) {
    if (this.busy || !this.playlist) return;
    this.busy = true;
    try {
      const now = at ?? video.currentTime;
      const segs = this.playlist.segments;
      let i = segs.findIndex((s) => this.timeOf(s) + s.duration > now);
      if (i < 0) i = 0;
      for (; i < segs.length && this.timeOf(segs[i]) < now + AHEAD_SECS; i++) {
        const s = segs[i];
        if (s.gap || this.appended.has(s.msn)) continue;
        await this.useMap(s.map);
        await this.append(await (await fetchOk(s.url)).arrayBuffer());
        this.appended.add(s.msn);
        state.appended += 1;
      }
      const buffered = this.sb?.buffered;
      if (buffered?.length && buffered.start(0) < now - BEHIND_SECS && !this.sb.updating) {
        this.sb.remove(0, now - BEHIND_SECS);
        await once(this.sb, "updateend");
      }
      if (this.playlist.ended && i >= segs.length && this.ms.readyState === "open" && !this.sb.updating) {
        const all = segs.filter((s) => !s.gap).every((s) => this.appended.has(s.msn));
        if (all) this.ms.endOfStream();
      }
    } catch (e) {
      fail(e.message || e);
    } finally {
      this.busy = false;
    }
  }

  /** Jumps over a hole in what is buffered (live: the camera was off;
   * the start of a live window), to the next buffered range. */
  skipHole() {
    const b = this.sb?.buffered;
    if (!b) return;
    const t = video.currentTime;
    for (let i = 0; i < b.length; i++) {
      if (b.start(i) <= t && t < b.end(i)) return;
      if (b.start(i) > t) {
        video.currentTime = b.start(i);
        return;
      }
    }
  }

  /** Live: reload as each new segment appears (the server blocks until then). */
  async follow() {
    while (this.ms.readyState === "open") {
      const last = this.playlist.segments[this.playlist.segments.length - 1];
      try {
        await this.reload(last.msn + 1);
      } catch (e) {
        fail(e.message || e);
        await new Promise((r) => setTimeout(r, 2000));
      }
      await this.pump();
      this.skipHole();
    }
  }
}

function showClock(programDate) {
  video.addEventListener("timeupdate", () => {
    const ms = state.live ? video.currentTime * 1000 : programDate + video.currentTime * 1000;
    if (Number.isFinite(ms)) clockEl.textContent = new Date(ms).toISOString().replace(".000", "");
  });
}

async function main() {
  const params = new URLSearchParams(location.search);
  video.addEventListener("error", () => fail(video.error ? `media error ${video.error.code}: ${video.error.message}` : "media error"));
  video.addEventListener("ended", () => say(TEXT.ended));
  const mp4 = params.get("mp4");
  const src = params.get("src");
  say(TEXT.loading);
  if (mp4) {
    video.src = mp4;
    video.play().catch(() => {});
    video.addEventListener("playing", () => say(""), { once: true });
    return;
  }
  if (!src) return fail("no src or mp4 parameter");
  if (!window.MediaSource) {
    video.src = src; // a browser that plays HLS itself
    return say(TEXT.noMse);
  }
  try {
    const p = new Player(src);
    await p.start();
    showClock(p.playlist.programDate);
    if (!state.live) say("");
  } catch (e) {
    fail(e.message || e);
  }
}

main();
