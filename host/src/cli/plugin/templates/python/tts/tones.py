"""How `{{name}}` "speaks": each word as a short tone (longer words lower), pure Python with no
host calls, so `python3 -m unittest` tests it. Replace `word_tone` with your synthesizer.
"""

import math
from array import array

# The rate the tones are made at: any rate works, the host resamples.
SAMPLE_RATE = 16_000


def word_tone(word: str, word_ms: int) -> array:
    """One word as mono 16-bit audio at `SAMPLE_RATE`: a tone for most of `word_ms`, then a gap."""
    total = word_ms * SAMPLE_RATE // 1000
    sounding = total * 3 // 4
    letters = max(sum(1 for c in word if c.isalnum()), 1)
    pitch = 200.0 + 400.0 / letters
    step = pitch * 2 * math.pi / SAMPLE_RATE
    sin = math.sin
    # A short fade in and out (160 samples), so words do not click.
    samples = array(
        "h",
        (int(sin(i * step) * 6_000.0 * min(min(i, sounding - i) / 160.0, 1.0)) for i in range(sounding)),
    )
    samples.frombytes(bytes(2 * (total - sounding)))  # the gap: silence
    return samples

