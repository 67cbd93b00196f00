// The producer's pages in a real browser: Debian's Chromium, driven by playwright-core, against
// the real server at STUDIO_URL in token mode, with a fake microphone that plays SPEECH_WAV.
//
// Each check prints one line, `CHECK <name> PASS|FAIL <detail>`; the script exits 1 if any
// failed. Screenshots of each view go to SCREENSHOT_DIR.
//
// Environment: STUDIO_URL, STUDIO_ADMIN_TOKEN, BRIEFINGS_DIR (the server's briefings folder, with
// cars-in-city-centres.md), SPEECH_WAV (48 kHz mono WAV), SCREENSHOT_DIR, CHROMIUM.

import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { launchWithFakeMicrophone } from "./lib/chromium.mjs";

const url = process.env.STUDIO_URL;
const admin = process.env.STUDIO_ADMIN_TOKEN;
const briefingsDir = process.env.BRIEFINGS_DIR;
const wav = process.env.SPEECH_WAV;
const shots = process.env.SCREENSHOT_DIR;
const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";
if (!url || !admin || !briefingsDir || !wav || !shots) {
  console.error("set STUDIO_URL, STUDIO_ADMIN_TOKEN, BRIEFINGS_DIR, SPEECH_WAV and SCREENSHOT_DIR");
  process.exit(2);
}

// Waiting limits guard against a hung page; they are never what a check asserts.
const SHORT = 20_000;
const LONG = 120_000;
const BRIEFING = "cars-in-city-centres";

const results = [];
function report(name, pass, detail = "") {
  results.push({ name, pass });
  console.log(`CHECK ${name} ${pass ? "PASS" : "FAIL"} ${detail}`.trimEnd());
}

const { context, userDataDir } = await launchWithFakeMicrophone({ executablePath, wav, profilePrefix: "studio-producer-chromium-", viewport: { width: 1100, height: 820 } });
const pageLog = [];
function watch(page) {
  page.on("console", (m) => pageLog.push(`${m.type()}: ${m.text()}`));
  page.on("pageerror", (e) => pageLog.push(`pageerror: ${e.message}`));
  return page;
}
const page = watch(context.pages()[0] || (await context.newPage()));

/** Opens a producer view and waits until it has rendered. */
async function view(hash) {
  const same = await page.evaluate((h) => location.hash === h, hash);
  if (same) {
    // The same address again: a reload (the token stays in the tab's sessionStorage).
    await page.reload();
  } else {
    await page.evaluate((h) => {
      window.studioProducer.ready = false;
      location.hash = h;
    }, hash);
  }
  await page.waitForFunction(() => window.studioProducer && window.studioProducer.ready, null, {
    timeout: SHORT,
  });
}

async function shot(name) {
  await page.screenshot({ path: join(shots, `${name}.png`) });
}

const text = (selector) => page.locator(selector).first().textContent({ timeout: SHORT });

try {
  // 1. Token mode: the home view asks for the admin token, and a wrong one is refused in words.
  await page.goto(`${url}/`);
  await page.locator("#signin").waitFor({ state: "visible", timeout: SHORT });
  const focused = await page.evaluate(() => document.activeElement && document.activeElement.id);
  await page.locator("#admin-token").fill(`${admin}-wrong`);
  await page.locator("#signin-form button").click();
  await page.locator("#signin-error").filter({ hasText: /not this server's admin token/ }).waitFor({ timeout: SHORT });
  await page.locator("#admin-token").fill(admin);
  await page.locator("#signin-form button").click();
  await page.locator("#signin").waitFor({ state: "hidden", timeout: SHORT });
  await page.locator(`#briefing-${BRIEFING}`).waitFor({ timeout: SHORT });
  const stored = await page.evaluate(() => sessionStorage.getItem("voice-studio.adminToken"));
  report("sign-in-asks-and-keeps-the-token-in-the-tab", focused === "admin-token" && stored === admin, `focused=${focused}`);
  await shot("home");

  // 2. The briefing editor writes the Markdown file.
  await view(`#/briefings/${BRIEFING}`);
  const tone = "calm and curious, with time for each side to finish";
  await page.locator("#briefing-tone").fill(tone);
  await page.locator("#briefing-must-cover").fill("Who drives into the centre\nWhat shops saw");
  await shot("briefing");
  await page.locator("#save-briefing").click();
  await page.locator("#briefing-result.ok").waitFor({ timeout: SHORT });
  const file = readFileSync(join(briefingsDir, `${BRIEFING}.md`), "utf8");
  report(
    "briefing-edit-changes-the-file",
    file.includes(tone) && file.includes("What shops saw") && /Claude's position/.test(file),
    `tone in file: ${file.includes(tone)}`,
  );

  // A new briefing under an existing file name is refused in words, and the message takes the focus.
  await view("#/briefings/new");
  await page.locator("#briefing-id").fill(BRIEFING);
  await page.locator("#briefing-topic").fill("Anything");
  await page.locator("#save-briefing").click();
  await page.locator("#briefing-result.error").waitFor({ timeout: SHORT });
  const refusal = await text("#briefing-result");
  const refusalFocused = await page.evaluate(() => document.activeElement && document.activeElement.id);
  const untouched = readFileSync(join(briefingsDir, `${BRIEFING}.md`), "utf8").includes(tone);
  report(
    "briefing-refusal-is-said-in-words",
    /exist/i.test(refusal) && refusalFocused === "briefing-result" && untouched,
    `message=${refusal} focus=${refusalFocused}`,
  );

  // 3. Settings: a key is saved, shown only as "set", never echoed.
  const key = `sk-ant-browser-test-${Date.now()}-abcdefghijklmnop`;
  await view("#/settings");
  const before = await text("#key-anthropicApiKey-state");
  await page.locator("#key-anthropicApiKey").fill(key);
  await page.locator("#keys-form button[type=submit]").click();
  await page.locator("#keys-result.ok").waitFor({ timeout: SHORT });
  await view("#/settings");
  const after = await text("#key-anthropicApiKey-state");
  const shown = await page.evaluate(
    (k) => document.documentElement.outerHTML.includes(k) || [...document.querySelectorAll("input")].some((i) => i.value.includes(k)),
    key,
  );
  const config = await page.evaluate(async () => (await fetch("/api/config")).text());
  report(
    "key-is-set-and-not-shown-back",
    after === "set" && !shown && !config.includes(key),
    `before=${before} after=${after} shownOnPage=${shown} inConfig=${config.includes(key)}`,
  );
  await shot("settings");

  // 4. Home: start an episode from the briefing and open its studio.
  await view("#/");
  await page.locator(`#briefing-${BRIEFING}`).check();
  await page.locator("#start-episode").click();
  await page.locator("#open-studio").waitFor({ timeout: SHORT });
  const result = await text("#start-result");
  const episodeId = (result.match(/Episode (\S+) is ready/) || [])[1];
  const openFocused = await page.evaluate(() => document.activeElement && document.activeElement.id);
  await page.locator("#open-studio").click();
  let joined = false;
  try {
    await page.waitForFunction(() => window.studioConsole && window.studioConsole.joined, null, { timeout: SHORT });
    joined = true;
  } catch {
    joined = false;
  }
  const studio = joined ? await page.evaluate(() => ({ id: window.studioConsole.episodeId, url: location.href })) : {};
  report(
    "home-starts-an-episode-from-a-briefing",
    Boolean(episodeId) && joined && studio.id === episodeId && openFocused === "open-studio",
    `episode=${episodeId} studio=${JSON.stringify(studio)} result=${result}`,
  );

  // The studio talks: the fake microphone's line gets an answer, so the recording has a transcript.
  let talked = false;
  try {
    await page.waitForFunction(
      () => {
        const c = window.studioConsole.captions || [];
        return c.some((x) => x.speaker === "you" && x.final) && c.some((x) => x.speaker !== "you" && x.final);
      },
      null,
      { timeout: LONG, polling: 250 },
    );
    talked = true;
  } catch {
    talked = false;
  }

  // 5. Admin, in a second tab: the live studio is listed with its client.
  // A new tab has its own sessionStorage: it asks for the token again.
  const adminPage = watch(await context.newPage());
  await adminPage.goto(`${url}/#/admin`);
  await adminPage.locator("#signin").waitFor({ state: "visible", timeout: SHORT });
  await adminPage.locator("#admin-token").fill(admin);
  await adminPage.locator("#signin-form button").click();
  await adminPage.locator("#studios").waitFor({ timeout: SHORT });
  const row = adminPage.locator(`#studios tr[data-episode="${episodeId}"]`);
  const listed = (await row.count()) === 1;
  const rowText = listed ? await row.textContent() : "";
  const pluginRows = await adminPage.locator("#plugins tbody tr").count();
  report(
    "admin-lists-the-live-studio",
    listed && pluginRows > 0,
    `row=${JSON.stringify(rowText)} plugins=${pluginRows} talked=${talked}`,
  );
  await adminPage.screenshot({ path: join(shots, "admin.png") });

  // 6. Leave the studio; once it has ended, the library lists the episode with a playable track
  // and its transcript.
  await page.goto(`${url}/#/library`);
  await page.waitForFunction(() => window.studioProducer && window.studioProducer.ready, null, { timeout: SHORT });
  let found = false;
  const deadline = Date.now() + LONG;
  while (Date.now() < deadline) {
    await view("#/library");
    const link = page.locator(`a[href="#/library/${episodeId}"]`);
    if ((await link.count()) > 0) {
      const card = await link.locator("xpath=ancestor::li").textContent();
      if (!/live now/.test(card)) {
        found = true;
        break;
      }
    }
    await page.waitForTimeout(500);
  }
  await shot("library");
  let playable = false;
  let lines = 0;
  let detail = `listed=${found}`;
  if (found) {
    await view(`#/library/${episodeId}`);
    const load = page.locator("#tracks figure", { hasText: "You" }).locator("button");
    if ((await load.count()) > 0) await load.click();
    try {
      await page.waitForFunction(
        () => {
          const audio = document.querySelector('#tracks audio[data-file="you.webm"]');
          return audio && audio.readyState >= 1;
        },
        null,
        { timeout: SHORT },
      );
      playable = true;
    } catch {
      playable = false;
    }
    lines = await page.locator("#transcript li").count();
    const youLines = await page.locator('#transcript li[data-speaker="you"]').count();
    detail = `listed=${found} playable=${playable} lines=${lines} youLines=${youLines} talked=${talked}`;
    await shot("episode");
  }
  report("library-plays-a-track-and-shows-the-transcript", found && playable && lines > 0, detail);

  // 7. Stems: made on request, they join the files and the tracks.
  if (found) {
    await page.locator("#make-stems").click();
    let made = true;
    try {
      await page.locator("#stems-result.ok", { hasText: "mix.wav" }).waitFor({ timeout: LONG });
    } catch {
      made = false;
    }
    const stemsText = await page.locator("#stems-result").textContent();
    const mixPlayer = await page.locator('#tracks figure', { hasText: "Mixdown" }).count();
    const mixFile = await page.locator("#files", { hasText: "mix.wav" }).count();
    report("library-makes-stems", made && mixPlayer === 1 && mixFile === 1, `result=${stemsText} player=${mixPlayer} file=${mixFile}`);
  } else {
    report("library-makes-stems", false, "no episode listed");
  }
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
