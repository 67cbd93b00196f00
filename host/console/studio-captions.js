// Captions: every line of the episode stays (a caption with a known id replaces that caption,
// partial -> final). The list scrolls; the browser skips laying out the lines out of view
// (`content-visibility` in console.css), so a long episode stays light. "Save transcript" writes
// every final line as text.

import { $, studio } from "/console/studio-page.js";

const captionItems = new Map();

// Follows the newest line only when the reader is at the bottom already, so scrolling back to
// read an earlier line is not undone by the next caption.
function atBottom(list) {
  return list.scrollHeight - list.scrollTop - list.clientHeight < 40;
}

export function showCaption(caption) {
  if (!caption || typeof caption.id !== "string") return;
  const final = caption.final !== false;
  const entry = { id: caption.id, speaker: caption.speaker, text: caption.text, final };
  const known = studio.captions.findIndex((c) => c.id === caption.id);
  if (known >= 0) studio.captions[known] = entry;
  else studio.captions.push(entry);

  const list = $("captions");
  const follow = atBottom(list);
  let item = captionItems.get(caption.id);
  if (!item) {
    item = document.createElement("li");
    const who = document.createElement("span");
    who.className = "who";
    const text = document.createElement("span");
    text.className = "text";
    item.append(who, text);
    captionItems.set(caption.id, item);
    list.append(item);
  }
  item.dataset.speaker = caption.speaker;
  item.classList.toggle("partial", !final);
  item.querySelector(".who").textContent = `${caption.speaker}:`;
  item.querySelector(".text").textContent = caption.text;
  $("caption-count").textContent = `${studio.captions.length} lines`;
  if (follow) list.scrollTop = list.scrollHeight;
}

function transcriptText() {
  const title = $("episode-title").textContent;
  const lines = studio.captions.filter((c) => c.final).map((c) => `${c.speaker}: ${c.text}`);
  return `${title} (${studio.episodeId})\n\n${lines.join("\n")}\n`;
}

$("save-transcript").addEventListener("click", () => {
  const blob = new Blob([transcriptText()], { type: "text/plain;charset=utf-8" });
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = `${studio.episodeId || "episode"}-transcript.txt`;
  link.click();
  setTimeout(() => URL.revokeObjectURL(link.href), 1000);
});
