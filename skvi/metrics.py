r"""Evaluation metrics for topic models.

The functions use only the public API of a fitted topic model as exposed by
:class:`sklearn.decomposition.LatentDirichletAllocation` (and mirrored by skvi's
variational LDA):

* ``components_``, shape (n_components, n_features): the unnormalised topic-word
  Dirichlet parameters :math:`\lambda`; the plug-in (posterior-mean) topics are its rows
  normalised, :math:`\beta_{kw} = \lambda_{kw} / \sum_v \lambda_{kv}`;
* ``transform(X)``: the document-topic proportions :math:`\theta_d`, one normalised row
  per document;
* ``n_features_in_``: the vocabulary size.

They therefore work for any estimator with that interface.

Contents
--------
topic_coherence
    UMass or NPMI coherence of each topic's top words, from document co-occurrence in a
    reference corpus.
document_completion_perplexity
    Held-out perplexity by document completion (Wallach et al. 2009).
perplexity_from_theta
    Held-out perplexity from given document-topic and topic-word matrices.
"""

import warnings
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_array, check_is_fitted, check_non_negative

from ._sparse_checks import check_sparse_structure as _check_sparse_structure

__all__ = ["document_completion_perplexity", "perplexity_from_theta", "topic_coherence"]

# Number of (document, word) entries scored per block in `_log_likelihood`; a block
# allocates a (block, n_components) temporary.
_BLOCK_ELEMENTS = 1 << 21


# ---------------------------------------------------------------------------
# Topic coherence
# ---------------------------------------------------------------------------
def topic_coherence(components, X, *, top_n=10, measure="umass", eps=1e-12):
    r"""Coherence of each topic's top words, measured on a document-word matrix.

    For each topic (row of ``components``) the ``top_n`` words of largest weight,
    :math:`w_1, \dots, w_N` in decreasing order of weight (ties broken by the smaller
    column index), are scored from document co-occurrence in ``X``. A word occurs in a
    document when its count is positive (binary presence); :math:`D(w)` is the number of
    documents containing :math:`w`, :math:`D(w_i, w_j)` the number containing both, and
    :math:`n` the number of documents (rows of ``X``).

    ``'umass'`` (Mimno et al. 2011) is a **sum** over the ordered pairs,

    .. math::

        C_{\mathrm{UMass}} = \sum_{i=2}^{N} \sum_{j=1}^{i-1}
            \log \frac{D(w_i, w_j) + 1}{D(w_j)},

    in :math:`(-\infty, N(N-1)/2 \cdot \log 2]`; larger is more coherent. It is meant for
    the training corpus, where every top word occurs. If a conditioning word
    :math:`w_j` (any top word but the last) never occurs in ``X``, :math:`D(w_j)` is
    replaced by ``eps`` in the denominator (the term becomes :math:`\log(1/\mathrm{eps})`,
    a large positive value) and a warning is raised; ``eps=1`` makes such terms zero.

    ``'npmi'`` (normalised pointwise mutual information; Bouma 2009, Aletras and
    Stevenson 2013) is the **mean** over the :math:`N(N-1)/2` unordered pairs of

    .. math::

        \mathrm{NPMI}(w_i, w_j) = \frac{\log \dfrac{P(w_i, w_j)}{P(w_i)\,P(w_j)}}
                                       {-\log P(w_i, w_j)},
        \qquad P(w) = \frac{D(w)}{n}, \quad P(w_i, w_j) = \frac{D(w_i, w_j)}{n},

    in :math:`[-1, 1]`; larger is more coherent. Conventions at the boundary, which
    follow Bouma's limits and use no smoothing: :math:`\mathrm{NPMI} = -1` when
    :math:`P(w_i, w_j) = 0` (the two words never co-occur, including when either never
    occurs at all), and :math:`\mathrm{NPMI} = 1` when :math:`P(w_i, w_j) = 1` (both
    words occur in every document, where the ratio is :math:`0/0`).

    Parameters
    ----------
    components : array-like of shape (n_components, n_features)
        Topic-word weights, e.g. ``components_`` of a fitted topic model. Only the order
        of the weights within each row matters.
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        Non-negative document-word counts of the reference corpus. Only presence
        (count > 0) is used.
    top_n : int, default=10
        Number of top words per topic, ``2 <= top_n <= n_features``.
    measure : {'umass', 'npmi'}, default='umass'
        Coherence measure.
    eps : float, default=1e-12
        Positive floor for the document frequency :math:`D(w_j)` in the UMass
        denominator; it matters only when a conditioning top word is absent from ``X``.
        Not used by ``'npmi'``.

    Returns
    -------
    coherence : ndarray of shape (n_components,)
        Coherence of each topic.

    Raises
    ------
    ValueError
        If the shapes do not match, ``top_n`` is out of range, ``X`` has negative
        entries or (sparse) index arrays out of range or inconsistent, ``measure`` is
        unknown or ``eps`` is not positive.

    Notes
    -----
    Only the columns of ``X`` belonging to the union :math:`U` of all topics' top words
    are read: the co-document frequencies are :math:`B^\top B` for the binarised sparse
    submatrix :math:`B = [X_{:, U} > 0]`, so memory and time scale with :math:`|U|`
    rather than with the vocabulary size.

    References
    ----------
    .. [1] D. Mimno, H. M. Wallach, E. Talley, M. Leenders and A. McCallum, "Optimizing
       semantic coherence in topic models", EMNLP 2011.
    .. [2] G. Bouma, "Normalized (pointwise) mutual information in collocation
       extraction", GSCL 2009.
    .. [3] N. Aletras and M. Stevenson, "Evaluating topic coherence using distributional
       semantics", IWCS 2013.

    Examples
    --------
    >>> import numpy as np
    >>> from skvi.metrics import topic_coherence
    >>> X = np.array([[2, 1, 1, 0], [1, 0, 0, 3], [4, 2, 0, 0]])
    >>> components = np.array([[5.0, 3.0, 1.0, 0.0], [0.5, 0.0, 2.0, 1.0]])
    >>> topic_coherence(components, X, top_n=3, measure="umass").round(4)
    array([-0.4055,  1.3863])
    >>> topic_coherence(components, X, top_n=3, measure="npmi").round(4)
    array([ 0.123 , -0.3333])
    """
    if measure not in ("umass", "npmi"):
        raise ValueError(f"measure must be 'umass' or 'npmi', got {measure!r}.")
    if not isinstance(eps, Real) or not eps > 0:
        raise ValueError(f"eps must be a positive number, got {eps!r}.")
    components = check_array(components, dtype=np.float64, input_name="components")
    X = _check_sparse_structure(X, "topic_coherence")
    X = check_array(X, accept_sparse=("csr", "csc", "coo"), dtype="numeric", input_name="X")
    check_non_negative(X, "topic_coherence (X)")
    n_topics, n_features = components.shape
    if X.shape[1] != n_features:
        raise ValueError(f"X has {X.shape[1]} features (columns) but components has {n_features}.")
    if isinstance(top_n, bool) or not isinstance(top_n, Integral):
        raise ValueError(f"top_n must be an integer, got {top_n!r}.")
    if not 2 <= top_n <= n_features:
        raise ValueError(f"top_n must satisfy 2 <= top_n <= n_features={n_features}, got {top_n}.")

    top = _top_words(components, top_n)  # (n_topics, top_n) column indices
    union, pos = np.unique(top, return_inverse=True)
    pos = pos.reshape(top.shape)  # positions of the top words within `union`
    codf = _co_document_frequency(X, union)  # sparse (|U|, |U|), diagonal = D(w)
    df = codf.diagonal().astype(np.float64)

    # Pairs (i, j) with j < i in rank order, so w_j is the higher-ranked word.
    ii, jj = np.tril_indices(top_n, k=-1)
    pi, pj = pos[:, ii], pos[:, jj]  # (n_topics, n_pairs)
    d_ij = np.asarray(codf[pi.ravel(), pj.ravel()], dtype=np.float64).reshape(pi.shape)
    d_i, d_j = df[pi], df[pj]

    if measure == "umass":
        absent = d_j == 0
        if np.any(absent):
            warnings.warn(
                "Some top words never occur in X; UMass terms conditioned on them use "
                f"eps={eps} as their document frequency.",
                UserWarning,
                stacklevel=2,
            )
        return np.log((d_ij + 1.0) / np.maximum(d_j, eps)).sum(axis=1)

    n_docs = float(X.shape[0])
    npmi = np.empty_like(d_ij)
    none = d_ij == 0
    every = d_ij == n_docs
    mid = ~(none | every)
    # log(P_ij / (P_i P_j)) / -log(P_ij) written with counts:
    # log(n D_ij / (D_i D_j)) / log(n / D_ij).
    npmi[mid] = np.log(n_docs * d_ij[mid] / (d_i[mid] * d_j[mid])) / np.log(n_docs / d_ij[mid])
    npmi[none] = -1.0
    npmi[every] = 1.0
    return npmi.mean(axis=1)


def _top_words(components, top_n):
    """Column indices of the ``top_n`` largest entries of each row, largest first.

    Equals ``np.argsort(-components, axis=1, kind="stable")[:, :top_n]``: ties are
    broken by the smaller column index.
    """
    return np.argsort(-components, axis=1, kind="stable")[:, :top_n]


def _co_document_frequency(X, columns):
    """Document and co-document frequencies of ``columns`` of ``X`` as a sparse matrix.

    Returns the CSR matrix ``B.T @ B`` with ``B = (X[:, columns] > 0)`` (int64), so entry
    ``(a, b)`` is the number of rows where both columns ``columns[a]`` and
    ``columns[b]`` are positive and the diagonal holds the document frequencies.
    """
    if sp.issparse(X):
        sub = sp.csc_matrix(X)[:, columns]
    else:
        sub = sp.csc_matrix(np.asarray(X)[:, columns])
    sub.eliminate_zeros()  # X is non-negative, so what remains is > 0
    binary = sp.csc_matrix(
        (np.ones(sub.nnz, dtype=np.int64), sub.indices, sub.indptr), shape=sub.shape
    )
    return (binary.T @ binary).tocsr()


# ---------------------------------------------------------------------------
# Perplexity
# ---------------------------------------------------------------------------
def perplexity_from_theta(theta, components, X):
    r"""Perplexity of a corpus under given document-topic and topic-word matrices.

    With :math:`\theta_d` the rows of ``theta`` and :math:`\beta_k` the rows of
    ``components``, each normalised to sum to one,

    .. math::

        \mathrm{perplexity} = \exp\left(-\frac{\sum_{d,w} n_{dw}
            \log \sum_k \theta_{dk} \beta_{kw}}{\sum_{d,w} n_{dw}}\right),

    where :math:`n_{dw}` are the counts in ``X``. This is the plug-in held-out
    perplexity used to compare topic-model libraries: it depends only on the point
    estimates :math:`\theta` and :math:`\beta`, not on any library's variational bound
    (unlike :meth:`sklearn.decomposition.LatentDirichletAllocation.perplexity`).
    Documents with no tokens contribute nothing. A uniform :math:`\beta` gives
    perplexity ``n_features`` whatever ``theta`` and ``X`` are.

    Parameters
    ----------
    theta : array-like of shape (n_samples, n_components)
        Non-negative document-topic proportions, e.g. ``estimator.transform(X_obs)``.
        Rows are renormalised to sum to one; each must have a positive sum.
    components : array-like of shape (n_components, n_features)
        Non-negative topic-word weights, e.g. ``components_`` (the Dirichlet parameters
        :math:`\lambda`); rows are normalised to give :math:`\beta`. Each must have a
        positive sum.
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        Non-negative (held-out) word counts :math:`n_{dw}`; not necessarily integers.

    Returns
    -------
    perplexity : float
        The perplexity, in ``[1, inf]``; ``inf`` if a counted word has probability zero
        under its document's mixture.

    Raises
    ------
    ValueError
        If the shapes do not match, an input has negative entries, a row of ``theta`` or
        ``components`` sums to zero, ``X`` has no tokens, or a sparse ``X`` has index
        arrays out of range or inconsistent.

    See Also
    --------
    document_completion_perplexity : Held-out perplexity with :math:`\theta` inferred
        from part of each document.

    References
    ----------
    .. [1] D. M. Blei, A. Y. Ng and M. I. Jordan, "Latent Dirichlet allocation", JMLR 3,
       pp. 993-1022, 2003 (section 7.1).

    Examples
    --------
    >>> import numpy as np
    >>> from skvi.metrics import perplexity_from_theta
    >>> theta = np.array([[0.5, 0.5], [1.0, 0.0]])
    >>> components = np.ones((2, 4))
    >>> X = np.array([[1, 2, 0, 3], [0, 0, 5, 1]])
    >>> float(perplexity_from_theta(theta, components, X))
    4.0
    """
    theta = check_array(theta, dtype=np.float64, input_name="theta")
    components = check_array(components, dtype=np.float64, input_name="components")
    X = _check_sparse_structure(X, "perplexity_from_theta")
    X = check_array(X, accept_sparse=("csr", "csc", "coo"), dtype="numeric", input_name="X")
    check_non_negative(theta, "perplexity_from_theta (theta)")
    check_non_negative(components, "perplexity_from_theta (components)")
    check_non_negative(X, "perplexity_from_theta (X)")
    n_topics, n_features = components.shape
    if theta.shape[1] != n_topics:
        raise ValueError(
            f"theta has {theta.shape[1]} columns but components has {n_topics} rows (topics)."
        )
    if X.shape != (theta.shape[0], n_features):
        raise ValueError(
            f"X has shape {X.shape}; expected (n_samples, n_features) = "
            f"({theta.shape[0]}, {n_features}) from theta and components."
        )
    theta = _normalise_rows(theta, "theta")
    beta = _normalise_rows(components, "components")

    rows, cols, counts = _nonzero_entries(X)
    total = counts.sum()
    if not total > 0:
        raise ValueError("X contains no tokens (all counts are zero).")
    return float(np.exp(-_log_likelihood(theta, beta, rows, cols, counts) / total))


def document_completion_perplexity(estimator, X, *, fraction=0.5, random_state=None):
    r"""Held-out perplexity of a fitted topic model by document completion.

    The document-completion protocol of Wallach et al. (2009): the tokens of each
    held-out document :math:`d` (the :math:`N_d = \sum_w n_{dw}` word occurrences, not
    the distinct words) are split uniformly at random into an observed part of
    :math:`\lfloor \mathrm{fraction} \cdot N_d \rfloor` tokens and a held-out part with
    the rest. The topic proportions are inferred from the observed part only,
    :math:`\theta_d` = ``estimator.transform(X_observed)[d]``, and the held-out part is
    scored under the plug-in topics :math:`\beta` (rows of ``components_`` normalised):

    .. math::

        \mathrm{perplexity} = \exp\left(-\frac{\sum_d \sum_w n^{\mathrm{held}}_{dw}
            \log \sum_k \theta_{dk} \beta_{kw}}{\sum_{d,w} n^{\mathrm{held}}_{dw}}\right).

    Documents whose held-out part is empty contribute nothing. Documents whose observed
    part is empty (for instance a one-token document with ``fraction=0.5``) still
    count: their :math:`\theta_d` is whatever ``transform`` returns for an empty row
    (the normalised prior for LDA).

    Parameters
    ----------
    estimator : estimator object
        A fitted topic model with ``components_`` of shape (n_components, n_features),
        ``n_features_in_`` and ``transform(X)`` returning document-topic proportions,
        such as :class:`sklearn.decomposition.LatentDirichletAllocation`.
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        Non-negative integer word counts of the held-out documents. Not modified.
    fraction : float, default=0.5
        Fraction of each document's tokens that is observed, ``0 <= fraction < 1``.
        ``fraction=0`` scores every token under the prior proportions.
    random_state : int, RandomState instance or None, default=None
        Controls the random split of the tokens. Pass an int for reproducible results.

    Returns
    -------
    perplexity : float
        The document-completion perplexity (lower is better).

    Raises
    ------
    sklearn.exceptions.NotFittedError
        If ``estimator`` is not fitted (a subclass of ``ValueError``).
    ValueError
        If ``X`` does not have ``estimator.n_features_in_`` columns, has negative or
        non-integer entries, (sparse) index arrays out of range or inconsistent, or no
        held-out tokens after the split; or if ``fraction`` is out of range.

    See Also
    --------
    perplexity_from_theta : The perplexity formula for given :math:`\theta`.

    Notes
    -----
    The split is a uniform random permutation of each document's token list, of which
    the first :math:`\lfloor \mathrm{fraction} \cdot N_d \rfloor` tokens are observed;
    equivalently the observed counts of a document follow a multivariate
    hypergeometric distribution. ``X_observed`` is passed to ``transform`` sparse (CSR)
    if ``X`` is sparse and dense otherwise.

    The score uses the point estimates :math:`\theta_d` and :math:`\beta` rather than
    integrating over their posteriors (as Wallach et al.'s estimators do), so it is
    comparable across libraries but is not an estimate of the marginal likelihood.

    References
    ----------
    .. [1] H. M. Wallach, I. Murray, R. Salakhutdinov and D. Mimno, "Evaluation methods
       for topic models", ICML 2009.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.decomposition import LatentDirichletAllocation
    >>> from skvi.metrics import document_completion_perplexity

    Two topics, each uniform on its own 6 of the 12 words, give a perplexity near 6:

    >>> rng = np.random.RandomState(0)
    >>> half = np.r_[np.full(6, 1 / 6), np.zeros(6)]
    >>> X = np.vstack([rng.multinomial(20, half, 20), rng.multinomial(20, half[::-1], 20)])
    >>> lda = LatentDirichletAllocation(n_components=2, random_state=0).fit(X)
    >>> round(document_completion_perplexity(lda, X, random_state=0), 1)
    6.3
    """
    check_is_fitted(estimator, attributes=["components_", "n_features_in_"])
    if isinstance(fraction, bool) or not isinstance(fraction, Real) or not 0 <= fraction < 1:
        raise ValueError(f"fraction must be a number with 0 <= fraction < 1, got {fraction!r}.")
    X = _check_sparse_structure(X, "document_completion_perplexity")
    X = check_array(X, accept_sparse="csr", dtype="numeric", input_name="X")
    n_features = estimator.n_features_in_
    if X.shape[1] != n_features:
        raise ValueError(
            f"X has {X.shape[1]} features, but {type(estimator).__name__} is expecting "
            f"{n_features} features as input."
        )
    X_observed, X_held = _split_document_tokens(X, fraction, random_state)
    if X_held.nnz == 0:
        raise ValueError("No held-out tokens: X is empty or every document is too short.")
    observed = X_observed if sp.issparse(X) else X_observed.toarray()
    theta = estimator.transform(observed)
    return perplexity_from_theta(theta, estimator.components_, X_held)


def _split_document_tokens(X, fraction, random_state=None):
    r"""Split each document's tokens at random into an observed and a held-out part.

    Document ``d`` has :math:`N_d = \sum_w X_{dw}` tokens; a uniform random permutation
    of its token list is drawn and its first :math:`\lfloor \mathrm{fraction} \cdot
    N_d \rfloor` tokens form the observed part, the rest the held-out part.

    Parameters
    ----------
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        Non-negative integer counts. Not modified.
    fraction : float
        Fraction of the tokens observed, in ``[0, 1]``.
    random_state : int, RandomState instance or None
        Seed of the permutations.

    Returns
    -------
    X_observed, X_held : CSR matrices of shape (n_samples, n_features), dtype int64
        Non-negative counts with ``X_observed + X_held == X`` and
        ``X_observed.sum(axis=1) == floor(fraction * X.sum(axis=1))``; no explicit zeros.

    Raises
    ------
    ValueError
        If ``X`` has negative or non-integer entries.
    """
    rng = check_random_state(random_state)
    X = sp.csr_matrix(X)  # a copy only if X is not already CSR; never written to
    if X.nnz and (X.data.min() < 0 or np.any(X.data != np.floor(X.data))):
        raise ValueError("X must contain non-negative integer counts.")
    indptr = X.indptr.astype(np.int64)
    counts = X.data.astype(np.int64)
    n_samples = X.shape[0]
    # Number of tokens and observed tokens of each document.
    entry_doc = np.repeat(np.arange(n_samples), np.diff(indptr))
    n_tokens = np.bincount(entry_doc, weights=counts, minlength=n_samples).astype(np.int64)
    n_observed = np.floor(fraction * n_tokens).astype(np.int64)
    # Token list: one row per token, recording its document and its stored entry.
    token_entry = np.repeat(np.arange(counts.size), counts)
    token_doc = entry_doc[token_entry]  # non-decreasing
    # A uniform permutation within each document: sort by document, then by a random key.
    order = np.lexsort((rng.random_sample(token_entry.size), token_doc))
    doc_start = np.concatenate(([0], np.cumsum(n_tokens)[:-1]))
    rank = np.empty(token_entry.size, dtype=np.int64)
    rank[order] = np.arange(token_entry.size) - doc_start[token_doc[order]]
    is_observed = rank < n_observed[token_doc]
    observed_counts = np.bincount(token_entry[is_observed], minlength=counts.size)

    X_observed = sp.csr_matrix(
        (observed_counts.astype(np.int64), X.indices.copy(), indptr.copy()), shape=X.shape
    )
    X_held = sp.csr_matrix(
        (counts - observed_counts, X.indices.copy(), indptr.copy()), shape=X.shape
    )
    X_observed.eliminate_zeros()
    X_held.eliminate_zeros()
    return X_observed, X_held


def _normalise_rows(a, name):
    """Return ``a / a.sum(axis=1, keepdims=True)``; raise if a row sums to zero."""
    sums = a.sum(axis=1, keepdims=True)
    if not np.all(sums > 0):
        raise ValueError(f"Every row of {name} must have a positive sum.")
    return a / sums


def _nonzero_entries(X):
    """Row indices, column indices and values of the non-zero entries of ``X``."""
    if sp.issparse(X):
        coo = sp.coo_matrix(X)
        coo.sum_duplicates()
        rows, cols, vals = coo.row, coo.col, coo.data
    else:
        X = np.asarray(X)
        rows, cols = np.nonzero(X)
        vals = X[rows, cols]
    keep = vals != 0
    return rows[keep], cols[keep], vals[keep].astype(np.float64)


def _log_likelihood(theta, beta, rows, cols, counts):
    r"""Sum of ``counts * log((theta[rows] * beta[:, cols].T).sum(axis=1))``.

    That is :math:`\sum_e n_e \log \sum_k \theta_{r_e k}\,\beta_{k c_e}` over the entries
    ``e``, computed in blocks to bound memory. ``-inf`` if a counted word has probability
    zero.
    """
    n_topics = theta.shape[1]
    block = max(1, _BLOCK_ELEMENTS // max(n_topics, 1))
    beta_t = np.ascontiguousarray(beta.T)  # (n_features, n_topics)
    total = 0.0
    with np.errstate(divide="ignore"):
        for start in range(0, rows.size, block):
            stop = start + block
            prob = np.einsum(
                "ij,ij->i", theta[rows[start:stop]], beta_t[cols[start:stop]], optimize=False
            )
            total += float(counts[start:stop] @ np.log(prob))
    return total
