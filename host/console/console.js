// The studio console: one page that is the microphone, the speakers and the view of a studio.
// Protocol: docs/PROTOCOL.md (Socket.IO namespace "/"). Standard browser APIs only, no build step.
"use strict";

(() => {
  const SPEAKERS = ["you", "claude", "guest"];
  const AI_SPEAKERS = ["claude", "guest"];
  const ORB_STATES = ["idle", "listening", "thinking", "speaking", "muted", "error"];
  // How far ahead of "now" the first frame of a stream is scheduled: enough to absorb network
  // jitter between 20-100 ms frames, short enough that a reply still feels immediate.
  const PLAYBACK_LEAD_S = 0.08;
  // A frame that would start sooner than this is late: the stream restarts with a fresh lead
  // instead of playing clipped or overlapping audio.
  const LATE_MARGIN_S = 0.01;
  const MAX_CAPTIONS = 50;
  const MAX_ERRORS = 5;

  const $ = (id) => document.getElementById(id);

  // Counters and history the browser test reads; also handy in the devtools console.
  const studio = {
    connected: false,
    joined: false,
    ended: false,
    episodeId: null,
    micState: "starting",
    muted: false,
    autopilot: false,
    chunksSent: 0,
    framesReceived: { claude: 0, guest: 0 },
    framesScheduled: { claude: 0, guest: 0 },
    framesDropped: { claude: 0, guest: 0 },
    stops: { claude: 0, guest: 0 },
    orbs: { you: "idle", claude: "idle", guest: "idle" },
    orbHistory: { you: [], claude: [], guest: [] },
    captions: [],
    errors: [],
    recordingFiles: [],
    reconnects: 0,
    hellos: 0,
    stopHistory: [],
    snapshotCaptionIds: [],
    // "host" or "viewer" (from the link's token; open access without a token is a host).
    role: "host",
    // "open" (no token), "token" (a link's token), or why the server refused: "unauthorized",
    // "token-expired", "forbidden".
    access: "open",
  };
  window.studioConsole = studio;
  // The live socket, for debugging (e.g. dropping the connection to watch the page rejoin); not
  // enumerable, so the counters above stay plain JSON.
  Object.defineProperty(studio, "socket", { get: () => socket, enumerable: false });

  // ---------------------------------------------------------------------------------------------
  // Access: a host or viewer link (minted by POST /api/episodes) carries a signed token in its
  // fragment (#token=…, never sent to a server by the browser) or its query (?token=…). The token
  // names the episode and the role; the server checks it, the page only reads it to show them.

  function readToken() {
    const url = new URL(window.location.href);
    const fromFragment = new URLSearchParams(url.hash.replace(/^#/, "")).get("token");
    return fromFragment || url.searchParams.get("token") || null;
  }

  // The token's claims, unverified (the server verifies): {role, ep, exp}.
  function tokenClaims(token) {
    try {
      const payload = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
      const claims = JSON.parse(atob(payload));
      return claims && typeof claims === "object" ? claims : {};
    } catch {
      return {};
    }
  }

  const token = readToken();
  const claims = token ? tokenClaims(token) : {};
  if (token) studio.access = "token";
  if (claims.role === "viewer") studio.role = "viewer";

  // ---------------------------------------------------------------------------------------------
  // Episode: the id comes from ?episode=…; without one the page makes one and writes it into the
  // address, so a reload and every automatic reconnect say hello to the same studio. A link's
  // token names its episode instead.

  function chooseEpisodeId() {
    if (token) return typeof claims.ep === "string" ? claims.ep : null;
    const url = new URL(window.location.href);
    const given = url.searchParams.get("episode");
    if (given && /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$/.test(given)) return given;
    const made = `episode-${Date.now()}`;
    url.searchParams.set("episode", made);
    window.history.replaceState(null, "", url);
    return made;
  }
  studio.episodeId = chooseEpisodeId();
  $("episode-id").textContent = studio.episodeId || "–";

  function showTitle(snapshot) {
    const title =
      (snapshot.briefing && snapshot.briefing.title) || snapshot.briefingTitle || snapshot.title;
    const episode = snapshot.episodeId || studio.episodeId;
    $("episode-title").textContent = title || episode;
    document.title = `${title || episode} – voice-studio`;
  }
  showTitle({});

  // ---------------------------------------------------------------------------------------------
  // Problems, in words.

  const ERROR_WORDS = {
    "bad-hello": "The server did not accept this page's hello.",
    "bad-payload": "The server refused a malformed request.",
    "audio-not-binary": "Microphone audio was sent in the wrong form.",
    "audio-odd-length": "Microphone audio was cut mid-sample.",
    "audio-too-large": "A microphone chunk was too large.",
    "audio-empty": "An empty microphone chunk was sent.",
    "microphone-busy": "Another client holds this studio's microphone; your audio is not heard.",
    "not-in-studio": "Not in a studio yet; rejoining.",
    "studio-busy": "The studio is overloaded; an event was dropped.",
    "studio-ended": "This episode has ended.",
    "unknown-event": "The server did not understand a request.",
    forbidden: "This link may not do that.",
  };

  // What the page says when the server refuses its link, in the connection line.
  const REFUSALS = {
    unauthorized: token
      ? "This link is not valid on this server: ask the producer for a new link."
      : "No access token: ask the producer for a link to this studio.",
    "token-expired": "This link has expired: ask the producer for a new link.",
    forbidden: "This link is for another episode: ask the producer for a link to this one.",
  };

  // A viewer sees and hears; the microphone and the controls are the host's.
  function showRole() {
    if (studio.role !== "viewer") return;
    for (const el of [$("mute"), $("level"), document.querySelector('label[for="level"]')]) {
      el.hidden = true;
    }
    $("autopilot").closest("label").hidden = true;
    $("end-episode").hidden = true;
    studio.micState = "off";
    $("mic-status").textContent =
      "Viewer link: you see and hear the studio; the host has the microphone and the controls.";
  }
  showRole();

  function showProblem(text) {
    studio.errors.push(text);
    const list = $("errors");
    // The same problem repeating (e.g. microphone-busy once a second) updates one line.
    const last = list.lastElementChild;
    if (last && last.dataset.text === text) {
      const n = Number(last.dataset.count) + 1;
      last.dataset.count = String(n);
      last.textContent = `${text} (×${n})`;
      return;
    }
    const item = document.createElement("li");
    item.dataset.text = text;
    item.dataset.count = "1";
    item.textContent = text;
    list.append(item);
    while (list.children.length > MAX_ERRORS) list.firstElementChild.remove();
  }

  // ---------------------------------------------------------------------------------------------
  // Orbs.

  function setOrb(speaker, state) {
    if (!SPEAKERS.includes(speaker) || !ORB_STATES.includes(state)) return;
    studio.orbs[speaker] = state;
    const history = studio.orbHistory[speaker];
    if (history[history.length - 1] !== state) history.push(state);
    $(`orb-${speaker}`).dataset.state = state;
    $(`orb-label-${speaker}`).textContent = state;
  }

  // ---------------------------------------------------------------------------------------------
  // Captions: a caption with a known id replaces that caption (partial -> final).

  const captionItems = new Map();

  function showCaption(caption) {
    if (!caption || typeof caption.id !== "string") return;
    const final = caption.final !== false;
    const entry = { id: caption.id, speaker: caption.speaker, text: caption.text, final };
    const known = studio.captions.findIndex((c) => c.id === caption.id);
    if (known >= 0) studio.captions[known] = entry;
    else studio.captions.push(entry);
    if (studio.captions.length > MAX_CAPTIONS) studio.captions.shift();

    let item = captionItems.get(caption.id);
    if (!item) {
      item = document.createElement("li");
      const who = document.createElement("span");
      who.className = "who";
      const text = document.createElement("span");
      text.className = "text";
      item.append(who, text);
      captionItems.set(caption.id, item);
      $("captions").append(item);
      const list = $("captions");
      while (list.children.length > MAX_CAPTIONS) {
        const oldest = list.firstElementChild;
        captionItems.forEach((el, id) => el === oldest && captionItems.delete(id));
        oldest.remove();
      }
    }
    item.dataset.speaker = caption.speaker;
    item.classList.toggle("partial", !final);
    item.querySelector(".who").textContent = `${caption.speaker}:`;
    item.querySelector(".text").textContent = caption.text;
    item.scrollIntoView({ block: "nearest" });
  }

  // ---------------------------------------------------------------------------------------------
  // Thinking-mode countdown.

  let thinkingTimer = null;

  function showThinking(speaker, endsAt) {
    clearInterval(thinkingTimer);
    const line = $("thinking");
    const tick = () => {
      const left = Math.max(0, Math.ceil((endsAt - Date.now()) / 1000));
      line.textContent = `${speaker} is thinking: ${left} s left`;
    };
    tick();
    line.hidden = false;
    thinkingTimer = setInterval(tick, 250);
  }

  function hideThinking() {
    clearInterval(thinkingTimer);
    thinkingTimer = null;
    $("thinking").hidden = true;
  }

  function showSharedScreen(screen) {
    if (screen && screen.mode === "thinking" && screen.thinking) {
      showThinking(screen.thinking.speaker, screen.thinking.endsAt);
    } else {
      hideThinking();
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Voices out: frames scheduled back to back on the AudioContext's clock, per speaker.

  let audioContext = null;
  const voices = {};

  function ensureAudioContext() {
    if (audioContext) return audioContext;
    const Context = window.AudioContext || window.webkitAudioContext;
    // The device's own rate: Firefox refuses to connect a microphone to a context of another
    // rate. Frames at 48 kHz are resampled by the browser when played.
    audioContext = new Context({ latencyHint: "interactive" });
    for (const speaker of AI_SPEAKERS) {
      const gain = audioContext.createGain();
      gain.gain.value = Number($(`volume-${speaker}`).value) / 100;
      gain.connect(audioContext.destination);
      voices[speaker] = { gain, nextTime: 0, sources: new Set(), decoder: null, decoderFormat: "" };
    }
    if (audioContext.state !== "running") offerAudioStart();
    audioContext.addEventListener("statechange", () => {
      if (audioContext.state === "running") $("audio-start").hidden = true;
    });
    return audioContext;
  }

  // Browsers without an autoplay exemption keep a new context suspended until the user acts.
  function offerAudioStart() {
    const button = $("audio-start");
    button.hidden = false;
    const resume = () => {
      audioContext.resume().catch(() => {});
    };
    button.addEventListener("click", resume);
    document.addEventListener("pointerdown", resume, { once: true });
    document.addEventListener("keydown", resume, { once: true });
  }

  for (const speaker of AI_SPEAKERS) {
    $(`volume-${speaker}`).addEventListener("input", (e) => {
      const voice = voices[speaker];
      if (voice) voice.gain.gain.value = Number(e.target.value) / 100;
    });
  }

  function parseFormat(format) {
    const [encoding, ...params] = String(format || "").split(";");
    const out = { encoding: encoding.trim(), rate: 48000, channels: 1 };
    for (const p of params) {
      const [k, v] = p.split("=").map((s) => s.trim());
      if (k === "rate") out.rate = Number(v) || 48000;
      if (k === "channels") out.channels = Number(v) || 1;
    }
    return out;
  }

  async function payloadBytes(payload) {
    if (payload instanceof ArrayBuffer) return new Uint8Array(payload);
    if (ArrayBuffer.isView(payload)) {
      return new Uint8Array(payload.buffer, payload.byteOffset, payload.byteLength);
    }
    if (payload instanceof Blob) return new Uint8Array(await payload.arrayBuffer());
    return null;
  }

  function schedule(speaker, planar, rate) {
    const ctx = ensureAudioContext();
    const voice = voices[speaker];
    const length = planar[0].length;
    if (length === 0) return;
    const buffer = ctx.createBuffer(planar.length, length, rate);
    planar.forEach((data, ch) => buffer.copyToChannel(data, ch));
    const source = ctx.createBufferSource();
    source.buffer = buffer;
    source.connect(voice.gain);
    if (voice.nextTime < ctx.currentTime + LATE_MARGIN_S) {
      voice.nextTime = ctx.currentTime + PLAYBACK_LEAD_S;
    }
    source.start(voice.nextTime);
    voice.nextTime += buffer.duration;
    voice.sources.add(source);
    source.onended = () => voice.sources.delete(source);
    studio.framesScheduled[speaker] += 1;
  }

  function decodePcm(bytes, channels) {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const frames = Math.floor(bytes.byteLength / (2 * channels));
    const planar = Array.from({ length: channels }, () => new Float32Array(frames));
    for (let i = 0; i < frames; i++) {
      for (let ch = 0; ch < channels; ch++) {
        planar[ch][i] = view.getInt16((i * channels + ch) * 2, true) / 32768;
      }
    }
    return planar;
  }

  // Opus frames go through WebCodecs where the browser has it; one decoder per speaker keeps
  // each voice's packet order.
  function opusDecoder(speaker, fmt) {
    const voice = voices[speaker];
    const key = `${fmt.rate}/${fmt.channels}`;
    if (voice.decoder && voice.decoderFormat === key && voice.decoder.state === "configured") {
      return voice.decoder;
    }
    if (typeof window.AudioDecoder !== "function") return null;
    const decoder = new window.AudioDecoder({
      output: (data) => {
        const planar = [];
        for (let ch = 0; ch < data.numberOfChannels; ch++) {
          const plane = new Float32Array(data.numberOfFrames);
          data.copyTo(plane, { planeIndex: ch, format: "f32-planar" });
          planar.push(plane);
        }
        const rate = data.sampleRate;
        data.close();
        schedule(speaker, planar, rate);
      },
      error: (e) => showProblem(`Could not decode ${speaker}'s audio: ${e.message}`),
    });
    decoder.configure({ codec: "opus", sampleRate: fmt.rate, numberOfChannels: fmt.channels });
    voice.decoder = decoder;
    voice.decoderFormat = key;
    voice.opusTimestamp = 0;
    return decoder;
  }

  async function playAudioOut(message) {
    const speaker = message && message.speaker;
    if (!AI_SPEAKERS.includes(speaker)) return;
    studio.framesReceived[speaker] += 1;
    ensureAudioContext();
    const bytes = await payloadBytes(message.payload);
    const fmt = parseFormat(message.format);
    if (!bytes || bytes.byteLength === 0) {
      studio.framesDropped[speaker] += 1;
      return;
    }
    if (fmt.encoding === "pcm_s16le") {
      schedule(speaker, decodePcm(bytes, fmt.channels), fmt.rate);
    } else if (fmt.encoding === "opus") {
      const decoder = opusDecoder(speaker, fmt);
      if (!decoder) {
        studio.framesDropped[speaker] += 1;
        showProblem("This browser cannot decode Opus audio (no WebCodecs).");
        return;
      }
      const voice = voices[speaker];
      decoder.decode(
        new window.EncodedAudioChunk({ type: "key", timestamp: voice.opusTimestamp, data: bytes }),
      );
      voice.opusTimestamp += 20000;
    } else {
      studio.framesDropped[speaker] += 1;
      showProblem(`Unknown audio format from ${speaker}: ${message.format}`);
    }
  }

  // Barge-in: everything of that voice that is playing or scheduled stops now.
  function stopVoice(speaker, reason) {
    const voice = voices[speaker];
    studio.stops[speaker] = (studio.stops[speaker] || 0) + 1;
    studio.lastStop = { speaker, reason, playing: voice ? voice.sources.size : 0 };
    studio.stopHistory.push(studio.lastStop);
    if (!voice) return;
    for (const source of voice.sources) {
      try {
        source.stop();
      } catch {
        // Already stopped.
      }
    }
    voice.sources.clear();
    voice.nextTime = 0;
    if (voice.decoder && voice.decoder.state === "configured") voice.decoder.reset();
    voice.decoder = null;
  }

  // ---------------------------------------------------------------------------------------------
  // Microphone in: AudioWorklet -> 20 ms PCM s16le 48 kHz mono -> audio.chunk.

  let socket = null;
  let micTrack = null;

  function micProblem(text) {
    studio.micState = "unavailable";
    const status = $("mic-status");
    status.textContent = text;
    status.dataset.problem = "";
    $("mute").disabled = true;
  }

  async function startMicrophone() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      micProblem(
        "This page cannot use a microphone here: open it over https or on localhost.",
      );
      return;
    }
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({
        audio: { echoCancellation: true, noiseSuppression: true, channelCount: 1 },
        video: false,
      });
    } catch (e) {
      const name = e && e.name;
      if (name === "NotAllowedError" || name === "SecurityError") {
        micProblem(
          "The browser denied the microphone. Allow it for this site (the icon in the address bar) and reload.",
        );
      } else if (name === "NotFoundError" || name === "OverconstrainedError") {
        micProblem("No microphone found. Connect one and reload the page.");
      } else if (name === "NotReadableError") {
        micProblem("The microphone is in use by another program or failed. Free it and reload.");
      } else {
        micProblem(`The microphone could not start: ${e && e.message ? e.message : e}`);
      }
      return;
    }
    if (REFUSALS[studio.access]) {
      // Refused while the browser asked for the microphone: release it at once.
      stream.getTracks().forEach((t) => t.stop());
      return;
    }
    const ctx = ensureAudioContext();
    try {
      await ctx.audioWorklet.addModule("/console/mic-worklet.js");
    } catch (e) {
      micProblem(`The audio capture could not start: ${e.message}`);
      return;
    }
    micTrack = stream.getAudioTracks()[0];
    const source = ctx.createMediaStreamSource(stream);
    const frames = new AudioWorkletNode(ctx, "mic-frames", {
      numberOfInputs: 1,
      numberOfOutputs: 0,
      channelCount: 1,
      channelCountMode: "explicit",
      channelInterpretation: "speakers",
    });
    frames.port.onmessage = (event) => onMicFrame(event.data);
    source.connect(frames);
    micTrack.addEventListener("ended", () => micProblem("The microphone was disconnected."));
    studio.micState = "live";
    const on = `Microphone on (${micTrack.label || "default input"}).`;
    // A suspended context (no autoplay permission yet) captures nothing: say what unblocks it.
    const describe = () => {
      $("mic-status").textContent =
        ctx.state === "running" ? on : "Press “Turn on sound” to start the microphone and voices.";
    };
    describe();
    ctx.addEventListener("statechange", describe);
  }

  function onMicFrame({ pcm, rms }) {
    // Meter on a dB-like scale so speech moves it visibly: -60 dBFS -> 0, 0 dBFS -> 1.
    const db = 20 * Math.log10(Math.max(rms, 1e-6));
    $("level").value = studio.muted ? 0 : Math.max(0, Math.min(1, (db + 60) / 60));
    if (studio.muted || !studio.joined || studio.ended || !socket || !socket.connected) return;
    socket.emit("audio.chunk", pcm);
    studio.chunksSent += 1;
  }

  $("mute").addEventListener("click", () => {
    studio.muted = !studio.muted;
    // Disabling the track also silences the browser's own capture, not only our sending.
    if (micTrack) micTrack.enabled = !studio.muted;
    const button = $("mute");
    button.setAttribute("aria-pressed", String(studio.muted));
    button.textContent = studio.muted ? "Unmute microphone" : "Mute microphone";
    if (studio.micState === "live") {
      $("mic-status").textContent = studio.muted ? "Microphone muted." : "Microphone on.";
    }
  });

  // ---------------------------------------------------------------------------------------------
  // Connection.

  function setConnection(status, text) {
    const el = $("connection");
    el.dataset.status = status;
    el.textContent = text;
  }

  function applySnapshot(snapshot) {
    if (!snapshot || !snapshot.orbStates) return;
    for (const speaker of SPEAKERS) setOrb(speaker, snapshot.orbStates[speaker]);
    // Newest first in the snapshot; the page lists oldest first.
    const captions = Array.isArray(snapshot.captions) ? [...snapshot.captions].reverse() : [];
    studio.snapshotCaptionIds = captions.map((c) => c.id);
    captions.forEach(showCaption);
    studio.autopilot = Boolean(snapshot.autopilot);
    $("autopilot").checked = studio.autopilot;
    showSharedScreen(snapshot.sharedScreen);
    if (studio.joined) showTitle(snapshot);
  }

  function hello() {
    studio.joined = false;
    studio.hellos += 1;
    const payload = {
      participantName: studio.role === "viewer" ? "console viewer" : "console",
      inputFormat: { encoding: "pcm_s16le", sampleRate: 48000, channels: 1 },
    };
    // With a link the token picks the episode; it rides in hello as well as in the handshake.
    if (token) payload.token = token;
    else payload.episodeId = studio.episodeId;
    socket.emit("hello", payload);
  }

  // The server refused the link: say so plainly and stop asking (a reload tries again).
  function refused(code) {
    studio.access = code;
    studio.joined = false;
    setConnection("refused", REFUSALS[code]);
    if (studio.micState !== "unavailable") studio.micState = "off";
    if (micTrack) micTrack.stop();
    $("mic-status").textContent = "The microphone is off: this page is not in a studio.";
    for (const id of ["mute", "autopilot", "end-episode"]) $(id).disabled = true;
  }

  function connect() {
    if (typeof window.io !== "function") {
      setConnection("disconnected", "Could not load the Socket.IO client.");
      return;
    }
    socket = window.io({ transports: ["websocket"], auth: token ? { token } : {} });

    socket.on("connect", () => {
      studio.connected = true;
      setConnection("connected", "Connected");
      // Every (re)connection says hello with the same episode id, so the page finds its studio.
      if (!studio.ended && !REFUSALS[studio.access]) hello();
    });
    socket.on("disconnect", (reason) => {
      studio.connected = false;
      studio.joined = false;
      setConnection("reconnecting", `Disconnected (${reason}); reconnecting…`);
    });
    socket.io.on("reconnect_attempt", (attempt) => {
      studio.reconnects = attempt;
      setConnection("reconnecting", `Reconnecting (attempt ${attempt})…`);
    });
    socket.on("connect_error", (e) => {
      setConnection("reconnecting", `Cannot reach the server (${e.message}); retrying…`);
    });

    socket.on("server.ack", (text) => {
      if (typeof text === "string" && text.startsWith("hello ")) studio.joined = true;
    });
    socket.on("state.snapshot", applySnapshot);
    socket.on("orb.state", setOrb);
    socket.on("caption", showCaption);
    socket.on("mode.thinking", (m) => showThinking(m.speaker, m.startedAt + m.durationMs));
    socket.on("mode.normal", hideThinking);
    socket.on("shared-screen.state", showSharedScreen);
    socket.on("audio.out", (m) => {
      playAudioOut(m).catch((e) => showProblem(`Could not play audio: ${e.message}`));
    });
    socket.on("audio.stop", (m) => {
      if (m && AI_SPEAKERS.includes(m.speaker)) stopVoice(m.speaker, m.reason);
    });
    socket.on("error", (e) => {
      // A refused hello (no token, an expired or foreign one, another episode's) ends the page's
      // attempts; a forbidden action in a studio is only a problem to show.
      if (e && REFUSALS[e.code] && !studio.joined) {
        refused(e.code);
        return;
      }
      const words = (e && ERROR_WORDS[e.code]) || "The server reported a problem.";
      showProblem(e && e.message ? `${words} (${e.message})` : words);
      if (e && e.code === "not-in-studio" && !studio.ended && !REFUSALS[studio.access]) hello();
    });
    socket.on("recording.ready", showRecording);
    socket.on("session.end", (end) => {
      studio.ended = true;
      studio.joined = false;
      AI_SPEAKERS.forEach((speaker) => stopVoice(speaker, "session-end"));
      const why = {
        ended: "it was ended",
        idle: "everyone left",
        shutdown: "the server is shutting down",
        "internal-error": "the studio failed",
      }[end && end.reason] || "it ended";
      setConnection("ended", `Episode ended (${why})`);
      $("recording").hidden = false;
      if (!studio.recordingFiles.length) {
        $("recording-status").textContent = "Waiting for the recording…";
      }
    });
  }

  // ---------------------------------------------------------------------------------------------
  // End of the episode and its recording.

  $("end-episode").addEventListener("click", () => {
    if (!socket || !socket.connected || studio.ended) return;
    socket.emit("client.end-session");
    $("end-episode").disabled = true;
    $("recording").hidden = false;
    $("recording-status").textContent = "Ending the episode and finishing the recording…";
  });

  $("autopilot").addEventListener("change", (e) => {
    if (socket && socket.connected) socket.emit("client.toggle-autopilot", e.target.checked);
  });

  // The host serves recordings only through the signed, expiring links of recording.ready
  // (`details[].url`); a file without one gets a plain path, which answers 404.
  function recordingHref(episodeId, file, details) {
    const name = file.split("/").pop();
    const signed = details.find((d) => d && d.name === name && typeof d.url === "string");
    if (signed && signed.url.startsWith("/recordings/")) return signed.url;
    const path = file.includes("/") ? file : `${episodeId}/${file}`;
    return `/recordings/${path.split("/").map(encodeURIComponent).join("/")}`;
  }

  function showRecording(ready) {
    if (!ready || !Array.isArray(ready.files)) return;
    const episode = ready.episodeId || studio.episodeId;
    const details = Array.isArray(ready.details) ? ready.details : [];
    studio.recordingFiles = ready.files.map((f) => recordingHref(episode, f, details));
    $("recording").hidden = false;
    $("recording-status").textContent =
      `The recording of ${episode} is ready: ${ready.files.length} files.`;
    const list = $("recording-files");
    list.replaceChildren();
    ready.files.forEach((file, i) => {
      const item = document.createElement("li");
      const link = document.createElement("a");
      link.href = studio.recordingFiles[i];
      link.download = file.split("/").pop();
      link.textContent = file;
      item.append(link);
      list.append(item);
    });
    $("end-episode").disabled = true;
  }

  connect();
  if (studio.role !== "viewer") startMicrophone();
})();
