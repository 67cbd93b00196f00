// Three hosts behind haproxy, one episode: clients join through different hosts and all hear one
// studio; the episode's host is killed with SIGKILL mid-show; the clients reconnect, land on
// another host, and the show goes on there as a new take. Run by host/tests/it/server/cluster.rs,
// which starts Redis, the S3 server, the hosts and the balancer, and checks the bucket after.
//
// STUDIO_HOSTS: the three hosts' URLs (JSON); STUDIO_BALANCER: haproxy's URL; STUDIO_EPISODE;
// STUDIO_HOLDER_PID: the process of the first host (where the episode opens); STUDIO_SCRIPT: what
// the mock STT hears.

import { describe, test, after } from "node:test";
import assert from "node:assert/strict";
import { joinedClient, studioClient, Microphone, spokenClip, pause } from "./lib/studio.mjs";

const HOSTS = JSON.parse(process.env.STUDIO_HOSTS ?? "[]");
const BALANCER = process.env.STUDIO_BALANCER;
const EPISODE = process.env.STUDIO_EPISODE;
const HOLDER_PID = Number(process.env.STUDIO_HOLDER_PID);
const SCRIPT = JSON.parse(process.env.STUDIO_SCRIPT ?? "[]");
// Only with a cluster to run against; `node --test tests/e2e` against one server skips it.
const CLUSTER = HOSTS.length === 3 && BALANCER && EPISODE && HOLDER_PID && SCRIPT.length > 0;

const open = [];
const mics = [];
after(() => {
  mics.forEach((m) => m.stop());
  open.forEach((s) => s.close());
});

// Every connection names its episode in the URL, which is how any host finds the episode's host.
const inEpisode = (reconnect) => ({
  query: { episodeId: EPISODE },
  reconnection: reconnect,
  reconnectionDelay: 300,
  reconnectionDelayMax: 1000,
});
const finalCaption = (speaker) => (c) => c.speaker === speaker && c.final !== false;
// Reconnecting and settling on a new host takes a lease (3 s here) and a few retries.
const TAKEOVER_DEADLINE_MS = 60_000;

describe("cluster", { skip: !CLUSTER && "set STUDIO_HOSTS and the rest (cargo test -p voice-studio --test it server::cluster)" }, () => {
  test("a hello for an episode the host does not hold, named only in the hello, is told where to put it", async () => {
    const c = studioClient(HOSTS[2], open);
    await c.next("server.ack", (m) => m === "connected");
    c.socket.emit("hello", { episodeId: `${EPISODE}-elsewhere`, participantName: "lost" });
    const [error] = await c.next("error", (e) => e.code === "studio-elsewhere");
    assert.match(error.message, /episodeId/);
    c.socket.close();
  });

  test("one episode across three hosts survives the kill of its host as a new take", async () => {
    // The episode opens on the first host; the others reach it through it.
    const first = await joinedClient(HOSTS[0], EPISODE, "producer", open, inEpisode(false));
    const relayed = await joinedClient(HOSTS[1], EPISODE, "relayed", open, inEpisode(true));
    // Through the balancer with socket.io-client's default transports: long-polling first, then
    // the upgrade to a WebSocket, both relayed when they land on a host that does not hold it.
    const balanced = await joinedClient(BALANCER, EPISODE, "balanced", open, {
      ...inEpisode(true),
      transports: ["polling", "websocket"],
    });
    for (const c of [first, relayed, balanced]) c.skipAll();

    // The human speaks on the first host: everyone hears claude's answer of one studio.
    const mic = new Microphone(first.socket).start();
    mics.push(mic);
    await mic.say(spokenClip(SCRIPT[0]));
    for (const c of [first, relayed, balanced]) {
      const [you] = await c.next("caption", finalCaption("you"));
      assert.equal(you.text, SCRIPT[0], "the human's line reaches every client");
      const [line] = await c.next("caption", finalCaption("claude"), 60_000);
      assert.ok(line.text.length > 0, "claude's line reaches every client");
    }
    // Let the live copies of the take reach the bucket (RECORDING_UPLOAD_EVERY_SECONDS=1).
    await pause(2500);

    // The episode's host dies mid-show.
    mic.stop();
    const gone = [relayed, balanced].map((c) => new Promise((resolve) => c.socket.once("disconnect", resolve)));
    process.kill(HOLDER_PID, "SIGKILL");
    await Promise.all(gone);
    for (const c of [relayed, balanced]) c.skipAll();

    // Both clients reconnect on their own (socket.io-client), say hello again, and land in the
    // same new take on a host that is alive.
    for (const [c, name] of [[relayed, "relayed"], [balanced, "balanced"]]) {
      await c.next("server.ack", (m) => m === "connected", TAKEOVER_DEADLINE_MS);
      c.socket.emit("hello", { episodeId: EPISODE, participantName: name });
      await c.next("server.ack", (m) => m === `hello ${name}`);
      await c.next("state.snapshot", (s) => s && s.orbStates);
      c.skipAll();
    }

    // The show goes on: the human speaks through the relayed client, both hear claude again.
    const again = new Microphone(relayed.socket).start();
    mics.push(again);
    // A new take is a new STT session: the mock STT hears its script from the start again.
    await again.say(spokenClip(SCRIPT[0]));
    for (const c of [relayed, balanced]) {
      const [you] = await c.next("caption", finalCaption("you"));
      assert.equal(you.text, SCRIPT[0]);
      await c.next("caption", finalCaption("claude"), 60_000);
    }
    again.stop();

    // The producer ends the new take: its recording is ready for both.
    relayed.socket.emit("client.end-session");
    for (const c of [relayed, balanced]) {
      const [ready] = await c.next("recording.ready", () => true, 60_000);
      assert.equal(ready.episodeId, EPISODE);
      assert.equal(ready.folder, `${EPISODE}-2`, "the new take records as the episode's second take");
    }
  });
});
