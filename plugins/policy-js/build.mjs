#!/usr/bin/env node
// Builds src/policy.js into a WebAssembly component of the `policy-plugin` world.
//
//   node build.mjs [--out FILE] [--tools DIR] [--wit DIR]
//
// --out    the component to write (default: <repository>/target/js-plugins/policy-js.wasm)
// --tools  the folder whose node_modules holds componentize-js (default: this folder; CI installs
//          it with `.ci/setup` into <target>/tools/js, outside the source tree)
// --wit    the contract's WIT folder (default: the repository's wit/v0.1.0, or wit/ before the
//          contract moved into versioned folders)
//
// It calls componentize-js's API rather than `jco componentize`: jco 1.35.0's command runs its WIT
// reader on preview2-shim 0.26, which gives it no filesystem ("failed to get path metadata").
// Every WASI feature is left out, so the component imports only the host's `log`.

import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";

const here = dirname(fileURLToPath(import.meta.url));
const repository = resolve(here, "..", "..");
const COMPONENTIZE_JS = "0.23.0";

const { values } = parseArgs({
  options: {
    out: { type: "string" },
    tools: { type: "string" },
    wit: { type: "string" },
  },
});

const target = process.env.CARGO_TARGET_DIR
  ? resolve(repository, process.env.CARGO_TARGET_DIR)
  : join(repository, "target");
const out = resolve(values.out ?? join(target, "js-plugins", "policy-js.wasm"));
const tools = resolve(values.tools ?? here);
const wit = resolve(
  values.wit ??
    [join(repository, "wit", "v0.1.0"), join(repository, "wit")].find((dir) =>
      existsSync(join(dir, "worlds.wit")),
    ) ??
    join(repository, "wit"),
);

const packageDir = join(tools, "node_modules", "@bytecodealliance", "componentize-js");
const manifestPath = join(packageDir, "package.json");
if (!existsSync(manifestPath)) {
  fail(
    `componentize-js is not installed in ${tools}/node_modules: run .ci/setup ` +
      `(or \`npm ci\` in ${here})`,
  );
}
const manifest = JSON.parse(await readFile(manifestPath, "utf8"));
if (manifest.version !== COMPONENTIZE_JS) {
  fail(
    `${packageDir} is componentize-js ${manifest.version}, this plugin pins ${COMPONENTIZE_JS}: ` +
      "run .ci/setup (or `npm ci`) again",
  );
}
const { componentize } = await import(
  pathToFileURL(join(packageDir, manifest.exports.import)).href
);

const started = performance.now();
const { component } = await componentize({
  sourcePath: join(here, "src", "policy.js"),
  witPath: wit,
  worldName: "policy-plugin",
  disableFeatures: ["stdio", "random", "clocks", "http", "fetch-event"],
});
const seconds = (performance.now() - started) / 1000;

// Write then rename, so a reader (a test, a running server's watcher) never sees half a file.
await mkdir(dirname(out), { recursive: true });
const partial = `${out}.partial-${process.pid}`;
await writeFile(partial, component);
await rename(partial, out);
console.log(
  `built ${out} (${(component.length / 1e6).toFixed(1)} MB) in ${seconds.toFixed(1)} s ` +
    `from ${wit}`,
);

function fail(message) {
  console.error(`policy-js: ${message}`);
  process.exit(2);
}
