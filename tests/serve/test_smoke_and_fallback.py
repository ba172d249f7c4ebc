"""`make smoke` against the scratch champion, and the pipeline fallback of the fast path."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from tabular_mlops.serving.compiled import compile_checked
from tabular_mlops.serving.model import ServedModel, build_features, contract_nullable
from tabular_mlops.stages.train import fit
from tests.serve.conftest import IDS, NAME, ROOT


def smoke(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tabular_mlops.serving.smoke", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=180,
        cwd=ROOT,
    )


@pytest.mark.pipeline
def test_smoke_passes_against_the_champion(store_env) -> None:
    done = smoke(store_env)
    assert done.returncode == 0, done.stderr
    assert "smoke: the service answered" in done.stdout


@pytest.mark.pipeline
def test_smoke_fails_when_there_is_no_champion(store_env) -> None:
    uri = f"models:/{NAME}@nosuch"
    done = smoke({**store_env, "MODEL_URI": uri})
    assert done.returncode == 2
    assert uri in done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith("error: ")


@pytest.mark.parametrize("model", ["logistic_regression", "hist_gradient_boosting"])
def test_other_models_are_served_through_the_pipeline_itself(params, sample_frame, model) -> None:
    from dataclasses import replace

    from tabular_mlops.stages.prepare import clean

    frame = clean(sample_frame, params.data).drop(columns=IDS)
    pipeline = fit(frame, params.data, replace(params.train, model=model, n_estimators=10))
    features = build_features(
        list(params.data.numeric),
        list(params.data.categorical),
        pipeline,
        contract_nullable(params.data),
    )
    assert compile_checked(pipeline, features) is None
    served = ServedModel(pipeline=pipeline, features=features, info={"model_version": "x"})
    columns = {f.name: frame[f.name].tolist() for f in features}
    expected = pipeline.predict_proba(pd.DataFrame(columns))[:, 1]
    np.testing.assert_array_equal(served.predict(columns), expected)


def test_a_small_forest_compiles_and_matches_its_pipeline(params, sample_frame) -> None:
    from dataclasses import replace

    from tabular_mlops.stages.prepare import clean

    frame = clean(sample_frame, params.data).drop(columns=IDS)
    pipeline = fit(frame, params.data, replace(params.train, n_estimators=15))
    features = build_features(
        list(params.data.numeric),
        list(params.data.categorical),
        pipeline,
        contract_nullable(params.data),
    )
    compiled = compile_checked(pipeline, features)
    assert compiled is not None
    columns = {f.name: frame[f.name].tolist() for f in features}
    np.testing.assert_allclose(
        compiled.predict(columns), pipeline.predict_proba(frame)[:, 1], rtol=0, atol=1e-12
    )


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
