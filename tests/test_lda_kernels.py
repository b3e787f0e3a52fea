"""The LDA E-step kernel against the plain NumPy references of ``_naive.py``."""

import functools
import warnings

import numba
import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose
from scipy.special import digamma

from skvi import _lda_kernels as kern
from skvi.datasets import make_lda_corpus

from . import _naive as nv

MODES = [kern.FRESH, kern.WARM]


def _topics(lam):
    """What the kernel takes from lambda, recomputed with SciPy: E[ln beta] (K, V), the
    vocabulary-major shifted exponentials (V, K) and the shifts (V,)."""
    e_log_beta = digamma(lam) - digamma(lam.sum(axis=1, keepdims=True))
    shift = e_log_beta.max(axis=0)
    exp_topic_word = np.ascontiguousarray(np.exp(e_log_beta - shift).T)
    return e_log_beta, exp_topic_word, shift


def _float32_topics(exp_topic_word):
    """The float32 first-phase matrix the estimator builds (``kern.topic_tables``)."""
    return exp_topic_word.astype(np.float32)


def _problem(n_docs=60, n_words=40, k=4, seed=0, n_empty=3, lam_scale=1.0):
    """A corpus (CSR, with a few empty documents), topics lambda and an asymmetric alpha."""
    X, _, _ = make_lda_corpus(
        n_docs, n_words, k, doc_topic_prior=0.3, doc_length=30, random_state=seed
    )
    X = X.tolil()
    rng = np.random.RandomState(seed)
    for d in rng.choice(n_docs, n_empty, replace=False):
        X[d, :] = 0
    X = sp.csr_matrix(X)
    X.eliminate_zeros()
    lam = rng.gamma(1.0, 5.0 * lam_scale, size=(k, n_words)) + 0.05
    alpha = rng.uniform(0.05, 1.5, size=k)
    return X, lam, alpha


def _run(
    X,
    lam,
    alpha,
    *,
    gamma=None,
    mode=kern.FRESH,
    starts=None,
    max_iter=5000,
    tol=1e-10,
    sstats=True,
    kernel=kern.e_step,
    float32=False,
):
    """The kernel on ``X``; ``float32``: with the float32 sweeps (as the estimator
    runs it), else in float64 only."""
    _, etw, shift = _topics(lam)
    inner = _float32_topics(etw) if float32 else np.zeros((0, lam.shape[0]), np.float32)
    if gamma is None:
        gamma = np.zeros((X.shape[0], lam.shape[0]))
    if starts is None:
        starts = np.empty((0, lam.shape[0]))
    out = kernel(
        X.indptr, X.indices, X.data, etw, inner, shift, alpha, gamma, mode, starts, max_iter, tol,
        sstats,
    )  # fmt: skip
    return gamma, out


def test_make_topics_builds_the_kernel_inputs():
    _, lam, _ = _problem()
    topics = kern.make_topics(lam)
    e_log_beta, etw, shift = _topics(lam)
    assert topics.components is lam
    assert_allclose(topics.e_log_beta, e_log_beta, rtol=1e-12, atol=1e-12)
    assert_allclose(topics.word_shift, shift, rtol=1e-12, atol=1e-12)
    assert_allclose(topics.exp_topic_word, etw, rtol=1e-12)
    assert topics.exp_topic_word.flags.c_contiguous
    assert topics.exp_topic_word.shape == (lam.shape[1], lam.shape[0])
    # the float32 copy
    assert topics.inner.dtype == np.float32 and topics.inner.shape == etw.shape
    assert_allclose(topics.inner, etw, rtol=1e-7)


@pytest.mark.parametrize("eta", [0.01, 1.0, 7.5])
def test_topic_kl_matches_reference(eta):
    _, lam, _ = _problem(k=5, seed=9)
    e_log_beta, _, _ = _topics(lam)
    ref = sum(nv.kl_dirichlet(row, eta) for row in lam)
    assert_allclose(kern.topic_kl(lam, e_log_beta, eta), ref, rtol=1e-12)


@pytest.mark.parametrize("k", [1, 2, 5])
def test_e_step_matches_reference(k):
    X, lam, alpha = _problem(k=k, seed=k)
    gamma, (stats, terms, elt) = _run(X, lam, alpha)
    e_log_beta, _, _ = _topics(lam)
    dense = X.toarray()
    lengths = dense.sum(axis=1)

    ref_gamma = np.empty_like(gamma)
    ref_stats = np.zeros((X.shape[1], k))
    ref_words, ref_kl, ref_elt = 0.0, 0.0, np.zeros(k)
    for d in range(X.shape[0]):
        start = alpha + lengths[d] / k
        ref_gamma[d] = nv.lda_doc_e_step(dense[d], np.exp(e_log_beta), alpha, start, 5000, 1e-10)
        if lengths[d] == 0:
            continue
        e_log_theta = nv.dirichlet_expectation(ref_gamma[d])
        phi = nv.lda_phi(ref_gamma[d], e_log_beta)
        ref_stats += dense[d][:, None] * phi
        # words term, from its definition: n_w sum_k phi (E ln theta + E ln beta - ln phi)
        ref_words += np.sum(
            dense[d][:, None] * phi * (e_log_theta[None, :] + e_log_beta.T - np.log(phi))
        )
        ref_kl += nv.kl_dirichlet(ref_gamma[d], alpha)
        ref_elt += e_log_theta

    assert_allclose(gamma, ref_gamma, rtol=1e-9, atol=1e-12)
    assert_allclose(stats, ref_stats, rtol=1e-9, atol=1e-10)
    assert_allclose(terms[0], ref_words, rtol=1e-10)
    assert_allclose(terms[1], ref_kl, rtol=1e-10)
    assert terms[2] == np.count_nonzero(lengths)
    assert terms[3] >= terms[2]  # at least one sweep per non-empty document
    assert_allclose(elt, ref_elt, rtol=1e-10)
    # every token is assigned: the statistics hold the corpus' word counts
    assert_allclose(stats.sum(axis=1), dense.sum(axis=0), rtol=1e-12)
    # the kernel's document terms are the reference's bound, summed
    kl_part = terms[1]
    ref_bound = sum(
        nv.lda_doc_bound(dense[d], e_log_beta, alpha, ref_gamma[d]) for d in range(X.shape[0])
    )
    assert_allclose(terms[0] - kl_part, ref_bound, rtol=1e-10)


def test_e_step_from_given_starts_matches_reference():
    X, lam, alpha = _problem(k=3, seed=7)
    rng = np.random.RandomState(0)
    starts = rng.gamma(100.0, 0.01, (X.shape[0], 3))
    gamma, _ = _run(X, lam, alpha, starts=starts, max_iter=7, tol=0.0)
    e_log_beta, _, _ = _topics(lam)
    dense = X.toarray()
    for d in range(X.shape[0]):
        ref = nv.lda_doc_e_step(dense[d], np.exp(e_log_beta), alpha, starts[d], 7, 0.0)
        if dense[d].sum() == 0:
            ref = alpha
        assert_allclose(gamma[d], ref, rtol=1e-10)


def test_extreme_topics_do_not_underflow():
    # lambda tiny for most words: exp(E ln beta) underflows without the per-word shift
    X, lam, alpha = _problem(k=3, seed=3)
    lam = np.where(np.random.RandomState(1).rand(*lam.shape) < 0.5, 1e-3, lam * 100.0)
    e_log_beta, _, _ = _topics(lam)
    assert np.exp(e_log_beta).min() == 0.0  # the unshifted exponentials underflow
    gamma, (stats, terms, elt) = _run(X, lam, alpha)
    assert np.all(np.isfinite(gamma)) and np.all(np.isfinite(stats))
    assert np.all(np.isfinite(terms)) and np.all(np.isfinite(elt))
    assert_allclose(stats.sum(axis=1), X.toarray().sum(axis=0), rtol=1e-10)


def test_float32_phase_converges_to_the_float64_fixed_point():
    """The estimator's float32 phase: with a tight tolerance it hands over to float64 and
    the result is the float64 one; with scikit-learn's 1e-3 the documents stop in
    float32, near the float64 result; long documents, whose change float32 cannot
    resolve below 1e-3, finish in float64."""
    X, lam, alpha = _problem(n_docs=300, k=5, seed=5)
    g64, (s64, t64, e64) = _run(X, lam, alpha, tol=1e-10)
    g32, (s32, t32, e32) = _run(X, lam, alpha, tol=1e-10, float32=True)
    # measured: 7e-13
    assert_allclose(g32, g64, rtol=1e-10)
    assert_allclose(s32, s64, rtol=1e-9, atol=1e-12)
    assert_allclose(t32[:3], t64[:3], rtol=1e-10)

    for scale in (1, 200):  # mean gamma ~7 and ~1200: float32 floor 7e-5 and 1.2e-2
        Xs = X * scale
        lengths = np.asarray(Xs.sum(axis=1)).ravel()
        g64, (s64, t64, _) = _run(Xs, lam, alpha, tol=1e-3, max_iter=5000)
        g32, (s32, t32, _) = _run(Xs, lam, alpha, tol=1e-3, max_iter=5000, float32=True)
        # a float64 last sweep makes gamma sum to alpha + n_d exactly; a float32 one to
        # float32 precision (measured: 1.5e-7 and 4e-16)
        rtol = 1e-13 if scale > 1 else 1e-6
        assert_allclose(g32.sum(axis=1), alpha.sum() + lengths, rtol=rtol)
        if scale == 1:  # and the short documents did stop in float32
            assert np.max(np.abs(g32.sum(axis=1) - alpha.sum() - lengths)) > 1e-10
        # measured: words terms 2e-10 and 8e-11 apart, gamma 3e-7 and 2e-4
        assert_allclose(t32[0], t64[0], rtol=1e-8)
        assert_allclose(g32, g64, rtol=1e-2)
        assert t32[3] <= 1.01 * t64[3]  # measured: the same number of sweeps


def test_float32_underflow_falls_back_to_float64():
    # word 1 is likely only under topic 1, whose weight in this document is ~1e-46 of
    # topic 0's: its normaliser, ~1e-35, is below what the float32 phase accepts
    etw = np.array([[1.0, 1e-35], [1e-35, 1.0]])
    indices, data = np.array([0, 1], np.int32), np.array([100.0, 1.0])
    alpha = np.array([0.01, 0.01])
    gamma = np.array([100.0, 0.01])
    inner = _float32_topics(etw)
    local, counts = np.empty((2, kern.WORD_PAD), np.float32), np.empty(kern.WORD_PAD, np.float32)
    n = kern._gather(0, 2, indices, data, inner, local, counts)
    assert n == kern.WORD_PAD
    # the words gathered word-minor, padded with words of count 0
    assert np.array_equal(local[:, :2], inner.T) and np.all(local[:, 2:] == 1.0)
    assert np.array_equal(counts, np.r_[data, np.zeros(n - 2)])
    et, et32, norm = np.empty(2), np.empty(2, np.float32), np.empty(n, np.float32)
    sweeps, status = kern._sweeps(n, local, counts, alpha, gamma, et, et32, norm, 10, 1e-3)
    assert (sweeps, status) == (0, 2)
    assert np.array_equal(gamma, [100.0, 0.01])  # left as it was
    X = sp.csr_matrix((data, indices, np.array([0, 2])), shape=(1, 2))
    out = {}
    for float32 in (False, True):
        gamma = np.zeros((1, 2))
        stats, terms, elt = kern.e_step(
            X.indptr, X.indices, X.data, etw, inner if float32 else inner[:0], np.zeros(2),
            alpha, gamma, kern.FRESH, np.array([[100.0, 0.01]]), 50, 1e-10, True,
        )  # fmt: skip
        out[float32] = gamma
    assert np.all(np.isfinite(out[True]))
    assert_allclose(out[True], out[False], rtol=1e-12)


def test_float32_data_agrees_with_float64():
    X, lam, alpha = _problem(k=4, seed=2)
    X32 = X.astype(np.float32)
    g64, (s64, t64, e64) = _run(X, lam, alpha)
    g32, (s32, t32, e32) = _run(X32, lam, alpha)
    assert s32.dtype == np.float64 and g32.dtype == np.float64
    assert_allclose(g32, g64, rtol=1e-5)
    assert_allclose(s32, s64, rtol=1e-5, atol=1e-8)
    assert_allclose(t32, t64, rtol=1e-5)
    assert_allclose(e32, e64, rtol=1e-5)


def test_empty_documents_get_alpha_and_contribute_nothing():
    X, lam, alpha = _problem(k=3, seed=4, n_empty=10)
    empty = np.diff(X.indptr) == 0
    assert empty.sum() == 10
    gamma0 = np.full((X.shape[0], 3), 7.0)  # a warm start the empty rows must not keep
    for mode in MODES:
        gamma, (stats, terms, elt) = _run(X, lam, alpha, gamma=gamma0.copy(), mode=mode)
        assert_allclose(gamma[empty], np.broadcast_to(alpha, (10, 3)), rtol=0, atol=0)
        assert terms[2] == (~empty).sum()
        # the same as the corpus without them
        gamma_ne, (stats_ne, terms_ne, elt_ne) = _run(
            X[~empty], lam, alpha, gamma=gamma0[~empty].copy(), mode=mode
        )
        assert_allclose(gamma[~empty], gamma_ne, rtol=1e-12)
        assert_allclose(stats, stats_ne, rtol=1e-12, atol=1e-14)
        assert_allclose(terms, terms_ne, rtol=1e-12)
        assert_allclose(elt, elt_ne, rtol=1e-12)
    # an all-empty corpus
    Z = sp.csr_matrix((5, X.shape[1]))
    gamma, (stats, terms, elt) = _run(Z, lam, alpha)
    assert_allclose(gamma, np.broadcast_to(alpha, (5, 3)))
    assert np.all(stats == 0) and np.all(terms == 0) and np.all(elt == 0)


def test_sstats_false_returns_an_empty_array_and_the_same_gamma():
    X, lam, alpha = _problem(k=3, seed=5)
    g1, (s1, t1, e1) = _run(X, lam, alpha, sstats=True)
    g2, (s2, t2, e2) = _run(X, lam, alpha, sstats=False)
    assert s2.size == 0
    assert np.array_equal(g1, g2) and np.array_equal(t1, t2) and np.array_equal(e1, e2)


@pytest.mark.parametrize("n_words, k", [(80, 5), (4400, 10)])
def test_serial_equals_parallel_and_thread_count_does_not_matter(thread_counts, n_words, k):
    # 1500 documents: six blocks of 256; their statistics summed on the calling thread
    # (80 words) or in parallel (4400 words: more than SERIAL_SUM_CELLS cells)
    X, lam, alpha = _problem(n_docs=1500, n_words=n_words, k=k, seed=6, n_empty=20)
    n_blocks = kern.n_doc_blocks(X.shape[0], X.shape[1] * k)
    assert n_blocks > 2
    assert (n_blocks * n_words * k > kern.SERIAL_SUM_CELLS) == (n_words > 80)
    rng = np.random.RandomState(0)
    starts = rng.gamma(100.0, 0.01, (X.shape[0], k))
    kw = dict(starts=starts, max_iter=100, tol=1e-3, float32=True)
    serial = _run(X, lam, alpha, kernel=functools.partial(kern.e_step, serial=True), **kw)
    one, many = [], []
    for n_threads, out in zip(thread_counts, (one, many), strict=True):  # 1 and 2 threads
        numba.set_num_threads(n_threads)
        out.extend(_run(X, lam, alpha, **kw))
    for a, b in [(serial, one), (one, many)]:
        assert_allclose(a[0], b[0], rtol=1e-12)
        for x, y in zip(a[1], b[1], strict=True):
            assert_allclose(x, y, rtol=1e-12, atol=1e-14)
    # the block decomposition does not depend on the thread count: bit-identical
    assert np.array_equal(one[0], many[0])
    for x, y in zip(one[1], many[1], strict=True):
        assert np.array_equal(x, y)


def _bounds(X, lam, alpha, gamma):
    e_log_beta, _, _ = _topics(lam)
    dense = X.toarray()
    return np.array(
        [nv.lda_doc_bound(dense[d], e_log_beta, alpha, gamma[d]) for d in range(X.shape[0])]
    )


def _warm_problem():
    """Topics and starts under which documents have several local optima."""
    X, lam, alpha = _problem(n_docs=200, n_words=30, k=5, seed=8, n_empty=5, lam_scale=0.2)
    alpha = np.full(5, 0.05)  # small alpha: many local optima per document
    rng = np.random.RandomState(1)
    # warm starts: converged fixed points from spread-out random starts, and arbitrary points
    warm, _ = _run(X, lam, alpha, starts=rng.gamma(0.3, 20.0, (X.shape[0], 5)) + 1e-3)
    arbitrary = rng.rand(X.shape[0]) < 0.3
    warm[arbitrary] = rng.gamma(1.0, 5.0, (arbitrary.sum(), 5)) + 0.01
    fresh_starts = rng.gamma(100.0, 0.01, (X.shape[0], 5))  # as VariationalLDA draws them
    return X, lam, alpha, warm, fresh_starts


def test_warm_mode_continues_from_gamma_and_never_lowers_the_bound():
    X, lam, alpha, warm, fresh_starts = _warm_problem()
    warm_bounds = _bounds(X, lam, alpha, warm)
    kw = dict(starts=fresh_starts, max_iter=3, tol=1e-3)
    new, _ = _run(X, lam, alpha, gamma=warm.copy(), mode=kern.WARM, **kw)
    new_bounds = _bounds(X, lam, alpha, new)
    assert np.all(new_bounds >= warm_bounds - 1e-10 * (np.abs(warm_bounds) + 1.0))
    e_log_beta, _, _ = _topics(lam)
    dense = X.toarray()
    for d in range(X.shape[0]):
        ref = nv.lda_doc_e_step(dense[d], np.exp(e_log_beta), alpha, warm[d], 3, 1e-3)
        assert_allclose(new[d], alpha if dense[d].sum() == 0 else ref, rtol=1e-10)


def test_warm_mode_without_sweeps_evaluates_the_given_gamma():
    X, lam, alpha, warm, _ = _warm_problem()
    gamma = warm.copy()
    _, (stats, terms, elt) = _run(X, lam, alpha, gamma=gamma, mode=kern.WARM, max_iter=0)
    empty = np.diff(X.indptr) == 0
    assert np.array_equal(gamma[~empty], warm[~empty])
    assert_allclose(gamma[empty], np.broadcast_to(alpha, (empty.sum(), 5)), rtol=0)
    assert terms[3] == 0  # no sweeps
    kl_part = terms[1]
    ref = _bounds(X, lam, alpha, gamma).sum()
    assert_allclose(terms[0] - kl_part, ref, rtol=1e-10)
    e_log_beta, _, _ = _topics(lam)
    ref_stats = sum(
        X[d].toarray()[0][:, None] * nv.lda_phi(gamma[d], e_log_beta)
        for d in np.flatnonzero(~empty)
    )
    assert_allclose(stats, ref_stats, rtol=1e-10, atol=1e-12)


# ----------------------------------------------------------------------------- CVB0
def _cvb0_problem(n_docs=30, n_words=20, k=3, seed=0):
    """A corpus with empty documents, a fractional count and a count above one, its
    structure (four blocks) and random responsibilities."""
    X, lam, alpha = _problem(n_docs=n_docs, n_words=n_words, k=k, seed=seed)
    X = X.astype(float)
    X.data[0] = 0.4  # a fraction of a token: excluded whole
    X.data[1] = 7.0
    structure = kern.cvb0_structure(X.indptr, X.indices, n_words, n_blocks=4)
    resp = np.random.RandomState(seed).dirichlet(np.ones(k), size=X.nnz).astype(np.float32)
    return X, alpha, structure, resp


def _word_topic(X, resp):
    """``N_wk = sum_{j: w_j = w} n_j r_jk`` in NumPy, each word's entries in document order."""
    full = np.zeros((X.shape[1], resp.shape[1]))
    np.add.at(full, X.indices, X.data[:, None] * resp)
    return full


def _cvb0_run(X, alpha, eta, structure, resp, n_passes=1, kernel=None):
    """``n_passes`` passes of ``kernel`` from a copy of ``resp``; returns the new
    responsibilities, N_wk, N_k + V eta and the documents' N_dk."""
    csc_ptr, csc_pos, csc_doc, edges = structure
    resp = resp.copy()
    n_words, k = X.shape[1], resp.shape[1]
    word_topic = _word_topic(X, resp)
    topic_total = word_topic.sum(axis=0) + n_words * eta
    doc_topic = np.zeros((X.shape[0], k))
    for _ in range(n_passes):
        (kernel or kern.cvb0_pass)(
            X.indptr, X.indices, X.data, csc_ptr, csc_pos, csc_doc, edges, resp, word_topic,
            topic_total, doc_topic, alpha, eta,
        )  # fmt: skip
    return resp, word_topic, topic_total, doc_topic


def test_cvb0_structure_orders_entries_by_word_and_splits_the_documents():
    X, _, (csc_ptr, csc_pos, csc_doc, edges), _ = _cvb0_problem(n_docs=200)
    csc = X.tocsc()
    assert np.array_equal(csc_ptr, csc.indptr)
    assert np.array_equal(X.indices[csc_pos], np.repeat(np.arange(X.shape[1]), np.diff(csc_ptr)))
    assert np.array_equal(X.data[csc_pos], csc.data)  # same entries, documents in order
    assert np.array_equal(csc_doc, csc.indices)
    assert edges[0] == 0 and edges[-1] == X.shape[0] and np.all(np.diff(edges) > 0)
    assert len(edges) == 5
    entries = np.diff(X.indptr[edges])
    assert entries.max() - entries.min() <= 2 * np.diff(X.indptr).max()
    # fewer documents than blocks: one block per document
    small = X[:3]
    _, _, _, few = kern.cvb0_structure(small.indptr, small.indices, X.shape[1], n_blocks=16)
    assert np.array_equal(few, [0, 1, 2, 3])


@pytest.mark.parametrize("eta", [0.01, 0.5])
def test_cvb0_pass_matches_reference(eta):
    X, alpha, structure, resp = _cvb0_problem()
    new, word_topic, topic_total, doc_topic = _cvb0_run(X, alpha, eta, structure, resp)
    expected = nv.lda_cvb0_pass(X, resp, alpha, eta, structure[3])
    # float32 responsibilities: one rounding per entry
    assert_allclose(new, expected, rtol=2e-6, atol=1e-7)
    assert_allclose(new.sum(axis=1), 1.0, rtol=1e-6)
    # the counts kept up to date by the blocks' changes are the counts of the new values
    full = _word_topic(X, new)
    assert_allclose(word_topic, full, rtol=1e-12, atol=1e-12)
    assert_allclose(topic_total, full.sum(axis=0) + X.shape[1] * eta, rtol=1e-12)
    bounds = zip(X.indptr[:-1], X.indptr[1:], strict=True)
    doc_counts = np.array([(X.data[a:b, None] * new[a:b]).sum(axis=0) for a, b in bounds])
    assert_allclose(doc_topic, doc_counts, rtol=1e-10, atol=1e-12)


def test_cvb0_counts_stay_exact_over_many_passes():
    X, alpha, structure, resp = _cvb0_problem(n_docs=100)
    new, word_topic, topic_total, _ = _cvb0_run(X, alpha, 0.05, structure, resp, n_passes=30)
    full = _word_topic(X, new)
    assert_allclose(word_topic, full, rtol=1e-11, atol=1e-11)
    assert np.all(np.isfinite(new)) and new.min() >= 0


def test_cvb0_serial_equals_parallel_and_thread_count_does_not_matter(thread_counts):
    X, alpha, structure, resp = _cvb0_problem(n_docs=600, n_words=60, k=5, seed=2)
    serial = _cvb0_run(X, alpha, 0.1, structure, resp, 3, kernel=kern.cvb0_pass_serial)
    one, many = [], []
    for n_threads, out in zip(thread_counts, (one, many), strict=True):  # 1 and 2 threads
        numba.set_num_threads(n_threads)
        out.extend(_cvb0_run(X, alpha, 0.1, structure, resp, 3))
    for a, b, c in zip(serial, one, many, strict=True):
        assert np.array_equal(a, b) and np.array_equal(b, c)


# ------------------------------------------ issue 11: accuracy at extreme scales
def test_float32_phase_is_skipped_for_documents_beyond_float32_range():
    # counts x 1e200 overflowed the float32 sweeps (NaN topics); such documents now run
    # in float64 only and agree with the float64-only kernel
    X, lam, alpha = _problem(k=3, seed=2)
    X = X * 1e200
    g32, out32 = _run(X, lam, alpha, float32=True, max_iter=50, tol=1e-3)
    g64, out64 = _run(X, lam, alpha, float32=False, max_iter=50, tol=1e-3)
    assert np.all(np.isfinite(g32)) and np.all(np.isfinite(out32[0]))
    assert_allclose(g32, g64, rtol=1e-12)
    assert_allclose(out32[1], out64[1], rtol=1e-12)


def test_cvb0_pass_does_not_overflow_with_huge_counts():
    # the product of a word's and a document's counts overflowed from about 1e154 (NaN
    # topics at counts x 1e200). Far above the priors the update no longer depends on the
    # scale of the counts: at 1e200 it equals the reference's at 1e100 (whose products
    # stay within float64's range)
    X, alpha, structure, resp = _cvb0_problem()
    eta = 0.5
    new, word_topic, topic_total, _ = _cvb0_run(X * 1e200, alpha, eta, structure, resp)
    expected = nv.lda_cvb0_pass(X * 1e100, resp, alpha, eta, structure[3])
    assert np.all(np.isfinite(word_topic)) and np.all(np.isfinite(topic_total))
    assert_allclose(new, expected, rtol=2e-6, atol=1e-7)


# ------------------------------------------------------------------ the model functions
SETTINGS = kern.EStepSettings(max_iter=5000, tol=1e-10, float32=False)


def _state(lam, alpha, eta, gamma, seed=0, bound=-np.inf):
    return kern.LDAState(
        kern.make_topics(lam), kern.LDAPrior(alpha, eta), gamma, bound, 1, 0,
        np.random.RandomState(seed),
    )  # fmt: skip


@pytest.mark.parametrize("float32", [False, True])
def test_doc_stats_match_reference(float32):
    X, lam, alpha = _problem(k=4, seed=3)
    gamma = np.zeros((X.shape[0], 4))
    settings = SETTINGS._replace(float32=float32, tol=1e-10 if not float32 else 1e-3)
    stats = kern.doc_stats(X, kern.make_topics(lam), alpha, gamma, kern.FRESH, settings)
    S, words, doc_kl, n_docs, elt = nv.lda_stats(X.toarray(), lam, alpha, gamma)
    assert_allclose(stats.topic_word, S, rtol=1e-10, atol=1e-12)
    assert_allclose(stats.words, words, rtol=1e-10)
    assert_allclose(stats.doc_kl, doc_kl, rtol=1e-10)
    assert stats.n_docs == n_docs == X.shape[0] - 3
    assert_allclose(stats.e_log_theta_sum, elt, rtol=1e-10)
    assert stats.sweeps >= n_docs
    assert kern.documents_bound(stats) == pytest.approx(words - doc_kl, rel=1e-10)


@pytest.mark.parametrize("mode", MODES)
def test_statistics_are_additive_over_uneven_chunks(mode):
    """The statistics of a corpus are the sum of those of its chunks (1e-12 relative:
    only the order of the sums differs)."""
    X, lam, alpha = _problem(n_docs=700, n_words=50, k=5, seed=4)
    topics = kern.make_topics(lam)
    settings = kern.EStepSettings(100, 1e-3, True)
    starts = np.random.RandomState(1).gamma(100.0, 0.01, (X.shape[0], 5))
    gamma0 = starts if mode == kern.WARM else np.zeros_like(starts)
    gamma = gamma0.copy()
    whole = kern.doc_stats(X, topics, alpha, gamma, mode, settings, starts)
    edges = [0, 1, 8, 300, 301, 613, 700]  # 1 to 312 documents: other block counts
    total, parts = None, []
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        part_gamma = gamma0[lo:hi].copy()
        part = kern.doc_stats(X[lo:hi], topics, alpha, part_gamma, mode, settings, starts[lo:hi])
        total = part if total is None else kern.add_stats(total, part)
        parts.append(part_gamma)
    assert isinstance(total, kern.LDAStats)
    assert_allclose(np.vstack(parts), gamma, rtol=0)  # each document's fixed point alone
    assert_allclose(total.topic_word, whole.topic_word, rtol=1e-12, atol=1e-300)
    for name in ("words", "doc_kl", "e_log_theta_sum"):
        assert_allclose(getattr(total, name), getattr(whole, name), rtol=1e-12)
    assert total.n_docs == whole.n_docs and total.sweeps == whole.sweeps


def test_elbo_after_an_update_matches_reference():
    """The ELBO of new topics and priors with the statistics of the old ones: phi optimal
    for the old topics, the documents' KL against the new alpha."""
    X, lam, alpha = _problem(k=3, seed=5)
    eta = 0.3
    gamma = np.zeros((X.shape[0], 3))
    old = kern.make_topics(lam)
    stats = kern.doc_stats(X, old, alpha, gamma, kern.FRESH, SETTINGS)
    prior = kern.LDAPrior(1.7 * alpha, 0.8)
    topics = kern.update_topics(stats, kern.LDAPrior(alpha, eta))
    assert_allclose(topics.components, eta + stats.topic_word.T, rtol=0)
    got = kern.elbo(stats, topics, prior, stats_topics=old, stats_alpha=alpha)
    empty = X.toarray().sum(axis=1) == 0
    gamma[empty] = prior.alpha
    ref = nv.lda_elbo(X.toarray(), topics.components, prior.alpha, prior.eta, gamma,
                      phi_components=lam)  # fmt: skip
    assert_allclose(got, ref, rtol=1e-10)
    # under the topics and prior of the statistics: the plain ELBO
    gamma[empty] = alpha
    same = kern.elbo(stats, old, kern.LDAPrior(alpha, eta))
    assert_allclose(same, nv.lda_elbo(X.toarray(), lam, alpha, eta, gamma), rtol=1e-10)
    assert_allclose(
        kern.topics_kl(old, eta), sum(nv.kl_dirichlet(row, eta) for row in lam), rtol=1e-12
    )


def test_stochastic_update_topics_is_the_natural_gradient_step():
    X, lam, alpha = _problem(k=3, seed=6)
    stats = kern.doc_stats(X, kern.make_topics(lam), alpha, np.zeros((X.shape[0], 3)),
                           kern.FRESH, SETTINGS)  # fmt: skip
    prior, rho, scale = kern.LDAPrior(alpha, 0.2), 0.3, 12.5
    new = kern.stochastic_update_topics(stats, kern.make_topics(lam), prior, rho, scale)
    assert_allclose(new.components, (1 - rho) * lam + rho * (0.2 + scale * stats.topic_word.T))
    assert_allclose(new.e_log_beta, nv.dirichlet_expectation(new.components), rtol=1e-12)


def test_step_components_is_the_dense_step_with_zero_statistics_off_the_batch():
    rng = np.random.default_rng(3)
    lam, words = rng.gamma(2.0, 1.0, (4, 30)), np.array([2, 5, 6, 17, 29])
    topic_word = rng.gamma(1.0, 1.0, (words.size, 4))
    full = np.zeros((30, 4))
    full[words] = topic_word
    expected = (1 - 0.3) * lam + 0.3 * (0.2 + 12.5 * full.T)  # the NumPy reference
    got = kern.step_components(lam.copy(), words, topic_word, 0.3, 0.2, 12.5)
    assert_allclose(got, expected, rtol=1e-14)
    assert not np.allclose(got, lam)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_update_alpha_maximises_the_elbo(seed):
    rng = np.random.RandomState(seed)
    theta = rng.dirichlet(rng.uniform(0.05, 3.0, 4), size=50)
    mean = np.log(np.clip(theta, 1e-300, None)).mean(axis=0)
    alpha0 = np.full(4, 0.25)
    alpha = kern.update_alpha(alpha0, mean)
    assert np.array_equal(alpha0, np.full(4, 0.25))  # the argument is not changed
    # the stationary point of Minka's objective: psi(alpha_k) - psi(sum alpha) = mean_k
    assert_allclose(digamma(alpha) - digamma(alpha.sum()), mean, rtol=1e-9, atol=1e-11)
    best = nv.lda_alpha_objective(alpha, mean)
    for step in rng.normal(scale=1e-3, size=(20, 4)):
        assert nv.lda_alpha_objective(alpha * np.exp(step), mean) <= best
    # a stochastic step goes part of the way
    assert_allclose(kern.update_alpha(alpha0, mean, rho=0.25), 0.75 * alpha0 + 0.25 * alpha)


@pytest.mark.parametrize("eta0", [0.01, 1.0, 30.0])
def test_update_eta_maximises_the_elbo(eta0):
    _, lam, _ = _problem(k=4, seed=8)
    topics = kern.make_topics(lam)
    eta = kern.update_eta(eta0, topics)
    K, V = lam.shape
    grad = K * V * (digamma(V * eta) - digamma(eta)) + topics.e_log_beta.sum()
    assert abs(grad * eta) < 1e-8 * K * V
    best = nv.lda_eta_objective(eta, topics.e_log_beta)
    for factor in (0.999, 1.001, 0.5, 2.0):
        assert nv.lda_eta_objective(eta * factor, topics.e_log_beta) <= best
    assert_allclose(kern.update_eta(eta0, topics, rho=0.5), 0.5 * eta0 + 0.5 * eta)
    # update_prior applies only the learned ones
    stats = kern.LDAStats(np.zeros((V, K)), 0.0, 0.0, 0.0, 0.0, np.zeros(K))
    prior = kern.LDAPrior(np.ones(K), eta0)
    assert kern.update_prior(stats, topics, prior, True, False) == prior  # no documents
    assert kern.update_prior(stats, topics, prior, False, True).eta == eta


def test_initial_state_and_its_elbo():
    X, _, alpha = _problem(k=3, seed=9)
    prior = kern.LDAPrior(alpha, 0.4)
    state, bound = kern.initial_state(X, prior, 3, np.random.RandomState(2))
    assert_allclose(state.topics.components, np.random.RandomState(2).gamma(100.0, 0.01, (3, 40)))
    lengths = X.toarray().sum(axis=1)
    assert_allclose(state.gamma, alpha + lengths[:, None] / 3, rtol=1e-15)
    assert state.bound == bound and state.n_batch_iter == 1 and state.cvb0 is None
    ref = nv.lda_elbo(X.toarray(), state.topics.components, alpha, 0.4, state.gamma)
    assert_allclose(bound, ref, rtol=1e-10)


@pytest.mark.parametrize("mode", MODES)
def test_batch_pass_is_a_new_state_with_the_exact_elbo(mode):
    X, lam, alpha = _problem(k=3, seed=10)
    gamma = np.random.RandomState(0).gamma(2.0, 1.0, (X.shape[0], 3)) + alpha
    state = _state(lam, alpha, 0.3, gamma)
    before = gamma.copy()
    new, bound = kern.batch_pass(X, state, mode, SETTINGS, learn_alpha=True, learn_eta=True)
    assert np.array_equal(state.gamma, before) and state.topics.components is lam
    assert new.bound == bound and new.n_batch_iter == 2
    empty = X.toarray().sum(axis=1) == 0
    ref_gamma = new.gamma.copy()
    ref_gamma[empty] = new.prior.alpha
    ref = nv.lda_elbo(X.toarray(), new.topics.components, new.prior.alpha, new.prior.eta,
                      ref_gamma, phi_components=lam)  # fmt: skip
    assert_allclose(bound, ref, rtol=1e-9)
    if mode == kern.WARM:  # coordinate ascent from the state: the ELBO does not drop
        ref_gamma = gamma.copy()
        ref_gamma[empty] = alpha
        assert bound >= nv.lda_elbo(X.toarray(), lam, alpha, 0.3, ref_gamma)


def test_stochastic_pass_draws_its_starts_and_counts_the_step():
    X, lam, alpha = _problem(k=3, seed=11)
    state = _state(lam, alpha, 0.3, None, seed=4)
    new, part = kern.stochastic_pass(X, state, 0.4, 1000, SETTINGS, False, False)
    starts = np.random.RandomState(4).gamma(100.0, 0.01, (X.shape[0], 3))
    gamma = np.zeros_like(starts)
    stats = kern.doc_stats(X, state.topics, alpha, gamma, kern.FRESH, SETTINGS, starts)
    assert part == kern.documents_bound(stats)
    ref = kern.stochastic_update_topics(stats, state.topics, state.prior, 0.4, 1000 / X.shape[0])
    assert_allclose(new.topics.components, ref.components, rtol=0)
    assert new.n_batch_iter == 2 and new.prior == state.prior


@pytest.mark.parametrize("learn", [False, True])
def test_online_pass_is_stochastic_steps_over_the_mini_batches_in_order(learn):
    X, lam, alpha = _problem(n_docs=60, k=3, seed=5)
    rhos = [0.9, 0.7, 0.6, 0.5, 0.45, 0.4, 0.35, 0.3, 0.28]  # 9 mini-batches of <= 7
    new, bound = kern.online_pass(X, _state(lam, alpha, 0.3, None, seed=2), 7, rhos, SETTINGS,
                                  learn, learn)  # fmt: skip
    state, parts = _state(lam, alpha, 0.3, None, seed=2), []
    for lo, rho in zip(range(0, 60, 7), rhos, strict=True):
        state, part = kern.stochastic_pass(X[lo : lo + 7], state, rho, 60, SETTINGS, learn, learn)
        parts.append(part)
    assert new.n_batch_iter == state.n_batch_iter == 1 + 9
    assert_allclose(new.topics.components, state.topics.components, rtol=0)
    assert_allclose(new.prior.alpha, state.prior.alpha, rtol=0)
    assert bound == sum(parts) and (not np.array_equal(new.prior.alpha, alpha)) == learn
    # the serial kernel (a Dask task) takes the same steps, from the same random starts
    batches = [(X[lo : lo + 7], rho) for lo, rho in zip(range(0, 60, 7), rhos, strict=True)]
    start = _state(lam, alpha, 0.3, None, seed=2)
    serial, serial_bound = kern.online_steps(batches, start, 0.0, 60, SETTINGS, learn, learn,
                                             serial=True)  # fmt: skip
    assert_allclose(serial.topics.components, new.topics.components, rtol=1e-12)
    assert_allclose(serial_bound, bound, rtol=1e-12)


def test_cvb0_sweep_elbo_is_that_of_the_expected_counts():
    X, alpha, structure, _ = _cvb0_problem()
    eta = 0.2
    prior = kern.LDAPrior(alpha, eta)
    state, _ = kern.initial_state(X, prior, 3, np.random.RandomState(0), structure)
    word_topic, gamma = state.cvb0.word_topic.copy(), state.gamma.copy()
    new, bound = kern.cvb0_sweep(X, structure, state)
    assert np.array_equal(state.cvb0.word_topic, word_topic)  # the counts are new arrays
    assert np.array_equal(state.gamma, gamma)
    assert new.cvb0.resp is state.cvb0.resp  # the responsibilities: updated in place
    dense = X.toarray()
    n_wk = np.zeros((X.shape[1], 3))
    n_dk = np.zeros((X.shape[0], 3))
    for d in range(X.shape[0]):
        for j in range(X.indptr[d], X.indptr[d + 1]):
            n_wk[X.indices[j]] += X.data[j] * new.cvb0.resp[j]
            n_dk[d] += X.data[j] * new.cvb0.resp[j]
    assert_allclose(new.topics.components, eta + n_wk.T, rtol=1e-6)
    assert_allclose(new.gamma, alpha + n_dk, rtol=1e-6)
    ref = nv.lda_elbo(dense, new.topics.components, alpha, eta, new.gamma)
    assert_allclose(bound, ref, rtol=1e-10)


def test_infer_and_perplexity():
    X, lam, alpha = _problem(k=3, seed=12)
    topics = kern.make_topics(lam)
    gamma, stats = kern.infer(X, topics, alpha, SETTINGS)
    ref_gamma = np.zeros_like(gamma)
    ref = kern.doc_stats(X, topics, alpha, ref_gamma, kern.FRESH, SETTINGS, sstats=False)
    assert np.array_equal(gamma, ref_gamma) and stats.topic_word.shape == (0, 3)
    assert kern.documents_bound(stats) == kern.documents_bound(ref)
    n = float(X.sum())
    assert kern.perplexity(-2.0 * n, n) == pytest.approx(np.exp(2.0))
    assert kern.perplexity(-1.0, 0.0) == 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert kern.perplexity(-1e5, 1.0) == np.inf


def test_topic_tables_of_some_columns_equal_those_of_all_and_scipy():
    rng = np.random.RandomState(3)
    # parameters from 1e-300 to 1e300, around psi's zero (1.4616) and the recurrence's edge
    lam = np.concatenate([10.0 ** rng.uniform(-300, 300, (3, 40)), rng.gamma(0.3, 1.0, (3, 40)),
                          np.full((3, 4), [1.4616321449683622, 9.999999, 10.0, 10.000001])],
                         axis=1)  # fmt: skip
    full = kern.make_topics(lam)
    ref = digamma(lam) - digamma(lam.sum(axis=1, keepdims=True))
    assert_allclose(full.e_log_beta, ref, rtol=2e-15, atol=1e-15 * np.abs(ref).max())
    words = np.array([0, 5, 41, 60, 80, 83])
    e_log_beta, etw, shift, inner = kern.topic_tables(lam, words)
    assert np.array_equal(e_log_beta, full.e_log_beta[:, words])
    assert np.array_equal(etw, full.exp_topic_word[words]) and etw.flags.c_contiguous
    assert np.array_equal(shift, full.word_shift[words])
    assert inner.dtype == np.float32 and np.array_equal(inner, full.inner[words])
    assert kern.topic_tables(lam, words[:0])[1].shape == (0, 3)


def test_cut_to_words_renumbers_the_columns_a_chunk_has():
    X, _, _ = _problem(n_docs=30, n_words=50, seed=3)
    words, cut = kern.cut_to_words(X)
    assert np.array_equal(words, np.unique(X.indices))
    assert cut.shape == (30, len(words)) and cut.indices.dtype == X.indices.dtype
    dense = sp.csr_matrix((cut.data, cut.indices, cut.indptr), shape=cut.shape).toarray()
    assert np.array_equal(dense, X.toarray()[:, words])
    empty, none = kern.cut_to_words(sp.csr_matrix((4, 9)))
    assert empty.size == 0 and none.shape == (4, 1) and none.indices.size == 0
    # rows of a CSR matrix, as the in-memory online passes cut their mini-batches
    rows = kern.rows_of(X, 7, 19)
    assert rows.shape == (12, 50) and rows.indptr[0] == 0
    part = sp.csr_matrix((rows.data, rows.indices, rows.indptr), shape=rows.shape)
    assert np.array_equal(part.toarray(), X[7:19].toarray())


@pytest.mark.parametrize("long_docs", [False, True])
@pytest.mark.parametrize("n_blocks", [1, 3, 4])
def test_e_step_in_given_blocks_serial_parallel_and_threads(n_blocks, long_docs, thread_counts):
    X, lam, alpha = _problem(n_docs=128, n_words=60, k=4, seed=12)
    if long_docs:  # every 5th document: most stop their float32 sweeps at the float32
        X = sp.diags(np.where(np.arange(128) % 5 == 0, 1e4, 1.0)) @ X  # floor, then float64
        X = sp.csr_matrix(X)
    _, etw, shift = _topics(lam)
    starts = np.random.RandomState(1).gamma(100.0, 0.01, (128, 4))
    starts[::5] *= np.asarray(X[::5].sum(axis=1)) / 4  # (the floor is that of the start)
    out = {}
    one, two = thread_counts
    for name, serial, threads in [("serial", True, one), ("one", False, one), ("all", False, two)]:
        numba.set_num_threads(threads)
        gamma = np.zeros((128, 4))
        res = kern.e_step(X.indptr, X.indices, X.data, etw, _float32_topics(etw), shift,
                          alpha, gamma, kern.FRESH, starts, 100, 1e-3, True, n_blocks,
                          serial)  # fmt: skip
        out[name] = (gamma, *res)
    ref = _run(X, lam, alpha, starts=starts, max_iter=100, tol=1e-3, float32=True)
    for name, got in out.items():
        # the same as one block, to round-off; thread counts and the serial twin: bitwise
        assert_allclose(got[0], ref[0], rtol=1e-12, err_msg=name)
        for x, y in zip(got[1:], ref[1], strict=True):
            assert_allclose(x, y, rtol=1e-12, atol=1e-12, err_msg=name)
        assert all(np.array_equal(x, y) for x, y in zip(got, out["serial"], strict=True))
    # a float64 last sweep makes gamma sum to alpha + n_d to round-off, a float32 one not
    lengths = np.asarray(X.sum(axis=1)).ravel()
    fifth = (np.arange(128) % 5 == 0)[lengths > 0]
    gamma, lengths = out["serial"][0][lengths > 0], lengths[lengths > 0]
    error = np.abs(gamma.sum(axis=1) - alpha.sum() - lengths) / lengths
    assert (np.sum(error[fifth] < 1e-13) >= 5) == long_docs and np.min(error[~fifth]) > 1e-12


def test_online_steps_equal_dense_steps_in_online_blocks():
    # 128-document mini-batches: the E-step runs in blocks of ONLINE_BLOCK_DOCS documents
    X, lam, alpha = _problem(n_docs=300, n_words=70, k=3, seed=13)
    rhos = [0.8, 0.6, 0.5]
    batches = [(X[lo : lo + 128], rho) for lo, rho in zip(range(0, 300, 128), rhos, strict=True)]
    assert kern.n_doc_blocks(128, 70 * 3, kern.ONLINE_BLOCK_DOCS) == 2
    new, bound = kern.online_steps(batches, _state(lam, alpha, 0.3, None, seed=5), 0.0, 300,
                                   SETTINGS, False, False)  # fmt: skip
    # the reference: whole-vocabulary tables and the dense step of stochastic_update_topics
    state, rs, parts = _state(lam, alpha, 0.3, None, seed=5), np.random.RandomState(5), 0.0
    for Xb, rho in batches:
        gamma, starts = np.zeros((Xb.shape[0], 3)), rs.gamma(100.0, 0.01, (Xb.shape[0], 3))
        stats = kern.doc_stats(Xb, state.topics, alpha, gamma, kern.FRESH, SETTINGS, starts)
        topics = kern.stochastic_update_topics(stats, state.topics, state.prior, rho,
                                               300 / Xb.shape[0])  # fmt: skip
        state, parts = state._replace(topics=topics), parts + kern.documents_bound(stats)
    assert_allclose(new.topics.components, state.topics.components, rtol=1e-12)
    assert_allclose(new.topics.e_log_beta, state.topics.e_log_beta, rtol=1e-12)
    assert_allclose(bound, parts, rtol=1e-12)
    assert new.n_batch_iter == 1 + len(batches)
