"""skvi: scikit-learn compatible variational-inference estimators."""

from .mixture import VariationalGaussianMixture

__version__ = "0.1.0.dev0"

__all__ = ["VariationalGaussianMixture", "__version__"]
