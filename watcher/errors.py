"""Our exception tree. Foreign exceptions are translated into these once, at the boundary
(``http/``, ``store/``, ``channels/``), always with ``raise ... from exc``.

    WatcherError
    ├── ConfigError            invalid configuration: file, key path, problem (CLI exit code 2)
    ├── QuerySyntaxError       a rule's query does not parse: position and problem
    ├── SourceError            a poll failed; recorded on the source's state, retried next poll
    │   ├── FetchError         the network or the server failed (timeouts, 5xx, 429 after retries)
    │   │   ├── TooLargeError  the answer is bigger than the size limit
    │   │   └── DeadlineError  the answer took longer than the total time limit
    │   └── ParseError         the server answered with something we cannot read
    ├── StoreError             the database failed
    │   └── StoreUnavailableError
    │                          it cannot be reached or opened: refused, unknown host, timeout,
    │                          authentication, no such database, too many connections, shutting
    │                          down; an SQLite file or directory that cannot be made or written
    └── DeliveryError          a channel could not deliver; the digest stays unsent
"""

from __future__ import annotations


class WatcherError(Exception):
    """Base of every error this package raises on purpose."""


class ConfigError(WatcherError):
    """Invalid configuration. ``str()`` names the file, the key path and the problem."""

    def __init__(self, file: str, problems: list[tuple[str, str]]) -> None:
        self.file = file
        self.problems = problems  # (key path, what is wrong)
        lines = [
            f"{file}: {path}: {problem}" if path else f"{file}: {problem}"
            for path, problem in problems
        ]
        super().__init__("\n".join(lines))


class QuerySyntaxError(WatcherError):
    """A query that does not parse. ``position`` is a 0-based character offset."""

    def __init__(self, query: str, position: int, problem: str) -> None:
        self.query = query
        self.position = position
        self.problem = problem
        super().__init__(f"{problem} at position {position}")

    def pointer(self) -> str:
        """The query with a caret under the offending position, for terminals."""
        return f"{self.query}\n{' ' * self.position}^"


class SourceError(WatcherError):
    """A source could not be polled."""


class FetchError(SourceError):
    """The network or the remote server failed, after retries."""


class TooLargeError(FetchError):
    """The answer is bigger than the size limit (``limit`` bytes); not retried, as it would be
    the same answer again."""

    def __init__(self, message: str, limit: int) -> None:
        self.limit = limit
        super().__init__(message)


class DeadlineError(FetchError):
    """The answer took longer than the total time limit (``limit`` seconds) to arrive whole:
    a server trickling its body. Not retried; the next poll tries again."""

    def __init__(self, message: str, limit: float) -> None:
        self.limit = limit
        super().__init__(message)


class ParseError(SourceError):
    """The remote server answered with something we cannot read."""


class StoreError(WatcherError):
    """The database failed."""


class StoreUnavailableError(StoreError):
    """The database cannot be reached or opened: nothing was read or written. Worth waiting for
    (a database that starts after the service) or fixing in the configuration; never a fault in
    the data. ``str()`` is one line, the reason as the driver or the OS states it (for SQLite
    with the path), without the store URL: callers prefix it, redacted."""


class DeliveryError(WatcherError):
    """A channel could not deliver a message.

    ``permanent``: retrying cannot help (a webhook that is gone, every recipient refused); the
    outbox marks the message dead at once. ``retry_after``: the peer said how many seconds to
    wait (HTTP ``Retry-After``, Discord's ``retry_after``). ``parts_sent``: of a message in
    several parts, how many the peer accepted before this failure, so a retry sends the rest.
    ``str()`` never holds a secret: a channel URL appears masked (``logs.masked_url``).
    """

    def __init__(
        self,
        message: str,
        *,
        permanent: bool = False,
        retry_after: float | None = None,
        parts_sent: int = 0,
    ) -> None:
        self.permanent = permanent
        self.retry_after = retry_after
        self.parts_sent = parts_sent
        super().__init__(message)
