// How `{{name}}` hears utterances: pure functions and a class with no host imports, so
// `node --test` runs them as they are.
//
// A frame louder than `thresholdDbfs` is speech; `endOfSpeechMs` of quiet ends the utterance.
// While it goes on, a partial transcript every `partialEveryMs`; when it ends, a final one. The
// text is how long the utterance was: replace `text` (or the whole listener) with your recognizer.

/** The level reported for digital silence: below anything a microphone produces. */
export const SILENCE_DBFS = -120;

/** The level of 16-bit samples in dBFS (0 for a full-scale square wave). */
export function dbfs(samples) {
  if (samples.length === 0) return SILENCE_DBFS;
  let sum = 0;
  for (let i = 0; i < samples.length; i++) sum += samples[i] * samples[i];
  const level = Math.sqrt(sum / samples.length) / 32768;
  return level > 0 ? Math.max(20 * Math.log10(level), SILENCE_DBFS) : SILENCE_DBFS;
}

/** How utterances are found (the plugin's config keys, snake_case there). */
export const DEFAULTS = Object.freeze({ thresholdDbfs: -40, endOfSpeechMs: 600, partialEveryMs: 400 });

/** What an utterance from `began` to `ended` (ms) reads as. */
export function text(began, ended) {
  return `I spoke for ${((ended - began) / 1000).toFixed(1)} seconds.`;
}

/** Finds utterances in a stream of audio frames at `sampleRate`. Times are in ms (numbers). */
export class Listener {
  constructor(sampleRate, settings = DEFAULTS) {
    this.sampleRate = Math.max(sampleRate, 1);
    this.settings = settings;
    this.nowMs = 0; // audio heard so far
    this.startedMs = undefined; // when the current utterance began
    this.lastLoudMs = 0; // the end of its last loud frame
    this.lastPartialMs = 0; // when its last partial was pushed
  }

  /** One frame of mono samples in; the transcripts (`{ final, text, startMs, endMs }`) it completes out. */
  feed(samples) {
    const start = this.nowMs;
    this.nowMs += Math.floor((samples.length * 1000) / this.sampleRate);
    const loud = samples.length > 0 && dbfs(samples) > this.settings.thresholdDbfs;
    const out = [];
    if (this.startedMs === undefined) {
      if (loud) {
        this.startedMs = start;
        this.lastLoudMs = this.nowMs;
        this.lastPartialMs = start;
      }
    } else if (loud) {
      this.lastLoudMs = this.nowMs;
      if (this.nowMs - this.lastPartialMs >= this.settings.partialEveryMs) {
        this.lastPartialMs = this.nowMs;
        const began = this.startedMs;
        out.push({ final: false, text: text(began, this.nowMs), startMs: began, endMs: this.nowMs });
      }
    } else if (this.nowMs - this.lastLoudMs >= this.settings.endOfSpeechMs) {
      out.push(this.finish());
    }
    return out;
  }

  /** Ends the utterance going on, if any: its final transcript (else undefined). */
  finish() {
    if (this.startedMs === undefined) return undefined;
    const began = this.startedMs;
    this.startedMs = undefined;
    return { final: true, text: text(began, this.lastLoudMs), startMs: began, endMs: this.lastLoudMs };
  }
}
