"""The numerical steps of the regressor (``skvi/_regression_kernels.py``) against direct
formulas."""

import mpmath
import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy import stats

from skvi import _regression_kernels as kern

from . import _naive


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
    # both against the dense inverse of tests/_naive.py
    ref_m, ref_cov = _naive.regression_posterior(Z, y, 1.0, prior, sample_weight=beta)
    assert_allclose(m, ref_m, rtol=1e-9)
    assert_allclose(m2, ref_m, rtol=1e-9)
    assert_allclose(cov, ref_cov, rtol=1e-9, atol=1e-14)
    assert_allclose(diag, np.diag(ref_cov), rtol=1e-9)
    assert_allclose(logdet, np.linalg.slogdet(ref_cov)[1], rtol=1e-10)
    assert_allclose(gamma, 1 - prior * np.diag(ref_cov), rtol=1e-9)
    assert_allclose(q, np.einsum("ni,ij,nj->n", Z, ref_cov, Z), rtol=1e-9)
    assert_allclose(r, y - Z @ ref_m, rtol=1e-8, atol=1e-12)


def test_kernel_form_with_the_intercept_column_of_a_wide_design():
    # Student-t noise with more coefficients than samples: Z = [X - xbar, 1] in the
    # Woodbury form, whose K = diag(1/beta) + Z Pi^-1 Z^T carries the intercept's vague
    # prior (INTERCEPT_PRIOR) as a ones-direction of size n / INTERCEPT_PRIOR: K's
    # condition number is above 1e8 here (15 copies of 3 columns, 30 samples): its
    # ln|Sigma| is within 1e-9 of itself (and diag(Sigma) within 1e-6), not within
    # round-off as the Gram form's is. The ELBO tolerance of tests/test_inputs.py's
    # 'n_features>n_samples' Student-t cases comes from this bound.
    rng = np.random.RandomState(0)
    x = rng.randn(30, 3)
    X = np.hstack([x] * 15)
    Z = np.hstack([X - X.mean(axis=0), np.ones((30, 1))])
    beta = 15.0 * rng.gamma(50.0, 1.0 / 50.0, 30)
    prior = np.r_[np.full(45, 8.5), kern.INTERCEPT_PRIOR]
    y = x @ [1.0, -2.0, 0.5] + 0.1 * rng.randn(30)
    P = (Z.T * beta) @ Z + np.diag(prior)
    with mpmath.workdps(40):
        exact = -float(mpmath.log(mpmath.det(mpmath.matrix(P.tolist()))))
    assert np.linalg.cond((Z / prior) @ Z.T + np.diag(1.0 / beta)) > 1e8
    m, diag, logdet, *_ = kern.posterior_kernel(Z, beta, y, prior)
    m2, _, diag2, logdet2 = kern.posterior_gram((Z.T * beta) @ Z, Z.T @ (beta * y), prior)
    assert_allclose(logdet2, exact, rtol=1e-14)
    assert_allclose(logdet, exact, rtol=1e-9)
    assert_allclose(diag, diag2, rtol=1e-6)
    assert_allclose(m, m2, rtol=1e-6, atol=1e-8)


def test_df_update_maximises_the_collapsed_objective():
    rng = np.random.RandomState(19)
    c = stats.t.rvs(3.0, size=2000, random_state=rng) ** 2
    s = np.ones_like(c)
    nu = kern.update_df(s, c, 10.0)
    grid = np.exp(np.linspace(np.log(0.1), np.log(1e4), 2001))
    values = [kern._df_objective(v, s, c) for v in grid]
    assert kern._df_objective(nu, s, c) >= max(values) - 1e-9
    assert 2.0 < nu < 4.5
    # against an independent reference: the objective through scipy.stats.t, maximised
    # by a grid and a bounded search (tests/_naive.py)
    for v in (0.3, 2.0, nu, 50.0, 3e3):
        assert_allclose(kern._df_objective(v, s, c), _naive.regression_df_objective(v, s, c),
                        rtol=1e-11)  # fmt: skip
    assert_allclose(nu, _naive.regression_df(s, c), rtol=1e-5)
    w = rng.uniform(0.2, 3.0, c.size)  # with sample weights
    assert_allclose(kern.update_df(w, c, 10.0), _naive.regression_df(w, c), rtol=1e-5)


# ------------------------------------------ the model's functions on hand-built values
HYPER = (1e-3, 2e-3, 3e-3, 4e-3)  # alpha_1, alpha_2, lambda_1, lambda_2


def _prior(ard, point, df=None):
    return kern.RegressionPrior(*HYPER, ard=ard, point=point, df=df)


def _data(n, d, noise="gaussian", prior="ridge", fit_intercept=False, seed=0, weights=False):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, d) * rng.uniform(0.5, 2.0, d)
    y = X @ rng.randn(d) + 0.3 * rng.randn(n)
    s = rng.uniform(0.5, 2.0, n) if weights else np.ones(n)
    data = kern.RegressionData(X, y[:, None], s, fit_intercept, noise, prior)
    return X, y, s, data


def _precisions(data, ard, alpha, lam):
    """Precisions with the shapes of the coordinate-ascent factors and the means
    ``alpha``, ``lam`` (one target)."""
    a_alpha = HYPER[0] + 0.5 * data.N + 0.5 * data.intercept
    a_lam = HYPER[2] + (0.5 if ard else 0.5 * data.n_features)
    lam = np.broadcast_to(np.asarray(lam, float), (data.n_features if ard else 1,))
    return kern.Precisions(a_alpha, np.array([a_alpha / alpha]), a_lam, (a_lam / lam)[None, :])


def _posterior(data, q, ard):
    if data.mode == "ridge":
        return kern.ridge_posterior(data, q)
    return kern.target_posterior(data, data.gaussian_stats(0), q, ard)


def _means(q):
    return q.alpha_shape / q.alpha_rate[0], q.lambda_shape / q.lambda_rate[0]


@pytest.mark.parametrize("ones_column", [False, True])
@pytest.mark.parametrize("targets", [1, 3])
def test_chunk_statistics_are_additive(ones_column, targets):
    """The statistics of a data set are the sum of those of its chunks: uneven chunks
    (one row, a full block and more, the rest) against the whole, and the whole against
    Z^T D Z, Z^T D y by NumPy."""
    rng = np.random.RandomState(40)
    n, d = 2 * kern.BLOCK_ROWS + 300, 5
    X = rng.randn(n, d) * [1e-3, 1.0, 10.0, 1.0, 1e3] + 2.0
    Y = rng.randn(n, targets) if targets > 1 else rng.randn(n)
    w = rng.uniform(0.0, 3.0, n)
    centre = X.mean(axis=0)
    whole = kern.chunk_statistics(X, centre, Y, w, ones_column)
    edges = [0, 1, kern.BLOCK_ROWS + 17, kern.BLOCK_ROWS + 20, n]
    parts = [
        kern.chunk_statistics(X[a:b], centre, Y[a:b], w[a:b], ones_column)
        for a, b in zip(edges[:-1], edges[1:], strict=True)
    ]
    summed = kern.sum_statistics(parts)
    for got, expected in zip(summed, whole, strict=True):
        assert_allclose(got, expected, rtol=1e-12, atol=1e-12 * np.max(np.abs(expected)))
    Z = X - centre
    if ones_column:
        Z = np.hstack([Z, np.ones((n, 1))])
    assert_allclose(whole.weight, w.sum(), rtol=1e-12)
    assert_allclose(whole.zsum, w @ Z, rtol=1e-10, atol=1e-10)
    big = np.abs(whole.gram).max()
    assert_allclose(whole.gram, (Z.T * w) @ Z, rtol=1e-10, atol=1e-12 * big)
    Yw = w[:, None] * Y if Y.ndim == 2 else w * Y
    assert_allclose(whole.zty, Z.T @ Yw, rtol=1e-9, atol=1e-9)
    # unit weights take the unweighted branch: the same statistics
    ones = kern.chunk_statistics(X, centre, Y, np.ones(n), ones_column)
    assert_allclose(ones.gram, Z.T @ Z, rtol=1e-10, atol=1e-12 * big)


def test_centred_gram_is_the_gram_of_the_weighted_mean():
    rng = np.random.RandomState(41)
    X, Y, w = rng.randn(50, 4) + 5.0, rng.randn(50, 2), rng.uniform(0.5, 2.0, 50)
    mean = w @ X / w.sum()
    Yc = Y - w @ Y / w.sum()
    G, C, shift = kern.centred_gram(kern.chunk_statistics(X, mean + 1e-3, Yc, w), True)
    Xc = X - mean
    assert_allclose(G, (Xc.T * w) @ Xc, rtol=1e-10)
    assert_allclose(C, Xc.T @ (w[:, None] * Yc), rtol=1e-10, atol=1e-12)
    assert_allclose(mean + 1e-3 + shift, mean, rtol=1e-13)


@pytest.mark.parametrize(
    "n, d, prior", [(40, 5, "ridge"), (40, 5, "ard"), (8, 12, "ridge"), (8, 12, "ard")]
)
def test_coefficient_posterior_matches_the_dense_inverse(n, d, prior):
    """ridge_posterior (spectral form) and target_posterior (Gram and Woodbury forms)
    against the dense inverse of the precision, with the summaries the objective needs."""
    ard = prior == "ard"
    X, y, s, data = _data(n, d, prior=prior, weights=True)
    lam = np.linspace(0.5, 3.0, d) if ard else 1.7
    q = _precisions(data, ard, 2.5, lam)
    post = _posterior(data, q, ard)
    e_alpha, e_lam = _means(q)
    m, Sigma = _naive.regression_posterior(X, y, e_alpha, e_lam, s)
    mean = data.spectrum.basis @ post.mean_eig[0] if data.mode == "ridge" else post.mean
    assert_allclose(mean, m, rtol=1e-9, atol=1e-12)
    summary = post.summary
    ww = m * m + np.diag(Sigma)
    assert_allclose(summary.ww[0], ww if ard else [ww.sum()], rtol=1e-9)
    assert_allclose(summary.sse[0], s @ (y - X @ m) ** 2, rtol=1e-8)
    assert_allclose(summary.Q[0], s @ (y - X @ m) ** 2 + np.trace((X.T * s) @ X @ Sigma), rtol=1e-9)
    assert_allclose(summary.logdet[0], np.linalg.slogdet(Sigma)[1], rtol=1e-10)
    gamma = 1.0 - np.broadcast_to(e_lam, (d,)) * np.diag(Sigma)
    assert_allclose(summary.gamma_w[0], gamma.sum(), rtol=1e-9)
    state = kern.RegressionState(q, np.array([np.inf]), post if data.mode == "ridge"
                                 else (post,), np.zeros(1), None)  # fmt: skip
    coef, sigma, mean_b, var_b, cov_wb = kern.coefficient_posterior(data, state)
    assert_allclose(coef[0], m, rtol=1e-9, atol=1e-12)
    assert_allclose(sigma[0], Sigma, rtol=1e-8, atol=1e-12 * np.abs(Sigma).max())
    assert mean_b[0] == 0.0 and var_b[0] == 0.0 and not np.any(cov_wb)


@pytest.mark.parametrize("point", [False, True])
@pytest.mark.parametrize("n, d, prior", [(30, 4, "ridge"), (30, 4, "ard"), (6, 9, "ard")])
def test_elbo_matches_the_direct_expectation(n, d, prior, point):
    """The objective (cancellation-free form) against the expanded definition with
    digamma and scipy's Gamma entropies ('vbem') or the log hyperprior densities
    ('vem'), at the coordinate-ascent q(w) and at rates away from the optimum."""
    ard = prior == "ard"
    X, y, s, data = _data(n, d, prior=prior, seed=3, weights=True)
    q = _precisions(data, ard, 0.8, np.linspace(0.3, 2.0, d) if ard else 0.9)
    post = _posterior(data, q, ard)
    got = kern.elbo(_prior(ard, point), data, post.summary, q)[0]
    e_alpha, e_lam = _means(q)
    m, Sigma = _naive.regression_posterior(X, y, e_alpha, e_lam, s)
    expected = _naive.regression_elbo(
        X, y, m, Sigma, (q.alpha_shape, q.alpha_rate[0]), (q.lambda_shape, q.lambda_rate[0]),
        HYPER, point, s,
    )  # fmt: skip
    assert_allclose(got, expected, rtol=1e-10)


def test_vem_objective_is_the_log_evidence_plus_the_log_hyperpriors():
    """Gaussian noise, ridge prior, no intercept: q(w) is the exact posterior, so the 'vem'
    objective minus the two log hyperprior densities is ln N(y | 0, I/alpha +
    X X^T/lambda)."""
    X, y, _, data = _data(25, 4, seed=5)
    q = _precisions(data, False, 3.0, 0.7)
    post = kern.ridge_posterior(data, q)
    got = kern.elbo(_prior(False, True), data, post.summary, q)[0]
    alpha, lam = _means(q)
    log_hyper = stats.gamma(HYPER[0], scale=1 / HYPER[1]).logpdf(alpha) + np.log(alpha)
    log_hyper += stats.gamma(HYPER[2], scale=1 / HYPER[3]).logpdf(lam[0]) + np.log(lam[0])
    assert_allclose(
        got - log_hyper, _naive.regression_log_evidence(X, y, alpha, lam[0]), rtol=1e-11
    )


@pytest.mark.parametrize("prior", ["ridge", "ard"])
def test_precision_updates_match_the_formulas(prior):
    """mackay_update against MacKay's fixed point from the dense posterior; cavi_update
    against the rates alpha_2 + Q/2 and lambda_2 + E[w^T w]/2 (E[w_j^2]/2 under ARD)."""
    ard = prior == "ard"
    X, y, s, data = _data(35, 5, prior=prior, seed=7, weights=True)
    q = _precisions(data, ard, 1.3, np.linspace(0.5, 2.0, 5) if ard else 0.6)
    post = _posterior(data, q, ard)
    e_alpha, e_lam = _means(q)
    mk, ok = kern.mackay_update(_prior(ard, True), data.N, post.summary, q)
    alpha_new, lam_new = _naive.regression_mackay(X, y, e_alpha, e_lam, HYPER, ard, s)
    assert ok[0]
    assert_allclose(mk.alpha_shape / mk.alpha_rate[0], alpha_new, rtol=1e-9)
    assert_allclose(mk.lambda_shape / mk.lambda_rate[0], np.atleast_1d(lam_new), rtol=1e-9)
    cv = kern.cavi_update(_prior(ard, False), data, post.summary, q)
    m, Sigma = _naive.regression_posterior(X, y, e_alpha, e_lam, s)
    e_sq = s @ (y - X @ m) ** 2 + np.trace((X.T * s) @ X @ Sigma)
    ww = m * m + np.diag(Sigma)
    assert_allclose(cv.alpha_rate[0], HYPER[1] + 0.5 * e_sq, rtol=1e-9)
    assert_allclose(cv.lambda_rate[0], HYPER[3] + 0.5 * (ww if ard else ww.sum()), rtol=1e-9)
    # a target whose MacKay rates are not positive keeps its old rates
    bad = post.summary._replace(gamma_w=post.summary.gamma_w + 10 * data.N)
    mk, ok = kern.mackay_update(_prior(ard, True), data.N, bad, q)
    assert not ok[0] and mk.alpha_rate[0] == q.alpha_rate[0]


@pytest.mark.parametrize("n, d", [(40, 3), (7, 10)])  # Gram form, Woodbury form
def test_student_t_e_step_matches_the_direct_weights(n, d):
    """tau_update: at initialisation every E[tau_n] = 1 (the weights are the sample
    weights); after it, the rates (nu + E[alpha] e_n)/2 of q(tau_n), the statistics of
    the new weights and the sums of TauSummary, against NumPy."""
    X, y, s, data = _data(n, d, noise="student_t", prior="ard", fit_intercept=True,
                          seed=9, weights=True)  # fmt: skip
    prior, nu = _prior(True, False, df=3.0), 3.0
    stats0, nu0, current = kern.tau_update(prior, data, 0, None, None, nu)
    assert nu0 == nu and current is None
    assert_allclose(stats0.tau.shape, [2.0])
    q = _precisions(data, True, 2.0, np.linspace(0.5, 1.5, d))
    post = kern.target_posterior(data, stats0, q, True)
    Z = np.hstack([X - data.x_offset, np.ones((n, 1))])
    yc = y - data.y_offset[0]
    e_alpha, e_lam = _means(q)
    pi = np.append(e_lam, kern.INTERCEPT_PRIOR * e_alpha)
    m, Sigma = _naive.regression_posterior(Z, yc, e_alpha, pi, s)
    # (the Woodbury form resolves the intercept, whose prior precision is tiny, to about
    # 1e-10 of the coefficients)
    assert_allclose(post.mean, m, rtol=1e-8, atol=1e-9 * np.abs(m).max())
    stats1, nu1, current = kern.tau_update(prior, data, 0, post, e_alpha, nu)
    b, weights = _naive.regression_student_weights(Z, yc, m, Sigma, e_alpha, nu, s)
    assert nu1 == nu
    a = 0.5 * (nu + 1.0)
    assert_allclose(stats1.tau.sum_log_rate, [s @ np.log(b)], rtol=1e-9)
    assert_allclose(stats1.tau.sum_excess, [s @ (a / b - 1 - np.log(a / b))], rtol=1e-8)
    if data.kernel:
        assert_allclose(stats1.weights, weights, rtol=1e-9)
    else:
        assert_allclose(stats1.gram, (Z.T * weights) @ Z, rtol=1e-9)
        assert_allclose(stats1.zty, Z.T @ (weights * yc), rtol=1e-9, atol=1e-12)
    e = (yc - Z @ m) ** 2 + np.einsum("ni,ij,nj->n", Z, Sigma, Z)
    assert_allclose(current.summary.Q, [weights @ e], rtol=1e-9)


def test_predictive_matches_the_dense_posterior():
    """predictive_parameters and predictive: mean x^T m + b, variance x^T Sigma x +
    1/E[alpha] (no intercept); the standard deviation and the interval of a Gaussian
    ('vem') and of a Student-t with 2 a_alpha degrees of freedom ('vbem')."""
    X, y, s, data = _data(30, 4, seed=11)
    q = _precisions(data, False, 4.0, 0.5)
    post = kern.ridge_posterior(data, q)
    e_alpha, e_lam = _means(q)
    m, Sigma = _naive.regression_posterior(X, y, e_alpha, e_lam, s)
    state = kern.RegressionState(q, np.array([np.inf]), post, np.zeros(1), None)
    Xn = np.random.RandomState(12).randn(6, 4)
    for point, dof in ((True, np.inf), (False, 2.0 * q.alpha_shape)):
        pred, intercept_std = kern.predictive_parameters(data, state, point)
        mean, scale2, pdof = kern.predictive(pred, Xn)
        assert_allclose(pdof, [dof])
        assert_allclose(mean[:, 0], Xn @ m, rtol=1e-9)
        var = np.einsum("ni,ij,nj->n", Xn, Sigma, Xn) + 1.0 / e_alpha
        assert_allclose(scale2[:, 0], var, rtol=1e-9)
        assert_allclose(intercept_std, [0.0])
        factor = 1.0 if point else dof / (dof - 2.0)
        assert_allclose(kern.predictive_std(scale2, pdof)[:, 0], np.sqrt(var * factor), rtol=1e-12)
        lower, upper = kern.predictive_interval(mean, scale2, pdof, 0.8)
        dist = stats.norm if point else stats.t(dof)
        assert_allclose(upper[:, 0], Xn @ m + dist.ppf(0.9) * np.sqrt(var), rtol=1e-9)
        assert_allclose(lower[:, 0], Xn @ m - dist.ppf(0.9) * np.sqrt(var), rtol=1e-9)


def test_track_coef_estimates_the_remaining_distance():
    """A geometric sequence m_k = m* + c r^k: the remaining distance |Delta_k| r / (1 - r)
    is exact; alternating steps (r < 0) give |Delta_k| |r| / (1 - r)."""
    target, c = np.array([[3.0, 4.0]]), np.array([[1.0, -2.0]])
    for r in (0.5, -0.8):
        track = kern.track_coef(None, target + c)
        assert track.remaining == np.inf
        for k in (1, 2, 3):
            track = kern.track_coef(track, target + c * r**k)
        exact = np.linalg.norm(c * r**3) / np.linalg.norm(target + c * r**3)
        assert_allclose(track.remaining, exact, rtol=1e-12)
    assert kern.track_coef(track, track.previous).remaining == 0.0
