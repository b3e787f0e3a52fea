"""Machinery of the bad-input sweep (``tests/test_inputs.py``): cases, checks, runner.

A case is data: an estimator factory, a sequence of method calls on named inputs, an
input builder and the expected outcome (:class:`Expect`). :func:`run_case` runs it and
returns a :class:`Result` whose ``failure`` is None when the outcome is one the case
accepts:

- ``OK``: every call returns, and every output and every public fitted float attribute
  is finite and sensible (shapes, dtypes, probabilities, bounds, a non-decreasing ELBO
  for the coordinate-ascent fits);
- ``raises(...)``: the first call that sees the bad input raises ``ValueError`` or
  ``TypeError`` (scikit-learn's ``NotFittedError`` and ``InvalidParameterError`` are
  both) whose message matches every pattern (case-insensitive regular expressions);
- ``either(...)``: one of the two.

In every case the inputs must be unchanged after every call.

Run as a script, ``python -m tests._input_cases [FIRST_ID]`` runs the cases that need a
separate process (:data:`SUBPROCESS_CASES`, from ``FIRST_ID`` on), printing one JSON line
``{"start": id}`` before each case and one ``{"id": ..., "failure": ...}`` after it, so
that the parent can name the case that was running when the process crashed or hung.
With ``--only`` it runs ``FIRST_ID`` alone. ``python -m tests._input_cases --summary``
runs the whole sweep and prints its outcomes.
"""

import copy
import json
import os
import re
import sys
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from skvi import VariationalGaussianMixture, VariationalLDA

# ------------------------------------------------------------------ case data


@dataclass(frozen=True)
class Ref:
    """A reference to one of the case's named inputs."""

    name: str


X, XT, Y, YT, W = Ref("X"), Ref("Xt"), Ref("y"), Ref("yt"), Ref("w")


@dataclass
class Step:
    """One method call; ``Ref`` arguments are replaced by the case's inputs."""

    method: str
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)

    def refs(self):
        values = (*self.args, *self.kwargs.values())
        return {v.name for v in values if isinstance(v, Ref)}

    def __str__(self):
        parts = [str(a.name if isinstance(a, Ref) else a) for a in self.args]
        parts += [f"{k}={v.name if isinstance(v, Ref) else v!r}" for k, v in self.kwargs.items()]
        return f"{self.method}({', '.join(parts)})"


@dataclass(frozen=True)
class Expect:
    """``kind`` is 'ok', 'raise' or 'either'; every pattern must match the message."""

    kind: str
    patterns: tuple = ()


OK = Expect("ok")


def raises(*patterns):
    return Expect("raise", patterns)


def either(*patterns):
    return Expect("either", patterns)


#: drop allowed in a "non-decreasing" ELBO history, relative to the bound's size (the
#: rounding of a sum of terms; the drops the issue reports are 1e-3 relative and more)
ELBO_RTOL = 1e-10


@dataclass
class Case:
    """One input case.

    ``bad`` names the inputs the case spoils ('params' for a constructor parameter): the
    first call that uses one of them is where an error may start. Without ``bad``, the
    first call after the last ``set_params`` (or the first call) is. ``extra(est, outs,
    inputs)`` runs after a fully successful run, for checks specific to the case.
    """

    id: str
    make: Any
    steps: list
    data: Any
    expect: Expect
    bad: tuple = ()
    extra: Any = None
    elbo_rtol: float = ELBO_RTOL  # unless the case states why its rounding is larger

    def first_bad(self):
        """Index of the first call allowed to raise."""
        if "params" in self.bad:
            return 0
        for i, step in enumerate(self.steps):
            if step.refs() & set(self.bad):
                return i
        last_set = [i for i, s in enumerate(self.steps) if s.method == "set_params"]
        return last_set[-1] + 1 if last_set else 0


@dataclass
class Result:
    id: str
    outcome: str  # 'returned' or 'raised'
    failure: str | None
    detail: str = ""


# --------------------------------------------------------------- the checks


def _assert(cond, msg):
    if not cond:
        raise AssertionError(msg)


def _finite(value, name):
    arr = np.asarray(value)
    if arr.dtype.kind in "fc":
        _assert(np.all(np.isfinite(arr)), f"{name} is not finite: {_show(arr)}")


def _show(arr):
    arr = np.asarray(arr)
    if arr.size <= 6:
        return repr(arr.tolist())
    bad = ~np.isfinite(arr) if arr.dtype.kind in "fc" else np.zeros(arr.shape, bool)
    return f"array{arr.shape} ({int(bad.sum())} non-finite, e.g. {arr.ravel()[:4].tolist()})"


def _non_decreasing(bounds, name, rtol=ELBO_RTOL):
    b = np.asarray(bounds, dtype=float)
    if b.size < 2:
        return
    drops = b[:-1] - b[1:]
    allowed = rtol * np.maximum(np.abs(b[:-1]), 1.0)
    i = int(np.argmax(drops - allowed))
    _assert(
        drops[i] <= allowed[i],
        f"{name} decreases at iteration {i + 1}: {b[i]!r} -> {b[i + 1]!r}",
    )


def _public_floats_finite(est, allow=()):
    """Every public fitted attribute (``name_``) holding floats is finite."""
    for name, value in vars(est).items():
        if not name.endswith("_") or name.startswith("_") or name in allow:
            continue
        items = value if isinstance(value, tuple | list) else (value,)
        for item in items:
            if isinstance(item, float | np.floating | np.ndarray):
                _finite(item, name)


def _n_rows(x):
    return x.shape[0] if hasattr(x, "shape") else len(x)


def _probabilities(p, n, k, name):
    _assert(p.shape == (n, k), f"{name} has shape {p.shape}, expected {(n, k)}")
    _finite(p, name)
    _assert(np.all((p >= -1e-12) & (p <= 1 + 1e-12)), f"{name} outside [0, 1]")
    if n:
        _assert(np.allclose(p.sum(axis=1), 1.0, atol=1e-5), f"{name} rows do not sum to 1")


# mixture ------------------------------------------------------------------
_MIX_SHAPES = {
    "full": lambda k, d: (k, d, d),
    "tied": lambda k, d: (d, d),
    "diag": lambda k, d: (k, d),
    "spherical": lambda k, d: (k,),
}


def check_mixture_state(est, how):
    """After ``fit`` or ``partial_fit``: the fitted model is the one the parameters
    describe (never a mixed state) and is a valid distribution."""
    _public_floats_finite(est)
    k, d = est.weights_.shape[0], est.n_features_in_
    _assert(k == est.n_components, f"{k} fitted components but n_components={est.n_components}")
    _assert(est.means_.shape == (k, d), f"means_ shape {est.means_.shape}, expected {(k, d)}")
    shape = _MIX_SHAPES[est.covariance_type](k, d)
    for name in ("covariances_", "precisions_", "precisions_cholesky_"):
        got = np.shape(getattr(est, name))
        _assert(got == shape, f"{name} shape {got} for covariance_type={est.covariance_type!r}")
    conc = est.weight_concentration_
    if est.weight_concentration_prior_type == "dirichlet_process":
        _assert(isinstance(conc, tuple) and len(conc) == 2, "DP weight_concentration_ not (a, b)")
        _assert(all(np.shape(c) == (k,) for c in conc), "weight_concentration_ shapes")
    else:
        _assert(np.shape(conc) == (k,), f"weight_concentration_ shape {np.shape(conc)}")
    _assert(np.all(est.weights_ >= 0), "negative weights_")
    _assert(abs(est.weights_.sum() - 1.0) < 1e-8, f"weights_ sum to {est.weights_.sum()!r}")
    _assert(np.all(est.mean_precision_ > 0), "mean_precision_ not positive")
    cov = np.asarray(est.covariances_)
    if est.covariance_type in ("full", "tied"):
        _assert(np.all(np.linalg.eigvalsh(cov) > 0), "covariances_ not positive definite")
    else:
        _assert(np.all(cov > 0), "covariances_ not positive")
    _finite(est.lower_bound_, "lower_bound_")
    if how == "fit":
        _non_decreasing(est.lower_bounds_, "lower_bounds_")
        _assert(est.n_iter_ <= est.max_iter, "n_iter_ > max_iter")


def check_mixture_output(est, method, out, args):
    k, d = est.weights_.shape[0], est.n_features_in_
    if method in ("fit", "partial_fit"):
        _assert(out is est, f"{method} did not return self")
        check_mixture_state(est, method)
        return
    if method == "sample":
        xs, ys = out
        n = args[0]
        _assert(xs.shape == (n, d), f"sample X shape {xs.shape}, expected {(n, d)}")
        _finite(xs, "sample X")
        _assert(ys.shape == (n,) and np.all((ys >= 0) & (ys < k)), "sample labels")
        return
    n = _n_rows(args[0])
    if method == "predict":
        _assert(out.shape == (n,) and out.dtype.kind in "iu", f"predict {out.shape} {out.dtype}")
        _assert(np.all((out >= 0) & (out < k)), f"labels outside [0, {k})")
    elif method == "predict_proba":
        _probabilities(out, n, k, "predict_proba")
    elif method == "score_samples":
        _assert(out.shape == (n,), f"score_samples shape {out.shape}")
        _finite(out, "score_samples")
    elif method == "score":
        _assert(np.ndim(out) == 0, "score not a scalar")
        _finite(out, "score")


# LDA ----------------------------------------------------------------------
def check_lda_state(est, how, k_before=None):
    """After ``fit`` or ``partial_fit``. ``partial_fit`` may keep the fitted topics
    (``k_before``, scikit-learn's behaviour) or start afresh with ``n_components``."""
    allowed = (est.n_components,) if how == "fit" else (est.n_components, k_before)
    _public_floats_finite(est)
    k, v = est.components_.shape
    _assert(k in allowed, f"{k} fitted topics, n_components={est.n_components}")
    _assert(v == est.n_features_in_, "components_ columns != n_features_in_")
    _assert(np.all(est.components_ > 0), "components_ not positive")
    e = est.exp_dirichlet_component_
    _assert(e.shape == (k, v), f"exp_dirichlet_component_ shape {e.shape}")
    _assert(np.all((e >= 0) & (e <= 1)), "exp_dirichlet_component_ outside [0, 1]")
    alpha = np.asarray(est.doc_topic_prior_)
    _assert(alpha.ndim == 0 or alpha.shape == (k,), f"doc_topic_prior_ shape {alpha.shape}")
    _assert(np.all(alpha > 0) and est.topic_word_prior_ > 0, "priors not positive")
    # the counts are discrete: the ELBO bounds a log-probability
    _finite(est.lower_bound_, "lower_bound_")
    _assert(est.lower_bound_ <= 1e-9 * abs(est.lower_bound_) + 1e-12, "lower_bound_ > 0")
    if how == "fit":
        _finite(est.bound_, "bound_")
        _assert(est.bound_ >= 1 - 1e-9, f"bound_ (a perplexity) {est.bound_!r} < 1")
        if est.learning_method == "batch":
            _non_decreasing(est.lower_bounds_, "lower_bounds_")


def check_lda_output(est, method, out, args, k_before=None):
    if method in ("fit", "partial_fit"):
        _assert(out is est, f"{method} did not return self")
        check_lda_state(est, method, k_before)
        return
    if method == "get_feature_names_out":
        _assert(len(out) == est.components_.shape[0], "feature names != fitted topics")
        return
    n = _n_rows(args[0])
    if method == "fit_transform":
        check_lda_state(est, "fit")
    if method in ("transform", "fit_transform"):
        _probabilities(out, n, est.components_.shape[0], method)
    elif method == "score":
        _finite(out, "score")
        _assert(out <= 1e-9 * abs(out) + 1e-12, f"score {out!r} > 0 (a log-probability)")
    elif method == "perplexity":
        _finite(out, "perplexity")
        _assert(out >= 1 - 1e-9, f"perplexity {out!r} < 1")


# regressor ----------------------------------------------------------------
def check_regressor_state(est, elbo_rtol=ELBO_RTOL):
    _public_floats_finite(est, allow=("df_",) if est.noise == "gaussian" else ())
    d = est.n_features_in_
    coef = np.atleast_2d(est.coef_)
    t = coef.shape[0]
    _assert(coef.shape[1] == d, f"coef_ shape {np.shape(est.coef_)}")
    sigma = np.asarray(est.sigma_).reshape(t, d, d)
    _assert(np.allclose(sigma, np.swapaxes(sigma, 1, 2), rtol=1e-6, atol=0), "sigma_ asymmetric")
    _assert(np.all(np.diagonal(sigma, axis1=1, axis2=2) >= 0), "sigma_ diagonal negative")
    _assert(np.all(np.asarray(est.coef_std_) >= 0), "coef_std_ negative")
    _assert(np.all(np.asarray(est.alpha_) > 0), "alpha_ not positive")
    _assert(np.all(np.asarray(est.lambda_) > 0), "lambda_ not positive")
    df = np.asarray(est.df_)
    _assert(np.all(df > 0) and not np.any(np.isnan(df)), f"df_ {df!r}")
    if est.noise == "student_t":
        _finite(df, "df_")
    _finite(est.lower_bound_, "lower_bound_")
    _non_decreasing(est.lower_bounds_, "lower_bounds_", elbo_rtol)
    _assert(est.n_iter_ <= est.max_iter, "n_iter_ > max_iter")


def _predictive_dof(est, inputs):
    """Degrees of freedom of the predictive Student-t, from the class Notes: ``df_``
    (Student-t noise), ``2 a_alpha = 2 alpha_1 + N + fit_intercept`` ('vbem', Gaussian
    noise; N the sum of the sample weights), infinite ('vem', Gaussian noise)."""
    if est.noise == "student_t":
        return np.asarray(est.df_)
    if est.method == "vem":
        return np.asarray(np.inf)
    w = inputs.get("w")
    n = _n_rows(inputs["X"]) if w is None else float(np.sum(w))
    return np.asarray(2.0 * est.alpha_1 + n + float(est.fit_intercept))


def check_regressor_output(est, method, out, args, kwargs, inputs, elbo_rtol=ELBO_RTOL):
    if method == "fit":
        _assert(out is est, "fit did not return self")
        check_regressor_state(est, elbo_rtol)
        return
    n = _n_rows(args[0])
    shape = (n,) if np.ndim(est.coef_) == 1 else (n, np.shape(est.coef_)[0])
    if method == "predict":
        if kwargs.get("return_std"):
            mean, std = out
            _assert(std.shape == shape, f"std shape {std.shape}, expected {shape}")
            # the predictive Student-t has an infinite variance when its dof <= 2
            heavy = np.broadcast_to(_predictive_dof(est, inputs) <= 2, shape)
            _finite(std[~heavy], "predictive std")
            _assert(np.all(std > 0), "predictive std not positive")
        else:
            mean = out
        _assert(mean.shape == shape, f"predict shape {mean.shape}, expected {shape}")
        _finite(mean, "predict")
    elif method == "score":
        _finite(out, "score")
        _assert(out <= 1 + 1e-12, f"R^2 {out!r} > 1")


def check_output(est, step, out, args, kwargs, k_before, inputs, elbo_rtol=ELBO_RTOL):
    if isinstance(est, VariationalGaussianMixture):
        check_mixture_output(est, step.method, out, args)
    elif isinstance(est, VariationalLDA):
        check_lda_output(est, step.method, out, args, k_before)
    else:
        check_regressor_output(est, step.method, out, args, kwargs, inputs, elbo_rtol)


# --------------------------------------------------------------- the runner
def _same(a, b):
    """Whether input ``a`` is unchanged from its copy ``b`` (values, dtype, structure)."""
    if sp.issparse(a):
        return (
            sp.issparse(b)
            and a.format == b.format
            and a.shape == b.shape
            and all(
                np.array_equal(getattr(a, n), getattr(b, n), equal_nan=True)
                and getattr(a, n).dtype == getattr(b, n).dtype
                for n in ("data", "indices", "indptr")
            )
        )
    if hasattr(a, "equals"):  # pandas
        return a.equals(b) and list(getattr(a, "columns", [])) == list(getattr(b, "columns", []))
    if isinstance(a, np.ndarray):
        return (
            a.dtype == b.dtype
            and a.shape == b.shape
            and np.array_equal(a, b, equal_nan=a.dtype.kind in "fc")
        )
    return a is b or a == b


def _resolve(value, inputs):
    return inputs[value.name] if isinstance(value, Ref) else value


def _matches(message, patterns):
    return all(re.search(p, message, flags=re.IGNORECASE) for p in patterns)


def run_case(case, inputs=None):
    """Run one case; the Result's ``failure`` is None when the outcome is accepted."""
    if inputs is None:
        try:
            inputs = case.data()
        except Exception as exc:  # a broken case, reported as a failure of its own
            return Result(case.id, "raised", f"building the inputs failed: {exc!r}")
    originals = copy.deepcopy(inputs)
    est = case.make()
    first_bad = case.first_bad()
    outs = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for i, step in enumerate(case.steps):
            args = tuple(_resolve(a, inputs) for a in step.args)
            kwargs = {k: _resolve(v, inputs) for k, v in step.kwargs.items()}
            k_before = getattr(est, "components_", np.empty((0, 0))).shape[0]
            try:
                out = getattr(est, step.method)(*args, **kwargs)
            except Exception as exc:  # judged below
                message = f"{type(exc).__name__}: {exc}"
                changed = [n for n in inputs if not _same(inputs[n], originals[n])]
                if changed:
                    return Result(case.id, "raised", f"{step} modified input(s) {changed}")
                if not isinstance(exc, ValueError | TypeError):
                    return Result(case.id, "raised", f"{step} raised {message}")
                if case.expect.kind == "ok":
                    return Result(case.id, "raised", f"{step} raised {message}")
                if i < first_bad or (case.expect.kind == "raise" and i != first_bad):
                    return Result(
                        case.id,
                        "raised",
                        f"{step} raised, expected at step {case.steps[first_bad]}: {message}",
                    )
                if not _matches(str(exc), case.expect.patterns):
                    return Result(
                        case.id,
                        "raised",
                        f"{step} raised an error that does not match "
                        f"{case.expect.patterns}: {message}",
                    )
                return Result(case.id, "raised", None, message)
            changed = [n for n in inputs if not _same(inputs[n], originals[n])]
            if changed:
                return Result(case.id, "returned", f"{step} modified input(s) {changed}")
            if case.expect.kind == "raise" and i == first_bad:
                return Result(
                    case.id,
                    "returned",
                    f"{step} returned; expected an error matching {case.expect.patterns}",
                )
            if step.method != "set_params":
                try:
                    check_output(est, step, out, args, kwargs, k_before, inputs, case.elbo_rtol)
                except AssertionError as exc:
                    return Result(case.id, "returned", f"after {step}: {exc}")
            outs[i] = out
        if case.extra is not None:
            try:
                case.extra(est, outs, inputs)
            except AssertionError as exc:
                return Result(case.id, "returned", f"case check: {exc}")
    return Result(case.id, "returned", None)


# ------------------------------------------------------------------ data
def blobs(n=30, d=3, seed=0):
    """Three well-separated Gaussian clusters."""
    rng = np.random.RandomState(seed)
    centers = np.array([[0.0, 0.0, 0.0], [8.0, 0.0, 0.0], [0.0, 8.0, 0.0]])[:, :d]
    return centers[np.arange(n) % 3] + rng.randn(n, d)


def counts(n_docs=20, n_words=12, seed=0):
    """Poisson counts with two empty documents."""
    rng = np.random.RandomState(seed)
    x = rng.poisson(1.5, size=(n_docs, n_words)).astype(np.float64)
    x[[2, 7]] = 0.0
    return x


def regression(n=30, seed=0):
    rng = np.random.RandomState(seed)
    x = rng.randn(n, 3)
    return x, x @ np.array([1.0, -2.0, 0.5]) + 0.5 + 0.1 * rng.randn(n)


def csr(x):
    return sp.csr_matrix(x)


def mixture_inputs(x=None, xt=None, w=None):
    x = blobs() if x is None else x
    return {"X": x, "Xt": x.copy() if xt is None else xt, "w": w}


def lda_inputs(x=None, xt=None):
    x = counts() if x is None else x
    return {"X": x, "Xt": x.copy() if xt is None else xt}


# --------------------------------------------- the cases that need a process
MIXTURE_FIT = [
    Step("fit", (X,), {"sample_weight": W}),
    Step("predict", (XT,)),
    Step("predict_proba", (XT,)),
    Step("score_samples", (XT,)),
    Step("score", (XT,)),
    Step("sample", (4,)),
]
MIXTURE_PARTIAL = [
    Step("partial_fit", (X,), {"sample_weight": W}),
    Step("partial_fit", (X,), {"sample_weight": W}),
    Step("predict_proba", (XT,)),
    Step("score_samples", (XT,)),
    Step("sample", (4,)),
]
LDA_FIT = [
    Step("fit", (X,)),
    Step("transform", (XT,)),
    Step("score", (XT,)),
    Step("perplexity", (XT,)),
]
LDA_PARTIAL = [
    Step("partial_fit", (X,)),
    Step("partial_fit", (X,)),
    Step("transform", (XT,)),
    Step("score", (XT,)),
    Step("perplexity", (XT,)),
]

_MIX_AFTER = {
    "predict": Step("predict", (XT,)),
    "predict_proba": Step("predict_proba", (XT,)),
    "score_samples": Step("score_samples", (XT,)),
    "score": Step("score", (XT,)),
    "sample": Step("sample", (4,)),
    "partial_fit": Step("partial_fit", (X,)),
    "warm_refit": Step("fit", (X,)),
}


def _mixture_state_cases():
    """Fitted mixture (3 components, 'full', DP prior), then ``set_params``, then one
    method: it works on the fitted sizes, starts afresh, or raises naming the
    parameter. A warm refit or ``partial_fit`` that returns must have fitted the
    model the parameters describe (checked by ``check_mixture_state``)."""
    changes = {
        "n_components=5": {"n_components": 5},
        "n_components=1": {"n_components": 1},
        "covariance_type=diag": {"covariance_type": "diag"},
        "covariance_type=spherical": {"covariance_type": "spherical"},
        "covariance_type=tied": {"covariance_type": "tied"},
        "prior_type=dirichlet_distribution": {
            "weight_concentration_prior_type": "dirichlet_distribution"
        },
    }
    cases = []
    for label, params in changes.items():
        name = next(iter(params))
        for method, step in _MIX_AFTER.items():
            warm = method == "warm_refit"
            cases.append(
                Case(
                    f"vgm-set_params({label})-{method}",
                    lambda warm=warm: VariationalGaussianMixture(
                        n_components=3, max_iter=10, random_state=0, warm_start=warm
                    ),
                    [Step("fit", (X,)), Step("set_params", (), params), step],
                    mixture_inputs,
                    either(rf"{name}|refit|fit again|fitted"),
                )
            )
    four = blobs(d=3)
    four = np.hstack([four, four[:, :1] * 0.5 + 1.0])
    cases += [
        Case(
            "vgm-warm_refit-other_n_features",
            lambda: VariationalGaussianMixture(
                n_components=3, max_iter=10, random_state=0, warm_start=True
            ),
            [Step("fit", (X,)), Step("fit", (Ref("X4"),)), Step("predict", (Ref("X4"),))],
            lambda: {**mixture_inputs(), "X4": four},
            either(r"features"),
            bad=("X4",),
            extra=lambda est, outs, inputs: _assert(
                est.n_features_in_ == 4, "refit kept the old n_features_in_"
            ),
        ),
        Case(
            "vgm-partial_fit-other_n_features",
            lambda: VariationalGaussianMixture(n_components=3, random_state=0),
            [Step("partial_fit", (X,)), Step("partial_fit", (Ref("X4"),))],
            lambda: {**mixture_inputs(), "X4": four},
            raises(r"features"),
            bad=("X4",),
        ),
    ]
    return cases


def _lda_state_cases():
    """Fitted LDA (3 topics, batch), then ``set_params``, then one method: it uses the
    fitted topics, or raises naming the parameter (item 8 of the issue: 2000 topics
    used to abort the process)."""
    after = {
        "transform": Step("transform", (XT,)),
        "score": Step("score", (XT,)),
        "perplexity": Step("perplexity", (XT,)),
        "partial_fit": Step("partial_fit", (X,)),
        "get_feature_names_out": Step("get_feature_names_out"),
        "fit_transform": Step("fit_transform", (X,)),
    }
    changes = {
        "n_components=5": {"n_components": 5},
        "n_components=2000": {"n_components": 2000},
        "n_components=1": {"n_components": 1},
        "doc_topic_prior=[0.1,0.2]": {"doc_topic_prior": [0.1, 0.2]},
    }
    cases = []
    for label, params in changes.items():
        name = next(iter(params))
        for method, step in after.items():
            expect = either(rf"{name}|refit|fit again|fitted")
            if method == "fit_transform":  # a new fit: the new parameters hold
                expect = raises(r"doc_topic_prior") if name == "doc_topic_prior" else OK
            cases.append(
                Case(
                    f"vlda-set_params({label})-{method}",
                    lambda: VariationalLDA(n_components=3, max_iter=3, random_state=0),
                    [Step("fit", (X,)), Step("set_params", (), params), step],
                    lda_inputs,
                    expect,
                )
            )
    cases.append(
        Case(
            "vlda-partial_fit-other_n_features",
            lambda: VariationalLDA(n_components=3, random_state=0),
            [Step("partial_fit", (X,)), Step("partial_fit", (Ref("X5"),))],
            lambda: {**lda_inputs(), "X5": counts(n_words=5)},
            raises(r"features"),
            bad=("X5",),
        )
    )
    return cases


def _malformed(kind):
    """A 20 x 20 CSR count matrix spoiled in one way (SciPy does not check index values
    on construction), and its canonical counterpart where one exists."""
    x = counts(20, 20, seed=3)
    good = csr(x)
    bad = good.copy()
    row = int(np.argmax(np.diff(good.indptr) >= 3))  # a row with at least 3 entries
    lo = good.indptr[row]
    if kind == "index=10**8":
        bad.indices[lo] = 10**8
    elif kind == "index=25":
        bad.indices[lo] = 25
    elif kind == "index=-1":
        bad.indices[lo] = -1
    elif kind == "indptr_not_monotone":
        mid = len(bad.indptr) // 2
        bad.indptr[mid] = bad.indptr[mid + 1] + 1
    elif kind == "indptr_beyond_nnz":
        bad.indptr[-1] += 5
    elif kind == "unsorted_indices":
        bad.indices[lo], bad.indices[lo + 1] = bad.indices[lo + 1], bad.indices[lo]
        bad.data[lo], bad.data[lo + 1] = bad.data[lo + 1], bad.data[lo]
        bad.has_sorted_indices = False
        return bad, good
    elif kind == "duplicate_indices":
        # split the first entry of the row into two entries of the same column
        indices = np.insert(bad.indices, lo, bad.indices[lo])
        data = np.insert(bad.data, lo, 1.0)
        data[lo + 1] -= 1.0
        indptr = bad.indptr.copy()
        indptr[row + 1 :] += 1
        bad = sp.csr_matrix((data, indices, indptr), shape=good.shape)
        return bad, good
    return bad, None


MALFORMED = (
    "index=10**8",
    "index=25",
    "index=-1",
    "indptr_not_monotone",
    "indptr_beyond_nnz",
    "unsorted_indices",
    "duplicate_indices",
)


def _same_outputs_as_canonical(case_steps, make):
    """On success, a non-canonical CSR input must give what its canonical form gives."""

    def extra(est, outs, inputs):
        ref_inputs = dict(inputs, X=inputs["Xref"], Xt=inputs["Xref"])
        ref = make()
        for i, step in enumerate(case_steps):
            args = tuple(_resolve(a, ref_inputs) for a in step.args)
            out = getattr(ref, step.method)(*args)
            if step.method in ("transform", "score", "perplexity"):
                _assert(
                    np.allclose(outs[i], out, rtol=1e-9, atol=0),
                    f"{step} differs from the canonical matrix's",
                )
        if hasattr(est, "components_") and hasattr(ref, "components_"):
            _assert(
                np.allclose(est.components_, ref.components_, rtol=1e-9),
                "components_ differ from the canonical matrix's",
            )

    return extra


def _csr_cases():
    chains = {
        "fit-batch": ({}, [Step("fit", (X,))], "X"),
        "fit-online": ({"learning_method": "online", "batch_size": 8}, [Step("fit", (X,))], "X"),
        "fit-cvb0": ({"learning_method": "cvb0"}, [Step("fit", (X,))], "X"),
        "partial_fit": ({}, [Step("partial_fit", (X,))], "X"),
        "transform": ({}, [Step("fit", (Ref("good"),)), Step("transform", (XT,))], "Xt"),
        "score": ({}, [Step("fit", (Ref("good"),)), Step("score", (XT,))], "Xt"),
        "perplexity": ({}, [Step("fit", (Ref("good"),)), Step("perplexity", (XT,))], "Xt"),
    }
    cases = []
    for kind in MALFORMED:
        for label, (params, steps, bad_name) in chains.items():

            def make(params=params):
                return VariationalLDA(n_components=3, max_iter=3, random_state=0, **params)

            def data(kind=kind):
                bad, ref = _malformed(kind)
                good = csr(counts(20, 20, seed=3))
                # deepcopy: SciPy's copy() would reject some of the spoiled matrices
                return {"X": bad, "Xt": copy.deepcopy(bad), "good": good, "Xref": ref}

            if kind in ("unsorted_indices", "duplicate_indices"):
                expect = either(r"sorted|duplicate|canonical")
                extra = _same_outputs_as_canonical(steps, make)
            else:
                expect = raises(
                    r"indices|index|indptr|column",
                    r"\d|range|negative|monoton|(de|in)creas|nnz|size|less than|greater than"
                    r"|bound",
                )
                extra = None
            cases.append(
                Case(
                    f"vlda-csr[{kind}]-{label}",
                    make,
                    steps,
                    data,
                    expect,
                    bad=(bad_name,),
                    extra=extra,
                )
            )
    return cases


SUBPROCESS_CASES = _mixture_state_cases() + _lda_state_cases() + _csr_cases()


def _run_subprocess_cases(first=None, only=False):
    ids = [c.id for c in SUBPROCESS_CASES]
    start = ids.index(first) if first else 0
    for case in SUBPROCESS_CASES[start : start + 1 if only else None]:
        print(json.dumps({"start": case.id}), flush=True)
        if os.environ.get("SKVI_SWEEP_ABORT_IN") == case.id:
            os.abort()  # lets the tests check that a crash is reported (test_inputs.py)
        result = run_case(case)
        print(
            json.dumps(
                {
                    "id": case.id,
                    "failure": result.failure,
                    "outcome": result.outcome,
                    "detail": result.detail,
                }
            ),
            flush=True,
        )


def _summary():
    """Run the whole sweep (the memory-safety cases in subprocesses, as the tests do) and
    print every failure and the outcomes per estimator."""
    from tests.test_inputs import IN_PROCESS_CASES, _run_in_subprocesses

    records = {}
    for case in IN_PROCESS_CASES:
        result = run_case(case)
        records[case.id] = {"failure": result.failure, "outcome": result.outcome}
    sub, notes = _run_in_subprocesses()
    records.update(sub)
    table = {}
    for case_id, record in records.items():
        status = "failed" if record["failure"] else record["outcome"]
        counts_ = table.setdefault(case_id.split("-")[0], {})
        counts_[status] = counts_.get(status, 0) + 1
        if record["failure"]:
            print(f"FAIL {case_id}: {record['failure']}", flush=True)
    print(*notes, sep="\n")
    for est, counts_ in table.items():
        print(est, sum(counts_.values()), counts_)


if __name__ == "__main__":
    # run from the package module, not from ``__main__``: tests.test_inputs imports it,
    # and its classes (Ref) must be the same objects
    from tests import _input_cases as module

    if sys.argv[1:2] == ["--summary"]:
        module._summary()
    else:
        args = [a for a in sys.argv[1:] if a != "--only"]
        module._run_subprocess_cases(args[0] if args else None, only="--only" in sys.argv)
