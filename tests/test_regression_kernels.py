"""The numerical steps of the regressor (``skvi/_regression_kernels.py``) against direct
formulas."""

import numpy as np
from numpy.testing import assert_allclose
from scipy import stats

from skvi import _regression_kernels as kern
from skvi._special import kl_gamma


def test_sum_kl_gamma_matches_the_scalar_kl():
    rates = np.array([0.3, 1.0, 7.5])
    weights = np.array([1.0, 0.5, 2.0])
    expected = sum(w * kl_gamma(2.5, r, 0.7, 1.3) for w, r in zip(weights, rates, strict=True))
    assert_allclose(kern.sum_kl_gamma(2.5, rates, 0.7, 1.3, weights), expected, rtol=1e-12)


def test_kernel_and_gram_posteriors_agree():
    rng = np.random.RandomState(18)
    Z = rng.randn(6, 9)
    beta, prior, y = rng.uniform(0.5, 2, 6), rng.uniform(0.1, 10, 9), rng.randn(6)
    m, diag, logdet, gamma, q = kern.posterior_kernel(Z, beta, y, prior)
    m2, R, diag2, logdet2 = kern.posterior_gram((Z.T * beta) @ Z, Z.T @ (beta * y), prior)
    cov = R.T @ R
    assert_allclose(m, m2, rtol=1e-10)
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
