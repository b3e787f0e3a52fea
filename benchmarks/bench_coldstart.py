"""Cold start: ``import skvi`` and the first ``fit`` of each estimator in a fresh process.

Each measurement is a new Python process (``python -c``), so nothing is imported or
compiled before it starts. For every estimator, ``repeats`` processes run each with its
own empty Numba cache (``NUMBA_CACHE_DIR`` a new temporary directory: every kernel is
compiled; the medians are reported, a compilation of a few seconds being as exposed to a
busy machine as any timing), then ``repeats`` processes run with the cache that the first
of them filled (the kernels are loaded from disk). Each process reports

``import_skvi_s``
    ``import skvi`` (the estimators are loaded on first use, so this loads no
    dependency);
``import_estimator_s``
    ``from skvi import <Estimator>``: scikit-learn, SciPy and Numba with it;
``first_fit_s``
    the first ``fit`` on a small data set (compilation or cache loading included);
``second_fit_s``
    the same fit again (no compilation): what the first one costs beyond the work.

The demo, ``python -m skvi.demo``, is run the same way (full profile only: it takes tens
of seconds): once in a fresh process with an empty Numba cache, then once more with the
cache that run filled; the wall time of each process is reported.

Targets (issue 5): ``import skvi`` under 0.5 s; the first fit with a warm cache under 2 s.
Issue 14: the first fit with an empty cache at most 5 s per estimator; the demo's first
run (empty cache) at most 40 s.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from .common import fmt, log, markdown_table, median, time_call

NAME = "coldstart"
#: Targets in seconds: (import skvi, first fit warm cache, first fit empty cache, demo's
#: first run with an empty cache).
TARGET_IMPORT_S, TARGET_WARM_FIT_S, TARGET_COLD_FIT_S, TARGET_DEMO_S = 0.5, 2.0, 5.0, 40.0

#: Estimator -> the statements that build ``X`` (and ``y``) and ``est``.
CASES = {
    "VariationalGaussianMixture": (
        "X = np.random.default_rng(0).standard_normal((500, 4))\n"
        "est = VariationalGaussianMixture(n_components=3, max_iter=5, random_state=0)\n"
        "args = (X,)"
    ),
    "VariationalLDA": (
        "X = np.random.default_rng(0).poisson(1.0, (200, 50)).astype(float)\n"
        "est = VariationalLDA(n_components=3, max_iter=5, random_state=0)\n"
        "args = (X,)"
    ),
    "VariationalEMRegressor": (
        "rng = np.random.default_rng(0)\n"
        "X = rng.standard_normal((500, 5)); y = X @ np.arange(5.0) + rng.standard_normal(500)\n"
        "est = VariationalEMRegressor(method='vbem', prior='ard', noise='student_t')\n"
        "args = (X, y)"
    ),
}

_SCRIPT = r"""
import json, time, warnings
t0 = time.perf_counter()
import skvi
t1 = time.perf_counter()
from skvi import {name}
t2 = time.perf_counter()
import numpy as np
from sklearn.base import clone
warnings.simplefilter("ignore")
{setup}
fresh = clone(est)
t3 = time.perf_counter(); est.fit(*args); t4 = time.perf_counter()
fresh.fit(*args); t5 = time.perf_counter()
print(json.dumps({{"import_skvi_s": t1 - t0, "import_estimator_s": t2 - t1,
                  "first_fit_s": t4 - t3, "second_fit_s": t5 - t4}}))
"""


def _run(args, env, what):
    """Run ``python *args`` from the project's root in a fresh process; return its wall
    seconds and its stdout lines."""
    root = Path(__file__).resolve().parent.parent
    seconds, proc = time_call(
        subprocess.run, [sys.executable, *args], env=env, cwd=root, capture_output=True, text=True
    )
    if proc.returncode:
        raise RuntimeError(f"{what} failed:\n{proc.stderr}")
    return seconds, proc.stdout.strip().splitlines()


def _child(name, env):
    code = _SCRIPT.format(name=name, setup=CASES[name])
    seconds, lines = _run(["-c", code], env, "cold-start subprocess")
    row = json.loads(lines[-1])
    row["process_wall_s"] = seconds
    return row


def _demo(env):
    """Wall seconds of ``python -m skvi.demo`` in a fresh process, and its last line."""
    seconds, lines = _run(["-m", "skvi.demo"], env, "python -m skvi.demo")
    return {"process_wall_s": seconds, "last_line": lines[-1]}


def run_demo():
    """The demo's first run with an empty Numba cache and its second run."""
    cache_dir = tempfile.mkdtemp(prefix="skvi-numba-cache-")
    env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir)
    try:
        log("coldstart: python -m skvi.demo, empty Numba cache")
        first = _demo(env)
        log("coldstart: python -m skvi.demo, second run")
        second = _demo(env)
    finally:
        shutil.rmtree(cache_dir, ignore_errors=True)
    return {"first": first, "second": second}


def run(quick=False, repeats=None):
    """Run the suite; return a JSON-serialisable dict (without the machine info)."""
    repeats = repeats or (1 if quick else 3)
    cases = []
    for name in CASES:
        cache_dirs = [tempfile.mkdtemp(prefix="skvi-numba-cache-") for _ in range(repeats)]
        try:
            cold = []
            for i, cache_dir in enumerate(cache_dirs):
                log(f"coldstart: {name}, empty Numba cache ({i + 1}/{repeats})")
                cold.append(_child(name, dict(os.environ, NUMBA_CACHE_DIR=cache_dir)))
            warm = []
            for i in range(repeats):
                log(f"coldstart: {name}, warm cache ({i + 1}/{repeats})")
                warm.append(_child(name, dict(os.environ, NUMBA_CACHE_DIR=cache_dirs[0])))
        finally:
            for cache_dir in cache_dirs:
                shutil.rmtree(cache_dir, ignore_errors=True)
        cases.append(
            {
                "estimator": name,
                "cold_runs": cold,
                "cold": {k: median([c[k] for c in cold]) for k in cold[0]},
                "warm": warm,
                "warm_median": {k: median([w[k] for w in warm]) for k in warm[0]},
            }
        )
    return {
        "suite": NAME,
        "profile": "quick" if quick else "full",
        "repeats": repeats,
        "cases": cases,
        "demo": None if quick else run_demo(),
    }


def _status(value, bound):
    return "n/a" if value is None else ("pass" if value <= bound else "**FAIL**")


def markdown_targets(report):
    """The targets with pass/fail."""
    rows = []
    for case in report["cases"]:
        name, cold = case["estimator"], case["cold"]["first_fit_s"]
        warm = case["warm_median"]["first_fit_s"]
        rows.append(
            [
                f"{name}: first fit, empty cache",
                f"{cold:.2f} s",
                f"<= {TARGET_COLD_FIT_S:g} s",
                _status(cold, TARGET_COLD_FIT_S),
            ]
        )
        rows.append(
            [
                f"{name}: first fit, warm cache",
                f"{warm:.2f} s",
                f"<= {TARGET_WARM_FIT_S:g} s",
                _status(warm, TARGET_WARM_FIT_S),
            ]
        )
    imports = max(c["warm_median"]["import_skvi_s"] for c in report["cases"])
    rows.append(
        [
            "`import skvi` (largest median)",
            f"{imports:.4f} s",
            f"<= {TARGET_IMPORT_S:g} s",
            _status(imports, TARGET_IMPORT_S),
        ]
    )
    demo = report.get("demo")
    first = demo["first"]["process_wall_s"] if demo else None
    rows.append([
        "`python -m skvi.demo`, first run (empty cache)",
        "not run in the quick profile" if demo is None else f"{first:.1f} s",
        f"<= {TARGET_DEMO_S:g} s", _status(first, TARGET_DEMO_S),
    ])  # fmt: skip
    if demo is not None:
        rows.append(
            [
                "`python -m skvi.demo`, second run",
                f"{demo['second']['process_wall_s']:.1f} s",
                "",
                "",
            ]
        )
    return "### Targets\n\n" + markdown_table(
        ["what", "measured", "target", "status"], rows, "lrrl"
    )


def markdown(report):
    """The suite's markdown section."""
    rows = []
    for case in report["cases"]:
        for label, r in [
            (f"empty (median of {len(case.get('cold_runs', [0]))})", case["cold"]),
            (f"warm (median of {len(case['warm'])})", case["warm_median"]),
        ]:
            rows.append(
                [
                    case["estimator"],
                    label,
                    fmt(r["import_skvi_s"], ".4f"),
                    fmt(r["import_estimator_s"], ".2f"),
                    fmt(r["first_fit_s"], ".2f"),
                    fmt(r["second_fit_s"], ".3f"),
                    fmt(r["process_wall_s"], ".1f"),
                ]
            )
    out = [
        "Each row: fresh Python processes (`python -c`), the estimator imported and fitted "
        "once on a small data set, then fitted again. Numba cache: empty (a new "
        "`NUMBA_CACHE_DIR` per process) or filled by the first empty-cache run. The demo: "
        "the wall time of "
        "`python -m skvi.demo` in a fresh process, with an empty Numba cache (first run) "
        "and with the cache the first run filled (second run).\n",
        markdown_targets(report),
        markdown_table(
            [
                "estimator",
                "Numba cache",
                "import skvi s",
                "from skvi import estimator s",
                "first fit s",
                "second fit s",
                "process s",
            ],
            rows,
            "llrrrrr",
        ),
        "\n`from skvi import estimator` loads scikit-learn, SciPy and Numba; `first fit` "
        "includes compiling the kernels (empty cache) or loading them (warm cache).\n",
    ]
    return "\n".join(out)
