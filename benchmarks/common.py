"""Helpers shared by the benchmark suites: timing, machine information, output files.

Timings use :func:`time.perf_counter` and are summarised by the median of the repeats
(the machines are shared and noisy; the median is robust to a repeat that was slowed
down by another process). Every result file carries :func:`machine_info`.
"""

import json
import os
import platform
import statistics
import subprocess
import sys
import time
import warnings
from contextlib import contextmanager
from pathlib import Path


def log(msg):
    """Progress line on stderr (stdout is left for results)."""
    print(msg, file=sys.stderr, flush=True)


def median(values):
    """Median of a non-empty sequence of numbers (``nan`` if it is empty)."""
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else float("nan")


def time_call(func, *args, **kwargs):
    """Run ``func(*args, **kwargs)`` once; return ``(seconds, result)``."""
    t0 = time.perf_counter()
    result = func(*args, **kwargs)
    return time.perf_counter() - t0, result


def repeat_call(func, repeats):
    """Call ``func()`` ``repeats`` times; return ``(list of seconds, last result)``."""
    times, result = [], None
    for _ in range(repeats):
        seconds, result = time_call(func)
        times.append(seconds)
    return times, result


@contextmanager
def quiet_convergence():
    """Silence ``ConvergenceWarning``: convergence is reported in the tables instead."""
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


def _git_revision():
    root = Path(__file__).resolve().parent.parent
    try:
        rev = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return rev + ("+uncommitted changes" if dirty else "")


def machine_info():
    """Platform, CPU, library versions, BLAS/OpenMP thread pools and Numba threading.

    Call it after a parallel Numba kernel has run (after the JIT warm-up): Numba only
    knows its threading layer once one has been loaded.
    """
    import numba
    import numpy
    import scipy
    import sklearn
    import threadpoolctl

    import skvi

    pools = [
        {
            "user_api": pool.get("user_api"),
            "internal_api": pool.get("internal_api"),
            "version": pool.get("version"),
            "num_threads": pool.get("num_threads"),
            "threading_layer": pool.get("threading_layer"),
            "library": os.path.basename(pool.get("filepath", "")),
        }
        for pool in threadpoolctl.threadpool_info()
    ]
    try:
        layer = numba.threading_layer()
    except ValueError:  # no parallel kernel has run yet
        layer = None
    return {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": platform.processor() or None,
        **_cpu_model(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "scipy": scipy.__version__,
        "sklearn": sklearn.__version__,
        "numba": numba.__version__,
        "threadpoolctl": threadpoolctl.__version__,
        "skvi": skvi.__version__,
        "skvi_git": _git_revision(),
        "threadpools": pools,
        "numba_num_threads": numba.get_num_threads(),
        "numba_threading_layer": layer,
        "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY"),
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }


#: The vector instruction sets that decide the kernels' and BLAS's speed (and the last
#: bits of reductions the compiler vectorises): a run on an AVX-512 CPU and one on an
#: AVX2 CPU are not comparable in absolute seconds.
_SIMD_FLAGS = ("avx2", "fma", "avx512f")


def _cpu_model():
    """``{"cpu_model", "cpu_simd"}`` from ``/proc/cpuinfo`` (Linux; ``None`` elsewhere)."""
    model, flags = None, set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() == "model name" and model is None:
                    model = value.strip()
                elif key.strip() == "flags" and not flags:
                    flags = set(value.split())
    except OSError:
        pass
    simd = [flag for flag in _SIMD_FLAGS if flag in flags] if flags else None
    return {"cpu_model": model, "cpu_simd": simd}


def machine_summary(info):
    """One-paragraph markdown summary of :func:`machine_info`."""
    pools = ", ".join(
        f"{p['internal_api']} {p['version']} ({p['user_api']}, {p['num_threads']} threads, "
        f"{p['library']})"
        for p in info["threadpools"]
    )
    load = info.get("load_average")
    load_txt = " / ".join(f"{x:.2f}" for x in load) if load else "n/a"
    end_load = info.get("load_average_end")
    if end_load:
        load_txt += " at start; " + " / ".join(f"{x:.2f}" for x in end_load) + " at end"
    return (
        f"- Platform: {info['platform']}, {info['cpu_count']} CPUs, Python {info['python']}\n"
        f"- CPU: {info.get('cpu_model') or 'n/a'} "
        f"({', '.join(info.get('cpu_simd') or []) or 'vector extensions n/a'})\n"
        f"- numpy {info['numpy']}, scipy {info['scipy']}, scikit-learn {info['sklearn']}, "
        f"numba {info['numba']}, skvi {info['skvi']} (git {info['skvi_git']})\n"
        f"- Thread pools: {pools}\n"
        f"- Numba: {info['numba_num_threads']} threads, threading layer "
        f"{info['numba_threading_layer']}, OMP_WAIT_POLICY={info['OMP_WAIT_POLICY']}\n"
        f"- Load average (1/5/15 min): {load_txt}\n"
    )


def fmt(value, spec=".3g", missing="n/a"):
    """Format a number for a table; ``None``/``nan`` become ``missing``."""
    if value is None:
        return missing
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value != value:
        return missing
    if isinstance(value, int | float):
        return format(value, spec)
    return str(value)


def markdown_table(headers, rows, align=None):
    """A GitHub-flavoured markdown table; ``align`` is a string of ``l``/``r`` per column."""
    align = align or "l" * len(headers)
    sep = ["---:" if a == "r" else ":---" for a in align]
    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join(sep) + " |"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def write_json(path, obj):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2, default=_json_default) + "\n")


def write_text(path, text):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _json_default(obj):
    try:
        import numpy as np

        if isinstance(obj, np.generic):
            return obj.item()
        if isinstance(obj, np.ndarray):
            return obj.tolist()
    except ImportError:  # pragma: no cover
        pass
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serialisable")
