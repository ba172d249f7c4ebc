"""Stage `validate`: check the raw extract against the data contract before anything trusts it.

The contract is a Great Expectations 1.x suite (core/contract.py) run by core/validation.py. The
report and the Data Docs are written even when the data fails; main() then exits non-zero and
`dvc repro` stops before prepare and train.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from tabular_mlops.core.contract import build_suite
from tabular_mlops.core.errors import PipelineError, exits_cleanly
from tabular_mlops.core.io import write_json
from tabular_mlops.core.params import load_params
from tabular_mlops.core.validation import ContractResult, guard, read_extract, run_suite


@exits_cleanly
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument(
        "--csv", "--data", dest="csv", help="CSV to check (default: paths.raw, the stage's run)"
    )
    parser.add_argument("--out", help="JSON report (default: paths.validation for paths.raw)")
    parser.add_argument("--docs", help="Data Docs folder (default: paths.data_docs for paths.raw)")
    args = parser.parse_args(argv)
    params = load_params(Path(args.params))
    stage_run = args.csv is None
    source = Path(args.csv or params.paths.raw)
    out = args.out or (params.paths.validation if stage_run else None)
    docs = args.docs or (params.paths.data_docs if stage_run else None)
    try:
        frame = read_extract(source)
    except PipelineError as err:
        if docs:
            shutil.rmtree(docs, ignore_errors=True)
        if out:
            unreadable = guard("readable CSV", str(err), "the file must parse as the extract")
            summary = ContractResult(0, 0, 0, 0, (unreadable,)).summary()
            write_json(out, {"source": str(source), **summary})
        raise
    result = run_suite(frame, build_suite(params), Path(docs) if docs else None, source.name)
    if out:
        write_json(out, {"source": str(source), **result.summary()})
    for line in result.lines():
        print(f"{source}: {line}", file=sys.stderr)
    where = f"; Data Docs: {Path(docs) / 'index.html'}" if docs else ""
    if not result.success:
        raise PipelineError(
            f"{source}: {result.summary()['critical_failed']} critical expectation(s) of the "
            f"data contract failed{where}"
        )
    print(
        f"{source}: {result.passed} of {result.evaluated} expectations passed on {result.rows} "
        f"rows ({result.summary()['warning_failed']} warning(s)){where}"
    )


if __name__ == "__main__":
    main()
