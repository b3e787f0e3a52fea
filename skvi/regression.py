"""Bayesian linear regression by variational EM and variational Bayes EM: the estimator
:class:`VariationalEMRegressor` (parameters, validation, the loop hooks, publishing the
fitted attributes, prediction). The model and all of its mathematics are in
:mod:`skvi._regression_kernels`.
"""

from functools import partial
from numbers import Integral, Real
from typing import NamedTuple

import numpy as np
from sklearn.base import RegressorMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from . import _dask, _regression_dask
from . import _regression_kernels as kern
from ._base import VariationalEstimator, keep_if_not_lower
from ._regression_kernels import INTERCEPT_PRIOR, RESIDUAL_RESOLUTION, VALUE_LIMIT, check_magnitudes

__all__ = ["INTERCEPT_PRIOR", "RESIDUAL_RESOLUTION", "VALUE_LIMIT", "VariationalEMRegressor"]


class _FitData(NamedTuple):
    """What the loop passes to the hooks: the data as the updates see it, the validated
    ``X`` (zero-weight rows included), ``Y`` (n_samples, n_targets), ``y`` was 1-D."""

    design: kern.RegressionData
    X: np.ndarray
    Y: np.ndarray
    single: bool


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

    **The iteration and its cost.** Each iteration updates :math:`q(\tau)` and :math:`\nu`
    (Student-t noise), the precisions (MacKay's update, kept only if the objective does
    not drop, else the coordinate-ascent update) and :math:`q(w, b)`, so ``lower_bounds_``
    never decreases; with Gaussian noise the iterations never touch ``X`` after two
    passes. The user guide (:ref:`regression`) and :mod:`skvi._regression_kernels` give
    the updates and their cost.

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

    **Dask arrays.** ``fit`` takes a ``dask.array.Array`` (``y``, ``sample_weight``
    chunked like it, or NumPy): chunks are validated and reduced to sums on the workers
    in a fixed order, the updates run on the client, and the fit equals the in-memory one
    to rounding (there is no random initialisation). Gaussian noise: three passes over
    the rows; Student-t: one per iteration and target (learned ``df``: two, and one small
    reduction per evaluation of its objective). With fewer rows than coefficients ``X``
    is gathered if it has at most ``2**22`` entries, else a ValueError. Fitted attributes
    are NumPy (``sample_precisions_``, one value per row, is gathered); :meth:`predict` and
    :meth:`predict_interval` return lazy Dask arrays, :meth:`score` a float.

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

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def _model_prior(self):
        return kern.RegressionPrior(
            self.alpha_1, self.alpha_2, self.lambda_1, self.lambda_2,
            ard=self.prior == "ard", point=self.method == "vem", df=self.df,
        )  # fmt: skip

    # ------------------------------------------------------------------ fitting
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the variational posterior.

        Parameters
        ----------
        X : array-like or dask.array.Array of shape (n_samples, n_features)
            A Dask array (chunks of whole rows) is fitted on its workers, with the same
            answer as in memory (see Notes: Dask arrays).
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Targets; the columns of a 2-D ``y`` are independent regressions that share
            the Gram matrix. With a Dask ``X``: a Dask array chunked like ``X``, or NumPy.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights, acting as repetition counts.

        Returns
        -------
        self : VariationalEMRegressor
        """
        data = None
        if _dask.is_dask_array(X):
            gathered, data = _regression_dask.fit_data(self, X, y, sample_weight, _FitData)
            X, y, sample_weight = gathered or (X, y, sample_weight)
        if data is None:
            X, y = validate_data(
                self, X, y, dtype=[np.float64, np.float32], multi_output=True,
                y_numeric=True, ensure_min_samples=2,
            )  # fmt: skip
            s = _check_sample_weight(sample_weight, X, dtype=np.float64, ensure_non_negative=True)
            if not s.sum() > 0:
                raise ValueError("The sample weights sum to zero: there is nothing to fit.")
            check_magnitudes(np.max(np.abs(X)), np.max(np.abs(y)), np.sum(s))
            Y = np.asarray(y, dtype=np.float64).reshape(len(y), -1)
            design = kern.RegressionData(X, Y, s, self.fit_intercept, self.noise, self.prior)
            data = _FitData(design, X, Y, y.ndim == 1)
        self._fit_loop(data, data.design.N)
        return self

    # ------------------------------------------------------------ the loop hooks
    def _initial_state(self, data, random_state):
        """Initial precisions (``alpha_init``, ``lambda_init``; Student-t: every
        :math:`\\mathbb E[\\tau_n] = 1`), then :math:`q(w, b)`; the model is deterministic
        (``random_state`` is not used)."""
        d, prior = data.design, self._model_prior()
        q, df = kern.initial_precisions(prior, d, self.alpha_init, self.lambda_init)
        if d.mode == "ridge":
            coef = kern.ridge_posterior(d, q)
            bounds = kern.elbo(prior, d, coef.summary, q)
        else:
            posts, bounds = [], np.empty(d.n_targets)
            for t in range(d.n_targets):
                qt = kern.target_precisions(q, t)
                if d.mode == "student":
                    stats, _, _ = d.tau_update(prior, t, None, None, float(df[t]))
                else:
                    stats = d.gaussian_stats(t)
                post = kern.target_posterior(d, stats, qt, prior.ard)
                posts.append(post)
                bound = kern.elbo(prior, d, post.summary, qt, df[t : t + 1], post.tau)
                bounds[t] = float(bound[0])
            coef = tuple(posts)
        track = kern.track_coef(None, kern.scaled_coef_means(d, coef))
        return kern.RegressionState(q, df, coef, bounds, track), float(bounds.sum())

    def _sweep(self, data, state):
        """One iteration: per target, :math:`q(\\tau)` and :math:`\\nu` (Student-t), the
        precisions (MacKay's update if it does not lower the objective, else coordinate
        ascent), then :math:`q(w, b)`; then the coefficient tracking of the stopping rule."""
        d = data.design
        if d.mode == "ridge":
            state = self._ridge_sweep(d, state)
        else:
            alpha_rate = state.precisions.alpha_rate.copy()
            lambda_rate = state.precisions.lambda_rate.copy()
            df, bounds, posts = state.df.copy(), state.bounds.copy(), list(state.coef)
            for t in range(d.n_targets):
                qt, df[t], posts[t], bounds[t] = self._target_sweep(d, state, t)
                alpha_rate[t], lambda_rate[t] = qt.alpha_rate[0], qt.lambda_rate[0]
            q = state.precisions._replace(alpha_rate=alpha_rate, lambda_rate=lambda_rate)
            state = state._replace(precisions=q, df=df, coef=tuple(posts), bounds=bounds)
        track = kern.track_coef(state.track, kern.scaled_coef_means(d, state.coef))
        state = state._replace(track=track)
        return state, float(state.bounds.sum())

    def _ridge_sweep(self, d, state):
        """Gaussian noise, ridge prior, every target at once: MacKay's update kept for the
        targets where the objective did not drop; elsewhere the coordinate-ascent update."""
        prior, q = self._model_prior(), state.precisions
        summary = state.coef.summary
        mk, ok = kern.mackay_update(prior, d.N, summary, q)
        post = kern.ridge_posterior(d, mk)
        bounds = kern.elbo(prior, d, post.summary, mk)
        take = np.array(
            [ok[t] and keep_if_not_lower(ref, [(t, bounds[t])]) is not None
             for t, ref in enumerate(state.bounds)],
            dtype=bool,
        )  # fmt: skip
        if np.all(take):
            return state._replace(precisions=mk, coef=post, bounds=bounds)
        cv = kern.cavi_update(prior, d, summary, q)
        cv_post = kern.ridge_posterior(d, cv)
        cv_bounds = kern.elbo(prior, d, cv_post.summary, cv)
        return state._replace(
            precisions=kern.select(take, mk, cv),
            coef=kern.select(take, post, cv_post),
            bounds=np.where(take, bounds, cv_bounds),
        )

    def _target_sweep(self, d, state, t):
        """One iteration for target ``t`` (ARD or Student-t noise); returns its precisions,
        degrees of freedom, :math:`q(\\theta)` and objective."""
        prior, post = self._model_prior(), state.coef[t]
        qt = kern.target_precisions(state.precisions, t)
        if d.mode == "student":
            e_alpha = float(qt.alpha_shape / qt.alpha_rate[0])
            stats, nu, current = d.tau_update(prior, t, post, e_alpha, float(state.df[t]))
            df = np.array([nu])
            ref = float(kern.elbo(prior, d, current.summary, qt, df, current.tau)[0])
        else:
            stats, df, current = d.gaussian_stats(t), state.df[t : t + 1], post
            ref = state.bounds[t]

        def posterior(q):
            new = kern.target_posterior(d, stats, q, prior.ard)
            return (q, new), float(kern.elbo(prior, d, new.summary, q, df, new.tau)[0])

        mk, ok = kern.mackay_update(prior, d.N, current.summary, qt)
        kept = keep_if_not_lower(ref, (posterior(mk) for _ in range(int(ok[0]))))
        if kept is None:
            kept = posterior(kern.cavi_update(prior, d, current.summary, qt))
        (qt, post), bound = kept
        return qt, df[0], post, bound

    def _converged(self, bounds, state, scale):
        """Both tests: the objective changed by less than ``tol`` per sample, and the
        coefficients are estimated within ``coef_tol`` (relative, 2-norm) of their fixed
        point (:func:`~skvi._regression_kernels.track_coef`; the objective is flat near its
        maximum: a change of ``tol`` in it still leaves the coefficients about
        ``sqrt(tol)`` away)."""
        return super()._converged(bounds, state, scale) and state.track.remaining <= self.coef_tol

    def _convergence_warning(self):
        return (
            f"{type(self).__name__} did not converge in max_iter={self.max_iter} "
            f"iterations: the objective still changed by more than tol={self.tol:g} per "
            "sample, or the coefficients were not yet within "
            f"coef_tol={self.coef_tol:g} of their fixed point. Increase max_iter (or tol "
            "and coef_tol), or check for degenerate data."
        )

    # ------------------------------------------------------------- publishing
    def _publish(self, data, state):
        """Fitted attributes from the final state, in the dtype of ``X`` (float32 stays
        float32, as in BayesianRidge; everything is computed in float64)."""
        d, single, q, dtype = data.design, data.single, state.precisions, data.X.dtype
        pred, intercept_std = kern.predictive_parameters(d, state, self.method == "vem")
        e_alpha, e_lambda = q.alpha_shape / q.alpha_rate, q.lambda_shape / q.lambda_rate
        student = d.mode == "student"
        df = pred.dof if student else np.full(d.n_targets, np.inf)
        self._single, self._pred, self._out_dtype = single, pred, dtype

        def out(a):
            return (a[0] if single else a).astype(dtype, copy=False)

        def per_target(a):
            return float(a[0]) if single else a.astype(dtype, copy=False)

        self.coef_ = out(pred.coef)
        self.intercept_ = per_target(pred.intercept)
        self.alpha_ = per_target(e_alpha)
        self.lambda_ = out(e_lambda) if self.prior == "ard" else per_target(e_lambda[:, 0])
        self.sigma_ = out(pred.sigma)
        self.coef_std_ = out(np.sqrt(np.maximum(np.diagonal(pred.sigma, axis1=1, axis2=2), 0.0)))
        self.intercept_std_ = per_target(intercept_std)
        self.df_ = per_target(df)
        # E[tau_n] of every training row at the fitted q(w, b), alpha and nu
        tau = d.sample_precisions(pred, data.X, data.Y, df, e_alpha) if student else None
        tau = np.ones(data.Y.shape) if tau is None else np.asarray(tau)  # gathered: n values
        self.sample_precisions_ = self._output(tau)[0]

    # --------------------------------------------------------------- prediction
    def _apply(self, X, func, arg):
        """``func(pred, arg, rows)`` (-> tuple of (n, T) arrays) on ``X``, as
        :meth:`_output`; lazily per chunk for a Dask array."""
        check_is_fitted(self)
        func = partial(func, self._pred, arg)
        if _dask.is_dask_array(X):
            return _regression_dask.lazy_apply(self, X, func)
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        return self._output(*func(X))

    def _output(self, *arrays):
        out = tuple(a.astype(self._out_dtype, copy=False) for a in arrays)
        return tuple(a[:, 0] for a in out) if self._single else out

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
        out = self._apply(X, kern.predict_rows, return_std)
        return out if return_std else out[0]

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
        return self._apply(X, kern.interval_rows, coverage)

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
        if _dask.is_dask_array(X):
            return _regression_dask.dask_score(self, X, y, sample_weight)
        return super().score(X, y, sample_weight=sample_weight)
