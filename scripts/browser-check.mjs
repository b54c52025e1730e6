// Plays pages in Debian's Chromium (headless, driven by playwright-core,
// never a downloaded browser) and checks that their <video> plays: its
// currentTime reaches the asked seconds, it has no media error, pstor's
// player reported no error and the page logged no error (a CSP violation
// included); with `seek`, it then jumps there and plays on (scrubbing).
// Usage: node browser-check.mjs '[{"name":..,"url":..,"seconds":..,"seek":..}]'
// Prints one JSON line per page; exits 1 when one fails.
import { createRequire } from "node:module";

// playwright-core as scripts/install-browser-peers.sh installed it.
const tools = process.env.PSTOR_BROWSER_TOOLS ?? new URL("../target/browser-tools/", import.meta.url).pathname;
const { chromium } = createRequire(tools.endsWith("/") ? tools : `${tools}/`)("playwright-core");

const pages = JSON.parse(process.argv[2] ?? "[]");
const browser = await chromium.launch({
  executablePath: process.env.PSTOR_CHROMIUM ?? "/usr/bin/chromium",
  args: ["--no-sandbox", "--autoplay-policy=no-user-gesture-required"],
});
let failed = false;
for (const { name, url, seconds, seek } of pages) {
  const page = await browser.newPage();
  const logged = [];
  page.on("console", (m) => { if (m.type() === "error") logged.push(m.text()); });
  page.on("pageerror", (e) => logged.push(String(e)));
  const result = { name, ok: false };
  try {
    await page.goto(url);
    // Playing: pictures are there, then the time advances by `seconds`.
    const start = await page.waitForFunction(
      () => { const v = document.querySelector("video"); return v && (v.error || (v.readyState >= 2 && v.currentTime)); },
      null,
      { timeout: 30_000, polling: 100 },
    ).then((h) => h.jsonValue());
    result.startTime = start;
    await page.waitForFunction(
      ([t0, s]) => { const v = document.querySelector("video"); return v.error || v.currentTime >= t0 + s; },
      [typeof start === "number" ? start : 0, seconds],
      { timeout: 30_000, polling: 100 },
    );
    if (seek !== undefined) {
      // Scrub: jump, and play on from there.
      await page.evaluate((t) => { document.querySelector("video").currentTime = t; }, seek);
      await page.waitForFunction(
        (t) => { const v = document.querySelector("video"); return v.error || (!v.seeking && v.currentTime >= t + 1); },
        seek,
        { timeout: 30_000, polling: 100 },
      );
      result.seeked = seek;
    }
    Object.assign(result, await page.evaluate(() => {
      const v = document.querySelector("video");
      return {
        currentTime: v.currentTime,
        mediaError: v.error ? `${v.error.code} ${v.error.message}` : null,
        width: v.videoWidth,
        height: v.videoHeight,
        player: window.pstorPlayer ?? null,
      };
    }));
    result.logged = logged;
    result.ok = result.mediaError === null && result.currentTime >= result.startTime + seconds && logged.length === 0
      && (!result.player || result.player.errors.length === 0);
  } catch (e) {
    result.error = String(e);
    result.logged = logged;
    result.state = await page.evaluate(() => {
      const v = document.querySelector("video");
      return { currentTime: v?.currentTime, readyState: v?.readyState, player: window.pstorPlayer ?? null };
    }).catch(() => null);
  }
  failed ||= !result.ok;
  console.log(JSON.stringify(result));
  await page.close();
}
await browser.close();
process.exit(failed ? 1 : 0);
