"""VariationalLDA over a Dask array of documents: batch VB, online SVI, ``partial_fit``.

The corpus is a Dask array whose row chunks are documents (``scipy.sparse.csr_matrix``
chunks, or dense ones), one chunk across the vocabulary. Each chunk is validated on the
worker that reads it, with the checks of the in-memory path (so the errors are the same).
A batch pass:

- the topic tables go to the workers once (:func:`skvi._dask.share`);
- every chunk runs the documents' E-step with the serial kernel, over the words it has
  (:func:`chunk_stats`), and returns its statistics over those words
  only; they are summed on the workers in a fixed order of the chunks (union of the
  words) and the client receives one total, at most ``K x V``;
- the update and the ELBO run on the client (:func:`skvi._lda_kernels.batch_update`);
- the documents' ``gamma``, which a warm pass starts from, stay on the workers (one
  future per chunk, held by the fit's state).

The random starts of a pass do not depend on the chunking
(:func:`skvi._lda_kernels.draw_starts`), so a fit equals the in-memory fit of the same
documents.

An online pass (stochastic VI, :func:`online_pass`) is sequential: its mini-batches, in
document order, each take a step from the topics of the one before. It runs as a chain
of tasks, one per chunk in which mini-batches start: the task takes the steps of those
mini-batches with the serial kernel (:func:`skvi._lda_kernels.online_steps`), a
mini-batch that runs into the next chunks taking their first rows (sliced on their
workers); the state (topics, priors, random state, step count, the running sum of the
mini-batches' parts of the ELBO) travels from task to task and the client receives the
pass's final state only. One task runs at a time: the gain is memory, not speed. A
``partial_fit`` of a Dask array is one mini-batch: the E-step runs per chunk from the
mini-batch's random starts (drawn on the client as in memory) and the step on the
client (:func:`stochastic_pass`).

The methods are the in-memory ones; here are only the Dask calls.
"""

import copy
import operator
from typing import NamedTuple

import numpy as np
import scipy.sparse as sp
from sklearn.utils import check_array
from sklearn.utils.validation import _check_feature_names, _check_n_features, check_non_negative

from . import _dask
from . import _lda_kernels as kern
from ._sparse_checks import check_sparse_structure


class WordStats(NamedTuple):
    """Statistics (:class:`~skvi._lda_kernels.LDAStats`) over the words a chunk of
    documents has: ``stats.topic_word`` holds the rows ``words`` (sorted vocabulary
    indices) of the vocabulary-major table; the other rows are zero."""

    words: np.ndarray
    stats: kern.LDAStats


def chunk_stats(X, topics, alpha, gamma, mode, settings, starts=None, exact=False,
                compensated=False):  # fmt: skip
    """:func:`~skvi._lda_kernels.doc_stats` of the chunk ``X`` (canonical CSR) with the
    serial kernel, over the chunk's own words (:func:`~skvi._lda_kernels.cut_to_words`):
    the topic tables are cut to them, so that the statistics are ``len(words) x K``
    (:class:`WordStats`). Each document's arithmetic is that of ``doc_stats`` on the
    whole vocabulary."""
    words, cut = kern.cut_to_words(X)
    sub = kern.TopicPosterior(None, None, topics.exp_topic_word[words],
                              topics.word_shift[words], topics.inner[words])  # fmt: skip
    stats = kern.doc_stats(cut, sub, alpha, gamma, mode, settings, starts, exact=exact,
                           serial=True, compensated=compensated)  # fmt: skip
    return WordStats(words, stats)


def add_word_stats(a, b):
    """The :class:`WordStats` of two chunks together (over the union of their words)."""
    words = np.union1d(a.words, b.words)
    table = np.zeros((len(words), a.stats.topic_word.shape[1]))
    table[np.searchsorted(words, a.words)] = a.stats.topic_word
    table[np.searchsorted(words, b.words)] += b.stats.topic_word
    rest = kern.add_stats(a.stats._replace(topic_word=0.0), b.stats._replace(topic_word=0.0))
    return WordStats(words, rest._replace(topic_word=table))


def dense_stats(word_stats, n_words):
    """The statistics of :class:`WordStats` over a vocabulary of ``n_words``."""
    words, stats = word_stats
    table = np.zeros((n_words, stats.topic_word.shape[1]))
    table[words] = stats.topic_word
    return stats._replace(topic_word=table)


class DaskDocs(NamedTuple):
    """A corpus given as a Dask array: its row chunks as delayed values, in order."""

    blocks: list
    #: The first document of each chunk, and the number of documents (n_chunks + 1,).
    offsets: np.ndarray
    shape: tuple
    #: The dtype of the fitted attributes (float32 stays float32, as in memory).
    dtype: np.dtype
    whom: str
    #: Whether the documents' ``gamma`` are kept on the workers (a batch fit's warm passes
    #: start from them; an online fit has no use for them).
    keep_gamma: bool = True


def _tables(topics):
    """What a task reads of the topics (not ``components``, ``e_log_beta``)."""
    return topics._replace(components=None, e_log_beta=None)


def _valid_chunk(block, n_features, whom):
    """A chunk checked as the in-memory path checks ``X``: canonical CSR, float64 or
    float32, finite, non-negative, ``n_features`` columns."""
    if sp.issparse(block):
        block = check_sparse_structure(block, whom)
    X = check_array(block, accept_sparse="csr", dtype=[np.float64, np.float32],
                    ensure_min_samples=0, estimator="VariationalLDA", input_name="X")  # fmt: skip
    if X.shape[1] != n_features:
        raise ValueError(
            f"X has {X.shape[1]} features, but VariationalLDA is expecting {n_features} "
            "features as input."
        )
    check_non_negative(X, whom)
    return canonical_csr(X)


def canonical_csr(X):
    """``X`` (validated, dense or sparse) as CSR with sorted, unique column indices: a copy
    with the duplicates summed if it is not canonical (the input is never modified)."""
    X = sp.csr_matrix(X) if not sp.issparse(X) else X.tocsr()
    if not X.has_canonical_format:
        X = X.copy()
        X.sum_duplicates()
    return X


def _chunk_tokens(block, n_features, whom):
    return float(_valid_chunk(block, n_features, whom).sum())


def check_docs(est, X, whom, reset, method):
    """``X`` (a Dask array) as :class:`DaskDocs` and its number of tokens, every chunk
    validated on the workers. ``reset``: set ``n_features_in_`` (``fit``), else check it;
    ``method``: the learning method of the passes ('batch', 'online'; 'cvb0' raises)."""
    _dask.require_dask(whom)
    if method == "cvb0":
        raise ValueError(
            "learning_method='cvb0' is not supported on Dask arrays: its pass is sequential "
            "over the documents with corpus-wide counts. Use learning_method='batch' or "
            "'online', or fit X.compute() in memory."
        )
    blocks = _dask.row_blocks(X, "X")
    _check_n_features(est, X, reset=reset)
    _check_feature_names(est, X, reset=reset)
    if X.shape[0] < 1:
        raise ValueError(
            f"Found array with 0 sample(s) (shape={X.shape}) while a minimum of 1 is "
            "required by VariationalLDA."
        )
    n_features = X.shape[1]
    n_tokens = _dask.map_reduce(_chunk_tokens, blocks, n_features, whom, add=operator.add)
    dtype = X.dtype if X.dtype in (np.float32, np.float64) else np.dtype(np.float64)
    offsets = np.r_[0, np.cumsum(X.chunks[0])].astype(np.int64)
    docs = DaskDocs(blocks, offsets, X.shape, dtype, whom, method == "batch")
    return docs, float(n_tokens)


def _chunk_initial(block, n_features, whom, topics, alpha):
    X = _valid_chunk(block, n_features, whom)
    gamma = kern.initial_gamma(X, alpha)
    settings = kern.EStepSettings(0, 0.0, False)
    stats = kern.doc_stats(X, topics, alpha, gamma, kern.WARM, settings, sstats=False, serial=True)
    return gamma, stats


def _chunk_initial_stats(*args):
    return _chunk_initial(*args)[1]


def initial_state(docs, prior, n_topics, random_state, structure=None):
    """:func:`skvi._lda_kernels.initial_state` (random topics, ``gamma_d = alpha + n_d /
    K``) on the workers; the state's ``gamma`` is the list of the chunks' futures (None
    unless ``docs.keep_gamma``)."""
    topics = kern.random_topics(random_state, n_topics, docs.shape[1])
    args = (docs.blocks, docs.shape[1], docs.whom, _dask.share(_tables(topics)), prior.alpha)
    if docs.keep_gamma:
        stats, gamma = _dask.map_reduce_keep(_chunk_initial, *args, add=kern.add_stats)
    else:
        stats, gamma = _dask.map_reduce(_chunk_initial_stats, *args, add=kern.add_stats), None
    bound = kern.elbo(stats, topics, prior)
    return kern.LDAState(topics, prior, gamma, bound, 1, 0, random_state), bound


def _chunk_pass(block, gamma, starts, first, n_features, whom, topics, alpha, mode, settings,
                learn_alpha):  # fmt: skip
    X = _valid_chunk(block, n_features, whom)
    if mode == kern.WARM:
        gamma, starts = gamma.copy(), None
    else:
        gamma = np.empty((X.shape[0], alpha.shape[0]))
        starts = kern.starts_of(starts, first, first + X.shape[0])
    warm = mode == kern.WARM
    stats = chunk_stats(X, topics, alpha, gamma, mode, settings, starts, warm, learn_alpha)
    return gamma, stats


def _client():
    """The active ``distributed`` client, or None (Dask's local schedulers)."""
    try:
        from distributed import default_client

        return default_client()
    except (ImportError, ValueError):
        return None


def _scatter_each(values):
    """Each value to one worker (a future each) under a distributed client, else as is."""
    client = _client()
    return values if client is None else client.scatter(values, hash=False)


def batch_pass(docs, state, mode, settings, learn_alpha, learn_eta):
    """:func:`skvi._lda_kernels.batch_pass` over the chunks of ``docs``: the E-step on
    the workers (``FRESH``: from the pass's random starts; ``WARM``: from the chunks'
    ``gamma`` futures of ``state``), their statistics summed there, the update on the
    client."""
    n_chunks, n_topics = len(docs.blocks), state.prior.alpha.shape[0]
    if mode == kern.WARM:
        gamma, starts, first = state.gamma, [None] * n_chunks, docs.offsets[:-1]
    else:
        plan = kern.draw_starts(state.random_state, docs.shape[0], n_topics)
        gamma = [None] * n_chunks
        if isinstance(plan, kern.StartKey):
            starts, first = [plan] * n_chunks, docs.offsets[:-1]
        else:
            edges = docs.offsets
            starts = _scatter_each([plan[edges[i] : edges[i + 1]] for i in range(n_chunks)])
            first = np.zeros(n_chunks, dtype=np.int64)
    chunks = zip(docs.blocks, gamma, starts, first, strict=True)
    parts = [(b, g, s, int(f)) for b, g, s, f in chunks]
    word_stats, gamma = _dask.map_reduce_keep(
        _chunk_pass, parts, docs.shape[1], docs.whom, _dask.share(_tables(state.topics)),
        state.prior.alpha, mode, settings, learn_alpha, add=add_word_stats,
    )  # fmt: skip
    stats = dense_stats(word_stats, docs.shape[1])
    return kern.batch_update(stats, state, gamma, learn_alpha, learn_eta)


def _mini_batches(X, extra, cuts, rhos):
    """``(rows, rho)`` of each mini-batch ``cuts[b]..cuts[b+1]-1`` (rows of the chunk ``X``;
    the last one may run on into the rows ``extra`` of the next chunks), with its step
    size: the same CSR matrices as the in-memory ``X[batch]``."""
    for b, rho in enumerate(rhos):
        lo, hi = cuts[b], cuts[b + 1]
        rows = X[lo:hi] if hi <= X.shape[0] else sp.vstack([X[lo:], *extra], format="csr")
        yield rows, rho


def _head(X, n):
    """The first ``n`` rows of a validated chunk (a mini-batch that starts in an earlier
    chunk runs into them), cut on the chunk's worker."""
    return X[:n]


def _chunk_online(carry, X, extra, cuts, rhos, n_total, settings, learn_alpha, learn_eta):
    """One link of an online pass: the steps of the mini-batches starting in the
    validated chunk ``X``, from the ``carry`` ``(state, bound)`` of the link before;
    returns the new carry."""
    state, bound = carry
    # a copy: the random state of the carry (an input of this task) is never advanced
    state = state._replace(random_state=copy.deepcopy(state.random_state))
    batches = _mini_batches(X, extra, cuts, rhos)
    return kern.online_steps(batches, state, bound, n_total, settings, learn_alpha, learn_eta,
                             serial=True)  # fmt: skip


def _links(docs, batch_size):
    """The online pass's chain: for each chunk in which mini-batches start, its index, the
    rows where they start (and the end of the last one), the later chunks (index, number
    of rows) that the last one runs into, and the mini-batches' range."""
    n_docs, edges = docs.shape[0], docs.offsets
    lows = np.arange(0, n_docs, batch_size)
    owners = np.searchsorted(edges, lows, side="right") - 1
    first = np.flatnonzero(np.r_[True, owners[1:] != owners[:-1]])
    for a, b in zip(first, np.r_[first[1:], len(lows)], strict=True):
        i, stop = int(owners[a]), min(int(lows[b - 1]) + batch_size, n_docs)
        cuts, j, heads = np.r_[lows[a:b], stop] - edges[i], i + 1, []
        while j < len(docs.blocks) and edges[j] < stop:
            heads.append((j, int(min(stop, edges[j + 1]) - edges[j])))
            j += 1
        yield i, cuts, heads, (a, b)


def online_pass(docs, state, batch_size, rhos, settings, learn_alpha, learn_eta):
    """:func:`skvi._lda_kernels.online_pass` over the chunks of ``docs``: a chain of
    tasks, one link per chunk in which mini-batches start (:func:`_links`), each carrying
    the state to the next. Each chunk is read and validated once per pass, on a worker,
    where the link that needs it and the head cut from it for the link before run. Under
    a distributed client, a link is submitted once the one two before it is done, so that
    a few chunks at most are in memory at once. The documents never come to the client;
    it receives the pass's final state and bound."""
    from dask import delayed

    client, valid, previous = _client(), {}, None
    check, head = delayed(_valid_chunk, pure=True), delayed(_head, pure=True)
    link = delayed(_chunk_online, pure=True)

    def chunk(j):
        if j not in valid:
            X = check(docs.blocks[j], docs.shape[1], docs.whom)
            valid[j] = X if client is None else client.compute(X)
        return valid[j]

    if client is not None:
        from distributed import wait
    carry = _scatter_each([(state._replace(gamma=None), 0.0)])[0]
    for i, cuts, heads, (a, b) in _links(docs, batch_size):
        for j in [j for j in valid if j < i]:  # submitted with the links that read them
            del valid[j]
        extra = [head(chunk(j), n) for j, n in heads]
        step = link(carry, chunk(i), extra, cuts, list(rhos[a:b]), docs.shape[0], settings,
                    learn_alpha, learn_eta)  # fmt: skip
        if client is not None:
            if previous is not None:
                wait(previous)
            previous, step = carry, client.compute(step)
        carry = step
    new, bound = carry.result() if client is not None else _dask.compute(carry)[0]
    # the fit's random state object advances as it does in memory
    state.random_state.set_state(new.random_state.get_state())
    return new._replace(random_state=state.random_state, gamma=state.gamma), bound


def _chunk_step(block, starts, n_features, whom, topics, alpha, settings):
    X = _valid_chunk(block, n_features, whom)
    gamma = np.empty((X.shape[0], alpha.shape[0]))
    return chunk_stats(X, topics, alpha, gamma, kern.FRESH, settings, starts)


def stochastic_pass(docs, state, rho, n_total, settings, learn_alpha, learn_eta):
    """:func:`skvi._lda_kernels.stochastic_pass` with the whole of ``docs`` as the
    mini-batch: its random starts drawn on the client (as in memory) and scattered to the
    chunks, the E-step per chunk on the workers, the statistics summed there, the step on
    the client (:func:`skvi._lda_kernels.stochastic_update`)."""
    n_topics, edges = state.topics.components.shape[0], docs.offsets
    starts = kern.fresh_starts(state.random_state, docs.shape[0], n_topics)
    starts = _scatter_each([starts[edges[i] : edges[i + 1]] for i in range(len(docs.blocks))])
    word_stats = _dask.map_reduce(
        _chunk_step, list(zip(docs.blocks, starts, strict=True)), docs.shape[1], docs.whom,
        _dask.share(_tables(state.topics)), state.prior.alpha, settings,
        add=add_word_stats,
    )  # fmt: skip
    stats = dense_stats(word_stats, docs.shape[1])
    ratio = n_total / docs.shape[0]
    return kern.stochastic_update(stats, state, rho, ratio, learn_alpha, learn_eta)


def _chunk_transform(block, n_features, whom, topics, alpha, settings, normalize, dtype):
    X = _valid_chunk(block, n_features, whom)
    gamma, _ = kern.infer(X, topics, alpha, settings, serial=True)
    if normalize:
        gamma /= gamma.sum(axis=1, keepdims=True)
    return gamma.astype(dtype, copy=False)


def _chunk_score(block, n_features, whom, topics, alpha, settings):
    X = _valid_chunk(block, n_features, whom)
    return float(X.sum()), kern.infer(X, topics, alpha, settings, serial=True)[1]


def _add_scores(a, b):
    return a[0] + b[0], kern.add_stats(a[1], b[1])


def _check_fitted_docs(est, X, whom):
    _dask.require_dask(whom)
    _dask.check_row_chunks(X, "X")
    _check_n_features(est, X, reset=False)
    _check_feature_names(est, X, reset=False)
    return est._state, est._settings()[0]


def transform(est, X, normalize, whom="VariationalLDA.transform"):
    """The lazy document-topic proportions of the Dask array ``X`` (``map_blocks`` of the
    in-memory predictive E-step, serial kernel, per chunk)."""
    state, settings = _check_fitted_docs(est, X, whom)
    dtype = X.dtype if X.dtype in (np.float32, np.float64) else np.dtype(np.float64)
    n_topics = state.prior.alpha.shape[0]
    return X.map_blocks(
        _chunk_transform, X.shape[1], whom, _dask.share(_tables(state.topics)),
        state.prior.alpha, settings, normalize, dtype, dtype=dtype,
        chunks=(X.chunks[0], (n_topics,)), meta=np.empty((0, 0), dtype=dtype),
    )  # fmt: skip


def score(est, X, whom):
    """``(documents' bound, n_tokens)`` of the Dask array ``X``, summed on the workers."""
    state, settings = _check_fitted_docs(est, X, whom)
    n_tokens, stats = _dask.map_reduce(
        _chunk_score, _dask.row_blocks(X, "X"), X.shape[1], whom,
        _dask.share(_tables(state.topics)), state.prior.alpha, settings, add=_add_scores,
    )  # fmt: skip
    return kern.documents_bound(stats), n_tokens
