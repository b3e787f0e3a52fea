r"""
Choosing the number of components: the ELBO against held-out likelihood
=======================================================================

For any variational distribution :math:`q`,

.. math::

    \ln p(X \mid K) = \mathcal L_K(q) + \mathrm{KL}\big(q \,\|\, p(Z, \pi, \mu, \Lambda
    \mid X, K)\big) \;\ge\; \mathcal L_K(q),

so the ELBO of a fit with :math:`K` components is a lower bound on the log evidence of
the :math:`K`-component model, and comparing the maximised ELBOs approximates Bayesian
model selection (Bishop, PRML section 10.2.4). The bound only works for this if it is the
*full* ELBO: every normalising constant of the Gaussian, Wishart and Dirichlet terms
depends on :math:`K`, and dropping them (as scikit-learn's
``BayesianGaussianMixture.lower_bound_`` does) changes the ranking.
:class:`skvi.VariationalGaussianMixture` reports the full ELBO in nats as
``lower_bound_``; with :math:`K = 1` it equals the exact log evidence.

The frequentist check is the held-out predictive likelihood: fit on part of the data
and score the rest with the posterior predictive density, a mixture of Student-t
distributions (PRML eq. 10.81),

.. math::

    \frac{1}{N_\text{test}} \sum_{n \in \text{test}} \ln p(x_n \mid X_\text{train})
    \approx \frac{1}{N_\text{test}} \sum_{n \in \text{test}} \ln \sum_k
    \mathbb E_q[\pi_k]\, \mathrm{St}\big(x_n \mid m_k, L_k, \nu_k + 1 - D\big),

which is what :meth:`~skvi.VariationalGaussianMixture.score` returns. Both criteria
penalise complexity: the ELBO through the KL divergence of the parameters from their
prior (the Bayesian Occam factor), the held-out score by overfitting showing up on unseen
points. We fit :math:`K = 1, \dots, 7` with the Dirichlet prior
(:math:`\alpha_0 = 1`, so no component is switched off), without the delete move and
with two initialisations each, so that each :math:`K` really is a
:math:`K`-component model.
"""

# %%
# Two data sets
# -------------
# Old Faithful (272 points, two eruption types) and five overlapping Gaussian clusters
# (1000 points).
import time

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import make_blobs
from sklearn.model_selection import KFold

from skvi import VariationalGaussianMixture
from skvi.datasets import load_old_faithful

t_start = time.perf_counter()
X_blobs, _ = make_blobs(
    n_samples=1000,
    centers=[[0, 0], [3, 0], [0, 4], [4, 4], [7, 1]],
    cluster_std=[0.8, 0.8, 1.0, 0.7, 0.9],
    random_state=0,
)
datasets = {"Old Faithful": load_old_faithful().data, "five clusters": X_blobs}
n_components_range = np.arange(1, 8)


def make_model(K):
    return VariationalGaussianMixture(
        n_components=K,
        weight_concentration_prior_type="dirichlet_distribution",
        weight_concentration_prior=1.0,
        prune=False,
        n_init=2,
        max_iter=500,
        random_state=0,
    )


# %%
# ELBO on all the data, held-out score by 5-fold cross-validation
# ----------------------------------------------------------------
# The ELBO is divided by the number of samples so that both criteria are in nats per
# point. The held-out score is the mean over the five folds, with its standard
# deviation across folds.
results = {}
for name, X in datasets.items():
    folds = list(KFold(n_splits=5, shuffle=True, random_state=0).split(X))
    elbo, heldout, heldout_std = [], [], []
    for K in n_components_range:
        elbo.append(make_model(K).fit(X).lower_bound_ / X.shape[0])
        scores = [make_model(K).fit(X[tr]).score(X[te]) for tr, te in folds]
        heldout.append(np.mean(scores))
        heldout_std.append(np.std(scores))
    results[name] = np.array(elbo), np.array(heldout), np.array(heldout_std)

    print(f"{name}: {X.shape[0]} samples")
    print(f"{'K':>3}{'ELBO / N':>11}{'held-out':>11}{'(std)':>8}")
    for K, e, h, s in zip(n_components_range, *results[name], strict=True):
        print(f"{K:>3}{e:>11.4f}{h:>11.4f}{s:>8.4f}")
    best_elbo = n_components_range[np.argmax(results[name][0])]
    best_heldout = n_components_range[np.argmax(results[name][1])]
    print(f"best K: ELBO {best_elbo}, held-out likelihood {best_heldout}\n")

# %%
# Plot both criteria against :math:`K`.
fig, axes = plt.subplots(1, 2, figsize=(11, 4))
for ax, (name, (elbo, heldout, heldout_std)) in zip(axes, results.items(), strict=True):
    ax.plot(n_components_range, elbo, "o-", label="ELBO / N (all data)")
    ax.errorbar(
        n_components_range,
        heldout,
        yerr=heldout_std,
        fmt="s-",
        capsize=3,
        label="held-out log predictive density\n(5-fold mean ± std)",
    )
    for values, color in ((elbo, "C0"), (heldout, "C1")):
        k = np.argmax(values)
        ax.plot(n_components_range[k], values[k], "*", ms=16, color=color)
    ax.set(xlabel="number of components K", ylabel="nats per sample", title=name)
    ax.legend(fontsize=8, loc="lower right")
fig.tight_layout()

# %%
# Where they agree, and where they differ
# ---------------------------------------
# On the five clusters both criteria pick :math:`K = 5`. Both rise steeply while
# components are missing and part ways after the maximum: the held-out score stays
# almost flat (a spare component with a small weight barely changes the predictive
# density), while the ELBO falls with spare components (not strictly: each fit is a local
# optimum), the price of their parameters'
# KL divergence from the prior. On Old Faithful the held-out curve is flat from
# :math:`K = 2` on, and its maximum can land on a larger :math:`K` by a margin far
# inside the fold-to-fold spread (printed below); the ELBO makes the same choice as the
# eye, two eruption types. The ELBO thus separates the candidates more sharply and needs
# no held-out data, but it is a bound: its gap to the log evidence (the KL term above)
# can differ between values of :math:`K`, so a difference of a fraction of a nat in
# total is not evidence. The per-sample gap between the two curves is not an error
# either: the ELBO on all :math:`N` points includes the cost of learning the parameters,
# the held-out score conditions on them.
for name, (elbo, heldout, heldout_std) in results.items():
    k = np.argmax(elbo)
    drop_elbo = elbo[k] - elbo[-1]
    drop_heldout = heldout[k] - heldout[-1]
    print(
        f"{name}: from K = {n_components_range[k]} to K = {n_components_range[-1]} the "
        f"ELBO / N drops {drop_elbo:.4f} nats, the held-out score {drop_heldout:.4f}"
    )
    j = np.argmax(heldout)
    print(
        f"  held-out best K = {n_components_range[j]} beats K = {n_components_range[k]} by "
        f"{heldout[j] - heldout[k]:.4f} nats per sample (fold std {heldout_std[k]:.4f})"
    )

print(f"total run time {time.perf_counter() - t_start:.1f} s")
plt.show()
