// A studio client that joins an episode and streams silent microphone audio in real time until
// the server goes away, for the episode store's kill test in host/tests/it/store/server.rs: it
// prints JOINED once in its studio, then `SENT <n>` after every 50 chunks (one second).

import { io } from "socket.io-client";

const URL = process.env.STUDIO_URL;
const EPISODE = process.env.STUDIO_EPISODE;
const socket = io(URL, { transports: ["websocket"], reconnection: false });
const guard = setTimeout(() => process.exit(1), 120_000);

let sent = 0;
let timer;
socket.on("server.ack", (message) => {
  if (message !== "hello streamer") return;
  console.log("JOINED");
  timer = setInterval(() => {
    socket.emit("audio.chunk", new ArrayBuffer(1920));
    sent += 1;
    if (sent % 50 === 0) console.log(`SENT ${sent}`);
  }, 20);
});
socket.on("disconnect", () => {
  clearInterval(timer);
  clearTimeout(guard);
  process.exit(0);
});
socket.on("connect", () => {
  socket.emit("hello", { episodeId: EPISODE, participantName: "streamer" });
});
