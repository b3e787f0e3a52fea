"""The variational Gaussian mixture's mathematics: statistics, update, ELBO, predictive.

Everything the model computes lives here, as plain functions on small immutable values;
``VariationalGaussianMixture`` (:mod:`skvi.mixture`) only validates its parameters,
resolves the priors, calls these functions and publishes the fitted attributes. Nothing
here imports scikit-learn.

The values (all in the internal units of :class:`Units`):

* :class:`MixturePrior`: :math:`\\alpha_0, \\beta_0, m_0, \\nu_0, W_0^{-1}` (or
  :math:`c_0`), ``reg_covar``, the covariance type and the weight prior;
* :class:`MixtureStats`: the additive sufficient statistics of a chunk of data;
* :class:`MixturePosterior`: the factors :math:`q(\\pi)` and :math:`q(\\mu_k, \\Lambda_k)`;
* :class:`MixtureState`: what a fit carries from one sweep to the next (the statistics a
  posterior was computed from, the posterior and its E-step coefficients);
* :class:`MixturePredictive`: the Student-t mixture of the posterior predictive;
* :class:`Chunk`: rows of data with their weights and units.

The functions:

* :func:`chunk_stats` (the E-step, Bishop 10.46-10.49, fused with the statistics
  10.51-10.53; Numba) and :func:`resp_chunk_stats` (the statistics of given
  responsibilities; NumPy, it runs once per fit);
* :func:`update` (the M-step, Bishop 10.58-10.63): statistics and prior to posterior;
  :func:`coefficients` (the E-step's linear map, Bishop 10.46 with 10.64-10.66);
* :func:`elbo` (Bishop 10.70, every constant included) from statistics, posterior and
  prior, with :func:`kl_weights` and :func:`kl_gauss`; :func:`new_state` does the
  update, the coefficients and the KL terms of 'diag' in one compiled call
  (:mod:`skvi._mixture_diag`: on small data their NumPy calls cost as much as the E-step);
* :func:`predictive`, :func:`log_predictive` and :func:`sample_predictive` (Bishop
  10.81), :func:`log_resp` (the responsibilities of new data);
* the steps the estimator's fit loop takes, on a :class:`Chunk` of data: :func:`sweep`
  (E-step, update, ELBO), :func:`state_from_resp` (an initialisation or a warm start),
  :func:`stochastic_sweep` (``partial_fit``) and :func:`delete_moves` (the proposals
  of the delete move); :func:`to_data_units` expresses a posterior in the units of X.

**The statistics are additive**: the statistics of a data set are the sum of the
statistics of its chunks (:func:`add_stats`), whatever the split, so that they can be
computed per chunk (on the workers of a cluster) and the small update done once;
``partial_fit`` blends a batch's rescaled statistics into running ones
(:func:`blend_stats`).

The E-step of every covariance type is written as one linear map of an expanded
feature vector. For a row ``x``, a centre ``c`` and a scale ``s`` (a power of two, see
:class:`Units`: the kernels receive ``shift = c / s`` and ``inv_scale = 1 / s``), let
``u = x / s - c / s``, which equals ``(x - c) / s`` exactly, and

* ``full``/``tied``: ``z(x) = [u_1..u_d, u_i u_j for i <= j]``  (``d + d(d+1)/2`` entries),
* ``diag``: ``z(x) = [u_1..u_d, u_1^2..u_d^2]``,
* ``spherical``: ``z(x) = [u_1..u_d, ||u||^2]``.

The expected log joint of Bishop (10.46) is then ``ln rho_nk = [1, z(x_n)] @ coef[:, k]``
(:func:`coefficients` builds ``coef``), and the sufficient statistics the M-step needs
are the responsibility-weighted sums of the same features, ``sum_n w_n r_nk [1, z(x_n)]``
(:attr:`MixtureStats.moments`). One pass over the data computes both, as small matrix
products over sub-blocks of rows.

Parallel kernels split the rows into blocks sized by the number of rows alone
(:func:`skvi._mixture_estep.block_rows`), give each block its own accumulator and reduce
the blocks in index order, so the result does not depend on the number of threads.
"""

import functools
import math
from typing import NamedTuple

import numpy as np
from scipy.linalg import lapack
from scipy.special import digamma, gammaln, logsumexp, xlogy

from ._jit import BLOCK_ROWS
from ._mixture_diag import diag_posterior
from ._mixture_estep import (  # noqa: F401  (re-exported: the kernels of this model)
    DIAG,
    FULL,
    SPHERICAL,
    SUB_ROWS,
    TIED,
    estep_stats,
    estep_stats_serial,
    log_resp,
    log_resp_serial,
    log_student_t,
    log_student_t_serial,
    n_coefficients,
)
from ._special import (
    cholesky_log_det,
    expected_log_det_wishart,
    kl_beta,
    kl_dirichlet,
    kl_gamma,
    kl_wishart,
)

COVARIANCE_CODES = {"full": FULL, "tied": TIED, "diag": DIAG, "spherical": SPHERICAL}
_LOG_2PI = math.log(2.0 * math.pi)


# ------------------------------------------------------------------ the named values
class Units(NamedTuple):
    r"""The internal units :math:`u = (x - c) / s` of the computations.

    ``s = 2**scale_exp`` is a power of two, so the change of variables is exact; the
    model is equivariant under it (the Wishart and Gamma families are closed under
    scaling), and :func:`to_data_units` expresses a posterior in the units of ``x``.
    """

    center: np.ndarray  #: ``c``, shape (n_features,)
    shift: np.ndarray  #: ``c / s``, exactly
    scale_exp: int  #: ``s = 2**scale_exp``
    inv_scale: float  #: ``1 / s``


class Chunk(NamedTuple):
    """A chunk of data: rows ``X`` (in the units of the data) with their ``weights``, the
    internal ``units``, and the factor ``stats_scale`` its statistics count with (the
    size of the data set over the chunk's weight in stochastic VI, else one)."""

    X: np.ndarray
    weights: np.ndarray
    units: Units
    stats_scale: float = 1.0


class MixturePrior(NamedTuple):
    r"""The prior of Bishop (10.39)-(10.40), in the internal units.

    Weights :math:`\mathrm{Dir}(\alpha_0)` or stick-breaking sticks
    :math:`\mathrm{Beta}(1, \alpha_0)` (``dirichlet_process``); per component
    :math:`\mu_k \mid \Lambda_k \sim \mathcal N(m_0, (\beta_0\Lambda_k)^{-1})` and
    :math:`\Lambda_k \sim \mathcal W(W_0, \nu_0)` ('full'; one shared :math:`\Lambda`
    for 'tied'), or :math:`\lambda_{kj} \sim \mathrm{Gamma}(\nu_0/2, c_{0j}/2)` ('diag'),
    :math:`\lambda_k \sim \mathrm{Gamma}(d\nu_0/2, d c_0/2)` ('spherical').
    """

    covariance_type: int  #: FULL, TIED, DIAG or SPHERICAL
    dirichlet_process: bool  #: stick-breaking weights (else a Dirichlet)
    weight_concentration: float  #: alpha_0
    mean_precision: float  #: beta_0
    mean: np.ndarray  #: m_0, shape (n_features,)
    degrees_of_freedom: float  #: nu_0
    covariance: object  #: W_0^{-1} (d, d) 'full'/'tied'; c_0 (d,) 'diag', float 'spherical'
    reg_covar: float  #: reg_covar, in the internal units


class MixtureStats(NamedTuple):
    r"""Additive sufficient statistics of a chunk of data under responsibilities ``r``.

    ``moments[:, k] = sum_n w_n r_nk [1, z(x_n)]`` (module docstring): row 0 is
    :math:`N_k` (10.51), rows ``1..d`` :math:`\sum_n w_n r_{nk} u_n` (10.52), the rest
    the second moments (10.53); ``sum_r_log_r`` is :math:`\sum_{nk} w_n r_{nk}\ln r_{nk}`
    (the entropy term of the ELBO). Both are sums over the rows: the statistics of a data
    set are the sum of those of its chunks (:func:`add_stats`).
    """

    moments: np.ndarray  #: shape (n_coefficients, n_components)
    sum_r_log_r: float

    @property
    def nk(self):
        """:math:`N_k`, the weighted number of samples of each component."""
        return self.moments[0]


class MixturePosterior(NamedTuple):
    r"""The variational factors :math:`q(\pi)\prod_k q(\mu_k, \Lambda_k)`.

    ``weight_concentration`` holds the Dirichlet :math:`\alpha_k`, or the sticks' Beta
    :math:`a_k` with ``stick_b`` their :math:`b_k` (None under the Dirichlet prior; the
    last stick is fixed at one, ``b_K = 0``). ``mean_offset`` is :math:`m_k - m_0`,
    computed from the statistics without cancellation. ``covariances`` is
    :math:`(\nu_k W_k)^{-1}` and ``precisions`` :math:`\mathbb E[\Lambda_k] = \nu_k W_k`
    (diagonals for 'diag', scalars for 'spherical'); ``precisions_cholesky`` the upper
    factor ``U`` with ``U U^T = precisions`` (the square root for 'diag'/'spherical');
    ``log_det_scale_inv`` :math:`\ln|W_k^{-1}|` ('full', 'tied') or
    :math:`\ln c_{kj}`, :math:`\ln c_k` ('diag', 'spherical').
    """

    weight_concentration: np.ndarray
    stick_b: object
    weights: np.ndarray  #: E_q[pi_k]
    mean_precision: np.ndarray  #: beta_k
    means: np.ndarray  #: m_k
    mean_offset: np.ndarray  #: m_k - m_0
    degrees_of_freedom: object  #: nu_k (a float for 'tied')
    covariances: np.ndarray
    precisions: np.ndarray
    precisions_cholesky: np.ndarray
    log_det_scale_inv: np.ndarray


class MixtureState(NamedTuple):
    """What a fit carries between sweeps: the statistics ``stats`` the ``posterior`` was
    updated from (running statistics for ``partial_fit``), the E-step coefficients
    ``coef`` of the posterior (:func:`coefficients`) and, when computed with them ('diag'),
    the posterior's KL from the prior (:func:`kl_weights` + :func:`kl_gauss`)."""

    stats: MixtureStats
    posterior: MixturePosterior
    coef: np.ndarray
    kl: object = None


class MixturePredictive(NamedTuple):
    """The posterior predictive mixture of Student-t distributions (Bishop 10.81), in
    the units of its posterior; ``prec_chol``, ``dof`` and ``log_norm`` as
    :func:`log_student_t` takes them."""

    weights: np.ndarray
    means: np.ndarray
    dof: np.ndarray
    prec_chol: np.ndarray
    log_norm: np.ndarray


# ------------------------------------------------------------------ statistics
def serial_suffices(n_rows):
    """Whether the serial twin of a kernel gives the parallel one's result, bit for bit:
    at most :data:`~skvi._jit.BLOCK_ROWS` rows are one block, which the parallel kernel
    reduces alone. Small data then run (and compile) the serial twin only."""
    return n_rows <= BLOCK_ROWS


def chunk_stats(X, weights, units, coef, covariance_type, serial=False):
    """The E-step and the statistics of a chunk (:func:`estep_stats`; its serial build
    with ``serial``, inside a Dask task, or for one block of rows: :func:`serial_suffices`).

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        In the units of the data (float32 or float64).
    weights : ndarray of shape (n_samples,)
    units : Units
    coef : ndarray of shape (n_coefficients, n_components)
        :func:`coefficients` of the current posterior.
    covariance_type : int
    serial : bool, default=False

    Returns
    -------
    MixtureStats
        Under the responsibilities :math:`r_{nk} \\propto \\rho_{nk}` (Bishop 10.49).
    """
    kernel = estep_stats_serial if serial or serial_suffices(X.shape[0]) else estep_stats
    moments, extra = kernel(X, weights, units.shift, units.inv_scale, coef, covariance_type)
    return MixtureStats(moments, extra[0])


def expanded_rows(X, units, covariance_type):
    """The rows ``[1, z(x_n)]`` of the module docstring (float64, ``(n, n_coefficients)``),
    with ``u = x / s - c / s`` computed as the kernels do."""
    u = X.astype(np.float64) * units.inv_scale - units.shift
    if covariance_type == DIAG:
        quad = u * u
    elif covariance_type == SPHERICAL:
        quad = np.einsum("ij,ij->i", u, u)[:, None]
    else:
        rows, cols, _, _ = _triu(X.shape[1])
        quad = u[:, rows] * u[:, cols]
    return np.hstack([np.ones((X.shape[0], 1)), u, quad])


def resp_chunk_stats(X, weights, units, resp, covariance_type, serial=False):
    r"""The statistics of a chunk under the given responsibilities ``resp`` (n, K):
    ``Z.T @ (w[:, None] * resp)`` and :math:`\sum_{nk} w_n r_{nk} \ln r_{nk}` (``Z`` the
    :func:`expanded_rows`), by blocks of rows. NumPy: it runs once per fit (initialisation,
    warm start), so there is nothing to compile; ``serial`` is ignored (one build)."""
    moments = np.zeros((n_coefficients(X.shape[1], covariance_type), resp.shape[1]))
    sum_r_log_r = 0.0
    for start in range(0, X.shape[0], BLOCK_ROWS):
        rows = slice(start, start + BLOCK_ROWS)
        r = weights[rows, None] * resp[rows]
        moments += expanded_rows(X[rows], units, covariance_type).T @ r
        sum_r_log_r += float(np.sum(xlogy(r, resp[rows])))  # 0 where r_nk w_n = 0
    return MixtureStats(moments, sum_r_log_r)


def add_stats(*chunks):
    """The statistics of the union of chunks: the sum of theirs."""
    return MixtureStats(
        sum(c.moments for c in chunks[1:]) + chunks[0].moments,
        sum(c.sum_r_log_r for c in chunks[1:]) + chunks[0].sum_r_log_r,
    )


def scale_stats(stats, factor):
    """``factor`` times the statistics (a chunk standing for ``factor`` times its size)."""
    return MixtureStats(factor * stats.moments, factor * stats.sum_r_log_r)


def blend_stats(running, batch, rho, factor):
    r"""The stochastic-VI step of the statistics (Hoffman et al. 2013, eq. 25):
    :math:`s \leftarrow (1-\rho) s + \rho\,\hat s`, with :math:`\hat s` the batch's
    statistics times ``factor`` (total samples over the batch's weight)."""
    return MixtureStats(
        (1 - rho) * running.moments + rho * factor * batch.moments,
        (1 - rho) * running.sum_r_log_r + rho * factor * batch.sum_r_log_r,
    )


# ------------------------------------------------------------------ the update
def _cholesky(a):
    """Lower Cholesky factors of a (stack of) SPD matrices, with a clear error."""
    try:
        return np.linalg.cholesky(a)
    except np.linalg.LinAlgError as exc:
        raise ValueError(
            "A posterior scale matrix is not positive definite; the data may be "
            "degenerate at this scale. Increase reg_covar or covariance_prior."
        ) from exc


@functools.cache
def _triu(n_features):
    """``(rows, cols, halves, index)``: the upper-triangle indices in the order of ``z(x)``,
    1/2 on the diagonal and 1 off it (the coefficients of ``u_i u_j`` in a quadratic form),
    and the ``(d, d)`` position of ``u_i u_j`` (either order) in that order."""
    rows, cols = np.triu_indices(n_features)
    index = np.empty((n_features, n_features), dtype=np.intp)
    index[rows, cols] = index[cols, rows] = np.arange(rows.shape[0])
    return rows, cols, np.where(rows == cols, 0.5, 1.0), index


def _triangular_inverse(lower):
    """``inv(L)`` of each lower-triangular factor of a stack ``(K, d, d)`` (or of one):
    LAPACK ``dtrtri``, a third of the work of a general inverse."""
    factors = lower.reshape(-1, *lower.shape[-2:])
    return np.stack([lapack.dtrtri(f, lower=1)[0] for f in factors]).reshape(lower.shape)


def update(stats, prior):
    r"""Conjugate updates of :math:`q(\pi)` and :math:`q(\mu_k, \Lambda_k)` (the M-step).

    Bishop (10.58)-(10.63): :math:`\beta_k = \beta_0 + N_k`,
    :math:`\beta_k m_k = \beta_0 m_0 + \sum_n r_{nk} x_n`, :math:`\nu_k = \nu_0 + N_k`,
    :math:`W_k^{-1} = W_0^{-1} + N_k S_k + \frac{\beta_0 N_k}{\beta_k}
    (\bar x_k - m_0)(\bar x_k - m_0)^T + N_k\,\mathrm{reg}\,I` (10.62, with
    :math:`N_k S_k = \sum_n r_{nk} x_n x_n^T - N_k \bar x_k \bar x_k^T`); 'tied' sums the
    data terms over the components (:math:`\nu = \nu_0 + N`); 'diag' and 'spherical'
    the Gamma analogues (rates :math:`c_{kj}`, :math:`c_k` with the data terms over
    ``d`` for 'spherical'). The weights: :math:`\alpha_k = \alpha_0 + N_k` (10.58), or
    the sticks :math:`a_k = 1 + N_k`, :math:`b_k = \alpha_0 + \sum_{j>k} N_j`.

    Parameters
    ----------
    stats : MixtureStats
    prior : MixturePrior

    Returns
    -------
    MixturePosterior
    """
    moments = stats.moments
    ctype, reg, d = prior.covariance_type, prior.reg_covar, prior.mean.shape[0]
    nk = moments[0]
    beta0, nu0, m0 = prior.mean_precision, prior.degrees_of_freedom, prior.mean
    beta = beta0 + nk
    m = (beta0 * m0 + moments[1 : d + 1].T) / beta[:, None]
    quad = moments[d + 1 :]
    # Bishop's form of (10.62), N_k S_k + beta0 N_k / beta_k (xbar_k - m0)(...)^T, from
    # the raw moments; an empty component has xbar_k = 0 and a zero second term. (The
    # equal "sum form" beta0 m0 m0^T - beta_k m_k m_k^T cancels catastrophically
    # when m0 is far from the data.)
    xbar = moments[1 : d + 1].T / np.where(nk > 0, nk, 1.0)[:, None]
    diff = xbar - m0
    shrink = beta0 * nk / beta
    if ctype in (FULL, TIED):
        scale_inv = quad.T[:, _triu(d)[3]]  # sum_n r_nk u_n u_n^T, (K, d, d)
        scale_inv -= (nk[:, None] * xbar)[:, :, None] * xbar[:, None, :]
        scale_inv += (shrink[:, None] * diff)[:, :, None] * diff[:, None, :]
        diagonal = np.arange(d)
        scale_inv[:, diagonal, diagonal] += (reg * nk)[:, None]
        if ctype == TIED:
            scale_inv = prior.covariance + scale_inv.sum(axis=0)
            dof = nu0 + nk.sum()
        else:
            scale_inv = prior.covariance + scale_inv
            dof = nu0 + nk
        scale_inv = 0.5 * (scale_inv + np.swapaxes(scale_inv, -1, -2))
        chol = _cholesky(scale_inv)  # lower L with L L^T = W^-1
        log_det = cholesky_log_det(chol)
        dof_b = dof if np.ndim(dof) == 0 else dof[:, None, None]
        # U = sqrt(nu) L^-T, upper, with U U^T = nu W = E[Lambda]
        prec_chol = np.sqrt(dof_b) * np.swapaxes(_triangular_inverse(chol), -1, -2)
        precisions = prec_chol @ np.swapaxes(prec_chol, -1, -2)
        covariances = scale_inv / dof_b
    else:
        if ctype == DIAG:
            scale_inv = (
                prior.covariance
                + (quad.T - nk[:, None] * xbar**2)
                + shrink[:, None] * diff**2
                + (reg * nk)[:, None]
            )
            dof_b = (nu0 + nk)[:, None]
        else:
            scale_inv = (
                prior.covariance
                + (quad[0] - nk * np.sum(xbar**2, axis=1) + shrink * np.sum(diff**2, axis=1)) / d
                + reg * nk
            )
            dof_b = nu0 + nk
        scale_inv = np.maximum(scale_inv, np.finfo(float).tiny)
        dof = nu0 + nk
        log_det = np.log(scale_inv)
        covariances = scale_inv / dof_b
        precisions = dof_b / scale_inv
        prec_chol = np.sqrt(precisions)

    alpha0 = prior.weight_concentration
    if prior.dirichlet_process:
        a = 1.0 + nk
        b = np.concatenate([alpha0 + np.cumsum(nk[::-1])[-2::-1], [0.0]])
        mean_v = a / (a + b)
        weights = mean_v * np.concatenate([[1.0], np.cumprod(1.0 - mean_v[:-1])])
        concentration, stick_b = a, b
    else:
        concentration, stick_b = alpha0 + nk, None
        weights = concentration / concentration.sum()
    return MixturePosterior(
        weight_concentration=concentration,
        stick_b=stick_b,
        weights=weights,
        mean_precision=beta,
        means=m,
        # m_k - m0 = N_k (xbar_k - m0) / beta_k, without the cancellation of m_k - m0
        mean_offset=(nk / beta)[:, None] * diff,
        degrees_of_freedom=dof,
        covariances=covariances,
        precisions=precisions,
        precisions_cholesky=prec_chol,
        log_det_scale_inv=log_det,
    )


# ------------------------------------------------------------------ expectations
def expected_log_weights(posterior):
    r""":math:`\mathbb E_q[\ln \pi_k]` (Bishop 10.66), or under the sticks
    :math:`\mathbb E\ln v_k + \sum_{j<k}\mathbb E\ln(1 - v_j)` with the last stick one."""
    if posterior.stick_b is not None:
        a, b = posterior.weight_concentration, posterior.stick_b
        dig_ab = digamma(a[:-1] + b[:-1])
        e_log_v = np.append(digamma(a[:-1]) - dig_ab, 0.0)  # last stick is 1
        e_log_1mv = digamma(b[:-1]) - dig_ab
        return e_log_v + np.concatenate([[0.0], np.cumsum(e_log_1mv)])
    concentration = posterior.weight_concentration
    return digamma(concentration) - digamma(concentration.sum())


def precision_expectations(posterior, prior):
    r"""Per component: :math:`\mathbb E[\Lambda_k]` (full matrices, diagonals or
    scalars), :math:`\mathbb E\ln|\Lambda_k|` (Bishop 10.65, or its Gamma analogue
    :math:`\mathbb E\ln\lambda = \psi(a) - \ln b`) and :math:`\mathbb E\,\mathrm{tr}\,
    \Lambda_k`."""
    d, K = prior.mean.shape[0], posterior.mean_precision.shape[0]
    prec, dof = posterior.precisions, posterior.degrees_of_freedom
    log_det_inv, ctype = posterior.log_det_scale_inv, prior.covariance_type
    if ctype in (FULL, TIED):
        log_det = expected_log_det_wishart(-log_det_inv, dof, d)
        if ctype == TIED:
            log_det, prec = np.full(K, log_det), np.broadcast_to(prec, (K, d, d))
        trace = np.trace(prec, axis1=1, axis2=2)
    elif ctype == DIAG:
        log_det = d * (digamma(dof / 2) + math.log(2.0)) - log_det_inv.sum(axis=1)
        trace = prec.sum(axis=1)
    else:
        # E ln lambda = psi(a) - ln b with a = d nu / 2, b = d c / 2
        log_det = d * (digamma(d * dof / 2) - np.log(d / 2) - log_det_inv)
        trace = d * prec
    return prec, log_det, trace


def coefficients(posterior, prior):
    """``coef`` of shape ``(1 + len(z), K)`` with ``ln rho_nk = [1, z(x_n)] @ coef[:, k]``.

    Bishop (10.46) with (10.64)-(10.66):
    ``ln rho_nk = E ln pi_k + 1/2 E ln|Lambda_k| - d/2 ln(2 pi) - d/(2 beta_k)
    - reg/2 E tr Lambda_k - 1/2 (u - m_k)^T E[Lambda_k] (u - m_k)``.
    """
    d = prior.mean.shape[0]
    prec, e_log_det, e_trace = precision_expectations(posterior, prior)
    m, beta = posterior.means, posterior.mean_precision
    if prior.covariance_type in (FULL, TIED):
        pm = (prec @ m[:, :, None])[:, :, 0]
        rows, cols, halves, _ = _triu(d)
        quad = -prec[:, rows, cols] * halves
        mpm = np.sum(pm * m, axis=1)
    elif prior.covariance_type == DIAG:
        pm = prec * m
        quad = -0.5 * prec
        mpm = np.sum(pm * m, axis=1)
    else:
        pm = prec[:, None] * m
        quad = -0.5 * prec[:, None]
        mpm = prec * np.sum(m * m, axis=1)
    const = (
        expected_log_weights(posterior)
        + 0.5 * e_log_det
        - 0.5 * d * _LOG_2PI
        - 0.5 * d / beta
        - 0.5 * prior.reg_covar * e_trace
        - 0.5 * mpm
    )
    return np.ascontiguousarray(np.concatenate([const[:, None], pm, quad], axis=1).T)


def new_state(stats, prior):
    """The :class:`MixtureState` of the posterior :func:`update` gives from ``stats``; for
    'diag', the same values and the KL in one compiled call
    (:func:`~skvi._mixture_diag.diag_posterior`)."""
    if prior.covariance_type != DIAG:
        posterior = update(stats, prior)
        return MixtureState(stats, posterior, coefficients(posterior, prior))
    floats = (prior.mean_precision, prior.degrees_of_freedom)
    arrays = (np.ascontiguousarray(a, dtype=np.float64) for a in (prior.mean, prior.covariance))
    *fields, coef, kl = diag_posterior(
        np.ascontiguousarray(stats.moments), *map(float, floats), *arrays,
        float(prior.reg_covar), float(prior.weight_concentration), bool(prior.dirichlet_process),
    )  # fmt: skip
    if not prior.dirichlet_process:
        fields[1] = None  # no sticks
    return MixtureState(stats, MixturePosterior(*fields), coef, kl)


# ------------------------------------------------------------------ the ELBO
def elbo(stats, posterior, prior, scale_exp=0, coef=None, kl=None):
    r"""The ELBO (Bishop 10.70) of :math:`q(Z)` (through ``stats``) and ``posterior``.

    :math:`\mathcal L = \sum_{nk} r_{nk} \ln\rho_{nk} - \sum_{nk} r_{nk}\ln r_{nk}
    - \mathrm{KL}(q(\pi)\|p(\pi)) - \sum_k \mathrm{KL}(q(\mu_k,\Lambda_k)\|p(\mu_k,
    \Lambda_k))`, where the first sum is linear in the statistics:
    :math:`\sum_k \mathrm{coef}_k \cdot \sum_n r_{nk} [1, z(x_n)]`. Every constant is
    included; with ``scale_exp`` (the data were divided by ``s = 2**scale_exp``) the
    Jacobian :math:`-d \ln s` per unit of weight makes it the ELBO of the data in their
    own units. ``coef`` is :func:`coefficients` of the posterior and ``kl`` the sum of
    :func:`kl_weights` and :func:`kl_gauss`, if already computed (:class:`MixtureState`).
    """
    if coef is None:
        coef = coefficients(posterior, prior)
    expected_log_joint = np.sum(coef * stats.moments)
    # the Jacobian of y = (x - c) / s: ln p(x) = ln p(y) - d ln s per unit of weight
    jacobian = stats.moments[0].sum() * prior.mean.shape[0] * scale_exp * math.log(2.0)
    if kl is None:
        kl = kl_weights(posterior, prior) + kl_gauss(posterior, prior)
    return float(expected_log_joint - jacobian - stats.sum_r_log_r - kl)


def kl_weights(posterior, prior):
    r""":math:`\mathrm{KL}(q(\pi)\|p(\pi))`: of the Dirichlet, or the sum over the
    sticks but the last of :math:`\mathrm{KL}(\mathrm{Beta}(a_k, b_k)\|
    \mathrm{Beta}(1, \alpha_0))`."""
    alpha0 = prior.weight_concentration
    if posterior.stick_b is not None:
        a, b = posterior.weight_concentration, posterior.stick_b
        return float(np.sum(kl_beta(a[:-1], b[:-1], 1.0, alpha0)))
    alpha = posterior.weight_concentration
    return float(kl_dirichlet(alpha, np.full_like(alpha, alpha0)))


def kl_gauss(posterior, prior):
    r"""Sum over components of :math:`\mathrm{KL}(q(\mu_k, \Lambda_k) \| p(\mu_k,
    \Lambda_k))`.

    :math:`\mathbb E_{q(\Lambda)}\mathrm{KL}(\mathcal N(m,(\beta\Lambda)^{-1})\|
    \mathcal N(m_0,(\beta_0\Lambda)^{-1})) = \tfrac12[d\beta_0/\beta - d
    - d\ln(\beta_0/\beta) + \beta_0 (m-m_0)^T\mathbb E[\Lambda](m-m_0)]` plus the KL
    of the Wishart (or Gamma) factors.
    """
    d, ctype = prior.mean.shape[0], prior.covariance_type
    beta0, nu0 = prior.mean_precision, prior.degrees_of_freedom
    beta, prec = posterior.mean_precision, posterior.precisions
    dm = posterior.mean_offset
    dof, log_det = posterior.degrees_of_freedom, posterior.log_det_scale_inv
    ratio = beta0 / beta
    if ctype == FULL:
        maha = np.sum((prec @ dm[:, :, None])[:, :, 0] * dm, axis=1)
    elif ctype == TIED:
        maha = np.sum((dm @ prec) * dm, axis=1)
    elif ctype == DIAG:
        maha = np.sum(prec * dm**2, axis=1)
    else:
        maha = prec * np.sum(dm**2, axis=1)
    kl = 0.5 * np.sum(d * ratio - d - d * np.log(ratio) + beta0 * maha)
    scale0 = prior.covariance
    if ctype in (FULL, TIED):
        log_det0 = cholesky_log_det(np.linalg.cholesky(scale0))
        trace = np.sum(scale0.T * prec, axis=(-2, -1)) / dof  # tr(W_0^-1 W_k)
        kl += np.sum(kl_wishart(-log_det, dof, -log_det0, nu0, trace, d))
    elif ctype == DIAG:
        c = np.exp(log_det)
        kl += np.sum(kl_gamma((dof / 2)[:, None], c / 2, nu0 / 2, scale0 / 2))
    else:
        c = np.exp(log_det)
        kl += np.sum(kl_gamma(d * dof / 2, d * c / 2, d * nu0 / 2, d * scale0 / 2))
    return float(kl)


# ------------------------------------------------------------------ sweeps and moves
def _scaled_stats(chunk, coef, covariance_type):
    stats = chunk_stats(chunk.X, chunk.weights, chunk.units, coef, covariance_type)
    return scale_stats(stats, chunk.stats_scale)


def updated(stats, prior, scale_exp):
    """The :class:`MixtureState` of ``stats`` (:func:`new_state`) and its ELBO."""
    state = new_state(stats, prior)
    return state, elbo(stats, state.posterior, prior, scale_exp, state.coef, state.kl)


def sweep(chunk, prior, coef):
    """One sweep of coordinate ascent: the E-step under ``coef`` fused with the
    statistics (Bishop 10.46-10.53), the update (10.58-10.63) and the ELBO (10.70).

    Returns
    -------
    (MixtureState, float)
    """
    stats = _scaled_stats(chunk, coef, prior.covariance_type)
    return updated(stats, prior, chunk.units.scale_exp)


def state_from_resp(chunk, prior, resp):
    """The update from given responsibilities ``resp`` (n, K), and the ELBO of the result.

    When ``resp`` is a distribution over the components for every weighted row, the
    :math:`q` is the pair and the ELBO is its own. Seeds (rows of one-hot
    responsibilities, the other rows without any) are not a :math:`q(Z)`: the ELBO is then
    that of the E-step under the factors the seeds give (the best :math:`q(Z)` for them),
    which the next sweep repeats and cannot lower.
    """
    X, w = chunk.X, chunk.weights
    stats = resp_chunk_stats(X, w, chunk.units, resp, prior.covariance_type)
    state, bound = updated(scale_stats(stats, chunk.stats_scale), prior, chunk.units.scale_exp)
    if not np.all(np.abs(resp[w > 0].sum(axis=1) - 1.0) <= 1e-9):
        stats = _scaled_stats(chunk, state.coef, prior.covariance_type)
        bound = elbo(stats, state.posterior, prior, chunk.units.scale_exp, state.coef, state.kl)
    return state, bound


def stochastic_sweep(chunk, prior, state, rho):
    """One step of stochastic VI: the chunk's E-step under the current posterior, the
    running statistics blended with the chunk's scaled ones (:func:`blend_stats`), the
    update; the ELBO is the chunk's, scaled to the data set."""
    batch = chunk_stats(chunk.X, chunk.weights, chunk.units, state.coef, prior.covariance_type)
    return stochastic_update(batch, prior, state, rho, chunk.stats_scale, chunk.units.scale_exp)


def stochastic_update(batch, prior, state, rho, factor, scale_exp):
    """The update of a stochastic-VI step from the batch's statistics ``batch`` (under
    ``state.coef``): the running statistics blended with the batch's times ``factor``
    (:func:`blend_stats`), the update, and the ELBO of the batch scaled to the data set.

    Returns
    -------
    (MixtureState, float)
    """
    state = new_state(blend_stats(state.stats, batch, rho, factor), prior)
    stats = scale_stats(batch, factor)
    return state, elbo(stats, state.posterior, prior, scale_exp, state.coef, state.kl)


def delete_moves(chunk, prior, state, sweep_fn=None):
    """Delete moves (Hughes and Sudderth 2013), lazily: for each component holding at
    least one sample, the smallest first, one sweep whose E-step gives it no
    responsibility (its factor returns to the prior). None if fewer than two hold one.
    ``sweep_fn`` replaces :func:`sweep` (over the chunks of a Dask array).

    Yields
    ------
    (MixtureState, float)
    """
    nk = state.stats.nk
    occupied = [k for k in np.argsort(nk, kind="stable") if nk[k] >= 1.0]
    if len(occupied) < 2:
        return
    for k in occupied:
        coef = state.coef.copy()
        coef[0, k] = -np.inf
        yield (sweep if sweep_fn is None else sweep_fn)(chunk, prior, coef)


# ------------------------------------------------------------------ units and predictive
def to_data_units(posterior, units, covariance_type):
    """The posterior of the data ``x = c + s u`` (the model is equivariant): means
    ``s m + c``, covariances times ``s**2``, precisions over ``s**2``, their factors over
    ``s`` (exact: ``s`` is a power of two), ``ln|W^{-1}|`` plus ``2 d ln s``
    ('full', 'tied') or ``2 ln s`` per rate ('diag', 'spherical')."""
    e = units.scale_exp
    per_log_det = units.center.shape[0] if covariance_type in (FULL, TIED) else 1
    with np.errstate(over="ignore", under="ignore"):  # the estimator checks finiteness
        return posterior._replace(
            means=np.ldexp(posterior.means, e) + units.center,
            mean_offset=np.ldexp(posterior.mean_offset, e),
            covariances=np.ldexp(posterior.covariances, 2 * e),
            precisions=np.ldexp(posterior.precisions, -2 * e),
            precisions_cholesky=np.ldexp(posterior.precisions_cholesky, -e),
            log_det_scale_inv=posterior.log_det_scale_inv + 2 * e * per_log_det * math.log(2.0),
        )


def predictive(posterior, covariance_type):
    r"""The Student-t mixture of the posterior predictive (Bishop 10.81).

    :math:`\sum_k \mathbb E_q[\pi_k]\,\mathrm{St}(x \mid m_k, L_k, \nu_k + 1 - d)` with
    :math:`L_k = \frac{(\nu_k + 1 - d)\beta_k}{1+\beta_k} W_k` ('full', 'tied'); for
    'diag' a product over the features of univariate t's with :math:`\nu_k` degrees of
    freedom and precisions :math:`\frac{\beta_k}{1+\beta_k}\mathbb E[\lambda_{kj}]`; for
    'spherical' a multivariate t with :math:`d\nu_k` degrees of freedom.

    Parameters
    ----------
    posterior : MixturePosterior
        In the units the predictive is wanted in (:func:`to_data_units`).
    covariance_type : int

    Returns
    -------
    MixturePredictive
    """
    ctype, chol = covariance_type, posterior.precisions_cholesky
    d, K = posterior.means.shape[1], posterior.mean_precision.shape[0]
    beta = posterior.mean_precision
    nu = np.broadcast_to(posterior.degrees_of_freedom, (K,))
    shrink = beta / (1.0 + beta)
    if ctype in (FULL, TIED):
        t_dof = nu + 1.0 - d
        s2 = t_dof * shrink / nu  # L_k = s2 * nu W_k = s2 * precisions
        chol = np.broadcast_to(chol, (K, d, d))
        prec_chol = np.sqrt(s2)[:, None, None] * chol
        half_log_det = 0.5 * d * np.log(s2) + 0.5 * cholesky_log_det(chol)
        dim = d
    elif ctype == DIAG:
        t_dof = nu
        tau = shrink[:, None] * posterior.precisions
        prec_chol = np.sqrt(tau)[:, None, :]
        half_log_det = 0.5 * np.log(tau)  # (K, d), summed below per feature
        dim = 1
    else:
        t_dof = d * nu
        tau = shrink * posterior.precisions
        prec_chol = np.sqrt(tau)[:, None, None] * np.eye(d)
        half_log_det = 0.5 * d * np.log(tau)
        dim = d
    log_norm = (
        gammaln(0.5 * (t_dof + dim)) - gammaln(0.5 * t_dof) - 0.5 * dim * np.log(t_dof * np.pi)
    )
    if ctype == DIAG:
        log_norm = d * log_norm + half_log_det.sum(axis=1)
    else:
        log_norm = log_norm + half_log_det
    return MixturePredictive(
        posterior.weights,
        posterior.means,
        np.ascontiguousarray(t_dof),
        np.ascontiguousarray(prec_chol),
        log_norm,
    )


def log_predictive(X, pred, covariance_type, serial=False):
    r"""Log posterior predictive density :math:`\ln\sum_k \mathbb E[\pi_k]\,
    \mathrm{St}_k(x_n)` of each row of ``X``, shape (n_samples,) (with the serial
    kernel if ``serial``)."""
    serial = serial or serial_suffices(X.shape[0])
    kernel = log_student_t_serial if serial else log_student_t
    log_t = kernel(X, pred.means, pred.prec_chol, pred.dof, pred.log_norm, covariance_type)
    return logsumexp(log_t + np.log(pred.weights), axis=1)


def sample_predictive(pred, n_samples, rng, covariance_type):
    r"""``n_samples`` draws from the predictive mixture and the component of each.

    A Student-t is a Gaussian over :math:`\sqrt{\chi^2_\nu / \nu}`: one chi-square per
    feature for 'diag' (a product of univariate t's), one per sample otherwise.
    """
    d = pred.means.shape[1]
    counts = rng.multinomial(n_samples, pred.weights / pred.weights.sum())
    X, y = [], []
    diag = covariance_type == DIAG
    for k, count in enumerate(counts):
        z = rng.standard_normal((count, d))
        g = np.sqrt(rng.chisquare(pred.dof[k], size=(count, d if diag else 1)) / pred.dof[k])
        # z @ inv(U) has covariance inv(U U^T) for the scale-precision U U^T
        e = z / pred.prec_chol[k, 0] if diag else np.linalg.solve(pred.prec_chol[k].T, z.T).T
        X.append(pred.means[k] + e / g)
        y.append(np.full(count, k))
    return np.vstack(X), np.concatenate(y)
