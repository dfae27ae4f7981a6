"""The README's Python example runs and prints what the README says."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path


def _blocks(repo: Path) -> tuple[str, str]:
    text = (repo / "README.md").read_text()
    section = text.split("\n## Python\n", 1)[1].split("\n## ", 1)[0]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    out = re.search(r"prints\n\n```text\n(.*?)```", section, re.S)
    assert code and out, "README.md: Python section without example"
    return code.group(1), out.group(1)


def test_readme_example(repo: Path) -> None:
    code, expected = _blocks(repo)
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        exec(compile(code, "README.md", "exec"), {})  # noqa: S102
    assert buf.getvalue() == expected
