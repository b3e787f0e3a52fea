"""Run skvi's benchmark suites against scikit-learn and write the results.

::

    python -m benchmarks.run [--quick] [--suite mixture] [--repeats N] [--out DIR]

Each suite writes ``DIR/<suite>.json`` (every measurement, every repeat, machine
information), ``DIR/<suite>.md`` (the tables) and, if matplotlib is importable, the
suite's plots ``DIR/<suite>_*.png`` (:mod:`benchmarks.plots`; redraw them from the JSON
with ``python -m benchmarks.plots DIR``). ``--quick`` is a smoke profile (small
data, few repeats) that finishes in well under a minute per suite; it writes to a temporary
directory unless ``--out`` is given, so that it never overwrites the committed results of
a full run in ``benchmarks/results``.

A suite is a module with ``NAME``, ``run(quick, repeats) -> dict`` and
``markdown(report) -> str``; adding one (``regression``) means adding its module to
:data:`SUITES`.
"""

# skvi before scikit-learn/NumPy users: it sets OMP_WAIT_POLICY before any OpenMP runtime
# is loaded, as in a user's program that imports skvi.
import skvi  # noqa: F401, I001

import argparse
import datetime
import importlib
import os
import tempfile
import time
from pathlib import Path

from .common import log, machine_info, machine_summary, write_json, write_text
from .plots import draw

#: Suite name -> module (relative to this package).
SUITES = {
    "mixture": ".bench_mixture",
    "lda": ".bench_lda",
    "lda_online": ".bench_lda_online",
    "regression": ".bench_regression",
    "coldstart": ".bench_coldstart",
    "dask": ".bench_dask",
}

DEFAULT_OUT = Path(__file__).resolve().parent / "results"


def run_suite(name, quick, repeats, out_dir, command):
    module = importlib.import_module(SUITES[name], __package__)
    started = datetime.datetime.now(datetime.timezone.utc)
    load_start = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    t0 = time.perf_counter()
    report = module.run(quick=quick, repeats=repeats)
    wall = time.perf_counter() - t0
    info = machine_info()  # after the suite: Numba's threading layer is known by then
    info["load_average"] = load_start
    info["load_average_end"] = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    report = {
        "command": command,
        "started_utc": started.isoformat(timespec="seconds"),
        "wall_s": wall,
        "machine": info,
        **report,
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    write_json(out_dir / f"{name}.json", report)
    write_markdown(name, module, report, out_dir)
    log(f"{name}: {wall:.1f} s; wrote {out_dir / (name + '.json')} and {name}.md")
    draw(name, report, out_dir)  # logs and draws nothing without matplotlib
    return report


def write_markdown(name, module, report, out_dir):
    """Write ``out_dir/<name>.md``: the header (command, machine) and the suite's tables."""
    title = getattr(module, "TITLE", "skvi against scikit-learn")
    header = (
        f"# Benchmark `{name}`: {title}\n\n"
        f"`{report['command']}` ({report['profile']} profile, {report['repeats']} repeats), "
        f"started {report['started_utc']}, {report['wall_s']:.0f} s.\n\n"
        f"{machine_summary(report['machine'])}\n"
        "Column meanings: `benchmarks/README.md`.\n\n"
    )
    write_text(out_dir / f"{name}.md", header + module.markdown(report))


def render(name, out_dir=DEFAULT_OUT):
    """Rewrite ``out_dir/<name>.md`` from ``out_dir/<name>.json`` (after a change of the
    suite's tables), without running anything."""
    import json

    module = importlib.import_module(SUITES[name], __package__)
    report = json.loads((Path(out_dir) / f"{name}.json").read_text())
    write_markdown(name, module, report, Path(out_dir))


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.run",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="small smoke profile")
    parser.add_argument(
        "--suite",
        action="append",
        choices=sorted(SUITES),
        help="suite to run (repeatable; default: all)",
    )
    parser.add_argument("--repeats", type=int, default=None, help="repeats per measurement")
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help=f"output directory (default: {DEFAULT_OUT}, or a temporary one with --quick)",
    )
    args = parser.parse_args(argv)
    if args.repeats is not None and args.repeats < 1:
        parser.error("--repeats must be >= 1")
    out_dir = args.out
    if out_dir is None:
        out_dir = (
            Path(tempfile.gettempdir()) / "skvi-benchmarks-quick" if args.quick else DEFAULT_OUT
        )
    command = "python -m benchmarks.run" + (
        " " + " ".join(argv) if argv is not None else _argv_tail()
    )
    for name in args.suite or list(SUITES):
        report = run_suite(name, args.quick, args.repeats, out_dir, command)
        print((out_dir / f"{name}.md").read_text())
        del report


def _argv_tail():
    import sys

    tail = " ".join(sys.argv[1:])
    return " " + tail if tail else ""


if __name__ == "__main__":
    main()
