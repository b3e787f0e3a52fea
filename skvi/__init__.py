"""skvi: scikit-learn compatible variational-inference estimators."""

# _jit first: it sets the OpenMP wait policy before any OpenMP runtime (Numba's, or
# scikit-learn's for KMeans) is loaded by the imports below.
from . import _jit  # noqa: F401, I001
from .lda import VariationalLDA
from .mixture import VariationalGaussianMixture
from .regression import VariationalEMRegressor

__version__ = "0.1.0.dev0"

__all__ = [
    "VariationalEMRegressor",
    "VariationalGaussianMixture",
    "VariationalLDA",
    "__version__",
]
