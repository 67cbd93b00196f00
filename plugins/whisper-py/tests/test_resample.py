import math
import unittest

from whisper_py.resample import Resampler, resample


def tone(hz: float, seconds: float, rate: int, amplitude: float = 10_000) -> list:
    return [int(amplitude * math.sin(2 * math.pi * hz * n / rate)) for n in range(int(seconds * rate))]


def rms(samples) -> float:
    middle = samples[len(samples) // 4 : 3 * len(samples) // 4]  # away from the edges
    return math.sqrt(sum(s * s for s in middle) / len(middle))


class ResampleTest(unittest.TestCase):
    def test_48_to_16_khz_keeps_the_length_and_a_speech_band_tone(self):
        out = resample(tone(1000, 0.5, 48_000), 48_000, 16_000)
        self.assertEqual(len(out), 8000)
        self.assertAlmostEqual(rms(out) / rms(tone(1000, 0.5, 16_000)), 1.0, delta=0.05)
        # Still 1 kHz: correlates with a 1 kHz reference at 16 kHz, not shifted in time.
        reference = tone(1000, 0.5, 16_000)
        dot = sum(a * b for a, b in zip(out[2000:6000], reference[2000:6000]))
        norm = math.sqrt(sum(a * a for a in out[2000:6000]) * sum(b * b for b in reference[2000:6000]))
        self.assertGreater(dot / norm, 0.99)

    def test_tones_above_the_output_nyquist_do_not_fold_into_it(self):
        # 10 kHz at 48 kHz would fold to 6 kHz at 16 kHz without the filter, 13 kHz to 3 kHz.
        for hz in (10_000, 13_000, 20_000):
            out = resample(tone(hz, 0.5, 48_000), 48_000, 16_000)
            attenuation_db = 20 * math.log10(max(rms(out), 1e-9) / 7071.0)
            self.assertLess(attenuation_db, -40, f"{hz} Hz folded at {attenuation_db:.1f} dB")

    def test_streaming_in_frames_equals_all_at_once(self):
        signal = tone(440, 0.3, 48_000)
        whole = resample(signal, 48_000, 16_000)
        streaming = Resampler(48_000, 16_000)
        pieces = []
        for at in range(0, len(signal), 960):
            pieces.extend(streaming.push(signal[at : at + 960]))
        pieces.extend(streaming.flush())
        self.assertEqual(list(whole), pieces)

    def test_other_rates(self):
        self.assertEqual(list(resample([1, 2, 3], 16_000, 16_000)), [1, 2, 3])
        up = resample(tone(500, 0.2, 8_000), 8_000, 16_000)
        self.assertEqual(len(up), 3200)
        odd = resample(tone(500, 0.2, 44_100), 44_100, 16_000)
        self.assertEqual(len(odd), math.ceil(0.2 * 44_100 * 16_000 / 44_100))
        self.assertAlmostEqual(rms(odd) / rms(tone(500, 0.2, 16_000)), 1.0, delta=0.05)
        folded = resample(tone(12_000, 0.2, 44_100), 44_100, 16_000)
        self.assertLess(rms(folded), 7071 * 0.01)

    def test_streaming_other_rates_equals_all_at_once(self):
        signal = tone(300, 0.1, 44_100)
        whole = resample(signal, 44_100, 16_000)
        streaming = Resampler(44_100, 16_000)
        pieces = []
        for at in range(0, len(signal), 441):
            pieces.extend(streaming.push(signal[at : at + 441]))
        pieces.extend(streaming.flush())
        self.assertEqual(list(whole), pieces)

    def test_loud_input_is_clamped_not_wrapped(self):
        square = [32767 if (n // 24) % 2 else -32768 for n in range(4800)]
        out = resample(square, 48_000, 16_000)
        self.assertTrue(all(-32768 <= s <= 32767 for s in out))


if __name__ == "__main__":
    unittest.main()
