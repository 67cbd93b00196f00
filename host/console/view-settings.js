// Settings on the settings API: API keys (write-only: the page shows only whether each is set,
// never a value), the guest's provider, model and persona, the speech service and both AIs'
// voices. GET /api/config reads; POST /api/config/keys and /api/config/guest write, live.

import { announce, el, showError, showOk, statusBox } from "/console/producer-api.js";

const KEYS = [
  ["anthropicApiKey", "Anthropic (Claude)"],
  ["assemblyaiApiKey", "AssemblyAI (speech to text)"],
  ["groqApiKey", "Groq"],
  ["grokApiKey", "xAI Grok"],
  ["togetherApiKey", "Together.ai"],
  ["openaiApiKey", "OpenAI"],
];
const GUEST_PROVIDERS = ["groq", "grok", "together", "openai", "local"];
const TTS_PROVIDERS = ["google", "coqui", "piper"];

function select(options, value) {
  const s = el("select");
  for (const option of options) s.append(el("option", { value: option, selected: option === value }, option));
  return s;
}

function field(id, label, input, hint) {
  input.id = id;
  const parts = [el("label", { for: id }, label)];
  if (hint) {
    input.setAttribute("aria-describedby", `${id}-hint`);
    parts.push(el("p", { class: "hint", id: `${id}-hint` }, hint));
  }
  parts.push(input);
  return el("div", { class: "field" }, parts);
}

export async function render({ api }) {
  const config = await api("/api/config");
  const runtime = config.runtimeConfig || {};
  const keys = config.keys || {};

  // --- Keys -------------------------------------------------------------------------------------
  const keysResult = statusBox("keys-result");
  const keyRows = KEYS.map(([name, label]) => {
    const set = Boolean(keys[name]);
    const input = el("input", { type: "password", autocomplete: "off", spellcheck: "false", name });
    const state = el("span", { class: `badge ${set ? "set" : "unset"}`, id: `key-${name}-state` }, set ? "set" : "not set");
    input.id = `key-${name}`;
    input.setAttribute("aria-describedby", state.id);
    return el("div", { class: "field key" }, el("label", { for: input.id }, label), state, input);
  });
  const keysForm = el(
    "form",
    { id: "keys-form", class: "card" },
    el("h2", {}, "API keys"),
    el("p", { class: "hint" }, "Keys are write-only: a saved key is never shown again, only whether one is set. Leave a field empty to keep its key."),
    keyRows,
    el("button", { type: "submit", class: "primary" }, "Save keys"),
  );
  keysForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const payload = {};
    for (const input of keysForm.querySelectorAll("input[type=password]")) {
      if (input.value.trim()) payload[input.name] = input.value.trim();
    }
    if (!Object.keys(payload).length) {
      showError(keysResult, "Type a key into at least one field.");
      return;
    }
    try {
      const answer = await api("/api/config/keys", { method: "POST", json: payload });
      for (const input of keysForm.querySelectorAll("input[type=password]")) input.value = "";
      for (const name of answer.updated || []) {
        const badge = document.getElementById(`key-${name}-state`);
        if (badge) {
          badge.textContent = "set";
          badge.className = "badge set";
        }
      }
      const names = (answer.updated || []).map((n) => (KEYS.find(([k]) => k === n) || [n, n])[1]);
      showOk(keysResult, `Saved: ${names.join(", ")}. The next call uses them.`);
      announce("Keys saved.");
    } catch (error) {
      showError(keysResult, error);
    }
  });

  // --- Guest and voices ---------------------------------------------------------------------------
  const guestResult = statusBox("guest-result");
  const provider = select(GUEST_PROVIDERS, runtime.guestProvider);
  const model = el("input", { type: "text", value: runtime.guestModel || "", spellcheck: "false" });
  const persona = el("textarea", { rows: "5" });
  persona.value = runtime.guestSystemInstructions || "";
  const tts = select(TTS_PROVIDERS, runtime.ttsProvider);

  const voiceFields = (ai, label, voice = {}) => {
    const service = select(["google", "coqui"], voice.provider || "google");
    const name = el("input", { type: "text", spellcheck: "false", value: voice.googleVoice || voice.coquiSpeaker || "" });
    const rate = el("input", { type: "number", min: "0.25", max: "4", step: "0.05", value: voice.speakingRate ?? "" });
    const pitch = el("input", { type: "number", min: "-20", max: "20", step: "0.5", value: voice.pitch ?? "" });
    const box = el(
      "fieldset",
      { class: "voice" },
      el("legend", {}, label),
      field(`${ai}-voice-service`, "Voice service", service),
      field(`${ai}-voice-name`, "Voice", name, "A Google voice name such as en-GB-Neural2-B, or a Coqui speaker id; empty keeps the speech plugin's default."),
      field(`${ai}-voice-rate`, "Speaking rate (0.25 to 4)", rate),
      field(`${ai}-voice-pitch`, "Pitch (semitones, -20 to 20)", pitch),
    );
    const value = () => {
      if (!name.value.trim() && rate.value === "" && pitch.value === "") return undefined;
      const v = { provider: service.value };
      if (name.value.trim()) v[service.value === "google" ? "googleVoice" : "coquiSpeaker"] = name.value.trim();
      if (rate.value !== "") v.speakingRate = Number(rate.value);
      if (pitch.value !== "") v.pitch = Number(pitch.value);
      return v;
    };
    return { box, value };
  };
  const claudeVoice = voiceFields("claude", "Claude's voice", runtime.claudeVoice);
  const guestVoice = voiceFields("guest", "Guest's voice", runtime.guestVoice);

  const guestForm = el(
    "form",
    { id: "guest-form", class: "card" },
    el("h2", {}, "The guest and the voices"),
    field("guest-provider", "Guest's model provider", provider),
    field("guest-model", "Guest's model", model, "Empty: the provider's default."),
    field("guest-persona", "Guest's persona", persona, "Extra instructions: who the guest is and how they talk."),
    field("tts-provider", "Speech service", tts),
    claudeVoice.box,
    guestVoice.box,
    el("button", { type: "submit", class: "primary" }, "Save the guest and voices"),
  );
  guestForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const payload = {
      guestProvider: provider.value,
      guestModel: model.value.trim(),
      guestSystemInstructions: persona.value.trim(),
      ttsProvider: tts.value,
    };
    const cv = claudeVoice.value();
    const gv = guestVoice.value();
    if (cv) payload.claudeVoice = cv;
    if (gv) payload.guestVoice = gv;
    try {
      await api("/api/config/guest", { method: "POST", json: payload });
      showOk(guestResult, "Saved. Every studio's next line uses these settings.");
      announce("Guest settings saved.");
    } catch (error) {
      const at = error.body && error.body.field ? ` (${error.body.field})` : "";
      showError(guestResult, `${error.message}${at}`);
    }
  });

  const adapters = config.useRealAdapters
    ? `Real providers: speech to text ${config.sttProvider}, speech ${config.ttsProvider}.`
    : "Offline mock providers (no keys needed until real adapters are switched on).";

  return el(
    "div",
    { class: "view settings" },
    el("h1", {}, "Settings"),
    el("p", { class: "lead" }, `Changes apply live, until the server restarts. ${adapters}`),
    keysForm,
    keysResult,
    guestForm,
    guestResult,
  );
}
