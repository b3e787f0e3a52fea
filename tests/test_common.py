"""scikit-learn's estimator checks over every skvi estimator, with no expected failures."""

import pytest
from sklearn.utils.estimator_checks import (
    check_dataframe_column_names_consistency,
    check_get_feature_names_out_error,
    check_param_validation,
    check_set_output_transform,
    check_transformer_get_feature_names_out,
    check_transformer_get_feature_names_out_pandas,
    parametrize_with_checks,
)

from skvi import VariationalEMRegressor, VariationalGaussianMixture, VariationalLDA

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
    VariationalLDA(max_iter=5, batch_size=10),
    VariationalLDA(n_components=3, max_iter=5),
    VariationalLDA(n_components=3, max_iter=5, learning_method="online", batch_size=10),
    VariationalLDA(n_components=3, max_iter=5, learning_method="cvb0"),
    VariationalLDA(n_components=3, max_iter=5, doc_topic_prior="auto", topic_word_prior="auto"),
    # every method x prior x noise combination; two without intercept, one with fixed df
    VariationalEMRegressor(max_iter=20),
    VariationalEMRegressor(prior="ard", max_iter=20),
    VariationalEMRegressor(method="vbem", fit_intercept=False, max_iter=20),
    VariationalEMRegressor(method="vbem", prior="ard", max_iter=20),
    VariationalEMRegressor(noise="student_t", max_iter=20),
    VariationalEMRegressor(prior="ard", noise="student_t", fit_intercept=False, max_iter=20),
    VariationalEMRegressor(method="vbem", noise="student_t", df=3.0, max_iter=20),
    VariationalEMRegressor(method="vbem", prior="ard", noise="student_t", max_iter=20),
]


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@parametrize_with_checks(ESTIMATORS)  # no expected failures
def test_sklearn_compatible(estimator, check):
    check(estimator)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize(
    "estimator",
    [ESTIMATORS[0], ESTIMATORS[1], ESTIMATORS[5], ESTIMATORS[9], ESTIMATORS[14]],
    ids=repr,
)
def test_checks_not_run_by_check_estimator(estimator):
    name = type(estimator).__name__
    check_param_validation(name, estimator)
    check_dataframe_column_names_consistency(name, estimator)


@pytest.mark.parametrize("estimator", [ESTIMATORS[5], ESTIMATORS[6]], ids=repr)
def test_transformer_feature_names_and_set_output(estimator):
    name = type(estimator).__name__
    check_transformer_get_feature_names_out(name, estimator)
    check_transformer_get_feature_names_out_pandas(name, estimator)
    check_get_feature_names_out_error(name, estimator)
    check_set_output_transform(name, estimator)
