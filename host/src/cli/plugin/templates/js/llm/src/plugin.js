// `{{name}}`: a voice-studio language model written in JavaScript, built into a WebAssembly
// component with componentize-js. It repeats the last line it was told, one word at a time.
// Replace `reply` in src/reply.js with a call to your model (import `http` in wit/plugin.wit, ask
// for the capability in `describe`) and keep the streaming loop.
//
// The component exports what wit/plugin.wit asks for: `describe` (a function) and the `llm`
// interface (an object with `complete`). Its imports are the host's `log`, `config` and
// `streams`. JavaScript cannot block between words (no sleep without an event loop): the words go
// out as fast as the host takes them, and the studio's speech paces what you hear.

import { get } from "studio:plugin/config@0.1.0";
import { log } from "studio:plugin/log@0.1.0";

import { hostError } from "./errors.js";
import { reply } from "./reply.js";

/** Who the plugin is; the host checks it at load time. */
export function describe() {
  return {
    name: "{{name}}",
    version: "0.1.0",
    role: "llm",
    contract: "0.1.0",
    // What plugins.toml must grant: `plugin install ... --grant log --grant config`.
    capabilities: ["log", "config"],
    summary: "{{description}}",
  };
}

/** The `llm` interface. */
export const llm = {
  complete(request, sink) {
    try {
      // The model the studio asks for (the guest's, from its settings), else the plugin's
      // configured default (`model` in its `[plugins.NAME.config]` table).
      const model = request.model || get("model") || "echo";
      const text = reply(request.messages);
      const words = text.split(/\s+/).filter(Boolean);
      log("debug", `${request.speaker} answers with ${words.length} words (model ${model})`);
      // A push throws the `cancelled` error when the human barges in: it goes back unchanged.
      words.forEach((word, i) => sink.push(i === 0 ? word : ` ${word}`));
      return { stopReason: "end_turn", inputTokens: undefined, outputTokens: undefined };
    } catch (error) {
      throw hostError(error);
    }
  },
};
