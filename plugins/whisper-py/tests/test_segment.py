import unittest

from whisper_py.segment import Segmenter, Settings


def frame(value: int) -> list:
    return [value] * 960


def feed(segmenter: Segmenter, frames: int, value: int) -> list:
    out = []
    for _ in range(frames):
        out.extend(segmenter.audio(frame(value)))
    return out


class SegmentTest(unittest.TestCase):
    def test_an_utterance_runs_from_the_pre_roll_to_the_end_hint_at_16_khz(self):
        segmenter = Segmenter(Settings(), 48_000, 16_000)
        self.assertEqual(feed(segmenter, 50, 0), [])  # 1 s of quiet
        segmenter.speech_started()
        feed(segmenter, 40, 1000)  # 800 ms
        utterance = segmenter.speech_ended()
        # 300 ms of pre-roll + 800 ms, at 16 kHz.
        self.assertEqual(len(utterance.samples), 16 * 1100)
        self.assertEqual(utterance.sample_rate, 16_000)
        self.assertEqual((utterance.start_ms, utterance.end_ms), (700, 1800))
        self.assertIsNone(segmenter.finish())

    def test_speech_at_the_very_start_has_only_the_audio_there_is(self):
        segmenter = Segmenter(Settings(), 48_000, 16_000)
        feed(segmenter, 5, 7)
        segmenter.speech_started()
        feed(segmenter, 20, 7)
        utterance = segmenter.finish()
        self.assertEqual((utterance.start_ms, utterance.end_ms), (0, 500))
        self.assertEqual(len(utterance.samples), 8000)

    def test_long_speech_is_cut_at_the_cap_and_goes_on(self):
        segmenter = Segmenter(Settings(max_utterance_ms=1000, pre_roll_ms=0), 48_000, 16_000)
        segmenter.speech_started()
        cut = feed(segmenter, 125, 5)  # 2.5 s
        self.assertEqual([(u.start_ms, u.end_ms) for u in cut], [(0, 1000), (1000, 2000)])
        self.assertEqual([len(u.samples) for u in cut], [16_000, 16_000])
        last = segmenter.speech_ended()
        self.assertEqual((last.start_ms, last.end_ms), (2000, 2500))

    def test_clicks_and_stray_hints_make_no_utterance(self):
        segmenter = Segmenter(Settings(), 48_000, 16_000)
        self.assertIsNone(segmenter.speech_ended())
        segmenter.speech_started()
        segmenter.audio(frame(9))  # 20 ms and no pre-roll
        self.assertIsNone(segmenter.speech_ended())
        self.assertIsNone(segmenter.finish())

    def test_a_second_start_hint_does_not_restart_the_utterance(self):
        segmenter = Segmenter(Settings(), 16_000, 16_000)
        segmenter.speech_started()
        segmenter.audio([1] * 8000)
        segmenter.speech_started()
        segmenter.audio([1] * 8000)
        self.assertEqual(len(segmenter.speech_ended().samples), 16_000)


if __name__ == "__main__":
    unittest.main()
