"""`make release` against a real SQLite MLflow store: a bundle's version moves `staging` or
`champion` only when its bytes are that version's and it passed the gate against the champion
in force; every refusal is one line and leaves the aliases and the history as they were."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tabular_mlops.cd import release
from tabular_mlops.core.lineage import MD5_TAG, file_md5
from tabular_mlops.ct import registry
from tests.cd.registry_fixtures import make_bundle, outputs, run_main
from tests.model.test_promote import NAME

pytest_plugins = ["tests.cd.registry_fixtures"]

ACTIONS = {
    "GITHUB_ACTOR": "release-manager",
    "GITHUB_SERVER_URL": "https://github.example",
    "GITHUB_REPOSITORY": "org/repo",
    "GITHUB_RUN_ID": "77",
}


def run_release(store, bundle: Path, alias: str, *args: str) -> int:
    return run_main(
        release.main, "--params", str(store.params_file), "--bundle", str(bundle), "--alias", alias,
        *args,
    )  # fmt: skip


def gated(store, version: str, against: str | None, decision: str = "promoted") -> None:
    """The tags promote leaves on a version it gated against the champion `against`."""
    for key, value in {
        "promotion.decision": decision,
        "promotion.compared_with": against or "none",
    }.items():
        store.client().set_model_version_tag(NAME, version, key, value)


def champion(store, version: str) -> None:
    registry.move_alias(store.client(), NAME, "champion", version, "promoted", "set by the test")


@pytest.fixture
def actions(store, monkeypatch) -> dict[str, Path]:
    """The variables a workflow step sees, with its output and summary files."""
    for key, value in ACTIONS.items():
        monkeypatch.setenv(key, value)
    files = {"output": store.path / "gh-output", "summary": store.path / "gh-summary.md"}
    monkeypatch.setenv("GITHUB_OUTPUT", str(files["output"]))
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(files["summary"]))
    return files


def test_the_gated_bundle_goes_to_staging_then_to_production_with_its_history(
    store, model_file, actions, capsys
) -> None:
    assert store.promote("1") == 0
    assert store.promote("2", "--alias", "staging") == 0
    bundle = make_bundle(store, "2", model_file)
    capsys.readouterr()

    assert run_release(store, bundle, "staging") == 0
    assert capsys.readouterr().out.strip() == (
        f"release: staging of {NAME} is already version 2; nothing moved"
    )
    assert store.state()[0]["staging"] == "2" and len(store.events()) == 1

    assert run_release(store, bundle, "champion", "--reason", "ship the March model") == 0
    line = capsys.readouterr().out.strip()
    assert line == (
        f"release: champion of {NAME} moved from version 1 to version 2 "
        f"(md5 {store.model_md5}, history event 2)"
    )
    aliases, tags = store.state()
    assert aliases["champion"] == "2" and tags[registry.CHAMPION_TAG] == "2"
    event = store.events()[-1]
    assert {k: event[k] for k in ("seq", "from", "to", "kind", "by", "run", "reason")} == {
        "seq": 2,
        "from": "1",
        "to": "2",
        "kind": "released",
        "by": "release-manager",
        "run": "https://github.example/org/repo/actions/runs/77",
        "reason": "ship the March model",
    }
    report = store.report("release.json")
    assert report == {
        "alias": "champion",
        "registered_model": NAME,
        "version": "2",
        "previous": "1",
        "status": "moved",
        "champion": "1",
        "md5": store.model_md5,
        "run_id": store.client().get_model_version(NAME, "2").run_id,
        "git_commit": "0123456789abcdef0123456789abcdef01234567",
        "bundle": str(bundle),
        "reason": "ship the March model",
        "at": event["at"],
        "by": "release-manager",
        "run": event["run"],
        "history": "make history",
        "event": event,
    }
    assert outputs(actions["output"]) == {
        "version": "2",
        "alias": "champion",
    }
    summary = actions["summary"].read_text(encoding="utf-8")
    assert f"### Release: champion → {NAME} version 2" in summary
    assert f"| md5 | {store.model_md5} |" in summary

    assert run_release(store, bundle, "champion") == 0
    assert "is already version 2; nothing moved" in capsys.readouterr().out
    assert len(store.events()) == 2


def test_staging_moves_staging_only(store, model_file, capsys) -> None:
    champion(store, "1")
    gated(store, "3", "1")
    before_events = store.events()
    assert run_release(store, make_bundle(store, "3", model_file), "staging") == 0
    aliases, tags = store.state()
    assert aliases["staging"] == "3" and aliases["champion"] == "1"
    assert store.events() == before_events and tags[registry.CHAMPION_TAG] == "1"
    assert store.report("release.json")["event"] is None
    assert "release: staging of" in capsys.readouterr().out


def test_the_first_release_to_production_needs_a_bootstrapped_version(store, model_file) -> None:
    gated(store, "2", None, "bootstrapped")
    assert run_release(store, make_bundle(store, "2", model_file), "champion") == 0
    (event,) = store.events()
    assert (event["kind"], event["from"], event["to"]) == ("released", None, "2")
    assert event["reason"].startswith("released from ")


def tamper_file(store, bundle: Path) -> str:
    (bundle / "model.pkl").write_bytes(b"not the reviewed model")
    return "model.pkl: md5 "


def other_bytes(store, bundle: Path) -> str:
    """A bundle consistent in itself whose bytes are not the version's (another store's)."""
    (bundle / "model.pkl").write_bytes(b"another model")
    manifest = json.loads((bundle / "manifest.json").read_text(encoding="utf-8"))
    md5 = file_md5(bundle / "model.pkl")
    manifest.update(md5=md5, files={"model.pkl": md5})
    (bundle / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return f"has {MD5_TAG} {store.model_md5}, but"


def no_md5_tag(store, bundle: Path) -> str:
    store.client().delete_model_version_tag(NAME, "3", MD5_TAG)
    return f"version 3 has no tag {MD5_TAG}"


def older_champion(store, bundle: Path) -> str:
    gated(store, "3", "1")
    return "version 3 was gated against champion 1, but the champion is now 2"


def rejected(store, bundle: Path) -> str:
    gated(store, "3", "2", "rejected")
    return "version 3 has not passed the gate (promotion.decision: rejected)"


def never_gated(store, bundle: Path) -> str:
    for key in ("promotion.decision", "promotion.compared_with"):
        store.client().delete_model_version_tag(NAME, "3", key)
    return "version 3 has not passed the gate (promotion.decision: none)"


def deleted(store, bundle: Path) -> str:
    store.client().delete_model_version(NAME, "3")
    return "has no version 3 (deleted?)"


def missing_model(store, bundle: Path) -> str:
    (bundle / "model.pkl").unlink()
    return "model.pkl: not found"


def other_project(store, bundle: Path) -> str:
    manifest = json.loads((bundle / "manifest.json").read_text(encoding="utf-8"))
    (bundle / "manifest.json").write_text(
        json.dumps({**manifest, "registered_model": "someone-else"}), encoding="utf-8"
    )
    return "names registered model 'someone-else'"


def no_manifest(store, bundle: Path) -> str:
    (bundle / "manifest.json").unlink()
    return "manifest.json: not found (build the bundle with `make bundle`)"


@pytest.mark.parametrize(
    "damage",
    [
        tamper_file,
        other_bytes,
        no_md5_tag,
        older_champion,
        rejected,
        never_gated,
        deleted,
        missing_model,
        other_project,
        no_manifest,
    ],
)
@pytest.mark.parametrize("alias", ["champion", "staging"])
def test_a_release_that_cannot_be_trusted_is_one_line_and_moves_nothing(
    store, model_file, capsys, damage, alias
) -> None:
    champion(store, "1")
    champion(store, "2")
    gated(store, "3", "2")
    bundle = make_bundle(store, "3", model_file)
    expected = damage(store, bundle)
    before = store.state()
    capsys.readouterr()
    assert run_release(store, bundle, alias) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert expected in err and err.endswith("nothing released"), err
    assert store.state() == before
    assert not Path(store.params.paths.promotion).with_name("release.json").exists()
