// Between JavaScript exceptions and the contract's `plugin-error`.
//
// A host call that fails (a push after a barge-in, a config read) throws an error whose `payload`
// is the `plugin-error` (`{ tag: "cancelled" }`, ...): thrown again from an export, it goes back
// to the host unchanged. Throwing `{ tag, val }` returns that error (`{ tag: "auth", val: "..." }`).
// Anything else is a bug: it becomes `internal` with its message, logged first (the host reports
// the error; an exception that is not a `plugin-error` would trap the call and lose the message).

import { log } from "studio:plugin/log@0.1.0";

/** What an export throws for `error`. */
export function hostError(error) {
  if (error?.payload?.tag) return error;
  if (typeof error?.tag === "string") return error;
  const message = `${error?.name ?? "Error"}: ${error?.message ?? error}`;
  log("error", `${message}\n${error?.stack ?? ""}`);
  return { tag: "internal", val: message };
}
