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

Documents are split into a fixed number of blocks (independent of the thread count), each
with its own topic-word accumulator, and the blocks are reduced in index order. Nothing
here imports scikit-learn.
"""

import math

import numpy as np

from ._jit import jit, jit_parallel, prange
from ._special import digamma, kl_dirichlet, log_dirichlet_norm

#: Documents are split into at most this many blocks (and at least 256 documents each):
#: enough parallel slack for any machine, few enough accumulators to keep memory small.
MAX_BLOCKS = 32
#: Where a document's fixed point starts (see :func:`_e_step`).
FRESH, BEST, WARM = 0, 1, 2
MIN_BLOCK_DOCS = 256


@jit
def n_doc_blocks(n_docs):
    """Number of document blocks: a function of ``n_docs`` only."""
    return max(1, min(MAX_BLOCKS, (n_docs + MIN_BLOCK_DOCS - 1) // MIN_BLOCK_DOCS))


@jit
def _exp_e_log_theta(gamma, out):
    """``out = exp(E[ln theta] - m)`` for ``theta ~ Dir(gamma)``; returns ``m``, the max of
    ``E[ln theta_k] = psi(gamma_k) - psi(sum gamma)`` (Blei et al. 2003, eq. 8)."""
    total = 0.0
    for k in range(gamma.shape[0]):
        total += gamma[k]
    psi_total = digamma(total)
    mx = -np.inf
    for k in range(gamma.shape[0]):
        e = digamma(gamma[k]) - psi_total
        out[k] = e
        mx = max(mx, e)
    for k in range(gamma.shape[0]):
        out[k] = math.exp(out[k] - mx)
    return mx


@jit
def _doc_fixed_point(lo, hi, indices, data, exp_topic_word, alpha, gamma, et, acc, max_iter, tol):
    """Iterate the (phi, gamma) updates of one document in place; returns the sweeps used."""
    n_comp = alpha.shape[0]
    for it in range(max_iter):
        _exp_e_log_theta(gamma, et)
        for k in range(n_comp):
            acc[k] = 0.0
        for j in range(lo, hi):
            row = exp_topic_word[indices[j]]
            s = 0.0
            for k in range(n_comp):
                s += et[k] * row[k]
            c = data[j] / s
            for k in range(n_comp):
                acc[k] += c * row[k]
        change = 0.0
        for k in range(n_comp):
            g = alpha[k] + et[k] * acc[k]
            change += abs(g - gamma[k])
            gamma[k] = g
        if change / n_comp < tol:
            return it + 1
    return max_iter


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
def _doc_value(lo, hi, indices, data, exp_topic_word, word_shift, alpha, gamma, et, no_stats):
    """A document's terms of the ELBO with phi at its optimum for ``gamma``:
    ``sum_j n_j ln sum_k exp(E ln theta_k + E ln beta_k,w_j) - KL(Dir(gamma) || Dir(alpha))``.
    """
    shift = _exp_e_log_theta(gamma, et)
    words = _words_term(lo, hi, indices, data, exp_topic_word, word_shift, et, shift, no_stats)
    return words - kl_dirichlet(gamma, alpha)


def _e_step(
    indptr,
    indices,
    data,
    exp_topic_word,
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
    ``BEST``
        from a fresh start, keeping the result only if its terms of the ELBO are at least
        those of the current ``gamma[d]`` under the current topics (else the fixed point
        continues from ``gamma[d]``): a sweep never lowers the ELBO;
    ``WARM``
        from the current ``gamma[d]`` (with ``max_iter=0``: evaluate the current
        ``gamma`` under the current topics).
    ``sstats``: if True, return the expected topic-word counts
    ``S[w, k] = sum_d n_dw phi_dwk`` (vocabulary-major); otherwise an empty array.

    Returns ``(S, doc_terms)`` with ``doc_terms = [L_words, H, n_docs_nonempty,
    sum_doc_sweeps]`` and ``e_log_theta_sum`` (K,), where ``L_words = sum_dw n_dw
    ln sum_k exp(E ln theta_dk + E ln beta_kw)`` (phi at its optimum for the final gamma),
    ``H = sum_d [ln C(gamma_d) + sum_k gamma_dk E ln theta_dk]`` (the gamma-only part of
    ``sum_d KL(Dir(gamma_d) || Dir(alpha))``), and ``e_log_theta_sum[k] = sum_d
    E ln theta_dk`` over non-empty documents. Empty documents get ``gamma_d = alpha``
    and contribute nothing.
    """
    n_docs = indptr.shape[0] - 1
    n_words, n_comp = exp_topic_word.shape
    random_starts = starts.shape[0] == n_docs
    nb = n_doc_blocks(n_docs)
    size = (n_docs + nb - 1) // nb
    blocks = np.zeros((nb if sstats else 0, n_words, n_comp))
    no_stats = np.zeros((0, n_comp))
    terms_b = np.zeros((nb, 4))
    elt_b = np.zeros((nb, n_comp))
    for b in prange(nb):
        et = np.empty(n_comp)
        acc = np.empty(n_comp)
        warm = np.empty(n_comp)
        warm_value = 0.0
        for d in range(b * size, min(n_docs, (b + 1) * size)):
            lo, hi = indptr[d], indptr[d + 1]
            g = gamma[d]
            if lo == hi:
                for k in range(n_comp):
                    g[k] = alpha[k]
                continue
            length = 0.0
            for j in range(lo, hi):
                length += data[j]
            if mode == BEST:  # the warm start's value under the current topics
                for k in range(n_comp):
                    warm[k] = g[k]
                warm_value = _doc_value(lo, hi, indices, data, exp_topic_word, word_shift,
                                        alpha, g, et, no_stats)  # fmt: skip
            if mode != WARM:
                for k in range(n_comp):
                    g[k] = starts[d, k] if random_starts else alpha[k] + length / n_comp
            terms_b[b, 3] += _doc_fixed_point(
                lo, hi, indices, data, exp_topic_word, alpha, g, et, acc, max_iter, tol
            )
            if mode == BEST:
                fresh_value = _doc_value(lo, hi, indices, data, exp_topic_word, word_shift,
                                         alpha, g, et, no_stats)  # fmt: skip
                if fresh_value < warm_value:  # keep the better: the ELBO never decreases
                    for k in range(n_comp):
                        g[k] = warm[k]
                    terms_b[b, 3] += _doc_fixed_point(
                        lo, hi, indices, data, exp_topic_word, alpha, g, et, acc, max_iter, tol
                    )
            # phi at its optimum for the final gamma: the statistics and the bound
            shift = _exp_e_log_theta(g, et)
            target = blocks[b] if sstats else no_stats
            ll = _words_term(lo, hi, indices, data, exp_topic_word, word_shift, et, shift, target)
            total = 0.0
            for k in range(n_comp):
                total += g[k]
            psi_total = digamma(total)
            h = log_dirichlet_norm(g)
            for k in range(n_comp):
                e = digamma(g[k]) - psi_total
                h += g[k] * e
                elt_b[b, k] += e
            terms_b[b, 0] += ll
            terms_b[b, 1] += h
            terms_b[b, 2] += 1.0
    stats = np.zeros((n_words if sstats else 0, n_comp))
    terms = np.zeros(4)
    e_log_theta_sum = np.zeros(n_comp)
    for b in range(nb):  # fixed reduction order
        if sstats:
            stats += blocks[b]
        terms += terms_b[b]
        e_log_theta_sum += elt_b[b]
    return stats, terms, e_log_theta_sum


e_step = jit_parallel(_e_step)
e_step_serial = jit(_e_step)
