"""The production history on plain values: events, the stack replay rollback reads, the table."""

from __future__ import annotations

import json

import pytest

from tabular_mlops.cd import history
from tabular_mlops.cd.history import Event, previous_champion, stack
from tabular_mlops.core.errors import PipelineError

ACTIONS = {
    "GITHUB_ACTOR": "octocat",
    "GITHUB_SERVER_URL": "https://github.example",
    "GITHUB_REPOSITORY": "org/repo",
    "GITHUB_RUN_ID": "42",
}


def log(*moves: tuple[str, str]) -> list[Event]:
    """Events from (kind, to) pairs, each `from` the champion before it, as writers record."""
    events: list[Event] = []
    champion = None
    for seq, (kind, to) in enumerate(moves, start=1):
        events.append(history.event(seq, kind, champion, to, f"{kind} {to}", ACTIONS))
        champion = to
    return events


def test_promotions_push_and_rollbacks_go_further_back_each_time() -> None:
    events = log(("bootstrapped", "1"), ("promoted", "2"), ("released", "3"), ("promoted", "4"))
    assert stack(events) == ["1", "2", "3", "4"]
    assert previous_champion(events) == "3"
    events.append(history.event(5, "rollback", "4", "3", "bad", ACTIONS))
    assert stack(events) == ["1", "2", "3"] and previous_champion(events) == "2"
    events.append(history.event(6, "rollback", "3", "2", "again", ACTIONS))
    assert stack(events) == ["1", "2"] and previous_champion(events) == "1"
    events.append(history.event(7, "promoted", "2", "5", "new model", ACTIONS))
    assert stack(events) == ["1", "2", "5"] and previous_champion(events) == "2"


def test_a_rollback_to_a_named_version_lands_on_it() -> None:
    events = log(("bootstrapped", "1"), ("promoted", "2"), ("promoted", "3"))
    to_first = [*events, history.event(4, "rollback", "3", "1", "to 1", ACTIONS)]
    assert stack(to_first) == ["1"] and previous_champion(to_first) is None
    to_other = [*events, history.event(4, "rollback", "3", "7", "to 7", ACTIONS)]
    assert stack(to_other) == ["1", "2", "7"] and previous_champion(to_other) == "2"


def test_a_champion_the_history_missed_counts_as_pushed() -> None:
    events = log(("bootstrapped", "1"), ("promoted", "2"))
    assert previous_champion(events, "2") == "1"
    assert previous_champion(events, "5") == "2"
    assert previous_champion([], "5") is None
    assert previous_champion(log(("bootstrapped", "1"))) is None


def test_an_event_says_who_and_which_run_in_actions_or_locally(monkeypatch) -> None:
    made = history.event(3, "released", "1", "2", "  why\nthis   one ", ACTIONS)
    assert made.as_dict() == {
        "seq": 3,
        "from": "1",
        "to": "2",
        "at": made.at,
        "by": "octocat",
        "run": "https://github.example/org/repo/actions/runs/42",
        "kind": "released",
        "reason": "why this one",
    }
    assert made.at.endswith("+00:00")
    monkeypatch.setattr(history.getpass, "getuser", lambda: "someone")
    local = history.event(1, "bootstrapped", None, "1", "x" * 5000, {})
    assert (local.by, local.run, local.previous) == ("someone", "local", None)
    assert len(local.reason) == history.REASON_CHARS


def test_tags_round_trip_in_order_and_a_damaged_one_is_named() -> None:
    events = log(("bootstrapped", "1"), ("promoted", "2"), ("rollback", "1"))
    tags = {history.tag_key(e.seq): json.dumps(e.as_dict()) for e in reversed(events)}
    tags["promotion.champion_version"] = "1"
    assert history.tag_key(12) == "champion.history.000012"
    assert history.events(tags) == events
    assert history.events(None) == []
    tags[history.tag_key(4)] = '{"kind": "teleported", "to": "3"}'
    with pytest.raises(PipelineError, match=r"^registry tag champion\.history\.000004: ") as err:
        history.events(tags)
    assert "teleported" in str(err.value) and len(str(err.value).splitlines()) == 1


def test_an_unrecorded_champion_follows_the_last_event() -> None:
    events = log(("bootstrapped", "1"))
    found = history.unrecorded(events, "3", ACTIONS)
    assert (found.seq, found.kind, found.previous, found.to, found.by) == (
        2,
        "unrecorded",
        "1",
        "3",
        "unknown",
    )
    assert "noticed by octocat" in found.reason
    first = history.unrecorded([], "3", ACTIONS)
    assert (first.seq, first.previous) == (1, None) and "no event records it" in first.reason


def test_the_table_lists_events_oldest_first_in_aligned_columns() -> None:
    events = log(("bootstrapped", "1"), ("promoted", "12"), ("rollback", "1"))
    lines = history.table(events).splitlines()
    assert lines[0].split() == list(history.COLUMNS)
    assert [line.split()[2] for line in lines[1:]] == ["bootstrapped", "promoted", "rollback"]
    assert lines[1].split()[3] == "-"  # no champion before the first
    starts = {line.index(events[0].at) for line in lines[1:]}
    assert len(starts) == 1
    reason_at = lines[0].index("reason")
    for line, made in zip(lines[1:], events, strict=True):
        assert line[reason_at:] == made.reason


def test_the_json_names_champion_previous_and_every_event() -> None:
    events = log(("bootstrapped", "1"), ("promoted", "2"))
    out = history.summary(events, "m", "2", "make history")
    assert out == {
        "registered_model": "m",
        "champion": "2",
        "previous": "1",
        "history": "make history",
        "events": [e.as_dict() for e in events],
    }
    assert history.summary([], "m", None, "make history")["previous"] is None
