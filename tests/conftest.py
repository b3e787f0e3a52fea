import os

import pytest

# scikit-learn's array-API estimator check needs this set before SciPy is imported.
os.environ.setdefault("SCIPY_ARRAY_API", "1")


@pytest.fixture(scope="module")
def dask_client():
    """An in-process Dask cluster (threads, in-process transport, no dashboard) and its client, the
    default scheduler while the module's tests run."""
    pytest.importorskip("distributed", reason="the Dask tests need the 'dask' extra")
    from distributed import Client, LocalCluster

    with (
        LocalCluster(
            processes=False,
            n_workers=2,
            threads_per_worker=1,
            dashboard_address=None,
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client
