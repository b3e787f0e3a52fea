r"""
Bayesian linear regression: predictive bands, VEM against VBEM, ARD and robust noise
====================================================================================

:class:`skvi.VariationalEMRegressor` fits the linear model

.. math::

    y_n \sim \mathcal N\big(x_n^\top w + b,\; (\alpha\tau_n)^{-1}\big), \qquad
    w_j \sim \mathcal N(0, \lambda_j^{-1}), \qquad
    \alpha \sim \mathrm{Gam}(\alpha_1, \alpha_2), \quad \lambda_j \sim \mathrm{Gam}(\lambda_1,
    \lambda_2),

with a Gaussian :math:`q(w, b)`. Four choices are shown here:

* **Predictive distribution.** For a new input :math:`x` the predictive mean is
  :math:`x^\top \mathbb E_q[w] + \mathbb E_q[b]` and the variance adds the noise to the
  parameter uncertainty, :math:`1/\mathbb E[\alpha] + x^\top \Sigma_w x` (for the centred
  :math:`x`, with the intercept's variance), so the band widens away from the data
  (PRML eq. 3.58-3.59). ``predict(X, return_std=True)`` returns both.
* **VEM against VBEM.** ``method='vem'`` treats :math:`\alpha, \lambda` as point
  estimates (type-II maximum likelihood, as BayesianRidge); ``method='vbem'`` gives them
  Gamma factors :math:`q(\alpha)q(\lambda)` and integrates them out, so its predictive
  distribution is a Student-t (Drugowitsch 2013) and its ``lower_bound_`` bounds
  :math:`\ln p(y)` itself.
* **ARD** (``prior='ard'``): one precision :math:`\lambda_j` per feature. Maximising the
  bound drives :math:`\lambda_j \to \infty` for features that do not help, which sets their
  coefficients to zero (MacKay 1992; Tipping 2001).
* **Student-t noise** (``noise='student_t'``): a Gamma scale mixture,
  :math:`\tau_n \sim \mathrm{Gam}(\nu/2, \nu/2)`, so that an outlier gets a small
  :math:`\mathbb E_q[\tau_n]` and little weight in the fit (Tipping and Lawrence 2005).
"""

# %%
# Predictive mean and standard deviation, VEM against VBEM
# --------------------------------------------------------
# Twenty noisy samples of :math:`\sin(2\pi x)` on two intervals with a gap, fitted with
# Gaussian radial basis features (centres every 0.1, width 0.1). We plot the predictive
# mean with bands of one and two predictive standard deviations.
import time

import matplotlib.pyplot as plt
import numpy as np
from sklearn.linear_model import BayesianRidge

from skvi import VariationalEMRegressor

t_start = time.perf_counter()
rng = np.random.RandomState(0)
x_train = np.concatenate([rng.uniform(0.0, 0.35, 10), rng.uniform(0.65, 1.0, 10)])
y_train = np.sin(2 * np.pi * x_train) + rng.normal(scale=0.2, size=x_train.size)
x_grid = np.linspace(-0.1, 1.1, 300)
centres = np.linspace(0, 1, 11)


def rbf(x):
    return np.exp(-0.5 * ((x[:, None] - centres[None, :]) / 0.1) ** 2)


fits = {}
fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
for ax, method in zip(axes, ["vem", "vbem"], strict=True):
    model = VariationalEMRegressor(method=method).fit(rbf(x_train), y_train)
    mean, std = model.predict(rbf(x_grid), return_std=True)
    fits[method] = model
    ax.fill_between(x_grid, mean - 2 * std, mean + 2 * std, color="C0", alpha=0.15)
    ax.fill_between(x_grid, mean - std, mean + std, color="C0", alpha=0.3)
    ax.plot(x_grid, mean, color="C0", label="predictive mean")
    ax.plot(x_grid, np.sin(2 * np.pi * x_grid), "k--", lw=1, label=r"$\sin 2\pi x$")
    ax.plot(x_train, y_train, "o", color="C3", label="training data")
    gap = np.abs(x_grid - 0.5).argmin()
    ax.set_title(
        f"method='{method}': ELBO {model.lower_bound_:.2f}, "
        f"std {std.min():.2f} to {std[gap]:.2f} (x=0.5)",
        fontsize=10,
    )
    ax.set_xlabel("x")
    print(
        f"{method}: alpha {model.alpha_:.2f} (noise std {model.alpha_**-0.5:.3f}), "
        f"lambda {model.lambda_:.3g}, lower_bound_ {model.lower_bound_:.3f}, "
        f"{model.n_iter_} iterations"
    )
    print(f"      predictive std: min {std.min():.3f}, at x = 0.5 {std[gap]:.3f}")
axes[0].set_ylabel("y")
axes[0].legend(fontsize=8, loc="lower left")
fig.tight_layout()

# %%
# The two methods share their fixed point for the means (``coef_``, ``alpha_``,
# ``lambda_``; see the class Notes) but not their objective nor their predictive
# distribution: VBEM's Student-t, with :math:`2a_\alpha` degrees of freedom, is wider.
diff = np.abs(fits["vem"].coef_ - fits["vbem"].coef_).max()
print(f"largest coefficient difference vem - vbem: {diff:.2e}")

# %%
# ARD switches features off
# -------------------------
# 200 samples of 20 features of which only the first 4 enter the target. Ridge (one
# shared :math:`\lambda`) shrinks all coefficients alike; ARD leaves the four informative
# ones and sends the precisions of the others to large values, their coefficients to
# almost zero.
n_samples, n_features, n_informative = 200, 20, 4
X = rng.normal(size=(n_samples, n_features))
true_coef = np.zeros(n_features)
true_coef[:n_informative] = [3.0, -2.0, 1.5, 1.0]
y = X @ true_coef + rng.normal(scale=1.0, size=n_samples)

ridge = VariationalEMRegressor(prior="ridge").fit(X, y)
ard = VariationalEMRegressor(prior="ard").fit(X, y)
irrelevant = slice(n_informative, None)
for name, model in (("ridge", ridge), ("ard", ard)):
    print(
        f"{name:<6} informative coef "
        f"{np.array2string(model.coef_[:n_informative], precision=3)}  "
        f"irrelevant |coef|: median {np.median(np.abs(model.coef_[irrelevant])):.4f}, "
        f"max {np.abs(model.coef_[irrelevant]).max():.4f}"
    )
print(f"ARD lambda, informative: {np.array2string(ard.lambda_[:n_informative], precision=3)}")
print(
    f"ARD lambda, irrelevant: median {np.median(ard.lambda_[irrelevant]):.3g}, "
    f"{int((ard.lambda_[irrelevant] > 100).sum())} of {n_features - n_informative} above 100, "
    f"smallest {ard.lambda_[irrelevant].min():.3g}"
)

# %%
# Most irrelevant precisions end in the thousands, but not all: a feature that happens to
# correlate with the noise in this sample keeps a moderate :math:`\lambda_j` and a small
# coefficient. (Under ``method='vem'`` ``lower_bound_`` includes the log hyperprior
# density of each precision, one term per :math:`\lambda_j`; with the vague default
# hyperpriors each term costs about :math:`\ln\Gamma(10^{-6}) \approx 13.8` nats, so
# the ridge and ARD objectives are not comparable as model evidence.)
fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(11, 3.8))
idx = np.arange(n_features)
ax0.bar(idx - 0.2, ridge.coef_, width=0.4, label="ridge")
ax0.bar(idx + 0.2, ard.coef_, width=0.4, label="ARD")
ax0.plot(idx, true_coef, "k_", ms=12, mew=2, label="true")
ax0.set(xlabel="feature", ylabel="coefficient", title="coefficients")
ax0.legend()
ax1.semilogy(idx, ard.lambda_, "o", color="C1")
ax1.axvline(n_informative - 0.5, color="0.5", ls=":")
ax1.set(xlabel="feature", ylabel=r"$\lambda_j$", title="ARD precisions")
fig.tight_layout()

# %%
# Student-t noise against BayesianRidge with outliers
# ---------------------------------------------------
# A straight line :math:`y = 1 + 2x` with Gaussian noise, and 10% of the targets moved up
# by 8 to 12. BayesianRidge and the Gaussian-noise model are pulled towards the
# outliers; the Student-t model learns a small :math:`\nu` and gives the outliers
# small precisions :math:`\mathbb E_q[\tau_n]`.
n = 100
x = np.sort(rng.uniform(0, 4, n))
y = 1.0 + 2.0 * x + rng.normal(scale=0.5, size=n)
outliers = rng.choice(n, size=n // 10, replace=False)
y[outliers] += rng.uniform(8, 12, size=outliers.size)
Xo = x[:, None]

models = {
    "sklearn BayesianRidge": BayesianRidge().fit(Xo, y),
    "skvi gaussian": VariationalEMRegressor(noise="gaussian").fit(Xo, y),
    "skvi student_t": VariationalEMRegressor(noise="student_t").fit(Xo, y),
}
inliers = np.setdiff1d(np.arange(n), outliers)
print(f"{'model':<22}{'slope':>7}{'intercept':>11}{'inlier RMSE':>13}")
for name, model in models.items():
    slope, intercept = float(np.ravel(model.coef_)[0]), float(model.intercept_)
    rmse = np.sqrt(np.mean((model.predict(Xo[inliers]) - y[inliers]) ** 2))
    print(f"{name:<22}{slope:>7.3f}{intercept:>11.3f}{rmse:>13.3f}")
robust = models["skvi student_t"]
tau = robust.sample_precisions_
print(f"learned df: {robust.df_:.2f}")
print(f"mean E[tau]: outliers {tau[outliers].mean():.3f}, inliers {tau[inliers].mean():.3f}")

fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(11, 4))
ax0.plot(x[inliers], y[inliers], "o", color="0.5", ms=4, label="inliers")
ax0.plot(x[outliers], y[outliers], "x", color="C3", label="outliers")
grid = np.linspace(0, 4, 50)[:, None]
for i, (name, model) in enumerate(models.items()):
    ax0.plot(grid, model.predict(grid), color=f"C{i}", ls=["-", "--", "-"][i], label=name)
ax0.plot(grid, 1 + 2 * grid, "k:", label="true line")
ax0.set(xlabel="x", ylabel="y", title="fits with 10% outliers")
ax0.legend(fontsize=8)
ax1.plot(x[inliers], tau[inliers], "o", color="0.5", ms=4, label="inliers")
ax1.plot(x[outliers], tau[outliers], "x", color="C3", label="outliers")
ax1.set(xlabel="x", ylabel=r"$\mathbb{E}_q[\tau_n]$", title="per-sample noise precisions")
ax1.legend()
fig.tight_layout()

print(f"total run time {time.perf_counter() - t_start:.1f} s")
plt.show()
