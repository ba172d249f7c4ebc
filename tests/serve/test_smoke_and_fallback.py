"""`make smoke` against the scratch champion, and the fast path of every family on the configured
data (the pipeline serves where the fast path is not used)."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from tabular_mlops.core.task import model_scores
from tabular_mlops.serving.compiled import TOLERANCE, compile_checked
from tabular_mlops.serving.model import ServedModel, build_features, contract_nullable
from tabular_mlops.stages.train import fit
from tests.e2e.warm_client import SOCKET_ENV, python_of
from tests.serve.conftest import IDS, NAME, ROOT
from tests.serve.synthetic import FAMILIES, train_params


def smoke(
    env: dict[str, str], warm: dict[str, str], *args: str
) -> subprocess.CompletedProcess[str]:
    """`python -m tabular_mlops.serving.smoke` started warm (tests/e2e/warm.py), so the service
    it starts with its own interpreter starts warm too."""
    return subprocess.run(
        [python_of(warm), "-m", "tabular_mlops.serving.smoke", *args],
        env={**os.environ, **env, SOCKET_ENV: warm[SOCKET_ENV]},
        capture_output=True,
        text=True,
        timeout=180,
        cwd=ROOT,
    )


@pytest.mark.pipeline
def test_smoke_passes_against_the_champion(store_env, warm_python) -> None:
    done = smoke(store_env, warm_python)
    assert done.returncode == 0, done.stderr
    assert "smoke: the service answered" in done.stdout


@pytest.mark.pipeline
def test_smoke_fails_when_there_is_no_champion(store_env, warm_python) -> None:
    uri = f"models:/{NAME}@nosuch"
    done = smoke({**store_env, "MODEL_URI": uri}, warm_python)
    assert done.returncode == 2
    assert uri in done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith("error: ")


@pytest.mark.parametrize("family", FAMILIES)
def test_every_family_compiles_on_the_configured_data(params, sample_frame, family) -> None:
    """A small model of each family, fitted on a sample of the configured data for its task,
    is served through the compiled path with the pipeline's own scores."""
    from tabular_mlops.stages.prepare import clean

    frame = clean(sample_frame, params.data).drop(columns=IDS)
    pipeline = fit(frame, params.data, train_params(family))
    features = build_features(
        list(params.data.numeric),
        list(params.data.categorical),
        pipeline,
        contract_nullable(params.data),
    )
    task = params.data.task
    compiled = compile_checked(pipeline, features, task)
    assert compiled is not None
    columns = {f.name: frame[f.name].tolist() for f in features}
    expected = model_scores(pipeline, frame, task)
    np.testing.assert_allclose(compiled.predict(columns), expected, rtol=TOLERANCE, atol=TOLERANCE)
    served = ServedModel(pipeline=pipeline, features=features, info={}, task=task)
    np.testing.assert_allclose(served.predict(columns), expected, rtol=TOLERANCE, atol=TOLERANCE)


def test_importing_the_service_loads_neither_mlflow_nor_great_expectations() -> None:
    """MLflow is imported only when the model comes from the registry; GX never."""
    code = (
        "import sys, tabular_mlops.serving.app; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'mlflow', 'great_expectations'}))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
    )
    assert done.stdout.strip() == "[]"
