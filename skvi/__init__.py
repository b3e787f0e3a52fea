"""skvi: scikit-learn compatible variational-inference estimators.

The estimators are imported on first use (PEP 562), so that ``import skvi`` does not load
scikit-learn, SciPy and Numba: ``from skvi import VariationalLDA`` does.
"""

import importlib
import os

# OpenMP workers (Numba's, and scikit-learn's in the KMeans initialisation) spin after
# each parallel region by default; on a 2-core machine shared with BLAS threads or
# another process the spinning steals the core the next serial step needs. Sleep
# instead. Set here, before any skvi module loads an OpenMP runtime; a value set by the
# user wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0.dev0"

#: Public name -> the module that defines it.
_ESTIMATORS = {
    "VariationalEMRegressor": ".regression",
    "VariationalGaussianMixture": ".mixture",
    "VariationalLDA": ".lda",
}

__all__ = [*sorted(_ESTIMATORS), "__version__"]


def __getattr__(name):
    if name in _ESTIMATORS:
        value = getattr(importlib.import_module(_ESTIMATORS[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_ESTIMATORS))
