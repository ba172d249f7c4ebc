"""README.md and every docs/*.md page must match the repository as it is: each `make` target,
repository path, relative link (and its anchor), params.yaml key and tree entry they name exists.
Each check is also shown to catch a planted mistake, so a check that stopped looking would fail."""

from __future__ import annotations

import dataclasses
import itertools
import re
import subprocess
import types
import typing
from collections.abc import Iterator
from functools import cache
from pathlib import Path

from markdown_it import MarkdownIt

from tabular_mlops.core.params import Params

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
MD = MarkdownIt("commonmark").enable("table")

#: Paths a command or the pipeline writes (absent from a fresh clone), and the docs' placeholder.
GENERATED = (
    *("metrics/", "plots/", "reports/", "models/", "dist/", "data/prepared/", "data/incoming"),
    *("data/quarantine", "data/batches.json.journal", "dvc.lock", "mlflow.db", "mlruns/"),
    *(".team", ".venv/", ".tools/", ".dvc/cache", ".dvc/tmp", ".dvc/config.local"),
    *("deploy/team/.env", "benchmarks/out/", "tests/render/node_modules", "reviewed-model/"),
    "path/to/",
)
#: Look like paths, name something else: media types, a branch.
NOT_PATHS = {"text/csv", "application/json", "retrain/scheduled"}
#: Look like params keys, are MLflow tags.
NOT_KEYS = {"data.raw.md5", "data.batches", "data.batches.count"}
EXTENSIONS = {"py", "md", "yaml", "yml", "json", "jsonl", "toml", "lock", "csv", "txt", "mjs"}
EXTENSIONS |= {"sh", "html", "pkl", "parquet", "db", "sql", "env", "example"}
PATH_LIKE = re.compile(r"^[\w.][\w./-]*$")
MAKE = re.compile(r"(?<![\w./$-])make ([a-z][\w-]*)")
TARGET = re.compile(r"^([A-Za-z0-9][\w-]*)\s*:(?!=)", re.MULTILINE)
SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*:")
OUTPUT = re.compile(r"^[\w.-]+: ")
TREE_CHARS = "│├└─ "
PIPE = re.compile(r"(?<!\\)\|")
DELIMITER_ROW = re.compile(r"^\s*\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*$")


def inline_children(text: str) -> Iterator:
    for token in MD.parse(text):
        if token.type == "inline":
            yield from token.children or []


def code_spans(text: str) -> list[str]:
    return [child.content for child in inline_children(text) if child.type == "code_inline"]


def fences(text: str) -> list[tuple[str, str]]:
    """(info, content) of each fenced code block."""
    return [(t.info.strip(), t.content) for t in MD.parse(text) if t.type == "fence"]


def links(text: str) -> list[str]:
    return [str(c.attrs["href"]) for c in inline_children(text) if c.type == "link_open"]


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lowercase, punctuation dropped but - and _, spaces to -."""
    return re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")


def anchors(text: str) -> set[str]:
    """Every heading's anchor, a repeated one numbered as GitHub numbers it (-1, -2, ...)."""
    found: set[str] = set()
    stream = MD.parse(text)
    for index, token in enumerate(stream):
        if token.type != "heading_open":
            continue
        words = "".join(c.content for c in stream[index + 1].children or [] if c.content)
        base = anchor = slug(words)
        for count in itertools.count(1):
            if anchor not in found:
                break
            anchor = f"{base}-{count}"
        found.add(anchor)
    return found


def section(text: str, heading: str) -> str:
    """The text under a `## heading`, up to the next heading of that level."""
    return text.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]


@cache
def tracked() -> tuple[str, ...]:
    listed = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout
    return tuple(listed.split())


@cache
def make_targets() -> frozenset[str]:
    return frozenset(TARGET.findall((ROOT / "Makefile").read_text(encoding="utf-8")))


def mentioned_targets(text: str) -> set[str]:
    """Targets of `make <target>` in inline code and in code blocks."""
    code = code_spans(text) + [content for _, content in fences(text)]
    return {target for snippet in code for target in MAKE.findall(snippet)}


def path_mentions(text: str) -> set[str]:
    """Words of inline code that look like a path: holding a `/`, or ending in a file extension.
    A span quoting a program's output (`ingest: repaired ...`) names no path to open."""
    spans = [span for span in code_spans(text) if not OUTPUT.match(span)]
    words = {word.rstrip(".,;:") for span in spans for word in span.split()}
    return {
        word
        for word in words
        if PATH_LIKE.match(word)
        and not word.startswith("-")
        and ("/" in word or ("." in word[1:] and word.rsplit(".", 1)[-1] in EXTENSIONS))
        and word not in NOT_PATHS
    }


def path_exists(path: str) -> bool:
    """At the root, or (a bare file name) as some tracked file's name."""
    if (ROOT / path).exists():
        return True
    return "/" not in path and any(name.rsplit("/", 1)[-1] == path for name in tracked())


def missing_paths(text: str) -> set[str]:
    return {
        path
        for path in path_mentions(text)
        if not path.startswith(GENERATED) and not path_exists(path)
    }


def has_anchor(path: Path, anchor: str) -> bool:
    return path.suffix == ".md" and anchor in anchors(path.read_text(encoding="utf-8"))


def broken_links(page: Path, text: str) -> set[str]:
    """Relative links whose file is missing, or whose anchor is no heading of that file."""
    broken = set()
    for href in links(text):
        if SCHEME.match(href):
            continue
        target, _, anchor = href.partition("#")
        if not target:
            broken |= {href} if anchor not in anchors(text) else set()
            continue
        path = (page.parent / target).resolve()
        found = path.exists() and path.is_relative_to(ROOT)
        if not found or (anchor and not has_anchor(path, anchor)):
            broken.add(href)
    return broken


def _inner(hint: object) -> object:
    """The dataclass or dict a field holds, through Optional, unions and tuples of cases."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType, tuple, list):
        for arg in typing.get_args(hint):
            inner = _inner(arg)
            if dataclasses.is_dataclass(inner) or inner is dict:
                return inner
    return dict if origin is dict else hint


def params_key_exists(key: str) -> bool:
    """A dotted key names fields of the params dataclasses; below a mapping the keys are data,
    and only there may a part be a placeholder (`gates.metrics.<metric>.floor`)."""
    node: object = Params
    for part in key.split("."):
        if node is dict:
            return True
        if part.startswith("<"):
            return False
        if not dataclasses.is_dataclass(node):
            return False
        hints = typing.get_type_hints(node)
        if part not in hints:
            return False
        node = _inner(hints[part])
    return True


def unknown_keys(text: str) -> set[str]:
    sections = {field.name for field in dataclasses.fields(Params)}
    words = {word.rstrip(".,;:") for span in code_spans(text) for word in span.split()}
    keys = {
        word
        for word in words
        if re.fullmatch(r"[a-z_]+(\.(\w+|<\w+>))+", word)
        and word.split(".", 1)[0] in sections
        and word.rsplit(".", 1)[-1] not in EXTENSIONS
        and word not in NOT_KEYS
    }
    return {key for key in keys if not params_key_exists(key)}


def tree_paths(text: str) -> list[str]:
    """Paths of the tree in a page's first code block, rebuilt from the box-drawing indentation."""
    block = fences(text)[0][1]
    stack: list[str] = []
    paths = []
    for line in block.splitlines()[1:]:
        if not line.strip():
            continue
        start = len(line) - len(line.lstrip(TREE_CHARS))
        depth = start // 4 - 1
        name = line[start:].split("  ", 1)[0].strip()
        stack = [*stack[:depth], name.rstrip("/")]
        paths.append("/".join(stack))
    return paths


def row_cells(line: str) -> int:
    """A table row's cells, split as GitHub splits them: at each pipe not escaped."""
    inner = line.strip().removeprefix("|").removesuffix("|")
    return len(PIPE.split(inner))


def ragged_rows(text: str) -> set[str]:
    """Table rows with more or fewer cells than their header: GitHub drops the extra cells (and
    pads the missing ones), so what such a row says is not what the page shows."""
    found, lines, fenced = set(), text.splitlines(), False
    for index, line in enumerate(lines):
        fenced ^= line.lstrip().startswith(("```", "~~~"))
        below = lines[index + 1] if index + 1 < len(lines) else ""
        if fenced or "|" not in line or not DELIMITER_ROW.match(below):
            continue
        width = row_cells(line)
        for row in itertools.takewhile(lambda r: "|" in r, lines[index + 2 :]):
            if row_cells(row) != width:
                found.add(row.strip()[:60])
    return found


def offenders(check: typing.Callable[[Path, str], set[str]]) -> list[tuple[str, str]]:
    """(page, item) for every item `check` finds wrong on every page."""
    return [
        (str(page.relative_to(ROOT)), item)
        for page in PAGES
        for item in sorted(check(page, page.read_text(encoding="utf-8")))
    ]


def test_the_docs_are_the_readme_and_the_pages_it_links() -> None:
    readme = PAGES[0].read_text(encoding="utf-8")
    linked = {(ROOT / href.partition("#")[0]).resolve() for href in links(readme)}
    assert len(PAGES) > 10
    assert set(PAGES[1:]) <= linked, "every docs page is linked from the README"


def test_every_make_target_named_is_a_makefile_target() -> None:
    found = offenders(lambda _, text: mentioned_targets(text) - make_targets())
    assert not found, f"`make <target>` with no such target in the Makefile: {found}"


def test_every_repository_path_named_exists() -> None:
    found = offenders(lambda _, text: missing_paths(text))
    assert not found, f"paths that are neither in the repository nor generated: {found}"


def test_every_relative_link_and_anchor_resolves() -> None:
    found = offenders(broken_links)
    assert not found, f"links to a missing file or heading: {found}"


def test_every_params_key_named_exists() -> None:
    found = offenders(lambda _, text: unknown_keys(text))
    assert not found, f"params.yaml keys the params dataclasses do not have: {found}"


def test_every_table_row_has_as_many_cells_as_its_header() -> None:
    found = offenders(lambda _, text: ragged_rows(text))
    assert not found, f"table rows whose cells GitHub would drop or pad: {found}"


def test_every_path_in_the_tree_exists() -> None:
    listed = tree_paths((ROOT / "docs/layout.md").read_text(encoding="utf-8"))
    assert len(listed) > 100
    missing = [path for path in listed if not (ROOT / path).exists()]
    assert not missing, f"docs/layout.md lists paths that do not exist: {missing}"


def test_the_tree_names_every_top_level_entry_module_test_folder_benchmark_and_page() -> None:
    listed = set(tree_paths((ROOT / "docs/layout.md").read_text(encoding="utf-8")))
    # A fork commits its results (docs/layout.md: "Written by make repro"); the template ships none.
    results = {"dvc.lock", "metrics", "plots"}
    top = {name.split("/")[0] for name in tracked()} - {".gitignore", ".dvcignore", *results}
    package = ROOT / "src/tabular_mlops"
    modules = {
        str(path.relative_to(ROOT))
        for path in package.rglob("*.py")
        if path.name != "__init__.py" and "__pycache__" not in path.parts
    }
    test_folders = {
        f"tests/{path.name}"
        for path in (ROOT / "tests").iterdir()
        if path.is_dir() and path.name != "__pycache__"
    }
    benchmarks = {str(path.relative_to(ROOT)) for path in (ROOT / "benchmarks").glob("*.py")}
    pages = {str(path.relative_to(ROOT)) for path in PAGES[1:]}
    unlisted = (top | modules | test_folders | benchmarks | pages) - listed
    assert not unlisted, f"docs/layout.md does not list: {sorted(unlisted)}"


PLANTED = """# Planted

## A heading, with `code`

Run `make no-such-target`, then `make repro`, and read `src/tabular_mlops/core/nowhere.py`,
`reports/made-by-a-run.json`, `tests/unit` and `params.yaml`; set `train.no_such_key`,
`gates.metrics.any_metric.floor`, `train.<family>.seed`, `data.columns.<column>.kind` and
`train.random_forest.n_estimators`.
[ok](#a-heading-with-code), [no heading](#nowhere), [no file](missing.md),
[no heading there](../README.md#nowhere), [out](https://example.com/x#y).

```bash
make repro && make another-missing-target
```

| column | what it holds |
|---|---|
| `a` | one cell too many | 3 |
| `b` | an escaped \\| pipe |
| `c` |
"""


def test_each_check_catches_a_planted_mistake() -> None:
    page = ROOT / "docs" / "planted.md"
    planted_targets = {"no-such-target", "another-missing-target"}
    assert mentioned_targets(PLANTED) - make_targets() == planted_targets
    assert missing_paths(PLANTED) == {"src/tabular_mlops/core/nowhere.py"}
    assert broken_links(page, PLANTED) == {"#nowhere", "missing.md", "../README.md#nowhere"}
    assert unknown_keys(PLANTED) == {"train.no_such_key", "train.<family>.seed"}
    assert ragged_rows(PLANTED) == {"| `a` | one cell too many | 3 |", "| `c` |"}
    assert anchors("# `make init` & it's\n## Twice\n## Twice\n") == {
        "make-init--its",
        "twice",
        "twice-1",
    }
