import unittest

from tones import word_tone


class TonesTest(unittest.TestCase):
    def test_a_word_is_a_tone_then_a_gap(self):
        samples = word_tone("hello", 200)
        self.assertEqual(len(samples), 3_200)
        self.assertTrue(any(abs(s) > 5_000 for s in samples[:2_400]))
        self.assertTrue(all(s == 0 for s in samples[2_400:]))


if __name__ == "__main__":
    unittest.main()
