import os

# scikit-learn's array-API estimator check needs this set before SciPy is imported.
os.environ.setdefault("SCIPY_ARRAY_API", "1")
