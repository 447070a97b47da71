"""A real local HTTP server imitating the Northern Ireland Assembly's AIMS questions service,
for tests and demos:

    GET /questions.asmx/GetQuestionsForWrittenAnswer_AnsweredInRange_JSON?startDate=&endDate=
        the questions whose AnsweredOnDate is in the range (inclusive), without their answers
        (as others describe the real listing) unless ``answers_in_list``
    GET /questions.asmx/GetQuestionDetails_JSON?documentId=
        one question with its answer

Both answer ``{"QuestionsList": {"Question": [...]}}``, with a single question as an object
rather than a list of one, and ``{"QuestionsList": null}`` for none: JSON translated from XML,
as the real service's is reported to be (unconfirmed). Built on ``ScriptedServer``.

    with NiAssemblyServer.with_fixtures() as server:    # data/ni/questions.json
        server.replace(question)                        # by DocumentId
        server.requests                                 # as ScriptedServer records them
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable
from datetime import date, datetime
from importlib import resources
from typing import Any
from urllib.parse import parse_qs, urlsplit

from watcher.testing.scripted import Exchange, ScriptedServer, reply

RANGE = "/questions.asmx/GetQuestionsForWrittenAnswer_AnsweredInRange_JSON"
DETAIL = "/questions.asmx/GetQuestionDetails_JSON"
ANSWER_FIELDS = ("AnswerPlainText", "AnswerHtml", "AnsweredOnDate")
JSON = {"Content-Type": "application/json; charset=utf-8"}


def load_questions() -> list[dict[str, Any]]:
    """The fixture questions (``data/ni/questions.json``), each as its details give it."""
    path = resources.files("watcher.testing") / "data" / "ni" / "questions.json"
    items: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))
    return items


class NiAssemblyServer(ScriptedServer):
    def __init__(
        self, questions: Iterable[dict[str, Any]] = (), *, answers_in_list: bool = False
    ) -> None:
        super().__init__({RANGE: self._range, DETAIL: self._detail})
        self.answers_in_list = answers_in_list
        self._questions = {str(q["DocumentId"]): dict(q) for q in questions}
        self._lock = threading.Lock()

    @classmethod
    def with_fixtures(cls, *, answers_in_list: bool = False) -> NiAssemblyServer:
        return cls(load_questions(), answers_in_list=answers_in_list)

    def replace(self, question: dict[str, Any]) -> None:
        """Add ``question``, or replace the one with its DocumentId."""
        with self._lock:
            self._questions[str(question["DocumentId"])] = dict(question)

    def _range(self, exchange: Exchange) -> None:
        query = parse_qs(urlsplit(exchange.path).query)
        try:
            start = date.fromisoformat(query["startDate"][0])
            end = date.fromisoformat(query["endDate"][0])
        except (KeyError, ValueError):
            reply(exchange, 500, b"startDate and endDate are required (YYYY-MM-DD)")
            return
        with self._lock:
            found = [
                q
                for q in self._questions.values()
                if q.get("AnsweredOnDate")
                and start <= datetime.fromisoformat(q["AnsweredOnDate"]).date() <= end
            ]
        if not self.answers_in_list:
            found = [{k: v for k, v in q.items() if k not in ANSWER_FIELDS} for q in found]
        reply(exchange, 200, _envelope(found), JSON)

    def _detail(self, exchange: Exchange) -> None:
        key = parse_qs(urlsplit(exchange.path).query).get("documentId", [""])[0]
        with self._lock:
            question = self._questions.get(key)
        reply(exchange, 200, _envelope([question] if question else []), JSON)


def _envelope(questions: list[dict[str, Any]]) -> bytes:
    if not questions:
        inner: Any = None
    elif len(questions) == 1:
        inner = {"Question": questions[0]}  # XML-born JSON: one child is an object
    else:
        inner = {"Question": questions}
    return json.dumps({"QuestionsList": inner}).encode()
