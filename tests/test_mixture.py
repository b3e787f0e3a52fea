"""VariationalGaussianMixture: exactness, monotonicity, agreement with scikit-learn, API."""

import math
import warnings

import numba
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import adjusted_rand_score
from sklearn.mixture import BayesianGaussianMixture
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skvi import VariationalGaussianMixture
from skvi import _mixture_kernels as kern

from . import _naive as nv

COVARIANCE_TYPES = ["full", "tied", "diag", "spherical"]
PRIOR_TYPES = ["dirichlet_process", "dirichlet_distribution"]


def _blobs(n=300, d=2, k=3, seed=0, spread=6.0):
    rng = np.random.RandomState(seed)
    centers = rng.randn(k, d) * spread
    labels = rng.randint(k, size=n)
    return centers[labels] + rng.randn(n, d), labels


def _fit(model, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(*args, **kwargs)


def _exact_log_evidence(model, X, sample_weight=None):
    args = (
        X,
        model.mean_prior_,
        model.mean_precision_prior_,
        model.degrees_of_freedom_prior_,
        model.covariance_prior_,
    )
    if model.covariance_type in ("full", "tied"):
        return nv.log_evidence_normal_wishart(*args, sample_weight=sample_weight)
    if model.covariance_type == "diag":
        return nv.log_evidence_normal_gamma_diag(*args, sample_weight=sample_weight)
    return nv.log_evidence_normal_gamma_spherical(*args, sample_weight=sample_weight)


# ------------------------------------------------------------------- exactness
@pytest.mark.parametrize("prior_type", PRIOR_TYPES)
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_elbo_equals_exact_log_evidence_with_one_component(covariance_type, prior_type):
    rng = np.random.RandomState(0)
    X = rng.randn(50, 3) @ rng.randn(3, 3) + 5.0
    model = _fit(
        VariationalGaussianMixture(
            covariance_type=covariance_type,
            weight_concentration_prior_type=prior_type,
            reg_covar=0.0,
            mean_precision_prior=0.3,
            mean_prior=np.array([4.0, 5.0, 6.0]),
            max_iter=2,
        ),
        X,
    )
    exact = _exact_log_evidence(model, X)
    assert_allclose(model.lower_bound_, exact, rtol=1e-8)
    # every iterate is the exact posterior already, so the bound is flat
    assert_allclose(model.lower_bounds_, exact, rtol=1e-8)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_elbo_equals_exact_log_evidence_with_weights(covariance_type):
    rng = np.random.RandomState(1)
    X = rng.randn(30, 2) * [1.0, 3.0]
    w = rng.uniform(0.5, 3.0, size=30)
    model = _fit(
        VariationalGaussianMixture(covariance_type=covariance_type, reg_covar=0.0, max_iter=2),
        X,
        sample_weight=w,
    )
    assert_allclose(model.lower_bound_, _exact_log_evidence(model, X, w), rtol=1e-8)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_elbo_is_below_the_exact_evidence_with_reg_covar(covariance_type):
    rng = np.random.RandomState(2)
    X = rng.randn(40, 2)
    model = _fit(
        VariationalGaussianMixture(
            covariance_type=covariance_type,
            reg_covar=0.1,
            covariance_prior=None,
            max_iter=5,
        ),
        X,
    )
    # the default covariance prior includes reg_covar: compare with that model's evidence
    assert model.lower_bound_ < _exact_log_evidence(model, X)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_elbo_with_reg_covar_equals_the_exact_regularised_optimum(covariance_type, weighted):
    """Two-sided: with one component the variational family holds the exact optimum of the
    objective with the ``reg_covar`` term, whose value is known in closed form (the tilted
    conjugate prior of tests/_naive.py); the fitted bound must equal it, not only lie below
    the evidence. Dropping the term, or counting it twice, moves the bound by nats."""
    rng = np.random.RandomState(2)
    X = rng.randn(40, 2) @ np.array([[1.0, 0.3], [0.0, 2.0]]) + 1.0
    w = rng.uniform(0.5, 2.0, size=40) if weighted else None
    reg = 0.1
    model = _fit(
        VariationalGaussianMixture(
            n_components=1, covariance_type=covariance_type, reg_covar=reg, max_iter=5
        ),
        X,
        sample_weight=w,
    )
    args = (model.mean_prior_, model.mean_precision_prior_, model.degrees_of_freedom_prior_)
    exact = nv.log_evidence_reg_covar(
        X, *args, model.covariance_prior_, reg, covariance_type, sample_weight=w
    )
    assert_allclose(model.lower_bound_, exact, rtol=1e-10)
    # and the term is not zero: the unregularised evidence of the same prior is higher
    unregularised = _exact_log_evidence(model, X, w)
    assert unregularised - model.lower_bound_ > 1.0


def test_elbo_is_below_the_exact_mixture_evidence():
    """With K=2 the ELBO must lie below log p(X), computed exactly on 12 points in 1-D by
    summing the conjugate evidence over all 2^12 assignments."""
    rng = np.random.RandomState(3)
    X = np.concatenate([rng.randn(6) - 3, rng.randn(6) + 3])[:, None]
    model = _fit(
        VariationalGaussianMixture(
            n_components=2,
            covariance_type="diag",
            weight_concentration_prior_type="dirichlet_distribution",
            weight_concentration_prior=1.0,
            reg_covar=0.0,
            max_iter=200,
            tol=1e-10,
            random_state=0,
        ),
        X,
    )
    # exact evidence: sum over the 2^12 assignments of the conjugate evidence
    from itertools import product

    from scipy.special import gammaln, logsumexp

    args = (model.mean_prior_, model.mean_precision_prior_, model.degrees_of_freedom_prior_)
    terms = []
    for z in product([0, 1], repeat=len(X)):
        z = np.array(z)
        counts = np.bincount(z, minlength=2)
        # Dirichlet(1, 1) marginal of the assignments
        log_pz = gammaln(2.0) - gammaln(2.0 + len(X)) + np.sum(gammaln(1.0 + counts))
        log_px = 0.0
        for k in range(2):
            if counts[k]:
                log_px += nv.log_evidence_normal_gamma_diag(
                    X[z == k], *args, model.covariance_prior_
                )
        terms.append(log_pz + log_px)
    log_evidence = logsumexp(terms)
    assert model.lower_bound_ <= log_evidence
    # and not vacuous: the gap (KL to the posterior) is ln 2 for the label symmetry plus
    # the mean-field gap; measured 2.7 nats here
    assert model.lower_bound_ > log_evidence - 4.0


# ---------------------------------------------------------------- monotonicity
@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    n=st.integers(2, 60),
    d=st.integers(1, 3),
    k=st.integers(1, 5),
    covariance_type=st.sampled_from(COVARIANCE_TYPES),
    prior_type=st.sampled_from(PRIOR_TYPES),
    reg_covar=st.sampled_from([0.0, 1e-6, 1e-2]),
    concentration=st.sampled_from([None, 1e-3, 10.0]),
    duplicates=st.booleans(),
    init_params=st.sampled_from(["kmeans", "random", "random_from_data", "k-means++"]),
)
def test_elbo_never_decreases(
    seed, n, d, k, covariance_type, prior_type, reg_covar, concentration, duplicates, init_params
):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, d) * rng.uniform(0.1, 10.0, size=d) + rng.randn(d) * 5
    if duplicates:
        X[: n // 2] = X[0]
    if reg_covar == 0.0 and n <= d:
        reg_covar = 1e-6  # the default covariance prior would be singular
    model = _fit(
        VariationalGaussianMixture(
            n_components=k,
            covariance_type=covariance_type,
            weight_concentration_prior_type=prior_type,
            weight_concentration_prior=concentration,
            reg_covar=reg_covar,
            init_params=init_params,
            max_iter=30,
            tol=0.0,
            random_state=seed,
        ),
        X,
    )
    bounds = model.lower_bounds_
    assert np.all(np.isfinite(bounds))
    # round-off scale: the ELBO is a sum of O(X.size) terms; an ELBO near zero (two
    # points, near-singular prior scale) still carries the round-off of its terms, and
    # each sample's log-responsibilities are sums of E-step coefficients as large as the
    # posterior precisions (2.4e8 in the internal units for 2 points in 2-D with
    # reg_covar=1e-6, where the ELBO of 0.077 moves by 7e-8 between sweeps: 0.6 eps n
    # max|coef|, found by hypothesis in the minimum-versions run)
    coef = model._state.coef
    resolution = 16 * np.finfo(float).eps * X.shape[0] * np.abs(coef[np.isfinite(coef)]).max()
    assert np.all(np.diff(bounds) >= -1e-8 * (np.abs(bounds).max() + X.size) - resolution)


# ------------------------------------------------------------ vs scikit-learn
class _SkResp(BayesianGaussianMixture):
    """scikit-learn's BGM started from given responsibilities."""

    def __init__(self, resp=None, **kwargs):
        super().__init__(**kwargs)
        self.resp = resp

    def _initialize_parameters(self, X, random_state, xp=None):
        self._initialize(X, self.resp)


def _skvi_from_resp(model, X, resp, n_iter):
    model.set_params(max_iter=n_iter)
    X, w = model._validate_fit_data(X, None, reset=True)
    model._resolve_priors(X, w)
    data = model._data(X, w)
    state, _ = kern.state_from_resp(data.chunk, data.prior, resp)
    for _ in range(n_iter):
        state, _ = model._sweep(data, state)
    model._publish(data, state)
    return model


@pytest.mark.parametrize("n_iter", [0, 1, 5])
def test_same_iterates_as_sklearn_full_dirichlet(n_iter):
    X, labels = _blobs(n=400, d=3, k=3)
    resp = np.eye(4)[labels]
    priors = dict(
        n_components=4,
        covariance_type="full",
        weight_concentration_prior_type="dirichlet_distribution",
        reg_covar=0.0,
        covariance_prior=np.cov(X.T),
    )
    ours = _skvi_from_resp(VariationalGaussianMixture(**priors), X, resp, n_iter)
    theirs = _SkResp(resp=resp, max_iter=max(n_iter, 1), tol=0.0, **priors)
    if n_iter == 0:
        theirs._check_parameters(X)
        theirs._initialize(X, resp)
        theirs._set_parameters(theirs._get_parameters())  # computes weights_
    else:
        _fit(theirs, X)
    assert_allclose(ours.means_, theirs.means_, rtol=1e-6)
    assert_allclose(ours.weights_, theirs.weights_, rtol=1e-6)
    assert_allclose(ours.covariances_, theirs.covariances_, rtol=1e-6)
    assert_allclose(ours.precisions_cholesky_, theirs.precisions_cholesky_, rtol=1e-6, atol=1e-12)
    assert_allclose(ours.degrees_of_freedom_, theirs.degrees_of_freedom_, rtol=1e-6)
    assert_allclose(ours.mean_precision_, theirs.mean_precision_, rtol=1e-6)


@pytest.mark.parametrize("prior_type", PRIOR_TYPES)
@pytest.mark.parametrize("covariance_type", ["full", "diag", "spherical"])
def test_same_m_step_as_sklearn(covariance_type, prior_type):
    """Given the same responsibilities the conjugate updates coincide (weights too under
    the Dirichlet prior; the DP truncation differs in the last stick)."""
    X, labels = _blobs(n=300, d=3, k=3, seed=4)
    rng = np.random.RandomState(0)
    resp = rng.dirichlet(np.ones(3), size=len(X))
    cov_prior = {"full": np.cov(X.T), "diag": X.var(0), "spherical": X.var(0).mean()}
    priors = dict(
        n_components=3,
        covariance_type=covariance_type,
        weight_concentration_prior_type=prior_type,
        reg_covar=1e-3,
        covariance_prior=cov_prior[covariance_type],
    )
    ours = _skvi_from_resp(VariationalGaussianMixture(**priors), X, resp, 0)
    theirs = BayesianGaussianMixture(**priors)
    theirs._check_parameters(X)
    theirs._initialize(X, resp)
    theirs._set_parameters(theirs._get_parameters())  # computes weights_
    assert_allclose(ours.means_, theirs.means_, rtol=1e-6)
    assert_allclose(ours.covariances_, theirs.covariances_, rtol=1e-6)
    if prior_type == "dirichlet_distribution":
        assert_allclose(ours.weights_, theirs.weights_, rtol=1e-6)
    else:
        a, b = ours.weight_concentration_
        assert_allclose(a, theirs.weight_concentration_[0], rtol=1e-6)
        assert_allclose(b[:-1], theirs.weight_concentration_[1][:-1], rtol=1e-6)
        assert b[-1] == 0.0  # the truncation: the last stick is one
        assert_allclose(ours.weights_.sum(), 1.0)


def test_tied_is_the_exact_conjugate_update():
    X, labels = _blobs(n=200, d=2, k=2, seed=5)
    model = _skvi_from_resp(
        VariationalGaussianMixture(n_components=2, covariance_type="tied", reg_covar=0.0),
        X,
        np.eye(2)[labels],
        0,
    )
    nk, xbar, scatter = nv.suff_stats(X, np.eye(2)[labels])
    beta0, nu0, m0 = model.mean_precision_prior_, model.degrees_of_freedom_prior_, X.mean(0)
    expected = model.covariance_prior_ + scatter.sum(0)
    for k in range(2):
        diff = xbar[k] - m0
        expected += beta0 * nk[k] / (beta0 + nk[k]) * np.outer(diff, diff)
    assert_allclose(model.degrees_of_freedom_, nu0 + len(X))
    assert_allclose(model.covariances_, expected / (nu0 + len(X)), rtol=1e-10)


# --------------------------------------------------------------- behaviour
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_recovers_clusters_and_prunes_extra_components(covariance_type):
    X, labels = _blobs(n=600, d=2, k=3, seed=6)
    model = _fit(
        VariationalGaussianMixture(
            n_components=8,
            covariance_type=covariance_type,
            weight_concentration_prior=1e-3,
            random_state=0,
            max_iter=2000,
            tol=1e-6,  # emptying a split cluster is slow near the optimum
        ),
        X,
    )
    assert model.converged_
    assert adjusted_rand_score(labels, model.predict(X)) > 0.95
    assert np.sum(model.weights_ > 0.01) == 3


def test_delete_moves_leave_the_plateau_where_two_components_share_a_cluster():
    rng = np.random.RandomState(21)
    centers = rng.uniform(-10, 10, size=(4, 5))
    labels = rng.randint(4, size=4000)
    X = centers[labels] + rng.randn(4000, 5)
    kwargs = dict(n_components=10, random_state=0, max_iter=300)
    plain = _fit(VariationalGaussianMixture(prune=False, **kwargs), X)
    pruned = _fit(VariationalGaussianMixture(**kwargs), X)
    assert pruned.converged_
    assert pruned.lower_bound_ > plain.lower_bound_  # plain CAVI stopped on a plateau
    assert np.all(np.diff(pruned.lower_bounds_) >= 0)  # moves are kept only if they help
    assert np.sum(pruned.weights_ > 0.01) == 4
    assert adjusted_rand_score(labels, pruned.predict(X)) > 0.99


def test_fit_predict_equals_fit_then_predict():
    X, _ = _blobs(n=300, d=2, k=4, seed=7)
    a = VariationalGaussianMixture(n_components=4, random_state=0, max_iter=3)
    b = VariationalGaussianMixture(n_components=4, random_state=0, max_iter=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        assert np.array_equal(a.fit_predict(X), b.fit(X).predict(X))


def test_same_random_state_same_result_whatever_the_thread_count(thread_counts):
    X, _ = _blobs(n=5000, d=4, k=5, seed=8)  # several row blocks
    results = []
    for n_threads in thread_counts:  # 1 and 2
        numba.set_num_threads(n_threads)
        model = _fit(VariationalGaussianMixture(n_components=6, random_state=3, max_iter=20), X)
        assert numba.get_num_threads() == n_threads
        results.append(model)
    a, b = results
    assert_allclose(a.lower_bounds_, b.lower_bounds_, rtol=1e-10)
    assert_allclose(a.means_, b.means_, rtol=1e-10)
    assert_allclose(a.covariances_, b.covariances_, rtol=1e-10)


def test_n_init_keeps_the_best_bound():
    X, _ = _blobs(n=300, d=2, k=5, seed=9, spread=3.0)
    params = dict(n_components=5, init_params="random", prune=False)
    # restarts draw from one random stream: three single fits sharing a stream see the
    # same three initialisations as one fit with n_init=3
    stream = np.random.RandomState(4)  # with this seed the middle restart is the best
    singles = [_fit(VariationalGaussianMixture(random_state=stream, **params), X) for _ in range(3)]
    bounds = [m.lower_bound_ for m in singles]
    assert len(set(np.round(bounds, 6))) > 1  # the restarts really differ
    best = _fit(
        VariationalGaussianMixture(n_init=3, random_state=np.random.RandomState(4), **params), X
    )
    assert best.lower_bound_ == pytest.approx(max(bounds), rel=1e-12)
    winner = singles[int(np.argmax(bounds))]
    assert 0 < int(np.argmax(bounds)) < 2  # neither the first nor the last restart wins
    assert_allclose(best.means_, winner.means_, rtol=1e-10)
    assert best.lower_bound_ == pytest.approx(best.lower_bounds_[-1])


def test_warm_start_continues_from_the_previous_solution():
    X, _ = _blobs(n=300, d=2, k=3, seed=10)
    model = VariationalGaussianMixture(n_components=3, warm_start=True, random_state=0)
    with pytest.warns(ConvergenceWarning):
        model.set_params(max_iter=2, tol=0.0).fit(X)
    first = model.lower_bound_
    _fit(model.set_params(max_iter=200, tol=1e-3), X)
    assert model.lower_bounds_[0] >= first - 1e-9
    assert model.converged_


def test_tol_is_per_sample_so_large_fits_converge():
    X, labels = _blobs(n=50_000, d=2, k=4, seed=11, spread=12.0)
    model = _fit(VariationalGaussianMixture(n_components=4, random_state=0, max_iter=100), X)
    assert model.converged_
    assert model.n_iter_ < 100
    assert adjusted_rand_score(labels, model.predict(X)) > 0.95


def test_float32_input_is_accepted_and_agrees_with_float64():
    X, _ = _blobs(n=400, d=3, k=3, seed=12)
    m64 = _fit(VariationalGaussianMixture(n_components=3, random_state=0), X)
    m32 = _fit(VariationalGaussianMixture(n_components=3, random_state=0), X.astype(np.float32))
    assert_allclose(m32.lower_bound_, m64.lower_bound_, rtol=1e-5)
    assert_allclose(m32.score_samples(X), m64.score_samples(X), rtol=1e-4, atol=1e-4)


def test_sample_weights_equal_repeated_samples():
    X, _ = _blobs(n=60, d=2, k=3, seed=13)
    rng = np.random.RandomState(0)
    w = rng.randint(0, 4, size=len(X))
    kwargs = dict(n_components=3, random_state=0, covariance_type="full")
    weighted = _fit(VariationalGaussianMixture(**kwargs), X, sample_weight=w)
    repeated = _fit(VariationalGaussianMixture(**kwargs), np.repeat(X, w, axis=0))
    assert_allclose(weighted.lower_bound_, repeated.lower_bound_, rtol=1e-9)
    assert_allclose(weighted.predict_proba(X), repeated.predict_proba(X), atol=1e-8)


# --------------------------------------------------------------- predictive
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_score_samples_is_a_normalised_density(covariance_type):
    X, _ = _blobs(n=80, d=2, k=2, seed=14, spread=3.0)
    model = _fit(
        VariationalGaussianMixture(n_components=3, covariance_type=covariance_type, random_state=0),
        X,
    )
    lo, hi = X.min(0) - 25, X.max(0) + 25
    g0, g1 = np.linspace(lo[0], hi[0], 600), np.linspace(lo[1], hi[1], 600)
    grid = np.stack(np.meshgrid(g0, g1), axis=-1).reshape(-1, 2)
    mass = np.exp(model.score_samples(grid)).sum() * (g0[1] - g0[0]) * (g1[1] - g1[0])
    assert mass == pytest.approx(1.0, abs=5e-3)  # heavy Student-t tails beyond the grid
    assert model.score(X) == pytest.approx(model.score_samples(X).mean())


def test_sample_draws_from_the_predictive_and_advances():
    X, _ = _blobs(n=500, d=2, k=2, seed=15)
    model = _fit(VariationalGaussianMixture(n_components=2, random_state=0), X)
    a, ya = model.sample(20000)
    b, _ = model.sample(5)
    assert a.shape == (20000, 2) and ya.shape == (20000,)
    assert not np.allclose(a[:5], b)
    # the predictive mean is sum_k E[pi_k] m_k
    assert_allclose(a.mean(0), model.weights_ @ model.means_, atol=0.15)
    again = _fit(VariationalGaussianMixture(n_components=2, random_state=0), X)
    assert_allclose(again.sample(20000)[0], a)  # same random_state, same stream


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_sample_has_the_predictive_covariance(covariance_type):
    rng = np.random.RandomState(20)
    X = rng.randn(3000, 3) @ np.array([[2.0, 0.0, 0.0], [1.5, 0.5, 0.0], [-1.0, 0.3, 0.2]])
    model = _fit(VariationalGaussianMixture(covariance_type=covariance_type), X)
    # one component, large N: the predictive t has dof ~ N and scale ~ covariances_
    cov = {
        "full": lambda c: c[0],
        "tied": lambda c: c,
        "diag": lambda c: np.diag(c[0]),
        "spherical": lambda c: c[0] * np.eye(3),
    }[covariance_type](model.covariances_)
    draws, _ = model.sample(100_000)
    assert_allclose(np.cov(draws.T), cov, rtol=0.03, atol=0.03 * np.abs(cov).max())


# ----------------------------------------------------------- stochastic VI
def test_partial_fit_on_a_stream_matches_batch_quality():
    X, labels = _blobs(n=20000, d=2, k=3, seed=16)
    batch = _fit(VariationalGaussianMixture(n_components=3, random_state=0), X)
    stream = VariationalGaussianMixture(
        n_components=3, random_state=0, total_samples=len(X), learning_offset=1.0
    )
    for epoch in range(3):
        for chunk in np.array_split(np.random.RandomState(epoch).permutation(len(X)), 40):
            stream.partial_fit(X[chunk])
    assert stream.n_batch_iter_ == 120
    assert adjusted_rand_score(labels, stream.predict(X)) > 0.95
    assert stream.score(X) == pytest.approx(batch.score(X), abs=0.02)
    assert len(stream.lower_bounds_) == 120


def test_partial_fit_checks_the_number_of_features():
    stream = VariationalGaussianMixture(n_components=2, random_state=0)
    stream.partial_fit(np.random.RandomState(0).randn(50, 3))
    with pytest.raises(ValueError, match="features"):
        stream.partial_fit(np.random.RandomState(0).randn(50, 2))


# -------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "params, match",
    [
        (dict(degrees_of_freedom_prior=0.5), "degrees_of_freedom_prior"),
        (dict(covariance_prior=np.array([[1.0, 2.0], [2.0, 1.0]])), "covariance_prior"),
        (dict(covariance_prior=np.eye(3)), "covariance_prior"),
        (dict(covariance_type="diag", covariance_prior=np.array([1.0, -1.0])), "covariance"),
        (dict(covariance_type="spherical", covariance_prior=-1.0), "covariance_prior"),
        (dict(weight_concentration_prior=0.0), "weight_concentration_prior"),
        (dict(weight_concentration_prior=-1.0), "weight_concentration_prior"),
        (dict(mean_precision_prior=0.0), "mean_precision_prior"),
        (dict(mean_prior=np.zeros(3)), "mean_prior"),
        (dict(mean_prior=np.array([0.0, np.nan])), "mean_prior"),
    ],
)
def test_invalid_priors_raise_value_error_naming_the_parameter(params, match):
    X = np.random.RandomState(0).randn(20, 2)
    with pytest.raises(ValueError, match=match):
        VariationalGaussianMixture(**params).fit(X)


def test_zero_total_weight_raises():
    X = np.random.RandomState(0).randn(20, 2)
    with pytest.raises(ValueError, match="weights"):
        VariationalGaussianMixture().fit(X, sample_weight=np.zeros(20))
    with pytest.raises(ValueError, match="[Nn]egative"):
        VariationalGaussianMixture().fit(X, sample_weight=-np.ones(20))


def _check_finite_and_monotone(model):
    for name in ("weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_"):
        assert np.all(np.isfinite(getattr(model, name))), name
    bounds = model.lower_bounds_
    assert np.all(np.isfinite(bounds))
    assert np.all(np.diff(bounds) >= -1e-9 * np.abs(bounds[1:]))


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize(
    "case", ["duplicates", "constant_feature", "more_components", "scale_1e8", "scale_1e-8"]
)
def test_degenerate_data_gives_finite_parameters(case, covariance_type):
    X, _ = _blobs(n=60, d=3, k=2, seed=17)
    k = 3
    if case == "duplicates":
        X[:40] = X[0]
    elif case == "constant_feature":
        X[:, 1] = 2.5
    elif case == "more_components":
        X, k = X[:5], 8
    elif case == "scale_1e8":
        X = X * 1e8
    else:
        X = X * 1e-8
    before = X.copy()
    model = _fit(
        VariationalGaussianMixture(
            n_components=k, covariance_type=covariance_type, random_state=0, max_iter=50
        ),
        X,
    )
    assert np.array_equal(X, before)  # X is never modified
    _check_finite_and_monotone(model)
    assert np.all(np.isfinite(model.score_samples(X)))
    assert np.all(np.isfinite(model.predict_proba(X)))


def test_constant_feature_without_regularisation_is_a_clear_error():
    X = np.random.RandomState(0).randn(30, 2)
    X[:, 0] = 1.0
    with pytest.raises(ValueError, match="reg_covar"):
        VariationalGaussianMixture(reg_covar=0.0).fit(X)


# ----------------------------------------------------------- pipelines
def test_grid_search_in_a_pipeline_picks_by_held_out_predictive_likelihood():
    X, _ = _blobs(n=300, d=2, k=3, seed=18)
    pipe = make_pipeline(
        StandardScaler(), VariationalGaussianMixture(n_components=5, random_state=0)
    )
    grid = GridSearchCV(
        pipe,
        {
            "variationalgaussianmixture__weight_concentration_prior": [1e-3, 1.0],
            "variationalgaussianmixture__covariance_prior": [np.eye(2), np.eye(2) * 1e3],
        },
        cv=3,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        grid.fit(X)
    scores = grid.cv_results_["mean_test_score"]
    assert np.all(np.isfinite(scores))
    assert grid.best_score_ == scores.max()
    assert grid.best_index_ == int(np.argmax(scores))
    # a prior scale 1000 times the data's variance inflates the predictive: it must lose
    assert grid.best_params_["variationalgaussianmixture__covariance_prior"][0, 0] == 1.0


def test_verbose_prints_the_elbo(capsys):
    X, _ = _blobs(n=100, d=2, k=2, seed=19)
    _fit(VariationalGaussianMixture(n_components=2, verbose=2, verbose_interval=1), X)
    out = capsys.readouterr().out
    assert "Initialization 0" in out and "ELBO" in out and "Iteration 1" in out


# ------------------------------------------- issue 11: the initial ELBO (item 7)
INIT_PARAMS = ["kmeans", "k-means++", "random", "random_from_data"]


def _enumerated_log_evidence(X, model, alpha0):
    """Exact ``ln p(X)`` of a 1-D 'diag' mixture under the Dirichlet(alpha0) weight prior,
    summing the conjugate evidence over every assignment (``K ** n`` of them)."""
    from itertools import product

    from scipy.special import gammaln, logsumexp

    n, K = len(X), model.means_.shape[0]
    args = (model.mean_prior_, model.mean_precision_prior_, model.degrees_of_freedom_prior_)
    terms = []
    for z in product(range(K), repeat=n):
        counts = np.bincount(np.array(z), minlength=K)
        log_pz = (
            gammaln(K * alpha0)
            - gammaln(K * alpha0 + n)
            + np.sum(gammaln(alpha0 + counts) - gammaln(alpha0))
        )
        log_px = sum(
            nv.log_evidence_normal_gamma_diag(X[np.array(z) == k], *args, model.covariance_prior_)
            for k in range(K)
            if counts[k]
        )
        terms.append(log_pz + log_px)
    return logsumexp(terms)


def test_issue_reproduction_random_from_data_initial_bound_is_an_elbo():
    X = np.random.default_rng(13).normal(size=(200, 3)) * 2 + 1
    kwargs = dict(
        n_components=1,
        weight_concentration_prior_type="dirichlet_distribution",
        reg_covar=0,
        init_params="random_from_data",
    )
    start = VariationalGaussianMixture(max_iter=0, **kwargs).fit(X)
    exact = _exact_log_evidence(start, X)
    assert exact == pytest.approx(-1314.29, abs=0.01)
    assert start.lower_bound_ < exact  # was -5.93: no distribution over the 200 rows
    one = _fit(VariationalGaussianMixture(max_iter=1, **kwargs), X)
    assert one.lower_bound_ == pytest.approx(exact, rel=1e-10)


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    n=st.integers(5, 40),
    d=st.integers(1, 3),
    covariance_type=st.sampled_from(COVARIANCE_TYPES),
    prior_type=st.sampled_from(PRIOR_TYPES),
    init_params=st.sampled_from(INIT_PARAMS),
)
def test_one_component_bound_is_an_elbo_at_every_max_iter(
    seed, n, d, covariance_type, prior_type, init_params
):
    """K=1: the family contains the posterior, so every bound lies below ln p(X), never
    decreases with max_iter and reaches ln p(X) after one sweep, whatever the init."""
    rng = np.random.RandomState(seed)
    X = rng.randn(n, d) * rng.uniform(0.1, 10.0, size=d) + rng.randn(d) * 5
    bounds = []
    for max_iter in range(4):
        model = _fit(
            VariationalGaussianMixture(
                covariance_type=covariance_type,
                weight_concentration_prior_type=prior_type,
                reg_covar=0.0,
                init_params=init_params,
                max_iter=max_iter,
                tol=0.0,
                random_state=seed,
            ),
            X,
        )
        bounds.append(model.lower_bound_)
    exact = _exact_log_evidence(model, X)
    slack = 1e-9 * abs(exact)
    assert np.all(np.array(bounds) <= exact + slack)
    assert np.all(np.diff(bounds) >= -slack)
    assert_allclose(bounds[1:], exact, rtol=1e-9)


@pytest.mark.parametrize("init_params", INIT_PARAMS)
def test_mixture_bound_is_below_the_exact_evidence_at_every_max_iter(init_params):
    """K=3 on 7 points in 1-D: ln p(X) by enumerating the 3**7 assignments."""
    rng = np.random.RandomState(5)
    X = np.concatenate([rng.randn(3) - 4, rng.randn(4) + 4])[:, None]
    bounds = []
    for max_iter in range(4):
        model = _fit(
            VariationalGaussianMixture(
                n_components=3,
                covariance_type="diag",
                weight_concentration_prior_type="dirichlet_distribution",
                weight_concentration_prior=1.0,
                reg_covar=0.0,
                init_params=init_params,
                max_iter=max_iter,
                tol=0.0,
                prune=False,
                random_state=1,
            ),
            X,
        )
        bounds.append(model.lower_bound_)
    exact = _enumerated_log_evidence(X, model, 1.0)
    assert np.all(np.array(bounds) <= exact)
    assert np.all(np.diff(bounds) >= -1e-9 * abs(exact))


@pytest.mark.parametrize("init_params", INIT_PARAMS)
def test_n_init_restarts_compare_real_elbos(init_params):
    """With max_iter=0 the kept restart is the one with the best initial ELBO, and each
    restart's initial ELBO is the bound the single fits sharing its stream report."""
    X, _ = _blobs(n=200, d=2, k=3, seed=22)
    params = dict(n_components=3, init_params=init_params, max_iter=0)
    stream = np.random.RandomState(7)
    singles = [VariationalGaussianMixture(random_state=stream, **params).fit(X) for _ in range(4)]
    best = VariationalGaussianMixture(n_init=4, random_state=np.random.RandomState(7), **params)
    best.fit(X)
    bounds = [m.lower_bound_ for m in singles]
    assert best.lower_bound_ == pytest.approx(max(bounds), rel=1e-12)
    # and each initial bound is what one sweep starts from: the sweep cannot lower it
    for m, b in zip(singles, bounds, strict=True):
        m.set_params(warm_start=True, max_iter=1)
        _fit(m, X)
        assert m.lower_bound_ >= b - 1e-9 * abs(b)


# ----------------------------------- issue 11: changed parameters (item 10)
def _three_component_fit(X, **kwargs):
    return _fit(VariationalGaussianMixture(n_components=3, random_state=0, **kwargs), X)


def test_methods_after_set_params_use_the_fitted_components():
    X, _ = _blobs(n=200, d=3, k=3, seed=23)
    model = _three_component_fit(X)
    density, proba = model.score_samples(X), model.predict_proba(X)
    model.set_params(n_components=5, covariance_type="diag")
    assert_allclose(model.score_samples(X), density)
    assert_allclose(model.predict_proba(X), proba)
    assert model.predict(X).max() < 3
    draws, labels = model.sample(50)
    assert draws.shape == (50, 3) and labels.max() < 3
    model.set_params(weight_concentration_prior_type="dirichlet_distribution")
    assert_allclose(model.score_samples(X), density)  # the sticks are still sticks


@pytest.mark.parametrize(
    "change",
    [
        dict(n_components=5),
        dict(covariance_type="diag"),
        dict(weight_concentration_prior_type="dirichlet_distribution"),
    ],
)
@pytest.mark.parametrize("fitted_by", ["fit", "partial_fit"])
def test_partial_fit_refuses_a_changed_structure(change, fitted_by):
    X, _ = _blobs(n=200, d=3, k=3, seed=24)
    model = VariationalGaussianMixture(n_components=3, random_state=0)
    _fit(model, X) if fitted_by == "fit" else model.partial_fit(X)
    before = model.means_.copy()
    (name,) = change
    model.set_params(**change)
    with pytest.raises(ValueError, match=f"{name}=.*Call fit"):
        model.partial_fit(X)
    assert_allclose(model.means_, before)  # nothing was mixed in
    _fit(model, X)  # fit starts afresh with the new structure
    model.partial_fit(X)


def test_partial_fit_follows_changed_priors():
    X, _ = _blobs(n=200, d=2, k=2, seed=25)
    model = VariationalGaussianMixture(n_components=2, random_state=0)
    model.partial_fit(X)
    model.set_params(weight_concentration_prior=5.0, mean_precision_prior=2.0)
    model.partial_fit(X)
    assert model.weight_concentration_prior_ == 5.0
    assert model.mean_precision_prior_ == 2.0
    assert_allclose(model.mean_precision_, 2.0 + model._state.stats.nk)


@pytest.mark.parametrize(
    "change",
    [dict(n_components=5), dict(n_components=2), dict(n_features=2), dict(n_features=4)],
)
def test_warm_start_that_cannot_continue_starts_afresh(change):
    X, _ = _blobs(n=200, d=3, k=3, seed=26)
    model = _three_component_fit(X, warm_start=True)
    k = change.get("n_components", 3)
    X2 = X[:, : change.get("n_features", 3)]
    if change.get("n_features") == 4:
        X2 = np.hstack([X, X[:, :1] ** 2])
    _fit(model.set_params(n_components=k), X2)
    cold = _fit(VariationalGaussianMixture(n_components=k, random_state=0), X2)
    assert model.means_.shape == (k, X2.shape[1])
    assert model.lower_bound_ == pytest.approx(cold.lower_bound_, rel=1e-12)
    assert_allclose(model.means_, cold.means_, rtol=1e-10)


@pytest.mark.parametrize("new_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("prior_type", PRIOR_TYPES)
def test_warm_start_continues_under_the_new_parameters_and_data(new_type, prior_type):
    """K=1: a warm refit after changing covariance_type, the weight prior, the priors or
    the data is the exact posterior of the *new* model after one sweep, and a real ELBO
    of it (below ln p(X)) before."""
    rng = np.random.RandomState(27)
    X, X2 = rng.randn(40, 3) * [1.0, 2.0, 0.5], rng.randn(60, 3) + 3.0
    model = _fit(VariationalGaussianMixture(reg_covar=0.0, warm_start=True), X)
    model.set_params(
        covariance_type=new_type,
        weight_concentration_prior_type=prior_type,
        mean_precision_prior=0.3,
        mean_prior=np.array([3.0, 2.0, 1.0]),
    )
    exact = None
    for max_iter in (0, 1):
        _fit(model.set_params(max_iter=max_iter), X2)
        exact = _exact_log_evidence(model, X2)
        assert model.covariance_type == new_type
        assert (
            model.covariances_.shape
            == {
                "full": (1, 3, 3),
                "tied": (3, 3),
                "diag": (1, 3),
                "spherical": (1,),
            }[new_type]
        )
        assert model.lower_bound_ <= exact + 1e-9 * abs(exact)
    assert model.lower_bound_ == pytest.approx(exact, rel=1e-9)
    assert_allclose(model.mean_prior_, [3.0, 2.0, 1.0])


def test_issue_reproduction_warm_start_with_other_features():
    rng = np.random.RandomState(28)
    model = VariationalGaussianMixture(n_components=2, warm_start=True, random_state=0)
    _fit(model, rng.randn(100, 3))
    _fit(model, rng.randn(100, 2))  # was a NumPy broadcast error
    assert model.means_.shape == (2, 2) and model.n_features_in_ == 2


# ------------------------------------------- issue 11: extreme scales (item 11)
@pytest.mark.parametrize("prior_type", PRIOR_TYPES)
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize(
    "case, match",
    [
        ("sample_weight_1e300", "sample_weight.*limit 1e\\+100"),
        ("X_times_1e300", "X deviates .* between 1e-150 and 1e\\+150"),
        ("X_times_1e-300", "X deviates .* between 1e-150 and 1e\\+150"),
        ("X_times_1e307", "X deviates .* up to [0-9.]*e\\+307"),
        ("X_times_1e150_partial_fit", "X deviates .* between 1e-150 and 1e\\+150"),
        ("reg_covar_1e300", "reg_covar .* limit is 1e\\+100"),
        ("reg_covar_1e300_partial_fit", "reg_covar .* limit is 1e\\+100"),
        ("mean_prior_1e300", "mean_prior .* limit is 1e\\+50"),
        ("covariance_prior_1e300", "covariance_prior .* limit is 1e\\+100"),
        ("total_samples_1e300_partial_fit", "total_samples .* limit 1e\\+100"),
    ],
)
def test_issue_reproductions_unsafe_scales_raise_naming_the_input(
    case, match, covariance_type, prior_type
):
    X = np.random.RandomState(0).randn(100, 3)
    params = dict(
        n_components=2,
        covariance_type=covariance_type,
        weight_concentration_prior_type=prior_type,
        random_state=0,
    )
    method, kwargs = "fit", {}
    if case.endswith("_partial_fit"):
        method = "partial_fit"
    if case.startswith("sample_weight"):
        kwargs["sample_weight"] = np.full(100, 1e300)
    elif case.startswith("X_times"):
        X = X * float(case.split("_")[2])
    elif case.startswith("reg_covar"):
        params["reg_covar"] = 1e300
    elif case.startswith("mean_prior"):
        params["mean_prior"] = [1e300, 0.0, 0.0]
    elif case.startswith("covariance_prior"):
        params["covariance_prior"] = {
            "full": np.eye(3) * 1e300,
            "tied": np.eye(3) * 1e300,
            "diag": np.full(3, 1e300),
            "spherical": 1e300,
        }[covariance_type]
    else:
        params["total_samples"] = 1e300
    before = X.copy()
    with pytest.raises(ValueError, match=match):
        getattr(VariationalGaussianMixture(**params), method)(X, **kwargs)
    assert np.array_equal(X, before)


@pytest.mark.parametrize("prior_type", PRIOR_TYPES)
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_fit_is_equivariant_under_power_of_two_scalings_up_to_the_limits(
    covariance_type, prior_type
):
    """The internal units make the fit exactly equivariant under x -> 2**k x (reg_covar
    scaled alike): means_ scale by 2**k, covariances_ by 4**k, and the ELBO, a density
    in the units of X, shifts by -N d k ln 2. Checked out to deviations ~1e-145 and
    ~1e145, next to the limits 1e-150 and 1e150."""
    X, _ = _blobs(n=300, d=3, k=3, seed=29)
    fits = {}
    for k in (0, -480, -100, 100, 480):
        a = math.ldexp(1.0, k)
        fits[k] = _fit(
            VariationalGaussianMixture(
                n_components=4,
                covariance_type=covariance_type,
                weight_concentration_prior_type=prior_type,
                reg_covar=1e-3 * a * a,
                random_state=0,
                max_iter=30,
            ),
            X * a,
        )
    base = fits[0]
    for k, model in fits.items():
        a = math.ldexp(1.0, k)
        _check_finite_and_monotone(model)
        assert model.n_iter_ == base.n_iter_
        shift = len(X) * 3 * k * math.log(2.0)
        assert model.lower_bound_ == pytest.approx(base.lower_bound_ - shift, rel=1e-12)
        assert_allclose(model.means_, base.means_ * a, rtol=1e-12)
        assert_allclose(model.covariances_, base.covariances_ * a * a, rtol=1e-12)
        assert_allclose(model.precisions_cholesky_, base.precisions_cholesky_ / a, rtol=1e-12)
        assert_allclose(model.score_samples(X * a), base.score_samples(X) - 3 * k * math.log(2))
        assert np.all(np.isfinite(model.sample(10)[0]))
    # partial_fit too: its statistics are scaled to total_samples=1e6
    streams = {}
    for k in (0, -480, 480):
        a = math.ldexp(1.0, k)
        stream = VariationalGaussianMixture(
            n_components=4,
            covariance_type=covariance_type,
            weight_concentration_prior_type=prior_type,
            reg_covar=1e-3 * a * a,
            random_state=0,
        )
        for chunk in np.array_split(X * a, 3):
            stream.partial_fit(chunk)
        streams[k] = stream
    for k, stream in streams.items():
        a = math.ldexp(1.0, k)
        assert_allclose(stream.means_, streams[0].means_ * a, rtol=1e-12)
        shift = 1e6 * 3 * k * math.log(2.0)
        assert stream.lower_bound_ == pytest.approx(streams[0].lower_bound_ - shift, rel=1e-12)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("scale", [1e-140, 1e140])
def test_one_component_elbo_is_the_exact_evidence_at_extreme_scales(covariance_type, scale):
    """Scales that are not powers of two: ln p(a X) = ln p(X) - N d ln a, exactly."""
    rng = np.random.RandomState(30)
    X = rng.randn(50, 3) @ rng.randn(3, 3)
    kwargs = dict(
        covariance_type=covariance_type,
        weight_concentration_prior_type="dirichlet_distribution",
        reg_covar=0.0,
        max_iter=2,
    )
    model = _fit(VariationalGaussianMixture(**kwargs), X * scale)
    reference = _fit(VariationalGaussianMixture(**kwargs), X)
    exact = _exact_log_evidence(reference, X) - X.size * math.log(scale)
    assert model.lower_bound_ == pytest.approx(exact, rel=1e-10)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_extremes_inside_the_limits_give_finite_monotone_fits(covariance_type):
    X, _ = _blobs(n=100, d=3, k=2, seed=31)
    cases = [
        (dict(), dict(sample_weight=np.full(100, 1e98))),  # total weight 1e100
        (dict(reg_covar=1e90), {}),
        (dict(mean_prior=X.mean(0) + [1e45, 0.0, 0.0]), {}),
        (
            dict(
                covariance_prior={"spherical": 1e90, "diag": np.full(3, 1e90)}.get(
                    covariance_type, np.eye(3) * 1e90
                )
            ),
            {},
        ),  # fmt: skip
        (dict(mean_precision_prior=1e-30), {}),
    ]
    for params, kwargs in cases:
        model = _fit(
            VariationalGaussianMixture(
                n_components=3, covariance_type=covariance_type, random_state=0, **params
            ),
            X,
            **kwargs,
        )
        _check_finite_and_monotone(model)
        assert np.all(np.isfinite(model.score_samples(X)))


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_one_component_elbo_is_the_exact_evidence_at_the_weight_limit(covariance_type):
    rng = np.random.RandomState(32)
    X = rng.randn(40, 2)
    w = rng.uniform(0.5, 2.0, size=40) * 1e98
    model = _fit(
        VariationalGaussianMixture(covariance_type=covariance_type, reg_covar=0.0, max_iter=2),
        X,
        sample_weight=w,
    )
    assert model.lower_bound_ == pytest.approx(_exact_log_evidence(model, X, w), rel=1e-9)


@pytest.mark.parametrize("factor", [1e-300, 1e300])
def test_partial_fit_sample_weights_are_relative(factor):
    X, _ = _blobs(n=200, d=2, k=2, seed=33)
    w = np.random.RandomState(0).uniform(0.5, 2.0, size=200)
    a = VariationalGaussianMixture(n_components=2, random_state=0).partial_fit(X, sample_weight=w)
    b = VariationalGaussianMixture(n_components=2, random_state=0)
    b.partial_fit(X, sample_weight=w * factor)
    assert b.lower_bound_ == pytest.approx(a.lower_bound_, rel=1e-10)
    assert_allclose(b.means_, a.means_, rtol=1e-10)


# ------------------------------- issue 11: n_components > n_samples (item 13)
@pytest.mark.parametrize("prior_type", PRIOR_TYPES)
def test_more_components_than_samples_is_a_legitimate_truncation(prior_type):
    X = np.array([[-3.0], [0.2], [3.5]])
    with pytest.raises(ValueError, match="n_samples"):
        BayesianGaussianMixture(n_components=5).fit(X)  # scikit-learn refuses
    model = _fit(
        VariationalGaussianMixture(
            n_components=5,
            covariance_type="diag",
            weight_concentration_prior_type=prior_type,
            weight_concentration_prior=1.0,
            reg_covar=0.0,
            random_state=0,
        ),
        X,
    )
    _check_finite_and_monotone(model)
    assert model.means_.shape == (5, 1)
    assert model.weights_.sum() == pytest.approx(1.0)
    # more components than samples: at least two of them hold less than one sample
    assert np.sum(model._state.stats.nk < 1.0) >= 2
    assert np.all(np.isfinite(model.score_samples(X)))
    if prior_type == "dirichlet_distribution":
        assert model.lower_bound_ <= _enumerated_log_evidence(X, model, 1.0)


@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_a_refused_refit_leaves_the_fitted_model_as_it_was(method):
    X, _ = _blobs(n=200, d=3, k=3, seed=34)
    model = _three_component_fit(X, warm_start=True)
    density = model.score_samples(X)
    model.set_params(reg_covar=1e300)
    with pytest.raises(ValueError, match="reg_covar"):
        getattr(model, method)(X)
    assert_allclose(model.score_samples(X), density)
    model.set_params(reg_covar=1e-6)
    _fit(model, X)
    assert model.lower_bound_ >= model.lower_bounds_[0] - 1e-9 * abs(model.lower_bound_)


# ------------------------------------- the estimator's units against the references
def _scale_inv(model):
    dof = model.degrees_of_freedom_
    cov = model.covariances_
    if model.covariance_type == "full":
        return cov * dof[:, None, None]
    if model.covariance_type == "diag":
        return cov * dof[:, None]
    return cov * dof


def _fitted_in_units(covariance_type, prior_type, n=300, d=3, k=4, seed=0):
    """A short fit of data far from the origin and scale one (internal units differ)."""
    rng = np.random.RandomState(seed)
    X = np.vstack([rng.randn(n // 3, d) + 4 * c for c in range(3)])
    X = X @ rng.randn(d, d) * 0.5 + rng.randn(d)
    model = VariationalGaussianMixture(
        n_components=k, covariance_type=covariance_type,
        weight_concentration_prior_type=prior_type, reg_covar=1e-3, max_iter=4, tol=0,
        random_state=seed,
    )  # fmt: skip
    with pytest.warns(Warning):
        model.fit(X)
    return model, X


@pytest.mark.parametrize("prior_type", PRIOR_TYPES)
@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_fitted_responsibilities_and_density_match_the_references(covariance_type, prior_type):
    """The published attributes (units of X) and the internal state (scaled units)
    describe one posterior: predict_proba and score_samples equal the NumPy references
    computed from the published attributes."""
    model, X = _fitted_in_units(covariance_type, prior_type)
    ref_resp, _ = nv.log_resp(
        X, model.weight_concentration_, prior_type, model.mean_precision_, model.means_,
        model.degrees_of_freedom_, _scale_inv(model), covariance_type, reg_covar=model.reg_covar,
    )  # fmt: skip
    assert_allclose(model.predict_proba(X), np.exp(ref_resp), rtol=1e-9, atol=1e-12)
    ref = nv.log_predictive(
        X, model.weights_, model.mean_precision_, model.means_, model.degrees_of_freedom_,
        _scale_inv(model), covariance_type,
    )  # fmt: skip
    assert_allclose(model.score_samples(X), ref, rtol=1e-10)
