"""The sending half of the data flow, top to bottom, through the outbox. Orchestration only:
what a digest holds is ``digest``'s decision, how it reads is ``render``'s, the rows are the
store's and the wire is the channels'.

    send_due(service)                     shortly after polls (one send for polls ending
                                          together), at cadence times, at each pending
                                          message's next attempt
      enqueue, per subscription:
        1 collect  store.pending          ledger rows created before digest.period_end(cadence)
        2 digest   digest.build           one item per event, every matching rule named,
                                          questions answered together as one item
        3 render   renderer.render        Message in the channel's format (email; Slack, Teams,
                                          Discord blocks; the webhook's JSON), keyed by the rows
        4 claim    store.create_delivery  the rows (all or none) and the outbox row holding
                                          channel, target and the rendered payload: ONE
                                          transaction, so two replicas never render one row twice
      drain:
        5 claim    store.claim_due        due outbox rows, each to one sender (SKIP LOCKED)
        6 send     channel.send           the stored payload, never a re-render; the bodies a
                                          peer accepted already are not sent again
        7 record   store.mark_sent        only after the peer accepted it
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
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from watcher import digest
from watcher.config import DeliveryConfig, Subscription
from watcher.errors import DeliveryError, StoreError, WatcherError
from watcher.logs import q
from watcher.model import message_from_json, message_to_json
from watcher.pipeline import SendReport, Service
from watcher.render.email import message_id
from watcher.store.base import Delivery, Outgoing, PendingItem

log = logging.getLogger(__name__)

BATCH = 100  # outbox rows claimed at a time
ALWAYS = datetime.max.replace(tzinfo=UTC)


def send_due(service: Service, retry_now: bool = False) -> list[SendReport]:
    """Put every digest that is due into the outbox, then send every outbox message that is
    due (every pending one with ``retry_now``). One subscription's or channel's failure never
    stops the others."""
    reports: list[SendReport] = []
    with service._send_lock:  # one sender per process; other replicas are kept off by claims
        now = service.clock()
        for sub in service.subscriptions:
            try:
                report = _enqueue(service, sub, now)
            except StoreError as exc:
                log.error(
                    "event=send_failed subscription=%s stage=store error=%s", q(sub.id), q(exc)
                )
                report = SendReport(sub.id, 0, 0, error=f"store: {exc}")
            if report is not None:
                reports.append(report)
        try:
            reports += _drain(service, ALWAYS if retry_now else now)
        except StoreError as exc:
            log.error("event=send_failed stage=store error=%s", q(exc))
            reports.append(SendReport("outbox", 0, 0, error=f"store: {exc}"))
        finally:
            for channel in service.channels.values():
                channel.close()
    return _merged(reports)


# --- enqueue: ledger rows → one rendered outbox row -----------------------------------------


def _enqueue(service: Service, sub: Subscription, now: datetime) -> SendReport | None:
    """Claim the subscription's due rows into one outbox row. A report only for a failure;
    what was enqueued is reported when it is sent."""
    store = service.store
    cutoff = digest.period_end(sub.digest, service.config.tz, now)
    pending = store.pending(sub.id, before=cutoff)
    if not pending:
        return None
    ids = [p.ledger_id for p in pending]
    key = digest.idempotency_key(sub.id, ids)
    built = digest.build(sub, pending, cutoff)
    outgoing = None
    if built.items:
        channel = service.channels[sub.channel]
        config = service.config.channel(sub.channel)
        try:
            message = service.renderer.render(
                built,
                channel.format,
                sub,
                service.config.tz,
                key,
                sender=config.sender if config else "",
                references=_references(service, sub, pending) if channel.format == "email" else (),
            )
        except WatcherError as exc:
            # A template that fails on these items: the rows stay owed and nothing is lost.
            log.error(
                "event=delivery_failed subscription=%s stage=render error=%s", q(sub.id), q(exc)
            )
            return SendReport(sub.id, 0, len(built.items), error=f"render: {exc}")
        outgoing = Outgoing(
            channel=sub.channel,
            target=tuple(sub.to),
            format=channel.format,
            payload=message_to_json(message),
            items=len(built.items),
        )
    claimed = store.create_delivery(sub.id, key, ids, cutoff, now, outgoing)
    if claimed is None:
        log.info("event=delivery_claimed_elsewhere subscription=%s", q(sub.id))
    elif outgoing is None:
        # Only rules since removed from the subscription matched: nothing to tell anyone.
        log.info("event=delivery_empty subscription=%s delivery=%d", q(sub.id), claimed.id)
    else:
        log.info(
            "event=delivery_queued subscription=%s delivery=%d items=%d channel=%s",
            q(sub.id),
            claimed.id,
            outgoing.items,
            sub.channel,
        )
    return None


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
        now = service.clock()
        claimed = service.store.claim_due(
            service.holder,
            now,
            limit=BATCH,
            due_by=due_by,
            attempted_before=started,
            claim_for=service.config.delivery.claim_for,
        )
        batch = [d for d in claimed if d.id not in seen]
        if not batch:
            return reports
        for row in batch:
            seen.add(row.id)
            reports.append(_send(service, row, throttled))


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
    store.mark_sent(row.id, service.clock())
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
