// `policy-js`: a turn policy for voice-studio written in JavaScript, built into a WebAssembly
// component with componentize-js (the `policy-plugin` world of the studio:plugin@0.1.0 contract).
//
// The component exports what the world asks for: `describe` (a function at the top level of the
// world) and the `policy` interface (an object with its functions). The one import is the host's
// `log` interface; the build leaves out every WASI feature, so the component imports nothing else.

import { log } from "studio:plugin/log@0.1.0";

import { decide } from "./rules.js";

/** Who the plugin is; the host checks it at load time. */
export function describe() {
  return {
    name: "policy-js",
    version: "0.1.0",
    role: "policy",
    contract: "0.1.0",
    capabilities: ["log"],
    summary:
      "Turn policy in JavaScript: the AI named answers, otherwise the AIs take turns; " +
      "in autopilot the co-host leads and has the last word.",
  };
}

/** The `policy` interface. */
export const policy = {
  decide(state, event) {
    try {
      return decide(state, event);
    } catch (error) {
      // An exception traps the call; the host then falls back to the policy's `fallback`
      // plugins. Say why first: the trap alone does not carry the JavaScript error.
      log("error", `decide failed on ${event?.tag}: ${error?.stack ?? error}`);
      throw error;
    }
  },
};
