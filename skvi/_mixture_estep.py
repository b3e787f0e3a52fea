"""The variational Gaussian mixture's Numba kernels: the E-step fused with the statistics,
the log-responsibilities of new data and the Student-t log densities of the predictive
(the statistics of given responsibilities, needed once per fit, are NumPy:
:func:`skvi._mixture_kernels.resp_chunk_stats`).

They work on the expanded feature vectors ``[1, z(x)]`` described in
:mod:`skvi._mixture_kernels` (which holds the model's mathematics and calls these). The
rows are cut in blocks (at most :data:`skvi._jit.BLOCK_ROWS` rows, see :func:`block_rows`),
each with its own accumulator, reduced in index order; the blocks are shared between
threads (:func:`_run_threaded`) or all run on the calling thread (``*_serial``, for Dask
tasks), with the same result, bit for bit, for any number of threads.

Layout. Inside a block, rows are taken in sub-blocks of at most :data:`SUB_ROWS` rows
(fewer when ``[1, z(x)]`` is long, see :func:`sub_rows`), stored one row per *column*:
``Zt`` is ``(n_coef, m)`` and the log-joint ``Lt = coef.T @ Zt`` is ``(K, m)``, so that
every per-row operation of the softmax (maximum, exponential, sum, normalisation) is a
loop over ``m`` contiguous rows that the compiler vectorises, and both products are
matrix multiplications (BLAS) on contiguous operands (``coef.T`` and the statistics are
kept as ``(K, n_coef)`` arrays, the faster orientation for BLAS).

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
import os
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np
from numba import types
from numba.extending import overload
from numba.np.linalg import ensure_blas

from ._jit import BLOCK_ROWS, jit, jit_inline, jit_parallel, max_threads, n_blocks, prange

FULL, TIED, DIAG, SPHERICAL = 0, 1, 2, 3

#: Largest number of rows per sub-block (the inner matrix products' size).
SUB_ROWS = 256

#: Sub-blocks are made smaller until ``rows * n_coef`` is at most this many entries, so
#: that ``Zt`` stays in the core's cache when ``[1, z(x)]`` is long (full covariances in
#: 64 dimensions have 2145 entries).
_SUB_ENTRIES = 32768
#: ... but not below this many rows (the products' efficiency drops below it).
_MIN_SUB = 32

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


def block_rows(n_rows):
    """Rows per block of the kernels: the :func:`~skvi._jit.n_blocks` blocks that
    :data:`~skvi._jit.BLOCK_ROWS` would give, made equal (the last one at most
    ``n_blocks - 1`` rows shorter), so that the threads share the work evenly (1437 rows:
    719 + 718 rather than 1024 + 413). A function of ``n_rows`` only, never of the
    number of threads: the result is the same bit for bit for any number of threads."""
    nb = n_blocks(n_rows)
    return max(1, -(-n_rows // nb))


def sub_rows(n_coef):
    """Rows per sub-block: :data:`SUB_ROWS`, halved (down to ``_MIN_SUB``) while the
    sub-block's ``rows * n_coef`` exceeds ``_SUB_ENTRIES``."""
    rows = SUB_ROWS
    while rows > _MIN_SUB and rows * n_coef > _SUB_ENTRIES:
        rows //= 2
    return rows


# ------------------------------------------------------------------ products
# The two matrix products call BLAS's dgemm directly, through the entry point that Numba's
# own ``np.dot`` uses: one call per product, accumulating in place (``beta = 1``), with
# no temporary and none of the layout dispatch that ``np.dot`` compiles for each operand
# layout (cold start). Without the JIT the NumPy bodies below run.
ensure_blas()
_F64P = types.CPointer(types.float64)
_DGEMM = types.ExternalFunction(  # c = alpha op(a) op(b) + beta c, column-major, as BLAS
    "numba_xxgemm",
    types.intc(*(types.char,) * 3, *(types.intp,) * 3, _F64P, _F64P, types.intp, _F64P,
               types.intp, _F64P, _F64P, types.intp),
)  # fmt: skip
_ONE_ZERO = np.array([1.0, 0.0])  # alpha = 1; beta = 1 or 0 (a slice of it)
_REAL, _NO_TRANS, _TRANS = ord("d"), ord("n"), ord("t")  # dgemm's character arguments


def _a_b(a, b, out):
    """``out[:] = a @ b`` for C-contiguous ``a`` ``(k, p)``, ``b`` ``(p, m)``, ``out``
    ``(k, m)``."""
    out[:] = a @ b


def _add_a_bt(a, b, out):
    """``out += a @ b.T`` for C-contiguous ``a`` ``(k, m)``, ``b`` ``(p, m)``, ``out``
    ``(k, p)``."""
    out += a @ b.T


# In column-major terms (BLAS's), a C-contiguous (r, c) array is its (c, r) transpose.
# ``coef`` is passed as ``(K, n_coef)``. The statistics are accumulated with ``K`` as
# BLAS's ``m`` (rows of its output) when ``K`` is a multiple of 8, the width of its
# vector kernels, and with ``n_coef`` as ``m`` otherwise: for digits' 'full' (``K = 10``,
# ``n_coef = 2145``) the second takes three quarters of the time of the first.
@overload(_a_b)
def _a_b_blas(a, b, out):
    def impl(a, b, out):  # out.T = b.T a.T
        k, p = a.shape
        m = b.shape[1]
        c = _ONE_ZERO
        _DGEMM(_REAL, _NO_TRANS, _NO_TRANS, m, k, p, c.ctypes, b.ctypes, m, a.ctypes, p,
               c[1:].ctypes, out.ctypes, m)  # fmt: skip

    return impl


@overload(_add_a_bt)
def _add_a_bt_blas(a, b, out):
    def impl(a, b, out):  # out.T += b a.T
        k, m = a.shape
        p = b.shape[0]
        c = _ONE_ZERO
        _DGEMM(_REAL, _TRANS, _NO_TRANS, p, k, m, c.ctypes, b.ctypes, m, a.ctypes, m,
               c.ctypes, out.ctypes, p)  # fmt: skip

    return impl


@jit_inline
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


@jit_inline
def _exp_parts(y):
    """``exp(y)`` for ``y <= 0`` in two parts, ``(p, bits)``: ``exp(y) = p * f * 2**-64``
    with ``f`` the float64 whose bits are ``bits`` (``f = 2**(t + 64)``); the method is
    in the module docstring. Branch-free, so that loops over it vectorise."""
    y = max(y, _EXP_CLAMP)
    # max(-1100, v) is v for every y >= -746, and -1100 for y NaN (max keeps its first
    # argument then, in Python and Numba alike): r stays NaN, and floor and int64 get a
    # number, since in the Python source (no JIT) they raise on NaN
    t = math.floor(max(-1100.0, y * _LOG2E + 0.5))
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
    scale = np.empty(flat.size)
    bits = scale.view(np.int64)
    for i in range(flat.size):
        out[i], bits[i] = _exp_parts(flat[i])
    for i in range(flat.size):
        out[i] = out[i] * scale[i] * _TWO_M64
    return out.reshape(y.shape)


@jit_inline
def _softmax_cols(Lt, E, scale_buf, lse, s):
    """Softmax over the components of each column of ``Lt`` (Bishop 10.49).

    With ``Lt`` of shape ``(K, m)`` holding ``ln rho`` of ``m`` rows, write
    ``E[k, i] = exp(Lt[k, i] - lse[i])`` (the responsibilities) and
    ``lse[i] = ln sum_k exp(Lt[k, i])``, computed as ``max_k Lt[k, i] + ln s_i`` with
    ``s_i = sum_k exp(Lt[k, i] - max_k Lt[k, i])``. ``scale_buf`` (at least ``K * m``
    entries) and ``s`` (``m`` entries) are scratch space: the scalings ``2**(t + 64)``,
    written as integer bits (module docstring), and the sums.
    """
    n_comp, m = Lt.shape
    flat = n_comp * m
    scale = scale_buf[:flat].reshape((n_comp, m))
    ints = scale_buf[:flat].view(np.int64).reshape((n_comp, m))
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
def _block_pass(X, weights, shift, inv_scale, coef_t, ctype, mode, sub, rows, b, stats, extra, out):
    """One pass over the rows of block ``b`` (``rows`` rows from ``b * rows``, see
    :func:`block_rows`), sub-block by sub-block of ``sub`` rows (:func:`sub_rows`); the two
    kernels share it (one compiled function instead of two).

    ``coef_t`` is ``coef.T``, ``(K, n_coef)``. ``mode == _ESTEP``: write the statistics
    into ``stats`` (transposed, ``(K, n_coef)``, unless ``K`` is a multiple of 8: then
    ``(n_coef, K)``) and ``extra = [sum w r ln r, sum w lse]`` (:func:`estep_stats`).
    ``mode == _LOG_RESP``: write the rows' ``ln r`` into ``out`` ``(n, K)`` and their
    ``lse`` into ``extra`` ``(n,)`` (:func:`log_resp`).
    """
    n = X.shape[0]
    n_comp, n_coef = coef_t.shape
    stats[:] = 0.0
    kc = n_comp * sub
    o = n_coef * sub
    buf = np.empty(o + 3 * kc + 3 * sub)  # one allocation, cut in pieces
    z_buf, e_buf = buf[:o], buf[o : o + kc]
    l_buf, scale = buf[o + kc : o + 2 * kc], buf[o + 2 * kc : o + 3 * kc]
    o += 3 * kc
    lse, r_log_r, scratch = buf[o : o + sub], buf[o + sub : o + 2 * sub], buf[o + 2 * sub :]
    ent = 0.0
    ll = 0.0
    stop = min(n, (b + 1) * rows)
    for s0 in range(b * rows, stop, sub):
        m = min(sub, stop - s0)
        Zt = z_buf[: n_coef * m].reshape((n_coef, m))
        Rt = e_buf[: n_comp * m].reshape((n_comp, m))
        Lt = l_buf[: n_comp * m].reshape((n_comp, m))
        _expand_cols(X, s0, shift, inv_scale, ctype, Zt)
        _a_b(coef_t, Zt, Lt)  # ln rho
        _softmax_cols(Lt, Rt, scale, lse, scratch)
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
        if n_comp % 8 != 0:  # stats (K, n_coef), as _stats allocates them
            _add_a_bt(Rt, Zt, stats)
        else:  # stats (n_coef, K)
            _add_a_bt(Zt, Rt, stats)
    if mode != _LOG_RESP:
        extra[0] = ent
        extra[1] = ll


@jit
def _run_blocks(
    X, weights, shift, inv_scale, coef_t, ctype, mode, sub, rows, b0, b1, blocks, extra_b, norm,
    out,
):  # fmt: skip
    """:func:`_block_pass` of the blocks ``b0 <= b < b1`` (the loop the two kernels share):
    block ``b`` writes ``blocks[b]`` and ``extra_b[b]`` (``mode`` ``_ESTEP``) or its rows of
    ``norm`` and ``out`` (``_LOG_RESP``)."""
    for b in range(b0, b1):
        extra = norm if mode == _LOG_RESP else extra_b[b]
        _block_pass(
            X, weights, shift, inv_scale, coef_t, ctype, mode, sub, rows, b, blocks[b], extra, out
        )


def _run_serial(*args):
    """:func:`_run_blocks` of every block (``args`` without ``b0, b1``), on this thread."""
    _run_blocks(*args[:9], 0, args[9].shape[0], *args[9:])


_POOL = [None, None]  # (process id, thread pool)


def _run_threaded(*args):
    """:func:`_run_blocks` of every block, the blocks split in ``numba.get_num_threads()``
    contiguous ranges run at once (the kernel releases the GIL), one on this thread. Each
    block is computed alone, so the result does not depend on the split. Python threads
    rather than a parallel Numba build of the loop, whose compilation would add to the
    serial build's (cold start) for a hand-off of a few tens of microseconds per call."""
    nb = args[9].shape[0]
    n_threads = min(numba.get_num_threads(), nb)
    if n_threads < 2:
        return _run_serial(*args)
    if _POOL[0] != os.getpid():  # a new pool after a fork
        _POOL[:] = os.getpid(), ThreadPoolExecutor(max_threads() - 1)
    edges = [nb * j // n_threads for j in range(n_threads + 1)]
    tasks = [
        _POOL[1].submit(_run_blocks, *args[:9], edges[j], edges[j + 1], *args[9:])
        for j in range(1, n_threads)
    ]
    _run_blocks(*args[:9], edges[0], edges[1], *args[9:])
    for task in tasks:
        task.result()


_NONE2 = np.empty((0, 0))
_NONE1 = np.empty(0)


def _stats(run, X, weights, shift, inv_scale, coef, ctype):
    """Statistics by block with ``run`` (:func:`_run_serial` or :func:`_run_threaded`),
    summed."""
    n = X.shape[0]
    n_coef, n_comp = coef.shape
    coef_t = np.ascontiguousarray(coef.T)
    k_major = n_comp % 8 != 0  # the statistics' orientation (see _a_b), as in _block_pass
    blocks = np.empty((n_blocks(n), *((n_comp, n_coef) if k_major else (n_coef, n_comp))))
    extra_b = np.empty((n_blocks(n), 2))
    sub, rows = sub_rows(n_coef), block_rows(n)
    args = (X, weights, shift, inv_scale, coef_t, ctype, _ESTEP, sub, rows)
    run(*args, blocks, extra_b, _NONE1, _NONE2)
    # NumPy adds the blocks in a fixed order, whatever the number of threads
    stats = blocks.sum(axis=0)
    return np.ascontiguousarray(stats.T) if k_major else stats, extra_b.sum(axis=0)


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
    multiplications; each block of rows (:func:`block_rows`) has its own accumulator
    (:func:`_block_pass`) and blocks are reduced in index order.
    """
    return _stats(_run_threaded, X, weights, shift, inv_scale, coef, ctype)


def estep_stats_serial(X, weights, shift, inv_scale, coef, ctype):
    """:func:`estep_stats` on the calling thread only (inside Dask tasks)."""
    return _stats(_run_serial, X, weights, shift, inv_scale, coef, ctype)


def _log_resp(run, X, shift, inv_scale, coef, ctype):
    """:func:`log_resp` with ``run`` (:func:`_run_serial` or :func:`_run_threaded`)."""
    n = X.shape[0]
    out = np.empty((n, coef.shape[1]))
    norm = np.empty(n)
    blocks = np.empty((n_blocks(n), 0, 0))  # no statistics
    sub, rows = sub_rows(coef.shape[0]), block_rows(n)
    coef_t = np.ascontiguousarray(coef.T)
    run(
        X, norm, shift, inv_scale, coef_t, ctype, _LOG_RESP, sub, rows, blocks, blocks[0], norm, out
    )
    return out, norm


def log_resp(X, shift, inv_scale, coef, ctype):
    """``(log_softmax(Z @ coef), logsumexp(Z @ coef))``: normalised log-responsibilities
    ``(n, K)`` and per-row log-normalisers ``(n,)`` (``Z`` as in :func:`estep_stats`)."""
    return _log_resp(_run_threaded, X, shift, inv_scale, coef, ctype)


def log_resp_serial(X, shift, inv_scale, coef, ctype):
    """:func:`log_resp` on the calling thread only (inside Dask tasks)."""
    return _log_resp(_run_serial, X, shift, inv_scale, coef, ctype)


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
    for b in prange((n + BLOCK_ROWS - 1) // BLOCK_ROWS):
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
