"""The README's Python examples run and print what the README says."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

import intc.uc


def _examples(repo: Path) -> list[tuple[str, str]]:
    """(code, expected output) of each example of the Python section."""
    text = (repo / "README.md").read_text()
    section = text.split("\n## Python\n", 1)[1].split("\n## ", 1)[0]
    found = re.findall(r"```python\n(.*?)```\s*prints\n\n```text\n(.*?)```",
                       section, re.S)
    assert found, "README.md: Python section without example"
    return found


def _run(code: str) -> str:
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        exec(compile(code, "README.md", "exec"), {})  # noqa: S102
    return buf.getvalue()


def test_readme_example(repo: Path) -> None:
    code, expected = _examples(repo)[0]
    assert _run(code) == expected


def test_readme_unicorn_example(repo: Path) -> None:
    examples = [e for e in _examples(repo) if "intc.uc" in e[0]]
    assert examples, "README.md: no intc.uc example"
    if not intc.uc.available():
        pytest.skip("libintc-uc not built (libunicorn-dev missing)")
    for code, expected in examples:
        assert _run(code) == expected
