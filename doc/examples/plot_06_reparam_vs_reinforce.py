r"""
Reparameterisation gradient against REINFORCE: measured variance
================================================================

Stochastic and black-box VI maximise the ELBO of a Gaussian
:math:`q_\phi(z) = \mathcal N(m, s^2)`, :math:`\phi = (m, \omega = \ln s)`, by
stochastic gradient ascent,

.. math::

    \mathcal L(\phi) = \mathbb E_{q_\phi}[f(z)] + \omega + \tfrac12\ln(2\pi e),
    \qquad f(z) = \ln p(x, z),

with the entropy term differentiated exactly. Two unbiased Monte Carlo estimators of
:math:`\nabla_\phi\mathbb E_{q_\phi}[f]` from :math:`S` draws
:math:`z_i = m + s\,\varepsilon_i`, :math:`\varepsilon_i \sim \mathcal N(0, 1)`:

* **Score function / REINFORCE** (Williams 1992; black-box VI, Ranganath, Gerrish and
  Blei 2014; Blei, Kucukelbir and McAuliffe 2017, section 5.3):
  :math:`\nabla_\phi\mathbb E_q[f] = \mathbb E_q[f(z)\,\nabla_\phi\ln q_\phi(z)]`, with
  :math:`\partial_m\ln q = \varepsilon/s` and :math:`\partial_\omega\ln q = \varepsilon^2 - 1`.
  It needs only values of :math:`f`. We also run it with the usual control variate, a
  leave-one-out baseline :math:`b_i = \frac1{S-1}\sum_{k\ne i} f(z_k)` subtracted from
  :math:`f(z_i)` (unbiased, since :math:`b_i` is independent of :math:`z_i` and
  :math:`\mathbb E[\nabla\ln q] = 0`).
* **Reparameterisation** (Kingma and Welling 2014; Rezende, Mohamed and Wierstra 2014;
  Titsias and Lázaro-Gredilla 2014):
  :math:`\nabla_\phi\mathbb E_q[f] = \mathbb E_\varepsilon[f'(m + s\varepsilon)\,
  \partial_\phi(m + s\varepsilon)]`, i.e. :math:`f'(z)` for :math:`m` and
  :math:`f'(z)\,s\,\varepsilon` for :math:`\omega`. It needs the derivative of :math:`f`.

The common claim is that the reparameterisation gradient has far lower variance, often
quoted as 100-1000 times. It is not a theorem: the variance of each estimator depends
on :math:`f` (Mohamed, Rosca, Figurnov and Mnih 2020, "Monte Carlo gradient estimation
in machine learning", JMLR 21, section 5). Here we measure it: each estimator is
computed 20,000 times independently and its variance taken over those repetitions.
"""

# %%
# The estimators
# --------------
import matplotlib.pyplot as plt
import numpy as np

rng = np.random.default_rng(6)
n_rep = 20_000


def estimators(f, df, m, s, n_draws):
    """n_rep independent estimates of d/dm and d/domega of E_q[f], for each estimator."""
    eps = rng.standard_normal((n_rep, n_draws))
    z = m + s * eps
    fz, dfz = f(z), df(z)
    score_m, score_w = eps / s, eps**2 - 1
    out = {
        "REINFORCE": ((fz * score_m).mean(1), (fz * score_w).mean(1)),
        "reparameterisation": (dfz.mean(1), (dfz * s * eps).mean(1)),
    }
    if n_draws > 1:
        base = (fz.sum(1, keepdims=True) - fz) / (n_draws - 1)  # leave-one-out baseline
        out["REINFORCE + baseline"] = (
            ((fz - base) * score_m).mean(1),
            ((fz - base) * score_w).mean(1),
        )
    return out


# %%
# A Gaussian target
# -----------------
# :math:`f(z) = \ln\mathcal N(z \mid 0, 1)`, for which the exact gradients are
# :math:`\partial_m = -m` and :math:`\partial_\omega = -s^2`. We vary the distance of
# :math:`q` from the target (:math:`m`, with :math:`s = 1`) and the number of draws
# :math:`S`.


def f_gauss(z):
    return -0.5 * z**2 - 0.5 * np.log(2 * np.pi)


def df_gauss(z):
    return -z


distances = [0.0, 0.5, 1.0, 2.0, 4.0, 8.0]
sizes = [1, 10, 100]
names = ["REINFORCE", "REINFORCE + baseline", "reparameterisation"]
var = {}  # (name, S, m) -> (var_m, var_omega)
print(
    "  S     m   var REINFORCE (m, omega)   var +baseline (m, omega)   var reparam (m, omega)"
    "   ratio REINFORCE/reparam (m)   ratio +baseline/reparam (m)"
)
for n_draws in sizes:
    for m in distances:
        est = estimators(f_gauss, df_gauss, m, 1.0, n_draws)
        for name, (gm, gw) in est.items():
            var[name, n_draws, m] = (gm.var(), gw.var())
            # unbiasedness check against the exact gradient (5 standard errors)
            assert abs(gm.mean() + m) < 5 * gm.std() / np.sqrt(n_rep) + 1e-12
        r, rb, rp = (var.get((nm, n_draws, m), (np.nan, np.nan)) for nm in names)
        print(
            f"{n_draws:3d}  {m:4.1f}   {r[0]:10.3g} {r[1]:10.3g}     {rb[0]:10.3g} {rb[1]:10.3g}"
            f"     {rp[0]:9.3g} {rp[1]:9.3g}   {r[0] / rp[0]:25.1f}   {rb[0] / rp[0]:25.1f}"
        )

# %%
# For this target the reparameterisation gradient of :math:`m` is :math:`-z`, whose
# variance is exactly :math:`s^2/S` whatever the distance; the REINFORCE variance grows
# with :math:`f^2`, i.e. with the fourth power of the distance. The baseline removes
# most of that growth. In the :math:`\omega` direction the reparameterisation gradient
# :math:`-z s\varepsilon` has variance :math:`(m^2 + 2)s^4/S`, which also grows with the
# distance.

fig, axes = plt.subplots(1, 3, figsize=(13, 4), layout="constrained")
for k, (ax, label) in enumerate(zip(axes[:2], ("m", r"\omega = \ln s"), strict=True)):
    for name, c in zip(names, ("C3", "C1", "C0"), strict=True):
        for n_draws, ls in ((10, "-"), (100, "--")):
            ax.semilogy(
                distances,
                [var[name, n_draws, m][k] for m in distances],
                ls,
                color=c,
                marker="o",
                ms=3,
                label=f"{name}, S = {n_draws}",
            )
    ax.set_xlabel("distance of q's mean from the target's mean")
    ax.set_ylabel("variance of the estimate")
    ax.set_title(rf"gradient with respect to ${label}$, Gaussian target")
axes[0].legend(fontsize=7)

# %%
# A wiggly target: where the claim fails
# --------------------------------------
# :math:`f(z) = -z^2/2 + a\cos(kz)` with :math:`a = 0.5`, a log density with a
# high-frequency ripple. The reparameterisation gradient sees
# :math:`f'(z) = -z - ak\sin(kz)`, whose variance grows like :math:`a^2k^2/2`; the
# score-function estimator only sees values of :math:`f`, which stay bounded.
a = 0.5
freqs = [0.0, 1.0, 2.0, 5.0, 10.0, 20.0, 40.0]
n_draws, m = 10, 1.0
ratios = {name: [] for name in names[:2]}
print("\nwiggly target, m = 1, s = 1, S = 10: variance of the d/dm estimate")
print("   k   REINFORCE   +baseline   reparam   REINFORCE/reparam   +baseline/reparam")
for k in freqs:
    est = estimators(
        lambda z, k=k: -0.5 * z**2 + a * np.cos(k * z),
        lambda z, k=k: -z - a * k * np.sin(k * z),
        m,
        1.0,
        n_draws,
    )
    v = {name: est[name][0].var() for name in names}
    for name in names[:2]:
        ratios[name].append(v[name] / v["reparameterisation"])
    print(
        f"{k:4.0f}  {v['REINFORCE']:10.3g}  {v['REINFORCE + baseline']:10.3g}  "
        f"{v['reparameterisation']:8.3g}  {ratios['REINFORCE'][-1]:18.2f}  "
        f"{ratios['REINFORCE + baseline'][-1]:18.2f}"
    )
ax = axes[2]
ax.loglog(np.array(freqs[1:]), ratios["REINFORCE"][1:], "o-", color="C3", label="REINFORCE")
ax.loglog(
    np.array(freqs[1:]),
    ratios["REINFORCE + baseline"][1:],
    "o-",
    color="C1",
    label="REINFORCE + baseline",
)
ax.axhline(1.0, color="k", ls=":")
ax.set_xlabel("ripple frequency k")
ax.set_ylabel("variance ratio: score function / reparameterisation")
ax.set_title(r"wiggly target, $\partial/\partial m$, S = 10")
ax.legend(fontsize=8)
plt.show()

# %%
# What we measured
# ----------------
# (``nan``: the leave-one-out baseline needs at least two draws.) On the Gaussian target,
# with :math:`q` on top of the target, the reparameterisation gradient of :math:`m` has
# a few times lower variance than plain REINFORCE, not 100-1000 times; the ratio
# reaches the hundreds and then the thousands only when :math:`q` is several standard
# deviations away from the target, as it is early in an optimisation. Plain REINFORCE
# also pays for the constant :math:`-\tfrac12\ln 2\pi` in :math:`f`, which adds variance
# without changing the gradient; the baseline removes that and most of the growth with
# distance. All ratios do not depend on :math:`S`: both variances fall as :math:`1/S`.
# On the rippled target the order reverses once the ripple is fast enough: the
# derivative the reparameterisation estimator relies on is itself the noisy quantity.
headline = {
    m: var["REINFORCE", 100, m][0] / var["reparameterisation", 100, m][0] for m in distances
}
print(
    "variance ratio REINFORCE / reparameterisation, d/dm, S = 100:",
    {m: round(float(r), 1) for m, r in headline.items()},
)
assert 2 < headline[0.0] < 20 and headline[8.0] > 500
assert ratios["REINFORCE"][-1] < 1 and ratios["REINFORCE"][0] > 1
