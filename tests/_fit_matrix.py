"""A fixed matrix of small fits whose every output is saved, to show that a refactoring
changes no number.

``python -m tests._fit_matrix save PATH`` fits every case and saves each fitted
attribute (every public attribute ending in ``_``, ``lower_bounds_`` included) and the
outputs of the prediction methods to ``PATH`` (``.npz``). ``python -m tests._fit_matrix
compare PATH`` fits them again and compares each value with the saved one: it prints the
number of values compared, the largest relative difference (and where), and exits with
status 1 if any value differs by more than ``--rtol`` (default 1e-12) relative or if a
value is missing on either side.

The cases: the mixture for every covariance type and both weight priors, with ``prune``
on and off, ``n_init=3``, ``warm_start``, sample weights and ``partial_fit`` three times
(also after ``fit``); LDA batch, online, cvb0, learned priors ('auto'), ``evaluate_every``
and ``partial_fit``; the regressor's 8 method/prior/noise combinations, with one and
several targets, more features than samples, and sample weights.
"""

import argparse
import sys
import warnings

import numpy as np
import scipy.sparse as sp


def _mixture_data():
    from sklearn.datasets import make_blobs

    X, _ = make_blobs(n_samples=240, n_features=3, centers=4, random_state=0)
    X2, _ = make_blobs(n_samples=180, n_features=3, centers=4, random_state=1)
    w = np.random.RandomState(2).uniform(0.1, 3.0, X.shape[0])
    return X, X2, w


def _lda_data():
    rng = np.random.RandomState(0)
    topics = rng.dirichlet(np.full(40, 0.1), size=4)
    theta = rng.dirichlet(np.full(4, 0.3), size=90)
    counts = np.vstack([rng.multinomial(rng.randint(5, 60), t @ topics) for t in theta])
    return sp.csr_matrix(counts.astype(float))


def _regression_data():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(60, 6)) * [1.0, 2.0, 0.5, 1.0, 3.0, 1.0]
    coef = np.array([1.5, -2.0, 0.0, 0.0, 0.7, 0.0])
    y = X @ coef + 0.3 * rng.standard_t(3, size=60) + 1.0
    Y = np.column_stack([y, X @ coef[::-1] - 0.5 + 0.2 * rng.normal(size=60)])
    Xw = rng.normal(size=(12, 20))
    yw = Xw[:, :3] @ [1.0, -1.0, 2.0] + 0.1 * rng.normal(size=12)
    w = rng.uniform(0.2, 2.0, 60)
    return X, y, Y, Xw, yw, w


def _attributes(est):
    out = {}
    for name in sorted(vars(est)):
        if name.endswith("_") and not name.startswith("_"):
            value = getattr(est, name)
            if isinstance(value, (bool, int, float, np.integer, np.floating, np.bool_)):
                out[name] = np.asarray(value, dtype=float)
            elif isinstance(value, np.ndarray) and value.dtype.kind in "biuf":
                out[name] = np.asarray(value, dtype=float)
    return out


def _mixture_cases():
    from skvi import VariationalGaussianMixture

    X, X2, w = _mixture_data()
    for ctype in ("full", "tied", "diag", "spherical"):
        for prior in ("dirichlet_process", "dirichlet_distribution"):
            for prune in (True, False):
                est = VariationalGaussianMixture(
                    n_components=6, covariance_type=ctype, weight_concentration_prior_type=prior,
                    prune=prune, max_iter=60, random_state=0,
                )  # fmt: skip
                yield f"mixture/{ctype}/{prior}/prune={prune}", est.fit(X), X
        kw = dict(n_components=5, covariance_type=ctype, max_iter=40, random_state=1)
        yield (
            f"mixture/{ctype}/n_init=3",
            VariationalGaussianMixture(n_init=3, init_params="k-means++", **kw).fit(X),
            X,
        )
        est = VariationalGaussianMixture(warm_start=True, **kw).fit(X)
        yield f"mixture/{ctype}/warm_start", est.fit(X2), X2
        yield (
            f"mixture/{ctype}/sample_weight",
            VariationalGaussianMixture(init_params="random", **kw).fit(X, sample_weight=w),
            X,
        )
        est = VariationalGaussianMixture(total_samples=1000, **kw)
        for part in np.array_split(np.arange(X.shape[0]), 3):
            est.partial_fit(X[part])
        yield f"mixture/{ctype}/partial_fit", est, X
        est = VariationalGaussianMixture(total_samples=1000, **kw).fit(X)
        yield f"mixture/{ctype}/fit+partial_fit", est.partial_fit(X2), X2


def _lda_cases():
    from skvi import VariationalLDA

    X = _lda_data()
    kw = dict(n_components=4, random_state=0, max_iter=8)
    for method in ("batch", "online", "cvb0"):
        yield f"lda/{method}", VariationalLDA(learning_method=method, batch_size=32, **kw).fit(X), X
        yield (
            f"lda/{method}/evaluate_every",
            VariationalLDA(learning_method=method, evaluate_every=2, perp_tol=1e-3, **kw).fit(X),
            X,
        )
    for method in ("batch", "online"):
        est = VariationalLDA(
            learning_method=method, doc_topic_prior="auto", topic_word_prior="auto", **kw
        )
        yield f"lda/{method}/auto", est.fit(X), X
    yield (
        "lda/batch/asymmetric",
        VariationalLDA(doc_topic_prior=[0.1, 0.5, 1.0, 2.0], topic_word_prior=1.5, **kw).fit(X),
        X,
    )
    est = VariationalLDA(total_samples=500, **kw)
    for part in np.array_split(np.arange(X.shape[0]), 3):
        est.partial_fit(X[part])
    yield "lda/partial_fit", est, X
    est = VariationalLDA(total_samples=500, doc_topic_prior="auto", **kw).fit(X)
    yield "lda/fit+partial_fit", est.partial_fit(X[:30]), X


def _regression_cases():
    from skvi import VariationalEMRegressor

    X, y, Y, Xw, yw, w = _regression_data()
    for method in ("vem", "vbem"):
        for prior in ("ridge", "ard"):
            for noise in ("gaussian", "student_t"):
                kw = dict(method=method, prior=prior, noise=noise, max_iter=200)
                name = f"regression/{method}/{prior}/{noise}"
                yield name, VariationalEMRegressor(**kw).fit(X, y), X
                yield f"{name}/targets", VariationalEMRegressor(**kw).fit(X, Y), X
                yield f"{name}/wide", VariationalEMRegressor(**kw).fit(Xw, yw), Xw
                yield (
                    f"{name}/weights",
                    VariationalEMRegressor(fit_intercept=False, **kw).fit(X, y, sample_weight=w),
                    X,
                )
    yield (
        "regression/vem/ridge/student_t/df=4",
        VariationalEMRegressor(noise="student_t", df=4.0).fit(X, y),
        X,
    )


def _outputs(name, est, X):
    out = _attributes(est)
    if name.startswith("mixture"):
        out["predict_proba()"] = est.predict_proba(X)
        out["score_samples()"] = est.score_samples(X)
        out["predict()"] = est.predict(X).astype(float)
    elif name.startswith("lda"):
        out["transform()"] = est.transform(X)
        out["score()"] = np.asarray(est.score(X))
        out["perplexity()"] = np.asarray(est.perplexity(X))
    else:
        mean, std = est.predict(X, return_std=True)
        out["predict()"] = mean
        out["predict(return_std)"] = std
    return out


def fit_all():
    """Every case's outputs as a flat dict ``{'case:attribute': array}``."""
    values = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for cases in (_mixture_cases, _lda_cases, _regression_cases):
            for name, est, X in cases():
                for key, value in _outputs(name, est, X).items():
                    values[f"{name}:{key}"] = np.asarray(value, dtype=float)
    return values


def compare(saved, values, rtol):
    """Return ``(n_values, largest relative difference, its key, failures)``."""
    failures = sorted(set(saved) ^ set(values))
    n_values, worst, where = 0, 0.0, None
    for key in sorted(set(saved) & set(values)):
        a, b = saved[key], values[key]
        if a.shape != b.shape:
            failures.append(f"{key}: shape {a.shape} != {b.shape}")
            continue
        n_values += a.size
        same = (a == b) | (np.isnan(a) & np.isnan(b))
        if same.all():
            continue
        with np.errstate(all="ignore"):
            rel = np.abs(a - b) / np.maximum(np.abs(a), np.abs(b))
        rel = np.where(same, 0.0, np.nan_to_num(rel, nan=np.inf))
        if rel.max() > worst:
            worst, where = float(rel.max()), key
        if rel.max() > rtol:
            failures.append(f"{key}: relative difference {rel.max():.3g}")
    return n_values, worst, where, failures


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["save", "compare"])
    parser.add_argument("path")
    parser.add_argument("--rtol", type=float, default=1e-12)
    args = parser.parse_args(argv)
    values = fit_all()
    if args.action == "save":
        np.savez(args.path, **values)
        print(f"saved {len(values)} arrays, {sum(v.size for v in values.values())} values")
        return 0
    with np.load(args.path) as f:
        saved = {key: f[key] for key in f.files}
    n_values, worst, where, failures = compare(saved, values, args.rtol)
    print(
        f"compared {n_values} values in {len(saved)} arrays; "
        f"largest relative difference {worst:.3g}" + (f" ({where})" if where else "")
    )
    for line in failures:
        print("  DIFFERS", line)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
