"""Delivering 10,000 due digests through the outbox: to a local SMTP server and, separately, to a
local signed-webhook receiver.

    python benchmarks/delivery.py [--subscriptions 10000] [--only smtp|webhook] [--store URL]

For each target it builds a fresh store (an SQLite file in a temporary folder, or ``--store``,
which must be an empty database), commits one poll whose one answer is owed to every
subscription, then times one ``sending.send_due`` of the real service: every digest rendered
into the outbox (claiming its row), then every outbox row claimed, sent and marked. The peer runs
in a child process, so it does not share this process's interpreter lock, and counts what it
accepted by Message-ID or ``webhook-id``. A row of the table: the target, messages, seconds
(wall clock, both halves), messages per second, and what was lost (owed but never received) or
doubled (received twice). The target is at most 60 seconds for each, with nothing lost or
doubled; the script exits 1 if either is missed.
"""

from __future__ import annotations

import argparse
import http.server
import multiprocessing
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from watcher import sending, service
from watcher.config import parse
from watcher.kinds.questions import written_question
from watcher.model import Event, EventType, Hit, Match, Status, Text
from watcher.store import LedgerEntry, PollOutcome, open_store

TARGET_SECONDS = 60.0
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


# --- the peers, each in a child process ---------------------------------------------------------


def smtp_peer(conn: Connection) -> None:
    from watcher.testing.smtp import SmtpTestServer

    with SmtpTestServer() as server:
        conn.send(server.port)
        conn.recv()  # the sender is done
        conn.send([str(r.message["Message-ID"]) for r in server.received])


def webhook_peer(conn: Connection) -> None:
    seen: list[str] = []

    class Receiver(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            seen.append(self.headers.get("webhook-id", ""))
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    conn.send(server.server_address[1])
    import threading

    threading.Thread(target=server.serve_forever, daemon=True).start()
    conn.recv()
    server.shutdown()
    conn.send(seen)


# --- the service --------------------------------------------------------------------------------


def config_text(target: str, port: int, subscriptions: int, store_url: str, data: Path) -> str:
    if target == "smtp":
        channel = (
            f"  - {{id: out, kind: smtp, host: 127.0.0.1, port: {port}, security: none, "
            'from: "Watcher <alerts@example.org>", timeout: 30s}'
        )
    else:
        channel = (
            f"  - {{id: out, kind: webhook, url: 'http://127.0.0.1:{port}/hooks', "
            f"secret: {SECRET}}}"
        )
    to = "to: [reader{n}@example.org], " if target == "smtp" else ""
    subs = "\n".join(
        f"  - {{id: sub-{n}, rules: [r], channel: out, {to.format(n=n)}digest: immediate}}"
        for n in range(subscriptions)
    )
    return f"""
store: '{store_url}'
data_dir: {data}
allow_private_networks: true
channels:
{channel}
rules:
  - {{id: r, query: '"SEND workforce"'}}
subscriptions:
{subs}
"""


def owe_everyone(store_url: str, subscriptions: int) -> None:
    record = written_question(
        source="wq",
        key="1",
        kind="written_question",
        title="Special Educational Needs: Staff",
        url="https://questions-statements.parliament.uk/written-questions/detail/2024-01-08/8602",
        status=Status.ANSWERED,
        uin="8602",
        department="Department for Education",
        question=Text("<p>What is the SEND workforce?</p>", "What is the SEND workforce?"),
        answer=Text("<p>We plan the SEND workforce.</p>", "We plan the SEND workforce."),
    )
    event = Event(EventType.ANSWERED, record)
    hits = (Hit("answer", 8, 22, "SEND workforce"),)
    store = open_store(store_url)
    try:
        store.migrate()
        store.commit(
            PollOutcome(
                source="wq",
                started=datetime.now(UTC),
                records=[(record, "listed")],
                events=[event],
                matches=[Match("r", event, hits)],
                ledger=[LedgerEntry(f"sub-{n}", event.identity) for n in range(subscriptions)],
            )
        )
    finally:
        store.close()


def run(target: str, subscriptions: int, store_url: str | None) -> tuple[int, float, int, int]:
    peer = smtp_peer if target == "smtp" else webhook_peer
    parent, child = multiprocessing.Pipe()
    process = multiprocessing.Process(target=peer, args=(child,), daemon=True)
    process.start()
    port = parent.recv()
    with tempfile.TemporaryDirectory() as folder:
        url = store_url or f"sqlite:///{folder}/watcher.db"
        owe_everyone(url, subscriptions)
        config = parse(
            config_text(target, port, subscriptions, url, Path(folder) / "data"), "bench", {}
        )
        svc = service.build(config)
        try:
            started = time.perf_counter()
            reports = sending.send_due(svc)
            seconds = time.perf_counter() - started
        finally:
            service.close(svc)
    parent.send("done")
    received: list[str] = parent.recv()
    process.join(timeout=10)
    failed = [r for r in reports if r.error]
    if failed:
        print(f"  {len(failed)} send(s) failed, e.g. {failed[0].error}", file=sys.stderr)
    counts = Counter(received)
    doubled = sum(n - 1 for n in counts.values() if n > 1)
    lost = subscriptions - len(counts)
    return len(received), seconds, lost, doubled


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscriptions", type=int, default=10_000)
    parser.add_argument("--only", choices=["smtp", "webhook"])
    parser.add_argument("--store", metavar="URL", help="an empty database (default: SQLite)")
    args = parser.parse_args()
    targets = [args.only] if args.only else ["smtp", "webhook"]
    print(f"{args.subscriptions} subscriptions, one due digest each, 2 cores")
    print(f"{'target':<8} {'messages':>8} {'seconds':>8} {'per s':>7} {'lost':>5} {'doubled':>7}")
    ok = True
    for target in targets:
        messages, seconds, lost, doubled = run(target, args.subscriptions, args.store)
        print(
            f"{target:<8} {messages:>8} {seconds:>8.1f} {messages / seconds:>7.0f} "
            f"{lost:>5} {doubled:>7}"
        )
        ok = ok and seconds <= TARGET_SECONDS and lost == 0 and doubled == 0
    verdict = "met" if ok else "MISSED"
    print(f"target: <= {TARGET_SECONDS:.0f} s each, nothing lost or doubled: {verdict}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
