// `{{name}}`: a voice-studio turn policy written in JavaScript, built into a WebAssembly component
// with componentize-js. The component exports what the `policy-plugin` world asks for: `describe`
// (a function) and the `policy` interface (an object with `decide`). Its one import is the host's
// `log`.

import { log } from "studio:plugin/log@0.1.0";

import { decide } from "./rules.js";

/** Who the plugin is; the host checks it at load time. */
export function describe() {
  return {
    name: "{{name}}",
    version: "0.1.0",
    role: "policy",
    contract: "0.1.0",
    capabilities: ["log"],
    summary: "{{description}}",
  };
}

/** The `policy` interface. */
export const policy = {
  decide(state, event) {
    try {
      return decide(state, event);
    } catch (error) {
      // An exception traps the call (the host then keeps the floor as it was): say why first.
      log("error", `decide failed on ${event?.tag}: ${error?.stack ?? error}`);
      throw error;
    }
  },
};
