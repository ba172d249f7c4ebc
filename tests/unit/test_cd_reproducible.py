"""Every model family trains to the same bytes from the same data and seed, whatever the number
of threads: what lets `make reviewed-model` prove a rebuilt model is the one dvc.lock records."""

from __future__ import annotations

from pathlib import Path

import joblib
import pytest
from threadpoolctl import threadpool_limits

from tabular_mlops.core.lineage import file_md5
from tabular_mlops.stages.prepare import clean
from tabular_mlops.stages.train import fit
from tests.serve.synthetic import FAMILIES, train_params


@pytest.mark.parametrize("family", FAMILIES)
def test_a_family_trains_to_the_same_bytes_on_any_thread_count(
    params, sample_frame, family, tmp_path: Path
) -> None:
    frame = clean(sample_frame, params.data)
    digests = set()
    for run, threads in enumerate((1, 3, 3)):
        with threadpool_limits(limits=threads, user_api="openmp"):
            model = fit(frame, params.data, train_params(family))
        joblib.dump(model, tmp_path / f"{run}.pkl")
        digests.add(file_md5(tmp_path / f"{run}.pkl"))
    assert len(digests) == 1
