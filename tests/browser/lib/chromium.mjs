// Debian's Chromium as every console check drives it: headless ("new" headless is the real browser
// without a window), in a throwaway profile, with a fake microphone that loops `wav` and
// autoplay allowed, so the studio's audio runs as for a person who clicked.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

/// Launches Chromium; `options` are playwright's (a viewport, say). Returns the context and the
/// profile folder, which the caller removes when done.
export async function launchWithFakeMicrophone({ executablePath, wav, profilePrefix, ...options }) {
  const userDataDir = mkdtempSync(join(tmpdir(), profilePrefix));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath,
    headless: false,
    ...options,
    args: [
      "--headless=new",
      "--no-sandbox",
      "--disable-gpu",
      "--use-fake-ui-for-media-stream",
      "--use-fake-device-for-media-stream",
      `--use-file-for-fake-audio-capture=${wav}`,
      "--autoplay-policy=no-user-gesture-required",
      "--disable-background-networking",
      "--disable-component-update",
      "--no-first-run",
    ],
  });
  return { context, userDataDir };
}
