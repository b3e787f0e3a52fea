"""LDA online (stochastic VI) against LDA batch: time per pass at the same passes.

The ``lda`` suite measures the same two configurations among all the libraries it
compares; this suite times only skvi's ``batch`` and ``online`` fits, interleaved
(batch, online, batch, online, ...) so that a slow spell of the machine affects both, on
the ``lda`` suite's two corpora and passes (the docstring corpus, 20 passes; the
synthetic corpus, 10 passes; 90/10 split, K=20, ``random_state=0``, defaults otherwise:
``batch_size=128``). Each fit is preceded by an untimed fit on 64 documents, as in the
``lda`` suite. Reported per corpus: the median seconds per pass of each method over the
repeats, their ratio (issue 14's target: online at most 1.5 times batch), and each
method's held-out perplexity (the ``lda`` suite's definition,
:func:`skvi.metrics.perplexity_from_theta` with skvi's ``transform``).
"""

from . import bench_lda as lda
from .common import log, markdown_table, median

NAME = "lda_online"
TITLE = "skvi online against skvi batch"
TARGET_RATIO = 1.5
ONLINE = lda.Config("skvi online", "skvi", (("learning_method", "online"),))
METHODS = (lda.SKVI_BATCH, ONLINE)


def run(quick=False, repeats=None):
    repeats = repeats or (2 if quick else 5)
    log("lda_online: warm-up (JIT)")
    lda.warm_up({"gensim": (None, ""), "tomotopy": (None, "")})
    cases = []
    for loader, n_passes in (
        (lda.docstrings, 5 if quick else 20),
        (lda.synthetic, 5 if quick else 10),
    ):
        corpus = loader(quick)
        times = {c.name: [] for c in METHODS}
        models = {}
        for _ in range(repeats):
            for config in METHODS:
                log(f"lda_online: {corpus.name}: {config.name}")
                lda.skvi_fit(config, corpus, 1, n_docs=64)
                seconds, models[config.name] = lda.skvi_fit(config, corpus, n_passes)
                times[config.name].append(seconds / n_passes)
        rows = []
        for config in METHODS:
            theta, topics, _ = lda.heldout_theta_topics("skvi", models[config.name], corpus)
            rows.append(
                {
                    "config": config.name,
                    "passes": int(models[config.name].n_iter_),
                    "s_per_pass": median(times[config.name]),
                    "s_per_pass_all": times[config.name],
                    "heldout_perplexity": lda.perplexity_from_theta(theta, topics, corpus.X_test),
                }
            )
        cases.append(
            {
                "case": corpus.name,
                "n_train": corpus.X_train.shape[0],
                "rows": rows,
                "ratio": rows[1]["s_per_pass"] / rows[0]["s_per_pass"],
            }
        )
    return {
        "profile": "quick" if quick else "full",
        "repeats": repeats,
        "target_ratio": TARGET_RATIO,
        "cases": cases,
    }


def markdown(report):
    """The suite's table."""
    rows = []
    for case in report["cases"]:
        batch, online = case["rows"]
        rows.append(
            [
                case["case"],
                str(batch["passes"]),
                f"{1e3 * batch['s_per_pass']:.1f}",
                f"{1e3 * online['s_per_pass']:.1f}",
                f"**{case['ratio']:.2f}**",
                "pass" if case["ratio"] <= report["target_ratio"] else "**FAIL**",
                f"{batch['heldout_perplexity']:.1f} / {online['heldout_perplexity']:.1f}",
            ]
        )
    head = [
        "corpus",
        "passes",
        "batch ms / pass",
        "online ms / pass",
        "online / batch",
        f"target <= {report['target_ratio']}",
        "held-out perplexity batch / online",
    ]
    return (
        "### skvi online against skvi batch\n\n"
        + markdown_table(head, rows, "lrrrrll")
        + f"\n\nMedians of {report['repeats']} interleaved repeats; see the module docstring "
        "of `benchmarks/bench_lda_online.py`.\n"
    )
