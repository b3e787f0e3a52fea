r"""
Log evidence = ELBO + KL, measured
==================================

For any distribution :math:`q(w)` over the latent variables of a model :math:`p(y, w)`,

.. math::

    \ln p(y) = \underbrace{\mathbb E_q[\ln p(y, w) - \ln q(w)]}_{\mathcal L(q)
    \text{ (ELBO)}} + \underbrace{\mathrm{KL}\big(q(w)\,\|\,p(w \mid y)\big)}_{\ge 0}

(Bishop, PRML eq. 10.2-10.4; Blei, Kucukelbir and McAuliffe 2017, eq. 13). The log
evidence does not depend on :math:`q`, so every nat the ELBO gains is a nat the KL
divergence to the exact posterior loses. To *see* this we need a model whose evidence
:math:`\ln p(y)` is known exactly: Bayesian linear regression with a known noise precision
:math:`\beta` and a Gaussian prior,

.. math::

    y \mid w \sim \mathcal N(Xw, \beta^{-1} I), \qquad w \sim \mathcal N(0, \alpha^{-1} I),
    \qquad \ln p(y) = \ln \mathcal N\big(y \mid 0,\; \beta^{-1} I + \alpha^{-1} X X^\top\big),

whose posterior is :math:`\mathcal N(m, \Lambda^{-1})` with
:math:`\Lambda = \alpha I + \beta X^\top X` and :math:`m = \beta \Lambda^{-1} X^\top y`
(PRML eq. 3.53-3.54, 3.86). For a Gaussian :math:`q = \mathcal N(\mu, S)` the ELBO is
exact in closed form:

.. math::

    \mathcal L = \tfrac N2 \ln\tfrac{\beta}{2\pi}
      - \tfrac\beta2\big(\|y - X\mu\|^2 + \operatorname{tr}(X^\top X S)\big)
      + \tfrac D2 \ln\tfrac{\alpha}{2\pi} - \tfrac\alpha2\big(\mu^\top\mu + \operatorname{tr} S\big)
      + \tfrac D2 (1 + \ln 2\pi) + \tfrac12 \ln|S|.

We optimise it iteratively in two variational families and record, at every iteration,
the ELBO, the gap :math:`\ln p(y) - \mathcal L` and, independently, the closed-form KL
divergence between the two Gaussians :math:`q` and :math:`p(w \mid y)`:

* **Full-covariance Gaussian** (contains the exact posterior). Damped natural-gradient
  steps, as in stochastic VI (Hoffman et al. 2013) but with exact gradients: the natural
  parameters :math:`(S^{-1}\mu,\, S^{-1})` move a fraction :math:`\rho` of the way to
  their optimum :math:`(\Lambda m,\, \Lambda)`, which they approach geometrically (the
  distance shrinks by :math:`1-\rho` per step); the gap goes to zero.
* **Mean-field** :math:`q(w) = \prod_j \mathcal N(\mu_j, s_j)`, fitted by CAVI. The
  optimal factor :math:`\ln q_j^*(w_j) = \mathbb E_{-j}[\ln p(y, w)] + \text{const}`
  (PRML eq. 10.9) gives :math:`s_j = 1/\Lambda_{jj}` and
  :math:`\mu_j = \big(\beta x_j^\top y - \sum_{k \ne j} \Lambda_{jk}\mu_k\big)/\Lambda_{jj}`.
  The ELBO rises, but the gap stops at a floor: a factorised :math:`q` cannot
  represent the posterior correlations. At the optimum :math:`\mu = m`, and the floor is
  :math:`\tfrac12\big(\sum_j \ln\Lambda_{jj} - \ln|\Lambda|\big)`.
"""

# %%
# The data and the exact answer
# -----------------------------
# Six correlated features (each column shares a common factor), 40 samples.
import time

import matplotlib.pyplot as plt
import numpy as np
from scipy import stats
from scipy.special import multigammaln

from skvi import VariationalGaussianMixture

t_start = time.perf_counter()
rng = np.random.default_rng(0)
n_samples, n_features = 40, 6
alpha, beta = 1.0, 4.0  # prior precision of w, known noise precision

common = rng.standard_normal((n_samples, 1))
X = 0.8 * common + 0.6 * rng.standard_normal((n_samples, n_features))
w_true = rng.normal(0.0, 1.0 / np.sqrt(alpha), n_features)
y = X @ w_true + rng.normal(0.0, 1.0 / np.sqrt(beta), n_samples)

# Exact posterior and log evidence.
Lam = alpha * np.eye(n_features) + beta * X.T @ X
m_post = beta * np.linalg.solve(Lam, X.T @ y)
cov_y = np.eye(n_samples) / beta + X @ X.T / alpha
log_evidence = stats.multivariate_normal(np.zeros(n_samples), cov_y).logpdf(y)
print(f"ln p(y) = {log_evidence:.6f} nats")


def elbo(mu, S):
    """Exact ELBO of q = N(mu, S) (every constant included)."""
    r = y - X @ mu
    like = 0.5 * n_samples * np.log(beta / (2 * np.pi)) - 0.5 * beta * (
        r @ r + np.trace(X.T @ X @ S)
    )
    prior = 0.5 * n_features * np.log(alpha / (2 * np.pi)) - 0.5 * alpha * (mu @ mu + np.trace(S))
    entropy = 0.5 * n_features * (1 + np.log(2 * np.pi)) + 0.5 * np.linalg.slogdet(S)[1]
    return like + prior + entropy


def kl_to_posterior(mu, S):
    """Closed-form KL(N(mu, S) || N(m_post, Lam^-1))."""
    d = m_post - mu
    return 0.5 * (
        np.trace(Lam @ S)
        + d @ Lam @ d
        - n_features
        - np.linalg.slogdet(Lam)[1]
        - np.linalg.slogdet(S)[1]
    )


# %%
# Full-covariance Gaussian, damped natural-gradient steps
# -------------------------------------------------------
n_iter, rho = 40, 0.25
prec, shift = np.eye(n_features), np.zeros(n_features)  # q starts at N(0, I)
full = {"elbo": [], "gap": [], "kl": []}
for _ in range(n_iter + 1):
    S = np.linalg.inv(prec)
    mu = S @ shift
    value = elbo(mu, S)
    full["elbo"].append(value)
    full["gap"].append(log_evidence - value)
    full["kl"].append(kl_to_posterior(mu, S))
    prec = (1 - rho) * prec + rho * Lam
    shift = (1 - rho) * shift + rho * Lam @ m_post

# %%
# Mean-field Gaussian, CAVI sweeps
# --------------------------------
mu = np.zeros(n_features)
s = 1.0 / np.diag(Lam)  # the variance update does not depend on the means
Xty = X.T @ y
mf = {"elbo": [], "gap": [], "kl": []}
for _ in range(n_iter + 1):
    value = elbo(mu, np.diag(s))
    mf["elbo"].append(value)
    mf["gap"].append(log_evidence - value)
    mf["kl"].append(kl_to_posterior(mu, np.diag(s)))
    for j in range(n_features):  # one sweep: each factor in turn
        mu[j] = (beta * Xty[j] - Lam[j] @ mu + Lam[j, j] * mu[j]) / Lam[j, j]

floor = 0.5 * (np.log(np.diag(Lam)).sum() - np.linalg.slogdet(Lam)[1])
for name, run in (("full-covariance", full), ("mean-field", mf)):
    diff = np.max(np.abs(np.array(run["gap"]) - np.array(run["kl"])))
    print(
        f"{name:>15}: ELBO {run['elbo'][0]:.3f} -> {run['elbo'][-1]:.6f}, "
        f"final gap ln p(y) - ELBO = {run['gap'][-1]:.3e} nats, "
        f"max |gap - closed-form KL| = {diff:.1e}"
    )
print(f"mean-field floor predicted 0.5 (sum ln Lam_jj - ln|Lam|) = {floor:.6f} nats")
assert np.all(np.diff(mf["elbo"]) >= -1e-9), "CAVI never decreases the ELBO"
assert np.all(np.diff(full["elbo"]) >= -1e-9)

# %%
# The picture
# -----------
# Left: both ELBOs climb towards the log evidence (dashed) and never cross it. Right: the
# gap on a log scale, measured as :math:`\ln p(y) - \mathcal L` (lines) and as the
# closed-form KL divergence (dots); they agree to rounding error, which is the identity.
it = np.arange(n_iter + 1)
fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
ax0.plot(it, full["elbo"], label="ELBO, full-covariance q")
ax0.plot(it, mf["elbo"], label="ELBO, mean-field q (CAVI)")
ax0.axhline(log_evidence, color="k", ls="--", label=r"$\ln p(y)$ (exact)")
ax0.set_ylim(log_evidence - 30, log_evidence + 3)
ax0.set_xlabel("iteration")
ax0.set_ylabel("nats")
ax0.legend()
ax0.set_title("ELBO rising to the evidence")
ax1.semilogy(it, full["gap"], label="full-covariance: ln p(y) - ELBO")
ax1.semilogy(it[::3], full["kl"][::3], "o", ms=4, color="C0", label="KL(q || posterior)")
ax1.semilogy(it, mf["gap"], color="C1", label="mean-field: ln p(y) - ELBO")
ax1.semilogy(it[::3], mf["kl"][::3], "o", ms=4, color="C1", label="KL(q || posterior)")
ax1.axhline(floor, color="C1", ls=":", label="mean-field floor (predicted)")
ax1.set_xlabel("iteration")
ax1.set_ylabel("KL gap (nats)")
ax1.legend(fontsize=8)
ax1.set_title("The KL gap closing")
plt.show()

# %%
# The same identity in skvi
# -------------------------
# :class:`skvi.VariationalGaussianMixture` with one component, the Dirichlet prior and
# ``reg_covar=0`` is the Normal-Wishart model, whose posterior lies in the variational
# family (PRML section 10.2 with :math:`K = 1`): its ``lower_bound_`` must equal the
# closed-form log marginal likelihood
#
# .. math::
#
#     \ln p(X) = -\tfrac{ND}{2}\ln\pi + \ln\frac{\Gamma_D(\nu_N/2)}{\Gamma_D(\nu_0/2)}
#       + \tfrac{\nu_0}{2}\ln|W_0^{-1}| - \tfrac{\nu_N}{2}\ln|W_N^{-1}|
#       + \tfrac D2 \ln\frac{\beta_0}{\beta_N}
#
# (Murphy 2007, "Conjugate Bayesian analysis of the Gaussian distribution", eq. 266).
# We check that formula independently by the chain rule
# :math:`\ln p(X) = \sum_n \ln p(x_n \mid x_{<n})` with the Student-t posterior
# predictive densities (PRML eq. 10.81).
Xg = rng.multivariate_normal([1.0, -2.0], [[1.0, 0.6], [0.6, 2.0]], size=200)
vgm = VariationalGaussianMixture(n_components=1, reg_covar=0.0, random_state=0).fit(Xg)
m0, b0 = vgm.mean_prior_, vgm.mean_precision_prior_
nu0, W0inv = vgm.degrees_of_freedom_prior_, vgm.covariance_prior_
n, d = Xg.shape


def normal_wishart_posterior(Z):
    """Posterior (m, beta, nu, W^-1) after the rows of Z (PRML eq. 10.60-10.63)."""
    k = len(Z)
    if k == 0:
        return m0, b0, nu0, W0inv
    zbar = Z.mean(axis=0)
    scatter = (Z - zbar).T @ (Z - zbar)
    bN = b0 + k
    dm = zbar - m0
    return (b0 * m0 + k * zbar) / bN, bN, nu0 + k, W0inv + scatter + b0 * k / bN * np.outer(dm, dm)


_, bN, nuN, WNinv = normal_wishart_posterior(Xg)
closed_form = (
    -0.5 * n * d * np.log(np.pi)
    + multigammaln(nuN / 2, d)
    - multigammaln(nu0 / 2, d)
    + 0.5 * nu0 * np.linalg.slogdet(W0inv)[1]
    - 0.5 * nuN * np.linalg.slogdet(WNinv)[1]
    + 0.5 * d * np.log(b0 / bN)
)
chain = 0.0
for i in range(n):
    mk, bk, nuk, Wkinv = normal_wishart_posterior(Xg[:i])
    dof = nuk - d + 1
    shape = (bk + 1) / (bk * dof) * Wkinv
    chain += stats.multivariate_t(loc=mk, shape=shape, df=dof).logpdf(Xg[i])
print(f"closed-form ln p(X)          = {closed_form:.6f}")
print(f"chain rule of predictives    = {chain:.6f}")
print(f"skvi lower_bound_ (ELBO)     = {vgm.lower_bound_:.6f}  after {vgm.n_iter_} iterations")
print(f"gap ln p(X) - ELBO           = {closed_form - vgm.lower_bound_:.2e} nats")
print(f"run time {time.perf_counter() - t_start:.1f} s")
