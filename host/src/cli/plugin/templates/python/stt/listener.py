"""How `{{name}}` hears utterances: pure Python, no host calls, so `python3 -m unittest` tests it.

A frame louder than `threshold_dbfs` is speech; `end_of_speech_ms` of quiet ends the utterance.
While it goes on, a partial transcript every `partial_every_ms`; when it ends, a final one. The
text is how long the utterance was: replace `text` (or the whole listener) with your recognizer.
"""

import math
from dataclasses import dataclass
from operator import mul
from typing import List, Optional, Sequence

# The level reported for digital silence: below anything a microphone produces.
SILENCE_DBFS = -120.0

try:
    # CPython 3.12+ (componentize-py's interpreter): the sum of squares in C. Loops over samples
    # are where interpreted Python costs guest CPU.
    from math import sumprod as _dot
except ImportError:  # an older python3 running the unit tests natively

    def _dot(p: Sequence[int], q: Sequence[int]) -> float:
        return sum(map(mul, p, q))


def dbfs(samples: Sequence[int]) -> float:
    """The level of 16-bit samples in dBFS (0 for a full-scale square wave)."""
    if not samples:
        return SILENCE_DBFS
    level = math.sqrt(_dot(samples, samples) / len(samples)) / 32768.0
    if level <= 0.0:
        return SILENCE_DBFS
    return max(20.0 * math.log10(level), SILENCE_DBFS)


@dataclass(frozen=True)
class Settings:
    """How utterances are found (the plugin's config keys of the same names)."""

    threshold_dbfs: float = -40.0
    end_of_speech_ms: int = 600
    partial_every_ms: int = 400


@dataclass(frozen=True)
class Heard:
    """A transcript: partial while the utterance goes on, final when it ended."""

    final: bool
    text: str
    start_ms: int
    end_ms: int


def text(began: int, ended: int) -> str:
    """What an utterance from `began` to `ended` (ms) reads as."""
    return f"I spoke for {(ended - began) / 1000:.1f} seconds."


class Listener:
    """Finds utterances in a stream of audio frames at `sample_rate`."""

    def __init__(self, sample_rate: int, settings: Settings = Settings()) -> None:
        self.sample_rate = max(sample_rate, 1)
        self.settings = settings
        self.now_ms = 0  # audio heard so far
        self.started_ms: Optional[int] = None  # when the current utterance began
        self.last_loud_ms = 0  # the end of its last loud frame
        self.last_partial_ms = 0  # when its last partial was pushed

    def feed(self, samples: Sequence[int]) -> List[Heard]:
        """One frame of mono samples in; the transcripts it completes out."""
        start = self.now_ms
        self.now_ms += len(samples) * 1000 // self.sample_rate
        loud = len(samples) > 0 and dbfs(samples) > self.settings.threshold_dbfs
        out = []
        if self.started_ms is None:
            if loud:
                self.started_ms = start
                self.last_loud_ms = self.now_ms
                self.last_partial_ms = start
        elif loud:
            self.last_loud_ms = self.now_ms
            if self.now_ms - self.last_partial_ms >= self.settings.partial_every_ms:
                self.last_partial_ms = self.now_ms
                out.append(Heard(False, text(self.started_ms, self.now_ms), self.started_ms, self.now_ms))
        elif self.now_ms - self.last_loud_ms >= self.settings.end_of_speech_ms:
            out.append(self.finish())
        return out

    def finish(self) -> Optional[Heard]:
        """Ends the utterance going on, if any: its final transcript."""
        if self.started_ms is None:
            return None
        began, self.started_ms = self.started_ms, None
        return Heard(True, text(began, self.last_loud_ms), began, self.last_loud_ms)
