"""One source of "now", so tests move time instead of sleeping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class Clock:
    def __init__(self) -> None:
        self._offset = timedelta()

    def now(self) -> datetime:
        """Naive UTC: what every DateTime column of ours stores."""
        return (datetime.now(UTC) + self._offset).replace(tzinfo=None)

    def timestamp(self) -> int:
        return int(self.now().replace(tzinfo=UTC).timestamp())

    def advance(self, **delta: float) -> None:
        self._offset += timedelta(**delta)

    def reset(self) -> None:
        self._offset = timedelta()


clock = Clock()
