"""
Fitting Dask arrays: the same fit as in memory
==============================================

:class:`skvi.VariationalGaussianMixture` and :class:`skvi.VariationalLDA` fit a
:class:`dask.array.Array` directly: each sweep runs the serial kernels per chunk on the
workers, sums the chunks' statistics on the workers in a fixed order and updates the
posterior on the client (see :ref:`dask`). With the same ``random_state`` the fit is the
in-memory fit of the same data, to rounding. This example runs both on an in-process
cluster (two workers of one thread, in this process; connect a
:class:`distributed.Client` to a real cluster instead) and draws the two ELBO histories
of each model on top of each other.
"""

# %%
# A mixture on data generated on the workers
# ------------------------------------------
# 60,000 rows in 4 uneven chunks, computed by the workers from a seed: three blobs in
# two dimensions. The in-memory reference is the same array computed on the client.
import time

import dask.array as da
import matplotlib.pyplot as plt
import numpy as np
from distributed import Client, LocalCluster

from skvi import VariationalGaussianMixture, VariationalLDA
from skvi.datasets import make_lda_corpus

t_start = time.perf_counter()
cluster = LocalCluster(
    n_workers=2,
    threads_per_worker=1,
    processes=False,
    host="127.0.0.1",  # loopback only, on ports the system picks; no dashboard
    protocol="tcp",
    dashboard_address="127.0.0.1:0",
    worker_dashboard_address="127.0.0.1:0",
    scheduler_kwargs={"dashboard": False},
)
client = Client(cluster)

chunks = (20_000, 13_000, 17_000, 10_000)
X = da.random.RandomState(0).standard_normal((sum(chunks), 2), chunks=(chunks, 2))
blob = da.arange(sum(chunks), chunks=chunks) % 3
X = X + da.stack([4.0 * (blob == 1), 4.0 * (blob == 2)], axis=1).rechunk({1: -1})

params = dict(n_components=5, random_state=0, max_iter=60)
on_dask = VariationalGaussianMixture(**params).fit(X)
in_memory = VariationalGaussianMixture(**params).fit(X.compute())


def rel(a, b):
    return float(np.max(np.abs(np.asarray(a) - b) / np.max(np.abs(b))))


print(f"iterations: Dask {on_dask.n_iter_}, in memory {in_memory.n_iter_}")
print(f"weights_ (Dask): {np.round(on_dask.weights_, 3)}")
for name in ("lower_bounds_", "means_"):
    diff = rel(getattr(on_dask, name), getattr(in_memory, name))
    print(f"{name}, largest relative difference: {diff:.1e}")
labels = on_dask.predict(X)  # lazy: a Dask array with the chunks of X
print(f"predict on a Dask array: {type(labels).__name__}, chunks {labels.chunks[0]}")
print(
    "labels equal to in memory:", bool(np.all(labels.compute() == in_memory.predict(X.compute())))
)

# %%
# A topic model on CSR chunks
# ---------------------------
# 3,000 documents over 400 words from the LDA model, as a Dask array whose chunks are
# ``scipy.sparse.csr_matrix`` rows (one chunk across the vocabulary).
counts, _, _ = make_lda_corpus(3_000, 400, 8, doc_length=60, random_state=0)
docs = da.from_array(counts, chunks=((900, 700, 1_000, 400), -1), asarray=False)

lda_params = dict(n_components=8, max_iter=15, random_state=0)
lda_dask = VariationalLDA(**lda_params).fit(docs)
lda_memory = VariationalLDA(**lda_params).fit(counts)
for name in ("lower_bounds_", "components_"):
    diff = rel(getattr(lda_dask, name), getattr(lda_memory, name))
    print(f"{name}, largest relative difference: {diff:.1e}")
theta = lda_dask.transform(docs)  # lazy
print(f"transform on a Dask array: {type(theta).__name__} of shape {theta.shape}")

client.close()
cluster.close()

# %%
# The ELBO histories
# ------------------
# Lines: in memory; markers: on the Dask cluster. They coincide.
fig, axes = plt.subplots(1, 2, figsize=(11, 4))
for ax, dsk, mem, title in [
    (axes[0], on_dask, in_memory, "VariationalGaussianMixture"),
    (axes[1], lda_dask, lda_memory, "VariationalLDA (batch)"),
]:
    sweeps = np.arange(1, len(mem.lower_bounds_) + 1)
    ax.plot(sweeps, mem.lower_bounds_, "-", color="C0", label="in memory")
    ax.plot(sweeps, dsk.lower_bounds_, "o", color="C3", ms=4, mfc="none", label="Dask array")
    ax.set_title(title, fontsize=10)
    ax.set_xlabel("sweep")
    ax.set_ylabel("ELBO (nats)")
    ax.legend(fontsize=8, loc="lower right")
fig.tight_layout()
print(f"example ran in {time.perf_counter() - t_start:.1f} s")
