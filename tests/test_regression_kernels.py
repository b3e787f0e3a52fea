"""The numerical steps of the regressor (``skvi/_regression_kernels.py``) against direct
formulas."""

import mpmath
import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy import special, stats

from skvi import _regression_kernels as kern


def _mp_gamma_terms(a, c, b, r, rate_q, point):
    """The expanded terms of one Gamma precision in 60-digit arithmetic: under 'vbem'
    c E ln(theta) - r E theta + E ln p(theta) - E ln q(theta) with q = Gam(a + c, rate_q);
    under 'vem' the same at theta = (a + c) / rate_q with the log density of ln theta."""
    with mpmath.workdps(60):
        a, c, b, r, B = (mpmath.mpf(v) for v in (a, c, b, r, rate_q))
        A = a + c
        if point:
            theta = A / B
            return float(c * mpmath.log(theta) - r * theta + a * mpmath.log(b * theta)
                         - b * theta - mpmath.loggamma(a))  # fmt: skip
        e_log, e_theta = mpmath.digamma(A) - mpmath.log(B), A / B
        log_p = a * mpmath.log(b) - mpmath.loggamma(a) + (a - 1) * e_log - b * e_theta
        log_q = A * mpmath.log(B) - mpmath.loggamma(A) + (A - 1) * e_log - B * e_theta
        return float(c * e_log - r * e_theta + log_p - log_q)


@pytest.mark.parametrize("point", [False, True])
@pytest.mark.parametrize(
    "a, c, b, r",
    [
        (1e-6, 15.5, 1e-6, 3.7),  # the defaults
        (2.0, 0.5, 3.0, 0.25),
        (1e14, 25.5, 1e-6, 1e-18),  # large shape (the lambda_1 = 1e14)
        (1e30, 25.5, 2.5e29, 12.0),
        (1e-30, 0.5, 1e30, 1e-3),  # large rate
        (5.0, 2.0, 1e-30, 40.0),  # tiny rate
    ],
)
def test_gamma_factor_terms_match_the_expanded_form(a, c, b, r, point):
    """Against the expanded form in 60-digit arithmetic, at the optimal rate and away
    from it; in float64 the expanded form cancels terms of size a ln a."""
    for rate_q in ((b + r), 0.7 * (b + r), 3.0 * (b + r)):
        got = kern.gamma_factor_terms(a, c, b, r, rate_q, point)
        expected = _mp_gamma_terms(a, c, b, r, rate_q, point)
        assert_allclose(got, expected, rtol=1e-11, atol=1e-11 * (abs(a) * 1e-16 + 1.0))


def test_tau_terms_match_the_expanded_form():
    """sum_n s_n [E ln(tau_n)/2 - KL(Gam(a, b_n) || Gam(nu/2, nu/2))], nu from 0.5 to 1e4,
    against 60-digit arithmetic."""
    rng = np.random.RandomState(30)
    s = rng.uniform(0.5, 2.0, 40)
    for nu in (0.5, 4.0, 1e4):
        h, a = nu / 2, nu / 2 + 0.5
        b = h + 0.5 * rng.exponential(1.0, 40)
        with mpmath.workdps(60):
            A, H = mpmath.mpf(a), mpmath.mpf(h)
            total = mpmath.mpf(0)
            for sn, bn in zip(s, b, strict=True):
                B = mpmath.mpf(bn)
                e_log = mpmath.digamma(A) - mpmath.log(B)
                kl = (A * mpmath.log(B) - mpmath.loggamma(A) - H * mpmath.log(H)
                      + mpmath.loggamma(H) + (A - H) * e_log - (B - H) * A / B)  # fmt: skip
                total += mpmath.mpf(sn) * (e_log / 2 - kl)
        S3 = np.array([s @ np.log(b)])
        S5 = np.array([s @ kern.expm1_minus(np.log(a) - np.log(b))])
        got = kern.tau_terms(np.array([a]), np.array([nu]), s.sum(), S3, S5)[0]
        assert_allclose(got, float(total), rtol=1e-12, atol=1e-13 * s.sum())


def test_special_series_match_scipy():
    x = np.array([0.1, 1.0, 29.0, 30.0, 1e3, 1e8])
    # (the reference in 40 digits: scipy's digamma(x) - log(x) cancels for large x, to
    # 6e-7 relative at 1e8 with scipy 1.11)
    with mpmath.workdps(40):
        ref = [float(mpmath.digamma(v) - mpmath.log(v)) for v in map(mpmath.mpf, x)]
    assert_allclose(kern.digamma_minus_log(x), ref, rtol=1e-12)
    direct = special.gammaln(x) - (x - 0.5) * np.log(x) + x - 0.5 * np.log(2 * np.pi)
    assert_allclose(kern.stirling_remainder(x[:4]), direct[:4], rtol=1e-11)
    with mpmath.workdps(40):
        ref = [
            float(
                mpmath.loggamma(v) - (v - 0.5) * mpmath.log(v) + v - mpmath.log(2 * mpmath.pi) / 2
            )
            for v in map(mpmath.mpf, x[4:])
        ]
    assert_allclose(kern.stirling_remainder(x[4:]), ref, rtol=1e-13)
    t = np.array([-3.0, -0.2, -1e-9, 0.0, 1e-9, 0.2, 3.0])
    with mpmath.workdps(40):
        ref = [float(mpmath.exp(v) - 1 - v) for v in map(mpmath.mpf, t)]
    assert_allclose(kern.expm1_minus(t), ref, rtol=1e-14)


def test_kernel_and_gram_posteriors_agree():
    rng = np.random.RandomState(18)
    Z = rng.randn(6, 9)
    beta, prior, y = rng.uniform(0.5, 2, 6), rng.uniform(0.1, 10, 9), rng.randn(6)
    m, diag, logdet, gamma, q, r = kern.posterior_kernel(Z, beta, y, prior)
    m2, R, diag2, logdet2 = kern.posterior_gram((Z.T * beta) @ Z, Z.T @ (beta * y), prior)
    cov = R.T @ R
    assert_allclose(m, m2, rtol=1e-10)
    assert_allclose(r, y - Z @ m2, rtol=1e-8, atol=1e-12)
    assert_allclose(diag, diag2, rtol=1e-10)
    assert_allclose(logdet, logdet2, rtol=1e-10)
    assert_allclose(gamma, 1 - prior * diag2, rtol=1e-9)
    assert_allclose(q, np.einsum("ni,ij,nj->n", Z, cov, Z), rtol=1e-9)
    assert_allclose(kern.covariance_kernel(Z, beta, prior), cov, rtol=1e-9, atol=1e-14)


def test_df_update_maximises_the_collapsed_objective():
    rng = np.random.RandomState(19)
    c = stats.t.rvs(3.0, size=2000, random_state=rng) ** 2
    s = np.ones_like(c)
    nu = kern.update_df(s, c, 10.0)
    grid = np.exp(np.linspace(np.log(0.1), np.log(1e4), 2001))
    values = [kern._df_objective(v, s, c) for v in grid]
    assert kern._df_objective(nu, s, c) >= max(values) - 1e-9
    assert 2.0 < nu < 4.5
