"""VariationalEMRegressor against scikit-learn's BayesianRidge and ARDRegression.

The library and its configuration are a parameter, ``config``:

``BayesianRidge`` / ``ARDRegression``
    scikit-learn with its defaults. ARDRegression's default ``threshold_lambda=1e4``
    removes a feature from the model once its precision exceeds 1e4 (later iterations
    and the posterior covariance only see the kept features): an approximation that
    also makes it faster, and that depends on the units of ``X``.
``ARDRegression no pruning``
    ARDRegression with ``threshold_lambda`` the largest float: the same model as skvi's
    ARD (no feature removed), for the fair comparison of the same computation.
``skvi <method> <prior> [student_t]``
    :class:`skvi.VariationalEMRegressor` with that ``method`` and ``prior``, Gaussian
    noise unless ``student_t``; its defaults otherwise (``tol=1e-6`` on the objective per
    sample, ``max_iter=300``).

Cases (fixed seeds):

``diabetes``
    scikit-learn's bundled diabetes data (442 x 10), 80/20 train / held-out split.
``synthetic 80000 x 200``
    ``sklearn.datasets.make_regression`` (standard normal ``X``, 20 informative
    features with coefficients uniform on [0, 100), the others 0), bias 3, Gaussian noise
    of standard deviation ``NOISE`` = 10; 80,000 training and 20,000 held-out rows.
``synthetic 80000 x 200, heavy-tailed``
    The same ``X`` and coefficients with ``NOISE`` times Student-t noise of 2 degrees of
    freedom (infinite variance) instead.

How much faster skvi's ARD is depends on the data: ARDRegression forms
``X_kept^T X_kept`` again in every iteration, and how many iterations it needs and how
fast it prunes depends on the problem (on iid N(0, 1) coefficients with unit noise it
prunes to a few features within 5 iterations, and the ratio is smaller).

``--quick`` uses 8,000 x 50 synthetic data (5 informative) and two repeats.

Measured per case and configuration: the fit time (median over the repeats; the repeats
cycle through the configurations, so that a slow spell of the shared machine affects all
of them alike; a configuration stops repeating once it has used ``TIME_BUDGET_S``, after
``MIN_REPEATS``, or twice that), and from the last fit: held-out R^2, the mean predictive standard
deviation on the held-out rows, the coverage of the central 90% predictive interval on
them, the coefficient error ``||coef - w||`` (synthetic cases) and iterations. The 90%
interval is ``mean +- 1.6449 std`` for scikit-learn (its predictive is Gaussian) and
:meth:`skvi.VariationalEMRegressor.predict_interval` for skvi (a Gaussian for ``vem``
with Gaussian noise, a Student-t for ``vbem`` or Student-t noise). With Student-t noise
of ``df_ <= 2`` the predictive standard deviation is infinite; the coverage is still
defined.

The cost of a first fit in a fresh process (compiling the special functions the objective
uses, or loading them from Numba's cache) is measured by the ``coldstart`` suite.
"""

from dataclasses import dataclass
from functools import cache

import numpy as np

# skvi first: it sets OMP_WAIT_POLICY before any OpenMP runtime is loaded, as it would be
# in a user's program that imports skvi.
import skvi
from skvi import VariationalEMRegressor

from .common import fmt, log, markdown_table, median, quiet_convergence, time_call

NAME = "regression"
RANDOM_STATE = 0
COVERAGE = 0.9
NOISE = 10.0
#: A configuration stops repeating once its fits have taken this many seconds, after at
#: least MIN_REPEATS repeats, or once they have taken twice as long (after one repeat at
#: least: ARDRegression without pruning takes 20-40 s per fit at 80,000 x 200).
TIME_BUDGET_S = 30.0
MIN_REPEATS = 3

SKLEARN_CONFIGS = ("BayesianRidge", "ARDRegression", "ARDRegression no pruning")
SKVI_CONFIGS = {
    "skvi vem ridge": dict(method="vem", prior="ridge"),
    "skvi vbem ridge": dict(method="vbem", prior="ridge"),
    "skvi vem ard": dict(method="vem", prior="ard"),
    "skvi vbem ard": dict(method="vbem", prior="ard"),
    "skvi vem ridge student_t": dict(method="vem", prior="ridge", noise="student_t"),
    "skvi vbem ard student_t": dict(method="vbem", prior="ard", noise="student_t"),
}
CONFIGS = SKLEARN_CONFIGS + tuple(SKVI_CONFIGS)
#: The comparisons the targets are about: (skvi row, scikit-learn row, target speed-up).
TARGETS = (
    ("skvi vem ridge", "BayesianRidge", 1.0),
    ("skvi vem ard", "ARDRegression", 5.0),
    ("skvi vbem ard", "ARDRegression", 5.0),
    ("skvi vem ard", "ARDRegression no pruning", 5.0),
)


def make_estimator(config):
    """The estimator of ``config`` (see the module docstring)."""
    from sklearn.linear_model import ARDRegression, BayesianRidge

    if config == "BayesianRidge":
        return BayesianRidge()
    if config == "ARDRegression":
        return ARDRegression()
    if config == "ARDRegression no pruning":
        return ARDRegression(threshold_lambda=np.finfo(np.float64).max)
    return VariationalEMRegressor(**SKVI_CONFIGS[config])


# --------------------------------------------------------------------------------- data
@dataclass(frozen=True)
class Case:
    name: str
    key: tuple

    def data(self):
        return _DATA[self.key[0]](*self.key[1:])


@cache
def diabetes():
    """scikit-learn's bundled diabetes data (no download), 80/20 split."""
    from sklearn.datasets import load_diabetes
    from sklearn.model_selection import train_test_split

    X, y = load_diabetes(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.2, random_state=RANDOM_STATE
    )
    return X_train, X_test, y_train, y_test, None


@cache
def synthetic(n_train, n_features, n_informative, heavy):
    """``make_regression`` with ``n_train + n_train / 4`` rows (the last fifth held out),
    bias 3 and ``NOISE`` times N(0, 1) or Student-t(2) noise."""
    from sklearn.datasets import make_regression

    n = n_train + n_train // 4
    X, signal, w = make_regression(
        n_samples=n,
        n_features=n_features,
        n_informative=n_informative,
        bias=3.0,
        noise=0.0,
        coef=True,
        random_state=RANDOM_STATE,
    )
    rng = np.random.default_rng(RANDOM_STATE + 1)
    noise = rng.standard_t(2.0, size=n) if heavy else rng.standard_normal(n)
    y = signal + NOISE * noise
    return X[:n_train], X[n_train:], y[:n_train], y[n_train:], w


_DATA = {"diabetes": diabetes, "synthetic": synthetic}


def cases(quick):
    n, d, k = (8_000, 50, 5) if quick else (80_000, 200, 20)
    tag = f"synthetic {n} x {d}"
    return [
        Case("diabetes 353 x 10", ("diabetes",)),
        Case(tag, ("synthetic", n, d, k, False)),
        Case(f"{tag}, heavy-tailed", ("synthetic", n, d, k, True)),
    ]


# ---------------------------------------------------------------------------- measuring
def quality(config, est, X_test, y_test, w):
    """Held-out R^2, mean predictive std, 90% interval coverage, coefficient error."""
    from scipy import stats

    mean, std = est.predict(X_test, return_std=True)
    if config.startswith("skvi"):
        lower, upper = est.predict_interval(X_test, coverage=COVERAGE)
    else:
        half = stats.norm.ppf(0.5 + 0.5 * COVERAGE) * std
        lower, upper = mean - half, mean + half
    resid = y_test - mean
    r2 = 1.0 - resid @ resid / np.sum((y_test - y_test.mean()) ** 2)
    out = {
        "r2_test": float(r2),
        "mean_std_test": float(np.mean(std)),
        "coverage_90": float(np.mean((y_test >= lower) & (y_test <= upper))),
        "coef_error": None if w is None else float(np.linalg.norm(est.coef_ - w)),
        "n_iter": int(np.max(est.n_iter_)),
        "converged": bool(est.converged_) if hasattr(est, "converged_") else None,
        "alpha": float(est.alpha_),
    }
    if config.startswith("ARD"):
        out["features_kept"] = int(np.sum(est.lambda_ < est.threshold_lambda))
    if config.startswith("skvi"):
        out["lower_bound_per_sample"] = float(est.lower_bound_) / len(est.sample_precisions_)
        out["df"] = float(est.df_)
    return out


def warm_up():
    """Compile (or load from Numba's cache) what every skvi configuration uses, and run
    scikit-learn once, so that no timing includes one-off costs."""
    rng = np.random.default_rng(1)
    X = rng.standard_normal((200, 5))
    y = X[:, 0] + rng.standard_normal(200)
    with quiet_convergence():
        for config in CONFIGS:
            est = make_estimator(config).fit(X, y)
            est.predict(X, return_std=True)
            if config.startswith("skvi"):
                est.predict_interval(X)


def bench_case(case, repeats):
    """Every configuration on one case: timed fits (interleaved), then the quality of the
    last fit of each."""
    X_train, X_test, y_train, y_test, w = case.data()
    times = {config: [] for config in CONFIGS}
    last = {}
    for rep in range(repeats):
        for config in CONFIGS:
            spent = sum(times[config])
            if spent > 2 * TIME_BUDGET_S or (
                len(times[config]) >= MIN_REPEATS and spent > TIME_BUDGET_S
            ):
                continue
            est = make_estimator(config)
            with quiet_convergence():
                seconds, _ = time_call(est.fit, X_train, y_train)
            times[config].append(seconds)
            last[config] = est
            log(f"  {case.name}: {config}: {seconds:.3f} s (repeat {rep + 1})")
    rows = []
    for config in CONFIGS:
        row = {
            "case": case.name,
            "config": config,
            "n_train": int(X_train.shape[0]),
            "n_features": int(X_train.shape[1]),
            "repeats": len(times[config]),
            "fit_s": median(times[config]),
            "fit_s_all": times[config],
        }
        row.update(quality(config, last[config], X_test, y_test, w))
        rows.append(row)
    by_config = {row["config"]: row for row in rows}
    for row in rows:
        row["fit_s_ratio_to_skvi_vem_ridge"] = row["fit_s"] / by_config["skvi vem ridge"]["fit_s"]
    return rows


def run(quick=False, repeats=None):
    """Run the suite; return a JSON-serialisable dict (without the machine info)."""
    repeats = repeats or (2 if quick else 5)
    log("regression: warm-up")
    warm_up()
    results = []
    for case in cases(quick):
        log(f"regression: {case.name}")
        case.data()
        results.extend(bench_case(case, repeats))
    return {
        "suite": NAME,
        "profile": "quick" if quick else "full",
        "repeats": repeats,
        "time_budget_s": TIME_BUDGET_S,
        "min_repeats": MIN_REPEATS,
        "skvi_version": skvi.__version__,
        "results": results,
    }


# ------------------------------------------------------------------------------ report
def _targets(rows):
    """One line per target comparison and case."""
    out = []
    cases_ = [c for c in dict.fromkeys(r["case"] for r in rows) if c.startswith("synthetic")]
    for case in cases_:
        by = {r["config"]: r for r in rows if r["case"] == case}
        for ours, theirs, target in TARGETS:
            a, b = by[ours], by[theirs]
            speedup = b["fit_s"] / a["fit_s"]
            out.append(
                [
                    case,
                    f"{theirs} / {ours}",
                    f"{speedup:.2f}x",
                    f">= {target:g}x",
                    "yes" if speedup >= target else "**no**",
                    f"{a['r2_test']:.4f} / {b['r2_test']:.4f}",
                ]
            )
    return out


def markdown(report):
    """The suite's markdown section (tables and notes)."""
    rows = report["results"]
    out = [
        "### Targets (time ratios measured in the same run, synthetic cases; diabetes "
        "fits take about a millisecond)\n"
    ]
    out.append(
        markdown_table(
            ["case", "fit time ratio", "speed-up", "target", "met", "held-out R^2 skvi / sklearn"],
            _targets(rows),
            "llrrll",
        )
    )
    gaussian = [
        r
        for r in rows
        if r["config"].startswith("skvi")
        and r["case"].startswith("synthetic")
        and "heavy" not in r["case"]
    ]
    if gaussian:
        worst = max(gaussian, key=lambda r: abs(r["coverage_90"] - COVERAGE))
        out.append(
            f"\nCoverage of the 90% predictive interval on the held-out Gaussian synthetic "
            f"data, every skvi configuration: {100 * min(r['coverage_90'] for r in gaussian):.1f}"
            f"-{100 * max(r['coverage_90'] for r in gaussian):.1f}% (worst: "
            f"{worst['config']}; target 88-92%).\n"
        )
    out.append("\n### All rows\n")
    table = [
        [
            r["case"],
            r["config"],
            fmt(r["fit_s"], ".3f"),
            fmt(r["fit_s_ratio_to_skvi_vem_ridge"], ".2f"),
            fmt(r["r2_test"], ".4f"),
            fmt(r["mean_std_test"], ".4g"),
            fmt(100 * r["coverage_90"], ".1f"),
            fmt(r["coef_error"], ".4f"),
            r["n_iter"],
            fmt(r.get("converged")),
            fmt(r.get("df"), ".3g"),
            fmt(r.get("features_kept")),
            r["repeats"],
        ]
        for r in rows
    ]
    out.append(
        markdown_table(
            [
                "case",
                "configuration",
                "fit s (median)",
                "÷ skvi vem ridge",
                "held-out R^2",
                "mean predictive std",
                "90% interval coverage %",
                "coef error",
                "iters",
                "converged",
                "df",
                "ARD kept",
                "repeats",
            ],
            table,
            "llrrrrrrrlrrr",
        )
    )
    out.append(
        "\n`coef error` = ||coef_ - w|| against the true coefficients (synthetic cases). "
        "`ARD kept` = features with lambda_ < threshold_lambda. `df` = learned degrees of "
        "freedom of the Student-t noise (inf: Gaussian noise). A mean predictive std of "
        "`inf` means df <= 2 (no finite variance); the interval is still defined. "
        "scikit-learn's std leaves out the intercept's uncertainty.\n"
    )
    return "\n".join(out)
