// The studio console opened from links, in a real browser (Debian's Chromium via playwright-core)
// against a token-access server at STUDIO_URL: a host link and a viewer link of one minted
// episode, a page without a token, and an expired link.
//
// Each check prints one line, `CHECK <name> PASS|FAIL <detail>`; the script exits 1 if any failed.
//
// Environment: STUDIO_URL, STUDIO_TOKEN_SECRET and STUDIO_ADMIN_TOKEN (the server's, so the script
// can mint links and sign an expired one), SPEECH_WAV (the fake microphone), CHROMIUM.

import { createHmac, randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import { launchWithFakeMicrophone } from "./lib/chromium.mjs";

const url = process.env.STUDIO_URL;
const secret = process.env.STUDIO_TOKEN_SECRET;
const admin = process.env.STUDIO_ADMIN_TOKEN;
const wav = process.env.SPEECH_WAV;
const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";
if (!url || !secret || !admin || !wav) {
  console.error("set STUDIO_URL, STUDIO_TOKEN_SECRET, STUDIO_ADMIN_TOKEN and SPEECH_WAV");
  process.exit(2);
}

// A waiting limit guards against a hung page; it is never what a check asserts.
const SHORT = 20_000;

const results = [];
function report(name, pass, detail = "") {
  results.push({ name, pass });
  console.log(`CHECK ${name} ${pass ? "PASS" : "FAIL"} ${detail}`.trimEnd());
}

const { context, userDataDir } = await launchWithFakeMicrophone({ executablePath, wav, profilePrefix: "studio-links-chromium-" });
const pageLog = [];

async function open(link) {
  const page = await context.newPage();
  page.on("console", (m) => pageLog.push(`${m.type()}: ${m.text()}`));
  page.on("pageerror", (e) => pageLog.push(`pageerror: ${e.message}`));
  await page.goto(link);
  return page;
}

const state = (page) => page.evaluate(() => JSON.parse(JSON.stringify(window.studioConsole)));

// Waits until `predicate(window.studioConsole)` holds; false on timeout.
async function until(page, predicate, arg) {
  try {
    await page.waitForFunction(
      ([source, a]) => {
        // eslint-disable-next-line no-new-func
        const f = new Function("s", "a", `return (${source})(s, a);`);
        return window.studioConsole && f(window.studioConsole, a);
      },
      [predicate.toString(), arg],
      { timeout: SHORT, polling: 100 },
    );
    return true;
  } catch {
    return false;
  }
}

function sign(claims) {
  const part = (value) => Buffer.from(JSON.stringify(value)).toString("base64url");
  const body = `${part({ alg: "HS256", typ: "JWT" })}.${part(claims)}`;
  return `${body}.${createHmac("sha256", secret).update(body).digest("base64url")}`;
}

try {
  const minted = await fetch(`${url}/api/episodes`, {
    method: "POST",
    headers: { authorization: `Bearer ${admin}` },
  });
  const episode = await minted.json();
  report("mint", minted.status === 200 && Boolean(episode.host), `status ${minted.status}`);

  // 1. The host link joins the link's episode, shows it, and streams the microphone.
  const host = await open(episode.host.url);
  const hostJoined = await until(host, (s) => s.joined && s.chunksSent >= 10);
  let s = await state(host);
  const shown = await host.locator("#episode-id").textContent();
  report(
    "host-link-joins-and-speaks",
    hostJoined && shown === episode.episodeId && s.role === "host" && s.access === "token",
    `shown=${shown} role=${s.role} chunksSent=${s.chunksSent} errors=${JSON.stringify(s.errors)}`,
  );

  // 2. The viewer link joins the same studio, has no microphone or controls, sends nothing, and
  // sees the host's autopilot toggle.
  const viewer = await open(episode.viewer.url);
  const viewerJoined = await until(viewer, (st) => st.joined);
  const controlsHidden = await viewer.evaluate(() =>
    ["mute", "level-you", "mic-device", "headphones", "autopilot", "end-episode", "say-text"].every((id) => {
      const el = document.getElementById(id);
      return el.offsetParent === null;
    }),
  );
  const viewerNote = await viewer.locator("#mic-status").textContent();
  await host.locator("#autopilot").check();
  const sawToggle = await until(viewer, (st) => st.autopilot === true);
  s = await state(viewer);
  report(
    "viewer-link-watches-only",
    viewerJoined &&
      controlsHidden &&
      sawToggle &&
      s.role === "viewer" &&
      s.chunksSent === 0 &&
      s.errors.length === 0 &&
      /Viewer/.test(viewerNote),
    `joined=${viewerJoined} controlsHidden=${controlsHidden} sawToggle=${sawToggle} chunksSent=${s.chunksSent} errors=${JSON.stringify(s.errors)} note=${viewerNote}`,
  );
  await host.locator("#autopilot").uncheck();

  // 3. A studio page without a token says plainly to ask for a link, and joins nothing. (`/`
  // without an episode is the producer's home, which asks for the admin token instead.)
  const stranger = await open(`${url}/?episode=no-link-here`);
  const strangerRefused = await until(stranger, (st) => st.access === "unauthorized");
  const strangerText = await stranger.locator("#connection").textContent();
  s = await state(stranger);
  report(
    "no-token-asks-for-a-link",
    strangerRefused && !s.joined && /ask the producer for a link/i.test(strangerText),
    `access=${s.access} text=${strangerText}`,
  );

  // 4. An expired link says it expired.
  const now = Math.floor(Date.now() / 1000);
  const expired = sign({
    role: "host",
    ep: episode.episodeId,
    iat: now - 7200,
    exp: now - 3600,
    iss: "voice-studio",
    jti: randomBytes(8).toString("hex"),
  });
  const late = await open(`${url}/#token=${expired}`);
  const lateRefused = await until(late, (st) => st.access === "token-expired");
  const lateText = await late.locator("#connection").textContent();
  s = await state(late);
  report(
    "expired-link-says-so",
    lateRefused && !s.joined && /expired/i.test(lateText),
    `access=${s.access} text=${lateText}`,
  );
} catch (e) {
  report("script", false, e.stack || String(e));
} finally {
  const failed = results.filter((r) => !r.pass);
  if (failed.length) {
    console.log("PAGE LOG:");
    for (const line of pageLog.slice(-40)) console.log(`  ${line}`);
  }
  await context.close();
  rmSync(userDataDir, { recursive: true, force: true });
  console.log(`SUMMARY ${results.length - failed.length}/${results.length} checks passed`);
  process.exit(failed.length ? 1 : 0);
}
