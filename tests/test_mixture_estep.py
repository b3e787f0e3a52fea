"""The mixture's Numba kernels (skvi/_mixture_estep.py) against plain NumPy: the
branch-free exponential against ``math.exp``, the fused E-step and statistics, the
statistics of given responsibilities and the log-responsibilities against the expanded
features built in NumPy, over the covariance types, both input dtypes, sizes that cross
the sub-blocks and the blocks, emptied components and underflowing responsibilities."""

import math

import numba
import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy.special import logsumexp

from skvi import _mixture_estep as est
from skvi._jit import BLOCK_ROWS, n_blocks

CTYPES = {"full": est.FULL, "tied": est.TIED, "diag": est.DIAG, "spherical": est.SPHERICAL}


# ------------------------------------------------------------------ NumPy references
def _expanded(X, shift, inv_scale, ctype):
    """``[1, z(x)]`` per row, as in the docstring of skvi._mixture_kernels."""
    u = np.asarray(X, dtype=np.float64) * inv_scale - shift
    n, d = u.shape
    if ctype == est.DIAG:
        z = np.hstack([u, u * u])
    elif ctype == est.SPHERICAL:
        z = np.hstack([u, np.sum(u * u, axis=1, keepdims=True)])
    else:
        iu = np.triu_indices(d)
        z = np.hstack([u, u[:, iu[0]] * u[:, iu[1]]])
    return np.hstack([np.ones((n, 1)), z])


def _reference(X, w, shift, inv_scale, coef, ctype):
    """``(stats, extra, log_resp, log_norm)`` of ``_estep_stats``'s docstring."""
    Z = _expanded(X, shift, inv_scale, ctype)
    L = Z @ coef
    norm = logsumexp(L, axis=1)
    log_r = L - norm[:, None]
    R = np.exp(log_r)
    stats = Z.T @ (w[:, None] * R)
    r_log_r = np.where(R > 0, R * log_r, 0.0)
    extra = np.array([np.sum(w[:, None] * r_log_r), np.sum(w * norm)])
    return stats, extra, log_r, norm


def _problem(n, d, k, ctype, dtype=np.float64, seed=0):
    """Rows around a few centres, weights with zeros, units with a centre and a power-of-two
    scale, and coefficients whose log-joint is a concave quadratic per component."""
    rng = np.random.default_rng(seed)
    X = (rng.normal(size=(n, d)) + 3.0 * rng.integers(0, 3, size=(n, 1))).astype(dtype)
    w = rng.uniform(0.2, 2.0, size=n)
    w[::7] = 0.0
    shift, inv_scale = rng.normal(size=d) * 0.25, 0.25
    n_coef = est.n_coefficients(d, ctype)
    coef = rng.normal(size=(n_coef, k)) * 0.3
    coef[0] = rng.normal(size=k)
    quad = coef[1 + d :]
    if ctype == est.DIAG or ctype == est.SPHERICAL:
        quad[:] = -np.abs(quad) - 0.1
    else:
        iu = np.triu_indices(d)
        quad[iu[0] == iu[1]] = -np.abs(quad[iu[0] == iu[1]]) - 0.5 * d
    return X, w, shift, inv_scale, coef


def _max_rel(a, b):
    """Largest difference relative to the largest entry of its column (statistics of
    different magnitudes share a column)."""
    scale = np.maximum(np.max(np.abs(b), axis=0), 1e-300)
    return np.max(np.abs(a - b) / scale)


# ------------------------------------------------------------------ the exponential
def _ulps(a, b):
    return np.abs(a.view(np.int64) - b.view(np.int64))


def test_exp_is_within_one_ulp_of_math_exp_over_the_whole_range():
    rng = np.random.default_rng(0)
    y = np.concatenate(
        [
            -rng.uniform(0.0, 746.0, 200_000),
            -rng.uniform(0.0, 1e-3, 20_000),
            -rng.uniform(700.0, 746.0, 20_000),  # subnormal results and the underflow
            -np.ldexp(1.0, -np.arange(1, 1075)),  # tiny arguments down to the smallest
            -np.log(2.0) * np.arange(0, 1080) / 2,  # near the reduction's break points
            [0.0, -0.0, -745.13, -745.1332191019411, -745.14, -708.39, -708.4, -709.0],
        ]
    )
    out = est.exp_nonpositive(y)
    ref = np.array([math.exp(v) for v in y])
    assert np.max(_ulps(out, ref)) <= 1
    assert np.all(out[y < -745.14] == 0.0)


def test_exp_of_minus_infinity_and_far_below_underflow_is_exactly_zero():
    y = np.array([-np.inf, -1e300, -800.0, -746.0, -745.2])
    out = est.exp_nonpositive(y)
    assert np.array_equal(out, np.zeros(5))
    assert not np.signbit(out).any()


# ------------------------------------------------------------------ the fused E-step
@pytest.mark.parametrize("ctype", list(CTYPES))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n", [1, 37, 2 * BLOCK_ROWS + 301])
@pytest.mark.parametrize("n_comp", [6, 16])  # both orientations of the statistics
def test_estep_stats_match_the_numpy_reference(ctype, dtype, n, n_comp):
    code = CTYPES[ctype]
    X, w, shift, inv_scale, coef = _problem(n, 5, n_comp, code, dtype)
    stats, extra = est.estep_stats(X, w, shift, inv_scale, coef, code)
    ref_stats, ref_extra, _, _ = _reference(X, w, shift, inv_scale, coef, code)
    assert stats.shape == coef.shape and stats.dtype == np.float64
    assert _max_rel(stats, ref_stats) < 1e-13
    assert_allclose(extra, ref_extra, rtol=1e-12)


@pytest.mark.parametrize("n", [0, 1, BLOCK_ROWS, BLOCK_ROWS + 1, 1437, 50 * BLOCK_ROWS - 3])
def test_blocks_are_equal_cover_every_row_and_stay_within_block_rows(n):
    rows, nb = est.block_rows(n), n_blocks(n)
    assert 1 <= rows <= BLOCK_ROWS
    assert (nb - 1) * rows < max(n, 1) <= nb * rows  # every block has rows, all are covered
    assert nb * rows - max(n, 1) < nb  # equal up to one row per block


@pytest.mark.parametrize("d", [20, 64])
def test_long_expansions_use_smaller_sub_blocks_and_stay_exact(d):
    # full covariances in 20 and 64 dimensions: 231 and 2145 coefficients
    X, w, shift, inv_scale, coef = _problem(BLOCK_ROWS + 77, d, 4, est.FULL, seed=d)
    coef[1 + d :] /= d
    n_coef = coef.shape[0]
    assert est.sub_rows(n_coef) < est.SUB_ROWS
    stats, extra = est.estep_stats(X, w, shift, inv_scale, coef, est.FULL)
    ref_stats, ref_extra, log_r, norm = _reference(X, w, shift, inv_scale, coef, est.FULL)
    assert _max_rel(stats, ref_stats) < 1e-13
    assert_allclose(extra, ref_extra, rtol=1e-12)
    got_log_r, got_norm = est.log_resp(X, shift, inv_scale, coef, est.FULL)
    assert_allclose(got_norm, norm, rtol=1e-13, atol=1e-14 * np.abs(norm).max())
    assert_allclose(got_log_r, log_r, rtol=1e-12, atol=1e-12)


def test_sub_rows_fit_the_entry_budget_and_divide_the_block():
    for n_coef in [3, 6, 45, 128, 129, 231, 1000, 2145, 100_000]:
        rows = est.sub_rows(n_coef)
        assert BLOCK_ROWS % rows == 0
        assert rows * n_coef <= est._SUB_ENTRIES or rows == 32
        assert rows == est.SUB_ROWS or 2 * rows * n_coef > est._SUB_ENTRIES


def test_responsibilities_that_underflow_are_exact_zeros_or_subnormals():
    # logits 0, -700, -720, -745.5 and -900 apart: exp underflows to subnormals and to 0
    X, w, shift, inv_scale, coef = _problem(50, 2, 5, est.FULL)
    coef[:] = 0.0
    coef[0] = [0.0, -700.0, -720.0, -745.5, -900.0]
    log_r, norm = est.log_resp(X, shift, inv_scale, coef, est.FULL)
    assert_allclose(norm, 0.0, atol=1e-15)
    assert np.array_equal(log_r[:, 1:], np.broadcast_to(coef[0, 1:], (50, 4)))
    stats, extra = est.estep_stats(X, w, shift, inv_scale, coef, est.FULL)
    ref_stats, ref_extra, _, _ = _reference(X, w, shift, inv_scale, coef, est.FULL)
    assert stats[0, 1] == pytest.approx(np.exp(-700.0) * w.sum(), rel=1e-13)
    assert 0.0 < stats[0, 2] < 1e-300  # subnormal, as np.exp gives
    assert np.all(stats[:, 3:] == 0.0)
    assert_allclose(stats, ref_stats, rtol=1e-13, atol=0)
    # sum w r ln r is about -700 e^-700 per row; ln(1 + e^-700) rounds to 0 in float64
    assert_allclose(extra, ref_extra, rtol=1e-2, atol=1e-290)


@pytest.mark.parametrize("ctype", list(CTYPES))
def test_an_emptied_component_gets_exactly_zero_and_no_nan(ctype):
    code = CTYPES[ctype]
    X, w, shift, inv_scale, coef = _problem(BLOCK_ROWS + 5, 3, 4, code)
    coef[0, 2] = -np.inf
    stats, extra = est.estep_stats(X, w, shift, inv_scale, coef, code)
    assert np.all(np.isfinite(stats)) and np.all(np.isfinite(extra))
    assert np.all(stats[:, 2] == 0.0)
    kept = np.delete(coef, 2, axis=1)
    ref_stats, ref_extra, _, _ = _reference(X, w, shift, inv_scale, kept, code)
    assert _max_rel(np.delete(stats, 2, axis=1), ref_stats) < 1e-13
    assert_allclose(extra, ref_extra, rtol=1e-12)
    log_r, norm = est.log_resp(X, shift, inv_scale, coef, code)
    assert np.all(log_r[:, 2] == -np.inf) and np.all(np.isfinite(norm))


def test_a_row_with_every_component_emptied_gives_nan_as_before():
    # the behaviour of the kernels before the vectorised softmax: NaN, never a crash
    X, w, shift, inv_scale, coef = _problem(20, 2, 3, est.FULL)
    coef[0] = -np.inf
    stats, extra = est.estep_stats(X, w, shift, inv_scale, coef, est.FULL)
    assert np.isnan(stats[0]).all() and np.isnan(extra[1])
    log_r, norm = est.log_resp(X, shift, inv_scale, coef, est.FULL)
    assert np.isnan(log_r).all() and np.isnan(norm).all()


@pytest.mark.parametrize("ctype", list(CTYPES))
def test_log_resp_matches_the_numpy_reference(ctype):
    code = CTYPES[ctype]
    X, w, shift, inv_scale, coef = _problem(BLOCK_ROWS + 300, 4, 5, code, seed=3)
    ref_stats, ref_extra, log_r, norm = _reference(X, w, shift, inv_scale, coef, code)
    got_log_r, got_norm = est.log_resp(X, shift, inv_scale, coef, code)
    assert_allclose(got_norm, norm, rtol=1e-13, atol=1e-14 * np.abs(norm).max())
    assert_allclose(got_log_r, log_r, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("ctype", list(CTYPES))
def test_twins_agree_bit_for_bit_for_any_thread_count_and_inputs_are_kept(ctype, thread_counts):
    code = CTYPES[ctype]
    X, w, shift, inv_scale, coef = _problem(4 * BLOCK_ROWS + 11, 3, 7, code, seed=5)
    before = [a.copy() for a in (X, w, shift, coef)]
    args = (X, w, shift, inv_scale, coef, code)
    serial = est.estep_stats_serial(*args)
    log_serial = est.log_resp_serial(X, shift, inv_scale, coef, code)
    for threads in thread_counts:  # 1 and 2
        numba.set_num_threads(threads)
        par = est.estep_stats(*args)
        log_par = est.log_resp(X, shift, inv_scale, coef, code)
        for a, b in zip(serial + log_serial, par + log_par, strict=True):
            assert np.array_equal(a, b)
    for a, b in zip(before, (X, w, shift, coef), strict=True):
        assert np.array_equal(a, b)
