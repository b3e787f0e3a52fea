import os

import pytest

# scikit-learn's array-API estimator check needs this set before SciPy is imported.
os.environ.setdefault("SCIPY_ARRAY_API", "1")
# The thread-count determinism tests compare fits with 1 and with 2 Numba threads. Numba
# offers as many threads as CPUs by default, so on a one-CPU runner they would compare one
# thread with one; it reads this variable once, when it is first imported (after this file).
os.environ.setdefault("NUMBA_NUM_THREADS", str(max(2, os.cpu_count() or 1)))


@pytest.fixture
def thread_counts():
    """The Numba thread counts a determinism test compares, ``(1, 2)``; the previous count
    is restored afterwards. Skips, with the reason shown, only if Numba was started with a
    single thread (``NUMBA_NUM_THREADS=1`` set by the user), where there is nothing to
    compare."""
    import numba

    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("Numba was started with NUMBA_NUM_THREADS=1: no two thread counts")
    previous = numba.get_num_threads()
    try:
        yield (1, 2)
    finally:
        numba.set_num_threads(previous)


@pytest.fixture(scope="module")
def dask_client():
    """An in-process Dask cluster (2 workers of one thread) and its client, the default
    scheduler while the module's tests run. Everything listens on the loopback interface,
    on ports the system picks; the dashboard is off (the scheduler's and workers' HTTP
    servers, which distributed always starts, serve only their health routes)."""
    pytest.importorskip("distributed", reason="the Dask tests need the 'dask' extra")
    from distributed import Client, LocalCluster

    with (
        LocalCluster(
            processes=False,
            n_workers=2,
            threads_per_worker=1,
            host="127.0.0.1",
            protocol="tcp",
            dashboard_address="127.0.0.1:0",
            worker_dashboard_address="127.0.0.1:0",
            scheduler_kwargs={"dashboard": False},
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client
