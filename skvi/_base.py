"""The coordinate-ascent fit loop shared by every skvi estimator.

The loop knows nothing of any model: it owns the restarts (``n_init``), the iterations
(``max_iter``), the convergence test (``tol`` on the change of the ELBO *per sample*), the
choice of the best restart, ``warm_start``, ``verbose`` printing and the
``ConvergenceWarning``, and it sets ``lower_bound_``, ``lower_bounds_``, ``n_iter_`` and
``converged_``. A model provides four hooks:

``_initialize(X, sample_weight, random_state) -> float``
    Set a starting variational distribution; return its ELBO.
``_cavi_step(X, sample_weight) -> float``
    One sweep of coordinate ascent over every factor; return the ELBO after it.
``_get_parameters() -> dict`` / ``_set_parameters(dict)``
    Save and restore the variational parameters (for the best of ``n_init`` restarts).

and may provide a fifth:

``_leave_plateau(X, sample_weight, bound, scale) -> float or None``
    Called when the change falls below the convergence test: try a move that raises the
    ELBO by more than the model's own threshold (for the mixture, ``tol * scale``, where
    ``scale`` is the loop's ``n_samples_eff``) and return the ELBO after it, or None to
    declare convergence. Coordinate ascent can crawl along a plateau (two components sharing a
    cluster separate at ~1e-4 nats per sample per sweep); this is where a model can
    jump off it. The loop stays monotone because only improving moves are kept.
"""

import time
import warnings

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state


class VariationalEstimator(BaseEstimator):
    """Base class owning the CAVI fit loop (see the module docstring)."""

    #: Whether ``verbose`` prints a line at the start and end of each restart.
    _PRINT_RESTARTS = True

    def _leave_plateau(self, X, sample_weight, bound, scale):
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

    def _converged(self, bounds, scale):
        """Default test: ``|bounds[-1] - bounds[-2]| / scale < tol`` (``bounds`` starts
        with the initial ELBO)."""
        return abs(bounds[-1] - bounds[-2]) / scale < self.tol

    def _fit_loop(self, X, sample_weight, n_samples_eff):
        """Run ``n_init`` restarts of at most ``max_iter`` sweeps; keep the best.

        Convergence (``_converged``, by default): ``|ELBO_t - ELBO_{t-1}| / n_samples_eff
        < tol``, where ``n_samples_eff`` is the sum of the sample weights (a model may
        pass another scale, such as the number of tokens).
        """
        do_init = not (self.warm_start and hasattr(self, "converged_"))
        n_init = self.n_init if do_init else 1
        random_state = check_random_state(self.random_state)
        scale = max(float(n_samples_eff), np.finfo(float).tiny)

        best_bound, best = -np.inf, None
        for init in range(n_init):
            t0 = time.perf_counter()
            if self.verbose and self._PRINT_RESTARTS:
                print(f"Initialization {init}")
            if do_init:
                bound = self._initialize(X, sample_weight, random_state)
            else:
                bound = self.lower_bound_
            history, converged, n_iter, start = [], False, 0, bound
            while n_iter < self.max_iter:
                n_iter += 1
                previous = bound
                bound = self._cavi_step(X, sample_weight)
                history.append(bound)
                if self.verbose and n_iter % self.verbose_interval == 0:
                    print(self._verbose_line(n_iter, bound, previous, scale, t0))
                if self._converged([start, *history], scale):
                    moved = None
                    if n_iter < self.max_iter:
                        moved = self._leave_plateau(X, sample_weight, bound, scale)
                    if moved is None:
                        converged = True
                        break
                    # a move is one more sweep: it counts as an iteration
                    n_iter += 1
                    bound = moved
                    history.append(bound)
                    if self.verbose:
                        print(f"  Iteration {n_iter}\t ELBO {bound:.10g}\t (move accepted)")
            if self.verbose and self._PRINT_RESTARTS:
                status = "converged" if converged else "did not converge"
                print(
                    f"Initialization {status}. time {time.perf_counter() - t0:.3f}s "
                    f"ELBO {bound:.10g}"
                )
            if best is None or bound > best_bound:
                best_bound = bound
                best = (self._get_parameters(), history, n_iter, converged)

        params, history, n_iter, converged = best
        self._set_parameters(params)
        message = None if converged or self.max_iter == 0 else self._convergence_warning()
        if message is not None:
            warnings.warn(message, ConvergenceWarning, stacklevel=3)
        self.lower_bound_ = float(best_bound)
        self.lower_bounds_ = np.asarray(history, dtype=float)
        self.n_iter_ = n_iter
        self.converged_ = converged
        return self
