"""The mixture's model module, called directly with hand-built values, against the plain
NumPy references of ``_naive.py``: statistics (and their additivity over chunks), the
update, the E-step, the ELBO and the predictive. No estimator is fitted here."""

import numba
import numpy as np
import pytest
from numpy.testing import assert_allclose

from skvi import _mixture_kernels as kern

from . import _naive as nv

COVARIANCE_TYPES = ["full", "tied", "diag", "spherical"]
PRIOR_TYPES = ["dirichlet_process", "dirichlet_distribution"]


def _identity_units(d):
    return kern.Units(center=np.zeros(d), shift=np.zeros(d), scale_exp=0, inv_scale=1.0)


def _units(d, seed=0):
    """Non-trivial units: s = 4 and a centre whose quotient by s is exact."""
    center = np.random.RandomState(seed).randn(d)
    return kern.Units(center=center, shift=np.ldexp(center, -2), scale_exp=2, inv_scale=0.25)


def _prior_covariance(covariance_type, d, rng, scale=1.0):
    A = rng.randn(d, d)
    full = scale * (A @ A.T / d + np.eye(d))
    if covariance_type in ("full", "tied"):
        return full
    if covariance_type == "diag":
        return np.diag(full).copy()
    return float(np.diag(full).mean())


def _prior(covariance_type, prior_type, d, seed=0, reg_covar=1e-3):
    rng = np.random.RandomState(seed + 100)
    return kern.MixturePrior(
        covariance_type=kern.COVARIANCE_CODES[covariance_type],
        dirichlet_process=prior_type == "dirichlet_process",
        weight_concentration=0.7,
        mean_precision=0.8,
        mean=0.3 * rng.randn(d),
        degrees_of_freedom=d + 1.5,
        covariance=_prior_covariance(covariance_type, d, rng),
        reg_covar=reg_covar,
    )


def _data(n=300, d=3, k=4, seed=0):
    """Three clusters, positive weights with some zeros, random responsibilities."""
    rng = np.random.RandomState(seed)
    X = np.vstack([rng.randn(n // 3, d) + 2 * c for c in range(3)]) * 0.4
    w = rng.uniform(0.2, 2.0, size=len(X))
    w[::11] = 0.0
    resp = rng.dirichlet(np.ones(k), size=len(X))
    return X, w, resp


def _state(covariance_type, prior_type, n=300, d=3, k=4, seed=0, reg_covar=1e-3):
    """A posterior updated from random responsibilities, in identity units."""
    X, w, resp = _data(n, d, k, seed)
    prior = _prior(covariance_type, prior_type, d, seed, reg_covar)
    units = _identity_units(d)
    stats = kern.resp_chunk_stats(X, w, units, resp, prior.covariance_type)
    return X, w, units, prior, kern.new_state(stats, prior)


def _weight_concentration(post):
    if post.stick_b is None:
        return post.weight_concentration
    return (post.weight_concentration, post.stick_b)


def _scale_inv(post, covariance_type):
    dof = post.degrees_of_freedom
    if covariance_type == "full":
        return post.covariances * dof[:, None, None]
    if covariance_type == "diag":
        return post.covariances * dof[:, None]
    return post.covariances * dof


def _naive_log_resp(X, post, prior, prior_type, covariance_type):
    return nv.log_resp(
        X,
        _weight_concentration(post),
        prior_type,
        post.mean_precision,
        post.means,
        post.degrees_of_freedom,
        _scale_inv(post, covariance_type),
        covariance_type,
        reg_covar=prior.reg_covar,
    )


# ------------------------------------------------------------------ statistics
def _assert_stats_match_naive(stats, U, resp, w, covariance_type):
    """``stats`` (of rows ``U`` in internal units) against tests/_naive.py's plain loops."""
    nk, xbar, scatter = nv.suff_stats(U, resp, w)
    d = U.shape[1]
    assert stats.moments.dtype == np.float64
    assert_allclose(stats.nk, nk, rtol=1e-12)
    assert_allclose(stats.moments[1 : d + 1].T, nk[:, None] * xbar, rtol=1e-10, atol=1e-10)
    second = scatter + nk[:, None, None] * xbar[:, :, None] * xbar[:, None, :]
    quad = stats.moments[d + 1 :].T
    if covariance_type in ("full", "tied"):
        iu = np.triu_indices(d)
        assert_allclose(quad, second[:, iu[0], iu[1]], rtol=1e-10, atol=1e-10)
    elif covariance_type == "diag":
        assert_allclose(quad, np.diagonal(second, axis1=1, axis2=2), rtol=1e-10, atol=1e-10)
    else:
        assert_allclose(quad[:, 0], np.trace(second, axis1=1, axis2=2), rtol=1e-10, atol=1e-10)
    r_log_r = np.where(resp > 0, resp * np.log(np.where(resp > 0, resp, 1.0)), 0.0)
    assert np.isfinite(stats.sum_r_log_r)
    assert_allclose(stats.sum_r_log_r, np.sum(w[:, None] * r_log_r), rtol=1e-12)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_resp_stats_match_reference(covariance_type):
    X, w, resp = _data()
    units = _units(X.shape[1])
    stats = kern.resp_chunk_stats(X, w, units, resp, kern.COVARIANCE_CODES[covariance_type])
    _assert_stats_match_naive(stats, (X - units.center) * units.inv_scale, resp, w, covariance_type)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_statistics_are_additive_over_uneven_chunks(covariance_type):
    """The statistics of a data set are the sum of those of its chunks."""
    rng = np.random.RandomState(3)
    X = rng.randn(5000, 3)  # several row blocks of the kernels
    w = rng.uniform(size=len(X))
    resp = rng.dirichlet(np.ones(4), size=len(X))
    _, _, _, prior, state = _state(covariance_type, "dirichlet_process")
    units = _units(3)
    ctype = prior.covariance_type
    edges = [0, 1, 8, 1030, 1031, 3500, 5000]  # uneven, across block boundaries
    chunks = [slice(a, b) for a, b in zip(edges[:-1], edges[1:], strict=True)]
    for stats_of in (
        lambda s: kern.chunk_stats(X[s], w[s], units, state.coef, ctype),
        lambda s: kern.resp_chunk_stats(X[s], w[s], units, resp[s], ctype),
    ):
        whole = stats_of(slice(None))
        summed = kern.add_stats(*[stats_of(s) for s in chunks])
        assert_allclose(summed.moments, whole.moments, rtol=1e-12, atol=1e-12 * len(X))
        assert_allclose(summed.sum_r_log_r, whole.sum_r_log_r, rtol=1e-12)


def test_scale_and_blend_stats():
    a = kern.MixtureStats(np.arange(6.0).reshape(3, 2), -1.5)
    b = kern.MixtureStats(np.ones((3, 2)), -0.5)
    assert_allclose(kern.scale_stats(b, 4.0).moments, 4.0 * np.ones((3, 2)))
    assert kern.scale_stats(b, 4.0).sum_r_log_r == -2.0
    blended = kern.blend_stats(a, b, 0.25, 4.0)
    assert_allclose(blended.moments, 0.75 * a.moments + 0.25 * 4.0 * b.moments)
    assert_allclose(blended.sum_r_log_r, 0.75 * -1.5 + 0.25 * 4.0 * -0.5)
    assert np.array_equal(kern.add_stats(a, b).moments, a.moments + b.moments)


# ------------------------------------------------------------------ the update
@pytest.mark.parametrize("prior_type", PRIOR_TYPES)
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_update_matches_reference(covariance_type, prior_type):
    X, w, resp = _data()
    prior = _prior(covariance_type, prior_type, X.shape[1])
    stats = kern.resp_chunk_stats(X, w, _identity_units(3), resp, prior.covariance_type)
    post = kern.update(stats, prior)
    conc, beta, means, dof, scale_inv = nv.mixture_update(
        X, resp, w, prior_type, prior.weight_concentration, prior.mean_precision,
        prior.mean, prior.degrees_of_freedom, prior.covariance, covariance_type,
        reg_covar=prior.reg_covar,
    )  # fmt: skip
    assert_allclose(post.mean_precision, beta, rtol=1e-12)
    assert_allclose(post.means, means, rtol=1e-10, atol=1e-12)
    assert_allclose(post.mean_offset, means - prior.mean, rtol=1e-9, atol=1e-12)
    assert_allclose(post.degrees_of_freedom, dof, rtol=1e-12)
    assert_allclose(_scale_inv(post, covariance_type), scale_inv, rtol=1e-10)
    if covariance_type in ("full", "tied"):
        assert_allclose(post.log_det_scale_inv, np.linalg.slogdet(scale_inv)[1], rtol=1e-10)
        U = post.precisions_cholesky
        assert_allclose(U @ np.swapaxes(U, -1, -2), post.precisions, rtol=1e-10)
        eye = np.broadcast_to(np.eye(3), post.precisions.shape)
        assert_allclose(post.precisions @ post.covariances, eye, atol=1e-10)
    else:
        assert_allclose(post.log_det_scale_inv, np.log(scale_inv), rtol=1e-10)
        assert_allclose(post.precisions_cholesky**2, post.precisions, rtol=1e-12)
        assert_allclose(post.precisions * post.covariances, 1.0, rtol=1e-12)
    if prior_type == "dirichlet_distribution":
        assert post.stick_b is None
        assert_allclose(post.weight_concentration, conc, rtol=1e-12)
        assert_allclose(post.weights, conc / conc.sum(), rtol=1e-12)
    else:
        assert_allclose(post.weight_concentration, conc[0], rtol=1e-12)
        assert_allclose(post.stick_b, conc[1], rtol=1e-12)
    assert_allclose(post.weights.sum(), 1.0, rtol=1e-12)
    assert_allclose(
        np.exp(kern.expected_log_weights(post)),
        np.exp(nv.expected_log_weights(_weight_concentration(post), prior_type)),
        rtol=1e-12,
    )


def test_a_scale_matrix_that_is_not_positive_definite_raises():
    prior = _prior("full", "dirichlet_process", 2)._replace(covariance=-np.eye(2))
    stats = kern.MixtureStats(np.zeros((kern.n_coefficients(2, kern.FULL), 2)), 0.0)
    with pytest.raises(ValueError, match="not positive definite"):
        kern.update(stats, prior)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_update_is_equivariant_under_the_units(covariance_type):
    """The posterior of x = c + s u, expressed in x's units, is the one of x."""
    X, w, resp = _data()
    d = X.shape[1]
    units = _units(d)
    s = 2.0**units.scale_exp
    prior_u = _prior(covariance_type, "dirichlet_process", d)
    ctype = prior_u.covariance_type
    prior_x = prior_u._replace(
        mean=units.center + s * prior_u.mean,
        covariance=s**2 * np.asarray(prior_u.covariance),
        reg_covar=s**2 * prior_u.reg_covar,
    )
    post_u = kern.update(kern.resp_chunk_stats(X, w, units, resp, ctype), prior_u)
    post_x = kern.update(kern.resp_chunk_stats(X, w, _identity_units(d), resp, ctype), prior_x)
    mapped = kern.to_data_units(post_u, units, ctype)
    for name in kern.MixturePosterior._fields:
        a, b = getattr(mapped, name), getattr(post_x, name)
        if a is None:
            assert b is None
        else:
            assert_allclose(a, b, rtol=1e-10, atol=1e-12, err_msg=name)


# ------------------------------------------------------------------ the E-step
@pytest.mark.parametrize("prior_type", PRIOR_TYPES)
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_log_resp_matches_reference(covariance_type, prior_type):
    X, w, units, prior, state = _state(covariance_type, prior_type)
    ref_resp, ref_norm = _naive_log_resp(X, state.posterior, prior, prior_type, covariance_type)
    log_resp, norm = kern.log_resp(
        X, units.shift, units.inv_scale, state.coef, prior.covariance_type
    )
    assert_allclose(norm, ref_norm, rtol=1e-10)
    assert_allclose(np.exp(log_resp), np.exp(ref_resp), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_log_resp_in_scaled_units(covariance_type):
    """In units u = (x - c) / s the densities are s**d times those of x."""
    X, w, _, prior, state = _state(covariance_type, "dirichlet_process")
    units = _units(X.shape[1])
    ctype = prior.covariance_type
    # the same posterior seen in units: its coefficients act on u
    U = (X - units.center) * units.inv_scale
    log_resp_u, norm_u = kern.log_resp(U, np.zeros(3), 1.0, state.coef, ctype)
    log_resp, norm = kern.log_resp(X, units.shift, units.inv_scale, state.coef, ctype)
    assert_allclose(norm, norm_u, rtol=1e-12, atol=1e-12)
    assert_allclose(log_resp, log_resp_u, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_chunk_stats_match_reference(covariance_type):
    X, w, units, prior, state = _state(covariance_type, "dirichlet_process")
    stats = kern.chunk_stats(X, w, units, state.coef, prior.covariance_type)
    log_resp, _ = _naive_log_resp(X, state.posterior, prior, "dirichlet_process", covariance_type)
    resp = np.exp(log_resp)
    ref = kern.resp_chunk_stats(X, w, units, resp, prior.covariance_type)
    assert_allclose(stats.moments, ref.moments, rtol=1e-9, atol=1e-9)
    r_log_r = np.where(resp > 0, resp * log_resp, 0.0)
    assert_allclose(stats.sum_r_log_r, np.sum(w[:, None] * r_log_r), rtol=1e-9)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_estep_stats_second_entry_is_the_weighted_log_normaliser(covariance_type):
    X, w, units, prior, state = _state(covariance_type, "dirichlet_process")
    _, extra = kern.estep_stats(
        X, w, units.shift, units.inv_scale, state.coef, prior.covariance_type
    )
    _, norm = _naive_log_resp(X, state.posterior, prior, "dirichlet_process", covariance_type)
    assert_allclose(extra[1], np.sum(w * norm), rtol=1e-10)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_resp_stats_equal_estep_stats_for_the_same_resp(covariance_type):
    X, _, units, prior, state = _state(covariance_type, "dirichlet_distribution")
    w = np.ones(len(X))
    ctype = prior.covariance_type
    stats = kern.chunk_stats(X, w, units, state.coef, ctype)
    log_resp, _ = kern.log_resp(X, units.shift, units.inv_scale, state.coef, ctype)
    stats2 = kern.resp_chunk_stats(X, w, units, np.exp(log_resp), ctype)
    assert_allclose(stats2.moments, stats.moments, rtol=1e-12, atol=1e-12)
    assert_allclose(stats2.sum_r_log_r, stats.sum_r_log_r, rtol=1e-10)


# ------------------------------------------------------------------ the ELBO
_EVIDENCE = {
    "full": nv.log_evidence_normal_wishart,
    "tied": nv.log_evidence_normal_wishart,
    "diag": nv.log_evidence_normal_gamma_diag,
    "spherical": nv.log_evidence_normal_gamma_spherical,
}


@pytest.mark.parametrize("scaled", [False, True])
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_elbo_of_one_component_is_the_exact_log_evidence(covariance_type, scaled):
    """One component, the Dirichlet prior, reg_covar=0: q is the exact posterior and the
    ELBO equals ln p(X), in the units of X also when computed in scaled units."""
    X, w, _ = _data(n=120)
    d = X.shape[1]
    units = _units(d) if scaled else _identity_units(d)
    s = 2.0**units.scale_exp
    prior = _prior(covariance_type, "dirichlet_distribution", d, reg_covar=0.0)
    stats = kern.resp_chunk_stats(X, w, units, np.ones((len(X), 1)), prior.covariance_type)
    post = kern.update(stats, prior)
    bound = kern.elbo(stats, post, prior, units.scale_exp)
    exact = _EVIDENCE[covariance_type](
        X, units.center + s * prior.mean, prior.mean_precision, prior.degrees_of_freedom,
        s**2 * np.asarray(prior.covariance), sample_weight=w,
    )  # fmt: skip
    assert_allclose(bound, exact, rtol=1e-10)


@pytest.mark.parametrize("prior_type", PRIOR_TYPES)
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_elbo_after_an_estep_is_the_log_normaliser_minus_the_kl_terms(covariance_type, prior_type):
    """With the optimal q(Z), sum r ln rho - sum r ln r = sum_n w_n ln sum_k rho_nk."""
    X, w, units, prior, state = _state(covariance_type, prior_type)
    stats = kern.chunk_stats(X, w, units, state.coef, prior.covariance_type)
    _, norm = _naive_log_resp(X, state.posterior, prior, prior_type, covariance_type)
    expected = (
        np.sum(w * norm)
        - kern.kl_weights(state.posterior, prior)
        - kern.kl_gauss(state.posterior, prior)
    )
    assert_allclose(kern.elbo(stats, state.posterior, prior), expected, rtol=1e-10)
    # the state's coefficients (for 'diag' from the compiled diag_posterior) against
    # NumPy's: equal up to the last bits, which differ with the CPU's vector width
    assert_allclose(
        kern.elbo(stats, state.posterior, prior, coef=state.coef),
        kern.elbo(stats, state.posterior, prior),
        rtol=1e-14,
    )


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_kl_terms_vanish_at_the_prior(covariance_type):
    """Empty statistics: the posterior is the prior and both KL terms are zero."""
    prior = _prior(covariance_type, "dirichlet_distribution", 3, reg_covar=0.0)
    K = 3
    stats = kern.MixtureStats(np.zeros((kern.n_coefficients(3, prior.covariance_type), K)), 0.0)
    post = kern.update(stats, prior)
    assert abs(kern.kl_gauss(post, prior)) < 1e-12
    assert abs(kern.kl_weights(post, prior)) < 1e-12


# ------------------------------------------------------------------ the predictive
@pytest.mark.parametrize("prior_type", PRIOR_TYPES)
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_log_predictive_matches_student_t_reference(covariance_type, prior_type):
    X, w, units, prior, state = _state(covariance_type, prior_type, n=60)
    post = state.posterior
    ref = nv.log_predictive(
        X,
        post.weights,
        post.mean_precision,
        post.means,
        post.degrees_of_freedom,
        _scale_inv(post, covariance_type),
        covariance_type,
    )
    pred = kern.predictive(post, prior.covariance_type)
    assert_allclose(kern.log_predictive(X, pred, prior.covariance_type), ref, rtol=1e-10)


# ------------------------------------------------------------------ kernels
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_serial_equals_parallel_and_thread_count_does_not_matter(covariance_type, thread_counts):
    rng = np.random.RandomState(0)
    X = rng.randn(5000, 4)  # several row blocks
    _, _, _, prior, state = _state(covariance_type, "dirichlet_process", d=4)
    units = _units(4)
    w = rng.uniform(size=len(X))
    args = (X, w, units.shift, units.inv_scale, state.coef, prior.covariance_type)
    serial = kern.estep_stats_serial(*args)
    one, many = [], []
    for n_threads, out in zip(thread_counts, (one, many), strict=True):  # 1 and 2 threads
        numba.set_num_threads(n_threads)
        out.extend(kern.estep_stats(*args))
    for a, b in [(serial, one), (one, many)]:
        assert_allclose(a[0], b[0], rtol=1e-12)
        assert_allclose(a[1], b[1], rtol=1e-12)
    # the block decomposition is independent of the thread count: bit-identical
    assert np.array_equal(one[0], many[0])
    log_args = (X, units.shift, units.inv_scale, state.coef, prior.covariance_type)
    log_serial = kern.log_resp_serial(*log_args)[0]
    log_parallel = kern.log_resp(*log_args)[0]
    assert_allclose(log_serial, log_parallel, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_one_block_of_rows_runs_the_serial_twin_with_the_same_bits(covariance_type, monkeypatch):
    from skvi._jit import BLOCK_ROWS

    rng = np.random.RandomState(3)
    _, _, _, prior, state = _state(covariance_type, "dirichlet_process", d=4)
    units, ctype = _units(4), prior.covariance_type
    for n, dtype in [(BLOCK_ROWS, np.float64), (37, np.float32)]:
        X = rng.randn(n, 4).astype(dtype)
        w = rng.uniform(size=n)
        args = (X, w, units.shift, units.inv_scale, state.coef, ctype)
        serial, parallel = kern.estep_stats_serial(*args), kern.estep_stats(*args)
        assert np.array_equal(serial[0], parallel[0]) and np.array_equal(serial[1], parallel[1])
        log_args = (X, units.shift, units.inv_scale, state.coef, ctype)
        for a, b in zip(kern.log_resp_serial(*log_args), kern.log_resp(*log_args), strict=True):
            assert np.array_equal(a, b)
        pred = kern.predictive(state.posterior, ctype)
        t_args = (X, pred.means, pred.prec_chol, pred.dof, pred.log_norm, ctype)
        assert np.array_equal(kern.log_student_t_serial(*t_args), kern.log_student_t(*t_args))
    # and the dispatch: one block runs the serial kernel, more the parallel one
    calls = []
    for name in ("estep_stats", "estep_stats_serial"):
        kernel = getattr(kern, name)
        monkeypatch.setattr(kern, name, lambda *a, _k=kernel, _n=name: calls.append(_n) or _k(*a))
    for n in (BLOCK_ROWS, BLOCK_ROWS + 1):
        X = rng.randn(n, 4)
        kern.chunk_stats(X, np.ones(n), units, state.coef, ctype)
        kern.chunk_stats(X, np.ones(n), units, state.coef, ctype, serial=True)
    assert calls == ["estep_stats_serial"] * 2 + ["estep_stats", "estep_stats_serial"]


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_resp_stats_over_several_blocks_match_reference(covariance_type):
    # resp_chunk_stats is NumPy over blocks of rows: several blocks, float32 input,
    # one-hot rows (0 ln 0) and zero weights, against the plain loops of tests/_naive.py
    rng = np.random.RandomState(4)
    n, d, k = 2500, 3, 5
    units, ctype = _units(d), kern.COVARIANCE_CODES[covariance_type]
    resp = rng.dirichlet(np.ones(k), size=n)
    resp[::7] = np.eye(k)[rng.randint(k, size=len(resp[::7]))]
    w = rng.uniform(size=n)
    w[::11] = 0.0
    for dtype in (np.float64, np.float32):
        X = (3.0 * rng.randn(n, d)).astype(dtype)
        stats = kern.resp_chunk_stats(X, w, units, resp, ctype)
        U = X.astype(np.float64) * units.inv_scale - units.shift
        _assert_stats_match_naive(stats, U, resp, w, covariance_type)


def test_float32_input_gives_float64_accumulation():
    X, _, units, prior, state = _state("full", "dirichlet_process")
    w = np.ones(len(X))
    X32 = X.astype(np.float32)
    s64 = kern.chunk_stats(X32.astype(np.float64), w, units, state.coef, kern.FULL)
    s32 = kern.chunk_stats(X32, w, units, state.coef, kern.FULL)
    assert s32.moments.dtype == np.float64
    assert_allclose(s32.moments, s64.moments, rtol=1e-12, atol=1e-12)


# ------------------------------------------------------------------ sweeps and moves
def _chunk(X, w, stats_scale=1.0):
    return kern.Chunk(X, w, _units(X.shape[1]), stats_scale)


@pytest.mark.parametrize("prior_type", PRIOR_TYPES)
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_sweeps_never_lower_the_elbo(covariance_type, prior_type):
    X, w, resp = _data()
    prior = _prior(covariance_type, prior_type, X.shape[1])
    chunk = _chunk(X, w)
    state, bound = kern.state_from_resp(chunk, prior, resp)
    for _ in range(5):
        state, new = kern.sweep(chunk, prior, state.coef)
        assert new >= bound - 1e-10 * abs(bound)
        bound = new


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_seeds_are_scored_after_an_e_step(covariance_type):
    """Seed responsibilities (one row per component) are not a q(Z): the ELBO is that of
    the E-step under the factors they give."""
    X, w, _ = _data()
    prior = _prior(covariance_type, "dirichlet_process", X.shape[1])
    seeds = np.zeros((len(X), 4))
    seeds[[1, 50, 120, 250], np.arange(4)] = 1.0
    chunk = _chunk(X, w)
    state, bound = kern.state_from_resp(chunk, prior, seeds)
    stats = kern.chunk_stats(X, w, chunk.units, state.coef, prior.covariance_type)
    e = chunk.units.scale_exp
    assert bound == kern.elbo(stats, state.posterior, prior, e, state.coef, state.kl)
    # ('diag': the state's KL is compiled; the NumPy one agrees to rounding)
    assert_allclose(bound, kern.elbo(stats, state.posterior, prior, e), rtol=1e-13)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_a_stochastic_step_of_rate_one_is_a_sweep(covariance_type):
    X, w, resp = _data()
    prior = _prior(covariance_type, "dirichlet_distribution", X.shape[1])
    chunk = _chunk(X, w)
    state, _ = kern.state_from_resp(chunk, prior, resp)
    swept, bound = kern.sweep(chunk, prior, state.coef)
    stepped, bound_svi = kern.stochastic_sweep(chunk, prior, state, 1.0)
    assert bound_svi == bound
    assert np.array_equal(stepped.coef, swept.coef)
    # a batch standing for three times its weight: the blend of rate rho
    scaled = chunk._replace(stats_scale=3.0)
    stepped, _ = kern.stochastic_sweep(scaled, prior, state, 0.25)
    batch = kern.chunk_stats(X, w, chunk.units, state.coef, prior.covariance_type)
    expected = 0.75 * state.stats.moments + 0.25 * 3.0 * batch.moments
    assert_allclose(stepped.stats.moments, expected, rtol=1e-12)


def test_delete_moves_empty_each_occupied_component_smallest_first():
    X, w, _ = _data()
    prior = _prior("full", "dirichlet_process", X.shape[1])
    labels = np.where(np.arange(len(X)) % 2 == 0, 2, 0)
    labels[:10] = 3  # component 3 small, component 1 empty
    resp = np.eye(4)[labels]
    chunk = _chunk(X, w)
    state, _ = kern.state_from_resp(chunk, prior, resp)
    nk = state.stats.nk
    occupied = [k for k in np.argsort(nk, kind="stable") if nk[k] >= 1.0]
    moves = list(kern.delete_moves(chunk, prior, state))
    assert len(moves) == len(occupied) == 3 and occupied[0] == 3
    for k, (moved, _) in zip(occupied, moves, strict=True):
        assert moved.stats.nk[k] == 0.0
    single = kern.state_from_resp(chunk, prior, np.eye(4)[np.zeros(len(X), int)])[0]
    assert list(kern.delete_moves(chunk, prior, single)) == []


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_samples_follow_the_predictive(covariance_type):
    _, _, _, prior, state = _state(covariance_type, "dirichlet_distribution")
    pred = kern.predictive(state.posterior, prior.covariance_type)
    X, y = kern.sample_predictive(pred, 4000, np.random.RandomState(0), prior.covariance_type)
    assert X.shape == (4000, 3)
    assert_allclose(np.bincount(y, minlength=4) / 4000, pred.weights, atol=0.03)
    for k in range(4):
        assert_allclose(X[y == k].mean(axis=0), pred.means[k], atol=0.25)
