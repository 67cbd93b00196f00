// The access model end to end (docs/SECURITY.md, "Who may join"): signed host and viewer links
// minted by POST /api/episodes, carried the three ways a client may carry them (handshake auth,
// handshake query as the original frontend does, hello.token), and what each role may do.
//
// Needs a server started for it: `cargo test -p voice-studio --test it server::access` runs this file with
// STUDIO_ACCESS_TEST=token (a server with STUDIO_TOKEN_SECRET and STUDIO_ADMIN_TOKEN, both passed
// here so the test can sign its own expired and foreign tokens) and with STUDIO_ACCESS_TEST=open.
// Defines no test in the other suites of this folder.

import { describe, test, after } from "node:test";
import assert from "node:assert/strict";
import { createHmac, randomBytes } from "node:crypto";
import { io } from "socket.io-client";

const URL = process.env.STUDIO_URL;
const MODE = process.env.STUDIO_ACCESS_TEST;
const SECRET = process.env.STUDIO_TOKEN_SECRET;
const ADMIN = process.env.STUDIO_ADMIN_TOKEN;

// A guard against hanging forever when an expected event never comes; not a timing assertion.
const EVENT_DEADLINE_MS = 10_000;

const open = [];
after(() => open.forEach((s) => s.close()));

// A client that records every event it receives, so a test can wait for the next event of a kind
// (in arrival order) without racing the listener registration.
function client(url, options = {}) {
  const socket = io(url, { transports: ["websocket"], forceNew: true, reconnection: false, ...options });
  open.push(socket);
  const received = [];
  const waiters = new Set();
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
        waiters.delete(look);
        clearTimeout(timer);
        resolve(hit.args);
        return true;
      };
      const timer = setTimeout(() => {
        waiters.delete(look);
        const got = received.map((r) => `${r.event} ${JSON.stringify(r.args[0])}`).join(", ");
        reject(new Error(`no ${event} event arrived (received: ${got})`));
      }, EVENT_DEADLINE_MS);
      waiters.add(look);
      look();
    });
  }
  const events = (event) => received.filter((r) => r.event === event).map((r) => r.args[0]);
  return { socket, next, events };
}

// Round trip through the studio: everything sent before it has been handled when it returns.
async function settled(c) {
  c.socket.emit("client.request-state");
  const [snapshot] = await c.next("state.snapshot");
  return snapshot;
}

async function mint(body) {
  const headers = { authorization: `Bearer ${ADMIN}` };
  if (body !== undefined) headers["content-type"] = "application/json";
  const response = await fetch(`${URL}/api/episodes`, {
    method: "POST",
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  assert.equal(response.status, 200, await response.clone().text());
  return response.json();
}

// A token signed here, as another host of a cluster (or an attacker with another key) would.
function sign(claims, secret = SECRET) {
  const part = (value) => Buffer.from(JSON.stringify(value)).toString("base64url");
  const body = `${part({ alg: "HS256", typ: "JWT" })}.${part(claims)}`;
  return `${body}.${createHmac("sha256", secret).update(body).digest("base64url")}`;
}

function claims(role, ep, expiresInSeconds) {
  const now = Math.floor(Date.now() / 1000);
  return { role, ep, iat: now, exp: now + expiresInSeconds, iss: "voice-studio", jti: randomBytes(8).toString("hex") };
}

// Connects with `token` in the handshake auth and says hello; resolves with the client once the
// hello was answered (ack and snapshot) or refused (error).
async function hello(payload, handshake = {}) {
  const c = client(URL, handshake);
  await c.next("server.ack", (m) => m === "connected");
  await c.next("state.snapshot");
  c.socket.emit("hello", payload);
  return c;
}

async function joined(payload, handshake) {
  const c = await hello(payload, handshake);
  await c.next("server.ack", (m) => m.startsWith("hello "));
  await c.next("state.snapshot");
  return c;
}

// Each suite needs its own server, so only the one for this run's server is defined (the other
// suites of this folder run with neither and define nothing here).
function suite(mode, name, body) {
  if (MODE === mode) describe(name, body);
}

suite("token", "token access", () => {
  test("the original frontend's connection with ?token= in its backend URL joins the link's episode", async () => {
    const episode = await mint();
    // Exactly the frontend: NEXT_PUBLIC_BACKEND_URL=http://host:4000/?token=..., websocket
    // transport, hello with its name, then request-state, without waiting in between.
    const frontend = client(`${URL}/?token=${episode.host.token}`);
    await frontend.next("server.ack", (m) => m === "connected");
    frontend.socket.emit("hello", { participantName: "frontend" });
    frontend.socket.emit("client.request-state");
    const [ack] = await frontend.next("server.ack", (m) => m.startsWith("hello"));
    assert.equal(ack, "hello frontend");
    assert.deepEqual(frontend.events("error"), []);

    // The viewer link of the same episode sees what the frontend does there.
    const viewer = await joined({ participantName: "viewer" }, { auth: { token: episode.viewer.token } });
    frontend.socket.emit("client.toggle-autopilot", true);
    const [snapshot] = await viewer.next("state.snapshot", (s) => s.autopilot === true);
    assert.equal(snapshot.autopilot, true);
    assert.deepEqual(viewer.events("error"), []);
  });

  test("a client without a token is told to ask for a link, stays connected and joins nothing", async () => {
    const c = await hello({ participantName: "stranger" });
    const [error] = await c.next("error");
    assert.equal(error.code, "unauthorized");
    assert.match(error.message, /link/);
    assert.equal(c.socket.connected, true);
    c.socket.emit("client.toggle-autopilot", true);
    const [notIn] = await c.next("error");
    assert.equal(notIn.code, "not-in-studio");
    c.socket.emit("audio.chunk", new ArrayBuffer(1920));
    assert.equal((await c.next("error"))[0].code, "not-in-studio");
    assert.deepEqual(c.events("server.ack"), ["connected"]);
  });

  test("an expired token gets token-expired", async () => {
    const token = sign(claims("host", `ep-expired-${process.pid}`, -120));
    const c = await hello({ participantName: "late" }, { auth: { token } });
    const [error] = await c.next("error");
    assert.equal(error.code, "token-expired");
    assert.match(error.message, /expired/);
    assert.equal(c.socket.connected, true);
  });

  test("a token signed with another secret is unauthorized", async () => {
    const token = sign(claims("host", `ep-forged-${process.pid}`, 600), "another-secret-of-32-bytes-or-more!!");
    const c = await hello({ participantName: "forger", token });
    const [error] = await c.next("error");
    assert.equal(error.code, "unauthorized");
  });

  test("a token for one episode cannot join another; without episodeId it joins its own", async () => {
    const x = await mint();
    const y = await mint();
    const c = await hello({ participantName: "wanderer", episodeId: y.episodeId }, { auth: { token: x.host.token } });
    const [error] = await c.next("error");
    assert.equal(error.code, "forbidden");

    // Its own episode, named or not, is fine: a viewer of X sees this client's toggle.
    const viewer = await joined({ participantName: "viewer" }, { auth: { token: x.viewer.token } });
    c.socket.emit("hello", { participantName: "wanderer", episodeId: x.episodeId });
    await c.next("server.ack", (m) => m === "hello wanderer");
    c.socket.emit("client.toggle-autopilot", true);
    await viewer.next("state.snapshot", (s) => s.autopilot === true);
  });

  test("a token in hello works like one in the handshake", async () => {
    const episode = await mint({ ttlSeconds: 120 });
    const c = await joined({ participantName: "late-token", token: episode.host.token });
    assert.deepEqual(c.events("error"), []);
  });

  test("a viewer cannot speak, toggle autopilot or end the episode, and the studio does not change", async () => {
    const episode = await mint();
    const host = await joined({ participantName: "host" }, { auth: { token: episode.host.token } });
    const viewer = await joined({ participantName: "viewer" }, { auth: { token: episode.viewer.token } });

    viewer.socket.emit("audio.chunk", new ArrayBuffer(1920));
    assert.equal((await viewer.next("error"))[0].code, "forbidden");
    viewer.socket.emit("client.toggle-autopilot", true);
    assert.equal((await viewer.next("error"))[0].code, "forbidden");
    viewer.socket.emit("client.end-session");
    assert.equal((await viewer.next("error"))[0].code, "forbidden");
    const seen = await settled(viewer);
    assert.equal(seen.autopilot, false);

    // The viewer's audio did not take the microphone: the host's is taken without microphone-busy
    // (the studio answers in order, so such an error would come before this snapshot).
    host.socket.emit("audio.chunk", new ArrayBuffer(1920));
    const state = await settled(host);
    assert.equal(state.autopilot, false);
    assert.deepEqual(host.events("error"), []);
    assert.deepEqual(host.events("session.end"), []);
    assert.equal(viewer.socket.connected, true);
  });

  test("every minted episode has a new unguessable id and links that carry their token", async () => {
    const a = await mint();
    const b = await mint();
    assert.notEqual(a.episodeId, b.episodeId);
    assert.match(a.episodeId, /^ep-[a-z2-7]{26}$/);
    assert.ok(a.host.url.endsWith(`#token=${a.host.token}`), a.host.url);
    assert.ok(a.viewer.url.endsWith(`#token=${a.viewer.token}`), a.viewer.url);
    assert.notEqual(a.host.token, a.viewer.token);
    assert.ok(Date.parse(a.expiresAt) > Date.now());
  });
});

suite("open", "open access", () => {
  test("everyone is a host without a token", async () => {
    const c = await joined({ participantName: "anyone", episodeId: `open-${process.pid}-${Date.now()}` });
    c.socket.emit("client.toggle-autopilot", true);
    await c.next("state.snapshot", (s) => s.autopilot === true);
    assert.deepEqual(c.events("error"), []);
  });

  test("a viewer link still only watches", async () => {
    const response = await fetch(`${URL}/api/episodes`, { method: "POST" });
    assert.equal(response.status, 200, await response.clone().text());
    const episode = await response.json();
    const viewer = await joined({ participantName: "viewer" }, { auth: { token: episode.viewer.token } });
    viewer.socket.emit("client.toggle-autopilot", true);
    assert.equal((await viewer.next("error"))[0].code, "forbidden");
    // Without the token the same client would be a host: open access is for trusted machines.
    assert.equal((await settled(viewer)).autopilot, false);
  });
});
