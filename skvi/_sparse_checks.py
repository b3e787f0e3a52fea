"""Checks of a sparse matrix's index arrays before any kernel reads through them."""

import numpy as np


def check_sparse_structure(X, whom):
    """Check the index arrays of a sparse matrix before any kernel reads through them.

    SciPy does not check them (an index out of range makes a kernel read or write out of
    bounds). For CSR and CSC: ``indptr`` has one entry per row (column) plus one, starts
    at 0, never decreases and ends at most at ``len(indices) == len(data)``; every index
    of a stored entry is in ``[0, n_columns)`` (``[0, n_rows)``). For COO: the row and
    column indices are within the shape. One vectorised pass over the index arrays; the
    input is never modified. Entries stored past ``indptr[-1]`` are dropped on a copy.

    Parameters
    ----------
    X : sparse matrix or array
        Only CSR, CSC and COO are inspected; other formats are returned unchanged
        (SciPy converts them through COO, which it checks).
    whom : str
        Name of the caller, for the message.

    Returns
    -------
    X : sparse matrix or array
        ``X``, or a copy without the entries past ``indptr[-1]``.

    Raises
    ------
    ValueError
        Naming the inconsistency and the limit it breaks.
    """
    fmt = getattr(X, "format", None)
    if fmt in ("csr", "csc"):
        n_major, n_minor = X.shape if fmt == "csr" else X.shape[::-1]
        indptr, indices = np.asarray(X.indptr), np.asarray(X.indices)
        prefix = f"{whom}: malformed {fmt.upper()} input:"
        if indptr.ndim != 1 or indptr.shape[0] != n_major + 1:
            raise ValueError(
                f"{prefix} indptr has {indptr.shape} entries; expected {n_major + 1} "
                f"({'rows' if fmt == 'csr' else 'columns'} + 1)."
            )
        if indices.shape != np.shape(X.data):
            raise ValueError(
                f"{prefix} indices and data have {indices.shape[0]} and "
                f"{np.shape(X.data)[0]} entries; they must have the same length."
            )
        if indptr[0] != 0 or indptr[-1] > indices.shape[0]:
            raise ValueError(
                f"{prefix} indptr must start at 0 and end at most at len(indices)="
                f"{indices.shape[0]}; it runs from {indptr[0]} to {indptr[-1]}."
            )
        if n_major and np.any(np.diff(indptr) < 0):
            raise ValueError(f"{prefix} indptr must be non-decreasing.")
        nnz = int(indptr[-1])
        if nnz:
            lo, hi = indices[:nnz].min(), indices[:nnz].max()
            if lo < 0 or hi >= n_minor:
                raise ValueError(
                    f"{prefix} its {'column' if fmt == 'csr' else 'row'} indices must be "
                    f"in [0, {n_minor}); they range from {lo} to {hi}."
                )
        if nnz < indices.shape[0]:
            X = X.copy()
            X.prune()
    elif fmt == "coo":
        for name, index, size in (("row", X.row, X.shape[0]), ("col", X.col, X.shape[1])):
            if index.size and (index.min() < 0 or index.max() >= size):
                raise ValueError(
                    f"{whom}: malformed COO input: its {name} indices must be in [0, {size}); "
                    f"they range from {index.min()} to {index.max()}."
                )
    return X


__all__ = ["check_sparse_structure"]
