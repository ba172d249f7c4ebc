"""`make rollback` against a real SQLite MLflow store: back to the previous champion (further
back each time), or to TO; a dry run changes nothing; no champion, or none before it, is one
line that leaves the registry as it was."""

from __future__ import annotations

from pathlib import Path

import pytest

from tabular_mlops.cd import rollback
from tabular_mlops.core.lineage import MD5_TAG
from tabular_mlops.ct import registry
from tests.cd.registry_fixtures import outputs, run_main
from tests.model.test_promote import NAME

pytest_plugins = ["tests.cd.registry_fixtures"]


def run_rollback(store, *args: str) -> int:
    return run_main(rollback.main, "--params", str(store.params_file), *args)


def champions(store, *versions: str) -> None:
    """A production history: the first bootstrapped, each next one promoted over it."""
    for index, version in enumerate(versions):
        kind = "promoted" if index else "bootstrapped"
        registry.move_alias(store.client(), NAME, "champion", version, kind, f"{kind} {version}")


def report_file(store) -> Path:
    return Path(store.params.paths.promotion).with_name("rollback.json")


@pytest.fixture
def github_output(store, monkeypatch) -> Path:
    path = store.path / "gh-output"
    monkeypatch.setenv("GITHUB_OUTPUT", str(path))
    return path


def test_two_rollbacks_go_back_two_champions_each_recorded(store, github_output, capsys) -> None:
    champions(store, "1", "2", "3")
    capsys.readouterr()
    assert run_rollback(store, "--reason", "latency regression") == 0
    assert capsys.readouterr().out.strip() == (
        f"rollback: champion of {NAME} moved from version 3 back to version 2 (history event 4)"
    )
    assert outputs(github_output) == {"version": "2", "previous": "3", "dry_run": "false"}
    report = store.report("rollback.json")
    event = store.events()[-1]
    assert report == {
        "registered_model": NAME,
        "from": "3",
        "to": "2",
        "reason": "latency regression",
        "at": event["at"],
        "by": event["by"],
        "run": "local",
        "history": "make history",
        "event": event,
    }
    assert run_rollback(store) == 0
    aliases, tags = store.state()
    assert aliases["champion"] == "1" and tags[registry.CHAMPION_TAG] == "1"
    assert [(e["kind"], e["from"], e["to"]) for e in store.events()] == [
        ("bootstrapped", None, "1"),
        ("promoted", "1", "2"),
        ("promoted", "2", "3"),
        ("rollback", "3", "2"),
        ("rollback", "2", "1"),
    ]
    assert store.events()[-1]["reason"] == "rollback of version 2"
    assert store.report("rollback.json")["to"] == "1"


def test_to_names_the_version_and_the_next_rollback_goes_before_it(store, capsys) -> None:
    champions(store, "1", "2", "3")
    assert run_rollback(store, "--to", "1") == 0
    assert store.state()[0]["champion"] == "1"
    last = store.events()[-1]
    assert (last["kind"], last["from"], last["to"]) == ("rollback", "3", "1")
    capsys.readouterr()
    assert run_rollback(store) == 2
    assert "no previous champion in its history (version 1 is the first)" in (
        capsys.readouterr().err
    )
    assert store.state()[0]["champion"] == "1"


def test_a_dry_run_names_the_target_and_changes_nothing(store, github_output, capsys) -> None:
    champions(store, "1", "2")
    before = store.state()
    capsys.readouterr()
    assert run_rollback(store, "--dry-run") == 0
    assert capsys.readouterr().out.strip() == (
        f"rollback: would move champion of {NAME} from version 2 back to version 1 "
        "(dry run: nothing changed)"
    )
    assert outputs(github_output) == {"version": "1", "previous": "2", "dry_run": "true"}
    assert store.state() == before
    assert not report_file(store).exists()


def no_champion(store) -> str:
    return f"registry: {NAME} has no champion; nothing rolled back"


def only_one(store) -> str:
    champions(store, "1")
    return f"{NAME} has no previous champion in its history (version 1 is the first)"


def back_at_the_first(store) -> str:
    champions(store, "1", "2")
    registry.move_alias(store.client(), NAME, "champion", "1", "rollback", "by the test")
    return "no previous champion in its history (version 1 is the first)"


def previous_deleted(store) -> str:
    champions(store, "1", "2")
    store.client().delete_model_version(NAME, "1")
    return f"registry: {NAME} has no version 1 (deleted?)"


def previous_without_md5(store) -> str:
    champions(store, "1", "2")
    store.client().delete_model_version_tag(NAME, "1", MD5_TAG)
    return f"version 1 has no tag {MD5_TAG}"


@pytest.mark.parametrize(
    "setup", [no_champion, only_one, back_at_the_first, previous_deleted, previous_without_md5]
)
@pytest.mark.parametrize("dry_run", [False, True])
def test_nothing_to_roll_back_to_is_one_line_and_moves_nothing(
    store, capsys, setup, dry_run
) -> None:
    expected = setup(store)
    before = store.state()
    capsys.readouterr()
    assert run_rollback(store, *(["--dry-run"] if dry_run else [])) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and expected in err, err
    assert err.endswith("nothing rolled back") or "TO=version" in err, err
    assert store.state() == before
    assert not report_file(store).exists()


@pytest.mark.parametrize(
    ("to", "expected"),
    [
        ("2", "version 2 is already the champion"),
        ("99", "has no version 99 (deleted?)"),
        ("two", "--to: 'two' is not a model version number"),
    ],
)
def test_a_bad_to_is_one_line_and_moves_nothing(store, capsys, to, expected) -> None:
    champions(store, "1", "2")
    before = store.state()
    capsys.readouterr()
    assert run_rollback(store, "--to", to) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and expected in err, err
    assert store.state() == before
