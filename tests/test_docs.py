"""The examples of doc/getting_started.rst print what the page says they print.

The comparison is exact at every supported version: CI runs it at the current versions and
at the minimum ones (``.ci/min-versions.txt``), and both print the page's text character for
character. A version that printed otherwise would fail here, not pass silently.
"""

import contextlib
import io
import re
from pathlib import Path

import pytest

PAGE = Path(__file__).resolve().parent.parent / "doc" / "getting_started.rst"


def _examples():
    """(code, printed output) of each python block followed by a text block."""
    blocks = re.findall(r"\.\. code-block:: (\w+)\n\n((?:   .*\n|\n)+)", PAGE.read_text())

    def dedent(body):
        return "\n".join(line[3:] for line in body.strip("\n").splitlines())

    return [
        (dedent(body), dedent(blocks[i + 1][1]))
        for i, (lang, body) in enumerate(blocks[:-1])
        if lang == "python" and blocks[i + 1][0] == "text"
    ]


def test_the_page_has_one_example_per_estimator():
    assert len(_examples()) == 3


@pytest.mark.parametrize("index", range(3))
def test_getting_started_output(index):
    code, expected = _examples()[index]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, f"getting_started example {index}", "exec"), {})
    assert out.getvalue().strip() == expected.strip()
