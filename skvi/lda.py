"""Variational latent Dirichlet allocation: batch CAVI, stochastic VI and collapsed VB."""

import time
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from sklearn.base import (
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.utils import gen_batches
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, check_non_negative, validate_data

from . import _lda_kernels as kern
from ._base import VariationalEstimator
from ._jit import num_threads
from ._special import (
    digamma,
    digamma_array,
    inverse_digamma,
    log_dirichlet_norm,
    trigamma,
)

#: The largest number of tokens (sum of the counts) of a corpus: the ELBO's terms grow as
#: ``n ln n`` and must stay within float64's range (1.8e308). For ``partial_fit`` the
#: corpus is the stream, ``X.sum() * total_samples / n_samples`` tokens.
MAX_TOKENS = 1e300
#: The largest total prior mass, ``n_features * topic_word_prior`` and
#: ``sum(doc_topic_prior)``: the log normaliser of the prior, ``lgamma(mass)``, must be
#: finite (it overflows from about 2.5e305).
MAX_PRIOR_MASS = 1e305
#: Online learning (``learning_method='online'``, ``partial_fit``): the largest
#: ``n_features * topic_word_prior``. Its topics start near one pseudo-count per entry
#: (as scikit-learn's), not at the prior, so their KL from the prior is a difference of
#: log-gammas of about ``K n_features eta ln(n_features eta)`` nats, which float64
#: resolves to 2.2e-16 of that: at 1e12, about 6e-3 nats per topic.
MAX_ONLINE_PRIOR_MASS = 1e12


def _check_sparse_structure(X, whom):
    """Check the index arrays of a sparse matrix before anything reads through them.

    SciPy does not check them (an index out of range makes a kernel read or write out of
    bounds). For CSR and CSC: ``indptr`` has one entry per row (column) plus one, starts
    at 0, never decreases and ends at most at ``len(indices) == len(data)``; every index
    of a stored entry is in ``[0, n_columns)`` (``[0, n_rows)``). For COO: the row and
    column indices are within the shape. One vectorised pass over the index arrays; the
    input is never modified. Entries stored past ``indptr[-1]`` are dropped on a copy.

    Parameters
    ----------
    X : sparse matrix or array
        Only CSR, CSC and COO are inspected; other formats are returned unchanged
        (SciPy converts them through COO, which it checks).
    whom : str
        Name of the caller, for the message.

    Returns
    -------
    X : sparse matrix or array
        ``X``, or a copy without the entries past ``indptr[-1]``.

    Raises
    ------
    ValueError
        Naming the inconsistency and the limit it breaks.
    """
    fmt = getattr(X, "format", None)
    if fmt in ("csr", "csc"):
        n_major, n_minor = X.shape if fmt == "csr" else X.shape[::-1]
        indptr, indices = np.asarray(X.indptr), np.asarray(X.indices)
        prefix = f"{whom}: malformed {fmt.upper()} input:"
        if indptr.ndim != 1 or indptr.shape[0] != n_major + 1:
            raise ValueError(
                f"{prefix} indptr has {indptr.shape} entries; expected {n_major + 1} "
                f"({'rows' if fmt == 'csr' else 'columns'} + 1)."
            )
        if indices.shape != np.shape(X.data):
            raise ValueError(
                f"{prefix} indices and data have {indices.shape[0]} and "
                f"{np.shape(X.data)[0]} entries; they must have the same length."
            )
        if indptr[0] != 0 or indptr[-1] > indices.shape[0]:
            raise ValueError(
                f"{prefix} indptr must start at 0 and end at most at len(indices)="
                f"{indices.shape[0]}; it runs from {indptr[0]} to {indptr[-1]}."
            )
        if n_major and np.any(np.diff(indptr) < 0):
            raise ValueError(f"{prefix} indptr must be non-decreasing.")
        nnz = int(indptr[-1])
        if nnz:
            lo, hi = indices[:nnz].min(), indices[:nnz].max()
            if lo < 0 or hi >= n_minor:
                raise ValueError(
                    f"{prefix} its {'column' if fmt == 'csr' else 'row'} indices must be "
                    f"in [0, {n_minor}); they range from {lo} to {hi}."
                )
        if nnz < indices.shape[0]:
            X = X.copy()
            X.prune()
    elif fmt == "coo":
        for name, index, size in (("row", X.row, X.shape[0]), ("col", X.col, X.shape[1])):
            if index.size and (index.min() < 0 or index.max() >= size):
                raise ValueError(
                    f"{whom}: malformed COO input: its {name} indices must be in [0, {size}); "
                    f"they range from {index.min()} to {index.max()}."
                )
    return X


def _perplexity(bound, n_tokens):
    """``exp(-bound / n_tokens)``; ``inf`` beyond the float range (tiny corpora with
    extreme priors), without an overflow warning. A corpus without tokens has perplexity
    1: the geometric mean of the probabilities of no tokens is the empty product."""
    if n_tokens == 0:
        return 1.0
    with np.errstate(over="ignore"):
        return float(np.exp(-bound / n_tokens))


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
    Differences from scikit-learn's ``LatentDirichletAllocation``: the batch ELBO is
    monotone (scikit-learn restarts the document parameters at random every pass and
    keeps the result whatever it is, #6777; skvi makes the same restarts, from the same
    random draws, and keeps them only if the ELBO does not decrease, so that where
    scikit-learn's bound rises the two fits agree, measured 1e-4 relative in the topics
    after three passes); ``doc_topic_prior`` may exceed 1, be asymmetric or be learned;
    :meth:`perplexity` never changes the fitted state and scores held-out documents by
    their own terms of the bound only (the topic-word term belongs to the training data,
    #20032); the E-step works in a shifted log domain instead of adding ``eps``.

    Inputs and sizes: every method that uses the fitted model takes the number of topics
    from ``components_`` (not from ``n_components``, which only :meth:`fit` and the first
    :meth:`partial_fit` read); a later :meth:`partial_fit` raises a ``ValueError`` if
    ``n_components`` or the length of an array ``doc_topic_prior`` no longer matches the
    fitted topics (scikit-learn silently keeps the fitted ones). Sparse input has its
    index arrays checked before any kernel reads through them (``ValueError`` for an
    index out of range, a decreasing ``indptr``, or lengths that disagree); duplicate
    and unsorted column indices are summed and sorted on a copy. A matrix without tokens
    (every count zero) is fitted like any other: the posterior is the prior, and
    ``bound_`` and :meth:`perplexity` are 1 (no token to predict; scikit-learn's
    ``bound_`` is NaN there). The document and topic
    KL terms are computed as increments from the prior, so the ELBO is accurate to the
    size of the data whatever its scale: counts from 1e-300 up to a total of 1e300 tokens,
    priors up to a total mass of 1e305 (beyond, a ``ValueError`` names the limit); online
    learning, whose topics start near one pseudo-count per entry rather than at the
    prior, allows ``n_features * topic_word_prior`` up to 1e12.
    ``learning_method='online'`` keeps part of its random initial topics; if the
    corpus is so small against them that ``bound_`` would overflow (more than 709 nats
    per token), :meth:`fit` raises a ``ValueError``.

    ``learning_method='cvb0'`` (not in scikit-learn) keeps a responsibility vector
    :math:`r_j` per non-zero entry :math:`j = (d, w)`, the expected counts
    :math:`N_{wk}, N_{dk}, N_k` they define, and updates each entry as

    .. math::

        r_{jk} \propto \frac{(N_{wk}^{\neg j} + \eta)(N_{dk}^{\neg j} + \alpha_k)}
                            {N_k^{\neg j} + V\eta},

    where :math:`\neg j` removes one token's share :math:`\min(n_j, 1)\, r_j` (Asuncion,
    Welling, Smyth and Teh 2009, eq. 4: the collapsed Gibbs sampler's conditional with
    expected counts in place of sampled ones). Documents are visited in 16 fixed blocks
    per pass, in parallel within a block; the topic-word counts are brought up to date
    after each block. The initial responsibilities put each entry on one topic drawn
    uniformly, as a collapsed Gibbs sampler starts. ``components_`` is :math:`\eta +
    N_{wk}` and :meth:`transform` is the usual E-step. Mean-field VB's updates use
    :math:`\exp\psi(n + \eta) \approx n + \eta - 1/2`, which discounts small counts;
    CVB0's use the counts themselves, which is why its held-out perplexity is lower at
    the same priors (Asuncion et al. 2009; the LDA benchmark compares both with
    tomotopy's collapsed Gibbs sampler on skvi's corpora).

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

    # fit-loop settings the shared loop reads (LDA has no restarts)
    n_init = 1
    warm_start = False
    verbose_interval = 1

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
        sparse input's index arrays (:func:`_check_sparse_structure`). Duplicate or
        unsorted column indices are summed and sorted on a copy (the input is never
        modified)."""
        if sp.issparse(X):
            X = _check_sparse_structure(X, whom)
        dtype = [np.float64, np.float32]
        X = validate_data(self, X, reset=reset, accept_sparse="csr", dtype=dtype)
        check_non_negative(X, whom)
        X = sp.csr_matrix(X) if not sp.issparse(X) else X.tocsr()
        if not X.has_canonical_format:
            X = X.copy()
            X.sum_duplicates()
        return X

    def _check_online_prior(self, n_features):
        """Online learning's limit on the topic prior (:data:`MAX_ONLINE_PRIOR_MASS`)."""
        eta = self.topic_word_prior
        eta = 1.0 / self.n_components if eta is None or isinstance(eta, str) else float(eta)
        if not n_features * eta <= MAX_ONLINE_PRIOR_MASS:
            raise ValueError(
                f"topic_word_prior={eta:.3g} times n_features={n_features} is "
                f"{n_features * eta:.3g}; online learning allows at most "
                f"{MAX_ONLINE_PRIOR_MASS:g}: its topics start near one pseudo-count per "
                "entry, and their KL from so strong a prior is beyond float64's "
                "resolution. Use learning_method='batch' or 'cvb0', or a smaller prior."
            )

    @staticmethod
    def _check_tokens(n_tokens, whom, what="X.sum()"):
        """Raise if a corpus of ``n_tokens`` tokens is too large for float64."""
        if not n_tokens <= MAX_TOKENS:
            raise ValueError(
                f"{whom}: {what} = {n_tokens:.3g} tokens; VariationalLDA's float64 "
                f"arithmetic allows at most {MAX_TOKENS:g}. Rescale the counts."
            )

    def _resolve_priors(self, n_features):
        """Set ``_alpha`` (K,) and ``_eta`` from the parameters and check them: an array
        ``doc_topic_prior`` must have ``n_components`` entries, and the total prior mass
        must be at most :data:`MAX_PRIOR_MASS`."""
        K = self.n_components
        if self.doc_topic_prior is None:
            alpha = np.full(K, 1.0 / K)
        elif isinstance(self.doc_topic_prior, str):
            alpha = np.full(K, 1.0 / K)  # 'auto': start symmetric, learn
        else:
            alpha = np.asarray(self.doc_topic_prior, dtype=np.float64)
            if alpha.ndim > 1 or alpha.size not in (1, K):
                raise ValueError(
                    f"doc_topic_prior must be a float or an array of shape ({K},); got "
                    f"shape {alpha.shape}."
                )
            alpha = np.broadcast_to(alpha, (K,)).copy()
            if not (np.all(np.isfinite(alpha)) and np.all(alpha > 0)):
                raise ValueError(
                    "doc_topic_prior must be positive and finite, of shape "
                    f"({K},) when an array; got {self.doc_topic_prior!r}."
                )
        eta = 1.0 / K if self.topic_word_prior in (None, "auto") else self.topic_word_prior
        if not alpha.sum() <= MAX_PRIOR_MASS:
            raise ValueError(
                f"doc_topic_prior sums to {alpha.sum():.3g} over the {K} topics; at most "
                f"{MAX_PRIOR_MASS:g} is allowed (float64 range)."
            )
        if not n_features * float(eta) <= MAX_PRIOR_MASS:
            raise ValueError(
                f"topic_word_prior={float(eta):.3g} times n_features={n_features} is "
                f"{n_features * float(eta):.3g}; at most {MAX_PRIOR_MASS:g} is allowed "
                "(float64 range)."
            )
        self._alpha = alpha
        self._eta = float(eta)
        self._publish_priors()

    def _publish_priors(self):
        alpha = self._alpha
        symmetric = (
            not isinstance(self.doc_topic_prior, str)
            and np.ndim(self.doc_topic_prior) == 0
            and np.all(alpha == alpha[0])
        )
        self.doc_topic_prior_ = float(alpha[0]) if symmetric else alpha.copy()
        self.topic_word_prior_ = self._eta

    # ---------------------------------------------------------------- topics
    def _set_topics(self, components):
        """Store lambda (float64, ``_lambda``) and what the E-step needs from it: E[ln
        beta] (K, V), and the vocabulary-major shifted exponentials (V, K) with their
        shifts (V,). ``components_`` is lambda itself until :meth:`_publish_topics`."""
        self._lambda = self.components_ = components
        with num_threads(self.n_jobs):
            tables = kern.topic_tables(components)
        self._e_log_beta, self._exp_topic_word, self._word_shift, self._inner = tables

    def _publish_topics(self):
        """``components_`` and ``exp_dirichlet_component_`` in the dtype of the training
        data (float32 stays float32, as in scikit-learn); the model keeps float64."""
        self.components_ = self._lambda.astype(self._dtype)
        self.exp_dirichlet_component_ = np.exp(self._e_log_beta).astype(self._dtype, copy=False)

    def _check_fitted_sizes(self):
        """Before ``partial_fit`` continues a fitted model: the parameters must describe
        its topics (scikit-learn's LDA keeps the fitted components too)."""
        n_topics = self._lambda.shape[0]
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

    def _run_e_step(
        self, X, gamma, mode, sstats, random_state=None, max_iter=None, starts=None, exact=False
    ):
        """The E-step kernel. Fresh document starts: ``starts`` if given, else
        Gamma(100, 1/100) draws (as in scikit-learn) when a ``random_state`` is given,
        else ``alpha + n_d / K``. ``exact``: every sweep in float64 (no float32 phase)."""
        n_topics = self._lambda.shape[0]
        if starts is None:
            if random_state is None:
                starts = np.empty((0, n_topics))
            else:
                starts = random_state.gamma(100.0, 0.01, (X.shape[0], n_topics))
        fast = self.mean_change_tol >= kern.FLOAT32_MIN_TOL and not exact
        inner = self._inner if fast else self._inner[:0]
        with num_threads(self.n_jobs):
            return kern.e_step(
                X.indptr,
                X.indices,
                X.data,
                self._exp_topic_word,
                inner,
                self._word_shift,
                self._alpha,
                gamma,
                mode,
                starts,
                self.max_doc_update_iter if max_iter is None else max_iter,
                self.mean_change_tol,
                sstats,
            )

    # ----------------------------------------------------------------- ELBO
    def _doc_bound(self, terms):
        r"""Documents' part of the ELBO: :math:`\sum_{dw} n_{dw}\ln\sum_k
        e^{\mathbb E\ln\theta_{dk} + \mathbb E\ln\beta_{kw}} - \sum_d
        \mathrm{KL}(\mathrm{Dir}(\gamma_d)\|\mathrm{Dir}(\alpha))` (the kernel's
        ``terms[0] - terms[1]``)."""
        return float(terms[0] - terms[1])

    def _topic_kl(self):
        with num_threads(self.n_jobs):
            return kern.topic_kl(self._lambda, self._e_log_beta, self._eta)

    def _evaluate(self, X, gamma):
        """The ELBO of the current topics with the documents' ``gamma`` (updated in place
        only for empty documents, which get ``alpha``) and ``phi`` at its optimum."""
        _, terms, _ = self._run_e_step(X, gamma, kern.WARM, False, max_iter=0)
        return self._doc_bound(terms) - self._topic_kl()

    # ------------------------------------------------------------- empirical Bayes
    def _update_alpha(self, e_log_theta_mean, rho=1.0):
        r"""Minka's fixed point for the Dirichlet prior of the documents,
        :math:`\alpha_k \leftarrow \psi^{-1}(\psi(\sum_j \alpha_j) + \overline{\mathbb
        E\ln\theta_k})`, iterated to convergence: the maximiser of the ELBO over
        :math:`\alpha` (Minka 2000, eq. 9). Online: a step ``rho`` towards it."""
        alpha = self._alpha.copy()
        for _ in range(1000):
            psi_total = digamma(alpha.sum())
            new = np.array([inverse_digamma(psi_total + e) for e in e_log_theta_mean])
            done = np.max(np.abs(new - alpha)) <= 1e-12 * np.max(alpha)
            alpha = new
            if done:
                break
        self._alpha = (1 - rho) * self._alpha + rho * alpha

    def _update_eta(self, rho=1.0):
        r"""Maximise the ELBO over the symmetric topic-word prior:
        :math:`f(\eta) = K[\ln\Gamma(V\eta) - V\ln\Gamma(\eta)] + (\eta - 1)\sum_{kw}
        \mathbb E\ln\beta_{kw}`, concave in :math:`\eta`; damped Newton steps in
        :math:`\ln\eta` that never lower :math:`f`."""
        from scipy.special import gammaln

        n_topics, n_words = self._lambda.shape
        total = float(self._e_log_beta.sum())

        def objective(t):
            eta = np.exp(t)
            return n_topics * (gammaln(n_words * eta) - n_words * gammaln(eta)) + (eta - 1) * total

        t = np.log(self._eta)
        value = objective(t)
        for _ in range(100):
            eta = np.exp(t)
            psi = digamma_array(np.array([n_words * eta, eta]))
            grad = n_topics * n_words * (psi[0] - psi[1]) + total  # df/deta
            hess = n_topics * n_words * (n_words * trigamma(n_words * eta) - trigamma(eta))
            g = grad * eta  # df/dt
            h = hess * eta * eta + g  # d2f/dt2
            step = -g / h if h < 0 else np.sign(g)
            step = float(np.clip(step, -2.0, 2.0))
            while abs(step) > 1e-15 and objective(t + step) < value:
                step *= 0.5
            if abs(step) <= 1e-12:
                break
            t += step
            value = objective(t)
        self._eta = (1 - rho) * self._eta + rho * float(np.exp(t))

    # ---------------------------------------------------------------- the loop
    def _initialize(self, X, sample_weight, random_state):
        r"""Random topics as in scikit-learn (Gamma(100, 1/100) entries) and documents at
        :math:`\gamma_d = \alpha + n_d / K`; CVB0: every entry's responsibilities on one
        topic drawn uniformly (as collapsed Gibbs sampling starts), and the topics and
        documents from them (:math:`\gamma_d = \alpha + N_{d\cdot}`). Returns the ELBO of
        that initial distribution, with :math:`\phi` at its optimum."""
        self.random_state_ = random_state
        self._resolve_priors(X.shape[1])
        self._n_warm_passes = 0
        self.n_batch_iter_ = 1
        if self.learning_method == "cvb0":
            doc_topic = self._cvb0_initialize(X, random_state)
        else:
            init = random_state.gamma(100.0, 0.01, (self.n_components, X.shape[1]))
            self._set_topics(init)
            lengths = np.asarray(X.sum(axis=1), dtype=np.float64).reshape(-1, 1)
            doc_topic = np.repeat(lengths / self.n_components, self.n_components, axis=1)
        self._gamma = doc_topic + self._alpha  # batch: where a warm pass starts
        self._bound = self._evaluate(X, self._gamma)
        return self._bound

    def _cvb0_initialize(self, X, random_state):
        learned = [
            name
            for name in ("doc_topic_prior", "topic_word_prior")
            if isinstance(getattr(self, name), str)
        ]
        if learned:
            raise ValueError(
                f"{' and '.join(learned)}='auto' is not available with learning_method="
                "'cvb0': learn the priors with 'batch' or 'online', or pass values."
            )
        n_docs, n_words, n_comp = X.shape[0], X.shape[1], self.n_components
        topic = random_state.randint(n_comp, size=X.nnz)
        resp = np.zeros((X.nnz, n_comp), dtype=np.float32)
        resp[np.arange(X.nnz), topic] = 1.0
        structure = kern.cvb0_structure(X.indptr, X.indices, n_words)
        word_topic = np.empty((n_words, n_comp))
        with num_threads(self.n_jobs):
            kern.cvb0_counts(X.data, structure[0], structure[1], resp, word_topic)
        self._cvb0 = (structure, resp, word_topic)
        self._set_topics(self._eta + word_topic.T)
        doc = np.repeat(np.arange(n_docs), np.diff(X.indptr))
        doc_topic = np.bincount(doc * n_comp + topic, X.data, minlength=n_docs * n_comp)
        return doc_topic.reshape(n_docs, n_comp)

    def _cavi_step(self, X, sample_weight):
        if self.learning_method == "batch":
            return self._batch_step(X)
        if self.learning_method == "cvb0":
            return self._cvb0_step(X)
        bound = 0.0
        for batch in gen_batches(X.shape[0], self.batch_size):
            bound += self._online_step(X[batch], X.shape[0])
        return bound - self._topic_kl()

    def _batch_step(self, X):
        """One CAVI sweep: documents, topics, priors; returns the ELBO.

        Each pass first restarts every document from a random point, as scikit-learn
        does (the restarts break the symmetry of the near-uniform initial topics; in
        development runs on the docstring corpus, warm starts from the fifth pass on
        ended with a lower ELBO and a higher held-out perplexity), and updates the
        topics and priors from it. That candidate is kept if the
        ELBO is not lower than before the pass; otherwise the documents are warm-started
        from the previous pass instead, which CAVI guarantees does not lower the ELBO.
        """
        saved = (self._lambda, self._alpha, self._eta)
        if self._bound > -np.inf:
            fresh = np.empty_like(self._gamma)
            bound = self._update(X, fresh, kern.FRESH, self.random_state_)
            if bound >= self._bound:
                self._gamma, self._bound = fresh, bound
                return bound
            self._n_warm_passes += 1
            self._set_topics(saved[0])
            self._alpha, self._eta = saved[1], saved[2]
            self.n_batch_iter_ -= 1
            mode = kern.WARM
        else:
            mode = kern.FRESH
        random_state = self.random_state_ if mode == kern.FRESH else None
        # the warm pass in float64 only: each sweep is then an exact coordinate-ascent
        # step, so the ELBO cannot decrease (float32 sweeps could, by rounding)
        self._bound = self._update(X, self._gamma, mode, random_state, exact=mode == kern.WARM)
        return self._bound

    def _update(self, X, gamma, mode, random_state, exact=False):
        """E-step over every document into ``gamma``, then the topics and the learned
        priors; returns the ELBO of the new state."""
        e_log_beta_old = self._e_log_beta
        stats, terms, elt = self._run_e_step(X, gamma, mode, True, random_state, exact=exact)
        self._set_topics(self._eta + stats.T)
        # phi is optimal for the old topics: the words term moves by sum S (Elog b' - Elog b)
        words_shift = np.sum(stats.T * (self._e_log_beta - e_log_beta_old))
        doc_bound = self._doc_bound(terms)
        if isinstance(self.doc_topic_prior, str) and terms[2] > 0:
            alpha_old = self._alpha
            self._update_alpha(elt / terms[2])
            # the documents' KL terms move with alpha: by -n (ln C(a) - ln C(a')) -
            # (a - a') . sum_d E ln theta_d over the n non-empty documents
            doc_bound += (
                terms[2] * (log_dirichlet_norm(self._alpha) - log_dirichlet_norm(alpha_old))
                + (self._alpha - alpha_old) @ elt
            )
        if self.topic_word_prior == "auto":
            self._update_eta()
        self._publish_priors()
        self.n_batch_iter_ += 1
        return float(doc_bound + words_shift - self._topic_kl())

    def _cvb0_step(self, X):
        r"""One CVB0 pass (Asuncion et al. 2009, eq. 4; ``_lda_kernels``), then the
        topics; returns the ELBO of the mean-field distribution
        the expected counts define: :math:`\gamma_{dk} = \alpha_k + N_{dk}`,
        :math:`\lambda_{kw} = \eta + N_{wk}`, :math:`\phi` at its optimum for them."""
        (csc_ptr, csc_pos, csc_doc, edges), resp, word_topic = self._cvb0
        topic_total = word_topic.sum(axis=0) + word_topic.shape[0] * self._eta
        with num_threads(self.n_jobs):
            kern.cvb0_pass(
                X.indptr, X.indices, X.data, csc_ptr, csc_pos, csc_doc, edges, resp,
                word_topic, topic_total, self._gamma, self._alpha, self._eta,
            )  # fmt: skip
        self._gamma += self._alpha
        self._set_topics(self._eta + word_topic.T)
        _, terms, elt = self._run_e_step(X, self._gamma, kern.WARM, False, max_iter=0)
        self.n_batch_iter_ += 1
        return float(self._doc_bound(terms) - self._topic_kl())

    def _online_step(self, X, n_total):
        r"""One stochastic natural-gradient step on a mini-batch (Hoffman et al. 2010):
        :math:`\lambda \leftarrow (1-\rho)\lambda + \rho(\eta + \frac{D}{|B|} S_B)`,
        :math:`\rho = (\tau_0 + t)^{-\kappa}`. Returns the batch's document terms of
        the ELBO (with the topics before the step)."""
        gamma = np.empty((X.shape[0], self._lambda.shape[0]))
        stats, terms, elt = self._run_e_step(X, gamma, kern.FRESH, True, self.random_state_)
        rho = (self.learning_offset + self.n_batch_iter_) ** (-self.learning_decay)
        ratio = n_total / X.shape[0]
        doc_bound = self._doc_bound(terms)
        self._set_topics((1 - rho) * self._lambda + rho * (self._eta + ratio * stats.T))
        if isinstance(self.doc_topic_prior, str) and terms[2] > 0:
            self._update_alpha(elt / terms[2], rho)
        if self.topic_word_prior == "auto":
            self._update_eta(rho)
        self._publish_priors()
        self.n_batch_iter_ += 1
        return float(doc_bound)

    def _converged(self, bounds, scale):
        """Convergence every ``evaluate_every`` passes on the perplexity of the ELBO."""
        every = self.evaluate_every
        if every <= 0 or len(bounds) <= every or (len(bounds) - 1) % every:
            return False
        now, before = bounds[-1], bounds[-1 - every]
        if not np.isfinite(before):
            return False
        return abs(_perplexity(now, scale) - _perplexity(before, scale)) < self.perp_tol

    #: verbose prints scikit-learn's lines: one per pass, none per restart
    _PRINT_RESTARTS = False

    def _verbose_line(self, n_iter, bound, previous, scale, t0):
        """scikit-learn's line: ``iteration: i of max_iter: n``, with the training
        perplexity of the ELBO when it is evaluated (every ``evaluate_every`` passes)."""
        msg = f"iteration: {n_iter} of max_iter: {self.max_iter}"
        if self.evaluate_every > 0 and n_iter % self.evaluate_every == 0:
            msg += f", perplexity: {_perplexity(bound, scale):.4f}"
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

    def _get_parameters(self):
        return {}

    def _set_parameters(self, params):
        pass

    # ------------------------------------------------------------------ API
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Fit the topics to the count matrix ``X``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Document-word counts (non-negative).
        y : Ignored

        Returns
        -------
        self : VariationalLDA
        """
        X = self._check_X(X, reset=True, whom="VariationalLDA.fit")
        n_tokens = float(X.sum())
        self._check_tokens(n_tokens, "VariationalLDA.fit")
        if self.learning_method == "online":
            self._check_online_prior(X.shape[1])
        self._dtype = X.dtype
        self._fit_loop(X, None, n_tokens)
        del self._gamma, self._bound
        self.__dict__.pop("_cvb0", None)
        self._publish_topics()
        self.bound_ = _perplexity(self.lower_bound_, n_tokens)
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
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Document-word counts of the mini-batch (non-negative; all-zero is allowed).
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
        X = self._check_X(X, reset=first, whom="VariationalLDA.partial_fit")
        stream = float(X.sum()) * self.total_samples / X.shape[0]
        if stream > 0:
            self._check_tokens(
                stream, "VariationalLDA.partial_fit", "X.sum() * total_samples / n_samples"
            )
        if first:
            from sklearn.utils import check_random_state

            self._check_online_prior(X.shape[1])
            self._dtype = X.dtype
            self._initialize(X, None, check_random_state(self.random_state))
            del self._gamma, self._bound
            self.n_iter_ = 0
            self.lower_bounds_ = np.empty(0)
        bound = self._online_step(X, self.total_samples) - self._topic_kl()
        self.lower_bound_ = bound
        self.lower_bounds_ = np.append(self.lower_bounds_, bound)
        self.n_iter_ += 1
        self.converged_ = False
        self._publish_topics()
        return self

    def _infer(self, X):
        """The E-step with the fitted topics and priors (their sizes, not the
        parameters'): ``gamma`` (n_samples, K) and the kernel's terms."""
        gamma = np.zeros((X.shape[0], self._lambda.shape[0]))
        _, terms, elt = self._run_e_step(X, gamma, kern.FRESH, False)
        return gamma, terms, elt

    def transform(self, X, *, normalize=True):
        """Document-topic proportions of ``X`` (the normalised variational gamma).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        normalize : bool, default=True
            Return rows normalised to sum to one (else the Dirichlet parameters).

        Returns
        -------
        doc_topic : ndarray of shape (n_samples, n_components)
            Empty documents get the prior's proportions.
        """
        check_is_fitted(self)
        X = self._check_X(X, reset=False, whom="VariationalLDA.transform")
        gamma, _, _ = self._infer(X)
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
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : Ignored

        Returns
        -------
        score : float
        """
        check_is_fitted(self)
        X = self._check_X(X, reset=False, whom="VariationalLDA.score")
        _, terms, _ = self._infer(X)
        return self._doc_bound(terms)

    def perplexity(self, X, sub_sampling=False):
        r"""Perplexity ``exp(-score(X) / n_tokens)`` of the documents ``X``.

        Never changes the fitted state; ``X`` must have ``n_features_in_`` columns.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
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
        X = self._check_X(X, reset=False, whom="VariationalLDA.perplexity")
        n_tokens = float(X.sum())
        self._check_tokens(n_tokens, "VariationalLDA.perplexity")
        _, terms, _ = self._infer(X)
        return _perplexity(self._doc_bound(terms), n_tokens)
