"""``watcher outbox list|show|retry|drop``: what is waiting to be sent, what was given up on,
and the two things an operator does about it. Reading and changing rows is the store's; this
module turns arguments into calls and prints.

Nothing printed holds a secret: a row names its channel by id (the URL lives in the config),
its target is email addresses, and ``show`` prints the stored message, which is built from
public items only.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime

from watcher.cli.codes import EXIT_CONFIG, EXIT_FAILED, EXIT_OK
from watcher.config import Config
from watcher.model import message_from_json
from watcher.store import Delivery, OutboxState, Store

STATES = [s.value for s in OutboxState]


def add_parsers(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    outbox = commands.add_parser(
        "outbox",
        help="the messages waiting to be sent, sent, or given up on (dead)",
        description="the messages waiting to be sent, sent, or given up on (dead)",
        parents=[common],
    )
    actions = outbox.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="list messages, newest first")
    listing.add_argument("--state", choices=STATES, help="only messages in this state")
    listing.add_argument("--channel", metavar="ID", help="only messages for this channel")
    listing.add_argument("--subscription", metavar="ID", help="only messages for this subscription")
    listing.add_argument("--limit", type=int, default=50, metavar="N", help="at most N (50)")
    show = actions.add_parser("show", help="one message: its state, attempts and payload")
    show.add_argument("id", type=int, metavar="ID")
    retry = actions.add_parser(
        "retry", help="send a dead message again (at the next send), or every dead one"
    )
    which = retry.add_mutually_exclusive_group(required=True)
    which.add_argument("id", type=int, nargs="?", metavar="ID")
    which.add_argument("--all", action="store_true", help="every dead message")
    drop = actions.add_parser("drop", help="give up on a pending or dead message for good")
    drop.add_argument("id", type=int, metavar="ID")


def run(config: Config, args: argparse.Namespace) -> int:
    from watcher.service import open_migrated_store

    store = open_migrated_store(config)
    try:
        if args.action == "list":
            return _list(store, args)
        if args.action == "show":
            return _show(store, args.id)
        if args.action == "retry":
            return _retry(store, None if args.all else [args.id])
        return _drop(store, args.id)
    finally:
        store.close()


def _list(store: Store, args: argparse.Namespace) -> int:
    rows = store.outbox(
        OutboxState(args.state) if args.state else None,
        args.channel,
        args.subscription,
        limit=max(1, args.limit),
    )
    if not rows:
        print("outbox: no messages" + (" in that selection" if _filtered(args) else ""))
        return EXIT_OK
    header = ("ID", "STATE", "CHANNEL", "SUBSCRIPTION", "ITEMS", "TRIES", "CREATED", "NEXT / SENT")
    table = [header, *(_row(d) for d in rows)]
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    for r in table:
        print("  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip())
    errors = [d for d in rows if d.last_error and d.state is not OutboxState.SENT]
    for d in errors:
        print(f"{d.id}: {d.last_error}")
    return EXIT_OK


def _filtered(args: argparse.Namespace) -> bool:
    return bool(args.state or args.channel or args.subscription)


def _row(d: Delivery) -> tuple[str, ...]:
    when = d.sent if d.state is OutboxState.SENT else d.next_attempt
    return (
        str(d.id),
        d.state.value,
        d.channel or "",
        d.subscription_id,
        str(d.items),
        str(d.attempts),
        _time(d.created),
        _time(when),
    )


def _time(at: datetime | None) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ") if at else "-"


def _show(store: Store, delivery_id: int) -> int:
    d = store.delivery(delivery_id)
    if d is None or d.channel is None:
        print(f"watcher: no message {delivery_id} in the outbox", file=sys.stderr)
        return EXIT_FAILED
    print(f"message {d.id}: {d.state.value}")
    print(f"  subscription  {d.subscription_id}")
    print(f"  channel       {d.channel} ({d.format})")
    if d.target:
        print(f"  to            {', '.join(d.target)}")
    print(f"  key           {d.idempotency_key}")
    print(f"  items         {d.items}")
    print(f"  created       {_time(d.created)}")
    print(f"  attempts      {d.attempts}, last {_time(d.last_attempt)}")
    if d.state is OutboxState.SENT:
        print(f"  sent          {_time(d.sent)}")
    elif d.state is OutboxState.PENDING:
        print(f"  next attempt  {_time(d.next_attempt)}")
    if d.last_error:
        print(f"  last error    {d.last_error}")
    if d.payload:
        message = message_from_json(d.payload)
        parts = len(message.bodies)
        if parts:
            print(f"  parts         {d.parts_sent} of {parts} accepted")
        print(f"  subject       {message.subject}")
        print("payload:")
        for n, body in enumerate(message.bodies, 1):
            print(f"--- part {n} of {parts}")
            print(json.dumps(json.loads(body), indent=2, ensure_ascii=False))
        if message.text:
            print(message.text.rstrip())
    return EXIT_OK


def _retry(store: Store, ids: list[int] | None) -> int:
    revived = store.revive(ids, datetime.now(UTC))
    if ids is not None and not revived:
        d = store.delivery(ids[0])
        what = "no message" if d is None else f"message {ids[0]} is {d.state.value}, not dead;"
        print(f"watcher: {what} nothing to retry", file=sys.stderr)
        return EXIT_CONFIG if d is None else EXIT_FAILED
    print(
        f"outbox: {len(revived)} message(s) will be sent at the next send"
        + (f": {', '.join(map(str, revived))}" if revived else "")
        + " (`watcher run --once` sends them now)"
    )
    return EXIT_OK


def _drop(store: Store, delivery_id: int) -> int:
    if store.drop(delivery_id, datetime.now(UTC)):
        print(f"outbox: message {delivery_id} dropped; it will not be sent")
        return EXIT_OK
    d = store.delivery(delivery_id)
    what = "no message" if d is None else f"message {delivery_id} is {d.state.value};"
    print(f"watcher: {what} nothing to drop", file=sys.stderr)
    return EXIT_FAILED
