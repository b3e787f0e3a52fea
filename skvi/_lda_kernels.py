"""Numba kernels of variational LDA (Blei, Ng and Jordan 2003).

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

The fixed point runs in two phases (:func:`_doc_fixed_point`): first with ``inner``, a
float32 copy of ``exp_topic_word`` (the E-step table of the LDA benchmark gives the time
per sweep of both precisions), until the change is below ``tol`` or below what float32
resolves; only in the second case (or if a normaliser underflows in float32) the sweeps go
on in float64 until the change is below ``tol``. The statistics and every term of the
ELBO are computed in float64 from the final ``gamma``, so the bound is exact for the
parameters returned, whichever precision the last sweep had.

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

import math

import numpy as np

from ._jit import jit, jit_parallel, prange
from ._special import digamma, trigamma

#: Documents are split into at most this many blocks (and at least MIN_BLOCK_DOCS
#: documents each): parallel slack for machines of up to 16 cores, few enough
#: accumulators to keep memory small. Each block has a (V, K) float64 accumulator, and
#: together they take at most MAX_STATS_BYTES (one block, whatever its size, at least).
MAX_BLOCKS = 16
MAX_STATS_BYTES = 256 * 2**20
#: Where a document's fixed point starts (see :func:`_e_step`).
FRESH, WARM = 0, 1
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
#: :func:`lgamma_increment` uses its two-term Taylor series when ``|d| <= x *
#: TAYLOR_INCREMENT`` (remainder at most ``5e-13 |d| max(1, 1/x)``).
TAYLOR_INCREMENT = 1e-6
_SHIFT_STEPS = 6.0
MIN_BLOCK_DOCS = 256
#: CVB0: documents per pass are visited in this many blocks (fewer for tiny corpora); the
#: expected topic-word counts are brought up to date after each block.
CVB0_BLOCKS = 16
#: CVB0: documents per parallel task within a block.
CVB0_TASK_DOCS = 16


@jit
def lgamma_increment(x, d, y, lgamma_x, psi_x, x_trigamma_x):
    """``lgamma(y) - lgamma(x)`` for ``x > 0``, ``y > 0``, given ``d = y - x`` (as
    precisely as the caller knows it), ``lgamma(x)``, ``psi(x)`` and ``x psi'(x)`` (finite
    where ``psi'(x)`` itself overflows, below ``x = 1e-154``).

    For ``|d| <= TAYLOR_INCREMENT x`` the Taylor series ``d psi(x) + d^2 psi'(x) / 2``,
    whose remainder ``|d|^3 |psi''(xi)| / 6`` is at most ``|d| (d/x)^2 max(1, 1/x) / 2``
    (``|psi''(x)| <= 2/x^3 + 1/x^2``); otherwise the difference of the two log-gammas,
    whose rounding error ``eps (|lgamma(x)| + |lgamma(y)|)`` is then small against
    ``|d|`` unless ``x`` is tiny. The series keeps a Dirichlet's KL from its prior
    accurate to the size of the data that moved it: written with the two normalisers,
    the KL loses ``eps |lgamma(x)|`` to cancellation whatever the data, which swamps
    the bound of a corpus whose counts are tiny against the priors (counts of 1e-300, or
    ``topic_word_prior=1e300``).
    """
    if d == 0.0:
        return 0.0
    if abs(d) <= TAYLOR_INCREMENT * x:
        return d * (psi_x + 0.5 * (d / x) * x_trigamma_x)
    return math.lgamma(y) - lgamma_x


@jit
def _increment_table(x):
    """``(lgamma(x), psi(x), x psi'(x))`` for each entry of ``x``, as rows of a (n, 3)
    array: what :func:`lgamma_increment` takes from its base point. ``x psi'(x)`` is
    computed as ``1/x + x psi'(x + 1)``, finite for every positive ``x``."""
    out = np.empty((x.shape[0], 3))
    for i in range(x.shape[0]):
        v = x[i]
        out[i, 0] = math.lgamma(v)
        out[i, 1] = digamma(v)
        out[i, 2] = 1.0 / v + v * trigamma(v + 1.0)
    return out


@jit
def dirichlet_kl_from_prior(prior, prior_table, total, total_row, posterior, e_log):
    """``KL(Dir(posterior) || Dir(prior))`` written as increments from the prior,

        sum_k s_k E[ln x_k] - sum_k Delta(prior_k, s_k) + Delta(sum prior, sum s),

    with ``s = posterior - prior``, ``E[ln x] = e_log`` (under the posterior) and
    ``Delta(x, d) = lgamma(x + d) - lgamma(x)`` (:func:`lgamma_increment`). ``prior``
    may be a single value (a symmetric prior) or one value per entry; ``prior_table``
    holds the matching rows of :func:`_increment_table`, ``total_row`` that of ``total``
    (``sum prior``, as the caller computed it). The result is exactly 0 when the
    posterior equals the prior and is accurate to the size of ``s``, not to that of the
    normalisers (PRML B.23 for the KL).
    """
    n = posterior.shape[0]
    symmetric = prior.shape[0] == 1
    moved = 0.0
    mass = 0.0
    value = 0.0
    for i in range(n):
        j = 0 if symmetric else i
        a = prior[j]
        b = posterior[i]
        s = b - a
        moved += s
        mass += b
        row = prior_table[j]
        value += s * e_log[i] - lgamma_increment(a, s, b, row[0], row[1], row[2])
    row = total_row
    return value + lgamma_increment(total, moved, mass, row[0], row[1], row[2])


def _topic_tables(components):
    """What the E-step needs from the topics' Dirichlet parameters ``components``
    (lambda, (K, V)): ``E[ln beta]`` (K, V) (Blei et al. 2003, eq. 8), the
    vocabulary-major shifted exponentials ``exp(E[ln beta_kw] - shift_w)`` (V, K), the
    shifts ``shift_w = max_k E[ln beta_kw]`` (V,), and their float32 copy (V, K)."""
    n_comp, n_words = components.shape
    e_log_beta = np.empty((n_comp, n_words))
    for k in prange(n_comp):
        row = components[k]
        total = 0.0
        for w in range(n_words):
            total += row[w]
        psi_total = digamma(total)
        for w in range(n_words):
            e_log_beta[k, w] = digamma(row[w]) - psi_total
    exp_topic_word = np.empty((n_words, n_comp))
    inner = np.empty((n_words, n_comp), dtype=np.float32)
    shift = np.empty(n_words)
    for w in prange(n_words):
        mx = -np.inf
        for k in range(n_comp):
            mx = max(mx, e_log_beta[k, w])
        shift[w] = mx
        for k in range(n_comp):
            v = math.exp(e_log_beta[k, w] - mx)
            exp_topic_word[w, k] = v
            inner[w, k] = v
    return e_log_beta, exp_topic_word, shift, inner


def _topic_kl(components, e_log_beta, eta):
    """``sum_k KL(Dir(lambda_k) || Dir(eta 1))`` given ``E[ln beta]``: ``ln C(lambda_k) -
    ln C(eta 1) + sum_w (lambda_kw - eta) E[ln beta_kw]`` (PRML B.23), each computed by
    :func:`dirichlet_kl_from_prior` (accurate to the size of ``lambda_k - eta``), summed
    over the topics in order."""
    n_comp, n_words = components.shape
    per_topic = np.empty(n_comp)
    prior = np.array([float(eta)])
    total = n_words * float(eta)
    table = _increment_table(np.array([float(eta), total]))
    for k in prange(n_comp):
        per_topic[k] = dirichlet_kl_from_prior(
            prior, table[:1], total, table[1], components[k], e_log_beta[k]
        )
    total = 0.0
    for k in range(n_comp):
        total += per_topic[k]
    return total


@jit
def n_doc_blocks(n_docs, n_cells):
    """Number of document blocks: a function of the problem's size only (``n_cells =
    V K``), never of the thread count, so that the reduction order is fixed."""
    by_docs = (n_docs + MIN_BLOCK_DOCS - 1) // MIN_BLOCK_DOCS
    by_memory = MAX_STATS_BYTES // (8 * max(n_cells, 1))
    return max(1, min(MAX_BLOCKS, by_docs, by_memory))


@jit
def _e_log_theta(gamma, e_log_theta, et):
    """``e_log_theta[k] = E[ln theta_k] = psi(gamma_k) - psi(sum gamma)`` for ``theta ~
    Dir(gamma)`` (Blei et al. 2003, eq. 8) and ``et = exp(e_log_theta - m)``; returns
    ``m``, the maximum of ``e_log_theta``."""
    total = 0.0
    for k in range(gamma.shape[0]):
        total += gamma[k]
    psi_total = digamma(total)
    mx = -np.inf
    for k in range(gamma.shape[0]):
        e = digamma(gamma[k]) - psi_total
        e_log_theta[k] = e
        mx = max(mx, e)
    for k in range(gamma.shape[0]):
        et[k] = math.exp(e_log_theta[k] - mx)
    return mx


@jit
def _exp_e_log_theta_fast(gamma, out):
    """``out[k]`` proportional to ``exp(E[ln theta_k])`` (a common factor cancels in the
    fixed point), the largest at least 6: the fixed point's cheap digamma.

    ``psi(x) = ln y - R(x)`` with ``y = x + 6``, where ``R(x) = sum_{i<6} 1 / (x + i) +
    1 / (2y) + sum_{j=1}^{7} B_2j / (2j y^2j)`` is the recurrence to ``y >= 6`` and the
    asymptotic series there (absolute error below 2e-13, against ~1e-16 for
    :func:`digamma`, which steps to ``x >= 10`` one step at a time, with branches). The
    six reciprocals are summed as two rational terms, ``sum_{i<3} 1 / (x + i) = q'(x) /
    q(x)`` with ``q(x) = x (x + 1) (x + 2)``, so each topic costs two divisions and one
    exponential: ``out[k] = y_k exp(min R - R_k)``.
    """
    n_comp = gamma.shape[0]
    least = np.inf
    for k in range(n_comp):
        x = gamma[k]
        r = 1.0 / (x + _SHIFT_STEPS)
        r2 = r * r
        series = r2 * (1.0 / 12 + r2 * (-1.0 / 120 + r2 * (1.0 / 252 + r2 * (-1.0 / 240 + r2 * (
            1.0 / 132 + r2 * (-691.0 / 32760 + r2 / 12))))))  # fmt: skip
        a = min(x, 1e50)  # beyond, the reciprocals are below 1e-49 and q(a) q(b) would overflow
        b = a + 3.0
        qa = a * (a * (a + 3.0) + 2.0)
        qb = b * (b * (b + 3.0) + 2.0)
        pa = a * (3.0 * a + 6.0) + 2.0
        pb = b * (3.0 * b + 6.0) + 2.0
        out[k] = (pa * qb + pb * qa) / (qa * qb) + 0.5 * r + series
    for k in range(n_comp):  # apart, so that the loop above vectorises
        least = min(least, out[k])
    for k in range(n_comp):
        out[k] = (gamma[k] + _SHIFT_STEPS) * math.exp(least - out[k])


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
        _exp_e_log_theta_fast(gamma, et)
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
def _doc_fixed_point(lo, hi, indices, data, exp_topic_word, inner, alpha, gamma, work, max_iter,
                     tol):  # fmt: skip
    """Iterate the (phi, gamma) updates of one document in place; returns the sweeps used.

    With ``inner`` (float32, vocabulary-major) the sweeps run in float32 until the mean
    change is below ``max(tol, FLOAT32_FLOOR * mean gamma)``, and stop there if that is
    ``tol`` (or after ``max_iter`` sweeps); if it is the float32 floor, or a normaliser
    underflows in float32, the remaining sweeps run in float64 until the change is below
    ``tol``. Without ``inner`` (no rows), or for a document whose length plus ``sum(gamma)``
    reaches :data:`FLOAT32_MAX_LENGTH`, every sweep is a float64 one. ``work``: scratch
    arrays ``(et, et32, local32, counts32, norm32, et64, local64, counts64, norm64)``.
    """
    et, et32, local32, counts32, norm32, et64, local64, counts64, norm64 = work
    used = 0
    total = 0.0
    for k in range(alpha.shape[0]):
        total += gamma[k]
    length = 0.0
    for j in range(lo, hi):
        length += data[j]
    if inner.shape[0] > 0 and max_iter > 0 and total + length < FLOAT32_MAX_LENGTH:
        loose = max(tol, FLOAT32_FLOOR * total / alpha.shape[0])
        n32 = _gather(lo, hi, indices, data, inner, local32, counts32)
        used, status = _sweeps(n32, local32, counts32, alpha, gamma, et, et32, norm32,
                               max_iter, loose)  # fmt: skip
        if status == 1 or (status == 0 and loose == tol):
            return used
    if used == max_iter:
        return used
    n64 = _gather(lo, hi, indices, data, exp_topic_word, local64, counts64)
    more, _ = _sweeps(n64, local64, counts64, alpha, gamma, et, et64, norm64,
                      max_iter - used, tol)  # fmt: skip
    return used + more


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
    first, last, indptr, indices, data, exp_topic_word, inner, word_shift, alpha, alpha_table,
    alpha_total, total_row, gamma, mode, starts, max_iter, tol, stats, terms, e_log_theta_sum
):  # fmt: skip
    """Documents ``first..last-1`` of :func:`_e_step`, adding to this block's ``stats``
    (vocabulary-major, or no rows for none), ``terms`` (4,) and ``e_log_theta_sum`` (K,);
    ``alpha_table``, ``total_row``: :func:`_increment_table` of ``alpha`` and of its sum
    ``alpha_total``."""
    n_comp = alpha.shape[0]
    random_starts = starts.shape[0] == indptr.shape[0] - 1
    stats[...] = 0.0  # here, in this block's thread, rather than serially by the caller
    et = np.empty(n_comp)
    elog = np.empty(n_comp)
    longest = 0
    for d in range(first, last):
        longest = max(longest, indptr[d + 1] - indptr[d])
    longest = -(-longest // WORD_PAD) * WORD_PAD
    n32 = longest if inner.shape[0] > 0 else 0
    work = (et, np.empty(n_comp, inner.dtype), np.empty((n_comp, n32), inner.dtype),
            np.empty(n32, inner.dtype), np.empty(n32, inner.dtype), np.empty(n_comp),
            np.empty((n_comp, longest)), np.empty(longest), np.empty(longest))  # fmt: skip
    for d in range(first, last):
        lo, hi = indptr[d], indptr[d + 1]
        g = gamma[d]
        if lo == hi:
            for k in range(n_comp):
                g[k] = alpha[k]
            continue
        if mode == FRESH:
            length = 0.0
            for j in range(lo, hi):
                length += data[j]
            for k in range(n_comp):
                g[k] = starts[d, k] if random_starts else alpha[k] + length / n_comp
        terms[3] += _doc_fixed_point(
            lo, hi, indices, data, exp_topic_word, inner, alpha, g, work, max_iter, tol
        )
        # phi at its optimum for the final gamma: the statistics and the bound, in float64
        shift = _e_log_theta(g, elog, et)
        terms[0] += _words_term(lo, hi, indices, data, exp_topic_word, word_shift, et, shift, stats)
        terms[1] += dirichlet_kl_from_prior(alpha, alpha_table, alpha_total, total_row, g, elog)
        for k in range(n_comp):
            e_log_theta_sum[k] += elog[k]
        terms[2] += 1.0


def _e_step(
    indptr,
    indices,
    data,
    exp_topic_word,
    inner,
    word_shift,
    alpha,
    gamma,
    mode,
    starts,
    max_iter,
    tol,
    sstats,
):
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
    only. ``sstats``: if True, return the expected topic-word counts
    ``S[w, k] = sum_d n_dw phi_dwk`` (vocabulary-major); otherwise an empty array.

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
    nb = n_doc_blocks(n_docs, n_words * n_comp)
    size = (n_docs + nb - 1) // nb
    blocks = np.empty((nb, n_words if sstats else 0, n_comp))
    terms_b = np.zeros((nb, 4))
    elt_b = np.zeros((nb, n_comp))
    alpha_table = _increment_table(alpha)
    alpha_total = 0.0
    for k in range(n_comp):
        alpha_total += alpha[k]
    total_row = _increment_table(np.array([alpha_total]))[0]
    for b in prange(nb):
        _e_step_block(
            b * size, min(n_docs, (b + 1) * size), indptr, indices, data, exp_topic_word,
            inner, word_shift, alpha, alpha_table, alpha_total, total_row, gamma, mode, starts,
            max_iter, tol, blocks[b], terms_b[b], elt_b[b],
        )  # fmt: skip
    # the blocks' statistics summed in block order, in parallel over the vocabulary
    stats = np.empty((blocks.shape[1], n_comp))
    chunk = 256
    for c in prange((blocks.shape[1] + chunk - 1) // chunk):
        for w in range(c * chunk, min(blocks.shape[1], (c + 1) * chunk)):
            for k in range(n_comp):
                total = 0.0
                for b in range(nb):
                    total += blocks[b, w, k]
                stats[w, k] = total
    terms = np.zeros(4)
    e_log_theta_sum = np.zeros(n_comp)
    for b in range(nb):  # fixed reduction order
        terms += terms_b[b]
        e_log_theta_sum += elt_b[b]
    return stats, terms, e_log_theta_sum


# ------------------------------------------------------------------------------- CVB0
def cvb0_structure(indptr, indices, n_words, n_blocks=CVB0_BLOCKS):
    """What a CVB0 pass needs besides the counts, built once per fit (NumPy).

    Returns ``(csc_ptr, csc_pos, csc_doc, edges)``: the entries ordered by word, then
    document (``csc_pos[t]`` is the CSR position of the ``t``-th, ``csc_doc[t]`` its
    document, word ``w``'s entries are ``csc_ptr[w]:csc_ptr[w + 1]``), and the
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
    return csc_ptr, csc_pos, doc_of[csc_pos], np.unique(edges)


def _cvb0_counts(data, csc_ptr, csc_pos, resp, word_topic):
    """``word_topic[w, k] = sum_{j: w_j = w} n_j r_jk`` (in place), in parallel over
    the vocabulary, each word's entries summed in document order."""
    n_words, n_comp = word_topic.shape
    for w in prange(n_words):
        row = word_topic[w]
        for k in range(n_comp):
            row[k] = 0.0
        for t in range(csc_ptr[w], csc_ptr[w + 1]):
            j = csc_pos[t]
            c = data[j]
            for k in range(n_comp):
                row[k] += c * resp[j, k]


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
        # fastmath's reassociation may multiply the two counts first, which overflows
        # from counts of about 1e154 on
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


e_step = jit_parallel(_e_step)
e_step_serial = jit(_e_step)
topic_tables = jit_parallel(_topic_tables)
topic_kl = jit_parallel(_topic_kl)
cvb0_counts = jit_parallel(_cvb0_counts)
cvb0_pass = jit_parallel(_cvb0_pass)
cvb0_pass_serial = jit(_cvb0_pass)
