"""The examples of doc/getting_started.rst print what the page says they print."""

import contextlib
import io
import re
from pathlib import Path

import numpy as np
import pytest
import sklearn

PAGE = Path(__file__).resolve().parent.parent / "doc" / "getting_started.rst"
#: The versions the page states its outputs were made with.
STATED = {"numpy": "2.4", "scikit-learn": "1.9"}


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
    printed = out.getvalue().strip()
    versions = {"numpy": np.__version__, "scikit-learn": sklearn.__version__}
    if all(versions[k].startswith(v + ".") for k, v in STATED.items()):
        assert printed == expected.strip()
    else:  # other versions (CI's minimum versions): the same lines, numbers may differ
        assert len(printed.splitlines()) == len(expected.strip().splitlines())
