"""Datasets that need no download: a docstring corpus, an LDA corpus generator and the
Old Faithful geyser data.

``load_docstrings`` and ``load_docstring_counts`` build a real text corpus from the
docstrings of the installed Python standard library and of skvi's own dependencies
(numpy, scipy, scikit-learn, ...). The source files are parsed with :mod:`ast`, never
imported, and every ordering is fixed, so the corpus is the same on every machine with
the same Python and package versions. ``make_lda_corpus`` samples a bag-of-words corpus
from the generative model of latent Dirichlet allocation, with the true topics.
``load_old_faithful`` reads the 272 eruptions of the Old Faithful geyser shipped in
``skvi/data``.
"""

import functools
import importlib.resources
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from sklearn.utils import Bunch, check_random_state
from sklearn.utils._param_validation import Interval, validate_params

# The docstring corpus is built in skvi/_docstring_corpus.py (loaders) and
# skvi/_docstring_reader.py (parsing and cleaning); its loaders are public here.
from ._docstring_corpus import load_docstring_counts, load_docstrings

__all__ = ["load_docstrings", "load_docstring_counts", "load_old_faithful", "make_lda_corpus"]


# --------------------------------------------------------------------------------------
# Synthetic LDA corpus
# --------------------------------------------------------------------------------------


def _sample_dirichlet(alpha, n_samples, random_state):
    """Draw ``n_samples`` rows from a Dirichlet distribution, stably for small ``alpha``.

    Uses :math:`G_a = G_{a+1} U^{1/a}` with :math:`G_{a+1} \\sim \\mathrm{Gamma}(a+1)` and
    :math:`U \\sim \\mathrm{U}(0, 1]`, normalised in log space, so concentrations as
    small as 1e-3 give rows that sum to one instead of the ``0/0`` of normalised
    underflowing Gamma draws.

    Parameters
    ----------
    alpha : ndarray of shape (n_dims,)
        Positive concentrations.
    n_samples : int
        Number of rows.
    random_state : RandomState
        Source of randomness.

    Returns
    -------
    samples : ndarray of shape (n_samples, n_dims)
        Rows on the probability simplex.
    """
    shape = (n_samples, alpha.shape[0])
    log_g = np.log(random_state.standard_gamma(alpha + 1.0, size=shape))
    log_u = np.log1p(-random_state.random_sample(shape))  # log of U in (0, 1]
    log_x = log_g + log_u / alpha
    log_x -= log_x.max(axis=1, keepdims=True)
    x = np.exp(log_x)
    x /= x.sum(axis=1, keepdims=True)
    return x


def _as_prior(value, size, name):
    prior = np.asarray(value, dtype=np.float64)
    if prior.ndim == 0:
        prior = np.full(size, float(prior))
    if prior.shape != (size,) or not np.all(np.isfinite(prior)) or np.any(prior <= 0):
        raise ValueError(
            f"{name} must be a positive float or an array of shape ({size},) of positive "
            f"values; got {value!r}."
        )
    return prior


@validate_params(
    {
        "n_samples": [Interval(Integral, 1, None, closed="left")],
        "n_features": [Interval(Integral, 1, None, closed="left")],
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "doc_topic_prior": [Interval(Real, 0, None, closed="neither"), "array-like"],
        "topic_word_prior": [Interval(Real, 0, None, closed="neither"), "array-like"],
        "doc_length": [Interval(Real, 0, None, closed="neither")],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def make_lda_corpus(
    n_samples=1000,
    n_features=500,
    n_components=10,
    *,
    doc_topic_prior=0.1,
    topic_word_prior=0.01,
    doc_length=100,
    random_state=None,
):
    r"""Generate a bag-of-words corpus from the LDA generative model.

    Latent Dirichlet allocation (Blei, Ng and Jordan, 2003): each topic
    :math:`\beta_k \sim \mathrm{Dir}(\eta)` is a distribution over the
    ``n_features`` words; each document has topic proportions
    :math:`\theta_d \sim \mathrm{Dir}(\alpha)` and length
    :math:`N_d = \max(1, \mathrm{Poisson}(\lambda))`; each of its words draws a topic
    :math:`z \sim \mathrm{Cat}(\theta_d)` and then a word :math:`w \sim
    \mathrm{Cat}(\beta_z)`, so that the counts of document :math:`d` follow
    :math:`\mathrm{Mult}(N_d, \theta_d^\top \beta)`.

    Parameters
    ----------
    n_samples : int, default=1000
        Number of documents.
    n_features : int, default=500
        Size of the vocabulary.
    n_components : int, default=10
        Number of topics.
    doc_topic_prior : float or array-like of shape (n_components,), default=0.1
        Dirichlet concentration :math:`\alpha` of the document-topic proportions (a
        float is a symmetric prior). In the literature, this is called `alpha`.
    topic_word_prior : float or array-like of shape (n_features,), default=0.01
        Dirichlet concentration :math:`\eta` of the topic-word distributions (a float
        is a symmetric prior). In the literature, this is called `eta`.
    doc_length : float, default=100
        Mean :math:`\lambda` of the Poisson distribution of document lengths; a
        document drawn with length 0 gets length 1.
    random_state : int, RandomState instance or None, default=None
        Determines the random draws. Pass an int for reproducible output across
        multiple function calls.

    Returns
    -------
    X : sparse matrix of shape (n_samples, n_features)
        Word counts, CSR format with sorted indices, dtype float64. Row ``d`` sums to
        the length :math:`N_d \geq 1` of document ``d``.
    topic_word_distr : ndarray of shape (n_components, n_features)
        The true topics :math:`\beta`; each row sums to 1.
    doc_topic_distr : ndarray of shape (n_samples, n_components)
        The true topic proportions :math:`\theta`; each row sums to 1.

    See Also
    --------
    load_docstring_counts : A real corpus of the same form.

    Notes
    -----
    The topic counts of every document are drawn at once by conditional binomials
    (:math:`n_{dk} \sim \mathrm{Bin}(N_d - \sum_{j<k} n_{dj},\;
    \theta_{dk} / \sum_{j \geq k} \theta_{dj})`), then the words of each topic by
    inverse-CDF sampling from :math:`\beta_k`; this is exactly the model above (the
    words of a topic are exchangeable) and takes time and memory proportional to the
    total number of words. Dirichlet draws use :math:`G_a = G_{a+1} U^{1/a}` in log
    space, so very small priors are safe.

    References
    ----------
    .. [1] D. M. Blei, A. Y. Ng and M. I. Jordan, "Latent Dirichlet allocation",
       Journal of Machine Learning Research 3, 993-1022, 2003.

    Examples
    --------
    >>> from skvi.datasets import make_lda_corpus
    >>> X, topic_word, doc_topic = make_lda_corpus(
    ...     n_samples=200, n_features=50, n_components=3, random_state=0)
    >>> X.shape, topic_word.shape, doc_topic.shape
    ((200, 50), (3, 50), (200, 3))
    >>> bool(X.sum(axis=1).min() >= 1)
    True
    """
    rng = check_random_state(random_state)
    alpha = _as_prior(doc_topic_prior, n_components, "doc_topic_prior")
    eta = _as_prior(topic_word_prior, n_features, "topic_word_prior")

    topic_word = _sample_dirichlet(eta, n_components, rng)
    doc_topic = _sample_dirichlet(alpha, n_samples, rng)
    lengths = np.maximum(rng.poisson(doc_length, size=n_samples), 1).astype(np.int64)

    # Topic counts per document: conditional binomials, one vectorised draw per topic.
    tail = np.cumsum(doc_topic[:, ::-1], axis=1)[:, ::-1]  # sum_{j >= k} theta_dj
    topic_counts = np.empty((n_samples, n_components), dtype=np.int64)
    remaining = lengths.copy()
    for k in range(n_components - 1):
        with np.errstate(divide="ignore", invalid="ignore"):
            p = np.where(tail[:, k] > 0, doc_topic[:, k] / tail[:, k], 1.0)
        topic_counts[:, k] = rng.binomial(remaining, np.clip(p, 0.0, 1.0))
        remaining -= topic_counts[:, k]
    topic_counts[:, -1] = remaining

    # Words of each topic by inverse CDF; the tokens of topic k belong to the documents
    # in order (topic_counts[d, k] tokens for document d).
    docs = np.arange(n_samples)
    rows, cols = [], []
    for k in range(n_components):
        n_tokens = int(topic_counts[:, k].sum())
        if n_tokens == 0:
            continue
        cdf = np.cumsum(topic_word[k])
        cdf /= cdf[-1]
        words = np.searchsorted(cdf, rng.random_sample(n_tokens), side="right")
        rows.append(np.repeat(docs, topic_counts[:, k]))
        cols.append(np.minimum(words, n_features - 1))
    rows = np.concatenate(rows)
    cols = np.concatenate(cols)
    X = sp.coo_matrix(
        (np.ones(rows.shape[0], dtype=np.float64), (rows, cols)),
        shape=(n_samples, n_features),
    ).tocsr()  # sums the duplicate (document, word) pairs
    X.sum_duplicates()
    X.sort_indices()
    return X, topic_word, doc_topic


# --------------------------------------------------------------------------------------
# Old Faithful
# --------------------------------------------------------------------------------------

_FAITHFUL_DESCR = """\
.. _old_faithful_dataset:

Old Faithful geyser data
------------------------

Duration of the eruption and waiting time to the next eruption for 272
eruptions of the Old Faithful geyser in Yellowstone National Park, Wyoming,
USA, as distributed with R (``datasets::faithful``), from Azzalini and Bowman
(1990). The observations are in R's order.

**Data Set Characteristics:**

:Number of Instances: 272
:Number of Attributes: 2
:Attribute Information:
    - eruptions: eruption time in minutes (three decimals)
    - waiting: waiting time to the next eruption in minutes (whole minutes)
:Missing Attribute Values: None

The two columns are strongly correlated (Pearson r = 0.9008) and the data fall
into two well separated groups, short eruptions after short waits and long
eruptions after long waits, which makes them the standard small example for
mixture models.

.. rubric:: References

- A. Azzalini and A. W. Bowman, "A look at some data on the Old Faithful
  geyser", Applied Statistics 39(3), 357-365, 1990.
- W. Härdle, Smoothing Techniques with Implementation in S, Springer, 1991.
- R Core Team, R: A language and environment for statistical computing,
  dataset ``faithful`` in package ``datasets``.
"""


@functools.cache
def _read_old_faithful():
    """The shipped table as a read-only float64 array (read once per process)."""
    resource = importlib.resources.files("skvi").joinpath("data", "old_faithful.csv")
    with resource.open("r", encoding="ascii") as fh:
        header = fh.readline().strip().split(",")
        data = np.loadtxt(fh, delimiter=",", dtype=np.float64, ndmin=2)
    data.setflags(write=False)
    return tuple(header), data


def load_old_faithful():
    """Load the Old Faithful geyser data (272 eruptions, 2 features).

    =================   ==============
    Samples total                  272
    Dimensionality                   2
    Features            real, positive
    =================   ==============

    The table ships with skvi (``skvi/data/old_faithful.csv``), so nothing is
    downloaded; it is the data frame ``faithful`` of R's ``datasets`` package, from
    Azzalini and Bowman (1990). Each row is one eruption: its duration and the waiting
    time until the next eruption, both in minutes. The two clusters (short and long
    eruptions) make it the usual test case for Gaussian mixtures.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with the following attributes.

        data : ndarray of shape (272, 2), dtype float64
            Eruption duration (column 0) and waiting time (column 1), in minutes, in
            R's row order. A new, writeable array on every call.
        feature_names : ndarray of str of shape (2,)
            ``['eruptions', 'waiting']``.
        DESCR : str
            Description of the data set, with its source and references.

    See Also
    --------
    skvi.VariationalGaussianMixture : A mixture model to fit to these data.

    References
    ----------
    .. [1] A. Azzalini and A. W. Bowman, "A look at some data on the Old Faithful
       geyser", Applied Statistics 39(3), 357-365, 1990.
    .. [2] W. Härdle, Smoothing Techniques with Implementation in S, Springer, 1991.

    Examples
    --------
    >>> from skvi.datasets import load_old_faithful
    >>> faithful = load_old_faithful()
    >>> faithful.data.shape
    (272, 2)
    >>> faithful.data[0]
    array([ 3.6, 79. ])
    >>> faithful.data.mean(axis=0).round(6)
    array([ 3.487783, 70.897059])
    """
    header, data = _read_old_faithful()
    return Bunch(
        data=data.copy(),
        feature_names=np.array(header, dtype=object),
        DESCR=_FAITHFUL_DESCR,
    )
