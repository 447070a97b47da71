"""The outbox half of the Store contract, on SQLite and PostgreSQL: claiming ledger rows into a
delivery with its rendered message (all or none), handing due rows to one sender at a time,
and recording sent, retry, dead, revived and dropped."""

from __future__ import annotations

from datetime import timedelta
from functools import partial

import pytest
from test_store import SRC, _owed, at, ev, poll, rec, together

from watcher.errors import StoreError
from watcher.model import EventType
from watcher.store import Claim, OutboxState, Outgoing, Store, open_store
from watcher.store.base import CLAIM_FOR


def outgoing(n: int = 1) -> Outgoing:
    return Outgoing(
        channel="team-slack", target=(), format="slack", payload=f'{{"n": {n}}}', items=n
    )


def test_a_delivery_claims_its_rows_and_holds_what_to_send(store: Store) -> None:
    ids = _owed(store, 3)
    email = Outgoing("email", ("a@example.org", "b@example.org"), "email", '{"x": 1}', 2)
    d = store.create_delivery("alice", "key-1", ids[:2], at(5), at(6), email)
    assert d is not None
    assert (d.subscription_id, d.idempotency_key, d.period_end, d.created) == (
        "alice",
        "key-1",
        at(5),
        at(6),
    )
    assert (d.state, d.channel, d.target, d.format, d.payload, d.items) == (
        OutboxState.PENDING,
        "email",
        ("a@example.org", "b@example.org"),
        "email",
        '{"x": 1}',
        2,
    )
    assert (d.attempts, d.sent, d.next_attempt) == (0, None, at(6))  # due at once
    assert [i.ledger_id for i in store.delivery_items(d.id)] == ids[:2]
    assert [i.ledger_id for i in store.pending("alice", at(10))] == [ids[2]]
    assert store.delivery(d.id) == d


def test_a_claim_is_all_of_the_rows_or_none(store: Store) -> None:
    ids = _owed(store, 3)
    assert store.create_delivery("alice", "k1", ids[:2], at(5), at(6), outgoing()) is not None
    # Rendered for three rows, but two went elsewhere: saying them again would repeat them.
    assert store.create_delivery("alice", "k2", ids, at(5), at(7), outgoing()) is None
    assert [i.ledger_id for i in store.pending("alice", at(10))] == [ids[2]]
    assert [d.idempotency_key for d in store.outbox()] == ["k1"]
    # Another subscription's rows cannot be claimed.
    assert store.create_delivery("bob", "k3", ids[2:], at(5), at(7), outgoing()) is None


def test_reusing_an_idempotency_key_returns_the_existing_delivery(store: Store) -> None:
    ids = _owed(store, 2)
    d = store.create_delivery("alice", "key-1", ids[:1], at(5), at(6), outgoing())
    again = store.create_delivery("alice", "key-1", ids[1:], at(9), at(9), outgoing(2))
    assert again == d
    assert [i.ledger_id for i in store.pending("alice", at(10))] == ids[1:]


def test_nothing_to_say_is_recorded_sent_and_kept_out_of_the_outbox(store: Store) -> None:
    ids = _owed(store, 1)
    d = store.create_delivery("alice", "k", ids, at(5), at(6), None)
    assert d is not None
    assert (d.state, d.sent) == (OutboxState.SENT, at(6))
    assert store.pending("alice", at(10)) == []
    assert store.outbox() == []
    assert store.claim_due("me", at(7)) == []


def test_concurrent_claimers_never_share_a_row(store_url: str, store: Store) -> None:
    claimers = [open_store(store_url) for _ in range(2)]
    try:
        for round_ in range(5):
            sub = f"sub-{round_}"
            ids = _owed(store, 20, sub=sub, start=round_ * 10)
            results = together(
                [
                    partial(s.create_delivery, sub, f"{sub}-{n}", ids, at(99), at(99), outgoing())
                    for n, s in enumerate(claimers)
                ]
            )
            won = [d for d in results if d is not None]
            assert len(won) == 1  # all the rows, to exactly one of them
            assert [i.ledger_id for i in store.delivery_items(won[0].id)] == sorted(ids)
    finally:
        for s in claimers:
            s.close()


def _queued(store: Store, n: int) -> list[int]:
    out = []
    for k in range(n):
        d = store.create_delivery(
            "alice", f"k{k}", _owed(store, 1, start=k * 2), at(5), at(6 + k), outgoing(k)
        )
        assert d is not None
        out.append(d.id)
    return out


def test_a_due_row_goes_to_one_sender_until_its_claim_lapses(store: Store) -> None:
    first, second = _queued(store, 2)
    assert store.claim_due("me", at(5)) == []  # not due yet
    assert [d.id for d in store.claim_due("me", at(20), limit=1)] == [first]
    [claimed] = [d for d in store.outbox() if d.id == first]
    assert claimed.claimed_by == "me"
    assert [d.id for d in store.claim_due("other", at(20))] == [second]
    assert store.claim_due("other", at(21)) == []
    # A sender that died keeps nothing for long.
    lapse = 20 + int(CLAIM_FOR.total_seconds() // 60)
    assert {d.id for d in store.claim_due("other", at(lapse))} == {first, second}


def test_a_claim_lasts_as_long_as_the_sender_asks(store: Store) -> None:
    first, second = _queued(store, 2)
    two = timedelta(minutes=2)
    assert [d.id for d in store.claim_due("me", at(20), limit=1, claim_for=two)] == [first]
    assert [d.id for d in store.claim_due("other", at(21), claim_for=two)] == [second]
    assert store.renew_claims([second], "other", at(21), claim_for=two) == {second}
    assert [d.id for d in store.claim_due("third", at(22))] == [first]  # lapsed
    assert store.claim_due("third", at(22)) == []  # second: renewed until 23
    assert [d.id for d in store.claim_due("third", at(23))] == [second]


def test_concurrent_senders_never_claim_one_row_twice(store_url: str, store: Store) -> None:
    ids = _queued(store, 30)
    senders = [open_store(store_url) for _ in range(3)]
    try:
        results = together(
            [partial(s.claim_due, f"sender-{n}", at(60), limit=12) for n, s in enumerate(senders)]
        )
    finally:
        for s in senders:
            s.close()
    claimed = [d.id for batch in results for d in batch]
    assert len(claimed) == len(set(claimed)) == 30
    assert set(claimed) == set(ids)


def test_a_failed_row_waits_for_its_next_attempt(store: Store) -> None:
    [d] = _queued(store, 1)
    [claimed] = store.claim_due("me", at(10))
    store.mark_failed(d, "HTTP 503", at(10), at(17), parts_sent=1)
    assert store.claim_due("me", at(16)) == []
    [due] = store.claim_due("me", at(17))
    assert (due.attempts, due.last_error, due.next_attempt, due.parts_sent) == (
        1,
        "HTTP 503",
        at(17),
        1,
    )
    assert due.payload == claimed.payload  # the same bytes, attempt after attempt
    assert store.next_due() == at(17)


def test_a_pass_that_retries_everything_takes_each_row_once(store: Store) -> None:
    [d] = _queued(store, 1)
    far = at(10_000)
    [_] = store.claim_due("me", at(10), due_by=far, attempted_before=at(10))
    store.mark_failed(d, "HTTP 503", at(10), at(60))
    assert store.claim_due("me", at(10), due_by=far, attempted_before=at(10)) == []
    assert [x.id for x in store.claim_due("me", at(11), due_by=far, attempted_before=at(11))] == [d]


def test_sent_dead_revived_and_dropped(store: Store) -> None:
    a, b, c = _queued(store, 3)
    store.claim_due("me", at(20))
    store.mark_sent(a, at(21))
    store.mark_sent(a, at(22))  # a repeat keeps the first acceptance
    store.mark_dead(b, "HTTP 410 channel_is_archived", at(21))
    store.mark_failed(c, "HTTP 503", at(21), at(30))
    sent = store.delivery(a)
    dead = store.delivery(b)
    assert sent is not None
    assert (sent.state, sent.sent) == (OutboxState.SENT, at(21))
    assert dead is not None
    assert (dead.state, dead.attempts) == (OutboxState.DEAD, 1)
    assert store.outbox_counts() == {
        OutboxState.PENDING: 1,
        OutboxState.SENT: 1,
        OutboxState.DEAD: 1,
        OutboxState.DROPPED: 0,
    }
    assert [d.id for d in store.outbox(OutboxState.DEAD)] == [b]
    assert [d.id for d in store.outbox(channel="nowhere")] == []
    assert [d.id for d in store.claim_due("me", at(100))] == [c]

    assert store.revive([a, b], at(200)) == [b]  # only the dead come back
    revived = store.delivery(b)
    assert revived is not None
    assert (revived.state, revived.attempts, revived.next_attempt) == (
        OutboxState.PENDING,
        0,
        at(200),
    )
    assert store.drop(b, at(201)) is True
    assert store.drop(a, at(201)) is False  # sent is final
    assert b not in {d.id for d in store.claim_due("me", at(300))}
    gone = store.delivery(b)
    assert gone is not None
    assert gone.state is OutboxState.DROPPED


def test_revive_without_ids_revives_every_dead_row(store: Store) -> None:
    a, b, c = _queued(store, 3)
    store.claim_due("me", at(20))
    store.mark_dead(a, "x", at(21))
    store.mark_dead(b, "y", at(21))
    store.mark_sent(c, at(21))
    assert store.revive(None, at(30)) == [a, b]
    assert store.outbox_counts()[OutboxState.DEAD] == 0


def test_an_outcome_for_a_row_another_sender_finished_changes_nothing(store: Store) -> None:
    [d] = _queued(store, 1)
    store.claim_due("me", at(10))
    store.mark_sent(d, at(11))
    store.mark_failed(d, "late news of a timeout", at(12), at(20))
    store.mark_dead(d, "later still", at(13))
    row = store.delivery(d)
    assert row is not None
    assert (row.state, row.attempts, row.last_error) == (OutboxState.SENT, 1, None)


def test_the_first_report_of_an_item_is_what_a_follow_up_threads_under(store: Store) -> None:
    first = rec("7")
    store.commit(poll(at(0), [ev(first)]))
    ids = [i.ledger_id for i in store.pending("alice", at(1))]
    d = store.create_delivery("alice", "first-alert", ids, at(1), at(1), outgoing())
    assert d is not None
    assert store.first_reports("alice", [(SRC, "7")]) == {}  # not sent yet
    store.mark_sent(d.id, at(2))

    answered = rec("7", answer="Yes.")
    store.commit(poll(at(3), [ev(answered, EventType.ANSWERED, first)]))
    ids = [i.ledger_id for i in store.pending("alice", at(4))]
    store.create_delivery("alice", "the-answer", ids, at(4), at(4), outgoing())
    assert store.first_reports("alice", [(SRC, "7"), (SRC, "8")]) == {(SRC, "7"): "first-alert"}
    assert store.first_reports("bob", [(SRC, "7")]) == {}


def test_marking_an_unknown_delivery_raises(store: Store) -> None:
    with pytest.raises(StoreError):
        store.mark_sent(12345, at(0))
    with pytest.raises(StoreError):
        store.mark_failed(12345, "x", at(0), at(1))
    with pytest.raises(StoreError):
        store.mark_dead(12345, "x", at(0))


def test_many_subscriptions_are_read_and_claimed_together(store: Store) -> None:
    alice = _owed(store, 2)
    bob = _owed(store, 1, sub="bob", start=5)
    found = store.pending_many(["alice", "bob", "carol"], at(10))
    assert {sub: [i.ledger_id for i in items] for sub, items in found.items()} == {
        "alice": alice,
        "bob": bob,
    }
    assert [i.event for i in found["alice"]] == [i.event for i in store.pending("alice", at(10))]
    store.create_delivery("bob", "early", bob, at(5), at(9), outgoing())  # bob's went already
    made = store.create_deliveries(
        [
            Claim("alice", "a1", alice, at(10), outgoing(2)),
            Claim("bob", "b1", bob, at(10), outgoing()),
            Claim("alice", "a-none", [], at(10), None),
        ],
        at(11),
    )
    assert [d.idempotency_key if d else None for d in made] == ["a1", None, "a-none"]
    assert store.pending_many(["alice", "bob"], at(20)) == {}
    assert [i.ledger_id for i in store.delivery_items(made[0].id)] == alice  # type: ignore[union-attr]


def test_acceptances_are_recorded_together_and_claims_renewed(store: Store) -> None:
    a, b, c = _queued(store, 3)
    store.claim_due("me", at(20))
    lapse = 20 + int(CLAIM_FOR.total_seconds() // 60)
    assert store.renew_claims([a, b], "me", at(lapse - 1)) == {a, b}
    assert store.renew_claims([c], "other", at(lapse - 1)) == set()  # not its claim
    # b's claim was renewed: another sender cannot take it when the first claim would end.
    assert {d.id for d in store.claim_due("other", at(lapse))} == {c}
    store.mark_sent_many([a, b], at(lapse))
    assert [d.id for d in store.outbox(OutboxState.SENT)] == [b, a]
