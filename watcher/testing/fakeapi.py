"""A real local HTTP server that behaves like the Written Questions API, for tests and the demo.

It serves questions held as full detail values (``add``/``replace``/``remove``) through the two
endpoints the watcher uses, truncating list text the way the real API does, and can be told to
misbehave (``fail``, ``garbage``, ``hang``) so the client's retries and the source's error
handling are tested over a real socket. It keeps a log of what it served (``requests``).

It imitates only what the watcher relies on; it is not a model of the whole API.

``python -m watcher.testing.fakeapi [--host 127.0.0.1] [--port 8765]`` serves the fixtures on
their own until Ctrl-C or SIGTERM, so every ``watcher`` command can be tried offline.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import signal
import sys
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from types import TracebackType
from typing import Any, Literal
from urllib.parse import parse_qsl, urlsplit

from watcher.text import html_to_text

LIST_PATH = "/api/writtenquestions/questions"
TRUNCATE_AT = 255
DEFAULT_TAKE = 20
# List filter (lower-cased, as ASP.NET matches query names case-insensitively) -> field, bound.
DATE_FILTERS = {
    "answeredwhenfrom": ("dateAnswered", "from"),
    "answeredwhento": ("dateAnswered", "to"),
    "correctedwhenfrom": ("dateAnswerCorrected", "from"),
    "correctedwhento": ("dateAnswerCorrected", "to"),
    "tabledwhenfrom": ("dateTabled", "from"),
    "tabledwhento": ("dateTabled", "to"),
}
MEMBER_FIELDS = ("askingMember", "answeringMember", "correctingMember")

Endpoint = Literal["list", "detail"]


def load_fixtures() -> list[dict[str, Any]]:
    """Every question value in ``watcher/testing/data/*.json`` (each file: one value or a list)."""
    values: list[dict[str, Any]] = []
    data = resources.files("watcher.testing") / "data"
    for item in sorted(data.iterdir(), key=lambda p: p.name):
        if not item.name.endswith(".json"):
            continue
        loaded = json.loads(item.read_text(encoding="utf-8"))
        values.extend(loaded if isinstance(loaded, list) else [loaded])
    return values


@dataclass
class _Fault:
    remaining: int
    kind: Literal["status", "garbage", "hang"]
    status: int = 500
    retry_after: str | None = None
    body: bytes | None = None
    seconds: float = 0.0
    endpoint: Endpoint | None = None
    target: str | None = None  # a substring of the request target (path and query)
    after: int = 0  # matching requests still to let through before this fault starts

    def matches(self, endpoint: Endpoint | None, target: str) -> bool:
        return (self.endpoint is None or self.endpoint == endpoint) and (
            self.target is None or self.target in target
        )


class FakeParliamentAPI:
    """``with FakeParliamentAPI.with_fixtures() as api: ... api.base_url ...``"""

    def __init__(
        self, values: Iterable[Mapping[str, Any]] = (), *, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self._address = (host, port)  # port 0: any free port
        self._lock = threading.Lock()
        self._questions: dict[int, dict[str, Any]] = {}
        self._faults: list[_Fault] = []
        self._requests: list[tuple[str, dict[str, str]]] = []
        self._in_flight = 0
        self._max_in_flight = 0
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        for value in values:
            self.add(value)

    @classmethod
    def with_fixtures(cls, *, host: str = "127.0.0.1", port: int = 0) -> FakeParliamentAPI:
        return cls(load_fixtures(), host=host, port=port)

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self) -> FakeParliamentAPI:
        if self._server is not None:
            return self
        self._stopping.clear()
        server = _Server(self._address, _handler_for(self))
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="fake-parliament-api",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()  # wakes any request asleep in hang()
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeParliamentAPI:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the fake API is not running: call start() first")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    # --- data --------------------------------------------------------------------------------

    def add(self, value: Mapping[str, Any]) -> None:
        qid = _id_of(value)
        with self._lock:
            if qid in self._questions:
                raise ValueError(f"question {qid} is already held; use replace()")
            self._questions[qid] = copy.deepcopy(dict(value))

    def add_copy(self, uin: str, new_uin: str, answered: date) -> dict[str, Any]:
        """Add a copy of question ``uin`` as a new question answered on ``answered`` (tabled
        the day before), for runs whose look-back window starts from the real today."""
        value = copy.deepcopy(next(q for q in self.questions.values() if q["uin"] == uin))
        value.update(
            id=max(self.questions) + 1,
            uin=new_uin,
            dateTabled=f"{answered - timedelta(days=1)}T00:00:00",
            dateAnswered=f"{answered}T00:00:00",
        )
        self.add(value)
        return value

    def correct(self, uin: str, old: str, new: str, on: date) -> dict[str, Any]:
        """Publish a correction of question ``uin``'s answer, replacing ``old`` by ``new``,
        as the API shows one: flagged, dated, with the original answer kept."""
        value = copy.deepcopy(next(q for q in self.questions.values() if q["uin"] == uin))
        original = value["answerText"]
        if old not in original:
            raise ValueError(f"{old!r} is not in the answer to {uin}")
        value.update(
            answerText=original.replace(old, new),
            answerIsCorrection=True,
            dateAnswerCorrected=f"{on}T00:00:00",
            originalAnswerText=original,
        )
        self.replace(value)
        return value

    def replace(self, value: Mapping[str, Any]) -> None:
        qid = _id_of(value)
        with self._lock:
            if qid not in self._questions:
                raise KeyError(f"question {qid} is not held; use add()")
            self._questions[qid] = copy.deepcopy(dict(value))

    def remove(self, qid: int) -> None:
        with self._lock:
            del self._questions[qid]

    @property
    def questions(self) -> dict[int, dict[str, Any]]:
        """Copies of every held question by id; change one and ``replace`` it to publish."""
        with self._lock:
            return copy.deepcopy(self._questions)

    def get(self, qid: int) -> dict[str, Any]:
        """A copy of a held question, to change and ``replace``."""
        with self._lock:
            return copy.deepcopy(self._questions[qid])

    # --- faults ------------------------------------------------------------------------------

    # Every fault applies to ``times`` requests, after letting ``after`` requests through, and
    # only to requests of ``endpoint`` ("list" or "detail") when given. Faults queue up: a
    # request gets the first installed fault that is due.

    def fail(
        self,
        times: int,
        status: int = 500,
        retry_after: float | str | None = None,
        body: str | bytes | None = None,
        *,
        endpoint: Endpoint | None = None,
        target: str | None = None,
        after: int = 0,
    ) -> None:
        """Answer with ``status`` (and ``Retry-After``, and ``body``, if given); only requests to
        ``endpoint``, or whose path and query contain ``target``, when given."""
        self._add_fault(
            _Fault(
                times,
                "status",
                status=status,
                body=_bytes(body),
                retry_after=_header(retry_after),
                endpoint=endpoint,
                target=target,
                after=after,
            )
        )

    def garbage(self, times: int, *, endpoint: Endpoint | None = None, after: int = 0) -> None:
        """Answer 200 with a body that is not JSON."""
        self._add_fault(_Fault(times, "garbage", endpoint=endpoint, after=after))

    def hang(
        self, times: int, seconds: float, *, endpoint: Endpoint | None = None, after: int = 0
    ) -> None:
        """Wait ``seconds`` before answering normally (the client should time out first)."""
        self._add_fault(_Fault(times, "hang", seconds=seconds, endpoint=endpoint, after=after))

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def _add_fault(self, fault: _Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def _take_fault(self, endpoint: Endpoint | None, target: str) -> _Fault | None:
        chosen = None
        with self._lock:
            for fault in self._faults:
                if not fault.matches(endpoint, target):
                    continue
                if fault.after > 0:
                    fault.after -= 1  # every waiting fault counts the request it let through
                elif chosen is None and fault.remaining > 0:
                    fault.remaining -= 1
                    chosen = fault
        return chosen

    # --- observation -------------------------------------------------------------------------

    @property
    def requests(self) -> list[tuple[str, dict[str, str]]]:
        """Every request served so far, as (path, query parameters), oldest first.

        The live log: ``api.requests.clear()`` starts afresh. Server threads only append to it,
        so take ``list(api.requests)`` for a snapshot while requests are in flight.
        """
        return self._requests

    def clear_requests(self) -> None:
        """Forget the requests served and the concurrency seen so far."""
        with self._lock:
            self._requests.clear()
            self._max_in_flight = self._in_flight

    @property
    def max_in_flight(self) -> int:
        """The most requests the server was handling at once."""
        with self._lock:
            return self._max_in_flight

    # --- serving (called from the server's threads) ------------------------------------------

    def _respond(self, target: str) -> tuple[int, dict[str, str], bytes]:
        parts = urlsplit(target)
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        path = parts.path.rstrip("/")
        endpoint = self._endpoint(path)
        with self._lock:
            self._requests.append((parts.path, query))
            self._in_flight += 1
            self._max_in_flight = max(self._max_in_flight, self._in_flight)
        try:
            fault = self._take_fault(endpoint, target)
            if fault is not None and fault.kind == "hang":
                self._stopping.wait(fault.seconds)
            elif fault is not None and fault.kind == "garbage":
                return 200, {"Content-Type": "application/json"}, b"<html>Service busy</html>"
            elif fault is not None:
                headers = {"Content-Type": "application/json"}
                if fault.retry_after is not None:
                    headers["Retry-After"] = fault.retry_after
                body = (
                    fault.body
                    if fault.body is not None
                    else _json({"status": fault.status, "title": "Injected failure"})
                )
                return fault.status, headers, body
            return self._route(endpoint, path, {k.lower(): v for k, v in query.items()})
        finally:
            with self._lock:
                self._in_flight -= 1

    def _endpoint(self, path: str) -> Endpoint | None:
        """Which endpoint a path is, for faults aimed at one (a subclass adds its own)."""
        return (
            "list" if path == LIST_PATH else "detail" if path.startswith(LIST_PATH + "/") else None
        )

    def _route(
        self, endpoint: Endpoint | None, path: str, query: dict[str, str]
    ) -> tuple[int, dict[str, str], bytes]:
        expand = query.get("expandmember", "").lower() == "true"
        if endpoint == "list":
            try:
                body = self._list(query, expand)
            except ValueError as exc:
                return _problem(400, str(exc))
            return 200, {"Content-Type": "application/json"}, _json(body)
        if endpoint == "detail":
            tail = path[len(LIST_PATH) + 1 :]
            with self._lock:
                value = self._questions.get(int(tail)) if tail.isdigit() else None
                value = copy.deepcopy(value)
            if value is None:
                return _problem(404, f"No written question with id {tail}")
            return (
                200,
                {"Content-Type": "application/json"},
                _json({"value": _members(value, expand), "links": _links(value)}),
            )
        return _problem(404, "Not found")

    def _list(self, query: dict[str, str], expand: bool) -> dict[str, Any]:
        skip = _int(query, "skip", 0)
        take = _int(query, "take", DEFAULT_TAKE)
        with self._lock:
            held = copy.deepcopy(list(self._questions.values()))
        chosen = [v for v in held if _selected(v, query)]
        # Deterministic but unrelated to dates or ids, so a client cannot rely on the order.
        chosen.sort(key=lambda v: hashlib.sha256(str(v["id"]).encode()).hexdigest())
        return {
            "totalResults": len(chosen),
            "results": [
                {"value": _truncated(_members(v, expand)), "links": _links(v)}
                for v in chosen[skip : skip + take]
            ],
        }


def _selected(value: Mapping[str, Any], query: Mapping[str, str]) -> bool:
    if "house" in query and value.get("house") != query["house"]:
        return False
    if query.get("includewithdrawn", "").lower() != "true" and value.get("isWithdrawn"):
        return False
    for name, (field, bound) in DATE_FILTERS.items():
        if name not in query:
            continue
        day = (value.get(field) or "")[:10]
        wanted = query[name][:10]
        if not day or (day < wanted if bound == "from" else day > wanted):
            return False
    return True


def _truncated(value: dict[str, Any]) -> dict[str, Any]:
    """A detail value cut down the way the real list endpoint cuts it."""
    question = value.get("questionText")
    if isinstance(question, str):
        value["questionText"] = question[:TRUNCATE_AT]
    answer = value.get("answerText")
    if isinstance(answer, str) and answer:
        plain = " ".join(html_to_text(answer).split())
        value["answerText"] = plain[:TRUNCATE_AT] + "..." if len(plain) > TRUNCATE_AT else plain
    return value


def _members(value: dict[str, Any], expand: bool) -> dict[str, Any]:
    if not expand:
        for name in MEMBER_FIELDS:
            value[name] = None
    return value


def _links(value: Mapping[str, Any]) -> list[dict[str, str]]:
    return [{"rel": "self", "href": f"/Questions/{value['id']}", "method": "GET"}]


def _id_of(value: Mapping[str, Any]) -> int:
    qid = value.get("id")
    if not isinstance(qid, int) or isinstance(qid, bool):
        raise ValueError(f"a question value needs an integer id, not {qid!r}")
    return qid


def _int(query: Mapping[str, str], name: str, default: int) -> int:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit():
        raise ValueError(f"The value '{raw}' is not valid for {name}.")
    return int(raw)


def _json(body: Any) -> bytes:
    return json.dumps(body, ensure_ascii=False).encode("utf-8")


def _problem(status: int, title: str) -> tuple[int, dict[str, str], bytes]:
    return (
        status,
        {"Content-Type": "application/problem+json"},
        _json({"status": status, "title": title}),
    )


def _bytes(body: str | bytes | None) -> bytes | None:
    return body.encode("utf-8") if isinstance(body, str) else body


def _header(retry_after: float | str | None) -> str | None:
    if retry_after is None or isinstance(retry_after, str):
        return retry_after
    return str(int(retry_after)) if float(retry_after).is_integer() else str(retry_after)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (timeout) closes the socket before a hung answer is written;
        # that is the point of hang(), not a server error worth a traceback.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def _handler_for(api: FakeParliamentAPI) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "FakeParliamentAPI/1"

        def do_GET(self) -> None:
            status, headers, body = api._respond(self.path)
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # the requests list is the log

    return Handler


# --- serving the fixtures on their own -------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m watcher.testing.fakeapi",
        description="Serve the recorded Written Questions API fixtures until Ctrl-C or SIGTERM.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    parser.add_argument(
        "--port", type=int, default=8765, help="port to listen on (8765; 0 picks a free one)"
    )
    args = parser.parse_args(argv)
    if not 0 <= args.port <= 65535:
        parser.error(f"--port {args.port}: a port is 0 to 65535")
    # SIGTERM (docker stop, kill) ends the server the way Ctrl-C does.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    api = FakeParliamentAPI.with_fixtures(host=args.host, port=args.port)
    try:
        try:
            api.start()
        except OSError as exc:
            print(
                f"fakeapi: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}",
                file=sys.stderr,
            )
            return 1
        print(_banner(api), flush=True)
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        api.stop()
    print("fakeapi: stopped", file=sys.stderr)
    return 0


def _banner(api: FakeParliamentAPI) -> str:
    held = api.questions
    fields = ("dateTabled", "dateAnswered", "dateHoldingAnswer", "dateAnswerCorrected")
    days = sorted(v[f][:10] for v in held.values() for f in fields if v.get(f))
    first, last = days[0], days[-1]
    example = next((v for v in held.values() if v["uin"] == "8602"), next(iter(held.values())))
    url = api.base_url
    return f"""\
Fake Written Questions API at {url}
serving {len(held)} recorded and synthetic questions (watcher/testing/data/README.md says
which), tabled or answered from {first} to {last}
  list:   {url}{LIST_PATH}?answeredWhenFrom={first}&take=5
  detail: {url}{LIST_PATH}/{example["id"]}

Paste this source into a config, e.g. config/watcher.yaml, in place of its sources:

sources:
  - id: written-questions
    kind: parliament_written_questions
    base_url: {url}
    max_per_second: 20    # a local server; the default of 4 is for the real API

The answers are older than the look-back window, so give the commands a date:
  watcher run --once --since {first}
  watcher backfill --since {first} --until {last}
  watcher test-rule '"SEND workforce"'
Ctrl-C stops the server."""


if __name__ == "__main__":
    sys.exit(main())
