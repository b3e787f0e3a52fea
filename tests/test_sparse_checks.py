"""skvi._sparse_checks: malformed index arrays are refused before a kernel reads them."""

import numpy as np
import pytest
import scipy.sparse as sp

from skvi._sparse_checks import check_sparse_structure


def _csr():
    return sp.csr_matrix(np.array([[1.0, 0.0, 2.0], [0.0, 3.0, 0.0]]))


@pytest.mark.parametrize("fmt", ["csr", "csc"])
def test_a_well_formed_matrix_is_returned_as_it_is(fmt):
    X = _csr().asformat(fmt)
    assert check_sparse_structure(X, "caller") is X


@pytest.mark.parametrize(
    "break_it, message",
    [
        (
            lambda X: setattr(X, "indices", np.array([0, 3, 1], dtype=X.indices.dtype)),
            r"column indices must be in \[0, 3\); they range from 0 to 3",
        ),
        (
            lambda X: setattr(X, "indices", np.array([0, -1, 1], dtype=X.indices.dtype)),
            r"range from -1 to 1",
        ),
        (
            lambda X: setattr(X, "indptr", np.array([0, 3, 2], dtype=X.indptr.dtype)),
            "non-decreasing",
        ),
        (
            lambda X: setattr(X, "indptr", np.array([1, 2, 3], dtype=X.indptr.dtype)),
            "must start at 0",
        ),
        (
            lambda X: setattr(X, "indptr", np.array([0, 2, 4], dtype=X.indptr.dtype)),
            r"end at most at len\(indices\)=3",
        ),
        (
            lambda X: setattr(X, "indptr", np.array([0, 3], dtype=X.indptr.dtype)),
            r"expected 3 \(rows \+ 1\)",
        ),
        (lambda X: setattr(X, "data", np.ones(2)), "must have the same length"),
    ],
)
def test_a_malformed_csr_matrix_raises_a_value_error_naming_the_caller(break_it, message):
    X = _csr()
    break_it(X)
    with pytest.raises(ValueError, match=r"^fit: malformed CSR input:.*" + message):
        check_sparse_structure(X, "fit")


def test_entries_past_the_end_of_indptr_are_dropped_on_a_copy():
    X = _csr()
    X.indptr = np.array([0, 2, 2], dtype=X.indptr.dtype)  # the third entry is not in a row
    before = (X.indptr.copy(), X.indices.copy(), X.data.copy())
    Y = check_sparse_structure(X, "fit")
    assert Y is not X and Y.nnz == 2
    np.testing.assert_array_equal(Y.toarray(), [[1.0, 0.0, 2.0], [0.0, 0.0, 0.0]])
    for a, b in zip(before, (X.indptr, X.indices, X.data), strict=True):
        np.testing.assert_array_equal(a, b)  # the input is not modified


@pytest.mark.parametrize("name, axis", [("row", 0), ("col", 1)])
def test_a_coo_index_out_of_range_raises(name, axis):
    X = _csr().tocoo()
    index = getattr(X, name).copy()
    index[0] = X.shape[axis]
    setattr(X, name, index)
    with pytest.raises(ValueError, match=f"malformed COO input: its {name} indices"):
        check_sparse_structure(X, "transform")
