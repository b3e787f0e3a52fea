"""Draw the plots of the benchmarks page from the suites' JSON reports.

::

    python -m benchmarks.plots [DIR]    # redraw from DIR/<suite>.json (default: benchmarks/results)

Each drawing function takes a suite's report (the dict :mod:`benchmarks.run` writes as
``<suite>.json``) and writes ``<suite>_*.png`` into a directory, next to the JSON, where
the documentation's ``benchmark-results`` directive picks up every ``<suite>*.png``:

* ``mixture_size_sweep.png``: seconds per iteration against the number of training
  samples, skvi against scikit-learn (the size sweep of the ``mixture`` suite), and the
  speed-up at each size;
* ``lda_perplexity_time.png``: held-out perplexity against fit time, one panel per
  corpus: skvi batch and skvi cvb0 (collapsed variational Bayes) at each ``max_iter`` of
  their time-to-target grids, scikit-learn batch, gensim and tomotopy, with tomotopy's
  perplexity (the target) as a horizontal line.

matplotlib is an optional dependency (the ``doc`` extra): :func:`draw` logs a message and
draws nothing if it cannot be imported. This module imports neither skvi nor the suites,
so the plots can be redrawn in an environment without the benchmark dependencies.
"""

import json
import sys
from pathlib import Path

from .common import log

DEFAULT_DIR = Path(__file__).resolve().parent / "results"

#: Colour and marker of each library, the same in every plot (``skvi cvb0``: skvi's
#: collapsed variational Bayes, a different algorithm, drawn dashed beside skvi batch).
STYLE = {
    "skvi": {"color": "C0", "marker": "o"},
    "skvi cvb0": {"color": "C0", "marker": "P", "linestyle": "--"},
    "sklearn": {"color": "C1", "marker": "s"},
    "gensim": {"color": "C2", "marker": "^"},
    "tomotopy": {"color": "C3", "marker": "D"},
}


def _pyplot():
    """``matplotlib.pyplot`` with the non-interactive Agg backend, or ``None``."""
    try:
        import matplotlib
    except ImportError:
        return None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(plt, fig, path):
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    log(f"plots: wrote {path}")
    return path


def _plain_log_ticks(axis, thousands=False):
    """Ticks 1, 2, 5 x 10^k labelled as plain numbers on a log-scaled ``axis`` (with
    ``thousands``, 1000 and above as ``1k``, ``20k``, ...)."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    def label(v, _):
        return f"{v / 1000:.10g}k" if thousands and v >= 1000 else f"{v:.10g}"

    axis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(FuncFormatter(label))
    axis.set_minor_formatter(NullFormatter())


def _subtitle(report):
    info = report.get("machine", {})
    load = info.get("load_average")
    load_txt = f", load {load[0]:.1f}" if load else ""
    return (
        f"{report.get('profile', '?')} profile, {report.get('started_utc', '?')[:10]}, "
        f"{info.get('cpu_count', '?')} CPUs{load_txt}"
    )


def plot_mixture(report, out_dir, plt):
    """``mixture_size_sweep.png`` from the ``size_sweep`` of a mixture report; return the
    paths written (none if the report has no sweep)."""
    sweep = report.get("size_sweep")
    if not sweep or not sweep.get("rows"):
        log("plots: mixture report has no size sweep; nothing drawn")
        return []
    rows = sweep["rows"]
    base = sweep["baseline"]
    first = rows[0]
    n = [r["n_train"] for r in rows]

    fig, (ax, ax_ratio) = plt.subplots(1, 2, figsize=(10, 4))
    for lib, label in (("skvi", "skvi"), (base, f"scikit-learn ({base})")):
        lib_style = STYLE["skvi" if lib == "skvi" else "sklearn"]
        # a non-positive time (possible in the noisy quick profile) has no log position
        pts = [(x, r[lib]["time_per_iter_s"] * 1e3) for x, r in zip(n, rows, strict=True)]
        pts = [(x, y) for x, y in pts if y == y and y > 0]
        if pts:
            xs, ys = zip(*pts, strict=True)
            ax.plot(xs, ys, label=label, **lib_style)
    ax.set_xscale("log")
    ax.set_yscale("log")
    _plain_log_ticks(ax.xaxis, thousands=True)
    _plain_log_ticks(ax.yaxis)
    ax.set_xlabel("training samples")
    ax.set_ylabel("time per iteration (ms)")
    ax.set_title(
        f"{first['n_components']} components, {first['covariance_type']} covariance, 8 features",
        fontsize="medium",
    )
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()

    pts = [(x, r["ratio"]) for x, r in zip(n, rows, strict=True)]
    pts = [(x, y) for x, y in pts if y == y and y > 0]
    if pts:
        xs, ys = zip(*pts, strict=True)
        ax_ratio.plot(xs, ys, color="k", marker="o")
        for x, y in pts:
            ax_ratio.annotate(
                f"{y:.1f}x", (x, y), textcoords="offset points", xytext=(0, 6), ha="center"
            )
        ax_ratio.set_ylim(0, max(ys) * 1.2)
    ax_ratio.axhline(1.0, color="grey", linestyle=":", linewidth=1)
    ax_ratio.set_xscale("log")
    _plain_log_ticks(ax_ratio.xaxis, thousands=True)
    ax_ratio.set_xlabel("training samples")
    ax_ratio.set_ylabel(f"{base} time / skvi time")
    ax_ratio.set_title("speed-up per iteration", fontsize="medium")
    ax_ratio.grid(True, which="both", alpha=0.3)

    fig.suptitle(f"Gaussian mixture, blobs: skvi against scikit-learn ({_subtitle(report)})")
    return [_save(plt, fig, Path(out_dir) / "mixture_size_sweep.png")]


#: LDA rows drawn as single points: (config, label). skvi batch and skvi cvb0 are drawn
#: as curves over their time-to-target grids instead.
LDA_POINTS = (
    ("sklearn batch n_jobs=1", "scikit-learn batch, n_jobs=1"),
    ("sklearn batch n_jobs=2", "scikit-learn batch, n_jobs=2"),
    ("gensim float64", "gensim (float64)"),
    ("tomotopy", "tomotopy (Gibbs)"),
)


def plot_lda(report, out_dir, plt):
    """``lda_perplexity_time.png``: held-out perplexity against fit time for each corpus
    of an LDA report; return the paths written."""
    cases = report.get("cases") or []
    if not cases:
        log("plots: lda report has no cases; nothing drawn")
        return []
    fig, axes = plt.subplots(1, len(cases), figsize=(5.5 * len(cases), 5.2), squeeze=False)
    for ax, case in zip(axes[0], cases, strict=True):
        by_config = {r["config"]: r for r in case["results"]}
        target = case.get("time_to_tomotopy") or {}
        # (config, label, its time-to-target dict, style, offset of the max_iter labels)
        curves = (
            ("skvi batch", "skvi batch", target, STYLE["skvi"], (4, 4)),
            (
                "skvi cvb0",
                "skvi cvb0 (collapsed VB)",
                case.get("time_to_tomotopy_cvb0") or {},
                STYLE["skvi cvb0"],
                (4, -11),
            ),
        )
        for config, label, curve, style, offset in curves:
            grid = curve.get("grid") or []
            if grid:
                ax.plot(
                    [p["fit_s"] for p in grid],
                    [p["heldout_perplexity"] for p in grid],
                    label=label,
                    **style,
                )
                for p in grid:
                    ax.annotate(
                        str(p["max_iter"]),
                        (p["fit_s"], p["heldout_perplexity"]),
                        textcoords="offset points",
                        xytext=offset,
                        fontsize="small",
                        color=style["color"],
                    )
            elif config in by_config:
                row = by_config[config]
                ax.plot(
                    row["fit_s"],
                    row["heldout_perplexity"],
                    label=f"{label}, {row['n_iter']} iter.",
                    **{**style, "linestyle": "none"},
                )
        for config, label in LDA_POINTS:
            row = by_config.get(config)
            if row is None:
                continue
            lib_style = dict(STYLE[row["lib"]])
            if config.endswith("n_jobs=1"):
                lib_style["fillstyle"] = "none"
            ax.plot(
                row["fit_s"],
                row["heldout_perplexity"],
                linestyle="none",
                markersize=8,
                label=f"{label}, {row['n_iter']} iter.",
                **lib_style,
            )
        if target.get("target_perplexity") is not None:
            ax.axhline(
                target["target_perplexity"],
                color=STYLE["tomotopy"]["color"],
                linestyle="--",
                linewidth=1,
                label="target: tomotopy's perplexity",
            )
        ax.set_xscale("log")
        _plain_log_ticks(ax.xaxis)
        ax.set_xlabel("fit time (s)")
        ax.set_ylabel("held-out perplexity (lower is better)")
        ax.set_title(f"{case['case']}, {report.get('n_topics', '?')} topics", fontsize="medium")
        ax.grid(True, which="both", alpha=0.3)
        # below the panel: the points spread over the whole plotting area
        ax.legend(fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.15), ncol=2)
    fig.suptitle(
        f"LDA: held-out perplexity against fit time ({_subtitle(report)}); "
        "numbers: skvi's max_iter",
        fontsize="medium",
    )
    fig.tight_layout()
    return [_save(plt, fig, Path(out_dir) / "lda_perplexity_time.png")]


#: Suite name -> drawing function; a suite without one draws nothing.
PLOTTERS = {"mixture": plot_mixture, "lda": plot_lda}


def draw(name, report, out_dir):
    """Draw the plots of suite ``name`` from its ``report`` into ``out_dir``; return the
    paths written. Logs and returns ``[]`` if matplotlib is not importable or the suite
    has no plots."""
    plotter = PLOTTERS.get(name)
    if plotter is None:
        return []
    plt = _pyplot()
    if plt is None:
        log(
            f"plots: matplotlib is not importable; {name} plots not drawn "
            "(pip install matplotlib, or the 'doc' extra, then python -m benchmarks.plots)"
        )
        return []
    return plotter(report, out_dir, plt)


def main(argv=None):
    args = sys.argv[1:] if argv is None else argv
    if len(args) > 1 or (args and args[0].startswith("-")):
        print(__doc__.strip().splitlines()[0], "\n\nusage: python -m benchmarks.plots [DIR]")
        return 2
    out_dir = Path(args[0]) if args else DEFAULT_DIR
    if _pyplot() is None:
        log("plots: matplotlib is not importable (pip install matplotlib); nothing drawn")
        return 1
    for name in PLOTTERS:
        path = out_dir / f"{name}.json"
        if not path.is_file():
            log(f"plots: no {path}; {name} skipped")
            continue
        draw(name, json.loads(path.read_text()), out_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
