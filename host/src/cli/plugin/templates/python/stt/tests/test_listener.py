import math
import unittest

from listener import Listener, Settings


def frames(ms, loud):
    """`ms` of a loud 440 Hz tone (or silence) at 16 kHz, in 20 ms frames."""
    samples = [
        int(math.sin(i * 440.0 * 2 * math.pi / 16_000) * 8_000) if loud else 0
        for i in range(ms * 16)
    ]
    return [samples[i : i + 320] for i in range(0, len(samples), 320)]


class ListenerTest(unittest.TestCase):
    def test_one_second_of_sound_then_a_pause_is_one_utterance(self):
        listener = Listener(16_000, Settings())
        heard = []
        for frame in frames(200, False) + frames(1_000, True) + frames(1_000, False):
            heard.extend(listener.feed(frame))
        finals = [t for t in heard if t.final]
        self.assertEqual(len(finals), 1, heard)
        self.assertEqual(finals[0].text, "I spoke for 1.0 seconds.")
        self.assertEqual((finals[0].start_ms, finals[0].end_ms), (200, 1_200))
        self.assertEqual(len([t for t in heard if not t.final]), 2)
        self.assertIsNone(listener.finish())

    def test_the_end_of_the_stream_ends_the_utterance(self):
        listener = Listener(16_000, Settings())
        for frame in frames(500, True):
            listener.feed(frame)
        last = listener.finish()
        self.assertTrue(last.final)
        self.assertEqual(last.text, "I spoke for 0.5 seconds.")


if __name__ == "__main__":
    unittest.main()
