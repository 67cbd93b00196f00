// A short studio session against a running server, as an operator's client would have it:
// mint an episode with the admin token, join it with the host link's token over the official
// socket.io-client (websocket, as the console connects), let autopilot speak one AI line, end the
// episode, and download one of its recorded files with the signed link the server sent.
//
//   STUDIO_URL=http://127.0.0.1:14000 STUDIO_ADMIN_TOKEN=... node .ci/container/session.mjs
//
// Used by .ci/container-check against the container's published port. Exits 0 when every step
// passed, 1 (with what arrived so far) when one did not.

import { createRequire } from "node:module";

// The pinned client of the end-to-end tests (tests/e2e/package-lock.json).
const require = createRequire(new URL("../../tests/e2e/package.json", import.meta.url));
const { io } = require("socket.io-client");

const STUDIO_URL = process.env.STUDIO_URL;
const ADMIN = process.env.STUDIO_ADMIN_TOKEN;
if (!STUDIO_URL || !ADMIN) {
  console.error("set STUDIO_URL and STUDIO_ADMIN_TOKEN");
  process.exit(2);
}
// A guard against hanging forever when an expected event never comes; not a timing assertion.
const EVENT_DEADLINE_MS = 30_000;

const received = [];
const waiters = new Set();
let socket;

function say(line) {
  console.log(`session: ${line}`);
}

function summary() {
  const counts = new Map();
  for (const r of received) counts.set(r.event, (counts.get(r.event) ?? 0) + 1);
  return [...counts].map(([k, n]) => `${k} x${n}`).join(", ") || "nothing";
}

/// The next not yet taken `event` whose arguments satisfy `matches`.
function next(event, matches = () => true) {
  return new Promise((resolve, reject) => {
    const look = () => {
      const hit = received.find((r) => !r.taken && r.event === event && matches(...r.args));
      if (!hit) return false;
      hit.taken = true;
      waiters.delete(look);
      clearTimeout(timer);
      resolve(hit.args);
      return true;
    };
    const timer = setTimeout(() => {
      waiters.delete(look);
      reject(new Error(`no matching ${event} within ${EVENT_DEADLINE_MS} ms (received: ${summary()})`));
    }, EVENT_DEADLINE_MS);
    waiters.add(look);
    look();
  });
}

async function main() {
  const minted = await fetch(`${STUDIO_URL}/api/episodes`, {
    method: "POST",
    headers: { authorization: `Bearer ${ADMIN}` },
  });
  if (minted.status !== 200) {
    throw new Error(`POST /api/episodes answered ${minted.status}: ${await minted.text()}`);
  }
  const episode = await minted.json();
  say(`minted ${episode.episodeId}`);

  socket = io(STUDIO_URL, {
    transports: ["websocket"],
    forceNew: true,
    reconnection: false,
    auth: { token: episode.host.token },
  });
  socket.onAny((event, ...args) => {
    received.push({ event, args, taken: false });
    for (const w of [...waiters]) w();
  });
  socket.on("connect_error", (e) => {
    received.push({ event: "connect_error", args: [String(e)], taken: false });
  });

  await next("server.ack", (m) => m === "connected");
  socket.emit("hello", { participantName: "container-check" });
  await next("server.ack", (m) => m === "hello container-check");
  await next("state.snapshot", (s) => s && s.orbStates);
  say("joined its episode with the host token");

  socket.emit("client.toggle-autopilot", true);
  await next("server.ack", (m) => m === "autopilot enabled");
  const [out] = await next("audio.out");
  const bytes = out.payload?.byteLength ?? out.payload?.length ?? 0;
  if (bytes === 0) throw new Error("audio.out carried no audio");
  const [line] = await next("turn.end");
  say(`${line.speaker} spoke a line (${line.playedMs} ms played): ${JSON.stringify(line.text.slice(0, 60))}`);

  socket.emit("client.end-session");
  const [ready] = await next("recording.ready");
  const [end] = await next("session.end");
  if (end.reason !== "ended") throw new Error(`session.end reason ${end.reason}, not ended`);
  say(`recording.ready: ${ready.files.join(", ")}`);

  // The signed link through the published port: the file was written in the recordings volume.
  const file = (ready.details ?? []).find((d) => d.name === "session.yml");
  if (!file) throw new Error("recording.ready has no session.yml with a link");
  const download = await fetch(new URL(file.url, STUDIO_URL));
  const body = await download.text();
  if (download.status !== 200 || !body.includes(episode.episodeId)) {
    throw new Error(`GET ${file.url} answered ${download.status} (${body.length} bytes) without the episode id`);
  }
  say(`downloaded session.yml (${body.length} bytes) with its signed link`);
  console.log(`session: passed (${summary()})`);
}

main().then(
  () => {
    socket?.close();
    process.exit(0);
  },
  (e) => {
    console.error(`session: FAILED: ${e.message}`);
    socket?.close();
    process.exit(1);
  },
);
