"""Demo: skvi's estimators beside their scikit-learn counterparts.

Run ``python -m skvi.demo``. Nothing is downloaded. The first run compiles skvi's Numba
kernels and caches them on disk, which takes most of its time (the compilation of each
model's kernels is reported on stderr as it goes); later runs load them. The total time
is printed at the end; ``python -m benchmarks.run --suite coldstart`` measures the first
and the second run. Each comparison fits an skvi estimator and its scikit-learn
counterpart with default settings on the same training data and prints one row per fit
in a single table:

* fit time in seconds (Numba compilation excluded: before each skvi fit, a one-iteration
  fit of the same estimator on the same data, with the row's predict, score or
  transform calls, compiles the kernels or loads them from Numba's cache; the total
  time of these warm-ups is printed above the table), the number of
  iterations and whether the fit converged within ``max_iter`` (``ConvergenceWarning`` is
  silenced and reported in this column instead);
* skvi's ELBO per training sample, ``lower_bound_ / n_samples``: the full evidence lower
  bound in nats, every constant included, so a lower bound on ``ln p(X) / n``;
* the held-out score users compare, named in the next column: for mixtures the mean
  log-likelihood of held-out samples (``score``): for skvi the posterior
  predictive density (a mixture of Student-t distributions), for scikit-learn the plug-in
  density at the fitted parameters;
* the adjusted Rand index of the predicted components against the true labels of the
  training samples.

Data: (a) ``make_blobs``, 10,000 x 8 with 8 centres, 16 components, full covariance;
(b) scikit-learn's bundled handwritten digits (1797 x 64) projected by PCA onto 10
dimensions, 15 components, full and diagonal covariance. Both are split 80/20 into
training and held-out samples.

Topic models: :class:`skvi.VariationalLDA` beside scikit-learn's
``LatentDirichletAllocation`` (20 topics, defaults otherwise: batch, 10 passes) on 1,500
documents of skvi's docstring corpus (:func:`skvi.datasets.load_docstring_counts`), split
90/10, and skvi's collapsed variational Bayes (``learning_method='cvb0'``, not in
scikit-learn) with ``CVB0_PASSES`` passes. Their rows show skvi's ELBO per training
*token* and the held-out perplexity computed the same way for every fit,
:func:`skvi.metrics.perplexity_from_theta` with each library's own ``transform`` of the
held-out documents and its ``components_``; the mixture columns (held-out
log-likelihood, ARI) are n/a for them, and so is ``converged`` (neither library checks
convergence by default: ``evaluate_every=-1``).

Regression: :class:`skvi.VariationalEMRegressor` beside ``BayesianRidge`` and
``ARDRegression`` on the bundled diabetes data (442 x 10, split 80/20), and with the ARD
prior on a sparse-truth problem (``make_regression``, 2,000 x 100, 10 informative
features); their rows show the ELBO per training sample and the held-out R^2.

A new comparison is a function added to :data:`COMPARISONS` that returns rows.
"""

import sys
import time
import warnings
from contextlib import nullcontext

from . import VariationalEMRegressor, VariationalGaussianMixture, VariationalLDA, __version__

RANDOM_STATE = 0
#: Passes of the collapsed variational Bayes LDA fit (it needs more than batch mode).
CVB0_PASSES = 50
#: Data sizes: the blobs (samples), the docstring corpus (documents), the sparse-truth
#: regression (samples). The first run is dominated by compiling the kernels, the
#: second by scikit-learn's fits, which these sizes keep to a few seconds each.
BLOBS_SAMPLES = 10_000
LDA_DOCUMENTS = 1_500
SPARSE_SAMPLES = 2_000

COLUMNS = [
    ("dataset", "dataset", "l"),
    ("estimator", "estimator", "l"),
    ("library", "library", "l"),
    ("fit_s", "fit s", "r"),
    ("n_iter", "iters", "r"),
    ("converged", "converged", "l"),
    ("elbo_per_sample", "ELBO/sample", "r"),
    ("score", "held-out score", "r"),
    ("metric", "score", "l"),
    ("ari", "ARI (train)", "r"),
]


def _progress(msg):
    print(msg, file=sys.stderr, flush=True)


# ------------------------------------------------------------------------ JIT warm-up
def _kernel_dispatchers():
    """Every Numba dispatcher defined in an imported skvi module."""
    from numba.core.registry import CPUDispatcher

    found = {}
    for name, module in list(sys.modules.items()):
        if module is None or not (name == "skvi" or name.startswith("skvi.")):
            continue
        for obj in vars(module).values():
            if isinstance(obj, CPUDispatcher):
                found[id(obj)] = obj
    return list(found.values())


def compiled_and_loaded():
    """Kernel signatures compiled and loaded from Numba's on-disk cache so far."""
    compiled = loaded = 0
    for dispatcher in _kernel_dispatchers():
        loaded += sum(dispatcher.stats.cache_hits.values())
        compiled += sum(dispatcher.stats.cache_misses.values())
    return compiled, loaded


# ------------------------------------------------------------------------- fitting
def _timed_fit(name, library, dataset, est, *fit_args, after=None, one_blas_thread=True):
    """Fit ``est`` on ``fit_args`` (``ConvergenceWarning`` silenced: the table reports
    convergence); return ``(seconds, warm-up seconds)``. Mixtures and LDA run with one
    BLAS thread, scikit-learn's faster setting on 2 cores (the mixture benchmark's
    ``sklearn`` and ``sklearn-1blas`` rows measure both: ``python -m benchmarks.run
    --suite mixture``).

    For skvi, an untimed warm-up comes first: a clone fitted for one iteration on the
    same data, then ``after(clone)`` (the predict, score or transform calls of the row),
    which compiles (or loads from Numba's on-disk cache) exactly the kernels the timed
    fit and the row will run, whose choice depends on the data (dtype, covariance type,
    serial or parallel kernel by size).
    """
    from sklearn.base import clone
    from sklearn.exceptions import ConvergenceWarning
    from threadpoolctl import threadpool_limits

    limits = threadpool_limits(limits=1, user_api="blas") if one_blas_thread else nullcontext()
    with warnings.catch_warnings(), limits:
        warnings.simplefilter("ignore", ConvergenceWarning)
        warm_s = 0.0
        if library == "skvi":
            _progress(f"compiling or loading the kernels of {name} for {dataset} ...")
            t0 = time.perf_counter()
            warm = clone(est).set_params(max_iter=1).fit(*fit_args)
            if after is not None:
                after(warm)
            warm_s = time.perf_counter() - t0
            _progress(f"  {warm_s:.1f} s")
        _progress(f"fitting {name} ({library}) on {dataset} ...")
        t0 = time.perf_counter()
        est.fit(*fit_args)
        return time.perf_counter() - t0, warm_s


def _row_head(dataset, name, library, est, seconds):
    """The columns every row shares: what was fitted on what, its time and iterations,
    and (not a column) the seconds of its warm-up."""
    return {
        "dataset": dataset,
        "estimator": name,
        "library": library,
        "fit_s": seconds[0],
        "warm_up_s": seconds[1],
        "n_iter": int(est.n_iter_),
    }


def _fit_row(dataset, library, est, X_train, X_test, y_train):
    """Fit ``est``, time it, and return its table row."""
    from sklearn.metrics import adjusted_rand_score

    def after(fitted):
        fitted.score(X_test)
        fitted.predict(X_train)

    name = type(est).__name__
    seconds = _timed_fit(name, library, dataset, est, X_train, after=after)
    is_skvi = library == "skvi"
    return {
        **_row_head(dataset, name, library, est, seconds),
        "converged": bool(est.converged_),
        "elbo_per_sample": est.lower_bound_ / X_train.shape[0] if is_skvi else None,
        "score": float(est.score(X_test)),
        "metric": "mean log-lik",
        "ari": float(adjusted_rand_score(y_train, est.predict(X_train))),
    }


def _gaussian_mixture_pair(dataset, X_train, X_test, y_train, **params):
    """Rows for skvi's VariationalGaussianMixture and scikit-learn's
    BayesianGaussianMixture with the same parameters (defaults otherwise)."""
    from sklearn.mixture import BayesianGaussianMixture

    params = dict(params, random_state=RANDOM_STATE)
    return [
        _fit_row(dataset, "skvi", VariationalGaussianMixture(**params), X_train, X_test, y_train),
        _fit_row(dataset, "sklearn", BayesianGaussianMixture(**params), X_train, X_test, y_train),
    ]


def compare_gaussian_mixture_blobs(n_samples=BLOBS_SAMPLES):
    """Gaussian mixture on make_blobs: ``n_samples`` x 8, 8 centres, 16 components, full."""
    from sklearn.datasets import make_blobs
    from sklearn.model_selection import train_test_split

    X, y = make_blobs(n_samples=n_samples, n_features=8, centers=8, random_state=RANDOM_STATE)
    X_train, X_test, y_train, _ = train_test_split(X, y, test_size=0.2, random_state=RANDOM_STATE)
    return _gaussian_mixture_pair(
        f"blobs {n_samples // 1000}k x 8, K=16 full", X_train, X_test, y_train,
        n_components=16, covariance_type="full",
    )  # fmt: skip


def compare_gaussian_mixture_digits():
    """Gaussian mixture on the bundled digits, PCA to 10 dimensions, 15 components."""
    from sklearn.datasets import load_digits
    from sklearn.decomposition import PCA
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, _ = train_test_split(
        X, y, test_size=0.2, random_state=RANDOM_STATE, stratify=y
    )
    pca = PCA(n_components=10, random_state=RANDOM_STATE).fit(X_train)
    X_train, X_test = pca.transform(X_train), pca.transform(X_test)
    rows = []
    for covariance_type in ("full", "diag"):
        rows += _gaussian_mixture_pair(
            f"digits PCA-10, K=15 {covariance_type}", X_train, X_test, y_train,
            n_components=15, covariance_type=covariance_type,
        )  # fmt: skip
    return rows


def _lda_row(dataset, library, est, X_train, X_test):
    """Fit the topic model ``est``, time it, and return its table row."""
    from .metrics import perplexity_from_theta

    name = type(est).__name__
    if library == "skvi":
        name += f" {est.learning_method}"
    seconds = _timed_fit(name, library, dataset, est, X_train, after=lambda m: m.transform(X_test))
    theta = est.transform(X_test)
    is_skvi = library == "skvi"
    return {
        **_row_head(dataset, name, library, est, seconds),
        "converged": None,
        "elbo_per_sample": est.lower_bound_ / X_train.sum() if is_skvi else None,
        "score": perplexity_from_theta(theta, est.components_, X_test),
        "metric": "perplexity",
    }


def compare_lda_docstrings(n_documents=LDA_DOCUMENTS):
    """LDA on ``n_documents`` of the docstring corpus, 20 topics, 90/10 split."""
    from sklearn.decomposition import LatentDirichletAllocation
    from sklearn.model_selection import train_test_split

    from .datasets import load_docstring_counts

    _progress(f"loading {n_documents:,} documents of the docstring corpus ...")
    X = load_docstring_counts(max_documents=n_documents, random_state=RANDOM_STATE).X
    X_train, X_test = train_test_split(X, test_size=0.1, random_state=RANDOM_STATE)
    dataset = f"docstrings {X_train.shape[0]} x {X.shape[1]}, K=20"
    params = dict(n_components=20, random_state=RANDOM_STATE)
    cvb0 = VariationalLDA(learning_method="cvb0", max_iter=CVB0_PASSES, **params)
    return [
        _lda_row(dataset, "skvi", VariationalLDA(**params), X_train, X_test),
        _lda_row(dataset, "sklearn", LatentDirichletAllocation(**params), X_train, X_test),
        _lda_row(dataset, "skvi", cvb0, X_train, X_test),
    ]


def _regression_row(dataset, library, est, X_train, X_test, y_train, y_test):
    """Fit the regressor ``est``, time it, and return its table row."""
    name = type(est).__name__
    if library == "skvi":
        name += f" {est.method} {est.prior}" + (" student-t" if est.noise == "student_t" else "")
    seconds = _timed_fit(
        name, library, dataset, est, X_train, y_train,
        after=lambda m: m.score(X_test, y_test), one_blas_thread=False,
    )  # fmt: skip
    is_skvi = library == "skvi"
    return {
        **_row_head(dataset, name, library, est, seconds),
        "converged": bool(est.converged_) if is_skvi else None,
        "elbo_per_sample": est.lower_bound_ / X_train.shape[0] if is_skvi else None,
        "score": float(est.score(X_test, y_test)),
        "metric": "R^2",
    }


def compare_regression(n_samples=SPARSE_SAMPLES):
    """Bayesian linear regression: the diabetes data (442 x 10), ridge and ARD priors;
    a sparse-truth problem (make_regression, ``n_samples`` x 100, 10 informative) for
    ARD."""
    from sklearn.datasets import load_diabetes, make_regression
    from sklearn.linear_model import ARDRegression, BayesianRidge
    from sklearn.model_selection import train_test_split

    rows = []
    X, y = load_diabetes(return_X_y=True)
    split = train_test_split(X, y, test_size=0.2, random_state=RANDOM_STATE)
    for ours, theirs in [
        (VariationalEMRegressor(), BayesianRidge()),
        (VariationalEMRegressor(method="vbem"), None),
        (VariationalEMRegressor(prior="ard"), ARDRegression()),
    ]:
        rows.append(_regression_row("diabetes 442 x 10", "skvi", ours, *split))
        if theirs is not None:
            rows.append(_regression_row("diabetes 442 x 10", "sklearn", theirs, *split))
    X, y = make_regression(n_samples, 100, n_informative=10, noise=10.0, random_state=RANDOM_STATE)
    split = train_test_split(X, y, test_size=0.2, random_state=RANDOM_STATE)
    dataset = f"sparse truth {n_samples} x 100"
    rows.append(_regression_row(dataset, "skvi", VariationalEMRegressor(prior="ard"), *split))
    rows.append(_regression_row(dataset, "sklearn", ARDRegression(), *split))
    return rows


#: Each function fits one skvi estimator and its scikit-learn counterpart and returns
#: table rows (dicts keyed by the first entries of :data:`COLUMNS`).
COMPARISONS = [
    compare_gaussian_mixture_blobs,
    compare_gaussian_mixture_digits,
    compare_lda_docstrings,
    compare_regression,
]


# --------------------------------------------------------------------------- output
def _cell(key, value):
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if key == "fit_s":
        return f"{value:.3f}"
    if key == "ari":
        return f"{value:.3f}"
    if key == "score":
        return f"{value:.4g}"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def format_table(rows):
    """Plain-text table of ``rows`` with the columns of :data:`COLUMNS`."""
    cells = [[_cell(key, row.get(key)) for key, _, _ in COLUMNS] for row in rows]
    headers = [title for _, title, _ in COLUMNS]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]

    def line(values):
        parts = [
            v.rjust(w) if align == "r" else v.ljust(w)
            for v, w, (_, _, align) in zip(values, widths, COLUMNS, strict=True)
        ]
        return "  ".join(parts).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(headers), rule, *(line(r) for r in cells)])


#: The notes printed under the table.
NOTES = (
    "fit s excludes JIT compilation. ELBO/sample: skvi's lower_bound_ / n_train, the\n"
    "full ELBO in nats (scikit-learn reports no ELBO: its mixture's lower_bound_ drops\n"
    "constants). Mixtures: held-out mean log-likelihood (20% of the data):\n"
    "skvi = posterior predictive density, scikit-learn = plug-in density. ARI: predicted\n"
    "components of the training samples against the true labels. Both libraries use\n"
    "their default tol (skvi: ELBO change per sample; scikit-learn: total bound change).\n"
    "Both fit with one BLAS thread (scikit-learn's faster setting on this machine);\n"
    "skvi's kernels use all cores (Numba threads).\n"
    "LDA rows: ELBO per training token (nats); held-out perplexity (10% of the\n"
    "documents) = exp(-sum n_dw log sum_k theta_dk beta_kw / n_tokens) with theta from\n"
    "each library's transform and beta its normalised components_, the same formula for\n"
    "both (skvi.metrics.perplexity_from_theta). Defaults: batch, max_iter=10 passes, no\n"
    "convergence check; scikit-learn's n_jobs=None is one process.\n"
    "Regression rows: lower_bound_ per training sample (nats: the ELBO, plus the log\n"
    "hyperpriors of the precisions for method='vem');\n"
    "held-out R^2 on 20% of the data; defaults otherwise (skvi: method='vem',\n"
    "prior='ridge', Gaussian noise)."
)


def report(rows, warm_up_s, compiled, loaded, total_s):
    """The demo's output: versions, the warm-up line, the table, the notes, the total."""
    import numba
    import sklearn

    return "\n".join(
        [
            f"skvi {__version__} vs scikit-learn {sklearn.__version__} "
            f"(numba {numba.__version__}, {numba.get_num_threads()} threads)",
            f"Numba JIT warm-up before the timed fits: {warm_up_s:.2f} s in all "
            f"({compiled} kernel signatures compiled, {loaded} loaded from the on-disk cache)",
            "",
            format_table(rows),
            "",
            NOTES,
            f"\nTotal demo time: {total_s:.1f} s",
        ]
    )


def main():
    t_start = time.perf_counter()
    _progress(
        "skvi demo: the first run compiles skvi's Numba kernels and caches them on disk "
        "(most of its time); later runs load them from the cache."
    )
    rows = []
    for compare in COMPARISONS:
        rows += compare()
    warm_up_s = sum(r["warm_up_s"] for r in rows)
    print(report(rows, warm_up_s, *compiled_and_loaded(), time.perf_counter() - t_start))


if __name__ == "__main__":
    main()
