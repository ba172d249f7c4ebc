"""Metric names MLflow accepts, whatever labels or slice values a fork's data has."""

from __future__ import annotations

from mlflow import MlflowClient
from mlflow.entities import Metric

from tabular_mlops.stages.track import numeric_metrics


def test_labels_and_slice_values_become_metric_names_mlflow_accepts(tmp_path) -> None:
    metrics = {
        "accuracy": 0.8,
        "per_class": {"<=50K": {"recall": 0.5}, "a+b (x)": {"precision": 1}},
        "baseline": {"accuracy": 0.5},
        "confusion": {"note": "text is not a metric"},
    }
    flat = numeric_metrics(metrics)
    assert flat == {
        "accuracy": 0.8,
        "per_class.__50K.recall": 0.5,
        "per_class.a_b _x_.precision": 1.0,
        "baseline.accuracy": 0.5,
    }
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    run = client.create_run(client.create_experiment("names"))
    client.log_batch(
        run.info.run_id, metrics=[Metric(name, value, 0, 0) for name, value in flat.items()]
    )
    assert client.get_run(run.info.run_id).data.metrics == flat


def test_the_input_schema_types_a_category_empty_in_the_example_rows(params) -> None:
    import pandas as pd

    from tabular_mlops.stages.track import INPUT_EXAMPLE_ROWS, input_schema

    data = params.data
    rows = INPUT_EXAMPLE_ROWS + 3
    train = pd.DataFrame(
        {
            "amount": [1.5] * rows,
            "kind": [None] * INPUT_EXAMPLE_ROWS + ["a", "b", None],
            data.target: [0] * rows,
        }
    )
    schema = input_schema(train, params)
    assert [(c.name, c.type.name) for c in schema.inputs] == [
        ("amount", "double"),
        ("kind", "string"),
    ]
