"""`{{name}}`: a text-to-speech plugin for voice-studio written in Python (componentize-py). It
"speaks" each word as a short tone (longer words lower), so you can hear it work without any voice
model. Replace `tones.word_tone` with your synthesizer (ask for the `http` capability in
`describe`, import `http` in `wit/plugin.wit` and use `wit_world.imports.http`), and push its audio
as it arrives.

This module is the glue to the host: the bindings componentize-py generates from `wit/`
(`wit_world`) are imported only here; the logic lives in `tones.py`, which plain Python tests.
"""

from componentize_py_types import Err

import wit_world
from wit_world import exports
from wit_world.exports import tts as tts_types
from wit_world.imports import config, log, streams, types

import tones

NAME = "{{name}}"
VERSION = "0.1.0"
# The contract this plugin is built against (wit/, package studio:plugin@0.1.0).
CONTRACT = "0.1.0"
SUMMARY = "{{description}}"


def setting_int(key: str, default: int) -> int:
    """An integer from the plugin's `[plugins.NAME.config]` table, or `default`."""
    value = config.get(key)
    try:
        return int(value) if value is not None else default
    except ValueError:
        log.log(log.Level.WARN, f"config {key} = {value!r} is not a number; using {default}")
        return default


class WitWorld(wit_world.WitWorld):
    def describe(self) -> types.PluginInfo:
        # What plugins.toml must grant: `plugin install ... --grant log --grant config`.
        return types.PluginInfo(
            name=NAME,
            version=VERSION,
            role=types.Role.TTS,
            contract=CONTRACT,
            capabilities=[types.Capability.LOG, types.Capability.CONFIG],
            summary=SUMMARY,
        )


class Tts(exports.Tts):
    def synthesize(self, request: tts_types.TtsRequest, sink: streams.AudioSink) -> None:
        try:
            word_ms = setting_int("word_ms", 180)
            words = request.text.split()
            log.log(log.Level.DEBUG, f"{len(words)} words for {request.speaker.name.lower()}")
            for word in words:
                # One push per word (20-200 ms each): playback starts at once and a barge-in
                # (the push raises Err(cancelled), which propagates unchanged) stops it within
                # a word.
                samples = tones.word_tone(word, word_ms)
                # The bindings take a list of ints (an `array` does not lower).
                sink.push(types.AudioChunk(tones.SAMPLE_RATE, samples.tolist()))
        except Err:
            raise
        except Exception as error:  # a bug: report it instead of trapping the instance
            raise Err(types.PluginError_Internal(f"{type(error).__name__}: {error}")) from None
