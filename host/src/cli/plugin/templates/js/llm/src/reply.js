// What `{{name}}` says: pure functions with no host imports, so `node --test` runs them as they
// are.
//
// The studio hands others' lines to a language model in `user` messages, one line per `\n`:
// `<speaker name="NAME">TEXT</speaker>` for something someone said (NAME and TEXT escaped: `&amp;`,
// `&lt;`, `&gt;`, `&quot;`) and `<studio>NOTE</studio>` for a note from the studio.

const SPEAKER = /^<speaker name="([^"]*)"[^>]*>(.*)<\/speaker>$/;
const ENTITIES = { "&lt;": "<", "&gt;": ">", "&quot;": '"', "&#39;": "'", "&apos;": "'", "&amp;": "&" };

/** The text of an envelope, unescaped. */
export function unescape(text) {
  return text.replace(/&(?:lt|gt|quot|#39|apos|amp);/g, (entity) => ENTITIES[entity]);
}

/** The newest `{ name, text }` someone said, from `{ role, content }` messages; undefined if nobody spoke. */
export function lastSaid(messages) {
  for (const { role, content } of [...messages].reverse()) {
    if (role !== "user") continue;
    for (const line of content.split("\n").reverse()) {
      const found = SPEAKER.exec(line.trim());
      if (found) return { name: unescape(found[1]), text: unescape(found[2]) };
    }
  }
  return undefined;
}

/** The plugin's answer to the conversation. */
export function reply(messages) {
  const said = lastSaid(messages);
  // Nobody spoke yet: autopilot's first line gets only a studio note.
  if (!said) return "Hello! Say something and I will repeat it.";
  if (!said.text.trim()) return "I did not catch that.";
  return `${said.name} said: ${said.text}`;
}
