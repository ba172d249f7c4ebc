"""Linear models as one matrix product: LogisticRegression (sigmoid for two classes, softmax
for more) and Ridge (the value itself), with sklearn's own shapes so the product is the same
BLAS call sklearn makes, minus its per-call input validation."""

from __future__ import annotations

from typing import Any

import numpy as np


class CompiledLinear:
    """X @ coef.T + intercept, then the classifier's link."""

    def __init__(self, model: Any, classifier: bool) -> None:
        self.sklearn = model.predict_proba if classifier else model.predict
        self.classifier = classifier
        self.n_features = model.n_features_in_
        self.coef = np.asarray(model.coef_, dtype=np.float64)
        self.coef_t = self.coef.T if self.coef.ndim == 2 else self.coef
        self.intercept = np.asarray(model.intercept_, dtype=np.float64)
        self.binary = classifier and len(model.classes_) <= 2
        from scipy.special import expit
        from sklearn.utils.extmath import softmax

        self.expit, self.softmax = expit, softmax

    def scores(self, features: np.ndarray) -> np.ndarray:
        """Class probabilities (rows, classes), or predicted values (rows,)."""
        if np.isnan(features).any():
            return self.sklearn(features)
        decision = features @ self.coef_t + self.intercept
        if not self.classifier:
            return decision
        if self.binary:
            positive = self.expit(decision.reshape(-1))
            return np.stack([1 - positive, positive], axis=1)
        return self.softmax(decision, copy=False)


def compile_estimator(estimator: Any) -> CompiledLinear | None:
    """The compiled form of a linear model, or None when the estimator is not one."""
    from sklearn.linear_model import LogisticRegression, Ridge

    kind = type(estimator)
    if kind is LogisticRegression:
        return CompiledLinear(estimator, classifier=True)
    if kind is Ridge:
        return CompiledLinear(estimator, classifier=False)
    return None
