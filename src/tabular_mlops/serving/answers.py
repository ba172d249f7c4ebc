"""What the service answers for the task's scores, the same in responses and the prediction log.

    binary      one record {"probability": p}        a batch {"probabilities": [p, ...]}
    multiclass  {"label": top, "probabilities": {label: p, ...}}
                a batch {"labels": [top, ...], "probabilities": [{label: p, ...}, ...]}
    regression  {"prediction": v}                    a batch {"predictions": [v, ...]}

Labels are the configured class names (as text, in model-code order), so
`probabilities[label]` always finds the top label's probability.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tabular_mlops.core.task import Task


def per_record(task: Task, labels: tuple[str, ...], scores: np.ndarray) -> list[dict[str, Any]]:
    """One answer per scored record: a single request's fields, and each log line's."""
    if task == "binary":
        return [{"probability": p} for p in scores.tolist()]
    if task == "regression":
        return [{"prediction": v} for v in scores.tolist()]
    tops = scores.argmax(axis=1).tolist()
    return [
        {"label": labels[top], "probabilities": dict(zip(labels, row, strict=True))}
        for top, row in zip(tops, scores.tolist(), strict=True)
    ]


def batch(task: Task, answers: list[dict[str, Any]], scores: np.ndarray) -> dict[str, Any]:
    """A batch request's fields, from the per-record answers."""
    if task == "binary":
        return {"probabilities": scores.tolist()}
    if task == "regression":
        return {"predictions": scores.tolist()}
    return {
        "labels": [answer["label"] for answer in answers],
        "probabilities": [answer["probabilities"] for answer in answers],
    }
