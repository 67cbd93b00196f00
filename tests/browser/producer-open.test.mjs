// The producer's pages on an open development server bound to loopback: no sign-in is asked for,
// the home view starts an episode and the admin view lists its studio, and a studio link handed
// to `/` still opens the studio. Chromium via playwright-core against the real server at
// STUDIO_URL; each check prints `CHECK <name> PASS|FAIL <detail>`; the script exits 1 if any
// failed.
//
// Environment: STUDIO_URL, SPEECH_WAV (48 kHz mono WAV), CHROMIUM.

import { rmSync } from "node:fs";
import { launchWithFakeMicrophone } from "./lib/chromium.mjs";

const url = process.env.STUDIO_URL;
const wav = process.env.SPEECH_WAV;
const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";
if (!url || !wav) {
  console.error("set STUDIO_URL and SPEECH_WAV");
  process.exit(2);
}
const SHORT = 20_000;

const results = [];
function report(name, pass, detail = "") {
  results.push({ name, pass });
  console.log(`CHECK ${name} ${pass ? "PASS" : "FAIL"} ${detail}`.trimEnd());
}

const { context, userDataDir } = await launchWithFakeMicrophone({ executablePath, wav, profilePrefix: "studio-producer-open-" });
const pageLog = [];
const page = context.pages()[0] || (await context.newPage());
page.on("console", (m) => pageLog.push(`${m.type()}: ${m.text()}`));
page.on("pageerror", (e) => pageLog.push(`pageerror: ${e.message}`));
const ready = () =>
  page.waitForFunction(() => window.studioProducer && window.studioProducer.ready, null, { timeout: SHORT });

try {
  // 1. Home without signing in: the briefings are listed, the sign-in stays hidden.
  await page.goto(`${url}/`);
  await ready();
  const choices = await page.locator("#start-form input[name=briefing]").count();
  const signinHidden = await page.locator("#signin").isHidden();
  const heading = await page.evaluate(() => document.activeElement && document.activeElement.tagName);
  report("open-home-needs-no-token", choices >= 1 && signinHidden && heading === "H1", `choices=${choices} focus=${heading}`);

  // 2. Start an episode from the keyboard: Enter on the focused button, Enter on the link.
  await page.locator("#start-episode").focus();
  await page.keyboard.press("Enter");
  await page.locator("#open-studio").waitFor({ timeout: SHORT });
  const focused = await page.evaluate(() => document.activeElement && document.activeElement.id);
  const result = await page.locator("#start-result").textContent();
  const episodeId = (result.match(/Episode (\S+) is ready/) || [])[1];
  await page.keyboard.press("Enter");
  let joined = true;
  try {
    await page.waitForFunction(() => window.studioConsole && window.studioConsole.joined, null, { timeout: SHORT });
  } catch {
    joined = false;
  }
  const studioEpisode = joined ? await page.evaluate(() => window.studioConsole.episodeId) : null;
  report(
    "open-start-by-keyboard-joins-the-studio",
    focused === "open-studio" && joined && studioEpisode === episodeId,
    `focused=${focused} episode=${episodeId} studio=${studioEpisode}`,
  );

  // 3. The admin view in another tab lists the studio without a token.
  const admin = await context.newPage();
  await admin.goto(`${url}/#/admin`);
  await admin.waitForFunction(() => window.studioProducer && window.studioProducer.ready, null, { timeout: SHORT });
  const listed = await admin.locator(`#studios tr[data-episode="${episodeId}"]`).count();
  report("open-admin-lists-the-studio", listed === 1, `rows=${listed}`);
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
