"""Version 6, the outbox. FROZEN: never edit.

A ``delivery`` row becomes the outbox row of its message: the channel, the target (JSON list of
addresses, empty for chat and webhook channels), the format and the rendered ``payload``
(``model.message_to_json``) are written when the delivery is claimed, and its ``state`` moves
``pending`` → ``sent`` | ``dead`` (or ``dropped`` by an operator); ``items`` counts the
digest's items. ``parts_sent`` counts the
bodies of a message in several parts that a peer accepted; ``claimed_by``/``claimed_until`` is
the sender working on it. Sent rows become ``sent``. A row not yet sent was claimed by a
release that rendered at send time, so it holds no payload: it is removed and its ledger rows
are unclaimed again, to be claimed and rendered into the outbox by the next pass (under the
same idempotency key when the rows are the same, so the same Message-ID).
"""

from __future__ import annotations

from sqlalchemy import Connection, DateTime, Integer, String, Text, text

NAME = "outbox"

_COLUMNS = (
    ("channel", String(200)),
    ("target", Text()),
    ("format", String(40)),
    ("payload", Text()),
    ("items", Integer()),
    ("claimed_by", String(200)),
    ("claimed_until", DateTime(timezone=True)),
)


def apply(conn: Connection) -> None:
    for name, type_ in _COLUMNS:
        declared = type_.compile(dialect=conn.dialect)
        conn.exec_driver_sql(f"ALTER TABLE delivery ADD COLUMN {name} {declared}")
    integer = Integer().compile(dialect=conn.dialect)
    conn.exec_driver_sql(f"ALTER TABLE delivery ADD COLUMN parts_sent {integer} NOT NULL DEFAULT 0")
    state = String(10).compile(dialect=conn.dialect)
    conn.exec_driver_sql(
        f"ALTER TABLE delivery ADD COLUMN state {state} NOT NULL DEFAULT 'pending'"
    )
    conn.execute(text("UPDATE delivery SET state = 'sent' WHERE sent IS NOT NULL"))
    conn.execute(
        text(
            "UPDATE ledger SET delivery_id = NULL WHERE delivery_id IN "
            "(SELECT id FROM delivery WHERE sent IS NULL)"
        )
    )
    conn.execute(text("DELETE FROM delivery WHERE sent IS NULL"))
    conn.exec_driver_sql("DROP INDEX ix_delivery_unsent")
    conn.exec_driver_sql(
        "CREATE INDEX ix_delivery_due ON delivery (next_attempt) WHERE state = 'pending'"
    )
