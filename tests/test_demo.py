"""The demo's table: rows from a real comparison, formatted into one table."""

from skvi import demo


def test_regression_comparison_rows_and_table():
    rows = demo.compare_regression()
    libraries = [r["library"] for r in rows]
    assert libraries.count("skvi") == 4 and libraries.count("sklearn") == 3
    for row in rows:
        assert row["metric"] == "R^2" and row["fit_s"] > 0 and row["n_iter"] >= 1
        assert (row["elbo_per_sample"] is None) == (row["library"] == "sklearn")
    # skvi and its scikit-learn counterpart agree on held-out R^2 (measured: equal to 4 digits)
    by = {(r["dataset"], r["estimator"]): r["score"] for r in rows}
    ours = by[("diabetes 442 x 10", "VariationalEMRegressor vem ridge")]
    assert abs(ours - by[("diabetes 442 x 10", "BayesianRidge")]) < 1e-3
    table = demo.format_table(rows).splitlines()
    assert len(table) == 2 + len(rows)
    assert table[0].split()[:3] == ["dataset", "estimator", "library"]
    assert all("R^2" in line for line in table[2:])
