"""Step 8 of a poll: what it saw, judged against the source's state before it
(``incidents.decide``), as the health its commit stores, with a notice for each configured
operator of each incident that opened or closed. Sending them is ``operators``' job."""

from __future__ import annotations

import logging

from watcher import incidents
from watcher.config import Config
from watcher.logs import q
from watcher.store.base import PollHealth, SourceState

log = logging.getLogger(__name__)


def assess(config: Config, state: SourceState, listed: int, seen: incidents.Seen) -> PollHealth:
    source = next(s for s in config.sources if s.id == state.source)
    before = incidents.Before(
        error_count=state.error_count,
        failing_since=state.failing_since,
        last_new_at=state.last_new_at,
        first_poll=state.first_poll,
        open=state.incidents,
    )
    decision = incidents.decide(state.source, before, seen, incidents.policy_of(source, config.tz))
    for n in decision.notices:
        log.log(
            logging.WARNING if n.opened else logging.INFO,
            "event=%s source=%s incident=%s since=%s detail=%s",
            "incident_opened" if n.opened else "incident_closed",
            state.source,
            n.kind,
            n.since.isoformat(timespec="seconds"),
            q(n.detail),
        )
    operators = config.resolved_operators()
    return PollHealth(
        listed=listed,
        new=seen.new,
        parse_errors=seen.parse_errors + seen.listing_unparsable,
        failing_since=decision.failing_since,
        incidents=decision.open,
        notices=[(op.id, n) for n in decision.notices for op in operators],
    )
