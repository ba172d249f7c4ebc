"""`make set-floors`: set each gated metric's floor to the measured value minus a stated margin.

After the first `make repro`, the drafted floors (beat the baseline) are far below what the model
does; a floor just under the measured metrics catches a real regression even without a champion.
Higher-is-better metrics get `value - margin` rounded down, lower-is-better ones `value + margin`
rounded up (to 0.001, never below 0), so the model that was measured always passes. Errors in the
target's units (a regression's rmse and mae) take the margin as a share instead: `value * (1 +
margin)`, rounded up to three significant digits, as 0.02 means nothing to a price in dollars.

Only the floor values change: the rest of params.yaml, comments included, stays byte-identical.
"""

from __future__ import annotations

import argparse
import math
import re
from pathlib import Path
from typing import Any

import yaml

from tabular_mlops.core.errors import PipelineError, exits_cleanly
from tabular_mlops.core.io import atomic_path, read_json
from tabular_mlops.core.params import DEFAULT_PARAMS, read_yaml

_KEY = re.compile(r"^(\s*)([^\s#:][^:#]*?)\s*:(\s|$)")
_FLOW_FLOOR = re.compile(r"(\bfloor\s*:\s*)([^,}\s#]+)")
_BLOCK_VALUE = re.compile(r"^(\s*floor\s*:\s*)([^\s#]+)")
#: Metrics in the target's own units, whose margin is relative (see the module docstring).
IN_TARGET_UNITS = frozenset({"rmse", "mae"})


def new_floor(value: float, direction: str, margin: float, *, relative: bool = False) -> float:
    if relative:
        return _round_sig(value * (1 + margin) if direction == "lower" else value * (1 - margin))
    if direction == "higher":
        floor = math.floor(round((value - margin) * 1000, 6)) / 1000
    else:
        floor = math.ceil(round((value + margin) * 1000, 6)) / 1000
    return max(0.0, floor)


def floors_from(
    metrics: dict[str, Any], gates: dict[str, Any], margin: float, source: str
) -> dict[str, float]:
    """The new floor of every gated metric, or one error naming the metric metrics.json lacks."""
    floors = {}
    for name, gate in gates.items():
        value = metrics.get(name)
        if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
            raise PipelineError(
                f"{source}: no number for '{name}' (gated in gates.metrics): run `make repro`"
            )
        relative = name in IN_TARGET_UNITS
        floors[name] = new_floor(float(value), gate["direction"], margin, relative=relative)
    return floors


def _round_sig(value: float, digits: int = 3) -> float:
    """Away from the model: up for errors (lower is better), at `digits` significant digits."""
    if value <= 0:
        return 0.0
    scale = 10.0 ** (math.floor(math.log10(value)) - digits + 1)
    return round(math.ceil(round(value / scale, 6)) * scale, max(0, -math.floor(math.log10(scale))))


def set_floors(text: str, floors: dict[str, float], source: str) -> str:
    """`text` with `gates.metrics.<m>.floor` set to `floors[m]`; every other byte kept."""
    lines = text.splitlines(keepends=True)
    stack: list[tuple[int, str]] = []
    done = set()
    for number, line in enumerate(lines):
        match = _KEY.match(line)
        if not match:
            continue
        indent, key = len(match.group(1)), match.group(2).strip("'\"")
        while stack and stack[-1][0] >= indent:
            stack.pop()
        stack.append((indent, key))
        path = [k for _, k in stack]
        if path[:2] != ["gates", "metrics"] or len(path) < 3 or path[2] not in floors:
            continue
        if len(path) == 3 and "{" in line:
            found = _FLOW_FLOOR.search(line)
        elif path[3:] == ["floor"]:
            found = _BLOCK_VALUE.search(line)
        else:
            continue
        if found:
            shown = _format(floors[path[2]])
            lines[number] = line[: found.start(2)] + shown + line[found.end(2) :]
            done.add(path[2])
    missing = sorted(set(floors) - done)
    if missing:
        raise PipelineError(f"{source}: cannot find gates.metrics.{missing[0]}.floor to edit")
    result = "".join(lines)
    written = yaml.safe_load(result)["gates"]["metrics"]
    if any(written[name]["floor"] != floor for name, floor in floors.items()):
        raise PipelineError(f"{source}: gates.metrics is laid out in a way set-floors cannot edit")
    return result


def _format(value: float) -> str:
    text = f"{value:.6f}".rstrip("0")
    return text + "0" if text.endswith(".") else text


def parse_margin(text: str) -> float:
    try:
        margin = float(text)
    except ValueError:
        margin = math.nan
    if not margin >= 0:
        raise PipelineError(f"MARGIN={text!r}: expected a number >= 0, e.g. 0.02")
    return margin


@exits_cleanly
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default=str(DEFAULT_PARAMS))
    parser.add_argument("--metrics", default=None, help="default: the params' paths.metrics")
    parser.add_argument("--margin", default="0.02")
    args = parser.parse_args(argv)
    params = Path(args.params)
    margin = parse_margin(args.margin)
    raw = read_yaml(params)
    gates = (raw.get("gates") or {}).get("metrics") or {}
    if not isinstance(gates, dict) or not gates:
        raise PipelineError(f"{params}: no gates.metrics to set floors for")
    source = Path(args.metrics or (raw.get("paths") or {}).get("metrics") or "metrics/metrics.json")
    metrics = read_json(source)
    if not isinstance(metrics, dict):
        raise PipelineError(f"{source}: expected a mapping of metric names to values")
    floors = floors_from(metrics, gates, margin, str(source))
    text = params.read_bytes().decode("utf-8")
    edited = set_floors(text, floors, str(params))
    if edited != text:
        with atomic_path(params) as tmp:
            tmp.write_bytes(edited.encode("utf-8"))
    for name, floor in floors.items():
        old = gates[name].get("floor")
        old = "null" if old is None else old
        sign = "-" if gates[name]["direction"] == "higher" else "+"
        shown = f"{margin:.0%}" if name in IN_TARGET_UNITS else f"{margin:g}"
        print(
            f"set-floors: {name}: {old} -> {_format(floor)} "
            f"(measured {metrics[name]:.4g} {sign} {shown})"
        )
    print(f"set-floors: {params} {'updated' if edited != text else 'already had these floors'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
