// What the cluster's relay costs a client (host/benches/cluster/relay.sh runs it against two hosts
// of one cluster): one client on the episode's host, one relayed through the other host, the same
// studio. Prints a table of
// - the round trip of `client.request-state` -> `state.snapshot`, for each client;
// - the AI's audio: for each `audio.out` frame both clients got, how much later the relayed client
//   got it than the direct one (the relay's added one-way delay, measured on one clock).
//
// DIRECT_URL (the episode's host), RELAY_URL (another host), EPISODE, LINE (what the mock STT is
// scripted to hear), ROUND_TRIPS (default 200, one every 125 ms).

import { io } from "socket.io-client";
import { Microphone, spokenClip } from "./lib/studio.mjs";

const DIRECT = process.env.DIRECT_URL;
const RELAY = process.env.RELAY_URL;
const EPISODE = process.env.EPISODE;
const LINE = process.env.LINE;
const ROUND_TRIPS = Number(process.env.ROUND_TRIPS ?? 200);
// Control events are rate-limited (CONTROL_EVENT_RATE, 10 a second by default): one every 125 ms.
const ROUND_TRIP_EVERY_MS = 125;
setTimeout(() => {
  console.error("relay bench: no result within 5 minutes");
  process.exit(1);
}, 300_000).unref();

function join(url, name) {
  return new Promise((resolve, reject) => {
    const socket = io(url, { transports: ["websocket"], reconnection: false, query: { episodeId: EPISODE } });
    socket.on("connect_error", reject);
    socket.on("server.ack", (m) => {
      if (m === "connected") socket.emit("hello", { episodeId: EPISODE, participantName: name });
      if (m === `hello ${name}`) resolve(socket);
    });
  });
}

async function roundTrips(socket) {
  const took = [];
  for (let i = 0; i < ROUND_TRIPS; i += 1) {
    const sent = performance.now();
    await new Promise((resolve) => {
      socket.once("state.snapshot", resolve);
      socket.emit("client.request-state");
    });
    took.push(performance.now() - sent);
    await new Promise((resolve) => setTimeout(resolve, ROUND_TRIP_EVERY_MS));
  }
  return took;
}

function quantiles(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  return [at(0.5), at(0.9), at(0.99), sorted[sorted.length - 1]].map((v) => v.toFixed(3));
}

const step = (what) => console.error(`relay bench: ${what}`);
const direct = await join(DIRECT, "direct");
const relayed = await join(RELAY, "relayed");
step("both clients joined");

// The AI's audio, as each client gets it.
const arrivals = [new Map(), new Map()];
[direct, relayed].forEach((socket, i) =>
  socket.on("audio.out", (out) => arrivals[i].set(`${out.speaker}:${out.seq}`, performance.now())),
);
const mic = new Microphone(direct).start();
const answered = new Promise((resolve) =>
  direct.on("caption", (c) => c.speaker === "claude" && c.final !== false && resolve()),
);
await mic.say(spokenClip(LINE));
step("the line is said; waiting for claude's answer");
await answered;
step("claude answered; measuring round trips");
// The line's last frames are on their way; let them land.
await new Promise((resolve) => setTimeout(resolve, 1500));
mic.stop();

const directTrips = await roundTrips(direct);
const relayedTrips = await roundTrips(relayed);
const delays = [];
for (const [key, at] of arrivals[0]) {
  const other = arrivals[1].get(key);
  if (other !== undefined) delays.push(other - at);
}

console.log("| measure | samples | p50 ms | p90 ms | p99 ms | max ms |");
console.log("|---|---:|---:|---:|---:|---:|");
console.log(`| request-state round trip, direct | ${directTrips.length} | ${quantiles(directTrips).join(" | ")} |`);
console.log(`| request-state round trip, relayed | ${relayedTrips.length} | ${quantiles(relayedTrips).join(" | ")} |`);
console.log(`| audio.out: relayed client later than direct | ${delays.length} | ${quantiles(delays).join(" | ")} |`);
direct.close();
relayed.close();
process.exit(delays.length > 0 ? 0 : 1);
