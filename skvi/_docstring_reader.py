"""Reading the docstrings of installed Python code, without importing it.

The machinery behind :func:`skvi.datasets.load_docstrings`: :func:`_module_files` lists
the source files of the standard library or of one top-level package (found with
:func:`importlib.util.find_spec` and ``sysconfig``), :func:`_file_docstrings` parses one
file with :mod:`ast` and returns its docstrings in source order (plus NumPy's and
SciPy's ``add_newdoc`` entries), :func:`_clean_docstring` removes doctest examples and
light reST markup, and :func:`_collect` does all three for one source and caches the
result for the process. Every ordering is fixed, so the result depends only on the
installed versions. Standard library only: no NumPy, no scikit-learn.
"""

import ast
import functools
import gc
import importlib.util
import inspect
import os
import re
import sys
import sysconfig
import warnings

# Directories never walked: test suites, the IDLE and 2to3 applications, and any
# third-party packages living inside the standard library directory.
_SKIP_DIRS = frozenset(
    {"test", "tests", "idlelib", "lib2to3", "site-packages", "dist-packages", "__pycache__"}
)
_SKIP_FILES = frozenset({"conftest.py"})

# --------------------------------------------------------------------------------------
# Collecting docstrings
# --------------------------------------------------------------------------------------


def _iter_module_files(root, prefix):
    """Yield ``(module_name, path)`` for the Python files of a package directory.

    Directories in ``_SKIP_DIRS`` and names that are not identifiers (``lib-dynload``,
    ``config-3.11-x86_64-linux-gnu``, ``python-config.py``) are skipped.
    """
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS and d.isidentifier())
        rel = os.path.relpath(dirpath, root)
        parts = [prefix] if rel == os.curdir else [prefix, *rel.split(os.sep)]
        for filename in sorted(filenames):
            stem, ext = os.path.splitext(filename)
            if ext != ".py" or filename in _SKIP_FILES or not stem.isidentifier():
                continue
            name = ".".join(parts if stem == "__init__" else [*parts, stem])
            yield name, os.path.join(dirpath, filename)


def _module_files(source):
    """Sorted list of ``(module_name, path)`` for one entry of ``_SOURCES``.

    Located with :func:`importlib.util.find_spec` (which imports nothing for a top-level
    name) or ``sysconfig.get_paths()["stdlib"]``; a source that is not installed gives
    an empty list.
    """
    files = []
    if source == "stdlib":
        root = sysconfig.get_paths()["stdlib"]
        names = sys.stdlib_module_names
        for entry in sorted(os.listdir(root)):
            path = os.path.join(root, entry)
            stem, ext = os.path.splitext(entry)
            if entry in _SKIP_DIRS or (stem if ext == ".py" else entry) not in names:
                continue
            if ext == ".py" and os.path.isfile(path):
                files.append((stem, path))
            elif os.path.isdir(path):
                files.extend(_iter_module_files(path, entry))
    else:
        try:
            spec = importlib.util.find_spec(source)
        except (ImportError, ValueError):  # ValueError: in sys.modules without a spec
            spec = None
        if spec is None:
            return []
        if spec.submodule_search_locations is not None:
            for location in sorted(spec.submodule_search_locations):
                files.extend(_iter_module_files(location, source))
        elif spec.origin is not None and spec.origin.endswith(".py"):
            files.append((source, spec.origin))
    # Sort by dotted module name (not by path), then path for the impossible tie.
    return sorted(set(files))


_DEF_NODES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
# Fields holding nested statements (``handlers`` and ``cases`` hold nodes with a body).
_BODY_FIELDS = ("body", "orelse", "finalbody", "handlers", "cases")


def _walk_definitions(statements, prefix, out):
    """Append ``(qualified_name, docstring)`` for the classes and functions defined in
    ``statements``.

    Recurses through class bodies, function bodies (``f.<locals>.g``, as in
    ``__qualname__``) and compound statements (``if``, ``try``, ``with``, ``match``, ...),
    in source order. Expressions are not entered: they hold no definitions with
    docstrings.
    """
    for node in statements:
        if isinstance(node, _DEF_NODES):
            name = f"{prefix}.{node.name}"
            doc = ast.get_docstring(node, clean=True)
            if doc:
                out.append((name, doc))
            inner = name if isinstance(node, ast.ClassDef) else f"{name}.<locals>"
            _walk_definitions(node.body, inner, out)
        else:
            for field in _BODY_FIELDS:
                nested = getattr(node, field, None)
                if nested:
                    _walk_definitions(nested, prefix, out)


def _string_value(node):
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def _newdoc_entries(tree, package):
    """Docstrings attached with module-level ``add_newdoc(...)`` calls.

    NumPy (``add_newdoc('numpy._core', 'ndarray', ('T', doc))``) and SciPy
    (``add_newdoc('jv', doc)`` in ``scipy.special``) document their compiled functions
    this way. Only calls whose arguments are all string literals (or ``(name, doc)``
    tuples of literals) are read; a name that does not start with the top-level package
    is prefixed by ``package`` (the package holding the file).
    """
    out = []
    top = package.split(".")[0]
    for stmt in tree.body:
        if not (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call)):
            continue
        call = stmt.value
        func = call.func
        func_name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
        if func_name != "add_newdoc" or call.keywords or len(call.args) < 2:
            continue
        head = [_string_value(a) for a in call.args[:-1]]
        if any(h is None for h in head):
            continue
        last = call.args[-1]
        pairs = []
        if _string_value(last) is not None:
            pairs.append(([], _string_value(last)))
        elif isinstance(last, ast.Tuple) and len(last.elts) == 2:
            attr, doc = (_string_value(e) for e in last.elts)
            if attr is not None and doc is not None:
                pairs.append(([attr], doc))
        qual = ".".join(head)
        if qual != top and not qual.startswith(top + "."):
            qual = f"{package}.{qual}"
        for attr, doc in pairs:
            doc = inspect.cleandoc(doc)
            if doc:
                out.append((".".join([qual, *attr]), doc))
    return out


def _file_docstrings(module_name, path):
    """``(qualified_name, docstring)`` pairs of one source file, in source order.

    The file is parsed, never imported; a file that cannot be read or parsed gives an
    empty list.
    """
    try:
        with open(path, "rb") as fh:
            source = fh.read()
        with warnings.catch_warnings():
            # Old escape sequences in some files warn at parse time.
            warnings.simplefilter("ignore")
            tree = ast.parse(source, filename=path)
    except (OSError, SyntaxError, ValueError, RecursionError, MemoryError):
        return []
    out = []
    doc = ast.get_docstring(tree, clean=True)
    if doc:
        out.append((module_name, doc))
    _walk_definitions(tree.body, module_name, out)
    is_package = os.path.basename(path) == "__init__.py"
    package = module_name if is_package else module_name.rpartition(".")[0] or module_name
    out.extend(_newdoc_entries(tree, package))
    return out


# ">>>" always opens a prompt (older numpy has ">>>@np.vectorize"); "..." only when
# followed by a space or the end of the line (else it is prose: "...and so on")
_DOCTEST_PROMPT = re.compile(r"^\s*(>>>|\.\.\.(\s|$))")
# Section underlines, link targets (``.. _label:``) and substitutions (``.. |x| ...``).
_DROPPED_LINE = re.compile(
    r"^[ \t]*(?:([=\-~^*+#`'\".:_])\1{2,}|\.\.[ \t]+(?:_[^:\n]*:|\|[^|\n]*\|).*)[ \t]*$\n?",
    re.MULTILINE,
)
_DIRECTIVE = re.compile(
    r"^([ \t]*)\.\.[ \t]+(?:[\w.-]+(?::[\w.-]+)*::|\[[^\]\n]*\])[ \t]*", re.MULTILINE
)
_ROLE = re.compile(r":[\w.+-]+(?::[\w.+-]+)*:`([^`]*)`")
_LITERAL = re.compile(r"``([^`]*)``")
_INTERPRETED = re.compile(r"`([^`]*)`_{0,2}")
_FOOTNOTE_REF = re.compile(r"[ \t]?\[[\w#*]+\]_")
_TRAILING_SPACE = re.compile(r"[ \t]+$", re.MULTILINE)
_BLANK_RUNS = re.compile(r"\n{3,}")


def _display_text(match):
    """Text shown for a reST role or reference: ``~a.b`` -> ``a.b``, ``t <x>`` -> ``t``."""
    text = match.group(1).strip()
    if text.endswith(">") and "<" in text:
        text = text[: text.rindex("<")].strip() or text
    return text.lstrip("~!")


def _clean_docstring(text):
    """Remove doctest examples and light reST markup from a cleaned docstring.

    * A doctest example is a ``>>>`` line, its ``...`` continuations and its expected
      output, up to the next blank line; lines opening with ``...`` are also dropped.
    * Section underlines (``-----``), link targets and substitution definitions are
      dropped; directive markers (``.. versionadded::``, ``.. [1]``) are removed and
      their arguments kept; roles (``:func:`~numpy.dot```), literals and interpreted
      text keep their displayed text; footnote references (``[1]_``) are removed.
    """
    if ">>>" in text or "..." in text:
        lines = []
        in_example = False
        for line in text.splitlines():
            if in_example:
                if line.strip():
                    continue
                in_example = False
            if _DOCTEST_PROMPT.match(line):
                in_example = line.lstrip().startswith(">>>")
                continue
            lines.append(line)
        text = "\n".join(lines)
    text = _DROPPED_LINE.sub("", text)
    if ".." in text:
        text = _DIRECTIVE.sub(r"\1", text)
    if "`" in text:
        text = _ROLE.sub(_display_text, text)
        text = _LITERAL.sub(r"\1", text)
        text = _INTERPRETED.sub(_display_text, text)
    if "]_" in text:
        text = _FOOTNOTE_REF.sub("", text)
    text = _TRAILING_SPACE.sub("", text)
    return _BLANK_RUNS.sub("\n\n", text).strip()


@functools.cache
def _collect(source):
    """Cleaned ``(qualified_name, text)`` pairs of one source, in corpus order (cached)."""
    docs = []
    # Syntax trees hold no reference cycles, so the cyclic garbage collector, triggered
    # over and over by their millions of nodes, would only add time.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for module_name, path in _module_files(source):
            for name, doc in _file_docstrings(module_name, path):
                text = _clean_docstring(doc)
                if text:
                    docs.append((name, text))
    finally:
        if gc_was_enabled:
            gc.enable()
    return tuple(docs)
