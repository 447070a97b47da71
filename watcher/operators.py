"""Sending operators their health notices (``watcher.incidents``), after each poll.

    notify(service)                       where send_due is called: after a poll, every few
                                          minutes (retries), and by ``run --once``
      1 collect   store.unsent_notices     each configured operator's notices that are due
      2 render    render.notices           Message (deterministic Message-ID)
      3 deliver   channel.send → store.mark_notice              only after the peer accepted
                  DeliveryError → store.mark_notice(error, at)  retried later with backoff

A poll decides and stores its notices in its own commit (``pipeline.poll``); this half only
sends what is stored, so a notice is never lost to a crash nor marked sent before it was. A
failing operator channel never touches polling: its notices wait for the next attempt. One
operator's failure never stops the others. Notices for an operator no longer configured stay
in the store, unsent.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from watcher.errors import StoreError, WatcherError
from watcher.logs import q
from watcher.pipeline import SendReport, Service
from watcher.render.notices import clean, notice_message
from watcher.sending import retry_delay

log = logging.getLogger(__name__)

ALWAYS = datetime.max.replace(tzinfo=UTC)


def notify(service: Service, retry_now: bool = False) -> list[SendReport]:
    """Send every operator notice that is due (all unsent ones with ``retry_now``)."""
    reports: list[SendReport] = []
    with service._send_lock:
        now = service.clock()
        for op in service.config.resolved_operators():
            label = f"operator {op.id}"
            channel = service.channels.get(op.channel)
            if channel is None:  # config validation refuses this; a guard, not a path
                continue
            try:
                due = service.store.unsent_notices(op.id, ALWAYS if retry_now else now)
            except StoreError as exc:
                log.error("event=notice_failed operator=%s stage=store error=%s", q(op.id), q(exc))
                reports.append(SendReport(label, 0, 0, error=f"store: {exc}"))
                continue
            for stored in due:
                note = notice_message(stored.notice, op.id, service.config.tz)
                try:
                    message = service.renderer.note(note, channel.format)
                    answer = channel.send(message, op.to)
                except WatcherError as exc:
                    retry_at = now + retry_delay(stored.attempts + 1, service.config.delivery)
                    error = clean(str(exc), 500)
                    try:
                        service.store.mark_notice(stored.id, now, error, retry_at)
                    except StoreError as store_exc:
                        error += f"; store: {store_exc}"
                    log.warning(
                        "event=notice_failed operator=%s notice=%d attempt=%d channel=%s "
                        "retry_at=%s error=%s",
                        q(op.id),
                        stored.id,
                        stored.attempts + 1,
                        op.channel,
                        retry_at.isoformat(timespec="seconds"),
                        q(error),
                    )
                    reports.append(SendReport(label, stored.id, 1, error=error))
                    continue
                try:
                    service.store.mark_notice(stored.id, service.clock())
                except StoreError as exc:
                    # Sent but not recorded: it goes again, with the same Message-ID.
                    reports.append(SendReport(label, stored.id, 1, error=f"store: {exc}"))
                    continue
                log.info(
                    "event=notice_sent operator=%s notice=%d source=%s incident=%s opened=%s "
                    "peer=%s",
                    q(op.id),
                    stored.id,
                    q(stored.notice.source),
                    stored.notice.kind,
                    stored.notice.opened,
                    q(answer),
                )
                reports.append(SendReport(label, stored.id, 1))
        for held in service.channels.values():
            held.close()  # an SMTP connection kept for the fan-out
    return reports
