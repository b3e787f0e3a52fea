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


def test_cvb0_is_refused_on_dask(dask_client):
    Xd = da.from_array(_corpus(n_docs=60), chunks=(25, -1), asarray=False)
    with pytest.raises(ValueError, match="learning_method='cvb0' is not supported on Dask"):
        VariationalLDA(n_components=3, learning_method="cvb0").fit(Xd)


#: Chunks of which none is a multiple of the batch size 64; the mini-batch of documents
#: 320..383 runs through four chunks (250, 77, 30, 20), two of them shorter than a batch.
ONLINE_CHUNKS = (250, 77, 30, 20, 250, 73)


ONLINE_CASES = {
    "fixed": dict(),
    "auto": dict(doc_topic_prior="auto", topic_word_prior="auto", evaluate_every=2,
                 perp_tol=1e-3),
    "converges": dict(doc_topic_prior=[0.1, 0.5, 1.0, 2.0], evaluate_every=1, perp_tol=50.0),
}  # fmt: skip


@pytest.mark.parametrize(
    "case, dense",
    [("fixed", False), ("fixed", True), ("auto", False), ("converges", True)],
    ids=["fixed-csr", "fixed-dense", "auto-csr", "converges-dense"],
)
def test_online_fit_equals_the_in_memory_fit(dask_client, case, dense):
    params = ONLINE_CASES[case]
    X = _corpus()
    kw = dict(n_components=4, max_iter=4, learning_method="online", batch_size=64, **params)
    mem = VariationalLDA(random_state=0, **kw).fit(X)
    Xd = da.from_array(X.toarray() if dense else X, chunks=(ONLINE_CHUNKS, -1), asarray=False)
    random_state = np.random.RandomState(0)
    dk = VariationalLDA(random_state=random_state, **kw).fit(Xd)
    _assert_same_fit(dk, mem, Xd, X)
    # 11 mini-batches per pass, one topic update each
    assert dk.n_batch_iter_ == 1 + 11 * dk.n_iter_
    if case == "converges":  # the case exercises the convergence test
        assert dk.converged_ and dk.n_iter_ < 4
    # the fit's random state advanced as in memory (one draw of topics, one per batch)
    reference = np.random.RandomState(0)
    VariationalLDA(random_state=reference, **kw).fit(X)
    assert random_state.randint(2**31) == reference.randint(2**31)


def test_online_fit_verbose_lines_are_the_in_memory_ones(dask_client, capsys):
    X = _corpus(n_docs=300)
    kw = dict(n_components=3, max_iter=3, learning_method="online", batch_size=50,
              evaluate_every=2, verbose=1, random_state=1)  # fmt: skip
    VariationalLDA(**kw).fit(X)
    expected = capsys.readouterr().out
    VariationalLDA(**kw).fit(da.from_array(X, chunks=((120, 101, 79), -1), asarray=False))
    assert capsys.readouterr().out == expected
    assert expected.count("iteration:") == 3 and expected.count("perplexity:") == 1


def test_online_mini_batches_and_chunks_in_every_relation(dask_client):
    # a batch larger than every chunk, one chunk per document, and a single chunk
    X = _corpus(n_docs=90, seed=2)
    kw = dict(n_components=3, max_iter=2, learning_method="online", random_state=3)
    for batch_size, chunks in [(40, (7, 13, 5, 30, 35)), (1, (45, 45)), (16, (90,)),
                               (200, (30, 60))]:  # fmt: skip
        mem = VariationalLDA(batch_size=batch_size, **kw).fit(X)
        Xd = da.from_array(X, chunks=(chunks, -1), asarray=False)
        dk = VariationalLDA(batch_size=batch_size, **kw).fit(Xd)
        assert _rel(dk.components_, mem.components_) < 1e-10, (batch_size, chunks)
        assert _rel(dk.lower_bounds_, mem.lower_bounds_) < 1e-10, (batch_size, chunks)
        assert dk.n_batch_iter_ == mem.n_batch_iter_ == 1 + 2 * -(-90 // batch_size)


def test_online_fit_of_float32_chunks_generated_by_dask(dask_client):
    Xd = da.random.RandomState(7).poisson(0.5, size=(410, 35), chunks=(130, 35))
    Xd = Xd.astype(np.float32).map_blocks(sp.csr_matrix, dtype=np.float32)
    X = sp.csr_matrix(Xd.compute())
    kw = dict(n_components=3, max_iter=3, learning_method="online", batch_size=48,
              topic_word_prior="auto", random_state=2)  # fmt: skip
    mem = VariationalLDA(**kw).fit(X)
    dk = VariationalLDA(**kw).fit(Xd)
    assert dk.components_.dtype == np.float32
    _assert_same_fit(dk, mem, Xd, X)


def _assert_same_step(dk, mem):
    # A stochastic step with learned priors carries the round-off of the chunks' sums (of
    # the largest entries' size) into every entry: the topic tables are compared relative
    # to their largest entry (at the minimum versions an entry of 0.7 in a table up to
    # 1.3e3 differed by 1.3e-10 of itself), the bounds entrywise.
    for name in ("components_", "exp_dirichlet_component_", "lower_bounds_"):
        a, b = getattr(dk, name), getattr(mem, name)
        assert type(a) is np.ndarray
        if name == "lower_bounds_":
            assert _rel(a, b) < 1e-10, name
        else:
            assert np.max(np.abs(a - b)) < 1e-10 * np.max(np.abs(b)), name
    assert _rel(dk.doc_topic_prior_, mem.doc_topic_prior_) < 1e-10
    assert _rel(dk.topic_word_prior_, mem.topic_word_prior_) < 1e-10
    assert (dk.n_batch_iter_, dk.n_iter_) == (mem.n_batch_iter_, mem.n_iter_)


@pytest.mark.parametrize(
    "params",
    [dict(), dict(doc_topic_prior="auto", topic_word_prior="auto", total_samples=5000)],
    ids=["fixed", "auto"],
)
def test_partial_fit_equals_the_in_memory_partial_fit(dask_client, params):
    X = _corpus()
    kw = dict(n_components=4, random_state=0, **params)
    mem, dk = VariationalLDA(**kw), VariationalLDA(**kw)
    for lo, hi, chunks in [(0, 250, (100, 73, 77)), (250, 580, (330,)), (580, 700, (33, 87))]:
        mem.partial_fit(X[lo:hi])
        block = X[lo:hi] if lo != 250 else X[lo:hi].toarray()  # CSR and dense chunks
        Xd = da.from_array(block, chunks=(chunks, -1), asarray=False)
        dk.partial_fit(Xd)
        _assert_same_step(dk, mem)
    assert dk.n_batch_iter_ == 4 and len(dk.lower_bounds_) == 3
    lazy = dk.transform(Xd)
    assert isinstance(lazy, da.Array)
    # The lazy transform equals the in-memory transform of the same model; against the
    # other model (tables 1e-10 apart) the E-step's stopping rule (mean change below
    # 1e-3) may stop a document one iteration apart: 4.7e-7 at the minimum versions.
    assert _rel(lazy.compute(), dk.transform(X[580:])) < 1e-10
    assert _rel(lazy.compute(), mem.transform(X[580:])) < 1e-5


def test_partial_fit_continues_an_online_fit_made_on_dask(dask_client):
    X = _corpus(n_docs=400)
    Xd = da.from_array(X, chunks=((150, 77, 173), -1), asarray=False)
    kw = dict(n_components=4, learning_method="online", max_iter=2, batch_size=100,
              doc_topic_prior="auto", random_state=0)  # fmt: skip
    mem = VariationalLDA(**kw).fit(X).partial_fit(X[:90])
    dk = VariationalLDA(**kw).fit(Xd).partial_fit(Xd[:90])
    _assert_same_step(dk, mem)
    assert dk.n_batch_iter_ == 1 + 2 * 4 + 1


@pytest.mark.parametrize("bad", ["nan", "negative"])
def test_bad_chunks_raise_the_in_memory_errors_online(dask_client, bad):
    X = _corpus(n_docs=120).toarray()
    X[100, 3] = {"nan": np.nan, "negative": -1.0}[bad]
    kw = dict(n_components=3, max_iter=1, learning_method="online", batch_size=32)
    expected = _error(VariationalLDA(**kw).fit, X)
    partial = _error(VariationalLDA(**kw).partial_fit, X)
    for Xd in (
        da.from_array(X, chunks=(50, -1)),
        da.from_array(X, chunks=(50, -1)).map_blocks(sp.csr_matrix),
    ):
        assert _error(VariationalLDA(**kw).fit, Xd) == expected
        assert _error(VariationalLDA(**kw).partial_fit, Xd) == partial
    fitted = VariationalLDA(**kw).fit(np.abs(np.nan_to_num(X)))
    expected = _error(fitted.partial_fit, X)
    assert _error(fitted.partial_fit, da.from_array(X, chunks=(50, -1))) == expected
    # the failed calls left the fitted model as it was
    assert fitted.n_batch_iter_ == 1 + 4


@pytest.mark.parametrize("batch_size", [1, 7, 64, 100, 1000])
def test_online_links_cover_each_mini_batch_once_in_order(batch_size):
    from skvi._lda_dask import DaskDocs, _links

    sizes = (250, 77, 30, 0, 20, 250, 73)
    offsets = np.r_[0, np.cumsum(sizes)]
    docs = DaskDocs([None] * len(sizes), offsets, (700, 60), np.dtype(float), "test", False)
    starts, stops, done = [], [], 0
    for i, cuts, heads, (a, b) in _links(docs, batch_size):
        assert sizes[i] > 0 and 0 <= cuts[0] < sizes[i] and a == done
        assert len(cuts) == b - a + 1 and np.all(cuts[:-1] < sizes[i])  # batches start in i
        starts.extend(offsets[i] + cuts[:-1])
        stops.append(offsets[i] + cuts[-1])
        # the rows the last mini-batch takes from the next chunks: their heads, in order
        beyond = max(cuts[-1] - sizes[i], 0)
        assert sum(n for _, n in heads) == beyond
        assert [j for j, _ in heads] == list(range(i + 1, i + 1 + len(heads)))
        done = b
    np.testing.assert_array_equal(starts, np.arange(0, 700, batch_size))
    assert stops[-1] == 700 and done == len(starts)
