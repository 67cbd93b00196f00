"""One error type for the pure modules; `app.py` turns it into the contract's `plugin-error`."""

from dataclasses import dataclass
from typing import Optional

# The cases of the contract's `plugin-error` variant, by their WIT names.
KINDS = (
    "config",
    "auth",
    "rate-limited",
    "unavailable",
    "protocol",
    "cancelled",
    "denied",
    "internal",
)


@dataclass
class Failure(Exception):
    """A failed step: `kind` is one of `KINDS`; `retry_after_ms` only for `rate-limited`."""

    kind: str
    message: str = ""
    retry_after_ms: Optional[int] = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown plugin-error case {self.kind!r}")

    def __str__(self) -> str:
        return f"{self.kind}: {self.message}" if self.message else self.kind
