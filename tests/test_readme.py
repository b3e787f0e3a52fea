"""README.md's figures and its quick example say what the stored results and the code give.

Figures (issue 15): every number of the section "Against scikit-learn" (its table and the
paragraph after it) and the demo's time equals the value it reports in
``benchmarks/results/<suite>.json``, rounded as the README prints it: a README figure
with ``d`` decimals must equal the JSON value formatted with ``d`` decimals (what the
suites' ``markdown()`` does). The README is parsed (table rows by their estimator and
case, the paragraph's sentences by patterns) and each value is looked up in the JSON by
case and library names, so a rerun of the benchmarks passes if and only if the README
was updated to match. A number of the section that no pattern reads fails too: a new
figure needs a source here before it can be printed.

Quick example: the README's python block runs, and each comment is checked against what
the line prints and against the fitted estimators; the comments are parsed, so a comment
that changes without the code (or the reverse) fails.
"""

import contextlib
import io
import json
import re
import warnings
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from scipy.special import betaln, digamma, logsumexp, multigammaln
from scipy.stats import beta as beta_dist
from scipy.stats import wishart

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
RESULTS = ROOT / "benchmarks" / "results"

#: A figure: digits with optional thousands commas and decimals, not part of a word
#: (``n_jobs=2`` is read by a pattern, ``R^2`` and ``2-core`` by the exclusions below).
NUMBER = re.compile(r"(?<![\w.^])\d+(?:,\d{3})*(?:\.\d+)?(?!\d)")
#: Text of the section with no figure to check: code spans (commands, file names), the
#: name of the coefficient of determination.
NOT_FIGURES = re.compile(r"`[^`]*`|R\^2")
WORDS = {w: i for i, w in enumerate("zero one two three four five six seven eight nine".split())}


@cache
def _suite(name):
    return json.loads((RESULTS / f"{name}.json").read_text())


def _section(text, title):
    """The body of the ``## title`` section of a markdown text."""
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert match, f"README.md has no section '## {title}'"
    return match.group(1)


def _as_shown(value, shown):
    """``value`` formatted as the README shows ``shown``: as many decimals, no commas."""
    decimals = len(shown.split(".")[1]) if "." in shown else 0
    return f"{value:.{decimals}f}"


class _Figures:
    """The section's text, the figures read from it and what was wrong with them."""

    def __init__(self, text):
        self.text, self.read, self.failures = text, [], []
        self.elsewhere = []  # spans of figures another test checks

    def search(self, pattern, start=0, end=None):
        return next(self.finditer(pattern, start, end), None)

    def finditer(self, pattern, start=0, end=None):
        """Matches of ``pattern`` in ``text[start:end]``, a space in it matching any
        whitespace (the README's sentences break across lines)."""
        end = len(self.text) if end is None else end
        return re.compile(pattern.replace(" ", r"\s+")).finditer(self.text, start, end)

    def check(self, where, match, group, value, source):
        """The figure ``match.group(group)`` equals ``value`` (from ``source``) as printed;
        ``value`` None: the JSON has no such value. A number word ("three") is compared
        with an integer."""
        shown = match.group(group)
        self.read.append(match.span(group))
        if value is None:
            self.failures.append(f"{where}: README {shown!r} has no stored source ({source})")
            return
        if shown in WORDS:
            ok, expected = WORDS[shown] == value, str(value)
        else:
            expected = _as_shown(value, shown)
            ok = shown.replace(",", "") == expected
        if not ok:
            self.failures.append(
                f"{where}: README {shown!r} but {source} = {value!r} (printed {expected!r})"
            )

    def fail(self, where, message, *spans):
        self.read.extend(spans)
        self.failures.append(f"{where}: {message}")

    def unread(self):
        """Figures of the text outside code spans that no check read, with context."""
        skip = [m.span() for m in NOT_FIGURES.finditer(self.text)] + self.read + self.elsewhere
        out = []
        for m in NUMBER.finditer(self.text):
            if not any(a <= m.start() and m.end() <= b for a, b in skip):
                line = self.text[: m.start()].count("\n")
                context = self.text[max(0, m.start() - 40) : m.end() + 20].replace("\n", " ")
                out.append(f"{m.group()!r} (line {line + 1} of the section): ...{context}...")
        return out


# ------------------------------------------------------------------ the table
def _table(fig):
    """Header names and, per data row, ``{column: (start, end)}`` spans of the cells."""
    lines = [m for m in re.finditer(r"^\|.*\|$", fig.text, re.M)]
    assert len(lines) >= 3, "the section has no markdown table"
    header = [c.strip() for c in lines[0].group().strip("|").split("|")]
    rows = []
    for line in lines[2:]:
        bars = [line.start() + i for i, c in enumerate(line.group()) if c == "|"]
        spans = [(a + 1, b) for a, b in zip(bars, bars[1:], strict=False)]
        rows.append(dict(zip(header, spans, strict=True)))
    return header, rows


def _cell(fig, row, name):
    """Span of the column whose header starts with ``name``."""
    keys = [k for k in row if k.startswith(name)]
    assert len(keys) == 1, f"the README table has no single column '{name}...'"
    return row[keys[0]]


def _mixture_row(fig, row, where):
    report = _suite("mixture")
    case = fig.search(
        r"([\d,]+) x (\d+), (\d+) components, (full|tied|diag|spherical)", *_cell(fig, row, "case")
    )
    if case is None:
        return fig.fail(where, "case not read (expected 'N x d, K components, type')")
    n, d, k, ctype = int(case.group(1).replace(",", "")), *map(int, case.group(2, 3)), case[4]
    rows = report["results"]
    skvi = [
        r
        for r in rows
        if r["lib"] == "skvi"
        and r["n_train"] + r["n_test"] == n
        and (r["n_features"], r["n_components"], r["covariance_type"]) == (d, k, ctype)
    ]
    if len(skvi) != 1:
        spans = [case.span(i) for i in range(1, 4)]
        return fig.fail(where, f"mixture.json has {len(skvi)} skvi rows of this case", *spans)
    sk = skvi[0]
    fig.read.extend(case.span(i) for i in range(1, 4))
    others = {r["lib"]: r for r in rows if r["case"] == sk["case"]}
    b_iter = others[sk["time_per_iter_baseline"]]
    timed = sk["n_iter"] is None  # no fit to convergence: quality of the timed fits
    b_conv = b_iter if timed else others[sk["time_to_conv_baseline"]]
    src = f"mixture.json results[case={sk['case']!r}, lib=%r].%s"

    m = fig.search(r"([\d.]+) (ms|s) / iteration", *_cell(fig, row, "skvi"))
    if m:
        unit = 1e3 if m[2] == "ms" else 1.0
        value = sk["time_per_iter_s"] * unit
        fig.check(where, m, 1, value, src % ("skvi", f"time_per_iter_s in {m[2]}"))
    m = fig.search(r"([\d.]+) (ms|s)", *_cell(fig, row, "scikit-learn"))
    if m:
        unit = 1e3 if m[2] == "ms" else 1.0
        value = b_iter["time_per_iter_s"] * unit
        fig.check(where, m, 1, value, src % (b_iter["lib"], f"time_per_iter_s in {m[2]}"))
    blas = fig.search(r"(one|two) BLAS threads?", *_cell(fig, row, "scikit-learn"))
    if blas and (blas[1] == "one") != (b_iter["lib"] == "sklearn-1blas"):
        fig.fail(where, f"README says {blas[0]!r}; the baseline is {b_iter['lib']!r}")
    m = fig.search(r"([\d.]+)x", *_cell(fig, row, "speed-up"))
    if m:
        ratio = b_iter["time_per_iter_s"] / sk["time_per_iter_s"]
        fig.check(where, m, 1, ratio, src % (b_iter["lib"], "time_per_iter_s / skvi's"))
    whole = (min(a for a, _ in row.values()), max(b for _, b in row.values()))
    m = fig.search(r"([\d.]+) GFLOP/s", *whole)
    if m:
        fig.check(where, m, 1, sk.get("sweep_gflops"), src % ("skvi", "sweep_gflops"))
    m = fig.search(r"(\d+)% of (?:the )?DGEMM", *whole)
    if m:
        dgemm = report.get("dgemm", {}).get("gflops")
        value = 100 * sk["sweep_gflops"] / dgemm if dgemm and sk.get("sweep_gflops") else None
        fig.check(where, m, 1, value, "mixture.json: 100 sweep_gflops / dgemm.gflops")
    m = fig.search(r"([\d.]+)x to convergence", *whole)
    if m:
        value = None if timed else b_conv["time_to_conv_s"] / sk["time_to_conv_s"]
        fig.check(where, m, 1, value, src % (b_conv["lib"], "time_to_conv_s / skvi's"))
    quality = _cell(fig, row, "quality")
    m = fig.search(r"ARI ([\d.]+) / ([\d.]+)", *quality)
    if m:
        fig.check(where, m, 1, sk["ari_train"], src % ("skvi", "ari_train"))
        fig.check(where, m, 2, b_conv["ari_train"], src % (b_conv["lib"], "ari_train"))
    m = fig.search(r"held-out mean log-lik\w* (-?[\d.]+) / (-?[\d.]+)", *quality)
    if m:
        fig.check(where, m, 1, sk["heldout_mean_loglik"], src % ("skvi", "heldout_mean_loglik"))
        value = b_conv["heldout_mean_loglik"]
        fig.check(where, m, 2, value, src % (b_conv["lib"], "heldout_mean_loglik"))
    side = r"(converged in|not converged in|not in) (\d+)(?: iterations)?"
    m = fig.search(rf"{side} / {side}", *quality)
    if m:
        for said, count, r in ((1, 2, sk), (3, 4, b_conv)):
            fig.check(where, m, count, r["n_iter"], src % (r["lib"], "n_iter"))
            if m[said].startswith("not") == bool(r["converged"]):
                fig.fail(where, f"README {m[said]!r} but {r['lib']} converged={r['converged']}")


def _lda_row(fig, row, where):
    report = _suite("lda")
    method = fig.search(r"VariationalLDA \((\w+)\)", *_cell(fig, row, "estimator"))
    case = fig.search(
        r"(\w+), ([\d,]+) documents(?:, (\d+) topics)?, (\d+) passes", *_cell(fig, row, "case")
    )
    if method is None or case is None:
        return fig.fail(
            where,
            "estimator or case not read (expected 'VariationalLDA (method)'"
            " and 'corpus, N documents[, K topics], P passes')",
        )
    cases = {c["key"]: c for c in report["cases"]}
    if case[1] not in cases:
        return fig.fail(where, f"lda.json has no case with key {case[1]!r}")
    c = cases[case[1]]
    src = f"lda.json cases[key={case[1]!r}]"
    fig.check(where, case, 2, c["n_train"], f"{src}.n_train")
    if case[3] is not None:
        fig.check(where, case, 3, report["n_topics"], "lda.json n_topics")
    fig.check(where, case, 4, c["n_passes"], f"{src}.n_passes")
    by = {r["config"]: r for r in c["results"]}
    ours = f"skvi {method[1]}"
    m = fig.search(r"([\d.]+) s", *_cell(fig, row, "skvi"))
    if m:
        fig.check(where, m, 1, by[ours]["fit_s"], f"{src}.results[{ours!r}].fit_s")
    m = fig.search(r"([\d.]+) s \(n_jobs=(\d+)\)", *_cell(fig, row, "scikit-learn"))
    if m is None:
        return fig.fail(where, "scikit-learn cell not read (expected 'T s (n_jobs=J)')")
    theirs = f"sklearn {method[1]} n_jobs={m[2]}"
    if theirs not in by:
        return fig.fail(where, f"{src} has no row {theirs!r}", m.span(1), m.span(2))
    fig.read.append(m.span(2))
    fig.check(where, m, 1, by[theirs]["fit_s"], f"{src}.results[{theirs!r}].fit_s")
    m = fig.search(r"([\d.]+)x", *_cell(fig, row, "speed-up"))
    if m:
        ratio = by[theirs]["fit_s"] / by[ours]["fit_s"]
        fig.check(where, m, 1, ratio, f"{src}: fit_s of {theirs!r} / {ours!r}")
    m = fig.search(
        r"held-out perplexity ([\d.]+) / ([\d.]+)(?: \(mean of (\d+) seeds\))?",
        *_cell(fig, row, "quality"),
    )
    if m and m[3] is None:
        fig.check(where, m, 1, by[ours]["heldout_perplexity"], f"{src}[{ours!r}]")
        fig.check(where, m, 2, by[theirs]["heldout_perplexity"], f"{src}[{theirs!r}]")
    elif m:
        spread = c["seed_spread"]
        for group, config in ((1, ours), (2, theirs)):
            values = spread[config]["heldout_perplexity"]
            where_ = f"{src}.seed_spread[{config!r}].heldout_perplexity"
            fig.check(where, m, group, float(np.mean(values)), f"mean of {where_}")
            fig.check(where, m, 3, len(values), f"number of {where_}")


def _regression_row(fig, row, where):
    rows = _suite("regression")["results"]
    est = fig.search(r"VariationalEMRegressor (vem|vbem) (\w+)", *_cell(fig, row, "estimator"))
    case = fig.search(r"([\d,]+) x (\d+)", *_cell(fig, row, "case"))
    if est is None or case is None:
        return fig.fail(where, "estimator or case not read")
    n, d = int(case[1].replace(",", "")), int(case[2])
    heavy = "heavy-tailed" in fig.text[slice(*_cell(fig, row, "case"))]
    names = {
        r["case"]
        for r in rows
        if (r["n_train"], r["n_features"]) == (n, d) and ("heavy-tailed" in r["case"]) == heavy
    }
    if len(names) != 1:
        return fig.fail(
            where,
            f"regression.json has {len(names)} cases of {n} x {d}",
            case.span(1),
            case.span(2),
        )
    name = names.pop()
    fig.read.extend([case.span(1), case.span(2)])
    by = {r["config"]: r for r in rows if r["case"] == name}
    src = f"regression.json results[case={name!r}, config=%r].%s"
    ours = by.get(f"skvi {est[1]} {est[2].lower()}")
    if ours is None:
        return fig.fail(where, f"regression.json has no configuration for {est[0]!r}")
    m = fig.search(r"(\d+) informative", *_cell(fig, row, "case"))
    if m:
        fig.check(where, m, 1, ours.get("n_informative"), src % (ours["config"], "n_informative"))
    m = fig.search(r"([\d.]+) s", *_cell(fig, row, "skvi"))
    if m:
        fig.check(where, m, 1, ours["fit_s"], src % (ours["config"], "fit_s"))
    m = fig.search(r"([\d.]+) s \(([\w ]+)\)", *_cell(fig, row, "scikit-learn"))
    if m is None or m[2] not in by:
        return fig.fail(where, "scikit-learn cell not read (expected 'T s (configuration)')")
    theirs = by[m[2]]
    fig.check(where, m, 1, theirs["fit_s"], src % (m[2], "fit_s"))
    m = fig.search(r"([\d.]+)x", *_cell(fig, row, "speed-up"))
    if m:
        ratio = theirs["fit_s"] / ours["fit_s"]
        fig.check(where, m, 1, ratio, src % (theirs["config"], "fit_s / skvi's"))
    quality = _cell(fig, row, "quality")
    m = fig.search(r"held-out R\^2 ([\d.]+) / ([\d.]+)", *quality)
    if m:
        fig.check(where, m, 1, ours["r2_test"], src % (ours["config"], "r2_test"))
        fig.check(where, m, 2, theirs["r2_test"], src % (theirs["config"], "r2_test"))
    m = fig.search(r"(\d+)% intervals cover ([\d.]+)%", *quality)
    if m:
        key = f"coverage_{m[1]}"
        fig.read.append(m.span(1))
        value = ours.get(key)
        fig.check(
            where,
            m,
            2,
            None if value is None else 100 * value,
            src % (ours["config"], f"{key} in %"),
        )
    m = fig.search(
        r"(\d+) iterations to the default coefficient tolerance "
        r"\(scikit-learn: (\d+)(, pruning features)?\)",
        *quality,
    )
    if m:
        fig.check(where, m, 1, ours["n_iter"], src % (ours["config"], "n_iter"))
        fig.check(where, m, 2, theirs["n_iter"], src % (theirs["config"], "n_iter"))
        if m[3] and "no pruning" in theirs["config"]:
            fig.fail(where, f"README says the baseline prunes; it is {theirs['config']!r}")


ROWS = {
    "VariationalGaussianMixture": _mixture_row,
    "VariationalLDA": _lda_row,
    "VariationalEMRegressor": _regression_row,
}


# ------------------------------------------------------------------ the prose
def _machine(fig):
    m = fig.search(r"on a shared (\d+)-core machine")
    if m:
        counts = {_suite(s)["machine"]["cpu_count"] for s in ("mixture", "lda", "regression")}
        value = counts.pop() if len(counts) == 1 else None
        fig.check("machine", m, 1, value, "machine.cpu_count of mixture, lda, regression.json")


def _mixture_prose(fig):
    report = _suite("mixture")
    skvi = [r for r in report["results"] if r["lib"] == "skvi"]
    m = fig.search(r"(\d+)-dimensional digits[^(]*\(([^)]*)\)")
    if m:
        digits = [r for r in skvi if r["case"].startswith("digits")]
        fig.check(
            "digits",
            m,
            1,
            digits[0]["n_features"] if digits else None,
            "mixture.json digits cases' n_features",
        )
        for item in fig.finditer(r"([\d.]+)x (full|tied|diag|spherical)", *m.span(2)):
            rows = [r for r in digits if r["covariance_type"] == item[2]]
            value, src = None, f"mixture.json: no digits case with covariance_type {item[2]!r}"
            if rows:
                sk = rows[0]
                base = next(
                    r
                    for r in report["results"]
                    if r["case"] == sk["case"] and r["lib"] == sk["time_per_iter_baseline"]
                )
                value = base["time_per_iter_s"] / sk["time_per_iter_s"]
                src = f"mixture.json [{sk['case']!r}]: {base['lib']} / skvi time_per_iter_s"
            fig.check(f"digits {item[2]}", item, 1, value, src)
    for m in fig.finditer(r"([\d.]+)x at ([\d,]+) samples"):
        rows = [r for r in report["size_sweep"]["rows"] if f"{r['n_samples']:,}" == m[2]]
        where = f"size sweep at {m[2]}"
        if not rows:
            fig.fail(where, "mixture.json size_sweep has no row of this n_samples", m.span(2))
            continue
        fig.read.append(m.span(2))
        fig.check(where, m, 1, rows[0]["ratio"], f"mixture.json size_sweep[{m[2]}].ratio")


def _lda_prose(fig):
    """The tomotopy and cvb0 sentences; "X and Y" pairs are docstrings then synthetic."""
    report = _suite("lda")
    cases = {c["key"]: c for c in report["cases"]}
    doc, syn = cases["docstrings"], cases["synthetic"]

    def row(case, config):
        return next(r for r in case["results"] if r["config"] == config)

    m = fig.search(
        r"tomotopy's collapsed Gibbs sampler \((\d+) iterations: ([\d.]+) s on the docstrings, "
        r"held-out perplexity ([\d.]+); ([\d.]+) s and ([\d.]+) on the synthetic corpus\)"
    )
    if m:
        fig.check("tomotopy", m, 1, report["tomotopy_iter"], "lda.json tomotopy_iter")
        for (t, p), case in (((2, 3), doc), ((4, 5), syn)):
            src = f"lda.json cases[{case['key']!r}].results['tomotopy']"
            fig.check("tomotopy", m, t, row(case, "tomotopy")["fit_s"], f"{src}.fit_s")
            value = row(case, "tomotopy")["heldout_perplexity"]
            fig.check("tomotopy", m, p, value, f"{src}.heldout_perplexity")
    m = fig.search(r"mean-field batch VB \(([\d.]+) and ([\d.]+) after (\d+) passes\)")
    if m:
        for group, case in ((1, doc), (2, syn)):
            t = case["time_to_tomotopy"]
            point = [p for p in t["grid"] if str(p["max_iter"]) == m[3]]
            src = f"lda.json cases[{case['key']!r}].time_to_tomotopy.grid[max_iter={m[3]}]"
            value = point[0]["heldout_perplexity"] if point else None
            fig.check("batch VB", m, group, value, f"{src}.heldout_perplexity")
            if t["reached"]:
                fig.fail("batch VB", f"README: out of reach; lda.json {case['key']}: reached")
        fig.read.append(m.span(3))
    m = fig.search(r"reaches it in ([\d.]+) and ([\d.]+) of tomotopy's time")
    if m:
        for group, case in ((1, doc), (2, syn)):
            t = case["time_to_tomotopy_cvb0"]
            src = f"lda.json cases[{case['key']!r}].time_to_tomotopy_cvb0.ratio_to_tomotopy"
            fig.check("cvb0", m, group, t["ratio_to_tomotopy"] if t["reached"] else None, src)
    for part in fig.finditer(r"\b(docstrings|synthetic): ([^;)]*(?:; (?!\w+:)[^;)]*)*)"):
        case = cases[part[1]]
        t = case["time_to_tomotopy_cvb0"]
        grid = {str(p["max_iter"]): p for p in t["grid"]}
        src = f"lda.json cases[{part[1]!r}].time_to_tomotopy_cvb0.grid[max_iter=%s].%s"
        for item in fig.finditer(
            r"([\d.]+) after (\d+)(?: passes)?(?:, ([\d.]+) s)?", *part.span(2)
        ):
            point = grid.get(item[2])
            where = f"cvb0 {part[1]} after {item[2]}"
            if point is None:
                fig.fail(where, "not in the stored grid", item.span(2))
                continue
            fig.read.append(item.span(2))
            perplexity = point["heldout_perplexity"]
            fig.check(where, item, 1, perplexity, src % (item[2], "heldout_perplexity"))
            if item[3] is not None:
                fig.check(where, item, 3, point["fit_s"], src % (item[2], "fit_s"))
    m = fig.search(r"over (\w+) seeds, (\d+) passes give ([\d.]+) and ([\d.]+) on average")
    if m:
        for group, case in ((3, doc), (4, syn)):
            spread = case["seed_spread"]["skvi cvb0"]
            src = f"lda.json cases[{case['key']!r}].seed_spread['skvi cvb0']"
            values = spread["heldout_perplexity"]
            fig.check("cvb0 seeds", m, 1, len(values), f"number of {src}.seeds")
            fig.check("cvb0 seeds", m, 2, spread["passes"], f"{src}.passes")
            fig.check("cvb0 seeds", m, group, float(np.mean(values)), f"mean of {src}")
    m = fig.search(
        r"(\w+) docstring seeds? of (\w+) stays? above ([\d.]+) at (\d+) passes \(([\d., ]+)\)"
    )
    if m:
        spread = doc["seed_spread"]["skvi cvb0"]
        src = "lda.json cases['docstrings'].seed_spread['skvi cvb0']"
        missed = [i for i, r in enumerate(spread["time_to_tomotopy"]) if not r["reached"]]
        fig.check("cvb0 seeds", m, 1, len(missed), f"{src}: seeds not reaching tomotopy")
        fig.check("cvb0 seeds", m, 2, len(spread["seeds"]), f"{src}.seeds")
        target = doc["time_to_tomotopy_cvb0"]["target_perplexity"]
        fig.check("cvb0 seeds", m, 3, target, "lda.json time_to_tomotopy_cvb0.target_perplexity")
        fig.check("cvb0 seeds", m, 4, spread["passes"], f"{src}.passes")
        for k, item in enumerate(fig.finditer(r"[\d.]+", *m.span(5))):
            value = spread["heldout_perplexity"][missed[k]] if k < len(missed) else None
            fig.check("cvb0 seeds", item, 0, value, f"{src}.heldout_perplexity of the seed")


def _sentence(text, position):
    """The sentence of ``text`` around ``position`` (within its paragraph; a sentence ends
    with a full stop followed by a capital or a code span)."""
    start = text.rfind("\n\n", 0, position) + 1
    end = text.find("\n\n", position) % (len(text) + 1)
    ends = [m.end() for m in re.finditer(r"\.\s+(?=[A-Z`])", text[start:end])]
    before = [e for e in ends if start + e <= position]
    after = [e for e in ends if start + e > position]
    return text[start + (before[-1] if before else 0) : start + after[0] if after else end]


def _demo_time(fig):
    """Each "in about N s" said of the demo (or of the install command that runs it):
    the wall time of ``python -m skvi.demo`` in the coldstart suite, its first run (an
    empty Numba cache: what a new user waits) unless the sentence speaks of a second run
    or of the cache."""
    demo = _suite("coldstart").get("demo")
    for m in fig.finditer(r"in about (\d+(?:\.\d+)?) s\b"):
        sentence = _sentence(fig.text, m.start())
        if "demo" in sentence or "first command" in sentence:
            run = "second" if re.search(r"second run|cache", sentence) else "first"
            value = demo[run]["process_wall_s"] if demo else None
            fig.check("demo time", m, 1, value, f"coldstart.json demo.{run}.process_wall_s")


@cache
def _figures(text):
    """The figures of the section "Against scikit-learn" of ``text`` (a README), checked."""
    fig = _Figures(_section(text, "Against scikit-learn"))
    _, rows = _table(fig)
    for row in rows:
        estimator = fig.text[slice(*_cell(fig, row, "estimator"))].strip()
        case = fig.text[slice(*_cell(fig, row, "case"))].strip()
        handler = next((h for name, h in ROWS.items() if estimator.startswith(name)), None)
        if handler is None:
            fig.fail(estimator, "no stored suite for this estimator")
        else:
            handler(fig, row, f"table row {estimator} / {case}")
    _machine(fig)
    _mixture_prose(fig)
    _lda_prose(fig)
    demo = _Figures(fig.text)
    _demo_time(demo)
    fig.elsewhere = demo.read  # test_demo_time_equals_the_coldstart_suite
    return fig


def test_section_figures_equal_the_stored_results():
    fig = _figures(README)
    assert not fig.failures, "\n".join(
        ["README figures against benchmarks/results:"] + fig.failures
    )


def test_every_figure_of_the_section_is_checked():
    # a figure no pattern reads has no source checked here (a new figure, or a sentence
    # whose wording changed): give it one above
    unread = _figures(README).unread()
    assert not unread, "\n".join(["README figures that no check reads:"] + unread)


def test_changing_any_figure_read_fails():
    """The checks compare what they read: the README with any one figure of the section
    changed (its last digit, or a number word) fails differently from the README (a new
    failure, or a failing figure now right)."""
    section = _section(README, "Against scikit-learn")
    start = README.index(section)
    fig = _figures(README)
    assert len(fig.read) > 50  # the table and the paragraph were read
    for a, b in sorted(set(fig.read)):
        shown = section[a:b]
        if shown in WORDS:
            changed = next(w for w in WORDS if w != shown and len(w) == len(shown))
        else:
            changed = shown[:-1] + str((int(shown[-1]) + 1) % 10)
        mutated = README[: start + a] + changed + README[start + b :]
        new = set(_figures(mutated).failures) ^ set(fig.failures)
        context = section[a - 40 : b + 20].replace("\n", " ")
        assert new, f"changing {shown!r} to {changed!r} in ...{context}... is not detected"


def test_demo_time_equals_the_coldstart_suite():
    fig = _Figures(README)
    _demo_time(fig)
    assert fig.read, "README.md states no demo time"
    assert not fig.failures, "\n".join(fig.failures)


# ------------------------------------------------------------------ the quick example
def _quick_example():
    block = re.search(r"```python\n(.*?)```", _section(README, "Quick example"), re.S)
    assert block, "README.md's quick example has no python block"
    return block.group(1)


@pytest.fixture(scope="module")
def example():
    """(code lines, printed lines, namespace, warnings) of a run of the quick example."""
    code = _quick_example()
    out, namespace = io.StringIO(), {}
    with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stdout(out):
        warnings.simplefilter("always")
        exec(compile(code, "README quick example", "exec"), namespace)
    return code.splitlines(), out.getvalue().splitlines(), namespace, caught


def _commented(lines, claim):
    """(code, comment, printed line index or None) of the line whose comment matches
    ``claim``; exactly one must."""
    found, prints = [], 0
    for line in lines:
        code, _, comment = line.partition("#")
        m = re.search(claim, comment)
        if m:
            found.append((code.strip(), m, prints if code.lstrip().startswith("print(") else None))
        prints += code.lstrip().startswith("print(")
    assert len(found) == 1, f"the quick example has {len(found)} comments matching {claim!r}"
    return found[0]


#: Every claim the comments make, as a pattern; each is checked by a test below.
CLAIMS = [
    r"\bconverges\b",
    r"redundant components are emptied",
    r"(\d+) components in use",
    r"full ELBO in nats, <= log p\(X\)",
    r"\[([^\]]*)\]: ARD switches feature (\d+) off",
]


def test_every_comment_of_the_quick_example_is_checked(example):
    lines, printed, _, caught = example
    for line in lines:
        comment = line.partition("#")[2]
        rest = comment
        for claim in CLAIMS:
            rest = re.sub(claim, "", rest)
        assert not re.sub(r"[\s;,.]", "", rest), f"unchecked comment text {rest!r} in {line!r}"
    # one printed line per print call, and nothing to alarm a new user
    assert len(printed) == sum(line.lstrip().startswith("print(") for line in lines)
    shown = [w for w in caught if issubclass(w.category, (UserWarning, RuntimeWarning))]
    assert not shown, f"the quick example warns: {[str(w.message) for w in shown]}"


def test_quick_example_mixture_converges_to_the_blobs(example):
    lines, printed, ns, _ = example
    vgm, X = ns["vgm"], ns["X"]
    code, _, at = _commented(lines, CLAIMS[0])
    assert code == "print(vgm.n_iter_, vgm.converged_)"
    assert printed[at] == f"{vgm.n_iter_} True"
    assert vgm.converged_ and vgm.n_iter_ < vgm.max_iter

    code, m, at = _commented(lines, CLAIMS[2])
    in_use = int(m[1])
    assert code == "print((vgm.weights_ > 0.01).sum())"
    assert printed[at] == str(in_use) == str((vgm.weights_ > 0.01).sum())
    centers = re.search(r"centers=(\d+)", "\n".join(lines))
    assert centers and int(centers[1]) == in_use  # one component per blob

    # emptied: the other components hold (nearly) no data, N_k = beta_k - beta_0
    # (measured: at most 0.0034 of a sample each; in use: 2,000 each)
    _commented(lines, CLAIMS[1])
    counts = vgm.mean_precision_ - vgm.mean_precision_prior_
    used = vgm.weights_ > 0.01
    assert vgm.n_components - in_use == np.sum(~used) > 0
    assert np.all(counts[~used] < 0.01) and np.all(counts[used] > 0.1 * len(X) / in_use)


def _elbo_at_optimal_resp(vgm, X):
    r"""The full ELBO (nats, every constant) of the fitted :math:`q(\theta)` with the best
    :math:`q(Z)` for it, computed from the fitted attributes with NumPy and SciPy only
    (Bishop 10.70 with 10.64-10.66, the stick-breaking weights of the 'dirichlet_process'
    prior with the last stick at one, and the model's ``reg_covar`` factor
    :math:`\exp(-\mathrm{reg}\,\mathrm{tr}\Lambda_k / 2)` per sample):

    :math:`\sum_n \ln\sum_k \rho_{nk} - \mathrm{KL}(q(v)\|p(v)) - \sum_k\mathrm{KL}(
    q(\mu_k,\Lambda_k)\|p(\mu_k,\Lambda_k))`,
    :math:`\ln\rho_{nk} = \mathbb E\ln\pi_k + \tfrac12\mathbb E\ln|\Lambda_k|
    - \tfrac d2\ln 2\pi - \tfrac12[d/\beta_k + (x_n-m_k)^T\nu_kW_k(x_n-m_k)
    + \mathrm{reg}\,\mathrm{tr}\,\nu_kW_k]`.
    """
    assert vgm.covariance_type == "full"
    assert vgm.weight_concentration_prior_type == "dirichlet_process"
    n, d = X.shape
    a, b = vgm.weight_concentration_
    alpha0 = vgm.weight_concentration_prior_
    e_log_v = np.append(digamma(a[:-1]) - digamma(a[:-1] + b[:-1]), 0.0)
    e_log_1mv = digamma(b[:-1]) - digamma(a[:-1] + b[:-1])
    e_log_pi = e_log_v + np.concatenate([[0.0], np.cumsum(e_log_1mv)])
    # KL(Beta(a, b) || Beta(1, alpha0)) = -H[q] - E_q ln p, sticks but the last
    kl = sum(
        -beta_dist(ak, bk).entropy() - ((alpha0 - 1) * e1 - betaln(1.0, alpha0))
        for ak, bk, e1 in zip(a[:-1], b[:-1], e_log_1mv, strict=True)
    )
    beta0, nu0, m0 = vgm.mean_precision_prior_, vgm.degrees_of_freedom_prior_, vgm.mean_prior_
    w0_inv = vgm.covariance_prior_
    log_z0 = (
        nu0 * d / 2 * np.log(2) - nu0 / 2 * np.linalg.slogdet(w0_inv)[1] + multigammaln(nu0 / 2, d)
    )
    log_rho = np.empty((n, vgm.n_components))
    for k in range(vgm.n_components):
        beta, nu, m, prec = (
            vgm.mean_precision_[k],
            vgm.degrees_of_freedom_[k],
            vgm.means_[k],
            vgm.precisions_[k],
        )
        e_log_det = np.sum(digamma((nu - np.arange(d)) / 2)) + d * np.log(2)
        e_log_det += np.linalg.slogdet(prec / nu)[1]
        diff = X - m
        maha = np.einsum("ni,ij,nj->n", diff, prec, diff)
        log_rho[:, k] = (
            e_log_pi[k]
            + 0.5 * e_log_det
            - 0.5 * d * np.log(2 * np.pi)
            - 0.5 * (d / beta + maha + vgm.reg_covar * np.trace(prec))
        )
        dm = m - m0
        kl += 0.5 * (d * beta0 / beta - d - d * np.log(beta0 / beta) + beta0 * dm @ prec @ dm)
        e_log_p = (nu0 - d - 1) / 2 * e_log_det - 0.5 * np.trace(w0_inv @ prec) - log_z0
        kl += -wishart(df=nu, scale=prec / nu).entropy() - e_log_p
    return float(np.sum(logsumexp(log_rho, axis=1)) - kl)


def test_quick_example_lower_bound_is_the_full_elbo(example):
    """What can be checked of "full ELBO in nats, <= log p(X)" without ``log p(X)``
    (no closed form for a 10-component mixture): the printed value is ``lower_bound_``
    and the last of ``lower_bounds_``; the ELBO of the fitted factors with the best
    responsibilities for them, computed independently above (every constant, nats),
    is at least ``lower_bound_`` (skvi's bound takes the responsibilities of the last
    E-step, before the last update) and, the fit having converged, exceeds it by less
    than ``tol`` per sample (a tolerance, not a bound). That larger ELBO is itself below
    ``log p(X)`` (Jensen), hence so is ``lower_bound_``; a missing constant (``d/2 ln
    2 pi`` alone is 36,758 nats here) or a wrong term fails."""
    lines, printed, ns, _ = example
    vgm, X = ns["vgm"], ns["X"]
    code, _, at = _commented(lines, CLAIMS[3])
    assert code == "print(vgm.lower_bound_)"
    assert float(printed[at]) == vgm.lower_bound_ == vgm.lower_bounds_[-1]
    assert np.isfinite(vgm.lower_bound_)
    best = _elbo_at_optimal_resp(vgm, X)
    # measured: best - lower_bound_ = 6.9e-7 nats (lower_bound_ -73,440.96; the last
    # sweep gained 8.4e-3)
    assert -1e-9 * abs(best) <= best - vgm.lower_bound_ < vgm.tol * len(X)


def test_quick_example_ard_recovers_the_coefficients(example):
    lines, printed, ns, _ = example
    reg = ns["reg"]
    code, m, at = _commented(lines, CLAIMS[4])
    assert code == "print(reg.coef_)"
    shown = np.array(printed[at].strip("[]").split(), dtype=float)
    np.testing.assert_allclose(shown, reg.coef_, rtol=1e-7, atol=0)
    # the comment's list against the weights of the code's y = X @ [...]
    said = [s.strip() for s in m[1].split(",")]
    weights = re.search(r"y = X @ \[([^\]]*)\]", "\n".join(lines))
    true = np.array(weights[1].split(","), dtype=float)
    assert len(said) == len(true) == reg.coef_.shape[0]
    assert np.allclose(np.array([s.lstrip("~") for s in said], dtype=float), true)
    # y is noise-free: every coefficient within 1e-10 (measured: 5.4e-14)
    np.testing.assert_allclose(reg.coef_, true, rtol=0, atol=1e-10)
    # "feature j off" (1-based): the one the comment writes ~0 and the code gives weight 0;
    # its precision lambda_ dwarfs the others' (measured 5.0e5 against at most 4.0) and
    # its coefficient is within its posterior std of zero
    j = int(m[2]) - 1
    assert [i for i, s in enumerate(said) if s.startswith("~")] == [j] and true[j] == 0
    others = np.delete(reg.lambda_, j)
    assert reg.lambda_[j] > 1e4 * others.max()
    assert abs(reg.coef_[j]) < reg.coef_std_[j]


def test_quick_example_predictions(example):
    lines, _, ns, _ = example
    reg, y, mean, std = ns["reg"], ns["y"], ns["mean"], ns["std"]
    assert "mean, std = reg.predict(X[:3], return_std=True)" in [s.strip() for s in lines]
    assert mean.shape == std.shape == (3,)
    np.testing.assert_allclose(mean, y[:3], rtol=0, atol=1e-10)
    # the predictive std includes the noise's: at least 1/sqrt(alpha_), and not much more
    # with 10,000 samples for 5 coefficients (measured: 1.41e-5 both)
    noise = 1 / np.sqrt(reg.alpha_)
    assert np.all(std >= noise) and np.all(std < 1.01 * noise)
