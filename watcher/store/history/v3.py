"""Version 3, a covering index for candidate lookups on SQLite. FROZEN: never edit.

``ix_record_words_lookup`` lets a candidate query read a record's day and identity by its FTS5
rowid without reading its long ``words``. PostgreSQL keeps ``words`` out of line already, so
there it changes nothing.
"""

from __future__ import annotations

from sqlalchemy import Connection

NAME = "covering index for candidate lookups"


def apply(conn: Connection) -> None:
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql(
            'CREATE INDEX ix_record_words_lookup ON record_words (id, day, source, "key")'
        )
