"""Variational latent Dirichlet allocation: batch CAVI, stochastic VI and collapsed VB."""

import time
from numbers import Integral, Real
from typing import NamedTuple

import numpy as np
import scipy.sparse as sp
from sklearn.base import ClassNamePrefixFeaturesOutMixin, TransformerMixin, _fit_context
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, check_non_negative, validate_data

from . import _dask, _lda_dask
from . import _lda_kernels as kern
from ._base import VariationalEstimator, keep_if_not_lower, learning_rate
from ._jit import num_threads
from ._sparse_checks import check_sparse_structure


class _Corpus(NamedTuple):
    """The hooks' data: the counts (CSR), the priors a fit starts from, CVB0's structure."""

    X: sp.csr_matrix
    prior: kern.LDAPrior
    structure: kern.CVB0Structure | None


class VariationalLDA(ClassNamePrefixFeaturesOutMixin, TransformerMixin, VariationalEstimator):
    r"""Latent Dirichlet allocation fitted by variational inference.

    A drop-in replacement for :class:`sklearn.decomposition.LatentDirichletAllocation`
    with the mean-field family of Blei, Ng and Jordan (2003): Dirichlet
    :math:`q(\theta_d \mid \gamma_d)`, Dirichlet :math:`q(\beta_k \mid \lambda_k)`,
    categorical :math:`q(z_{dn} \mid \phi_{dn})`. The per-document updates run in a Numba
    kernel over CSR rows, parallel over documents.

    Parameters
    ----------
    n_components : int, default=10
        Number of topics.
    doc_topic_prior : float, array-like of shape (n_components,), 'auto' or None
        :math:`\alpha` (default None): a positive float (values above 1 allowed), an
        asymmetric prior, or ``'auto'`` to learn an asymmetric prior by empirical Bayes
        (Minka's fixed point on the ELBO). None means ``1 / n_components``.
    topic_word_prior : float, 'auto' or None, default=None
        :math:`\eta`, symmetric: a positive float or ``'auto'`` (learned by Newton's
        method on the ELBO). None means ``1 / n_components``.
    learning_method : {'batch', 'online', 'cvb0'}, default='batch'
        'batch': coordinate ascent over the whole corpus. Each pass restarts the
        documents from random points as scikit-learn does and keeps the result if the
        ELBO does not decrease; otherwise the pass is redone warm-started from the
        previous one. The ELBO never decreases. 'online':
        stochastic variational inference over mini-batches (Hoffman, Blei and Bach 2010).
        'cvb0': collapsed variational Bayes, zeroth order (Asuncion et al. 2009), over the
        whole corpus; not mean-field and not monotone, but it reaches a lower held-out
        perplexity than 'batch', close to collapsed Gibbs sampling's (see Notes). Needs
        more passes than 'batch' (each far cheaper: one update per document-word entry)
        and memory for ``nnz * n_components`` float32 responsibilities; fixed priors
        only.
    learning_decay : float, default=0.7
        :math:`\kappa` of the online step size :math:`\rho_t = (\tau_0 + t)^{-\kappa}`.
    learning_offset : float, default=10.0
        :math:`\tau_0` (greater than 1 as in scikit-learn).
    max_iter : int, default=10
        Passes over the data ('cvb0' needs more than 'batch': see its section of the
        user guide).
    batch_size : int, default=128
        Documents per mini-batch (online).
    evaluate_every : int, default=-1
        Check convergence every ``evaluate_every`` passes with the perplexity of the ELBO
        (``<= 0``: never; then all ``max_iter`` passes run).
    total_samples : int, default=1e6
        Number of documents in the stream :meth:`partial_fit` sees.
    perp_tol : float, default=0.1
        Convergence threshold on the change of that perplexity.
    mean_change_tol : float, default=1e-3
        (Not used by the 'cvb0' passes, only by :meth:`transform`.) A document's E-step
        stops when the mean absolute change of its
        :math:`\gamma_d` falls below this. From 1e-5 up, the sweeps run in float32
        (about twice as fast), with float64 sweeps after them only for documents whose
        change float32 cannot resolve below this (long documents); the statistics and
        the ELBO are always float64, computed from the final :math:`\gamma_d`.
    max_doc_update_iter : int, default=100
        Maximum E-step sweeps per document.
    n_jobs : int or None, default=None
        Number of kernel threads (None: all cores; negative: count back from all).
        Restored after each call.
    verbose : int, default=0
        Print one line per pass in scikit-learn's format (``iteration: i of max_iter:
        n``, with ``, perplexity: p`` on the passes where it is evaluated, every
        ``evaluate_every``); 2 or more adds the ELBO and the time.
    random_state : int, RandomState instance or None, default=None
        Seed of the initial topics.

    Attributes
    ----------
    components_ : ndarray of shape (n_components, n_features)
        :math:`\lambda`, the topic-word Dirichlet parameters, in the dtype of the
        training data (float32 or float64, as in scikit-learn; the arithmetic is float64
        throughout).
    exp_dirichlet_component_ : ndarray of shape (n_components, n_features)
        :math:`\exp \mathbb E_q[\ln \beta]`, in the dtype of ``components_``.
    doc_topic_prior_ : float or ndarray of shape (n_components,)
        The (learned) :math:`\alpha`; an array when asymmetric.
    topic_word_prior_ : float
        The (learned) :math:`\eta`.
    lower_bound_ : float
        The ELBO of the training corpus in nats, every constant included (batch: the
        exact ELBO of the returned topics and document parameters, with the word
        assignments of the last sweep; online: accumulated over the last pass's
        mini-batches, each with the topics of its step; cvb0: the exact ELBO of the
        mean-field distribution defined by the expected counts of the last pass,
        :math:`\gamma_{dk} = \alpha_k + N_{dk}`, :math:`\lambda_{kw} = \eta + N_{wk}`, word
        assignments at their optimum for them). With ``max_iter=0``: the ELBO of the
        initial distribution (random topics, :math:`\gamma_d = \alpha + n_d / K`; cvb0:
        the initial expected counts).
    lower_bounds_ : ndarray of shape (``n_iter_``,)
        ELBO after each pass.
    bound_ : float
        Training perplexity ``exp(-lower_bound_ / n_tokens)``.
    converged_ : bool
    n_batch_iter_ : int
        Number of topic updates (starts at 1, as in scikit-learn).
    n_iter_ : int
        Number of passes over the data.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (``n_features_in_``,)

    Notes
    -----
    The user guide's LDA chapter gives the updates, the ELBO, the CVB0 algorithm and each
    difference from scikit-learn's ``LatentDirichletAllocation``. In short: the batch
    ELBO is monotone (scikit-learn restarts the document parameters at random every pass
    and keeps the result whatever it is, #6777; skvi makes the same restarts, from the
    same random draws, and keeps them only if the ELBO does not decrease, so that where
    scikit-learn's bound rises the two fits agree: 5.9e-6 relative in the topics after
    three passes, ``tests/test_lda.py``); ``doc_topic_prior`` may exceed 1, be asymmetric
    or be learned; :meth:`perplexity` never changes the fitted state and scores held-out
    documents by their own terms of the bound only (#20032); the E-step works in a
    shifted log domain instead of adding ``eps``. Every method that uses the fitted model
    takes the number of topics from ``components_``; a later :meth:`partial_fit` raises a
    ``ValueError`` if ``n_components`` or the length of an array ``doc_topic_prior`` no
    longer matches the fitted topics. Sparse input has its index arrays checked before
    any kernel reads through them. A matrix without tokens is fitted like any other (the
    posterior is the prior; ``bound_`` and :meth:`perplexity` are 1). The KL terms are
    computed as increments from the prior, so the ELBO is accurate to the size of the
    data whatever its scale: counts from 1e-300 up to a total of 1e300 tokens, priors up
    to a total mass of 1e305, ``n_features * topic_word_prior`` up to 1e12 for online
    learning (beyond, a ``ValueError`` names the limit, as it does when an online fit's
    ``bound_`` would overflow, beyond 709 nats per token). ``learning_method='cvb0'``
    (not in scikit-learn) keeps a float32 responsibility vector per non-zero entry and
    updates it with the collapsed Gibbs sampler's conditional on expected counts
    (Asuncion et al. 2009, eq. 4); ``components_`` is :math:`\eta + N_{wk}`.

    ``fit`` accepts a Dask array of documents ('batch' and 'online'; 'cvb0' raises a
    ``ValueError``). A batch pass runs the E-step per chunk on the workers (serial kernel),
    sums the statistics of the words each chunk has on the workers and updates the topics
    on the client; the documents' parameters stay on the workers. The initialisation
    scales (random topics, documents at :math:`\alpha + n_d / K`) and the random restarts
    are drawn per block of documents above 65,536 documents, so the fit equals the
    in-memory one. An online pass takes the same steps as in memory (same mini-batches
    in document order, same random starts and step sizes :math:`\rho_t`), as a chain of
    tasks, one per chunk, carrying the topics from each to the next: SVI is sequential,
    so one task runs at a time and the gain is memory, not speed. :meth:`partial_fit`
    takes a Dask array as one mini-batch (E-step per chunk on the workers, the step on
    the client). :meth:`transform` returns a lazy Dask array, :meth:`score` and
    :meth:`perplexity` floats.

    References
    ----------
    D. M. Blei, A. Y. Ng and M. I. Jordan, Latent Dirichlet allocation, JMLR 3, 2003.
    M. D. Hoffman, D. M. Blei and F. Bach, Online learning for latent Dirichlet
    allocation, NIPS 2010.
    T. Minka, Estimating a Dirichlet distribution, 2000.
    A. Asuncion, M. Welling, P. Smyth and Y. W. Teh, On smoothing and inference for topic
    models, UAI 2009.

    Examples
    --------
    >>> import numpy as np
    >>> from skvi import VariationalLDA
    >>> X = np.random.RandomState(0).randint(5, size=(20, 30))
    >>> lda = VariationalLDA(n_components=3, random_state=0).fit(X)
    >>> lda.transform(X[:2]).shape
    (2, 3)
    """

    _parameter_constraints: dict = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "doc_topic_prior": [None, Interval(Real, 0, None, closed="neither"), "array-like",
                            StrOptions({"auto"})],
        "topic_word_prior": [None, Interval(Real, 0, None, closed="neither"),
                             StrOptions({"auto"})],
        "learning_method": [StrOptions({"batch", "online", "cvb0"})],
        "learning_decay": [Interval(Real, 0, 1, closed="both")],
        "learning_offset": [Interval(Real, 1.0, None, closed="left")],
        "max_iter": [Interval(Integral, 0, None, closed="left")],
        "batch_size": [Interval(Integral, 0, None, closed="neither")],
        "evaluate_every": [Interval(Integral, None, None, closed="neither")],
        "total_samples": [Interval(Real, 0, None, closed="neither")],
        "perp_tol": [Interval(Real, 0, None, closed="left")],
        "mean_change_tol": [Interval(Real, 0, None, closed="left")],
        "max_doc_update_iter": [Interval(Integral, 0, None, closed="left")],
        "n_jobs": [None, Integral],
        "verbose": ["verbose"],
        "random_state": ["random_state"],
    }  # fmt: skip

    def __init__(
        self,
        n_components=10,
        *,
        doc_topic_prior=None,
        topic_word_prior=None,
        learning_method="batch",
        learning_decay=0.7,
        learning_offset=10.0,
        max_iter=10,
        batch_size=128,
        evaluate_every=-1,
        total_samples=1e6,
        perp_tol=1e-1,
        mean_change_tol=1e-3,
        max_doc_update_iter=100,
        n_jobs=None,
        verbose=0,
        random_state=None,
    ):
        self.n_components = n_components
        self.doc_topic_prior = doc_topic_prior
        self.topic_word_prior = topic_word_prior
        self.learning_method = learning_method
        self.learning_decay = learning_decay
        self.learning_offset = learning_offset
        self.max_iter = max_iter
        self.batch_size = batch_size
        self.evaluate_every = evaluate_every
        self.total_samples = total_samples
        self.perp_tol = perp_tol
        self.mean_change_tol = mean_change_tol
        self.max_doc_update_iter = max_doc_update_iter
        self.n_jobs = n_jobs
        self.verbose = verbose
        self.random_state = random_state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.positive_only = True
        tags.input_tags.sparse = True
        tags.transformer_tags.preserves_dtype = ["float32", "float64"]
        return tags

    @property
    def _n_features_out(self):
        return self.components_.shape[0]

    # ------------------------------------------------------------- validation
    def _check_X(self, X, *, reset, whom):
        """Validate ``X`` (float64 or float32, kept; non-negative; CSR), after checking a
        sparse input's index arrays (``_sparse_checks.check_sparse_structure``). Duplicate or
        unsorted column indices are summed and sorted on a copy (the input is never
        modified)."""
        if sp.issparse(X):
            X = check_sparse_structure(X, whom)
        X = validate_data(self, X, reset=reset, accept_sparse="csr", dtype=[np.float64, np.float32])
        check_non_negative(X, whom)
        return _lda_dask.canonical_csr(X)

    def _check_docs(self, X, *, reset, whom, method):
        """``(X, n_tokens)``: :meth:`_check_X`, or a Dask array checked on its workers."""
        if _dask.is_dask_array(X):
            return _lda_dask.check_docs(self, X, whom, reset, method)
        X = self._check_X(X, reset=reset, whom=whom)
        return X, float(X.sum())

    def _check_online_prior(self, n_features):
        """Online learning's limit on the topic prior (:data:`MAX_ONLINE_PRIOR_MASS`)."""
        kern.check_online_prior(self.topic_word_prior, self.n_components, n_features)

    @staticmethod
    def _check_tokens(n_tokens, whom, what="X.sum()"):
        """Raise if a corpus of ``n_tokens`` tokens is too large for float64."""
        if not n_tokens <= kern.MAX_TOKENS:
            raise ValueError(
                f"{whom}: {what} = {n_tokens:.3g} tokens; VariationalLDA's float64 "
                f"arithmetic allows at most {kern.MAX_TOKENS:g}. Rescale the counts."
            )

    def _resolve_priors(self, n_features):
        """The :class:`~skvi._lda_kernels.LDAPrior` a fit starts from, checked
        (:func:`~skvi._lda_kernels.resolve_prior`)."""
        args = (self.doc_topic_prior, self.topic_word_prior, self.n_components, n_features)
        return kern.resolve_prior(*args)

    def _check_cvb0(self, X):
        """CVB0's structure of ``X`` (None for the other methods); CVB0 has fixed priors."""
        if self.learning_method != "cvb0":
            return None
        names = ("doc_topic_prior", "topic_word_prior")
        learned = [name for name in names if isinstance(getattr(self, name), str)]
        if learned:
            raise ValueError(
                f"{' and '.join(learned)}='auto' is not available with learning_method="
                "'cvb0': learn the priors with 'batch' or 'online', or pass values."
            )
        return kern.cvb0_structure(X.indptr, X.indices, X.shape[1])

    def _check_fitted_sizes(self):
        """Before ``partial_fit`` continues a fitted model: the parameters must fit it."""
        n_topics = self.components_.shape[0]
        if self.n_components != n_topics:
            raise ValueError(
                f"n_components={self.n_components} does not match the {n_topics} topics of "
                "the fitted model, which partial_fit continues. Call fit to start afresh "
                f"with {self.n_components} topics, or set n_components={n_topics}."
            )
        prior = self.doc_topic_prior
        if not isinstance(prior, str) and np.ndim(prior) > 0 and np.size(prior) != n_topics:
            raise ValueError(
                f"doc_topic_prior has shape {np.shape(prior)}; the fitted model, which "
                f"partial_fit continues, has {n_topics} topics. Call fit to start afresh, "
                f"or pass an array of shape ({n_topics},)."
            )

    # ------------------------------------------------------------- the model's calls
    def _settings(self):
        """The documents' fixed point (``EStepSettings``) and whether ``alpha`` and ``eta``
        are learned (empirical Bayes): the arguments of the model's passes."""
        tol, learn_alpha = self.mean_change_tol, isinstance(self.doc_topic_prior, str)
        e_step = kern.EStepSettings(self.max_doc_update_iter, tol, tol >= kern.FLOAT32_MIN_TOL)
        return e_step, learn_alpha, self.topic_word_prior == "auto"

    @staticmethod
    def _passes(X):
        """The passes over ``X``: in memory, or over the chunks of a Dask array."""
        return _lda_dask if isinstance(X, _lda_dask.DaskDocs) else kern

    def _initial_state(self, data, random_state):
        X, prior, structure = data
        with num_threads(self.n_jobs):
            passes = self._passes(X)
            return passes.initial_state(X, prior, self.n_components, random_state, structure)

    def _sweep(self, data, state):
        with num_threads(self.n_jobs):
            if self.learning_method == "cvb0":
                return kern.cvb0_sweep(data.X, data.structure, state)
            if self.learning_method == "online":
                return self._online_sweep(data.X, state)
            return self._batch_sweep(data.X, state)

    def _batch_sweep(self, X, state):
        """One CAVI sweep. Each pass first restarts every document from a random point as
        scikit-learn does (the restarts break the symmetry of the near-uniform initial
        topics; in development runs on the docstring corpus, warm starts from the fifth
        pass on ended with a lower ELBO and a higher held-out perplexity); that candidate
        is kept if the ELBO is not lower, else the pass is redone warm-started (float64
        sweeps: exact coordinate ascent, which cannot lower the ELBO)."""
        args, passes = self._settings(), self._passes(X)
        if not state.bound > -np.inf:
            return passes.batch_pass(X, state, kern.FRESH, *args)
        fresh = (passes.batch_pass(X, state, kern.FRESH, *args) for _ in range(1))
        kept = keep_if_not_lower(state.bound, fresh)
        if kept is not None:
            return kept
        state = state._replace(n_warm_passes=state.n_warm_passes + 1)
        return passes.batch_pass(X, state, kern.WARM, *args)

    def _online_sweep(self, X, state):
        """Stochastic steps over the mini-batches of ``X`` in document order (step ``t``:
        :func:`learning_rate` of ``n_batch_iter``); the ELBO: the mini-batches' documents'
        terms, each with the topics of its step, minus the final topics' KL."""
        steps = range(state.n_batch_iter, state.n_batch_iter - (-X.shape[0] // self.batch_size))
        rhos = [learning_rate(self.learning_offset, self.learning_decay, t) for t in steps]
        args = (self.batch_size, rhos, *self._settings())
        state, bound = self._passes(X).online_pass(X, state, *args)
        bound = bound - kern.topics_kl(state.topics, state.prior.eta)
        return state._replace(bound=bound), bound

    def _stochastic_sweep(self, data, state, rho):
        with num_threads(self.n_jobs):
            args = (rho, self.total_samples, *self._settings())
            state, bound = self._passes(data.X).stochastic_pass(data.X, state, *args)
            bound = bound - kern.topics_kl(state.topics, state.prior.eta)
        return state._replace(bound=bound), bound

    def _publish(self, data, state):
        """The fitted attributes from ``state``; the state itself, without the corpus's
        document parameters, for :meth:`partial_fit`, :meth:`transform` and the scores."""
        self._state = state._replace(gamma=None, cvb0=None)
        self.random_state_, self.n_batch_iter_ = state.random_state, state.n_batch_iter
        # in the dtype of the training data (float32 stays float32, as in scikit-learn)
        self.components_ = state.topics.components.astype(self._dtype)
        e_log_beta, dtype = state.topics.e_log_beta, self._dtype
        self.exp_dirichlet_component_ = np.exp(e_log_beta).astype(dtype, copy=False)
        alpha, prior = state.prior.alpha, self.doc_topic_prior
        symmetric = not isinstance(prior, str) and np.ndim(prior) == 0 and np.all(alpha == alpha[0])
        self.doc_topic_prior_ = float(alpha[0]) if symmetric else alpha.copy()
        self.topic_word_prior_ = state.prior.eta

    def _converged(self, bounds, state, scale):
        """Convergence every ``evaluate_every`` passes on the perplexity of the ELBO."""
        every = self.evaluate_every
        if every <= 0 or len(bounds) <= every or (len(bounds) - 1) % every:
            return False
        now, before = kern.perplexity(bounds[-1], scale), bounds[-1 - every]
        return np.isfinite(before) and abs(now - kern.perplexity(before, scale)) < self.perp_tol

    _PRINT_RESTARTS = False  # verbose prints scikit-learn's lines: none per restart
    _FIRST_BATCH_ITER = 1  # n_batch_iter_ starts at 1, as in scikit-learn

    def _verbose_line(self, n_iter, bound, previous, scale, t0):
        """scikit-learn's line: ``iteration: i of max_iter: n``, with the training
        perplexity of the ELBO when it is evaluated (every ``evaluate_every`` passes)."""
        msg = f"iteration: {n_iter} of max_iter: {self.max_iter}"
        if self.evaluate_every > 0 and n_iter % self.evaluate_every == 0:
            msg += f", perplexity: {kern.perplexity(bound, scale):.4f}"
        if self.verbose >= 2:
            msg += f", ELBO: {bound:.10g}, time: {time.perf_counter() - t0:.3f}s"
        return msg

    def _convergence_warning(self):
        if self.evaluate_every <= 0:
            return None
        return (
            f"VariationalLDA did not converge in max_iter={self.max_iter} passes: the "
            f"perplexity evaluated every evaluate_every={self.evaluate_every} passes still "
            f"changed by more than perp_tol={self.perp_tol:g}. Increase max_iter or perp_tol."
        )

    # ------------------------------------------------------------------ API
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Fit the topics to the count matrix ``X``.

        Parameters
        ----------
        X : {array-like, sparse matrix, dask.array.Array} of shape (n_samples, n_features)
            Document-word counts (non-negative). A Dask array (chunks of rows, CSR or
            dense, one chunk across the vocabulary) is fitted on its workers ('batch',
            'online'; an online pass there runs one task at a time: see Notes).
        y : Ignored

        Returns
        -------
        self : VariationalLDA
        """
        whom, method = "VariationalLDA.fit", self.learning_method
        X, n_tokens = self._check_docs(X, reset=True, whom=whom, method=method)
        self._check_tokens(n_tokens, "VariationalLDA.fit")
        if self.learning_method == "online":
            self._check_online_prior(X.shape[1])
        self._dtype = X.dtype
        data = _Corpus(X, self._resolve_priors(X.shape[1]), self._check_cvb0(X))
        self._fit_loop(data, n_tokens, random_state=self.random_state)
        self.bound_ = kern.perplexity(self.lower_bound_, n_tokens)
        if not np.isfinite(self.bound_):
            raise ValueError(
                f"VariationalLDA.fit: the ELBO is {-self.lower_bound_ / n_tokens:.3g} nats "
                f"per token below zero for the {n_tokens:.3g} tokens of X; its perplexity "
                "bound_ overflows beyond 709 nats per token. The counts are too small "
                "against the priors (doc_topic_prior, topic_word_prior) or, for "
                "learning_method='online', its random initial topics: rescale X, use "
                "other priors or learning_method='batch' or 'cvb0'."
            )
        return self

    def partial_fit(self, X, y=None):
        """One online update of the topics with the mini-batch ``X``.

        The first call starts a model with the parameters; later calls continue it, with
        its fitted topics and priors (as in scikit-learn): ``n_components`` and the shape
        of an array ``doc_topic_prior`` must still match the fitted topics.

        Parameters
        ----------
        X : {array-like, sparse matrix, dask.array.Array} of shape (n_samples, n_features)
            Document-word counts of the mini-batch (non-negative; all-zero is allowed).
            A Dask array is one mini-batch, its E-step run per chunk on the workers.
        y : Ignored

        Returns
        -------
        self : VariationalLDA

        Raises
        ------
        ValueError
            If the parameters no longer match the fitted topics, the stream's implied
            token count ``X.sum() * total_samples / n_samples`` exceeds 1e300, or
            ``n_features * topic_word_prior`` exceeds 1e12 (online learning's limit).
        """
        first = not hasattr(self, "components_")
        if first:
            self._validate_params()
        else:
            self._check_fitted_sizes()
        whom = "VariationalLDA.partial_fit"
        X, n_tokens = self._check_docs(X, reset=first, whom=whom, method="online")
        stream, what = n_tokens * self.total_samples / X.shape[0], "X.sum() * total_samples"
        if stream > 0:
            self._check_tokens(stream, whom, f"{what} / n_samples")
        if first:
            self._check_online_prior(X.shape[1])
            self._dtype = X.dtype
            data = _Corpus(X, self._resolve_priors(X.shape[1]), None)
            rs = check_random_state(self.random_state)  # random topics; no documents' gamma
            topics = kern.random_topics(rs, self.n_components, X.shape[1])
            state = kern.LDAState(topics, data.prior, None, -np.inf, 1, 0, rs)
            self.n_batch_iter_ = self._FIRST_BATCH_ITER
        else:
            data, state = _Corpus(X, self._state.prior, None), self._state
        self._stochastic_step(data, state)
        return self

    def _infer(self, X):
        """The predictive E-step with the fitted topics and priors: ``(gamma, stats)``."""
        with num_threads(self.n_jobs):
            return kern.infer(X, self._state.topics, self._state.prior.alpha, self._settings()[0])

    def transform(self, X, *, normalize=True):
        """Document-topic proportions of ``X`` (the normalised variational gamma).

        Parameters
        ----------
        X : {array-like, sparse matrix, dask.array.Array} of shape (n_samples, n_features)
        normalize : bool, default=True
            Return rows normalised to sum to one (else the Dirichlet parameters).

        Returns
        -------
        doc_topic : ndarray of shape (n_samples, n_components)
            Empty documents get the prior's proportions. For a Dask array, a lazy Dask
            array chunked like the rows of ``X``.
        """
        check_is_fitted(self)
        if _dask.is_dask_array(X):
            return _lda_dask.transform(self, X, normalize)
        X = self._check_X(X, reset=False, whom="VariationalLDA.transform")
        gamma, _ = self._infer(X)
        if normalize:
            gamma /= gamma.sum(axis=1, keepdims=True)
        return gamma.astype(X.dtype, copy=False)

    def fit_transform(self, X, y=None, *, normalize=True):
        """Fit, then transform ``X``; see :meth:`fit` and :meth:`transform`."""
        return self.fit(X).transform(X, normalize=normalize)

    def score(self, X, y=None):
        r"""Lower bound on :math:`\ln p(X \mid \text{training data})` (nats, total).

        The documents' terms of the ELBO with the fitted topic posterior:
        :math:`\sum_d (\mathbb E_q[\ln p(w_d, z_d, \theta_d)] + H[q(z_d, \theta_d)])`.

        Parameters
        ----------
        X : {array-like, sparse matrix, dask.array.Array} of shape (n_samples, n_features)
        y : Ignored

        Returns
        -------
        score : float
        """
        check_is_fitted(self)
        if _dask.is_dask_array(X):
            return _lda_dask.score(self, X, "VariationalLDA.score")[0]
        X = self._check_X(X, reset=False, whom="VariationalLDA.score")
        return kern.documents_bound(self._infer(X)[1])

    def perplexity(self, X, sub_sampling=False):
        r"""Perplexity ``exp(-score(X) / n_tokens)`` of the documents ``X``.

        Never changes the fitted state; ``X`` must have ``n_features_in_`` columns.

        Parameters
        ----------
        X : {array-like, sparse matrix, dask.array.Array} of shape (n_samples, n_features)
            Document-word counts.
        sub_sampling : bool, default=False
            Accepted for compatibility with scikit-learn's signature; it has no effect.
            scikit-learn scales the documents' part of the bound and the token count by
            the same factor ``total_samples / n_samples``; here the perplexity involves
            the documents' terms only, so the factor cancels.

        Returns
        -------
        perplexity : float

            1 if ``X`` contains no tokens (there is no token to predict).
        """
        check_is_fitted(self)
        if _dask.is_dask_array(X):
            bound, n_tokens = _lda_dask.score(self, X, "VariationalLDA.perplexity")
            self._check_tokens(n_tokens, "VariationalLDA.perplexity")
            return kern.perplexity(bound, n_tokens)
        X = self._check_X(X, reset=False, whom="VariationalLDA.perplexity")
        n_tokens = float(X.sum())
        self._check_tokens(n_tokens, "VariationalLDA.perplexity")
        return kern.perplexity(kern.documents_bound(self._infer(X)[1]), n_tokens)
