"""Datasets: the docstring corpus (determinism, content, counts) and the LDA generator."""

import hashlib
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

from skvi._docstring_reader import _clean_docstring
from skvi.datasets import (
    _sample_dirichlet,
    load_docstring_counts,
    load_docstrings,
    load_old_faithful,
    make_lda_corpus,
)

DEFAULT_SOURCES = ["stdlib", "numpy", "scipy", "sklearn"]


def _digest(*parts):
    h = hashlib.sha256()
    for part in parts:
        if isinstance(part, np.ndarray):
            h.update(part.dtype.str.encode())
            h.update(np.ascontiguousarray(part).tobytes())
        else:
            for item in part:
                h.update(str(item).encode("utf-8"))
                h.update(b"\0")
        h.update(b"\1")
    return h.hexdigest()


def _corpus_digest(corpus):
    return _digest(corpus.names, corpus.source, corpus.data)


def _counts_digest(counts):
    X = counts.X
    return _digest(X.indptr, X.indices, X.data, list(counts.feature_names), counts.names)


@pytest.fixture(scope="module")
def corpus():
    return load_docstrings()


@pytest.fixture(scope="module")
def counts():
    return load_docstring_counts()


# Run in a fresh interpreter: the digests of the corpus and of the count matrix, and
# whether loading imported (rather than parsed) any module with side effects.
_CHILD = textwrap.dedent(
    """
    import json, sys
    from skvi.datasets import load_docstring_counts, load_docstrings
    from tests.test_datasets import _corpus_digest, _counts_digest

    before = set(sys.modules)
    corpus = load_docstrings()
    counts = load_docstring_counts(max_documents=1500, random_state=0, min_df=2)
    noisy = ["this", "antigravity", "turtle", "tkinter", "idlelib", "turtledemo"]
    print(json.dumps({
        "corpus": _corpus_digest(corpus),
        "counts": _counts_digest(counts),
        "n_documents": len(corpus.data),
        "imported": sorted(m for m in noisy if m in sys.modules and m not in before),
    }))
    """
)


def test_load_docstrings_deterministic_across_processes():
    # Two interpreters with different string hashing must build the same corpus and
    # counts as this one (itself under pytest's own PYTHONHASHSEED). The children start
    # first and the corpus of this process is built while they run (it is then cached
    # for the fixtures below).
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    procs = []
    for seed in ("0", "4242"):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        procs.append(
            subprocess.Popen(
                [sys.executable, "-c", _CHILD],
                cwd=root,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    try:
        corpus = load_docstrings()
        counts = load_docstring_counts(max_documents=1500, random_state=0, min_df=2)
    finally:
        outputs = [proc.communicate(timeout=300) + (proc.returncode,) for proc in procs]
    expected = {
        "corpus": _corpus_digest(corpus),
        "counts": _counts_digest(counts),
        "n_documents": len(corpus.data),
        "imported": [],
    }
    for out, err, returncode in outputs:
        assert returncode == 0, err
        # Nothing but the result on stdout: no module was imported and printed anything.
        lines = out.strip().splitlines()
        assert len(lines) == 1, out
        assert json.loads(lines[0]) == expected


def test_load_docstrings_is_repeatable_and_not_aliased(corpus):
    again = load_docstrings()
    assert _corpus_digest(again) == _corpus_digest(corpus)
    # The cache must not hand out its own lists.
    again.data.clear()
    again.names.append("x")
    assert _corpus_digest(load_docstrings()) == _corpus_digest(corpus)


def test_corpus_size_and_fields(corpus):
    n = len(corpus.data)
    assert 4000 <= n <= 40000
    assert len(corpus.names) == n and len(corpus.source) == n
    assert set(corpus.source) == set(DEFAULT_SOURCES)
    # Sources appear as blocks in the fixed order.
    order = [DEFAULT_SOURCES.index(s) for s in corpus.source]
    assert order == sorted(order)
    for source in DEFAULT_SOURCES:
        assert corpus.source.count(source) >= 500
    stdlib = sys.stdlib_module_names
    for name, source in zip(corpus.names, corpus.source, strict=True):
        top = name.split(".")[0]
        if source == "stdlib":
            assert top in stdlib, name
        else:
            assert top == source, name
    assert set(corpus.versions) == {"python", "numpy", "scipy", "sklearn"}
    assert str(n) in corpus.DESCR


def test_corpus_documents_are_clean(corpus):
    assert len(set(corpus.data)) == len(corpus.data)  # deduplicated
    for name, text in zip(corpus.names, corpus.data, strict=True):
        assert text == text.strip() and len(text.split()) >= 20, name
        for line in text.splitlines():
            stripped = line.lstrip()
            assert not stripped.startswith(">>>"), name
            assert not stripped.startswith("... ") and stripped != "...", name
    # No test suites, IDLE, 2to3 or conftest files.
    for name in corpus.names:
        assert name.split(".")[0] not in {"test", "idlelib", "lib2to3"}, name
        assert ".tests." not in name and ".conftest" not in name, name


def test_corpus_contains_known_docstrings(corpus):
    docs = dict(zip(corpus.names, corpus.data, strict=True))
    lda = docs["sklearn.decomposition._lda.LatentDirichletAllocation"]
    assert lda.startswith("Latent Dirichlet Allocation")
    assert "versionadded" not in lda and ":ref:" not in lda and "``" not in lda
    assert "json.dumps" in docs
    # Docstrings NumPy attaches to compiled functions with add_newdoc.
    assert any(name.endswith("multiarray.dot") for name in corpus.names)


def test_clean_docstring():
    raw = textwrap.dedent(
        """\
        Compute :func:`~numpy.dot` of ``a`` and `b` [1]_.

        .. versionadded:: 1.2

        Parameters
        ----------
        a : int
            See :ref:`the guide <guide>`.

        Examples
        --------
        >>> f(1,
        ...   2)
        3
        array([1, 2])

        After the example.
        .. _target: http://example.com
        """
    )
    assert _clean_docstring(raw) == textwrap.dedent(
        """\
        Compute numpy.dot of a and b.

        1.2

        Parameters
        a : int
            See the guide.

        Examples

        After the example."""
    )


def test_load_docstrings_options(corpus):
    sub = load_docstrings(max_documents=300, random_state=0)
    assert len(sub.data) == 300
    assert _corpus_digest(sub) == _corpus_digest(load_docstrings(max_documents=300, random_state=0))
    position = {
        name_text: i for i, name_text in enumerate(zip(corpus.names, corpus.data, strict=True))
    }
    index = [position[nt] for nt in zip(sub.names, sub.data, strict=True)]
    assert index == sorted(index)  # a subset, in corpus order
    shuffled = load_docstrings(max_documents=300, shuffle=True, random_state=0)
    assert sorted(shuffled.data) == sorted(sub.data) and shuffled.data != sub.data

    longer = load_docstrings(min_length=200)
    assert 0 < len(longer.data) < len(corpus.data)
    assert min(len(t.split()) for t in longer.data) >= 200
    only = load_docstrings(packages=["sklearn", "numpy"])
    assert set(only.source) == {"numpy", "sklearn"}
    # Canonical source order whatever the order asked for.
    assert only.source == sorted(only.source)
    with pytest.raises(ValueError, match="packages"):
        load_docstrings(packages=["pandas"])


def test_docstring_counts(counts, corpus):
    X = counts.X
    assert sp.issparse(X) and X.format == "csr" and X.has_canonical_format
    assert X.dtype == np.float64
    n_docs, n_words = X.shape
    assert n_words == len(counts.feature_names)
    assert n_docs == len(counts.names) == len(counts.source)
    assert 4000 <= n_docs <= len(corpus.data) and 2000 <= n_words <= 20000
    assert np.all(np.diff(X.indptr) > 0)  # no empty document
    assert np.all(X.data > 0) and np.all(X.data == np.round(X.data))
    # Document frequencies respect min_df=5 and max_df=0.5.
    df = np.bincount(X.indices, minlength=n_words)
    assert df.min() >= 5 and df.max() <= 0.5 * len(corpus.data)
    words = counts.feature_names
    assert list(words) == sorted(words)
    assert all(w.isalpha() and w.islower() and len(w) >= 3 for w in words)
    assert not set(words) & ENGLISH_STOP_WORDS
    # Rows are the corpus documents (in order) that kept a word.
    position = {name: i for i, name in enumerate(corpus.names)}
    rows = [position[name] for name in counts.names]
    assert rows == sorted(rows)


def test_docstring_counts_options():
    small = load_docstring_counts(
        max_documents=1500, random_state=0, max_features=300, min_df=2, dtype=np.float32
    )
    assert small.X.dtype == np.float32 and small.X.shape[1] == 300
    assert small.X.shape[0] <= 1500 and np.all(np.diff(small.X.indptr) > 0)


# --------------------------------------------------------------------------------------
# make_lda_corpus
# --------------------------------------------------------------------------------------


def test_make_lda_corpus_shapes_and_sums():
    X, topic_word, doc_topic = make_lda_corpus(
        n_samples=300, n_features=80, n_components=4, random_state=0
    )
    assert sp.issparse(X) and X.format == "csr" and X.has_canonical_format
    assert X.shape == (300, 80) and X.dtype == np.float64
    assert topic_word.shape == (4, 80) and doc_topic.shape == (300, 4)
    np.testing.assert_allclose(topic_word.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(doc_topic.sum(axis=1), 1.0, rtol=1e-12)
    assert topic_word.min() >= 0 and doc_topic.min() >= 0
    assert np.all(X.data > 0) and np.all(X.data == np.round(X.data))
    lengths = np.asarray(X.sum(axis=1)).ravel()
    assert lengths.min() >= 1
    # Poisson(100) lengths: mean within 5 standard errors.
    assert abs(lengths.mean() - 100) < 5 * np.sqrt(100 / 300)


def test_make_lda_corpus_short_documents_have_length_one():
    X, _, _ = make_lda_corpus(n_samples=4000, n_features=10, doc_length=0.5, random_state=1)
    lengths = np.asarray(X.sum(axis=1)).ravel()
    assert lengths.min() == 1
    # P(length == 1) = P(Poisson(0.5) <= 1) = 1.5 exp(-0.5).
    p1 = 1.5 * np.exp(-0.5)
    assert abs(np.mean(lengths == 1) - p1) < 5 * np.sqrt(p1 * (1 - p1) / 4000)


def test_make_lda_corpus_reproducible():
    a = make_lda_corpus(n_samples=200, n_features=50, n_components=3, random_state=7)
    b = make_lda_corpus(
        n_samples=200, n_features=50, n_components=3, random_state=np.random.RandomState(7)
    )
    c = make_lda_corpus(n_samples=200, n_features=50, n_components=3, random_state=8)
    assert (a[0] != b[0]).nnz == 0
    np.testing.assert_array_equal(a[1], b[1])
    np.testing.assert_array_equal(a[2], b[2])
    assert (a[0] != c[0]).nnz > 0


def test_make_lda_corpus_documents_follow_their_mixture():
    # Per document, the counts are Multinomial(N_d, theta_d @ beta): Pearson's statistic
    # summed over all documents is close to n_samples * (n_features - 1). Rows assigned
    # to the wrong document or topics used with the wrong words would blow it up.
    n_samples, n_features = 400, 30
    X, topic_word, doc_topic = make_lda_corpus(
        n_samples=n_samples,
        n_features=n_features,
        n_components=3,
        doc_topic_prior=0.3,
        topic_word_prior=1.0,
        doc_length=400,
        random_state=0,
    )
    lengths = np.asarray(X.sum(axis=1)).ravel()
    expected = lengths[:, None] * (doc_topic @ topic_word)
    stat = np.sum((X.toarray() - expected) ** 2 / expected)
    dof = n_samples * (n_features - 1)
    assert abs(stat - dof) < 6 * np.sqrt(2 * dof)


def test_make_lda_corpus_word_frequencies_with_sparse_topics():
    # Default (sparse) priors, ~1e6 words: the total count of every word matches
    # sum_d N_d (theta_d @ beta)_w (Pearson over the words expected at least 5 times).
    X, topic_word, doc_topic = make_lda_corpus(
        n_samples=5000, n_features=300, n_components=8, doc_length=200, random_state=3
    )
    lengths = np.asarray(X.sum(axis=1)).ravel()
    expected = lengths @ (doc_topic @ topic_word)
    observed = np.asarray(X.sum(axis=0)).ravel()
    keep = expected >= 5
    assert keep.sum() > 100
    stat = np.sum((observed[keep] - expected[keep]) ** 2 / expected[keep])
    # Each total is a sum of binomials, so its variance is at most its mean.
    assert stat < keep.sum() + 6 * np.sqrt(2 * keep.sum())
    # Words of (numerically) zero probability never occur.
    assert observed[expected < 1e-12].sum() == 0


def test_sample_dirichlet_moments_and_small_concentrations():
    rng = np.random.RandomState(0)
    alpha = np.array([0.05, 0.5, 2.0])
    theta = _sample_dirichlet(alpha, 40000, rng)
    m = alpha / alpha.sum()
    var = m * (1 - m) / (alpha.sum() + 1)
    assert np.all(np.abs(theta.mean(axis=0) - m) < 5 * np.sqrt(var / 40000))
    # Relative standard errors of the variances, from 30 seeds: 0.029, 0.008, 0.007.
    assert np.all(np.abs(theta.var(axis=0) / var - 1) < [0.15, 0.05, 0.05])

    tiny = _sample_dirichlet(np.full(50, 1e-3), 4000, rng)
    assert np.all(np.isfinite(tiny))
    np.testing.assert_allclose(tiny.sum(axis=1), 1.0, rtol=1e-12)
    # E[sum_k theta_k^2] = (a + 1) / (K a + 1) for a symmetric Dir(a): 0.953 here; the
    # draws are nearly one-hot, which a normalisation of underflowed Gammas would miss.
    sum_sq = (tiny**2).sum(axis=1)
    expected = (1e-3 + 1) / (50 * 1e-3 + 1)
    assert abs(sum_sq.mean() - expected) < 5 * sum_sq.std() / np.sqrt(sum_sq.size)


def test_make_lda_corpus_asymmetric_prior_and_errors():
    alpha = np.array([5.0, 1.0, 0.2])
    _, _, doc_topic = make_lda_corpus(
        n_samples=3000, n_features=20, n_components=3, doc_topic_prior=alpha, random_state=0
    )
    m = alpha / alpha.sum()
    se = np.sqrt(m * (1 - m) / (alpha.sum() + 1) / 3000)
    assert np.all(np.abs(doc_topic.mean(axis=0) - m) < 5 * se)
    with pytest.raises(ValueError, match="doc_topic_prior"):
        make_lda_corpus(n_components=3, doc_topic_prior=[1.0, 1.0])
    with pytest.raises(ValueError, match="topic_word_prior"):
        make_lda_corpus(n_features=4, topic_word_prior=[1.0, 0.0, 1.0, 1.0])
    with pytest.raises(ValueError):
        make_lda_corpus(doc_length=0)


# --------------------------------------------------------------------------------------
# Old Faithful
# --------------------------------------------------------------------------------------


def test_old_faithful_shape_dtype_and_names():
    faithful = load_old_faithful()
    assert faithful.data.shape == (272, 2)
    assert faithful.data.dtype == np.float64
    assert list(faithful.feature_names) == ["eruptions", "waiting"]
    assert "Azzalini" in faithful.DESCR
    assert np.all(np.isfinite(faithful.data))


def test_old_faithful_values_match_r():
    # R: summary(faithful), head(faithful, 2), tail(faithful, 3), cor(faithful).
    X = load_old_faithful().data
    np.testing.assert_allclose(X.mean(axis=0), [3.487783, 70.897059], atol=5e-7)
    np.testing.assert_array_equal(X.min(axis=0), [1.6, 43.0])
    np.testing.assert_array_equal(np.median(X, axis=0), [4.0, 76.0])
    np.testing.assert_array_equal(X.max(axis=0), [5.1, 96.0])
    np.testing.assert_allclose(np.corrcoef(X.T)[0, 1], 0.9008112, atol=5e-8)
    np.testing.assert_array_equal(X[:2], [[3.6, 79.0], [1.8, 54.0]])
    np.testing.assert_array_equal(X[-3:], [[4.417, 90.0], [1.817, 46.0], [4.467, 74.0]])
    # eruptions in thousandths of a minute, waiting in whole minutes
    np.testing.assert_allclose(X[:, 0] * 1000, np.round(X[:, 0] * 1000), atol=1e-9)
    np.testing.assert_array_equal(X[:, 1], np.round(X[:, 1]))


def test_old_faithful_returns_a_fresh_copy():
    first = load_old_faithful()
    assert first.data.flags.writeable
    expected = first.data.copy()
    first.data[:] = -1.0
    first.feature_names[0] = "changed"
    second = load_old_faithful()
    np.testing.assert_array_equal(second.data, expected)
    assert list(second.feature_names) == ["eruptions", "waiting"]
    assert not np.shares_memory(first.data, second.data)
