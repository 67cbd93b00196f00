import json
import struct
import unittest
from array import array

from whisper_py import wire
from whisper_py.errors import Failure
from whisper_py.retry import RetryPolicy


class WireTest(unittest.TestCase):
    def test_raw_body_is_bare_little_endian_pcm(self):
        body, content_type = wire.body(wire.RAW, array("h", [1, -2, 0x0304]), 16_000, wire.Fields())
        self.assertEqual(body, bytes([1, 0, 0xFE, 0xFF, 4, 3]))
        self.assertEqual(content_type, "application/octet-stream")

    def test_multipart_body_carries_a_16_khz_wav_and_the_fields(self):
        samples = array("h", [100] * 1600)
        body, content_type = wire.body(
            wire.MULTIPART, samples, 16_000, wire.Fields(model="whisper-1", language="en")
        )
        boundary = content_type.removeprefix("multipart/form-data; boundary=")
        text = body.decode("latin-1")
        self.assertTrue(text.startswith(f"--{boundary}\r\n"))
        self.assertTrue(text.endswith(f"--{boundary}--\r\n"))
        self.assertIn('name="file"; filename="audio.wav"', text)
        self.assertIn('name="model"\r\n\r\nwhisper-1\r\n', text)
        self.assertIn('name="response_format"\r\n\r\njson\r\n', text)
        self.assertIn('name="language"\r\n\r\nen\r\n', text)
        self.assertNotIn('name="prompt"', text, "empty fields are left out")
        start = body.index(b"RIFF")
        wav = body[start : start + 44 + 3200]
        self.assertEqual(struct.unpack("<I", wav[4:8])[0] + 8, len(wav))
        channels, rate = struct.unpack("<HI", wav[22:28])
        self.assertEqual((channels, rate), (1, 16_000))
        self.assertEqual(array("h", wav[44:]).tolist(), samples.tolist())

    def test_languages_become_iso_639_1(self):
        self.assertEqual(wire.whisper_language("en-US"), "en")
        self.assertEqual(wire.whisper_language("pt_BR"), "pt")
        self.assertEqual(wire.whisper_language(""), "")

    def test_answers_give_their_text_and_errors_in_a_200_are_errors(self):
        studio = b'{"text":" Hello there. ","is_final":true,"language":"en"}'
        self.assertEqual(wire.parse_answer(studio), "Hello there.")
        self.assertEqual(wire.parse_answer(b'{"text":"hi","error":null}'), "hi")
        for answer in (
            b'{"text":"","is_final":true,"error":"CUDA out of memory"}',
            b'{"error":"failed to read WAV file"}',
            b'{"error":{"message":"Invalid file format.","type":"invalid_request_error"}}',
        ):
            with self.assertRaises(Failure) as caught:
                wire.parse_answer(answer)
            self.assertEqual(caught.exception.kind, "unavailable")
        for answer in (b"<html>oops", b'{"txt":"x"}', b'{"text":"x', b"[1]"):
            with self.assertRaises(Failure) as caught:
                wire.parse_answer(answer)
            self.assertEqual(caught.exception.kind, "protocol")

    def test_statuses_map_to_the_contract_errors(self):
        openai = json.dumps({"error": {"message": "Incorrect API key provided."}}).encode()
        self.assertEqual(wire.status_failure(401, [], openai).kind, "auth")
        self.assertIn("Incorrect API key provided.", wire.status_failure(401, [], openai).message)
        limited = wire.status_failure(429, [("Retry-After", "1.5")], b"")
        self.assertEqual((limited.kind, limited.retry_after_ms), ("rate-limited", 1500))
        self.assertEqual(wire.status_failure(503, [], b"").kind, "unavailable")
        self.assertEqual(wire.status_failure(408, [], b"").kind, "unavailable")
        self.assertEqual(wire.status_failure(400, [], b"bad").kind, "config")

    def test_auth_errors_name_the_variable_only_when_a_key_was_sent(self):
        refused = Failure("auth", "HTTP 401: bad key")
        self.assertTrue(
            wire.in_context(refused, "OPENAI_API_KEY", True).message.startswith(
                "Whisper refused OPENAI_API_KEY (HTTP 401"
            )
        )
        self.assertIn("set OPENAI_API_KEY", wire.in_context(refused, "OPENAI_API_KEY", False).message)
        down = wire.in_context(Failure("unavailable", "HTTP 502: x"), "K", False)
        self.assertTrue(down.message.startswith("Whisper is unavailable"))

    def test_a_bad_format_is_a_config_error(self):
        with self.assertRaises(Failure) as caught:
            wire.parse_format("wav")
        self.assertEqual(caught.exception.kind, "config")


class RetryTest(unittest.TestCase):
    def test_unavailable_backs_off_exponentially_then_gives_up(self):
        policy = RetryPolicy()
        down = Failure("unavailable", "502")
        self.assertEqual([policy.next_delay(t, down) for t in (1, 2, 3)], [250, 1000, None])

    def test_rate_limits_wait_for_retry_after_within_the_bound(self):
        policy = RetryPolicy()
        self.assertEqual(policy.next_delay(1, Failure("rate-limited", "", 1500)), 1500)
        self.assertIsNone(policy.next_delay(1, Failure("rate-limited", "", 30_000)))
        self.assertEqual(policy.next_delay(1, Failure("rate-limited", "")), 250)

    def test_errors_retrying_cannot_fix_are_returned_at_once(self):
        policy = RetryPolicy()
        for kind in ("auth", "config", "protocol", "cancelled", "denied", "internal"):
            self.assertIsNone(policy.next_delay(1, Failure(kind, "x")), kind)

    def test_run_retries_then_succeeds(self):
        slept = []
        answers = iter([Failure("unavailable", "1"), "hello"])

        def attempt(_tried):
            answer = next(answers)
            if isinstance(answer, Failure):
                raise answer
            return answer

        self.assertEqual(RetryPolicy().run(attempt, slept.append), "hello")
        self.assertEqual(slept, [250])


if __name__ == "__main__":
    unittest.main()
