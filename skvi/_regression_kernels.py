r"""All of the mathematics of :class:`skvi.VariationalEMRegressor`: Bayesian linear
regression by variational EM and variational Bayes EM. Nothing here imports scikit-learn.

The model, for each target (notation of :class:`sklearn.linear_model.BayesianRidge`):

.. math::

    y_n \mid w, b, \alpha, \tau_n &\sim \mathcal N\big((x_n - \bar x)^\top w + b,\;
        (\alpha\tau_n)^{-1}\big), \\
    w_j \mid \lambda &\sim \mathcal N(0, \lambda_j^{-1}), \qquad
    b \mid \alpha \sim \mathcal N\big(\bar y, (\kappa_0\alpha)^{-1}\big), \\
    \alpha &\sim \mathrm{Gam}(\alpha_1, \alpha_2), \qquad
    \lambda_j \sim \mathrm{Gam}(\lambda_1, \lambda_2), \qquad
    \tau_n \sim \mathrm{Gam}(\nu/2, \nu/2),

with :math:`\lambda_j = \lambda` for every feature under the ridge prior, :math:`\tau_n = 1`
under Gaussian noise, :math:`\bar x, \bar y` the (weighted) training means and
:math:`\kappa_0` = :data:`INTERCEPT_PRIOR`. Sample weights multiply each sample's terms of
the ELBO, which is the ELBO of the data set with every sample repeated that many times.

**Named values** (``NamedTuple``; immutable): :class:`RegressionPrior` (hyperpriors and
choices), :class:`Precisions` (:math:`q(\alpha)`, :math:`q(\lambda)`), the coefficient
posteriors :class:`RidgePosterior` (every target, spectral form) and
:class:`TargetPosterior` (one target, Gram or Woodbury form) with their
:class:`CoefSummary`, :class:`TauSummary` (Student-t :math:`q(\tau)`),
:class:`RegressionState` (what the fit loop carries, with the :class:`CoefTrack` of the
stopping rule), the statistics :class:`ChunkStats`, :class:`GramStats`,
:class:`KernelStats` and :class:`Spectrum`, and :class:`Predictive`.
:class:`RegressionData` is the prepared training data (built once, read only).

**Statistics** (the E-step). :func:`chunk_statistics` forms the additive statistics of a
chunk of rows about a fixed centre :math:`\bar x` under per-sample weights :math:`d_n`:
:math:`\sum_n d_n`, :math:`\sum_n d_n z_n`, :math:`\sum_n d_n z_n z_n^\top` and
:math:`\sum_n d_n z_n y_n^\top`. **The statistics of a data set are the sum of the
statistics of its chunks** (:func:`sum_statistics`; tested on uneven chunks); the Gram
matrix of the centred data follows from the sum (:func:`centred_gram`). With Gaussian
noise the weights are the sample weights and the statistics are formed once
(:class:`RegressionData`); with Student-t noise :func:`tau_update` is the E-step of every
iteration: :math:`q(\tau)` and :math:`\nu` from the residuals of the current
:math:`q(w, b)` (:func:`residual_pass`), then the statistics under the new weights
:math:`d_n = s_n\mathbb E[\tau_n]` (:func:`weighted_gram`, the sums of
:class:`TauSummary`). With fewer samples than coefficients the Woodbury form works on
the rows themselves (:class:`KernelStats`), not on sums.

**Update** (the M-step, from statistics and prior to the posterior):
:func:`ridge_posterior` and :func:`target_posterior` (:math:`q(w, b)` given the
precisions), :func:`mackay_update` and :func:`cavi_update` (the precisions given
:math:`q(w, b)`), :func:`initial_precisions`. **ELBO**: :func:`elbo` (with
:func:`gamma_factor_terms` and :func:`tau_terms`). **Predictive**:
:func:`predictive_parameters`, :func:`predictive`, :func:`predictive_std`,
:func:`predictive_interval`, :func:`sample_precisions`. **Stopping rule**:
:func:`scaled_coef_means`, :func:`track_coef`.

**The iteration.** Each iteration updates, in this order: :math:`q(\tau)` and
:math:`\nu` (Student-t noise: one pass over the data, which also forms the weighted
Gram matrix), the precisions, and :math:`q(w, b)`. For the precisions MacKay's
fixed-point update (the update of BayesianRidge and ARDRegression,
:math:`\lambda = (\gamma + 2\lambda_1)/(\|m\|^2 + 2\lambda_2)`,
:math:`\alpha = (N - \gamma + 2\alpha_1)/(\|y - Xm - b\|^2 + 2\alpha_2)`) is tried
first and kept only if the objective after the following :math:`q(w, b)` update is
not lower than before (the estimator's sweep, with ``skvi._base.keep_if_not_lower``);
otherwise the coordinate-ascent (EM) update is taken, which never lowers it. So
``lower_bounds_`` never decreases and the fixed points are those of coordinate ascent.

**Cost.** With Gaussian noise one pass over ``X`` forms the centred Gram matrix and
one more the residual sum of squares of least squares; the iterations never touch
``X`` again. Ridge: one eigendecomposition of the Gram matrix, then O(n_features)
per iteration. ARD: one Cholesky factorisation (O(n_features^3)) per iteration.
With fewer samples than features, the same quantities come from the
n_samples x n_samples kernel matrix (eigendecomposition; Woodbury identity for ARD).
Student-t noise needs one pass over the data per iteration (the per-sample weights
change the Gram matrix).

The passes over ``X`` run in row blocks (``X`` is never copied or modified). BLAS on
blocks of centred rows was faster than a fused Numba kernel for the Student-t statistics
when this was written (a development comparison, not kept in the repository), so these
are NumPy/SciPy; there is no Numba here beyond the special functions of
:mod:`skvi._special`.
"""

import math
from contextlib import nullcontext
from typing import NamedTuple

import numpy as np
from scipy import stats
from scipy.linalg import blas, lapack

from ._jit import single_threaded_blas
from ._special import (
    cholesky_log_det,
    digamma,
    expm1_minus,
    log_gamma_ratio,
    stirling_remainder,
    trigamma,
)

#: :math:`\kappa_0`: the prior precision of the intercept relative to the noise precision,
#: :math:`b \mid \alpha \sim \mathcal N(\bar y, (\kappa_0\alpha)^{-1})`. The prior standard
#: deviation is 1000 noise standard deviations around the weighted mean of ``y``.
INTERCEPT_PRIOR = 1e-6

#: Range of the learned degrees of freedom of the Student-t noise, and its starting value.
DF_RANGE = (0.1, 1e4)
DF_INIT = 4.0

#: Rows per block in the passes over X (a block is centred in float64, then multiplied
#: by BLAS; X itself is never copied or modified).
BLOCK_ROWS = 2048

#: Matrices up to this size are factorised with one BLAS thread: on 2 cores, starting a
#: threaded BLAS costs more than a small factorisation, and much more when another
#: process holds a core (the regression benchmark times the whole fit). The passes over
#: X use the default thread pool.
SMALL_MATRIX = 512


#: Largest magnitude accepted for the entries of ``X`` and ``y`` and for the sum of the
#: sample weights. Products of three such numbers (a weighted sum of squares times a
#: precision) stay far inside the float64 range; the tests fit every configuration with
#: ``X``, ``y`` and the weights at this limit together.
VALUE_LIMIT = 1e50


def check_magnitudes(x_max, y_max, s_sum):
    """Raise a ValueError naming the input whose magnitude (``max|X|``, ``max|y|``, the
    sum of the weights) exceeds :data:`VALUE_LIMIT` (beyond it, sums of squares and
    their products overflow float64)."""
    for name, value in (("X", x_max), ("y", y_max), ("sample_weight (sum)", s_sum)):
        value = float(value)
        if not value <= VALUE_LIMIT:
            raise ValueError(
                f"{name} has magnitude {value:.3g}, above the limit {VALUE_LIMIT:g} of "
                "VariationalEMRegressor (its sums of squares would overflow float64); "
                "rescale it."
            )


# ------------------------------------------------------------------ named values
class RegressionPrior(NamedTuple):
    """The hyperpriors and the choices of the model.

    :math:`\\alpha \\sim \\mathrm{Gam}(\\alpha_1, \\alpha_2)`, :math:`\\lambda_j \\sim
    \\mathrm{Gam}(\\lambda_1, \\lambda_2)` (rate parameterisation); ``ard``: one weight
    precision per feature (else one for all); ``point``: the precisions are point estimates
    with the log hyperprior of their logarithm ('vem') rather than Gamma factors ('vbem');
    ``df``: the fixed degrees of freedom of the Student-t noise, or None (learned).
    """

    alpha_1: float
    alpha_2: float
    lambda_1: float
    lambda_2: float
    ard: bool = False
    point: bool = True
    df: float | None = None


class Precisions(NamedTuple):
    """:math:`q(\\alpha) = \\mathrm{Gam}(a_\\alpha, b_{\\alpha,t})` and :math:`q(\\lambda_j) =
    \\mathrm{Gam}(a_\\lambda, b_{\\lambda,tj})` per target ``t`` (under 'vem' the point values
    are the means ``shape / rate``). The shapes are the same for every target."""

    alpha_shape: float
    alpha_rate: np.ndarray  # (n_targets,)
    lambda_shape: float
    lambda_rate: np.ndarray  # (n_targets, 1) ridge, (n_targets, n_features) ARD


class CoefSummary(NamedTuple):
    """The expectations under :math:`q(w, b)` that the objective and the precision updates
    need, arrays over targets (first axis)."""

    mm: np.ndarray  # ||E w||^2 (ridge, (T,)), or (E w_j)^2 (ARD, (T, d))
    ww: np.ndarray  # E[w^T w] (ridge, (T, 1)), or E[w_j^2] (ARD, (T, d))
    gamma_w: np.ndarray  # sum_j gamma_j, gamma_j = 1 - E[lambda_j] Sigma_jj, (T,)
    gamma_j: np.ndarray | None  # (T, d); None in the spectral form of the ridge prior
    sse: np.ndarray  # sum_n d_n (y_n - z_n^T m)^2 (+ kappa_0 m_b^2 when b is in q(w, b))
    Q: np.ndarray  # sum_n d_n E(y_n - z_n^T theta)^2 (+ N Var(b) with a separate q(b))
    logdet: np.ndarray  # ln|Sigma| (+ ln Var(b) with a separate q(b))
    Eb2: np.ndarray  # E(b - ybar)^2


class TauSummary(NamedTuple):
    """The sums over samples of the Student-t factors :math:`q(\\tau_n) = \\mathrm{Gam}(a,
    b_n)` that the objective needs (:func:`tau_terms`), arrays over targets."""

    shape: np.ndarray  # a = (nu + 1) / 2
    sum_log_rate: np.ndarray  # S_3 = sum_n s_n ln b_n
    sum_excess: np.ndarray  # S_5 = sum_n s_n (e^{t_n} - 1 - t_n), t_n = ln(a / b_n)


class RidgePosterior(NamedTuple):
    """:math:`q(w)` of every target under Gaussian noise and the ridge prior, in the
    eigenbasis of the Gram matrix (:class:`Spectrum`), and the separate :math:`q(b)`."""

    mean_eig: np.ndarray  # (T, r): V^T E[w]
    var_b: np.ndarray  # (T,): Var(b), 0 without an intercept
    summary: CoefSummary


class TargetPosterior(NamedTuple):
    """:math:`q(\\theta)`, :math:`\\theta = (w, b)` (b only with Student-t noise and an
    intercept), of one target: Gram form (``chol``) or Woodbury form (``beta``,
    ``prior_precision``, ``residuals``, ``residual_var``)."""

    mean: np.ndarray  # (p,)
    diag: np.ndarray  # (p,): diag(Sigma)
    summary: CoefSummary
    chol: np.ndarray | None = None  # Sigma = chol^T chol
    beta: np.ndarray | None = None  # per-row precisions E[alpha] d_n
    prior_precision: np.ndarray | None = None  # (p,)
    residuals: np.ndarray | None = None  # y - Z m
    residual_var: np.ndarray | None = None  # z_n^T Sigma z_n
    var_b: np.ndarray | None = None  # (1,): Var(b) of a separate q(b) (Gaussian noise)
    tau: TauSummary | None = None


class Spectrum(NamedTuple):
    """Gaussian noise: the centred weighted Gram matrix :math:`G = V\\mathrm{diag}(e)V^\\top`
    (its r non-zero eigenpairs) and the projections of the targets on it."""

    basis: np.ndarray  # V, (d, r)
    eigenvalues: np.ndarray  # e, (r,)
    projections: np.ndarray  # c~ = V^T X_c^T S y_c, (T, r)
    projections_sq: np.ndarray  # c~_k^2 / e_k, (T, r)
    n_zero: int  # d - r
    rss_ols: np.ndarray  # least-squares residual sum of squares, (T,)


class GramStats(NamedTuple):
    """The statistics of one target's :math:`q(\\theta)` update in the Gram form:
    :math:`Z^\\top D Z` and :math:`Z^\\top D y`; with Student-t noise also the residual
    sums at the previous means ``m0`` (:math:`\\sum_n d_n (y_n - z_n^\\top m_0)^2` and
    :math:`Z^\\top D (y - Z m_0)`) and the :math:`q(\\tau)` sums; with Gaussian noise the
    least-squares solution and its residual sum of squares."""

    gram: np.ndarray
    zty: np.ndarray
    m0: np.ndarray | None = None
    sdr2: float | None = None
    ztdr: np.ndarray | None = None
    rss_ols: float | None = None
    beta_ols: np.ndarray | None = None
    tau: TauSummary | None = None


class KernelStats(NamedTuple):
    """The statistics of one target's :math:`q(\\theta)` update in the Woodbury form: rows
    with weights :math:`d_n` and targets :math:`y_n` (the samples, or the eigen-directions
    of the Gram matrix as pseudo-samples, with the residual sum of squares ``rss0`` they
    leave out)."""

    weights: np.ndarray
    y: np.ndarray
    rss0: float = 0.0
    tau: TauSummary | None = None


class ChunkStats(NamedTuple):
    """Additive statistics of a chunk of rows about a fixed centre :math:`\\bar x`, under
    per-sample weights :math:`d_n` (:func:`chunk_statistics`); the statistics of a data set
    are the sum of those of its chunks (:func:`sum_statistics`)."""

    weight: float  # sum_n d_n
    zsum: np.ndarray  # sum_n d_n z_n
    gram: np.ndarray  # sum_n d_n z_n z_n^T (not symmetrised)
    zty: np.ndarray  # sum_n d_n z_n y_n^T


class CoefTrack(NamedTuple):
    """The last scaled coefficient means and step, and the estimated remaining distance
    to the fixed point relative to their norm (:func:`track_coef`)."""

    previous: np.ndarray
    step: np.ndarray | None
    remaining: float


class RegressionState(NamedTuple):
    """The variational distribution of a fit: the precisions, the degrees of freedom of
    the noise, :math:`q(w, b)` (a :class:`RidgePosterior`, or a tuple of one
    :class:`TargetPosterior` per target), the objective per target and the coefficient
    tracking of the stopping rule."""

    precisions: Precisions
    df: np.ndarray
    coef: object
    bounds: np.ndarray
    track: CoefTrack


class Predictive(NamedTuple):
    """What prediction needs, for every target: the centre of ``X``, the posterior means
    and covariances of the coefficients and the intercept, the noise variance and the
    degrees of freedom of the predictive Student-t (``inf``: Gaussian)."""

    x_offset: np.ndarray
    coef: np.ndarray  # (T, d)
    intercept: np.ndarray  # (T,), in the coordinates of X
    sigma: np.ndarray  # (T, d, d)
    cov_wb: np.ndarray  # (T, d)
    var_b: np.ndarray  # (T,)
    noise_var: np.ndarray  # (T,)
    dof: np.ndarray  # (T,)


def factor_threads(size):
    """One BLAS thread for factorising a ``size x size`` matrix, if it is small."""
    return single_threaded_blas() if size <= SMALL_MATRIX else nullcontext()


class RegressionData:
    """The training data as the updates see it: zero-weight rows dropped, the weighted
    means and centred targets, and with Gaussian noise the spectral statistics formed
    once.

    Gaussian noise: the centred, weighted Gram matrix
    :math:`G = \\sum_n s_n (x_n-\\bar x)(x_n-\\bar x)^\\top = V\\mathrm{diag}(e)V^\\top`
    keeps its r eigenvalues above ``eps * d * max(e)`` (the others are rounding and are set
    to zero: the model uses this cleaned G throughout), with :math:`\\tilde c = V^\\top
    X_c^\\top S y_c` and the least-squares residual sum of squares ``r_ols``. It comes from
    ``eigh(G)`` (one pass over X for G, one for ``r_ols``) or, with fewer samples than
    features, from ``eigh`` of the n x n kernel matrix. ARD then works in the Gram form
    (Cholesky of d x d matrices) when r = d, else in the Woodbury form on the r
    eigen-directions, which are r "pseudo-samples" with precisions :math:`\\alpha e_k`
    and targets :math:`\\tilde c_k / e_k`; directions with no data never enter.

    Student-t noise: the Gram matrix changes every iteration; the updates pass over
    ``X`` (Gram form), or use the centred ``Z = [X - xbar, 1]`` in the Woodbury form
    when there are fewer samples than features.
    """

    def __init__(self, X, Y, s, fit_intercept, noise, prior):
        keep = s > 0
        if not np.all(keep):
            X, Y, s = X[keep], Y[keep], s[keep]
        self.X, self.s = X, s
        self.N = float(s.sum())
        self.n_samples, self.n_features = X.shape
        self.n_targets = Y.shape[1]
        self.intercept = bool(fit_intercept)
        d = self.n_features
        student = noise == "student_t"
        self.mode = "student" if student else ("ridge" if prior == "ridge" else "ard")
        self.joint_intercept = student and self.intercept
        self.p = d + int(self.intercept)  # dimension of q(w, b)
        if self.intercept:
            x_offset = _weighted_mean(X, s)
            self.y_offset = s @ Y / self.N
        else:
            x_offset = np.zeros(d)
            self.y_offset = np.zeros(self.n_targets)
        self.Yc = Y - self.y_offset
        self.y_ss = np.einsum("n,nt->t", s, self.Yc**2)  # for the starting alpha
        # the Woodbury form when the joint design [X - xbar, 1] (Student-t) or the centred
        # X (Gaussian: q(b) is separate) has more columns than rows
        wide = self.n_samples < (self.p if self.joint_intercept else d)
        Xc = None
        if wide:
            Xc = np.asarray(X, dtype=np.float64) - x_offset
            if self.intercept:  # second pass of the two-pass mean
                shift = s @ Xc / self.N
                Xc -= shift
                x_offset = x_offset + shift
            self.col_ss = s @ (Xc * Xc)
        self.x_offset = x_offset
        if student:
            self.kernel = wide
            if self.kernel:
                ones = np.ones((self.n_samples, 1))
                self.Z = np.hstack([Xc, ones]) if self.joint_intercept else Xc
            elif not wide:
                self.col_ss = _weighted_column_ss(X, x_offset, s)
            return
        if wide:
            F, ct_rows = self._kernel_factor(Xc)
        else:
            G, ct_rows, shift = centred_gram(
                chunk_statistics(X, x_offset, self.Yc, s), self.intercept
            )
            self.x_offset = x_offset + shift
            F = _scaled_factor(G, self.x_offset, self.N)
        self._spectral(F, ct_rows, wide, lambda B: _weighted_rss(X, self.x_offset, s, self.Yc, B))

    def _spectral(self, F, ct_rows, wide, rss):
        """Gaussian noise: the spectrum of ``G = F^T F`` and the statistics of the updates,
        from the factor ``F``, ``ct_rows`` (``C``, or the kernel form's projections) and
        ``rss(beta_ols)``, the pass over the data for the least-squares residuals."""
        d = self.n_features
        # G (cleaned) = F^T F: its eigenvectors are the right singular vectors of F, and
        # its eigenvalues the squared singular values, resolved relative to the largest
        # singular value (not to the largest eigenvalue, as eigh(G) would)
        with factor_threads(d):
            P, sv, Wt = np.linalg.svd(F, full_matrices=False)
        keep = sv > 0.0
        P, sv, V = P[:, keep], sv[keep], np.ascontiguousarray(Wt[keep].T)
        e = sv * sv
        ct = sv[:, None] * (P.T @ ct_rows) if wide else V.T @ ct_rows
        self.col_ss = np.einsum("ij,ij->j", F, F)
        self.beta_ols = V @ (ct / e[:, None])
        if not wide:
            self.r_ols = rss(self.beta_ols)
        ct = ct.T  # (T, r)
        ct_scaled = ct / np.sqrt(e)
        self.spectrum = Spectrum(
            basis=V,
            eigenvalues=e,
            projections=ct,
            projections_sq=ct_scaled * ct_scaled,
            n_zero=d - e.shape[0],
            rss_ols=self.r_ols,
        )
        self.kernel = e.shape[0] < d
        if self.mode == "ard":
            if self.kernel:
                self.Z = np.ascontiguousarray(V.T)
            else:
                self.G = F.T @ F
                self.C = V @ ct.T

    def _kernel_factor(self, Xc):
        r"""Fewer samples than features: with :math:`\tilde X = \sqrt{s}X_c`, the
        eigendecomposition :math:`\hat X\hat X^\top = U\mathrm{diag}(w)U^\top` of the
        kernel matrix of the column-scaled :math:`\hat X = \tilde X D^{-1}` (its rank
        decided there, independent of the units of the features), the factor
        :math:`F = U_r^\top\tilde X` with :math:`G = F^\top F`, the projections
        :math:`U_r^\top\tilde y` and the residual sum of squares of least squares
        :math:`\|\tilde y - U_rU_r^\top\tilde y\|^2`."""
        sq = np.sqrt(self.s)
        Xt = Xc * sq[:, None]
        Yt = self.Yc * sq[:, None]
        scale = _column_scales(self.col_ss, self.x_offset, self.N)
        Xh = Xt * np.where(scale > 0.0, 1.0 / np.where(scale > 0.0, scale, 1.0), 0.0)
        with factor_threads(Xt.shape[0]):
            w, U = np.linalg.eigh(Xh @ Xh.T)
        pos = w > max(w[-1], 0.0) * max(Xt.shape) * np.finfo(np.float64).eps
        U = U[:, pos]
        F = U.T @ (Xt * (scale > 0.0))
        uy = U.T @ Yt
        resid = Yt - U @ uy
        self.r_ols = np.sum(resid * resid, axis=0)
        return F, uy

    def tau_update(self, prior, t, post, e_alpha, nu):
        """:func:`tau_update` on this data (the Dask data override it)."""
        return tau_update(prior, self, t, post, e_alpha, nu)

    def sample_precisions(self, pred, X, Y, df, e_alpha):
        """:func:`sample_precisions` of the training rows (lazy for the Dask data)."""
        return sample_precisions(pred, X, Y, df, e_alpha)

    def gram_quadratic(self, v):
        """:math:`v^\\top G v` as the sum of non-negative terms
        :math:`\\sum_k e_k (V^\\top v)_k^2`: accurate to rounding relative to the result,
        which matters when the noise precision is large (a near-exact fit)."""
        vt = self.spectrum.basis.T @ v
        return float(self.spectrum.eigenvalues @ (vt * vt))

    def gaussian_stats(self, t):
        """Statistics of the Gaussian-noise update of target ``t`` (fixed over iterations):
        the Gram form (:class:`GramStats`), or the r eigen-directions as weighted
        pseudo-samples (:class:`KernelStats`)."""
        if self.kernel:
            e = self.spectrum.eigenvalues
            return KernelStats(e, self.spectrum.projections[t] / e, self.r_ols[t])
        return GramStats(self.G, self.C[:, t], rss_ols=self.r_ols[t], beta_ols=self.beta_ols[:, t])


# ----------------------------------------------------------- numerical helpers
def _blocks(n):
    for start in range(0, n, BLOCK_ROWS):
        yield start, min(start + BLOCK_ROWS, n)


def _weighted_mean(X, s):
    """:math:`\\sum_n s_n x_n / \\sum_n s_n` accumulated in float64."""
    if X.dtype == np.float64:
        return s @ X / s.sum()
    out = np.zeros(X.shape[1])
    for start, stop in _blocks(X.shape[0]):
        out += s[start:stop] @ X[start:stop].astype(np.float64)
    return out / s.sum()


def chunk_statistics(X, x_offset, Y, weights, ones_column=False):
    r"""The additive statistics of a chunk of rows, one pass in row blocks (``X`` is never
    copied or modified): with :math:`z_n = x_n - \bar x` (and a last entry 1 with
    ``ones_column``) and the per-sample weights :math:`d_n`,

    .. math::

        \sum_n d_n, \quad \sum_n d_n z_n, \quad \sum_n d_n z_n z_n^\top, \quad
        \sum_n d_n z_n y_n^\top,

    each block centred in float64 (``Y`` 1-D or 2-D, one column per target). The
    statistics of a data set are the sum of those of its chunks (:func:`sum_statistics`)
    for the same centre :math:`\bar x`.

    Returns
    -------
    ChunkStats
    """
    d = X.shape[1]
    p = d + int(ones_column)
    gram = np.zeros((p, p))
    zty = np.zeros((p,) + Y.shape[1:])
    zsum = np.zeros(p)
    unit = bool(np.all(weights == 1.0))
    for start, stop in _blocks(X.shape[0]):
        zb = _design_block(X, x_offset, start, stop, ones_column)
        yb = Y[start:stop]
        if unit:
            gram += zb.T @ zb
            zty += zb.T @ yb
            zsum += zb.sum(axis=0)
        else:
            wb = weights[start:stop]
            zs = zb * np.sqrt(wb)[:, None]
            gram += zs.T @ zs
            zty += zb.T @ ((wb[:, None] if yb.ndim == 2 else wb) * yb)
            zsum += wb @ zb
    return ChunkStats(float(weights.sum()), zsum, gram, zty)


def sum_statistics(chunks):
    """The statistics of the union of chunks: the sum of theirs (:class:`ChunkStats`)."""
    chunks = iter(chunks)
    total = next(chunks)
    for chunk in chunks:
        total = ChunkStats(*(a + b for a, b in zip(total, chunk, strict=True)))
    return total


def centred_gram(stats, intercept):
    r"""The centred Gram matrix :math:`G` and :math:`C = \sum_n s_n (x_n - \bar x)
    y_{c,n}^\top` from the statistics of :func:`chunk_statistics` about a centre
    :math:`\bar x` (no column of ones).

    The weighted sum :math:`g = \sum_n s_n (x_n - \bar x)` is zero up to the rounding of
    :math:`\bar x`; the returned statistics are those of the corrected mean
    :math:`\bar x + g/N` (the second pass of the two-pass algorithm),
    :math:`G - N\,\delta\delta^\top` with :math:`\delta = g/N`, and so is the returned
    ``shift`` :math:`\delta`. Returns ``(G, C, shift)``.
    """
    G = stats.gram
    G = 0.5 * (G + G.T)
    if not intercept:
        return G, stats.zty, np.zeros(G.shape[0])
    N = stats.weight
    shift = stats.zsum / N
    G -= N * np.outer(shift, shift)
    # sum_n s_n y_c = 0, so C needs no correction
    return G, stats.zty, shift


def _weighted_column_ss(X, x_offset, s):
    """:math:`\\sum_n s_n (x_{nj} - \\bar x_j)^2` per feature, one pass."""
    out = np.zeros(X.shape[1])
    for start, stop in _blocks(X.shape[0]):
        xb = X[start:stop] - x_offset
        out += s[start:stop] @ (xb * xb)
    return out


def _column_scales(col_ss, x_offset, N):
    r""":math:`\sqrt{G_{jj}}`, the scale of each centred column, or 0 for a column that is
    constant up to rounding: its centred sum of squares below :math:`(8\epsilon)^2` times
    its raw one :math:`G_{jj} + N\bar x_j^2`."""
    raw = col_ss + N * np.asarray(x_offset) ** 2
    live = col_ss > (8.0 * np.finfo(np.float64).eps) ** 2 * raw
    return np.where(live, np.sqrt(np.where(live, col_ss, 0.0)), 0.0)


def _scaled_factor(G, x_offset, N):
    r"""A factor :math:`F` (r x d) of the Gram matrix, :math:`G \approx F^\top F`, with the
    rank decided on the Jacobi-scaled :math:`\hat G = D^{-1}GD^{-1}`,
    :math:`D = \mathrm{diag}(\sqrt{G_{jj}})`: eigenvalues of :math:`\hat G` below
    ``eps * d * max`` are rounding and dropped, constant columns get zeros. Deciding on
    :math:`\hat G` makes the rank, and :math:`F = \mathrm{diag}(\sqrt w)U^\top D`, independent
    of the units of the features; ``eigh(G)`` itself resolves eigenvalues only to
    ``eps * max(eig(G))``, which with columns of scales 1e-8, 1 and 1e8 loses every
    direction but the largest."""
    d = G.shape[0]
    scale = _column_scales(np.diagonal(G), x_offset, N)
    live = scale > 0.0
    F = np.zeros((0, d))
    if not np.any(live):
        return F
    sc = scale[live]
    Gh = G[np.ix_(live, live)] / np.outer(sc, sc)
    np.fill_diagonal(Gh, 1.0)
    with factor_threads(d):
        w, U = np.linalg.eigh(Gh)
    pos = w > max(w[-1], 0.0) * d * np.finfo(np.float64).eps
    F = np.zeros((int(np.sum(pos)), d))
    F[:, live] = (np.sqrt(w[pos])[:, None] * U[:, pos].T) * sc[None, :]
    return F


def default_lambda(col_var, y_var, prior):
    """Starting weight precision(s), shape (n_targets, 1) or (n_targets, n_features):
    the prior variance of :math:`x^\\top w` equals the variance of ``y``. Constant
    features (zero variance) get the ridge value; 1 if every feature is constant."""
    total = float(np.sum(col_var))
    if not total > 0.0:
        return np.ones((len(y_var), 1))
    ridge = total / y_var[:, None]
    if prior == "ridge":
        return ridge
    per_feature = col_var.shape[0] * col_var[None, :] / y_var[:, None]
    return np.where(col_var[None, :] > 0.0, per_feature, ridge)


def _weighted_rss(X, x_offset, s, Yc, B):
    """:math:`\\sum_n s_n (y_{c,n} - (x_n - \\bar x)^\\top B)^2` per target, one pass."""
    out = np.zeros(Yc.shape[1])
    for start, stop in _blocks(X.shape[0]):
        r = Yc[start:stop] - (X[start:stop] - x_offset) @ B
        out += s[start:stop] @ (r * r)
    return out


def _cholesky_or_eigh(A):
    """Factor the symmetric positive (semi-)definite ``A`` (unit diagonal after Jacobi
    scaling): returns ``(W, log_det)`` with ``A^{-1} = W^T W``. Cholesky, or an
    eigendecomposition with the eigenvalues floored at ``eps * max`` when Cholesky
    fails on a numerically singular matrix."""
    L, info = lapack.dpotrf(A, lower=1, clean=1)
    if info == 0:
        Linv, info = lapack.dtrtri(L, lower=1)
        if info == 0:
            return Linv, cholesky_log_det(L)
    w, U = np.linalg.eigh(A)
    w = np.maximum(w, np.finfo(np.float64).eps * max(w[-1], np.finfo(np.float64).tiny))
    return (U / np.sqrt(w)).T, float(np.sum(np.log(w)))


def _is_lower(R):
    """Whether ``R`` is lower triangular (the Cholesky case of :func:`_cholesky_or_eigh`)."""
    return not np.any(np.triu(R, 1))


def posterior_gram(H, h, prior):
    """Gaussian with precision ``P = H + diag(prior)`` and mean ``P^{-1} h``.

    Returns ``(m, R, diag, log_det)`` with ``Sigma = R^T R``, ``diag = diag(Sigma)`` and
    ``log_det = ln|Sigma|``. ``P`` is Jacobi-scaled to unit diagonal before the
    factorisation, so the result does not depend on the scales of the features.
    """
    dP = np.diagonal(H) + prior
    sc = 1.0 / np.sqrt(dP)
    Ph = H * np.outer(sc, sc)
    np.fill_diagonal(Ph, 1.0)
    W, log_det_hat = _cholesky_or_eigh(Ph)
    R = W * sc[None, :]
    diag = np.einsum("ij,ij->j", R, R)
    m = R.T @ (R @ h)
    return m, R, diag, -log_det_hat + 2.0 * np.sum(np.log(sc))


def _kernel_factor(Z, beta, prior):
    r"""``(Z Pi^{-1}, M, ln|K|)`` with :math:`K = \mathrm{diag}(1/\beta) + Z\Pi^{-1}Z^\top =
    (M^\top M)^{-1}`, factorised after scaling K to a unit diagonal."""
    Zp = Z / prior
    K = Zp @ Z.T
    K[np.diag_indices_from(K)] += 1.0 / beta
    sc = 1.0 / np.sqrt(np.diagonal(K))
    Kh = K * np.outer(sc, sc)
    np.fill_diagonal(Kh, 1.0)
    W, log_det_hat = _cholesky_or_eigh(Kh)
    return Zp, W * sc[None, :], log_det_hat - 2 * np.sum(np.log(sc))


def posterior_kernel(Z, beta, y, prior):
    r"""Gaussian with precision :math:`P = Z^\top\mathrm{diag}(\beta)Z + \mathrm{diag}(\pi)`
    and mean :math:`P^{-1}Z^\top\mathrm{diag}(\beta)y`, through the n x n matrix
    :math:`K = \mathrm{diag}(1/\beta) + Z\Pi^{-1}Z^\top` (Woodbury):
    :math:`\Sigma = \Pi^{-1} - \Pi^{-1}Z^\top K^{-1}Z\Pi^{-1}`, :math:`m = \Pi^{-1}Z^\top
    K^{-1}y`, :math:`\ln|\Sigma| = -\sum\ln\pi_j - \sum\ln\beta_n - \ln|K|`.

    Returns ``(m, diag(Sigma), ln|Sigma|, gamma, q, r)`` with :math:`\gamma_j = 1 -
    \pi_j\Sigma_{jj}`, :math:`q_n = z_n^\top\Sigma z_n` and the residuals
    :math:`r = y - Zm = \mathrm{diag}(1/\beta)K^{-1}y`.
    """
    if Z.shape[0] == 0:  # no data direction: the posterior is the prior
        zero = np.zeros_like(prior)
        return zero, 1.0 / prior, -np.sum(np.log(prior)), zero, np.zeros(0), np.zeros(0)
    Zp, M, log_det_k = _kernel_factor(Z, beta, prior)
    B = M @ Z
    bj = np.einsum("ij,ij->j", B, B)  # z_j^T K^{-1} z_j
    gamma = bj / prior
    diag = (1.0 - gamma) / prior
    kinv_y = M.T @ (M @ y)
    m = Zp.T @ kinv_y
    kinv_diag = np.einsum("ij,ij->j", M, M)
    q = 1.0 / beta - kinv_diag / (beta * beta)
    log_det = -np.sum(np.log(prior)) - np.sum(np.log(beta)) - log_det_k
    # the residuals y - Z m = diag(1/beta) K^{-1} y, exactly: no cancellation when the
    # fit is close to interpolation
    return m, diag, log_det, gamma, np.maximum(q, 0.0), kinv_y / beta


#: Up to this many coefficients, the covariance of the Woodbury form is formed from the
#: p x p precision (Jacobi-scaled Cholesky) rather than as a difference of two terms,
#: which loses digits where the data determine the coefficients well.
DENSE_COVARIANCE = 2048


def covariance_kernel(Z, beta, prior):
    """The full covariance of :func:`posterior_kernel`'s Gaussian: the inverse of
    :math:`P = Z^\\top\\mathrm{diag}(\\beta)Z + \\mathrm{diag}(\\pi)` by a Jacobi-scaled
    Cholesky factorisation (:func:`posterior_gram`) when ``p <=`` :data:`DENSE_COVARIANCE`,
    else :math:`\\Pi^{-1} - \\Pi^{-1}Z^\\top K^{-1}Z\\Pi^{-1}`."""
    if Z.shape[0] == 0:
        return np.diag(1.0 / prior)
    if Z.shape[1] <= DENSE_COVARIANCE:
        with factor_threads(Z.shape[1]):
            _, R, _, _ = posterior_gram((Z.T * beta) @ Z, np.zeros(Z.shape[1]), prior)
            return R.T @ R
    Zp, M, _ = _kernel_factor(Z, beta, prior)
    B = M @ Zp
    cov = -(B.T @ B)
    cov[np.diag_indices_from(cov)] += 1.0 / prior
    return cov


def residual_pass(X, x_offset, y, m, R, intercept):
    """Residuals :math:`r_n = y_n - z_n^\\top m` and :math:`q_n = \\|R z_n\\|^2 =
    z_n^\\top\\Sigma z_n`, :math:`z_n = (x_n - \\bar x, 1)`: one pass, one BLAS
    product per block."""
    n, d = X.shape
    r = np.empty(n)
    q = np.empty(n)
    lower = _is_lower(R)
    R = np.asfortranarray(R)
    for start, stop in _blocks(n):
        zb = _design_block(X, x_offset, start, stop, intercept)
        r[start:stop] = y[start:stop] - zb @ m
        if lower:  # R Z_b^T with the triangular product: half the flops of a GEMM
            rz = blas.dtrmm(1.0, R, zb.T, side=0, lower=1)
        else:
            rz = R @ zb.T
        q[start:stop] = np.einsum("ij,ij->j", rz, rz)
    return r, q


def weighted_gram(X, x_offset, y, weights, intercept):
    """:math:`Z^\\top D Z` (symmetrised) and :math:`Z^\\top D y` with :math:`D =
    \\mathrm{diag}(d_n)`, :math:`Z = [X - \\bar x, 1]`: :func:`chunk_statistics` of the
    whole data."""
    stats = chunk_statistics(X, x_offset, y, weights, intercept)
    return 0.5 * (stats.gram + stats.gram.T), stats.zty


def _design_block(X, x_offset, start, stop, intercept):
    """Rows ``start:stop`` of :math:`Z = [X - \\bar x, 1]` in float64 (the column of ones
    only with an intercept)."""
    d = X.shape[1]
    zb = np.empty((stop - start, d + int(intercept)))
    np.subtract(X[start:stop], x_offset, out=zb[:, :d])
    if intercept:
        zb[:, d] = 1.0
    return zb


def tau_terms(a_tau, df, N, S3, S5):
    r"""The terms of the objective in the noise scales :math:`\tau_n` (arrays over
    targets): :math:`\sum_n s_n [\tfrac12\mathbb E\ln\tau_n - \mathrm{KL}(\mathrm{Gam}(a,
    b_n)\|\mathrm{Gam}(h, h))]` with :math:`h = \nu/2`, :math:`a = h + 1/2`, from
    :math:`S_3 = \sum_n s_n\ln b_n` and :math:`S_5 = \sum_n s_n (e^{t_n} - 1 - t_n)`,
    :math:`t_n = \ln(a/b_n)`:

    .. math::

        N[\ln\Gamma(a) - \ln\Gamma(h) - h\ln(1 + \tfrac1{2h}) + \tfrac12
        - \tfrac12\ln a] + \tfrac12(N\ln a - S_3) - h S_5,

    where the expanded form (KL through the log normalisers) cancels terms of size
    :math:`hN` when :math:`\nu` is large."""
    out = np.empty(len(a_tau))
    for t in range(len(a_tau)):
        h, a = 0.5 * float(df[t]), float(a_tau[t])
        const = log_gamma_ratio(h, 0.5) - h * math.log1p(0.5 / h) + 0.5 - 0.5 * math.log(a)
        out[t] = N * const + 0.5 * (N * math.log(a) - S3[t]) - h * S5[t]
    return out


def _df_objective(nu, s, c):
    r"""The objective as a function of :math:`\nu` once :math:`q(\tau)` is optimal:
    :math:`\sum_n s_n [\ln\Gamma(\tfrac{\nu+1}2) - \ln\Gamma(\tfrac\nu2)
    + \tfrac\nu2\ln\tfrac\nu2 - \tfrac{\nu+1}2\ln\tfrac{\nu + c_n}2]`, the
    log normaliser of :math:`\mathrm{Gam}(\tau\mid\nu/2,\nu/2)\,\tau^{1/2}
    e^{-c_n\tau/2}` (a Student-t log density up to terms free of :math:`\nu`)."""
    # = N[lnG(h + 1/2) - lnG(h) - ln(h)/2] - (h + 1/2) sum s ln(1 + c/(2h)): the terms of
    # size h N of the expanded form cancel analytically (large nu)
    return df_objective_from(nu, float(np.sum(s)), df_log_sum(nu, s, c))


def df_log_sum(nu, s, c):
    """:math:`\\sum_n s_n\\ln(1 + c_n/\\nu)`, the only sum over samples in
    :func:`_df_objective` (additive over chunks of rows)."""
    return float(s @ np.log1p(0.5 * c / (0.5 * nu)))


def df_objective_from(nu, N, log_sum):
    """:func:`_df_objective` from ``N`` and :func:`df_log_sum`."""
    half = 0.5 * nu
    const = log_gamma_ratio(half, 0.5) - 0.5 * math.log(half)
    return float(N * const - (half + 0.5) * log_sum)


def df_newton_sums(nu, s, c):
    """:math:`\\sum_n s_n\\ln(1 + c_n/\\nu)`, :math:`\\sum_n s_n c_n/(\\nu + c_n)` and
    :math:`\\sum_n s_n c_n(2\\nu + c_n)/(\\nu + c_n)^2`: what the first two derivatives
    of :func:`_df_objective` need (additive over chunks of rows)."""
    q = c / (nu + c)
    return np.array([s @ np.log1p(c / nu), s @ q, s @ (q * (2.0 * nu + c) / (nu + c))])


#: Newton steps that polish the bounded search's degrees of freedom.
DF_NEWTON_STEPS = 2


def polish_df(nu, N, sums):
    r"""Newton steps on :math:`f'(\nu) = 0` from the search's result, :math:`f` =
    :func:`_df_objective` and ``sums(nu)`` = :func:`df_newton_sums`: the search stops
    within its tolerance (1e-6 on :math:`\ln\nu`) at a point that depends on the
    rounding of every value it compared; after the steps :math:`\nu` is the maximiser
    to rounding, a continuous function of the data (a Dask fit then equals the in-memory
    one). A step that leaves :data:`DF_RANGE` or meets :math:`f'' \ge 0` stops
    the polishing (the search's value, or the last step's, is kept). Returns
    ``(nu, polished)``, ``polished`` when every step was taken."""
    for _ in range(DF_NEWTON_STEPS):
        S0, S1, S2 = sums(nu)
        h = 0.5 * nu
        a1 = 0.5 * (digamma(h + 0.5) - digamma(h)) - 0.5 / nu
        a2 = 0.25 * (trigamma(h + 0.5) - trigamma(h)) + 0.5 / (nu * nu)
        g1 = N * a1 - 0.5 * S0 + (nu + 1.0) * S1 / (2.0 * nu)
        g2 = N * a2 + S1 / nu - (nu + 1.0) * S2 / (2.0 * nu * nu)
        step = nu - g1 / g2 if g2 < 0.0 else -1.0
        if not DF_RANGE[0] <= step <= DF_RANGE[1]:
            return nu, False
        nu = step
    return nu, True


def update_df(s, c, nu_old, objective=None, sums=None, N=None):
    """The degrees of freedom maximising :func:`_df_objective` within :data:`DF_RANGE`
    (bounded Brent search on :math:`\\ln\\nu`); the old value is kept if the new
    one is not better (this comparison of nearly equal values is skipped once
    :func:`polish_df` has found the maximiser: rounding could flip it). ``objective(nu)``
    and ``sums(nu)``, if given, replace ``_df_objective(nu, s, c)`` and
    ``df_newton_sums(nu, s, c)``, and ``N`` the sum of ``s`` (the Dask fit sums them
    over chunks)."""
    from scipy.optimize import minimize_scalar

    if objective is None:

        def objective(nu):
            return _df_objective(nu, s, c)

        def sums(nu):
            return df_newton_sums(nu, s, c)

    lo, hi = math.log(DF_RANGE[0]), math.log(DF_RANGE[1])
    res = minimize_scalar(
        lambda u: -objective(math.exp(u)),
        bounds=(lo, hi),
        method="bounded",
        options={"xatol": 1e-6},
    )
    nu, polished = polish_df(math.exp(res.x), float(np.sum(s)) if N is None else N, sums)
    return nu if polished or objective(nu) >= objective(nu_old) else nu_old


def gamma_factor_terms(a, c, b, r, rate_q, point):
    r"""The terms of the objective in one Gamma-distributed precision :math:`\theta`
    (the noise precision, or one weight precision), elementwise over ``rate_q``.

    The model gives :math:`\theta` the prior :math:`\mathrm{Gam}(a, b)` and the
    likelihood terms :math:`c\,\mathbb E\ln\theta - r\,\mathbb E\theta`; the optimal
    factor is :math:`\mathrm{Gam}(A, B^*)` with :math:`A = a + c`, :math:`B^* = b + r`.
    For :math:`q(\theta) = \mathrm{Gam}(A, B)` (``point=False``, 'vbem') the terms are

    .. math::

        \ln\Gamma(A) - \ln\Gamma(a) + a\ln b - A\ln B^* - A(e^u - 1 - u), \qquad
        u = \ln(B^*/B),

    (the log normaliser ratio minus :math:`\mathrm{KL}(\mathrm{Gam}(A, B)\|
    \mathrm{Gam}(A, B^*))`); for the point value :math:`\theta = A/B` with the log
    hyperprior of :math:`\ln\theta` (``point=True``, 'vem') they are the same plus
    :math:`A\ln A - A - \ln\Gamma(A) = \tfrac12\ln A - \tfrac12\ln 2\pi - \varphi(A)`.
    Written this way, every term is of the size of the result: the expanded form adds
    and subtracts terms of size :math:`a\ln a` and :math:`A\,r/B`, which with large
    hyperprior parameters (``alpha_1 = 1e14``) are far larger than the objective and
    made it decrease by rounding.
    """
    rate_q = np.asarray(rate_q, dtype=np.float64)
    r = np.asarray(r, dtype=np.float64)
    A = a + c
    base = log_gamma_ratio(a, c) - c * math.log(b) - A * np.log1p(r / b)
    u = np.log(b + r) - np.log(rate_q)
    out = base - A * expm1_minus(u)
    if point:
        out = out + 0.5 * math.log(A) - 0.5 * math.log(2.0 * math.pi) - stirling_remainder(A)
    return out


# ------------------------------------------------------------ the model's updates
_LOG_2PI = math.log(2.0 * math.pi)

#: With Student-t noise, the largest relative change of a per-sample weight that the
#: rounding of the residuals (``eps * max|y - mean(y)|``) may cause: beyond it the
#: weights are set by rounding and the objective can go down
#: (tests/test_regression.py::test_student_t_noise_below_the_rounding_of_y_raises).
RESIDUAL_RESOLUTION = 1e-9


def initial_precisions(prior, data, alpha_init=None, lambda_init=None):
    r"""The starting :class:`Precisions` and degrees of freedom.

    The shapes are those of the coordinate-ascent factors, :math:`a_\alpha = \alpha_1 +
    N/2 + 1/2` (the 1/2 only with an intercept) and :math:`a_\lambda = \lambda_1 + d/2`
    (ridge) or :math:`\lambda_1 + 1/2` (ARD); the rates put the means at ``alpha_init``
    (default :math:`1/\mathrm{Var}(y)`, weighted, per target) and ``lambda_init``
    (default :func:`default_lambda`). The degrees of freedom start at ``prior.df``, or
    :data:`DF_INIT` when they are learned. Returns ``(Precisions, df)``.
    """
    T, d, N = data.n_targets, data.n_features, data.N
    var = data.y_ss / N + np.finfo(np.float64).eps
    alpha0 = 1.0 / var if alpha_init is None else np.full(T, float(alpha_init))
    if lambda_init is None:
        lambda0 = default_lambda(data.col_ss / N, var, "ard" if prior.ard else "ridge")
    else:
        lambda0 = float(lambda_init)
    alpha_shape = prior.alpha_1 + 0.5 * N + 0.5 * data.intercept
    lambda_shape = prior.lambda_1 + (0.5 if prior.ard else 0.5 * d)
    n_lambda = d if prior.ard else 1
    lambda_rate = np.broadcast_to(lambda_shape / lambda0, (T, n_lambda)).copy()
    df = np.full(T, DF_INIT if prior.df is None else float(prior.df))
    return Precisions(alpha_shape, alpha_shape / alpha0, lambda_shape, lambda_rate), df


def gaussian_intercept(data, Q, logdet, e_alpha):
    r"""With Gaussian noise and weighted-centred data, :math:`q(b) = \mathcal N(\bar y,
    1/(\mathbb E[\alpha](N + \kappa_0)))` is independent of :math:`q(w)`: its variance,
    :math:`\mathbb E(b - \bar y)^2` and ``Q``, ``logdet`` with its terms added
    (:math:`N\mathrm{Var}(b)` and :math:`\ln\mathrm{Var}(b)`). Returns ``(var_b, Eb2, Q,
    logdet)``; zeros and ``Q``, ``logdet`` unchanged without an intercept."""
    if not data.intercept:
        return np.zeros_like(Q), np.zeros_like(Q), Q, logdet
    var_b = 1.0 / (e_alpha * (data.N + INTERCEPT_PRIOR))
    return var_b, var_b, Q + data.N * var_b, logdet + np.log(var_b)


def elbo(prior, data, summary, precisions, df=None, tau=None):
    r"""The objective per target (arrays over targets), every constant included.

    .. math::

        \mathbb E\ln p(y, w, b, \tau \mid \alpha, \lambda) - \mathbb E\ln q(w, b, \tau)
        = -\tfrac N2\ln 2\pi + c_\alpha\mathbb E\ln\alpha - r_\alpha\mathbb E\alpha
        + \sum_j (\tfrac12\mathbb E\ln\lambda_j - \tfrac12\mathbb E[\lambda_j]
        \mathbb E[w_j^2] - \tfrac12\ln 2\pi)
        + \tfrac12(\ln\kappa_0 - \ln 2\pi) + \tfrac p2(1 + \ln 2\pi)
        + \tfrac12\ln|\Sigma| + [\text{Student-t}: \tfrac12\sum_n s_n\mathbb E\ln\tau_n
        - \sum_n s_n \mathrm{KL}(q(\tau_n)\|p(\tau_n))],

    with :math:`c_\alpha = N/2 + 1/2`, :math:`r_\alpha = Q/2 + \kappa_0\mathbb E[\alpha]
    \mathbb E(b - \bar y)^2/2`, :math:`Q = \sum_n s_n\mathbb E[\tau_n]\,
    \mathbb E(y_n - (x_n-\bar x)^\top w - b)^2` and :math:`p` the dimension of
    :math:`q(w, b)` (the intercept terms only with an intercept); then the hyperprior
    terms. The terms in each precision, with its hyperprior (and its factor under
    'vbem'), are collected into :func:`gamma_factor_terms`, in a form without the
    cancellation of large terms.

    Parameters
    ----------
    prior : RegressionPrior
    data : RegressionData
        Only its sum of weights ``N``, ``n_features``, ``p`` and ``intercept``.
    summary : CoefSummary
    precisions : Precisions
        Only the rates (under 'vbem' the factors, under 'vem' the point values).
    df : ndarray of shape (n_targets,), optional
        The degrees of freedom of the Student-t noise (with ``tau``).
    tau : TauSummary or None
        The Student-t factors :math:`q(\tau)`; None with Gaussian noise.
    """
    N, d = data.N, data.n_features
    icpt = float(data.intercept)
    r_alpha = 0.5 * summary.Q
    if data.intercept:
        r_alpha = r_alpha + 0.5 * INTERCEPT_PRIOR * summary.Eb2
    out = gamma_factor_terms(
        prior.alpha_1, 0.5 * N + 0.5 * icpt, prior.alpha_2, r_alpha, precisions.alpha_rate,
        prior.point,
    )  # fmt: skip
    c_lambda = 0.5 if prior.ard else 0.5 * d
    out = out + np.sum(
        gamma_factor_terms(
            prior.lambda_1,
            c_lambda,
            prior.lambda_2,
            0.5 * summary.ww,
            precisions.lambda_rate,
            prior.point,
        ),  # fmt: skip
        axis=1,
    )
    const = -0.5 * (N + d) * _LOG_2PI + 0.5 * data.p * (1.0 + _LOG_2PI)
    if data.intercept:
        const += 0.5 * (math.log(INTERCEPT_PRIOR) - _LOG_2PI)
    out = out + const + 0.5 * summary.logdet
    if tau is not None:
        out += tau_terms(tau.shape, df, N, tau.sum_log_rate, tau.sum_excess)
    return out


def mackay_update(prior, N, summary, precisions):
    r"""MacKay's fixed-point update of the precisions (MacKay 1992, with the hyperpriors
    as in BayesianRidge):
    :math:`\alpha = (N - \gamma + 2\alpha_1)/(\|y - Xm - b\|^2 + 2\alpha_2)`,
    :math:`\lambda_j = (\gamma_j + 2\lambda_1)/(m_j^2 + 2\lambda_2)` with
    :math:`\gamma_j = 1 - \lambda_j\Sigma_{jj}`, written as Gamma rates (the point
    estimate, or the mean of the factor, is ``shape / rate``).

    Returns the new :class:`Precisions` and a mask of the targets where the new rates are
    finite and positive; elsewhere the old rates are kept (with fractional sample weights
    :math:`N` can be below :math:`\gamma`).
    """
    q = precisions
    with np.errstate(divide="ignore", invalid="ignore"):
        alpha_new = (N - summary.gamma_w + 2.0 * prior.alpha_1) / (
            summary.sse + 2.0 * prior.alpha_2
        )
        gamma = summary.gamma_j if prior.ard else summary.gamma_w[:, None]
        mm = summary.mm if prior.ard else summary.mm[:, None]
        lam_new = (gamma + 2.0 * prior.lambda_1) / (mm + 2.0 * prior.lambda_2)
        alpha_rate = q.alpha_shape / alpha_new
        lambda_rate = q.lambda_shape / lam_new
    ok = (
        np.isfinite(alpha_rate)
        & (alpha_rate > 0)
        & np.all(np.isfinite(lambda_rate) & (lambda_rate > 0), axis=1)
    )
    return q._replace(
        alpha_rate=np.where(ok, alpha_rate, q.alpha_rate),
        lambda_rate=np.where(ok[:, None], lambda_rate, q.lambda_rate),
    ), ok


def cavi_update(prior, data, summary, precisions):
    r"""The coordinate-ascent update of the precisions: the rates of
    :math:`q(\alpha) = \mathrm{Gam}(\alpha_1 + N/2 + 1/2, \alpha_2 + Q/2 +
    \kappa_0\mathbb E(b-\bar y)^2/2)` and :math:`q(\lambda) = \mathrm{Gam}(\lambda_1 +
    d/2, \lambda_2 + \mathbb E[w^\top w]/2)` (ARD: one factor per feature, with
    :math:`1/2` and :math:`\mathbb E[w_j^2]/2`); PRML section 10.3, with the noise
    factor as in Drugowitsch (2013). Under 'vem', ``shape / rate`` is the MAP of the
    log-precision. Returns the new :class:`Precisions` (the shapes do not change)."""
    alpha_rate = prior.alpha_2 + 0.5 * summary.Q
    if data.intercept:
        alpha_rate = alpha_rate + 0.5 * INTERCEPT_PRIOR * summary.Eb2
    if prior.ard:
        lambda_rate = prior.lambda_2 + 0.5 * summary.ww
    else:
        lambda_rate = (prior.lambda_2 + 0.5 * summary.ww.sum(axis=1))[:, None]
    return precisions._replace(alpha_rate=alpha_rate, lambda_rate=lambda_rate)


def ridge_posterior(data, precisions):
    r""":math:`q(w)` for every target in the eigenbasis of the Gram matrix
    :math:`\sum_n s_n (x_n-\bar x)(x_n-\bar x)^\top = V\,\mathrm{diag}(e)\,V^\top`
    (Gaussian noise, ridge prior): precision :math:`h_k = \mathbb E[\alpha] e_k +
    \mathbb E[\lambda]`, mean :math:`\tilde m_k = \mathbb E[\alpha]\tilde c_k / h_k` with
    :math:`\tilde c = V^\top X^\top y`. O(n_features) per target; the residual sum of
    squares is :math:`\mathrm{RSS}_{\mathrm{OLS}} + \sum_k (\tilde c_k^2/e_k)
    (\mathbb E[\lambda]/h_k)^2`, a sum of non-negative terms. Returns a
    :class:`RidgePosterior` with the separate :math:`q(b)` (:func:`gaussian_intercept`).
    """
    sp = data.spectrum
    q = precisions
    e_alpha = q.alpha_shape / q.alpha_rate
    e_lambda = q.lambda_shape / q.lambda_rate[:, 0]
    h = e_alpha[:, None] * sp.eigenvalues + e_lambda[:, None]
    mt = e_alpha[:, None] * sp.projections / h
    mm = np.sum(mt * mt, axis=1)
    n_zero = sp.n_zero
    trace_sg = np.sum(sp.eigenvalues / h, axis=1)
    sse = sp.rss_ols + np.sum(sp.projections_sq * (e_lambda[:, None] / h) ** 2, axis=1)
    logdet = -np.sum(np.log(h), axis=1) - n_zero * np.log(e_lambda)
    var_b, Eb2, Q, logdet = gaussian_intercept(data, sse + trace_sg, logdet, e_alpha)
    summary = CoefSummary(
        mm=mm,
        ww=(mm + np.sum(1.0 / h, axis=1) + n_zero / e_lambda)[:, None],
        gamma_w=e_alpha * trace_sg,
        gamma_j=None,
        sse=sse,
        Q=Q,
        logdet=logdet,
        Eb2=Eb2,
    )
    return RidgePosterior(mt, var_b, summary)


def select(take, a, b):
    """Per target, ``a`` where ``take`` else ``b`` (targets on the first axis); over the
    fields of named values, recursively (None stays None)."""
    if a is None:
        return None
    if isinstance(a, tuple):
        return type(a)(*(select(take, x, y) for x, y in zip(a, b, strict=True)))
    if np.ndim(a) == 0:
        return a
    shape = (take.shape[0],) + (1,) * (np.ndim(a) - 1)
    return np.where(take.reshape(shape), a, b)


def target_precisions(precisions, t):
    """The :class:`Precisions` of target ``t`` alone (rates of shape (1,), (1, ...))."""
    return precisions._replace(
        alpha_rate=precisions.alpha_rate[t : t + 1],
        lambda_rate=precisions.lambda_rate[t : t + 1],
    )


def prior_precisions(data, precisions):
    """Diagonal prior precision of :math:`\\theta = (w, b)` of one target (``precisions``
    of that target): :math:`\\mathbb E[\\lambda_j]`, then :math:`\\kappa_0\\mathbb E[\\alpha]`
    when b is in :math:`q(\\theta)` (Student-t noise: with Gaussian noise and centred data
    :math:`q(b)` is separate)."""
    q = precisions
    e_lambda = q.lambda_shape / q.lambda_rate[0]
    prior = np.broadcast_to(e_lambda, (data.n_features,))
    if data.joint_intercept:
        e_alpha = float(q.alpha_shape / q.alpha_rate[0])
        prior = np.append(prior, INTERCEPT_PRIOR * e_alpha)
    return np.asarray(prior, dtype=np.float64)


def target_posterior(data, stats, precisions, ard):
    r""":math:`q(\theta)` of one target given its precisions (``precisions`` with one
    target), with the summaries the objective and the next updates need.

    Precision :math:`P = \mathbb E[\alpha] Z^\top D Z + \mathrm{diag}(\pi)`, mean
    :math:`P^{-1}\mathbb E[\alpha] Z^\top D y` (PRML 3.53-3.54; section 10.3), with
    :math:`D = \mathrm{diag}(s_n\mathbb E[\tau_n])`; from the Gram matrix (``stats`` a
    :class:`GramStats`: Cholesky) or, with fewer samples than coefficients, from the
    kernel matrix (``stats`` a :class:`KernelStats`: Woodbury).

    Returns
    -------
    TargetPosterior
    """
    d = data.n_features
    e_alpha = float(precisions.alpha_shape / precisions.alpha_rate[0])
    prior = prior_precisions(data, precisions)
    p = prior.shape[0]
    if data.kernel:
        beta = e_alpha * stats.weights
        with factor_threads(beta.shape[0]):
            m, diag, logdet, gamma, qn, r = posterior_kernel(data.Z, beta, stats.y, prior)
        sdr2 = stats.weights @ (r * r) + stats.rss0
        q_total = sdr2 + stats.weights @ qn
        factor = TargetPosterior(m, diag, None, beta=beta, prior_precision=prior,
                                 residuals=r, residual_var=qn)  # fmt: skip
    else:
        H, h = stats.gram, stats.zty
        with factor_threads(p):
            m, R, diag, logdet = posterior_gram(e_alpha * H, e_alpha * h, prior)
        gamma = 1.0 - prior * diag
        trace = (p - np.sum(prior * diag)) / e_alpha  # tr(Sigma Z^T D Z)
        if stats.m0 is not None:
            # sum_n d_n (y_n - z_n^T m)^2 from the previous means m0 and the pass's
            # residual statistics: no pass over the data
            delta = m - stats.m0
            sdr2 = stats.sdr2 - 2.0 * delta @ stats.ztdr + delta @ H @ delta
        else:
            sdr2 = stats.rss_ols + data.gram_quadratic(m - stats.beta_ols)
        sdr2 = max(sdr2, 0.0)
        q_total = sdr2 + trace
        factor = TargetPosterior(m, diag, None, chol=R)
    mw = m[:d]
    ww = (mw * mw + diag[:d])[None, :]
    if not ard:
        ww = ww.sum(axis=1, keepdims=True)
    sse = np.array([sdr2])
    Q = np.array([q_total])
    logdet = np.array([logdet])
    var_b = None
    if data.joint_intercept:
        Eb2 = np.array([m[d] ** 2 + diag[d]])
        sse = sse + INTERCEPT_PRIOR * m[d] ** 2
    else:
        var_b, Eb2, Q, logdet = gaussian_intercept(data, Q, logdet, np.array([e_alpha]))
    summary = CoefSummary(
        mm=(mw * mw)[None, :] if ard else np.array([mw @ mw]),
        ww=ww,
        gamma_w=np.array([np.sum(gamma[:d])]),
        gamma_j=gamma[None, :d],
        sse=sse,
        Q=Q,
        logdet=logdet,
        Eb2=Eb2,
    )
    return factor._replace(summary=summary, var_b=var_b, tau=stats.tau)


def check_residual_resolution(prior, e_alpha, y, r, e, nu):
    r"""Raise if the rounding of the residuals moves a Student-t weight
    :math:`(\nu + 1) / (\nu + \mathbb E[\alpha] e_n)` by more than
    :data:`RESIDUAL_RESOLUTION` relative: the weights, and the objective, are then
    set by rounding (on noise-free data with ``alpha_1=1e30`` the objective went
    down by 1e15 nats)."""
    unit = np.finfo(np.float64).eps * float(np.max(np.abs(y), initial=0.0))
    raise_if_unresolved(prior, e_alpha, unit, residual_shift(e_alpha, unit, r, e, nu))


def residual_shift(e_alpha, unit, r, e, nu):
    """The largest relative change of a Student-t weight that a change of ``unit`` in
    the residuals ``r`` causes (:func:`check_residual_resolution`)."""
    shift = e_alpha * unit * (2.0 * np.abs(r) + unit) / (nu + e_alpha * e)
    return float(np.max(shift, initial=0.0))


def raise_if_unresolved(prior, e_alpha, unit, shift):
    """The error of :func:`check_residual_resolution` if ``shift`` is too large."""
    if shift > RESIDUAL_RESOLUTION:
        raise ValueError(
            f"Student-t noise: the noise precision reached {e_alpha:.3g} (a noise "
            f"standard deviation of {e_alpha**-0.5:.3g}) while the residuals are "
            f"known to {unit:.3g}, the rounding units of y: float64 residuals cannot "
            "resolve the per-sample precisions. y is fitted (almost) exactly, or the "
            f"noise hyperprior forces it (alpha_1={prior.alpha_1:g}, "
            f"alpha_2={prior.alpha_2:g}): use noise='gaussian', a smaller alpha_1 or a "
            "larger alpha_2."
        )


def tau_update(prior, data, t, post, e_alpha, nu):
    r"""The block :math:`(\nu, q(\tau))` of target ``t`` given :math:`q(\theta)` and
    :math:`\alpha`, and the statistics of the new weights :math:`d_n = s_n\mathbb E[\tau_n]`
    (the Student-t E-step).

    With :math:`e_n = \mathbb E_q(y_n - z_n^\top\theta)^2` and
    :math:`c_n = \mathbb E[\alpha] e_n`, the optimal factor is
    :math:`q(\tau_n) = \mathrm{Gam}((\nu+1)/2, (\nu + c_n)/2)` (Tipping and Lawrence
    2005), and the objective maximised over it is, in :math:`\nu`, the collapsed
    Student-t term of :func:`_df_objective`; :math:`\nu` maximises that (one pass
    over :math:`c`; only when ``prior.df`` is None), then :math:`q(\tau)` follows: an exact
    maximisation over the block, which needs far fewer iterations than alternating
    :math:`\nu` and :math:`q(\tau)` (the ECME idea of Liu and Rubin 1995). With ``post``
    None (initialisation) every :math:`\mathbb E[\tau_n] = 1` and :math:`\nu` stays.

    Returns
    -------
    stats : GramStats or KernelStats
        The statistics of the :math:`q(\theta)` update under the new weights.
    nu : float
        The degrees of freedom.
    current : TargetPosterior or None
        ``post`` re-summarised under the new :math:`q(\tau)`: the reference objective of
        this iteration and the input of the precision updates (None at initialisation).
    """
    y = data.Yc[:, t]
    if post is not None:
        if data.kernel:
            r, qn = post.residuals, post.residual_var
        else:
            r, qn = residual_pass(data.X, data.x_offset, y, post.mean, post.chol,
                                   data.intercept)  # fmt: skip
        r2 = r * r
        e = r2 + qn
        check_residual_resolution(prior, e_alpha, y, r, e, nu)
        if prior.df is None:
            nu = update_df(data.s, e_alpha * e, nu)
        a_tau = 0.5 * (nu + 1.0)
        b = 0.5 * nu + 0.5 * e_alpha * e
    else:
        a_tau = 0.5 * (nu + 1.0)
        b = np.full(data.n_samples, a_tau)
    weights = data.s * (a_tau / b)
    tau = TauSummary(
        np.array([a_tau]),
        np.array([data.s @ np.log(b)]),
        np.array([data.s @ expm1_minus(np.log(a_tau) - np.log(b))]),
    )
    if data.kernel:
        stats = KernelStats(weights, y, tau=tau)
    else:
        m0 = post.mean if post is not None else np.zeros(data.p)
        gram, zty = weighted_gram(data.X, data.x_offset, y, weights, data.intercept)
        if post is not None:
            sdr2, ztdr = weights @ r2, zty - gram @ m0
        else:
            sdr2, ztdr = weights @ (y * y), zty
        stats = GramStats(gram, zty, m0, sdr2, ztdr, tau=tau)
    if post is None:
        return stats, nu, None
    sse = np.array([weights @ r2])
    if data.joint_intercept:
        sse = sse + INTERCEPT_PRIOR * post.mean[-1] ** 2
    summary = post.summary._replace(Q=np.array([weights @ e]), sse=sse)
    return stats, nu, post._replace(summary=summary, tau=tau)


# ---------------------------------------------------- stopping rule on the coefficients
def scaled_coef_means(data, coef):
    r"""The posterior means of the coefficients times the scales of their features,
    one row per target, so that their changes do not depend on the units of the
    features: ridge (a :class:`RidgePosterior`), :math:`\sqrt{e_k}\tilde m_k` in the
    eigenbasis of the Gram matrix (whose 2-norm is that of the fitted values
    :math:`X_c m`); otherwise :math:`\sqrt{G_{jj}}\,m_j`."""
    if isinstance(coef, RidgePosterior):
        return coef.mean_eig * np.sqrt(data.spectrum.eigenvalues)[None, :]
    scale = np.sqrt(data.col_ss)
    return np.array([post.mean[: data.n_features] * scale for post in coef])


def track_coef(track, m):
    r"""The :class:`CoefTrack` after the scaled means ``m`` (:func:`scaled_coef_means`);
    ``track`` None starts one.

    The remaining distance to the fixed point, relative to the 2-norm of the means (the
    largest over targets): with :math:`\Delta_k = m_k - m_{k-1}` and the ratio of the last
    two steps along the previous one, :math:`\lambda = \Delta_k^\top\Delta_{k-1} /
    \|\Delta_{k-1}\|^2`, a linearly converging sequence has
    :math:`\Delta_{k+i} \approx \lambda^i \Delta_k`, so the remaining distance is
    about :math:`\|\Delta_k\| |\lambda| / (1 - \lambda)`: the geometric tail when
    the steps keep their direction (:math:`\lambda > 0`), at most half a step when
    they alternate (:math:`\lambda < 0`, as ARD's updates of irrelevant features do).
    Infinite while :math:`\lambda \ge 1` or before two steps."""
    if track is None:
        return CoefTrack(m, None, np.inf)
    step = m - track.previous
    size = np.linalg.norm(step, axis=1)
    remaining = np.full(size.shape, np.inf)
    if track.step is not None:
        prev = track.step
        with np.errstate(divide="ignore", invalid="ignore"):
            lam = np.einsum("ij,ij->i", step, prev) / np.einsum("ij,ij->i", prev, prev)
            remaining = np.where(lam < 1.0, size * np.abs(lam) / (1.0 - lam), np.inf)
    remaining = np.where(size == 0.0, 0.0, remaining)
    norm = np.linalg.norm(m, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(remaining == 0.0, 0.0, remaining / norm)
    return CoefTrack(m, step, float(np.max(rel)) if rel.size else 0.0)


# ------------------------------------------------------------------ the predictive
def _orthogonal_complement(V):
    """An orthonormal basis (columns) of the complement of the orthonormal columns of
    ``V``: the last columns of the complete QR factor of ``V``."""
    d, r = V.shape
    if r == d:
        return np.zeros((d, 0))
    Q, _ = np.linalg.qr(V, mode="complete")
    return Q[:, r:]


def coefficient_posterior(data, state):
    r"""The posterior means and covariances of the coefficients and the intercept of
    every target, in the coordinates of the centred data.

    Ridge prior with Gaussian noise: :math:`\Sigma = V\mathrm{diag}(1/h)V^\top +
    NN^\top/\mathbb E[\lambda]` with :math:`N` an orthonormal basis of the directions
    without data: a sum of positive terms (the form :math:`V\mathrm{diag}(1/h -
    1/\lambda)V^\top + I/\lambda` cancels when the data dominate). Otherwise the
    covariance of :math:`q(\theta)` (Gram: :math:`R^\top R`; Woodbury:
    :func:`covariance_kernel`).

    Returns ``(coef, sigma, mean_b, var_b, cov_wb)``, shapes (T, d), (T, d, d), (T,),
    (T,), (T, d); ``mean_b`` is :math:`\mathbb E[b] - \bar y`, ``sigma`` symmetrised.
    """
    T, d = data.n_targets, data.n_features
    q = state.precisions
    coef = np.empty((T, d))
    sigma = np.empty((T, d, d))
    cov_wb = np.zeros((T, d))
    var_b = np.zeros(T)
    mean_b = np.zeros(T)
    if isinstance(state.coef, RidgePosterior):
        e_alpha = q.alpha_shape / q.alpha_rate
        e_lambda = q.lambda_shape / q.lambda_rate
        basis = data.spectrum.basis
        post = state.coef
        null = _orthogonal_complement(basis)
        for t in range(T):
            coef[t] = basis @ post.mean_eig[t]
            h = e_alpha[t] * data.spectrum.eigenvalues + e_lambda[t, 0]
            sigma[t] = (basis / h) @ basis.T
            if null.shape[1]:
                sigma[t] += (null / e_lambda[t, 0]) @ null.T
        var_b[:] = post.var_b
    else:
        for t, post in enumerate(state.coef):
            if data.kernel:
                cov = covariance_kernel(data.Z, post.beta, post.prior_precision)
            else:
                cov = post.chol.T @ post.chol
            coef[t] = post.mean[:d]
            sigma[t] = cov[:d, :d]
            if data.joint_intercept:
                mean_b[t] = post.mean[d]
                var_b[t] = cov[d, d]
                cov_wb[t] = cov[:d, d]
            else:
                var_b[t] = post.var_b[0]
    sigma = 0.5 * (sigma + np.swapaxes(sigma, 1, 2))
    return coef, sigma, mean_b, var_b, cov_wb


def predictive_parameters(data, state, point):
    r"""The :class:`Predictive` of a fitted state, and the intercept's standard deviation.

    The intercept in the coordinates of ``X`` is :math:`\mathbb E[b] - \bar x^\top
    \mathbb E[w]`, its variance :math:`\mathrm{Var}(b) - 2\bar x^\top\mathrm{Cov}(w, b)
    + \bar x^\top\Sigma\bar x`. The degrees of freedom of the predictive Student-t are
    :math:`\nu` with Student-t noise; with Gaussian noise, infinite ('vem', ``point``) or
    :math:`2a_\alpha` ('vbem': the noise precision integrated out, Drugowitsch 2013).
    Returns ``(Predictive, intercept_std)``.
    """
    q = state.precisions
    coef, sigma, mean_b, var_b, cov_wb = coefficient_posterior(data, state)
    x_off = data.x_offset
    intercept = data.y_offset + mean_b - coef @ x_off
    intercept_var = var_b - 2.0 * cov_wb @ x_off + np.einsum("i,tij,j->t", x_off, sigma, x_off)
    if data.mode == "student":
        dof = state.df.copy()
    elif point:
        dof = np.full(data.n_targets, np.inf)
    else:
        dof = np.full(data.n_targets, 2.0 * q.alpha_shape)
    pred = Predictive(
        x_off, coef, intercept, sigma, cov_wb, var_b, 1.0 / (q.alpha_shape / q.alpha_rate),
        np.asarray(dof, dtype=np.float64),
    )  # fmt: skip
    return pred, np.sqrt(np.maximum(intercept_var, 0.0))


def predictive_mean(pred, X):
    """The mean of the predictive distribution, shape (n_samples, n_targets)."""
    return X @ pred.coef.T + pred.intercept[None, :]


def predictive(pred, X):
    r"""Mean, squared scale and degrees of freedom of the predictive Student-t, shapes
    (n, T), (n, T), (T,): the scale is :math:`\sqrt{v + 1/\mathbb E[\alpha]}` with
    :math:`v = \mathrm{Var}_q[(x-\bar x)^\top w + b] = (x-\bar x)^\top\Sigma(x-\bar x) +
    2(x-\bar x)^\top\mathrm{Cov}(w, b) + \mathrm{Var}(b)`, in row blocks."""
    mean = predictive_mean(pred, X)
    n, T = mean.shape
    var = np.empty((n, T))
    for start, stop in _blocks(n):
        xc = X[start:stop] - pred.x_offset
        for t in range(T):
            var[start:stop, t] = (
                np.einsum("ij,ij->i", xc @ pred.sigma[t], xc)
                + 2.0 * xc @ pred.cov_wb[t]
                + pred.var_b[t]
            )
    scale2 = np.maximum(var, 0.0) + pred.noise_var[None, :]
    return mean, scale2, pred.dof


def predictive_std(scale2, dof):
    """The standard deviation of the predictive Student-t: ``scale * sqrt(dof / (dof -
    2))``, infinite when ``dof <= 2``, the scale itself for a Gaussian (``dof = inf``)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.where(dof > 2.0, dof / (dof - 2.0), np.inf)
    factor = np.where(np.isinf(dof), 1.0, factor)
    return np.sqrt(scale2 * factor[None, :])


def predictive_interval(mean, scale2, dof, coverage):
    """The central interval of probability ``coverage`` of the predictive Student-t
    (Gaussian where ``dof`` is infinite): ``(lower, upper)``."""
    q = np.array(
        [stats.norm.ppf(0.5 + 0.5 * coverage) if np.isinf(v)
         else stats.t.ppf(0.5 + 0.5 * coverage, v) for v in dof]
    )  # fmt: skip
    half = q[None, :] * np.sqrt(scale2)
    return mean - half, mean + half


def sample_precisions(pred, X, Y, df, e_alpha):
    r""":math:`\mathbb E[\tau_n] = \tfrac{\nu + 1}2 / (\tfrac\nu2 + \tfrac12\mathbb E[\alpha]
    e_n)` of every row at the fitted :math:`q(w, b)`, :math:`\alpha` and :math:`\nu`, with
    :math:`e_n = \mathbb E_q(y_n - (x_n - \bar x)^\top w - b)^2`; shape (n, T)."""
    mean, scale2, _ = predictive(pred, X)
    e = (Y - mean) ** 2 + (scale2 - pred.noise_var[None, :])
    return (0.5 * (df + 1.0)) / (0.5 * df + 0.5 * e_alpha * e)


def predict_rows(pred, return_std, X):
    """Predictive mean (and standard deviation) of the rows ``X``: a tuple of (n, T)."""
    if not return_std:
        return (predictive_mean(pred, X),)
    mean, scale2, dof = predictive(pred, X)
    return mean, predictive_std(scale2, dof)


def interval_rows(pred, coverage, X):
    """The central interval of :func:`predictive` of the rows ``X``: ``(lower, upper)``."""
    return predictive_interval(*predictive(pred, X), coverage)
