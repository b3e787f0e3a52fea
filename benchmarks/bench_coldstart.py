"""Cold start: ``import skvi`` and the first ``fit`` of each estimator in a fresh process.

Each measurement is a new Python process (``python -c``), so nothing is imported or
compiled before it starts. For every estimator, one process runs with an empty Numba
cache (``NUMBA_CACHE_DIR`` a new temporary directory: every kernel is compiled), then
``repeats`` processes run with the cache that first process filled (the kernels are
loaded from disk). Each process reports

``import_skvi_s``
    ``import skvi`` (the estimators are loaded on first use, so this loads no
    dependency);
``import_estimator_s``
    ``from skvi import <Estimator>``: scikit-learn, SciPy and Numba with it;
``first_fit_s``
    the first ``fit`` on a small data set (compilation or cache loading included);
``second_fit_s``
    the same fit again (no compilation): what the first one costs beyond the work.

Targets (issue 5): ``import skvi`` under 0.5 s; the first fit with a warm cache under 2 s.
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


def _child(name, env):
    code = _SCRIPT.format(name=name, setup=CASES[name])
    root = Path(__file__).resolve().parent.parent
    seconds, proc = time_call(
        subprocess.run,
        [sys.executable, "-c", code],
        env=env,
        cwd=root,
        capture_output=True,
        text=True,
    )
    if proc.returncode:
        raise RuntimeError(f"cold-start subprocess failed:\n{proc.stderr}")
    row = json.loads(proc.stdout.strip().splitlines()[-1])
    row["process_wall_s"] = seconds
    return row


def run(quick=False, repeats=None):
    """Run the suite; return a JSON-serialisable dict (without the machine info)."""
    repeats = repeats or (1 if quick else 3)
    cases = []
    for name in CASES:
        cache_dir = tempfile.mkdtemp(prefix="skvi-numba-cache-")
        env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir)
        try:
            log(f"coldstart: {name}, empty Numba cache")
            cold = _child(name, env)
            warm = []
            for i in range(repeats):
                log(f"coldstart: {name}, warm cache ({i + 1}/{repeats})")
                warm.append(_child(name, env))
        finally:
            shutil.rmtree(cache_dir, ignore_errors=True)
        cases.append(
            {
                "estimator": name,
                "cold": cold,
                "warm": warm,
                "warm_median": {k: median([w[k] for w in warm]) for k in warm[0]},
            }
        )
    return {
        "suite": NAME,
        "profile": "quick" if quick else "full",
        "repeats": repeats,
        "cases": cases,
    }


def markdown(report):
    """The suite's markdown section."""
    rows = []
    for case in report["cases"]:
        for label, r in [
            ("empty", case["cold"]),
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
    imports = [c["warm_median"]["import_skvi_s"] for c in report["cases"]]
    firsts = {c["estimator"]: c["warm_median"]["first_fit_s"] for c in report["cases"]}
    out = [
        "Each row: fresh Python processes (`python -c`), the estimator imported and fitted "
        "once on a small data set, then fitted again. Numba cache: empty (a new "
        "`NUMBA_CACHE_DIR`) or filled by the empty-cache run.\n",
        f"Targets: `import skvi` < 0.5 s (measured: at most {max(imports):.4f} s); first fit "
        "with a warm cache < 2 s (measured: "
        + ", ".join(f"{k} {v:.2f} s" for k, v in firsts.items())
        + ").\n",
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
