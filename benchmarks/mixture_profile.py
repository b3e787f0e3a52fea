"""The mixture suite's measures of the machine: the DGEMM rate, the arithmetic rate of
a sweep, the split of a sweep between its parts, and the suite's targets.

DGEMM rate
    ``numpy.matmul`` of two float64 square matrices of order ``DGEMM_SIZE`` (quick
    profile: ``DGEMM_SIZE_QUICK``) under ``threadpoolctl.threadpool_limits(2)``, after
    one untimed product; ``2 n^3`` flops over the median seconds. Measured at the start
    and at the end of the suite's run; the median of every product is the reference.
Flops of a sweep (:func:`sweep_flops`)
    ``ln rho_nk = [1, z(x_n)] @ coef[:, k]`` costs ``2 P`` flops per sample and
    component, ``P = len(z)``, and the statistics ``sum_n r_nk [1, z(x_n)]`` another
    ``2 (1 + P)``: ``N K (4 P + 2)`` in all, with ``P = d + d(d+1)/2`` ('full', 'tied':
    ``N K d(d+3)`` for the E-step plus ``2 N K (1 + d + d(d+1)/2)``), ``2 d`` ('diag'),
    ``d + 1`` ('spherical'). The expansion ``z(x_n)`` (``O(N P)``, not ``O(N K P)``),
    the ``N K`` exponentials of the responsibilities and the update are not counted:
    the rate is a lower bound of the arithmetic done.
Profile of a sweep (:func:`profile`)
    From the state of a fit of ``n_iter`` sweeps: the mean seconds of
    ``chunk_stats`` (the E-step fused with the statistics, the parallel kernel), of
    ``update`` + ``coefficients``, and of ``elbo``, each called ``n_iter`` times in
    turn under one BLAS thread as in the fit, against the estimator's seconds per
    iteration measured in the same repeat; "rest" is the difference (the fit loop, the
    hooks, the NamedTuples: Python overhead).
"""

import numpy as np

from .common import fmt, log, markdown_table, median, time_call

DGEMM_SIZE = 4096
DGEMM_SIZE_QUICK = 1024
DGEMM_REPEATS = 5
DGEMM_THREADS = 2
#: Total sizes of the blobs x 8, K=16, 'full' rows of the profile (quick: the first two),
#: and the iterations timed per repeat at sizes up to 10,000 and above.
PROFILE_SIZES = (1_000, 10_000, 100_000)
PROFILE_SIZES_QUICK = (1_000, 10_000)
PROFILE_ITER_SMALL, PROFILE_ITER_LARGE = 100, 20
PROFILE_ITER_SMALL_QUICK, PROFILE_ITER_LARGE_QUICK = 40, 10

#: Targets of issue 14: (key, description, lower bound).
TARGETS = (
    ("blobs_100k_full", "blobs 100k x 8, K=16, full: speed-up per iteration", 15.0),
    ("blobs_100k_full_dgemm", "blobs 100k x 8, K=16, full: sweep GFLOP/s / DGEMM", 0.25),
    ("sweep_1000", "size sweep, 1,000 samples: speed-up per iteration", 3.0),
    ("digits_full", "digits 64-d, K=10, full: speed-up per iteration", 2.0),
    ("digits_diag", "digits 64-d, K=10, diag: speed-up per iteration", 2.0),
    ("blobs_1m_d2", "blobs 1M x 2, K=16, full: speed-up per iteration", 20.0),
    ("min_ratio", "every row of the suite: speed-up per iteration", 1.0),
)


# ------------------------------------------------------------------------------- DGEMM
def dgemm(quick, repeats=DGEMM_REPEATS):
    """Seconds of ``repeats`` float64 square matrix products on ``DGEMM_THREADS`` BLAS
    threads (one untimed product first)."""
    from threadpoolctl import threadpool_limits

    n = DGEMM_SIZE_QUICK if quick else DGEMM_SIZE
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((n, n)), rng.standard_normal((n, n))
    with threadpool_limits(limits=DGEMM_THREADS, user_api="blas"):
        np.matmul(a, b)
        times = [time_call(np.matmul, a, b)[0] for _ in range(repeats)]
    return {"size": n, "threads": DGEMM_THREADS, "times_s": times}


def dgemm_summary(runs):
    """The reference DGEMM rate of a list of :func:`dgemm` results (median of all)."""
    n = runs[0]["size"]
    times = [t for r in runs for t in r["times_s"]]
    return {
        "size": n,
        "threads": runs[0]["threads"],
        "runs": runs,
        "median_s": median(times),
        "gflops": 2.0 * n**3 / median(times) / 1e9,
        "gflops_per_run": [2.0 * n**3 / median(r["times_s"]) / 1e9 for r in runs],
    }


def sweep_flops(n_samples, n_components, n_features, covariance_type):
    """Flops of the E-step and the statistics of one sweep (module docstring)."""
    d = n_features
    p = {"diag": 2 * d, "spherical": d + 1}.get(covariance_type, d + d * (d + 1) // 2)
    return n_samples * n_components * (4 * p + 2)


def gflops(n_samples, n_components, n_features, covariance_type, seconds):
    """GFLOP/s of :func:`sweep_flops` done in ``seconds``."""
    flops = sweep_flops(n_samples, n_components, n_features, covariance_type)
    return flops / seconds / 1e9 if seconds > 0 else float("nan")


# ----------------------------------------------------------------------------- profile
def _time_parts(data, state, n_iter):
    """Mean seconds per call of the three parts of a sweep, each over ``n_iter`` calls."""
    from skvi import _mixture_kernels as kern
    from skvi._jit import single_threaded_blas

    chunk, prior = data.chunk, data.prior
    ctype = prior.covariance_type
    parts = {"chunk_stats": 0.0, "update": 0.0, "elbo": 0.0}
    with single_threaded_blas():
        for _ in range(n_iter):
            t, stats = time_call(
                kern.chunk_stats, chunk.X, chunk.weights, chunk.units, state.coef, ctype
            )
            parts["chunk_stats"] += t
            t, post = time_call(kern.update, stats, prior)
            t2, coef = time_call(kern.coefficients, post, prior)
            parts["update"] += t + t2
            t, _ = time_call(kern.elbo, stats, post, prior, chunk.units.scale_exp, coef)
            parts["elbo"] += t
    return {k: v / n_iter for k, v in parts.items()}


def profile_row(label, X_train, resp, n_components, covariance_type, repeats, n_iter):
    """One row of the profile: per repeat, the estimator's seconds per iteration
    (``t(max_iter=n_iter, tol=0) - t(max_iter=0)``) then the parts on the state of that
    fit; medians over the repeats."""
    from . import bench_mixture as bm

    kw = dict(n_components=n_components, covariance_type=covariance_type)
    bm.timed_fit("skvi", bm.make_estimator("skvi", resp, max_iter=0, **kw), X_train)
    whole, parts = [], []
    for _ in range(repeats):
        t0 = bm.timed_fit("skvi", bm.make_estimator("skvi", resp, max_iter=0, **kw), X_train)
        est = bm.make_estimator("skvi", resp, max_iter=n_iter, tol=0.0, **kw)
        whole.append((bm.timed_fit("skvi", est, X_train) - t0) / n_iter)
        parts.append(_time_parts(est._bench_data, est._bench_state, n_iter))
    row = {
        "case": label,
        "n_train": X_train.shape[0],
        "n_features": X_train.shape[1],
        "n_components": n_components,
        "covariance_type": covariance_type,
        "n_iter": n_iter,
        "repeats": repeats,
        "iteration_s": median(whole),
        "iteration_s_all": whole,
    }
    for key in parts[0]:
        row[f"{key}_s"] = median([p[key] for p in parts])
        row[f"{key}_s_all"] = [p[key] for p in parts]
    row["rest_s"] = row["iteration_s"] - sum(row[f"{k}_s"] for k in parts[0])
    row["chunk_stats_gflops"] = gflops(
        row["n_train"], n_components, row["n_features"], covariance_type, row["chunk_stats_s"]
    )
    return row


def profile(quick, repeats):
    """The profile rows: blobs x 8, K=16, full at :data:`PROFILE_SIZES`, digits full and
    diag (K=10; quick profile: diag only)."""
    from . import bench_mixture as bm

    small, large = (
        (PROFILE_ITER_SMALL_QUICK, PROFILE_ITER_LARGE_QUICK)
        if quick
        else (PROFILE_ITER_SMALL, PROFILE_ITER_LARGE)
    )
    rows = []
    for n in PROFILE_SIZES_QUICK if quick else PROFILE_SIZES:
        log(f"mixture: profile, blobs {n:,} x 8, full")
        X_train = bm.blobs(n)[0]
        resp = bm.initial_resp(("blobs", n), 16)
        n_iter = small if n <= 10_000 else large
        rows.append(profile_row(f"blobs {n:,} x 8", X_train, resp, 16, "full", repeats, n_iter))
    X_train = bm.digits()[0]
    resp = bm.initial_resp(("digits",), 10)
    # digits 'full' only in the full profile
    for ctype in ("diag",) if quick else ("full", "diag"):
        log(f"mixture: profile, digits, {ctype}")
        n_iter = large if ctype == "full" else small  # 'full': about 40 ms per sweep
        rows.append(profile_row("digits 1797 x 64", X_train, resp, 10, ctype, repeats, n_iter))
    return rows


# ----------------------------------------------------------------------------- targets
def target_values(report):
    """The measured value of each target key of :data:`TARGETS` (absent: not measured in
    this profile)."""
    rows = report["results"]
    skvi = {r["case"]: r for r in rows if r["lib"] == "skvi"}
    speedup = {}
    for case, row in skvi.items():
        base = next(
            r for r in rows if r["case"] == case and r["lib"] == row["time_per_iter_baseline"]
        )
        speedup[case] = base["time_per_iter_s"] / row["time_per_iter_s"]
    values = {}
    head = "blobs 100k x 8, K=16, full"
    if head in speedup:
        values["blobs_100k_full"] = speedup[head]
        values["blobs_100k_full_dgemm"] = skvi[head]["sweep_gflops"] / report["dgemm"]["gflops"]
    for key, case in [
        ("digits_full", "digits 1797 x 64, K=10, full"),
        ("digits_diag", "digits 1797 x 64, K=10, diag"),
        ("blobs_1m_d2", "blobs 1000k x 2, K=16, full"),
    ]:
        if case in speedup:
            values[key] = speedup[case]
    sweep = report.get("size_sweep", {}).get("rows", [])
    first = next((r for r in sweep if r["n_samples"] == 1_000), None)
    if first is not None:
        values["sweep_1000"] = first["ratio"]
    values["min_ratio"] = min([*speedup.values(), *(r["ratio"] for r in sweep)])
    return values


def markdown_targets(report):
    """The table of targets with pass/fail."""
    values = target_values(report)
    table = []
    for key, text, threshold in TARGETS:
        value = values.get(key)
        as_pct = key.endswith("dgemm")
        shown = "not measured in this profile" if value is None else (
            f"{value:.0%}" if as_pct else f"{value:.2f}x"
        )  # fmt: skip
        bound = f">= {threshold:.0%}" if as_pct else f">= {threshold:g}x"
        status = "n/a" if value is None else ("pass" if value >= threshold else "**FAIL**")
        table.append([text, shown, bound, status])
    return (
        "### Targets (issue 14)\n\n"
        + markdown_table(["target", "measured", "target", "status"], table, "lrrl")
        + "\nSpeed-up = the faster scikit-learn configuration's seconds per iteration / "
        "skvi's, in this run; the last row is the smallest speed-up of the summary and "
        "size-sweep tables.\n"
    )


def markdown_profile(report):
    """The DGEMM line and the profile table."""
    dg = report["dgemm"]
    out = [
        f"\n### DGEMM reference\n\nnumpy float64 matmul {dg['size']} x {dg['size']}, "
        f"{dg['threads']} BLAS threads: **{dg['gflops']:.1f} GFLOP/s** (median of "
        f"{sum(len(r['times_s']) for r in dg['runs'])} products; per measurement: "
        + ", ".join(f"{g:.1f}" for g in dg["gflops_per_run"])
        + " GFLOP/s at the start and the end of the suite). Sweep flops: `N K (4 P + 2)`, "
        "`P = d + d(d+1)/2` (full), `2 d` (diag); `benchmarks/README.md`.\n"
    ]
    rows = report.get("sweep_profile")
    if not rows:
        return "\n".join(out)
    table = []
    for r in rows:
        total = r["iteration_s"]
        cells = [f"{r['case']}, K={r['n_components']}, {r['covariance_type']}", f"{r['n_train']:,}"]
        cells.append(fmt(total * 1e3, ".3g"))
        for key in ("chunk_stats", "update", "elbo", "rest"):
            s = r[f"{key}_s"]
            cells.append(f"{s * 1e3:.3g} ({s / total:.0%})" if total > 0 else "n/a")
        cells += [fmt(r["chunk_stats_gflops"], ".1f"), r["repeats"]]
        table.append(cells)
    out.append("### Profile of a sweep (skvi)\n")
    out.append(
        markdown_table(
            [
                "case",
                "n train",
                "iteration ms",
                "chunk_stats ms (%)",
                "update + coefficients ms (%)",
                "elbo ms (%)",
                "rest ms (%)",
                "chunk_stats GFLOP/s",
                "repeats",
            ],
            table,
            "lrrrrrrrr",
        )
    )
    out.append(
        "Iteration: the estimator's seconds per iteration (as `s / iter`); the parts timed "
        "on the state of that fit, one BLAS thread; rest = iteration - parts (Python "
        "overhead of the loop and the hooks; within the noise of the iteration time at "
        "the smallest sizes, where it can come out negative).\n"
    )
    return "\n".join(out)
