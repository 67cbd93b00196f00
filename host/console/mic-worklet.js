// The microphone's capture step, running on the audio thread: mono input at the context's rate
// in, PCM s16le mono out in 20 ms frames, posted to the page with their level.
//
// The frames go out at the context's own rate (`processorOptions.outRate`, which the page
// declares in hello.inputFormat), and the host resamples them with its windowed-sinc resampler.
// Only a rate the host does not take (e.g. 96 kHz) is converted here, to 48 kHz, by linear
// interpolation: the fallback, not the rule.

class MicFrames extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const wanted = options && options.processorOptions && options.processorOptions.outRate;
    // `sampleRate` is the worklet global: the AudioContext's rate.
    this.outRate = wanted || sampleRate;
    this.step = sampleRate / this.outRate;
    this.frameSamples = Math.round(this.outRate / 50); // 20 ms
    this.pos = 0; // read position in input samples; -1 is the last sample of the previous block
    this.prev = 0;
    this.frame = new Int16Array(this.frameSamples);
    this.filled = 0;
    this.sumSquares = 0;
  }

  push(sample) {
    const s = Math.max(-1, Math.min(1, sample));
    this.frame[this.filled++] = s < 0 ? s * 0x8000 : s * 0x7fff;
    this.sumSquares += s * s;
    if (this.filled === this.frameSamples) {
      const rms = Math.sqrt(this.sumSquares / this.frameSamples);
      const pcm = this.frame.buffer;
      // Transfer, not copy: the page sends this buffer as the audio.chunk payload as it is.
      this.port.postMessage({ pcm, rms }, [pcm]);
      this.frame = new Int16Array(this.frameSamples);
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
    // Linear interpolation between neighbours, keeping one sample of state so frames stay
    // exactly 20 ms long.
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
