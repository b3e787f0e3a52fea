"""Variational LDA (Blei, Ng and Jordan 2003): all of the model's mathematics.

The model is a few immutable named values and pure functions on them (Python, NumPy and
SciPy; the Numba kernels below do the passes over the data):

:class:`LDAPrior`
    ``alpha`` (K,) and ``eta``.
:class:`TopicPosterior`
    ``q(beta_k) = Dir(lambda_k)``: ``components`` (lambda) and the tables the E-step reads,
    derived from it by :func:`make_topics`.
:class:`LDAStats`
    The sufficient statistics of a chunk of documents under a posterior: the expected
    topic-word counts ``S`` (V, K), the documents' terms of the ELBO, the number of
    non-empty documents and ``sum_d E[ln theta_d]``. **They are additive: the statistics
    of a corpus are the sum of the statistics of its chunks** (:func:`add_stats`), so that
    chunks can be processed apart (on other workers) and summed.
:class:`LDAState`
    One variational distribution of a fit: topics, priors, the documents' ``gamma``, its
    ELBO, the number of topic updates, the random state of the documents' random starts
    and, for CVB0, the counts (:class:`CVB0Counts`).

Functions: statistics of a chunk (the E-step) :func:`doc_stats`; updates
:func:`update_topics` (batch), :func:`stochastic_update_topics` (online) and the
empirical-Bayes priors :func:`update_prior` (:func:`update_alpha`, :func:`update_eta`); the
ELBO :func:`elbo` (with :func:`documents_bound` and :func:`topics_kl`); the predictive
:func:`infer` (``transform``, ``score``) and :func:`perplexity`; and the passes the
estimator runs: :func:`initial_state`, :func:`batch_pass`, :func:`online_pass`
(:func:`online_steps` of :func:`stochastic_pass`), :func:`cvb0_sweep`. The estimator
(``skvi.lda``) only validates, resolves the priors (:func:`resolve_prior`), calls these
and publishes the fitted attributes. Over a Dask array (``skvi._lda_dask``) each chunk
runs ``_lda_dask.chunk_stats`` (the serial kernel over the chunk's own words,
:func:`cut_to_words`), and the client finishes the pass
with :func:`batch_update` (a batch pass) or :func:`stochastic_update` (a mini-batch of
``partial_fit``); an online pass runs :func:`online_steps` in a chain of tasks. The
random starts of a pass (:func:`draw_starts`, :func:`starts_of`) and the sum of
``E[ln theta]`` the learned ``alpha`` reads (:func:`e_log_theta_total`) do not depend on
how the documents are split, so that such a fit equals the in-memory one.

The per-document E-step alternates, for document ``d`` with word ids ``w_j`` and counts
``n_j`` (one CSR row),

    phi_jk  proportional to  exp(E[ln theta_dk]) exp(E[ln beta_k,w_j])
    gamma_dk = alpha_k + sum_j n_j phi_jk

until the mean absolute change of ``gamma_d`` is below ``tol`` (per document). The topic
side is passed *vocabulary-major*: ``exp_topic_word[w, k] = exp(E[ln beta_kw] - shift_w)``
with ``shift_w = max_k E[ln beta_kw]``, so that the gather of a document's words reads
contiguous rows and nothing underflows whatever the priors. ``exp(E[ln theta_d])`` is
shifted by its own maximum in the same way; both shifts are added back in the log
normalisers.

Each sweep reads a copy of the document's rows of the topic matrix gathered once per
document, word-minor (``local[k, j] = exp_topic_word[w_j, k]``, padded with zero-count
words to a multiple of :data:`WORD_PAD`), so that both halves of a sweep, the normalisers
``sum_k et_k local[k, j]`` and the sums ``sum_j (n_j / norm_j) local[k, j]``, run along
contiguous words in vector registers rather than one dependent dot product per word.

The fixed point runs in two phases (in :func:`_e_step_block`): first with ``inner``, a
float32 copy of ``exp_topic_word`` (the digamma of its sweeps is
:func:`skvi._special.exp_digamma_fast`) (the E-step table of the LDA benchmark gives the time
per sweep of both precisions), until the change is below ``tol`` or below what float32
resolves; only in the second case (or if a normaliser underflows in float32) the sweeps go
on in float64 until the change is below ``tol``, in a second call of the kernel over those
documents (its float64 build is compiled only when a fit has such documents). The
statistics and every term of the ELBO are computed in float64 from the final ``gamma``, so
the bound is exact for the parameters returned, whichever precision the last sweep had.

The Kullback-Leibler terms of the bound (a document's ``KL(Dir(gamma_d) || Dir(alpha))``,
a topic's ``KL(Dir(lambda_k) || Dir(eta))``) are computed as increments from the prior
(:func:`dirichlet_kl_from_prior`): exactly zero for a factor at its prior and accurate to
the size of the data that moved it, so that the bound per token stays exact for counts
far below the priors (down to 1e-300) as well as far above them.

Documents are split into a fixed number of blocks (independent of the thread count), each
with its own topic-word accumulator, and the blocks are reduced in index order.

Collapsed variational Bayes (CVB0; Asuncion et al. 2009) keeps one responsibility vector
``r_j`` per non-zero entry ``j = (d, w)`` (float32, shared by the entry's ``n_j`` tokens)
and the expected counts ``N_wk = sum_{j: w_j = w} n_j r_jk`` (vocabulary-major, float64),
``N_k = sum_w N_wk`` and ``N_dk = sum_{j in d} n_j r_jk``. One update of entry ``j``
removes one token's share, ``s = min(n_j, 1) r_j``, from every count and sets

    r_jk  proportional to  (N_wk - s_k + eta) (N_dk - s_k + alpha_k) / (N_k - s_k + V eta)

(:func:`_cvb0_doc`). A pass visits the documents in a fixed number of blocks: within a
block the documents run in parallel against the ``N_wk`` and ``N_k`` of the block's
start, each document updating its own ``N_dk`` entry by entry; after the block its
changes are added to ``N_wk`` in parallel over the vocabulary and to ``N_k`` in document
order. The blocks depend on the corpus only, so the result is the same for any thread
count.

Nothing here imports scikit-learn.
"""

import functools
import math
from typing import NamedTuple

import numpy as np
from scipy.special import gammaln

from ._jit import jit, jit_parallel, prange
from ._special import (
    digamma,
    digamma_array,
    dirichlet_kl_from_prior,
    exp_digamma_fast,
    increment_table,
    inverse_digamma,
    log_dirichlet_norm,
    trigamma,
)

#: The largest number of tokens (sum of the counts) of a corpus: the ELBO's terms grow as
#: ``n ln n`` and must stay within float64's range (1.8e308). For ``partial_fit`` the
#: corpus is the stream, ``X.sum() * total_samples / n_samples`` tokens.
MAX_TOKENS = 1e300
#: The largest total prior mass, ``n_features * topic_word_prior`` and
#: ``sum(doc_topic_prior)``: the log normaliser of the prior, ``lgamma(mass)``, must be
#: finite (it overflows from about 2.5e305).
MAX_PRIOR_MASS = 1e305
#: Online learning (``learning_method='online'``, ``partial_fit``): the largest
#: ``n_features * topic_word_prior``. Its topics start near one pseudo-count per entry
#: (as scikit-learn's), not at the prior, so their KL from the prior is a difference of
#: log-gammas of about ``K n_features eta ln(n_features eta)`` nats, which float64
#: resolves to 2.2e-16 of that: at 1e12, about 6e-3 nats per topic.
MAX_ONLINE_PRIOR_MASS = 1e12
#: Documents are split into at most this many blocks (and at least MIN_BLOCK_DOCS
#: documents each): parallel slack for machines of up to 16 cores, few enough
#: accumulators to keep memory small. Each block has a (V, K) float64 accumulator, and
#: together they take at most MAX_STATS_BYTES (one block, whatever its size, at least).
MAX_BLOCKS = 16
MAX_STATS_BYTES = 256 * 2**20
#: Where a document's fixed point starts (see :func:`e_step`); REFINE: the float64 sweeps
#: of the documents the float32 ones left (:func:`_e_step_block`).
FRESH, WARM, REFINE = 0, 1, 2
#: A document's gathered words are padded to a multiple of this many (16 float32 lanes).
WORD_PAD = 16
#: The float32 phase stops once the mean change per topic is below this fraction of the
#: mean ``gamma`` (float32 resolves ~6e-8 of a value; sums of many words lose more).
FLOAT32_FLOOR = 1e-5
#: The estimator runs the float32 phase only for a ``mean_change_tol`` at least this large
#: (scikit-learn's default is 1e-3); a tighter tolerance asks for float64 iterates.
FLOAT32_MIN_TOL = 1e-5
#: A document's float32 sweeps run only if its length plus its ``sum(gamma)`` is below
#: this: a sweep divides a count by a normaliser that may be as small as 1e-30 before the
#: underflow test stops it, and float32 overflows at 3.4e38. Longer documents (counts far
#: beyond any text's) iterate in float64 only.
FLOAT32_MAX_LENGTH = 1e8
MIN_BLOCK_DOCS = 256
#: An online mini-batch's E-step splits its documents into blocks of at least this many
#: (a default mini-batch of 128 documents: 2 blocks, run in parallel).
ONLINE_BLOCK_DOCS = 64
#: The parallel E-step sums its blocks' statistics on the calling thread (rather than in
#: a second parallel region, whose start costs more than the sum) up to this many cells
#: (blocks x words x topics: a mini-batch's).
SERIAL_SUM_CELLS = 2**18
#: Batch passes over more documents than this draw the documents' random starts per block
#: of :data:`START_BLOCK_DOCS` documents, each block from its own stream seeded by a key
#: drawn once per pass and the block's index (:func:`draw_starts`), so that any split of the
#: documents into chunks (the row chunks of a Dask array) draws the same starts; smaller
#: corpora draw them in one call, as scikit-learn does.
SEEDED_STARTS_MIN_DOCS = 2**16
START_BLOCK_DOCS = 4096
#: CVB0: documents per pass are visited in this many blocks (fewer for tiny corpora); the
#: expected topic-word counts are brought up to date after each block.
CVB0_BLOCKS = 16
#: CVB0: documents per parallel task within a block.
CVB0_TASK_DOCS = 16


#: ``B_{2i} / (2i)``, i = 1..7: the asymptotic series of the digamma function.
_PSI_SERIES = (1 / 12, -1 / 120, 1 / 252, -1 / 240, 1 / 132, -691 / 32760, 1 / 12)


@jit
def _psi_parts(x):
    """``psi(x) = ln v + rest`` as ``(v, rest)`` (``x > 0``), by the recurrence ``psi(x) =
    psi(x + 10) - 1 / x - sum_{j=1}^{9} 1 / (x + j)`` for ``x < 10`` (the sum as one
    fraction ``p / q``, ``q <= 19! / 10!``) and the asymptotic series ``psi(v) = ln v - 1 /
    (2v) - sum_{i=1}^{7} B_{2i} / (2i v^{2i})`` at ``v >= 10``
    (:func:`skvi._special.digamma`'s); without calls or branches, so that loops over it
    vectorise (the caller takes the logarithm)."""
    small = x < 10.0
    t = x if small else 1.0
    p, q = 0.0, 1.0
    for j in range(1, 10):
        p = p * (t + j) + q
        q = q * (t + j)
    v = x + 10.0 if small else x
    z = 1.0 / v
    z2 = z * z
    c = _PSI_SERIES
    series = z2 * (
        c[0] + z2 * (c[1] + z2 * (c[2] + z2 * (c[3] + z2 * (c[4] + z2 * (c[5] + z2 * c[6])))))
    )
    return v, -(0.5 * z + series + (p / q + 1.0 / t if small else 0.0))


@jit
def _log_beta_parts(components, words, y, rest, y_total, rest_total):
    """The digamma of the topics' parameters ``components`` (lambda, (K, V)) at the columns
    ``words`` and of their sums over the whole vocabulary, by :func:`_psi_parts`:
    ``psi(lambda_kw) = ln y_kw + rest_kw``, ``psi(sum_v lambda_kv) = ln y_total_k +
    rest_total_k`` (the same arithmetic for both: with one word, ``E[ln beta] = 0``
    exactly)."""
    n_comp, n_words = components.shape
    for k in range(n_comp):
        row = components[k]
        total = 0.0
        for w in range(n_words):
            total += row[w]
        y_total[k], rest_total[k] = _psi_parts(total)
        y_k, rest_k = y[k], rest[k]
        for i in range(words.shape[0]):
            y_k[i] = row[words[i]]
        for i in range(words.shape[0]):  # apart, so that this loop vectorises
            y_k[i], rest_k[i] = _psi_parts(y_k[i])


def topic_tables(components, words):
    """What the E-step needs from the topics' Dirichlet parameters ``components``
    (lambda, (K, V), C-contiguous) at the vocabulary indices ``words`` (V_b,): ``E[ln
    beta_kw] = psi(lambda_kw) - psi(sum_v lambda_kv)`` (K, V_b) (Blei et al. 2003, eq. 8;
    :func:`_log_beta_parts`), the vocabulary-major shifted exponentials ``exp(E[ln beta_kw]
    - shift_w)`` (V_b, K), the shifts ``shift_w = max_k E[ln beta_kw]`` (V_b,), and their
    float32 copy (V_b, K). Each column is the same whichever columns are asked for."""
    n_comp, n_cols = components.shape[0], words.shape[0]
    e_log_beta, y = np.empty((n_comp, n_cols)), np.empty((n_comp, n_cols))
    y_total, psi_total = np.empty(n_comp), np.empty(n_comp)
    _log_beta_parts(components, words, y, e_log_beta, y_total, psi_total)
    e_log_beta += np.log(y, out=y)
    psi_total += np.log(y_total)
    e_log_beta -= psi_total[:, None]
    shift = e_log_beta.max(axis=0) if n_cols else np.empty(0)
    exp_topic_word = np.empty((n_cols, n_comp))
    np.subtract(e_log_beta.T, shift[:, None], out=exp_topic_word)
    np.exp(exp_topic_word, out=exp_topic_word)
    return e_log_beta, exp_topic_word, shift, exp_topic_word.astype(np.float32)


def topic_kl(components, e_log_beta, eta):
    """``sum_k KL(Dir(lambda_k) || Dir(eta 1))`` given ``E[ln beta]``: ``ln C(lambda_k) -
    ln C(eta 1) + sum_w (lambda_kw - eta) E[ln beta_kw]`` (PRML B.23), each computed by
    :func:`dirichlet_kl_from_prior` (accurate to the size of ``lambda_k - eta``; the
    kernel the E-step compiles for the documents' KL), summed over the topics in order.
    ``components`` and ``e_log_beta``: C-contiguous (:func:`make_topics`)."""
    n_words = components.shape[1]
    prior = np.array([float(eta)])
    total = n_words * float(eta)
    table = increment_table(np.array([float(eta), total]))
    value = 0.0
    for lam, e_log in zip(components, e_log_beta, strict=True):
        value += dirichlet_kl_from_prior(prior, table[:1], total, table[1], lam, e_log)
    return value


def n_doc_blocks(n_docs, n_cells, block_docs=MIN_BLOCK_DOCS):
    """Number of document blocks: a function of the problem's size only (``n_cells =
    V K``), never of the thread count, so that the reduction order is fixed; at least
    ``block_docs`` documents per block (:data:`MIN_BLOCK_DOCS`; an online mini-batch:
    :data:`ONLINE_BLOCK_DOCS`)."""
    by_docs = (n_docs + block_docs - 1) // block_docs
    by_memory = MAX_STATS_BYTES // (8 * max(n_cells, 1))
    return int(max(1, min(MAX_BLOCKS, by_docs, by_memory)))


@jit
def _e_log_theta(gamma, e_log_theta, et):
    """``e_log_theta[k] = E[ln theta_k] = psi(gamma_k) - psi(sum gamma)`` for ``theta ~
    Dir(gamma)`` (Blei et al. 2003, eq. 8; the digamma by :func:`_psi_parts`) and ``et =
    exp(e_log_theta - m)``; returns ``m``, the maximum of ``e_log_theta``."""
    total = 0.0
    for k in range(gamma.shape[0]):
        total += gamma[k]
    v, rest = _psi_parts(total)
    psi_total = math.log(v) + rest
    mx = -np.inf
    for k in range(gamma.shape[0]):
        v, rest = _psi_parts(gamma[k])
        e = (math.log(v) + rest) - psi_total
        e_log_theta[k] = e
        mx = max(mx, e)
    for k in range(gamma.shape[0]):
        et[k] = math.exp(e_log_theta[k] - mx)
    return mx


@jit
def _gather(lo, hi, indices, data, table, local, counts):
    """A document's words, word-minor: ``local[k, j] = table[w_j, k]`` and ``counts[j] =
    n_j`` for its entries ``j = lo..hi-1``, in the precision of ``local``; padded to a
    multiple of :data:`WORD_PAD` with words of count 0 (``local = 1``: their normaliser
    is positive and their share 0). Returns the padded length."""
    cast = local.dtype.type
    n = hi - lo
    n_pad = -(-n // WORD_PAD) * WORD_PAD
    for j in range(n):
        row = table[indices[lo + j]]
        for k in range(local.shape[0]):
            local[k, j] = row[k]
        counts[j] = cast(data[lo + j])
    for j in range(n, n_pad):
        for k in range(local.shape[0]):
            local[k, j] = cast(1.0)
        counts[j] = cast(0.0)
    return n_pad


@jit
def _sweeps(n, local, counts, alpha, gamma, et, et_c, norm, max_iter, tol):
    """At most ``max_iter`` (phi, gamma) updates of one document in place, in the
    precision of ``local`` (its words gathered by :func:`_gather`), until the mean
    absolute change of ``gamma`` is below ``tol``. Returns ``(sweeps, status)``:
    0 converged, 1 out of sweeps, 2 a word's normaliser underflowed (``gamma`` is then
    left as it was before the sweep)."""
    n_comp = alpha.shape[0]
    cast = local.dtype.type
    tiny = cast(1e-30 if local.itemsize == 4 else 1e-300)
    norm = norm[:n]
    counts = counts[:n]
    for it in range(max_iter):
        exp_digamma_fast(gamma, et)
        for k in range(n_comp):
            et_c[k] = cast(et[k])
        e = et_c[0]
        first = local[0, :n]
        for j in range(n):
            norm[j] = e * first[j]
        for k in range(1, n_comp):
            e = et_c[k]
            row = local[k, :n]
            for j in range(n):
                norm[j] += e * row[j]
        low = False
        for j in range(n):
            low |= norm[j] < tiny
        if low:
            return it, 2
        for j in range(n):
            norm[j] = counts[j] / norm[j]
        change = 0.0
        for k in range(n_comp):
            row = local[k, :n]
            a = cast(0.0)
            for j in range(n):
                a += norm[j] * row[j]
            g = alpha[k] + et[k] * a
            change += abs(g - gamma[k])
            gamma[k] = g
        if change / n_comp < tol:
            return it + 1, 0
    return max_iter, 1


@jit
def _words_term(lo, hi, indices, data, exp_topic_word, word_shift, et, shift, stats):
    """``sum_j n_j ln sum_k exp(E ln theta_k + E ln beta_k,w_j)`` for one document, with
    ``et = exp(E ln theta - shift)``; if ``stats`` has rows, also adds ``n_j phi_jk`` to
    ``stats[w_j, k]`` (phi at its optimum for this ``et``)."""
    n_comp = et.shape[0]
    accumulate = stats.shape[0] > 0
    value = 0.0
    for j in range(lo, hi):
        w = indices[j]
        row = exp_topic_word[w]
        s = 0.0
        for k in range(n_comp):
            s += et[k] * row[k]
        value += data[j] * (math.log(s) + shift + word_shift[w])
        if accumulate:
            c = data[j] / s
            out = stats[w]
            for k in range(n_comp):
                out[k] += c * et[k] * row[k]
    return value


@jit
def _e_step_block(
    first, last, indptr, indices, data, exp_topic_word, table, word_shift, alpha, alpha_table,
    alpha_total, total_row, gamma, mode, starts, max_iter, tol, pending, stats, terms,
    e_log_theta_sum,
):  # fmt: skip
    """Documents ``first..last-1`` of :func:`e_step`, adding to this block's ``stats``
    (vocabulary-major, or no rows for none), ``terms`` (4,) and ``e_log_theta_sum`` (K,);
    ``alpha_table``, ``total_row``: :func:`increment_table` of ``alpha`` and of its sum
    ``alpha_total``.

    ``mode`` FRESH or WARM: each document's start (:func:`e_step`), then its sweeps
    (:func:`_sweeps`) with ``table`` (float32, or no rows for none) until the mean change
    is below ``max(tol, FLOAT32_FLOOR * mean gamma)``; a document stops there if that is
    ``tol`` (or after ``max_iter`` sweeps, or if its length plus ``sum(gamma)`` reaches
    :data:`FLOAT32_MAX_LENGTH`); if it stopped at the float32 floor, or a normaliser
    underflowed in float32, ``pending[d]`` receives its sweeps so far (else -1) and it is
    left to ``mode=REFINE``, which runs the remaining sweeps of those documents in float64
    (``table``: ``exp_topic_word``) until the change is below ``tol``. The statistics of a
    document are added once its sweeps are over, in document order in each call, so that
    a block's result does not depend on the thread count."""
    n_comp = alpha.shape[0]
    refine = mode == REFINE
    random_starts = starts.shape[0] == indptr.shape[0] - 1
    if not refine:
        stats[...] = 0.0  # here, in this block's thread, rather than serially by the caller
    longest = 0
    for d in range(first, last):
        longest = max(longest, indptr[d + 1] - indptr[d])
    n_tab = -(-longest // WORD_PAD) * WORD_PAD if table.shape[0] > 0 else 0
    et, elog, et_c = np.empty(n_comp), np.empty(n_comp), np.empty(n_comp, table.dtype)
    local, counts, norm = (np.empty((n_comp, n_tab), table.dtype), np.empty(n_tab, table.dtype),
                           np.empty(n_tab, table.dtype))  # fmt: skip
    for d in range(first, last):
        lo, hi = indptr[d], indptr[d + 1]
        g = gamma[d]
        if refine:
            if pending[d] < 0:
                continue
            sweep, budget, stop = True, max_iter - pending[d], tol
        else:
            pending[d] = -1
            if lo == hi:
                for k in range(n_comp):
                    g[k] = alpha[k]
                continue
            length, total = 0.0, 0.0
            for j in range(lo, hi):
                length += data[j]
            for k in range(n_comp):
                if mode == FRESH:
                    g[k] = starts[d, k] if random_starts else alpha[k] + length / n_comp
                total += g[k]
            sweep = n_tab > 0 and max_iter > 0 and total + length < FLOAT32_MAX_LENGTH
            budget, stop = max_iter, max(tol, FLOAT32_FLOOR * total / n_comp)
        used, status = 0, 2
        if sweep:  # one call site each, so that they are inlined
            n = _gather(lo, hi, indices, data, table, local, counts)
            used, status = _sweeps(n, local, counts, alpha, g, et, et_c, norm, budget, stop)
        terms[3] += used
        if not refine and status != 1 and not (status == 0 and stop == tol) and used < max_iter:
            pending[d] = used
            continue
        # phi at its optimum for the final gamma: the statistics and the bound, in float64
        shift = _e_log_theta(g, elog, et)
        terms[0] += _words_term(lo, hi, indices, data, exp_topic_word, word_shift, et, shift, stats)
        terms[1] += dirichlet_kl_from_prior(alpha, alpha_table, alpha_total, total_row, g, elog)
        for k in range(n_comp):
            e_log_theta_sum[k] += elog[k]
        terms[2] += 1.0


def _e_step(indptr, indices, data, exp_topic_word, table, word_shift, alpha, alpha_table,
            alpha_total, total_row, gamma, mode, starts, max_iter, tol, pending, blocks, terms_b,
            elt_b):  # fmt: skip
    """The blocks of :func:`e_step` in parallel (block ``b``: :func:`_e_step_block` into
    ``blocks[b]``, ``terms_b[b]``, ``elt_b[b]``); then, unless documents are left to
    ``mode=REFINE``, ``blocks`` summed in block order (:func:`_sum_blocks`; in parallel over
    the vocabulary above :data:`SERIAL_SUM_CELLS` cells).
    Returns that sum, or an array with no rows if documents are left."""
    n_docs = indptr.shape[0] - 1
    nb, n_words, n_comp = blocks.shape
    size = (n_docs + nb - 1) // nb
    for b in prange(nb):
        _e_step_block(
            b * size, min(n_docs, (b + 1) * size), indptr, indices, data, exp_topic_word,
            table, word_shift, alpha, alpha_table, alpha_total, total_row, gamma, mode, starts,
            max_iter, tol, pending, blocks[b], terms_b[b], elt_b[b],
        )  # fmt: skip
    left = False
    if mode != REFINE:
        for d in range(n_docs):
            left |= pending[d] >= 0
    stats = np.empty((0 if left else n_words, n_comp))
    chunk = 256
    n_chunks = (stats.shape[0] + chunk - 1) // chunk
    if nb * stats.size <= SERIAL_SUM_CELLS:  # no second parallel region for a few cells
        for c in range(n_chunks):
            _sum_blocks(blocks, stats, c * chunk, min(n_words, (c + 1) * chunk))
    else:
        for c in prange(n_chunks):
            _sum_blocks(blocks, stats, c * chunk, min(n_words, (c + 1) * chunk))
    return stats


@jit
def _sum_blocks(blocks, stats, lo, hi):
    """``stats[w] = sum_b blocks[b, w]`` for ``lo <= w < hi``, adding the blocks in order,
    as ``blocks.sum(axis=0)`` does. The loop over blocks is the outer one: a loop over
    ``b`` inside would be a reduction that the ``reassoc`` flag lets the compiler reorder
    (pairwise, by the CPU's vector width), so its last bits would depend on the machine
    and differ from the serial path's NumPy sum."""
    n_comp = stats.shape[1]
    for w in range(lo, hi):
        for k in range(n_comp):
            stats[w, k] = blocks[0, w, k]
    for b in range(1, blocks.shape[0]):
        for w in range(lo, hi):
            for k in range(n_comp):
                stats[w, k] += blocks[b, w, k]


@functools.lru_cache(maxsize=8)
def _alpha_tables(alpha_bytes):
    """``(sum alpha, increment_table([*alpha, sum alpha]))`` of the prior ``alpha`` given as
    its float64 bytes: the same few values for every call of an online fit's mini-batches
    (a cache of the last few priors; the kernels only read them)."""
    alpha = np.frombuffer(alpha_bytes)
    alpha_total = math.fsum(alpha)
    return alpha_total, increment_table(np.append(alpha, alpha_total))


def e_step(indptr, indices, data, exp_topic_word, inner, word_shift, alpha, gamma, mode,
           starts, max_iter, tol, sstats, n_blocks=0, serial=False):  # fmt: skip
    """Batch E-step over the CSR rows; updates ``gamma`` (n_docs, K) in place.

    ``mode`` says where each document's fixed point starts:

    ``FRESH``
        from ``starts[d]`` (random, drawn by the caller) or, if ``starts`` has no row per
        document, ``alpha + n_d / K``;
    ``WARM``
        from the current ``gamma[d]`` (with ``max_iter=0``: evaluate the current
        ``gamma`` under the current topics).

    ``inner``: the float32 topic matrix of the fixed point's float32 sweeps, ``(V,
    K)`` (see the module docstring), or an array with no rows to iterate in float64
    only. The documents the float32 sweeps leave short of ``tol`` go on in float64 in a
    second call of the kernel (:func:`_e_step_block`), compiled only when a fit needs it.
    ``sstats``: if True, return the expected topic-word counts ``S[w, k] = sum_d n_dw
    phi_dwk`` (vocabulary-major); otherwise an empty array.

    The documents are split into ``n_blocks`` blocks (0: :func:`n_doc_blocks`), each with
    its own accumulators (:func:`_e_step_block`), summed in block order: by the parallel
    kernel over the blocks, or by the serial one (a loop over the blocks) if ``serial``
    or there is one block; either gives the same result.

    Returns ``(S, doc_terms)`` with ``doc_terms = [L_words, KL, n_docs_nonempty,
    sum_doc_sweeps]`` and ``e_log_theta_sum`` (K,), where ``L_words = sum_dw n_dw
    ln sum_k exp(E ln theta_dk + E ln beta_kw)`` (phi at its optimum for the final gamma),
    ``KL = sum_d KL(Dir(gamma_d) || Dir(alpha))`` (:func:`dirichlet_kl_from_prior`,
    accurate to the size of ``gamma_d - alpha``), and ``e_log_theta_sum[k] = sum_d
    E ln theta_dk`` over non-empty documents. Empty documents get ``gamma_d = alpha``
    and contribute nothing.
    """
    n_docs = indptr.shape[0] - 1
    n_words, n_comp = exp_topic_word.shape
    nb = n_blocks or n_doc_blocks(n_docs, n_words * n_comp)
    blocks = np.empty((nb, n_words if sstats else 0, n_comp))
    terms_b, elt_b = np.zeros((nb, 4)), np.zeros((nb, n_comp))
    alpha_total, tables = _alpha_tables(np.asarray(alpha, dtype=np.float64).tobytes())
    pending = np.empty(n_docs, dtype=np.int64)
    for phase, table in ((mode, inner), (REFINE, exp_topic_word)):
        args = (indptr, indices, data, exp_topic_word, table, word_shift, alpha, tables[:-1],
                alpha_total, tables[-1], gamma, phase, starts, max_iter, tol, pending)  # fmt: skip
        if serial or nb == 1:
            size = (n_docs + nb - 1) // nb
            for b in range(nb):
                _e_step_block(b * size, min(n_docs, (b + 1) * size), *args, blocks[b],
                              terms_b[b], elt_b[b])  # fmt: skip
            done = phase == REFINE or not np.any(pending >= 0)
            stats = blocks[0] if nb == 1 or not done else blocks.sum(axis=0)  # in block order
        else:
            stats = _e_step_parallel(*args, blocks, terms_b, elt_b)
            done = phase == REFINE or not np.any(pending >= 0)
        if done:  # the float64 build of the kernel is compiled only when a fit needs it
            return stats, terms_b.sum(axis=0), elt_b.sum(axis=0)


@jit
def e_log_theta_total(indptr, gamma):
    """``sum_d E[ln theta_d]`` over the non-empty documents (rows of CSR ``indptr``) as
    ``(hi, lo)`` (K,) each: compensated (Neumaier) sums, normalised so that ``hi`` is the
    float64 value of ``hi + lo``. Their error is far below float64's resolution, so ``hi``
    does not depend on how the documents were split into chunks (:func:`add_stats`
    combines two such sums)."""
    n_docs, n_comp = gamma.shape
    hi = np.zeros(n_comp)
    lo = np.zeros(n_comp)
    et = np.empty(n_comp)
    elog = np.empty(n_comp)
    for d in range(n_docs):
        if indptr[d] == indptr[d + 1]:
            continue
        _e_log_theta(gamma[d], elog, et)
        for k in range(n_comp):
            x, h = elog[k], hi[k]
            t = h + x
            lo[k] += ((h - t) + x) if abs(h) >= abs(x) else ((x - t) + h)
            hi[k] = t
    for k in range(n_comp):
        t = hi[k] + lo[k]
        lo[k] = lo[k] - (t - hi[k])
        hi[k] = t
    return hi, lo


# ------------------------------------------------------------------------------- CVB0
def cvb0_structure(indptr, indices, n_words, n_blocks=CVB0_BLOCKS):
    """What a CVB0 pass needs besides the counts, built once per fit (NumPy).

    Returns a :class:`CVB0Structure` ``(csc_ptr, csc_pos, csc_doc, edges)``: the entries
    ordered by word, then document (``csc_pos[t]`` is the CSR position of the ``t``-th,
    ``csc_doc[t]`` its document, word ``w``'s entries are ``csc_ptr[w]:csc_ptr[w + 1]``), and the
    ``n_blocks + 1`` (at most) document boundaries of the blocks, which split the entries
    as evenly as whole documents allow.
    """
    n_docs = indptr.shape[0] - 1
    doc_of = np.repeat(np.arange(n_docs, dtype=np.int64), np.diff(indptr))
    csc_pos = np.lexsort((doc_of, indices)).astype(np.int64)
    csc_ptr = np.zeros(n_words + 1, dtype=np.int64)
    np.cumsum(np.bincount(indices, minlength=n_words), out=csc_ptr[1:])
    targets = np.linspace(0, indptr[-1], max(1, min(n_blocks, n_docs)) + 1)
    edges = np.searchsorted(indptr, targets, side="left").astype(np.int64)
    edges[0], edges[-1] = 0, n_docs
    return CVB0Structure(csc_ptr, csc_pos, doc_of[csc_pos], np.unique(edges))


@jit
def _cvb0_doc(lo, hi, indices, data, resp, delta, base, word_topic, topic_total, alpha, eta,
              doc_topic, new, doc_delta):  # fmt: skip
    """One CVB0 update of each entry ``lo..hi-1`` of a document, in order (module
    docstring). ``doc_topic`` (K) ends as the document's ``N_dk``; ``delta[j - base]`` and
    ``doc_delta`` (K) receive the entries' and the document's changes of ``n_j r_j``.
    ``topic_total`` is ``N_k + V eta``."""
    n_comp = alpha.shape[0]
    cast = resp.dtype.type
    for k in range(n_comp):
        doc_topic[k] = 0.0
        doc_delta[k] = 0.0
    for j in range(lo, hi):
        c = data[j]
        for k in range(n_comp):
            doc_topic[k] += c * resp[j, k]
    w_eta = word_topic.shape[0] * eta
    for j in range(lo, hi):
        c = data[j]
        own = min(c, 1.0)
        row = word_topic[indices[j]]
        r = resp[j]
        # the max() only guards against rounding below zero. The word's share of the
        # topic (at most 1) is formed in a loop of its own: written as one expression,
        # the kernel flags' reassociation may multiply the two counts first, which
        # overflows from counts of about 1e154 on
        for k in range(n_comp):
            s = own * r[k]
            new[k] = (max(row[k] - s, 0.0) + eta) / max(topic_total[k] - s, w_eta)
        total = 0.0
        for k in range(n_comp):
            v = new[k] * (max(doc_topic[k] - own * r[k], 0.0) + alpha[k])
            new[k] = v
            total += v
        scale = 1.0 / total
        out = delta[j - base]
        for k in range(n_comp):
            g = cast(new[k] * scale)
            change = c * (np.float64(g) - np.float64(r[k]))
            doc_topic[k] += change
            doc_delta[k] += change
            out[k] = change
            r[k] = g


def _cvb0_pass(indptr, indices, data, csc_ptr, csc_pos, csc_doc, edges, resp, word_topic,
               topic_total, doc_topic, alpha, eta):  # fmt: skip
    """One CVB0 pass over every document (module docstring), in place: ``resp``
    (entries, K), ``word_topic`` ``N_wk`` (V, K), ``topic_total`` ``N_k + V eta`` (K), and
    ``doc_topic`` (documents, K) set to each document's ``N_dk`` after its update."""
    n_words, n_comp = word_topic.shape
    n_blocks = edges.shape[0] - 1
    most_docs, most_entries = 1, 1
    for b in range(n_blocks):
        most_docs = max(most_docs, edges[b + 1] - edges[b])
        most_entries = max(most_entries, indptr[edges[b + 1]] - indptr[edges[b]])
    delta = np.empty((most_entries, n_comp))
    doc_delta = np.empty((most_docs, n_comp))
    for b in range(n_blocks):
        d0, d1 = edges[b], edges[b + 1]
        base = indptr[d0]
        for t in prange((d1 - d0 + CVB0_TASK_DOCS - 1) // CVB0_TASK_DOCS):
            new = np.empty(n_comp)
            for d in range(d0 + t * CVB0_TASK_DOCS, min(d1, d0 + (t + 1) * CVB0_TASK_DOCS)):
                _cvb0_doc(
                    indptr[d], indptr[d + 1], indices, data, resp, delta, base, word_topic,
                    topic_total, alpha, eta, doc_topic[d], new, doc_delta[d - d0],
                )  # fmt: skip
        for w in prange(n_words):
            p0, p1 = csc_ptr[w], csc_ptr[w + 1]
            lo = p0 + np.searchsorted(csc_doc[p0:p1], d0)
            hi = p0 + np.searchsorted(csc_doc[p0:p1], d1)
            row = word_topic[w]
            for t in range(lo, hi):
                change = delta[csc_pos[t] - base]
                for k in range(n_comp):
                    row[k] += change[k]
        for i in range(d1 - d0):
            for k in range(n_comp):
                topic_total[k] += doc_delta[i, k]


_e_step_parallel = jit_parallel(_e_step)


cvb0_pass = jit_parallel(_cvb0_pass)
cvb0_pass_serial = jit(_cvb0_pass)


# ------------------------------------------------------------------------ the model
class LDAPrior(NamedTuple):
    r"""The priors: :math:`\theta_d \sim \mathrm{Dir}(\alpha)`, :math:`\beta_k \sim
    \mathrm{Dir}(\eta \mathbf 1)`."""

    #: :math:`\alpha`, ndarray of shape (n_topics,).
    alpha: np.ndarray
    #: :math:`\eta` (symmetric).
    eta: float


def resolve_prior(doc_topic_prior, topic_word_prior, n_topics, n_features):
    """The :class:`LDAPrior` a fit starts from (``alpha`` (K,), ``eta``) for the
    estimator's ``doc_topic_prior`` and ``topic_word_prior`` (None: ``1 / K``; 'auto':
    start there, learned), checked: an array ``doc_topic_prior`` must have ``n_topics``
    entries, and the total prior mass must be at most :data:`MAX_PRIOR_MASS`."""
    K = n_topics
    if doc_topic_prior is None or isinstance(doc_topic_prior, str):
        alpha = np.full(K, 1.0 / K)  # 'auto': start symmetric, learn
    else:
        alpha = np.asarray(doc_topic_prior, dtype=np.float64)
        if alpha.ndim > 1 or alpha.size not in (1, K):
            raise ValueError(
                f"doc_topic_prior must be a float or an array of shape ({K},); got "
                f"shape {alpha.shape}."
            )
        alpha = np.broadcast_to(alpha, (K,)).copy()
        if not (np.all(np.isfinite(alpha)) and np.all(alpha > 0)):
            raise ValueError(
                "doc_topic_prior must be positive and finite, of shape "
                f"({K},) when an array; got {doc_topic_prior!r}."
            )
    eta = 1.0 / K if topic_word_prior in (None, "auto") else topic_word_prior
    if not alpha.sum() <= MAX_PRIOR_MASS:
        raise ValueError(
            f"doc_topic_prior sums to {alpha.sum():.3g} over the {K} topics; at most "
            f"{MAX_PRIOR_MASS:g} is allowed (float64 range)."
        )
    if not n_features * float(eta) <= MAX_PRIOR_MASS:
        raise ValueError(
            f"topic_word_prior={float(eta):.3g} times n_features={n_features} is "
            f"{n_features * float(eta):.3g}; at most {MAX_PRIOR_MASS:g} is allowed "
            "(float64 range)."
        )
    return LDAPrior(alpha, float(eta))


def check_online_prior(topic_word_prior, n_topics, n_features):
    """Online learning's limit on the topic prior: ``n_features * eta`` at most
    :data:`MAX_ONLINE_PRIOR_MASS` (``eta``: ``topic_word_prior``, ``1 / K`` if None or
    'auto')."""
    eta = topic_word_prior
    eta = 1.0 / n_topics if eta is None or isinstance(eta, str) else float(eta)
    if not n_features * eta <= MAX_ONLINE_PRIOR_MASS:
        raise ValueError(
            f"topic_word_prior={eta:.3g} times n_features={n_features} is "
            f"{n_features * eta:.3g}; online learning allows at most "
            f"{MAX_ONLINE_PRIOR_MASS:g}: its topics start near one pseudo-count per "
            "entry, and their KL from so strong a prior is beyond float64's "
            "resolution. Use learning_method='batch' or 'cvb0', or a smaller prior."
        )


class TopicPosterior(NamedTuple):
    r""":math:`q(\beta_k) = \mathrm{Dir}(\lambda_k)` and the tables the E-step reads from
    it (all derived from ``components`` by :func:`make_topics`)."""

    #: :math:`\lambda`, float64 of shape (n_topics, n_words).
    components: np.ndarray
    #: :math:`\mathbb E[\ln\beta]`, (n_topics, n_words).
    e_log_beta: np.ndarray
    #: ``exp(E[ln beta_kw] - word_shift_w)``, vocabulary-major (n_words, n_topics).
    exp_topic_word: np.ndarray
    #: ``max_k E[ln beta_kw]``, (n_words,).
    word_shift: np.ndarray
    #: float32 copy of ``exp_topic_word``: the E-step's float32 sweeps read it.
    inner: np.ndarray


class LDAStats(NamedTuple):
    r"""The additive statistics of a chunk of documents under a posterior (:func:`doc_stats`):
    each field of a corpus's statistics is the sum of its chunks' (:func:`add_stats`)."""

    #: :math:`S_{wk} = \sum_d n_{dw} \phi_{dwk}`, vocabulary-major (n_words, n_topics), or no
    #: rows when not requested.
    topic_word: np.ndarray
    #: :math:`\sum_{dw} n_{dw} \ln \sum_k e^{\mathbb E\ln\theta_{dk} + \mathbb E\ln\beta_{kw}}`.
    words: float
    #: :math:`\sum_d \mathrm{KL}(\mathrm{Dir}(\gamma_d) \| \mathrm{Dir}(\alpha))`.
    doc_kl: float
    #: The number of non-empty documents.
    n_docs: float
    #: The fixed-point sweeps the documents took (a cost, not a statistic of the model).
    sweeps: float
    #: :math:`\sum_d \mathbb E\ln\theta_{dk}` over the non-empty documents, (n_topics,).
    e_log_theta_sum: np.ndarray
    #: With ``compensated`` statistics (:func:`doc_stats`): the low part of that sum
    #: (:func:`e_log_theta_total`); else None.
    e_log_theta_err: object = None


class EStepSettings(NamedTuple):
    """How the documents' fixed point runs (:func:`doc_stats`)."""

    #: Most sweeps per document.
    max_iter: int
    #: A document stops when the mean absolute change of its ``gamma`` is below this.
    tol: float
    #: Whether the float32 sweeps run first (``tol >= FLOAT32_MIN_TOL``).
    float32: bool


class CVB0Structure(NamedTuple):
    """What a CVB0 pass needs besides the counts (:func:`cvb0_structure`)."""

    csc_ptr: np.ndarray
    csc_pos: np.ndarray
    csc_doc: np.ndarray
    edges: np.ndarray


class CVB0Counts(NamedTuple):
    r"""CVB0's responsibilities ``resp`` (entries, n_topics) float32 and the expected
    counts :math:`N_{wk}` ``word_topic`` (n_words, n_topics) they define. ``resp`` is the
    working buffer the next pass updates in place (it is ``nnz * n_topics``: one copy per
    pass would double the memory of a fit); :func:`cvb0_sweep` consumes the counts it is
    given."""

    resp: np.ndarray
    word_topic: np.ndarray


class LDAState(NamedTuple):
    """One variational distribution of the fit, with what the next sweep needs."""

    #: :class:`TopicPosterior`.
    topics: TopicPosterior
    #: :class:`LDAPrior` (learned or fixed).
    prior: LDAPrior
    #: :math:`\gamma` (n_docs, n_topics) of the corpus (batch, cvb0: where the next pass
    #: starts), or None.
    gamma: object
    #: The ELBO of this state.
    bound: float
    #: Topic updates so far (starts at 1, as in scikit-learn).
    n_batch_iter: int
    #: Batch passes whose random restart was rejected for a warm one.
    n_warm_passes: int
    #: The ``numpy.random.RandomState`` of the documents' random starts.
    random_state: object
    #: :class:`CVB0Counts` or None.
    cvb0: object = None


def make_topics(components):
    """The :class:`TopicPosterior` of the Dirichlet parameters ``components`` (lambda),
    stored C-contiguous (one compiled layout for the kernels that read it)."""
    components = np.ascontiguousarray(components)
    return TopicPosterior(components, *topic_tables(components, np.arange(components.shape[1])))


def fresh_starts(random_state, n_docs, n_topics):
    """Random starting points of the documents' fixed point, Gamma(100, 1/100) draws as in
    scikit-learn (they break the symmetry of near-uniform topics)."""
    return random_state.gamma(100.0, 0.01, (n_docs, n_topics))


class StartKey(NamedTuple):
    """The seed of one batch pass's random starts when they are drawn per block
    (:func:`seeded_starts`)."""

    #: Four 32-bit words drawn from the fit's random state.
    words: tuple
    n_topics: int


def draw_starts(random_state, n_docs, n_topics):
    """The random starts of one batch pass over ``n_docs`` documents: up to
    :data:`SEEDED_STARTS_MIN_DOCS` documents, the (n_docs, n_topics) array of
    :func:`fresh_starts` (scikit-learn's draws); beyond, a :class:`StartKey` from which
    :func:`starts_of` draws any range of documents."""
    if n_docs <= SEEDED_STARTS_MIN_DOCS:
        return fresh_starts(random_state, n_docs, n_topics)
    words = random_state.randint(0, 2**32, size=4, dtype=np.uint64)
    return StartKey(tuple(int(w) for w in words), int(n_topics))


def seeded_starts(key, first, last):
    """The starts of documents ``first..last-1`` under ``key``: block ``b`` (documents
    ``b * START_BLOCK_DOCS`` on) draws Gamma(100, 1/100) rows from
    ``numpy.random.default_rng([*key.words, b])``, so the values do not depend on how the
    documents are split."""
    size = START_BLOCK_DOCS
    out = np.empty((last - first, key.n_topics))
    for b in range(first // size, -(-last // size)):
        lo = b * size
        top = min(lo + size, last)
        rows = np.random.default_rng([*key.words, b]).gamma(100.0, 0.01, (top - lo, key.n_topics))
        start = max(lo, first)
        out[start - first : top - first] = rows[start - lo :]
    return out


def starts_of(starts, first, last):
    """Rows ``first..last-1`` of the starts :func:`draw_starts` returned."""
    if isinstance(starts, StartKey):
        return seeded_starts(starts, first, last)
    return starts[first:last]


def doc_stats(X, topics, alpha, gamma, mode, settings, starts=None, sstats=True, exact=False,
              serial=False, compensated=False, n_blocks=0):  # fmt: skip
    r"""The E-step of the documents ``X`` (CSR): their :class:`LDAStats` under ``topics``
    and the prior ``alpha``, with :math:`\phi` at its optimum for the final
    :math:`\gamma` (Blei et al. 2003, eqs. 6-7),

    .. math::

        \phi_{dwk} \propto e^{\mathbb E\ln\theta_{dk} + \mathbb E\ln\beta_{kw}}, \qquad
        \gamma_{dk} = \alpha_k + \sum_w n_{dw} \phi_{dwk}.

    ``gamma`` (n_docs, n_topics), the documents' local parameters, is written in place:
    from ``starts`` (``mode=FRESH``; ``alpha + n_d / K`` without them) or from its own
    values (``WARM``); empty documents get ``alpha``. ``exact``: every sweep in float64.
    ``serial``: the serial build of the kernel (inside a Dask task). ``n_blocks``: the
    number of document blocks (0: :func:`n_doc_blocks`). ``compensated``:
    ``e_log_theta_sum`` summed by :func:`e_log_theta_total` (what the learned ``alpha``
    reads: its value then does not depend on the chunking of the documents).
    The statistics of a corpus are the sum of those of its chunks (:func:`add_stats`).
    """
    if starts is None:
        starts = np.empty((0, gamma.shape[1]))
    inner = topics.inner if settings.float32 and not exact else topics.inner[:0]
    stats, terms, elt = e_step(
        X.indptr, X.indices, X.data, topics.exp_topic_word, inner, topics.word_shift, alpha,
        gamma, mode, starts, settings.max_iter, settings.tol, sstats, n_blocks, serial,
    )  # fmt: skip
    if not compensated:
        return LDAStats(stats, terms[0], terms[1], terms[2], terms[3], elt)
    return LDAStats(stats, terms[0], terms[1], terms[2], terms[3],
                    *e_log_theta_total(X.indptr, gamma))  # fmt: skip


def add_stats(a, b):
    """The statistics of two chunks together: the sum, field by field (compensated sums
    of ``E ln theta`` combined as such, if both have them)."""
    total = LDAStats(*(x + y for x, y in zip(a[:-1], b[:-1], strict=True)))
    if a.e_log_theta_err is None or b.e_log_theta_err is None:
        return total
    x, y = a.e_log_theta_sum, b.e_log_theta_sum
    hi = x + y  # two-sum: hi + err == x + y exactly
    back = hi - x
    err = (x - (hi - back)) + (y - back)
    lo = a.e_log_theta_err + b.e_log_theta_err + err
    top = hi + lo
    return total._replace(e_log_theta_sum=top, e_log_theta_err=lo - (top - hi))


class Rows(NamedTuple):
    """Rows of a canonical CSR matrix as the kernels read them (:func:`doc_stats`), built
    without SciPy's checks (a mini-batch's are made about a hundred times per pass)."""

    data: np.ndarray
    indices: np.ndarray
    indptr: np.ndarray
    shape: tuple


def rows_of(X, lo, hi):
    """Rows ``lo..hi-1`` of the canonical CSR ``X`` as :class:`Rows` (views of its
    ``data`` and ``indices``)."""
    a, b = X.indptr[lo], X.indptr[hi]
    return Rows(X.data[a:b], X.indices[a:b], X.indptr[lo : hi + 1] - a, (hi - lo, X.shape[1]))


def cut_to_words(X):
    """``(words, cut)``: the sorted vocabulary indices ``X`` (canonical CSR or
    :class:`Rows`) has and ``X`` with its column indices renumbered among them
    (:class:`Rows`, ``len(words)`` columns, at least 1)."""
    local = np.empty_like(X.indices)
    words = _renumber(X.indices, X.shape[1], local)
    return words, Rows(X.data, local, X.indptr, (X.shape[0], max(len(words), 1)))


@jit
def _renumber(indices, n_features, local):
    """The sorted distinct values of ``indices`` (< ``n_features``); ``local[j]``
    receives the position of ``indices[j]`` among them."""
    seen = np.zeros(n_features, dtype=np.bool_)
    for j in range(indices.shape[0]):
        seen[indices[j]] = True
    position = np.empty(n_features, dtype=np.int64)
    count = 0
    for w in range(n_features):
        position[w] = count
        count += seen[w]
    words = np.empty(count, dtype=np.int64)
    for w in range(n_features):
        if seen[w]:
            words[position[w]] = w
    for j in range(indices.shape[0]):
        local[j] = position[indices[j]]
    return words


def documents_bound(stats):
    r"""The documents' part of the ELBO: :math:`\sum_{dw} n_{dw}\ln\sum_k
    e^{\mathbb E\ln\theta_{dk} + \mathbb E\ln\beta_{kw}} - \sum_d
    \mathrm{KL}(\mathrm{Dir}(\gamma_d)\|\mathrm{Dir}(\alpha))`, a lower bound on
    :math:`\ln p(X \mid \text{topics})` (the held-out score)."""
    return float(stats.words - stats.doc_kl)


def topics_kl(topics, eta):
    r""":math:`\sum_k \mathrm{KL}(\mathrm{Dir}(\lambda_k) \| \mathrm{Dir}(\eta\mathbf 1))`
    (:func:`dirichlet_kl_from_prior`, accurate to the size of :math:`\lambda_k - \eta`)."""
    return topic_kl(topics.components, topics.e_log_beta, eta)


def elbo(stats, topics, prior, stats_topics=None, stats_alpha=None):
    r"""The ELBO of the documents' :math:`\gamma` and :math:`\phi` of ``stats`` with the
    topic posterior ``topics`` and the priors ``prior``:

    .. math::

        \mathcal L = \sum_{dwk} n_{dw}\phi_{dwk}(\mathbb E\ln\theta_{dk}
        + \mathbb E\ln\beta_{kw} - \ln\phi_{dwk})
        - \sum_d \mathrm{KL}(q(\theta_d)\|p(\theta_d \mid \alpha))
        - \sum_k \mathrm{KL}(q(\beta_k)\|p(\beta_k \mid \eta)).

    If ``stats`` were computed under other topics ``stats_topics`` (phi optimal for them,
    as after an update), the words term moves by :math:`\sum_{wk} S_{wk} (\mathbb
    E'\ln\beta_{kw} - \mathbb E\ln\beta_{kw})`; under another prior ``stats_alpha``, the
    documents' KL terms move by :math:`-n (\ln C(\alpha) - \ln C(\alpha')) - (\alpha -
    \alpha') \cdot \sum_d \mathbb E\ln\theta_d` over the :math:`n` non-empty documents.
    """
    bound = documents_bound(stats)
    if stats_alpha is not None and stats.n_docs > 0:
        bound += (
            stats.n_docs * (log_dirichlet_norm(prior.alpha) - log_dirichlet_norm(stats_alpha))
            + (prior.alpha - stats_alpha) @ stats.e_log_theta_sum
        )
    if stats_topics is not None:
        bound = bound + np.sum(stats.topic_word.T * (topics.e_log_beta - stats_topics.e_log_beta))
    return float(bound - topics_kl(topics, prior.eta))


def update_topics(stats, prior):
    r"""The topics' conjugate update (smoothed LDA, Blei et al. 2003, section 5.4):
    :math:`\lambda_{kw} = \eta + S_{wk}`, :math:`S_{wk} = \sum_d n_{dw} \phi_{dwk}`."""
    return make_topics(prior.eta + stats.topic_word.T)


def stochastic_update_topics(stats, topics, prior, rho, scale):
    r"""A natural-gradient step on a mini-batch whose statistics stand for ``scale``
    times theirs (Hoffman et al. 2010): :math:`\lambda \leftarrow (1-\rho)\lambda +
    \rho(\eta + \frac{D}{|B|} S_B)`."""
    lam, words = topics.components.copy(), np.arange(topics.components.shape[1])
    return make_topics(step_components(lam, words, stats.topic_word, rho, prior.eta, scale))


def update_alpha(alpha, e_log_theta_mean, rho=1.0):
    r"""Minka's fixed point for the Dirichlet prior of the documents,
    :math:`\alpha_k \leftarrow \psi^{-1}(\psi(\sum_j \alpha_j) + \overline{\mathbb
    E\ln\theta_k})`, iterated to convergence: the maximiser of the ELBO over
    :math:`\alpha` (Minka 2000, eq. 9), ended by :func:`_polish_alpha`. Stochastic: a step
    ``rho`` towards it."""
    new_alpha = alpha.copy()
    for _ in range(1000):
        psi_total = digamma(new_alpha.sum())
        new = np.array([inverse_digamma(psi_total + e) for e in e_log_theta_mean])
        done = np.max(np.abs(new - new_alpha)) <= 1e-12 * np.max(new_alpha)
        new_alpha = new
        if done:
            break
    new_alpha = _polish_alpha(new_alpha, e_log_theta_mean)
    return (1 - rho) * alpha + rho * new_alpha


def _polish_alpha(alpha, e_log_theta_mean):
    r"""One Newton step on Minka's objective from ``alpha`` near its maximiser (the
    Hessian is diagonal plus a constant, inverted by Sherman-Morrison; Minka 2000,
    section 3.1): from within 1e-12 of the optimum it lands at float64's resolution, so
    that the result does not depend on the iteration at which the fixed point stopped
    (nor, through it, on the order in which the statistics were summed). Kept only if
    it stays positive and finite."""
    total = alpha.sum()
    psi_total = digamma(total)
    pairs = zip(alpha, e_log_theta_mean, strict=True)
    grad = np.array([psi_total - digamma(a) + e for a, e in pairs])
    q = -np.array([trigamma(a) for a in alpha])
    with np.errstate(all="ignore"):  # trigamma overflows for tiny alpha: no step then
        b = np.sum(grad / q) / (1.0 / trigamma(total) + np.sum(1.0 / q))
        new = alpha - (grad - b) / q
    return new if np.all(np.isfinite(new)) and np.all(new > 0) else alpha


def update_eta(eta, topics, rho=1.0):
    r"""Maximise the ELBO over the symmetric topic-word prior:
    :math:`f(\eta) = K[\ln\Gamma(V\eta) - V\ln\Gamma(\eta)] + (\eta - 1)\sum_{kw}
    \mathbb E\ln\beta_{kw}`, concave in :math:`\eta`; damped Newton steps in
    :math:`\ln\eta` that never lower :math:`f`, then one more Newton step, which lands at
    float64's resolution whatever the iteration at which the steps stopped (where ``f``
    is flat to rounding, the damped steps stop anywhere within about ``1e-8`` of the
    maximiser, depending on the last bits of the statistics: the order of their sums, on
    Dask or in memory). Stochastic: a step ``rho`` towards the maximiser."""
    n_topics, n_words = topics.components.shape
    total = float(topics.e_log_beta.sum())

    def objective(t):
        eta = np.exp(t)
        return n_topics * (gammaln(n_words * eta) - n_words * gammaln(eta)) + (eta - 1) * total

    def newton(t):  # df/dt and d2f/dt2 at eta = exp(t)
        e = np.exp(t)
        psi = digamma_array(np.array([n_words * e, e]))
        g = (n_topics * n_words * (psi[0] - psi[1]) + total) * e
        return g, n_topics * n_words * (n_words * trigamma(n_words * e) - trigamma(e)) * e * e + g

    t = np.log(eta)
    value = objective(t)
    for _ in range(100):
        g, h = newton(t)
        step = float(np.clip(-g / h if h < 0 else np.sign(g), -2.0, 2.0))
        while abs(step) > 1e-15 and objective(t + step) < value:
            step *= 0.5
        if abs(step) <= 1e-12:
            break
        t += step
        value = objective(t)
    g, h = newton(t)  # a last Newton step, from near the optimum: float64's resolution
    if h < 0 and abs(g / h) <= 1e-6:
        t -= g / h
    return (1 - rho) * eta + rho * float(np.exp(t))


def update_prior(stats, topics, prior, learn_alpha, learn_eta, rho=1.0):
    """Empirical Bayes: the learned priors after the topics ``topics`` were updated from
    ``stats`` (:func:`update_alpha` from the mean ``E ln theta`` of the non-empty documents,
    then :func:`update_eta`); a prior not learned is kept."""
    alpha, eta = prior
    if learn_alpha and stats.n_docs > 0:
        alpha = update_alpha(alpha, stats.e_log_theta_sum / stats.n_docs, rho)
    if learn_eta:
        eta = update_eta(eta, topics, rho)
    return LDAPrior(alpha, eta)


def initial_state(X, prior, n_topics, random_state, structure=None):
    r"""A starting :class:`LDAState` and its ELBO: random topics as in scikit-learn
    (Gamma(100, 1/100) entries) and documents at :math:`\gamma_d = \alpha + n_d / K`;
    with a CVB0 ``structure``, every entry's responsibilities on one topic drawn uniformly
    (as collapsed Gibbs sampling starts), and the topics and documents from them
    (:math:`\lambda = \eta + N_{w\cdot}`, :math:`\gamma_d = \alpha + N_{d\cdot}`). The ELBO
    has :math:`\phi` at its optimum."""
    counts = None
    if structure is not None:
        counts, topics, doc_topic = _cvb0_initial(X, structure, prior, n_topics, random_state)
        gamma = doc_topic + prior.alpha
    else:
        topics = random_topics(random_state, n_topics, X.shape[1])
        gamma = initial_gamma(X, prior.alpha)
    state = LDAState(topics, prior, gamma, -np.inf, 1, 0, random_state, counts)
    bound = evaluate(X, state, EStepSettings(0, 0.0, False))
    return state._replace(bound=bound), bound


def random_topics(random_state, n_topics, n_words):
    """The initial topics: Gamma(100, 1/100) Dirichlet parameters, as scikit-learn's."""
    return make_topics(random_state.gamma(100.0, 0.01, (n_topics, n_words)))


def initial_gamma(X, alpha):
    r"""The documents' initial :math:`\gamma_d = \alpha + n_d / K` (rows of ``X``)."""
    n_topics = alpha.shape[0]
    lengths = np.asarray(X.sum(axis=1), dtype=np.float64).reshape(-1, 1)
    return np.repeat(lengths / n_topics, n_topics, axis=1) + alpha


def evaluate(X, state, settings):
    """The ELBO of a state's topics and priors with its documents' ``gamma`` (empty
    documents set to ``alpha`` in place) and ``phi`` at its optimum."""
    stats = doc_stats(X, state.topics, state.prior.alpha, state.gamma, WARM,
                      settings._replace(max_iter=0), sstats=False)  # fmt: skip
    return elbo(stats, state.topics, state.prior)


def batch_pass(X, state, mode, settings, learn_alpha, learn_eta):
    """One pass of coordinate ascent over the corpus ``X``: every document's fixed point
    (``mode=FRESH``: from random starts; ``WARM``: from the state's ``gamma``, in float64
    only, so that the ELBO cannot decrease), then the topics (:func:`update_topics`) and
    the learned priors (:func:`update_prior`). Returns the new state and its ELBO."""
    warm = mode == WARM
    if warm:
        gamma, starts = state.gamma.copy(), None
    else:
        gamma = np.empty_like(state.gamma)
        starts = starts_of(draw_starts(state.random_state, *gamma.shape), 0, X.shape[0])
    stats = doc_stats(X, state.topics, state.prior.alpha, gamma, mode, settings, starts,
                      exact=warm, compensated=learn_alpha)  # fmt: skip
    return batch_update(stats, state, gamma, learn_alpha, learn_eta)


def batch_update(stats, state, gamma, learn_alpha, learn_eta):
    """The end of a batch pass from the corpus's statistics ``stats`` under ``state``:
    the topics, the learned priors, the new state (documents ``gamma``) and its ELBO."""
    topics = update_topics(stats, state.prior)
    prior = update_prior(stats, topics, state.prior, learn_alpha, learn_eta)
    alpha_before = state.prior.alpha if learn_alpha else None
    bound = elbo(stats, topics, prior, stats_topics=state.topics, stats_alpha=alpha_before)
    new = state._replace(topics=topics, prior=prior, gamma=gamma, bound=bound,
                         n_batch_iter=state.n_batch_iter + 1)  # fmt: skip
    return new, bound


def stochastic_pass(X, state, rho, n_total, settings, learn_alpha, learn_eta, serial=False):
    """One stochastic step on the mini-batch ``X`` of a corpus (or stream) of ``n_total``
    documents: the E-step from random starts, then :func:`stochastic_update`. Returns the
    new state and the mini-batch's documents' part of the ELBO (:func:`documents_bound`,
    with the topics before the step). ``serial``: the serial kernel (a Dask task)."""
    n_topics = state.topics.components.shape[0]
    gamma = np.empty((X.shape[0], n_topics))
    starts = fresh_starts(state.random_state, X.shape[0], n_topics)
    stats = doc_stats(X, state.topics, state.prior.alpha, gamma, FRESH, settings, starts,
                      serial=serial)  # fmt: skip
    return stochastic_update(stats, state, rho, n_total / X.shape[0], learn_alpha, learn_eta)


def stochastic_update(stats, state, rho, ratio, learn_alpha, learn_eta):
    """The end of a stochastic step from the mini-batch's statistics ``stats``, which stand
    for ``ratio`` times theirs: :func:`stochastic_update_topics`, the learned priors a step
    ``rho`` towards their optimum. Returns the new state and :func:`documents_bound`."""
    topics = stochastic_update_topics(stats, state.topics, state.prior, rho, ratio)
    prior = update_prior(stats, topics, state.prior, learn_alpha, learn_eta, rho)
    new = state._replace(topics=topics, prior=prior, n_batch_iter=state.n_batch_iter + 1)
    return new, documents_bound(stats)


def online_steps(batches, state, bound, n_total, settings, learn_alpha, learn_eta,
                 serial=False):  # fmt: skip
    """The steps of :func:`stochastic_pass` on each ``(X_b, rho_b)`` of ``batches`` in turn
    (mini-batches of a corpus of ``n_total`` documents, in order), adding each one's part
    of the ELBO to ``bound``; returns ``(state, bound)``. A mini-batch's E-step (in blocks
    of :data:`ONLINE_BLOCK_DOCS`) reads the tables of its own words only and its step
    (:func:`step_components`) updates lambda; the full tables (:func:`make_topics`) are
    built after the last step (after every step if ``eta`` is learned)."""
    components, n_topics = state.topics.components.copy(), state.topics.components.shape[0]
    topics = state.topics
    for X, rho in batches:
        words, cut = cut_to_words(X)
        gamma = np.empty((X.shape[0], n_topics))
        starts = fresh_starts(state.random_state, X.shape[0], n_topics)
        sub = TopicPosterior(None, None, *topic_tables(components, words)[1:])
        blocks = n_doc_blocks(X.shape[0], sub.exp_topic_word.size, ONLINE_BLOCK_DOCS)
        stats = doc_stats(cut, sub, state.prior.alpha, gamma, FRESH, settings, starts,
                          serial=serial, n_blocks=blocks)  # fmt: skip
        components = step_components(components, words, stats.topic_word, rho,
                                     state.prior.eta, n_total / X.shape[0])  # fmt: skip
        topics = make_topics(components) if learn_eta else None
        prior = update_prior(stats, topics, state.prior, learn_alpha, learn_eta, rho)
        state = state._replace(prior=prior, n_batch_iter=state.n_batch_iter + 1)
        bound += documents_bound(stats)
    return state._replace(topics=topics or make_topics(components)), bound


@jit
def step_components(components, words, topic_word, rho, eta, scale):
    """:func:`stochastic_update_topics`'s lambda, ``(1 - rho) lambda + rho (eta + scale
    S)``, the statistics ``topic_word`` ``S`` (V_b, K) being those of the columns ``words``
    (the others' are zero): one pass over ``components`` (K, V), in place (no temporary
    of its size)."""
    keep, add = 1.0 - rho, rho * eta
    new = np.empty(words.shape[0])
    for k in range(components.shape[0]):
        row = components[k]
        for i in range(words.shape[0]):
            new[i] = keep * row[words[i]] + rho * (eta + scale * topic_word[i, k])
        for w in range(row.shape[0]):
            row[w] = keep * row[w] + add
        for i in range(words.shape[0]):
            row[words[i]] = new[i]
    return components


def online_pass(X, state, batch_size, rhos, settings, learn_alpha, learn_eta):
    """One pass of stochastic VI over the corpus ``X`` (CSR): :func:`online_steps` over its
    mini-batches of ``batch_size`` documents, in order, with the step sizes ``rhos`` (one
    per mini-batch). Returns the new state and the sum of the mini-batches' parts of the
    ELBO (each with the topics of its step)."""
    n_docs = X.shape[0]
    rows = range(0, n_docs, batch_size)
    batches = ((rows_of(X, lo, min(lo + batch_size, n_docs)), rho)
               for lo, rho in zip(rows, rhos, strict=True))  # fmt: skip
    # a corpus of one block evaluates with the serial kernel: its steps too (same results)
    serial = n_doc_blocks(n_docs, state.topics.components.size) == 1
    return online_steps(batches, state, 0.0, n_docs, settings, learn_alpha, learn_eta, serial)


def _cvb0_initial(X, structure, prior, n_topics, random_state):
    n_docs, n_words = X.shape
    topic = random_state.randint(n_topics, size=X.nnz)
    resp = np.zeros((X.nnz, n_topics), dtype=np.float32)
    resp[np.arange(X.nnz), topic] = 1.0
    # N_wk = sum_{j: w_j = w} n_j r_jk of these one-hot responsibilities (np.bincount adds
    # each word's counts in document order)
    cells = X.indices.astype(np.int64) * n_topics + topic
    word_topic = np.bincount(cells, X.data, minlength=n_words * n_topics).reshape(n_words, -1)
    topics = make_topics(prior.eta + word_topic.T)
    doc = np.repeat(np.arange(n_docs), np.diff(X.indptr))
    doc_topic = np.bincount(doc * n_topics + topic, X.data, minlength=n_docs * n_topics)
    return CVB0Counts(resp, word_topic), topics, doc_topic.reshape(n_docs, n_topics)


def cvb0_sweep(X, structure, state):
    r"""One CVB0 pass (Asuncion et al. 2009, eq. 4; module docstring), then the topics;
    returns the new state and the ELBO of the mean-field distribution the expected counts
    define: :math:`\gamma_{dk} = \alpha_k + N_{dk}`, :math:`\lambda_{kw} = \eta + N_{wk}`,
    :math:`\phi` at its optimum for them. The responsibilities are updated in place
    (:class:`CVB0Counts`)."""
    alpha, eta = state.prior
    resp, word_topic = state.cvb0.resp, state.cvb0.word_topic.copy()
    topic_total = word_topic.sum(axis=0) + word_topic.shape[0] * eta
    gamma = state.gamma.copy()
    # one task per block and a small vocabulary: nothing to run in parallel, and the serial
    # twin (the same results) compiles in a fraction of the time
    n_blocks = structure.edges.shape[0] - 1
    small = X.shape[0] <= n_blocks * CVB0_TASK_DOCS and X.shape[1] * n_blocks <= 2**16
    (cvb0_pass_serial if small else cvb0_pass)(
        X.indptr, X.indices, X.data, structure.csc_ptr, structure.csc_pos, structure.csc_doc,
        structure.edges, resp, word_topic, topic_total, gamma, alpha, eta,
    )  # fmt: skip
    gamma += alpha
    new = state._replace(topics=make_topics(eta + word_topic.T), gamma=gamma,
                         n_batch_iter=state.n_batch_iter + 1,
                         cvb0=CVB0Counts(resp, word_topic))  # fmt: skip
    bound = evaluate(X, new, EStepSettings(0, 0.0, False))
    return new._replace(bound=bound), bound


def infer(X, topics, alpha, settings, serial=False):
    """The predictive E-step of new documents ``X`` under the fitted ``topics`` and
    ``alpha``: ``gamma`` (n_docs, n_topics) from ``alpha + n_d / K`` and their
    :class:`LDAStats` (without ``topic_word``). ``serial``: the serial kernel."""
    gamma = np.zeros((X.shape[0], alpha.shape[0]))
    return gamma, doc_stats(X, topics, alpha, gamma, FRESH, settings, sstats=False, serial=serial)


def perplexity(bound, n_tokens):
    """``exp(-bound / n_tokens)``; ``inf`` beyond the float range (tiny corpora with
    extreme priors), without an overflow warning. A corpus without tokens has perplexity
    1: the geometric mean of the probabilities of no tokens is the empty product."""
    if n_tokens == 0:
        return 1.0
    with np.errstate(over="ignore"):
        return float(np.exp(-bound / n_tokens))
