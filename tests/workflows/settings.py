"""What a repository sets for its workflows, and how a test run with act is given it."""

from __future__ import annotations

#: What a team sets for the workflows: credentials as secrets of a GitHub environment, the
#: stores' locations as its variables (docs/team.md, "GitHub: environments, secrets, variables
#: and runners"); runners as repository variables, since `runs-on` is chosen before a job enters
#: its environment.
MLFLOW_CREDENTIALS = {"MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"}
DVC_CREDENTIALS = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}
LOCATIONS = {"MLFLOW_TRACKING_URI", "DVC_REMOTE_URL", "AWS_ENDPOINT_URL", "AWS_DEFAULT_REGION"}
RUNNERS = {"RUNNER", "TRAIN_RUNNER"}
#: A GitHub App the retraining pull request is opened with, so that its checks run: its id a
#: repository variable, its key a secret of the "retrain-pr" environment.
GITHUB_APP_KEY = {"RETRAIN_APP_PRIVATE_KEY"}
#: Switches: RETRAIN_APP_ID (above), PUBLISH_IMAGE ('false': build the image, do not push it).
OPTIONS = {"RETRAIN_APP_ID", "PUBLISH_IMAGE"}


def team_settings(values: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """A team's settings (as `.team.env` holds them) split as GitHub holds them: the variables
    and the secrets a run gets, for `Fork.act(variables=..., secrets=...)`."""
    unknown = set(values) - LOCATIONS - MLFLOW_CREDENTIALS - DVC_CREDENTIALS
    assert not unknown, f"no workflow reads {sorted(unknown)}"
    secrets = {key: value for key, value in values.items() if key not in LOCATIONS}
    return {key: values[key] for key in values.keys() & LOCATIONS}, secrets


def runner_labels(variables: dict[str, str]) -> set[str]:
    """The runners a run's jobs may ask for, each run on this machine: the labels RUNNER and
    TRAIN_RUNNER name, and GitHub's default only while one of them is unset. A job that asks for
    another label fails (act looks for Docker), so a run with both set shows the jobs obeyed."""
    named = {name: variables[name] for name in RUNNERS if variables.get(name)}
    return set(named.values()) | ({"ubuntu-latest"} if named.keys() < RUNNERS else set())
