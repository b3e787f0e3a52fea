"""scikit-learn's estimator checks over every skvi estimator, with no expected failures."""

import pytest
from sklearn.utils.estimator_checks import (
    check_dataframe_column_names_consistency,
    check_param_validation,
    parametrize_with_checks,
)

from skvi import VariationalGaussianMixture

ESTIMATORS = [
    VariationalGaussianMixture(max_iter=20),
    VariationalGaussianMixture(n_components=3, max_iter=20),
    VariationalGaussianMixture(n_components=3, covariance_type="diag", max_iter=20),
    VariationalGaussianMixture(
        n_components=3,
        covariance_type="spherical",
        weight_concentration_prior_type="dirichlet_distribution",
        max_iter=20,
    ),
    VariationalGaussianMixture(n_components=2, covariance_type="tied", init_params="random"),
]


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@parametrize_with_checks(ESTIMATORS)  # no expected failures
def test_sklearn_compatible(estimator, check):
    check(estimator)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("estimator", ESTIMATORS[:2], ids=repr)
def test_checks_not_run_by_check_estimator(estimator):
    name = type(estimator).__name__
    check_param_validation(name, estimator)
    check_dataframe_column_names_consistency(name, estimator)
