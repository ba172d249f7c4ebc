"""The production history against a real SQLite MLflow store: what promote records, what
`make history` prints, and a champion moved without its event (a killed run, a move by hand)
recorded as `unrecorded` by whichever command comes next."""

from __future__ import annotations

import json

import pytest

from tabular_mlops.cd import history, rollback
from tabular_mlops.ct import registry
from tests.cd.registry_fixtures import VERSIONS, run_main
from tests.model.test_promote import NAME

pytest_plugins = ["tests.cd.registry_fixtures"]
#: The alias `challenger` names the last version the template registered.
LAST = str(VERSIONS)


def show(store, capsys, *args: str) -> str:
    capsys.readouterr()
    assert run_main(history.main, "--params", str(store.params_file), *args) == 0
    return capsys.readouterr().out


def test_promote_records_bootstrapped_and_promoted_and_staging_moves_only_staging(
    store, capsys
) -> None:
    assert store.promote("1") == 0
    assert store.state()[0] == {"challenger": LAST, "champion": "1"}
    (first,) = store.events()
    assert (first["seq"], first["kind"], first["from"]) == (1, "bootstrapped", None)
    assert first["run"] == "local" and first["by"] == history.actor()
    assert first["reason"] == store.promotion()["reason"]
    assert store.promotion()["history"] == "make history"

    assert store.promote("2", "--alias", "staging") == 0
    aliases, tags = store.state()
    assert aliases == {"challenger": LAST, "champion": "1", "staging": "2"}
    assert tags[registry.CHAMPION_TAG] == "1" and len(store.events()) == 1
    decision = store.promotion()
    assert (decision["decision"], decision["alias"]) == ("promoted", "staging")
    assert "alias staging moves to it" in decision["reason"]
    assert store.version_tags("2")["promotion.compared_with"] == "1"

    assert store.promote("3") == 0
    aliases, tags = store.state()
    assert aliases["champion"] == "3" and aliases["staging"] == "2"
    assert tags[registry.CHAMPION_TAG] == "3"
    assert [(e["kind"], e["from"], e["to"]) for e in store.events()] == [
        ("bootstrapped", None, "1"),
        ("promoted", "1", "3"),
    ]

    assert store.promote("3") == 0
    assert store.promotion()["decision"] == "unchanged" and len(store.events()) == 2
    assert store.promote("3", "--alias", "staging") == 0
    assert store.state()[0]["staging"] == "3" and len(store.events()) == 2

    table = show(store, capsys).splitlines()
    assert table[0].split() == list(history.COLUMNS)
    assert [line.split()[:5] for line in table[1:]] == [
        ["1", first["at"], "bootstrapped", "-", "1"],
        ["2", store.events()[1]["at"], "promoted", "1", "3"],
    ]
    listed = json.loads(show(store, capsys, "--json"))
    assert listed == {
        "registered_model": NAME,
        "champion": "3",
        "previous": "1",
        "history": "make history",
        "events": store.events(),
    }


def test_no_history_yet_says_so(store, capsys) -> None:
    out = show(store, capsys)
    assert out.strip() == f"history: no champion change recorded for {NAME} yet"
    assert json.loads(show(store, capsys, "--json"))["events"] == []


@pytest.mark.parametrize("command", ["promote", "history", "rollback"])
def test_a_move_without_its_event_is_recorded_as_unrecorded_by_the_next_command(
    store, capsys, command
) -> None:
    """The kill this simulates falls after `champion` moved, before its event and the tag."""
    registry.move_alias(store.client(), NAME, "champion", "1", "bootstrapped", "first")
    store.client().set_registered_model_alias(NAME, "champion", "2")
    capsys.readouterr()
    if command == "promote":
        assert store.promote("3") == 0
    elif command == "rollback":
        assert run_main(rollback.main, "--params", str(store.params_file)) == 0
    out = show(store, capsys) if command == "history" else capsys.readouterr().out
    assert f"{command}: repaired the registry: champion history event 2 records version 2" in out
    kinds = [(e["kind"], e["from"], e["to"]) for e in store.events()]
    assert kinds[:2] == [("bootstrapped", None, "1"), ("unrecorded", "1", "2")]
    unrecorded = store.events()[1]
    assert unrecorded["by"] == "unknown" and "noticed by" in unrecorded["reason"]
    follows = {
        "promote": [("promoted", "2", "3")],
        "history": [],
        "rollback": [("rollback", "2", "1")],
    }
    assert kinds[2:] == follows[command]
    aliases, tags = store.state()
    assert tags[registry.CHAMPION_TAG] == aliases["champion"]
    assert history.events(store.model().tags)[-1].to == aliases["champion"]


def test_a_champion_from_before_the_history_is_recorded_once(store, capsys) -> None:
    store.client().set_registered_model_alias(NAME, "champion", "2")
    store.client().set_registered_model_tag(NAME, registry.CHAMPION_TAG, "2")
    out = show(store, capsys)
    assert "history: repaired the registry: champion history event 1 records version 2" in out
    assert "no event records it" in out
    assert "repaired" not in show(store, capsys)
    assert [e["kind"] for e in store.events()] == ["unrecorded"]


def test_a_damaged_history_tag_is_one_line_naming_it(store, capsys) -> None:
    store.client().set_registered_model_tag(NAME, history.tag_key(1), "not json")
    capsys.readouterr()
    assert run_main(history.main, "--params", str(store.params_file)) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: registry tag champion.history.000001: not a champion history")
    assert len(err.splitlines()) == 1


def test_promote_will_not_move_the_challenger_alias(store, capsys) -> None:
    before = store.state()
    capsys.readouterr()
    assert store.promote("1", "--alias", "challenger") == 2
    err = capsys.readouterr().err.strip()
    assert err == "error: --alias 'challenger': promote cannot move that alias"
    assert store.state() == before
