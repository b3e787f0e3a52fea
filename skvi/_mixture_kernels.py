"""Numba kernels of the variational Gaussian mixture.

The E-step of every covariance type is written as one linear map of an expanded
feature vector. For a row ``x`` and a shift ``c`` (the data centre), let
``u = x - c`` and

* ``full``/``tied``: ``z(x) = [u_1..u_d, u_i u_j for i <= j]``  (``d + d(d+1)/2`` entries),
* ``diag``: ``z(x) = [u_1..u_d, u_1^2..u_d^2]``,
* ``spherical``: ``z(x) = [u_1..u_d, ||u||^2]``.

The expected log joint of Bishop (10.46) is then ``ln rho_nk = const_k + z(x_n) @ theta[:, k]``
(see :func:`skvi.mixture` ``_natural_coefficients`` for ``theta`` and ``const``), and the
sufficient statistics the M-step needs are the responsibility-weighted sums of the same
features, ``sum_n w_n r_nk [1, z(x_n)]``. One pass over the data computes both, vectorised
over components.

Parallel kernels split the rows into blocks of a fixed size (:data:`skvi._jit.BLOCK_ROWS`),
give each block its own accumulator and reduce the blocks in index order, so the result
does not depend on the number of threads. Nothing here imports scikit-learn.
"""

import math

import numpy as np

from ._jit import BLOCK_ROWS, jit, jit_parallel, prange

FULL, TIED, DIAG, SPHERICAL = 0, 1, 2, 3
COVARIANCE_CODES = {"full": FULL, "tied": TIED, "diag": DIAG, "spherical": SPHERICAL}


def n_expanded(n_features, ctype):
    """Length of the expanded feature vector ``z(x)`` for a covariance type code."""
    if ctype == DIAG:
        return 2 * n_features
    if ctype == SPHERICAL:
        return n_features + 1
    return n_features + n_features * (n_features + 1) // 2


@jit
def _expand(x, center, ctype, z):
    """Write ``z(x)`` of the module docstring into ``z`` (float64)."""
    d = x.shape[0]
    for j in range(d):
        z[j] = x[j] - center[j]
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
def _row_log_resp(z, theta, const, out):
    """``out = log_softmax(const + z @ theta)``; returns the log-normaliser.

    ``out[k]`` is ``ln r_nk`` (Bishop 10.49) and the return value is
    ``ln sum_k rho_nk``.
    """
    n_comp = const.shape[0]
    for k in range(n_comp):
        out[k] = const[k]
    for j in range(z.shape[0]):
        zj = z[j]
        for k in range(n_comp):
            out[k] += zj * theta[j, k]
    mx = -np.inf
    for k in range(n_comp):
        if out[k] > mx:
            mx = out[k]
    if mx == -np.inf or mx == np.inf:
        return mx
    s = 0.0
    for k in range(n_comp):
        s += math.exp(out[k] - mx)
    lse = mx + math.log(s)
    for k in range(n_comp):
        out[k] -= lse
    return lse


@jit
def _accumulate(z, wr, acc):
    """``acc += outer([1, z], wr)`` (acc has ``len(z) + 1`` rows, one column per component)."""
    n_comp = wr.shape[0]
    for k in range(n_comp):
        acc[0, k] += wr[k]
    for j in range(z.shape[0]):
        zj = z[j]
        for k in range(n_comp):
            acc[j + 1, k] += zj * wr[k]


def _estep_stats(X, weights, center, theta, const, ctype):
    """Fused E-step and sufficient statistics.

    Returns ``(stats, extra)`` where ``stats[0, k] = N_k = sum_n w_n r_nk`` and
    ``stats[1 + j, k] = sum_n w_n r_nk z_j(x_n)``, and
    ``extra = [sum_n w_n sum_k r_nk ln r_nk, sum_n w_n ln sum_k rho_nk]``.

    Equals, in NumPy, ``r = softmax(const + Z @ theta)``, ``stats = [1, Z].T @ (w * r)``.
    """
    n = X.shape[0]
    n_feat, n_comp = theta.shape
    nb = max(1, (n + BLOCK_ROWS - 1) // BLOCK_ROWS)
    blocks = np.zeros((nb, n_feat + 1, n_comp))
    extra_b = np.zeros((nb, 2))
    for b in prange(nb):
        z = np.empty(n_feat)
        lr = np.empty(n_comp)
        wr = np.empty(n_comp)
        acc = blocks[b]
        ent = 0.0
        ll = 0.0
        for i in range(b * BLOCK_ROWS, min(n, (b + 1) * BLOCK_ROWS)):
            w = weights[i]
            if w == 0.0:
                continue
            _expand(X[i], center, ctype, z)
            ll += w * _row_log_resp(z, theta, const, lr)
            for k in range(n_comp):
                if lr[k] > -np.inf:
                    r = w * math.exp(lr[k])
                    wr[k] = r
                    ent += r * lr[k]
                else:
                    wr[k] = 0.0
            _accumulate(z, wr, acc)
        extra_b[b, 0] = ent
        extra_b[b, 1] = ll
    stats = np.zeros((n_feat + 1, n_comp))
    extra = np.zeros(2)
    for b in range(nb):  # fixed reduction order
        stats += blocks[b]
        extra += extra_b[b]
    return stats, extra


def _resp_stats(X, weights, center, resp, ctype, n_feat):
    """Sufficient statistics and ``sum w r ln r`` for given responsibilities ``resp``."""
    n = X.shape[0]
    n_comp = resp.shape[1]
    nb = max(1, (n + BLOCK_ROWS - 1) // BLOCK_ROWS)
    blocks = np.zeros((nb, n_feat + 1, n_comp))
    ent_b = np.zeros(nb)
    for b in prange(nb):
        z = np.empty(n_feat)
        wr = np.empty(n_comp)
        acc = blocks[b]
        ent = 0.0
        for i in range(b * BLOCK_ROWS, min(n, (b + 1) * BLOCK_ROWS)):
            w = weights[i]
            if w == 0.0:
                continue
            _expand(X[i], center, ctype, z)
            for k in range(n_comp):
                r = resp[i, k]
                wr[k] = w * r
                if r > 0.0:
                    ent += w * r * math.log(r)
            _accumulate(z, wr, acc)
        ent_b[b] = ent
    stats = np.zeros((n_feat + 1, n_comp))
    ent = 0.0
    for b in range(nb):
        stats += blocks[b]
        ent += ent_b[b]
    return stats, ent


def _log_resp(X, center, theta, const, ctype):
    """Normalised log-responsibilities ``(n, K)`` and per-row log-normalisers ``(n,)``."""
    n = X.shape[0]
    n_feat, n_comp = theta.shape
    out = np.empty((n, n_comp))
    norm = np.empty(n)
    nb = max(1, (n + BLOCK_ROWS - 1) // BLOCK_ROWS)
    for b in prange(nb):
        z = np.empty(n_feat)
        for i in range(b * BLOCK_ROWS, min(n, (b + 1) * BLOCK_ROWS)):
            _expand(X[i], center, ctype, z)
            norm[i] = _row_log_resp(z, theta, const, out[i])
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
    nb = max(1, (n + BLOCK_ROWS - 1) // BLOCK_ROWS)
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
log_resp = jit_parallel(_log_resp)
log_resp_serial = jit(_log_resp)
log_student_t = jit_parallel(_log_student_t)
