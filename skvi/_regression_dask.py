""":class:`~skvi.VariationalEMRegressor` on Dask arrays: the passes over the rows run per
chunk on the workers and return additive sums (and maxima), summed there in a fixed
order of the chunks (:func:`skvi._dask.map_reduce`); the updates run on the client.

Gaussian noise: three passes (weighted sums and maxima with the validation of every
chunk; the statistics about the mean, :func:`~skvi._regression_kernels.chunk_statistics`;
the least-squares residual sum of squares), then every iteration runs on the client.
Student-t noise: every iteration and target, one pass for the residuals (kept on the
workers), one round trip per evaluation of the degrees-of-freedom objective (when ``df``
is learned: one task per worker, the chunks' few numbers summed on the client in the
order of the chunks, :func:`skvi._dask.map_reduce_small`) and one pass for the
statistics under the new weights. With fewer rows than coefficients (the Woodbury form
works on the rows themselves) ``X`` is gathered to the client if it has at most
:data:`GATHER_LIMIT` entries, else ``fit`` raises a ValueError. The regression has no
Numba kernel to run on the workers.
"""

from functools import partial

import numpy as np
from sklearn.utils import check_array
from sklearn.utils.validation import (
    _check_feature_names,
    _check_n_features,
    _check_sample_weight,
    _check_y,
    check_is_fitted,
)

from . import _dask
from . import _regression_kernels as kern
from ._special import expm1_minus

#: Largest number of entries of ``X`` gathered to the client when there are fewer rows
#: (of positive weight) than coefficients: the Woodbury form needs the rows themselves.
GATHER_LIMIT = 2**22

_NAME = "VariationalEMRegressor"


# ------------------------------------------------------------- chunk functions
def _add(a, b):
    """Elementwise sum of nested tuples of arrays and numbers (None stays None)."""
    if a is None:
        return None
    if isinstance(a, tuple):
        items = [_add(x, y) for x, y in zip(a, b, strict=True)]
        return type(a)(*items) if hasattr(a, "_fields") else tuple(items)
    return a + b


def _add_max(a, b):
    """``(sums, maxima)`` pairs: sums added, maxima by ``np.maximum``."""
    return _add(a[0], b[0]), np.maximum(a[1], b[1])


def _rows(Xc, yc, sc):
    """A chunk as the in-memory fit sees it: ``X`` float32/float64, ``Y`` (n, T) float64,
    the weights, the rows of zero weight dropped."""
    Xc = np.asarray(Xc)
    if Xc.dtype not in (np.float32, np.float64):
        Xc = Xc.astype(np.float64)
    Y = np.asarray(yc, dtype=np.float64).reshape(Xc.shape[0], -1)
    s = np.ones(Xc.shape[0]) if sc is None else np.asarray(sc, dtype=np.float64)
    keep = s > 0
    if not np.all(keep):
        Xc, Y, s = Xc[keep], Y[keep], s[keep]
    return Xc, Y, s


def _first_pass(Xc, yc, sc):
    """Validate a chunk (the checks of the in-memory fit) and return its weighted sums
    ``(sum s, rows of positive weight, s @ X, s @ Y)`` and maxima ``(max|X|, max|y|)``."""
    if Xc.shape[0]:
        Xc = check_array(Xc, dtype=[np.float64, np.float32], input_name="X", estimator=_NAME)
        yc = _check_y(yc, multi_output=True, y_numeric=True, estimator=_NAME)
        if sc is not None:
            sc = _check_sample_weight(sc, Xc, dtype=np.float64, ensure_non_negative=True)
    maxima = np.array(
        [np.max(np.abs(Xc), initial=0.0), np.max(np.abs(np.asarray(yc, float)), initial=0.0)]
    )
    X, Y, s = _rows(Xc, yc, sc)
    sx = s @ X if X.dtype == np.float64 else s @ X.astype(np.float64)
    return (float(s.sum()), X.shape[0], sx, s @ Y), maxima


def _centred_pass(Xc, yc, sc, x_offset, y_offset, gram):
    """``sum s Yc^2`` per target, and the :func:`chunk_statistics` about ``x_offset``
    (``gram``) or the weighted column sums of squares; maxima ``max|Yc|`` per target."""
    X, Y, s = _rows(Xc, yc, sc)
    Yc = Y - y_offset
    y_ss = np.einsum("n,nt->t", s, Yc**2)
    if gram:
        stats = kern.chunk_statistics(X, x_offset, Yc, s)
    else:
        stats = kern._weighted_column_ss(X, x_offset, s)
    return (y_ss, stats), np.max(np.abs(Yc), axis=0, initial=0.0)


def _rss_pass(Xc, yc, sc, x_offset, y_offset, B):
    X, Y, s = _rows(Xc, yc, sc)
    return kern._weighted_rss(X, x_offset, s, Y - y_offset, B)


def _residual_pass(Xc, yc, sc, x_offset, y_offset, t, mean, chol, intercept, e_alpha, nu, unit):
    """Student-t: the squared residuals and ``e_n`` of target ``t`` (kept on the
    worker) and the largest rounding shift of a weight."""
    X, Y, s = _rows(Xc, yc, sc)
    y = Y[:, t] - y_offset[t]
    r, qn = kern.residual_pass(X, x_offset, y, mean, chol, intercept)
    e = r * r + qn
    return s, r * r, e, kern.residual_shift(e_alpha, unit, r, e, nu)


def _kept_residuals(*args):
    """:func:`_residual_pass`, kept on the worker (a list: one argument of the later
    tasks, also where it is a value rather than a future), and its shift."""
    res = _residual_pass(*args)
    return list(res), res[3]


def _df_sum(res, nu, e_alpha):
    return kern.df_log_sum(nu, res[0], e_alpha * res[2])


def _newton_sums(res, nu, e_alpha):
    return kern.df_newton_sums(nu, res[0], e_alpha * res[2])


def _tau_pass(Xc, yc, sc, res, x_offset, y_offset, t, intercept, e_alpha, nu, post):
    """Student-t: the sums of :math:`q(\\tau)` and the statistics under the weights
    ``s E[tau]`` (as :func:`~skvi._regression_kernels.tau_update`); with ``post`` =
    ``(mean, chol, unit)`` and no kept residuals ``res`` (fixed degrees of freedom), the
    residual pass first, in the same task. Returns ``(sums, largest shift)``."""
    shift = 0.0
    if res is None and post is not None:
        res = _residual_pass(Xc, yc, sc, x_offset, y_offset, t, post[0], post[1], intercept,
                             e_alpha, nu, post[2])  # fmt: skip
        shift = res[3]
    X, Y, s = _rows(Xc, yc, sc)
    y = Y[:, t] - y_offset[t]
    a_tau = 0.5 * (nu + 1.0)
    if res is None:
        b = np.full(X.shape[0], a_tau)
    else:
        b = 0.5 * nu + 0.5 * e_alpha * res[2]
    weights = s * (a_tau / b)
    stats = kern.chunk_statistics(X, x_offset, y, weights, intercept)
    if res is None:
        sums = (weights @ (y * y), 0.0)
    else:
        sums = (weights @ res[1], weights @ res[2])
    excess = s @ expm1_minus(np.log(a_tau) - np.log(b))
    return (stats, s @ np.log(b), excess, sums), shift


# ------------------------------------------------------------------ the data
class DaskRegressionData(kern.RegressionData):
    """:class:`~skvi._regression_kernels.RegressionData` of a Dask array: the same
    attributes, from sums over chunks; the Student-t passes run on the workers."""

    def __init__(self, blocks, first, n_features, n_targets, fit_intercept, noise, prior):
        self.blocks = blocks
        (N, n_pos, sx, sy), _ = first
        self.N, self.n_samples, self.n_features, self.n_targets = N, n_pos, n_features, n_targets
        self.intercept = bool(fit_intercept)
        d = n_features
        student = noise == "student_t"
        self.mode = "student" if student else ("ridge" if prior == "ridge" else "ard")
        self.joint_intercept = student and self.intercept
        self.p = d + int(self.intercept)
        x_offset = sx / N if self.intercept else np.zeros(d)
        self.y_offset = sy / N if self.intercept else np.zeros(n_targets)
        shared = _dask.share((x_offset, self.y_offset, not student))
        (self.y_ss, stats), self.y_max = self._reduce(_unpack(_centred_pass), shared)
        self.kernel = False
        if student:
            self.x_offset, self.col_ss = x_offset, stats
            return
        G, C, shift = kern.centred_gram(stats, self.intercept)
        self.x_offset = x_offset + shift
        F = kern._scaled_factor(G, self.x_offset, self.N)
        self._spectral(F, C, False, self._rss)

    def _reduce(self, func, *args, maxima=True):
        return _dask.map_reduce(func, self.blocks, *args, add=_add_max if maxima else _add)

    def _rss(self, B):
        offsets = _dask.share((self.x_offset, self.y_offset, B))
        return self._reduce(_unpack(_rss_pass), offsets, maxima=False)

    def tau_update(self, prior, t, post, e_alpha, nu):
        """:func:`~skvi._regression_kernels.tau_update` over the chunks: with learned
        degrees of freedom the residuals are kept on the workers (one pass), each
        evaluation of the objective in :math:`\\nu` is one round trip over them
        (:func:`skvi._dask.map_reduce_small`), then one pass for the statistics; with
        fixed ones a single pass."""
        offsets = (self.x_offset, self.y_offset)
        res, shift, fit = [None] * len(self.blocks), 0.0, None
        if post is not None:
            unit = np.finfo(np.float64).eps * float(self.y_max[t])
            fit = (post.mean, post.chol, unit)
        if post is not None and prior.df is None:
            args = _dask.share((*offsets, t, *fit[:2], self.intercept, e_alpha, nu, unit))
            shift, res = _dask.map_reduce_keep(_unpack(_kept_residuals), self.blocks, args, add=max)
            kern.raise_if_unresolved(prior, e_alpha, unit, shift)
            # each evaluation is one round trip, one task per worker holding residuals:
            # a few numbers per chunk, summed in the order of the chunks
            small = partial(_dask.map_reduce_small, where=_dask.placement(res), add=_add)
            values = {}

            def objective(value):
                if value not in values:  # the search evaluates its result twice
                    total = small(_df_sum, res, value, e_alpha)
                    values[value] = kern.df_objective_from(value, self.N, total)
                return values[value]

            def sums(value):
                return small(_newton_sums, res, value, e_alpha)

            nu = kern.update_df(None, None, nu, objective, sums, self.N)
        args = _dask.share((*offsets, t, self.intercept, e_alpha, nu, fit))
        blocks = [(*b, r) for b, r in zip(self.blocks, res, strict=True)]
        (stats, log_b, excess, (sdr2, q_sum)), shift = _dask.map_reduce(
            _unpack(_tau_pass), blocks, args, add=_add_max
        )
        if post is not None:
            kern.raise_if_unresolved(prior, e_alpha, unit, shift)
        a_tau = 0.5 * (nu + 1.0)
        tau = kern.TauSummary(np.array([a_tau]), np.array([log_b]), np.array([excess]))
        gram, zty = 0.5 * (stats.gram + stats.gram.T), stats.zty
        m0 = post.mean if post is not None else np.zeros(self.p)
        ztdr = zty - gram @ m0 if post is not None else zty
        gstats = kern.GramStats(gram, zty, m0, sdr2, ztdr, tau=tau)
        if post is None:
            return gstats, nu, None
        sse = np.array([sdr2])
        if self.joint_intercept:
            sse = sse + kern.INTERCEPT_PRIOR * post.mean[-1] ** 2
        summary = post.summary._replace(Q=np.array([q_sum]), sse=sse)
        return gstats, nu, post._replace(summary=summary, tau=tau)

    def sample_precisions(self, pred, X, Y, df, e_alpha):
        func = partial(_sample_precisions_chunk, pred, df, e_alpha)
        return X.map_blocks(func, Y, dtype=np.float64, chunks=(X.chunks[0], (self.n_targets,)))


def _sample_precisions_chunk(pred, df, e_alpha, Xc, Yc):
    return kern.sample_precisions(pred, Xc, Yc, df, e_alpha)


def _unpack(func):
    """``func`` taking its last argument (a tuple of shared values) as separate
    arguments: one shared value per pass instead of many."""
    return partial(_call_unpacked, func)


def _call_unpacked(func, *args):
    return func(*args[:-1], *args[-1])


# ------------------------------------------------------------------- entry points
def _as_2d_target(y, X):
    import dask.array as da

    if not _dask.is_dask_array(y):
        y = np.asarray(y)
        _same_rows(y, X, "y")
        y = da.from_array(y, chunks=(X.chunks[0],) + y.shape[1:])
    if y.ndim == 1:
        return _dask.aligned(y, X, "y")
    _dask.check_row_chunks(y, "y")
    _same_rows(y, X, "y")
    return y.rechunk({0: X.chunks[0]})


def _same_rows(a, X, name):
    if a.shape[0] != X.shape[0]:
        raise ValueError(
            f"{name} has {a.shape[0]} rows; X has {X.shape[0]}: they must have the same "
            "number of samples."
        )


def _aligned(sample_weight, X):
    if not _dask.is_dask_array(sample_weight):
        sample_weight = np.asarray(sample_weight)
        _same_rows(sample_weight, X, "sample_weight")
    return _dask.aligned(sample_weight, X, "sample_weight")


def fit_data(est, X, y, sample_weight, fit_data_type):
    """The data of a fit on the Dask array ``X``: ``(None, fit_data)``, or, with fewer
    rows than coefficients and a small ``X``, ``((X, y, sample_weight), None)`` gathered
    as NumPy arrays for the in-memory fit."""
    _dask.require_dask(_NAME)
    _dask.check_row_chunks(X, "X")
    if X.shape[0] < 2:
        raise ValueError(
            f"Found array with {X.shape[0]} sample(s) (shape={X.shape}) while a minimum "
            f"of 2 is required by {_NAME}."
        )
    _check_n_features(est, X, reset=True)
    _check_feature_names(est, X, reset=True)
    y = _as_2d_target(y, X)
    s = None if sample_weight is None else _aligned(sample_weight, X)
    xs, ys = _dask.row_blocks(X, "X"), _dask.row_blocks(y, "y", ndim=y.ndim)
    ss = [None] * len(xs) if s is None else _dask.row_blocks(s, "sample_weight", ndim=1)
    blocks = list(zip(xs, ys, ss, strict=True))
    first = _dask.map_reduce(_first_pass, blocks, add=_add_max)
    (N, n_pos, _, _), (x_max, y_max) = first
    if not N > 0:
        raise ValueError("The sample weights sum to zero: there is nothing to fit.")
    kern.check_magnitudes(x_max, y_max, N)
    d, single = X.shape[1], y.ndim == 1
    n_targets = 1 if single else y.shape[1]
    student = est.noise == "student_t"
    if n_pos < (d + int(est.fit_intercept) if student else d):
        if X.shape[0] * X.shape[1] > GATHER_LIMIT:
            raise ValueError(
                f"{_NAME} on a Dask array with fewer rows of positive weight ({n_pos}) "
                f"than coefficients ({d}) is not supported above {GATHER_LIMIT} entries "
                "of X (the Woodbury form needs the rows themselves): fit a NumPy array."
            )
        return _dask.compute(X, y, s if s is not None else None), None
    design = DaskRegressionData(
        blocks, first, d, n_targets, est.fit_intercept, est.noise, est.prior
    )
    Xf = X if X.dtype in (np.float32, np.float64) else X.astype(np.float64)
    Y = y.astype(np.float64).reshape((y.shape[0], n_targets))
    return None, fit_data_type(design, Xf, Y, single)


def _apply_chunk(Xc, func):
    if Xc.shape[0]:
        Xc = check_array(Xc, dtype=[np.float64, np.float32], input_name="X", estimator=_NAME)
    return np.concatenate(func(Xc), axis=1)


def lazy_apply(est, X, func):
    """``func`` (rows -> tuple of (n, T) arrays) on every chunk of ``X``: lazy Dask
    arrays, through ``est._output``."""
    check_is_fitted(est)
    _dask.check_row_chunks(X, "X")
    _check_n_features(est, X, reset=False)
    d, T = X.shape[1], est._pred.coef.shape[0]
    k = len(func(np.zeros((0, d))))
    stacked = X.map_blocks(
        _apply_chunk, _dask.share(func), dtype=np.float64, chunks=(X.chunks[0], (k * T,))
    )
    return est._output(*(stacked[:, i * T : (i + 1) * T] for i in range(k)))


def _score_pass(yc, yh, wc, y_mean):
    Y = np.asarray(yc, dtype=np.float64).reshape(yh.shape)
    w = np.ones(Y.shape[0]) if wc is None else np.asarray(wc, dtype=np.float64)
    if y_mean is None:
        return w.sum(), w @ Y, w @ (Y - yh) ** 2
    return w @ (Y - y_mean) ** 2


def dask_score(est, X, y, sample_weight):
    """:math:`R^2` of ``predict`` on Dask arrays, as scikit-learn's ``r2_score`` (uniform
    average over targets), from sums over chunks."""
    pred = est.predict(X)
    pred = pred.reshape((X.shape[0], -1))
    y = _as_2d_target(y, X)
    w = None if sample_weight is None else _aligned(sample_weight, X)
    ys = _dask.row_blocks(y, "y", ndim=y.ndim)
    ps = _dask.row_blocks(pred, "y_pred")
    ws = [None] * len(ys) if w is None else _dask.row_blocks(w, "sample_weight", ndim=1)
    blocks = list(zip(ys, ps, ws, strict=True))
    w_sum, wy, num = _dask.map_reduce(_score_pass, blocks, None, add=_add)
    den = _dask.map_reduce(_score_pass, blocks, wy / w_sum, add=_add)
    with np.errstate(divide="ignore", invalid="ignore"):
        r2 = np.where(den > 0, 1.0 - num / den, np.where(num == 0, 1.0, 0.0))
    return float(np.mean(r2))
