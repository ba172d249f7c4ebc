"""The S3-compatible object store of the stand-in: moto's server, with its IAM checks on.

moto accepts any key until `INITIAL_NO_AUTH_ACTION_COUNT` requests have been served; the first
three create the team's user, its access key and its policy, and from then on a wrong key is
refused as real S3 would refuse it. moto keeps objects in memory: they last as long as it runs.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from tabular_mlops.team.processes import Started, port_answers, spawn, wait_until
from tabular_mlops.team.state import ARTIFACT_BUCKET, DVC_BUCKET, REGION, Team

BOOTSTRAP_ACTIONS = 3
TEAM_USER = "team"
ALLOW_ALL = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
}


def start(team: Team, env: dict[str, str]) -> Started:
    port = team.services["s3"].port
    log = team.logs / "s3.log"
    process = spawn(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        log,
        env | {"INITIAL_NO_AUTH_ACTION_COUNT": str(BOOTSTRAP_ACTIONS)},
    )
    wait_until(lambda: port_answers(port), "the object store (moto)", process, log, 60)
    _bootstrap(team)
    return process


def _client(team: Team, service: str, key: str, secret: str) -> Any:
    import boto3

    return boto3.client(
        service,
        endpoint_url=team.s3_endpoint(),
        region_name=REGION,
        aws_access_key_id=key,
        aws_secret_access_key=secret,
    )


def _bootstrap(team: Team) -> None:
    iam = _client(team, "iam", "bootstrap", "bootstrap")
    iam.create_user(UserName=TEAM_USER)
    key = iam.create_access_key(UserName=TEAM_USER)["AccessKey"]
    iam.put_user_policy(UserName=TEAM_USER, PolicyName="team", PolicyDocument=json.dumps(ALLOW_ALL))
    team.s3_key_id, team.s3_secret = key["AccessKeyId"], key["SecretAccessKey"]
    s3 = client(team)
    for bucket in (DVC_BUCKET, ARTIFACT_BUCKET):
        s3.create_bucket(Bucket=bucket)


def client(team: Team) -> Any:
    """An S3 client with the team's key."""
    return _client(team, "s3", team.s3_key_id, team.s3_secret)


def buckets(team: Team) -> list[str]:
    return sorted(bucket["Name"] for bucket in client(team).list_buckets()["Buckets"])
