"""VariationalEMRegressor: exact objectives, monotone ELBO, agreement with scikit-learn,
robustness, predictive distribution, bad input."""

import itertools
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose
from scipy import stats
from scipy.special import logsumexp
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import ARDRegression, BayesianRidge
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skvi import VariationalEMRegressor
from skvi import regression as reg
from skvi._special import log_gamma_norm

OPTIONS = [
    dict(method=method, prior=prior, noise=noise)
    for method in ("vem", "vbem")
    for prior in ("ridge", "ard")
    for noise in ("gaussian", "student_t")
]


def _fit(model, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(*args, **kwargs)


def _sparse_problem(n=200, d=10, seed=0, noise=0.3, intercept=1.5):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, d) * rng.uniform(0.5, 2.0, size=d)
    w = np.zeros(d)
    w[: min(3, d)] = [2.0, -3.0, 1.0][: min(3, d)]
    return X, X @ w + intercept + noise * rng.randn(n), w


def _log_hyperpriors(model):
    """The vem log hyperprior terms: densities of ln alpha and ln lambda_j."""
    a1, a2, l1, l2 = model.alpha_1, model.alpha_2, model.lambda_1, model.lambda_2
    alpha, lam = model.alpha_, np.atleast_1d(model.lambda_)
    out = log_gamma_norm(a1, a2) + a1 * np.log(alpha) - a2 * alpha
    return out + np.sum(log_gamma_norm(l1, l2) + l1 * np.log(lam) - l2 * lam)


def _log_normal(y, mean, cov):
    chol = np.linalg.cholesky(cov)
    z = np.linalg.solve(chol, y - mean)
    return -0.5 * (z @ z) - np.log(np.diag(chol)).sum() - 0.5 * len(y) * np.log(2 * np.pi)


# ------------------------------------------------------------------- exactness
@pytest.mark.parametrize("n, d", [(40, 6), (8, 15)])  # Gram path, kernel path
@pytest.mark.parametrize("prior", ["ridge", "ard"])
def test_vem_objective_is_the_exact_log_evidence(prior, n, d):
    """Gaussian noise, no intercept: q(w) is the exact posterior, so the objective minus
    the log hyperpriors is log N(y | 0, alpha^-1 I + X diag(lambda)^-1 X^T)."""
    rng = np.random.RandomState(1)
    X = rng.randn(n, d) * rng.uniform(0.1, 10.0, size=d)
    y = X @ rng.randn(d) + rng.randn(n)
    model = _fit(VariationalEMRegressor(prior=prior, fit_intercept=False, max_iter=30), X, y)
    lam = np.broadcast_to(model.lambda_, (d,))
    exact = _log_normal(y, np.zeros(n), np.eye(n) / model.alpha_ + (X / lam) @ X.T)
    assert_allclose(model.lower_bound_ - _log_hyperpriors(model), exact, rtol=1e-8)


def test_vem_objective_is_the_exact_log_evidence_with_intercept_and_weights():
    """The intercept b ~ N(ybar, 1/(kappa0 alpha)) at the weighted mean of X; integer
    weights are repeated rows."""
    rng = np.random.RandomState(2)
    X = rng.randn(25, 3)
    y = X @ [1.0, 0.0, -2.0] + 4.0 + 0.5 * rng.randn(25)
    w = rng.randint(1, 4, size=25)
    model = _fit(VariationalEMRegressor(max_iter=30), X, y, sample_weight=w)
    Xr, yr = np.repeat(X, w, axis=0), np.repeat(y, w)
    Xc = Xr - Xr.mean(axis=0)
    cov = (
        np.eye(len(yr)) / model.alpha_
        + Xc @ Xc.T / model.lambda_
        + 1.0 / (reg.INTERCEPT_PRIOR * model.alpha_)
    )
    exact = _log_normal(yr, np.full(len(yr), yr.mean()), cov)
    assert_allclose(model.lower_bound_ - _log_hyperpriors(model), exact, rtol=1e-8)


def test_vbem_elbo_is_below_and_close_to_the_exact_evidence():
    """log p(y) by quadrature over (ln alpha, ln lambda) on a 801 x 801 grid."""
    rng = np.random.RandomState(3)
    X = rng.randn(12, 2)
    y = X @ [1.0, -0.5] + 0.7 * rng.randn(12)
    hyper = dict(alpha_1=3.0, alpha_2=2.0, lambda_1=2.0, lambda_2=1.0)
    model = _fit(
        VariationalEMRegressor(method="vbem", fit_intercept=False, tol=0.0, max_iter=300, **hyper),
        X,
        y,
    )
    s2, U = np.linalg.eigh(X @ X.T)
    uy = U.T @ y
    u = np.linspace(-8.0, 6.0, 801)
    alpha, lam = np.exp(u)[:, None, None], np.exp(u)[None, :, None]
    var = 1.0 / alpha + s2 / lam
    log_lik = -0.5 * np.sum(np.log(2 * np.pi * var) + uy**2 / var, axis=-1)
    log_pa = stats.gamma.logpdf(np.exp(u), hyper["alpha_1"], scale=1 / hyper["alpha_2"]) + u
    log_pl = stats.gamma.logpdf(np.exp(u), hyper["lambda_1"], scale=1 / hyper["lambda_2"]) + u
    log_evidence = logsumexp(log_lik + log_pa[:, None] + log_pl[None, :]) + 2 * np.log(u[1] - u[0])
    assert model.lower_bound_ <= log_evidence
    assert model.lower_bound_ > log_evidence - 0.2  # measured gap: 0.081 nats


def test_student_t_objective_is_below_the_exact_evidence():
    """Fixed df, one feature: log p(y | alpha, lambda, nu) by quadrature over w."""
    rng = np.random.RandomState(4)
    x = rng.randn(15, 1)
    y = 1.5 * x[:, 0] + 0.5 * stats.t.rvs(3, size=15, random_state=rng)
    model = _fit(
        VariationalEMRegressor(noise="student_t", df=3.0, fit_intercept=False, tol=0.0,
                               max_iter=300),
        x,
        y,
    )  # fmt: skip
    a, lam = model.alpha_, model.lambda_
    w = np.linspace(-20, 20, 100_001)
    log_joint = stats.t.logpdf(y, 3.0, loc=w[:, None] * x[:, 0], scale=a**-0.5).sum(axis=1)
    log_joint += stats.norm.logpdf(w, 0.0, lam**-0.5)
    exact = logsumexp(log_joint) + np.log(w[1] - w[0])
    bound = model.lower_bound_ - _log_hyperpriors(model)
    assert bound <= exact
    assert bound > exact - 1.0  # measured gap: 0.35 nats


def test_vem_and_vbem_share_the_fixed_point():
    """MAP of ln(alpha) under Gam(a, b) is a / b, the mean of q(alpha): with the same
    q(w) updates both methods reach the same coefficients; the objectives differ."""
    X, y, _ = _sparse_problem(seed=5)
    vem = _fit(VariationalEMRegressor(prior="ard", tol=1e-10), X, y)
    vbem = _fit(VariationalEMRegressor(prior="ard", method="vbem", tol=1e-10), X, y)
    assert_allclose(vem.coef_, vbem.coef_, rtol=1e-6, atol=1e-9)
    assert_allclose(vem.alpha_, vbem.alpha_, rtol=1e-6)
    assert vem.lower_bound_ != vbem.lower_bound_


# ---------------------------------------------------------------- monotonicity
@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    n=st.integers(3, 30),
    d=st.integers(1, 6),
    n_targets=st.sampled_from([0, 1, 2]),  # 0: 1-D y
    options=st.sampled_from(OPTIONS),
    fit_intercept=st.booleans(),
    df=st.sampled_from([None, 1.5, 30.0]),
    weighted=st.booleans(),
    outliers=st.booleans(),
)
def test_objective_never_decreases(
    seed, n, d, n_targets, options, fit_intercept, df, weighted, outliers
):
    rng = np.random.RandomState(seed % 2**31)
    X = rng.randn(n, d) * rng.uniform(0.01, 100.0, size=d) + rng.randn(d)
    Y = X @ rng.randn(d, max(n_targets, 1)) + rng.standard_t(2.0, size=(n, max(n_targets, 1)))
    if outliers:
        Y[0] += 1e3
    y = Y[:, 0] if n_targets == 0 else Y
    w = rng.uniform(0.1, 3.0, size=n) if weighted else None
    model = _fit(
        VariationalEMRegressor(**options, df=df, fit_intercept=fit_intercept, tol=0.0, max_iter=25),
        X,
        y,
        sample_weight=w,
    )
    bounds = model.lower_bounds_
    assert bounds.shape == (25,)
    assert np.all(np.isfinite(bounds))
    # round-off scale of a sum of O(n) terms of size |bound|
    assert np.all(np.diff(bounds) >= -1e-9 * (np.abs(bounds).max() + n))
    assert np.all(np.isfinite(model.coef_)) and np.all(np.isfinite(model.sigma_))


# ------------------------------------------------------------ vs scikit-learn
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_vem_ridge_matches_bayesian_ridge(fit_intercept):
    X, y, _ = _sparse_problem(n=150, d=8, seed=6)
    ours = _fit(VariationalEMRegressor(fit_intercept=fit_intercept, tol=1e-12), X, y)
    theirs = BayesianRidge(fit_intercept=fit_intercept, tol=1e-12, max_iter=10_000).fit(X, y)
    assert ours.converged_
    assert_allclose(ours.coef_, theirs.coef_, rtol=1e-7, atol=1e-9)
    assert_allclose(ours.intercept_, theirs.intercept_, rtol=1e-7, atol=1e-9)
    assert_allclose(ours.alpha_, theirs.alpha_, rtol=1e-6)
    assert_allclose(ours.lambda_, theirs.lambda_, rtol=1e-6)
    assert_allclose(ours.sigma_, theirs.sigma_, rtol=1e-5, atol=1e-12)


@pytest.mark.parametrize("method", ["vem", "vbem"])
def test_ard_switches_off_the_irrelevant_features_as_ard_regression(method):
    X, y, w = _sparse_problem(n=300, d=15, seed=7, noise=0.3)
    support = np.flatnonzero(w)
    ours = _fit(VariationalEMRegressor(prior="ard", method=method), X, y)
    theirs = ARDRegression().fit(X, y)
    assert set(support) <= set(np.flatnonzero(theirs.lambda_ < theirs.threshold_lambda))
    # the smallest precisions are those of the true support, far below the others
    order = np.argsort(ours.lambda_)
    assert set(order[: len(support)]) == set(support)
    irrelevant = np.setdiff1d(np.arange(X.shape[1]), support)
    assert ours.lambda_[irrelevant].min() > 100 * ours.lambda_[support].max()
    assert np.abs(ours.coef_[irrelevant]).max() < 0.05
    assert_allclose(ours.coef_[support], theirs.coef_[support], atol=0.02)


def test_student_t_is_robust_to_gross_outliers():
    """df=2 noise and 1% gross outliers: the coefficient error is at most half of
    BayesianRidge's, and the outliers have the smallest expected precisions."""
    rng = np.random.RandomState(8)
    n, d = 2000, 10
    X = rng.randn(n, d)
    w = 2 * rng.randn(d)
    y = X @ w + rng.standard_t(2.0, size=n)
    bad = rng.choice(n, n // 100, replace=False)
    y[bad] += rng.choice([-1.0, 1.0], size=len(bad)) * 100.0
    ours = _fit(VariationalEMRegressor(noise="student_t"), X, y)
    theirs = BayesianRidge().fit(X, y)
    err, err_br = np.linalg.norm(ours.coef_ - w), np.linalg.norm(theirs.coef_ - w)
    assert err <= 0.5 * err_br  # measured: 0.11 against 0.91
    assert set(np.argsort(ours.sample_precisions_)[: len(bad)]) == set(bad)
    assert 1.0 < ours.df_ < 3.0


# ------------------------------------------------------------- predictive
def test_predictive_std_includes_the_intercept_uncertainty():
    X, y, _ = _sparse_problem(n=50, d=3, seed=9, noise=1.0)
    model = _fit(VariationalEMRegressor(), X, y)
    Xt = np.random.RandomState(0).randn(20, 3)
    mean, std = model.predict(Xt, return_std=True)
    assert_allclose(mean, model.predict(Xt))
    xc = Xt - X.mean(axis=0)
    var_b = 1.0 / (model.alpha_ * (len(y) + reg.INTERCEPT_PRIOR))
    expected = np.einsum("ij,jk,ik->i", xc, model.sigma_, xc) + var_b + 1.0 / model.alpha_
    assert_allclose(std**2, expected, rtol=1e-10)
    # the raw intercept's variance: that of b - xbar^T w
    xbar = X.mean(axis=0)
    assert_allclose(model.intercept_std_**2, var_b + xbar @ model.sigma_ @ xbar, rtol=1e-10)
    # BayesianRidge leaves the intercept out: its std is smaller at the training mean
    br_std = BayesianRidge().fit(X, y).predict(xbar[None, :], return_std=True)[1]
    ours_std = model.predict(xbar[None, :], return_std=True)[1]
    assert ours_std[0] > br_std[0]


@pytest.mark.parametrize("method", ["vem", "vbem"])
def test_predictive_interval_coverage_on_gaussian_data(method):
    rng = np.random.RandomState(10)
    d = 5
    w = rng.randn(d)
    X = rng.randn(40_400, d)
    y = X @ w + 2.0 + 0.7 * rng.randn(len(X))
    model = _fit(VariationalEMRegressor(method=method), X[:400], y[:400])
    lower, upper = model.predict_interval(X[400:], coverage=0.9)
    coverage = np.mean((y[400:] >= lower) & (y[400:] <= upper))
    assert abs(coverage - 0.9) < 0.01
    mean, std = model.predict(X[400:], return_std=True)
    if method == "vbem":  # Student-t with 2 a_alpha degrees of freedom
        nu = 2.0 * (model.alpha_1 + 0.5 * 400 + 0.5)
        half = stats.t.ppf(0.95, nu) * std * np.sqrt((nu - 2) / nu)
    else:
        half = stats.norm.ppf(0.95) * std
    assert_allclose(upper - mean, half, rtol=1e-10)


def test_student_t_predictive_std_is_infinite_below_two_degrees_of_freedom():
    X, y, _ = _sparse_problem(n=100, d=3, seed=11)
    model = _fit(VariationalEMRegressor(noise="student_t", df=1.5), X, y)
    _, std = model.predict(X[:5], return_std=True)
    assert np.all(np.isinf(std))
    lower, upper = model.predict_interval(X[:5])
    assert np.all(np.isfinite(lower)) and np.all(upper > lower)
    model = _fit(VariationalEMRegressor(noise="student_t", df=5.0), X, y)
    _, std = model.predict(X[:5], return_std=True)
    assert np.all(np.isfinite(std))
    with pytest.raises(ValueError, match="coverage"):
        model.predict_interval(X[:5], coverage=1.0)


# ------------------------------------------------------------- multi-target
@pytest.mark.parametrize("options", OPTIONS, ids=lambda o: "-".join(o.values()))
def test_two_dimensional_y_is_independent_fits(options):
    X, y1, _ = _sparse_problem(n=60, d=4, seed=12)
    y2 = X @ [0.5, 0.0, 0.0, -1.0] - 3.0 + np.random.RandomState(1).randn(60)
    Y = np.column_stack([y1, y2])
    both = _fit(VariationalEMRegressor(**options, max_iter=50, tol=0.0), X, Y)
    d = X.shape[1]
    assert both.coef_.shape == (2, d) and both.sigma_.shape == (2, d, d)
    assert both.intercept_.shape == both.alpha_.shape == both.df_.shape == (2,)
    assert both.lambda_.shape == ((2,) if options["prior"] == "ridge" else (2, d))
    assert both.sample_precisions_.shape == (60, 2)
    assert both.predict(X).shape == (60, 2)
    total = 0.0
    for t, y in enumerate((y1, y2)):
        one = _fit(VariationalEMRegressor(**options, max_iter=50, tol=0.0), X, y)
        total += one.lower_bound_
        assert_allclose(both.coef_[t], one.coef_, rtol=1e-8, atol=1e-12)
        assert_allclose(both.intercept_[t], one.intercept_, rtol=1e-8)
        assert_allclose(both.predict(X, return_std=True)[1][:, t],
                        one.predict(X, return_std=True)[1], rtol=1e-8)  # fmt: skip
    assert_allclose(both.lower_bound_, total, rtol=1e-10)


# ------------------------------------------------------------- weights
@pytest.mark.parametrize("options", OPTIONS, ids=lambda o: "-".join(o.values()))
def test_sample_weights_are_repeated_samples(options):
    """Integer weights equal repeated rows, here across the kernel path (8 distinct rows,
    10 features) and the Gram path (16 rows); zero weights equal removed rows."""
    rng = np.random.RandomState(13)
    X = rng.randn(10, 10)
    y = X[:, 0] - X[:, 1] + 0.3 * rng.randn(10)
    w = np.array([2, 2, 2, 2, 2, 2, 2, 2, 0, 0])
    kwargs = dict(**options, max_iter=30, tol=0.0)
    weighted = _fit(VariationalEMRegressor(**kwargs), X, y, sample_weight=w)
    repeated = _fit(VariationalEMRegressor(**kwargs), np.repeat(X, w, axis=0), np.repeat(y, w))
    assert_allclose(weighted.lower_bounds_, repeated.lower_bounds_, rtol=1e-7)
    assert_allclose(weighted.coef_, repeated.coef_, rtol=1e-6, atol=1e-9)
    assert_allclose(weighted.predict(X, return_std=True), repeated.predict(X, return_std=True),
                    rtol=1e-6)  # fmt: skip


def test_fractional_weights_reach_the_fixed_point():
    """Total weight N = 2 and a start with gamma ~ 8 > N, where MacKay's update of alpha
    is negative: the coordinate-ascent update must take over (the fit used to stop at
    the start, 'converged')."""
    rng = np.random.RandomState(22)
    X = rng.randn(40, 8)
    y = X @ rng.randn(8) + 0.1 * rng.randn(40)
    s = np.full(40, 0.05)
    model = _fit(
        VariationalEMRegressor(
            fit_intercept=False, tol=1e-12, max_iter=5000, alpha_init=1e6, lambda_init=1e-6
        ),
        X,
        y,
        s,
    )
    assert model.converged_ and model.n_iter_ > 1
    # MacKay's equations hold at the fixed point
    e = np.linalg.eigvalsh((X.T * s) @ X)
    gamma = np.sum(model.alpha_ * e / (model.alpha_ * e + model.lambda_))
    sse = s @ (y - X @ model.coef_) ** 2
    assert_allclose(model.alpha_, (s.sum() - gamma + 2e-6) / (sse + 2e-6), rtol=1e-4)
    assert_allclose(model.lambda_, (gamma + 2e-6) / (model.coef_ @ model.coef_ + 2e-6), rtol=1e-3)


# ------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "case, match",
    [
        ("nan_X", "NaN"),
        ("inf_X", "infinity"),
        ("nan_y", "NaN"),
        ("inf_y", "infinity"),
        ("lengths", "inconsistent numbers of samples"),
        ("negative_weight", "Negative values"),
        ("zero_weights", "[Ss]ample weights"),
        ("nan_weight", "NaN"),
        ("sparse", "[Ss]parse"),
        ("one_sample", "1 sample"),
    ],
)
def test_bad_input_raises_a_clear_value_error(case, match):
    import scipy.sparse as sp

    rng = np.random.RandomState(14)
    X, y, w = rng.randn(20, 3), rng.randn(20), np.ones(20)
    if case == "nan_X":
        X[3, 1] = np.nan
    elif case == "inf_X":
        X[3, 1] = np.inf
    elif case == "nan_y":
        y[2] = np.nan
    elif case == "inf_y":
        y[2] = -np.inf
    elif case == "lengths":
        y = y[:-1]
    elif case == "negative_weight":
        w[4] = -1.0
    elif case == "zero_weights":
        w[:] = 0.0
    elif case == "nan_weight":
        w[4] = np.nan
    elif case == "sparse":
        X = sp.csr_matrix(X)
    elif case == "one_sample":
        X, y, w = X[:1], y[:1], w[:1]
    with pytest.raises((ValueError, TypeError), match=match):
        VariationalEMRegressor().fit(X, y, sample_weight=w)


@pytest.mark.parametrize(
    "params", [dict(alpha_1=0.0), dict(lambda_2=-1.0), dict(df=0.0), dict(method="em")]
)
def test_invalid_parameters_raise(params):
    with pytest.raises(ValueError, match=next(iter(params))):
        VariationalEMRegressor(**params).fit(np.eye(3), np.arange(3.0))


@pytest.mark.parametrize("options", OPTIONS, ids=lambda o: "-".join(o.values()))
@pytest.mark.parametrize(
    "case", ["constant_feature", "collinear", "wide", "scale_1e8", "scale_1e-8", "constant_y"]
)
def test_degenerate_data_gives_a_finite_correct_fit(case, options):
    rng = np.random.RandomState(15)
    n, d = 60, 4
    X = rng.randn(n, d)
    w = np.array([1.0, -2.0, 0.5, 0.0])
    x_scale = y_scale = 1.0
    if case == "constant_feature":
        X[:, 3] = 7.0
    elif case == "collinear":
        X[:, 3] = X[:, 0] - X[:, 1]
    elif case == "wide":
        X = rng.randn(15, 40)
        w = np.zeros(40)
        w[:3] = [1.0, -2.0, 0.5]
        n = 15
    elif case == "scale_1e8":
        x_scale, y_scale = 1e8, 1e-8
    elif case == "scale_1e-8":
        x_scale, y_scale = 1e-8, 1e8
    y = X @ w + 3.0 + 0.01 * rng.randn(n)
    if case == "constant_y":
        y = np.full(n, 2.5)
    X, y = X * x_scale, y * y_scale
    X_before, y_before = X.copy(), y.copy()
    model = _fit(VariationalEMRegressor(**options), X, y)
    assert np.array_equal(X, X_before) and np.array_equal(y, y_before)
    for name in ("coef_", "sigma_", "coef_std_", "alpha_", "lambda_", "intercept_"):
        assert np.all(np.isfinite(getattr(model, name))), name
    assert np.all(np.isfinite(model.lower_bounds_))
    assert np.all(np.diff(model.lower_bounds_) >= -1e-9 * np.abs(model.lower_bounds_).max())
    pred, std = model.predict(X, return_std=True)
    assert np.all(np.isfinite(pred)) and np.all(std > 0)
    if case == "constant_y":
        assert_allclose(pred, 2.5, rtol=1e-6)
    elif case != "wide":
        # the noise is 1% of the signal: the fit is accurate
        assert_allclose(pred, y, atol=0.05 * y_scale)
    if case in ("scale_1e8", "scale_1e-8"):
        assert_allclose(model.coef_ * x_scale / y_scale, w, atol=0.01)


def test_inputs_are_never_modified_float32_and_read_only():
    X, y, _ = _sparse_problem(n=80, d=5, seed=16)
    w = np.random.RandomState(0).uniform(0.5, 2, size=80)
    copies = [a.copy() for a in (X, y, w)]
    for a in (X, y, w):
        a.setflags(write=False)
    m64 = _fit(VariationalEMRegressor(noise="student_t", prior="ard"), X, y, sample_weight=w)
    for a, b in zip((X, y, w), copies, strict=True):
        assert np.array_equal(a, b)
    m32 = _fit(
        VariationalEMRegressor(noise="student_t", prior="ard"),
        X.astype(np.float32),
        y,
        sample_weight=w,
    )
    assert_allclose(m32.coef_, m64.coef_, rtol=1e-4, atol=1e-5)


def test_same_input_same_result():
    """The model is deterministic (no random initialisation): two fits agree bit for bit."""
    X, y, _ = _sparse_problem(n=300, d=8, seed=17)
    a = _fit(VariationalEMRegressor(prior="ard", noise="student_t", method="vbem"), X, y)
    b = _fit(VariationalEMRegressor(prior="ard", noise="student_t", method="vbem"), X, y)
    assert np.array_equal(a.coef_, b.coef_)
    assert np.array_equal(a.lower_bounds_, b.lower_bounds_)


# ------------------------------------------------------------------- API
def test_grid_search_in_a_pipeline():
    X, y, _ = _sparse_problem(n=120, d=6, seed=20)
    pipe = make_pipeline(StandardScaler(), VariationalEMRegressor())
    grid = GridSearchCV(pipe, {"variationalemregressor__prior": ["ridge", "ard"]}, cv=3)
    grid.fit(X, y)
    assert grid.best_score_ > 0.95


def test_convergence_warning_and_verbose(capsys):
    X, y, _ = _sparse_problem(n=50, d=3, seed=21)
    with pytest.warns(ConvergenceWarning):
        VariationalEMRegressor(prior="ard", max_iter=1, tol=0.0, verbose=2).fit(X, y)
    out = capsys.readouterr().out
    assert "Iteration 1" in out and "ELBO" in out


# ------------------------------------------------ issue 11: accuracy and range
def _mp_posterior_covariance(Xc, alpha, lam):
    """``inv(diag(lam) + alpha Xc^T Xc)`` formed and inverted in 40-digit arithmetic (an
    independent reference: in float64, forming the matrix alone loses digits)."""
    import mpmath

    with mpmath.workdps(40):
        A = mpmath.matrix(Xc.tolist())
        P = mpmath.mpf(float(alpha)) * (A.T * A)
        for j, value in enumerate(lam):
            P[j, j] += mpmath.mpf(float(value))
        return np.array((P**-1).tolist(), dtype=float)


@pytest.mark.parametrize("prior", ["ridge", "ard"])
@pytest.mark.parametrize("fit_intercept", [False, True])
@pytest.mark.parametrize("shape", [(20, 10), (8, 15)], ids=["gram", "wide"])
def test_sigma_is_the_inverse_posterior_precision(shape, fit_intercept, prior):
    """Gaussian noise: sigma_ = inv(diag(lambda_) + alpha_ Xc^T Xc) to rounding, also
    where the data determine the coefficients well (make_regression without noise:
    the form V diag(1/h - 1/lambda) V^T + I/lambda lost 4 digits there) and with fewer
    samples than features."""
    from sklearn.datasets import make_regression

    X, y = make_regression(*shape, random_state=0, noise=0.0 if shape[0] > shape[1] else 1.0)
    model = _fit(VariationalEMRegressor(prior=prior, fit_intercept=fit_intercept), X, y)
    Xc = X - X.mean(axis=0) if fit_intercept else X
    lam = np.broadcast_to(model.lambda_, (X.shape[1],))
    ref = _mp_posterior_covariance(Xc, model.alpha_, lam)
    scale = np.abs(ref).max()
    # well-determined (Gram) data: to rounding; with fewer samples than features the
    # precision is ill-conditioned (measured: 5.6e-10 for ARD with an intercept)
    rtol = 1e-12 if shape[0] > shape[1] else 2e-9
    assert np.abs(model.sigma_ - ref).max() <= rtol * scale
    assert_allclose(model.coef_std_, np.sqrt(np.diag(ref)), rtol=100 * rtol)
    # the parameter part of the predictive variance
    Xt = np.random.RandomState(1).randn(5, X.shape[1])
    _, std = model.predict(Xt, return_std=True)
    xc = Xt - X.mean(axis=0) if fit_intercept else Xt
    var_b = 1.0 / (model.alpha_ * (len(y) + reg.INTERCEPT_PRIOR)) if fit_intercept else 0.0
    expected = np.einsum("ij,jk,ik->i", xc, ref, xc) + var_b + 1.0 / model.alpha_
    assert_allclose(std**2, expected, rtol=100 * rtol)


def _diabetes():
    from sklearn.datasets import load_diabetes

    return load_diabetes(return_X_y=True)


def _dense_problem():
    from sklearn.datasets import make_regression

    return make_regression(300, 20, n_informative=8, noise=5.0, random_state=1)


@pytest.mark.parametrize(
    "dataset, options",
    # (not ARD on the problem with irrelevant features: their coefficients shrink
    # sublinearly, see the user guide)
    [(d, o) for d in (_diabetes, _dense_problem) for o in OPTIONS if o["prior"] == "ridge"]
    + [(_diabetes, dict(prior="ard"))],
    ids=lambda v: v.__name__.strip("_") if callable(v) else "-".join(v.values()),
)
def test_default_stopping_rule_lands_on_the_fixed_point(dataset, options):
    """The default fit is within 1e-7 (relative to max |coef_|) of a fit run for 3000
    (Student-t: 200) iterations with tol=0 (the ELBO test alone stopped diabetes after 3
    iterations, 5.7e-5 away; BayesianRidge's default is within 1e-7)."""
    X, y = dataset()
    default = VariationalEMRegressor(**options).fit(X, y)
    # (Student-t: one pass over X per iteration; its fits reach their fixed point, to
    # rounding, in under 20 iterations here)
    n_full = 200 if options.get("noise") == "student_t" else 3000
    full = _fit(VariationalEMRegressor(**options, tol=0.0, max_iter=n_full), X, y)
    assert default.converged_
    err = np.abs(default.coef_ - full.coef_).max() / np.abs(full.coef_).max()
    assert err <= 1e-7


def test_coefficient_test_is_needed_for_convergence():
    """With coef_tol large the ELBO test alone decides, and stops early on diabetes."""
    X, y = _diabetes()
    loose = VariationalEMRegressor(coef_tol=1e6).fit(X, y)
    default = VariationalEMRegressor().fit(X, y)
    full = _fit(VariationalEMRegressor(tol=0.0, max_iter=3000), X, y)
    assert loose.n_iter_ == 3 < default.n_iter_
    top = np.abs(full.coef_).max()
    assert np.abs(loose.coef_ - full.coef_).max() > 1e-5 * top  # measured 5.7e-5
    assert np.abs(default.coef_ - full.coef_).max() < 1e-7 * top
    with pytest.warns(ConvergenceWarning, match="coef_tol"):
        VariationalEMRegressor(max_iter=2).fit(X, y)


@pytest.mark.parametrize("method", ["vem", "vbem"])
@pytest.mark.parametrize("noise", ["gaussian", "student_t"])
def test_ard_is_equivariant_to_the_units_of_the_features(noise, method):
    """ARD: multiplying feature j by s_j divides coef_j by s_j (s from 1e8 to 1e-8), up to
    the hyperprior rate lambda_2, which caps lambda_j near lambda_1 / lambda_2 in the
    units of the fit (here 1e-30: the cap binds only for the irrelevant feature, whose
    coefficient is then below 1e-8 either way)."""
    rng = np.random.RandomState(23)
    X = rng.randn(200, 4)
    y = X @ [1.0, -2.0, 0.5, 0.0] + 0.3 * rng.randn(200) + 1.0
    s = np.array([1e8, 1e4, 1e-4, 1e-8])
    kwargs = dict(prior="ard", method=method, noise=noise, lambda_2=1e-30)
    plain = _fit(VariationalEMRegressor(**kwargs), X, y)
    scaled = _fit(VariationalEMRegressor(**kwargs), X * s, y)
    top = np.abs(plain.coef_).max()
    assert np.abs(scaled.coef_ * s - plain.coef_).max() <= 1e-10 * top  # measured 8.8e-16
    assert_allclose(scaled.coef_std_[:3] * s[:3], plain.coef_std_[:3], rtol=1e-4)
    mean_p, std_p = plain.predict(X, return_std=True)
    mean_s, std_s = scaled.predict(X * s, return_std=True)
    assert_allclose(mean_s, mean_p, rtol=1e-5, atol=1e-5)
    assert_allclose(std_s, std_p, rtol=1e-4)


@pytest.mark.parametrize("options", OPTIONS, ids=lambda o: "-".join(o.values()))
def test_mixed_column_scales_do_not_destroy_the_fit(options):
    """Columns of scales 1e-8, 1e8 and 1: the issue's reproduction. Ridge recovers
    BayesianRidge's coefficients; ARD's predictions are as good as BayesianRidge's
    (the first column, 1e-8 times its coefficient, is below the noise)."""
    rng = np.random.RandomState(0)
    X = rng.randn(100, 3)
    X[:, 0] *= 1e-8
    X[:, 1] *= 1e8
    y = X @ [1.0, -2.0, 0.5] + 0.1 * rng.randn(100)
    br = BayesianRidge().fit(X, y)
    model = _fit(VariationalEMRegressor(**options), X, y)
    if options["prior"] == "ridge":
        assert_allclose(model.coef_[1:], br.coef_[1:], rtol=1e-3)
        assert abs(model.coef_[0]) < 1e-4
    assert_allclose(model.coef_[1:], [-2.0, 0.5], rtol=0.05)
    assert model.score(X, y) > br.score(X, y) - 1e-3


@pytest.mark.parametrize("options", OPTIONS, ids=lambda o: "-".join(o.values()))
def test_objective_never_decreases_with_extreme_hyperpriors(options):
    """Every hyperprior parameter from 1e-30 to 1e30: lower_bounds_ is finite and never
    decreases by more than a few ulps of the bound (lambda_1=1e14 went -134.31 ->
    -134.84, alpha_1 >= 1e30 jumped to +1.3e15: large terms cancelled in the objective)."""
    rng = np.random.RandomState(24)
    X = rng.randn(30, 4)
    y = X @ [1.0, -2.0, 0.0, 0.5] + 0.3 * rng.standard_t(3, size=30) + 1.0
    for name in ("lambda_1", "lambda_2", "alpha_1", "alpha_2"):
        for value in (1e-30, 1e-10, 1e10, 1e14, 1e30):
            model = _fit(
                VariationalEMRegressor(**options, tol=0.0, max_iter=30, **{name: value}), X, y
            )
            bounds = model.lower_bounds_
            assert np.all(np.isfinite(bounds)) and np.all(np.isfinite(model.coef_))
            ulps = np.spacing(np.abs(bounds).max())
            assert np.diff(bounds).min() >= -32 * ulps, (name, value)


@pytest.mark.parametrize("prior", ["ridge", "ard"])
@pytest.mark.parametrize("method", ["vem", "vbem"])
def test_objective_never_decreases_with_extreme_hyperpriors_wide(method, prior):
    """The same with fewer samples than features (kernel forms), Gaussian noise."""
    rng = np.random.RandomState(25)
    X = rng.randn(8, 12)
    y = X[:, 0] + 0.1 * rng.randn(8)
    for name in ("lambda_1", "lambda_2", "alpha_1", "alpha_2"):
        for value in (1e-30, 1e-10, 1e10, 1e14, 1e30):
            model = _fit(
                VariationalEMRegressor(method=method, prior=prior, tol=0.0, max_iter=30,
                                       **{name: value}),
                X,
                y,
            )  # fmt: skip
            bounds = model.lower_bounds_
            assert np.all(np.isfinite(bounds)) and np.all(np.isfinite(model.coef_))
            ulps = np.spacing(np.abs(bounds).max())
            assert np.diff(bounds).min() >= -32 * ulps, (name, value)


@pytest.mark.parametrize(
    "hyper",
    [
        dict(alpha_1=1e14, alpha_2=2.5e13),
        dict(alpha_1=1e20, alpha_2=2.5e19),
        dict(lambda_1=1e14, lambda_2=1e14),
        dict(lambda_1=1e20, lambda_2=1e20, alpha_1=1e14, alpha_2=2.5e13),
    ],
)
def test_vem_objective_is_exact_with_large_hyperpriors(hyper):
    """Gaussian noise, ridge, no intercept: the objective is log N(y | 0, alpha^-1 I +
    lambda^-1 X X^T) plus the log hyperprior densities of ln alpha and ln lambda, the
    latter evaluated in 50-digit arithmetic (in float64 their terms of size a ln a
    cancel to nothing). Priors with shapes up to 1e20, centred near the data's values
    (the objective is then of order 100, and only defined to about shape * eps^2 by the
    rounding of the fitted precisions)."""
    import mpmath

    rng = np.random.RandomState(26)
    X = rng.randn(30, 3)
    y = X @ [1.0, -0.5, 2.0] + 0.5 * rng.randn(30)
    model = _fit(VariationalEMRegressor(fit_intercept=False, max_iter=50, **hyper), X, y)
    exact = _log_normal(y, np.zeros(30), np.eye(30) / model.alpha_ + X @ X.T / model.lambda_)
    params = {**dict(alpha_1=1e-6, alpha_2=1e-6, lambda_1=1e-6, lambda_2=1e-6), **hyper}
    with mpmath.workdps(50):

        def log_density(value, shape, rate):
            v, a, b = mpmath.mpf(value), mpmath.mpf(shape), mpmath.mpf(rate)
            return a * mpmath.log(b * v) - b * v - mpmath.loggamma(a)

        hyper_terms = float(
            log_density(model.alpha_, params["alpha_1"], params["alpha_2"])
            + log_density(model.lambda_, params["lambda_1"], params["lambda_2"])
        )
    assert_allclose(model.lower_bound_, exact + hyper_terms, rtol=1e-10)


@pytest.mark.parametrize(
    "case",
    ["y", "X", "sample_weight"],
)
def test_values_beyond_the_float64_safe_range_raise(case):
    """y * 1e300 and sample_weight = 1e300 gave NaN coefficients with only
    RuntimeWarnings, X * 1e300 a LinAlgError: now a ValueError naming the input and the
    limit."""
    rng = np.random.RandomState(27)
    X, y, w = rng.randn(20, 3), rng.randn(20), np.ones(20)
    if case == "y":
        y = y * 1e300
    elif case == "X":
        X = X * 1e300
    else:
        w = np.full(20, 1e300)
    for options in OPTIONS:
        with pytest.raises(ValueError, match=f"{case}.*limit 1e\\+50"):
            VariationalEMRegressor(**options).fit(X, y, sample_weight=w)


@pytest.mark.parametrize("options", OPTIONS, ids=lambda o: "-".join(o.values()))
def test_finite_fit_across_the_accepted_range(options):
    """X, y and the total weight at 1e50 or 1e-50 (every combination): a finite fit,
    monotone objective, and an accurate one where the scales leave a signal."""
    rng = np.random.RandomState(28)
    X0 = rng.randn(40, 3)
    y0 = X0 @ [1.0, -2.0, 0.5] + 0.1 * rng.randn(40) + 1.0
    L = reg.VALUE_LIMIT
    for fx, fy, fw in itertools.product([1.0, L, 1 / L], repeat=3):
        X = X0 * (fx / np.abs(X0).max()) if fx != 1.0 else X0
        y = y0 * (fy / np.abs(y0).max()) if fy != 1.0 else y0
        w = np.full(40, fw / 40) if fw != 1.0 else None
        model = _fit(VariationalEMRegressor(**options), X, y, sample_weight=w)
        pred = model.predict(X)
        for value in (model.coef_, model.sigma_, model.intercept_, pred, model.lower_bounds_):
            assert np.all(np.isfinite(value)), (fx, fy, fw)
        if fw == 1.0 and fy != 1 / L:
            # (with y at 1e-50 the noise variance is far below the default alpha_2 = 1e-6,
            # and the hyperprior, as in BayesianRidge, holds alpha near 1e7)
            assert model.score(X, y) > 0.99, (fx, fy, fw)


@pytest.mark.parametrize("options", OPTIONS, ids=lambda o: "-".join(o.values()))
def test_float32_input_gives_float32_output(options):
    """As BayesianRidge and ARDRegression: the fitted arrays and predictions keep
    float32 (the arithmetic is float64 inside); float64 stays float64."""
    X, y, _ = _sparse_problem(n=60, d=4, seed=29)
    m32 = _fit(VariationalEMRegressor(**options), X.astype(np.float32), y.astype(np.float32))
    m64 = _fit(VariationalEMRegressor(**options), X, y)
    for name in ("coef_", "sigma_", "coef_std_", "sample_precisions_"):
        assert getattr(m32, name).dtype == np.float32, name
        assert getattr(m64, name).dtype == np.float64, name
    Xt = X[:5].astype(np.float32)
    mean, std = m32.predict(Xt, return_std=True)
    lower, upper = m32.predict_interval(Xt)
    assert m32.predict(Xt).dtype == mean.dtype == std.dtype == lower.dtype == np.float32
    assert m64.predict(X[:5]).dtype == np.float64
    assert_allclose(m32.coef_, m64.coef_, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("prior", ["ridge", "ard"])
@pytest.mark.parametrize("method", ["vem", "vbem"])
def test_student_t_noise_below_the_rounding_of_y_raises(method, prior):
    """Noise-free y (make_regression(20, 10)): with a hyperprior that forces the noise
    precision up (alpha_1=1e30 went down by 1e15 nats, 1e16 by 3e-3; alpha_2=1e-30) the
    Student-t weights would be set by the rounding of the residuals: a ValueError says
    so. The default priors keep the noise above it and fit with a monotone objective,
    and so does alpha_1=1e14."""
    from sklearn.datasets import make_regression

    X, y = make_regression(20, 10, random_state=0)
    options = dict(method=method, prior=prior, noise="student_t")
    for hyper in ({"alpha_1": 1e30}, {"alpha_1": 1e16}, {"alpha_2": 1e-30}):
        with pytest.raises(ValueError, match="rounding units of y"):
            VariationalEMRegressor(**options, **hyper).fit(X, y)
    for hyper in ({}, {"alpha_1": 1e14}):
        bounds = _fit(VariationalEMRegressor(**options, **hyper), X, y).lower_bounds_
        assert np.all(np.isfinite(bounds))
        assert np.diff(bounds).min() >= -32 * np.spacing(np.abs(bounds).max())
