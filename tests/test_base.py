"""The shared fit loop (skvi/_base.py) on a toy model whose every step is known."""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from skvi._base import VariationalEstimator, keep_if_not_lower, learning_rate


class _Toy(VariationalEstimator):
    """State: a float x; a sweep halves the distance to ``data``; ELBO: -(x - data)^2.

    The initial state is drawn from ``random_state``; a plateau move (when ``jump``) goes
    straight to ``data`` once.
    """

    def __init__(self, max_iter=100, tol=1e-6, verbose=0, jump=False):
        self.max_iter = max_iter
        self.tol = tol
        self.verbose = verbose
        self.jump = jump

    def _initial_state(self, data, random_state):
        x = random_state.uniform(-10, 10)
        return x, -((x - data) ** 2)

    def _sweep(self, data, state):
        x = state + 0.5 * (data - state)
        return x, -((x - data) ** 2)

    def _leave_plateau(self, data, state, bound, scale):
        if not self.jump or state == data:
            return None
        return data, 0.0

    def _publish(self, data, state):
        self.x_ = state


def test_learning_rate_is_the_robbins_monro_schedule():
    assert learning_rate(10.0, 0.7, 1) == 11.0**-0.7
    rates = [learning_rate(1.0, 0.5, t) for t in range(1, 6)]
    assert np.all(np.diff(rates) < 0)


def test_keep_if_not_lower_takes_the_first_proposal_that_does_not_drop():
    seen = []

    def proposals():
        for state, value in [("a", -2.0), ("b", -1.0), ("c", 5.0)]:
            seen.append(state)
            yield state, value

    assert keep_if_not_lower(-1.0, proposals()) == ("b", -1.0)
    assert seen == ["a", "b"]  # evaluated lazily: "c" was never built
    assert keep_if_not_lower(0.0, iter([("a", -1e-9)])) is None
    # with a margin, the rise must be strictly larger than the margin
    assert keep_if_not_lower(0.0, iter([("a", 1.0)]), margin=1.0) is None
    assert keep_if_not_lower(0.0, iter([("a", 1.0), ("b", 1.5)]), margin=1.0) == ("b", 1.5)


def test_loop_records_a_monotone_history_and_publishes_the_last_state():
    toy = _Toy(tol=1e-8)
    state = toy._fit_loop(3.0, 1.0, random_state=0)
    assert toy.converged_
    assert toy.x_ == state
    assert toy.n_iter_ == len(toy.lower_bounds_)
    assert toy.lower_bound_ == toy.lower_bounds_[-1]
    assert np.all(np.diff(toy.lower_bounds_) >= 0)
    # converged: the last change per unit of scale is below tol, the one before is not
    assert abs(toy.lower_bounds_[-1] - toy.lower_bounds_[-2]) < 1e-8
    assert abs(toy.lower_bounds_[-2] - toy.lower_bounds_[-3]) >= 1e-8


def test_the_scale_divides_the_change_in_the_convergence_test():
    small = _Toy(tol=1e-6)
    small._fit_loop(3.0, 1.0, random_state=0)
    large = _Toy(tol=1e-6)
    large._fit_loop(3.0, 1e6, random_state=0)
    assert large.n_iter_ < small.n_iter_


def test_best_of_n_init_restarts_is_kept():
    toy = _Toy(max_iter=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        toy._fit_loop(0.0, 1.0, n_init=5, random_state=0)
        # the five restarts draw their starts one after the other from one generator
        rng = np.random.RandomState(0)
        ends = []
        for _ in range(5):
            x = rng.uniform(-10, 10) / 4
            ends.append(-(x**2))
    assert toy.lower_bound_ == max(ends)
    assert toy.n_iter_ == 2


def test_a_warm_start_runs_once_from_the_given_state():
    toy = _Toy(tol=1e-12)
    toy._fit_loop(1.0, 1.0, start=(1.0 + 2**-10, -(2.0**-20)), n_init=7, random_state=0)
    assert toy.converged_
    # halving 2^-10 until the change of (2^-10 / 2^n)^2 is below 1e-12
    assert toy.lower_bounds_[0] == -(2.0**-22)
    assert toy.n_iter_ == len(toy.lower_bounds_)


def test_convergence_warning_names_max_iter_and_not_when_max_iter_is_zero():
    toy = _Toy(max_iter=3)
    with pytest.warns(ConvergenceWarning, match="max_iter=3"):
        toy._fit_loop(5.0, 1.0, random_state=0)
    assert not toy.converged_ and toy.n_iter_ == 3
    toy = _Toy(max_iter=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        toy._fit_loop(5.0, 1.0, random_state=0)
    assert toy.n_iter_ == 0 and len(toy.lower_bounds_) == 0 and not toy.converged_


def test_a_plateau_move_counts_as_an_iteration_and_is_recorded():
    toy = _Toy(tol=1e-2, jump=True)
    toy._fit_loop(2.0, 1.0, random_state=0)
    assert toy.converged_
    assert toy.x_ == 2.0
    # the move lands on the optimum (ELBO 0); the sweep after it changes nothing
    assert toy.lower_bounds_[-2] == 0.0 and toy.lower_bounds_[-1] == 0.0
    assert toy.n_iter_ == len(toy.lower_bounds_)


class _Stochastic(VariationalEstimator):
    _FIRST_BATCH_ITER = 1

    def __init__(self, learning_offset=4.0, learning_decay=0.5):
        self.learning_offset = learning_offset
        self.learning_decay = learning_decay

    def _stochastic_sweep(self, data, state, rho):
        self.rhos_.append(rho)
        state = (1 - rho) * state + rho * data
        return state, -((state - data) ** 2)

    def _publish(self, data, state):
        self.x_ = state


def test_stochastic_step_bookkeeping():
    est = _Stochastic()
    est.rhos_, est.n_batch_iter_ = [], 1
    state = 0.0
    for _ in range(3):
        state = est._stochastic_step(1.0, state)
    assert est.rhos_ == [learning_rate(4.0, 0.5, t) for t in (1, 2, 3)]
    assert est.n_batch_iter_ == 4
    assert est.n_iter_ == 3 and len(est.lower_bounds_) == 3
    assert est.lower_bound_ == est.lower_bounds_[-1] and not est.converged_
    assert est.x_ == state
    # the history goes on with the schedule, and restarts when asked to
    est._stochastic_step(1.0, state)
    assert est.n_iter_ == 4
    est._stochastic_step(1.0, state, restart=True)
    assert est.n_iter_ == 1 and est.n_batch_iter_ == 6
    # a schedule that starts again (n_batch_iter_ back at its start) restarts the history
    est.n_batch_iter_ = 1
    est._stochastic_step(1.0, state)
    assert est.n_iter_ == 1 and est.rhos_[-1] == learning_rate(4.0, 0.5, 1)
