import unittest

from reply import reply


class ReplyTest(unittest.TestCase):
    def test_repeats_the_last_speaker_unescaped(self):
        messages = [
            ("user", '<speaker name="Ana">Welcome!</speaker>'),
            ("other", "Thanks, Ana."),
            (
                "user",
                '<speaker name="Guest">Cars &amp; buses?</speaker>\n<studio>Your turn.</studio>',
            ),
        ]
        self.assertEqual(reply(messages), "Guest said: Cars & buses?")

    def test_says_hello_when_nobody_spoke_yet(self):
        messages = [("user", "<studio>The recording has started. You speak first.</studio>")]
        self.assertEqual(reply(messages), "Hello! Say something and I will repeat it.")


if __name__ == "__main__":
    unittest.main()
