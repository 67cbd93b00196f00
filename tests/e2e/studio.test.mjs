// End-to-end tests of the studio's Socket.IO protocol (docs/PROTOCOL.md) with the official
// socket.io-client, connected the way the studio frontend connects (websocket transport).
//
// Run against a running server: STUDIO_URL=http://127.0.0.1:4000 node --test tests/e2e/
// (`cargo test -p voice-studio --test it server::socketio` starts the server and does this.)

import { test, after } from "node:test";
import assert from "node:assert/strict";
import { io } from "socket.io-client";

const URL = process.env.STUDIO_URL;
if (!URL) {
  throw new Error("set STUDIO_URL to the server's address, e.g. http://127.0.0.1:4000");
}

// A guard against hanging forever when an expected event never comes; not a timing assertion.
const EVENT_DEADLINE_MS = 10_000;

const EMPTY_SNAPSHOT = {
  orbStates: { you: "idle", claude: "idle", guest: "idle" },
  captions: [],
  autopilot: false,
  sharedScreen: { mode: "conversation" },
};

const open = [];
after(() => open.forEach((s) => s.close()));

let episodeCounter = 0;
function uniqueEpisode() {
  episodeCounter += 1;
  return `e2e-${process.pid}-${Date.now()}-${episodeCounter}`;
}

// A client that records every event it receives, so a test can wait for the next event of a
// kind (in arrival order) without racing the listener registration.
function client(transports = ["websocket"]) {
  const socket = io(URL, { transports, forceNew: true, reconnection: false });
  open.push(socket);
  const received = [];
  const waiters = [];
  socket.onAny((event, ...args) => {
    received.push({ event, args, taken: false });
    for (const w of [...waiters]) w();
  });
  function next(event, matches = () => true) {
    return new Promise((resolve, reject) => {
      const look = () => {
        const hit = received.find((r) => !r.taken && r.event === event && matches(...r.args));
        if (!hit) return false;
        hit.taken = true;
        waiters.splice(waiters.indexOf(look), 1);
        clearTimeout(timer);
        resolve(hit.args);
        return true;
      };
      const timer = setTimeout(() => {
        waiters.splice(waiters.indexOf(look), 1);
        const got = received.map((r) => r.event).join(", ");
        reject(new Error(`no ${event} event arrived (received: ${got})`));
      }, EVENT_DEADLINE_MS);
      waiters.push(look);
      look();
    });
  }
  function errorsSoFar() {
    return received.filter((r) => r.event === "error").map((r) => r.args[0]);
  }
  return { socket, next, errorsSoFar };
}

async function joined(episodeId, participantName) {
  const c = client();
  await c.next("server.ack", (m) => m === "connected");
  await c.next("state.snapshot");
  c.socket.emit("hello", { episodeId, participantName });
  await c.next("server.ack", (m) => m === `hello ${participantName}`);
  await c.next("state.snapshot");
  return c;
}

// Round trip through the studio: everything sent before it has been handled when it returns.
async function settled(c) {
  c.socket.emit("client.request-state");
  const [snapshot] = await c.next("state.snapshot");
  return snapshot;
}

test("connecting is acknowledged with connected and the empty studio's snapshot", async () => {
  const c = client();
  const [ack] = await c.next("server.ack");
  assert.equal(ack, "connected");
  const [snapshot] = await c.next("state.snapshot");
  assert.deepEqual(snapshot, EMPTY_SNAPSHOT);
});

test("the frontend's hello and request-state are answered with the ack and the studio's snapshot", async () => {
  const c = client();
  await c.next("server.ack", (m) => m === "connected");
  await c.next("state.snapshot");
  // Exactly what the frontend sends on connect, without waiting in between.
  c.socket.emit("hello", { participantName: "frontend" });
  c.socket.emit("client.request-state");
  const [ack] = await c.next("server.ack", (m) => m.startsWith("hello"));
  assert.equal(ack, "hello frontend");
  const [snapshot] = await c.next("state.snapshot");
  assert.deepEqual(Object.keys(snapshot).sort(), ["autopilot", "captions", "orbStates", "sharedScreen"]);
  assert.deepEqual(snapshot.orbStates, EMPTY_SNAPSHOT.orbStates);
  assert.deepEqual(c.errorsSoFar(), []);
});

test("a hello without a name is acknowledged as anonymous", async () => {
  const c = client();
  await c.next("server.ack", (m) => m === "connected");
  c.socket.emit("hello", { episodeId: uniqueEpisode() });
  const [ack] = await c.next("server.ack", (m) => m.startsWith("hello"));
  assert.equal(ack, "hello anonymous");
});

test("two clients in one episode see the same autopilot toggle", async () => {
  const episode = uniqueEpisode();
  const display = await joined(episode, "display");
  const panel = await joined(episode, "panel");

  panel.socket.emit("client.toggle-autopilot", true);
  for (const c of [display, panel]) {
    const [ack] = await c.next("server.ack", (m) => m.startsWith("autopilot"));
    assert.equal(ack, "autopilot enabled");
    const [snapshot] = await c.next("state.snapshot", (s) => s.autopilot === true);
    assert.equal(snapshot.autopilot, true);
  }
  // A client that asks later gets the studio's state, not its own.
  assert.equal((await settled(display)).autopilot, true);

  display.socket.emit("client.toggle-autopilot", false);
  const [off] = await panel.next("state.snapshot", (s) => s.autopilot === false);
  assert.equal(off.autopilot, false);
});

test("a client in another episode does not see the toggle", async () => {
  const here = await joined(uniqueEpisode(), "here");
  const elsewhere = await joined(uniqueEpisode(), "elsewhere");
  here.socket.emit("client.toggle-autopilot", true);
  await here.next("state.snapshot", (s) => s.autopilot === true);
  assert.equal((await settled(elsewhere)).autopilot, false);
});

test("clients that give no episode share the live episode", async () => {
  const first = await joined(undefined, "first");
  const second = await joined(undefined, "second");
  const target = !(await settled(first)).autopilot;
  first.socket.emit("client.toggle-autopilot", target);
  const [snapshot] = await second.next("state.snapshot", (s) => s.autopilot === target);
  assert.equal(snapshot.autopilot, target);
  // Leave the live episode as it was for other tests.
  first.socket.emit("client.toggle-autopilot", !target);
  await first.next("state.snapshot", (s) => s.autopilot === !target);
});

test("each bad input gets its error and the connection stays usable", async () => {
  const c = await joined(uniqueEpisode(), "fuzzer");
  const cases = [
    ["audio.chunk as text", () => c.socket.emit("audio.chunk", "not audio"), "audio-not-binary"],
    ["audio.chunk as numbers", () => c.socket.emit("audio.chunk", [1, 2, 3, 4]), "audio-not-binary"],
    ["audio.chunk of odd size", () => c.socket.emit("audio.chunk", new Uint8Array(1921).buffer), "audio-odd-length"],
    ["audio.chunk too big", () => c.socket.emit("audio.chunk", Buffer.alloc(96_002)), "audio-too-large"],
    ["empty audio.chunk", () => c.socket.emit("audio.chunk", new ArrayBuffer(0)), "audio-empty"],
    ["hello with a number", () => c.socket.emit("hello", 42), "bad-hello"],
    ["hello with a path as episode", () => c.socket.emit("hello", { episodeId: "../etc" }), "bad-hello"],
    ["hello with a wrongly typed name", () => c.socket.emit("hello", { participantName: 7 }), "bad-hello"],
    ["toggle with a string", () => c.socket.emit("client.toggle-autopilot", "yes"), "bad-payload"],
    ["toggle without argument", () => c.socket.emit("client.toggle-autopilot"), "bad-payload"],
    ["unknown event", () => c.socket.emit("no.such.event", { x: 1 }), "unknown-event"],
  ];
  for (const [what, send, code] of cases) {
    send();
    const [error] = await c.next("error");
    assert.equal(error.code, code, `${what}: ${JSON.stringify(error)}`);
    assert.equal(typeof error.message, "string");
    assert.ok(error.message.length > 0, what);
  }
  assert.equal(c.socket.connected, true);

  // Still in its studio and served: good audio is taken without complaint, state still answers.
  c.socket.emit("audio.chunk", new ArrayBuffer(1920));
  c.socket.emit("audio.chunk", Buffer.alloc(3840));
  const snapshot = await settled(c);
  assert.equal(snapshot.autopilot, false);
  assert.equal(c.errorsSoFar().length, cases.length);
});

test("audio before hello is refused with not-in-studio", async () => {
  const c = client();
  await c.next("server.ack", (m) => m === "connected");
  c.socket.emit("audio.chunk", new ArrayBuffer(1920));
  const [error] = await c.next("error");
  assert.equal(error.code, "not-in-studio");
  c.socket.emit("client.request-state");
  const [snapshot] = await c.next("state.snapshot", () => true);
  assert.deepEqual(snapshot, EMPTY_SNAPSHOT);
});

test("a second client sending audio while another holds the microphone gets microphone-busy", async () => {
  const episode = uniqueEpisode();
  const mic = await joined(episode, "microphone");
  const intruder = await joined(episode, "intruder");

  mic.socket.emit("audio.chunk", new ArrayBuffer(1920));
  await settled(mic); // the studio has given the microphone to `mic`
  intruder.socket.emit("audio.chunk", new ArrayBuffer(1920));
  const [error] = await intruder.next("error");
  assert.equal(error.code, "microphone-busy");

  // The holder keeps streaming without errors.
  mic.socket.emit("audio.chunk", new ArrayBuffer(1920));
  await settled(mic);
  assert.deepEqual(mic.errorsSoFar(), []);
});

test("a reload within the grace period finds the studio as it was left", async () => {
  const episode = uniqueEpisode();
  const before = await joined(episode, "tab");
  before.socket.emit("client.toggle-autopilot", true);
  await before.next("state.snapshot", (s) => s.autopilot === true);
  before.socket.disconnect();

  const after = client();
  await after.next("server.ack", (m) => m === "connected");
  after.socket.emit("hello", { episodeId: episode, participantName: "tab" });
  const [snapshot] = await after.next("state.snapshot", (s) => s.autopilot === true);
  assert.equal(snapshot.autopilot, true);
});

test("the HTTP long-polling transport works too", async () => {
  const c = client(["polling"]);
  await c.next("server.ack", (m) => m === "connected");
  c.socket.emit("hello", { episodeId: uniqueEpisode(), participantName: "poller" });
  const [ack] = await c.next("server.ack", (m) => m.startsWith("hello"));
  assert.equal(ack, "hello poller");
  assert.equal((await settled(c)).autopilot, false);
  assert.equal(c.socket.io.engine.transport.name, "polling");
});
