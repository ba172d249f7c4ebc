"""CI in team mode, executed with act against running team servers (`make team-up`): a push to
main, given the team's settings as the `training` environment gives them (locations as variables,
credentials as secrets), logs its run on the shared MLflow server and pushes the DVC cache and
run-cache to the shared bucket. The server refuses a client without the password and the bucket
refuses unknown keys, so a green run also shows the secrets reached the steps."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

from tabular_mlops.core.params import Params
from tests import team_servers
from tests.team_servers import RunningTeam
from tests.workflows.act_run import assert_collects
from tests.workflows.conftest import Fork
from tests.workflows.settings import team_settings

PUSH = {"ref": "refs/heads/main", "repository": {"default_branch": "main"}}


#: The session's team, shared with the team folder's modules; this module's DVC remote is a
#: folder of its own in the shared bucket.
shared_team = team_servers.shared_team
team = team_servers.team


def bucket(team: RunningTeam) -> tuple[Any, str, str]:
    """An S3 client with the team's keys, the DVC remote's bucket and its prefix."""
    import boto3

    remote = urlparse(team.env["DVC_REMOTE_URL"])
    client = boto3.client(
        "s3",
        endpoint_url=team.env["AWS_ENDPOINT_URL"],
        region_name=team.env["AWS_DEFAULT_REGION"],
        aws_access_key_id=team.env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=team.env["AWS_SECRET_ACCESS_KEY"],
    )
    return client, remote.netloc, remote.path.strip("/")


def remote_keys(team: RunningTeam) -> set[str]:
    """Every object under the DVC remote's prefix, relative to it."""
    client, name, prefix = bucket(team)
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=name, Prefix=f"{prefix}/")
    keys = [item["Key"] for page in pages for item in page.get("Contents", [])]
    return {key.removeprefix(f"{prefix}/") for key in keys}


def test_ci_on_main_logs_to_the_team_server_and_pushes_the_run_cache(
    fork: Fork, team: RunningTeam, params: Params
) -> None:
    variables, secrets = team_settings(team.env)
    before = remote_keys(team)
    run = fork.act("push", "ci.yml", PUSH, variables=variables, secrets=secrets, timeout=1500)
    assert run.returncode == 0, run.failure_summary()
    assert_collects(run, "Unit and data tests", fork.path, "tests/unit", "tests/data")
    assert_collects(run, "Model tests", fork.path, "tests/model")
    assert run.step_succeeded(
        "Push the DVC cache and run-cache (main only, when a remote is configured)"
    )

    client = team.client()
    experiment = client.get_experiment_by_name(params.track.experiment)
    assert experiment is not None, "CI logged no experiment on the team's server"
    commit = fork.git("rev-parse", "HEAD")
    [logged] = [
        found
        for found in client.search_runs([experiment.experiment_id])
        if found.data.tags.get("git.commit") == commit
    ]
    assert logged.info.status == "FINISHED"
    versions = client.search_model_versions(f"name = '{params.track.registered_model}'")
    assert logged.info.run_id in {version.run_id for version in versions}

    pushed = remote_keys(team) - before
    assert any(key.startswith("runs/") for key in pushed), sorted(pushed)
    assert any(key.startswith("files/md5/") for key in pushed), sorted(pushed)
