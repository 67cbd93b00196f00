"""Whisper's two wire flavours, as pure functions (the same as the Rust `whisper` adapter's):

- `raw`: a studio transcription server, `POST /transcribe`; the body is bare PCM s16le 16 kHz
  mono, the answer `{"text", "is_final", "language", "language_probability"}`;
- `multipart`: OpenAI (`/v1/audio/transcriptions`), whisper.cpp (`/inference`), faster-whisper:
  `multipart/form-data` with `file=audio.wav`, `model`, `response_format=json`, and the optional
  `language` and `prompt`; the answer `{"text"}`.
"""

import json
import struct
import sys
from array import array
from dataclasses import dataclass
from typing import List, Optional, Tuple

from .errors import Failure

RAW = "raw"
MULTIPART = "multipart"
# Long and unusual, so that the WAV data does not contain it by chance.
BOUNDARY = "----voice-studio-whisper-py-4e1b9a7c2d"


def parse_format(text: str) -> str:
    """The `format` setting, checked."""
    value = text.strip()
    if value in (RAW, MULTIPART):
        return value
    raise Failure("config", f'the setting `format` is `{value}`; use "raw" or "multipart"')


@dataclass(frozen=True)
class Fields:
    """The multipart form fields sent with the audio file (empty ones are left out)."""

    model: str = "whisper-1"
    language: str = ""
    prompt: str = ""


def le_bytes(samples: array) -> bytes:
    """Samples as s16le bytes."""
    if sys.byteorder == "little":
        return samples.tobytes()
    swapped = array("h", samples)
    swapped.byteswap()
    return swapped.tobytes()


def wav(samples: array, sample_rate: int) -> bytes:
    """A mono 16-bit PCM WAV file."""
    data = le_bytes(samples)
    header = b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVE"
    fmt = b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, sample_rate, sample_rate * 2, 2, 16)
    return header + fmt + b"data" + struct.pack("<I", len(data)) + data


def body(format: str, samples: array, sample_rate: int, fields: Fields) -> Tuple[bytes, str]:
    """The request body and its content type for one utterance."""
    if format == RAW:
        return le_bytes(samples), "application/octet-stream"
    parts = [
        (
            f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; "
            'filename="audio.wav"\r\nContent-Type: audio/wav\r\n\r\n'
        ).encode(),
        wav(samples, sample_rate),
        b"\r\n",
    ]
    for name, value in (
        ("model", fields.model),
        ("response_format", "json"),
        ("language", fields.language),
        ("prompt", fields.prompt),
    ):
        if value:
            parts.append(
                f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
            )
    parts.append(f"--{BOUNDARY}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={BOUNDARY}"


def whisper_language(bcp47: str) -> str:
    """The language Whisper wants (ISO-639-1) from a BCP-47 tag: `en-US` -> `en`."""
    return bcp47.replace("_", "-").split("-")[0].strip().lower()


def parse_answer(answer: bytes) -> str:
    """The text of a 2xx answer. A top-level `error` (the studio server and whisper.cpp report
    failures as HTTP 200 with one) is `unavailable` (the server failed on its side; a retry may
    work); anything that is not JSON with a `text` string is `protocol`."""
    try:
        value = json.loads(answer)
    except (ValueError, UnicodeDecodeError) as error:
        raise Failure("protocol", f"Whisper answered with something that is not JSON: {error}")
    if not isinstance(value, dict):
        raise Failure("protocol", "Whisper's answer is not a JSON object")
    error = value.get("error")
    if error is not None and error != "":
        if isinstance(error, dict):
            message = error.get("message")
            message = message if isinstance(message, str) else json.dumps(error)
        else:
            message = str(error)
        raise Failure("unavailable", f"Whisper answered with an error: {message[:300]}")
    text = value.get("text")
    if not isinstance(text, str):
        raise Failure("protocol", "Whisper's answer has no `text`")
    return text.strip()


def retry_after_ms(headers: List[Tuple[str, str]]) -> Optional[int]:
    """`retry-after-ms`, or `retry-after` in (possibly fractional) seconds; HTTP dates are not
    parsed."""
    found = {name.lower(): value.strip() for name, value in headers}
    for name, scale in (("retry-after-ms", 1.0), ("retry-after", 1000.0)):
        if name in found:
            try:
                return int(max(0.0, float(found[name])) * scale)
            except ValueError:
                return None
    return None


def error_detail(answer: bytes) -> str:
    """The human part of a JSON error body (`error.message`, `message`, or a string `error`),
    else the start of the body as text."""
    text = answer.decode("utf-8", "replace")
    try:
        value = json.loads(answer)
    except (ValueError, UnicodeDecodeError):
        value = None
    if isinstance(value, dict):
        error = value.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            text = error["message"]
        elif isinstance(value.get("message"), str):
            text = value["message"]
        elif isinstance(error, str):
            text = error
    text = text.strip()[:300]
    return text or "(no details)"


def status_failure(status: int, headers: List[Tuple[str, str]], answer: bytes) -> Failure:
    """A non-2xx answer: 401/403 `auth`, 429 `rate-limited`, 408 and 5xx `unavailable`, any other
    4xx `config` (a bad model, URL or parameter: retrying does not help)."""
    message = f"HTTP {status}: {error_detail(answer)}"
    if status in (401, 403):
        return Failure("auth", message)
    if status == 429:
        return Failure("rate-limited", message, retry_after_ms(headers))
    if status == 408 or 500 <= status <= 599:
        return Failure("unavailable", message)
    return Failure("config", message)


def in_context(failure: Failure, key_var: str, key_set: bool) -> Failure:
    """Names Whisper (and, for a refused key, the variable) in a failure from the HTTP layer."""
    kind, message = failure.kind, failure.message
    if kind == "auth" and key_set:
        return Failure("auth", f"Whisper refused {key_var} ({message})")
    if kind == "auth":
        return Failure(
            "auth", f"Whisper refused the request ({message}); set {key_var} if the server needs a key"
        )
    if kind == "unavailable" and not message.startswith("Whisper"):
        return Failure("unavailable", f"Whisper is unavailable: {message}")
    if kind == "config":
        return Failure("config", f"Whisper rejected the request: {message}")
    if kind == "rate-limited":
        return Failure("rate-limited", f"Whisper is rate limiting: {message}", failure.retry_after_ms)
    return failure
