"""The Gaussian mixture over data in row chunks: an initialisation that scales (used in
memory too, so that both paths agree) and the fit, the stochastic steps and the
predictions over Dask arrays.

:class:`~skvi.mixture.VariationalGaussianMixture` calls :func:`reduce_dask` (validation,
internal units and data statistics from per-chunk reductions), then runs its fit loop
(or, in ``partial_fit``, one stochastic step over a Dask array as one mini-batch) with
:data:`ON_DASK` (or :data:`IN_MEMORY`) as the steps of its hooks. On a Dask array each
pass maps a function over the row chunks on the workers (the serial Numba kernels) and
sums the results in a fixed order of the chunks (:func:`skvi._dask.map_reduce`); the
update and the ELBO run on the client. Dask is imported only when a Dask array is seen.

The initialisation (:func:`initial_rule`) sees at most :data:`SAMPLE_ROWS` rows: all of
them when the data are that small (the fit is then the same as before chunking), else a
sample of rows drawn by index from ``random_state``, gathered to the client. 'kmeans'
runs k-means on the sample, then gives each row the component of its nearest centre
(per chunk); 'k-means++' and 'random_from_data' seed from the sample; 'random' draws
per-row uniforms from fixed blocks of :data:`RANDOM_BLOCK_ROWS` rows seeded by
``(seed, block index)``, which do not depend on the chunking.
"""

import functools
import inspect
import operator
import types
from typing import NamedTuple

import numpy as np
from sklearn.cluster import KMeans, kmeans_plusplus
from sklearn.utils import check_array
from sklearn.utils.validation import _check_feature_names, _check_n_features, _check_sample_weight

from . import _dask
from . import _mixture_kernels as kern
from ._mixture_priors import max_exponent, units_from_sums

#: Largest number of rows the initialisation gathers.
SAMPLE_ROWS = 10_000
#: Rows per block of the 'random' initialisation's uniforms (when above SAMPLE_ROWS).
RANDOM_BLOCK_ROWS = 1024
_NAME = "VariationalGaussianMixture"
_FLOATS = [np.float64, np.float32]


class FitData(NamedTuple):
    """What the hooks of the estimator's fit loop receive."""

    chunk: object  #: a kern.Chunk in memory, or the chunks of a Dask array (DaskChunks)
    prior: kern.MixturePrior
    steps: object  #: IN_MEMORY or ON_DASK


# ------------------------------------------------------------ the initialisation
class InitRule(NamedTuple):
    """How the initial responsibilities of any row follow from its index and values:
    ``kind`` 'rows' (``resp`` of the sorted global ``rows``, none elsewhere),
    'centres' (one-hot nearest of ``centres``) or 'random' (uniforms of ``seed``)."""

    kind: str
    n_components: int
    rows: object = None
    resp: object = None
    centres: object = None
    seed: int = 0


def sample_rows(n_rows, size, random_state):
    """``size`` distinct row indices below ``n_rows`` (sorted), drawn from
    ``random_state`` without building a permutation of all rows."""
    picked = np.empty(0, dtype=np.int64)
    while len(picked) < size:
        draw = np.concatenate([picked, random_state.randint(0, n_rows, size, dtype=np.int64)])
        _, first = np.unique(draw, return_index=True)
        picked = draw[np.sort(first)]
    return np.sort(picked[:size])


def initial_resp(X, w, n_components, init_params, random_state):
    """Initial responsibilities of the rows ``X`` (all rows, or a sample), computed on the
    distinct rows in sorted order (with their summed weights) so that weights and
    repeated rows initialise alike."""
    keep = w > 0
    unique, inverse = np.unique(X[keep], axis=0, return_inverse=True)
    wu = np.bincount(inverse.ravel(), weights=w[keep], minlength=len(unique))
    n_unique = len(unique)
    k = min(n_components, n_unique)
    resp_u = np.zeros((n_unique, n_components))
    if init_params == "kmeans":
        kmeans = KMeans(n_clusters=k, n_init=1, random_state=random_state)
        labels = kmeans.fit(unique, sample_weight=wu).labels_
        resp_u[np.arange(n_unique), labels] = 1.0
    elif init_params == "k-means++":
        _, indices = kmeans_plusplus(unique, k, sample_weight=wu, random_state=random_state)
        resp_u[indices, np.arange(k)] = 1.0
    elif init_params == "random_from_data":
        indices = random_state.choice(n_unique, size=k, replace=False, p=wu / wu.sum())
        resp_u[indices, np.arange(k)] = 1.0
    else:
        resp_u = random_state.uniform(size=(n_unique, n_components))
        resp_u /= resp_u.sum(axis=1, keepdims=True)
    resp = np.zeros((X.shape[0], n_components))
    resp[keep] = resp_u[inverse.ravel()]
    return resp


def initial_rule(n_rows, take, n_components, init_params, random_state):
    """The :class:`InitRule` of ``init_params``; ``take(rows)`` returns the rows (all
    rows for None) and their weights as NumPy arrays."""
    if n_rows <= SAMPLE_ROWS:
        X, w = take(None)
        resp = initial_resp(X, w, n_components, init_params, random_state)
        return InitRule("rows", n_components, rows=np.arange(n_rows), resp=resp)
    if init_params == "random":
        return InitRule("random", n_components, seed=int(random_state.randint(2**31 - 1)))
    rows = sample_rows(n_rows, SAMPLE_ROWS, random_state)
    X, w = take(rows)
    if not w.sum() > 0:
        w = np.ones_like(w)  # a sample of zero-weight rows: seed from it all the same
    if init_params == "kmeans":
        keep = w > 0
        unique, inverse = np.unique(X[keep], axis=0, return_inverse=True)
        wu = np.bincount(inverse.ravel(), weights=w[keep], minlength=len(unique))
        k = min(n_components, len(unique))
        kmeans = KMeans(n_clusters=k, n_init=1, random_state=random_state)
        centres = kmeans.fit(unique, sample_weight=wu).cluster_centers_
        return InitRule("centres", n_components, centres=centres.astype(np.float64))
    resp = initial_resp(X, w, n_components, init_params, random_state)
    return InitRule("rows", n_components, rows=rows, resp=resp)


def rule_resp(X, start, rule):
    """The initial responsibilities of the rows ``X`` (global rows ``start, start+1,
    ...``) under ``rule``, shape ``(len(X), n_components)``."""
    m, n_comp = X.shape[0], rule.n_components
    if rule.kind == "random":
        b0 = start // RANDOM_BLOCK_ROWS
        b1 = max(b0 + 1, -(-(start + m) // RANDOM_BLOCK_ROWS))
        u = np.concatenate([
            np.random.default_rng([rule.seed, b]).random((RANDOM_BLOCK_ROWS, n_comp))
            for b in range(b0, b1)
        ])  # fmt: skip
        u = u[start - b0 * RANDOM_BLOCK_ROWS :][:m]
        return u / u.sum(axis=1, keepdims=True)
    resp = np.zeros((m, n_comp))
    if rule.kind == "centres":
        # row by row, so that a row's distances do not depend on its chunk
        dist = np.empty((m, len(rule.centres)))
        for k, centre in enumerate(rule.centres):
            dist[:, k] = np.sum((X - centre) ** 2, axis=1)
        resp[np.arange(m), dist.argmin(axis=1)] = 1.0
    else:
        lo, hi = np.searchsorted(rule.rows, [start, start + m])
        resp[rule.rows[lo:hi] - start] = rule.resp[lo:hi]
    return resp


def memory_initial_state(chunk, prior, n_components, init_params, random_state):
    """The initial state of a :class:`~skvi._mixture_kernels.Chunk` held in memory."""
    X, w = chunk.X, chunk.weights

    def take(rows):
        return (X, w) if rows is None else (X[rows], w[rows])

    rule = initial_rule(len(X), take, n_components, init_params, random_state)
    return kern.state_from_resp(chunk, prior, rule_resp(X, 0, rule))


#: The steps of the fit loop's hooks for data in memory.
IN_MEMORY = types.SimpleNamespace(
    initial_state=memory_initial_state,
    sweep=kern.sweep,
    delete_moves=kern.delete_moves,
    stochastic_sweep=kern.stochastic_sweep,
)


# ------------------------------------------------------------ tasks on a chunk
def _arrays(X, w):
    """A chunk's rows (float32 or float64) and weights (float64; ones if None)."""
    X = np.asarray(X)
    if X.dtype not in _FLOATS:
        X = X.astype(np.float64)
    w = np.ones(X.shape[0]) if w is None else np.asarray(w, dtype=np.float64)
    return X, w


#: scikit-learn >= 1.7 refuses all-zero weights unless told that a chunk may have them
#: (older versions accept them).
_ZERO_OK = (
    {"allow_all_zero_weights": True}
    if "allow_all_zero_weights" in inspect.signature(_check_sample_weight).parameters
    else {}
)


def _check_chunk(X, w, start):
    """Validate a chunk as :meth:`fit` validates an array in memory; its ``max |X|``,
    total weight and largest weight."""
    X = check_array(X, dtype=_FLOATS, ensure_min_samples=0, estimator=_NAME, input_name="X")
    if w is not None and X.shape[0]:  # (a chunk may hold no weight; the total must)
        w = _check_sample_weight(w, X, dtype=np.float64, ensure_non_negative=True, **_ZERO_OK)
    X, w = _arrays(X, w)
    if not X.size:
        return 0.0, 0.0, 0.0
    return float(np.max(np.abs(X))), float(w.sum()), float(w.max())


def _max_sum(a, b):
    return max(a[0], b[0]), a[1] + b[1]


def _max_sum_max(a, b):
    return max(a[0], b[0]), a[1] + b[1], max(a[2], b[2])


def _weight_total(w):
    return float(np.sum(w, dtype=np.float64))


def _weighted_sum(X, w, start, e0):
    X, w = _arrays(X, w)
    return w @ np.ldexp(X.astype(np.float64), -e0)


def _spread(X, w, start, e0, mean):
    X, w = _arrays(X, w)
    work = np.ldexp(X.astype(np.float64), -e0) - mean
    return (float(np.max(np.abs(work))) if work.size else 0.0), (work.T * w) @ work


def _estep_task(X, w, start, units, coef, ctype):
    X, w = _arrays(X, w)
    return kern.chunk_stats(X, w, units, coef, ctype, serial=True)


def _resp_task(X, w, start, units, ctype, rule, arrays):
    """The statistics of a chunk under the responsibilities of ``rule`` (its arrays
    ``rows, resp, centres`` in ``arrays``) or, for a warm start (``rule`` None), of the
    posterior ``arrays = [shift, inv_scale, coef, ctype]``; with whether they are finite
    and whether every weighted row's sum to one."""
    X, w = _arrays(X, w)
    if rule is None:
        with np.errstate(all="ignore"):
            resp = np.exp(kern.log_resp_serial(X, *arrays)[0])
    else:
        rows, resp, centres = arrays
        resp = rule_resp(X, start, rule._replace(rows=rows, resp=resp, centres=centres))
    finite = bool(np.all(np.isfinite(resp)))
    if not finite:
        resp = np.zeros_like(resp)
    dist = bool(np.all(np.abs(resp[w > 0].sum(axis=1) - 1.0) <= 1e-9))
    return kern.resp_chunk_stats(X, w, units, resp, ctype, serial=True), finite, dist


def _add_flagged(a, b):
    return kern.add_stats(a[0], b[0]), a[1] and b[1], a[2] and b[2]


# ------------------------------------------------------------ fits over Dask arrays
class DaskChunks(NamedTuple):
    """The data of a fit over a Dask array: ``X`` and the weights ``w`` (a Dask array
    chunked like ``X``, or None), their row chunks as ``(X, w, first row)`` blocks, the
    internal ``units``, and the factor ``stats_scale`` the statistics count with (as in
    :class:`~skvi._mixture_kernels.Chunk`: one for :meth:`fit`)."""

    X: object
    w: object
    blocks: list
    units: kern.Units
    stats_scale: float = 1.0


class Reduced(NamedTuple):
    """What :func:`reduce_dask` returns."""

    X: object
    w: object
    blocks: list
    total_weight: float
    units: tuple  # (Units, deviation, data covariance) as data_units returns them, or None


def _blocks(X, w):
    """The row chunks of ``X`` and ``w`` (or None) as ``(X, w, first row)`` blocks."""
    x_blocks = _dask.row_blocks(X, "X")
    w_blocks = [None] * len(x_blocks) if w is None else _dask.row_blocks(w, "w", ndim=1)
    starts = np.concatenate([[0], np.cumsum(X.chunks[0])[:-1]]).astype(int)
    return [(xb, wb, int(s)) for xb, wb, s in zip(x_blocks, w_blocks, starts, strict=True)]


def reduce_dask(est, X, sample_weight, reset=True, relative=False):
    """Validate a Dask ``X`` (and ``sample_weight``) chunk by chunk on the workers, and
    reduce the data to the internal units and covariance of
    :func:`~skvi._mixture_priors.data_units` (three passes).

    With ``relative`` (a :meth:`partial_fit` batch) the weights become ``w / max(w)``,
    as in memory, and their total comes from one more pass over the weights alone.
    Without ``reset`` (a later :meth:`partial_fit`: the fitted model keeps its units)
    the units are not reduced (``units`` None) and one row is enough.
    """
    _dask.require_dask(_NAME)
    _dask.check_row_chunks(X, "X")
    _check_n_features(est, X, reset=reset)
    _check_feature_names(est, X, reset=reset)
    min_samples = 2 if reset else 1
    if X.shape[0] < min_samples:
        raise ValueError(
            f"Found array with {X.shape[0]} sample(s) (shape={X.shape}) while a minimum "
            f"of {min_samples} is required by {_NAME}."
        )
    w = None if sample_weight is None else _dask.aligned(sample_weight, X, "sample_weight")
    blocks = _blocks(X, w)
    amax, wsum, wmax = _dask.map_reduce(_check_chunk, blocks, add=_max_sum_max)
    if not wsum > 0:  # as fit says it in memory (scikit-learn's words where it checks)
        raise ValueError(
            "Sample weights must contain at least one non-zero number."
            if _ZERO_OK
            else "The sample weights sum to zero: there is nothing to fit."
        )
    if relative and w is not None:  # (without weights: ones, whose largest is one)
        w = w.astype(np.float64) / wmax  # (each weight divided, as in memory)
        blocks = _blocks(X, w)
        wsum = _dask.map_reduce(_weight_total, [b[1] for b in blocks], add=operator.add)
    if not reset:
        return Reduced(X, w, blocks, wsum, None)
    e0 = max_exponent(amax)
    mean = _dask.map_reduce(_weighted_sum, blocks, e0, add=np.add) / wsum
    dmax, scatter = _dask.map_reduce(_spread, blocks, e0, _dask.share(mean), add=_max_sum)
    return Reduced(X, w, blocks, wsum, units_from_sums(e0, mean, dmax, scatter, wsum))


def _stats(chunks, task, *args, add=kern.add_stats):
    return _dask.map_reduce(task, chunks.blocks, chunks.units, *args, add=add)


def dask_sweep(chunks, prior, coef):
    """:func:`~skvi._mixture_kernels.sweep` over the chunks of a Dask array."""
    ctype = prior.covariance_type
    stats = _stats(chunks, _estep_task, _dask.share(coef), ctype)
    return kern.updated(stats, prior, chunks.units.scale_exp)


def state_from_chunk_resp(chunks, prior, rule, arrays):
    """:func:`~skvi._mixture_kernels.state_from_resp` over the chunks, with the
    responsibilities of ``rule`` or of a fitted posterior (:func:`_resp_task`); None if
    they are not finite. ``arrays`` go to the workers once (:func:`skvi._dask.share`)."""
    ctype, e, factor = prior.covariance_type, chunks.units.scale_exp, chunks.stats_scale
    arrays = [_dask.share(a) if isinstance(a, np.ndarray) else a for a in arrays]
    stats, finite, dist = _stats(chunks, _resp_task, ctype, rule, arrays, add=_add_flagged)
    if not finite:
        return None
    state = kern.new_state(kern.scale_stats(stats, factor), prior)
    stats = state.stats
    if not dist:  # seeds: the ELBO of the E-step under the factors they give
        stats = _stats(chunks, _estep_task, _dask.share(state.coef), ctype)
        stats = kern.scale_stats(stats, factor)
    return state, kern.elbo(stats, state.posterior, prior, e, state.coef, state.kl)


def dask_initial_state(chunks, prior, n_components, init_params, random_state):
    """The initial state over a Dask array (the rows the rule needs are gathered)."""

    def take(rows):
        X, w = chunks.X, chunks.w
        if rows is not None:
            X, w = X[rows], None if w is None else w[rows]
        X, w = _dask.compute(X, w)
        return _arrays(X, w)

    rule = initial_rule(chunks.X.shape[0], take, n_components, init_params, random_state)
    arrays = [rule.rows, rule.resp, rule.centres]
    meta = rule._replace(rows=None, resp=None, centres=None)
    return state_from_chunk_resp(chunks, prior, meta, arrays)


def prepare_fit(est, reduced, warm):
    """Resolve the priors of ``est`` from the :func:`reduce_dask` value ``reduced``;
    return the :class:`DaskChunks` and the warm start (with ``warm``: the update from
    the fitted posterior's responsibilities on ``X``, None if they are not finite)."""
    old = [est._units.shift, est._units.inv_scale, est._state.coef] if warm else None
    ctype = est._model_prior.covariance_type if warm else None
    est._resolve_priors(None, None, reduced.units)
    chunks = DaskChunks(reduced.X, reduced.w, reduced.blocks, est._units)
    if not warm:
        return chunks, None
    return chunks, state_from_chunk_resp(chunks, est._model_prior, None, [*old, ctype])


def dask_stochastic_sweep(chunks, prior, state, rho):
    """:func:`~skvi._mixture_kernels.stochastic_sweep` over the chunks of a Dask array
    (one mini-batch): the statistics under the current posterior are summed on the
    workers; the blend, the update and the ELBO run on the client."""
    batch = _stats(chunks, _estep_task, _dask.share(state.coef), prior.covariance_type)
    scale_exp = chunks.units.scale_exp
    return kern.stochastic_update(batch, prior, state, rho, chunks.stats_scale, scale_exp)


def stream_data(est, reduced, stats_scale):
    """The :class:`FitData` of a :meth:`partial_fit` batch (the :func:`reduce_dask`
    value ``reduced``), whose statistics count ``stats_scale`` times, in the units and
    under the prior ``est`` has just set."""
    chunks = DaskChunks(reduced.X, reduced.w, reduced.blocks, est._units, stats_scale)
    return FitData(chunks, est._model_prior, ON_DASK)


#: The steps of the fit loop's hooks for a Dask array.
ON_DASK = types.SimpleNamespace(
    initial_state=dask_initial_state,
    sweep=dask_sweep,
    delete_moves=functools.partial(kern.delete_moves, sweep_fn=dask_sweep),
    stochastic_sweep=dask_stochastic_sweep,
)


# ------------------------------------------------------------ lazy predictions
def _checked(X):
    return check_array(X, dtype=_FLOATS, ensure_min_samples=0, estimator=_NAME, input_name="X")


def _log_resp_block(X, units, coef, ctype):
    return kern.log_resp_serial(_checked(X), units.shift, units.inv_scale, coef, ctype)[0]


def _log_predictive_block(X, pred, ctype):
    return kern.log_predictive(_checked(X), pred, ctype, serial=True)


def lazy_log_resp(est, X):
    """The log-responsibilities of a Dask ``X``, lazily (a Dask array)."""
    _dask.check_row_chunks(X, "X")
    _check_n_features(est, X, reset=False)
    block = functools.partial(
        _log_resp_block,
        units=est._units,
        coef=est._state.coef,
        ctype=est._model_prior.covariance_type,
    )
    n_comp = est._state.coef.shape[1]
    return X.map_blocks(block, dtype=np.float64, chunks=(X.chunks[0], (n_comp,)))


def lazy_score_samples(est, X):
    """The log predictive density of a Dask ``X``, lazily (a Dask array)."""
    _dask.check_row_chunks(X, "X")
    _check_n_features(est, X, reset=False)
    block = functools.partial(
        _log_predictive_block, pred=est._predictive, ctype=est._model_prior.covariance_type
    )
    return X.map_blocks(block, dtype=np.float64, drop_axis=1)
