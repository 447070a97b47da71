"""What every section of the configuration is built from: durations as written (``15m``),
their bounds, and the frozen model every section derives from."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}


def _duration(value: Any) -> Any:
    """``15m``, ``30s``, ``2h``, ``1d`` or ``250ms``. A bare number is refused: ``every: 15``
    would otherwise mean fifteen seconds to someone who meant minutes."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise ValueError(f"{value!r} has no unit (write {value}s, {value}m, {value}h or {value}d)")
    if isinstance(value, str):
        m = _DURATION.match(value)
        if not m:
            if re.fullmatch(r"\s*\d+(?:\.\d+)?\s*", value):
                n = value.strip()
                raise ValueError(f"{value!r} has no unit (write {n}s, {n}m, {n}h or {n}d)")
            raise ValueError(f"{value!r} is not a duration (write e.g. 30s, 15m, 2h, 1d)")
        return timedelta(seconds=float(m.group(1)) * _UNITS[m.group(2)])
    return value


def format_duration(value: timedelta) -> str:
    """A duration the way the config writes it: ``15m``, ``30s``, ``2h``, ``250ms``."""
    ms = round(value.total_seconds() * 1000)
    if ms == 0:
        return "0s"
    for unit in ("d", "h", "m", "s"):
        size = round(_UNITS[unit] * 1000)
        if ms and ms % size == 0:
            return f"{ms // size}{unit}"
    return f"{ms}ms"


def _at_least(minimum: timedelta, why: str) -> AfterValidator:
    def check(value: timedelta) -> timedelta:
        if value < minimum:
            # The value as written is echoed by the caller, which still has it.
            raise ValueError(f"too short: {why}; write {format_duration(minimum)} or more")
        return value

    return AfterValidator(check)


Duration = Annotated[timedelta, BeforeValidator(_duration)]
# A poll interval: the APIs we read are public services, polled politely.
PollInterval = Annotated[
    Duration, _at_least(timedelta(minutes=1), "sources are polled at most once a minute")
]
Timeout = Annotated[Duration, _at_least(timedelta(milliseconds=1), "a timeout must be positive")]
# How long a source may bring nothing new before operators hear of it.
Silence = Annotated[
    Duration, _at_least(timedelta(hours=1), "silence is judged over hours, not minutes")
]


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)
