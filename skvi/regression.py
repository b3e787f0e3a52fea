r"""Bayesian linear regression by variational EM and variational Bayes EM.

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

Every fit is coordinate ascent on one objective (the ELBO, plus the log hyperpriors of
the point estimates under ``method='vem'``); see :class:`VariationalEMRegressor`.
"""

import math
from numbers import Integral, Real

import numpy as np
from scipy import stats
from sklearn.base import RegressorMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from ._base import VariationalEstimator
from ._regression_kernels import (
    BLOCK_ROWS,
    DF_INIT,
    INTERCEPT_PRIOR,
    RegressionData,
    add_gaussian_intercept,
    covariance_kernel,
    default_lambda,
    expm1_minus,
    factor_threads,
    gamma_factor_terms,
    posterior_gram,
    posterior_kernel,
    residual_pass,
    select,
    tau_terms,
    update_df,
    weighted_gram,
)

_LOG_2PI = math.log(2.0 * math.pi)


#: Largest magnitude accepted for the entries of ``X`` and ``y`` and for the sum of the
#: sample weights. Products of three such numbers (a weighted sum of squares times a
#: precision) stay far inside the float64 range; the tests fit every configuration with
#: ``X``, ``y`` and the weights at this limit together.
VALUE_LIMIT = 1e50

#: With Student-t noise, the largest relative change of a per-sample weight that the
#: rounding of the residuals (``eps * max|y - mean(y)|``) may cause: beyond it the
#: weights are set by rounding and the objective can go down
#: (tests/test_regression.py::test_student_t_noise_below_the_rounding_of_y_raises).
RESIDUAL_RESOLUTION = 1e-9


def _check_magnitudes(X, y, s):
    """Raise a ValueError naming the input whose magnitude exceeds :data:`VALUE_LIMIT`
    (beyond it, sums of squares and their products overflow float64)."""
    for name, value in (
        ("X", float(np.max(np.abs(X)))),
        ("y", float(np.max(np.abs(y)))),
        ("sample_weight (sum)", float(np.sum(s))),
    ):
        if not value <= VALUE_LIMIT:
            raise ValueError(
                f"{name} has magnitude {value:.3g}, above the limit {VALUE_LIMIT:g} of "
                "VariationalEMRegressor (its sums of squares would overflow float64); "
                "rescale it."
            )


def _orthogonal_complement(V):
    """An orthonormal basis (columns) of the complement of the orthonormal columns of
    ``V``: the last columns of the complete QR factor of ``V``."""
    d, r = V.shape
    if r == d:
        return np.zeros((d, 0))
    Q, _ = np.linalg.qr(V, mode="complete")
    return Q[:, r:]


class VariationalEMRegressor(RegressorMixin, VariationalEstimator):
    r"""Bayesian linear regression fitted by variational EM or variational Bayes EM.

    The estimator shows the difference between the rows of the variational EM table:
    the coefficients :math:`w`, the intercept :math:`b` and (Student-t noise) one precision
    :math:`\tau_n` per sample are latent variables with a variational posterior; the noise
    precision :math:`\alpha` and the weight precisions :math:`\lambda` are point estimates
    maximising the ELBO plus their log hyperprior (``method='vem'``, the M-step of
    variational EM), or get Gamma variational factors too (``method='vbem'``, variational
    Bayes EM; Bishop, PRML section 10.3; Drugowitsch 2013). With Gaussian noise and
    ``'vem'`` the family contains the exact posterior of :math:`w` and the fit is
    type-II maximum likelihood (with hyperpriors) as in
    :class:`~sklearn.linear_model.BayesianRidge` / :class:`~sklearn.linear_model.ARDRegression`.

    The model, per target:

    .. math::

        y_n &\sim \mathcal N\big((x_n - \bar x)^\top w + b,\; (\alpha\tau_n)^{-1}\big),\quad
        w_j \sim \mathcal N(0, \lambda_j^{-1}),\quad
        b \sim \mathcal N\big(\bar y, (\kappa_0\alpha)^{-1}\big),\\
        \alpha &\sim \mathrm{Gam}(\alpha_1, \alpha_2),\quad
        \lambda_j \sim \mathrm{Gam}(\lambda_1, \lambda_2),\quad
        \tau_n \sim \mathrm{Gam}(\nu/2, \nu/2)

    (rate parameterisation), where :math:`\lambda_j = \lambda` under ``prior='ridge'``,
    :math:`\tau_n = 1` under ``noise='gaussian'``, and :math:`\bar x, \bar y` are the
    weighted training means (so :math:`b` is the response at :math:`\bar x`). The intercept
    is part of the Bayesian model with a broad prior (:math:`\kappa_0 = 10^{-6}`, a prior
    standard deviation of 1000 noise standard deviations around :math:`\bar y`); its
    posterior variance enters ``intercept_std_`` and the predictive standard deviation.

    Parameters
    ----------
    method : {'vem', 'vbem'}, default='vem'
        ``'vem'``: :math:`\alpha, \lambda` are point estimates (MAP of :math:`\ln\alpha`
        and :math:`\ln\lambda` under the Gamma hyperpriors, the convention of
        BayesianRidge). ``'vbem'``: Gamma variational factors
        :math:`q(\alpha)\,q(\lambda)`.
    prior : {'ridge', 'ard'}, default='ridge'
        One weight precision, or one per feature (automatic relevance determination:
        the precisions of irrelevant features grow until their coefficients vanish).
    noise : {'gaussian', 'student_t'}, default='gaussian'
        Gaussian noise, or Student-t noise as a Gamma scale mixture with a latent
        precision :math:`\tau_n` per sample (Tipping and Lawrence 2005): robust
        regression. Outliers get small :math:`\mathbb E[\tau_n]`
        (``sample_precisions_``).
    df : float or None, default=None
        Degrees of freedom :math:`\nu` of the Student-t noise. None: learned in the
        M-step (a point estimate maximising the ELBO, within [0.1, 1e4], starting at 4).
        Ignored with Gaussian noise.
    max_iter : int, default=300
        Maximum number of iterations.
    tol : float, default=1e-6
        Convergence threshold on the change of the objective **per sample** (nats,
        per unit of sample weight) between two iterations. The fit stops when both this
        test and the ``coef_tol`` test pass (``tol=0``: run ``max_iter`` iterations).
    coef_tol : float, default=1e-8
        Convergence threshold on the coefficients: the estimated remaining distance of
        the posterior means to their fixed point, relative to their 2-norm, each
        coefficient multiplied by the scale of its feature (so the test does not depend
        on the units of the features; for the ridge prior, the 2-norm of the fitted
        values). It is estimated from the last two steps :math:`\Delta_{k-1}, \Delta_k`
        as for a linearly converging sequence: :math:`\|\Delta_k\||\lambda|/(1-\lambda)`
        with :math:`\lambda = \Delta_k^\top\Delta_{k-1}/\|\Delta_{k-1}\|^2`.
        The objective is flat near its maximum, so a change below ``tol`` alone can
        leave the coefficients about :math:`\sqrt{\mathrm{tol}}` from it.
    alpha_1, alpha_2 : float, default=1e-6
        Shape and rate of the Gamma hyperprior of the noise precision :math:`\alpha`.
    lambda_1, lambda_2 : float, default=1e-6
        Shape and rate of the Gamma hyperprior of the weight precision(s) :math:`\lambda`.
    alpha_init : float or None, default=None
        Initial :math:`\alpha` (the mean of :math:`q(\alpha)` under ``'vbem'``); None:
        ``1 / Var(y)`` (weighted, per target).
    lambda_init : float or None, default=None
        Initial :math:`\lambda` (every :math:`\lambda_j` under ARD). None: the
        precision that lets the features explain the variance of ``y``,
        :math:`\lambda = \sum_j \mathrm{Var}(x_j)/\mathrm{Var}(y)` (ridge) or
        :math:`\lambda_j = d\,\mathrm{Var}(x_j)/\mathrm{Var}(y)` (ARD), so that the
        start does not depend on the units of ``X`` and ``y`` (BayesianRidge starts at
        1, which fails when the coefficients are far from unit scale).
    fit_intercept : bool, default=True
        Whether the model has the intercept :math:`b` (else :math:`\bar x = 0`,
        :math:`\bar y = 0` and no :math:`b`).
    copy_X : bool, default=True
        Kept for compatibility with BayesianRidge. ``X`` is never copied for centring
        nor modified: it is centred block by block as the Gram matrix is formed.
    verbose : int, default=0
        Print the objective at every iteration (and times if ``>= 2``).

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,) or (n_targets, n_features)
        Posterior means of the coefficients :math:`\mathbb E_q[w]`.
    intercept_ : float or ndarray of shape (n_targets,)
        Posterior mean of the intercept in the coordinates of ``X``,
        :math:`\mathbb E_q[b] - \bar x^\top\mathbb E_q[w]` (0 if ``fit_intercept=False``).
    alpha_ : float or ndarray of shape (n_targets,)
        Noise precision: the point estimate (``'vem'``) or :math:`\mathbb E_q[\alpha]`
        (``'vbem'``).
    lambda_ : float or ndarray of shape (n_features,), (n_targets,) or (n_targets, n_features)
        Weight precision(s), likewise: a float per target under ``'ridge'``, an array
        over features under ``'ard'``.
    sigma_ : ndarray of shape (n_features, n_features) or (n_targets, n_features, n_features)
        Posterior covariance of the coefficients.
    coef_std_ : ndarray of shape (n_features,) or (n_targets, n_features)
        Posterior standard deviation of each coefficient, ``sqrt(diag(sigma_))``.
    intercept_std_ : float or ndarray of shape (n_targets,)
        Posterior standard deviation of ``intercept_``.
    df_ : float or ndarray of shape (n_targets,)
        Degrees of freedom of the noise (``inf`` for Gaussian noise).
    sample_precisions_ : ndarray of shape (n_samples,) or (n_samples, n_targets)
        :math:`\mathbb E_q[\tau_n]` of every training sample at the fitted solution
        (mean about 1; outliers have small values). Ones for Gaussian noise.
    lower_bound_ : float
        The objective of the returned solution in nats, every constant included, summed
        over targets (see Notes).
    lower_bounds_ : ndarray of shape (``n_iter_``,)
        The objective after each iteration; never decreases.
    converged_ : bool
    n_iter_ : int
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (``n_features_in_``,)

    Notes
    -----
    **The objective.** With :math:`q(w, b)` Gaussian, :math:`q(\tau_n)` Gamma and (under
    ``'vbem'``) :math:`q(\alpha), q(\lambda)` Gamma, the ELBO is

    .. math::

        \mathcal L = \mathbb E_q[\ln p(y, w, b, \tau, \alpha, \lambda)] - \mathbb E_q[\ln q]
            \le \ln p(y),

    every constant included (``'vbem'``: ``lower_bound_`` is :math:`\mathcal L`). Under
    ``'vem'`` the precisions are point values and ``lower_bound_`` is

    .. math::

        \mathcal F = \mathcal L(q; \alpha, \lambda) + \ln p_{\ln\alpha}(\ln\alpha)
            + \sum \ln p_{\ln\lambda}(\ln\lambda_j) \le \ln p(y, \ln\alpha, \ln\lambda),

    where :math:`\ln p_{\ln\alpha}(u) = \alpha_1 u - \alpha_2 e^u + \alpha_1\ln\alpha_2
    - \ln\Gamma(\alpha_1)` is the density of :math:`\ln\alpha` when
    :math:`\alpha \sim \mathrm{Gam}(\alpha_1, \alpha_2)`: the M-step
    :math:`\alpha = (\alpha_1 + N/2 + 1/2)/(\alpha_2 + \mathbb E\|y - Xw - b\|^2/2
    + \kappa_0\mathbb E(b - \bar y)^2/2)` maximises it. With Gaussian noise, a ridge
    prior and ``fit_intercept=False``, :math:`\mathcal F` minus the two log hyperprior
    terms equals :math:`\ln\mathcal N(y \mid 0, \alpha^{-1}I + \lambda^{-1}XX^\top)` at the
    fitted ``alpha_``, ``lambda_`` (the evidence BayesianRidge maximises), because
    :math:`q(w)` is then the exact posterior. :math:`N` is the sum of the sample weights.

    **vem and vbem.** With the MAP taken on :math:`\ln\alpha` and :math:`\ln\lambda` (the
    convention of BayesianRidge), the point estimate :math:`a/b` of ``'vem'`` equals the
    mean of the factor :math:`\mathrm{Gam}(a, b)` of ``'vbem'``, and :math:`q(w, b)` and
    :math:`q(\tau)` only see those means: the two methods have the same fixed points for
    ``coef_``, ``intercept_``, ``alpha_`` and ``lambda_``. They differ in the objective
    (``'vbem'`` bounds the marginal likelihood :math:`\ln p(y)`, paying for the
    uncertainty of the precisions through :math:`\mathbb E\ln\alpha < \ln\mathbb E\alpha`;
    ``'vem'`` bounds the joint density at the point estimates), so in model comparison,
    and in the predictive distribution.

    **The iteration.** Each iteration updates, in this order: :math:`q(\tau)` and
    :math:`\nu` (Student-t noise: one pass over the data, which also forms the weighted
    Gram matrix), the precisions, and :math:`q(w, b)`. For the precisions MacKay's
    fixed-point update (the update of BayesianRidge and ARDRegression,
    :math:`\lambda = (\gamma + 2\lambda_1)/(\|m\|^2 + 2\lambda_2)`,
    :math:`\alpha = (N - \gamma + 2\alpha_1)/(\|y - Xm - b\|^2 + 2\alpha_2)`) is tried
    first and kept only if the objective after the following :math:`q(w, b)` update is
    not lower than before; otherwise the coordinate-ascent (EM) update is taken, which
    never lowers it. So ``lower_bounds_`` never decreases and the fixed points are those
    of coordinate ascent.

    **Cost.** With Gaussian noise one pass over ``X`` forms the centred Gram matrix and
    one more the residual sum of squares of least squares; the iterations never touch
    ``X`` again. Ridge: one eigendecomposition of the Gram matrix, then O(n_features)
    per iteration. ARD: one Cholesky factorisation (O(n_features^3)) per iteration.
    With fewer samples than features, the same quantities come from the
    n_samples x n_samples kernel matrix (eigendecomposition; Woodbury identity for ARD).
    Student-t noise needs one pass over the data per iteration (the per-sample weights
    change the Gram matrix).

    **Predictive distribution.** For a new :math:`x`, with
    :math:`v = \mathrm{Var}_q[(x-\bar x)^\top w + b]`, :meth:`predict` returns the mean
    and :meth:`predict_interval` the central interval of a Student-t with scale
    :math:`\sqrt{v + 1/\mathbb E[\alpha]}` and degrees of freedom: infinite (a Gaussian)
    for ``'vem'`` with Gaussian noise; :math:`2a_\alpha` for ``'vbem'`` with Gaussian
    noise (the noise precision integrated out as in Drugowitsch 2013, with
    :math:`q(\alpha) = \mathrm{Gam}(a_\alpha, b_\alpha)`); :math:`\nu` with Student-t
    noise (the uncertainty of :math:`\alpha` neglected under ``'vbem'``). The standard
    deviation ``return_std`` is that distribution's: ``scale * sqrt(dof / (dof - 2))``,
    infinite when ``dof <= 2``.

    **Differences from scikit-learn.** The intercept is in the model, so its uncertainty
    is in ``intercept_std_`` and in the predictive standard deviation (scikit-learn
    #13409); the hyperprior parameters must be positive (proper priors, so that the
    objective is finite); ``tol`` is on the objective per sample and ``coef_tol`` on the
    estimated distance of the coefficients to their fixed point, rather than ``tol`` on
    their absolute change; ARD has no ``threshold_lambda``: no feature is removed, irrelevant ones
    get large ``lambda_`` and coefficients near zero; the default ``lambda_init`` is set
    from the scales of ``X`` and ``y``; sample weights mean repeated
    samples, so scaling them all by ``k`` narrows the posterior (as ``k`` copies of the
    data would); ``copy_X`` has no effect. As in scikit-learn, float32 input gives
    float32 fitted arrays and predictions (float64 arithmetic inside).

    **Units and range.** The rank of the Gram matrix is decided on its Jacobi-scaled
    form and its eigenpairs come from the SVD of a scaled factor, so columns of very
    different scales are resolved; ARD is equivariant to the units of the features
    (up to the cap ``lambda_1 / lambda_2`` on the precisions), the ridge prior is not (as
    in BayesianRidge). The entries of ``X`` and ``y`` and the sum of the sample weights
    must be at most :data:`VALUE_LIMIT` (1e50) in magnitude, else ``fit`` raises a
    ValueError naming the input. The objective is evaluated in a form without the
    cancellation of large terms: ``lower_bounds_`` is finite and non-decreasing for
    hyperprior parameters from 1e-30 to 1e30 (tested for every configuration with more
    samples than coefficients, and for Gaussian noise with fewer). With Student-t
    noise, fewer samples than coefficients and a near-flat weight prior or a near-exact
    fit (``lambda_2 >= 1e10`` or ``alpha_2 = 1e-30``), it can still decrease. With
    Student-t noise, a noise precision so high that the rounding of the residuals would
    set the per-sample weights raises a ValueError (:data:`RESIDUAL_RESOLUTION`).

    References
    ----------
    - C. M. Bishop, Pattern Recognition and Machine Learning, 2006, sections 3.5, 7.2.1
      and 10.3.
    - J. Drugowitsch, Variational Bayesian inference for linear and logistic regression,
      arXiv:1310.5438, 2013.
    - D. J. C. MacKay, Bayesian interpolation, Neural Computation 4(3), 1992.
    - M. E. Tipping and N. D. Lawrence, Variational inference for Student-t models:
      robust Bayesian interpolation and generalised component analysis,
      Neurocomputing 69, 2005.

    Examples
    --------
    >>> import numpy as np
    >>> from skvi import VariationalEMRegressor
    >>> rng = np.random.RandomState(0)
    >>> X = rng.randn(100, 3)
    >>> y = X @ np.array([1.0, -2.0, 0.0]) + 0.5 + 0.1 * rng.randn(100)
    >>> reg = VariationalEMRegressor().fit(X, y)
    >>> np.round(reg.coef_, 1)
    array([ 1., -2.,  0.])
    >>> np.round(reg.coef_std_, 3)
    array([0.009, 0.01 , 0.01 ])
    >>> mean, std = reg.predict(X[:2], return_std=True)
    >>> std.shape
    (2,)
    """

    _parameter_constraints: dict = {
        "method": [StrOptions({"vem", "vbem"})],
        "prior": [StrOptions({"ridge", "ard"})],
        "noise": [StrOptions({"gaussian", "student_t"})],
        "df": [None, Interval(Real, 0.0, None, closed="neither")],
        "max_iter": [Interval(Integral, 0, None, closed="left")],
        "tol": [Interval(Real, 0.0, None, closed="left")],
        "coef_tol": [Interval(Real, 0.0, None, closed="left")],
        "alpha_1": [Interval(Real, 0.0, None, closed="neither")],
        "alpha_2": [Interval(Real, 0.0, None, closed="neither")],
        "lambda_1": [Interval(Real, 0.0, None, closed="neither")],
        "lambda_2": [Interval(Real, 0.0, None, closed="neither")],
        "alpha_init": [None, Interval(Real, 0.0, None, closed="neither")],
        "lambda_init": [None, Interval(Real, 0.0, None, closed="neither")],
        "fit_intercept": ["boolean"],
        "copy_X": ["boolean"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        *,
        method="vem",
        prior="ridge",
        noise="gaussian",
        df=None,
        max_iter=300,
        tol=1e-6,
        coef_tol=1e-8,
        alpha_1=1e-6,
        alpha_2=1e-6,
        lambda_1=1e-6,
        lambda_2=1e-6,
        alpha_init=None,
        lambda_init=None,
        fit_intercept=True,
        copy_X=True,
        verbose=0,
    ):
        self.method = method
        self.prior = prior
        self.noise = noise
        self.df = df
        self.max_iter = max_iter
        self.tol = tol
        self.coef_tol = coef_tol
        self.alpha_1 = alpha_1
        self.alpha_2 = alpha_2
        self.lambda_1 = lambda_1
        self.lambda_2 = lambda_2
        self.alpha_init = alpha_init
        self.lambda_init = lambda_init
        self.fit_intercept = fit_intercept
        self.copy_X = copy_X
        self.verbose = verbose

    # settings the shared fit loop reads: the model is deterministic, one start
    n_init = 1
    warm_start = False
    verbose_interval = 1
    random_state = None

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    # ------------------------------------------------------------------ fitting
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the variational posterior.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Targets; the columns of a 2-D ``y`` are independent regressions that share
            the Gram matrix.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights, acting as repetition counts.

        Returns
        -------
        self : VariationalEMRegressor
        """
        X, y = validate_data(
            self,
            X,
            y,
            dtype=[np.float64, np.float32],
            multi_output=True,
            y_numeric=True,
            ensure_min_samples=2,
        )
        s = _check_sample_weight(sample_weight, X, dtype=np.float64, ensure_non_negative=True)
        if not s.sum() > 0:
            raise ValueError("The sample weights sum to zero: there is nothing to fit.")
        _check_magnitudes(X, y, s)
        Y = np.asarray(y, dtype=np.float64).reshape(len(y), -1)
        data = RegressionData(X, Y, s, self.fit_intercept, self.noise, self.prior)
        self._fit_loop(data, data.s, data.N)
        self._publish(data, X, Y, y.ndim == 1)
        return self

    # ------------------------------------------------------------ the loop hooks
    def _initialize(self, data, sample_weight, random_state):
        """Initial precisions (``alpha_init``, ``lambda_init``; Student-t: every
        :math:`\\mathbb E[\\tau_n] = 1`), then :math:`q(w, b)`; returns the objective."""
        T, d, N = data.n_targets, data.n_features, data.N
        var = np.einsum("n,nt->t", data.s, data.Yc**2) / N + np.finfo(np.float64).eps
        if self.alpha_init is None:
            alpha0 = 1.0 / var
        else:
            alpha0 = np.full(T, float(self.alpha_init))
        if self.lambda_init is None:
            lambda0 = default_lambda(data.col_ss / N, var, self.prior)
        else:
            lambda0 = float(self.lambda_init)
        # the shapes of q(alpha) and q(lambda) are the same for every target
        self._alpha_a = self.alpha_1 + 0.5 * N + 0.5 * data.intercept
        self._alpha_b = self._alpha_a / alpha0
        n_lambda = 1 if self.prior == "ridge" else d
        self._lambda_a = self.lambda_1 + (0.5 * d if self.prior == "ridge" else 0.5)
        self._lambda_b = np.broadcast_to(self._lambda_a / lambda0, (T, n_lambda)).copy()
        self._df = np.full(T, DF_INIT if self.df is None else float(self.df))
        if data.mode == "ridge":
            post = self._ridge_posterior(data, self._alpha_a, self._alpha_b, self._lambda_b)
            self._post = post
            self._target_bounds = self._elbo(data, post, self._alpha_b, self._lambda_b, self._df)
        else:
            self._post = [None] * T
            self._target_bounds = np.empty(T)
            if data.mode == "student":
                self._tau_b = np.empty((data.n_samples, T))
            for t in range(T):
                self._target_bounds[t] = self._general_step(data, t, init=True)
        self._track_coef(data, init=True)
        return float(self._target_bounds.sum())

    def _cavi_step(self, data, sample_weight):
        if data.mode == "ridge":
            self._ridge_step(data)
        else:
            for t in range(data.n_targets):
                self._target_bounds[t] = self._general_step(data, t)
        self._track_coef(data)
        return float(self._target_bounds.sum())

    # ------------------------------------------------------------ convergence
    def _coef_means(self, data):
        r"""The posterior means of the coefficients times the scales of their features,
        one row per target, so that their changes do not depend on the units of the
        features: ridge, :math:`\sqrt{e_k}\tilde m_k` in the eigenbasis of the Gram matrix
        (whose 2-norm is that of the fitted values :math:`X_c m`); otherwise
        :math:`\sqrt{G_{jj}}\,m_j`."""
        if data.mode == "ridge":
            return self._post["mt"] * np.sqrt(data.eig["e"])[None, :]
        scale = np.sqrt(data.col_ss)
        return np.array(
            [self._post[t]["m"][: data.n_features] * scale for t in range(data.n_targets)]
        )

    def _track_coef(self, data, init=False):
        r"""Estimate how far the scaled coefficient means (:meth:`_coef_means`) still are
        from their fixed point, relative to their 2-norm (the largest over targets).

        With :math:`\Delta_k = m_k - m_{k-1}` and the ratio of the last two steps along
        the previous one, :math:`\lambda = \Delta_k^\top\Delta_{k-1} /
        \|\Delta_{k-1}\|^2`, a linearly converging sequence has
        :math:`\Delta_{k+i} \approx \lambda^i \Delta_k`, so the remaining distance is
        about :math:`\|\Delta_k\| |\lambda| / (1 - \lambda)`: the geometric tail when
        the steps keep their direction (:math:`\lambda > 0`), at most half a step when
        they alternate (:math:`\lambda < 0`, as ARD's updates of irrelevant features do).
        Infinite while :math:`\lambda \ge 1` or before two steps."""
        m = self._coef_means(data)
        if init:
            self._coef_prev, self._coef_step, self._coef_remaining = m, None, np.inf
            return
        step = m - self._coef_prev
        size = np.linalg.norm(step, axis=1)
        remaining = np.full(size.shape, np.inf)
        if self._coef_step is not None:
            prev = self._coef_step
            with np.errstate(divide="ignore", invalid="ignore"):
                lam = np.einsum("ij,ij->i", step, prev) / np.einsum("ij,ij->i", prev, prev)
                remaining = np.where(lam < 1.0, size * np.abs(lam) / (1.0 - lam), np.inf)
        remaining = np.where(size == 0.0, 0.0, remaining)
        norm = np.linalg.norm(m, axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            rel = np.where(remaining == 0.0, 0.0, remaining / norm)
        self._coef_prev, self._coef_step = m, step
        self._coef_remaining = float(np.max(rel)) if rel.size else 0.0

    def _coef_settled(self):
        """Whether the coefficients are estimated within ``coef_tol`` (relative, 2-norm)
        of their fixed point (:meth:`_track_coef`)."""
        return self._coef_remaining <= self.coef_tol

    def _converged(self, bounds, scale):
        """Both tests: the objective changed by less than ``tol`` per sample, and the
        coefficients are estimated within ``coef_tol`` of their fixed point (the
        objective is flat near its maximum: a change of ``tol`` in it still leaves the
        coefficients about ``sqrt(tol)`` away)."""
        return super()._converged(bounds, scale) and self._coef_settled()

    def _convergence_warning(self):
        return (
            f"{type(self).__name__} did not converge in max_iter={self.max_iter} "
            f"iterations: the objective still changed by more than tol={self.tol:g} per "
            "sample, or the coefficients were not yet within "
            f"coef_tol={self.coef_tol:g} of their fixed point. Increase max_iter (or tol "
            "and coef_tol), or check for degenerate data."
        )

    _STATE = (
        "_alpha_a", "_alpha_b", "_lambda_a", "_lambda_b", "_df", "_post",
        "_target_bounds", "_tau_b",
    )  # fmt: skip

    def _get_parameters(self):
        return {name: getattr(self, name) for name in self._STATE if hasattr(self, name)}

    def _set_parameters(self, params):
        for name, value in params.items():
            setattr(self, name, value)

    # ------------------------------------------------------- expectations, ELBO
    def _elbo(self, data, post, alpha_b, lambda_b, df):
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
        """
        N, d = data.N, data.n_features
        point = self.method == "vem"
        icpt = float(data.intercept)
        r_alpha = 0.5 * post["Q"]
        if data.intercept:
            r_alpha = r_alpha + 0.5 * INTERCEPT_PRIOR * post["Eb2"]
        out = gamma_factor_terms(
            self.alpha_1, 0.5 * N + 0.5 * icpt, self.alpha_2, r_alpha, alpha_b, point
        )
        c_lambda = 0.5 * d if self.prior == "ridge" else 0.5
        out = out + np.sum(
            gamma_factor_terms(
                self.lambda_1, c_lambda, self.lambda_2, 0.5 * post["ww"], lambda_b, point
            ),
            axis=1,
        )
        const = -0.5 * (N + d) * _LOG_2PI + 0.5 * data.p * (1.0 + _LOG_2PI)
        if data.intercept:
            const += 0.5 * (math.log(INTERCEPT_PRIOR) - _LOG_2PI)
        out = out + const + 0.5 * post["logdet"]
        if data.mode == "student":
            out += tau_terms(post["a_tau"], df, N, post["S3"], post["S5"])
        return out

    def _mackay(self, data, post, alpha_b, lambda_b):
        r"""MacKay's fixed-point update of the precisions from ``post`` (MacKay 1992, with
        the hyperpriors as in BayesianRidge):
        :math:`\alpha = (N - \gamma + 2\alpha_1)/(\|y - Xm - b\|^2 + 2\alpha_2)`,
        :math:`\lambda_j = (\gamma_j + 2\lambda_1)/(m_j^2 + 2\lambda_2)` with
        :math:`\gamma_j = 1 - \lambda_j\Sigma_{jj}`, written as Gamma rates (the point
        estimate, or the mean of the factor, is ``a / b``).

        Returns the new rates and a mask of the targets where they are finite and
        positive; elsewhere the old rates are returned (with fractional sample weights
        :math:`N` can be below :math:`\gamma`).
        """
        with np.errstate(divide="ignore", invalid="ignore"):
            alpha_new = (data.N - post["gamma_w"] + 2.0 * self.alpha_1) / (
                post["sse"] + 2.0 * self.alpha_2
            )
            gamma = post["gamma_w"][:, None] if self.prior == "ridge" else post["gamma_j"]
            mm = post["mm"][:, None] if self.prior == "ridge" else post["mm"]
            lam_new = (gamma + 2.0 * self.lambda_1) / (mm + 2.0 * self.lambda_2)
            new_alpha_b = self._alpha_a / alpha_new
            new_lambda_b = self._lambda_a / lam_new
        ok = (
            np.isfinite(new_alpha_b)
            & (new_alpha_b > 0)
            & np.all(np.isfinite(new_lambda_b) & (new_lambda_b > 0), axis=1)
        )
        return np.where(ok, new_alpha_b, alpha_b), np.where(ok[:, None], new_lambda_b, lambda_b), ok

    def _cavi_rates(self, data, post):
        """Coordinate-ascent update of the precisions from ``post``: the rates of
        :math:`q(\\alpha) = \\mathrm{Gam}(\\alpha_1 + N/2 + 1/2, \\alpha_2 + Q/2 +
        \\kappa_0\\mathbb E(b-\\bar y)^2/2)` and :math:`q(\\lambda) = \\mathrm{Gam}(\\lambda_1 +
        d/2, \\lambda_2 + \\mathbb E[w^\\top w]/2)` (ARD: one factor per feature, with
        :math:`1/2` and :math:`\\mathbb E[w_j^2]/2`); PRML section 10.3, with the noise
        factor as in Drugowitsch (2013). Under 'vem', ``a / b`` is the MAP of the
        log-precision."""
        alpha_b = self.alpha_2 + 0.5 * post["Q"]
        if data.intercept:
            alpha_b = alpha_b + 0.5 * INTERCEPT_PRIOR * post["Eb2"]
        if self.prior == "ridge":
            lambda_b = (self.lambda_2 + 0.5 * post["ww"].sum(axis=1))[:, None]
        else:
            lambda_b = self.lambda_2 + 0.5 * post["ww"]
        return alpha_b, lambda_b

    # ------------------------------------------------------ Gaussian noise, ridge
    def _ridge_posterior(self, data, alpha_a, alpha_b, lambda_b):
        r""":math:`q(w)` for every target in the eigenbasis of the Gram matrix
        :math:`\sum_n s_n (x_n-\bar x)(x_n-\bar x)^\top = V\,\mathrm{diag}(e)\,V^\top`:
        precision :math:`\mathbb E[\alpha] e_k + \mathbb E[\lambda]`, mean
        :math:`\tilde m_k = \mathbb E[\alpha]\tilde c_k / h_k` with
        :math:`\tilde c = V^\top X^\top y`. O(n_features) per target; the residual sum of
        squares is :math:`\mathrm{RSS}_{\mathrm{OLS}} + \sum_k (\tilde c_k^2/e_k)
        (\mathbb E[\lambda]/h_k)^2`, a sum of non-negative terms."""
        eig = data.eig
        e_alpha = alpha_a / alpha_b
        e_lambda = self._lambda_a / lambda_b[:, 0]
        h = e_alpha[:, None] * eig["e"] + e_lambda[:, None]
        mt = e_alpha[:, None] * eig["ct"] / h
        mm = np.sum(mt * mt, axis=1)
        n_zero = eig["n_zero"]
        trace_sg = np.sum(eig["e"] / h, axis=1)
        post = {
            "mt": mt,
            "mm": mm,
            "ww": (mm + np.sum(1.0 / h, axis=1) + n_zero / e_lambda)[:, None],
            "gamma_w": e_alpha * trace_sg,
            "sse": eig["r_ols"] + np.sum(eig["ct2e"] * (e_lambda[:, None] / h) ** 2, axis=1),
            "logdet": -np.sum(np.log(h), axis=1) - n_zero * np.log(e_lambda),
        }
        post["Q"] = post["sse"] + trace_sg
        add_gaussian_intercept(data, post, e_alpha)
        return post

    def _ridge_step(self, data):
        """MacKay's update for every target, kept where the objective did not drop;
        elsewhere the coordinate-ascent update."""
        post = self._post
        alpha_b, lambda_b = self._alpha_b, self._lambda_b
        mk_alpha_b, mk_lambda_b, ok = self._mackay(data, post, alpha_b, lambda_b)
        mk_post = self._ridge_posterior(data, self._alpha_a, mk_alpha_b, mk_lambda_b)
        mk_bound = self._elbo(data, mk_post, mk_alpha_b, mk_lambda_b, self._df)
        take = ok & (mk_bound >= self._target_bounds)
        if not np.all(take):
            cv_alpha_b, cv_lambda_b = self._cavi_rates(data, post)
            cv_post = self._ridge_posterior(data, self._alpha_a, cv_alpha_b, cv_lambda_b)
            cv_bound = self._elbo(data, cv_post, cv_alpha_b, cv_lambda_b, self._df)
            alpha_b = np.where(take, mk_alpha_b, cv_alpha_b)
            lambda_b = np.where(take[:, None], mk_lambda_b, cv_lambda_b)
            mk_post = {k: select(take, mk_post[k], cv_post[k]) for k in mk_post}
            mk_bound = np.where(take, mk_bound, cv_bound)
        else:
            alpha_b, lambda_b = mk_alpha_b, mk_lambda_b
        self._alpha_b, self._lambda_b = alpha_b, lambda_b
        self._post, self._target_bounds = mk_post, mk_bound

    # --------------------------------------------- ARD and Student-t, per target
    def _general_step(self, data, t, init=False):
        """One iteration for target ``t`` (ARD or Student-t noise); returns its objective.

        Student-t: first the :math:`q(\\tau)` update (and :math:`\\nu`), which also gives
        the statistics of the new weights; then the precisions (MacKay's update if it
        does not lower the objective, else coordinate ascent); then :math:`q(w, b)`.
        """
        sl = slice(t, t + 1)
        if data.mode == "student":
            stats = self._tau_update(data, t, update=not init)
        else:
            stats = data.gaussian_stats(t)
        df = self._df[sl]  # after the update of nu
        if init:
            post = self._general_posterior(data, t, stats, self._alpha_b[sl], self._lambda_b[sl])
            self._post[t] = post
            return float(self._elbo(data, post, self._alpha_b[sl], self._lambda_b[sl], df)[0])
        current = self._post[t] if data.mode != "student" else stats["current"]
        ref = (
            self._target_bounds[t]
            if data.mode != "student"
            else float(self._elbo(data, current, self._alpha_b[sl], self._lambda_b[sl], df)[0])
        )
        mk_alpha_b, mk_lambda_b, ok = self._mackay(
            data, current, self._alpha_b[sl], self._lambda_b[sl]
        )
        if ok[0]:
            post = self._general_posterior(data, t, stats, mk_alpha_b, mk_lambda_b)
            bound = float(self._elbo(data, post, mk_alpha_b, mk_lambda_b, df)[0])
            if bound >= ref:
                self._alpha_b[t], self._lambda_b[t] = mk_alpha_b[0], mk_lambda_b[0]
                self._post[t] = post
                return bound
        alpha_b, lambda_b = self._cavi_rates(data, current)
        post = self._general_posterior(data, t, stats, alpha_b, lambda_b)
        self._alpha_b[t], self._lambda_b[t] = alpha_b[0], lambda_b[0]
        self._post[t] = post
        return float(self._elbo(data, post, alpha_b, lambda_b, df)[0])

    def _prior_precisions(self, data, e_alpha, lambda_b):
        """Diagonal prior precision of :math:`\\theta = (w, b)` (b only with Student-t
        noise: with Gaussian noise and centred data :math:`q(b)` is separate);
        ``lambda_b`` holds the rates of one target, shape (1,) or (n_features,)."""
        e_lambda = self._lambda_a / lambda_b
        prior = np.broadcast_to(e_lambda, (data.n_features,))
        if data.joint_intercept:
            prior = np.append(prior, INTERCEPT_PRIOR * e_alpha)
        return np.asarray(prior, dtype=np.float64)

    def _general_posterior(self, data, t, stats, alpha_b, lambda_b):
        r""":math:`q(\theta)` for target ``t`` given the precisions, with the summaries
        the objective and the next updates need.

        Precision :math:`P = \mathbb E[\alpha] Z^\top D Z + \mathrm{diag}(\pi)`, mean
        :math:`P^{-1}\mathbb E[\alpha] Z^\top D y` (PRML 3.53-3.54; section 10.3), with
        :math:`D = \mathrm{diag}(s_n\mathbb E[\tau_n])`; from the Gram matrix (Cholesky)
        or, with fewer samples than coefficients, from the kernel matrix (Woodbury).
        """
        d = data.n_features
        e_alpha = float(self._alpha_a / alpha_b[0])
        prior = self._prior_precisions(data, e_alpha, lambda_b[0])
        p = prior.shape[0]
        if data.kernel:
            beta = e_alpha * stats["weights"]
            with factor_threads(beta.shape[0]):
                m, diag, logdet, gamma, qn, r = posterior_kernel(data.Z, beta, stats["y"], prior)
            sdr2 = stats["weights"] @ (r * r) + stats.get("rss0", 0.0)
            q_total = sdr2 + stats["weights"] @ qn
            extra = {"r": r, "qn": qn, "beta": beta, "prior": prior}
        else:
            H, h = stats["gram"], stats["zty"]
            with factor_threads(p):
                m, R, diag, logdet = posterior_gram(e_alpha * H, e_alpha * h, prior)
            gamma = 1.0 - prior * diag
            trace = (p - np.sum(prior * diag)) / e_alpha  # tr(Sigma Z^T D Z)
            if data.mode == "student":
                # sum_n d_n (y_n - z_n^T m)^2 from the previous means m0 and the pass's
                # residual statistics: no pass over the data
                delta = m - stats["m0"]
                sdr2 = stats["sdr2"] - 2.0 * delta @ stats["ztdr"] + delta @ H @ delta
            else:
                sdr2 = data.r_ols[t] + data.gram_quadratic(m - data.beta_ols[:, t])
            sdr2 = max(sdr2, 0.0)
            q_total = sdr2 + trace
            extra = {"R": R}
        mw = m[:d]
        post = {
            "m": m,
            "diag": diag,
            "mm": (mw * mw)[None, :] if self.prior == "ard" else np.array([mw @ mw]),
            "ww": (mw * mw + diag[:d])[None, :],
            "gamma_j": gamma[None, :d],
            "gamma_w": np.array([np.sum(gamma[:d])]),
            "sse": np.array([sdr2]),
            "logdet": np.array([logdet]),
            "Q": np.array([q_total]),
            **extra,
        }
        if self.prior == "ridge":
            post["ww"] = post["ww"].sum(axis=1, keepdims=True)
        if data.joint_intercept:
            post["Eb2"] = np.array([m[d] ** 2 + diag[d]])
            post["sse"] = post["sse"] + INTERCEPT_PRIOR * m[d] ** 2
        else:
            add_gaussian_intercept(data, post, np.array([e_alpha]))
        if data.mode == "student":
            post.update(a_tau=stats["a_tau"], S3=stats["S3"], S5=stats["S5"])
        return post

    # ---------------------------------------------------------------- Student-t
    def _tau_update(self, data, t, update=True):
        r"""The block :math:`(\nu, q(\tau))` given :math:`q(\theta)` and :math:`\alpha`,
        and the statistics of the new weights :math:`d_n = s_n\mathbb E[\tau_n]`.

        With :math:`e_n = \mathbb E_q(y_n - z_n^\top\theta)^2` and
        :math:`c_n = \mathbb E[\alpha] e_n`, the optimal factor is
        :math:`q(\tau_n) = \mathrm{Gam}((\nu+1)/2, (\nu + c_n)/2)` (Tipping and Lawrence
        2005), and the objective maximised over it is, in :math:`\nu`, the collapsed
        Student-t term of :func:`_df_objective`; :math:`\nu` maximises that (one pass
        over :math:`c`), then :math:`q(\tau)` follows: an exact maximisation over the
        block, which needs far fewer iterations than alternating :math:`\nu` and
        :math:`q(\tau)` (the ECME idea of Liu and Rubin 1995). With ``update=False``
        (initialisation) every :math:`\mathbb E[\tau_n] = 1` and :math:`\nu` is the
        starting value.

        Also returns, as ``stats["current"]``, the summaries of the current
        :math:`q(\theta)` under the new :math:`q(\tau)`: the reference objective of
        this iteration and the input of the precision updates.
        """
        e_alpha = float(self._alpha_a / self._alpha_b[t])
        post = self._post[t]
        y = data.Yc[:, t]
        if update:
            if data.kernel:
                r, qn = post["r"], post["qn"]
            else:
                r, qn = residual_pass(data.X, data.x_offset, y, post["m"], post["R"],
                                       data.intercept)  # fmt: skip
            r2 = r * r
            e = r2 + qn
            self._check_residual_resolution(e_alpha, y, r, e, float(self._df[t]))
            if self.df is None:
                self._df[t] = update_df(data.s, e_alpha * e, float(self._df[t]))
            nu = float(self._df[t])
            a_tau = 0.5 * (nu + 1.0)
            b = 0.5 * nu + 0.5 * e_alpha * e
        else:
            a_tau = 0.5 * (float(self._df[t]) + 1.0)
            b = np.full(data.n_samples, a_tau)
        weights = data.s * (a_tau / b)
        if data.kernel:
            stats = {"weights": weights, "y": y}
        else:
            m0 = post["m"] if update else np.zeros(data.p)
            gram, zty = weighted_gram(data.X, data.x_offset, y, weights, data.intercept)
            stats = {"gram": gram, "zty": zty, "m0": m0}
            if update:
                stats.update(sdr2=weights @ r2, ztdr=zty - gram @ m0)
            else:
                stats.update(sdr2=weights @ (y * y), ztdr=zty)
        self._tau_b[:, t] = b
        stats.update(
            a_tau=np.array([a_tau]),
            S3=np.array([data.s @ np.log(b)]),
            S5=np.array([data.s @ expm1_minus(np.log(a_tau) - np.log(b))]),
        )
        if update:
            current = dict(post, Q=np.array([weights @ e]), sse=np.array([weights @ r2]))
            current.update(a_tau=stats["a_tau"], S3=stats["S3"], S5=stats["S5"])
            if data.joint_intercept:
                current["sse"] = current["sse"] + INTERCEPT_PRIOR * post["m"][-1] ** 2
            stats["current"] = current
        return stats

    def _check_residual_resolution(self, e_alpha, y, r, e, nu):
        r"""Raise if the rounding of the residuals moves a Student-t weight
        :math:`(\nu + 1) / (\nu + \mathbb E[\alpha] e_n)` by more than
        :data:`RESIDUAL_RESOLUTION` relative: the weights, and the objective, are then
        set by rounding (on noise-free data with ``alpha_1=1e30`` the objective went
        down by 1e15 nats)."""
        unit = np.finfo(np.float64).eps * float(np.max(np.abs(y), initial=0.0))
        shift = e_alpha * unit * (2.0 * np.abs(r) + unit) / (nu + e_alpha * e)
        if np.max(shift, initial=0.0) > RESIDUAL_RESOLUTION:
            raise ValueError(
                f"Student-t noise: the noise precision reached {e_alpha:.3g} (a noise "
                f"standard deviation of {e_alpha**-0.5:.3g}) while the residuals are "
                f"known to {unit:.3g}, the rounding units of y: float64 residuals cannot "
                "resolve the per-sample precisions. y is fitted (almost) exactly, or the "
                f"noise hyperprior forces it (alpha_1={self.alpha_1:g}, "
                f"alpha_2={self.alpha_2:g}): use noise='gaussian', a smaller alpha_1 or a "
                "larger alpha_2."
            )

    # ------------------------------------------------------------- publishing
    def _publish(self, data, X, Y, single):
        """Fitted attributes from the final variational parameters."""
        T, d = data.n_targets, data.n_features
        e_alpha = self._alpha_a / self._alpha_b
        e_lambda = self._lambda_a / self._lambda_b
        coef = np.empty((T, d))
        sigma = np.empty((T, d, d))
        cov_wb = np.zeros((T, d))
        var_b = np.zeros(T)
        mean_b = np.zeros(T)
        if data.mode == "ridge":
            basis = data.eig_basis()
            post = self._post
            # Sigma = V diag(1/h) V^T + N N^T / lambda with N an orthonormal basis of the
            # directions without data: a sum of positive terms (the form
            # V diag(1/h - 1/lambda) V^T + I/lambda cancels when the data dominate)
            null = _orthogonal_complement(basis)
            for t in range(T):
                coef[t] = basis @ post["mt"][t]
                h = e_alpha[t] * data.eig["e"] + e_lambda[t, 0]
                sigma[t] = (basis / h) @ basis.T
                if null.shape[1]:
                    sigma[t] += (null / e_lambda[t, 0]) @ null.T
            var_b[:] = post["var_b"]
        else:
            for t in range(T):
                post = self._post[t]
                if data.kernel:
                    cov = covariance_kernel(data.Z, post["beta"], post["prior"])
                else:
                    cov = post["R"].T @ post["R"]
                coef[t] = post["m"][:d]
                sigma[t] = cov[:d, :d]
                if data.joint_intercept:
                    mean_b[t] = post["m"][d]
                    var_b[t] = cov[d, d]
                    cov_wb[t] = cov[:d, d]
                else:
                    var_b[t] = post["var_b"][0]
        sigma = 0.5 * (sigma + np.swapaxes(sigma, 1, 2))
        coef_std = np.sqrt(np.maximum(np.diagonal(sigma, axis1=1, axis2=2), 0.0))
        x_off = data.x_offset
        intercept = data.y_offset + mean_b - coef @ x_off
        intercept_var = var_b - 2.0 * cov_wb @ x_off + np.einsum("i,tij,j->t", x_off, sigma, x_off)
        intercept_std = np.sqrt(np.maximum(intercept_var, 0.0))
        student = data.mode == "student"
        if student:
            df = self._df.copy()
            dof = df
        else:
            df = np.full(T, np.inf)
            dof = df if self.method == "vem" else np.full(T, 2.0 * self._alpha_a)
        lam = e_lambda[:, 0] if self.prior == "ridge" else e_lambda

        # what prediction needs, for every target
        self._single = single
        self._x_offset = x_off
        self._coef_all = coef
        self._intercept_all = intercept
        self._sigma_all = sigma
        self._cov_wb = cov_wb
        self._var_b = var_b
        self._noise_var = 1.0 / e_alpha
        self._pred_dof = np.asarray(dof, dtype=np.float64)

        # fitted arrays and predictions in the dtype of X (float32 stays float32, as in
        # BayesianRidge; everything is computed in float64)
        dtype = X.dtype
        self._out_dtype = dtype

        def out(a):
            return (a[0] if single else a).astype(dtype, copy=False)

        def per_target(a):
            return float(a[0]) if single else a.astype(dtype, copy=False)

        self.coef_ = out(coef)
        self.intercept_ = per_target(intercept)
        self.alpha_ = per_target(e_alpha)
        self.lambda_ = out(lam) if self.prior == "ard" else per_target(lam)
        self.sigma_ = out(sigma)
        self.coef_std_ = out(coef_std)
        self.intercept_std_ = per_target(intercept_std)
        self.df_ = per_target(df)
        if student:
            # E[tau_n] of every training row at the fitted q(w, b), alpha and nu
            mean, scale2, _ = self._predictive(X)
            e = (Y - mean) ** 2 + (scale2 - self._noise_var[None, :])
            precisions = (0.5 * (df + 1.0)) / (0.5 * df + 0.5 * e_alpha * e)
        else:
            precisions = np.ones_like(Y)
        precisions = precisions.astype(dtype, copy=False)
        self.sample_precisions_ = precisions[:, 0] if single else precisions
        # the fitting state is not needed for prediction
        for name in ("_post", "_tau_b", "_coef_prev", "_coef_step", "_coef_remaining"):
            if hasattr(self, name):
                delattr(self, name)

    # --------------------------------------------------------------- prediction
    def _check_X(self, X):
        check_is_fitted(self)
        return validate_data(self, X, reset=False, dtype=[np.float64, np.float32])

    def _predictive(self, X):
        """Mean, squared scale and dof of the predictive Student-t, shapes (n, T)."""
        mean = X @ self._coef_all.T + self._intercept_all[None, :]
        n, T = mean.shape
        var = np.empty((n, T))
        for start in range(0, n, BLOCK_ROWS):
            stop = min(start + BLOCK_ROWS, n)
            xc = X[start:stop] - self._x_offset
            for t in range(T):
                var[start:stop, t] = (
                    np.einsum("ij,ij->i", xc @ self._sigma_all[t], xc)
                    + 2.0 * xc @ self._cov_wb[t]
                    + self._var_b[t]
                )
        scale2 = np.maximum(var, 0.0) + self._noise_var[None, :]
        return mean, scale2, self._pred_dof

    def predict(self, X, return_std=False):
        """Predictive mean, and optionally the predictive standard deviation.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        return_std : bool, default=False
            Also return the standard deviation of the predictive distribution (see
            Notes of the class: parameter uncertainty, intercept included, plus noise;
            ``inf`` for Student-t noise with ``df_ <= 2``).

        Returns
        -------
        y_mean : ndarray of shape (n_samples,) or (n_samples, n_targets)
        y_std : ndarray of the same shape
            Only with ``return_std=True``.
        """
        X = self._check_X(X)
        dtype = self._out_dtype
        if not return_std:
            mean = (X @ self._coef_all.T + self._intercept_all[None, :]).astype(dtype, copy=False)
            return mean[:, 0] if self._single else mean
        mean, scale2, dof = self._predictive(X)
        with np.errstate(divide="ignore", invalid="ignore"):
            factor = np.where(dof > 2.0, dof / (dof - 2.0), np.inf)
        factor = np.where(np.isinf(dof), 1.0, factor)
        std = np.sqrt(scale2 * factor[None, :])
        mean, std = mean.astype(dtype, copy=False), std.astype(dtype, copy=False)
        if self._single:
            return mean[:, 0], std[:, 0]
        return mean, std

    def predict_interval(self, X, coverage=0.9):
        """Central interval of the predictive distribution.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        coverage : float, default=0.9
            Probability mass of the interval, in (0, 1).

        Returns
        -------
        lower, upper : ndarray of shape (n_samples,) or (n_samples, n_targets)
        """
        if not 0.0 < coverage < 1.0:
            raise ValueError(f"coverage must be in (0, 1), got {coverage!r}.")
        X = self._check_X(X)
        mean, scale2, dof = self._predictive(X)
        q = np.array(
            [stats.norm.ppf(0.5 + 0.5 * coverage) if np.isinf(v)
             else stats.t.ppf(0.5 + 0.5 * coverage, v) for v in dof]
        )  # fmt: skip
        half = q[None, :] * np.sqrt(scale2)
        dtype = self._out_dtype
        lower, upper = (
            (mean - half).astype(dtype, copy=False),
            (mean + half).astype(dtype, copy=False),
        )
        if self._single:
            return lower[:, 0], upper[:, 0]
        return lower, upper

    def score(self, X, y, sample_weight=None):
        r"""Coefficient of determination :math:`R^2` of :meth:`predict` on ``(X, y)``.

        :math:`R^2 = 1 - \sum_i w_i (y_i - \hat y_i)^2 / \sum_i w_i (y_i - \bar y)^2`
        (uniform average over the targets when ``y`` is 2-D), as scikit-learn's
        regressors compute it.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        score : float
        """
        return super().score(X, y, sample_weight=sample_weight)
