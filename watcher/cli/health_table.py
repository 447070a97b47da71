"""``watcher status``'s table of every configured source's health. Pure: the states are read by
the caller; this only lays them out, times in the config's time zone."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, tzinfo

from watcher.config import SourceConfig
from watcher.render.notices import clean
from watcher.store import SourceState

ERROR_WIDTH = 48
COLUMNS = (
    "source",
    "kind",
    "health",
    "last success",
    "last error",
    "fails",
    "listed/new",
    "last new",
    "open incidents",
)


def health_table(
    sources: Sequence[SourceConfig], states: Mapping[str, SourceState], tz: tzinfo
) -> list[str]:
    """One header line and one line per source, columns aligned."""
    rows = [list(COLUMNS)]
    for src in sources:
        st = states.get(src.id)
        if st is None or st.last_poll is None:
            rows.append([src.id, src.kind, "never polled", "-", "-", "0", "-", "-", "-"])
            continue
        error = "-"
        if st.last_error:
            at = f"{_time(st.last_error_at, tz)} " if st.last_error_at else ""
            error = clean(at + st.last_error, ERROR_WIDTH)
        seen = "-" if st.items_listed is None else f"{st.items_listed}/{st.items_new or 0}"
        incidents = ", ".join(
            f"{kind} since {_time(since, tz)}" for kind, since in sorted(st.incidents.items())
        )
        rows.append(
            [
                src.id,
                src.kind,
                "failing" if st.last_error else "ok",
                _time(st.last_ok, tz) if st.last_ok else "never",
                error,
                str(st.error_count),
                seen,
                _time(st.last_new_at, tz) if st.last_new_at else "-",
                incidents or "-",
            ]
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    return [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]


def _time(at: datetime | None, tz: tzinfo) -> str:
    return "-" if at is None else at.astimezone(tz).strftime("%Y-%m-%d %H:%M")
