"""VariationalGaussianMixture on Dask arrays: the same fit as in memory."""

import re
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

pytest.importorskip("dask")
pytest.importorskip("distributed")

import dask.array as da  # noqa: E402

from skvi import VariationalGaussianMixture  # noqa: E402
from skvi import _mixture_dask as mdask  # noqa: E402

RTOL = 1e-10
#: Uneven row chunks, none a multiple of 1024 (2100 rows).
CHUNKS = (500, 333, 1000, 267)
FITTED = ("weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_")


def _blobs(n=2100, d=3, seed=0):
    rng = np.random.RandomState(seed)
    centres = 4.0 * rng.randn(3, d)
    X = centres[rng.randint(3, size=n)] + rng.randn(n, d) * rng.uniform(0.5, 1.5, size=d)
    return X


def _assert_same_fit(mem, dsk):
    assert mem.n_iter_ == dsk.n_iter_
    np.testing.assert_allclose(dsk.lower_bounds_, mem.lower_bounds_, rtol=RTOL, atol=0)
    for name in FITTED:
        value = getattr(dsk, name)
        assert type(value) is np.ndarray, name
        # entries near zero (off-diagonals, centred means): an absolute floor
        scale = np.max(np.abs(getattr(mem, name)))
        np.testing.assert_allclose(value, getattr(mem, name), rtol=RTOL, atol=RTOL * scale)


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_dask_fit_equals_in_memory_fit(dask_client, capsys, covariance_type):
    X = _blobs()
    Xd = da.from_array(X, chunks=(CHUNKS, 3))
    params = dict(n_components=4, covariance_type=covariance_type, random_state=0, verbose=1)
    mem = VariationalGaussianMixture(**params).fit(X)
    capsys.readouterr()
    dsk = VariationalGaussianMixture(**params).fit(Xd)
    # 4 components for 3 clusters: the delete move, run over the chunks, was taken
    assert "(move accepted)" in capsys.readouterr().out
    _assert_same_fit(mem, dsk)
    # lazy predictions, equal to the in-memory ones
    for method in ("predict", "predict_proba", "score_samples"):
        lazy = getattr(dsk, method)(Xd)
        assert isinstance(lazy, da.Array), method
        expected = getattr(mem, method)(X)
        if method == "predict":
            np.testing.assert_array_equal(lazy.compute(), expected)
        else:
            np.testing.assert_allclose(lazy.compute(), expected, rtol=RTOL, atol=1e-300)
    score = dsk.score(Xd)
    assert type(score) is float
    assert score == pytest.approx(mem.score(X), rel=RTOL)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("init_params", ["kmeans", "k-means++", "random_from_data", "random"])
def test_sampled_initialisation_is_the_same_in_both_paths(dask_client, monkeypatch, init_params):
    # above SAMPLE_ROWS the initialisation sees a sample of rows (or per-row uniforms)
    monkeypatch.setattr(mdask, "SAMPLE_ROWS", 300)
    X = _blobs(seed=1).astype(np.float32)
    Xd = da.from_array(X, chunks=(CHUNKS, 3))
    params = dict(n_components=5, init_params=init_params, random_state=2, max_iter=30, tol=1e-6)
    mem = VariationalGaussianMixture(**params).fit(X)
    dsk = VariationalGaussianMixture(**params).fit(Xd)
    _assert_same_fit(mem, dsk)
    # the sampled initialisation differs from the one over all rows
    monkeypatch.setattr(mdask, "SAMPLE_ROWS", 10_000)
    first = VariationalGaussianMixture(**{**params, "max_iter": 0}).fit(X).lower_bound_
    monkeypatch.setattr(mdask, "SAMPLE_ROWS", 300)
    sampled = VariationalGaussianMixture(**{**params, "max_iter": 0}).fit(X).lower_bound_
    assert first != sampled


def test_random_initialisation_does_not_depend_on_the_chunks():
    rule = mdask.InitRule("random", 3, seed=7)
    X = np.zeros((3000, 2))
    whole = mdask.rule_resp(X, 0, rule)
    parts = [mdask.rule_resp(X[a:b], a, rule) for a, b in [(0, 1000), (1000, 2049), (2049, 3000)]]
    np.testing.assert_array_equal(np.concatenate(parts), whole)
    np.testing.assert_allclose(whole.sum(axis=1), 1.0)


def test_generated_data_above_the_sample_size(dask_client):
    # chunks generated on the workers; more rows than the initialisation gathers
    Xd = da.random.RandomState(3).standard_normal((mdask.SAMPLE_ROWS + 4321, 2), chunks=(3001, 2))
    Xd = Xd + da.where(da.arange(Xd.shape[0], chunks=3001) % 3 == 0, 5.0, 0.0)[:, None]
    X = Xd.compute()
    params = dict(n_components=3, covariance_type="diag", random_state=0, n_init=2)
    mem = VariationalGaussianMixture(**params).fit(X)
    dsk = VariationalGaussianMixture(**params).fit(Xd)
    _assert_same_fit(mem, dsk)


@pytest.mark.parametrize("as_dask", [True, False])
def test_sample_weight(dask_client, as_dask):
    X = _blobs(seed=4)
    w = np.random.RandomState(5).uniform(0, 3, size=len(X))
    w[::7] = 0.0
    w[500:833] = 0.0  # a chunk without weight
    Xd = da.from_array(X, chunks=(CHUNKS, 3))
    wd = da.from_array(w, chunks=((700, 1400),)) if as_dask else w  # rechunked like X
    params = dict(
        n_components=4, random_state=0, weight_concentration_prior_type="dirichlet_distribution"
    )
    mem = VariationalGaussianMixture(**params).fit(X, sample_weight=w)
    dsk = VariationalGaussianMixture(**params).fit(Xd, sample_weight=wd)
    _assert_same_fit(mem, dsk)


def test_warm_start(dask_client):
    X, X2 = _blobs(seed=6), _blobs(seed=7)
    Xd, X2d = (da.from_array(a, chunks=(CHUNKS, 3)) for a in (X, X2))
    params = dict(n_components=3, random_state=0, warm_start=True, max_iter=5)
    mem = VariationalGaussianMixture(**params).fit(X)
    dsk = VariationalGaussianMixture(**params).fit(Xd)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # max_iter=5
        mem.fit(X2)
        dsk.fit(X2d)
    _assert_same_fit(mem, dsk)


def _in_memory_error(X, **fit_kwargs):
    with pytest.raises(ValueError) as info:
        VariationalGaussianMixture(n_components=2).fit(X, **fit_kwargs)
    return str(info.value)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_bad_chunks_raise_the_in_memory_error(dask_client, bad):
    X = _blobs()
    X[1500, 1] = bad  # in the third chunk
    message = _in_memory_error(X)
    with pytest.raises(ValueError, match=re.escape(message)):
        VariationalGaussianMixture(n_components=2).fit(da.from_array(X, chunks=(CHUNKS, 3)))


@pytest.mark.parametrize("bad", [np.nan, -1.0])
def test_bad_sample_weight_chunks_raise_the_in_memory_error(dask_client, bad):
    X = _blobs()
    w = np.ones(len(X))
    w[2000] = bad
    message = _in_memory_error(X, sample_weight=w)
    Xd = da.from_array(X, chunks=(CHUNKS, 3))
    with pytest.raises(ValueError, match=re.escape(message)):
        VariationalGaussianMixture(n_components=2).fit(Xd, sample_weight=da.from_array(w))


def test_unsupported_inputs_raise(dask_client):
    X = _blobs()
    with pytest.raises(ValueError, match="chunks across its 3 columns"):
        VariationalGaussianMixture().fit(da.from_array(X, chunks=(500, 2)))
    message = _in_memory_error(X, sample_weight=np.zeros(len(X)))
    with pytest.raises(ValueError, match=re.escape(message)):
        VariationalGaussianMixture().fit(da.from_array(X), sample_weight=np.zeros(len(X)))
    with pytest.raises(ValueError, match="minimum of 2"):
        VariationalGaussianMixture().fit(da.from_array(X[:1]))
    model = VariationalGaussianMixture(n_components=2, random_state=0).fit(X)
    with pytest.raises(ValueError, match="features"):
        model.predict(da.from_array(X[:, :2]))
    with pytest.raises(ValueError, match="NaN"):
        bad = X.copy()
        bad[3, 0] = np.nan
        model.score_samples(da.from_array(bad, chunks=(CHUNKS, 3))).compute()


def test_tasks_run_the_serial_kernels(dask_client, monkeypatch):
    from skvi import _mixture_kernels as kern

    def forbidden(*args):
        raise AssertionError("the parallel kernel ran in a Dask task")

    for name in ("estep_stats", "log_resp", "log_student_t"):
        monkeypatch.setattr(kern, name, forbidden)
    X = _blobs()
    Xd = da.from_array(X, chunks=(CHUNKS, 3))
    model = VariationalGaussianMixture(n_components=3, random_state=0).fit(Xd)
    assert model.predict_proba(Xd).compute().shape == (len(X), 3)
    assert np.isfinite(model.score(Xd))
    model.partial_fit(Xd)  # a step from a fitted model
    stream = VariationalGaussianMixture(n_components=3, random_state=0).partial_fit(Xd)
    assert model.n_batch_iter_ == stream.n_batch_iter_ == 1
    with pytest.raises(AssertionError, match="parallel"):  # the patch is in effect
        VariationalGaussianMixture(n_components=3, random_state=0).fit(X)


# ------------------------------------------------------------ partial_fit on Dask arrays
def _assert_same_step(mem, dsk):
    assert dsk.n_batch_iter_ == mem.n_batch_iter_
    assert dsk.n_iter_ == mem.n_iter_ == len(mem.lower_bounds_)
    _assert_same_fit(mem, dsk)
    for name in ("mean_prior_", "covariance_prior_", "degrees_of_freedom_"):
        expected = np.asarray(getattr(mem, name))
        scale = np.max(np.abs(expected))
        np.testing.assert_allclose(getattr(dsk, name), expected, rtol=RTOL, atol=RTOL * scale)


def _batches(n_batches, seed=10):
    """Batches of uneven sizes with weights; the Dask batches chunked unevenly (and
    the weights otherwise: they are rechunked like X)."""
    rng = np.random.RandomState(seed)
    out = []
    for i, n in enumerate([2100, 1777, 1301][:n_batches]):
        X = _blobs(n=n, seed=seed + i)
        w = rng.uniform(0.0, 3.0, size=n)
        w[::5] = 0.0
        chunks = (CHUNKS if n == 2100 else (n - 900, 401, 499),)
        Xd = da.from_array(X, chunks=(chunks[0], 3))
        wd = da.from_array(w, chunks=(n // 2, n - n // 2))
        out.append((X, w, Xd, wd))
    return out


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_partial_fit_equals_in_memory_partial_fit(dask_client, covariance_type):
    params = dict(n_components=4, covariance_type=covariance_type, random_state=0)
    params["total_samples"] = 5e4
    mem = VariationalGaussianMixture(**params)
    dsk = VariationalGaussianMixture(**params)
    for i, (X, w, Xd, wd) in enumerate(_batches(3)):
        w_before = w.copy()
        mem.partial_fit(X, sample_weight=w)
        # the weights as a Dask array, or as a NumPy array (not modified)
        dsk.partial_fit(Xd, sample_weight=wd if i % 2 == 0 else w)
        np.testing.assert_array_equal(w, w_before)
        _assert_same_step(mem, dsk)  # after the first call, and after each later one
    assert dsk.n_batch_iter_ == 3 and len(dsk.lower_bounds_) == 3
    # the steps moved the model: the third batch's step is not the first's
    first = VariationalGaussianMixture(**params).partial_fit(Xd, sample_weight=wd)
    assert not np.allclose(first.means_, dsk.means_, rtol=1e-6)


@pytest.mark.parametrize("init_params", ["kmeans", "random", "k-means++"])
def test_partial_fit_first_call_above_the_sample_size(dask_client, monkeypatch, init_params):
    # partial_fit's first call initialises from a sample of its batch, in both paths
    monkeypatch.setattr(mdask, "SAMPLE_ROWS", 400)
    (X, w, Xd, wd), (X2, _, X2d, _) = _batches(2, seed=20)
    params = dict(n_components=3, covariance_type="diag", init_params=init_params, random_state=3)
    mem = VariationalGaussianMixture(**params).partial_fit(X, sample_weight=w).partial_fit(X2)
    dsk = VariationalGaussianMixture(**params).partial_fit(Xd, sample_weight=wd).partial_fit(X2d)
    _assert_same_step(mem, dsk)
    assert dsk.n_batch_iter_ == 2


def test_partial_fit_of_generated_data_above_the_sample_size(dask_client):
    # chunks generated on the workers, more rows than the initialisation gathers
    n = mdask.SAMPLE_ROWS + 2345
    Xd = da.random.RandomState(8).standard_normal((n, 2), chunks=(4001, 2))
    Xd = Xd + da.where(da.arange(n, chunks=4001) % 3 == 0, 5.0, 0.0)[:, None]
    params = dict(n_components=3, covariance_type="full", random_state=1)
    mem = VariationalGaussianMixture(**params).partial_fit(Xd.compute())
    dsk = VariationalGaussianMixture(**params).partial_fit(Xd)
    _assert_same_step(mem, dsk)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_partial_fit_continues_a_fit(dask_client):
    # after fit (of a Dask array or of the NumPy one), Dask batches continue it
    (X, w, Xd, wd), (X2, w2, X2d, w2d) = _batches(2, seed=30)
    params = dict(n_components=3, covariance_type="full", random_state=0, max_iter=10)
    mem = VariationalGaussianMixture(**params).fit(X, sample_weight=w)
    dsk = VariationalGaussianMixture(**params).fit(Xd, sample_weight=wd)
    mixed = VariationalGaussianMixture(**params).fit(X, sample_weight=w)
    for model, batch, weights in ((mem, X2, w2), (dsk, X2d, w2d), (mixed, X2d, w2)):
        model.partial_fit(batch, sample_weight=weights)
        model.partial_fit(batch[:1])  # a later batch may hold one row, as in memory
    _assert_same_step(mem, dsk)
    _assert_same_step(mem, mixed)
    assert mem.n_batch_iter_ == 2


def _in_memory_partial_fit_error(X, model=None, **fit_kwargs):
    model = VariationalGaussianMixture(n_components=2) if model is None else model
    with pytest.raises(ValueError) as info:
        model.partial_fit(X, **fit_kwargs)
    return str(info.value)


@pytest.mark.parametrize("later", [False, True])
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_partial_fit_bad_chunks_raise_the_in_memory_error(dask_client, later, bad):
    X = _blobs()
    fitted = VariationalGaussianMixture(n_components=2, random_state=0).partial_fit(X)
    before = fitted.means_.copy()
    X[1500, 1] = bad  # in the third chunk
    model = fitted if later else None
    message = _in_memory_partial_fit_error(X, model)
    with pytest.raises(ValueError, match=re.escape(message)):
        model = fitted if later else VariationalGaussianMixture(n_components=2)
        model.partial_fit(da.from_array(X, chunks=(CHUNKS, 3)))
    np.testing.assert_array_equal(fitted.means_, before)  # a refused batch changes nothing


@pytest.mark.parametrize("bad", [np.nan, -1.0, 0.0])
def test_partial_fit_bad_sample_weight_raises_the_in_memory_error(dask_client, bad):
    X = _blobs()
    w = np.ones(len(X))
    if bad == 0.0:
        w[:] = 0.0  # nothing to fit
    else:
        w[2000] = bad  # in the last chunk
    message = _in_memory_partial_fit_error(X, sample_weight=w)
    Xd = da.from_array(X, chunks=(CHUNKS, 3))
    with pytest.raises(ValueError, match=re.escape(message)):
        VariationalGaussianMixture(n_components=2).partial_fit(Xd, sample_weight=da.from_array(w))


def test_partial_fit_checks_the_batch_shape(dask_client):
    X = _blobs()
    model = VariationalGaussianMixture(n_components=2, random_state=0).partial_fit(X)
    message = _in_memory_partial_fit_error(X[:, :2], model)
    assert "features" in message
    with pytest.raises(ValueError, match=re.escape(message)):
        model.partial_fit(da.from_array(X[:, :2], chunks=(CHUNKS, 2)))
    with pytest.raises(ValueError, match="chunks across its 3 columns"):
        model.partial_fit(da.from_array(X, chunks=(500, 2)))
    message = _in_memory_partial_fit_error(X[:1])
    with pytest.raises(ValueError, match=re.escape(message)):
        VariationalGaussianMixture(n_components=2).partial_fit(da.from_array(X[:1]))
    message = _in_memory_partial_fit_error(X[:0], model)
    with pytest.raises(ValueError, match=re.escape(message)):
        model.partial_fit(da.from_array(X[:0]))
    assert model.n_batch_iter_ == 1  # none of the refused batches made a step
