"""`make register`: the registry version that holds the reviewed model's exact bytes, found or made.

Deploy gates, bundles and releases a registry version, so it must be the version whose model file
is byte-identical to the reviewed one. The track stage tags every version it registers with the
file's md5 (`model.md5`): the newest version of track.registered_model with that tag, from a
finished run, is the one. When there is none (another store, or the model was pulled rather than
trained here), the track stage's own logging registers the local files now. Either way
paths.run_info names the version, so `make promote` gates it (ct/registry.pinned) and
`make bundle` ships it.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from tabular_mlops.core.errors import PipelineError, exits_cleanly
from tabular_mlops.core.github import set_outputs
from tabular_mlops.core.io import write_json
from tabular_mlops.core.lineage import MD5_TAG, file_md5, tracking_uri
from tabular_mlops.core.params import Params, load_params
from tabular_mlops.ct import registry
from tabular_mlops.stages import track

FINISHED = "FINISHED"


def find_version(client: Any, name: str, md5: str) -> Any | None:
    """The newest version of `name` tagged `model.md5` = md5 whose run finished, or None (a
    version of a run still RUNNING may be a dead track's, which the next repair removes)."""
    try:
        found = client.search_model_versions(f"name = '{name}' and tags.`{MD5_TAG}` = '{md5}'")
    except Exception as err:
        if getattr(err, "error_code", "") == "RESOURCE_DOES_NOT_EXIST":
            return None
        raise registry.registry_error(err) from None
    tagged = [v for v in found if (v.tags or {}).get(MD5_TAG) == md5]
    for version in sorted(tagged, key=lambda v: int(v.version), reverse=True):
        try:
            status = client.get_run(version.run_id).info.status if version.run_id else None
        except Exception as err:
            raise registry.registry_error(err) from None
        if status == FINISHED:
            return version
    return None


def run_info(client: Any, version: Any, md5: str) -> dict[str, str]:
    """What the track stage writes to paths.run_info, for a version it registered earlier."""
    try:
        experiment_id = client.get_run(version.run_id).info.experiment_id
    except Exception as err:
        raise registry.registry_error(err) from None
    name, number = version.name, str(version.version)
    return {
        "run_id": version.run_id,
        "experiment_id": experiment_id,
        "model_uri": version.source,
        "tracking_uri": tracking_uri(),
        "registered_model": name,
        "model_version": number,
        "registry_uri": f"models:/{name}/{number}",
        "model_md5": md5,
    }


def register(params: Params) -> tuple[dict[str, str], bool]:
    """The run info of the version holding paths.model's bytes, and whether it was found."""
    model = Path(params.paths.model)
    if not model.is_file():
        raise PipelineError(f"{model}: model file not found (run `make reviewed-model`)")
    md5 = file_md5(model)
    client = registry.connect()
    found = find_version(client, params.track.registered_model, md5)
    if found is not None:
        return run_info(client, found, md5), True
    info = track.track(params)
    if info["model_md5"] != md5:
        raise PipelineError(f"{model}: changed while it was being registered; run again")
    return info, False


@exits_cleanly
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml")
    args = parser.parse_args(argv)
    params = load_params(args.params)
    info, found = register(params)
    write_json(params.paths.run_info, info)
    set_outputs(version=info["model_version"], md5=info["model_md5"])
    how = "found" if found else "registered now, none held these bytes"
    print(
        f"register: {params.paths.model} (md5 {info['model_md5']}) is "
        f"{info['registered_model']} version {info['model_version']} in {info['tracking_uri']} "
        f"({how}); {params.paths.run_info} names it"
    )


if __name__ == "__main__":
    main()
