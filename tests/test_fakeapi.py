"""The fake API imitates what the watcher relies on in the real one (see the reference README)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from watcher.testing import FakeParliamentAPI, load_fixtures

LIST = "/api/writtenquestions/questions"
SEED = 1683412


def get(api: FakeParliamentAPI, path: str, **params: Any) -> httpx.Response:
    return httpx.get(f"{api.base_url}{path}", params=params)


def listed(api: FakeParliamentAPI, **params: Any) -> list[dict[str, Any]]:
    body = get(api, LIST, take=100, **params).json()
    assert body["totalResults"] == len(body["results"])
    return [r["value"] for r in body["results"]]


def test_fixtures_are_api_shaped_and_unique() -> None:
    values = load_fixtures()
    ids = [v["id"] for v in values]
    assert len(ids) == len(set(ids)) == 24
    assert all(isinstance(v["heading"], str) and v["dateTabled"] for v in values)
    assert not any("_note" in v for v in values)


def test_send_as_verb_fixture_never_uses_the_acronym() -> None:
    verb = next(v for v in load_fixtures() if v["id"] == 1690001)
    words = f"{verb['heading']} {verb['questionText']} {verb['answerText']}"
    assert "SEND" not in words
    assert "send the guidance to schools" in words
    assert "workforce" in words


def test_list_truncates_like_the_real_api(api: FakeParliamentAPI) -> None:
    full = api.get(SEED)
    [value] = [
        v
        for v in listed(api, answeredWhenFrom="2024-01-15", answeredWhenTo="2024-01-15")
        if v["id"] == SEED
    ]
    assert value["questionText"] == full["questionText"][:255]
    assert value["answerText"].endswith("SEND...")
    assert len(value["answerText"]) == 258
    assert "<p>" not in value["answerText"]
    detail = get(api, f"{LIST}/{SEED}").json()["value"]
    assert detail["answerText"] == full["answerText"]


def test_members_are_expanded_only_on_request(api: FakeParliamentAPI) -> None:
    assert get(api, f"{LIST}/{SEED}").json()["value"]["answeringMember"] is None
    expanded = get(api, f"{LIST}/{SEED}", expandMember="true").json()["value"]
    assert expanded["answeringMember"]["name"] == "David Johnston"
    assert all(v["askingMember"] is None for v in listed(api))
    expanded_list = {v["id"]: v for v in listed(api, expandMember="true")}
    assert expanded_list[SEED]["askingMember"]["name"] == "Catherine Hale"


def test_list_filters_by_window_house_and_withdrawn(api: FakeParliamentAPI) -> None:
    window = {"answeredWhenFrom": "2024-01-12", "answeredWhenTo": "2024-01-15"}
    assert {v["id"] for v in listed(api, **window)} == {SEED, 1690001, 1690002, 1679326}
    assert {v["id"] for v in listed(api, house="Lords", **window)} == {1690002}
    assert {
        v["id"] for v in listed(api, tabledWhenFrom="2024-01-12", tabledWhenTo="2024-01-15")
    } == {1690001}
    assert {
        v["id"] for v in listed(api, correctedWhenFrom="2024-01-29", correctedWhenTo="2024-02-05")
    } == {1679326, 1679517, 1679590}
    withdrawn = api.get(1690001)
    withdrawn["isWithdrawn"] = True
    api.replace(withdrawn)
    assert 1690001 not in {v["id"] for v in listed(api, **window)}
    assert 1690001 in {v["id"] for v in listed(api, includeWithdrawn="true", **window)}


def test_paging_is_stable_and_not_by_id(api: FakeParliamentAPI) -> None:
    pages = [get(api, LIST, skip=s, take=5).json() for s in range(0, 25, 5)]
    ids = [r["value"]["id"] for p in pages for r in p["results"]]
    assert pages[0]["totalResults"] == 24
    assert len(ids) == len(set(ids)) == 24
    assert ids != sorted(ids)
    assert ids == [v["id"] for v in listed(api)]


def test_unknown_question_is_404_and_faults_apply_in_turn(api: FakeParliamentAPI) -> None:
    assert get(api, f"{LIST}/1").status_code == 404
    api.fail(1, status=503, retry_after=7)
    api.garbage(1)
    first = get(api, f"{LIST}/{SEED}")
    assert (first.status_code, first.headers["Retry-After"]) == (503, "7")
    second = get(api, f"{LIST}/{SEED}")
    assert second.status_code == 200
    with pytest.raises(ValueError, match="Expecting value"):
        second.json()
    assert get(api, f"{LIST}/{SEED}").json()["value"]["id"] == SEED
    assert [path for path, _ in api.requests][-3:] == [f"{LIST}/{SEED}"] * 3


def test_faults_can_target_one_endpoint(api: FakeParliamentAPI) -> None:
    api.fail(1, status=500, endpoint="list")
    assert get(api, f"{LIST}/{SEED}").status_code == 200
    assert get(api, LIST).status_code == 500
    assert get(api, LIST).status_code == 200


def test_a_fault_can_wait_for_earlier_requests(api: FakeParliamentAPI) -> None:
    api.fail(1, status=500, after=1)
    api.requests.clear()
    statuses = [get(api, f"{LIST}/{SEED}").status_code for _ in range(3)]
    assert statuses == [200, 500, 200]
    assert len(api.requests) == 3
