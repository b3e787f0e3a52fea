"""skvi/_dask.py: Dask stays optional; recognising a Dask array imports nothing."""

import json
import subprocess
import sys
import textwrap

import numpy as np

from skvi import _dask

_CHILD = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import scipy.sparse as sp
    import skvi
    from skvi import _dask

    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 2))
    recognised = [_dask.is_dask_array(v) for v in (X, sp.csr_matrix(X), [[1.0]], None)]
    skvi.VariationalGaussianMixture(n_components=2, max_iter=2).fit(X).predict(X)
    skvi.VariationalLDA(n_components=2, max_iter=1).fit(np.abs(X)).transform(np.abs(X))
    skvi.VariationalEMRegressor(max_iter=2).fit(X, X[:, 0]).predict(X)
    loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("dask", "distributed"))
    print(json.dumps({"recognised": recognised, "loaded": loaded}))
    """
)


def test_import_and_in_memory_fits_import_no_dask_module():
    # A fresh interpreter: pytest's conftest imports Dask in this one.
    out = subprocess.run(
        [sys.executable, "-c", _CHILD], capture_output=True, text=True, timeout=600, check=True
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result == {"recognised": [False, False, False, False], "loaded": []}


def test_a_dask_array_is_recognised_by_its_type():
    import dask.array as da

    X = da.from_array(np.zeros((5, 2)), chunks=2)
    assert _dask.is_dask_array(X)
    assert not _dask.is_dask_array(X.compute())
    assert not _dask.is_dask_array(X.to_delayed())  # a numpy object array of delayed values
