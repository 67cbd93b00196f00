// The studio console in a real browser: Debian's Chromium, driven by playwright-core, against
// the real server at STUDIO_URL, with a fake microphone that plays SPEECH_WAV.
//
// Each check prints one line, `CHECK <name> PASS|FAIL <detail>`, and the script exits 1 if any
// failed. Checks that depend on an earlier one still run when they can, so one run reports every
// part of the page that works.
//
// Environment: STUDIO_URL (http://127.0.0.1:port), SPEECH_WAV (48 kHz mono WAV), SCREENSHOT (png
// path to write), CHROMIUM (default /usr/bin/chromium), EPISODE_ID.

import { rmSync } from "node:fs";
import { launchWithFakeMicrophone } from "./lib/chromium.mjs";

const url = process.env.STUDIO_URL;
const wav = process.env.SPEECH_WAV;
const screenshot = process.env.SCREENSHOT;
const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";
const episodeId = process.env.EPISODE_ID || `console-browser-${Date.now()}`;
if (!url || !wav || !screenshot) {
  console.error("set STUDIO_URL, SPEECH_WAV and SCREENSHOT");
  process.exit(2);
}

// Waiting limits guard against a hung page; they are never what a check asserts.
const SHORT = 20_000;
const LONG = 90_000;

const results = [];
function report(name, pass, detail = "") {
  results.push({ name, pass });
  console.log(`CHECK ${name} ${pass ? "PASS" : "FAIL"} ${detail}`.trimEnd());
}

const { context, userDataDir } = await launchWithFakeMicrophone({ executablePath, wav, profilePrefix: "studio-console-chromium-" });

const page = context.pages()[0] || (await context.newPage());
const pageLog = [];
page.on("console", (m) => pageLog.push(`${m.type()}: ${m.text()}`));
page.on("pageerror", (e) => pageLog.push(`pageerror: ${e.message}`));

const state = () => page.evaluate(() => JSON.parse(JSON.stringify(window.studioConsole)));

// Waits until `predicate(window.studioConsole)` holds on `page`; false on timeout.
const until = (predicate, timeout, arg) => untilOn(page, predicate, timeout, arg);

async function untilOn(on, predicate, timeout, arg) {
  try {
    await on.waitForFunction(
      ([source, a]) => {
        // eslint-disable-next-line no-new-func
        const f = new Function("s", "a", `return (${source})(s, a);`);
        return window.studioConsole && f(window.studioConsole, a);
      },
      [predicate.toString(), arg],
      { timeout, polling: 100 },
    );
    return true;
  } catch {
    return false;
  }
}

// Whether `history` has `first` and later `second`.
function inOrder(history, first, second) {
  const i = history.indexOf(first);
  return i >= 0 && history.indexOf(second, i + 1) > i;
}

try {
  await page.goto(`${url}/?episode=${encodeURIComponent(episodeId)}`);

  // 1. The page connects and joins the episode it names.
  const joined = await until((s) => s.connected && s.joined, SHORT);
  const shown = await page.locator("#episode-id").textContent();
  report("page-connects", joined && shown === episodeId, `episode shown: ${shown}`);

  // 2. The fake microphone streams as audio.chunk, at the AudioContext's own rate (the host
  // resamples it), and the picker lists Chromium's fake device.
  const streaming = await until((s) => s.micState === "live" && s.chunksSent >= 25, SHORT);
  let s = await state();
  const contextRate = await page.evaluate(() => new AudioContext().sampleRate);
  report(
    "microphone-streams",
    streaming && s.micRate === contextRate,
    `micState=${s.micState} chunksSent=${s.chunksSent} micRate=${s.micRate} contextRate=${contextRate}`,
  );
  const options = await page.locator("#mic-device option").allTextContents();
  report(
    "picker-lists-the-fake-device",
    s.micDevices.length > 0 && options.length === s.micDevices.length && options.some((o) => /fake/i.test(o)),
    `devices=${JSON.stringify(s.micDevices.map((d) => d.label))} options=${JSON.stringify(options)}`,
  );

  // 2b. Headphone mode reopens the microphone with the browser's processing off, and the choice
  // is remembered; the microphone streams again.
  const speakerMode = s.micConstraints;
  await page.locator("#headphones").check();
  const reopened = await until(
    (st) =>
      st.micConstraints &&
      st.micConstraints.echoCancellation === false &&
      st.micConstraints.noiseSuppression === false &&
      st.micConstraints.autoGainControl === false,
    SHORT,
  );
  const chunksAt = (await state()).chunksSent;
  const streamsAgain = await until((st, n) => st.chunksSent >= n + 25, SHORT, chunksAt);
  s = await state();
  const stored = await page.evaluate(() => localStorage.getItem("voice-studio.headphones"));
  report(
    "headphone-mode-changes-the-constraints",
    reopened &&
      streamsAgain &&
      speakerMode.echoCancellation === true &&
      speakerMode.noiseSuppression === true &&
      speakerMode.autoGainControl === true &&
      s.micSettings &&
      s.micSettings.echoCancellation === false &&
      stored === "true",
    `before=${JSON.stringify(speakerMode)} after=${JSON.stringify(s.micConstraints)} applied=${JSON.stringify(s.micSettings)} stored=${stored}`,
  );

  // 2c. The recording clock runs once the studio records.
  const since = (await state()).elapsedMs;
  const running = await until((st, a) => st.recordingSince !== null && st.elapsedMs >= a + 1500, SHORT, since);
  const shownTime = await page.locator("#rec-time").textContent();
  const recLabel = await page.locator("#rec-label").textContent();
  report(
    "recording-timer-runs",
    running && shownTime !== "00:00" && recLabel === "Recording",
    `elapsedMs ${since} -> ${(await state()).elapsedMs}, shown ${shownTime} (${recLabel})`,
  );

  // 3. The spoken WAV becomes a final caption of `you`.
  const heard = await until(
    (st) => st.captions.some((c) => c.speaker === "you" && c.final && c.text.length > 0),
    LONG,
  );
  s = await state();
  const you = s.captions.find((c) => c.speaker === "you" && c.final);
  report("you-final-caption", heard, you ? JSON.stringify(you.text) : `captions=${s.captions.length}`);

  // 4. Claude thinks, then speaks, and its audio is scheduled.
  const claudeSpoke = await until(
    (st) => {
      const h = st.orbHistory.claude;
      const i = h.indexOf("thinking");
      return i >= 0 && h.indexOf("speaking", i + 1) > i && st.framesScheduled.claude > 0;
    },
    LONG,
  );
  s = await state();
  report(
    "claude-thinks-then-speaks",
    claudeSpoke && inOrder(s.orbHistory.claude, "thinking", "speaking"),
    `history=${s.orbHistory.claude.join(">")} framesReceived=${s.framesReceived.claude} framesScheduled=${s.framesScheduled.claude}`,
  );

  // 4b. Claude's meter moves with its voice (read from the played audio by an AnalyserNode);
  // the guest, silent so far, stays at rest.
  const meterMoved = await until((st) => st.levelPeaks.claude > 0.2, LONG);
  s = await state();
  report(
    "meter-moves-for-the-ai-that-speaks",
    meterMoved && s.levelPeaks.guest === 0,
    `peaks=${JSON.stringify(s.levelPeaks)}`,
  );


  // 5. Barge-in: the looping speech talks over claude's long answer; the server's audio.stop
  // reaches the page while claude's frames are still scheduled, and the page drops them.
  const bargedIn = await until(
    (st) =>
      st.stopHistory.some((x) => x.speaker === "claude" && x.reason === "barge-in" && x.playing > 0),
    LONG,
  );
  s = await state();
  report("barge-in-stops-claude", bargedIn, `stops=${JSON.stringify(s.stopHistory)}`);

  // 6. A dropped connection reconnects by itself and rejoins the same studio: the snapshot after
  // the new hello carries captions the page saw before the drop.
  const seen = (await state()).captions.map((c) => c.id);
  const hellosBefore = (await state()).hellos;
  await page.evaluate(() => window.studioConsole.socket.io.engine.close());
  const rejoined = await until(
    (st, a) =>
      st.joined && st.hellos > a.hellos && st.snapshotCaptionIds.some((id) => a.seen.includes(id)),
    SHORT,
    { hellos: hellosBefore, seen },
  );
  s = await state();
  report(
    "reconnect-rejoins-episode",
    rejoined,
    `hellos ${hellosBefore}->${s.hellos}, snapshot captions ${s.snapshotCaptionIds.length}`,
  );

  // 7. Mute stops audio.chunk: the counter grows while unmuted, then holds still while muted.
  const before = (await state()).chunksSent;
  const growing = await until((st, n) => st.chunksSent >= n + 10, SHORT, before);
  // Mute between sentences, as a person would: muting mid-sentence leaves that utterance open
  // (no more audio reaches the recogniser), which would hold the floor for the human.
  const between = await until((st) => st.orbs.you !== "listening", LONG);
  // The M shortcut mutes (focus on the page, not in a field).
  await page.locator("#episode-title").click();
  await page.keyboard.press("m");
  const pressed = await page.locator("#mute").getAttribute("aria-pressed");
  const atMute = (await state()).chunksSent;
  // Two seconds is a hundred 20 ms frames that must not be sent.
  await page.waitForTimeout(2000);
  const afterMute = (await state()).chunksSent;
  report(
    "mute-stops-chunks",
    growing && between && pressed === "true" && afterMute === atMute,
    `unmuted grew from ${before}; at mute ${atMute}, two seconds later ${afterMute}`,
  );

  // 7b. Shortcuts: typing an M in the text box does not unmute; holding Space talks while
  // muted and lets go on release.
  await page.locator("#say-text").fill("");
  await page.locator("#say-text").press("m");
  const stillMuted = (await state()).muted;
  await page.locator("#say-text").fill("");
  await page.locator("#episode-title").click();
  await page.keyboard.down("Space");
  const talking = await until((st) => !st.muted, SHORT);
  await page.keyboard.up("Space");
  const mutedAgain = await until((st) => st.muted, SHORT);
  s = await state();
  report(
    "shortcuts-work-but-not-while-typing",
    pressed === "true" && stillMuted && talking && mutedAgain,
    `shortcuts=${JSON.stringify(s.shortcuts)} stillMutedWhileTyping=${stillMuted}`,
  );

  // 7c. A typed line to the guest: captioned as the human's, and the guest answers it.
  const typed = "what should listeners take away from today?";
  await page.locator("#say-to").selectOption("guest");
  await page.locator("#say-text").fill(typed);
  await page.locator("#say-text").press("Enter");
  // The studio picture: the guest answering the typed line, its meter up, the clock running.
  await until((st) => st.orbs.guest === "speaking" && st.levels.guest > 0.2, LONG);
  await page.screenshot({ path: screenshot, fullPage: true });
  const answered = await until(
    (st, a) => {
      const i = st.captions.findIndex((c) => c.speaker === "you" && c.final && c.text === a);
      return i >= 0 && st.captions.slice(i + 1).some((c) => c.speaker === "guest" && c.final && c.text.length > 0);
    },
    LONG,
    `Guest, ${typed}`,
  );
  s = await state();
  report(
    "typed-line-gets-an-ai-answer",
    answered && (await page.locator("#say-text").inputValue()) === "",
    `said=${JSON.stringify(s.said)} last captions=${JSON.stringify(s.captions.slice(-3))}`,
  );

  // 8. Autopilot, with the human quiet (muted): the toggle reaches the server (every client
  // gets the snapshot back) and the AIs talk on their own, so guest speaks. The fake microphone
  // loops its speech, so unmuted the human would hold the floor.
  // The A shortcut switches autopilot.
  await page.locator("#episode-title").click();
  await page.keyboard.press("a");
  const autopilotOn = await until((st) => st.autopilot, SHORT);
  const guestSpoke = await until(
    (st) => st.orbHistory.guest.includes("speaking") && st.framesScheduled.guest > 0,
    LONG,
  );
  s = await state();
  report(
    "autopilot-guest-speaks",
    autopilotOn && guestSpoke,
    `history=${s.orbHistory.guest.join(">")} framesScheduled=${s.framesScheduled.guest} stops=${JSON.stringify(s.stops)}`,
  );
  await page.keyboard.press("a");
  await until((st) => !st.autopilot, SHORT);

  await page.locator("#mute").click();
  const resumed = await until((st, n) => st.chunksSent > n, SHORT, afterMute);
  report("unmute-resumes-chunks", resumed);

  // 9. End asks first: E opens the dialog with "Keep recording" focused; Escape keeps the
  // studio going. Then the button, the dialog's End episode, and the episode ends.
  await page.locator("#episode-title").click();
  await page.keyboard.press("e");
  const asked = await page.locator("#end-dialog").evaluate((d) => d.open);
  const focused = await page.evaluate(() => document.activeElement && document.activeElement.id);
  await page.keyboard.press("Escape");
  await page.waitForTimeout(500);
  s = await state();
  const keptGoing = !(await page.locator("#end-dialog").evaluate((d) => d.open)) && !s.ended && s.endConfirmed === 0;
  await page.locator("#end-episode").click();
  await page.locator("#end-confirm").click();
  const ended = await until((st) => st.ended && st.endConfirmed === 1, LONG);
  report(
    "end-asks-before-ending",
    asked && focused === "end-cancel" && keptGoing && ended,
    `asked=${asked} focused=${focused} keptGoing=${keptGoing} ended=${ended} ${JSON.stringify(
      (({ endAsked, endConfirmed, connected, joined, reconnects, hellos, errors }) => ({
        endAsked, endConfirmed, connected, joined, reconnects, hellos, errors: errors.slice(-3),
      }))(await state()),
    )}`,
  );

  // 9b. Every recorded file downloads, WebM files start with the EBML magic.
  const ready = await until((st) => st.recordingFiles.length > 0, LONG);
  s = await state();
  if (!ready) {
    report("recording-downloads", false, "no recording.ready");
  } else {
    const fetched = await page.evaluate(async (hrefs) => {
      const out = [];
      for (const href of hrefs) {
        const response = await fetch(href);
        const bytes = new Uint8Array(await response.arrayBuffer());
        out.push({
          href,
          status: response.status,
          size: bytes.length,
          magic: Array.from(bytes.slice(0, 4), (b) => b.toString(16).padStart(2, "0")).join(""),
        });
      }
      return out;
    }, s.recordingFiles);
    // The links are signed (`?exp=…&sig=…`): the file name is the path's end.
    const webm = fetched.filter((f) => new URL(f.href, url).pathname.endsWith(".webm"));
    const ok =
      webm.length > 0 &&
      fetched.every((f) => f.status === 200 && f.size > 0) &&
      webm.every((f) => f.magic === "1a45dfa3");
    const links = await page.locator("#recording-files a").count();
    report(
      "recording-downloads",
      ok && links === fetched.length,
      fetched.map((f) => `${f.href} ${f.status} ${f.size}B ${f.magic}`).join("; "),
    );
  }

  // 9c. The full transcript (the episode store's, merged) holds the spoken and the typed lines.
  const transcriptLink = await page.locator("#transcript-md").getAttribute("href");
  const transcript = await page.evaluate(async (href) => {
    const response = await fetch(href);
    return { status: response.status, text: await response.text() };
  }, transcriptLink);
  report(
    "full-transcript-holds-every-line",
    transcript.status === 200 &&
      transcript.text.includes("Guest, what should listeners take away from today?") &&
      transcript.text.includes("Claude, what do you make of today's topic?"),
    `${transcriptLink} ${transcript.status} ${JSON.stringify(transcript.text.slice(0, 300))}`,
  );

  // 10. A microphone whose AudioContext runs at 44.1 kHz is sent at 44.1 kHz (hello declares it,
  // the host resamples) and the host hears it: the speech becomes a final caption.
  const page44 = await context.newPage();
  page44.on("pageerror", (e) => pageLog.push(`pageerror (44.1 kHz): ${e.message}`));
  await page44.addInitScript(() => {
    const Native = window.AudioContext;
    window.AudioContext = class extends Native {
      constructor(options) {
        super({ ...(options || {}), sampleRate: 44100 });
      }
    };
  });
  await page44.goto(`${url}/?episode=${encodeURIComponent(`${episodeId}-44k1`)}`);
  const heard44 = await untilOn(
    page44,
    (st) => st.micRate === 44100 && st.captions.some((c) => c.speaker === "you" && c.final && c.text.length > 0),
    LONG,
  );
  const s44 = await page44.evaluate(() => JSON.parse(JSON.stringify(window.studioConsole)));
  report(
    "microphone-at-44k1-is-heard",
    heard44 && s44.errors.length === 0,
    `micRate=${s44.micRate} chunksSent=${s44.chunksSent} captions=${JSON.stringify(s44.captions.slice(0, 2))} errors=${JSON.stringify(s44.errors)}`,
  );
  await page44.close();

  // 11. Captions keep every line (no cap that drops the oldest): 120 more lines, handed to the
  // page's caption handler as the server sends them, all stay in the list with the first one.
  const kept = await page.evaluate(() => {
    const st = window.studioConsole;
    const before = st.captions.length;
    const firstBefore = document.querySelector("#captions li .text").textContent;
    const [onCaption] = st.socket.listeners("caption");
    for (let i = 0; i < 120; i++) {
      const speaker = i % 2 ? "claude" : "guest";
      onCaption({ id: `bulk-${i}`, speaker, text: `line ${i}`, timestamp: Date.now(), final: true });
    }
    return {
      before,
      after: st.captions.length,
      items: document.querySelectorAll("#captions li").length,
      firstKept: document.querySelector("#captions li .text").textContent === firstBefore,
      count: document.getElementById("caption-count").textContent,
    };
  });
  report(
    "captions-keep-every-line",
    kept.after === kept.before + 120 && kept.items === kept.after && kept.firstKept && kept.after > 50,
    JSON.stringify(kept),
  );
} catch (e) {
  report("script", false, e.stack || String(e));
} finally {
  const failed = results.filter((r) => !r.pass);
  if (failed.length) {
    console.log("PAGE LOG:");
    for (const line of pageLog.slice(-40)) console.log(`  ${line}`);
    try {
      console.log(`STATE: ${JSON.stringify(await state())}`);
    } catch {
      // The page is gone.
    }
  }
  await context.close();
  rmSync(userDataDir, { recursive: true, force: true });
  console.log(`SUMMARY ${results.length - failed.length}/${results.length} checks passed`);
  process.exit(failed.length ? 1 : 0);
}
