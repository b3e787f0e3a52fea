"""The Dask paths on a cluster of two worker processes, as a user would run them.

One module-scoped ``LocalCluster``: 2 worker processes of 2 threads each (two tasks at
once in one process), on the loopback interface, without a dashboard. The workers run
with ``NUMBA_NUM_THREADS=1``, as the user guide advises, and with Numba's ``workqueue``
threading layer, which aborts the process when a kernel of the parallel build is called
from two threads at once: a task that did so would kill its worker, which the tests see
as a changed process id. Each worker's memory limit is below the size of the data set of
:func:`test_larger_than_memory`; the workers do not pause at 80% of it (a paused worker
would leave a fit waiting), their nanny still ends a worker that reaches 95%. Before the
cluster starts, this process compiles (or loads) and caches the kernels that the workers
run (:func:`_warm_numba_cache`), so that the workers load them from Numba's cache rather
than each compile them: with a cold cache, compiling takes a worker from about 370 MiB
to 540 MiB, which would count against its limit.

The data are generated on the workers, chunk by chunk from seeds (:func:`_generated`),
not embedded in the task graph; the in-memory reference is the fit of ``X.compute()`` of
the same lazy array.
"""

import os
import re
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning

pytest.importorskip("distributed", reason="the Dask tests need the 'dask' extra")

import dask.array as da  # noqa: E402

from skvi import VariationalEMRegressor, VariationalGaussianMixture, VariationalLDA  # noqa: E402

RTOL = 1e-10
#: What every worker process runs with (Dask's nanny does not set NUMBA_NUM_THREADS).
WORKER_ENV = {"NUMBA_NUM_THREADS": "1", "NUMBA_THREADING_LAYER": "workqueue"}
#: Each worker's memory limit: above a worker's memory once skvi and its kernels are
#: loaded (about 370 MiB after the module's tests; 540 MiB while compiling), below the data of the
#: larger-than-memory test.
MEMORY_LIMIT = 768 * 2**20

MIXTURE = ("weights_", "means_", "covariances_", "precisions_cholesky_", "lower_bounds_")
LDA = ("components_", "exp_dirichlet_component_", "lower_bounds_")
REGRESSION = ("coef_", "intercept_", "sigma_", "alpha_", "coef_std_", "lower_bounds_")


@pytest.fixture(scope="module")
def cluster():
    """A client of the module's 2-process ``LocalCluster``, closed at the module's end."""
    import dask
    from distributed import Client, LocalCluster

    _warm_numba_cache()
    # (the workers and nannies read the configuration when they start)
    with dask.config.set({"distributed.worker.memory.pause": False}):
        local = LocalCluster(
            processes=True,
            n_workers=2,
            threads_per_worker=2,
            memory_limit=MEMORY_LIMIT,
            env=WORKER_ENV,
            host="127.0.0.1",
            protocol="tcp",
            dashboard_address="127.0.0.1:0",
            worker_dashboard_address="127.0.0.1:0",
            scheduler_kwargs={"dashboard": False},
        )
    with local, Client(local) as client:
        yield client


def _warm_numba_cache():
    """Run, in this process, the kernels that the workers will run: tiny fits of the
    module's cases on Dask's synchronous scheduler, and the in-memory ``partial_fit``
    that ``Incremental`` runs on the workers."""
    import dask

    with dask.config.set(scheduler="sync"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        Xd = _blobs((40, 40))
        for covariance_type in ("full", "diag"):
            model = VariationalGaussianMixture(
                n_components=2, covariance_type=covariance_type, max_iter=2
            ).fit(Xd)
            model.predict_proba(Xd).compute()
        VariationalGaussianMixture(n_components=2).partial_fit(Xd.compute())
        Xd = _corpus((20, 20))
        model = VariationalLDA(n_components=2, max_iter=2, doc_topic_prior="auto").fit(Xd)
        model.transform(Xd).compute()
        model.perplexity(Xd)
        VariationalLDA(n_components=2).partial_fit(Xd.compute())
        Xd, yd = _generated(_features, (30, 30), 5, 0), _generated(_target, (30, 30), None, 0)
        model = VariationalEMRegressor(noise="student_t", df=3.0, max_iter=2).fit(Xd, yd)
        model.predict(Xd).compute()


def _pids(client):
    """The process id of each worker, by address."""
    return client.run(os.getpid)


# -- data generated on the workers ---------------------------------------------------


def _generated(make, chunks, n_columns, seed, meta=None):
    """A lazy Dask array of ``chunks`` rows (of ``n_columns``, or 1-D if None), each
    chunk built in its own task by ``make(n_rows, n_columns, rng)``, ``rng`` seeded by
    ``seed`` and the chunk's index; ``meta`` an empty chunk (NumPy by default)."""
    from dask import delayed

    meta = np.empty((0,) * (1 if n_columns is None else 2)) if meta is None else meta
    blocks = [
        da.from_delayed(
            delayed(_make_block, pure=True)(make, n_rows, n_columns, seed, index),
            shape=(n_rows,) if n_columns is None else (n_rows, n_columns),
            dtype=np.float64,
            meta=meta,
        )
        for index, n_rows in enumerate(chunks)
    ]
    return da.concatenate(blocks)


def _make_block(make, n_rows, n_columns, seed, index):
    return make(n_rows, n_columns, np.random.default_rng([seed, index]))


def _blob_rows(n_rows, n_columns, rng):
    """Rows around 3 centres (the same in every chunk), with unequal spreads."""
    centres = 4.0 * np.random.default_rng(0).standard_normal((3, n_columns))
    spread = np.linspace(0.5, 1.5, n_columns)
    return centres[rng.integers(3, size=n_rows)] + rng.standard_normal((n_rows, n_columns)) * spread


def _two_boxes(n_rows, n_columns, rng):
    """Uniform rows in two unit boxes 3 apart: cheap to generate, 8 bytes a number."""
    X = rng.random((n_rows, n_columns))
    X += 3.0 * (X[:, :1] < 0.3)
    return X


def _documents(n_rows, n_columns, rng):
    """A CSR chunk of word counts drawn from 4 topics (the same in every chunk); some
    documents are empty."""
    topics = np.random.default_rng(1).dirichlet(np.full(n_columns, 0.1), size=4)
    theta = rng.dirichlet(np.full(4, 0.3), size=n_rows)
    counts = rng.multinomial(rng.integers(0, 60, size=n_rows), theta @ topics)
    return sp.csr_matrix(counts.astype(np.float64))


def _features(n_rows, n_columns, rng):
    """Regression features: 5 columns of unequal scales."""
    return rng.standard_normal((n_rows, 5)) * [1.0, 2.0, 0.5, 1.0, 3.0]


def _target(n_rows, n_columns, rng):
    """The target of the chunk's :func:`_features` (drawn again from the same
    generator), with Student-t noise."""
    X = _features(n_rows, 5, rng)
    return X @ [1.5, -2.0, 0.0, 0.0, 0.7] + 1.0 + 0.3 * rng.standard_t(3, size=n_rows)


def _blobs(chunks, n_columns=3, seed=0):
    return _generated(_blob_rows, chunks, n_columns, seed)


def _corpus(chunks, n_words=60, seed=0):
    return _generated(_documents, chunks, n_words, seed, meta=sp.csr_matrix((0, 0)))


# -- comparisons -------------------------------------------------------------------------


def _assert_close(actual, expected, name):
    assert type(actual) is np.ndarray, name
    # entries near zero (off-diagonals, means near the origin): a floor relative to the
    # largest entry
    scale = np.max(np.abs(expected))
    np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=RTOL * scale, err_msg=name)


def _assert_same_fit(actual, expected, names):
    assert actual.n_iter_ == expected.n_iter_
    for name in names:
        _assert_close(getattr(actual, name), getattr(expected, name), name)


# -- tests ------------------------------------------------------------------------------


def test_the_workers_are_set_up_as_the_module_says(cluster):
    workers = cluster.scheduler_info()["workers"].values()
    assert sorted(w["nthreads"] for w in workers) == [2, 2]
    assert [w["memory_limit"] for w in workers] == [MEMORY_LIMIT] * 2

    def numba_settings():
        import numba

        return numba.config.NUMBA_NUM_THREADS, numba.config.THREADING_LAYER

    assert set(cluster.run(numba_settings).values()) == {(1, "workqueue")}
    assert len(set(_pids(cluster).values())) == 2  # two processes, not one


def _key_name(key):
    """The name part of a task's key (``"name-token"`` or ``("name-token", i, ...)``)."""
    return key[0] if isinstance(key, tuple) else key


def _concurrent_pairs(stream, prefixes):
    """The number of pairs of tasks (names starting with one of ``prefixes``) that
    computed at the same time in one worker process, from a ``distributed`` task
    stream."""
    spans = {}
    for task in stream:
        if _key_name(task["key"]).startswith(prefixes):
            spans.setdefault(task["worker"], []).extend(
                (s["start"], s["stop"]) for s in task["startstops"] if s["action"] == "compute"
            )
    pairs = 0
    for intervals in spans.values():
        intervals.sort()
        for i, (_, stop) in enumerate(intervals):
            pairs += sum(start < stop for start, _ in intervals[i + 1 :])
    return pairs


def test_mixture_fit_equals_in_memory_with_kernels_in_two_threads_at_once(cluster):
    # 12 chunks (66,398 rows, more than the 10,000 that the initialisation samples); the
    # two threads of each worker run the statistics of two of them at once, which would
    # abort the worker under the workqueue layer for a kernel of the parallel build
    from distributed import get_task_stream

    Xd = _blobs([6007] * 11 + [322], n_columns=5, seed=3)
    params = dict(n_components=4, covariance_type="full", random_state=0)
    pids = _pids(cluster)
    with get_task_stream(cluster) as stream:
        dsk = VariationalGaussianMixture(**params).fit(Xd)
    # (the tasks that run the statistics kernels, in skvi._mixture_dask)
    assert _concurrent_pairs(stream.data, ("_estep_task", "_resp_task")) > 0
    assert _pids(cluster) == pids
    X = Xd.compute()
    mem = VariationalGaussianMixture(**params).fit(X)
    _assert_same_fit(dsk, mem, MIXTURE)
    proba = dsk.predict_proba(Xd)
    assert isinstance(proba, da.Array)
    np.testing.assert_allclose(proba.compute(), mem.predict_proba(X), rtol=RTOL, atol=1e-300)


def test_lda_fit_on_csr_chunks_equals_in_memory(cluster):
    Xd = _corpus((250, 77, 300, 173))
    params = dict(n_components=4, max_iter=8, random_state=0, doc_topic_prior="auto")
    pids = _pids(cluster)
    dsk = VariationalLDA(**params).fit(Xd)
    X = Xd.compute()
    assert X.format == "csr" and X.nnz > 0
    mem = VariationalLDA(**params).fit(X)
    _assert_same_fit(dsk, mem, LDA)
    _assert_close(dsk.doc_topic_prior_, mem.doc_topic_prior_, "doc_topic_prior_")
    proportions = dsk.transform(Xd)
    assert isinstance(proportions, da.Array)
    _assert_close(proportions.compute(), mem.transform(X), "transform")
    assert dsk.perplexity(Xd) == pytest.approx(mem.perplexity(X), rel=RTOL)
    assert _pids(cluster) == pids


def test_student_t_regression_equals_in_memory(cluster):
    chunks = (1700, 1333, 2517)
    Xd = _generated(_features, chunks, 5, seed=2)
    yd = _generated(_target, chunks, None, seed=2)
    params = dict(method="vbem", prior="ard", noise="student_t", df=3.0, max_iter=5)
    pids = _pids(cluster)
    with pytest.warns(ConvergenceWarning):
        dsk = VariationalEMRegressor(**params).fit(Xd, yd)
    X, y = Xd.compute(), yd.compute()
    with pytest.warns(ConvergenceWarning):
        mem = VariationalEMRegressor(**params).fit(X, y)
    assert dsk.n_iter_ == mem.n_iter_
    for name in REGRESSION:
        value = getattr(dsk, name)
        assert isinstance(value, (float, np.ndarray)), name
        np.testing.assert_allclose(value, getattr(mem, name), rtol=RTOL, atol=0, err_msg=name)
    mean = dsk.predict(Xd)
    assert isinstance(mean, da.Array)
    np.testing.assert_allclose(mean.compute(), mem.predict(X), rtol=RTOL, atol=0)
    assert _pids(cluster) == pids


@pytest.mark.parametrize("model", ["mixture", "lda"])
def test_incremental_equals_partial_fit_over_the_blocks(cluster, model):
    from dask_ml.wrappers import Incremental
    from distributed import get_task_stream

    if model == "mixture":
        Xd = _blobs((900, 1233, 700, 1500, 467), seed=4)
        est = VariationalGaussianMixture(n_components=3, random_state=0, total_samples=4800)
        names = MIXTURE
    else:
        Xd = _corpus((150, 233, 77, 190), seed=5)
        est = VariationalLDA(n_components=4, random_state=0, total_samples=650)
        names = LDA
    pids = _pids(cluster)
    # the blocks in order (dask-ml shuffles them by default)
    with get_task_stream(cluster) as stream:
        incremental = Incremental(est, shuffle_blocks=False).fit(Xd)
    # the partial_fit calls ran as tasks on the workers (dask-ml's keys ("fit-<token>",
    # i); i = -1 holds the unfitted estimator)
    steps = [task["key"] for task in stream.data if _key_name(task["key"]).startswith("fit-")]
    assert len(steps) == Xd.numblocks[0] + 1
    assert _pids(cluster) == pids
    fitted = incremental.estimator_
    assert fitted is not est and not hasattr(est, "n_batch_iter_")
    reference = clone(est)
    for i in range(Xd.numblocks[0]):
        reference.partial_fit(Xd.blocks[i].compute())
    assert reference.n_iter_ == Xd.numblocks[0]  # one step per block
    assert fitted.n_batch_iter_ == reference.n_batch_iter_
    _assert_same_fit(fitted, reference, names)
    _assert_close(incremental.lower_bounds_, reference.lower_bounds_, "Incremental's copy")


def _reset_peak_memory():
    """Reset this process's peak resident memory (Linux: VmHWM)."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def _peak_memory():
    """This process's peak resident memory in bytes since the last reset (Linux)."""
    with open("/proc/self/status") as f:
        return int(re.search(r"VmHWM:\s*(\d+) kB", f.read()).group(1)) * 1024


def _resident_memory():
    """This process's resident memory in bytes (Linux)."""
    with open("/proc/self/status") as f:
        return int(re.search(r"VmRSS:\s*(\d+) kB", f.read()).group(1)) * 1024


# (the in-memory reference is computed in this process, on purpose)
@pytest.mark.filterwarnings("ignore:Running on a single-machine scheduler:UserWarning")
def test_larger_than_memory(cluster):
    # 1.75e7 rows of 6 float64 (840 MB, 801 MiB), more than a worker may hold; the
    # chunks are generated again in each of the fit's 5 passes over the data, never
    # persisted. A cheap fit: one sweep from the 'random' initialisation (uniforms
    # seeded per block of rows, whatever the chunks: no pass to draw a sample).
    Xd = _generated(_two_boxes, [125_003] * 139 + [124_583], 6, seed=8)
    assert Xd.shape == (17_500_000, 6)
    limits = [w["memory_limit"] for w in cluster.scheduler_info()["workers"].values()]
    assert max(limits) < Xd.nbytes
    params = dict(
        n_components=2, covariance_type="diag", init_params="random", max_iter=1, tol=0,
        prune=False, random_state=0,
    )  # fmt: skip
    pids = _pids(cluster)
    client_before = _resident_memory()
    _reset_peak_memory()
    cluster.run(_reset_peak_memory)
    with pytest.warns(ConvergenceWarning):
        dsk = VariationalGaussianMixture(**params).fit(Xd)
    peaks = cluster.run(_peak_memory)
    client_peak = _peak_memory()
    assert _pids(cluster) == pids  # no worker was restarted
    # no worker came near its limit, nor the client near holding the data
    assert max(peaks.values()) < 0.95 * min(limits), peaks
    assert client_peak - client_before < Xd.nbytes / 10, (client_before, client_peak)
    # the in-memory reference: the same chunks, computed in this process
    X = Xd.compute(scheduler="threads")
    with pytest.warns(ConvergenceWarning):
        mem = VariationalGaussianMixture(**params).fit(X)
    _assert_same_fit(dsk, mem, MIXTURE)
