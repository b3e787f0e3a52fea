"""The docstring corpus: :func:`load_docstrings` and :func:`load_docstring_counts`.

A real text corpus built from the docstrings of the installed Python standard library
and of skvi's own dependencies (numpy, scipy, scikit-learn, ...), read by
:mod:`skvi._docstring_reader` (source files parsed with :mod:`ast`, never imported).
Both loaders are public through :mod:`skvi.datasets`.
"""

import importlib.metadata
import platform
from numbers import Integral, Real

import numpy as np
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.utils import Bunch, check_random_state
from sklearn.utils._param_validation import Interval, StrOptions, validate_params

from ._docstring_reader import _collect

__all__ = ["load_docstrings", "load_docstring_counts"]

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

# Words of at least three letters: maximal runs of letters that touch no other letter or
# digit (an underscore separates words, so ``n_components`` gives ``components``;
# ``float64`` and ``x2`` give nothing).
_TOKEN_PATTERN = r"(?u)(?<![^\W_])[^\W\d_]{3,}(?![^\W_])"


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
