"""Streaming sample-rate conversion with an anti-alias filter, in pure Python.

Whisper works at 16 kHz and the studio's microphone runs at 48 kHz. Dropping two samples of three
(or interpolating linearly) folds everything between 8 and 24 kHz into the band the recognizer
hears; here the input first goes through a windowed-sinc low-pass (Hamming window, `TAPS` taps,
cut-off at 7/16 of the output rate, so 7 kHz for 16 kHz), and only then is it decimated (an integer
ratio such as 48 -> 16 kHz: only every third filtered sample is computed) or, for any other ratio,
interpolated linearly. Going up needs no filter.

The filter's taps are computed when the module is imported, which componentize-py does at build
time: the running plugin starts with them in its memory snapshot. Each output sample costs one
dot product over the taps (`math.sumprod`, in C since CPython 3.12), the cheapest inner
loop CPython has; the README gives the guest CPU it costs.
"""

import math
from array import array
from operator import mul
from typing import List, Sequence

# Odd, so the filter has a whole-sample delay and is symmetric.
TAPS = 47
# The cut-off as a fraction of the output rate (7 kHz for 16 kHz; Nyquist is 8 kHz).
CUTOFF = 7.0 / 16.0


def lowpass_taps(cutoff: float, count: int = TAPS) -> List[float]:
    """A windowed-sinc low-pass with its cut-off at `cutoff` cycles per input sample (< 0.5),
    normalized to unity gain at 0 Hz."""
    middle = (count - 1) / 2
    taps = []
    for n in range(count):
        m = n - middle
        ideal = 2 * cutoff if m == 0 else math.sin(2 * math.pi * cutoff * m) / (math.pi * m)
        window = 0.54 - 0.46 * math.cos(2 * math.pi * n / (count - 1))
        taps.append(ideal * window)
    gain = sum(taps)
    return [t / gain for t in taps]


# The common case, built at import (so at build time): 48 kHz to 16 kHz.
_CACHE = {(48_000, 16_000): lowpass_taps(16_000 * CUTOFF / 48_000)}


def _taps_for(from_rate: int, to_rate: int) -> List[float]:
    key = (from_rate, to_rate)
    if key not in _CACHE:
        _CACHE[key] = lowpass_taps(to_rate * CUTOFF / from_rate)
    return _CACHE[key]


try:
    # CPython 3.12+ (componentize-py runs 3.14): the dot product in C, twice as fast.
    from math import sumprod as _dot
except ImportError:  # an older python3 running the unit tests natively

    def _dot(p: Sequence[float], q: Sequence[float]) -> float:
        return sum(map(mul, p, q))


def _clamp(value: float) -> int:
    rounded = int(round(value))
    return 32767 if rounded > 32767 else -32768 if rounded < -32768 else rounded


def _samples(values: List[float]) -> array:
    """Rounded to 16-bit samples; the rare value past full scale (filter overshoot) is clamped."""
    try:
        return array("h", map(round, values))
    except OverflowError:
        return array("h", map(_clamp, values))


class Resampler:
    """Converts one stream from `from_rate` to `to_rate`; `push` gives the output samples it can
    already compute, `flush` the rest once the stream has ended. The output has
    `ceil(len(input) * to_rate / from_rate)` samples, aligned with the input (the filter's delay is
    taken out)."""

    def __init__(self, from_rate: int, to_rate: int) -> None:
        if from_rate <= 0 or to_rate <= 0:
            raise ValueError("sample rates must be positive")
        self.from_rate = from_rate
        self.to_rate = to_rate
        self._filter = from_rate > to_rate
        self._taps = _taps_for(from_rate, to_rate) if self._filter else []
        self._delay = (len(self._taps) - 1) // 2
        # Decimation by a whole factor computes only the filtered samples it keeps.
        self._step = from_rate // to_rate if self._filter and from_rate % to_rate == 0 else 1
        self._interpolate = not (from_rate == to_rate or self._step > 1)
        # Filter input: the delay's worth of zeros first, so output 0 is centred on input 0.
        self._window: List[int] = [0] * self._delay
        self._fed = 0  # input samples pushed
        self._filtered_next = 0  # index (in the input's time) of the next filtered sample
        # Linear interpolation state: filtered samples not yet passed, the absolute index of the
        # first, and the index of the next output sample.
        self._pending: List[float] = []
        self._pending_base = 0
        self._out_next = 0

    def push(self, samples: Sequence[int]) -> array:
        """Takes input samples; returns the output samples now known."""
        self._fed += len(samples)
        if not self._filter and not self._interpolate:
            return array("h", samples)
        if not self._filter:
            self._pending.extend(samples)
            return self._interpolated(final=False)
        self._window.extend(samples)
        filtered = self._run_filter(final=False)
        if not self._interpolate:
            return _samples(filtered)
        self._pending.extend(filtered)
        return self._interpolated(final=False)

    def flush(self) -> array:
        """The stream ended: the samples still held back by the filter's delay."""
        if not self._filter and not self._interpolate:
            return array("h")
        if self._filter:
            self._window.extend([0] * self._delay)
            filtered = self._run_filter(final=True)
            if not self._interpolate:
                return _samples(filtered)
            self._pending.extend(filtered)
        return self._interpolated(final=True)

    def _run_filter(self, final: bool) -> List[float]:
        """Filtered samples at indexes `_filtered_next`, `+ step`, ... that the window covers (and,
        when `final`, that fall inside the input)."""
        taps, count, step = self._taps, len(self._taps), self._step
        window = self._window
        # The window starts at input index `_filtered_next - delay`.
        n = (len(window) - count) // step + 1 if len(window) >= count else 0
        if final:
            n = min(n, max(0, -(-(self._fed - self._filtered_next) // step)))
        out = [_dot(taps, window[at : at + count]) for at in range(0, n * step, step)]
        del window[: n * step]
        self._filtered_next += n * step
        return out

    def _interpolated(self, final: bool) -> array:
        """Linearly interpolated output samples from `_pending` (filtered input-rate samples)."""
        src, dst = self.from_rate, self.to_rate
        pending, base = self._pending, self._pending_base
        known = base + len(pending)
        total = -(-self._fed * dst // src)  # ceil: the output length once the input has ended
        out = array("h")
        while True:
            n = self._out_next
            if final and n >= total:
                break
            index, rest = divmod(n * src, dst)
            if index + 1 < known:
                b = pending[index + 1 - base]
            elif final and index < known:
                # The last input sample: hold it instead of reading past the end.
                b = pending[index - base]
            else:
                break
            a = pending[index - base]
            out.append(_clamp(a + (b - a) * rest / dst))
            self._out_next += 1
        # Keep the samples later outputs still need.
        keep_from = (self._out_next * src) // dst
        drop = max(0, min(len(pending), keep_from - base))
        del pending[:drop]
        self._pending_base = base + drop
        return out


def resample(samples: Sequence[int], from_rate: int, to_rate: int) -> array:
    """A whole signal converted at once."""
    resampler = Resampler(from_rate, to_rate)
    out = resampler.push(samples)
    out.extend(resampler.flush())
    return out
