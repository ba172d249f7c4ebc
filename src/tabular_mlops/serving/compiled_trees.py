"""Tree ensembles as flat arrays: random forests (leaf probabilities or means) and histogram
gradient boosting (leaf values summed onto the baseline, then the loss's inverse link).

Every tree of an ensemble is laid end to end in one set of node arrays, leaves pointing to
themselves, so a few rows walk all the trees at once in `depth` vectorised steps instead of one
Cython call per tree. Comparisons and sums follow sklearn's own order (see each class).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tabular_mlops.serving.compiled import Unsupported

#: Above this many rows, sklearn's Cython traversal beats the vectorised numpy one.
SMALL_BATCH = 64
#: A single row's walk sets finished trees aside every this many steps.
COMPACT_EVERY = 4


class FlatTrees:
    """Node arrays of many trees, concatenated; `leaves` gives each tree's leaf for each row."""

    def __init__(
        self,
        sizes: list[int],
        left: list[np.ndarray],
        right: list[np.ndarray],
        is_leaf: list[np.ndarray],
        feature: list[np.ndarray],
        threshold: list[np.ndarray],
        depth: int,
        missing_left: list[np.ndarray] | None = None,
    ) -> None:
        offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.intp)
        own = [np.arange(size) + offset for size, offset in zip(sizes, offsets, strict=True)]

        def children(kids: list[np.ndarray]) -> np.ndarray:
            parts = zip(is_leaf, own, kids, offsets, strict=True)
            return np.concatenate([np.where(leaf, me, k + o) for leaf, me, k, o in parts])

        self.roots = offsets
        #: Node i's children at 2i (right) and 2i + 1 (left): one gather per step picks the next.
        self.child = np.empty(2 * sum(sizes), dtype=np.intp)
        self.child[0::2] = children(right)
        self.child[1::2] = children(left)
        self.feature = np.concatenate(
            [np.where(leaf, 0, f) for leaf, f in zip(is_leaf, feature, strict=True)]
        ).astype(np.intp)
        self.threshold = np.concatenate(threshold).astype(np.float64)
        self.missing_left = None if missing_left is None else np.concatenate(missing_left)
        self.is_leaf = np.concatenate(is_leaf).astype(bool)
        self.depth = depth

    def leaves(self, inputs: np.ndarray) -> np.ndarray:
        """(trees, rows) leaf indices; a value goes left when `<=` the threshold, a NaN where the
        split sent missing values in training."""
        rows, width = inputs.shape
        values = np.ascontiguousarray(inputs).ravel()
        missing = self.missing_left is not None and bool(np.isnan(values).any())
        if rows == 1:
            return self._leaves_of_one(values, missing)[:, np.newaxis]
        starts = np.arange(rows) * width
        node = np.repeat(self.roots[:, np.newaxis], rows, axis=1)
        for _ in range(self.depth):
            node = self._step(node, values, self.feature.take(node) + starts, missing)
        return node

    def _leaves_of_one(self, values: np.ndarray, missing: bool) -> np.ndarray:
        """One row: every few steps the trees already at a leaf are set aside, so the deep,
        unbalanced trees of a boosted model walk on alone (about twice as fast as all at once)."""
        node = self.roots.copy()
        place = np.arange(len(node))
        active = node
        for step in range(self.depth):
            active = self._step(active, values, self.feature.take(active), missing)
            if step % COMPACT_EVERY == COMPACT_EVERY - 1:
                node[place] = active
                walking = ~self.is_leaf.take(active)
                if not walking.any():
                    return node
                place, active = place[walking], active[walking]
        node[place] = active
        return node

    def _step(
        self, node: np.ndarray, values: np.ndarray, where: np.ndarray, missing: bool
    ) -> np.ndarray:
        value = values.take(where)
        goes_left = value <= self.threshold.take(node)
        if missing:
            goes_left = np.where(np.isnan(value), self.missing_left.take(node), goes_left)
        return self.child.take(node * 2 + goes_left)


class CompiledForest:
    """RandomForestClassifier (per-class leaf probabilities) or RandomForestRegressor (leaf
    means): float32 inputs against float64 thresholds, leaf values summed tree by tree, divided by
    the number of trees."""

    def __init__(self, forest: Any, classifier: bool) -> None:
        if forest.n_outputs_ != 1:
            raise Unsupported("a multi-output forest")
        self.classifier = classifier
        self.n_features = forest.n_features_in_
        self.sklearn = forest.predict_proba if classifier else forest.predict
        self.trees = [estimator.tree_ for estimator in forest.estimators_]
        values = []
        for tree in self.trees:
            value = tree.value[:, 0, :].copy()
            if classifier:
                normalizer = value.sum(axis=1)[:, np.newaxis]
                normalizer[normalizer == 0.0] = 1.0
                values.append(value / normalizer)
            else:
                values.append(value[:, 0])
        self.leaf_value = np.concatenate(values)
        self.n_trees = len(self.trees)
        self.flat = FlatTrees(
            [tree.node_count for tree in self.trees],
            [tree.children_left for tree in self.trees],
            [tree.children_right for tree in self.trees],
            [tree.children_left == -1 for tree in self.trees],
            [tree.feature for tree in self.trees],
            [tree.threshold for tree in self.trees],
            max(tree.max_depth for tree in self.trees),
        )

    def scores(self, features: np.ndarray) -> np.ndarray:
        """Class probabilities (rows, classes), or predicted values (rows,)."""
        if np.isnan(features).any():
            return self.sklearn(features)
        if len(features) > SMALL_BATCH:
            inputs = np.ascontiguousarray(features, dtype=np.float32)
            total = np.zeros((len(features), *self.leaf_value.shape[1:]))
            for tree, root in zip(self.trees, self.flat.roots, strict=True):
                total += self.leaf_value[tree.apply(inputs) + root]
            return total / len(self.trees)
        node = self.flat.leaves(features.astype(np.float32).astype(np.float64))
        return np.cumsum(self.leaf_value.take(node, axis=0), axis=0)[-1] / self.n_trees


class CompiledBoosting:
    """HistGradientBoostingClassifier/Regressor without native categorical splits: float64
    inputs, the baseline plus every iteration's leaf value in turn (one tree per class and
    iteration), then the model's own loss turns raw values into probabilities or predictions."""

    def __init__(self, model: Any, classifier: bool) -> None:
        categorical = model.is_categorical_
        if model._preprocessor is not None or (categorical is not None and categorical.any()):
            raise Unsupported("native categorical features")
        self.model = model
        self.classifier = classifier
        self.n_features = model.n_features_in_
        self.per_iteration = model.n_trees_per_iteration_
        self.iterations = len(model._predictors)
        self.baseline = np.asarray(model._baseline_prediction, dtype=np.float64).reshape(-1)
        nodes = [predictor.nodes for iteration in model._predictors for predictor in iteration]
        if any(n["is_categorical"].any() for n in nodes):
            raise Unsupported("a categorical split")
        self.value = np.concatenate([n["value"] for n in nodes]).astype(np.float64)
        self.flat = FlatTrees(
            [len(n) for n in nodes],
            [n["left"].astype(np.intp) for n in nodes],
            [n["right"].astype(np.intp) for n in nodes],
            [n["is_leaf"].astype(bool) for n in nodes],
            [n["feature_idx"] for n in nodes],
            [n["num_threshold"] for n in nodes],
            int(max(n["depth"].max() for n in nodes)),
            [n["missing_go_to_left"].astype(bool) for n in nodes],
        )

    def scores(self, features: np.ndarray) -> np.ndarray:
        """Class probabilities (rows, classes), or predicted values (rows,)."""
        if len(features) > SMALL_BATCH:
            if self.classifier:
                return self.model.predict_proba(features)
            return self.model.predict(features)
        rows = len(features)
        steps = self.value.take(self.flat.leaves(features)).reshape(
            self.iterations, self.per_iteration, rows
        )
        start = np.broadcast_to(self.baseline[np.newaxis, :, np.newaxis], (1, *steps.shape[1:]))
        raw = np.cumsum(np.concatenate([start, steps]), axis=0)[-1].T
        if self.classifier:
            return self.model._loss.predict_proba(np.asfortranarray(raw))
        return self.model._loss.link.inverse(raw.ravel())


def compile_estimator(estimator: Any) -> CompiledForest | CompiledBoosting | None:
    """The compiled form of a tree ensemble, or None when the estimator is none of these."""
    from sklearn.ensemble import (
        HistGradientBoostingClassifier,
        HistGradientBoostingRegressor,
        RandomForestClassifier,
        RandomForestRegressor,
    )

    kind = type(estimator)
    if kind in (RandomForestClassifier, RandomForestRegressor):
        return CompiledForest(estimator, classifier=kind is RandomForestClassifier)
    if kind in (HistGradientBoostingClassifier, HistGradientBoostingRegressor):
        return CompiledBoosting(estimator, classifier=kind is HistGradientBoostingClassifier)
    return None
