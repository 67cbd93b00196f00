"""`{{name}}`: a speech-to-text plugin for voice-studio written in Python (componentize-py). It
hears when you speak (by energy) and transcribes every utterance as how long it was: partial
captions while you talk, a final one after a pause. Replace `listener.text` (or the listener) with
a call to your recognizer (ask for the `http` capability in `describe`, import `http` in
`wit/plugin.wit` and use `wit_world.imports.http`); the host's voice-activity hints
(`InputEvent_SpeechStarted`/`SpeechEnded`) are there to cut utterances for a REST recognizer.

This module is the glue to the host: the bindings componentize-py generates from `wit/`
(`wit_world`) are imported only here; the logic lives in `listener.py`, which plain Python tests.
"""

from componentize_py_types import Err

import wit_world
from wit_world import exports
from wit_world.exports import stt as stt_types
from wit_world.imports import config, log, streams, types

import listener

NAME = "{{name}}"
VERSION = "0.1.0"
# The contract this plugin is built against (wit/, package studio:plugin@0.1.0).
CONTRACT = "0.1.0"
SUMMARY = "{{description}}"


def setting(key: str, default: float, kind=int):
    """A number from the plugin's `[plugins.NAME.config]` table, or `default`."""
    value = config.get(key)
    try:
        return kind(value) if value is not None else default
    except ValueError:
        log.log(log.Level.WARN, f"config {key} = {value!r} is not a number; using {default}")
        return default


def settings() -> listener.Settings:
    defaults = listener.Settings()
    return listener.Settings(
        threshold_dbfs=setting("threshold_dbfs", defaults.threshold_dbfs, float),
        end_of_speech_ms=setting("end_of_speech_ms", defaults.end_of_speech_ms),
        partial_every_ms=setting("partial_every_ms", defaults.partial_every_ms),
    )


def to_host(heard: listener.Heard) -> types.Transcript:
    kind = types.TranscriptKind.FINAL if heard.final else types.TranscriptKind.PARTIAL
    return types.Transcript(kind, heard.text, heard.start_ms, heard.end_ms, None)


class WitWorld(wit_world.WitWorld):
    def describe(self) -> types.PluginInfo:
        # What plugins.toml must grant: `plugin install ... --grant log --grant config`.
        return types.PluginInfo(
            name=NAME,
            version=VERSION,
            role=types.Role.STT,
            contract=CONTRACT,
            capabilities=[types.Capability.LOG, types.Capability.CONFIG],
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
            rate = input.sample_rate()
            log.log(log.Level.INFO, f"listening to {request.speaker.name.lower()} at {rate} Hz")
            heard = listener.Listener(rate, settings())
            while True:
                # Raises Err(cancelled) when the session ends: it propagates unchanged.
                event = input.next(None, None)
                if isinstance(event, streams.InputEvent_Audio):
                    for transcript in heard.feed(event.value):
                        sink.push(to_host(transcript))
                elif isinstance(event, streams.InputEvent_End):
                    break
                # The host's VAD hints, provider sockets and timeouts: not used here.
            last = heard.finish()
            if last is not None:
                sink.push(to_host(last))
        except Err:
            raise
        except Exception as error:  # a bug: report it instead of trapping the instance
            raise Err(types.PluginError_Internal(f"{type(error).__name__}: {error}")) from None
