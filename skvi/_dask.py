"""Fits over Dask arrays: each sweep maps a model's chunk statistics over the row chunks
of the data on the workers and sums them there, in a fixed order; the small update and
the ELBO run on the client.

Dask is an optional extra (``pip install "skvi[dask]"``). Nothing here imports it at
module level: :func:`is_dask_array` recognises a Dask array by its type alone, so an
estimator can dispatch on its input before scikit-learn's validation (which would pull
the whole array into the client's memory), and ``import skvi`` never imports Dask.

Inside Dask tasks the models run the serial build of their Numba kernels (Dask supplies
the parallelism; a kernel of the parallel build called from two worker threads at once
oversubscribes the cores, or aborts under Numba's workqueue threading layer).
"""

import numpy as np


def is_dask_array(X):
    """Whether ``X`` is a ``dask.array.Array`` (without importing Dask)."""
    return type(X).__module__.partition(".")[0] == "dask" and hasattr(X, "to_delayed")


def require_dask(whom):
    """Import Dask, or raise an ImportError that says how to install it."""
    try:
        import dask  # noqa: F401
        import dask.array  # noqa: F401
    except ImportError as exc:  # pragma: no cover - the extra is installed in CI
        raise ImportError(
            f"{whom}: fitting a Dask array needs Dask: pip install 'skvi[dask]'"
        ) from exc


def check_row_chunks(X, name, ndim=2):
    """Check that ``X`` is a Dask array of ``ndim`` dimensions whose chunks hold whole
    rows (one chunk across the columns) of known sizes."""
    if X.ndim != ndim:
        raise ValueError(
            f"Expected a {ndim}-D Dask array for {name}, got {X.ndim} dimensions (shape {X.shape})."
        )
    if any(not np.isfinite(c) for c in X.chunks[0]):
        raise ValueError(
            f"The chunk sizes of {name} are unknown: call {name}.compute_chunk_sizes() "
            "(or build it with known chunks) before fitting."
        )
    if ndim == 2 and len(X.chunks[1]) != 1:
        raise ValueError(
            f"{name} has {len(X.chunks[1])} chunks across its {X.shape[1]} columns; each "
            f"chunk must hold whole rows: pass {name}.rechunk({{1: -1}})."
        )


def row_blocks(X, name, ndim=2):
    """The row chunks of ``X`` as a list of ``dask.delayed`` values, in order."""
    check_row_chunks(X, name, ndim)
    return list(X.to_delayed().ravel())


def aligned(arr, X, name):
    """``arr`` (a 1-D Dask or NumPy array of ``len(X)``) chunked like the rows of ``X``."""
    import dask.array as da

    if not is_dask_array(arr):
        arr = da.from_array(np.asarray(arr), chunks=(X.chunks[0],))
    check_row_chunks(arr, name, ndim=arr.ndim)
    if arr.shape[0] != X.shape[0]:
        raise ValueError(
            f"{name} has {arr.shape[0]} rows; X has {X.shape[0]}: they must have the same "
            "number of samples."
        )
    if arr.chunks[0] != X.chunks[0]:
        arr = arr.rechunk({0: X.chunks[0]})
    return arr


def share(value):
    """A value that every task of a sweep reads (a topic table, the E-step's
    coefficients): scattered once to every worker when a ``distributed`` client is
    active, so that it is not embedded in each task; otherwise the value itself.

    The value is scattered as one object (one future), also when it is a tuple, list or
    dict (a ``NamedTuple`` of tables), whose items ``client.scatter`` would otherwise
    scatter one by one."""
    try:
        from distributed import default_client

        client = default_client()
    except (ImportError, ValueError):
        return value
    return client.scatter([value], broadcast=True, hash=False)[0]


def tree_sum(parts, add):
    """Sum the delayed values ``parts`` on the workers, pairwise in a fixed order of the
    chunks (``((p0 + p1) + (p2 + p3)) + ...``): the same additions, in the same order,
    in every run, whichever worker finishes first."""
    from dask import delayed

    if not parts:
        raise ValueError("No chunks to sum: the Dask array has no rows.")
    add = delayed(add, pure=True)
    while len(parts) > 1:
        paired = [add(parts[i], parts[i + 1]) for i in range(0, len(parts) - 1, 2)]
        parts = paired + ([parts[-1]] if len(parts) % 2 else [])
    return parts[0]


def map_reduce(func, blocks, *args, add):
    """``func(block, *args)`` on every block on the workers, summed there by
    :func:`tree_sum` with ``add``; returns the total on the client.

    ``blocks`` is a list of delayed values or of tuples of them (a chunk of ``X`` with
    the matching chunks of ``y`` or of the sample weights)."""
    from dask import compute, delayed

    task = delayed(func, pure=True)
    parts = [task(*(b if isinstance(b, tuple) else (b,)), *args) for b in blocks]
    (total,) = compute(tree_sum(parts, add))
    return total


def compute(*values):
    """Compute delayed values or Dask arrays on the current scheduler."""
    import dask

    return dask.compute(*values)


def map_reduce_keep(func, blocks, *args, add):
    """Like :func:`map_reduce`, for a ``func`` that returns ``(kept, part)`` per block:
    the parts are summed on the workers by :func:`tree_sum` and the total returned, the
    kept values (per-chunk local parameters a later sweep starts from) stay where they
    were computed. Returns ``(total, kept)``: ``kept`` is a list in the order of the
    blocks, of futures on the workers when a ``distributed`` client is active (pass them
    to the next sweep's tasks), else of the values."""
    from dask import compute, delayed

    task = delayed(func, pure=True, nout=2)
    outs = [task(*(b if isinstance(b, tuple) else (b,)), *args) for b in blocks]
    total = tree_sum([out[1] for out in outs], add)
    kept = [out[0] for out in outs]
    try:
        from distributed import default_client

        client = default_client()
    except (ImportError, ValueError):
        total, *kept = compute(total, *kept)
        return total, kept
    futures = client.compute([total, *kept])
    return futures[0].result(), futures[1:]


def _futures_client(parts):
    """The ``distributed`` client when ``parts`` are its futures, else None."""
    try:
        from distributed import Future, default_client

        client = default_client()
    except (ImportError, ValueError):
        return None
    if not parts or not all(isinstance(p, Future) for p in parts):
        return None
    return client


def placement(parts):
    """Where the futures ``parts`` (the kept values of :func:`map_reduce_keep`) are held,
    for repeated calls of :func:`map_reduce_small` over them: a list of ``(worker,
    indices of the parts it holds)``, or None when they are not futures of a
    ``distributed`` client."""
    client = _futures_client(parts)
    if client is None:
        return None
    from distributed import wait

    wait(parts)
    who = client.who_has(parts)
    groups = {}
    for i, part in enumerate(parts):
        holders = who.get(part.key) or [None]
        groups.setdefault(holders[0], []).append(i)
    return list(groups.items())


def _apply_each(parts, fn, fn_args):
    return [fn(part, *fn_args) for part in parts]


def map_reduce_small(func, parts, *args, add, where=None):
    """:func:`map_reduce` for values of a few numbers per part, evaluated many times in a
    row (a line search over the kept per-chunk values of :func:`map_reduce_keep`):
    ``func(part, *args)`` runs on the workers without a graph, one task per worker that
    holds parts (``where``, from :func:`placement`; else one task per part), and the
    values are summed on the client pairwise in the order of :func:`tree_sum`: the same
    additions in the same order as :func:`map_reduce`, so the same total, in one round
    trip without transfers between workers. Without a ``distributed`` client, or for
    parts that are not futures, :func:`map_reduce`."""
    client = _futures_client(parts)
    if client is None:
        return map_reduce(func, parts, *args, add=add)
    if where is None:
        where = [(None, [i]) for i in range(len(parts))]
    tasks = [
        client.submit(
            _apply_each, [parts[i] for i in indices], func, args, pure=False,
            **({} if worker is None else {"workers": [worker], "allow_other_workers": True}),
        )
        for worker, indices in where
    ]  # fmt: skip
    values = [None] * len(parts)
    for (_, indices), out in zip(where, client.gather(tasks), strict=True):
        for i, value in zip(indices, out, strict=True):
            values[i] = value
    while len(values) > 1:  # the pairing of tree_sum
        paired = [add(values[i], values[i + 1]) for i in range(0, len(values) - 1, 2)]
        values = paired + ([values[-1]] if len(values) % 2 else [])
    return values[0]
