#!/usr/bin/env node
// Builds src/plugin.js into dist/{{name}}.wasm, a WebAssembly component of wit/plugin.wit's world
// (the contract's `{{role}}-plugin` world, trimmed to the imports it uses), with componentize-js.
//
//   node build.mjs [--out FILE] [--tools DIR]
//
// --tools  the folder whose node_modules holds componentize-js (default: this folder, after
//          `npm install`)
//
// Every WASI feature is left out, so the component imports only the host's interfaces that
// wit/plugin.wit names (a policy may import `log` and nothing else).

import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";

const here = dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({ options: { out: { type: "string" }, tools: { type: "string" } } });
const out = resolve(values.out ?? join(here, "dist", "{{name}}.wasm"));
const tools = resolve(values.tools ?? here);

const packageDir = join(tools, "node_modules", "@bytecodealliance", "componentize-js");
const manifestPath = join(packageDir, "package.json");
if (!existsSync(manifestPath)) {
  console.error(`componentize-js is not installed in ${tools}/node_modules: run \`npm install\``);
  process.exit(2);
}
const manifest = JSON.parse(await readFile(manifestPath, "utf8"));
const { componentize } = await import(
  pathToFileURL(join(packageDir, manifest.exports.import)).href
);

const { component } = await componentize({
  sourcePath: join(here, "src", "plugin.js"),
  witPath: join(here, "wit"),
  worldName: "plugin",
  disableFeatures: ["stdio", "random", "clocks", "http", "fetch-event"],
});

// Write then rename, so a running studio's watcher never sees half a file.
await mkdir(dirname(out), { recursive: true });
const partial = `${out}.partial-${process.pid}`;
await writeFile(partial, component);
await rename(partial, out);
console.log(`built ${out} (${(component.length / 1e6).toFixed(1)} MB)`);
