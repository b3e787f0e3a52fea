"""skvi on Dask arrays: the same fits in memory and on a 2-process ``LocalCluster``.

Nothing here asks the cluster to beat the in-memory path on two cores: the point is the
same answer, bounded memory per worker and a measured cost model of what crosses
between the client and the workers. The library under comparison is a parameter,
``path``:

``in memory``
    The estimator's ``fit`` on NumPy/SciPy data computed in the benchmark process (the
    parallel kernels on every core).
``cluster``
    The same ``fit`` on a lazily generated ``dask.array.Array`` on a
    ``LocalCluster(processes=True)`` of this machine: 2 workers of 1 thread, each under
    a ``memory_limit`` (:data:`MEMORY_LIMIT`, below the size of the largest data set),
    ``NUMBA_NUM_THREADS=1`` in the workers' environment, loopback addresses, no
    dashboard. Every chunk is generated on a worker from a seed and its index whenever a
    pass reads it; the data are never persisted nor held whole in any process.

The quick profile (``--quick``, run in CI) fits small cases on an in-process cluster
(``processes=False``: no worker process to start, no kernels to load in one), where the
TCP counters and the workers' own memory do not apply (``n/a``).

Cases: :class:`VariationalGaussianMixture` (``covariance_type='full'``, K=16, d=8, data
from 12 Gaussian blobs) at 1e6 and 1e7 rows, and :class:`VariationalLDA` (batch, 20
topics) on a synthetic corpus of 200,000 documents drawn from the LDA model. Each fit runs
``max_iter`` sweeps with ``tol=0`` (no early stop) from the same ``random_state``.

Measured per case and path:

* seconds per sweep: each call of the estimator's ``_sweep`` hook is timed (a subclass);
  the median over the sweeps of the fit;
* the whole ``fit`` (with the validation and data-statistics passes and the
  initialisation), and, on the cluster, one pass that only generates the chunks and sums
  them (what regenerating the lazy data costs each pass);
* peak memory: the peak resident set (``VmHWM``) of each worker process during the fit,
  reset before it (``/proc/self/clear_refs``), and that of the benchmark process during
  the in-memory generation and fit;
* bytes per sweep between the benchmark process (the client, and the scheduler and the
  nannies, which ``LocalCluster`` runs in it) and the worker processes, measured by the
  kernel: the TCP counters ``tcpi_bytes_acked`` / ``tcpi_bytes_received`` of each of the
  process's connections to a worker, read before and after each sweep; next to the
  payload (the pickled size of what skvi scatters to every worker and of the totals the
  client receives, counted by wrapping ``skvi._dask``'s ``share``, ``map_reduce`` and
  ``map_reduce_keep``), the bytes the workers send each other (distributed's
  ``transfer_outgoing_bytes_total``) and the formula (the statistics the client
  receives: ``K (1 + d + d(d+1)/2) + 1`` numbers for the full-covariance mixture, whose
  leading term is the ``K d^2`` of the issue; at most ``K V`` for LDA);
* agreement: the largest relative difference between the two paths of ``lower_bounds_``
  and of ``means_`` (mixture) or ``components_`` (LDA).
"""

import functools
import gc
import os
import pickle
import socket
import struct
import time
import warnings

import numpy as np
import scipy.sparse as sp

import skvi
from skvi import VariationalGaussianMixture, VariationalLDA

from .common import fmt, log, markdown_table, median

NAME = "dask"
TITLE = "skvi in memory against a Dask cluster"
SEED = 2026
#: Per-worker memory limit of the cluster: below the 640 MB of the 1e7 x 8 case.
MEMORY_LIMIT = "512MiB"
N_WORKERS = 2
MAX_ITER = 3
#: (name, estimator, rows, rows per chunk, features / vocabulary) per profile.
CASES = {
    "full": [
        ("mixture 1e6 x 8", "mixture", 1_000_000, 125_000, 8),
        ("mixture 1e7 x 8", "mixture", 10_000_000, 125_000, 8),
        ("LDA 200,000 docs", "lda", 200_000, 12_500, 5_000),
    ],
    "quick": [
        ("mixture 1e4 x 8", "mixture", 10_000, 2_500, 8),
        ("LDA 2,000 docs", "lda", 2_000, 500, 1_000),
    ],
}
MIXTURE_PARAMS = dict(n_components=16, covariance_type="full", random_state=0)
LDA_TOPICS = 20
LDA_PARAMS = dict(n_components=LDA_TOPICS, learning_method="batch", random_state=0)
#: The generators: 12 blobs for the mixture; for LDA alpha = 0.1, eta = 0.01, a mean
#: document length of 50 words.
BLOBS = 12
DOC_LENGTH = 50


# --------------------------------------------------------------------------- data
def mixture_chunk(index, n_rows, n_features):
    """Chunk ``index`` (``n_rows`` rows) of the blobs: the same array wherever it is
    computed (the blobs from :data:`SEED`, the chunk's draws from ``(SEED, index)``)."""
    blobs = np.random.default_rng(SEED)
    centres = 5.0 * blobs.standard_normal((BLOBS, n_features))
    scales = blobs.uniform(0.5, 1.5, size=BLOBS)
    rng = np.random.default_rng([SEED, index])
    labels = rng.integers(BLOBS, size=n_rows)
    X = rng.standard_normal((n_rows, n_features))
    X *= scales[labels, None]
    X += centres[labels]
    return X


def _lda_topics(n_words):
    rng = np.random.default_rng([SEED, 2**31])
    topics = rng.dirichlet(np.full(n_words, 0.01), size=LDA_TOPICS)
    return np.cumsum(topics, axis=1)


def lda_chunk(index, n_docs, n_words):
    """Documents of chunk ``index`` (CSR counts), drawn from the LDA model with topics
    from :data:`SEED` and the chunk's draws from ``(SEED, index)``."""
    cdf = _lda_topics(n_words)
    rng = np.random.default_rng([SEED, index])
    theta = rng.dirichlet(np.full(LDA_TOPICS, 0.1), size=n_docs)
    lengths = np.maximum(rng.poisson(DOC_LENGTH, size=n_docs), 1)
    counts = rng.multinomial(lengths, theta)  # (n_docs, K) tokens per topic
    docs = np.arange(n_docs)
    rows, cols = [], []
    for k in range(LDA_TOPICS):
        rows.append(np.repeat(docs, counts[:, k]))
        u = rng.random(len(rows[-1])) * cdf[k, -1]
        cols.append(np.minimum(np.searchsorted(cdf[k], u, side="right"), n_words - 1))
    rows, cols = np.concatenate(rows), np.concatenate(cols)
    X = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n_docs, n_words))
    X.sum_duplicates()
    return X


def _chunk_sizes(n_rows, per_chunk):
    sizes = [per_chunk] * (n_rows // per_chunk)
    return sizes + ([n_rows % per_chunk] if n_rows % per_chunk else [])


def _generator(kind):
    return mixture_chunk if kind == "mixture" else lda_chunk


def lazy_data(kind, n_rows, per_chunk, width):
    """The case's data as a Dask array whose chunks are computed on the workers."""
    import dask.array as da
    from dask import delayed

    gen, parts = delayed(_generator(kind), pure=True), []
    meta = np.empty((0, 0)) if kind == "mixture" else sp.csr_matrix((0, 0))
    for i, size in enumerate(_chunk_sizes(n_rows, per_chunk)):
        parts.append(da.from_delayed(gen(i, size, width), (size, width), dtype=float, meta=meta))
    return da.concatenate(parts, axis=0)


def local_data(kind, n_rows, per_chunk, width):
    """The same data, computed in this process."""
    sizes = _chunk_sizes(n_rows, per_chunk)
    if kind == "lda":
        return sp.vstack([lda_chunk(i, s, width) for i, s in enumerate(sizes)], format="csr")
    X, start = np.empty((n_rows, width)), 0
    for i, size in enumerate(sizes):
        X[start : start + size] = mixture_chunk(i, size, width)
        start += size
    return X


def data_bytes(kind, n_rows, width, X=None):
    """Bytes of the data: dense float64, or the CSR arrays of ``X``."""
    if kind == "mixture":
        return n_rows * width * 8
    return X.data.nbytes + X.indices.nbytes + X.indptr.nbytes


# --------------------------------------------------------------------------- probes
def _status(field):
    """A ``kB`` field of ``/proc/self/status`` in bytes (None where there is none)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def reset_peak():
    """Reset this process's peak resident set to its current one (Linux); whether it
    could be reset."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def memory_now():
    """``(peak resident set, resident set)`` of this process, in bytes."""
    return _status("VmHWM"), _status("VmRSS")


def worker_numba():
    """What a worker's Numba runs with: its ``NUMBA_NUM_THREADS`` setting and thread count."""
    import numba

    return {
        "env_NUMBA_NUM_THREADS": os.environ.get("NUMBA_NUM_THREADS"),
        "numba_config_threads": numba.config.NUMBA_NUM_THREADS,
        "numba_get_num_threads": numba.get_num_threads(),
    }


def worker_transfer(dask_worker):
    """Bytes this worker has sent to other workers (distributed's counter)."""
    return dask_worker.transfer_outgoing_bytes_total


def tcp_counters():
    """``{(local, remote): (bytes acked, bytes received)}`` of this process's established
    TCP connections to other processes (a connection between two sockets of this process
    is left out), from the kernel's ``TCP_INFO`` (Linux; empty elsewhere)."""
    import psutil

    if not hasattr(socket, "TCP_INFO"):
        return {}
    conns = [c for c in psutil.Process().net_connections("tcp") if c.raddr and c.fd >= 0]
    own = {tuple(c.laddr) for c in conns}
    counters = {}
    for c in conns:
        if tuple(c.raddr) in own:
            continue
        try:
            with socket.fromfd(c.fd, socket.AF_INET, socket.SOCK_STREAM) as s:
                info = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 232)
        except OSError:
            continue
        if len(info) >= 136:  # tcpi_bytes_acked, tcpi_bytes_received (Linux >= 4.2)
            counters[(tuple(c.laddr), tuple(c.raddr))] = struct.unpack_from("QQ", info, 120)
    return counters


def tcp_delta(before, after):
    """Bytes sent and received between two :func:`tcp_counters`, and how many
    connections closed in between (their last bytes are not counted)."""
    sent = sum(a[0] - before.get(k, (0, 0))[0] for k, a in after.items())
    received = sum(a[1] - before.get(k, (0, 0))[1] for k, a in after.items())
    return int(sent), int(received), len(set(before) - set(after))


class Payload:
    """Pickled sizes of what skvi scatters (times the workers that receive it) and of
    the totals the client receives, while :meth:`counting` wraps ``skvi._dask``."""

    def __init__(self, n_workers):
        self.n_workers, self.scattered, self.gathered = n_workers, 0, 0

    @staticmethod
    def size(value):
        return len(pickle.dumps(value, protocol=5))

    def counting(self):
        from contextlib import ExitStack
        from unittest import mock

        from skvi import _dask

        share, reduce, keep = _dask.share, _dask.map_reduce, _dask.map_reduce_keep

        @functools.wraps(share)
        def counted_share(value):
            self.scattered += self.size(value) * self.n_workers
            return share(value)

        @functools.wraps(reduce)
        def counted_reduce(*args, **kwargs):
            total = reduce(*args, **kwargs)
            self.gathered += self.size(total)
            return total

        @functools.wraps(keep)
        def counted_keep(*args, **kwargs):
            total, kept = keep(*args, **kwargs)
            self.gathered += self.size(total)
            return total, kept

        stack = ExitStack()
        for name, new in [
            ("share", counted_share),
            ("map_reduce", counted_reduce),
            ("map_reduce_keep", counted_keep),
        ]:
            stack.enter_context(mock.patch.object(_dask, name, new))
        return stack


def _timed_class(base):
    """``base`` with each ``_sweep`` timed and, on the cluster, its traffic counted."""

    class Timed(base):
        def _sweep(self, data, state):
            probe = getattr(self, "_bench_probe", None)
            before = probe.snapshot() if probe else None
            t0 = time.perf_counter()
            out = super()._sweep(data, state)
            seconds = time.perf_counter() - t0
            row = {"seconds": seconds}
            if probe:
                row.update(probe.delta(before))
            self._bench_sweeps.append(row)
            return out

    Timed.__name__ = base.__name__
    return Timed


class Probe:
    """Snapshots of the traffic counters around a sweep."""

    def __init__(self, client, payload, tcp=True):
        self.client, self.payload, self.tcp = client, payload, tcp

    def snapshot(self):
        return (
            tcp_counters() if self.tcp else None,
            self.payload.scattered,
            self.payload.gathered,
            sum(self.client.run(worker_transfer).values()),
        )

    def delta(self, before):
        after = self.snapshot()
        sent, received, closed = tcp_delta(before[0], after[0]) if self.tcp else [None] * 3
        return {
            "tcp_to_workers": sent,
            "tcp_from_workers": received,
            "closed_connections": closed,
            "payload_scattered": after[1] - before[1],
            "payload_gathered": after[2] - before[2],
            "worker_to_worker": after[3] - before[3],
        }


# --------------------------------------------------------------------------- fits
def make_estimator(kind, max_iter=MAX_ITER):
    if kind == "mixture":
        est = _timed_class(VariationalGaussianMixture)(max_iter=max_iter, tol=0, **MIXTURE_PARAMS)
    else:
        est = _timed_class(VariationalLDA)(max_iter=max_iter, **LDA_PARAMS)
    est._bench_sweeps = []
    return est


def fit_quietly(est, X):
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # tol=0: never converged
        t0 = time.perf_counter()
        est.fit(X)
    return time.perf_counter() - t0


def formula(kind, width):
    """Numbers the client receives per sweep (the summed statistics), by the formula."""
    if kind == "mixture":
        k, d = MIXTURE_PARAMS["n_components"], width
        return k * (1 + d + d * (d + 1) // 2) + 1, f"K(1+d+d(d+1)/2)+1, K={k}, d={d}"
    return LDA_TOPICS * width, f"K V at most, K={LDA_TOPICS}, V={width}"


def relative_difference(a, b, scale_by_max=False):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if scale_by_max:  # entries near zero (centred means): relative to the largest
        return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-300)))


def fitted(kind, est):
    other = est.means_ if kind == "mixture" else est.components_
    return {"lower_bounds": est.lower_bounds_.tolist(), "other": np.asarray(other)}


def run_in_memory(kind, n_rows, per_chunk, width, max_iter):
    gc.collect()
    reset_peak()
    rss0 = memory_now()[1]
    t0 = time.perf_counter()
    X = local_data(kind, n_rows, per_chunk, width)
    generate_s = time.perf_counter() - t0
    est = make_estimator(kind, max_iter)
    fit_s = fit_quietly(est, X)
    peak = memory_now()[0]
    result = {
        "data_bytes": data_bytes(kind, n_rows, width, X),
        "generate_s": generate_s,
        "fit_s": fit_s,
        "sweeps": est._bench_sweeps,
        "rss_before": rss0,
        "peak_rss": peak,
        "n_iter": est.n_iter_,
        **fitted(kind, est),
    }
    del X, est
    gc.collect()
    return result


def run_on_cluster(client, kind, n_rows, per_chunk, width, max_iter, processes=True):
    import dask
    from dask import delayed

    Xd = lazy_data(kind, n_rows, per_chunk, width)
    t0 = time.perf_counter()
    # one pass that only generates the chunks and sums each on its worker
    dask.compute(*[delayed(_total)(b) for b in Xd.to_delayed().ravel()])
    generate_s = time.perf_counter() - t0
    payload = Payload(len(client.scheduler_info()["workers"]))
    est = make_estimator(kind, max_iter)
    est._bench_probe = Probe(client, payload, tcp=processes)
    client.run(reset_peak)
    idle_rate = None
    if processes:  # (an in-process cluster: no connection to another process)
        idle0, t_idle = tcp_counters(), time.perf_counter()
        time.sleep(1.0)
        idle = tcp_delta(idle0, tcp_counters())
        idle_rate = (idle[0] + idle[1]) / (time.perf_counter() - t_idle)
    with payload.counting():
        fit_s = fit_quietly(est, Xd)
    # in-process workers share this process: no memory of their own
    memory = (
        client.run(memory_now) if processes else {w: (None, None) for w in client.run(os.getpid)}
    )
    return {
        "n_chunks": len(Xd.chunks[0]),
        "generate_pass_s": generate_s,
        "fit_s": fit_s,
        "sweeps": est._bench_sweeps,
        "worker_peak_rss": {w: m[0] for w, m in memory.items()},
        "worker_rss_after": {w: m[1] for w, m in memory.items()},
        "idle_bytes_per_s": idle_rate,
        "fitted_are_numpy": all(
            type(v) is np.ndarray for v in (est.lower_bounds_, fitted(kind, est)["other"])
        ),
        "n_iter": est.n_iter_,
        **fitted(kind, est),
    }


def start_cluster(processes=True):
    """The 2-process cluster: loopback only, no dashboard, 1 thread per worker, the memory
    limit, ``NUMBA_NUM_THREADS=1`` in the workers' environment (set by the nanny before
    the worker starts; the worker processes import Numba only later, with the first
    task that needs it). With ``processes=False`` (the quick profile), 2 workers in this
    process, without a memory limit: no process to start and no kernels to load."""
    from distributed import Client, LocalCluster

    separate = dict(memory_limit=MEMORY_LIMIT, env={"NUMBA_NUM_THREADS": "1"})
    cluster = LocalCluster(
        n_workers=N_WORKERS,
        threads_per_worker=1,
        processes=processes,
        host="127.0.0.1",
        protocol="tcp",
        # no dashboard: the HTTP servers distributed always starts listen on ports the
        # system picks, on the loopback interface, and serve only their health routes
        dashboard_address="127.0.0.1:0",
        worker_dashboard_address="127.0.0.1:0",
        scheduler_kwargs={"dashboard": False},
        **(separate if processes else dict(memory_limit=0)),
    )
    return cluster, Client(cluster)


def warm_up(client):
    """Compile or load the kernels in this process and on the workers, outside every
    timing (tiny fits of each estimator, in memory and on the cluster)."""
    for kind, rows, chunk, width in [("mixture", 600, 200, 8), ("lda", 120, 40, 50)]:
        fit_quietly(make_estimator(kind, max_iter=1), local_data(kind, rows, chunk, width))
        lazy = lazy_data(kind, rows, chunk, width)
        fit_quietly(make_estimator(kind, max_iter=1), lazy)


def run(quick=False, repeats=None):
    """Run the suite; ``repeats``: the sweeps of each fit (``max_iter``; default
    :data:`MAX_ITER`), whose median is reported."""
    import dask
    import distributed
    import psutil  # noqa: F401  (the TCP counters; a dependency of distributed)

    profile = "quick" if quick else "full"
    max_iter = repeats or MAX_ITER
    t0 = time.perf_counter()
    processes = not quick
    cluster, client = start_cluster(processes)
    startup_s = time.perf_counter() - t0
    kind_of = "processes" if processes else "in-process workers"
    log(f"dask: cluster of {N_WORKERS} {kind_of} started in {startup_s:.1f} s")
    cases = []
    try:
        t0 = time.perf_counter()
        warm_up(client)
        warm_s = time.perf_counter() - t0
        numba_workers = client.run(worker_numba)
        for name, kind, n_rows, per_chunk, width in CASES[profile]:
            log(f"dask: {name}: in memory")
            mem = run_in_memory(kind, n_rows, per_chunk, width, max_iter)
            log(f"dask: {name}: cluster")
            dsk = run_on_cluster(client, kind, n_rows, per_chunk, width, max_iter, processes)
            agree = {
                "lower_bounds": relative_difference(dsk["lower_bounds"], mem["lower_bounds"]),
                "other": relative_difference(dsk["other"], mem["other"], scale_by_max=True),
            }
            n_numbers, formula_text = formula(kind, width)
            cases.append({
                "name": name, "kind": kind, "n_rows": n_rows, "rows_per_chunk": per_chunk,
                "width": width, "in_memory": _strip(mem), "cluster": _strip(dsk),
                "max_rel_diff": agree, "formula_numbers": n_numbers,
                "formula_bytes": 8 * n_numbers, "formula": formula_text,
            })  # fmt: skip
            log(
                f"dask: {name}: s/sweep in memory {_median(mem, 'seconds'):.3g}, cluster "
                f"{_median(dsk, 'seconds'):.3g}; max rel. diff {max(agree.values()):.1e}"
            )
    finally:
        client.close()
        cluster.close()
    return {
        "profile": profile,
        "repeats": max_iter,
        "cluster": {
            "n_workers": N_WORKERS,
            "processes": processes,
            "threads_per_worker": 1,
            "memory_limit": MEMORY_LIMIT if processes else None,
            "startup_s": startup_s,
            "warm_up_s": warm_s,
            "workers_numba": numba_workers,
            "dask": dask.__version__,
            "distributed": distributed.__version__,
        },
        "skvi": skvi.__version__,
        "cases": cases,
    }


def _total(block):
    return float(block.sum())


def _strip(result):
    out = dict(result)
    out.pop("other", None)
    return out


def _median(result, key):
    return median([s.get(key) for s in result["sweeps"]])


# --------------------------------------------------------------------------- report
def _mb(n):
    return fmt(None if n is None else n / 1e6, ".1f")


def _kb(n):
    return fmt(None if n is None else n / 1e3, ".1f")


def markdown(report):
    cl = report["cluster"]
    threads = sorted({v["numba_get_num_threads"] for v in cl["workers_numba"].values()})
    if cl.get("processes", True):
        kind = (
            f"`LocalCluster(processes=True)`, {cl['n_workers']} workers x "
            f"{cl['threads_per_worker']} thread, `memory_limit={cl['memory_limit']}` per "
            f"worker, Numba threads in the workers: {threads} (`NUMBA_NUM_THREADS=1`)"
        )
    else:
        kind = (
            f"`LocalCluster(processes=False)` (quick profile): {cl['n_workers']} workers x "
            f"{cl['threads_per_worker']} thread in the benchmark process, no memory limit; "
            "the TCP counters and the workers' own memory are not measurable (n/a)"
        )
    out = [
        f"Cluster: {kind}, dask "
        f"{cl['dask']}, distributed {cl['distributed']}; started in {cl['startup_s']:.1f} s, "
        f"warm-up (kernels compiled or loaded) {cl['warm_up_s']:.1f} s. Each fit: "
        f"`max_iter={report['repeats']}`, `tol=0` (the repeats); the cluster's data are "
        "generated on the workers from seeds whenever a pass reads them (never persisted).\n\n",
        "### Time and memory\n\n",
    ]
    rows = []
    for c in report["cases"]:
        mem, dsk = c["in_memory"], c["cluster"]
        worker_peaks = dsk["worker_peak_rss"].values()
        rows.append([
            c["name"], "full, K=16" if c["kind"] == "mixture" else f"batch, K={LDA_TOPICS}",
            dsk["n_chunks"], _mb(mem["data_bytes"]), fmt(_median(mem, "seconds")),
            fmt(_median(dsk, "seconds")), fmt(dsk["generate_pass_s"]), fmt(mem["fit_s"]),
            fmt(dsk["fit_s"]), _mb(mem["peak_rss"]), " / ".join(_mb(p) for p in worker_peaks),
            fmt(cl["memory_limit"]), fmt(c["max_rel_diff"]["lower_bounds"], ".1e"),
            fmt(c["max_rel_diff"]["other"], ".1e"),
        ])  # fmt: skip
    out.append(
        markdown_table(
            [
                "case",
                "model",
                "chunks",
                "data MB",
                "s / sweep in memory",
                "s / sweep cluster",
                "cluster: generate pass s",
                "fit s in memory",
                "fit s cluster",
                "peak RSS MB in memory",
                "peak RSS MB per worker",
                "worker limit",
                "max rel. diff lower_bounds_",
                "max rel. diff means_/components_",
            ],
            rows,
            "llrrrrrrrrrlrr",
        )  # fmt: skip
    )
    out.append(
        "\n`s / sweep`: median over the sweeps of the fit. `peak RSS`: the benchmark "
        "process during the in-memory generation and fit; each worker process during the "
        "cluster fit. `max rel. diff`: `means_` (mixture) or `components_` (LDA) relative "
        "to their largest entry, `lower_bounds_` entrywise.\n"
    )
    out.append("\n### Bytes per sweep between the client's process and the workers\n\n")
    rows = []
    for c in report["cases"]:
        dsk = c["cluster"]
        rows.append([
            c["name"], _kb(_median(dsk, "tcp_to_workers")), _kb(_median(dsk, "tcp_from_workers")),
            _kb(_median(dsk, "payload_scattered")), _kb(_median(dsk, "payload_gathered")),
            f"{_kb(c['formula_bytes'])} ({c['formula']})", _kb(_median(dsk, "worker_to_worker")),
            _kb(dsk["idle_bytes_per_s"]),
            fmt(max((s.get("closed_connections") or 0) for s in dsk["sweeps"])),
        ])  # fmt: skip
    out.append(
        markdown_table(
            [
                "case",
                "TCP to workers kB",
                "TCP from workers kB",
                "payload scattered kB",
                "payload gathered kB",
                "formula: statistics received kB",
                "worker to worker kB",
                "idle kB/s",
                "closed conns",
            ],
            rows,
            "lrrrrrrrr",
        )  # fmt: skip
    )
    out.append(
        "\nMedians over the sweeps. `TCP`: bytes acknowledged / received on the "
        "benchmark process's connections to the worker processes (kernel counters; the "
        "process runs the client, the scheduler and the nannies), all traffic included: "
        "task messages (a few kB per task: the tasks of a pass are one per chunk, its "
        "generation and the pairwise sums), heartbeats (`idle kB/s`, both directions, "
        "measured for 1 s before the fit), scattered values and results. `payload "
        "scattered`: pickled size of what skvi shares with every worker, times the workers; "
        "distributed sends one copy from the client and replicates it between the workers. "
        "`payload gathered`: pickled size of the totals the client receives. `formula`: 8 "
        "bytes per number of the summed statistics. `worker to worker`: distributed's "
        "`transfer_outgoing_bytes_total`, summed over the workers: the pairwise sums of "
        "the chunks' statistics, the replicas of the shared values, and whole chunks when "
        "the scheduler runs a chunk's task on the worker that did not generate it (load "
        "balancing). `closed conns`: connections closed during a sweep (their last bytes "
        "would be missed; 0 means none).\n"
    )
    return "".join(out)
