"""VariationalGaussianMixture against scikit-learn's BayesianGaussianMixture.

The library under comparison is a parameter, ``lib``:

``skvi``
    :class:`skvi.VariationalGaussianMixture` (its fit limits BLAS to one thread itself and
    runs its Numba kernels on all cores).
``sklearn``
    :class:`sklearn.mixture.BayesianGaussianMixture` with the default thread pools.
``sklearn-1blas``
    The same under ``threadpoolctl.threadpool_limits(1)``, which is faster on small
    matrices (compare the two scikit-learn rows of a case). The faster of the two
    scikit-learn rows is the baseline of the ratios.

Both libraries start from the same responsibilities: the one-hot labels of
``KMeans(n_clusters, n_init=1, random_state=0)`` on the training data, computed once and
injected through each library's initialisation hook. Both use their default priors
(``weight_concentration_prior_type='dirichlet_process'``) and default ``tol`` (skvi's on
the ELBO change per sample, scikit-learn's on the change of its total bound).

Measured per case and library (medians over the repeats, JIT compile excluded by a
warm-up):

* seconds per iteration: ``(t(max_iter=M, tol=0) - t(max_iter=0)) / M``;
* iterations and time to convergence with the default ``tol`` and ``max_iter=200``;
* quality of that fit: ELBO per sample (skvi), scikit-learn's own ``lower_bound_`` (not
  an ELBO: constants dropped), ARI of ``predict(X_train)`` against the true labels, and
  the mean log-likelihood of the 20 % held-out samples (skvi: posterior predictive;
  scikit-learn: plug-in).

The cost of a first fit in a fresh process (JIT compilation or loading the kernels from
Numba's cache) is measured by the ``coldstart`` suite for every estimator.
"""

from contextlib import nullcontext
from dataclasses import dataclass
from functools import cache

import numpy as np

# skvi first: it sets OMP_WAIT_POLICY before any OpenMP runtime is loaded, as it would be
# in a user's program that imports skvi.
import skvi
from skvi import VariationalGaussianMixture
from skvi import _mixture_kernels as kern

from . import mixture_profile as prof
from .common import fmt, log, markdown_table, median, quiet_convergence, time_call

NAME = "mixture"
LIBS = ("skvi", "sklearn", "sklearn-1blas")
SKLEARN_LIBS = ("sklearn", "sklearn-1blas")
MAX_ITER_CONVERGENCE = 200
#: A measurement stops repeating once its fits have taken this many seconds, after at
#: least MIN_ITER_REPEATS repeats (seconds per iteration) or one (time to convergence):
#: a scikit-learn fit that runs all 200 iterations at 100k x 8 takes 30-180 s here.
TIME_BUDGET_S = 45.0
MIN_ITER_REPEATS = 3
RANDOM_STATE = 0
#: Total sizes (before the 80/20 split) of the data-size sweep of the blobs full case,
#: and the scikit-learn configuration it is timed against (the faster one at 100k x 8).
SWEEP_SIZES = (1_000, 3_000, 10_000, 30_000, 100_000)
SWEEP_SIZES_QUICK = (1_000, 3_000, 10_000)
SWEEP_BASELINE = "sklearn-1blas"
#: Timed iterations of the sweep at sizes up to SWEEP_SMALL_N (more than the suite's
#: n_iter_timed: at these sizes an iteration takes well under 10 ms, which is within the
#: noise of the max_iter=0 fit over only 10-20 iterations).
SWEEP_SMALL_N = 10_000
SWEEP_SMALL_ITER = 100
SWEEP_SMALL_ITER_QUICK = 40
#: The d=2 case: total size (quick profile: D2_N_QUICK), timed iterations, repeats.
D2_N, D2_N_QUICK, D2_ITER, D2_REPEATS = 1_000_000, 20_000, 3, 3


# --------------------------------------------------------------------------- estimators
class _SkviFromResp(VariationalGaussianMixture):
    """skvi's estimator initialised from injected responsibilities ``_bench_resp``."""

    def _initial_state(self, data, random_state):
        self._bench_resp_used = True
        self._bench_data = data  # for the profile (mixture_profile)
        return kern.state_from_resp(data.chunk, data.prior, self._bench_resp)

    def _sweep(self, data, state):
        state, bound = super()._sweep(data, state)
        self._bench_state = state  # the last state, for the profile
        return state, bound


def _sklearn_class():
    from sklearn.mixture import BayesianGaussianMixture

    class _SklearnFromResp(BayesianGaussianMixture):
        """scikit-learn's estimator initialised from injected ``_bench_resp``."""

        def _initialize_parameters(self, X, random_state, xp=None):
            self._bench_resp_used = True
            self._initialize(X, self._bench_resp.astype(X.dtype, copy=False))

    return _SklearnFromResp


def make_estimator(lib, resp, *, n_components, covariance_type, max_iter, tol=None):
    """The estimator of ``lib`` that starts from the responsibilities ``resp``."""
    params = dict(
        n_components=n_components,
        covariance_type=covariance_type,
        max_iter=max_iter,
        random_state=RANDOM_STATE,
    )
    if tol is not None:
        params["tol"] = tol
    cls = _SkviFromResp if lib == "skvi" else _sklearn_class()
    est = cls(**params)
    est._bench_resp = resp
    est._bench_resp_used = False
    return est


def timed_fit(lib, est, X):
    """Fit ``est`` on ``X`` under ``lib``'s thread settings; return the seconds taken.

    The thread-limit context is entered outside the timed region.
    """
    from threadpoolctl import threadpool_limits

    ctx = threadpool_limits(limits=1) if lib == "sklearn-1blas" else nullcontext()
    with ctx, quiet_convergence():
        seconds, _ = time_call(est.fit, X)
    if not est._bench_resp_used:
        raise RuntimeError(
            f"{lib}: the injected initialisation was not used; the initialisation hook "
            "of the estimator has changed, update benchmarks/bench_mixture.py."
        )
    return seconds


# --------------------------------------------------------------------------------- data
def _split(X, y, stratify=False):
    from sklearn.model_selection import train_test_split

    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.2, random_state=RANDOM_STATE, stratify=y if stratify else None
    )
    return (np.ascontiguousarray(X_train), np.ascontiguousarray(X_test), y_train, y_test)


@cache
def blobs(n_samples, n_features=8):
    """``make_blobs``: ``n_samples`` x ``n_features``, 12 overlapping unit-variance centres
    in the box (-6, 6)^d (fitted with 16 components), 80/20 split. Overlap makes the fit
    take real iterations: with well-separated centres the k-means start is the answer."""
    from sklearn.datasets import make_blobs

    X, y = make_blobs(
        n_samples=n_samples,
        n_features=n_features,
        centers=12,
        center_box=(-6.0, 6.0),
        random_state=RANDOM_STATE,
    )
    return _split(X, y)


@cache
def digits():
    """scikit-learn's bundled digits, 1797 x 64 (no download), stratified 80/20 split."""
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    return _split(X.astype(np.float64), y, stratify=True)


@cache
def initial_resp(data_key, n_components):
    """One-hot labels of ``KMeans(n_components, n_init=1, random_state=0)`` on X_train."""
    from sklearn.cluster import KMeans

    X_train = _DATA[data_key[0]](*data_key[1:])[0]
    labels = (
        KMeans(n_clusters=n_components, n_init=1, random_state=RANDOM_STATE).fit(X_train).labels_
    )
    resp = np.zeros((X_train.shape[0], n_components))
    resp[np.arange(X_train.shape[0]), labels] = 1.0
    return resp


_DATA = {"blobs": blobs, "digits": digits}


@dataclass(frozen=True)
class Case:
    name: str
    data_key: tuple  # ("blobs", n_samples[, n_features]) or ("digits",)
    n_components: int
    covariance_type: str
    #: Timed scikit-learn iterations and repeats of ``s / iter`` (None: the suite's; skvi
    #: always runs the suite's number of iterations), and whether the
    #: fit to convergence is timed (else its columns are n/a and the quality columns
    #: come from the last timed fit).
    n_iter_timed: int | None = None
    max_repeats: int | None = None
    convergence: bool = True

    def data(self):
        return _DATA[self.data_key[0]](*self.data_key[1:])


def cases(quick):
    """The cases of the full profile, or the small ones of the ``--quick`` profile."""
    n_blobs = 5_000 if quick else 100_000
    n_d2 = D2_N_QUICK if quick else D2_N
    tag = f"blobs {n_blobs // 1000}k x 8"
    selected = [
        Case(f"{tag}, K=16, full", ("blobs", n_blobs), 16, "full"),
        Case(f"{tag}, K=16, diag", ("blobs", n_blobs), 16, "diag"),
        Case("digits 1797 x 64, K=10, full", ("digits",), 10, "full"),
        Case("digits 1797 x 64, K=10, diag", ("digits",), 10, "diag"),
        # scikit-learn takes about 1.7 s per iteration at 1e6 x 2: a few timed iterations,
        # no fit to convergence
        Case(
            f"blobs {n_d2 // 1000}k x 2, K=16, full",
            ("blobs", n_d2, 2),
            16,
            "full",
            n_iter_timed=D2_ITER,
            max_repeats=D2_REPEATS,
            convergence=False,
        ),
    ]
    if quick:
        # The digits 'full' case is left out of the smoke profile: scikit-learn with two
        # BLAS threads takes 0.1-0.5 s per iteration on it on a loaded 2-core machine.
        selected = [c for c in selected if c.name != "digits 1797 x 64, K=10, full"]
    return selected


def sweep_sizes(quick):
    """Total sizes of the data-size sweep (see :func:`size_sweep`)."""
    return SWEEP_SIZES_QUICK if quick else SWEEP_SIZES


# ---------------------------------------------------------------------------- measuring
def warm_up():
    """Compile (or load from Numba's cache) every kernel a fit, predict and score use,
    and run scikit-learn once, so that no timing below includes one-off costs."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((300, 3))
    resp = np.eye(3)[rng.integers(0, 3, size=300)]
    for ctype in ("full", "diag"):
        for lib in ("skvi", "sklearn"):
            est = make_estimator(lib, resp, n_components=3, covariance_type=ctype, max_iter=3)
            timed_fit(lib, est, X)
            est.predict(X)
            est.score(X)


def time_per_iteration(lib, X_train, resp, kw, repeats, n_iter_timed):
    """Seconds per iteration of ``lib`` on ``X_train`` from the responsibilities ``resp``:
    ``(t(max_iter=n_iter_timed, tol=0) - t(max_iter=0)) / n_iter_timed`` per repeat.

    Return ``(setup seconds per repeat, seconds per iteration per repeat, means_ after
    the max_iter=0 fit, the last timed estimator)``. ``kw`` holds ``n_components`` and
    ``covariance_type``.
    """
    # One untimed fit first: the first fit after another library ran pays one-off costs
    # (e.g. waking BLAS threads: skvi's prior covariance GEMM runs on the default BLAS
    # pool and took up to 0.1 s in its first call after a scikit-learn fit).
    timed_fit(lib, make_estimator(lib, resp, max_iter=0, **kw), X_train)

    # Both fits in each repeat, so that a slow spell of the machine affects a pair rather
    # than one side of the difference.
    setup_times, per_iter, init_means, spent, est = [], [], None, 0.0, None
    for _ in range(repeats):
        if len(per_iter) >= MIN_ITER_REPEATS and sum(setup_times) + spent > TIME_BUDGET_S:
            break
        est0 = make_estimator(lib, resp, max_iter=0, **kw)
        setup_times.append(timed_fit(lib, est0, X_train))
        init_means = est0.means_
        est = make_estimator(lib, resp, max_iter=n_iter_timed, tol=0.0, **kw)
        t_m = timed_fit(lib, est, X_train)
        spent += t_m
        if est.n_iter_ != n_iter_timed:
            raise RuntimeError(f"{lib}: ran {est.n_iter_} iterations, not {n_iter_timed}")
        per_iter.append((t_m - setup_times[-1]) / n_iter_timed)
    return setup_times, per_iter, init_means, est


def bench_case(case, lib, repeats, n_iter_timed):
    """Every measurement of one case for one library (see the module docstring)."""
    X_train, X_test, y_train, y_test = case.data()
    resp = initial_resp(case.data_key, case.n_components)
    n_train = X_train.shape[0]
    kw = dict(n_components=case.n_components, covariance_type=case.covariance_type)

    if case.n_iter_timed and lib != "skvi":  # skvi's iterations are cheap: the suite's
        n_iter_timed = case.n_iter_timed
    setup_times, per_iter, init_means, est = time_per_iteration(
        lib, X_train, resp, kw, min(repeats, case.max_repeats or repeats), n_iter_timed
    )

    # Iterations and time to convergence at the default tol.
    conv_times = []
    for _ in range(repeats if case.convergence else 0):
        if conv_times and sum(conv_times) > TIME_BUDGET_S:
            break
        est = make_estimator(lib, resp, max_iter=MAX_ITER_CONVERGENCE, **kw)
        conv_times.append(timed_fit(lib, est, X_train))

    from sklearn.metrics import adjusted_rand_score

    ari = adjusted_rand_score(y_train, est.predict(X_train))
    heldout = est.score(X_test)
    return {
        "case": case.name,
        "lib": lib,
        "n_train": n_train,
        "n_test": X_test.shape[0],
        "n_features": X_train.shape[1],
        "n_components": case.n_components,
        "covariance_type": case.covariance_type,
        "iter_repeats": len(per_iter),
        "n_iter_timed": n_iter_timed,
        "setup_s": median(setup_times),
        "setup_s_all": setup_times,
        "time_per_iter_s": median(per_iter),
        "time_per_iter_s_all": per_iter,
        "conv_repeats": len(conv_times),
        "max_iter": MAX_ITER_CONVERGENCE if case.convergence else n_iter_timed,
        "tol": est.tol,
        "time_to_conv_s": median(conv_times),
        "time_to_conv_s_all": conv_times,
        "n_iter": int(est.n_iter_) if case.convergence else None,
        "converged": bool(est.converged_) if case.convergence else None,
        "elbo_per_sample": est.lower_bound_ / n_train if lib == "skvi" else None,
        "sklearn_lower_bound": None if lib == "skvi" else float(est.lower_bound_),
        "ari_train": float(ari),
        "heldout_mean_loglik": float(heldout),
        "heldout_kind": "posterior predictive" if lib == "skvi" else "plug-in",
        "_init_means": init_means,
    }


def size_sweep(quick, repeats, n_iter_timed):
    """Seconds per iteration of skvi and of ``SWEEP_BASELINE`` on the blobs ``full``
    case (8 features, 16 components) at each total size of :func:`sweep_sizes` (80 % of
    it is fitted), measured as in :func:`bench_case`; the two libraries alternate at
    each size, so that each pair is measured close together in time."""
    rows = []
    kw = dict(n_components=16, covariance_type="full")
    for n in sweep_sizes(quick):
        X_train = blobs(n)[0]
        resp = initial_resp(("blobs", n), kw["n_components"])
        small_iter = SWEEP_SMALL_ITER_QUICK if quick else SWEEP_SMALL_ITER
        n_iter = small_iter if n <= SWEEP_SMALL_N else n_iter_timed
        row = {"n_samples": n, "n_train": X_train.shape[0], "n_iter_timed": n_iter, **kw}
        for lib in ("skvi", SWEEP_BASELINE):
            log(f"mixture: size sweep, n={n:,}, {lib}")
            _, per_iter, _, _ = time_per_iteration(lib, X_train, resp, kw, repeats, n_iter)
            row[lib] = {
                "time_per_iter_s": median(per_iter),
                "time_per_iter_s_all": per_iter,
                "repeats": len(per_iter),
            }
        row["ratio"] = row[SWEEP_BASELINE]["time_per_iter_s"] / row["skvi"]["time_per_iter_s"]
        rows.append(row)
    return {"baseline": SWEEP_BASELINE, "rows": rows}


def run(quick=False, repeats=None):
    """Run the suite; return a JSON-serialisable dict (without the machine info)."""
    repeats = repeats or (2 if quick else 5)
    n_iter_timed = 10 if quick else 20
    log("mixture: JIT warm-up")
    warm_up()
    log("mixture: DGEMM reference")
    dgemm_runs = [prof.dgemm(quick)]
    results = []
    for case in cases(quick):
        log(f"mixture: {case.name}: data and k-means initialisation")
        case.data()
        initial_resp(case.data_key, case.n_components)
        by_lib = {}
        for lib in LIBS:
            log(f"mixture: fitting {case.name} with {lib}")
            by_lib[lib] = bench_case(case, lib, repeats, n_iter_timed)
        skvi_means = by_lib["skvi"].pop("_init_means")
        for lib in SKLEARN_LIBS:
            diff = np.max(np.abs(by_lib[lib].pop("_init_means") - skvi_means))
            by_lib[lib]["init_means_max_abs_diff_vs_skvi"] = float(diff)
        _add_ratios(by_lib)
        sk = by_lib["skvi"]
        sk["sweep_gflops"] = prof.gflops(
            sk["n_train"], sk["n_components"], sk["n_features"], sk["covariance_type"],
            sk["time_per_iter_s"],
        )  # fmt: skip
        results.extend(by_lib.values())
    sweep = size_sweep(quick, repeats, n_iter_timed)
    for row in sweep["rows"]:
        row["sweep_gflops"] = prof.gflops(
            row["n_train"], 16, 8, "full", row["skvi"]["time_per_iter_s"]
        )
    profile = prof.profile(quick, repeats)
    log("mixture: DGEMM reference (again)")
    dgemm_runs.append(prof.dgemm(quick))
    return {
        "suite": NAME,
        "profile": "quick" if quick else "full",
        "repeats": repeats,
        "n_iter_timed": n_iter_timed,
        "skvi_version": skvi.__version__,
        "dgemm": prof.dgemm_summary(dgemm_runs),
        "results": results,
        "size_sweep": sweep,
        "sweep_profile": profile,
    }


def _add_ratios(by_lib):
    """Ratios of every row to skvi, and the faster scikit-learn row as the baseline."""
    ref = by_lib["skvi"]
    for row in by_lib.values():
        row["time_per_iter_ratio_to_skvi"] = row["time_per_iter_s"] / ref["time_per_iter_s"]
        row["time_to_conv_ratio_to_skvi"] = row["time_to_conv_s"] / ref["time_to_conv_s"]
    for metric in ("time_per_iter", "time_to_conv"):
        base = min(SKLEARN_LIBS, key=lambda lib: by_lib[lib][f"{metric}_s"])
        for row in by_lib.values():
            row[f"{metric}_baseline"] = base


# ------------------------------------------------------------------------------ report
def markdown(report):
    """The suite's markdown section (tables and a few notes)."""
    rows = report["results"]
    out = []
    summary = []
    for row in rows:
        if row["lib"] != "skvi":
            continue
        others = {r["lib"]: r for r in rows if r["case"] == row["case"]}
        b_iter = others[row["time_per_iter_baseline"]]
        timed = row["n_iter"] is None  # no fit to convergence: quality of the timed fits
        b_conv = b_iter if timed else others[row["time_to_conv_baseline"]]
        dgemm = report.get("dgemm", {}).get("gflops")
        gf = row.get("sweep_gflops")
        summary.append(
            [
                row["case"],
                f"{b_iter['time_per_iter_s'] / row['time_per_iter_s']:.1f}x ({b_iter['lib']})",
                fmt(gf, ".1f"),
                fmt(dgemm, ".1f"),
                "n/a" if gf is None or not dgemm else f"{gf / dgemm:.0%}",
                "n/a (not fitted to convergence)"
                if timed
                else f"{b_conv['time_to_conv_s'] / row['time_to_conv_s']:.1f}x ({b_conv['lib']})",
                "n/a"
                if timed
                else f"{row['n_iter']}{'' if row['converged'] else '*'} / "
                f"{b_conv['n_iter']}{'' if b_conv['converged'] else '*'}",
                f"{row['ari_train']:.3f} / {b_conv['ari_train']:.3f}",
                f"{row['heldout_mean_loglik']:.3f} / {b_conv['heldout_mean_loglik']:.3f}",
            ]
        )
    head = next((r for r in rows if r["lib"] == "skvi" and r["case"].startswith("blobs")), None)
    if head is not None:
        others = {r["lib"]: r for r in rows if r["case"] == head["case"]}
        base = others[head["time_per_iter_baseline"]]
        out.append(
            f"**{head['case']}: sklearn time per iteration / skvi time per iteration = "
            f"{base['time_per_iter_s'] / head['time_per_iter_s']:.1f}** "
            f"(baseline `{base['lib']}`: {base['time_per_iter_s'] * 1e3:.1f} ms, "
            f"skvi: {head['time_per_iter_s'] * 1e3:.1f} ms; target >= 15). "
            f"ARI skvi {head['ari_train']:.4f}, sklearn {base['ari_train']:.4f}.\n"
        )
    out.append("### Summary: skvi against the faster scikit-learn configuration\n")
    out.append(
        markdown_table(
            [
                "case",
                "speed-up per iteration (sklearn s/iter / skvi s/iter)",
                "GFLOP/s of the sweep (skvi)",
                "DGEMM GFLOP/s",
                "% of DGEMM",
                "speed-up to convergence",
                "iterations skvi / sklearn",
                "ARI skvi / sklearn",
                "held-out mean log-lik skvi / sklearn",
            ],
            summary,
            "lrrrrrrrr",
        )
    )
    out.append(
        "`*` = not converged within max_iter=200. Baseline = the faster of `sklearn` and "
        "`sklearn-1blas` for that metric (in brackets). GFLOP/s of the sweep: the flops of "
        "the E-step and the statistics (`benchmarks/README.md`) / skvi's s / iter; DGEMM: "
        "below. The d=2 case is timed over a few iterations only (no fit to convergence; "
        "its quality columns are those of the timed fits, tol=0). Held-out: skvi's "
        "posterior predictive density vs scikit-learn's plug-in density, nats per sample.\n"
    )
    if "dgemm" in report:
        out.append(prof.markdown_targets(report))

    out.append("\n### All rows\n")
    table = []
    for row in rows:
        base_iter = row["lib"] == row["time_per_iter_baseline"]
        table.append(
            [
                row["case"],
                f"**{row['lib']}**" if base_iter else row["lib"],
                fmt(row["time_per_iter_s"], ".4f"),
                fmt(row["time_per_iter_ratio_to_skvi"], ".2f"),
                fmt(row["setup_s"], ".3f"),
                fmt(row["n_iter"]),
                fmt(row["converged"]),
                fmt(row["time_to_conv_s"], ".3f"),
                fmt(row["time_to_conv_ratio_to_skvi"], ".2f"),
                fmt(row["elbo_per_sample"], ".4f"),
                fmt(row["sklearn_lower_bound"], ".6g"),
                fmt(row["heldout_mean_loglik"], ".4f"),
                fmt(row["ari_train"], ".4f"),
                f"{row['iter_repeats']}/{row['conv_repeats']}",
            ]
        )
    out.append(
        markdown_table(
            [
                "case",
                "library",
                "s / iter",
                "÷ skvi",
                "setup s (max_iter=0)",
                "iters",
                "converged",
                "time to conv. s",
                "÷ skvi",
                "ELBO / sample (skvi)",
                "sklearn lower_bound_ (own bound, not an ELBO)",
                "held-out mean log-lik",
                "ARI (train)",
                "repeats (iter/conv)",
            ],
            table,
            "llrrrrlrrrrrrr",
        )
    )
    out.append(
        "Bold library: the per-iteration baseline of that case (the faster scikit-learn "
        "row). `÷ skvi` = this row's time / skvi's time (> 1: skvi is faster).\n"
    )
    diffs = [r.get("init_means_max_abs_diff_vs_skvi") for r in rows if r["lib"] != "skvi"]
    if diffs:
        out.append(
            f"\nSame initialisation check: max |means_ sklearn - means_ skvi| after the "
            f"max_iter=0 fit, over all cases: {max(diffs):.2e}.\n"
        )

    sweep = report.get("size_sweep")
    if sweep:
        out.append("\n### Time per iteration against data size (blobs x 8, K=16, full)\n")
        base = sweep["baseline"]
        out.append(
            markdown_table(
                [
                    "n (total)",
                    "n train",
                    "timed iterations",
                    "skvi ms / iter",
                    f"{base} ms / iter",
                    f"{base} / skvi",
                    "GFLOP/s of the sweep (skvi)",
                    "repeats",
                ],
                [
                    [
                        f"{r['n_samples']:,}",
                        f"{r['n_train']:,}",
                        r["n_iter_timed"],
                        fmt(r["skvi"]["time_per_iter_s"] * 1e3, ".3g"),
                        fmt(r[base]["time_per_iter_s"] * 1e3, ".3g"),
                        f"{r['ratio']:.1f}x",
                        fmt(r.get("sweep_gflops"), ".1f"),
                        f"{r['skvi']['repeats']}/{r[base]['repeats']}",
                    ]
                    for r in sweep["rows"]
                ],
                "rrrrrrrr",
            )
        )
        out.append(
            f"Measured as `s / iter` above, the two libraries alternating at each size; "
            f"`{base}` (scikit-learn with one BLAS thread) is the faster scikit-learn "
            "configuration on this case. Plot: `mixture_size_sweep.png`.\n"
        )
    if "dgemm" in report:
        out.append(prof.markdown_profile(report))
    return "\n".join(out)
