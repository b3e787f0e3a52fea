"""The compiled 'diag' update (skvi._mixture_diag) against the NumPy/SciPy functions of
skvi._mixture_kernels that compute the same values for every covariance type."""

import numpy as np
import pytest
from numpy.testing import assert_allclose

from skvi import _mixture_kernels as kern
from skvi._mixture_diag import diag_posterior


def _problem(seed, n_features=5, n_components=7, empty=(), dirichlet_process=True):
    """Valid statistics (second moments above the squared means) with the components
    ``empty`` holding no weight, and a 'diag' prior with ``m0`` away from the data."""
    rng = np.random.default_rng(seed)
    nk = rng.uniform(0.5, 80.0, n_components)
    nk[list(empty)] = 0.0
    s1 = rng.standard_normal((n_features, n_components)) * nk
    s2 = s1**2 / np.where(nk > 0, nk, 1.0) + rng.uniform(0.1, 3.0, (n_features, n_components)) * nk
    stats = kern.MixtureStats(np.vstack([nk, s1, s2]), float(rng.uniform(-30.0, -1.0)))
    prior = kern.MixturePrior(
        kern.DIAG, dirichlet_process, float(rng.uniform(0.01, 2.0)), float(rng.uniform(0.1, 3.0)),
        rng.standard_normal(n_features) + 4.0, n_features + float(rng.uniform(0.0, 3.0)),
        rng.uniform(0.2, 2.0, n_features), 1e-6,
    )  # fmt: skip
    return stats, prior


@pytest.mark.parametrize("dirichlet_process", [True, False])
@pytest.mark.parametrize(("n_components", "empty"), [(7, ()), (7, (0, 3)), (7, (6,)), (1, ())])
@pytest.mark.parametrize("seed", [0, 1])
def test_diag_state_equals_the_numpy_update_coefficients_and_kl(
    seed, n_components, empty, dirichlet_process
):
    stats, prior = _problem(seed, n_components=n_components, empty=empty,
                            dirichlet_process=dirichlet_process)  # fmt: skip
    post = kern.update(stats, prior)
    coef = kern.coefficients(post, prior)
    kl_w, kl_g = kern.kl_weights(post, prior), kern.kl_gauss(post, prior)
    state = kern.new_state(stats, prior)
    assert state.kl is not None and state.coef.flags.c_contiguous
    for name, want, got in zip(post._fields, post, state.posterior, strict=True):
        if want is None:  # the sticks, under the Dirichlet prior
            assert got is None and not dirichlet_process, name
            continue
        assert_allclose(got, want, rtol=1e-13, atol=1e-14, err_msg=name)
    assert_allclose(state.coef, coef, rtol=1e-13, atol=1e-13)
    assert_allclose(state.kl, kl_w + kl_g, rtol=1e-13)
    # and so the ELBO: the compiled KL or the NumPy one
    bound = kern.elbo(stats, state.posterior, prior, 3, state.coef, state.kl)
    assert_allclose(bound, kern.elbo(stats, post, prior, 3), rtol=1e-13)
    assert state.kl > 0.0


def test_diag_posterior_is_the_update_of_the_module_docstring():
    # one component, one feature, by hand: beta = beta0 + N, m = (beta0 m0 + N xbar) / beta,
    # nu = nu0 + N, c = c0 + N S + beta0 N / beta (xbar - m0)^2 + N reg
    n, xbar, var = 4.0, 1.5, 0.25
    moments = np.array([[n], [n * xbar], [n * (var + xbar**2)]])
    beta0, nu0, m0, c0, reg = 2.0, 3.0, -1.0, 0.5, 1e-3
    out = diag_posterior(moments, beta0, nu0, np.array([m0]), np.array([c0]), reg, 1.0, False)
    concentration, _, weights, beta, means, offset, dof, cov, prec, chol, log_c, coef, _ = out
    c = c0 + n * var + beta0 * n / (beta0 + n) * (xbar - m0) ** 2 + n * reg
    assert_allclose(beta, [beta0 + n])
    assert_allclose(dof, [nu0 + n])
    assert_allclose(means, [[(beta0 * m0 + n * xbar) / (beta0 + n)]], rtol=1e-15)
    assert_allclose(offset, means - m0, rtol=1e-14)
    assert_allclose(cov, [[c / (nu0 + n)]], rtol=1e-14)
    assert_allclose(prec * cov, [[1.0]], rtol=1e-15)
    assert_allclose(chol**2, prec, rtol=1e-15)
    assert_allclose(log_c, [[np.log(c)]], rtol=1e-15)
    assert_allclose(concentration, [1.0 + n])
    assert_allclose(weights, [1.0])
    assert_allclose(coef[1:, 0], [prec[0, 0] * means[0, 0], -0.5 * prec[0, 0]], rtol=1e-15)
