"""The numerical steps of :class:`skvi.VariationalEMRegressor`: the passes over ``X``
(weighted Gram matrix and statistics, residual sums, in row blocks, ``X`` never copied or
modified), the posterior of the coefficients in the Gram, spectral and Woodbury forms, the
Gamma KL sums and the degrees-of-freedom update of the Student-t noise.

BLAS on blocks of centred rows was faster than a fused Numba kernel for the Student-t
statistics when this was written (a development comparison, not kept in the repository),
so these are NumPy/SciPy; there is no Numba here beyond the special functions of
:mod:`skvi._special`. Nothing here imports scikit-learn.
"""

import math
from contextlib import nullcontext

import numpy as np
from scipy.linalg import blas, lapack

from ._jit import single_threaded_blas
from ._special import kl_gamma

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

#: Matrices up to this size are factorised with one BLAS thread: faster on the project's
#: 2-core machines, and much faster when another process holds a core
#: (PERFORMANCE_NOTES; 200 x 200 Cholesky and inverse: 0.6 ms against 0.9-11 ms). The
#: passes over X use the default thread pool.
SMALL_MATRIX = 512


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
            if wide:
                ones = np.ones((self.n_samples, 1))
                self.Z = np.hstack([Xc, ones]) if self.joint_intercept else Xc
            else:
                self.col_ss = _weighted_column_ss(X, x_offset, s)
            return
        if wide:
            e, V, ct = self._kernel_spectrum(Xc)
        else:
            G, C, shift = _gram_statistics(X, x_offset, s, self.Yc, self.intercept)
            self.x_offset = x_offset + shift
            with factor_threads(d):
                e, V = np.linalg.eigh(G)
            pos = e > max(e[-1], 0.0) * d * np.finfo(np.float64).eps
            e, V = e[pos], V[:, pos]
            ct = V.T @ C
            self.col_ss = np.einsum("ij,j,ij->i", V, e, V)
        self._basis, self._eigenvalues = V, e
        self.beta_ols = V @ (ct / e[:, None])
        if not wide:
            self.r_ols = _weighted_rss(X, self.x_offset, s, self.Yc, self.beta_ols)
        ct = ct.T  # (T, r)
        self.eig = {"e": e, "ct": ct, "ct2e": ct * ct / e, "n_zero": d - e.shape[0],
                    "r_ols": self.r_ols}  # fmt: skip
        self.kernel = e.shape[0] < d
        if self.mode == "ard":
            if self.kernel:
                self.Z = np.ascontiguousarray(V.T)
            else:
                self.G = (V * e) @ V.T
                self.C = V @ ct.T

    def _kernel_spectrum(self, Xc):
        """Fewer samples than features: the non-zero eigenvalues of G and their
        eigenvectors from :math:`\\tilde X\\tilde X^\\top = U\\mathrm{diag}(e)U^\\top`,
        :math:`\\tilde X = \\sqrt{s}X_c`: :math:`V = \\tilde X^\\top U/\\sqrt e`,
        :math:`\\tilde c = \\sqrt e\\,U^\\top\\tilde y`, and the residual sum of squares of
        least squares :math:`\\|\\tilde y - UU^\\top\\tilde y\\|^2`."""
        sq = np.sqrt(self.s)
        Xt = Xc * sq[:, None]
        Yt = self.Yc * sq[:, None]
        with factor_threads(Xt.shape[0]):
            e, U = np.linalg.eigh(Xt @ Xt.T)
        pos = e > max(e[-1], 0.0) * max(Xt.shape) * np.finfo(np.float64).eps
        e, U = e[pos], U[:, pos]
        uy = U.T @ Yt
        resid = Yt - U @ uy
        self.r_ols = np.sum(resid * resid, axis=0)
        return e, (Xt.T @ U) / np.sqrt(e), np.sqrt(e)[:, None] * uy

    def eig_basis(self):
        """The eigenvectors of the Gram matrix with non-zero eigenvalue (columns)."""
        return self._basis

    def gram_quadratic(self, v):
        """:math:`v^\\top G v` as the sum of non-negative terms
        :math:`\\sum_k e_k (V^\\top v)_k^2`: accurate to rounding relative to the result,
        which matters when the noise precision is large (a near-exact fit)."""
        vt = self._basis.T @ v
        return float(self._eigenvalues @ (vt * vt))

    def gaussian_stats(self, t):
        """Statistics of the Gaussian-noise update of target ``t`` (fixed over iterations):
        the Gram form, or the r eigen-directions as weighted pseudo-samples."""
        if self.kernel:
            e = self._eigenvalues
            return {"weights": e, "y": self.eig["ct"][t] / e, "rss0": self.r_ols[t]}
        return {"gram": self.G, "zty": self.C[:, t]}


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


def _gram_statistics(X, x_offset, s, Yc, intercept):
    r"""One pass over X: :math:`G = \sum_n s_n (x_n - \bar x)(x_n - \bar x)^\top` and
    :math:`C = \sum_n s_n (x_n - \bar x) y_{c,n}^\top`, each block centred in float64.

    The pass also sums :math:`g = \sum_n s_n (x_n - \bar x)`, which is zero up to the
    rounding of :math:`\bar x`; the returned statistics are those of the corrected mean
    :math:`\bar x + g/N` (the second pass of the two-pass algorithm), and so is ``shift``.
    """
    d = X.shape[1]
    G = np.zeros((d, d))
    C = np.zeros((d, Yc.shape[1]))
    g = np.zeros(d)
    unit = bool(np.all(s == 1.0))
    for start, stop in _blocks(X.shape[0]):
        xb = X[start:stop] - x_offset
        if unit:
            G += xb.T @ xb
            C += xb.T @ Yc[start:stop]
            g += xb.sum(axis=0)
        else:
            sb = s[start:stop]
            xs = xb * np.sqrt(sb)[:, None]
            G += xs.T @ xs
            C += xb.T @ (sb[:, None] * Yc[start:stop])
            g += sb @ xb
    G = 0.5 * (G + G.T)
    if not intercept:
        return G, C, np.zeros(d)
    N = s.sum()
    shift = g / N
    G -= N * np.outer(shift, shift)
    # sum_n s_n y_c = 0, so C needs no correction
    return G, C, shift


def _weighted_column_ss(X, x_offset, s):
    """:math:`\\sum_n s_n (x_{nj} - \\bar x_j)^2` per feature, one pass."""
    out = np.zeros(X.shape[1])
    for start, stop in _blocks(X.shape[0]):
        xb = X[start:stop] - x_offset
        out += s[start:stop] @ (xb * xb)
    return out


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


def add_gaussian_intercept(data, post, e_alpha):
    """With Gaussian noise and weighted-centred data, :math:`q(b) = \\mathcal N(\\bar y,
    1/(\\mathbb E[\\alpha](N + \\kappa_0)))` is independent of :math:`q(w)`; add its terms."""
    if not data.intercept:
        post["Eb2"] = np.zeros_like(post["Q"])
        post["var_b"] = np.zeros_like(post["Q"])
        return
    var_b = 1.0 / (e_alpha * (data.N + INTERCEPT_PRIOR))
    post["var_b"] = var_b
    post["Eb2"] = var_b
    post["Q"] = post["Q"] + data.N * var_b
    post["logdet"] = post["logdet"] + np.log(var_b)


def select(take, a, b):
    """Per target, ``a`` where ``take`` else ``b`` (targets on the first axis)."""
    if np.ndim(a) == 0:
        return a
    shape = (take.shape[0],) + (1,) * (np.ndim(a) - 1)
    return np.where(take.reshape(shape), a, b)


def _cholesky_or_eigh(A):
    """Factor the symmetric positive (semi-)definite ``A`` (unit diagonal after Jacobi
    scaling): returns ``(W, log_det)`` with ``A^{-1} = W^T W``. Cholesky, or an
    eigendecomposition with the eigenvalues floored at ``eps * max`` when Cholesky
    fails on a numerically singular matrix."""
    L, info = lapack.dpotrf(A, lower=1, clean=1)
    if info == 0:
        Linv, info = lapack.dtrtri(L, lower=1)
        if info == 0:
            return Linv, 2.0 * np.sum(np.log(np.diagonal(L)))
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

    Returns ``(m, diag(Sigma), ln|Sigma|, gamma, q)`` with :math:`\gamma_j = 1 -
    \pi_j\Sigma_{jj}` and :math:`q_n = z_n^\top\Sigma z_n`.
    """
    if Z.shape[0] == 0:  # no data direction: the posterior is the prior
        zero = np.zeros_like(prior)
        return zero, 1.0 / prior, -np.sum(np.log(prior)), zero, np.zeros(0)
    Zp, M, log_det_k = _kernel_factor(Z, beta, prior)
    B = M @ Z
    bj = np.einsum("ij,ij->j", B, B)  # z_j^T K^{-1} z_j
    gamma = bj / prior
    diag = (1.0 - gamma) / prior
    m = Zp.T @ (M.T @ (M @ y))
    kinv_diag = np.einsum("ij,ij->j", M, M)
    q = 1.0 / beta - kinv_diag / (beta * beta)
    log_det = -np.sum(np.log(prior)) - np.sum(np.log(beta)) - log_det_k
    return m, diag, log_det, gamma, np.maximum(q, 0.0)


def covariance_kernel(Z, beta, prior):
    """The full covariance of :func:`posterior_kernel`'s Gaussian."""
    if Z.shape[0] == 0:
        return np.diag(1.0 / prior)
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
    """:math:`Z^\\top D Z` and :math:`Z^\\top D y` with :math:`D = \\mathrm{diag}(d_n)`:
    one pass, one BLAS product per block."""
    n, d = X.shape
    p = d + int(intercept)
    gram = np.zeros((p, p))
    zty = np.zeros(p)
    for start, stop in _blocks(n):
        zb = _design_block(X, x_offset, start, stop, intercept)
        dn = weights[start:stop]
        zs = zb * np.sqrt(dn)[:, None]
        gram += zs.T @ zs
        zty += zb.T @ (dn * y[start:stop])
    return 0.5 * (gram + gram.T), zty


def _design_block(X, x_offset, start, stop, intercept):
    """Rows ``start:stop`` of :math:`Z = [X - \\bar x, 1]` in float64 (the column of ones
    only with an intercept)."""
    d = X.shape[1]
    zb = np.empty((stop - start, d + int(intercept)))
    np.subtract(X[start:stop], x_offset, out=zb[:, :d])
    if intercept:
        zb[:, d] = 1.0
    return zb


def sum_kl_gamma(shape_q, rates_q, shape_p, rate_p, weights=None):
    r""":math:`\sum_j w_j\,\mathrm{KL}(\mathrm{Gam}(a, b_j)\|\mathrm{Gam}(a_0, b_0))` for a
    shared shape :math:`a`, from :func:`skvi._special.kl_gamma` and the identity

    .. math::

        \mathrm{KL}(a, b) = \mathrm{KL}(a, b_0) + a_0\ln(b/b_0) + a(b_0/b - 1),

    whose terms are all of the size of the result (a reference rate far from the
    :math:`b_j`, such as 1, would add and subtract terms of size :math:`a b_0`)."""
    rates_q = np.asarray(rates_q, dtype=np.float64)
    w = np.ones_like(rates_q) if weights is None else weights
    total = float(np.sum(w))
    return float(
        total * kl_gamma(shape_q, rate_p, shape_p, rate_p)
        + shape_p * (w @ np.log(rates_q / rate_p))
        + shape_q * (rate_p * (w @ (1.0 / rates_q)) - total)
    )


def kl_tau_sum(a_tau, df, N, S3, S4):
    r""":math:`\sum_n s_n\,\mathrm{KL}(\mathrm{Gam}(a, b_n)\|\mathrm{Gam}(\nu/2, \nu/2))`
    from :math:`S_3 = \sum s_n\ln b_n`, :math:`S_4 = \sum s_n/b_n` (arrays over targets),
    by the identity of :func:`sum_kl_gamma`."""
    out = np.empty(len(a_tau))
    for t in range(len(a_tau)):
        half = 0.5 * df[t]
        out[t] = (
            N * kl_gamma(a_tau[t], half, half, half)
            + half * (S3[t] - N * math.log(half))
            + a_tau[t] * (half * S4[t] - N)
        )
    return out


def _df_objective(nu, s, c):
    r"""The objective as a function of :math:`\nu` once :math:`q(\tau)` is optimal:
    :math:`\sum_n s_n [\ln\Gamma(\tfrac{\nu+1}2) - \ln\Gamma(\tfrac\nu2)
    + \tfrac\nu2\ln\tfrac\nu2 - \tfrac{\nu+1}2\ln\tfrac{\nu + c_n}2]`, the
    log normaliser of :math:`\mathrm{Gam}(\tau\mid\nu/2,\nu/2)\,\tau^{1/2}
    e^{-c_n\tau/2}` (a Student-t log density up to terms free of :math:`\nu`)."""
    half = 0.5 * nu
    const = math.lgamma(half + 0.5) - math.lgamma(half) + half * math.log(half)
    return float(np.sum(s) * const - (half + 0.5) * (s @ np.log(half + 0.5 * c)))


def update_df(s, c, nu_old):
    """The degrees of freedom maximising :func:`_df_objective` within :data:`DF_RANGE`
    (bounded Brent search on :math:`\\ln\\nu`); the old value is kept if the new
    one is not better."""
    from scipy.optimize import minimize_scalar

    lo, hi = math.log(DF_RANGE[0]), math.log(DF_RANGE[1])
    res = minimize_scalar(
        lambda u: -_df_objective(math.exp(u), s, c),
        bounds=(lo, hi),
        method="bounded",
        options={"xatol": 1e-6},
    )
    nu = math.exp(res.x)
    return nu if _df_objective(nu, s, c) >= _df_objective(nu_old, s, c) else nu_old
