// The microphone's capture step, running on the audio thread: mono input at the context's rate
// in, PCM s16le 48 kHz mono out, in 20 ms frames (960 samples), posted to the page with their
// level. The host's default input format is exactly this, so the page sends no `inputFormat`
// conversion hints beyond naming it.

const OUT_RATE = 48000;
const FRAME_SAMPLES = 960; // 20 ms at 48 kHz

class MicFrames extends AudioWorkletProcessor {
  constructor() {
    super();
    // `sampleRate` is the worklet global: the AudioContext's rate. Browsers pick the device's
    // rate (often 44.1 or 48 kHz); Firefox refuses a microphone in a context of another rate, so
    // the page keeps the default and we resample here.
    this.step = sampleRate / OUT_RATE;
    this.pos = 0; // read position in input samples; -1 is the last sample of the previous block
    this.prev = 0;
    this.frame = new Int16Array(FRAME_SAMPLES);
    this.filled = 0;
    this.sumSquares = 0;
  }

  push(sample) {
    const s = Math.max(-1, Math.min(1, sample));
    this.frame[this.filled++] = s < 0 ? s * 0x8000 : s * 0x7fff;
    this.sumSquares += s * s;
    if (this.filled === FRAME_SAMPLES) {
      const rms = Math.sqrt(this.sumSquares / FRAME_SAMPLES);
      const pcm = this.frame.buffer;
      // Transfer, not copy: the page sends this buffer as the audio.chunk payload as it is.
      this.port.postMessage({ pcm, rms }, [pcm]);
      this.frame = new Int16Array(FRAME_SAMPLES);
      this.filled = 0;
      this.sumSquares = 0;
    }
  }

  process(inputs) {
    const channels = inputs[0];
    if (!channels || channels.length === 0) return true;
    const input = channels[0];
    const n = input.length;
    if (this.step === 1) {
      for (let i = 0; i < n; i++) this.push(input[i]);
      return true;
    }
    // Linear interpolation between neighbours; enough for speech going to a recogniser, and it
    // keeps no state beyond one sample, so frames stay exactly 20 ms long.
    while (this.pos < n - 1) {
      const i = Math.floor(this.pos);
      const frac = this.pos - i;
      const a = i < 0 ? this.prev : input[i];
      const b = input[i + 1];
      this.push(a + (b - a) * frac);
      this.pos += this.step;
    }
    this.pos -= n;
    this.prev = input[n - 1];
    return true;
  }
}

registerProcessor("mic-frames", MicFrames);
