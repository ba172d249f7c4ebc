"""Put pictures through real parsers: Mermaid blocks through Mermaid's own (the two major versions
GitHub may run), HTML through parse5 (the HTML standard's parsing algorithm) and a strict tag
balance, in one Node process per call (check.mjs, packages pinned in package-lock.json)."""

from __future__ import annotations

import functools
import json
import shutil
import subprocess
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from markdown_it import MarkdownIt

HERE = Path(__file__).resolve().parent
INSTALLED = HERE / "node_modules" / ".package-lock.json"
NODE_MAJOR = 18
INSTALL = "make render-tools (npm ci --prefix tests/render)"
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source"}
VOID |= {"track", "wbr"}

Node = dict[str, Any] | str


def node_binary() -> str:
    """Node.js, or a failed test that says what to install: never a skip."""
    node = shutil.which("node")
    if node is None:
        pytest.fail(
            f"tests/render needs Node.js {NODE_MAJOR}+ on PATH to run Mermaid's parser: install "
            f"it (e.g. apt-get install nodejs npm), then {INSTALL}",
            pytrace=False,
        )
    version = subprocess.run([node, "--version"], capture_output=True, text=True).stdout
    major = int(version.strip().lstrip("v").split(".")[0] or 0)
    if major < NODE_MAJOR:
        pytest.fail(f"tests/render needs Node.js {NODE_MAJOR}+, found {version}", pytrace=False)
    install()
    return node


@functools.cache
def install() -> None:
    """`make render-tools` (npm ci when the lock file is newer than the install) once per test
    process: `make test` leaves it to this folder, so npm runs beside the other tests instead of
    before them all."""
    import os

    from filelock import FileLock

    with FileLock(HERE / ".install.lock"):
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MAKE", "MFLAGS"))}
        done = subprocess.run(
            ["make", "--no-print-directory", "render-tools"],
            cwd=HERE.parents[1],
            env=env,
            capture_output=True,
            text=True,
        )
    if done.returncode != 0 or not INSTALLED.is_file():
        last = (done.stderr.strip() or done.stdout.strip() or "no output").splitlines()[-1]
        pytest.fail(f"tests/render's npm packages: {INSTALL} failed: {last}", pytrace=False)


def check(pictures: list[dict[str, str]]) -> list[dict[str, Any]]:
    """Each picture ({name, kind: mermaid | html, text}) as its parser saw it: `errors`, and a
    chart's `title` and line colours (`lines`) or a page's element `tree`."""
    done = subprocess.run(
        [node_binary(), str(HERE / "check.mjs")],
        input=json.dumps(pictures),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(done.stdout)
    for picture, result in zip(pictures, results, strict=True):
        if picture["kind"] == "html":
            result["errors"] += unbalanced(picture["text"])
    return results


def assert_parsed(results: list[dict[str, Any]]) -> None:
    """Every picture parsed without an error."""
    broken = {r["name"]: r["errors"] for r in results if r["errors"]}
    assert not broken, f"pictures that do not parse: {broken}"


def mermaid_blocks(markdown: str, source: str) -> list[dict[str, str]]:
    """The Mermaid blocks of a Markdown text as GitHub finds them (fenced, info `mermaid`), each
    with the paragraph that follows it (`after`: a chart's legend)."""
    tokens = MarkdownIt("commonmark").parse(markdown)
    blocks = []
    for i, token in enumerate(tokens):
        if token.type == "fence" and token.info.strip() == "mermaid":
            after = tokens[i + 2].content if i + 2 < len(tokens) else ""
            line = token.map[0] + 1 if token.map else 0
            name = f"{source}:{line}"
            blocks.append({"name": name, "kind": "mermaid", "text": token.content, "after": after})
    return blocks


class _Balance(HTMLParser):
    """Every element closed, in order: what a browser would repair silently is an error here."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.open: list[tuple[str, int]] = []
        self.errors: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag not in VOID:
            self.open.append((tag, self.getpos()[0]))

    def handle_startendtag(self, tag: str, attrs: list) -> None:
        """`<rect/>` (SVG) or `<br/>`: opens nothing."""

    def handle_endtag(self, tag: str) -> None:
        if not self.open or self.open[-1][0] != tag:
            expected = self.open[-1] if self.open else ("nothing", 0)
            self.errors.append(
                f"</{tag}> at line {self.getpos()[0]} closes <{expected[0]}> "
                f"(opened at line {expected[1]})"
            )
            return
        self.open.pop()


def unbalanced(text: str) -> list[str]:
    parser = _Balance()
    parser.feed(text)
    parser.close()
    return parser.errors + [
        f"<{tag}> opened at line {line} never closed" for tag, line in parser.open
    ]


def elements(node: Node, tag: str) -> Iterator[dict[str, Any]]:
    """Every element named `tag` under `node`, in document order."""
    if isinstance(node, str):
        return
    if node["tag"] == tag:
        yield node
    for child in node["children"]:
        yield from elements(child, tag)


def text(node: Node) -> str:
    """The text a reader sees in `node` (not scripts' or styles')."""
    if isinstance(node, str):
        return node
    if node["tag"] in ("script", "style"):
        return ""
    return "".join(text(child) for child in node["children"])


def texts(node: Node) -> Iterator[str]:
    """Each text node a reader sees, one by one."""
    if isinstance(node, str):
        yield node
    elif node["tag"] not in ("script", "style"):
        for child in node["children"]:
            yield from texts(child)
