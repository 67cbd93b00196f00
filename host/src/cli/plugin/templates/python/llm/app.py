"""`{{name}}`: a language model for voice-studio written in Python (componentize-py). It repeats
the last line it was told, one word at a time. Replace `reply.reply` with a call to your model
(ask for the `http` capability in `describe` and use `wit_world.imports.http`).

This module is the glue to the host: the bindings componentize-py generates from `wit/`
(`wit_world`) are imported only here; the logic lives in `reply.py`, which plain Python tests.
"""

import time

from componentize_py_types import Err

import wit_world
from wit_world import exports
from wit_world.exports import llm as llm_types
from wit_world.imports import config, log, streams, types

import reply

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
            role=types.Role.LLM,
            contract=CONTRACT,
            capabilities=[types.Capability.LOG, types.Capability.CONFIG],
            summary=SUMMARY,
        )


class Llm(exports.Llm):
    def complete(
        self, request: llm_types.LlmRequest, sink: streams.TokenSink
    ) -> llm_types.Completion:
        try:
            delay_ms = setting_int("delay_ms", 40)
            messages = [
                ("user" if m.role == types.ChatRole.USER else "other", m.content)
                for m in request.messages
            ]
            text = reply.reply(messages)
            for i, word in enumerate(text.split()):
                time.sleep(delay_ms / 1000)
                # Raises Err(cancelled) when the human barges in: it propagates unchanged.
                sink.push(word if i == 0 else " " + word)
            return llm_types.Completion("end_turn", None, None)
        except Err:
            raise
        except Exception as error:  # a bug: report it instead of trapping the instance
            raise Err(types.PluginError_Internal(f"{type(error).__name__}: {error}")) from None
