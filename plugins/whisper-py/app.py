"""`whisper-py`: speech to text with a Whisper server, written in Python (componentize-py).

The same job as the Rust `whisper` plugin, with the same `plugins.toml` settings: the microphone
is cut into utterances on the host's VAD hints; each utterance, resampled to 16 kHz with an
anti-alias filter, goes to `endpoint` through the host's `http` capability (the plugin has no
sockets of its own), as bare PCM (`format = "raw"`, a studio transcription server) or as a
multipart WAV upload (`format = "multipart"`: OpenAI's `/v1/audio/transcriptions`, whisper.cpp,
faster-whisper). The answer's `text` becomes one final transcript.

This module is the glue to the host: the generated bindings (`wit_world`) are imported only here;
the logic lives in the `whisper_py` package, which plain Python can test.
"""

import time
from dataclasses import dataclass
from typing import Optional

from componentize_py_types import Err

import wit_world
from wit_world import exports
from wit_world.exports import stt as stt_types
from wit_world.imports import config, http, log, streams, types

from whisper_py import retry, segment, wire
from whisper_py.errors import Failure

NAME = "whisper-py"
VERSION = "0.1.0"
# The contract this plugin was built against (wit/, package studio:plugin@0.1.0).
CONTRACT = "0.1.0"
SUMMARY = (
    "Speech to text with a Whisper server (raw PCM or OpenAI-style multipart) over the host's "
    "http; written in Python"
)
# The rate Whisper works at.
WHISPER_RATE = 16_000
# The studio transcription server on this machine, as the Rust adapter defaults to.
DEFAULT_ENDPOINT = "http://localhost:8001/transcribe"
# The largest answer read (a transcript of 30 s of speech is a few hundred bytes).
MAX_ANSWER_BYTES = 1024 * 1024
READ_PIECE = 64 * 1024


# ---------------------------------------------------------------------------------------------
# Between the host's `plugin-error` and the pure modules' `Failure`.

_TO_HOST = {
    "config": types.PluginError_Config,
    "auth": types.PluginError_Auth,
    "unavailable": types.PluginError_Unavailable,
    "protocol": types.PluginError_Protocol,
    "denied": types.PluginError_Denied,
    "internal": types.PluginError_Internal,
}
_FROM_HOST = {cls: kind for kind, cls in _TO_HOST.items()}


def to_host(failure: Failure) -> Err:
    """The exception an export raises to return `failure` as a `plugin-error`."""
    if failure.kind == "cancelled":
        return Err(types.PluginError_Cancelled())
    if failure.kind == "rate-limited":
        return Err(
            types.PluginError_RateLimited(types.RateLimit(failure.retry_after_ms, failure.message))
        )
    return Err(_TO_HOST[failure.kind](failure.message))


def from_host(error: Err) -> Failure:
    """A `plugin-error` a host call raised, as a `Failure` (so the retry rules apply to it)."""
    value = error.value
    if isinstance(value, types.PluginError_Cancelled):
        return Failure("cancelled")
    if isinstance(value, types.PluginError_RateLimited):
        return Failure("rate-limited", value.value.message, value.value.retry_after_ms)
    kind = _FROM_HOST.get(type(value), "internal")
    return Failure(kind, str(getattr(value, "value", value)))


def host_call(function, *args):
    """Calls a host import, turning its `plugin-error` into a `Failure`."""
    try:
        return function(*args)
    except Err as error:
        raise from_host(error) from None


def say(level: log.Level, message: str) -> None:
    log.log(level, message)


# ---------------------------------------------------------------------------------------------
# Settings.


def setting(key: str) -> Optional[str]:
    return host_call(config.get, key)


def setting_int(key: str, default: int) -> int:
    text = setting(key)
    if text is None:
        return default
    try:
        value = int(text.strip())
    except ValueError:
        raise Failure("config", f"the setting `{key}` is `{text}`; use a whole number") from None
    if value < 0:
        raise Failure("config", f"the setting `{key}` is {value}; use 0 or more")
    return value


def optional_secret(name: str) -> Optional[str]:
    """A secret's value; None when unset, empty, or not declared for this plugin."""
    try:
        value = config.secret(name)
    except Err:
        return None
    return value if value and value.strip() else None


@dataclass
class Settings:
    endpoint: str
    format: str
    fields: wire.Fields
    key_var: str
    key: Optional[str]
    timeout_ms: int
    segments: segment.Settings
    retry: retry.RetryPolicy

    @staticmethod
    def load(request: stt_types.SttRequest) -> "Settings":
        format = wire.parse_format(setting("format") or wire.RAW)
        # `endpoint` in the config wins; else WHISPER_ENDPOINT (when declared and set); else the
        # studio server's default address.
        endpoint = setting("endpoint") or optional_secret("WHISPER_ENDPOINT") or DEFAULT_ENDPOINT
        key_var = setting("api_key_secret") or "OPENAI_API_KEY"
        # Only the multipart (OpenAI-style) servers take a key.
        key = optional_secret(key_var) if format == wire.MULTIPART else None
        language = setting("language")
        if language is None:
            language = wire.whisper_language(request.language)
        defaults_seg, defaults_retry = segment.Settings(), retry.RetryPolicy()
        return Settings(
            endpoint=endpoint.strip(),
            format=format,
            fields=wire.Fields(
                model=setting("model") or "whisper-1",
                language=language,
                prompt=", ".join(request.key_terms),
            ),
            key_var=key_var,
            key=key,
            timeout_ms=setting_int("timeout_ms", 20_000),
            segments=segment.Settings(
                pre_roll_ms=setting_int("pre_roll_ms", defaults_seg.pre_roll_ms),
                max_utterance_ms=setting_int("max_utterance_ms", defaults_seg.max_utterance_ms),
                min_utterance_ms=setting_int("min_utterance_ms", defaults_seg.min_utterance_ms),
            ),
            retry=retry.RetryPolicy(
                attempts=setting_int("retries", defaults_retry.attempts - 1) + 1,
                base_delay_ms=setting_int("retry_base_ms", defaults_retry.base_delay_ms),
                max_retry_after_ms=setting_int(
                    "retry_after_max_ms", defaults_retry.max_retry_after_ms
                ),
            ),
        )


# ---------------------------------------------------------------------------------------------
# One utterance, one request.


def read_answer(response: http.Response) -> bytes:
    pieces, size = [], 0
    while True:
        piece = host_call(response.read, READ_PIECE)
        if piece is None:
            return b"".join(pieces)
        size += len(piece)
        if size > MAX_ANSWER_BYTES:
            raise Failure("protocol", f"Whisper's answer is over {MAX_ANSWER_BYTES} bytes")
        pieces.append(piece)


def recognize(settings: Settings, utterance: segment.Utterance) -> str:
    """The text of one utterance (empty when the server heard no words)."""
    body, content_type = wire.body(
        settings.format, utterance.samples, utterance.sample_rate, settings.fields
    )
    headers = [("content-type", content_type), ("accept", "application/json")]
    if settings.key:
        headers.append(("authorization", f"Bearer {settings.key}"))
    request = http.Request(http.Method.POST, settings.endpoint, headers, body, settings.timeout_ms)
    try:
        with host_call(http.send, request) as response:
            status = response.status()
            answer = read_answer(response)
            if not 200 <= status < 300:
                raise wire.status_failure(status, response.headers(), answer[:65536])
    except Failure as failure:
        raise wire.in_context(failure, settings.key_var, settings.key is not None) from None
    return wire.parse_answer(answer)


def run(request: stt_types.SttRequest, input: streams.AudioInput, sink: streams.TranscriptSink) -> None:
    settings = Settings.load(request)
    segmenter = segment.Segmenter(settings.segments, input.sample_rate(), WHISPER_RATE)

    def on_retry(tried: int, ms: int, failure: Failure) -> None:
        say(
            log.Level.WARN,
            f"whisper transcription failed (try {tried} of {settings.retry.attempts}), "
            f"retrying in {ms} ms: {failure}",
        )

    while True:
        event = host_call(input.next, None, None)
        if isinstance(event, streams.InputEvent_Audio):
            utterances = segmenter.audio(event.value)
        elif isinstance(event, streams.InputEvent_SpeechStarted):
            segmenter.speech_started()
            continue
        elif isinstance(event, streams.InputEvent_SpeechEnded):
            utterances = [u for u in [segmenter.speech_ended()] if u]
        elif isinstance(event, streams.InputEvent_End):
            utterances = [u for u in [segmenter.finish()] if u]
        else:
            continue
        for utterance in utterances:
            text = settings.retry.run(
                lambda _tried: recognize(settings, utterance),
                sleep_ms=lambda ms: time.sleep(ms / 1000),
                on_retry=on_retry,
            )
            if text:
                transcript = types.Transcript(
                    types.TranscriptKind.FINAL, text, utterance.start_ms, utterance.end_ms, None
                )
                host_call(sink.push, transcript)
            else:
                say(
                    log.Level.DEBUG,
                    f"no speech recognized in {utterance.start_ms}..{utterance.end_ms} ms",
                )
        if isinstance(event, streams.InputEvent_End):
            return


# ---------------------------------------------------------------------------------------------
# The exports.


class WitWorld(wit_world.WitWorld):
    def describe(self) -> types.PluginInfo:
        return types.PluginInfo(
            name=NAME,
            version=VERSION,
            role=types.Role.STT,
            contract=CONTRACT,
            capabilities=[types.Capability.LOG, types.Capability.CONFIG, types.Capability.HTTP],
            summary=SUMMARY,
        )


class Stt(exports.Stt):
    def transcribe(
        self,
        request: stt_types.SttRequest,
        input: streams.AudioInput,
        sink: streams.TranscriptSink,
    ) -> None:
        try:
            run(request, input, sink)
        except Failure as failure:
            raise to_host(failure) from None
        except Err:
            raise
        except Exception as error:  # a bug: report it instead of trapping the instance
            raise to_host(Failure("internal", f"{type(error).__name__}: {error}")) from None
