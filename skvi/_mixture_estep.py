"""The variational Gaussian mixture's Numba kernels: the E-step fused with the statistics,
the statistics of given responsibilities, the log-responsibilities of new data and the
Student-t log densities of the predictive.

They work on the expanded feature vectors ``[1, z(x)]`` described in
:mod:`skvi._mixture_kernels` (which holds the model's mathematics and calls these); each
has a parallel build (blocks of :data:`skvi._jit.BLOCK_ROWS` rows reduced in index order,
so the result does not depend on the number of threads) and a serial build of the same
source (``*_serial``, for Dask tasks).
"""

import math

import numpy as np

from ._jit import BLOCK_ROWS, jit, jit_parallel, n_blocks, prange

FULL, TIED, DIAG, SPHERICAL = 0, 1, 2, 3

#: Rows per small matrix product inside a block.
SUB_ROWS = 128


def n_coefficients(n_features, ctype):
    """Length of ``[1, z(x)]`` for a covariance type code."""
    if ctype == DIAG:
        return 1 + 2 * n_features
    if ctype == SPHERICAL:
        return 2 + n_features
    return 1 + n_features + n_features * (n_features + 1) // 2


@jit
def _expand(x, shift, inv_scale, ctype, z):
    """Write ``z(x)`` of the module docstring into ``z`` (float64), with
    ``u = x * inv_scale - shift``."""
    d = x.shape[0]
    for j in range(d):
        z[j] = x[j] * inv_scale - shift[j]
    if ctype == DIAG:
        for j in range(d):
            z[d + j] = z[j] * z[j]
    elif ctype == SPHERICAL:
        s = 0.0
        for j in range(d):
            s += z[j] * z[j]
        z[d] = s
    else:
        p = d
        for i in range(d):
            zi = z[i]
            for j in range(i, d):
                z[p] = zi * z[j]
                p += 1


@jit
def _expand_rows(X, start, stop, shift, inv_scale, ctype, Z):
    """``Z[i] = [1, z(X[start + i])]`` for the rows ``start:stop``."""
    for i in range(stop - start):
        Z[i, 0] = 1.0
        _expand(X[start + i], shift, inv_scale, ctype, Z[i, 1:])


@jit
def _row_resp(logits, resp):
    """Responsibilities of one row (Bishop 10.49) from its ``ln rho``.

    Writes ``resp[k] = exp(logits[k] - lse)`` and returns ``(lse, sum_k r_k ln r_k)``
    with ``lse = ln sum_k exp(logits[k])``; one ``exp`` per component.
    """
    n_comp = logits.shape[0]
    mx = -np.inf
    for k in range(n_comp):
        mx = max(mx, logits[k])
    s = 0.0
    for k in range(n_comp):
        e = math.exp(logits[k] - mx)
        resp[k] = e
        s += e
    lse = mx + math.log(s)
    inv = 1.0 / s
    r_log_r = 0.0
    for k in range(n_comp):
        r = resp[k] * inv
        resp[k] = r
        if r > 0.0:
            r_log_r += r * (logits[k] - lse)
    return lse, r_log_r


def _estep_stats(X, weights, shift, inv_scale, coef, ctype):
    """Fused E-step and sufficient statistics.

    With ``Z`` the rows ``[1, z(x_n)]`` and ``coef`` of shape ``(1 + len(z), K)`` (row 0
    the constants), this equals in NumPy::

        L = Z @ coef                                  # ln rho, Bishop (10.46)
        R = softmax(L, axis=1)                        # (10.49)
        stats = Z.T @ (weights[:, None] * R)          # [N_k; sum_n w r z(x_n)]
        extra = [sum(weights[:, None] * R * log R), sum(weights * logsumexp(L, axis=1))]

    Rows are processed in sub-blocks of :data:`SUB_ROWS` so that both products are
    small matrix multiplications; each block of :data:`BLOCK_ROWS` rows has its own
    accumulator and blocks are reduced in index order.
    """
    n = X.shape[0]
    n_coef, n_comp = coef.shape
    nb = n_blocks(n)
    blocks = np.zeros((nb, n_coef, n_comp))
    extra_b = np.zeros((nb, 2))
    for b in prange(nb):
        Z = np.empty((SUB_ROWS, n_coef))
        R = np.empty((SUB_ROWS, n_comp))
        ent = 0.0
        ll = 0.0
        stop = min(n, (b + 1) * BLOCK_ROWS)
        for s0 in range(b * BLOCK_ROWS, stop, SUB_ROWS):
            m = min(SUB_ROWS, stop - s0)
            _expand_rows(X, s0, s0 + m, shift, inv_scale, ctype, Z)
            L = np.dot(Z[:m], coef)
            for i in range(m):
                w = weights[s0 + i]
                lse, r_log_r = _row_resp(L[i], R[i])
                if w != 0.0:
                    ll += w * lse
                    ent += w * r_log_r
                for k in range(n_comp):
                    R[i, k] *= w
            blocks[b] += np.dot(Z[:m].T, R[:m])
        extra_b[b, 0] = ent
        extra_b[b, 1] = ll
    stats = np.zeros((n_coef, n_comp))
    extra = np.zeros(2)
    for b in range(nb):  # fixed reduction order
        stats += blocks[b]
        extra += extra_b[b]
    return stats, extra


def _resp_stats(X, weights, shift, inv_scale, resp, ctype, n_coef):
    """``Z.T @ (weights[:, None] * resp)`` and ``sum(weights[:, None] * resp * log resp)``
    for given responsibilities (``Z`` as in :func:`_estep_stats`)."""
    n = X.shape[0]
    n_comp = resp.shape[1]
    nb = n_blocks(n)
    blocks = np.zeros((nb, n_coef, n_comp))
    ent_b = np.zeros(nb)
    for b in prange(nb):
        Z = np.empty((SUB_ROWS, n_coef))
        R = np.empty((SUB_ROWS, n_comp))
        ent = 0.0
        stop = min(n, (b + 1) * BLOCK_ROWS)
        for s0 in range(b * BLOCK_ROWS, stop, SUB_ROWS):
            m = min(SUB_ROWS, stop - s0)
            _expand_rows(X, s0, s0 + m, shift, inv_scale, ctype, Z)
            for i in range(m):
                w = weights[s0 + i]
                for k in range(n_comp):
                    r = resp[s0 + i, k]
                    R[i, k] = w * r
                    if r > 0.0:
                        ent += w * r * math.log(r)
            blocks[b] += np.dot(Z[:m].T, R[:m])
        ent_b[b] = ent
    stats = np.zeros((n_coef, n_comp))
    ent = 0.0
    for b in range(nb):
        stats += blocks[b]
        ent += ent_b[b]
    return stats, ent


def _log_resp(X, shift, inv_scale, coef, ctype):
    """``(log_softmax(Z @ coef), logsumexp(Z @ coef))``: normalised log-responsibilities
    ``(n, K)`` and per-row log-normalisers ``(n,)``."""
    n = X.shape[0]
    n_coef, n_comp = coef.shape
    out = np.empty((n, n_comp))
    norm = np.empty(n)
    nb = n_blocks(n)
    for b in prange(nb):
        Z = np.empty((SUB_ROWS, n_coef))
        resp = np.empty(n_comp)
        stop = min(n, (b + 1) * BLOCK_ROWS)
        for s0 in range(b * BLOCK_ROWS, stop, SUB_ROWS):
            m = min(SUB_ROWS, stop - s0)
            _expand_rows(X, s0, s0 + m, shift, inv_scale, ctype, Z)
            L = np.dot(Z[:m], coef)
            for i in range(m):
                lse, _ = _row_resp(L[i], resp)
                norm[s0 + i] = lse
                for k in range(n_comp):
                    out[s0 + i, k] = L[i, k] - lse
    return out, norm


def _log_student_t(X, means, prec_chol, dof, log_norm, ctype):
    """Log densities ``(n, K)`` of the components' Student-t predictive distributions.

    ``full``/``tied``/``spherical`` (multivariate t, Bishop 10.81 / B.68)::

        log_norm[k] - (dof[k] + d) / 2 * log1p(||(x - m_k) @ prec_chol[k]||^2 / dof[k])

    with ``prec_chol[k]`` an upper-triangular factor of the t's scale-precision
    (``(d, d)``; a diagonal one for spherical). ``diag`` (a product of univariate t's,
    one per feature, ``prec_chol`` of shape ``(K, d)``)::

        log_norm[k] - (dof[k] + 1) / 2 * sum_j log1p(((x_j - m_kj) * prec_chol[k, j])^2 / dof[k])

    ``log_norm`` holds every term that does not depend on ``x``.
    """
    n, d = X.shape
    n_comp = means.shape[0]
    out = np.empty((n, n_comp))
    nb = n_blocks(n)
    for b in prange(nb):
        diff = np.empty(d)
        for i in range(b * BLOCK_ROWS, min(n, (b + 1) * BLOCK_ROWS)):
            for k in range(n_comp):
                for j in range(d):
                    diff[j] = X[i, j] - means[k, j]
                nu = dof[k]
                if ctype == DIAG:
                    s = 0.0
                    for j in range(d):
                        y = diff[j] * prec_chol[k, 0, j]
                        s += math.log1p(y * y / nu)
                    out[i, k] = log_norm[k] - 0.5 * (nu + 1.0) * s
                else:
                    q = 0.0
                    for j in range(d):  # y_j = sum_{i <= j} diff_i U_ij
                        y = 0.0
                        for t in range(j + 1):
                            y += diff[t] * prec_chol[k, t, j]
                        q += y * y
                    out[i, k] = log_norm[k] - 0.5 * (nu + d) * math.log1p(q / nu)
    return out


# Serial and parallel builds of the same source.
estep_stats = jit_parallel(_estep_stats)
estep_stats_serial = jit(_estep_stats)
resp_stats = jit_parallel(_resp_stats)
resp_stats_serial = jit(_resp_stats)
log_resp = jit_parallel(_log_resp)
log_resp_serial = jit(_log_resp)
log_student_t = jit_parallel(_log_student_t)
log_student_t_serial = jit(_log_student_t)
