r"""
Reverse against forward KL: mode-seeking and mass-covering
==========================================================

Variational inference fits :math:`q` by minimising the *reverse* divergence

.. math::

    \mathrm{KL}(q\,\|\,p) = \int q(z)\ln\frac{q(z)}{p(z)}\,dz,

which is large wherever :math:`q` puts mass where :math:`p` has little: the optimal
:math:`q` is *zero-forcing* and tends to sit on one mode. Expectation propagation and
moment matching minimise the *forward* divergence
:math:`\mathrm{KL}(p\,\|\,q) = \int p \ln(p/q)`, which is large wherever :math:`p` has
mass that :math:`q` misses: the optimal :math:`q` is *mass-covering*. For a Gaussian
:math:`q = \mathcal N(m, s^2)` the forward optimum has a closed form, the moments of
:math:`p`, because :math:`-\mathbb E_p[\ln q] = \tfrac12\ln(2\pi s^2) +
\mathbb E_p[(z - m)^2]/(2s^2)` is minimised by :math:`m = \mathbb E_p[z]`,
:math:`s^2 = \operatorname{var}_p(z)` (Bishop, PRML section 10.1.2 and figure 10.3;
Blei, Kucukelbir and McAuliffe 2017, section 2.2; Minka 2005, "Divergence measures and
message passing").

Here both divergences are minimised numerically over :math:`(m, \ln s)` with
``scipy.optimize.minimize``; every integral is a trapezoidal quadrature on a fine grid
(the entropy of :math:`q`, :math:`\tfrac12\ln(2\pi e s^2)`, is exact). The reverse
divergence is not convex in :math:`(m, \ln s)`: we start the optimiser from many points
and report every distinct optimum it reaches, with its KL value and whether it is a
local minimum (positive-definite finite-difference Hessian).
"""

# %%
# Quadrature and the two objectives
# ---------------------------------
import matplotlib.pyplot as plt
import numpy as np
from scipy.optimize import minimize
from scipy.special import logsumexp

grid = np.linspace(-15.0, 15.0, 6001)
dz = grid[1] - grid[0]
LOG_2PI = np.log(2 * np.pi)


def log_mixture(z, weights, means, sds):
    """ln p(z) of a 1-D Gaussian mixture."""
    comps = -0.5 * ((z[:, None] - means) / sds) ** 2 - np.log(sds) - 0.5 * LOG_2PI
    return logsumexp(comps + np.log(weights), axis=1)


def log_gauss(z, m, s):
    return -0.5 * ((z - m) / s) ** 2 - np.log(s) - 0.5 * LOG_2PI


def reverse_kl(theta, log_p):
    """KL(q || p) = -H[q] - E_q[ln p], q = N(m, exp(theta[1])^2), by quadrature."""
    m, log_s = theta
    q = np.exp(log_gauss(grid, m, np.exp(log_s)))
    entropy = log_s + 0.5 * (LOG_2PI + 1)
    return -entropy - np.sum(q * log_p) * dz


def forward_kl(theta, log_p):
    """KL(p || q) = E_p[ln p] - E_p[ln q], by quadrature."""
    m, log_s = theta
    p = np.exp(log_p)
    return np.sum(p * (log_p - log_gauss(grid, m, np.exp(log_s)))) * dz


def fit(objective, log_p, start):
    res = minimize(
        objective,
        start,
        args=(log_p,),
        method="Nelder-Mead",
        options={"xatol": 1e-8, "fatol": 1e-12, "maxiter": 4000},
    )
    return res.x, res.fun


def hessian(objective, log_p, theta, h=1e-3):
    """Central finite-difference Hessian of the objective at theta."""
    H = np.empty((2, 2))
    e = np.eye(2) * h
    for i in range(2):
        for j in range(2):
            H[i, j] = (
                objective(theta + e[i] + e[j], log_p)
                - objective(theta + e[i] - e[j], log_p)
                - objective(theta - e[i] + e[j], log_p)
                + objective(theta - e[i] - e[j], log_p)
            ) / (4 * h * h)
    return H


starts = [(m0, np.log(s0)) for m0 in np.linspace(-4, 4, 9) for s0 in (0.3, 1.0, 3.0)]


def distinct_optima(log_p):
    """Run the reverse-KL fit from every start; group the end points."""
    found = []
    for start in starts:
        theta, value = fit(reverse_kl, log_p, np.array(start))
        for item in found:
            if np.allclose(item["theta"], theta, atol=1e-3):
                item["starts"] += 1
                break
        else:
            eig = np.linalg.eigvalsh(hessian(reverse_kl, log_p, theta))
            found.append({"theta": theta, "kl": value, "starts": 1, "min_eig": eig.min()})
    return sorted(found, key=lambda item: item["theta"][0])


# %%
# An asymmetric bimodal target
# ----------------------------
# :math:`p = 0.3\,\mathcal N(-2, 0.6^2) + 0.7\,\mathcal N(2, 0.9^2)`.
weights, means, sds = np.array([0.3, 0.7]), np.array([-2.0, 2.0]), np.array([0.6, 0.9])
log_p = log_mixture(grid, weights, means, sds)
p = np.exp(log_p)
mean_p = np.sum(grid * p) * dz
var_p = np.sum((grid - mean_p) ** 2 * p) * dz
fwd, fwd_value = fit(forward_kl, log_p, np.array([0.0, 0.0]))
print(f"moments of p (quadrature): mean {mean_p:.5f}, sd {np.sqrt(var_p):.5f}")
print(
    f"forward-KL optimum        : mean {fwd[0]:.5f}, sd {np.exp(fwd[1]):.5f}, "
    f"KL(p||q) = {fwd_value:.4f}"
)
assert abs(fwd[0] - mean_p) < 1e-4 and abs(np.exp(fwd[1]) - np.sqrt(var_p)) < 1e-4

optima = distinct_optima(log_p)
print("reverse-KL optima from", len(starts), "starts:")
for item in optima:
    m, s = item["theta"][0], np.exp(item["theta"][1])
    print(
        f"  mean {m:7.4f}  sd {s:.4f}  KL(q||p) = {item['kl']:.4f}  "
        f"reached from {item['starts']:2d} starts  "
        f"{'local minimum' if item['min_eig'] > 0 else 'not a minimum'}"
    )

fig, ax = plt.subplots(figsize=(8, 3.8), layout="constrained")
ax.fill_between(grid, p, color="0.85", label="target p")
for item, c in zip(optima, ("C0", "C2", "C4"), strict=False):
    m, s = item["theta"][0], np.exp(item["theta"][1])
    ax.plot(
        grid,
        np.exp(log_gauss(grid, m, s)),
        c,
        label=f"reverse KL optimum, KL(q||p) = {item['kl']:.3f}",
    )
ax.plot(
    grid,
    np.exp(log_gauss(grid, fwd[0], np.exp(fwd[1]))),
    "C1--",
    label=f"forward KL optimum (moments), KL(p||q) = {fwd_value:.3f}",
)
ax.set_xlim(-6, 6)
ax.set_xlabel("z")
ax.legend(fontsize=8)
ax.set_title("mode-seeking (reverse KL) against mass-covering (forward KL)")
plt.show()

# %%
# Each reverse-KL optimum sits on one mode and ignores the other; which one the
# optimiser returns depends on where it starts, and the lighter mode is a worse (higher
# KL) but still local optimum. The forward-KL Gaussian puts its mean between the modes,
# where :math:`p` has almost no mass, and is wide enough to cover both.
#
# A symmetric mixture: how many optima?
# -------------------------------------
# :math:`p = \tfrac12\mathcal N(-d, 1) + \tfrac12\mathcal N(d, 1)` for three separations.
# By symmetry the two single-mode solutions have equal KL; whether a wide solution
# centred at 0 exists, and whether it beats them, depends on :math:`d`.
symmetric = {}
fig, axes = plt.subplots(1, 3, figsize=(12, 3.8), layout="constrained", sharey=True)
for ax, d in zip(axes, (2.0, 2.5, 3.0), strict=True):
    log_p = log_mixture(grid, np.array([0.5, 0.5]), np.array([-d, d]), np.array([1.0, 1.0]))
    optima = distinct_optima(log_p)
    symmetric[d] = optima
    print(f"d = {d}: {len(optima)} distinct reverse-KL optima")
    ax.fill_between(grid, np.exp(log_p), color="0.85", label="target p")
    for item, c in zip(optima, ("C0", "C2", "C3", "C4", "C5"), strict=False):
        m, s = item["theta"][0], np.exp(item["theta"][1])
        kind = "local minimum" if item["min_eig"] > 0 else "saddle/flat"
        print(
            f"  mean {m:7.4f}  sd {s:.4f}  KL(q||p) = {item['kl']:.4f}  "
            f"reached from {item['starts']:2d} starts  {kind}"
        )
        ax.plot(grid, np.exp(log_gauss(grid, m, s)), c, label=f"KL = {item['kl']:.3f}")
    ax.set_xlim(-7, 7)
    ax.set_title(f"symmetric mixture, d = {d}")
    ax.set_xlabel("z")
    ax.legend(fontsize=8)
plt.show()

# %%
# What the optimiser found
# ------------------------
# At :math:`d = 2` the modes overlap enough that a single wide Gaussian centred at 0 is
# the only optimum. At :math:`d = 2.5` and :math:`d = 3` there are three local minima: one
# on each mode and a wide one across both. At :math:`d = 2.5` the wide one has the lowest
# KL; at :math:`d = 3` it is the worst of the three, and a third of the starts still end
# there. A single run of a reverse-KL optimiser can therefore return a different answer,
# with a different value of the ELBO, from each initialisation: compare restarts by their
# ELBO (``n_init`` in the skvi estimators keeps the best) and remember that the best
# single Gaussian still hides one mode completely when the modes are far apart.
kls = {d: [item["kl"] for item in optima] for d, optima in symmetric.items()}
assert len(kls[2.0]) == 1 and len(kls[2.5]) == 3 and len(kls[3.0]) == 3
assert all(item["min_eig"] > 0 for optima in symmetric.values() for item in optima)
assert kls[2.5][1] < kls[2.5][0] and kls[3.0][1] > kls[3.0][0]
