// What every part of the studio page shares: its state (which the browser test reads as
// window.studioConsole), element lookup, problems in words, the connection line.

export const SPEAKERS = ["you", "claude", "guest"];
export const AI_SPEAKERS = ["claude", "guest"];
const MAX_ERRORS = 5;

export const $ = (id) => document.getElementById(id);

// Counters and history the browser test reads; also handy in the devtools console.
export const studio = {
  connected: false,
  joined: false,
  ended: false,
  // End episode was confirmed; the studio finishes its recording and sends session.end.
  ending: false,
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
  // The microphone: the devices offered, the one in use, the constraints asked for, what the
  // browser applied, and the rate the audio is sent at (the AudioContext's own when the host
  // takes it).
  micDevices: [],
  micDeviceId: "",
  headphones: false,
  micConstraints: null,
  micSettings: null,
  micRate: 48000,
  // Levels 0..1 now and the highest seen, per speaker (the meters).
  levels: { you: 0, claude: 0, guest: 0 },
  levelPeaks: { you: 0, claude: 0, guest: 0 },
  // The recording clock: when it started (epoch ms) and how long it has run.
  recordingSince: null,
  elapsedMs: 0,
  // Typed lines sent, keyboard shortcuts used, End episode asked and confirmed.
  said: [],
  shortcuts: [],
  endAsked: 0,
  endConfirmed: 0,
};

// What the server's error codes mean to a person.
export const ERROR_WORDS = {
  "bad-hello": "The server did not accept this page's hello.",
  "bad-payload": "The server refused a malformed request.",
  "audio-not-binary": "Microphone audio was sent in the wrong form.",
  "audio-odd-length": "Microphone audio was cut mid-sample.",
  "audio-too-large": "A microphone chunk was too large.",
  "audio-empty": "An empty microphone chunk was sent.",
  "audio-undecodable": "The server could not decode the microphone audio.",
  "microphone-busy": "Another client holds this studio's microphone; your audio is not heard.",
  "not-in-studio": "Not in a studio yet; rejoining.",
  "studio-busy": "The studio is overloaded; an event was dropped.",
  "studio-ended": "This episode has ended.",
  "unknown-event": "The server did not understand a request.",
  "rate-limited": "Too many requests at once; some were dropped.",
  "text-too-long": "That line is too long to say at once.",
  forbidden: "This link may not do that.",
};

export function showProblem(text) {
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

export function setConnection(status, text) {
  const el = $("connection");
  el.dataset.status = status;
  el.textContent = text;
}

// Settings this browser remembers for the studio page (device, headphone mode).
export const remembered = {
  get(key, fallback) {
    try {
      const value = window.localStorage.getItem(`voice-studio.${key}`);
      return value === null ? fallback : value;
    } catch {
      return fallback;
    }
  },
  set(key, value) {
    try {
      window.localStorage.setItem(`voice-studio.${key}`, value);
    } catch {
      // Private mode or storage off: the choice lasts for this page only.
    }
  },
};
