"""Datasets that need no download: a docstring corpus, an LDA corpus generator and the
Old Faithful geyser data.

``load_docstrings`` and ``load_docstring_counts`` build a real text corpus from the
docstrings of the installed Python standard library and of skvi's own dependencies
(numpy, scipy, scikit-learn, ...). The source files are parsed with :mod:`ast`, never
imported, and every ordering is fixed, so the corpus is the same on every machine with
the same Python and package versions. ``make_lda_corpus`` samples a bag-of-words corpus
from the generative model of latent Dirichlet allocation, with the true topics.
``load_old_faithful`` reads the 272 eruptions of the Old Faithful geyser shipped in
``skvi/data``.
"""

import ast
import functools
import gc
import importlib.metadata
import importlib.resources
import importlib.util
import inspect
import os
import platform
import re
import sys
import sysconfig
import warnings
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.utils import Bunch, check_random_state
from sklearn.utils._param_validation import Interval, StrOptions, validate_params

__all__ = ["load_docstrings", "load_docstring_counts", "load_old_faithful", "make_lda_corpus"]

# The only places docstrings are read from, in corpus order: the standard library and
# the top-level import packages that skvi depends on (pyproject.toml). A fixed list keeps
# the corpus independent of whatever else is installed.
_SOURCES = ("stdlib", "numpy", "scipy", "sklearn", "numba", "threadpoolctl")
_DEFAULT_SOURCES = ("stdlib", "numpy", "scipy", "sklearn")
# Distribution names, for the versions reported in DESCR.
_DISTRIBUTIONS = {
    "numpy": "numpy",
    "scipy": "scipy",
    "sklearn": "scikit-learn",
    "numba": "numba",
    "threadpoolctl": "threadpoolctl",
}
# Directories never walked: test suites, the IDLE and 2to3 applications, and any
# third-party packages living inside the standard library directory.
_SKIP_DIRS = frozenset(
    {"test", "tests", "idlelib", "lib2to3", "site-packages", "dist-packages", "__pycache__"}
)
_SKIP_FILES = frozenset({"conftest.py"})

# Words of at least three letters: maximal runs of letters that touch no other letter or
# digit (an underscore separates words, so ``n_components`` gives ``components``;
# ``float64`` and ``x2`` give nothing).
_TOKEN_PATTERN = r"(?u)(?<![^\W_])[^\W\d_]{3,}(?![^\W_])"


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
    # over and over by their millions of nodes, would add ~15% to the time for nothing.
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


def _versions(sources):
    """Python and package versions, read from installed metadata (nothing imported)."""
    versions = {"python": platform.python_version()}
    for source in sources:
        if source != "stdlib":
            try:
                versions[source] = importlib.metadata.version(_DISTRIBUTIONS[source])
            except importlib.metadata.PackageNotFoundError:
                versions[source] = "not installed"
    return versions


def _resolve_sources(packages):
    if packages is None:
        return _DEFAULT_SOURCES
    packages = [packages] if isinstance(packages, str) else list(packages)
    unknown = sorted(set(packages) - set(_SOURCES))
    if unknown or not packages:
        raise ValueError(
            f"packages must be a non-empty subset of {list(_SOURCES)}; got {packages!r}."
        )
    return tuple(s for s in _SOURCES if s in packages)  # canonical order


_DESCR = """\
.. _docstring_corpus:

Docstring corpus
----------------

One document per docstring of the installed Python standard library and of the
packages {packages}: modules, classes, functions and methods (read from the
source files with the ``ast`` module, without importing anything), plus the
docstrings NumPy and SciPy attach to compiled functions with ``add_newdoc``.
Test suites, ``idlelib`` and ``lib2to3`` are left out. Doctest examples and
light reST markup are removed, docstrings shorter than {min_length} words are
dropped and identical texts are kept once (the first in corpus order: sources
in the order {order}, modules sorted by dotted name, definitions in source
order).

**Data Set Characteristics:**

:Number of documents: {n_documents}
:Documents per source: {per_source}
:Versions: {versions}

The corpus depends only on these versions: it is identical on every call and
on every machine where they are the same (a Linux distribution that patches
or splits the standard library may differ).
"""


# --------------------------------------------------------------------------------------
# Public loaders
# --------------------------------------------------------------------------------------


#: Parameter constraints of the corpus selection, shared by both loaders.
_CORPUS_CONSTRAINTS = {
    "packages": [str, list, tuple, None],
    "min_length": [Interval(Integral, 0, None, closed="left")],
    "max_documents": [Interval(Integral, 1, None, closed="left"), None],
    "shuffle": ["boolean"],
    "random_state": ["random_state"],
}


@validate_params(_CORPUS_CONSTRAINTS, prefer_skip_nested_validation=True)
def load_docstrings(
    *, packages=None, min_length=20, max_documents=None, shuffle=False, random_state=None
):
    """Load a text corpus made of the docstrings of installed Python code.

    Every docstring (module, class, function, method, and NumPy/SciPy ``add_newdoc``
    entries) of the standard library and of a fixed list of skvi's dependencies becomes
    one document. Nothing is downloaded and nothing is imported: source files are found
    with :func:`importlib.util.find_spec` and ``sysconfig`` and parsed with :mod:`ast`.
    Directories named ``test`` or ``tests``, ``idlelib``, ``lib2to3`` and files that do
    not parse are skipped. The corpus is the same on every call and on every machine
    with the same Python and package versions; it is built in a few seconds the first
    time and cached for the rest of the process.

    Parameters
    ----------
    packages : str or list of str, default=None
        Which sources to read, a subset of ``{'stdlib', 'numpy', 'scipy', 'sklearn',
        'numba', 'threadpoolctl'}``; ``None`` means ``['stdlib', 'numpy', 'scipy',
        'sklearn']``. The corpus order does not depend on the order given here.
    min_length : int, default=20
        Documents with fewer whitespace-separated words (after cleaning) are dropped.
    max_documents : int, default=None
        If given and smaller than the corpus, keep a uniformly random subset of this
        many documents (drawn with ``random_state``), in corpus order unless
        ``shuffle`` is true.
    shuffle : bool, default=False
        Whether to return the documents in a random order (drawn with
        ``random_state``).
    random_state : int, RandomState instance or None, default=None
        Used only by ``max_documents`` and ``shuffle``. Pass an int for a
        reproducible subset or order.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with the following attributes.

        data : list of str
            The documents: cleaned docstrings, doctest examples and reST markup
            removed.
        names : list of str
            The qualified name of each document's object, for example
            ``'numpy.linalg._linalg.solve'`` (the module that defines it, not the one
            that re-exports it).
        source : list of str
            Where each document comes from: ``'stdlib'`` or the top-level package
            (``'numpy'``, ``'scipy'``, ``'sklearn'``, ...).
        versions : dict of str to str
            The Python and package versions the corpus was read from.
        DESCR : str
            Description of the corpus.

    See Also
    --------
    load_docstring_counts : The same corpus as a document-term count matrix.

    Notes
    -----
    Cleaning: a doctest example (a ``>>>`` line, its ``...`` continuations and its
    output up to the next blank line) is removed, as are section underlines and link
    targets; directive markers such as ``.. versionadded::`` are removed and their
    arguments kept; roles, literals and interpreted text (``:func:`~numpy.dot```) keep
    the text they display. Identical texts are kept once: the first in corpus order
    (sources in the order above, modules sorted by dotted name, definitions in source
    order).

    Examples
    --------
    >>> from skvi.datasets import load_docstrings
    >>> corpus = load_docstrings(packages="sklearn")  # doctest: +SKIP
    >>> len(corpus.data) > 1000  # doctest: +SKIP
    True
    """
    sources = _resolve_sources(packages)
    names, texts, origin, seen = [], [], [], set()
    for source in sources:
        for name, text in _collect(source):
            if len(text.split()) < min_length:
                continue
            key = " ".join(text.split())
            if key in seen:
                continue
            seen.add(key)
            names.append(name)
            texts.append(text)
            origin.append(source)

    index = np.arange(len(texts))
    if (max_documents is not None and max_documents < len(texts)) or shuffle:
        rng = check_random_state(random_state)
        if max_documents is not None and max_documents < len(texts):
            index = np.sort(rng.choice(len(texts), size=max_documents, replace=False))
        if shuffle:
            index = rng.permutation(index)

    versions = _versions(sources)
    counts = {s: 0 for s in sources}
    for i in index:
        counts[origin[i]] += 1
    descr = _DESCR.format(
        packages=", ".join(s for s in sources if s != "stdlib") or "(none)",
        min_length=min_length,
        order=", ".join(sources),
        n_documents=len(index),
        per_source=", ".join(f"{s} {n}" for s, n in counts.items()),
        versions=", ".join(f"{k} {v}" for k, v in versions.items()),
    )
    return Bunch(
        data=[texts[i] for i in index],
        names=[names[i] for i in index],
        source=[origin[i] for i in index],
        versions=versions,
        DESCR=descr,
    )


@validate_params(
    {
        **_CORPUS_CONSTRAINTS,
        "max_features": [Interval(Integral, 1, None, closed="left"), None],
        "min_df": [Interval(Integral, 1, None, closed="left"), Interval(Real, 0, 1, closed="both")],
        "max_df": [Interval(Integral, 1, None, closed="left"), Interval(Real, 0, 1, closed="both")],
        "stop_words": [StrOptions({"english"}), list, None],
        "dtype": "no_validation",
    },
    prefer_skip_nested_validation=True,
)
def load_docstring_counts(
    *,
    packages=None,
    min_length=20,
    max_documents=None,
    shuffle=False,
    random_state=None,
    max_features=None,
    min_df=5,
    max_df=0.5,
    stop_words="english",
    dtype=np.float64,
):
    """Load the docstring corpus as a sparse document-term count matrix.

    The documents of :func:`load_docstrings` are vectorised with scikit-learn's
    :class:`~sklearn.feature_extraction.text.CountVectorizer`: lowercase words of at
    least three letters (underscores and digits separate words, and a run of letters
    touching a digit is no word), English stop words removed, words in fewer than
    ``min_df`` or more than ``max_df`` documents removed. Documents left without any
    word are dropped. Deterministic: the vocabulary is sorted alphabetically and the
    documents keep the corpus order.

    Parameters
    ----------
    packages : str or list of str, default=None
        Sources to read; see :func:`load_docstrings`.
    min_length : int, default=20
        Minimum length of a docstring in words; see :func:`load_docstrings`.
    max_documents : int, default=None
        Random subset size; see :func:`load_docstrings`.
    shuffle : bool, default=False
        Whether to shuffle the documents; see :func:`load_docstrings`.
    random_state : int, RandomState instance or None, default=None
        Used only by ``max_documents`` and ``shuffle``.
    max_features : int, default=None
        Keep only the ``max_features`` most frequent words (by total count).
    min_df : int or float, default=5
        Ignore words that occur in fewer documents than this (a float in [0, 1] is a
        proportion of the documents).
    max_df : int or float, default=0.5
        Ignore words that occur in more documents than this (a float in [0, 1] is a
        proportion of the documents).
    stop_words : {'english'}, list of str or None, default='english'
        Stop words to remove, as in ``CountVectorizer``.
    dtype : dtype, default=np.float64
        Type of the count matrix (counts are whole numbers in any type).

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with the following attributes.

        X : sparse matrix of shape (n_documents, n_words)
            Word counts in CSR format with sorted indices; every row has at least one
            non-zero.
        feature_names : ndarray of str of shape (n_words,)
            The vocabulary, sorted alphabetically.
        names : list of str of length n_documents
            Qualified name of each document's object.
        source : list of str of length n_documents
            Where each document comes from (``'stdlib'``, ``'numpy'``, ...).
        versions : dict of str to str
            The Python and package versions the corpus was read from.
        DESCR : str
            Description of the corpus.

    See Also
    --------
    load_docstrings : The documents as text.
    make_lda_corpus : A synthetic corpus with known topics.

    Examples
    --------
    With Python 3.11.7, numpy 2.4.6, scipy 1.17.1 and scikit-learn 1.9.1:

    >>> from skvi.datasets import load_docstring_counts
    >>> counts = load_docstring_counts()  # doctest: +SKIP
    >>> counts.X.shape, counts.X.nnz  # doctest: +SKIP
    ((9756, 6608), 408807)
    """
    corpus = load_docstrings(
        packages=packages,
        min_length=min_length,
        max_documents=max_documents,
        shuffle=shuffle,
        random_state=random_state,
    )
    vectorizer = CountVectorizer(
        token_pattern=_TOKEN_PATTERN,
        lowercase=True,
        stop_words=stop_words,
        min_df=min_df,
        max_df=max_df,
        max_features=max_features,
        dtype=dtype,
    )
    X = vectorizer.fit_transform(corpus.data).tocsr()
    keep = np.flatnonzero(np.diff(X.indptr) > 0)
    X = X[keep]
    X.sort_indices()
    descr = corpus.DESCR + (
        "\nVectorised with CountVectorizer (lowercase words of at least three letters, "
        f"stop_words={stop_words!r}, min_df={min_df!r}, max_df={max_df!r}, "
        f"max_features={max_features!r}); documents without any word dropped: "
        f"{X.shape[0]} documents x {X.shape[1]} words, {X.nnz} non-zeros.\n"
    )
    return Bunch(
        X=X,
        feature_names=vectorizer.get_feature_names_out(),
        names=[corpus.names[i] for i in keep],
        source=[corpus.source[i] for i in keep],
        versions=corpus.versions,
        DESCR=descr,
    )


# --------------------------------------------------------------------------------------
# Synthetic LDA corpus
# --------------------------------------------------------------------------------------


def _sample_dirichlet(alpha, n_samples, random_state):
    """Draw ``n_samples`` rows from a Dirichlet distribution, stably for small ``alpha``.

    Uses :math:`G_a = G_{a+1} U^{1/a}` with :math:`G_{a+1} \\sim \\mathrm{Gamma}(a+1)` and
    :math:`U \\sim \\mathrm{U}(0, 1]`, normalised in log space, so concentrations as
    small as 1e-3 give rows that sum to one instead of the ``0/0`` of normalised
    underflowing Gamma draws.

    Parameters
    ----------
    alpha : ndarray of shape (n_dims,)
        Positive concentrations.
    n_samples : int
        Number of rows.
    random_state : RandomState
        Source of randomness.

    Returns
    -------
    samples : ndarray of shape (n_samples, n_dims)
        Rows on the probability simplex.
    """
    shape = (n_samples, alpha.shape[0])
    log_g = np.log(random_state.standard_gamma(alpha + 1.0, size=shape))
    log_u = np.log1p(-random_state.random_sample(shape))  # log of U in (0, 1]
    log_x = log_g + log_u / alpha
    log_x -= log_x.max(axis=1, keepdims=True)
    x = np.exp(log_x)
    x /= x.sum(axis=1, keepdims=True)
    return x


def _as_prior(value, size, name):
    prior = np.asarray(value, dtype=np.float64)
    if prior.ndim == 0:
        prior = np.full(size, float(prior))
    if prior.shape != (size,) or not np.all(np.isfinite(prior)) or np.any(prior <= 0):
        raise ValueError(
            f"{name} must be a positive float or an array of shape ({size},) of positive "
            f"values; got {value!r}."
        )
    return prior


@validate_params(
    {
        "n_samples": [Interval(Integral, 1, None, closed="left")],
        "n_features": [Interval(Integral, 1, None, closed="left")],
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "doc_topic_prior": [Interval(Real, 0, None, closed="neither"), "array-like"],
        "topic_word_prior": [Interval(Real, 0, None, closed="neither"), "array-like"],
        "doc_length": [Interval(Real, 0, None, closed="neither")],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def make_lda_corpus(
    n_samples=1000,
    n_features=500,
    n_components=10,
    *,
    doc_topic_prior=0.1,
    topic_word_prior=0.01,
    doc_length=100,
    random_state=None,
):
    r"""Generate a bag-of-words corpus from the LDA generative model.

    Latent Dirichlet allocation (Blei, Ng and Jordan, 2003): each topic
    :math:`\beta_k \sim \mathrm{Dir}(\eta)` is a distribution over the
    ``n_features`` words; each document has topic proportions
    :math:`\theta_d \sim \mathrm{Dir}(\alpha)` and length
    :math:`N_d = \max(1, \mathrm{Poisson}(\lambda))`; each of its words draws a topic
    :math:`z \sim \mathrm{Cat}(\theta_d)` and then a word :math:`w \sim
    \mathrm{Cat}(\beta_z)`, so that the counts of document :math:`d` follow
    :math:`\mathrm{Mult}(N_d, \theta_d^\top \beta)`.

    Parameters
    ----------
    n_samples : int, default=1000
        Number of documents.
    n_features : int, default=500
        Size of the vocabulary.
    n_components : int, default=10
        Number of topics.
    doc_topic_prior : float or array-like of shape (n_components,), default=0.1
        Dirichlet concentration :math:`\alpha` of the document-topic proportions (a
        float is a symmetric prior). In the literature, this is called `alpha`.
    topic_word_prior : float or array-like of shape (n_features,), default=0.01
        Dirichlet concentration :math:`\eta` of the topic-word distributions (a float
        is a symmetric prior). In the literature, this is called `eta`.
    doc_length : float, default=100
        Mean :math:`\lambda` of the Poisson distribution of document lengths; a
        document drawn with length 0 gets length 1.
    random_state : int, RandomState instance or None, default=None
        Determines the random draws. Pass an int for reproducible output across
        multiple function calls.

    Returns
    -------
    X : sparse matrix of shape (n_samples, n_features)
        Word counts, CSR format with sorted indices, dtype float64. Row ``d`` sums to
        the length :math:`N_d \geq 1` of document ``d``.
    topic_word_distr : ndarray of shape (n_components, n_features)
        The true topics :math:`\beta`; each row sums to 1.
    doc_topic_distr : ndarray of shape (n_samples, n_components)
        The true topic proportions :math:`\theta`; each row sums to 1.

    See Also
    --------
    load_docstring_counts : A real corpus of the same form.

    Notes
    -----
    The topic counts of every document are drawn at once by conditional binomials
    (:math:`n_{dk} \sim \mathrm{Bin}(N_d - \sum_{j<k} n_{dj},\;
    \theta_{dk} / \sum_{j \geq k} \theta_{dj})`), then the words of each topic by
    inverse-CDF sampling from :math:`\beta_k`; this is exactly the model above (the
    words of a topic are exchangeable) and takes time and memory proportional to the
    total number of words. Dirichlet draws use :math:`G_a = G_{a+1} U^{1/a}` in log
    space, so very small priors are safe.

    References
    ----------
    .. [1] D. M. Blei, A. Y. Ng and M. I. Jordan, "Latent Dirichlet allocation",
       Journal of Machine Learning Research 3, 993-1022, 2003.

    Examples
    --------
    >>> from skvi.datasets import make_lda_corpus
    >>> X, topic_word, doc_topic = make_lda_corpus(
    ...     n_samples=200, n_features=50, n_components=3, random_state=0)
    >>> X.shape, topic_word.shape, doc_topic.shape
    ((200, 50), (3, 50), (200, 3))
    >>> bool(X.sum(axis=1).min() >= 1)
    True
    """
    rng = check_random_state(random_state)
    alpha = _as_prior(doc_topic_prior, n_components, "doc_topic_prior")
    eta = _as_prior(topic_word_prior, n_features, "topic_word_prior")

    topic_word = _sample_dirichlet(eta, n_components, rng)
    doc_topic = _sample_dirichlet(alpha, n_samples, rng)
    lengths = np.maximum(rng.poisson(doc_length, size=n_samples), 1).astype(np.int64)

    # Topic counts per document: conditional binomials, one vectorised draw per topic.
    tail = np.cumsum(doc_topic[:, ::-1], axis=1)[:, ::-1]  # sum_{j >= k} theta_dj
    topic_counts = np.empty((n_samples, n_components), dtype=np.int64)
    remaining = lengths.copy()
    for k in range(n_components - 1):
        with np.errstate(divide="ignore", invalid="ignore"):
            p = np.where(tail[:, k] > 0, doc_topic[:, k] / tail[:, k], 1.0)
        topic_counts[:, k] = rng.binomial(remaining, np.clip(p, 0.0, 1.0))
        remaining -= topic_counts[:, k]
    topic_counts[:, -1] = remaining

    # Words of each topic by inverse CDF; the tokens of topic k belong to the documents
    # in order (topic_counts[d, k] tokens for document d).
    docs = np.arange(n_samples)
    rows, cols = [], []
    for k in range(n_components):
        n_tokens = int(topic_counts[:, k].sum())
        if n_tokens == 0:
            continue
        cdf = np.cumsum(topic_word[k])
        cdf /= cdf[-1]
        words = np.searchsorted(cdf, rng.random_sample(n_tokens), side="right")
        rows.append(np.repeat(docs, topic_counts[:, k]))
        cols.append(np.minimum(words, n_features - 1))
    rows = np.concatenate(rows)
    cols = np.concatenate(cols)
    X = sp.coo_matrix(
        (np.ones(rows.shape[0], dtype=np.float64), (rows, cols)),
        shape=(n_samples, n_features),
    ).tocsr()  # sums the duplicate (document, word) pairs
    X.sum_duplicates()
    X.sort_indices()
    return X, topic_word, doc_topic


# --------------------------------------------------------------------------------------
# Old Faithful
# --------------------------------------------------------------------------------------

_FAITHFUL_DESCR = """\
.. _old_faithful_dataset:

Old Faithful geyser data
------------------------

Duration of the eruption and waiting time to the next eruption for 272
eruptions of the Old Faithful geyser in Yellowstone National Park, Wyoming,
USA, as distributed with R (``datasets::faithful``), from Azzalini and Bowman
(1990). The observations are in R's order.

**Data Set Characteristics:**

:Number of Instances: 272
:Number of Attributes: 2
:Attribute Information:
    - eruptions: eruption time in minutes (three decimals)
    - waiting: waiting time to the next eruption in minutes (whole minutes)
:Missing Attribute Values: None

The two columns are strongly correlated (Pearson r = 0.9008) and the data fall
into two well separated groups, short eruptions after short waits and long
eruptions after long waits, which makes them the standard small example for
mixture models.

.. rubric:: References

- A. Azzalini and A. W. Bowman, "A look at some data on the Old Faithful
  geyser", Applied Statistics 39(3), 357-365, 1990.
- W. Härdle, Smoothing Techniques with Implementation in S, Springer, 1991.
- R Core Team, R: A language and environment for statistical computing,
  dataset ``faithful`` in package ``datasets``.
"""


@functools.cache
def _read_old_faithful():
    """The shipped table as a read-only float64 array (read once per process)."""
    resource = importlib.resources.files("skvi").joinpath("data", "old_faithful.csv")
    with resource.open("r", encoding="ascii") as fh:
        header = fh.readline().strip().split(",")
        data = np.loadtxt(fh, delimiter=",", dtype=np.float64, ndmin=2)
    data.setflags(write=False)
    return tuple(header), data


def load_old_faithful():
    """Load the Old Faithful geyser data (272 eruptions, 2 features).

    =================   ==============
    Samples total                  272
    Dimensionality                   2
    Features            real, positive
    =================   ==============

    The table ships with skvi (``skvi/data/old_faithful.csv``), so nothing is
    downloaded; it is the data frame ``faithful`` of R's ``datasets`` package, from
    Azzalini and Bowman (1990). Each row is one eruption: its duration and the waiting
    time until the next eruption, both in minutes. The two clusters (short and long
    eruptions) make it the usual test case for Gaussian mixtures.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with the following attributes.

        data : ndarray of shape (272, 2), dtype float64
            Eruption duration (column 0) and waiting time (column 1), in minutes, in
            R's row order. A new, writeable array on every call.
        feature_names : ndarray of str of shape (2,)
            ``['eruptions', 'waiting']``.
        DESCR : str
            Description of the data set, with its source and references.

    See Also
    --------
    skvi.VariationalGaussianMixture : A mixture model to fit to these data.

    References
    ----------
    .. [1] A. Azzalini and A. W. Bowman, "A look at some data on the Old Faithful
       geyser", Applied Statistics 39(3), 357-365, 1990.
    .. [2] W. Härdle, Smoothing Techniques with Implementation in S, Springer, 1991.

    Examples
    --------
    >>> from skvi.datasets import load_old_faithful
    >>> faithful = load_old_faithful()
    >>> faithful.data.shape
    (272, 2)
    >>> faithful.data[0]
    array([ 3.6, 79. ])
    >>> faithful.data.mean(axis=0).round(6)
    array([ 3.487783, 70.897059])
    """
    header, data = _read_old_faithful()
    return Bunch(
        data=data.copy(),
        feature_names=np.array(header, dtype=object),
        DESCR=_FAITHFUL_DESCR,
    )
