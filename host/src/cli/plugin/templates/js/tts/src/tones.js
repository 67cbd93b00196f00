// How `{{name}}` "speaks": each word as a short tone (longer words lower). Pure functions with no
// host imports, so `node --test` runs them as they are. Replace `wordTone` with your synthesizer.

/** The rate the tones are made at: any rate works, the host resamples. */
export const SAMPLE_RATE = 16_000;

/** One word as mono 16-bit audio at `SAMPLE_RATE`: a tone for most of `wordMs`, then a gap. */
export function wordTone(word, wordMs) {
  const total = Math.floor((wordMs * SAMPLE_RATE) / 1000);
  const sounding = Math.floor((total * 3) / 4);
  const letters = Math.max((word.match(/[a-z0-9]/gi) ?? []).length, 1);
  const pitch = 200 + 400 / letters;
  const step = (pitch * 2 * Math.PI) / SAMPLE_RATE;
  // Zeros to start with: the gap after the tone stays silent.
  const samples = new Int16Array(total);
  for (let i = 0; i < sounding; i++) {
    // A short fade in and out (160 samples), so words do not click.
    const edge = Math.min(Math.min(i, sounding - i) / 160, 1);
    samples[i] = Math.trunc(Math.sin(i * step) * 6_000 * edge);
  }
  return samples;
}
