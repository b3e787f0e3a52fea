"""The mixture kernels against the plain NumPy references of ``_naive.py``."""

import numba
import numpy as np
import pytest
from numpy.testing import assert_allclose

from skvi import VariationalGaussianMixture
from skvi import _mixture_kernels as kern

from . import _naive as nv

COVARIANCE_TYPES = ["full", "tied", "diag", "spherical"]
PRIOR_TYPES = ["dirichlet_process", "dirichlet_distribution"]


def _fitted(covariance_type, prior_type, n=300, d=3, k=4, seed=0, reg_covar=1e-3):
    rng = np.random.RandomState(seed)
    X = np.vstack([rng.randn(n // 3, d) + 4 * c for c in range(3)])
    X = X @ rng.randn(d, d) * 0.5 + rng.randn(d)
    model = VariationalGaussianMixture(
        n_components=k,
        covariance_type=covariance_type,
        weight_concentration_prior_type=prior_type,
        reg_covar=reg_covar,
        max_iter=4,
        tol=0,
        random_state=seed,
    )
    with pytest.warns(Warning):
        model.fit(X)
    return model, X


def _scale_inv(model):
    dof = model.degrees_of_freedom_
    cov = model.covariances_
    if model.covariance_type == "full":
        return cov * dof[:, None, None]
    if model.covariance_type == "diag":
        return cov * dof[:, None]
    return cov * dof


@pytest.mark.parametrize("prior_type", PRIOR_TYPES)
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_log_resp_matches_reference(covariance_type, prior_type):
    model, X = _fitted(covariance_type, prior_type)
    ref_resp, ref_norm = nv.log_resp(
        X,
        model.weight_concentration_,
        prior_type,
        model.mean_precision_,
        model.means_,
        model.degrees_of_freedom_,
        _scale_inv(model),
        covariance_type,
        reg_covar=model.reg_covar,
    )
    log_resp, norm = kern.log_resp(X, model._shift, model._inv_scale, model._coef, model._ctype)
    # the kernel works on y = (x - c) / s, whose densities are s**d times those of x
    assert_allclose(norm, ref_norm - X.shape[1] * np.log(model._inv_scale), rtol=1e-10)
    assert_allclose(np.exp(log_resp), np.exp(ref_resp), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_estep_stats_match_reference(covariance_type):
    model, X = _fitted(covariance_type, "dirichlet_process")
    rng = np.random.RandomState(1)
    w = rng.uniform(0.0, 2.0, size=len(X))
    w[::7] = 0.0
    stats, extra = kern.estep_stats(X, w, model._shift, model._inv_scale, model._coef, model._ctype)

    log_resp, norm = nv.log_resp(
        X,
        model.weight_concentration_,
        "dirichlet_process",
        model.mean_precision_,
        model.means_,
        model.degrees_of_freedom_,
        _scale_inv(model),
        covariance_type,
        reg_covar=model.reg_covar,
    )
    resp = np.exp(log_resp)
    nk, xbar, scatter = nv.suff_stats((X - model._center) * model._inv_scale, resp, w)
    d = X.shape[1]
    assert_allclose(stats[0], nk, rtol=1e-10)
    assert_allclose(stats[1 : d + 1].T, nk[:, None] * xbar, rtol=1e-9, atol=1e-9)
    second = scatter + nk[:, None, None] * xbar[:, :, None] * xbar[:, None, :]
    quad = stats[d + 1 :].T
    if covariance_type in ("full", "tied"):
        iu = np.triu_indices(d)
        assert_allclose(quad, second[:, iu[0], iu[1]], rtol=1e-9, atol=1e-9)
    elif covariance_type == "diag":
        assert_allclose(quad, np.diagonal(second, axis1=1, axis2=2), rtol=1e-9, atol=1e-9)
    else:
        assert_allclose(quad[:, 0], np.trace(second, axis1=1, axis2=2), rtol=1e-9, atol=1e-9)
    r_log_r = np.where(resp > 0, resp * log_resp, 0.0)
    assert_allclose(extra[0], np.sum(w[:, None] * r_log_r), rtol=1e-9)
    assert_allclose(extra[1], np.sum(w * (norm - d * np.log(model._inv_scale))), rtol=1e-10)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_resp_stats_equal_estep_stats_for_the_same_resp(covariance_type):
    model, X = _fitted(covariance_type, "dirichlet_distribution")
    w = np.ones(len(X))
    stats, extra = kern.estep_stats(X, w, model._shift, model._inv_scale, model._coef, model._ctype)
    log_resp, _ = kern.log_resp(X, model._shift, model._inv_scale, model._coef, model._ctype)
    n_coef = kern.n_coefficients(X.shape[1], model._ctype)
    stats2, ent = kern.resp_stats(
        X, w, model._shift, model._inv_scale, np.exp(log_resp), model._ctype, n_coef
    )
    assert_allclose(stats2, stats, rtol=1e-12, atol=1e-12)
    assert_allclose(ent, extra[0], rtol=1e-10)


@pytest.mark.parametrize("prior_type", PRIOR_TYPES)
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_score_samples_matches_student_t_reference(covariance_type, prior_type):
    model, X = _fitted(covariance_type, prior_type, n=60)
    ref = nv.log_predictive(
        X,
        model.weights_,
        model.mean_precision_,
        model.means_,
        model.degrees_of_freedom_,
        _scale_inv(model),
        covariance_type,
    )
    assert_allclose(model.score_samples(X), ref, rtol=1e-10)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_serial_equals_parallel_and_thread_count_does_not_matter(covariance_type):
    rng = np.random.RandomState(0)
    X = rng.randn(5000, 4)  # several row blocks
    model, _ = _fitted(covariance_type, "dirichlet_process", d=4)
    w = rng.uniform(size=len(X))
    args = (X, w, model._shift, model._inv_scale, model._coef, model._ctype)
    serial = kern.estep_stats_serial(*args)
    previous = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = kern.estep_stats(*args)
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
        many = kern.estep_stats(*args)
    finally:
        numba.set_num_threads(previous)
    for a, b in [(serial, one), (one, many)]:
        assert_allclose(a[0], b[0], rtol=1e-12)
        assert_allclose(a[1], b[1], rtol=1e-12)
    # the block decomposition is independent of the thread count: bit-identical
    assert np.array_equal(one[0], many[0])
    log_serial = kern.log_resp_serial(X, model._shift, model._inv_scale, model._coef, model._ctype)[
        0
    ]
    log_parallel = kern.log_resp(X, model._shift, model._inv_scale, model._coef, model._ctype)[0]
    assert_allclose(log_serial, log_parallel, rtol=1e-12, atol=1e-12)


def test_float32_input_gives_float64_accumulation():
    model, X = _fitted("full", "dirichlet_process")
    w = np.ones(len(X))
    X32 = X.astype(np.float32)
    s64, _ = kern.estep_stats(
        X32.astype(np.float64), w, model._shift, model._inv_scale, model._coef, 0
    )
    s32, _ = kern.estep_stats(X32, w, model._shift, model._inv_scale, model._coef, 0)
    assert s32.dtype == np.float64
    assert_allclose(s32, s64, rtol=1e-12, atol=1e-12)
