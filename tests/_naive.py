"""Naive reference implementations for the test-suite.

Everything in this module is deliberately plain, slow and written to be read:
explicit Python loops over components, NumPy / SciPy only, no Numba and no
``skvi`` imports.  The tests compare the project's compiled kernels and the
exactness of its ELBO against these functions.

Model (Bishop, *Pattern Recognition and Machine Learning*, 2006, section 10.2,
in scikit-learn's parameterisation).  ``K`` components, ``d`` features.

* Weights: ``Dirichlet(alpha0)`` (``"dirichlet_distribution"``) or a truncated
  stick-breaking process (``"dirichlet_process"``): ``v_k ~ Beta(1, alpha0)`` for
  ``k < K``, the last stick ``v_K = 1`` is fixed, ``pi_k = v_k prod_{j<k}(1 - v_j)``.
* Means: ``mu_k | Lambda_k ~ N(m0, (beta0 Lambda_k)^{-1})``.
* Precisions (``C0`` = scikit-learn's ``covariance_prior`` = ``W0^{-1}``,
  ``nu0`` = ``degrees_of_freedom_prior``):

  - ``'full'``: ``Lambda_k ~ Wishart(W0 = C0^{-1}, nu0)`` (Bishop B.78);
  - ``'tied'``: one ``Lambda ~ Wishart(C0^{-1}, nu0)`` shared by all components;
  - ``'diag'``: ``lambda_kj ~ Gamma(shape nu0/2, rate c0_j/2)`` independently;
  - ``'spherical'``: ``lambda_k ~ Gamma(shape d nu0/2, rate d c0/2)``,
    ``Lambda_k = lambda_k I``.

Variational posterior parameters, per component ``k``: ``beta`` (K,), ``means``
``m_k`` (K, d), ``dof`` ``nu_k`` (K,) (a scalar for ``'tied'``) and
``scale_inv`` ``C_k = W_k^{-1}`` with shape (K, d, d) full, (d, d) tied, (K, d)
diag (``lambda_kj ~ Gamma(nu_k/2, rate c_kj/2)``) and (K,) spherical
(``lambda_k ~ Gamma(d nu_k/2, rate d c_k/2)``).  Weight posterior: Dirichlet
``alpha`` (K,) or stick parameters ``(a, b)`` each (K,), where ``a[-1]`` and
``b[-1]`` are ignored because the last stick is fixed at one.

Contents
--------
log_evidence_normal_wishart, log_evidence_normal_gamma_diag,
log_evidence_normal_gamma_spherical, log_evidence_reg_covar
    Exact log marginal likelihoods of a single Gaussian under conjugate priors
    (the ELBO of a one-component mixture must equal these at convergence), and the exact
    maximum of the objective regularised by ``reg_covar``.
expected_log_weights, log_rho, log_resp
    The variational E-step (Bishop 10.46-10.49, 10.64-10.66).
suff_stats
    Weighted sufficient statistics (Bishop 10.51-10.53).
log_predictive
    The posterior predictive density (Bishop 10.78-10.82).
mixture_update
    The conjugate M-step from sufficient statistics (Bishop 10.58-10.63).
dirichlet_expectation, kl_dirichlet, lda_doc_e_step, lda_phi, lda_doc_bound, lda_elbo,
lda_cvb0_pass, lda_log_evidence, lda_stats, lda_alpha_objective, lda_eta_objective
    LDA: the per-document E-step, the ELBO, a CVB0 pass, the exact log evidence of a
    tiny corpus, the additive statistics of a set of documents and the objectives of
    the empirical-Bayes prior updates.
regression_posterior, regression_log_evidence, regression_mackay, regression_elbo,
regression_student_weights, regression_df_objective, regression_df
    Bayesian linear regression: the Gaussian posterior of the coefficients, the exact
    log evidence for known precisions, MacKay's fixed-point updates, the ELBO by direct
    expectation, the Student-t per-sample weights, and the objective of the Student-t
    degrees of freedom (through ``scipy.stats.t``) with its maximiser.
"""

import itertools

import numpy as np
from scipy import stats
from scipy.special import digamma, gammaln, logsumexp, multigammaln

__all__ = [
    "dirichlet_expectation",
    "expected_log_weights",
    "kl_dirichlet",
    "lda_alpha_objective",
    "lda_cvb0_pass",
    "lda_doc_bound",
    "lda_doc_e_step",
    "lda_elbo",
    "lda_eta_objective",
    "lda_log_evidence",
    "lda_phi",
    "lda_stats",
    "log_evidence_normal_gamma_diag",
    "log_evidence_normal_gamma_spherical",
    "log_evidence_normal_wishart",
    "log_evidence_reg_covar",
    "log_predictive",
    "log_resp",
    "log_rho",
    "mixture_update",
    "regression_df",
    "regression_df_objective",
    "regression_elbo",
    "regression_log_evidence",
    "regression_mackay",
    "regression_posterior",
    "regression_student_weights",
    "suff_stats",
]

COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")
PRIOR_TYPES = ("dirichlet_distribution", "dirichlet_process")


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------


def _weighted_moments(X, sample_weight=None):
    """Return ``(n, xbar, S)`` for data ``X`` (n_samples, d).

    Weights are repetition counts: ``n = sum_i w_i``,
    ``xbar = sum_i w_i x_i / n`` and the scatter matrix
    ``S = sum_i w_i (x_i - xbar)(x_i - xbar)^T`` (d, d).
    """
    X = np.atleast_2d(np.asarray(X, dtype=float))
    if sample_weight is None:
        w = np.ones(X.shape[0])
    else:
        w = np.asarray(sample_weight, dtype=float)
    n = w.sum()
    xbar = (w[:, None] * X).sum(axis=0) / n
    S = np.zeros((X.shape[1], X.shape[1]))
    for i in range(X.shape[0]):
        diff = X[i] - xbar
        S += w[i] * np.outer(diff, diff)
    return n, xbar, S


def _check_covariance_type(covariance_type):
    if covariance_type not in COVARIANCE_TYPES:
        raise ValueError(f"unknown covariance_type {covariance_type!r}")


# ---------------------------------------------------------------------------
# exact evidences of a single Gaussian
# ---------------------------------------------------------------------------


def log_evidence_normal_wishart(X, m0, beta0, nu0, C0, sample_weight=None):
    r"""Exact log marginal likelihood ``ln p(X)`` under a Normal-Wishart prior.

    Model: ``Lambda ~ Wishart(W0 = C0^{-1}, nu0)`` (Bishop B.78),
    ``mu | Lambda ~ N(m0, (beta0 Lambda)^{-1})``, ``x_i ~ N(mu, Lambda^{-1})``
    i.i.d.  The posterior is Normal-Wishart with (Bishop 10.60-10.63 with a
    single component and all responsibilities equal to one)

    .. math::

        \beta_n = \beta_0 + n, \quad \nu_n = \nu_0 + n, \quad
        C_n = C_0 + S + \frac{\beta_0 n}{\beta_n} (\bar x - m_0)(\bar x - m_0)^T,

    with ``S = sum_i (x_i - xbar)(x_i - xbar)^T``, and (Murphy 2007, eq. 266)

    .. math::

        \ln p(X) = -\frac{n d}{2}\ln\pi
            + \ln\Gamma_d(\nu_n/2) - \ln\Gamma_d(\nu_0/2)
            + \frac{\nu_0}{2}\ln|C_0| - \frac{\nu_n}{2}\ln|C_n|
            + \frac{d}{2}\ln\frac{\beta_0}{\beta_n}.

    ``sample_weight`` entries are treated as repetition counts
    (``n -> sum w``, weighted mean and scatter); non-integer weights give the
    natural continuous extension.
    """
    n, xbar, S = _weighted_moments(X, sample_weight)
    m0 = np.asarray(m0, dtype=float)
    C0 = np.asarray(C0, dtype=float)
    d = xbar.shape[0]
    beta_n = beta0 + n
    nu_n = nu0 + n
    diff = xbar - m0
    C_n = C0 + S + (beta0 * n / beta_n) * np.outer(diff, diff)
    _, logdet_C0 = np.linalg.slogdet(C0)
    _, logdet_Cn = np.linalg.slogdet(C_n)
    return float(
        -0.5 * n * d * np.log(np.pi)
        + multigammaln(0.5 * nu_n, d)
        - multigammaln(0.5 * nu0, d)
        + 0.5 * nu0 * logdet_C0
        - 0.5 * nu_n * logdet_Cn
        + 0.5 * d * np.log(beta0 / beta_n)
    )


def log_evidence_normal_gamma_diag(X, m0, beta0, nu0, c0, sample_weight=None):
    r"""Exact ``ln p(X)`` for the 'diag' prior: a product of 1-D Normal-Gammas.

    Per dimension ``j``: ``lambda_j ~ Gamma(a0 = nu0/2, rate b0_j = c0_j/2)``,
    ``mu_j | lambda_j ~ N(m0_j, (beta0 lambda_j)^{-1})``,
    ``x_ij ~ N(mu_j, 1/lambda_j)``.  With ``beta_n = beta0 + n``,
    ``a_n = a0 + n/2`` and
    ``b_nj = b0_j + (1/2)[S_jj + (beta0 n / beta_n)(xbar_j - m0_j)^2]``,

    .. math::

        \ln p(X) = \sum_j \Big[ -\frac n2 \ln(2\pi) + \frac12\ln\frac{\beta_0}{\beta_n}
            + a_0\ln b_{0j} - a_n\ln b_{nj} + \ln\Gamma(a_n) - \ln\Gamma(a_0) \Big].

    (For ``d = 1`` this coincides with :func:`log_evidence_normal_wishart`
    with ``C0 = c0``, since a 1-D ``Wishart(1/c, nu)`` is ``Gamma(nu/2, c/2)``.)
    """
    n, xbar, S = _weighted_moments(X, sample_weight)
    d = xbar.shape[0]
    m0 = np.broadcast_to(np.asarray(m0, dtype=float), (d,))
    c0 = np.broadcast_to(np.asarray(c0, dtype=float), (d,))
    beta_n = beta0 + n
    a0 = 0.5 * nu0
    a_n = a0 + 0.5 * n
    total = 0.0
    for j in range(d):
        b0 = 0.5 * c0[j]
        b_n = b0 + 0.5 * (S[j, j] + beta0 * n / beta_n * (xbar[j] - m0[j]) ** 2)
        total += (
            -0.5 * n * np.log(2.0 * np.pi)
            + 0.5 * np.log(beta0 / beta_n)
            + a0 * np.log(b0)
            - a_n * np.log(b_n)
            + gammaln(a_n)
            - gammaln(a0)
        )
    return float(total)


def log_evidence_normal_gamma_spherical(X, m0, beta0, nu0, c0, sample_weight=None):
    r"""Exact ``ln p(X)`` for the 'spherical' prior (one shared precision).

    ``lambda ~ Gamma(a0 = d nu0/2, rate b0 = d c0/2)``,
    ``mu | lambda ~ N(m0, (beta0 lambda)^{-1} I)``,
    ``x_i ~ N(mu, lambda^{-1} I)``.  With ``beta_n = beta0 + n``,
    ``a_n = a0 + n d/2`` and
    ``b_n = b0 + (1/2)[sum_i ||x_i - xbar||^2 + (beta0 n/beta_n)||xbar - m0||^2]``,

    .. math::

        \ln p(X) = -\frac{n d}{2}\ln(2\pi) + \frac d2\ln\frac{\beta_0}{\beta_n}
            + a_0\ln b_0 - a_n\ln b_n + \ln\Gamma(a_n) - \ln\Gamma(a_0).
    """
    n, xbar, S = _weighted_moments(X, sample_weight)
    d = xbar.shape[0]
    m0 = np.broadcast_to(np.asarray(m0, dtype=float), (d,))
    beta_n = beta0 + n
    a0 = 0.5 * d * nu0
    b0 = 0.5 * d * float(c0)
    a_n = a0 + 0.5 * n * d
    diff = xbar - m0
    b_n = b0 + 0.5 * (np.trace(S) + beta0 * n / beta_n * diff @ diff)
    return float(
        -0.5 * n * d * np.log(2.0 * np.pi)
        + 0.5 * d * np.log(beta0 / beta_n)
        + a0 * np.log(b0)
        - a_n * np.log(b_n)
        + gammaln(a_n)
        - gammaln(a0)
    )


# ---------------------------------------------------------------------------
# E-step
# ---------------------------------------------------------------------------


def log_evidence_reg_covar(X, m0, beta0, nu0, C0, reg, covariance_type, sample_weight=None):
    r"""The exact maximum over ``q`` of the one-component objective with ``reg_covar``.

    The regularised objective is :math:`\mathcal L(q) - \tfrac{reg}{2} N\,
    \mathbb E_q[\operatorname{tr}\Lambda]` (``N`` the total weight). Its maximum is the log
    of :math:`\int p(X\mid\mu,\Lambda)\,p(\mu,\Lambda)\,
    e^{-\frac{reg}{2}N\operatorname{tr}\Lambda}\,d\mu\,d\Lambda`. The extra factor
    tilts the precision prior to the same family with ``C0 + reg N I`` ('full', 'tied';
    ``c0 + reg N`` for 'diag' and 'spherical') and multiplies it by the ratio of the two
    normalisers, ``(|C0| / |C0 + reg N I|)^(nu0/2)`` (per feature
    ``(c0_j / (c0_j + reg N))^(nu0/2)`` for 'diag'; ``(c0 / (c0 + reg N))^(d nu0/2)`` for
    'spherical'): the maximum is the evidence under the tilted prior plus the log of
    that ratio.
    """
    X = np.asarray(X, dtype=float)
    n, d = X.shape
    N = n if sample_weight is None else float(np.sum(sample_weight))
    if covariance_type in ("full", "tied"):
        C1 = C0 + reg * N * np.eye(d)
        log_ratio = 0.5 * nu0 * (np.linalg.slogdet(C0)[1] - np.linalg.slogdet(C1)[1])
        evidence = log_evidence_normal_wishart
    elif covariance_type == "diag":
        C1 = C0 + reg * N
        log_ratio = 0.5 * nu0 * np.sum(np.log(C0) - np.log(C1))
        evidence = log_evidence_normal_gamma_diag
    else:
        C1 = C0 + reg * N
        log_ratio = 0.5 * d * nu0 * (np.log(C0) - np.log(C1))
        evidence = log_evidence_normal_gamma_spherical
    return evidence(X, m0, beta0, nu0, C1, sample_weight=sample_weight) + float(log_ratio)


def expected_log_weights(weight_concentration, prior_type):
    r"""``E[ln pi_k]`` under the variational weight posterior, shape (K,).

    * ``"dirichlet_distribution"``: ``weight_concentration = alpha`` (K,),
      ``E[ln pi_k] = psi(alpha_k) - psi(sum_j alpha_j)`` (Bishop 10.66).
    * ``"dirichlet_process"``: ``weight_concentration = (a, b)``, each (K,),
      ``q(v_k) = Beta(a_k, b_k)`` for ``k < K`` and ``v_K = 1`` fixed, so

      .. math::

          E[\ln\pi_k] = E[\ln v_k] + \sum_{j<k} E[\ln(1 - v_j)], \quad
          E[\ln v_k] = \psi(a_k) - \psi(a_k + b_k), \quad
          E[\ln(1 - v_k)] = \psi(b_k) - \psi(a_k + b_k),

      with ``E[ln v_K] = 0`` (``a[-1]`` and ``b[-1]`` are ignored).
    """
    if prior_type == "dirichlet_distribution":
        alpha = np.asarray(weight_concentration, dtype=float)
        if alpha.ndim != 1:
            raise ValueError("dirichlet_distribution expects a 1-D alpha of shape (K,)")
        return digamma(alpha) - digamma(alpha.sum())
    if prior_type == "dirichlet_process":
        a, b = weight_concentration
        a = np.asarray(a, dtype=float)
        b = np.asarray(b, dtype=float)
        K = a.shape[0]
        out = np.zeros(K)
        cumulative = 0.0  # sum_{j<k} E[ln(1 - v_j)]
        for k in range(K):
            if k < K - 1:
                e_log_v = digamma(a[k]) - digamma(a[k] + b[k])
            else:
                e_log_v = 0.0  # last stick fixed at one
            out[k] = e_log_v + cumulative
            if k < K - 1:
                cumulative += digamma(b[k]) - digamma(a[k] + b[k])
        return out
    raise ValueError(f"unknown prior_type {prior_type!r}")


def _component_expectations(k, d, dof, scale_inv, covariance_type):
    """``(E[Lambda_k] (d, d), E[ln|Lambda_k|])`` for one component ``k``."""
    if covariance_type in ("full", "tied"):
        if covariance_type == "full":
            nu = float(np.asarray(dof)[k])
            C = np.asarray(scale_inv[k], dtype=float)
        else:
            nu = float(np.asarray(dof).reshape(-1)[0])
            C = np.asarray(scale_inv, dtype=float)
        W = np.linalg.inv(C)
        E_Lambda = nu * W
        _, logdet_C = np.linalg.slogdet(C)
        # Bishop 10.65: sum_{i=1}^d psi((nu + 1 - i)/2) + d ln 2 + ln|W|
        E_logdet = sum(digamma(0.5 * (nu + 1 - i)) for i in range(1, d + 1))
        E_logdet += d * np.log(2.0) - logdet_C
        return E_Lambda, E_logdet
    if covariance_type == "diag":
        nu = float(np.asarray(dof)[k])
        c = np.asarray(scale_inv[k], dtype=float)
        # lambda_j ~ Gamma(nu/2, rate c_j/2): E = nu/c_j, E ln = psi(nu/2) - ln(c_j/2)
        E_Lambda = np.diag(nu / c)
        E_logdet = float(np.sum(digamma(0.5 * nu) - np.log(0.5 * c)))
        return E_Lambda, E_logdet
    if covariance_type == "spherical":
        nu = float(np.asarray(dof)[k])
        c = float(np.asarray(scale_inv)[k])
        # lambda ~ Gamma(d nu/2, rate d c/2): E = nu/c, E ln = psi(d nu/2) - ln(d c/2)
        E_Lambda = (nu / c) * np.eye(d)
        E_logdet = d * (digamma(0.5 * d * nu) - np.log(0.5 * d * c))
        return E_Lambda, E_logdet
    _check_covariance_type(covariance_type)
    raise AssertionError  # unreachable


def log_rho(
    X,
    weight_concentration,
    prior_type,
    beta,
    means,
    dof,
    scale_inv,
    covariance_type,
    reg_covar=0.0,
):
    r"""Unnormalised log responsibilities ``ln rho_nk`` (Bishop 10.46), (n, K).

    With every constant kept:

    .. math::

        \ln\rho_{nk} = E[\ln\pi_k] + \tfrac12 E[\ln|\Lambda_k|] - \tfrac d2\ln(2\pi)
            - \tfrac12 E_{\mu_k,\Lambda_k}[(x_n-\mu_k)^T\Lambda_k(x_n-\mu_k)]
            - \tfrac{r}{2} E[\operatorname{tr}\Lambda_k],

    where ``r = reg_covar`` and (Bishop 10.64)
    ``E[(x-mu_k)^T Lambda_k (x-mu_k)] = d/beta_k + (x-m_k)^T E[Lambda_k] (x-m_k)``.
    Per covariance type:

    * full / tied: ``E[Lambda] = nu W``,
      ``E ln|Lambda| = sum_{i=1}^d psi((nu+1-i)/2) + d ln 2 - ln|C|`` (10.65);
    * diag: ``E[lambda_j] = nu/c_j``, ``E ln lambda_j = psi(nu/2) - ln(c_j/2)``;
    * spherical: ``E[lambda] = nu/c``, ``E ln lambda = psi(d nu/2) - ln(d c/2)``,
      ``E ln|Lambda| = d E ln lambda``.

    ``E[ln pi_k]`` comes from :func:`expected_log_weights`.
    """
    _check_covariance_type(covariance_type)
    X = np.atleast_2d(np.asarray(X, dtype=float))
    means = np.asarray(means, dtype=float)
    beta = np.asarray(beta, dtype=float)
    n, d = X.shape
    K = means.shape[0]
    e_log_pi = expected_log_weights(weight_concentration, prior_type)
    out = np.empty((n, K))
    for k in range(K):
        E_Lambda, E_logdet = _component_expectations(k, d, dof, scale_inv, covariance_type)
        const = (
            e_log_pi[k]
            + 0.5 * E_logdet
            - 0.5 * d * np.log(2.0 * np.pi)
            - 0.5 * d / beta[k]
            - 0.5 * reg_covar * np.trace(E_Lambda)
        )
        for i in range(n):
            diff = X[i] - means[k]
            out[i, k] = const - 0.5 * diff @ E_Lambda @ diff
    return out


def log_resp(
    X,
    weight_concentration,
    prior_type,
    beta,
    means,
    dof,
    scale_inv,
    covariance_type,
    reg_covar=0.0,
):
    r"""Normalised log responsibilities (Bishop 10.49) and the per-row normaliser.

    Returns ``(log_r, log_norm)`` with ``log_norm_n = logsumexp_k ln rho_nk``
    (shape (n,)) and ``log_r_nk = ln rho_nk - log_norm_n`` (shape (n, K)).
    Arguments as in :func:`log_rho`.
    """
    lr = log_rho(
        X,
        weight_concentration,
        prior_type,
        beta,
        means,
        dof,
        scale_inv,
        covariance_type,
        reg_covar=reg_covar,
    )
    log_norm = logsumexp(lr, axis=1)
    return lr - log_norm[:, None], log_norm


# ---------------------------------------------------------------------------
# M-step statistics
# ---------------------------------------------------------------------------


def suff_stats(X, resp, sample_weight=None):
    r"""Weighted sufficient statistics (Bishop 10.51-10.53), plain loops.

    Returns ``(Nk, xbar, scatter)``:

    * ``Nk[k] = sum_n w_n r_nk`` (K,);
    * ``xbar[k] = sum_n w_n r_nk x_n / Nk[k]`` (K, d) (set to zero when
      ``Nk[k] == 0``);
    * ``scatter[k] = Nk S_k = sum_n w_n r_nk (x_n - xbar_k)(x_n - xbar_k)^T``
      (K, d, d) -- the *unnormalised* scatter.

    ``sample_weight`` defaults to ones.
    """
    X = np.atleast_2d(np.asarray(X, dtype=float))
    resp = np.asarray(resp, dtype=float)
    n, d = X.shape
    K = resp.shape[1]
    w = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=float)
    Nk = np.zeros(K)
    xbar = np.zeros((K, d))
    scatter = np.zeros((K, d, d))
    for k in range(K):
        total = np.zeros(d)
        for i in range(n):
            Nk[k] += w[i] * resp[i, k]
            total += w[i] * resp[i, k] * X[i]
        if Nk[k] > 0:
            xbar[k] = total / Nk[k]
        for i in range(n):
            diff = X[i] - xbar[k]
            scatter[k] += w[i] * resp[i, k] * np.outer(diff, diff)
    return Nk, xbar, scatter


# ---------------------------------------------------------------------------
# predictive density
# ---------------------------------------------------------------------------


def log_predictive(X, weights, beta, means, dof, scale_inv, covariance_type):
    r"""Log posterior predictive density ``ln p(x | X)`` (Bishop 10.78-10.82), (n,).

    ``ln sum_k weights_k p_k(x)``, where ``weights`` are the mixture weights
    to use (e.g. ``E[pi_k]``, Bishop 10.80) and ``p_k`` integrates
    ``N(x | mu_k, Lambda_k^{-1})`` over the Normal-Wishart / Normal-Gamma
    posterior of component ``k``:

    * full / tied (Bishop 10.81-10.82): ``St(x | m_k, L_k, nu_k + 1 - d)``
      with precision ``L_k = ((nu_k + 1 - d) beta_k / (1 + beta_k)) W_k``,
      i.e. ``scipy.stats.multivariate_t(loc=m_k, shape=L_k^{-1}, df)``.
    * diag: given ``lambda_kj``, ``x_j ~ N(m_kj, (1 + beta_k)/(beta_k lambda_kj))``;
      integrating ``lambda_kj ~ Gamma(a = nu_k/2, rate b = c_kj/2)`` gives a
      1-D Student-t with ``df = 2a = nu_k``, loc ``m_kj`` and
      ``scale^2 = (b/a)(1 + beta_k)/beta_k = c_kj (1 + beta_k) / (beta_k nu_k)``;
      the dimensions are independent so ``p_k`` is the product over ``j``.
    * spherical: given ``lambda_k``, ``x ~ N(m_k, (1 + beta_k)/(beta_k lambda_k) I)``;
      integrating ``lambda_k ~ Gamma(d nu_k/2, rate d c_k/2)`` gives a
      multivariate t with ``df = d nu_k``, loc ``m_k`` and
      ``shape = c_k (1 + beta_k) / (beta_k nu_k) I``.
    """
    _check_covariance_type(covariance_type)
    X = np.atleast_2d(np.asarray(X, dtype=float))
    weights = np.asarray(weights, dtype=float)
    beta = np.asarray(beta, dtype=float)
    means = np.asarray(means, dtype=float)
    n, d = X.shape
    K = means.shape[0]
    comp = np.empty((n, K))
    for k in range(K):
        if covariance_type in ("full", "tied"):
            if covariance_type == "full":
                nu = float(np.asarray(dof)[k])
                C = np.asarray(scale_inv[k], dtype=float)
            else:
                nu = float(np.asarray(dof).reshape(-1)[0])
                C = np.asarray(scale_inv, dtype=float)
            df = nu + 1.0 - d
            shape = (1.0 + beta[k]) / (df * beta[k]) * C  # = L_k^{-1}
            comp[:, k] = stats.multivariate_t(loc=means[k], shape=shape, df=df).logpdf(X)
        elif covariance_type == "diag":
            nu = float(np.asarray(dof)[k])
            c = np.asarray(scale_inv[k], dtype=float)
            total = np.zeros(n)
            for j in range(d):
                scale = np.sqrt(c[j] * (1.0 + beta[k]) / (beta[k] * nu))
                total += stats.t(df=nu, loc=means[k, j], scale=scale).logpdf(X[:, j])
            comp[:, k] = total
        else:  # spherical
            nu = float(np.asarray(dof)[k])
            c = float(np.asarray(scale_inv)[k])
            shape = c * (1.0 + beta[k]) / (beta[k] * nu) * np.eye(d)
            comp[:, k] = stats.multivariate_t(loc=means[k], shape=shape, df=d * nu).logpdf(X)
    with np.errstate(divide="ignore"):  # zero weights -> -inf, harmless in logsumexp
        log_w = np.log(weights)
    return logsumexp(comp + log_w[None, :], axis=1)


# ---------------------------------------------------------------------------
# latent Dirichlet allocation (Blei, Ng and Jordan 2003)
# ---------------------------------------------------------------------------
#
# ``V`` words, ``K`` topics. Variational posterior: ``q(theta_d) = Dir(gamma_d)``,
# ``q(beta_k) = Dir(lambda_k)`` (``lambda`` = ``components``, (K, V)),
# ``q(z_dn = k) = phi_dwk`` for an occurrence of word ``w``; priors ``Dir(alpha)`` on
# ``theta_d`` and a symmetric ``Dir(eta)`` on ``beta_k``.


def dirichlet_expectation(param):
    """``E[ln x]`` for ``x ~ Dir(param)``, along the last axis."""
    param = np.asarray(param, dtype=float)
    return digamma(param) - digamma(param.sum(axis=-1, keepdims=True))


def kl_dirichlet(a, b):
    """``KL(Dir(a) || Dir(b))`` by its textbook formula."""
    a = np.asarray(a, dtype=float)
    b = np.broadcast_to(np.asarray(b, dtype=float), a.shape)
    return float(
        gammaln(a.sum())
        - gammaln(a).sum()
        - gammaln(b.sum())
        + gammaln(b).sum()
        + np.sum((a - b) * (digamma(a) - digamma(a.sum())))
    )


def lda_doc_e_step(counts, exp_e_log_beta, alpha, gamma0, max_iter, tol):
    """One document's variational fixed point (Blei et al. 2003, figure 6).

    ``counts`` (V,) word counts, ``exp_e_log_beta`` (K, V) ``exp(E[ln beta])`` (not
    shifted), ``alpha`` (K,), ``gamma0`` (K,) the start. Alternates

        phi_wk proportional to exp(E[ln theta_k]) exp(E[ln beta_kw])
        gamma_k = alpha_k + sum_w n_w phi_wk

    and stops after the first sweep whose mean absolute change of ``gamma`` is below
    ``tol`` (or after ``max_iter`` sweeps). Returns ``gamma`` (K,).
    """
    counts = np.asarray(counts, dtype=float)
    alpha = np.asarray(alpha, dtype=float)
    gamma = np.array(gamma0, dtype=float)
    words = np.flatnonzero(counts)
    K = gamma.shape[0]
    for _ in range(max_iter):
        exp_e_log_theta = np.exp(dirichlet_expectation(gamma))
        new = alpha.copy()
        for w in words:
            unnorm = np.array([exp_e_log_theta[k] * exp_e_log_beta[k, w] for k in range(K)])
            phi = unnorm / unnorm.sum()
            new += counts[w] * phi
        change = np.mean(np.abs(new - gamma))
        gamma = new
        if change < tol:
            break
    return gamma


def lda_phi(gamma, e_log_beta):
    """Optimal ``phi`` (V, K) for ``gamma`` (K,) and ``E[ln beta]`` (K, V)."""
    log_unnorm = dirichlet_expectation(gamma)[None, :] + np.asarray(e_log_beta).T
    return np.exp(log_unnorm - logsumexp(log_unnorm, axis=1, keepdims=True))


def lda_doc_bound(counts, e_log_beta, alpha, gamma):
    """A document's terms of the ELBO with ``phi`` at its optimum for ``gamma``:
    ``sum_w n_w ln sum_k exp(E ln theta_k + E ln beta_kw) - KL(Dir(gamma) || Dir(alpha))``.
    """
    counts = np.asarray(counts, dtype=float)
    e_log_theta = dirichlet_expectation(gamma)
    words = 0.0
    for w in np.flatnonzero(counts):
        words += counts[w] * logsumexp(e_log_theta + e_log_beta[:, w])
    alpha = np.broadcast_to(np.asarray(alpha, dtype=float), np.shape(gamma))
    return float(words - kl_dirichlet(gamma, alpha))


def lda_elbo(X, components, alpha, eta, gamma, phi_components=None):
    """The full LDA ELBO (nats): ``sum_d doc_bound_d - sum_k KL(Dir(lambda_k) || Dir(eta))``.

    ``X`` dense (D, V) counts, ``components`` = ``lambda`` (K, V), ``alpha`` scalar or
    (K,), ``eta`` scalar, ``gamma`` (D, K). ``phi`` is the optimum for ``gamma`` and the
    topics ``phi_components`` (default: ``components``, where the words term reduces to
    the log-sum-exp of :func:`lda_doc_bound`); with other topics it is written out,
    ``sum_wk n_w phi_wk (E ln theta_k + E ln beta_kw - ln phi_wk)``, the expectations
    taken under ``components``.
    """
    X = np.asarray(X, dtype=float)
    components = np.asarray(components, dtype=float)
    K, V = components.shape
    alpha = np.broadcast_to(np.asarray(alpha, dtype=float), (K,))
    e_log_beta = dirichlet_expectation(components)
    total = 0.0
    for d in range(X.shape[0]):
        if phi_components is None:
            total += lda_doc_bound(X[d], e_log_beta, alpha, gamma[d])
            continue
        phi = lda_phi(gamma[d], dirichlet_expectation(phi_components))
        e_log_theta = dirichlet_expectation(gamma[d])
        for w in np.flatnonzero(X[d]):
            with np.errstate(divide="ignore", invalid="ignore"):
                entropy = np.where(phi[w] > 0, phi[w] * np.log(phi[w]), 0.0)
            total += X[d, w] * (phi[w] @ (e_log_theta + e_log_beta[:, w]) - entropy.sum())
        total -= kl_dirichlet(gamma[d], alpha)
    for k in range(K):
        total -= kl_dirichlet(components[k], np.full(V, float(eta)))
    return float(total)


def lda_cvb0_pass(X, resp, alpha, eta, edges):
    """One blocked CVB0 pass (Asuncion et al. 2009, eq. 4), written out.

    ``X`` CSR counts, ``resp`` (nnz, K) one row per stored entry (CSR order), ``alpha``
    (K,), ``eta`` scalar, ``edges`` the document boundaries of the blocks. Within a block
    every document sees the topic-word counts of the block's start; entries are updated
    in order within a document, each excluding one token's share ``min(n, 1) r`` of its
    own responsibilities from every count:

        r_k  proportional to  (N_wk - s_k + eta) (N_dk - s_k + alpha_k) / (N_k - s_k + V eta)

    Returns the new ``resp`` (float64).
    """
    resp = np.array(resp, dtype=float)
    n_words = X.shape[1]
    K = resp.shape[1]
    for b in range(len(edges) - 1):
        N_wk = np.zeros((n_words, K))
        for j in range(X.nnz):
            N_wk[X.indices[j]] += X.data[j] * resp[j]
        N_k = N_wk.sum(axis=0)
        for d in range(edges[b], edges[b + 1]):
            lo, hi = X.indptr[d], X.indptr[d + 1]
            N_dk = (X.data[lo:hi, None] * resp[lo:hi]).sum(axis=0)
            for j in range(lo, hi):
                n, w = X.data[j], X.indices[j]
                s = min(n, 1.0) * resp[j]
                unnorm = (N_wk[w] - s + eta) * (N_dk - s + alpha) / (N_k - s + n_words * eta)
                new = unnorm / unnorm.sum()
                N_dk += n * (new - resp[j])
                resp[j] = new
    return resp


def lda_log_evidence(X, alpha, eta, K):
    """``ln p(tokens | alpha, eta)`` of a tiny corpus by summing the collapsed joint
    (Griffiths and Steyvers 2004) over every topic assignment of every token.

    ``X`` dense integer counts (D, V); the tokens of a document are its words repeated by
    their counts (the likelihood of the token sequence, no multinomial coefficient, as in
    the ELBO). ``K ** n_tokens`` terms: keep the corpus to about ten tokens.
    """
    X = np.asarray(X)
    D, V = X.shape
    alpha = np.broadcast_to(np.asarray(alpha, dtype=float), (K,))
    docs = np.repeat(np.arange(D), X.sum(axis=1).astype(int))
    words = np.concatenate([np.repeat(np.arange(V), X[d].astype(int)) for d in range(D)])
    terms = []
    for z in itertools.product(range(K), repeat=len(words)):
        z = np.array(z)
        log_joint = 0.0
        for d in range(D):
            n_dk = np.bincount(z[docs == d], minlength=K)
            log_joint += gammaln(alpha.sum()) - gammaln(n_dk.sum() + alpha.sum())
            log_joint += np.sum(gammaln(n_dk + alpha) - gammaln(alpha))
        for k in range(K):
            n_kw = np.bincount(words[z == k], minlength=V)
            log_joint += gammaln(V * eta) - gammaln(n_kw.sum() + V * eta)
            log_joint += np.sum(gammaln(n_kw + eta) - gammaln(eta))
        terms.append(log_joint)
    return float(logsumexp(terms))


# ---------------------------------------------------------------------------
# Gaussian mixture: the conjugate update (M-step)
# ---------------------------------------------------------------------------


def mixture_update(
    X, resp, sample_weight, prior_type, alpha0, beta0, m0, nu0, C0, covariance_type, reg_covar=0.0
):
    r"""Conjugate updates of Bishop (10.58)-(10.63), plain loops over the components.

    ``N_k = sum_n w_n r_nk``, ``xbar_k`` the weighted mean, ``beta_k = beta0 + N_k``,
    ``m_k = (beta0 m0 + N_k xbar_k) / beta_k`` and, per covariance type (``S_nk`` the
    weighted scatter ``sum_n w_n r_nk (x_n - xbar_k)(x_n - xbar_k)^T``):

    * full: ``C_k = C0 + S_k + beta0 N_k / beta_k (xbar_k - m0)(xbar_k - m0)^T
      + N_k reg I``, ``nu_k = nu0 + N_k``;
    * tied: ``C = C0 + sum_k (the same data terms)``, ``nu = nu0 + sum_k N_k``;
    * diag: the diagonals of the full ones, ``nu_k = nu0 + N_k``;
    * spherical: ``c_k = c0 + tr(data terms) / d + N_k reg``, ``nu_k = nu0 + N_k``.

    Weights: ``alpha_k = alpha0 + N_k`` (``"dirichlet_distribution"``), or the sticks
    ``a_k = 1 + N_k``, ``b_k = alpha0 + sum_{j>k} N_j`` with ``b_K = 0``.

    Returns ``(weight_concentration, beta, means, dof, scale_inv)`` in the shapes of the
    module docstring (``weight_concentration`` an ``(a, b)`` pair for the sticks).
    """
    X = np.asarray(X, dtype=float)
    n, d = X.shape
    K = resp.shape[1]
    w = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=float)
    nk, xbar, scatter = suff_stats(X, resp, w)
    beta = beta0 + nk
    means = (beta0 * m0 + nk[:, None] * xbar) / beta[:, None]
    terms = []
    for k in range(K):
        diff = xbar[k] - m0
        shrunk = beta0 * nk[k] / beta[k] * np.outer(diff, diff)
        terms.append(scatter[k] + shrunk + nk[k] * reg_covar * np.eye(d))
    terms = np.array(terms)
    if covariance_type == "full":
        scale_inv, dof = C0 + terms, nu0 + nk
    elif covariance_type == "tied":
        scale_inv, dof = C0 + terms.sum(axis=0), nu0 + nk.sum()
    elif covariance_type == "diag":
        scale_inv = C0 + np.array([np.diag(t) for t in terms])
        dof = nu0 + nk
    else:
        scale_inv = C0 + np.array([np.trace(t) / d for t in terms])
        dof = nu0 + nk
    if prior_type == "dirichlet_distribution":
        concentration = alpha0 + nk
    else:
        b = np.array([alpha0 + nk[k + 1 :].sum() for k in range(K)])
        b[-1] = 0.0
        concentration = (1.0 + nk, b)
    return concentration, beta, means, dof, scale_inv


# ---------------------------------------------------------------------------
# LDA: a chunk's additive statistics and the empirical-Bayes objectives
# ---------------------------------------------------------------------------


def lda_stats(X, components, alpha, gamma):
    """The statistics of the documents ``X`` (dense (D, V)) with ``gamma`` (D, K) and
    ``phi`` at its optimum for it and the topics ``components`` (K, V), from their
    definitions, over the non-empty documents: ``(S, words, doc_kl, n_docs,
    e_log_theta_sum)`` with ``S[w, k] = sum_d n_dw phi_dwk`` (V, K), ``words = sum_dwk n_dw
    phi_dwk (E ln theta_dk + E ln beta_kw - ln phi_dwk)``, ``doc_kl = sum_d KL(Dir(gamma_d)
    || Dir(alpha))``, ``n_docs`` and ``sum_d E ln theta_d`` (K,)."""
    X = np.asarray(X, dtype=float)
    e_log_beta = dirichlet_expectation(components)
    K, V = e_log_beta.shape
    alpha = np.broadcast_to(np.asarray(alpha, dtype=float), (K,))
    S, words, doc_kl, n_docs, elt = np.zeros((V, K)), 0.0, 0.0, 0, np.zeros(K)
    for d in np.flatnonzero(X.sum(axis=1) > 0):
        e_log_theta = dirichlet_expectation(gamma[d])
        phi = lda_phi(gamma[d], e_log_beta)
        S += X[d][:, None] * phi
        with np.errstate(divide="ignore", invalid="ignore"):
            log_phi = np.where(phi > 0, np.log(phi), 0.0)
        words += np.sum(X[d][:, None] * phi * (e_log_theta[None, :] + e_log_beta.T - log_phi))
        doc_kl += kl_dirichlet(gamma[d], alpha)
        n_docs += 1
        elt += e_log_theta
    return S, float(words), float(doc_kl), n_docs, elt


def lda_alpha_objective(alpha, e_log_theta_mean):
    """The ELBO's terms in ``alpha`` per non-empty document: ``ln C(alpha) + (alpha - 1)
    . mean_d E ln theta_d`` (Minka 2000, eq. 1)."""
    alpha = np.asarray(alpha, dtype=float)
    return float(
        gammaln(alpha.sum()) - gammaln(alpha).sum() + (alpha - 1) @ np.asarray(e_log_theta_mean)
    )


def lda_eta_objective(eta, e_log_beta):
    """The ELBO's terms in a symmetric ``eta``: ``K [ln Gamma(V eta) - V ln Gamma(eta)] +
    (eta - 1) sum_kw E ln beta_kw``."""
    K, V = np.shape(e_log_beta)
    return float(K * (gammaln(V * eta) - V * gammaln(eta)) + (eta - 1) * np.sum(e_log_beta))


# ------------------------------------------------------------------- regression
# Bayesian linear regression (skvi.VariationalEMRegressor) without an intercept and with
# Gaussian noise: y_n ~ N(x_n^T w, 1/alpha), w_j ~ N(0, 1/lambda_j), each sample's terms
# multiplied by its weight s_n; alpha ~ Gam(alpha_1, alpha_2), lambda_j ~ Gam(lambda_1,
# lambda_2) (rate parameterisation; one lambda for every feature under the ridge prior).


def regression_posterior(X, y, alpha, lam, sample_weight=None):
    """The exact posterior ``N(m, Sigma)`` of the coefficients for known precisions:
    ``Sigma = (alpha X^T S X + diag(lam))^{-1}``, ``m = alpha Sigma X^T S y`` (PRML
    3.53-3.54), by a dense inverse. ``lam`` a scalar or one value per feature."""
    X = np.asarray(X, dtype=float)
    s = np.ones(X.shape[0]) if sample_weight is None else np.asarray(sample_weight, float)
    lam = np.broadcast_to(np.asarray(lam, dtype=float), (X.shape[1],))
    Sigma = np.linalg.inv(alpha * (X.T * s) @ X + np.diag(lam))
    return alpha * Sigma @ (X.T @ (s * y)), Sigma


def regression_log_evidence(X, y, alpha, lam):
    """``ln N(y | 0, I/alpha + X diag(1/lam) X^T)``: the exact log marginal likelihood of
    the data for known precisions (unit weights)."""
    X = np.asarray(X, dtype=float)
    lam = np.broadcast_to(np.asarray(lam, dtype=float), (X.shape[1],))
    cov = np.eye(X.shape[0]) / alpha + (X / lam) @ X.T
    return float(stats.multivariate_normal(np.zeros(X.shape[0]), cov).logpdf(y))


def regression_mackay(X, y, alpha, lam, hyper, ard, sample_weight=None):
    """MacKay's fixed-point update (MacKay 1992, with the hyperpriors of BayesianRidge)
    from the exact posterior at ``alpha``, ``lam``: ``gamma_j = 1 - lam_j Sigma_jj``,
    ``alpha' = (N - sum gamma + 2 alpha_1) / (sum_n s_n (y_n - x_n^T m)^2 + 2 alpha_2)``,
    ``lam_j' = (gamma_j + 2 lambda_1) / (m_j^2 + 2 lambda_2)`` (ARD) or
    ``(sum gamma + 2 lambda_1) / (m^T m + 2 lambda_2)`` (ridge). ``hyper`` is
    ``(alpha_1, alpha_2, lambda_1, lambda_2)``."""
    alpha_1, alpha_2, lambda_1, lambda_2 = hyper
    s = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, float)
    m, Sigma = regression_posterior(X, y, alpha, lam, s)
    lam = np.broadcast_to(np.asarray(lam, dtype=float), m.shape)
    gamma = 1.0 - lam * np.diag(Sigma)
    alpha_new = (s.sum() - gamma.sum() + 2 * alpha_1) / (s @ (y - X @ m) ** 2 + 2 * alpha_2)
    if ard:
        return alpha_new, (gamma + 2 * lambda_1) / (m * m + 2 * lambda_2)
    return alpha_new, (gamma.sum() + 2 * lambda_1) / (m @ m + 2 * lambda_2)


def regression_elbo(X, y, m, Sigma, q_alpha, q_lambda, hyper, point, sample_weight=None):
    """The regressor's objective, term by term from the definitions.

    ``q_alpha = (a, b)``: ``q(alpha) = Gam(a, b)``; ``q_lambda = (a, b)`` with ``b`` of
    length 1 (ridge: one lambda for every w_j) or n_features (ARD); ``q(w) = N(m, Sigma)``.
    'vbem' (``point=False``): ``E ln p(y | w, alpha) + E ln p(w | lambda) + E ln p(alpha)
    + sum E ln p(lambda) + H[q(w)] + H[q(alpha)] + sum H[q(lambda)]``, the expectations
    through digamma and the entropies from ``scipy.stats``. 'vem' (``point=True``): the
    precisions are the points ``a / b`` and the hyperprior terms are the log densities of
    ``ln alpha``, ``ln lambda_j``: ``ln Gam(e^u | shape, rate) + u``.
    """
    alpha_1, alpha_2, lambda_1, lambda_2 = hyper
    X = np.asarray(X, dtype=float)
    n, d = X.shape
    s = np.ones(n) if sample_weight is None else np.asarray(sample_weight, float)
    N = s.sum()
    (a_alpha, b_alpha), (a_lam, b_lam) = q_alpha, q_lambda
    b_lam = np.atleast_1d(np.asarray(b_lam, dtype=float))
    e_sq = s @ (y - X @ m) ** 2 + np.trace((X.T * s) @ X @ Sigma)
    ww = m * m + np.diag(Sigma)
    if point:
        e_alpha = a_alpha / b_alpha
        e_log_alpha = np.log(e_alpha)
        e_lam = a_lam / b_lam
        e_log_lam = np.log(e_lam)
    else:
        e_alpha, e_log_alpha = a_alpha / b_alpha, digamma(a_alpha) - np.log(b_alpha)
        e_lam, e_log_lam = a_lam / b_lam, digamma(a_lam) - np.log(b_lam)
    lam_j = np.broadcast_to(e_lam, (d,))
    log_lam_j = np.broadcast_to(e_log_lam, (d,))
    log_2pi = np.log(2 * np.pi)
    out = 0.5 * N * (e_log_alpha - log_2pi) - 0.5 * e_alpha * e_sq
    out += np.sum(0.5 * (log_lam_j - log_2pi) - 0.5 * lam_j * ww)
    out += 0.5 * d * (1 + log_2pi) + 0.5 * np.linalg.slogdet(Sigma)[1]
    if point:
        out += stats.gamma(alpha_1, scale=1 / alpha_2).logpdf(e_alpha) + e_log_alpha
        out += np.sum(stats.gamma(lambda_1, scale=1 / lambda_2).logpdf(e_lam) + e_log_lam)
        return float(out)
    out += (alpha_1 * np.log(alpha_2) - gammaln(alpha_1) + (alpha_1 - 1) * e_log_alpha
            - alpha_2 * e_alpha)  # fmt: skip
    out += np.sum(lambda_1 * np.log(lambda_2) - gammaln(lambda_1)
                  + (lambda_1 - 1) * e_log_lam - lambda_2 * e_lam)  # fmt: skip
    out += stats.gamma(a_alpha, scale=1 / b_alpha).entropy()
    out += np.sum(stats.gamma(a_lam, scale=1 / b_lam).entropy())
    return float(out)


def regression_student_weights(Z, y, m, Sigma, e_alpha, nu, sample_weight):
    """Student-t noise: the optimal ``q(tau_n) = Gam((nu + 1)/2, (nu + E[alpha] e_n)/2)``
    for ``e_n = (y_n - z_n^T m)^2 + z_n^T Sigma z_n``; returns the rates ``b_n`` and the
    weights ``d_n = s_n E[tau_n]``."""
    e = (y - Z @ m) ** 2 + np.einsum("ni,ij,nj->n", Z, Sigma, Z)
    b = 0.5 * nu + 0.5 * e_alpha * e
    return b, sample_weight * (0.5 * (nu + 1.0)) / b


def regression_df_objective(nu, s, c):
    """The objective of the Student-t degrees of freedom once ``q(tau)`` is optimal:
    ``sum_n s_n ln int Gam(tau | nu/2, nu/2) N(sqrt(c_n) | 0, 1/tau) dtau + const``. The
    integral is the density of a standard Student-t with ``nu`` degrees of freedom at
    ``sqrt(c_n)``, so this is ``sum_n s_n (t_nu.logpdf(sqrt(c_n)) + ln(2 pi) / 2)`` (the
    constant makes it the log normaliser of ``Gam(tau | nu/2, nu/2) tau^(1/2)
    exp(-c_n tau / 2)``)."""
    logpdf = stats.t.logpdf(np.sqrt(np.asarray(c, dtype=float)), nu)
    return float(np.asarray(s, dtype=float) @ (logpdf + 0.5 * np.log(2 * np.pi)))


def regression_df(s, c, bounds=(1e-2, 1e4)):
    """The maximiser of :func:`regression_df_objective` over ``nu`` in ``bounds``: a grid
    of 4001 points evenly spaced in ``ln nu``, then a bounded search between the grid
    points around the best one."""
    from scipy.optimize import minimize_scalar

    grid = np.linspace(np.log(bounds[0]), np.log(bounds[1]), 4001)
    values = [regression_df_objective(np.exp(u), s, c) for u in grid]
    i = int(np.argmax(values))
    lo, hi = grid[max(i - 1, 0)], grid[min(i + 1, len(grid) - 1)]
    res = minimize_scalar(
        lambda u: -regression_df_objective(np.exp(u), s, c),
        bounds=(lo, hi),
        method="bounded",
        options={"xatol": 1e-10},
    )
    return float(np.exp(res.x))
