"""Cutting the microphone into utterances on the host's voice-activity hints, as the Rust SDK's
`utterance` module does for the Rust Whisper adapter (same settings, same rules):

- the host's VAD reports speech a little after it began, so the last `pre_roll_ms` of audio before
  the `speech-started` hint belong to the utterance;
- `speech-ended` (or the end of the stream) completes it; one shorter than `min_utterance_ms` (a
  click, a cough) is dropped;
- speech longer than `max_utterance_ms` is cut there (Whisper's window is 30 s) and goes on in a
  new utterance.

Utterances come out at the recognizer's rate. The audio is resampled while it arrives (only during
speech), so the work is spread over the utterance instead of landing at its end: the host's CPU
budget for a streaming call is topped up per second of audio read, never a long burst.
"""

from array import array
from dataclasses import dataclass
from typing import List, Optional, Sequence

from .resample import Resampler


@dataclass(frozen=True)
class Settings:
    """How utterances are cut (the plugin's config keys of the same names)."""

    pre_roll_ms: int = 300
    max_utterance_ms: int = 30_000
    min_utterance_ms: int = 200


@dataclass
class Utterance:
    """One utterance, ready to send: mono samples at `sample_rate`, and where it lies in the
    stream (ms of audio since the stream began)."""

    samples: array
    sample_rate: int
    start_ms: int
    end_ms: int


def samples_for_ms(ms: int, rate: int) -> int:
    """How many samples `ms` of audio at `rate` is."""
    return ms * rate // 1000


class _Current:
    """The utterance being collected."""

    def __init__(self, start: int, input_rate: int, target_rate: int) -> None:
        self.start = start  # index of its first input sample
        self.length = 0  # input samples in it
        self.resampler = Resampler(input_rate, target_rate)
        self.out = array("h")

    def feed(self, samples: Sequence[int]) -> None:
        self.length += len(samples)
        self.out.extend(self.resampler.push(samples))


class Segmenter:
    """Tracks one microphone stream: events in, utterances out."""

    def __init__(self, settings: Settings, input_rate: int, target_rate: int) -> None:
        self.settings = settings
        self.input_rate = max(1, input_rate)
        self.target_rate = target_rate
        self.heard = 0  # input samples seen so far
        self._pre_roll_keep = samples_for_ms(settings.pre_roll_ms, self.input_rate)
        self._pre_roll = array("h")
        self._max = max(1, samples_for_ms(settings.max_utterance_ms, self.input_rate))
        self._current: Optional[_Current] = None

    def audio(self, samples: Sequence[int]) -> List[Utterance]:
        """Takes microphone samples; returns the utterances the length cap cut off."""
        self.heard += len(samples)
        current = self._current
        if current is None:
            self._pre_roll.extend(samples)
            excess = len(self._pre_roll) - self._pre_roll_keep
            if excess > 0:
                del self._pre_roll[:excess]
            return []
        out = []
        rest = samples
        while current.length + len(rest) >= self._max:
            room = self._max - current.length
            current.feed(rest[:room])
            rest = rest[room:]
            out.append(self._complete(current))
            current = _Current(current.start + current.length, self.input_rate, self.target_rate)
            self._current = current
        if len(rest):
            current.feed(rest)
        return out

    def speech_started(self) -> None:
        """The host heard speech begin: collecting starts, with the pre-roll."""
        if self._current is not None:
            return
        pre_roll = self._pre_roll
        self._pre_roll = array("h")
        self._current = _Current(self.heard - len(pre_roll), self.input_rate, self.target_rate)
        self._current.feed(pre_roll)

    def speech_ended(self) -> Optional[Utterance]:
        """The host heard speech end: the utterance is complete (None when too short or none)."""
        current, self._current = self._current, None
        if current is None:
            return None
        minimum = max(1, samples_for_ms(self.settings.min_utterance_ms, self.input_rate))
        if current.length < minimum:
            return None
        return self._complete(current)

    def finish(self) -> Optional[Utterance]:
        """The stream ended: an utterance in progress is complete."""
        return self.speech_ended()

    def _complete(self, current: _Current) -> Utterance:
        current.out.extend(current.resampler.flush())
        rate = self.input_rate
        return Utterance(
            samples=current.out,
            sample_rate=self.target_rate,
            start_ms=current.start * 1000 // rate,
            end_ms=(current.start + current.length) * 1000 // rate,
        )
