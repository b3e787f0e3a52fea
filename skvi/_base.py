"""The coordinate-ascent fit loop shared by every skvi estimator.

The loop knows nothing of any model. It runs over a *state*: an immutable value (a
``NamedTuple`` of the model module) holding one variational distribution, and it owns the
restarts (``n_init``), the iterations (``max_iter``), the convergence test, the choice of
the best restart, warm starts, ``verbose`` printing and the ``ConvergenceWarning``; it sets
``lower_bound_``, ``lower_bounds_``, ``n_iter_`` and ``converged_``. A model answers:

``_initial_state(data, random_state) -> (state, bound)``
    A starting variational distribution and its ELBO.
``_sweep(data, state) -> (state, bound)``
    One sweep of coordinate ascent over every factor, and the ELBO after it.
``_leave_plateau(data, state, bound, scale) -> (state, bound) or None`` (optional)
    Called when the change falls below the convergence test: a move that raises the ELBO by
    more than the model's own threshold, or None to declare convergence. Coordinate ascent
    can crawl along a plateau (two components sharing a cluster separate at ~1e-4 nats per
    sample per sweep); this is where a model can jump off it. The loop stays monotone
    because only improving moves are kept (:func:`keep_if_not_lower`).
``_converged(bounds, state, scale) -> bool`` (optional)
    The convergence test; by default ``|bounds[-1] - bounds[-2]| / scale < tol``.
``_publish(data, state)``
    Set the fitted attributes from a state (the best one, at the end of a fit).

``data`` is whatever value the estimator passes to :meth:`~VariationalEstimator._fit_loop`
(its validated arrays). Stochastic variational inference (``partial_fit``) is
:meth:`~VariationalEstimator._stochastic_step` over the hook
``_stochastic_sweep(data, state, rho) -> (state, bound)``.
"""

import time
import warnings

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state


def learning_rate(offset, decay, t):
    r"""The stochastic-VI step size :math:`\rho_t = (\tau_0 + t)^{-\kappa}` of step
    ``t = 1, 2, ...`` (Hoffman et al. 2013, eq. 26), with :math:`\tau_0` = ``offset`` and
    :math:`\kappa` = ``decay``."""
    return (offset + t) ** (-decay)


def keep_if_not_lower(bound, proposals, margin=0.0):
    """The first proposal that does not lower the ELBO, or None.

    Parameters
    ----------
    bound : float
        The ELBO of the current state.
    proposals : iterable of (state, float)
        Candidate states and their ELBOs, evaluated lazily (a generator stops at the
        first accepted one).
    margin : float, default=0.0
        With ``margin > 0``, a proposal must raise the ELBO by more than ``margin``.

    Returns
    -------
    (state, float) or None
    """
    for state, value in proposals:
        if (value - bound > margin) if margin > 0 else (value >= bound):
            return state, value
    return None


class VariationalEstimator(BaseEstimator):
    """Base class owning the CAVI fit loop (see the module docstring)."""

    #: Whether ``verbose`` prints a line at the start and end of each restart.
    _PRINT_RESTARTS = True
    #: ``n_batch_iter_`` when a stochastic schedule starts (scikit-learn's LDA counts from 1).
    _FIRST_BATCH_ITER = 0

    def _leave_plateau(self, data, state, bound, scale):
        return None

    def _verbose_line(self, n_iter, bound, previous, scale, t0):
        """The line ``verbose`` prints after iteration ``n_iter``."""
        change = (bound - previous) / scale
        msg = f"  Iteration {n_iter}\t ELBO {bound:.10g}\t change/sample {change:.3e}"
        if self.verbose >= 2:
            msg += f"\t time {time.perf_counter() - t0:.3f}s"
        return msg

    def _convergence_warning(self):
        """The text of the ``ConvergenceWarning`` for a fit that never met the convergence
        test, naming what the user can change; None when the fit had no test to meet."""
        return (
            f"{type(self).__name__} did not converge in max_iter={self.max_iter} "
            "iterations: the best initialization's ELBO still changed by more than "
            f"tol={self.tol:g} per sample. Increase max_iter or tol, try other "
            "initialization parameters, or check for degenerate data."
        )

    def _converged(self, bounds, state, scale):
        """Default test: ``|bounds[-1] - bounds[-2]| / scale < tol`` (``bounds`` starts
        with the initial ELBO)."""
        return abs(bounds[-1] - bounds[-2]) / scale < self.tol

    def _fit_loop(
        self, data, scale, *, start=None, n_init=1, random_state=None, verbose_interval=1
    ):
        """Run ``n_init`` restarts of at most ``max_iter`` sweeps; publish the best.

        Parameters
        ----------
        data : object
            Passed to the hooks as it is.
        scale : float
            The scale of the convergence test (the sum of the sample weights, or the number
            of tokens).
        start : (state, float) or None
            A warm start: one run from this state and its ELBO instead of ``n_init``
            initialisations.
        n_init : int
            Restarts from ``_initial_state``, each drawing from the same ``random_state``.
        random_state : None, int or RandomState
        verbose_interval : int
            Iterations between two ``verbose`` lines.

        Returns
        -------
        state
            The best state, after ``_publish(data, state)``.
        """
        random_state = check_random_state(random_state)
        scale = max(float(scale), np.finfo(float).tiny)
        runs = 1 if start is not None else n_init
        best = None
        for init in range(runs):
            t0 = time.perf_counter()
            if self.verbose and self._PRINT_RESTARTS:
                print(f"Initialization {init}")
            state, bound = start if start is not None else self._initial_state(data, random_state)
            bounds, converged, n_iter = [bound], False, 0
            while n_iter < self.max_iter:
                n_iter += 1
                previous = bound
                state, bound = self._sweep(data, state)
                bounds.append(bound)
                if self.verbose and n_iter % verbose_interval == 0:
                    print(self._verbose_line(n_iter, bound, previous, scale, t0))
                if self._converged(bounds, state, scale):
                    moved = None
                    if n_iter < self.max_iter:
                        moved = self._leave_plateau(data, state, bound, scale)
                    if moved is None:
                        converged = True
                        break
                    # a move is one more sweep: it counts as an iteration
                    n_iter += 1
                    state, bound = moved
                    bounds.append(bound)
                    if self.verbose:
                        print(f"  Iteration {n_iter}\t ELBO {bound:.10g}\t (move accepted)")
            if self.verbose and self._PRINT_RESTARTS:
                status = "converged" if converged else "did not converge"
                print(
                    f"Initialization {status}. time {time.perf_counter() - t0:.3f}s "
                    f"ELBO {bound:.10g}"
                )
            if best is None or bound > best[1]:
                best = (state, bound, bounds[1:], n_iter, converged)

        state, bound, history, n_iter, converged = best
        message = None if converged or self.max_iter == 0 else self._convergence_warning()
        if message is not None:
            warnings.warn(message, ConvergenceWarning, stacklevel=3)
        self._publish(data, state)
        self.lower_bound_ = float(bound)
        self.lower_bounds_ = np.asarray(history, dtype=float)
        self.n_iter_ = n_iter
        self.converged_ = converged
        return state

    def _stochastic_step(self, data, state, restart=False):
        r"""One step of stochastic variational inference (``partial_fit``).

        Calls ``_stochastic_sweep(data, state, rho)`` with :math:`\rho_t`
        (:func:`learning_rate` of ``learning_offset``, ``learning_decay``), where
        :math:`t = 1, 2, \dots` counts the steps since the schedule started
        (``n_batch_iter_`` at ``_FIRST_BATCH_ITER``). Then advances ``n_batch_iter_``,
        records the step's ELBO (``lower_bounds_`` restarts with the schedule or when
        ``restart``), sets ``lower_bound_``, ``n_iter_ = len(lower_bounds_)`` and
        ``converged_ = False``, and publishes the new state, which it returns.
        """
        first = self.n_batch_iter_ == self._FIRST_BATCH_ITER
        t = self.n_batch_iter_ - self._FIRST_BATCH_ITER + 1
        rho = learning_rate(self.learning_offset, self.learning_decay, t)
        state, bound = self._stochastic_sweep(data, state, rho)
        self.n_batch_iter_ += 1
        history = np.empty(0) if first or restart else self.lower_bounds_
        self._publish(data, state)
        self.lower_bound_ = float(bound)
        self.lower_bounds_ = np.append(history, bound)
        self.n_iter_ = len(self.lower_bounds_)
        self.converged_ = False
        return state
