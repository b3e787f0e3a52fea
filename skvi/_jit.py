"""The one place where Numba is configured.

Every kernel in skvi is compiled through :func:`jit` (serial) or :func:`jit_parallel`
(``parallel=True``) from the same Python source, so a kernel is written once and its
serial and parallel builds can be compared in tests.

Flags
-----
``cache=True``
    Compiled machine code is stored on disk next to the module; a warm cache loads in
    a fraction of a second instead of compiling again.
``error_model="numpy"``
    Division by zero gives ``inf``/``nan`` as in NumPy instead of raising, and removes
    the zero checks from the inner loops.
``fastmath=FASTMATH``
    Only ``contract`` (fused multiply-add) and ``reassoc`` (so that reductions
    vectorise); **without** ``nnan`` and ``ninf``: variational code legitimately meets
    ``-inf`` (log-responsibilities of emptied components, ``log 0``) and must never be
    compiled under the assumption that it cannot.
``nogil=True``
    Kernels release the GIL.
"""

import types
from contextlib import contextmanager

# (skvi/__init__.py, which runs first, sets OMP_WAIT_POLICY=PASSIVE unless the user did.)
import numba

#: fastmath flags used by every kernel: contraction (FMA) and reassociation, so that
#: reductions vectorise; no ``nnan``/``ninf``/``nsz`` assumptions.
FASTMATH = frozenset({"contract", "reassoc"})

_OPTIONS = dict(cache=True, error_model="numpy", nogil=True, fastmath=set(FASTMATH))

prange = numba.prange

#: Rows per accumulation block in parallel kernels. It is a constant, not a function of
#: the thread count, so the reduction order (and therefore the result, bit for bit) is
#: the same whatever ``numba.get_num_threads()`` is.
BLOCK_ROWS = 1024


def jit(func):
    """Compile ``func`` as a serial nopython kernel with skvi's options."""
    return numba.njit(**_OPTIONS)(func)


def jit_inline(func):
    """Compile ``func`` as :func:`jit` does, but inlined (in Numba's IR) into every kernel
    that calls it: it is compiled with its callers instead of on its own first, which
    shortens the first compilation (cold start) of a kernel built from small helpers. For
    helpers with few call sites; called from Python, it compiles as :func:`jit`'s would.
    """
    return numba.njit(inline="always", **_OPTIONS)(func)


def jit_parallel(func):
    """Compile ``func`` as a ``parallel=True`` nopython kernel with skvi's options.

    The parallel build gets its own name (``<qualname>.parallel``): Numba names its
    on-disk cache files after the function's qualified name and line, not its options, so
    a serial ``jit(func)`` and a parallel ``jit_parallel(func)`` of the same function would
    otherwise load each other's machine code from the cache.
    """
    twin = types.FunctionType(
        func.__code__, func.__globals__, func.__name__, func.__defaults__, func.__closure__
    )
    twin.__qualname__ = func.__qualname__ + ".parallel"
    twin.__doc__ = func.__doc__
    twin.__module__ = func.__module__
    return numba.njit(parallel=True, **_OPTIONS)(twin)


def n_blocks(n_rows):
    """Number of fixed-size row blocks covering ``n_rows`` rows (at least one); for the
    Python callers of parallel kernels (not compiled)."""
    return max(1, (n_rows + BLOCK_ROWS - 1) // BLOCK_ROWS)


_BLAS = None


def single_threaded_blas():
    """Context in which BLAS runs on one thread.

    Kernels call BLAS on small sub-block products from every Numba thread; a
    multi-threaded BLAS underneath would oversubscribe the cores, and scikit-learn's own
    mixture code is faster with one BLAS thread on 2 cores (the mixture benchmark's
    ``sklearn`` and ``sklearn-1blas`` rows: ``python -m benchmarks.run --suite mixture``).
    The controller is created once, on first use.
    """
    global _BLAS
    if _BLAS is None:
        from threadpoolctl import ThreadpoolController

        _BLAS = ThreadpoolController()
    return _BLAS.limit(limits=1, user_api="blas")


def max_threads():
    """Number of threads available to parallel kernels."""
    return numba.config.NUMBA_NUM_THREADS


@contextmanager
def num_threads(n_jobs):
    """Run parallel kernels with ``n_jobs`` threads, restoring the previous count.

    ``None`` means all cores; negative values count back from the number of cores as in
    joblib (``-1`` is all cores, ``-2`` all but one).
    """
    previous = numba.get_num_threads()
    limit = max_threads()
    if n_jobs is None:
        n = limit
    elif n_jobs < 0:
        n = max(1, limit + 1 + n_jobs)
    else:
        n = max(1, min(int(n_jobs), limit))
    numba.set_num_threads(n)
    try:
        yield n
    finally:
        numba.set_num_threads(previous)


__all__ = [
    "FASTMATH",
    "BLOCK_ROWS",
    "jit",
    "jit_inline",
    "jit_parallel",
    "n_blocks",
    "num_threads",
    "prange",
]
