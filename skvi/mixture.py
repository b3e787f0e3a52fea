"""Variational Bayesian Gaussian mixture fitted by coordinate ascent (CAVI)."""

from numbers import Integral, Real

import numpy as np
from sklearn.base import DensityMixin, _fit_context
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from . import _dask
from . import _mixture_dask as mdask
from . import _mixture_kernels as kern
from ._base import VariationalEstimator, keep_if_not_lower
from ._jit import single_threaded_blas
from ._mixture_priors import check_same_structure, check_total_weight, data_units, resolve_prior


class VariationalGaussianMixture(DensityMixin, VariationalEstimator):
    r"""Bayesian Gaussian mixture fitted by mean-field variational Bayes (CAVI).

    A drop-in replacement for :class:`sklearn.mixture.BayesianGaussianMixture`: the
    same parameters, defaults and fitted attributes, with Numba kernels for the passes
    over the data and the differences listed under Notes.

    The model (Bishop, PRML section 10.2): weights :math:`\pi` with a Dirichlet prior
    (``weight_concentration_prior_type='dirichlet_distribution'``) or a truncated
    stick-breaking Dirichlet-process prior (Blei and Jordan 2006); per component a mean
    :math:`\mu_k \mid \Lambda_k \sim \mathcal N(m_0, (\beta_0 \Lambda_k)^{-1})` and a
    precision :math:`\Lambda_k` with a Wishart prior :math:`\mathcal W(W_0, \nu_0)`,
    :math:`W_0^{-1}` = ``covariance_prior``, :math:`\nu_0` = ``degrees_of_freedom_prior``
    (``'full'``; ``'tied'`` shares one :math:`\Lambda` by all components; ``'diag'`` has
    an independent :math:`\mathrm{Gamma}(\nu_0/2, c_{0j}/2)` precision per feature;
    ``'spherical'`` one :math:`\mathrm{Gamma}(d\nu_0/2, d c_0/2)` precision per
    component). The variational family is :math:`q(Z)\,q(\pi)\prod_k q(\mu_k,\Lambda_k)`.

    Parameters
    ----------
    n_components : int, default=1
        Number of mixture components (the truncation level under the DP prior). It may
        exceed the number of samples (see Notes).
    covariance_type : {'full', 'tied', 'diag', 'spherical'}, default='full'
        Form of the precision of each component (see above).
    tol : float, default=1e-3
        Convergence threshold on the change of the ELBO **per sample** (nats) between
        two iterations.
    reg_covar : float, default=1e-6
        Non-negative regularisation added to the diagonal of each component's scatter
        matrix, as in scikit-learn. In the ELBO it is the term
        :math:`-\tfrac{1}{2}\,\mathrm{reg}\sum_{nk} r_{nk}\,\mathbb E[\mathrm{tr}\,\Lambda_k]`,
        which the E-step includes too, so coordinate ascent stays exact and the reported
        bound stays below the exact one (and below :math:`\ln p(X)`). It is also added to
        the diagonal of the default ``covariance_prior`` so that a constant feature gives
        a proper prior.
    max_iter : int, default=100
        Maximum number of CAVI sweeps per initialisation.
    n_init : int, default=1
        Number of initialisations; the one with the largest ELBO is kept.
    init_params : {'kmeans', 'k-means++', 'random', 'random_from_data'}, default='kmeans'
        How the initial responsibilities are chosen. The initialisation sees the
        distinct rows of ``X`` with their summed weights, in sorted order, so that integer
        sample weights and repeated rows give the same fit. 'k-means++' and
        'random_from_data' give each component one seed row, as in scikit-learn; the
        initial ELBO (``lower_bound_`` at ``max_iter=0``) is then that of the factors
        the seeds give with the responsibilities of every row under them. Above 10,000
        rows the initialisation scales: it sees 10,000 rows drawn by index from
        ``random_state`` ('kmeans' then gives every row its nearest centre), and
        'random' draws per-row uniforms seeded by blocks of rows (see Notes).
    weight_concentration_prior_type : {'dirichlet_process', 'dirichlet_distribution'}
        Prior on the weights (default ``'dirichlet_process'``).
    weight_concentration_prior : float or None, default=None
        Concentration :math:`\alpha_0` (``1 / n_components`` if None).
    mean_precision_prior : float or None, default=None
        :math:`\beta_0` (1 if None).
    mean_prior : array-like of shape (n_features,) or None, default=None
        :math:`m_0` (the weighted mean of ``X`` if None).
    degrees_of_freedom_prior : float or None, default=None
        :math:`\nu_0`, greater than ``n_features - 1`` (``n_features`` if None).
    covariance_prior : float or array-like, default=None
        :math:`W_0^{-1}`: shape ``(n_features, n_features)`` for 'full'/'tied',
        ``(n_features,)`` for 'diag', a float for 'spherical'. If None, the weighted
        sample covariance of ``X`` (its variances for 'diag', their mean for
        'spherical'), plus ``reg_covar`` on the diagonal.
    random_state : int, RandomState instance or None, default=None
        Seed of the initialisation and of :meth:`sample`.
    warm_start : bool, default=False
        Start the next :meth:`fit` from this fit's solution (``n_init`` is then ignored):
        from its responsibilities on the new ``X``, under the current parameters. A fit
        whose ``n_components`` or number of features differs from the fitted state's
        starts afresh.
    verbose : int, default=0
        Print the ELBO every ``verbose_interval`` iterations (and times if ``>= 2``).
    verbose_interval : int, default=10
        Iterations between two printed lines.
    prune : bool, default=True
        When the ELBO change falls below ``tol``, try emptying each occupied component
        (a delete move, Hughes and Sudderth 2013) and keep the first that raises the ELBO
        by more than ``tol`` per sample, then go on iterating. Coordinate ascent alone
        can crawl for a hundred sweeps while two components share one cluster; with
        ``prune=False`` the fit is plain CAVI, iterate for iterate.
    learning_decay : float, default=0.7
        Exponent :math:`\kappa \in (0.5, 1]` of the step size
        :math:`\rho_t = (\tau_0 + t)^{-\kappa}` of :meth:`partial_fit`.
    learning_offset : float, default=10.0
        :math:`\tau_0 > 0` of the step size of :meth:`partial_fit`.
    total_samples : float, default=1e6
        Number of samples in the stream that :meth:`partial_fit` sees in batches.

    Attributes
    ----------
    weights_ : ndarray of shape (n_components,)
        Expected mixture weights :math:`\mathbb E_q[\pi_k]`.
    means_ : ndarray of shape (n_components, n_features)
        Posterior means :math:`m_k` of the component means.
    covariances_ : ndarray
        :math:`(\nu_k W_k)^{-1}` (``(n_components, n_features, n_features)`` 'full',
        ``(n_features, n_features)`` 'tied', ``(n_components, n_features)`` 'diag',
        ``(n_components,)`` 'spherical').
    precisions_ : ndarray
        :math:`\mathbb E_q[\Lambda_k] = \nu_k W_k`, same shapes as ``covariances_``.
    precisions_cholesky_ : ndarray
        Upper-triangular factor ``U`` with ``precisions_ = U @ U.T`` ('full', 'tied'), or
        ``sqrt(precisions_)`` ('diag', 'spherical').
    weight_concentration_ : ndarray of shape (n_components,) or tuple of two such arrays
        Dirichlet parameters, or the Beta parameters ``(a_k, b_k)`` of the sticks. The
        last stick is fixed at one by the truncation, which is written ``b_K = 0``.
    mean_precision_ : ndarray of shape (n_components,)
        :math:`\beta_k`.
    degrees_of_freedom_ : ndarray of shape (n_components,) or float ('tied')
        :math:`\nu_k`.
    weight_concentration_prior_ : float
        :math:`\alpha_0` in use.
    mean_precision_prior_ : float
        :math:`\beta_0` in use.
    mean_prior_ : ndarray of shape (n_features,)
        :math:`m_0` in use.
    degrees_of_freedom_prior_ : float
        :math:`\nu_0` in use.
    covariance_prior_ : float or ndarray
        :math:`W_0^{-1}` in use (shapes as for ``covariance_prior``).
    lower_bound_ : float
        The ELBO of the returned solution, in nats, every constant included:
        :math:`\mathcal L(q) \le \ln p(X)`.
    lower_bounds_ : ndarray of shape (``n_iter_``,)
        ELBO after each iteration of the best initialisation (after each batch for
        :meth:`partial_fit`: a noisy estimate scaled to ``total_samples``).
    converged_ : bool
    n_iter_ : int
    n_batch_iter_ : int
        Number of :meth:`partial_fit` updates.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (``n_features_in_``,)

    Notes
    -----
    Deliberate differences from :class:`~sklearn.mixture.BayesianGaussianMixture`:

    1. ``lower_bound_`` is the full ELBO in nats with every constant, a certified lower
       bound on :math:`\ln p(X)` that can be compared across ``n_components`` and priors
       (scikit-learn drops the constants, its issues #8823 and #19074). With one
       component, the Dirichlet prior and ``reg_covar=0`` the variational family
       contains the exact posterior and ``lower_bound_`` equals the closed-form log
       marginal likelihood of the Normal-Wishart (or Normal-Gamma) model.
    2. ``tol`` applies to the ELBO change per sample, so large data sets converge.
    3. :meth:`score_samples` is the log posterior predictive density, a mixture of
       Student-t distributions (Bishop 10.81), and :meth:`score` its mean; :meth:`sample`
       draws from it and advances its random state between calls.
    4. :meth:`fit` accepts ``sample_weight`` (scikit-learn #15647).
    5. The DP truncation fixes the last stick at one (Blei and Jordan 2006);
       scikit-learn gives the last stick a Beta factor too. 'tied' is the exact
       conjugate update (:math:`\nu = \nu_0 + N`); scikit-learn divides the data terms
       by ``n_components``. 'diag' and 'spherical' use the Gamma expectations
       :math:`\mathbb E\ln\lambda = \psi(a) - \ln b`; scikit-learn uses the Wishart
       expression there. The M-step of 'full', 'diag' and 'spherical' and the whole
       iteration of 'full' with the Dirichlet prior are the same as scikit-learn's.
    6. ``n_components`` may exceed the number of samples (scikit-learn raises): under
       the DP prior it is a truncation level, and under either prior the components
       without data keep (nearly) their prior factors.
    7. The computations are done on :math:`y = (x - c) / s`, with :math:`c` the
       weighted mean of ``X`` and :math:`s` the power of two just above its largest
       deviation from :math:`c`; the model is equivariant under this change of
       variables and the fitted attributes and ``lower_bound_`` are reported in the
       units of ``X``. Inputs whose scale float64 cannot carry raise a ``ValueError``
       naming the input and the limit: a largest deviation of ``X`` outside
       [1e-150, 1e150]; a total sample weight (``total_samples`` for
       :meth:`partial_fit`) above 1e100; ``reg_covar`` or ``covariance_prior`` above
       1e100 :math:`s^2`; ``mean_prior`` farther than 1e50 :math:`s` from :math:`c`.
    8. After :meth:`set_params`, the prediction methods use the fitted state;
       :meth:`partial_fit` raises a ``ValueError`` if ``n_components``,
       ``covariance_type`` or ``weight_concentration_prior_type`` differ from the fitted
       state's, and a warm-started :meth:`fit` starts afresh if ``n_components`` or the
       number of features differ. The priors always follow the current parameters.
    9. :meth:`fit` accepts a ``dask.array.Array`` (chunks of whole rows; ``sample_weight``
       a Dask or NumPy array) and never gathers it: each pass runs the serial Numba
       kernels per chunk on the workers and sums the statistics in the order of the
       chunks; the update and the ELBO run on the client. The units and default priors
       come from per-chunk reductions and the initialisation from at most 10,000 rows,
       the same in memory, so the fit equals the in-memory one to rounding (1e-10
       relative). The fitted attributes are NumPy arrays; :meth:`predict`,
       :meth:`predict_proba` and :meth:`score_samples` of a Dask array are lazy Dask
       arrays and :meth:`score` a float. :meth:`partial_fit` takes a Dask array as one
       mini-batch, which it reduces in the same way (its first call initialises as
       :meth:`fit` does, from at most 10,000 of the batch's rows).

    References
    ----------
    - C. M. Bishop, Pattern Recognition and Machine Learning, 2006, section 10.2.
    - D. M. Blei and M. I. Jordan, Variational inference for Dirichlet process mixtures,
      Bayesian Analysis 1(1), 2006.
    - M. D. Hoffman, D. M. Blei, C. Wang and J. Paisley, Stochastic variational
      inference, JMLR 14, 2013.

    Examples
    --------
    >>> import numpy as np
    >>> from skvi import VariationalGaussianMixture
    >>> X = np.array([[1, 2], [1, 4], [1, 0], [4, 2], [4, 4], [4, 0]], dtype=float)
    >>> vgm = VariationalGaussianMixture(n_components=2, random_state=42).fit(X)
    >>> vgm.predict([[0, 0], [4, 3]])
    array([0, 1])
    """

    _parameter_constraints: dict = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "covariance_type": [StrOptions({"full", "tied", "diag", "spherical"})],
        "tol": [Interval(Real, 0.0, None, closed="left")],
        "reg_covar": [Interval(Real, 0.0, None, closed="left")],
        "max_iter": [Interval(Integral, 0, None, closed="left")],
        "n_init": [Interval(Integral, 1, None, closed="left")],
        "init_params": [StrOptions({"kmeans", "random", "random_from_data", "k-means++"})],
        "weight_concentration_prior_type": [
            StrOptions({"dirichlet_process", "dirichlet_distribution"})
        ],
        "weight_concentration_prior": [None, Interval(Real, 0.0, None, closed="neither")],
        "mean_precision_prior": [None, Interval(Real, 0.0, None, closed="neither")],
        "mean_prior": [None, "array-like"],
        "degrees_of_freedom_prior": [None, Interval(Real, 0.0, None, closed="neither")],
        "covariance_prior": [None, "array-like", Interval(Real, 0.0, None, closed="neither")],
        "random_state": ["random_state"],
        "warm_start": ["boolean"],
        "verbose": ["verbose"],
        "verbose_interval": [Interval(Integral, 1, None, closed="left")],
        "prune": ["boolean"],
        "learning_decay": [Interval(Real, 0.5, 1.0, closed="right")],
        "learning_offset": [Interval(Real, 0.0, None, closed="neither")],
        "total_samples": [Interval(Real, 0.0, None, closed="neither")],
    }

    # fmt: off
    def __init__(
        self, *, n_components=1, covariance_type="full", tol=1e-3, reg_covar=1e-6,
        max_iter=100, n_init=1, init_params="kmeans",
        weight_concentration_prior_type="dirichlet_process", weight_concentration_prior=None,
        mean_precision_prior=None, mean_prior=None, degrees_of_freedom_prior=None,
        covariance_prior=None, random_state=None, warm_start=False, verbose=0,
        verbose_interval=10, prune=True, learning_decay=0.7, learning_offset=10.0,
        total_samples=1e6,
    ):
        # fmt: on
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.tol = tol
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.weight_concentration_prior_type = weight_concentration_prior_type
        self.weight_concentration_prior = weight_concentration_prior
        self.mean_precision_prior = mean_precision_prior
        self.mean_prior = mean_prior
        self.degrees_of_freedom_prior = degrees_of_freedom_prior
        self.covariance_prior = covariance_prior
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self.verbose_interval = verbose_interval
        self.prune = prune
        self.learning_decay = learning_decay
        self.learning_offset = learning_offset
        self.total_samples = total_samples

    # ------------------------------------------------------------------ fitting
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, sample_weight=None):
        """Fit the variational posterior by coordinate ascent.

        With ``warm_start=True`` and a fitted model of the same ``n_components`` and
        number of features, the fit starts from the fitted posterior's
        responsibilities on ``X`` (one initialisation, whatever ``n_init``); otherwise
        it starts afresh. The priors are always those of the current parameters and
        ``X``.

        Parameters
        ----------
        X : array-like or dask.array.Array of shape (n_samples, n_features)
            A Dask array (chunks of whole rows) is fitted on its workers, chunk by
            chunk, without being gathered (Notes, item 9).
        y : Ignored
        sample_weight : array-like or dask.array.Array of shape (n_samples,), default=None
            Non-negative weights, acting as repetition counts; their sum must not
            exceed 1e100.

        Returns
        -------
        self : VariationalGaussianMixture
        """
        fitted_shape = self.means_.shape if self.warm_start and hasattr(self, "_state") else None
        if _dask.is_dask_array(X):  # before any validation that would gather X
            red = mdask.reduce_dask(self, X, sample_weight)
            total, X = red.total_weight, red.X
        else:
            X, w = self._validate_fit_data(X, sample_weight, reset=True)
            total = w.sum()
        total = check_total_weight(total, "The sample weights (sample_weight)")
        warm = fitted_shape == (self.n_components, X.shape[1])
        # BLAS only sees d x d matrices here: one thread is faster (single_threaded_blas)
        with single_threaded_blas():
            if _dask.is_dask_array(X):
                chunks, start = mdask.prepare_fit(self, red, warm)
                data = mdask.FitData(chunks, self._model_prior, mdask.ON_DASK)
            else:
                resp = None
                if warm:  # the fitted posterior's responsibilities on X, in its own units
                    with np.errstate(all="ignore"):
                        resp = np.exp(self._estimate_log_resp(X)[0])
                    if not np.all(np.isfinite(resp)):
                        resp = None  # X lies beyond the float range of the fitted units
                self._resolve_priors(X, w)
                data = self._data(X, w)
                # warm start: one update from the fitted posterior's responsibilities,
                # under the current priors and data; else the loop starts afresh
                start = None if resp is None else kern.state_from_resp(data.chunk, data.prior, resp)
            self._fit_loop(
                data, total, start=start, n_init=self.n_init, random_state=self.random_state,
                verbose_interval=self.verbose_interval,
            )  # fmt: skip
        self._sample_rng = check_random_state(self.random_state)
        self.n_batch_iter_ = 0
        self._check_representable()
        return self

    def fit_predict(self, X, y=None, sample_weight=None):
        """Fit, then return the most responsible component of each sample.

        Equals ``fit(X).predict(X)``.
        """
        return self.fit(X, y, sample_weight=sample_weight).predict(X)

    @_fit_context(prefer_skip_nested_validation=False)
    def partial_fit(self, X, y=None, sample_weight=None):
        r"""One step of stochastic variational inference on a mini-batch.

        The batch's local step (responsibilities) is exact; the global factors move
        along the natural gradient: with :math:`\hat s` the batch's sufficient
        statistics scaled to ``total_samples``, the running statistics become
        :math:`s \leftarrow (1-\rho_t) s + \rho_t \hat s`, :math:`\rho_t =
        (\tau_0 + t)^{-\kappa}` (Hoffman et al. 2013, eq. 25), and the factors are the
        conjugate updates from :math:`s`.

        The first call (on an unfitted model) initialises from its batch; later calls,
        and calls after :meth:`fit`, continue the fitted model, so ``n_components``,
        ``covariance_type`` and ``weight_concentration_prior_type`` must be those it
        was fitted with (a ``ValueError`` says which differs: call :meth:`fit` to
        start afresh). The priors follow the current parameters; the defaults that
        depend on the data come from the data that initialised the model.

        Parameters
        ----------
        X : array-like or dask.array.Array of shape (n_samples, n_features)
            One mini-batch; a Dask array (chunks of whole rows) is one batch, reduced
            on its workers (Notes, item 9).
        y : Ignored
        sample_weight : array-like or dask.array.Array of shape (n_samples,), default=None
            Relative weights of the batch's rows (the batch stands for
            ``total_samples`` samples, at most 1e100).

        Returns
        -------
        self : VariationalGaussianMixture
        """
        first, dask = not hasattr(self, "_state"), _dask.is_dask_array(X)
        if not first:
            check_same_structure(self)
        # relative weights (the largest is one), so that their scale is irrelevant
        if dask:  # one batch in row chunks: validated and reduced on the workers
            red = mdask.reduce_dask(self, X, sample_weight, reset=first, relative=True)
            X, w, total, units = red.X, red.w, red.total_weight, red.units
        else:
            X, w = self._validate_fit_data(X, sample_weight, reset=first)
            w = w / w.max()
            total, units = w.sum(), None
        check_total_weight(self.total_samples, "total_samples")
        with single_threaded_blas():
            if first:
                self._resolve_priors(X, w, units)
            else:
                self._set_priors(self._units, self._data_cov)
            scale = self.total_samples / total
            data = mdask.stream_data(self, red, scale) if dask else self._data(X, w, scale)
            state = None if first else self._state
            if first:  # a schedule starts from the batch's initialisation
                self._sample_rng = check_random_state(self.random_state)
                state = self._initial_state(data, self._sample_rng)[0]
                self.n_batch_iter_ = self._FIRST_BATCH_ITER
            self._stochastic_step(data, state)
        self._check_representable()
        return self

    def _check_representable(self):
        """Raise if the fitted posterior, in the units of X, is not finite in float64."""
        names = ("lower_bound_", "means_", "covariances_", "precisions_", "precisions_cholesky_")
        bad = [name for name in names if not np.all(np.isfinite(getattr(self, name)))]
        if bad:
            raise ValueError(
                f"The fitted {', '.join(bad)} overflow float64 in the units of X (X's "
                f"largest deviation from its mean is {self._deviation:.3g}; reg_covar="
                f"{self.reg_covar:g}). Rescale X, or reduce reg_covar or covariance_prior."
            )

    def _validate_fit_data(self, X, sample_weight, reset):
        dtype, min_samples = [np.float64, np.float32], 2 if reset else 1
        X = validate_data(self, X, reset=reset, dtype=dtype, ensure_min_samples=min_samples)
        w = _check_sample_weight(sample_weight, X, dtype=np.float64, ensure_non_negative=True)
        if not w.sum() > 0:
            raise ValueError("The sample weights sum to zero: there is nothing to fit.")
        return X, w

    def _resolve_priors(self, X, w, reduced=None):
        """Set the internal units from ``X`` (:func:`~skvi._mixture_priors.data_units`,
        or its value ``reduced`` from the chunks of a Dask array), then the priors; a
        refused input changes nothing (units and priors keep matching the fitted
        posterior)."""
        units, deviation, data_cov = data_units(X, w) if reduced is None else reduced
        self._set_priors(units, data_cov)
        self._units, self._deviation, self._data_cov = units, deviation, data_cov

    def _set_priors(self, units, data_cov):
        """Set the ``*_prior_`` attributes and the prior in the internal units."""
        prior, self.mean_prior_, self.covariance_prior_ = resolve_prior(self, units, data_cov)
        self._model_prior = prior
        self.weight_concentration_prior_ = prior.weight_concentration
        self.mean_precision_prior_ = prior.mean_precision
        self.degrees_of_freedom_prior_ = prior.degrees_of_freedom

    # ------------------------------------------------- the hooks of the fit loop
    def _data(self, X, w, stats_scale=1.0):
        """The value the hooks receive: the chunk of data, the prior just resolved and
        the steps of the hooks for data in memory."""
        chunk = kern.Chunk(X, w, self._units, stats_scale)
        return mdask.FitData(chunk, self._model_prior, mdask.IN_MEMORY)

    def _initial_state(self, data, random_state):
        """Initial responsibilities (``init_params``), then one update, and its ELBO."""
        init, k = self.init_params, self.n_components
        return data.steps.initial_state(data.chunk, data.prior, k, init, random_state)

    def _sweep(self, data, state):
        return data.steps.sweep(data.chunk, data.prior, state.coef)

    def _stochastic_sweep(self, data, state, rho):
        return data.steps.stochastic_sweep(data.chunk, data.prior, state, rho)

    def _leave_plateau(self, data, state, bound, scale):
        """Delete moves (:func:`~skvi._mixture_kernels.delete_moves`): the first that
        raises the ELBO by more than ``tol * scale`` (``tol`` per sample) is kept, which
        ends the slow plateaus where two components share a cluster."""
        if not self.prune:
            return None
        moves = data.steps.delete_moves(data.chunk, data.prior, state)
        return keep_if_not_lower(bound, moves, margin=self.tol * scale)

    def _publish(self, data, state):
        """Set the fitted attributes, in the units of X, from ``state``."""
        ctype = data.prior.covariance_type
        post = kern.to_data_units(state.posterior, data.chunk.units, ctype)
        self._state = state
        self._predictive = kern.predictive(post, ctype)
        sticks = post.stick_b is not None  # the DP prior: the sticks' (a, b)
        a = post.weight_concentration
        self.weight_concentration_ = (a, post.stick_b) if sticks else a
        self.weights_ = post.weights
        self.mean_precision_ = post.mean_precision
        self.means_ = post.means
        self.degrees_of_freedom_ = post.degrees_of_freedom
        self.covariances_ = post.covariances
        self.precisions_ = post.precisions
        self.precisions_cholesky_ = post.precisions_cholesky

    # ---------------------------------------------------------------- inference
    def _check_X(self, X):
        check_is_fitted(self)
        return validate_data(self, X, reset=False, dtype=[np.float64, np.float32])

    def _estimate_log_resp(self, X):
        units, ctype = self._units, self._model_prior.covariance_type
        # one block of rows: the serial twin, equal bit for bit (kern.serial_suffices)
        kernel = kern.log_resp_serial if kern.serial_suffices(X.shape[0]) else kern.log_resp
        with single_threaded_blas():
            return kernel(X, units.shift, units.inv_scale, self._state.coef, ctype)

    def predict_proba(self, X):
        """Responsibilities :math:`r_{nk}` (Bishop 10.49) under the fitted posterior.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        resp : ndarray of shape (n_samples, n_components)
            A lazy Dask array for a Dask ``X``.
        """
        if _dask.is_dask_array(X):
            return np.exp(mdask.lazy_log_resp(self, X))  # a lazy Dask array
        return np.exp(self._estimate_log_resp(self._check_X(X))[0])

    def predict(self, X):
        """Index of the most responsible component for each sample.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            A lazy Dask array for a Dask ``X``.
        """
        if _dask.is_dask_array(X):
            return mdask.lazy_log_resp(self, X).argmax(axis=1)  # a lazy Dask array
        return self._estimate_log_resp(self._check_X(X))[0].argmax(axis=1)

    def score_samples(self, X):
        r"""Log posterior predictive density :math:`\ln p(x \mid X_{\mathrm{train}})`.

        The mixture of Student-t distributions of Bishop (10.81),
        :math:`\sum_k \mathbb E_q[\pi_k]\,\mathrm{St}(x \mid m_k, L_k, \nu_k + 1 - d)`
        with :math:`L_k = \frac{(\nu_k + 1 - d)\beta_k}{1+\beta_k} W_k` ('full', 'tied';
        the Gamma analogues for 'diag' and 'spherical'): a normalised density
        (:func:`~skvi._mixture_kernels.predictive`).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        log_density : ndarray of shape (n_samples,)
            A lazy Dask array for a Dask ``X``.
        """
        if _dask.is_dask_array(X):
            return mdask.lazy_score_samples(self, X)  # a lazy Dask array
        X = self._check_X(X)
        return kern.log_predictive(X, self._predictive, self._model_prior.covariance_type)

    def score(self, X, y=None):
        """Mean log posterior predictive density of the samples.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : Ignored

        Returns
        -------
        score : float
        """
        log_density = self.score_samples(X)
        if _dask.is_dask_array(log_density):
            return float(_dask.compute(log_density.mean())[0])
        return float(np.mean(log_density))

    def sample(self, n_samples=1):
        """Draw samples from the posterior predictive distribution.

        Successive calls continue the random stream seeded by ``random_state``.

        Parameters
        ----------
        n_samples : int, default=1

        Returns
        -------
        X : ndarray of shape (n_samples, n_features)
        y : ndarray of shape (n_samples,)
            The component each sample was drawn from.
        """
        check_is_fitted(self)
        if n_samples < 1:
            raise ValueError(
                f"Invalid value for 'n_samples': {n_samples}. The sampling requires at "
                "least one sample."
            )
        return kern.sample_predictive(
            self._predictive, n_samples, self._sample_rng, self._model_prior.covariance_type
        )
