"""`{{name}}`'s rules: pure Python, no host calls, so `python3 -m unittest` tests them.

The AI the human names answers ("Guest, ..."); an unnamed line goes to the AI that did not answer
last; the human's voice stops whoever is speaking (barge-in); in autopilot the AIs alternate until
`max_ai_turns` lines in a row. `memory` (kept by the host between calls) is the AI that answered
the human last.

Plain values: speakers are "you", "claude" and "guest"; an event is `(tag, value)` with the WIT
case names (`("human-said", "Guest, ...")`, `("ai-finished", Line(...))`); a decision is
`(tag, value)` too (`("respond", ("guest", ""))`, `("remember", "guest")`, `("wait", None)`).
`app.py` converts between these and the host's types.
"""

import re
from dataclasses import dataclass
from typing import List, Optional, Tuple

Decision = Tuple[str, object]

_FIRST_WORD = re.compile(r"^(?:(?:hey|ok|okay|so|and|well)[\s,]+)*([a-z]+)")


@dataclass
class State:
    """The floor, as the rules read it (the fields of the host's `floor-state` they use)."""

    autopilot: bool = False
    holder: Optional[str] = None
    human_speaking: bool = False
    ai_turns_in_a_row: int = 0
    max_ai_turns: int = 6
    memory: str = ""


@dataclass
class Line:
    """An AI's finished line (`ai-line`)."""

    speaker: str
    text: str
    interrupted: bool = False


def other(ai: str) -> str:
    """The other AI."""
    return "guest" if ai == "claude" else "claude"


def addressee(text: str) -> Optional[str]:
    """Whom the human named at the start of a line: "claude", "guest" or None."""
    found = _FIRST_WORD.match(text.strip().lower())
    name = found.group(1) if found else None
    return name if name in ("claude", "guest") else None


WAIT: Decision = ("wait", None)


def respond(speaker: str, cue: str = "") -> Decision:
    return ("respond", (speaker, cue))


def decide(state: State, event: Tuple[str, object]) -> List[Decision]:
    """What happens after `event`, given the floor `state`."""
    tag, value = event
    last = "guest" if state.memory == "guest" else "claude"
    if tag == "human-speech-started":
        stop = [("stop", state.holder)] if state.holder not in (None, "you") else []
        return stop + [("mute", "claude"), ("mute", "guest")]
    if tag == "human-speech-ended":
        return [("unmute", "claude"), ("unmute", "guest")]
    if tag == "human-said" and value.strip():
        speaker = addressee(value) or other(last)
        return [("remember", speaker), respond(speaker)]
    if tag == "ai-finished":
        # Autopilot: the AIs talk among themselves until the cap (the human speaking resets it).
        if (
            state.autopilot
            and not value.interrupted
            and not state.human_speaking
            and state.ai_turns_in_a_row < state.max_ai_turns
        ):
            return [respond(other(value.speaker))]
        return [WAIT]
    if tag == "autopilot-changed" and value and state.holder is None and not state.human_speaking:
        return [respond("claude", "Autopilot is on: keep the conversation going.")]
    return [WAIT]
