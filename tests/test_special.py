"""Tests for skvi._special against SciPy/NumPy and independent numerical computations."""

import mpmath
import numba
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose
from scipy import linalg, special, stats
from scipy.special import gammaln

from skvi._special import (
    cholesky_log_det,
    digamma,
    digamma_array,
    dirichlet_kl_from_prior,
    expected_log_det_wishart,
    expm1_minus,
    increment_table,
    kl_beta,
    kl_dirichlet,
    kl_gamma,
    kl_wishart,
    lgamma_increment,
    log_beta_norm,
    log_dirichlet_norm,
    log_gamma_norm,
    log_wishart_norm,
    stirling_remainder,
)

EPS = np.finfo(np.float64).eps
#: Positive zero of the digamma function.
DIGAMMA_ROOT = 1.4616321449683622


def _log_uniform(rng, low, high, size):
    return np.exp(rng.uniform(np.log(low), np.log(high), size))


def _random_spd(rng, d, scale=1.0):
    a = rng.standard_normal((d, d))
    return scale * (a @ a.T / d + 0.5 * np.eye(d))


def _log_det(mat):
    return cholesky_log_det(np.linalg.cholesky(mat))


def _rounding_tol(*terms):
    """Bound on the rounding error of a sum of the given (individually rounded) terms.

    Log-normalisers are differences of ``lgamma`` values that can be ~1e9 while their sum
    is O(1); in that regime no formula built from ``lgamma`` can be more accurate than a
    few ulps of the largest term, so the tolerance is relative to the terms, not to the
    result.
    """
    return 16 * EPS * sum(np.abs(t) for t in terms) + 1e-300


# --------------------------------------------------------------------------- digamma


def test_digamma_positive_matches_scipy():
    rng = np.random.default_rng(0)
    x = np.concatenate(
        [
            np.logspace(-8, 8, 20001),
            _log_uniform(rng, 1e-8, 1e8, 20000),
            # dense around the positive zero of psi and the switch points of the algorithm
            DIGAMMA_ROOT + np.linspace(-0.3, 0.3, 4001),
            np.linspace(9.0, 11.0, 2001),
        ]
    )
    got = digamma_array(x)
    ref = special.digamma(x)
    # Plain relative error, also around x0 ~ 1.4616 where psi crosses zero: there the
    # implementation switches to a Taylor series about x0, so the relative error stays at
    # the ulp level (with the recurrence alone it would only be small in absolute terms,
    # ~1e-16, and a criterion |err| <= 1e-13 * max(1, |psi|) would be needed).
    rel = np.abs(got - ref) / np.abs(ref)
    assert rel.max() <= 1e-13, (rel.max(), x[rel.argmax()])
    # the scalar entry point agrees bit for bit with the array one
    for v in x[::997]:
        assert digamma(v) == digamma_array(np.array([v]))[0]


def test_digamma_tiny_argument():
    # psi(x) = -1/x - gamma + (pi^2/6) x + O(x^2): the -1/x term dominates.
    for x in [1e-8, 3e-10, 1e-15, 1e-300]:
        expected = -1.0 / x - np.euler_gamma + np.pi**2 / 6 * x
        assert abs(digamma(x) - expected) <= 4 * EPS * abs(expected)
        assert abs(digamma(x) - special.digamma(x)) <= 4 * EPS * abs(expected)
    assert digamma(5e-324) == -np.inf  # -1/x overflows


def test_digamma_negative_non_integers():
    rng = np.random.default_rng(1)
    x = np.concatenate(
        [-np.logspace(-8, 8, 4001), -rng.uniform(0.0, 50.0, 4000), -np.arange(1, 40) + 0.5]
    )
    x = x[x != np.floor(x)]
    got = digamma_array(x)
    ref = special.digamma(x)
    # Between consecutive poles psi has a zero, where psi(1 - x) and pi / tan(pi x) cancel,
    # so the error is measured in units of max(1, |psi|). SciPy itself is only accurate to
    # ~3e-12 in these units for large negative x (checked against mpmath below), hence the
    # 1e-11 here.
    err = np.abs(got - ref) / np.maximum(1.0, np.abs(ref))
    assert err.max() <= 1e-11, (err.max(), x[err.argmax()])


def test_digamma_negative_against_mpmath():
    mpmath = pytest.importorskip("mpmath")
    rng = np.random.default_rng(2)
    x = np.concatenate([-np.logspace(-8, 8, 300), -rng.uniform(0.0, 50.0, 300)])
    x = x[x != np.floor(x)]
    with mpmath.workdps(40):
        ref = np.array([float(mpmath.digamma(mpmath.mpf(float(v)))) for v in x])
    err = np.abs(digamma_array(x) - ref) / np.maximum(1.0, np.abs(ref))
    assert err.max() <= 1e-14


def test_digamma_special_values():
    assert np.isnan(digamma(np.nan))
    assert digamma(np.inf) == np.inf
    assert np.isnan(digamma(-np.inf))
    # poles: non-positive integers (including both zeros) give nan
    for x in [0.0, -0.0, -1.0, -2.0, -17.0, -1e20, 0, -3]:
        assert np.isnan(digamma(x)), x
    assert digamma(1e300) == pytest.approx(np.log(1e300), rel=1e-15)


def test_digamma_input_types():
    ref = special.digamma(3.0)
    for x in [3, 3.0, np.float64(3.0), np.int64(3), np.float32(3.0)]:
        assert digamma(x) == pytest.approx(ref, rel=1e-15)
        assert isinstance(digamma(x), float)
    assert digamma(1) == pytest.approx(-np.euler_gamma, rel=1e-15)


def test_digamma_recurrence_and_reflection():
    rng = np.random.default_rng(3)
    for x in _log_uniform(rng, 1e-3, 1e3, 200):
        lhs = digamma(x + 1.0) - digamma(x)
        assert abs(lhs - 1.0 / x) <= 1e-14 * max(1.0, abs(digamma(x + 1.0)), 1.0 / x)
    for x in rng.uniform(-20.0, 0.0, 200):
        rhs = digamma(1.0 - x) - np.pi / np.tan(np.pi * x)
        assert abs(digamma(x) - rhs) <= 1e-12 * max(1.0, abs(rhs))


def test_digamma_array_shapes_and_layouts():
    rng = np.random.default_rng(4)
    x2 = _log_uniform(rng, 1e-6, 1e6, (7, 5))
    out = digamma_array(x2)
    assert out.shape == (7, 5) and out.dtype == np.float64
    assert_allclose(out, special.digamma(x2), rtol=1e-13)
    # non-contiguous (transposed and strided) views
    assert_allclose(digamma_array(x2.T), special.digamma(x2.T), rtol=1e-13)
    assert_allclose(digamma_array(x2[::2, 1::2]), special.digamma(x2[::2, 1::2]), rtol=1e-13)
    x3 = rng.uniform(0.1, 10.0, (2, 3, 4))
    assert_allclose(digamma_array(x3), special.digamma(x3), rtol=1e-13)
    # integer input, 0-d and empty arrays
    ints = np.arange(1, 6)
    assert_allclose(digamma_array(ints), special.digamma(ints.astype(float)), rtol=1e-14)
    zero_d = digamma_array(np.array(2.5))
    assert zero_d.shape == () and zero_d == pytest.approx(special.digamma(2.5), rel=1e-15)
    assert digamma_array(np.empty((0, 3))).shape == (0, 3)
    # special values elementwise
    sv = digamma_array(np.array([[np.nan, np.inf], [0.0, -2.0]]))
    assert np.isnan(sv[0, 0]) and sv[0, 1] == np.inf and np.isnan(sv[1]).all()


# ------------------------------------------------------------------ log-normalisers


def test_log_dirichlet_norm():
    rng = np.random.default_rng(5)
    for _ in range(300):
        k = rng.integers(1, 12)
        alpha = _log_uniform(rng, 1e-8, 1e8, k)
        lg = special.gammaln(alpha)
        lg_sum = special.gammaln(alpha.sum())
        ref = lg_sum - lg.sum()
        got = log_dirichlet_norm(alpha)
        assert abs(got - ref) <= _rounding_tol(lg_sum, *lg), (alpha, got, ref)
    # against the density itself: ln Dir(x | alpha) = ln C(alpha) + sum (alpha_k - 1) ln x_k
    for _ in range(20):
        alpha = rng.uniform(0.2, 30.0, 4)
        x = rng.dirichlet(np.ones(4))
        ref = stats.dirichlet.logpdf(x, alpha) - np.sum((alpha - 1) * np.log(x))
        assert log_dirichlet_norm(alpha) == pytest.approx(ref, rel=1e-12, abs=1e-12)


def test_log_beta_norm():
    rng = np.random.default_rng(6)
    a = _log_uniform(rng, 1e-8, 1e8, 2000)
    b = _log_uniform(rng, 1e-8, 1e8, 2000)
    grid = np.logspace(-8, 8, 17)
    a = np.concatenate([a, np.repeat(grid, grid.size)])
    b = np.concatenate([b, np.tile(grid, grid.size)])
    for ai, bi in zip(a, b, strict=True):
        ref = -special.betaln(ai, bi)  # SciPy's betaln avoids the cancellation
        tol = _rounding_tol(special.gammaln(ai + bi), special.gammaln(ai), special.gammaln(bi))
        assert abs(log_beta_norm(ai, bi) - ref) <= tol + 1e-14 * abs(ref), (ai, bi)
    # it is the two-component Dirichlet normaliser
    # (SciPy's gammaln here, the lgamma of libm or of Numba there: equal to round-off)
    expected = log_dirichlet_norm(np.array([2.5, 0.3]))
    assert log_beta_norm(2.5, 0.3) == pytest.approx(expected, rel=1e-15)
    assert log_beta_norm(2, 3) == pytest.approx(np.log(12.0), rel=1e-15)  # 1 / B(2, 3) = 12


def test_log_gamma_norm():
    rng = np.random.default_rng(7)
    shape = _log_uniform(rng, 1e-8, 1e8, 3000)
    rate = _log_uniform(rng, 1e-8, 1e8, 3000)
    for a, b in zip(shape, rate, strict=True):
        ref = a * np.log(b) - special.gammaln(a)
        got = log_gamma_norm(a, b)
        assert abs(got - ref) <= _rounding_tol(a * np.log(b), special.gammaln(a)), (a, b)
    # against the density: ln Gam(x | a, b) = ln norm + (a - 1) ln x - b x
    for _ in range(50):
        a, b = rng.uniform(0.1, 50.0), rng.uniform(0.05, 20.0)
        x = rng.gamma(a, 1.0 / b) + 1e-3
        ref = stats.gamma(a, scale=1.0 / b).logpdf(x) - ((a - 1) * np.log(x) - b * x)
        assert log_gamma_norm(a, b) == pytest.approx(ref, rel=1e-11, abs=1e-11)


def test_log_wishart_norm_matches_multigammaln():
    rng = np.random.default_rng(8)
    for _ in range(1000):
        d = int(rng.integers(1, 8))
        dof = d - 1 + _log_uniform(rng, 1e-8, 1e8, 1)[0]
        log_det = rng.uniform(-50.0, 50.0)
        terms = (
            -0.5 * dof * log_det,
            -0.5 * dof * d * np.log(2.0),
            -special.multigammaln(0.5 * dof, d),
        )
        ref = sum(terms)
        lg = [special.gammaln(0.5 * (dof - (i - 1))) for i in range(1, d + 1)]
        got = log_wishart_norm(log_det, dof, d)
        assert abs(got - ref) <= _rounding_tol(*terms, *lg), (d, dof, log_det)


@pytest.mark.parametrize("d", [1, 2, 3, 5])
def test_log_wishart_norm_matches_scipy_density(d):
    rng = np.random.default_rng(9 + d)
    for _ in range(10):
        w = _random_spd(rng, d, scale=rng.uniform(0.1, 10.0))
        lam = _random_spd(rng, d, scale=rng.uniform(0.1, 10.0))
        dof = d - 1 + rng.uniform(0.05, 30.0)
        # scipy: ln W(L | W, nu) = ln B(W, nu) + (nu - d - 1)/2 ln|L| - tr(W^-1 L) / 2
        ref = stats.wishart(df=dof, scale=w).logpdf(lam)
        got = (
            log_wishart_norm(_log_det(w), dof, d)
            + 0.5 * (dof - d - 1) * np.linalg.slogdet(lam)[1]
            - 0.5 * np.trace(np.linalg.solve(w, lam))
        )
        assert got == pytest.approx(ref, rel=1e-11, abs=1e-10)


def test_expected_log_det_wishart_exact():
    rng = np.random.default_rng(10)
    for _ in range(500):
        d = int(rng.integers(1, 8))
        dof = d - 1 + _log_uniform(rng, 1e-6, 1e8, 1)[0]
        log_det = rng.uniform(-50.0, 50.0)
        psi = special.digamma(0.5 * (dof - np.arange(d)))
        ref = psi.sum() + d * np.log(2.0) + log_det
        got = expected_log_det_wishart(log_det, dof, d)
        assert abs(got - ref) <= 1e-13 * (np.abs(psi).sum() + abs(log_det) + d), (d, dof)


@pytest.mark.parametrize(("d", "dof"), [(1, 0.7), (3, 3.5), (4, 12.0)])
def test_expected_log_det_wishart_monte_carlo(d, dof):
    rng = np.random.default_rng(11 + d)
    w = _random_spd(rng, d, scale=2.0)
    samples = stats.wishart(df=dof, scale=w).rvs(size=20000, random_state=rng)
    samples = samples.reshape(-1, d, d)
    log_dets = np.linalg.slogdet(samples)[1]
    se = log_dets.std(ddof=1) / np.sqrt(log_dets.size)
    got = expected_log_det_wishart(_log_det(w), dof, d)
    assert abs(got - log_dets.mean()) <= 5 * se


# ------------------------------------------------------------------------------- KL


def _beta_cross_entropy(aq, bq, ap, bp):
    """E_q[ln p] by quadrature."""
    return stats.beta(aq, bq).expect(stats.beta(ap, bp).logpdf, epsabs=1e-12, epsrel=1e-12)


@pytest.mark.parametrize(
    ("aq", "bq", "ap", "bp"),
    [(2.5, 3.1, 1.0, 1.0), (0.7, 1.3, 2.0, 5.0), (10.0, 4.0, 0.5, 0.5), (30.0, 2.0, 3.0, 3.0)],
)
def test_kl_beta_against_quadrature(aq, bq, ap, bp):
    ref = -stats.beta(aq, bq).entropy() - _beta_cross_entropy(aq, bq, ap, bp)
    assert kl_beta(aq, bq, ap, bp) == pytest.approx(ref, rel=1e-8, abs=1e-9)


@pytest.mark.parametrize(
    ("aq", "bq", "ap", "bp"),
    [(2.0, 0.5, 3.0, 0.2), (0.6, 3.0, 1.0, 1.0), (15.0, 4.0, 2.0, 0.1), (1.0, 1.0, 8.0, 2.0)],
)
def test_kl_gamma_against_quadrature(aq, bq, ap, bp):
    q = stats.gamma(aq, scale=1.0 / bq)
    p = stats.gamma(ap, scale=1.0 / bp)
    ref = -q.entropy() - q.expect(p.logpdf, epsabs=1e-12, epsrel=1e-12)
    assert kl_gamma(aq, bq, ap, bp) == pytest.approx(ref, rel=1e-8, abs=1e-9)


@pytest.mark.parametrize(
    ("alpha_q", "alpha_p"),
    [
        ([2.0, 3.0, 4.0], [1.0, 1.0, 1.0]),
        ([0.6, 5.0, 1.5, 9.0], [2.0, 0.5, 3.0, 1.0]),
        ([20.0, 1.0], [1.5, 4.0]),
    ],
)
def test_kl_dirichlet_against_entropy_and_cross_entropy(alpha_q, alpha_p):
    aq = np.array(alpha_q)
    ap = np.array(alpha_p)
    entropy = stats.dirichlet(aq).entropy()
    log_c_p = special.gammaln(ap.sum()) - special.gammaln(ap).sum()
    # (1) E_q[ln mu_k] by quadrature over the Beta(alpha_k, alpha_0 - alpha_k) marginal
    e_log_mu = np.array(
        [stats.beta(a, aq.sum() - a).expect(np.log, epsabs=1e-12, epsrel=1e-12) for a in aq]
    )
    cross = log_c_p + np.sum((ap - 1) * e_log_mu)
    got = kl_dirichlet(aq, ap)
    assert got == pytest.approx(-entropy - cross, rel=1e-8, abs=1e-9)
    # (2) E_q[ln p] by Monte Carlo with scipy's density
    rng = np.random.default_rng(12)
    samples = rng.dirichlet(aq, size=20000)
    log_p = stats.dirichlet(ap).logpdf(samples.T)
    se = log_p.std(ddof=1) / np.sqrt(log_p.size)
    assert abs(got - (-entropy - log_p.mean())) <= 5 * se + 1e-12  # se = 0 for a flat p


@pytest.mark.parametrize(("d", "dof_q", "dof_p"), [(1, 3.0, 1.5), (2, 4.5, 2.0), (3, 7.0, 9.0)])
def test_kl_wishart_against_monte_carlo(d, dof_q, dof_p):
    rng = np.random.default_rng(13 + d)
    w_q = _random_spd(rng, d, scale=1.5)
    w_p = _random_spd(rng, d, scale=0.7)
    q = stats.wishart(df=dof_q, scale=w_q)
    p = stats.wishart(df=dof_p, scale=w_p)
    got = kl_wishart(
        _log_det(w_q), dof_q, _log_det(w_p), dof_p, np.trace(np.linalg.solve(w_p, w_q)), d
    )
    samples = q.rvs(size=5000, random_state=rng).reshape(-1, d, d)
    x = np.moveaxis(samples, 0, -1)
    # entropy + Monte Carlo cross-entropy
    log_p = p.logpdf(x)
    se = log_p.std(ddof=1) / np.sqrt(log_p.size)
    assert abs(got - (-q.entropy() - log_p.mean())) <= 5 * se
    # direct Monte Carlo of E_q[ln q - ln p] (lower variance)
    log_ratio = q.logpdf(x) - log_p
    se = log_ratio.std(ddof=1) / np.sqrt(log_ratio.size)
    assert abs(got - log_ratio.mean()) <= 5 * se


def test_kl_of_identical_distributions_is_zero():
    rng = np.random.default_rng(14)
    for _ in range(50):
        alpha = _log_uniform(rng, 1e-3, 1e3, int(rng.integers(1, 8)))
        assert kl_dirichlet(alpha, alpha) == 0.0
        a, b = _log_uniform(rng, 1e-3, 1e3, 2)
        assert kl_beta(a, b, a, b) == 0.0
        assert kl_gamma(a, b, a, b) == 0.0
        d = int(rng.integers(1, 6))
        dof = d - 1 + _log_uniform(rng, 1e-2, 1e3, 1)[0]
        w = _random_spd(rng, d)
        kl = kl_wishart(_log_det(w), dof, _log_det(w), dof, np.trace(np.linalg.solve(w, w)), d)
        # the trace is d only up to rounding; nu/2 * (tr - d) is what is left
        assert abs(kl) <= 1e-13 * dof * d


def test_kl_wishart_reduces_to_kl_gamma_in_one_dimension():
    # W(lambda | w, nu) in 1-D is Gam(lambda | nu/2, rate=1/(2w))
    for wq, nq, wp, np_ in [(0.3, 2.0, 1.7, 5.0), (4.0, 0.5, 0.1, 1.2), (1.0, 30.0, 1.0, 3.0)]:
        got = kl_wishart(np.log(wq), nq, np.log(wp), np_, wq / wp, 1)
        ref = kl_gamma(nq / 2, 1 / (2 * wq), np_ / 2, 1 / (2 * wp))
        assert got == pytest.approx(ref, rel=1e-12, abs=1e-13)


def test_kl_beta_is_two_component_kl_dirichlet():
    got = kl_beta(0.4, 7.0, 2.0, 1.5)
    ref = kl_dirichlet(np.array([0.4, 7.0]), np.array([2.0, 1.5]))
    assert got == pytest.approx(ref, rel=1e-14)


positive = st.floats(min_value=1e-3, max_value=1e3, allow_nan=False, allow_infinity=False)


def _nonneg_tol(*terms):
    return -1e-12 * (1.0 + sum(abs(t) for t in terms))


@settings(max_examples=200, deadline=None)
@given(aq=positive, bq=positive, ap=positive, bp=positive)
def test_kl_beta_nonnegative(aq, bq, ap, bp):
    kl = kl_beta(aq, bq, ap, bp)
    assert kl >= _nonneg_tol(*special.gammaln([aq, bq, ap, bp, aq + bq, ap + bp]), ap, bp)


@settings(max_examples=200, deadline=None)
@given(aq=positive, bq=positive, ap=positive, bp=positive)
def test_kl_gamma_nonnegative(aq, bq, ap, bp):
    kl = kl_gamma(aq, bq, ap, bp)
    terms = [special.gammaln(aq), special.gammaln(ap), aq * np.log(bq), ap * np.log(bp)]
    assert kl >= _nonneg_tol(*terms, aq * bp / bq, aq)


@settings(max_examples=200, deadline=None)
@given(
    pairs=st.lists(st.tuples(positive, positive), min_size=1, max_size=6),
)
def test_kl_dirichlet_nonnegative(pairs):
    aq = np.array([p[0] for p in pairs])
    ap = np.array([p[1] for p in pairs])
    kl = kl_dirichlet(aq, ap)
    terms = np.concatenate([special.gammaln(aq), special.gammaln(ap), ap])
    assert kl >= _nonneg_tol(special.gammaln(aq.sum()), special.gammaln(ap.sum()), *terms)


@settings(max_examples=100, deadline=None)
@given(
    d=st.integers(1, 5),
    seed=st.integers(0, 2**32 - 1),
    extra_q=st.floats(1e-2, 1e3),
    extra_p=st.floats(1e-2, 1e3),
    scale=st.floats(1e-3, 1e3),
)
def test_kl_wishart_nonnegative(d, seed, extra_q, extra_p, scale):
    rng = np.random.default_rng(seed)
    w_q = _random_spd(rng, d)
    w_p = _random_spd(rng, d, scale=scale)
    dof_q, dof_p = d - 1 + extra_q, d - 1 + extra_p
    log_det_q, log_det_p = _log_det(w_q), _log_det(w_p)
    trace = np.trace(np.linalg.solve(w_p, w_q))
    kl = kl_wishart(log_det_q, dof_q, log_det_p, dof_p, trace, d)
    terms = [
        log_wishart_norm(log_det_q, dof_q, d),
        log_wishart_norm(log_det_p, dof_p, d),
        dof_q * d,
        dof_q * trace,
        (dof_q - dof_p) * expected_log_det_wishart(log_det_q, dof_q, d),
    ]
    assert kl >= _nonneg_tol(*terms)


# ------------------------------------------------------------------- determinants


@pytest.mark.parametrize("d", [1, 2, 5, 20])
def test_cholesky_log_det(d):
    rng = np.random.default_rng(17 + d)
    for scale in [1e-6, 1.0, 1e6]:
        mat = _random_spd(rng, d, scale=scale)
        sign, ref = np.linalg.slogdet(mat)
        assert sign == 1.0
        lower = np.linalg.cholesky(mat)
        upper = linalg.cholesky(mat, lower=False)
        tol = 1e-13 * max(1.0, abs(ref)) + 1e-12 * d
        assert abs(cholesky_log_det(lower) - ref) <= tol
        assert abs(cholesky_log_det(upper) - ref) <= tol
        assert abs(cholesky_log_det(np.asfortranarray(lower)) - ref) <= tol
        # a stack of factors gives the log-determinant of each
        stack = cholesky_log_det(np.stack([lower, upper.T, 2.0 * lower]))
        assert stack.shape == (3,)
        assert np.all(np.abs(stack - [ref, ref, ref + 2 * d * np.log(2.0)]) <= 2 * tol)


# ------------------------------------------------------------- use from other kernels


@numba.njit
def _all_from_a_kernel(x, alpha):
    out = np.empty(3)
    out[0] = digamma(x)
    out[1] = digamma_array(alpha).sum()
    out[2] = log_dirichlet_norm(alpha)
    return out


def test_compiled_functions_are_callable_from_jitted_code():
    x = 0.8
    alpha = np.array([0.5, 2.0, 7.0])
    got = _all_from_a_kernel(x, alpha)
    expected = [digamma(x), digamma_array(alpha).sum(), log_dirichlet_norm(alpha)]
    assert_allclose(got, expected, rtol=1e-14)
    # and the values themselves are right
    assert got[0] == pytest.approx(special.digamma(x), rel=1e-14)
    assert got[2] == pytest.approx(
        special.gammaln(alpha.sum()) - special.gammaln(alpha).sum(), rel=1e-14
    )


def test_normalisers_and_kls_are_elementwise_over_arrays():
    # the mixture calls them once per sweep on all its components: an array call must
    # equal the scalar calls, element by element
    rng = np.random.default_rng(19)
    d = 3
    aq, bq = _log_uniform(rng, 1e-2, 1e2, 6), _log_uniform(rng, 1e-2, 1e2, 6)
    dof = d - 1 + _log_uniform(rng, 1e-2, 1e2, 6)
    log_det, trace = rng.normal(size=6), _log_uniform(rng, 0.1, 10.0, 6)
    cases = [
        (log_beta_norm, (aq, bq)),
        (log_gamma_norm, (aq, bq)),
        (kl_beta, (aq, bq, 1.0, 0.3)),
        (kl_gamma, (aq, bq, 2.0, 0.5)),
        (lambda *a: log_wishart_norm(*a, d), (log_det, dof)),
        (lambda *a: expected_log_det_wishart(*a, d), (log_det, dof)),
        (lambda *a: kl_wishart(*a, d), (log_det, dof, 0.2, d + 0.5, trace)),
    ]
    for fn, args in cases:
        got = fn(*args)
        assert got.shape == (6,)
        for i in range(6):
            one = fn(*[a[i] if np.ndim(a) else a for a in args])
            assert got[i] == pytest.approx(float(one), rel=1e-15, abs=1e-300)
    # (K, d) against (d,) broadcasting, as for the 'diag' mixture
    rates = _log_uniform(rng, 1e-2, 1e2, 12).reshape(4, 3)
    got = kl_gamma(aq[:4, None], rates, 2.0, bq[:3])
    assert got.shape == (4, 3)
    assert got[2, 1] == kl_gamma(aq[2], rates[2, 1], 2.0, bq[1])
    # a stack of Dirichlets over the last axis
    stack = _log_uniform(rng, 1e-2, 1e2, 8).reshape(2, 4)
    got = kl_dirichlet(stack, stack[::-1])
    assert got.shape == (2,)
    assert_allclose(got, [kl_dirichlet(stack[0], stack[1]), kl_dirichlet(stack[1], stack[0])])


def test_scalar_functions_accept_python_and_numpy_scalars():
    assert log_beta_norm(2, 3) == log_beta_norm(np.float64(2.0), 3.0)
    assert log_gamma_norm(2, 3) == log_gamma_norm(np.int64(2), np.float64(3.0))
    assert log_wishart_norm(0, 4, 2) == log_wishart_norm(0.0, np.float64(4.0), np.int64(2))
    assert kl_gamma(1, 2, 3, 4) == kl_gamma(1.0, 2.0, 3.0, 4.0)
    assert isinstance(kl_beta(1, 2, 3, 4), float)


def test_trigamma_and_inverse_digamma():
    from skvi._special import inverse_digamma, trigamma

    x = np.logspace(-6, 6, 200)
    assert_allclose([trigamma(v) for v in x], special.polygamma(1, x), rtol=1e-12)
    assert_allclose([inverse_digamma(v) for v in special.digamma(x)], x, rtol=1e-11)


def test_exp_digamma_fast_against_scipy():
    """LDA's fixed-point digamma: ``out[k] = exp(psi(x_k) + c)`` for a common ``c``, so
    ``ln(out[0] / out[1]) = psi(x_0) - psi(x_1)`` to the series' 2e-13 plus a few ulps
    of ``|psi|`` (the rounding of ``R``, which holds ``1/x``), over 1e-8 to 1e8; an
    entry whose ratio is beyond float64's normal range underflows (measured: at most
    2e-13 + 1.09 ulps of ``|psi(x_0)| + |psi(x_1)|``)."""
    from skvi._special import exp_digamma_fast

    x = np.logspace(-8, 8, 1601)
    out = np.empty(2)
    n_checked = 0
    for v in x:
        for z in (1.0, 1.5 * v, 1e-3, 0.5, 1e6):
            exp_digamma_fast(np.array([v, z]), out)
            assert max(out) >= 6.0
            ref = special.digamma(v) - special.digamma(z)
            if min(out) > 1e-290:
                got = np.log(out[0]) - np.log(out[1])
                scale = abs(special.digamma(v)) + abs(special.digamma(z))
                assert abs(got - ref) <= 2e-13 + 4 * EPS * scale, (v, z, got, ref)
                n_checked += 1
            else:  # exp of a difference beyond -660 nats: (sub)normal underflow
                assert abs(ref) > 660, (v, z, ref, out)
    assert n_checked > 4000
    # huge arguments stay finite: psi(1e300) - psi(1e299) = ln 10
    exp_digamma_fast(np.array([1e300, 1e299]), out)
    assert np.log(out[0] / out[1]) == pytest.approx(np.log(10.0), rel=1e-14)
    # at one point, against mpmath
    mpmath = pytest.importorskip("mpmath")
    exp_digamma_fast(np.array([2.5, 7.0]), out)
    ref = float(mpmath.digamma(2.5) - mpmath.digamma(7.0))
    assert abs(np.log(out[0] / out[1]) - ref) <= 2e-13


# ------------------------------------------ issue 11: accuracy at extreme scales
@pytest.mark.parametrize("x", [1e-8, 0.1, 1 / 3, 1.4616, 10.0, 1e5, 1e300])
def test_lgamma_increment_matches_high_precision(x):
    ratios = [-0.5, -1e-3, -2e-6, -1e-300, 0.0, 1e-300, 1e-12, 1e-6, 2e-6, 1.0, 1e3]
    checked = 0
    for ratio in ratios:
        y = x + ratio * x
        if (ratio != 0 and y == x) or y <= 0 or not np.isfinite(y):
            continue  # the step is lost in x + d: nothing to compute
        d = y - x  # exactly the step the kernel sees
        with mpmath.workdps(700):
            ref = float(mpmath.loggamma(mpmath.mpf(y)) - mpmath.loggamma(mpmath.mpf(x)))
        got = lgamma_increment(x, d, y, *increment_table(np.array([x]))[0])
        # Taylor branch: relative to the step; difference branch: rounding of the lgammas
        # (compiled, libm's lgamma: an ulp; as Python, with NUMBA_DISABLE_JIT=1, CPython's
        # math.lgamma: up to 1.5e-15 absolute on [0.5, 3], measured against mpmath)
        tol = 1e-12 * abs(ref) + 4e-16 * (abs(gammaln(x)) + abs(gammaln(y)))
        tol += 3e-15 if numba.config.DISABLE_JIT else 0.0
        assert abs(got - ref) <= tol, (ratio, got, ref)
        checked += 1
    assert checked >= 8


@pytest.mark.parametrize("scale", [1e-300, 1e-8, 1.0, 1e100])
def test_dirichlet_kl_from_prior_is_accurate_to_the_size_of_the_step(scale):
    rng = np.random.RandomState(0)
    prior = rng.uniform(0.05, 3.0, 6)
    posterior = prior + scale * rng.uniform(0, 2, 6)
    e_log = special.digamma(posterior) - special.digamma(posterior.sum())
    got = dirichlet_kl_from_prior(
        prior, increment_table(prior), prior.sum(),
        increment_table(np.array([prior.sum()]))[0], posterior, e_log,
    )  # fmt: skip
    with mpmath.workdps(700):
        a = [mpmath.mpf(v) for v in prior]
        b = [mpmath.mpf(v) for v in posterior]
        e_log_b = [mpmath.digamma(v) - mpmath.digamma(sum(b)) for v in b]
        ref = (
            mpmath.loggamma(sum(b)) - sum(mpmath.loggamma(v) for v in b)
            - mpmath.loggamma(sum(a)) + sum(mpmath.loggamma(v) for v in a)
            + sum((v - u) * e for u, v, e in zip(a, b, e_log_b, strict=True))
        )  # fmt: skip
    # the KL is second order in the step: exact 0 only when posterior == prior
    assert got >= 0 or abs(got) <= 1e-15 * scale
    assert abs(got - float(ref)) <= 1e-9 * abs(float(ref)) + 1e-14 * scale, (got, float(ref))
    same = dirichlet_kl_from_prior(
        prior, increment_table(prior), prior.sum(),
        increment_table(np.array([prior.sum()]))[0], prior,
        special.digamma(prior) - special.digamma(prior.sum()),
    )  # fmt: skip
    assert same == 0.0


def test_special_series_match_scipy():
    x = np.array([0.1, 1.0, 29.0, 30.0, 1e3, 1e8])
    direct = special.gammaln(x) - (x - 0.5) * np.log(x) + x - 0.5 * np.log(2 * np.pi)
    assert_allclose(stirling_remainder(x[:4]), direct[:4], rtol=1e-11)
    with mpmath.workdps(40):
        ref = [
            float(
                mpmath.loggamma(v) - (v - 0.5) * mpmath.log(v) + v - mpmath.log(2 * mpmath.pi) / 2
            )
            for v in map(mpmath.mpf, x[4:])
        ]
    assert_allclose(stirling_remainder(x[4:]), ref, rtol=1e-13)
    t = np.array([-3.0, -0.2, -1e-9, 0.0, 1e-9, 0.2, 3.0])
    with mpmath.workdps(40):
        ref = [float(mpmath.exp(v) - 1 - v) for v in map(mpmath.mpf, t)]
    assert_allclose(expm1_minus(t), ref, rtol=1e-14)
