"""The Gaussian mixture's priors and internal units, resolved from its parameters and X.

:class:`~skvi.mixture.VariationalGaussianMixture` calls :func:`data_units` and
:func:`resolve_prior`; each returns named values (:class:`~skvi._mixture_kernels.Units`,
:class:`~skvi._mixture_kernels.MixturePrior`) or raises a ``ValueError`` naming the
parameter and the limit, before anything is set on the estimator. The limits keep the
arithmetic of the posterior and of the ELBO inside float64. Nothing here imports
scikit-learn.
"""

import math

import numpy as np

from ._mixture_kernels import COVARIANCE_CODES, MixturePrior, Units

#: Limits on the largest deviation of X from its weighted mean: the covariances and
#: precisions, reported in squared units of X, stay representable in float64.
MIN_DEVIATION, MAX_DEVIATION = 1e-150, 1e150
#: Limit on the magnitudes that enter the posterior in the internal units: the total
#: sample weight (``total_samples`` for partial_fit), ``reg_covar`` and
#: ``covariance_prior`` over the squared scale, the squared distance of ``mean_prior``.
MAX_RATIO = 1e100


def data_units(X, w):
    r"""Centre ``c`` (the weighted mean of ``X``) and scale ``s`` of the internal units.

    Every computation is done on ``y = (x - c) / s``, with ``s`` the power of two
    just above the largest ``|x_nj - c_j|`` (1 for constant data), so that
    ``|y| < 1``: the squares and sums of the E-step cannot overflow, whatever the
    units of ``X``. The model is equivariant under this change of variables (the
    Wishart and Gamma families are closed under scaling), and a power of two scales
    exactly.

    Returns
    -------
    units : Units
    deviation : float
        The largest deviation of ``X`` from ``c`` (for messages).
    data_cov : ndarray of shape (n_features, n_features)
        The weighted covariance of ``y``, for the default ``covariance_prior``.
    """
    e0 = max_exponent(float(np.max(np.abs(X))))
    work = X.astype(np.float64)  # the one copy of X: scaled, then centred
    np.ldexp(work, -e0, out=work)
    wsum = w.sum()
    mean = (w @ work) / wsum
    work -= mean
    dmax = float(np.max(np.abs(work)))
    return units_from_sums(e0, mean, dmax, (work.T * w) @ work, wsum)


def max_exponent(amax):
    """``e0`` with ``|X| < 2**e0`` for ``amax = max |X|``: ``X / 2**e0`` cannot overflow."""
    return math.frexp(amax)[1]


def units_from_sums(e0, mean, dmax, scatter, wsum):
    """:func:`data_units` from the reductions of the data (per chunk, for a Dask array):
    ``mean`` the weighted mean of ``X / 2**e0``, ``dmax`` the largest ``|X / 2**e0 -
    mean|`` and ``scatter`` the weighted sum of the outer products of ``X / 2**e0 -
    mean``; ``wsum`` the total weight. Powers of two scale exactly, so this equals
    scaling the data first."""
    log10_dev = math.log10(dmax) + e0 * math.log10(2.0) if dmax > 0 else -np.inf
    if dmax > 0 and not math.log10(MIN_DEVIATION) <= log10_dev <= math.log10(MAX_DEVIATION):
        raise ValueError(
            f"X deviates from its mean by up to {_format_log10(log10_dev)}; the fitted "
            "covariances and precisions, in squared units of X, are representable "
            f"only for a largest deviation between {MIN_DEVIATION:g} and "
            f"{MAX_DEVIATION:g}. Rescale X."
        )
    e = math.frexp(dmax)[1] + e0 if dmax > 0 else 0
    units = Units(
        center=np.ldexp(mean, e0),
        shift=np.ldexp(mean, e0 - e),  # c / s, exactly
        scale_exp=e,
        inv_scale=math.ldexp(1.0, -e),
    )
    denom = wsum - 1.0 if wsum > 1.0 else wsum
    data_cov = np.ldexp(scatter, 2 * (e0 - e)) / denom
    return units, 10.0**log10_dev if dmax > 0 else 0.0, data_cov


def resolve_prior(est, units, data_cov):
    """The prior of the parameters of ``est`` (Bishop's alpha_0, beta_0, m_0, W_0^-1,
    nu_0, with their defaults), in the internal ``units``.

    Returns
    -------
    prior : MixturePrior
    mean_prior : ndarray of shape (n_features,)
        :math:`m_0` in the units of X (``mean_prior_``).
    covariance_prior : float or ndarray
        :math:`W_0^{-1}` (or :math:`c_0`) in the units of X (``covariance_prior_``).
    """
    center, shift, e = units.center, units.shift, units.scale_exp
    n_features = center.shape[0]
    alpha0 = (
        1.0 / est.n_components
        if est.weight_concentration_prior is None
        else float(est.weight_concentration_prior)
    )
    beta0 = 1.0 if est.mean_precision_prior is None else float(est.mean_precision_prior)
    if est.mean_prior is None:
        mean_prior = center.copy()
        m0 = np.zeros(n_features)
    else:
        mean_prior = np.asarray(est.mean_prior, dtype=np.float64)
        if mean_prior.shape != (n_features,) or not np.all(np.isfinite(mean_prior)):
            raise ValueError(
                f"mean_prior must be a finite array of shape ({n_features},), got "
                f"shape {mean_prior.shape}."
            )
        m0 = np.ldexp(mean_prior, -e) - shift
        distance = float(np.max(np.abs(m0)))
        if not distance <= MAX_RATIO**0.5:
            raise ValueError(
                f"mean_prior lies {distance:.3g} times the largest deviation of X "
                f"(rounded up to a power of two, {math.ldexp(1.0, e):.3g}) away from "
                f"the mean of X; the limit is {MAX_RATIO**0.5:g} (its square enters "
                "the posterior scale)."
            )
    if est.degrees_of_freedom_prior is None:
        nu0 = float(n_features)
    elif est.degrees_of_freedom_prior > n_features - 1.0:
        nu0 = float(est.degrees_of_freedom_prior)
    else:
        raise ValueError(
            f"The parameter 'degrees_of_freedom_prior' should be greater than "
            f"{n_features - 1}, but got {est.degrees_of_freedom_prior:.3f}."
        )
    reg = in_units(est.reg_covar, e, "reg_covar")
    if est.covariance_prior is None:
        cov = data_cov + reg * np.eye(n_features)
        prior = {
            "full": cov,
            "tied": cov,
            "diag": np.diag(cov).copy(),
            "spherical": np.diag(cov).mean(),
        }[est.covariance_type]
        scale0 = check_covariance_prior(prior, est.covariance_type, n_features)
        covariance_prior = np.ldexp(scale0, 2 * e)
        if np.ndim(scale0) == 0:
            covariance_prior = float(covariance_prior)
    else:
        prior = np.asarray(est.covariance_prior, dtype=np.float64)
        covariance_prior = check_covariance_prior(prior, est.covariance_type, n_features)
        scale0 = in_units(covariance_prior, e, "covariance_prior")
        if np.ndim(scale0) == 0:
            scale0 = float(scale0)
    prior = MixturePrior(
        covariance_type=COVARIANCE_CODES[est.covariance_type],
        dirichlet_process=est.weight_concentration_prior_type == "dirichlet_process",
        weight_concentration=alpha0,
        mean_precision=beta0,
        mean=m0,
        degrees_of_freedom=nu0,
        covariance=scale0,
        reg_covar=reg,
    )
    return prior, mean_prior, covariance_prior


def _format_log10(log10_value):
    """``10**log10_value`` written as ``'3.16e+300'``, even beyond the float range."""
    exponent = math.floor(log10_value)
    return f"{10.0 ** (log10_value - exponent):.3g}e{exponent:+d}"


def check_total_weight(total, name):
    """``total`` as a float, or a ValueError if it exceeds :data:`MAX_RATIO`."""
    total = float(total)
    if not total <= MAX_RATIO:
        raise ValueError(
            f"{name} sum to {total:.3g}, above the limit {MAX_RATIO:g}: the posterior's "
            "parameters and the ELBO grow with the total weight, and beyond it their "
            "float64 arithmetic is not safe."
        )
    return total


def in_units(value, scale_exp, name):
    """``value / s**2`` for ``s = 2**scale_exp``, or a ValueError naming ``name`` when
    it exceeds :data:`MAX_RATIO`."""
    with np.errstate(over="ignore"):
        scaled = np.ldexp(value, -2 * scale_exp)
    largest = float(np.max(np.abs(scaled)))
    if not largest <= MAX_RATIO:
        raise ValueError(
            f"{name} is {largest:.3g} times the squared largest deviation of X from its "
            f"mean (rounded up to a power of two, {math.ldexp(1.0, scale_exp):.3g}); the "
            f"limit is {MAX_RATIO:g}. Reduce {name} or rescale X."
        )
    return scaled


def check_covariance_prior(prior, covariance_type, n_features):
    """Validate ``covariance_prior`` for its covariance type (SPD / positive / shape)."""
    name = f"{covariance_type} covariance_prior"
    if covariance_type in ("full", "tied"):
        expected = (n_features, n_features)
    elif covariance_type == "diag":
        expected = (n_features,)
    else:
        expected = ()
    if prior.shape != expected:
        raise ValueError(f"The parameter '{name}' should have the shape {expected}, but got "
                         f"{prior.shape}.")  # fmt: skip
    if not np.all(np.isfinite(prior)):
        raise ValueError(f"The parameter '{name}' must be finite.")
    if covariance_type in ("full", "tied"):
        if not np.allclose(prior, prior.T):
            raise ValueError(f"'{name}' should be symmetric, positive-definite.")
        try:
            np.linalg.cholesky(prior)
        except np.linalg.LinAlgError:
            raise ValueError(
                f"'{name}' should be symmetric, positive-definite. If it is the default "
                "(the covariance of X), X has linearly dependent features: set reg_covar > 0."
            ) from None
        return 0.5 * (prior + prior.T)
    if np.any(prior <= 0):
        raise ValueError(f"'{name}' should be positive.")
    return prior if prior.ndim else float(prior)


def check_same_structure(est):
    """Raise if a parameter that shapes the fitted state of ``est`` (a fitted
    :class:`~skvi.mixture.VariationalGaussianMixture`) was changed since
    (``partial_fit`` continues the fitted model)."""
    prior, names = est._model_prior, {c: n for n, c in COVARIANCE_CODES.items()}
    fitted = {
        "n_components": est._state.posterior.means.shape[0],
        "covariance_type": names[prior.covariance_type],
        "weight_concentration_prior_type": (
            "dirichlet_process" if prior.dirichlet_process else "dirichlet_distribution"
        ),
    }
    for name, value in fitted.items():
        if getattr(est, name) != value:
            raise ValueError(
                f"partial_fit continues the fitted model, which has {name}={value!r}, "
                f"but {name}={getattr(est, name)!r} now. Call fit to start afresh "
                f"with the new value, or set {name}={value!r} again."
            )
