// A studio client that stays connected until the server shuts down, for the shutdown test in
// host/tests/it/server/socketio.rs: it prints JOINED once in its studio, then the `session.end` it
// receives, then DISCONNECTED, and exits 0 (1 if the server never ends the session).

import { io } from "socket.io-client";

const URL = process.env.STUDIO_URL;
const socket = io(URL, { transports: ["websocket"], reconnection: false });
const guard = setTimeout(() => {
  console.log("TIMEOUT: no session.end");
  process.exit(1);
}, 60_000);

let ended = false;
socket.on("server.ack", (message) => {
  if (message === "hello stayer") console.log("JOINED");
});
socket.on("session.end", (payload) => {
  ended = true;
  console.log(`SESSION_END ${JSON.stringify(payload)}`);
});
socket.on("disconnect", (reason) => {
  console.log(`DISCONNECTED ${reason}`);
  clearTimeout(guard);
  process.exit(ended ? 0 : 1);
});
socket.on("connect", () => {
  socket.emit("hello", { episodeId: "shutdown-e2e", participantName: "stayer" });
});
