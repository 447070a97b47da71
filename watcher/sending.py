"""The sending half of the data flow, top to bottom, through the outbox. Orchestration only:
what a digest holds is ``digest``'s decision, how it reads is ``render``'s, the rows are the
store's and the wire is the channels'.

    send_due(service)                     shortly after polls (one send for polls ending
                                          together), at cadence times, at each pending
                                          message's next attempt
      enqueue, per subscription (a few hundred per read and per transaction):
        1 collect  store.pending_many     ledger rows created before digest.period_end(cadence)
        2 digest   digest.build           one item per event, every matching rule named,
                                          questions answered together as one item
        3 render   renderer.render        Message in the channel's format (email; Slack, Teams,
                                          Discord blocks; the webhook's JSON), keyed by the rows
        4 claim    store.create_deliveries  the rows (all or none) and the outbox row holding
                                          channel, target and the rendered payload: ONE
                                          transaction, so no row is in two messages
      drain:
        5 claim    store.claim_due        due outbox rows, each to one sender (SKIP LOCKED),
                                          renewed while the sender works through them
        6 send     channel.send           the stored payload, never a re-render; the bodies a
                                          peer accepted already are not sent again
        7 record   store.mark_sent_many   only after the peer accepted it (a few at a time)
                   store.mark_failed      retried at a backoff with full jitter, or later if
                                          the peer said so (Retry-After)
                   store.mark_dead        at once for a permanent failure, or after failing
                                          for ``delivery.give_up_after``

A crash between 6 and 7 sends the message again when its claim lapses, under the same
idempotency key (Message-ID, ``webhook-id``), so the receiving side can tell.
"""

from __future__ import annotations

import logging
import random
import zlib
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from watcher import digest, unsubscribe
from watcher.config import DeliveryConfig, Subscription
from watcher.errors import DeliveryError, StoreError, WatcherError
from watcher.logs import q
from watcher.model import message_from_json, message_to_json
from watcher.pipeline import SendReport, Service
from watcher.render.email import message_id
from watcher.store.base import Claim, Delivery, Outgoing, PendingItem

log = logging.getLogger(__name__)

BATCH = 100  # outbox rows claimed at a time
ENQUEUE_BATCH = 200  # subscriptions read and claimed per transaction
LANES = 4  # messages in flight at once
MARK_EVERY = 50  # acceptances recorded per transaction ...
MARK_WITHIN = timedelta(seconds=1)  # ... or at least this often
ALWAYS = datetime.max.replace(tzinfo=UTC)


def send_due(service: Service, retry_now: bool = False) -> list[SendReport]:
    """Put every digest that is due into the outbox, then send every outbox message that is
    due (every pending one with ``retry_now``). One subscription's or channel's failure never
    stops the others."""
    reports: list[SendReport] = []
    with service._send_lock:  # one sender per process; other replicas are kept off by claims
        now = service.clock()
        reports += _enqueue(service, now)
        try:
            reports += _drain(service, ALWAYS if retry_now else now)
        except StoreError as exc:
            log.error("event=send_failed stage=store error=%s", q(exc))
            reports.append(SendReport("outbox", 0, 0, error=f"store: {exc}"))
        finally:
            for channel in service.channels.values():
                channel.close()
    return _merged(reports)


# --- enqueue: ledger rows → one rendered outbox row per subscription -------------------------


def _enqueue(service: Service, now: datetime) -> list[SendReport]:
    """Claim each subscription's due rows into one outbox row, many subscriptions per read and
    per transaction. Reports only failures; what was enqueued is reported when it is sent."""
    reports: list[SendReport] = []
    by_cutoff: dict[datetime, list[Subscription]] = {}
    for sub in service.subscriptions:
        cutoff = digest.period_end(sub.digest, service.config.tz, now)
        by_cutoff.setdefault(cutoff, []).append(sub)
    for cutoff, subs in by_cutoff.items():
        for start in range(0, len(subs), ENQUEUE_BATCH):
            chunk = subs[start : start + ENQUEUE_BATCH]
            try:
                reports += _enqueue_chunk(service, chunk, cutoff, now)
            except StoreError as exc:
                log.error(
                    "event=send_failed subscriptions=%d stage=store error=%s", len(chunk), q(exc)
                )
                reports += [SendReport(sub.id, 0, 0, error=f"store: {exc}") for sub in chunk]
    return reports


def _enqueue_chunk(
    service: Service, subs: Sequence[Subscription], cutoff: datetime, now: datetime
) -> list[SendReport]:
    store = service.store
    pending = store.pending_many([s.id for s in subs], before=cutoff)
    reports: list[SendReport] = []
    claims: list[Claim] = []
    for sub in subs:
        items = pending.get(sub.id)
        if not items:
            continue
        try:
            claims.append(_claim(service, sub, items, cutoff))
        except WatcherError as exc:
            # A template that fails on these items: the rows stay owed and nothing is lost.
            log.error(
                "event=delivery_failed subscription=%s stage=render error=%s", q(sub.id), q(exc)
            )
            reports.append(SendReport(sub.id, 0, len(items), error=f"render: {exc}"))
    if not claims:
        return reports
    for claim, made in zip(claims, store.create_deliveries(claims, now), strict=True):
        sub_id = claim.subscription_id
        if made is None or made.created != now:
            # Another replica claimed these rows (or some of them) first; it sends them.
            log.info("event=delivery_claimed_elsewhere subscription=%s", q(sub_id))
        elif claim.outgoing is None:
            # Only rules since removed from the subscription matched: nothing to tell anyone.
            log.info("event=delivery_empty subscription=%s delivery=%d", q(sub_id), made.id)
        else:
            log.info(
                "event=delivery_queued subscription=%s delivery=%d items=%d channel=%s",
                q(sub_id),
                made.id,
                claim.outgoing.items,
                claim.outgoing.channel,
            )
    return reports


def _claim(
    service: Service, sub: Subscription, pending: Sequence[PendingItem], cutoff: datetime
) -> Claim:
    """The digest of ``pending`` rendered for the subscription's channel, as a claim."""
    ids = [p.ledger_id for p in pending]
    key = digest.idempotency_key(sub.id, ids)
    built = digest.build(sub, pending, cutoff)
    if not built.items:
        return Claim(sub.id, key, ids, cutoff, None)
    channel = service.channels[sub.channel]
    config = service.config.channel(sub.channel)
    message = service.renderer.render(
        built,
        channel.format,
        sub,
        service.config.tz,
        key,
        sender=config.sender if config else "",
        references=_references(service, sub, pending) if channel.format == "email" else (),
        headers=unsubscribe.email_headers(service.config, sub)
        if channel.format == "email"
        else None,
    )
    outgoing = Outgoing(
        channel=sub.channel,
        target=tuple(sub.to),
        format=channel.format,
        payload=message_to_json(message),
        items=len(built.items),
    )
    return Claim(sub.id, key, ids, cutoff, outgoing)


def _references(
    service: Service, sub: Subscription, pending: Sequence[PendingItem]
) -> tuple[str, ...]:
    """The Message-IDs of the first alerts that reported the items this digest follows up
    (a correction, an answer to a question first seen unanswered)."""
    follow_ups = [
        (p.event.record.source, p.event.record.key) for p in pending if p.event.previous is not None
    ]
    if not follow_ups:
        return ()
    first = service.store.first_reports(sub.id, follow_ups)
    return tuple(dict.fromkeys(message_id(first[item]) for item in follow_ups if item in first))


# --- drain: send what the outbox holds -------------------------------------------------------


def _drain(service: Service, due_by: datetime) -> list[SendReport]:
    reports: list[SendReport] = []
    throttled: dict[str, datetime] = {}  # channel → when it may be tried again
    seen: set[int] = set()
    started = service.clock()
    while True:
        claimed = service.store.claim_due(
            service.holder,
            service.clock(),
            limit=BATCH,
            due_by=due_by,
            attempted_before=started,
            claim_for=service.config.delivery.claim_for,
        )
        batch = [d for d in claimed if d.id not in seen]
        if not batch:
            return reports
        seen.update(d.id for d in batch)
        reports += _send_batch(service, batch, throttled)


def _send_batch(
    service: Service, batch: Sequence[Delivery], throttled: dict[str, datetime]
) -> list[SendReport]:
    """Send claimed rows in up to ``LANES`` lanes at once (network waits overlap; one
    subscription's messages stay in one lane, in order)."""
    lanes: dict[int, list[Delivery]] = {}
    for row in batch:
        lanes.setdefault(zlib.crc32(row.subscription_id.encode()) % LANES, []).append(row)
    if len(lanes) == 1:
        return _send_lane(service, batch, throttled)
    with ThreadPoolExecutor(len(lanes), thread_name_prefix="send") as pool:
        done = pool.map(lambda lane: _send_lane(service, lane, throttled), lanes.values())
        return [report for reports in done for report in reports]


def _send_lane(
    service: Service, rows: Sequence[Delivery], throttled: dict[str, datetime]
) -> list[SendReport]:
    """Send rows in order. Acceptances are recorded a few at a time (a crash re-sends at most
    those, under their own keys); a claim about to lapse is renewed first, so no other sender
    takes a row this one is still working through."""
    store = service.store
    reports: list[SendReport] = []
    accepted: list[SendReport] = []
    claimed_at = flushed_at = service.clock()
    claim_for = service.config.delivery.claim_for
    lost: set[int] = set()
    for n, row in enumerate(rows):
        now = service.clock()
        if now - claimed_at >= claim_for / 2:
            rest = [r.id for r in rows[n:]]
            lost |= set(rest) - store.renew_claims(rest, service.holder, now, claim_for)
            claimed_at = now
        if row.id in lost:
            continue  # the claim lapsed and another sender has it
        report = _send(service, row, throttled)
        if report.error is None and report.delivery:
            accepted.append(report)
        else:
            reports.append(report)
        if len(accepted) >= MARK_EVERY or (accepted and now - flushed_at >= MARK_WITHIN):
            reports += _mark_sent(service, accepted)
            accepted, flushed_at = [], now
    reports += _mark_sent(service, accepted)
    return reports


def _mark_sent(service: Service, accepted: list[SendReport]) -> list[SendReport]:
    if accepted:
        service.store.mark_sent_many([r.delivery for r in accepted], service.clock())
    return accepted


def _send(service: Service, row: Delivery, throttled: dict[str, datetime]) -> SendReport:
    store = service.store
    now = service.clock()
    label = row.subscription_id
    channel = service.channels.get(row.channel or "")
    if row.channel in throttled:
        store.defer(row.id, throttled[row.channel], now)
        return SendReport(label, row.id, row.items, error="throttled: sent later")
    try:
        if channel is None:
            raise DeliveryError(f"channel {row.channel} is not configured any more")
        if channel.format != row.format:
            raise DeliveryError(
                f"channel {channel.id} now sends {channel.format} messages; this one was "
                f"rendered as {row.format} (drop it with `watcher outbox drop {row.id}`)",
                permanent=True,
            )
        message = message_from_json(row.payload or "{}").rest(row.parts_sent)
        answer = channel.send(message, row.target)
    except DeliveryError as exc:
        return _failed(service, row, exc, now, throttled)
    except WatcherError as exc:
        return _failed(service, row, DeliveryError(str(exc)), now, throttled)
    log.info(
        "event=delivery_sent subscription=%s delivery=%d items=%d channel=%s attempt=%d peer=%s",
        q(row.subscription_id),
        row.id,
        row.items,
        row.channel,
        row.attempts + 1,
        q(answer),
    )
    return SendReport(label, row.id, row.items)


def _failed(
    service: Service,
    row: Delivery,
    exc: DeliveryError,
    now: datetime,
    throttled: dict[str, datetime],
) -> SendReport:
    policy = service.config.delivery
    error = str(exc)
    failing_for = now - row.created
    attempt = row.attempts + 1
    if exc.permanent or failing_for >= policy.give_up_after:
        why = "permanent" if exc.permanent else f"failing since {row.created:%Y-%m-%d %H:%M} UTC"
        service.store.mark_dead(row.id, error, now, exc.parts_sent)
        log.error(
            "event=delivery_dead subscription=%s delivery=%d attempt=%d channel=%s why=%s error=%s",
            q(row.subscription_id),
            row.id,
            attempt,
            row.channel,
            q(why),
            q(error),
        )
        return SendReport(row.subscription_id, row.id, row.items, error=f"dead: {error}")
    retry_at = now + retry_delay(attempt, policy, exc.retry_after)
    if exc.retry_after is not None and row.channel:
        throttled[row.channel] = retry_at
    service.store.mark_failed(row.id, error, now, retry_at, exc.parts_sent)
    log.warning(
        "event=delivery_failed subscription=%s delivery=%d attempt=%d channel=%s retry_at=%s "
        "error=%s",
        q(row.subscription_id),
        row.id,
        attempt,
        row.channel,
        retry_at.isoformat(timespec="seconds"),
        q(error),
    )
    return SendReport(row.subscription_id, row.id, row.items, error=error)


def retry_delay(
    attempt: int,
    policy: DeliveryConfig,
    retry_after: float | None = None,
    rng: random.Random | None = None,
) -> timedelta:
    """How long to wait after the ``attempt``-th failure: a random time up to
    ``retry_first`` × 2^(attempt-1), capped at ``retry_max`` ("full jitter", so replicas that
    failed together do not retry together), and never less than the peer asked for."""
    ceiling = min(policy.retry_max, policy.retry_first * 2 ** min(attempt - 1, 30))
    delay: timedelta = ceiling * (rng or random).random()
    if retry_after is not None:
        delay = max(delay, timedelta(seconds=retry_after))
    return delay


def _merged(reports: list[SendReport]) -> list[SendReport]:
    """One report per delivery: the last word on it in this pass."""
    out: dict[tuple[str, int], SendReport] = {}
    for r in reports:
        out.pop((r.subscription, r.delivery), None)
        out[(r.subscription, r.delivery)] = r
    return list(out.values())
