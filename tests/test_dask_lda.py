"""VariationalLDA on Dask arrays: the same fit as in memory, on an in-process cluster."""

import numpy as np
import pytest
import scipy.sparse as sp

da = pytest.importorskip("dask.array")

from skvi import VariationalLDA  # noqa: E402
from skvi import _lda_kernels as kern  # noqa: E402

#: Uneven chunks, none a multiple of 1024 or of the kernel's blocks.
CHUNKS = (250, 77, 300, 73)


def _corpus(n_docs=700, n_words=60, seed=0):
    rng = np.random.RandomState(seed)
    topics = rng.dirichlet(np.full(n_words, 0.1), size=4)
    theta = rng.dirichlet(np.full(4, 0.3), size=n_docs)
    lengths = rng.randint(0, 60, size=n_docs)  # some empty documents
    counts = np.vstack(
        [rng.multinomial(n, t @ topics) for n, t in zip(lengths, theta, strict=True)]
    )
    return sp.csr_matrix(counts.astype(float))


def _rel(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-300)))


def _assert_same_fit(dk, mem, Xd, X):
    for name in ("components_", "exp_dirichlet_component_", "lower_bounds_"):
        assert type(getattr(dk, name)) is np.ndarray
        assert _rel(getattr(dk, name), getattr(mem, name)) < 1e-10, name
    assert dk.components_.dtype == mem.components_.dtype
    assert _rel(dk.doc_topic_prior_, mem.doc_topic_prior_) < 1e-10
    assert _rel(dk.topic_word_prior_, mem.topic_word_prior_) < 1e-10
    assert _rel(dk.bound_, mem.bound_) < 1e-10
    assert (dk.n_iter_, dk.n_batch_iter_, dk.converged_) == (
        mem.n_iter_, mem.n_batch_iter_, mem.converged_
    )  # fmt: skip
    assert dk._state.n_warm_passes == mem._state.n_warm_passes
    lazy = dk.transform(Xd)
    assert isinstance(lazy, da.Array) and lazy.chunks[0] == Xd.chunks[0]
    assert _rel(lazy.compute(), mem.transform(X)) < 1e-10
    assert (
        _rel(dk.transform(Xd, normalize=False).compute(), mem.transform(X, normalize=False)) < 1e-10
    )
    perplexity, score = dk.perplexity(Xd), dk.score(Xd)
    assert isinstance(perplexity, float) and isinstance(score, float)
    assert _rel(perplexity, mem.perplexity(X)) < 1e-10
    assert _rel(score, mem.score(X)) < 1e-10


@pytest.mark.parametrize(
    "params",
    [
        dict(),
        dict(doc_topic_prior="auto", topic_word_prior="auto", evaluate_every=2, perp_tol=1e-3),
        dict(doc_topic_prior=[0.1, 0.5, 1.0, 2.0], topic_word_prior=1.5, mean_change_tol=1e-6),
    ],
    ids=["fixed", "auto", "asymmetric-float64-sweeps"],
)
def test_fit_equals_the_in_memory_fit(dask_client, params):
    X = _corpus()
    kw = dict(n_components=4, max_iter=8, random_state=0, **params)
    mem = VariationalLDA(**kw).fit(X)
    Xd = da.from_array(X, chunks=(CHUNKS, -1), asarray=False)
    dk = VariationalLDA(**kw).fit(Xd)
    _assert_same_fit(dk, mem, Xd, X)


def test_a_rejected_restart_is_redone_warm_from_the_gamma_on_the_workers(dask_client):
    X = _corpus(n_docs=200, seed=1)
    kw = dict(n_components=8, max_iter=15, random_state=0)
    mem = VariationalLDA(**kw).fit(X)
    assert mem._state.n_warm_passes > 0  # the case exercises the warm pass
    Xd = da.from_array(X, chunks=((83, 41, 76), -1), asarray=False)
    _assert_same_fit(VariationalLDA(**kw).fit(Xd), mem, Xd, X)


def test_dense_float32_chunks_generated_by_dask(dask_client):
    Xd = da.random.RandomState(5).poisson(0.4, size=(530, 35), chunks=(170, 35))
    Xd = Xd.astype(np.float32)
    X = Xd.compute()
    kw = dict(n_components=3, max_iter=4, random_state=2)
    mem = VariationalLDA(**kw).fit(X)
    dk = VariationalLDA(**kw).fit(Xd)
    assert dk.components_.dtype == np.float32
    _assert_same_fit(dk, mem, Xd, X)
    csr = Xd.map_blocks(sp.csr_matrix, dtype=np.float32)
    _assert_same_fit(VariationalLDA(**kw).fit(csr), mem, csr, sp.csr_matrix(X))


def test_seeded_starts_do_not_depend_on_the_chunking(dask_client, monkeypatch):
    # above SEEDED_STARTS_MIN_DOCS the restarts are drawn per block of documents: made
    # small here so that a small corpus takes that path, in memory and on Dask
    monkeypatch.setattr(kern, "SEEDED_STARTS_MIN_DOCS", 100)
    monkeypatch.setattr(kern, "START_BLOCK_DOCS", 64)
    key = kern.draw_starts(np.random.RandomState(0), 700, 4)
    assert isinstance(key, kern.StartKey)
    whole = kern.starts_of(key, 0, 700)
    edges = np.r_[0, np.cumsum(CHUNKS)]
    pieces = [kern.starts_of(key, a, b) for a, b in zip(edges[:-1], edges[1:], strict=True)]
    np.testing.assert_array_equal(np.vstack(pieces), whole)
    assert np.all(whole > 0) and abs(whole.mean() - 1.0) < 0.01
    X = _corpus()
    kw = dict(n_components=4, max_iter=5, random_state=0, doc_topic_prior="auto")
    mem = VariationalLDA(**kw).fit(X)
    Xd = da.from_array(X, chunks=(CHUNKS, -1), asarray=False)
    _assert_same_fit(VariationalLDA(**kw).fit(Xd), mem, Xd, X)


def _error(fit, X):
    with pytest.raises(ValueError) as info:
        fit(X)
    return str(info.value)


@pytest.mark.parametrize("bad", ["nan", "inf", "negative"])
def test_bad_chunks_raise_the_in_memory_errors(dask_client, bad):
    X = _corpus(n_docs=120).toarray()
    X[100, 3] = {"nan": np.nan, "inf": np.inf, "negative": -1.0}[bad]
    expected = _error(VariationalLDA(n_components=3, max_iter=1).fit, X)
    for Xd in (
        da.from_array(X, chunks=(50, -1)),
        da.from_array(X, chunks=(50, -1)).map_blocks(sp.csr_matrix),
    ):
        assert _error(VariationalLDA(n_components=3, max_iter=1).fit, Xd) == expected
    lda = VariationalLDA(n_components=3, max_iter=1).fit(np.abs(np.nan_to_num(X, posinf=1)))
    Xd = da.from_array(X, chunks=(50, -1))
    expected = _error(lda.perplexity, X).replace("perplexity", "")
    assert _error(lda.perplexity, Xd).replace("perplexity", "") == expected
    with pytest.raises(ValueError):
        lda.transform(Xd).compute()


def _corrupt(chunk):
    """A chunk with a column index beyond the 60 columns."""
    chunk = chunk.copy()
    chunk.indices[chunk.nnz // 2] = 99
    return chunk


def test_malformed_sparse_chunk_and_shapes(dask_client):
    X = _corpus(n_docs=90)
    Xd = da.from_array(X, chunks=(40, -1), asarray=False).map_blocks(_corrupt, dtype=float)
    with pytest.raises(ValueError, match="malformed CSR input"):
        VariationalLDA(n_components=3, max_iter=1).fit(Xd)
    across = da.from_array(X.toarray(), chunks=(40, 30))
    with pytest.raises(ValueError, match=r"chunks across its 60 columns"):
        VariationalLDA(n_components=3).fit(across)
    lda = VariationalLDA(n_components=3, max_iter=1).fit(X)
    fewer = da.from_array(X[:, :50].toarray(), chunks=(40, -1))
    with pytest.raises(ValueError, match="X has 50 features, but VariationalLDA is expecting 60"):
        lda.transform(fewer)


@pytest.mark.parametrize("method", ["online", "cvb0"])
def test_other_learning_methods_are_refused_on_dask(dask_client, method):
    Xd = da.from_array(_corpus(n_docs=60), chunks=(25, -1), asarray=False)
    with pytest.raises(ValueError, match=f"learning_method='{method}' is not supported on Dask"):
        VariationalLDA(n_components=3, learning_method=method).fit(Xd)
    with pytest.raises(ValueError, match="partial_fit does not accept a Dask array yet"):
        VariationalLDA(n_components=3).partial_fit(Xd)
