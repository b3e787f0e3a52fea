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
    with pytest.raises(ValueError, match="partial_fit does not accept a Dask array"):
        VariationalGaussianMixture().partial_fit(da.from_array(X))
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
        raise AssertionError("a parallel=True kernel ran in a Dask task")

    for name in ("estep_stats", "resp_stats", "log_resp", "log_student_t"):
        monkeypatch.setattr(kern, name, forbidden)
    X = _blobs()
    Xd = da.from_array(X, chunks=(CHUNKS, 3))
    model = VariationalGaussianMixture(n_components=3, random_state=0).fit(Xd)
    assert model.predict_proba(Xd).compute().shape == (len(X), 3)
    assert np.isfinite(model.score(Xd))
    with pytest.raises(AssertionError, match="parallel"):  # the patch is in effect
        VariationalGaussianMixture(n_components=3, random_state=0).fit(X)
