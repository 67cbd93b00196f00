"""`{{name}}`: a turn-taking policy for voice-studio written in Python (componentize-py). The AI
the human names answers ("Guest, ..."); an unnamed line goes to the AI that did not answer last;
the human's voice stops whoever is speaking (barge-in); in autopilot the AIs alternate until
`max-ai-turns` lines in a row. Change `rules.decide` to change who speaks when. A policy is pure
and deterministic: no I/O, and no state between calls except what it returns in a `remember`
decision (back as `state.memory`).

This module is the glue to the host: the bindings componentize-py generates from `wit/`
(`wit_world`) are imported only here; the rules live in `rules.py`, which plain Python tests.
"""

from typing import List

import wit_world
from wit_world import exports
from wit_world.exports import policy as p
from wit_world.imports import log, types

import rules

NAME = "{{name}}"
VERSION = "0.1.0"
# The contract this plugin is built against (wit/, package studio:plugin@0.1.0).
CONTRACT = "0.1.0"
SUMMARY = "{{description}}"

_SPEAKERS = {types.Speaker.YOU: "you", types.Speaker.CLAUDE: "claude", types.Speaker.GUEST: "guest"}
_TO_SPEAKER = {name: speaker for speaker, name in _SPEAKERS.items()}
_EVENTS = {
    p.FloorEvent_SessionStarted: "session-started",
    p.FloorEvent_HumanSpeechStarted: "human-speech-started",
    p.FloorEvent_HumanSpeechEnded: "human-speech-ended",
    p.FloorEvent_HumanSaid: "human-said",
    p.FloorEvent_AiFinished: "ai-finished",
    p.FloorEvent_AutopilotChanged: "autopilot-changed",
    p.FloorEvent_Timer: "timer",
}
_SPEAKER_DECISIONS = {
    "mute": p.Decision_Mute,
    "unmute": p.Decision_Unmute,
    "stop": p.Decision_Stop,
}


def speaker(value):
    return None if value is None else _SPEAKERS[value]


def from_host(state: p.FloorState, event: p.FloorEvent):
    """The host's floor state and event as the rules' plain values."""
    plain = rules.State(
        autopilot=state.autopilot,
        holder=speaker(state.holder),
        human_speaking=state.human_speaking,
        ai_turns_in_a_row=state.ai_turns_in_a_row,
        max_ai_turns=state.max_ai_turns,
        memory=state.memory,
    )
    tag = _EVENTS.get(type(event), "other")
    value = getattr(event, "value", None)
    if isinstance(event, p.FloorEvent_AiFinished):
        value = rules.Line(_SPEAKERS[value.speaker], value.text, value.interrupted)
    return plain, (tag, value)


def to_host(decision: rules.Decision) -> p.Decision:
    """One of the rules' decisions as the host's (the ones `rules.py` makes)."""
    tag, value = decision
    if tag == "respond":
        who, cue = value
        return p.Decision_Respond(p.Respond(_TO_SPEAKER[who], cue))
    if tag == "remember":
        return p.Decision_Remember(value)
    if tag in _SPEAKER_DECISIONS:
        return _SPEAKER_DECISIONS[tag](_TO_SPEAKER[value])
    return p.Decision_Wait()


class WitWorld(wit_world.WitWorld):
    def describe(self) -> types.PluginInfo:
        # `log` is the only capability a policy can have: `plugin install ... --grant log`.
        return types.PluginInfo(
            name=NAME,
            version=VERSION,
            role=types.Role.POLICY,
            contract=CONTRACT,
            capabilities=[types.Capability.LOG],
            summary=SUMMARY,
        )


class Policy(exports.Policy):
    def decide(self, state: p.FloorState, event: p.FloorEvent) -> List[p.Decision]:
        try:
            return [to_host(d) for d in rules.decide(*from_host(state, event))]
        except Exception as error:
            # An exception traps the call (the host then keeps the floor as it was): say why.
            log.log(log.Level.ERROR, f"decide failed on {type(event).__name__}: {error!r}")
            raise
