"""Bounded retries for one utterance's request, the rules every first-party adapter follows:

- `unavailable` (5xx, a refused or dropped connection, a timeout): retried with exponential
  backoff (`base_delay_ms`, x4 each time);
- `rate-limited`: retried after the provider's `retry-after` when that fits `max_retry_after_ms`
  (else given up at once, so the host can fail over instead of leaving the studio silent);
- anything else (`auth`, `config`, `protocol`, `denied`, `cancelled`, `internal`): never retried.
"""

from dataclasses import dataclass
from typing import Callable, Optional, TypeVar

from .errors import Failure

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """Tries in all (the first included), the first backoff, and the longest `retry-after` kept."""

    attempts: int = 3
    base_delay_ms: int = 250
    max_retry_after_ms: int = 4000

    def next_delay(self, tried: int, error: Failure) -> Optional[int]:
        """The wait in ms before the next try after try `tried` (from 1) failed; None: give up."""
        if tried >= self.attempts:
            return None
        backoff = self.base_delay_ms * 4 ** min(max(tried - 1, 0), 8)
        if error.kind == "unavailable":
            return backoff
        if error.kind == "rate-limited":
            wait = error.retry_after_ms if error.retry_after_ms is not None else backoff
            return wait if wait <= self.max_retry_after_ms else None
        return None

    def run(
        self,
        attempt: Callable[[int], T],
        sleep_ms: Callable[[int], None],
        on_retry: Callable[[int, int, Failure], None] = lambda tried, ms, error: None,
    ) -> T:
        """Runs `attempt(try_number)` until it returns or `next_delay` gives up (then re-raises)."""
        tried = 0
        while True:
            tried += 1
            try:
                return attempt(tried)
            except Failure as error:
                delay = self.next_delay(tried, error)
                if delay is None:
                    raise
                on_retry(tried, delay, error)
                sleep_ms(delay)
