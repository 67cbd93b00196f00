// One studio client of a cluster host, for host/tests/it/server/cluster.rs: connects with its
// episode in the URL, says hello, speaks one line and prints HEARD once claude's answer is final.
// Then, with STUDIO_END=1, it ends the session and prints `READY <folder>` when the recording is
// ready; otherwise it streams silence until it is killed or its host goes away.
//
// STUDIO_URL, STUDIO_EPISODE, STUDIO_LINE (what to say), STUDIO_END.

import { io } from "socket.io-client";
import { Microphone, spokenClip } from "./lib/studio.mjs";

const URL = process.env.STUDIO_URL;
const EPISODE = process.env.STUDIO_EPISODE;
const LINE = process.env.STUDIO_LINE;
const END = process.env.STUDIO_END === "1";
const guard = setTimeout(() => {
  console.log("TIMEOUT");
  process.exit(1);
}, 120_000);

const socket = io(URL, { transports: ["websocket"], reconnection: false, query: { episodeId: EPISODE } });
const mic = new Microphone(socket);
let heard = false;

socket.on("server.ack", (message) => {
  if (message === "connected") socket.emit("hello", { episodeId: EPISODE, participantName: "client" });
  if (message === "hello client") {
    mic.start();
    mic.say(spokenClip(LINE));
  }
});
socket.on("caption", (caption) => {
  if (heard || caption.speaker !== "claude" || caption.final === false) return;
  heard = true;
  console.log("HEARD");
  if (END) socket.emit("client.end-session");
});
socket.on("recording.ready", (ready) => {
  console.log(`READY ${ready.folder}`);
  mic.stop();
  clearTimeout(guard);
  socket.close();
  process.exit(0);
});
socket.on("error", (error) => console.log(`ERROR ${JSON.stringify(error)}`));
socket.on("connect_error", (error) => console.log(`CONNECT_ERROR ${error.message}`));
socket.on("disconnect", () => {
  if (END) return;
  mic.stop();
  clearTimeout(guard);
  process.exit(0);
});
