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
from scipy.special import gammaln

from ._jit import single_threaded_blas
from ._special import digamma

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
            if self.kernel:
                ones = np.ones((self.n_samples, 1))
                self.Z = np.hstack([Xc, ones]) if self.joint_intercept else Xc
            elif not wide:
                self.col_ss = _weighted_column_ss(X, x_offset, s)
            return
        if wide:
            F, ct_rows = self._kernel_factor(Xc)
        else:
            G, C, shift = _gram_statistics(X, x_offset, s, self.Yc, self.intercept)
            self.x_offset = x_offset + shift
            F = _scaled_factor(G, self.x_offset, self.N)
        # G (cleaned) = F^T F: its eigenvectors are the right singular vectors of F, and
        # its eigenvalues the squared singular values, resolved relative to the largest
        # singular value (not to the largest eigenvalue, as eigh(G) would)
        with factor_threads(d):
            P, sv, Wt = np.linalg.svd(F, full_matrices=False)
        keep = sv > 0.0
        P, sv, V = P[:, keep], sv[keep], np.ascontiguousarray(Wt[keep].T)
        e = sv * sv
        ct = sv[:, None] * (P.T @ ct_rows) if wide else V.T @ C
        self.col_ss = np.einsum("ij,ij->j", F, F)
        self._basis, self._eigenvalues = V, e
        self.beta_ols = V @ (ct / e[:, None])
        if not wide:
            self.r_ols = _weighted_rss(X, self.x_offset, s, self.Yc, self.beta_ols)
        ct = ct.T  # (T, r)
        ct_scaled = ct / np.sqrt(e)
        self.eig = {"e": e, "ct": ct, "ct2e": ct_scaled * ct_scaled, "n_zero": d - e.shape[0],
                    "r_ols": self.r_ols}  # fmt: skip
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
    half = 0.5 * nu
    # = N[lnG(h + 1/2) - lnG(h) - ln(h)/2] - (h + 1/2) sum s ln(1 + c/(2h)): the terms of
    # size h N of the expanded form cancel analytically (large nu)
    const = log_gamma_ratio(half, 0.5) - 0.5 * math.log(half)
    return float(np.sum(s) * const - (half + 0.5) * (s @ np.log1p(0.5 * c / half)))


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


# ------------------------------------------- Gamma terms without cancellation
#: Above this argument the Stirling series below are used (their first omitted term is
#: below 1e-16 relative there).
_STIRLING_MIN = 30.0


def stirling_remainder(x):
    r""":math:`\varphi(x) = \ln\Gamma(x) - (x - \tfrac12)\ln x + x - \tfrac12\ln 2\pi`
    (about :math:`1/(12x)`), from its asymptotic series for :math:`x \ge 30` and from
    ``gammaln`` below, elementwise."""
    x = np.asarray(x, dtype=np.float64)
    big = x >= _STIRLING_MIN
    xb = np.where(big, x, _STIRLING_MIN)
    z = 1.0 / (xb * xb)
    series = (1.0 / 12.0 - z * (1.0 / 360.0 - z * (1.0 / 1260.0 - z / 1680.0))) / xb
    xs = np.where(big, 1.0, x)
    direct = gammaln(xs) - (xs - 0.5) * np.log(xs) + xs - 0.5 * math.log(2.0 * math.pi)
    return np.where(big, series, direct)


def digamma_minus_log(x):
    r""":math:`\psi(x) - \ln x` (about :math:`-1/(2x)`), from its asymptotic series for
    :math:`x \ge 30`, elementwise."""
    x = np.asarray(x, dtype=np.float64)
    big = x >= _STIRLING_MIN
    xb = np.where(big, x, _STIRLING_MIN)
    z = 1.0 / (xb * xb)
    series = -0.5 / xb - z * (1.0 / 12.0 - z * (1.0 / 120.0 - z / 252.0))
    xs = np.where(big, 1.0, x)
    direct = np.array([digamma(v) for v in np.ravel(xs)]).reshape(xs.shape) - np.log(xs)
    return np.where(big, series, direct)


def expm1_minus(t):
    r""":math:`e^t - 1 - t \ge 0` to full relative accuracy (Taylor series for
    :math:`|t| < 0.25`), elementwise."""
    t = np.asarray(t, dtype=np.float64)
    small = np.abs(t) < 0.25
    ts = np.where(small, t, 0.0)
    term, series = ts * ts / 2.0, np.zeros_like(ts)
    for k in range(3, 16):
        series = series + term
        term = term * ts / k
    with np.errstate(over="ignore"):
        return np.where(small, series, np.expm1(np.where(small, 0.0, t)) - t)


def log_gamma_ratio(a, c):
    r""":math:`\ln\Gamma(a + c) - \ln\Gamma(a)` for :math:`a > 0, c \ge 0`, without the
    cancellation of two large log-gamma values when :math:`a` is large:
    :math:`(a - \tfrac12)\ln(1 + c/a) + c\ln(a + c) - c + \varphi(a + c) - \varphi(a)`."""
    a, c = float(a), float(c)
    A = a + c
    if a < _STIRLING_MIN:
        return float(gammaln(A) - gammaln(a))
    return float(
        (a - 0.5) * math.log1p(c / a) + c * math.log(A) - c
        + stirling_remainder(A) - stirling_remainder(a)
    )  # fmt: skip


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
