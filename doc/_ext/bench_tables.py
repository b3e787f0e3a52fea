"""Sphinx extension: show the benchmark results written by ``python -m benchmarks.run``.

The directive ::

    .. benchmark-results:: mixture

reads ``benchmarks/results/mixture.md`` (the markdown report of the suite, next to its
JSON) at build time and inserts it as docutils nodes: pipe tables become tables,
headings become rubrics (the page supplies its own section per suite), ``- `` lines
become bullet lists, and in running text ```code``` and ``**bold**`` are kept. The
suite's top heading is left out. Images ``benchmarks/results/<suite>*.png`` or ``*.svg``,
if the suite draws any, follow as figures. A suite without results gives a short note
with the command that writes them, so that the page builds before the first run.

Only the small subset of markdown that ``benchmarks/common.py`` writes is understood;
there is no markdown parser in the documentation build. The page is rebuilt when a
results file changes (the files are recorded as dependencies of the document).
"""

import os
import re
from pathlib import Path

from docutils import nodes
from docutils.parsers.rst import Directive, directives
from docutils.statemachine import StringList

#: The repository's benchmark results, relative to this file (doc/_ext/).
RESULTS_DIR = Path(__file__).resolve().parents[2] / "benchmarks" / "results"

_CSS = "<style>table.benchmark-table td.text-right { text-align: right; }</style>"
_INLINE = re.compile(r"`([^`]+)`|\*\*(.+?)\*\*")
_HEADING = re.compile(r"^(#{1,6})\s+(.*)$")
_TABLE_RULE = re.compile(r"^\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$")


def inline(text):
    """Nodes of one line of markdown text: ```code``` as literals, ``**bold**`` as
    strong (which may itself contain ```code```), the rest as plain text."""
    out = []
    pos = 0
    for m in _INLINE.finditer(text):
        if m.start() > pos:
            out.append(nodes.Text(text[pos : m.start()]))
        if m.group(1) is not None:
            out.append(nodes.literal(m.group(1), m.group(1)))
        else:
            strong = nodes.strong()
            strong.extend(inline(m.group(2)))
            out.append(strong)
        pos = m.end()
    if pos < len(text):
        out.append(nodes.Text(text[pos:]))
    return out


def split_row(line):
    r"""Cells of a markdown table row; ``\|`` is a literal bar inside a cell."""
    line = line.strip()
    if line.startswith("|"):
        line = line[1:]
    if line.endswith("|") and not line.endswith(r"\|"):
        line = line[:-1]
    cells = re.split(r"(?<!\\)\|", line)
    return [c.strip().replace(r"\|", "|") for c in cells]


def table(lines):
    """A docutils table from the lines of a markdown pipe table (header, rule, body)."""
    header = split_row(lines[0])
    rule = split_row(lines[1])
    body = [split_row(line) for line in lines[2:]]
    n_cols = len(header)
    aligns = []
    for spec in rule + [""] * (n_cols - len(rule)):
        aligns.append("right" if spec.endswith(":") and not spec.startswith(":") else "left")

    tbl = nodes.table(classes=["benchmark-table"])
    group = nodes.tgroup(cols=n_cols)
    tbl += group
    for _ in range(n_cols):
        group += nodes.colspec(colwidth=1)

    def row(cells, entry_classes):
        r = nodes.row()
        for i in range(n_cols):
            text = cells[i] if i < len(cells) else ""
            entry = nodes.entry(classes=[entry_classes[i]] if entry_classes else [])
            para = nodes.paragraph()
            para.extend(inline(text))
            entry += para
            r += entry
        return r

    thead = nodes.thead()
    thead += row(header, None)
    group += thead
    tbody = nodes.tbody()
    classes = [f"text-{a}" for a in aligns]
    for cells in body:
        tbody += row(cells, classes)
    group += tbody
    return tbl


def markdown_nodes(text, skip_top_heading=True):
    """Nodes of the markdown report ``text`` (see the module docstring)."""
    lines = text.splitlines()
    out = []
    i = 0
    paragraph = []
    bullets = None

    def flush():
        nonlocal paragraph, bullets
        if paragraph:
            para = nodes.paragraph()
            para.extend(inline(" ".join(paragraph)))
            out.append(para)
            paragraph = []
        if bullets is not None:
            out.append(bullets)
            bullets = None

    while i < len(lines):
        line = lines[i].rstrip()
        heading = _HEADING.match(line)
        if not line.strip():
            flush()
        elif heading:
            flush()
            if not (skip_top_heading and len(heading.group(1)) == 1):
                rubric = nodes.rubric()
                rubric.extend(inline(heading.group(2)))
                out.append(rubric)
        elif (
            line.lstrip().startswith("|")
            and i + 1 < len(lines)
            and _TABLE_RULE.match(lines[i + 1].strip())
        ):
            flush()
            j = i + 2
            while j < len(lines) and lines[j].lstrip().startswith("|"):
                j += 1
            out.append(table([s.strip() for s in lines[i:j]]))
            i = j
            continue
        elif line.startswith("- "):
            if paragraph:
                p = nodes.paragraph()
                p.extend(inline(" ".join(paragraph)))
                out.append(p)
                paragraph = []
            if bullets is None:
                bullets = nodes.bullet_list(bullet="-")
            item = nodes.list_item()
            para = nodes.paragraph()
            para.extend(inline(line[2:].strip()))
            item += para
            bullets += item
        elif bullets is not None and line.startswith("  "):
            # continuation of the last bullet
            para = bullets[-1][-1]
            para += nodes.Text(" ")
            para.extend(inline(line.strip()))
        else:
            if bullets is not None:
                out.append(bullets)
                bullets = None
            paragraph.append(line.strip())
        i += 1
    flush()
    return out


class BenchmarkResults(Directive):
    """``.. benchmark-results:: <suite>``: the suite's latest markdown report."""

    required_arguments = 1
    has_content = False
    option_spec = {"results-dir": directives.unchanged}

    def run(self):
        suite = self.arguments[0]
        results = Path(self.options.get("results-dir", RESULTS_DIR))
        env = self.state.document.settings.env
        report = results / f"{suite}.md"
        command = f"python -m benchmarks.run --suite {suite}"
        if not report.is_file():
            para = nodes.paragraph()
            para += nodes.Text("No results of this suite are in the repository yet. Run ")
            para += nodes.literal(command, command)
            para += nodes.Text(" to write ")
            path = f"benchmarks/results/{suite}.md"
            para += nodes.literal(path, path)
            para += nodes.Text(".")
            return [para]
        env.note_dependency(str(report))
        out = markdown_nodes(report.read_text(encoding="utf-8"))
        # numeric columns (markdown "---:") are right-aligned; the themes have no rule
        out.insert(0, nodes.raw("", _CSS, format="html"))
        for image in sorted(results.glob(f"{suite}*.png")) + sorted(results.glob(f"{suite}*.svg")):
            env.note_dependency(str(image))
            # an absolute path in a figure directive is taken relative to the source
            # directory (doc/), from where Sphinx copies the image into the build
            rel = os.path.relpath(image, env.srcdir).replace(os.sep, "/")
            source = StringList([f".. figure:: /{rel}", ""], source=str(report))
            holder = nodes.container()
            self.state.nested_parse(source, self.content_offset, holder)
            out.extend(holder.children)
        return out


def setup(app):
    app.add_directive("benchmark-results", BenchmarkResults)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
