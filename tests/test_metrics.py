"""Tests for skvi.metrics against plain-loop reference implementations."""

import copy
import math

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.stats import hypergeom
from sklearn.decomposition import LatentDirichletAllocation
from sklearn.exceptions import NotFittedError

from skvi.metrics import (
    _split_document_tokens,
    document_completion_perplexity,
    perplexity_from_theta,
    topic_coherence,
)

# ---------------------------------------------------------------------------
# Slow references: plain Python loops over documents and word pairs.
# ---------------------------------------------------------------------------


def naive_top_words(weights, top_n):
    """Top words of one topic, largest weight first, ties to the smaller index."""
    return sorted(range(len(weights)), key=lambda w: (-weights[w], w))[:top_n]


def naive_doc_sets(X):
    """The set of words present (count > 0) in each document."""
    X = X.toarray() if sp.issparse(X) else np.asarray(X)
    return [{w for w in range(X.shape[1]) if X[d, w] > 0} for d in range(X.shape[0])]


def naive_umass(components, X, top_n):
    docs = naive_doc_sets(X)
    out = []
    for weights in np.asarray(components):
        top = naive_top_words(list(weights), top_n)
        total = 0.0
        for i in range(1, top_n):
            for j in range(i):
                d_j = sum(1 for doc in docs if top[j] in doc)
                d_ij = sum(1 for doc in docs if top[i] in doc and top[j] in doc)
                total += math.log((d_ij + 1) / d_j)
        out.append(total)
    return np.array(out)


def naive_npmi(components, X, top_n):
    docs = naive_doc_sets(X)
    n = len(docs)
    out = []
    for weights in np.asarray(components):
        top = naive_top_words(list(weights), top_n)
        values = []
        for i in range(top_n):
            for j in range(i + 1, top_n):
                p_i = sum(1 for doc in docs if top[i] in doc) / n
                p_j = sum(1 for doc in docs if top[j] in doc) / n
                p_ij = sum(1 for doc in docs if top[i] in doc and top[j] in doc) / n
                if p_ij == 0:
                    values.append(-1.0)
                elif p_ij == 1:
                    values.append(1.0)
                else:
                    values.append(math.log(p_ij / (p_i * p_j)) / -math.log(p_ij))
        out.append(sum(values) / len(values))
    return np.array(out)


def naive_perplexity(theta, components, X):
    theta = np.asarray(theta, dtype=float)
    components = np.asarray(components, dtype=float)
    X = X.toarray() if sp.issparse(X) else np.asarray(X)
    log_lik, n_tokens = 0.0, 0.0
    for d in range(X.shape[0]):
        theta_d = theta[d] / theta[d].sum()
        for w in range(X.shape[1]):
            if X[d, w] == 0:
                continue
            p = 0.0
            for k in range(components.shape[0]):
                p += theta_d[k] * components[k, w] / components[k].sum()
            log_lik += X[d, w] * math.log(p)
            n_tokens += X[d, w]
    return math.exp(-log_lik / n_tokens)


# ---------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------


def random_counts(rng, n_docs, n_features, density=0.3, max_count=4):
    mask = rng.random_sample((n_docs, n_features)) < density
    return mask * rng.randint(1, max_count + 1, size=(n_docs, n_features))


def lda_corpus(rng, n_docs, topics, doc_len=(40, 80), alpha=0.2):
    """Documents drawn from the LDA generative model with the given topics."""
    n_topics, n_features = topics.shape
    X = np.zeros((n_docs, n_features), dtype=np.int64)
    for d in range(n_docs):
        theta = rng.dirichlet(np.full(n_topics, alpha))
        X[d] = rng.multinomial(rng.randint(*doc_len), theta @ topics)
    return X


@pytest.fixture(scope="module")
def topic_data():
    """Three topics concentrated on disjoint blocks of 10 of 30 words; train/test."""
    rng = np.random.RandomState(0)
    n_topics, n_features = 3, 30
    topics = np.full((n_topics, n_features), 0.01)
    for k in range(n_topics):
        topics[k, 10 * k : 10 * (k + 1)] = 1.0
    topics /= topics.sum(axis=1, keepdims=True)
    return lda_corpus(rng, 150, topics), lda_corpus(rng, 60, topics)


@pytest.fixture(scope="module")
def fitted_lda(topic_data):
    X_train, _ = topic_data
    return LatentDirichletAllocation(
        n_components=3, learning_method="batch", max_iter=30, random_state=0
    ).fit(X_train)


# ---------------------------------------------------------------------------
# topic_coherence
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("measure, naive", [("umass", naive_umass), ("npmi", naive_npmi)])
@pytest.mark.parametrize("top_n", [2, 3, 6])
@pytest.mark.parametrize("fmt", ["dense", "csr", "csc"])
def test_coherence_matches_brute_force(measure, naive, top_n, fmt):
    rng = np.random.RandomState(top_n)
    X = random_counts(rng, 25, 12, density=0.4)
    X[:, 0] = 1  # a word present in every document
    X[0, 1:] = 0  # an empty document besides word 0
    components = rng.gamma(1.0, size=(4, 12))
    components[1, 5] = components[1, 7]  # a tie in the weights
    # UMass needs every conditioning word to occur: make sure all columns are non-empty.
    X[np.arange(12) % 25 + 1, np.arange(12)] += 1
    Xf = {"dense": X, "csr": sp.csr_matrix(X), "csc": sp.csc_array(X)}[fmt]
    got = topic_coherence(components, Xf, top_n=top_n, measure=measure)
    assert got.shape == (4,)
    np.testing.assert_allclose(got, naive(components, X, top_n), rtol=1e-12, atol=1e-12)


def test_coherence_hand_computed_three_documents():
    # Words a, b, c, d.  Presence: doc1 {a, b, c}, doc2 {a, d}, doc3 {a, b}.
    # D(a)=3, D(b)=2, D(c)=1, D(d)=1; D(a,b)=2, D(a,c)=1, D(b,c)=1, D(a,d)=1, D(c,d)=0.
    X = np.array([[2, 1, 1, 0], [1, 0, 0, 3], [4, 2, 0, 0]])
    components = np.array([[5.0, 3.0, 1.0, 0.0], [0.5, 0.0, 2.0, 1.0]])  # tops: abc, cda
    umass = topic_coherence(components, X, top_n=3, measure="umass")
    # Topic 0: log((2+1)/3) + log((1+1)/3) + log((1+1)/2) = log(2/3).
    # Topic 1: d|c: log((0+1)/1) = 0; a|c: log((1+1)/1); a|d: log((1+1)/1).
    np.testing.assert_allclose(umass, [math.log(2 / 3), 2 * math.log(2)], rtol=1e-14)
    npmi = topic_coherence(components, X, top_n=3, measure="npmi")
    # Topic 0: NPMI(a,b) = log((2/3) / (1 * 2/3)) / -log(2/3) = 0, NPMI(a,c) = 0,
    #          NPMI(b,c) = log((1/3) / (2/3 * 1/3)) / -log(1/3) = log(3/2) / log(3).
    # Topic 1: NPMI(c,d) = -1 (never together), NPMI(c,a) = NPMI(d,a) = 0.
    np.testing.assert_allclose(
        npmi, [math.log(1.5) / math.log(3) / 3, -1 / 3], rtol=1e-14, atol=1e-15
    )


def test_npmi_boundary_conventions_and_range():
    X = np.array([[1, 1, 0, 1], [1, 1, 1, 0], [1, 1, 0, 0]])
    # Words 0 and 1 occur in every document: P(w0, w1) = 1 -> NPMI = 1.
    assert topic_coherence(np.array([[2.0, 1.0, 0.0, 0.0]]), X, top_n=2, measure="npmi")[
        0
    ] == pytest.approx(1.0)
    # Words 2 and 3 never co-occur: NPMI = -1.
    assert topic_coherence(np.array([[0.0, 0.0, 2.0, 1.0]]), X, top_n=2, measure="npmi")[
        0
    ] == pytest.approx(-1.0)
    rng = np.random.RandomState(1)
    X = random_counts(rng, 40, 30, density=0.2)
    npmi = topic_coherence(rng.gamma(1.0, size=(8, 30)), X, top_n=7, measure="npmi")
    assert np.all((npmi >= -1) & (npmi <= 1))


def test_umass_absent_top_word_warns_and_uses_eps():
    X = np.array([[1, 1, 0], [1, 0, 0]])  # word 2 never occurs
    components = np.array([[1.0, 2.0, 3.0]])  # tops: 2, 1, 0
    with pytest.warns(UserWarning, match="never occur"):
        got = topic_coherence(components, X, top_n=3, measure="umass", eps=1.0)
    # 1|2: log(1/eps) = 0; 0|2: log(1/eps) = 0; 0|1: log((1+1)/1).
    np.testing.assert_allclose(got, [math.log(2)])
    with pytest.warns(UserWarning):
        got = topic_coherence(components, X, top_n=3, measure="umass", eps=1e-12)
    np.testing.assert_allclose(got, [2 * math.log(1e12) + math.log(2)])


def test_coherence_with_sklearn_lda_and_large_sparse_vocabulary(fitted_lda, topic_data):
    X_train, _ = topic_data
    umass = topic_coherence(fitted_lda.components_, X_train, top_n=5)
    npmi = topic_coherence(fitted_lda.components_, sp.csr_matrix(X_train), measure="npmi")
    assert umass.shape == npmi.shape == (3,)
    # The fitted topics are the word blocks: their top words co-occur more than chance.
    assert np.all(npmi > 0)
    # A million-word vocabulary: only the union of top words is ever densified.
    rng = np.random.RandomState(0)
    n_features = 1_000_000
    rows, cols = rng.randint(50, size=5000), rng.randint(n_features, size=5000)
    X = sp.csr_matrix((np.ones(5000), (rows, cols)), shape=(50, n_features))
    components = rng.gamma(1.0, size=(4, n_features))
    components[:, cols[:200]] += 10.0  # top words that occur in X
    got = topic_coherence(components, X, top_n=4, measure="npmi")
    assert got.shape == (4,) and np.all(np.isfinite(got))


def test_coherence_input_validation():
    X = np.ones((3, 5))
    components = np.ones((2, 5))
    with pytest.raises(ValueError, match="features"):
        topic_coherence(np.ones((2, 4)), X)
    with pytest.raises(ValueError, match="top_n"):
        topic_coherence(components, X, top_n=1)
    with pytest.raises(ValueError, match="top_n"):
        topic_coherence(components, X, top_n=6)
    with pytest.raises(ValueError, match="top_n"):
        topic_coherence(components, X, top_n=2.5)
    with pytest.raises(ValueError, match="Negative"):
        topic_coherence(components, -X, top_n=2)
    with pytest.raises(ValueError, match="measure"):
        topic_coherence(components, X, top_n=2, measure="cv")
    with pytest.raises(ValueError, match="eps"):
        topic_coherence(components, X, top_n=2, eps=0.0)


# ---------------------------------------------------------------------------
# perplexity_from_theta
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["dense", "csr", "coo"])
def test_perplexity_from_theta_matches_loop(fmt):
    rng = np.random.RandomState(3)
    X = random_counts(rng, 15, 9, density=0.5)
    X[4] = 0  # an empty document
    theta = rng.gamma(1.0, size=(15, 4))  # unnormalised: renormalised inside
    components = rng.gamma(1.0, size=(4, 9)) * 50
    Xf = {"dense": X, "csr": sp.csr_matrix(X), "coo": sp.coo_array(X)}[fmt]
    got = perplexity_from_theta(theta, components, Xf)
    assert isinstance(got, float)
    assert got == pytest.approx(naive_perplexity(theta, components, X), rel=1e-12)


def test_perplexity_uniform_topics_equals_vocabulary_size():
    rng = np.random.RandomState(4)
    for n_features in (1, 7, 50):
        X = random_counts(rng, 20, n_features, density=0.6, max_count=9)
        X[0, 0] = 1
        theta = rng.dirichlet(np.ones(3), size=20)
        components = np.full((3, n_features), 2.5)
        assert perplexity_from_theta(theta, components, X) == pytest.approx(n_features)


def test_perplexity_from_theta_edge_cases_and_validation():
    theta = np.array([[1.0, 0.0], [0.0, 1.0]])
    components = np.array([[1.0, 0.0, 1.0], [1.0, 1.0, 1.0]])
    # Document 0 uses topic 0 only, which never emits word 1: probability zero -> inf.
    assert perplexity_from_theta(theta, components, np.array([[0, 1, 0], [1, 0, 0]])) == np.inf
    X = np.array([[1, 0, 1], [0, 2, 0]])
    with pytest.raises(ValueError, match="columns"):
        perplexity_from_theta(np.ones((2, 3)), components, X)
    with pytest.raises(ValueError, match="shape"):
        perplexity_from_theta(theta, components, X[:, :2])
    with pytest.raises(ValueError, match="shape"):
        perplexity_from_theta(theta, components, X[:1])
    with pytest.raises(ValueError, match="positive sum"):
        perplexity_from_theta(np.array([[1.0, 0.0], [0.0, 0.0]]), components, X)
    with pytest.raises(ValueError, match="positive sum"):
        perplexity_from_theta(theta, np.array([[1.0, 1.0, 1.0], [0.0, 0.0, 0.0]]), X)
    with pytest.raises(ValueError, match="Negative"):
        perplexity_from_theta(theta, components, -X)
    with pytest.raises(ValueError, match="no tokens"):
        perplexity_from_theta(theta, components, np.zeros((2, 3)))


# ---------------------------------------------------------------------------
# Token split
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("fraction", [0.0, 0.3, 0.5, 0.9])
def test_split_conserves_counts(fraction):
    rng = np.random.RandomState(5)
    X = random_counts(rng, 30, 10, density=0.5, max_count=6)
    X[3] = 0
    X[4] = 0
    X[4, 2] = 1  # a one-token document
    X_before = X.copy()
    obs, held = _split_document_tokens(sp.csr_matrix(X), fraction, random_state=0)
    np.testing.assert_array_equal(X, X_before)
    np.testing.assert_array_equal(obs.toarray() + held.toarray(), X)
    assert obs.data.min(initial=1) > 0 and held.data.min(initial=1) > 0  # no explicit zeros
    n_tokens = X.sum(axis=1)
    np.testing.assert_array_equal(obs.sum(axis=1).A1, np.floor(fraction * n_tokens))
    # Dense input gives the same split.
    obs2, held2 = _split_document_tokens(X, fraction, random_state=0)
    assert (obs2 != obs).nnz == 0 and (held2 != held).nnz == 0


def test_split_is_deterministic_and_splits_tokens_uniformly():
    # 4000 copies of one document with 6 tokens of word 0 and 2 of word 1; 4 observed.
    X = np.tile([6, 2], (4000, 1))
    obs_a, _ = _split_document_tokens(X, 0.5, random_state=np.random.RandomState(7))
    obs_b, _ = _split_document_tokens(X, 0.5, random_state=7)
    obs_c, _ = _split_document_tokens(X, 0.5, random_state=8)
    assert (obs_a != obs_b).nnz == 0
    assert (obs_a != obs_c).nnz > 0
    # Tokens, not word types, are split: the observed count of word 0 is
    # hypergeometric (8 tokens, 6 of word 0, 4 drawn), so its frequencies must match.
    word0 = obs_a.toarray()[:, 0]
    freq = np.bincount(word0, minlength=7)[:7] / word0.size
    np.testing.assert_allclose(freq, hypergeom(8, 6, 4).pmf(np.arange(7)), atol=0.03)


def test_split_rejects_non_integer_counts():
    with pytest.raises(ValueError, match="integer"):
        _split_document_tokens(np.array([[1.5, 2.0]]), 0.5)


# ---------------------------------------------------------------------------
# document_completion_perplexity
# ---------------------------------------------------------------------------


def test_document_completion_equals_split_transform_score(fitted_lda, topic_data):
    _, X_test = topic_data
    got = document_completion_perplexity(fitted_lda, X_test, fraction=0.4, random_state=3)
    obs, held = _split_document_tokens(X_test, 0.4, random_state=3)
    theta = fitted_lda.transform(obs.toarray())
    expected = naive_perplexity(theta, fitted_lda.components_, held)
    assert got == pytest.approx(expected, rel=1e-10)


def test_document_completion_deterministic_dense_csr_and_no_mutation(fitted_lda, topic_data):
    _, X_test = topic_data
    X_dense = X_test.astype(np.float64)
    X_csr = sp.csr_matrix(X_test)
    dense_before, csr_before = X_dense.copy(), X_csr.copy()
    a = document_completion_perplexity(fitted_lda, X_dense, random_state=0)
    b = document_completion_perplexity(fitted_lda, X_dense, random_state=0)
    c = document_completion_perplexity(fitted_lda, X_csr, random_state=0)
    d = document_completion_perplexity(fitted_lda, X_dense, random_state=1)
    assert a == b
    assert c == pytest.approx(a, rel=1e-10)
    assert d != a
    np.testing.assert_array_equal(X_dense, dense_before)
    assert (X_csr != csr_before).nnz == 0


def test_document_completion_empty_parts(fitted_lda, topic_data):
    _, X_test = topic_data
    ref = document_completion_perplexity(fitted_lda, X_test, random_state=0)
    # Empty documents have no held-out tokens and contribute nothing (and draw no keys).
    X_gaps = np.insert(X_test, [0, 10, 10, 60], 0, axis=0)
    assert document_completion_perplexity(fitted_lda, X_gaps, random_state=0) == (
        pytest.approx(ref, rel=1e-12)
    )
    # One-token documents with fraction=0.5: nothing observed, the token is held out and
    # scored under transform's theta for an empty row (uniform for a symmetric prior).
    X_single = np.zeros((4, 30), dtype=np.int64)
    X_single[np.arange(4), [0, 11, 25, 3]] = 1
    got = document_completion_perplexity(fitted_lda, X_single, random_state=0)
    expected = naive_perplexity(np.full((4, 3), 1 / 3), fitted_lda.components_, X_single)
    assert got == pytest.approx(expected, rel=1e-10)


def test_document_completion_prefers_the_right_model(fitted_lda, topic_data):
    X_train, X_test = topic_data
    n_features = X_train.shape[1]
    # The same model class fitted to the corpus with its vocabulary shuffled: its topics
    # are blocks of the wrong words.
    perm = np.random.RandomState(1).permutation(n_features)
    wrong = LatentDirichletAllocation(
        n_components=3, learning_method="batch", max_iter=30, random_state=0
    ).fit(X_train[:, perm])
    right_p = document_completion_perplexity(fitted_lda, X_test, random_state=0)
    wrong_p = document_completion_perplexity(wrong, X_test, random_state=0)
    # Each true topic spreads ~97% of its mass over 10 words; the uniform model gives 30.
    assert right_p < 0.7 * n_features  # 16.1 here
    assert right_p < 0.7 * wrong_p  # 29.0 for the wrong model


def test_document_completion_validation(fitted_lda, topic_data):
    _, X_test = topic_data
    with pytest.raises(ValueError, match="features"):
        document_completion_perplexity(fitted_lda, X_test[:, :-1])
    unfitted = LatentDirichletAllocation(n_components=3)
    with pytest.raises(NotFittedError):
        document_completion_perplexity(unfitted, X_test)
    assert issubclass(NotFittedError, ValueError)
    with pytest.raises(ValueError, match="integer"):
        document_completion_perplexity(fitted_lda, X_test + 0.5)
    with pytest.raises(ValueError, match="non-negative"):
        document_completion_perplexity(fitted_lda, -X_test)
    for fraction in (-0.1, 1.0, "half"):
        with pytest.raises(ValueError, match="fraction"):
            document_completion_perplexity(fitted_lda, X_test, fraction=fraction)
    with pytest.raises(ValueError, match="held-out"):
        document_completion_perplexity(fitted_lda, np.zeros((3, 30)))
    # The estimator itself is left untouched.
    before = copy.deepcopy(fitted_lda.components_)
    document_completion_perplexity(fitted_lda, X_test, random_state=0)
    np.testing.assert_array_equal(fitted_lda.components_, before)
