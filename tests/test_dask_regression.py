"""VariationalEMRegressor on Dask arrays: the same fit as in memory, lazy predictions,
the in-memory errors for bad chunks."""

import warnings

import numpy as np
import pytest

da = pytest.importorskip("dask.array")

from skvi import VariationalEMRegressor, _regression_dask  # noqa: E402

# uneven chunks, none a multiple of 1024 (the in-memory passes use blocks of 2048 rows)
CHUNKS = (700, 1333, 517, 1450)
N = sum(CHUNKS)
ATTRS = ("coef_", "intercept_", "sigma_", "alpha_", "lambda_", "coef_std_", "intercept_std_",
         "df_", "lower_bounds_")  # fmt: skip


def _data(n_targets=1, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(N, 5)) * [1.0, 2.0, 0.5, 1.0, 3.0] + [0.0, 1.0, -2.0, 0.0, 5.0]
    coef = np.array([1.5, -2.0, 0.0, 0.0, 0.7])
    y = X @ coef + 0.3 * rng.standard_t(3, size=N) + 1.0
    if n_targets == 2:
        y = np.column_stack([y, X @ coef[::-1] - 0.5 + 0.2 * rng.normal(size=N)])
    w = rng.uniform(0.2, 2.0, N)
    w[[3, 900, 2500]] = 0.0
    return X, y, w


def _dask(a):
    return da.from_array(a, chunks=(CHUNKS,) + a.shape[1:])


def _rel(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    assert a.shape == b.shape
    scale = np.maximum(np.abs(b), 1e-300)
    with np.errstate(invalid="ignore"):  # inf == inf (df_ of Gaussian noise)
        return float(np.max(np.where(a == b, 0.0, np.abs(a - b) / scale), initial=0.0))


def _fit_both(X, y, w, dask_y=True, dask_w=True, **params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # short runs (max_iter) do not converge
        mem = VariationalEMRegressor(**params).fit(X, y, w)
        yd = _dask(y) if dask_y else y
        wd = None if w is None else (_dask(w) if dask_w else w)
        dsk = VariationalEMRegressor(**params).fit(_dask(X), yd, wd)
    return mem, dsk


def _check_equal(mem, dsk, X, y, w):
    rtol = 1e-10
    assert dsk.n_iter_ == mem.n_iter_
    for name in ATTRS:
        value = getattr(dsk, name)
        assert isinstance(value, (float, np.ndarray)), name
        assert _rel(value, getattr(mem, name)) < rtol, name
    Xd = _dask(X)
    mean, std = dsk.predict(Xd, return_std=True)
    assert isinstance(mean, da.Array) and isinstance(std, da.Array)
    ref_mean, ref_std = mem.predict(X, return_std=True)
    assert _rel(mean.compute(), ref_mean) < rtol
    assert _rel(std.compute(), ref_std) < rtol
    lo, hi = dsk.predict_interval(Xd, coverage=0.8)
    ref_lo, ref_hi = mem.predict_interval(X, coverage=0.8)
    # bounds near zero: relative to the interval's width (the bounds are mean -+ half)
    scale = np.max(np.abs(ref_hi - ref_lo))
    assert np.max(np.abs(lo.compute() - ref_lo)) < rtol * scale
    assert np.max(np.abs(hi.compute() - ref_hi)) < rtol * scale
    score = dsk.score(Xd, _dask(y), None if w is None else _dask(w))
    assert isinstance(score, float)
    assert score == pytest.approx(mem.score(X, y, w), rel=rtol)
    assert type(dsk.sample_precisions_) is np.ndarray
    assert _rel(dsk.sample_precisions_, mem.sample_precisions_) < rtol


@pytest.mark.parametrize("prior", ["ridge", "ard"])
@pytest.mark.parametrize("method", ["vem", "vbem"])
def test_gaussian_equals_in_memory(dask_client, method, prior):
    X, y, w = _data()
    mem, dsk = _fit_both(X, y, w, method=method, prior=prior)
    assert mem.n_iter_ > 1
    _check_equal(mem, dsk, X, y, w)


@pytest.mark.parametrize(
    "method, prior", [("vem", "ridge"), ("vbem", "ard"), ("vbem", "ridge"), ("vem", "ard")]
)
def test_student_t_equals_in_memory(dask_client, method, prior):
    X, y, w = _data()
    params = dict(method=method, prior=prior, noise="student_t", df=3.0, max_iter=5)
    mem, dsk = _fit_both(X, y, w, **params)
    _check_equal(mem, dsk, X, y, w)


@pytest.mark.parametrize("method, prior", [("vem", "ridge"), ("vbem", "ard")])
def test_student_t_learned_df(dask_client, method, prior):
    # the bounded search for df takes rounding-dependent steps; the Newton polish after
    # it makes df the maximiser to rounding in both paths
    X, y, w = _data()
    mem, dsk = _fit_both(X, y, w, method=method, prior=prior, noise="student_t", max_iter=2)
    assert dsk.df_ != 4.0  # learned
    _check_equal(mem, dsk, X, y, w)


def test_map_reduce_small_adds_in_the_order_of_the_chunks(dask_client):
    # the df search's sums: the values of the parts summed on the client in the pairwise
    # order of tree_sum, so the total is the one map_reduce gives (the order matters here)
    from skvi import _dask as skvi_dask

    values = [1e16, 1.0, -1e16, 3.0, 1.0]
    parts = dask_client.scatter([np.array([v]) for v in values])
    expected = ((values[0] + values[1]) + (values[2] + values[3])) + values[4]
    assert expected != sum(values)  # another order gives another total

    def scaled_sum(part, factor):
        return float(part.sum() * factor)

    where = skvi_dask.placement(parts)  # one task per worker holding parts
    assert sorted(i for _, indices in where for i in indices) == list(range(len(values)))
    assert len(where) == 2  # scattered over the two workers
    add = lambda a, b: a + b  # noqa: E731
    small = skvi_dask.map_reduce_small(scaled_sum, parts, 1.0, add=add, where=where)
    per_part = skvi_dask.map_reduce_small(scaled_sum, parts, 1.0, add=add)  # one task each
    graph = skvi_dask.map_reduce(scaled_sum, parts, 1.0, add=add)
    assert small == per_part == graph == expected
    # values rather than futures: map_reduce
    arrays = [np.array([v]) for v in values]
    assert skvi_dask.placement(arrays) is None
    local = skvi_dask.map_reduce_small(scaled_sum, arrays, 2.0, add=add)
    assert local == 2.0 * expected


def test_df_update_is_the_maximiser_to_rounding():
    # without the polish the search's result moved by ~1e-7 under rounding-level changes
    from skvi import _regression_kernels as kern

    rng = np.random.RandomState(0)
    s, c = rng.uniform(0.5, 2.0, 3000), rng.standard_t(3, 3000) ** 2
    nu = kern.update_df(s, c, 4.0)
    nu2 = kern.update_df(s * (1 + 1e-15), c * (1 + 1e-14), 4.0)
    assert nu == pytest.approx(nu2, rel=1e-12)
    f = [kern._df_objective(nu * (1 + k * 1e-5), s, c) for k in (-1, 0, 1)]
    assert f[1] >= max(f[0], f[2])


@pytest.mark.parametrize("noise", ["gaussian", "student_t"])
def test_two_targets_numpy_y_and_weights(dask_client, noise):
    X, Y, w = _data(n_targets=2)
    params = dict(prior="ard", noise=noise, df=4.0, max_iter=4)
    mem, dsk = _fit_both(X, Y, w, dask_y=False, dask_w=False, **params)
    assert dsk.coef_.shape == (2, 5)
    _check_equal(mem, dsk, X, Y, w)


def test_float32_and_no_weights(dask_client):
    X, y, _ = _data()
    X = X.astype(np.float32)
    mem, dsk = _fit_both(X, y, None)
    assert dsk.coef_.dtype == np.float32
    assert dsk.predict(_dask(X)).dtype == np.float32
    _check_equal(mem, dsk, X, y, None)


def test_data_generated_on_the_workers(dask_client):
    rs = da.random.RandomState(3)
    X = rs.normal(size=(20000, 4), chunks=(3001, 4)) * da.from_array([1.0, 2.0, 0.5, 4.0])
    y = X @ da.from_array([1.0, -1.0, 0.0, 0.3]) + rs.standard_t(4, size=20000, chunks=3001)
    w = rs.uniform(0.5, 1.5, size=20000, chunks=3001)
    dsk = VariationalEMRegressor(prior="ard").fit(X, y, w)
    Xm, ym, wm = (a.compute() for a in (X, y, w))
    mem = VariationalEMRegressor(prior="ard").fit(Xm, ym, wm)
    for name in ATTRS:
        assert _rel(getattr(dsk, name), getattr(mem, name)) < 1e-10, name
    assert _rel(dsk.predict(X).compute(), mem.predict(Xm)) < 1e-10


def test_fewer_rows_than_coefficients(dask_client, monkeypatch):
    rng = np.random.RandomState(1)
    X, y = rng.normal(size=(12, 20)), rng.normal(size=12)
    Xd, yd = da.from_array(X, chunks=(5, 20)), da.from_array(y, chunks=5)
    mem = VariationalEMRegressor(prior="ard").fit(X, y)
    dsk = VariationalEMRegressor(prior="ard").fit(Xd, yd)  # gathered: tiny
    assert _rel(dsk.coef_, mem.coef_) < 1e-10
    assert _rel(dsk.lower_bounds_, mem.lower_bounds_) < 1e-10
    monkeypatch.setattr(_regression_dask, "GATHER_LIMIT", 100)
    with pytest.raises(ValueError, match="fewer rows of positive weight"):
        VariationalEMRegressor().fit(Xd, yd)


def _message(X, y, w=None):
    with pytest.raises(ValueError) as info:
        VariationalEMRegressor().fit(X, y, w)
    return str(info.value)


@pytest.mark.parametrize("where", ["X nan", "X inf", "y nan", "y inf", "w negative"])
def test_bad_chunk_raises_the_in_memory_error(dask_client, where):
    X, y, w = _data()
    X, y, w = X[:3000], y[:3000], w[:3000]
    target, what = where.split()
    bad = {"X": X, "y": y, "w": w}[target].copy()
    bad[2600] = {"nan": np.nan, "inf": np.inf, "negative": -1.0}[what]
    args = {"X": X, "y": y, "w": w} | {target: bad}
    expected = _message(args["X"], args["y"], args["w"])
    chunks = (1000, 1000, 1000)
    dargs = [da.from_array(a, chunks=(chunks,) + a.shape[1:]) for a in args.values()]
    assert _message(*dargs) == expected


def test_bad_chunking_and_shapes(dask_client):
    X, y, _ = _data()
    with pytest.raises(ValueError, match="chunks across its 5 columns"):
        VariationalEMRegressor().fit(da.from_array(X, chunks=(1000, 2)), _dask(y))
    with pytest.raises(ValueError, match="same number of samples"):
        VariationalEMRegressor().fit(_dask(X), y[:-1])
    reg = VariationalEMRegressor().fit(_dask(X), _dask(y))
    with pytest.raises(ValueError, match="features"):
        reg.predict(_dask(X[:, :4]))
    bad = X.copy()
    bad[5, 1] = np.nan
    with pytest.raises(ValueError) as info:
        reg.predict(bad)
    with pytest.raises(ValueError, match=info.value.args[0].split("\n")[0]):
        reg.predict(_dask(bad)).compute()
