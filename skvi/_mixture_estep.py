"""The variational Gaussian mixture's Numba kernels: the E-step fused with the statistics,
the log-responsibilities of new data and the Student-t log densities of the predictive
(the statistics of given responsibilities, needed once per fit, are NumPy:
:func:`skvi._mixture_kernels.resp_chunk_stats`).

They work on the expanded feature vectors ``[1, z(x)]`` described in
:mod:`skvi._mixture_kernels` (which holds the model's mathematics and calls these); each
has a parallel build (blocks of :data:`skvi._jit.BLOCK_ROWS` rows reduced in index order,
so the result does not depend on the number of threads) and a serial build of the same
source (``*_serial``, for Dask tasks).

Layout. Inside a block, rows are taken in sub-blocks of at most :data:`SUB_ROWS` rows
(fewer when ``[1, z(x)]`` is long, see :func:`sub_rows`), stored one row per *column*:
``Zt`` is ``(n_coef, m)`` and the log-joint ``Lt = coef.T @ Zt`` is ``(K, m)``, so that
every per-row operation of the softmax (maximum, exponential, sum, normalisation) is a
loop over ``m`` contiguous rows that the compiler vectorises, and both products are
matrix multiplications (BLAS) on contiguous operands.

The exponential. There is no vector ``exp`` in Numba's math library here (a scalar
``math.exp`` is a libm call per entry, which does not vectorise), so
:func:`_softmax_cols` evaluates ``exp(y)``, ``y <= 0``, branch-free
(:func:`_exp_parts`), the classical way: ``y = t ln 2 + r`` with ``t``
the nearest integer to ``y / ln 2`` and ``|r| <= ln(2) / 2`` (Cody-Waite: ``ln 2`` split
in a part whose products with ``t`` are exact and a remainder), ``exp(r)`` by its Taylor
polynomial of degree 13 (truncation below ``4e-18``) and the scaling by ``2**t`` written
into the exponent bits, as ``2**(t + 64)`` then ``2**-64`` so that results below the
smallest normal number (``y < -708.4``) round once into subnormals as ``math.exp``'s do.
``y`` is clamped at ``-746``, below which ``exp`` is exactly 0 (including ``y = -inf``,
the logits of emptied components). The result is within 1 ulp of ``math.exp`` (tested
in ``tests/test_mixture_estep.py`` over the whole range).
"""

import math

import numpy as np

from ._jit import BLOCK_ROWS, jit, jit_parallel, n_blocks, prange

FULL, TIED, DIAG, SPHERICAL = 0, 1, 2, 3

#: Largest number of rows per sub-block (the inner matrix products' size).
SUB_ROWS = 256

#: Sub-blocks are made smaller until ``rows * n_coef`` is at most this many entries, so
#: that ``Zt`` stays in the core's cache when ``[1, z(x)]`` is long (full covariances in
#: 64 dimensions have 2145 entries).
_SUB_ENTRIES = 32768

_LOG2E = 1.4426950408889634
_LN2_HI = 6.93147180369123816490e-01  # 32 significant bits: t * _LN2_HI is exact
_LN2_LO = 1.90821492927058770002e-10  # ln 2 - _LN2_HI
_EXP_CLAMP = -746.0  # exp(y) rounds to 0 below -745.14
_TWO_M64 = 2.0**-64
_C2, _C3, _C4, _C5, _C6, _C7 = (1.0 / math.factorial(j) for j in range(2, 8))
_C8, _C9, _C10, _C11, _C12, _C13 = (1.0 / math.factorial(j) for j in range(8, 14))


def n_coefficients(n_features, ctype):
    """Length of ``[1, z(x)]`` for a covariance type code."""
    if ctype == DIAG:
        return 1 + 2 * n_features
    if ctype == SPHERICAL:
        return 2 + n_features
    return 1 + n_features + n_features * (n_features + 1) // 2


@jit
def sub_rows(n_coef):
    """Rows per sub-block: :data:`SUB_ROWS`, halved (down to 32) while the sub-block's
    ``rows * n_coef`` exceeds ``_SUB_ENTRIES``."""
    rows = SUB_ROWS
    while rows > 32 and rows * n_coef > _SUB_ENTRIES:
        rows //= 2
    return rows


@jit
def _expand_cols(X, start, shift, inv_scale, ctype, Zt):
    """``Zt[:, i] = [1, z(X[start + i])]`` for ``i < m = Zt.shape[1]``: the expansion of
    :mod:`skvi._mixture_kernels`, ``u = x * inv_scale - shift`` (in float64), one row of
    ``X`` per column of ``Zt``."""
    d = X.shape[1]
    m = Zt.shape[1]
    for i in range(m):
        Zt[0, i] = 1.0
    for j in range(d):
        sj = shift[j]
        for i in range(m):
            Zt[1 + j, i] = X[start + i, j] * inv_scale - sj
    if ctype == DIAG:
        for j in range(d):
            for i in range(m):
                Zt[1 + d + j, i] = Zt[1 + j, i] * Zt[1 + j, i]
    elif ctype == SPHERICAL:
        for i in range(m):
            Zt[1 + d, i] = 0.0
        for j in range(d):
            for i in range(m):
                Zt[1 + d, i] += Zt[1 + j, i] * Zt[1 + j, i]
    else:
        p = 1 + d
        for a in range(d):
            for b in range(a, d):
                for i in range(m):
                    Zt[p, i] = Zt[1 + a, i] * Zt[1 + b, i]
                p += 1


@jit
def _exp_parts(y):
    """``exp(y)`` for ``y <= 0`` in two parts, ``(p, bits)``: ``exp(y) = p * f * 2**-64``
    with ``f`` the float64 whose bits are ``bits`` (``f = 2**(t + 64)``); the method is
    in the module docstring. Branch-free, so that loops over it vectorise."""
    y = max(y, _EXP_CLAMP)
    t = math.floor(y * _LOG2E + 0.5)
    r = (y - t * _LN2_HI) - t * _LN2_LO
    p = _C13
    p = p * r + _C12
    p = p * r + _C11
    p = p * r + _C10
    p = p * r + _C9
    p = p * r + _C8
    p = p * r + _C7
    p = p * r + _C6
    p = p * r + _C5
    p = p * r + _C4
    p = p * r + _C3
    p = p * r + _C2
    p = p * r + 1.0
    return p * r + 1.0, (np.int64(t) + (1023 + 64)) << 52


@jit
def exp_nonpositive(y):
    """``exp(y)`` of an array of values ``<= 0`` (or ``-inf``) by :func:`_exp_parts`: the
    exponential the softmax uses, for tests."""
    flat = y.ravel()
    out = np.empty(flat.size)
    bits = np.empty(flat.size, np.int64)
    for i in range(flat.size):
        out[i], bits[i] = _exp_parts(flat[i])
    scale = bits.view(np.float64)
    for i in range(flat.size):
        out[i] = out[i] * scale[i] * _TWO_M64
    return out.reshape(y.shape)


@jit
def _softmax_cols(Lt, E, bits, lse, s):
    """Softmax over the components of each column of ``Lt`` (Bishop 10.49).

    With ``Lt`` of shape ``(K, m)`` holding ``ln rho`` of ``m`` rows, write
    ``E[k, i] = exp(Lt[k, i] - lse[i])`` (the responsibilities) and
    ``lse[i] = ln sum_k exp(Lt[k, i])``, computed as ``max_k Lt[k, i] + ln s_i`` with
    ``s_i = sum_k exp(Lt[k, i] - max_k Lt[k, i])``. ``bits`` (int64, at least ``K * m``
    entries) and ``s`` (``m`` entries) are scratch space: the exponent bits of the
    scaling (module docstring) and the sums.
    """
    n_comp, m = Lt.shape
    flat = n_comp * m
    scale = bits[:flat].view(np.float64).reshape((n_comp, m))
    ints = bits[:flat].reshape((n_comp, m))
    for i in range(m):
        lse[i] = -np.inf
    for k in range(n_comp):
        for i in range(m):
            lse[i] = max(lse[i], Lt[k, i])
    for k in range(n_comp):
        for i in range(m):
            E[k, i], ints[k, i] = _exp_parts(Lt[k, i] - lse[i])
    for i in range(m):
        s[i] = 0.0
    for k in range(n_comp):
        for i in range(m):
            e = E[k, i] * scale[k, i] * _TWO_M64
            E[k, i] = e
            s[i] += e
    for i in range(m):
        inv = 1.0 / s[i]
        lse[i] += math.log(s[i])
        s[i] = inv
    for k in range(n_comp):
        for i in range(m):
            E[k, i] *= s[i]


#: What :func:`_block_pass` computes: the E-step and the statistics, or the
#: log-responsibilities.
_ESTEP, _LOG_RESP = 0, 1


@jit
def _block_pass(X, weights, shift, inv_scale, mat, ctype, mode, b, stats, extra, out):
    """One pass over the rows of block ``b`` (``BLOCK_ROWS`` rows from ``b * BLOCK_ROWS``),
    sub-block by sub-block (module docstring); the two kernels share it (one compiled
    function instead of two).

    ``mode == _ESTEP``: ``mat`` is ``coef``; write the statistics into ``stats`` and
    ``extra = [sum w r ln r, sum w lse]`` (:func:`estep_stats`). ``mode == _LOG_RESP``:
    ``mat`` is ``coef``; write the rows' ``ln r`` into ``out`` ``(n, K)`` and their ``lse``
    into ``extra`` ``(n,)`` (:func:`log_resp`).
    """
    n = X.shape[0]
    n_comp = mat.shape[1]
    n_coef = mat.shape[0] if mode == _LOG_RESP else stats.shape[0]
    stats[:] = 0.0
    sub = sub_rows(n_coef)
    z_buf = np.empty(n_coef * sub)
    e_buf = np.empty(n_comp * sub)
    bits = np.empty(n_comp * sub, np.int64)
    rows = np.empty((3, sub))
    lse, r_log_r, scratch = rows[0], rows[1], rows[2]
    ent = 0.0
    ll = 0.0
    stop = min(n, (b + 1) * BLOCK_ROWS)
    for s0 in range(b * BLOCK_ROWS, stop, sub):
        m = min(sub, stop - s0)
        Zt = z_buf[: n_coef * m].reshape((n_coef, m))
        Rt = e_buf[: n_comp * m].reshape((n_comp, m))
        _expand_cols(X, s0, shift, inv_scale, ctype, Zt)
        Lt = np.dot(mat.T, Zt)  # ln rho, (K, m)
        _softmax_cols(Lt, Rt, bits, lse, scratch)
        if mode == _LOG_RESP:
            for i in range(m):
                extra[s0 + i] = lse[i]
                for k in range(n_comp):
                    out[s0 + i, k] = Lt[k, i] - lse[i]
            continue
        for i in range(m):
            r_log_r[i] = 0.0
        for k in range(n_comp):
            for i in range(m):
                r = Rt[k, i]
                r_log_r[i] += r * (Lt[k, i] - lse[i]) if r > 0.0 else 0.0
                Rt[k, i] = weights[s0 + i] * r
        for i in range(m):
            w = weights[s0 + i]
            if w != 0.0:
                ll += w * lse[i]
                ent += w * r_log_r[i]
        stats += np.dot(Zt, Rt.T)
    if mode != _LOG_RESP:
        extra[0] = ent
        extra[1] = ll


def _run_blocks(X, weights, shift, inv_scale, mat, ctype, mode, blocks, extra_b, norm, out):
    """:func:`_block_pass` of every block of rows (the one loop the two kernels share,
    compiled serial and parallel): block ``b`` writes ``blocks[b]`` and ``extra_b[b]``
    (``mode`` ``_ESTEP``) or its rows of ``norm`` and ``out`` (``_LOG_RESP``)."""
    for i in prange(n_blocks(X.shape[0])):
        b = np.int64(i)  # int64 in both builds: one compiled _block_pass
        if mode == _LOG_RESP:
            _block_pass(X, weights, shift, inv_scale, mat, ctype, mode, b, blocks[0], norm, out)
        else:
            _block_pass(
                X, weights, shift, inv_scale, mat, ctype, mode, b, blocks[b], extra_b[b], out
            )


@jit
def _sum_blocks(blocks, extra_b):
    """``(blocks.sum(axis=0), extra_b.sum(axis=0))``, adding the blocks in index order (the
    same order for any number of threads)."""
    stats = np.zeros(blocks.shape[1:])
    extra = np.zeros(extra_b.shape[1])
    for b in range(blocks.shape[0]):
        stats += blocks[b]
        extra += extra_b[b]
    return stats, extra


_run_blocks_parallel = jit_parallel(_run_blocks)
_run_blocks_serial = jit(_run_blocks)
_NONE2 = np.empty((0, 0))
_NONE1 = np.empty(0)


def _stats(run, X, weights, shift, inv_scale, mat, ctype, n_coef, mode):
    """Statistics by block with ``run`` (a build of :func:`_run_blocks`), summed."""
    nb = n_blocks(X.shape[0])
    blocks = np.empty((nb, n_coef, mat.shape[1]))
    extra_b = np.empty((nb, 2))
    run(X, weights, shift, inv_scale, mat, ctype, mode, blocks, extra_b, _NONE1, _NONE2)
    return _sum_blocks(blocks, extra_b)


def estep_stats(X, weights, shift, inv_scale, coef, ctype):
    """Fused E-step and sufficient statistics.

    With ``Z`` the rows ``[1, z(x_n)]`` and ``coef`` of shape ``(1 + len(z), K)`` (row 0
    the constants), this equals in NumPy::

        L = Z @ coef                                  # ln rho, Bishop (10.46)
        R = softmax(L, axis=1)                        # (10.49)
        stats = Z.T @ (weights[:, None] * R)          # [N_k; sum_n w r z(x_n)]
        extra = [sum(weights[:, None] * R * log R), sum(weights * logsumexp(L, axis=1))]

    (``R * log R`` taken as 0 where ``R`` is 0). Rows are processed in sub-blocks
    (:func:`sub_rows`), transposed (module docstring), so that both products are matrix
    multiplications; each block of :data:`BLOCK_ROWS` rows has its own accumulator
    (:func:`_block_pass`) and blocks are reduced in index order.
    """
    return _stats(
        _run_blocks_parallel, X, weights, shift, inv_scale, coef, ctype, coef.shape[0], _ESTEP
    )


def estep_stats_serial(X, weights, shift, inv_scale, coef, ctype):
    """:func:`estep_stats` on the calling thread only (inside Dask tasks)."""
    return _stats(
        _run_blocks_serial, X, weights, shift, inv_scale, coef, ctype, coef.shape[0], _ESTEP
    )


def _log_resp(run, X, shift, inv_scale, coef, ctype):
    """:func:`log_resp` with ``run`` (a build of :func:`_run_blocks`)."""
    n = X.shape[0]
    out = np.empty((n, coef.shape[1]))
    norm = np.empty(n)
    blocks = np.empty((1, 0, 0))
    run(X, norm, shift, inv_scale, coef, ctype, _LOG_RESP, blocks, blocks[0], norm, out)
    return out, norm


def log_resp(X, shift, inv_scale, coef, ctype):
    """``(log_softmax(Z @ coef), logsumexp(Z @ coef))``: normalised log-responsibilities
    ``(n, K)`` and per-row log-normalisers ``(n,)`` (``Z`` as in :func:`estep_stats`)."""
    return _log_resp(_run_blocks_parallel, X, shift, inv_scale, coef, ctype)


def log_resp_serial(X, shift, inv_scale, coef, ctype):
    """:func:`log_resp` on the calling thread only (inside Dask tasks)."""
    return _log_resp(_run_blocks_serial, X, shift, inv_scale, coef, ctype)


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
log_student_t = jit_parallel(_log_student_t)
log_student_t_serial = jit(_log_student_t)
