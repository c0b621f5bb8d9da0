"""Bring-your-own-table preparation: column decisions and clear errors."""

from __future__ import annotations

import pandas as pd
import pytest

from mlops_platform.errors import InputError
from mlops_platform.models.tabular import prepare_table


@pytest.fixture
def export() -> pd.DataFrame:
    """A small telco-style export: numbers as text with blanks, bools as words, a date, an id."""
    n = 30
    return pd.DataFrame(
        {
            "customer_id": [f"C{i:03d}" for i in range(n)],
            "snapshot": ["2024-01-01"] * 15 + ["2024-02-01"] * 15,
            "tenure": list(range(n)),
            "total_charges": ["29.85", " ", "", *[f"{10.5 * i:.2f}" for i in range(3, n)]],
            "contract": ["month", "year", "two-year"] * 10,
            "paperless": ["Yes", "No"] * 15,
            "senior": [True, False, False] * 10,
            "signup": pd.date_range("2020-01-01", periods=n, freq="D"),
            "region": ["north"] * n,
            "note": [f"free text {i}" for i in range(n)],
            "Churn": ["TRUE", "FALSE", "FALSE"] * 10,
        }
    )


def test_numbers_stored_as_text_with_blanks_are_parsed_and_their_gaps_counted(export):
    data, report = prepare_table(export, "Churn", id_column="customer_id", time_column="snapshot")

    assert report.numeric_text == {"total_charges": 2}
    assert pd.api.types.is_float_dtype(data.frame["total_charges"])
    assert data.frame["total_charges"].isna().sum() == 2


def test_column_roles_and_types(export):
    data, report = prepare_table(export, "Churn", id_column="customer_id", time_column="snapshot")

    assert report.task == "classification"
    assert data.frame["Churn"].tolist() == [1, 0, 0] * 10
    assert "customer_id" not in data.features and "snapshot" not in data.features
    assert pd.api.types.is_datetime64_any_dtype(data.frame["snapshot"])
    assert data.categorical == ["contract"]
    assert isinstance(data.frame["contract"].dtype, pd.CategoricalDtype)
    assert set(report.boolean) == {"paperless", "senior"}
    assert data.frame["senior"].tolist()[:3] == [1, 0, 0]
    assert report.datetime_as_days == ["signup"]
    assert data.frame["signup"].iloc[0] == pytest.approx(18262.0)  # 2020-01-01 in days since 1970
    assert report.dropped == {"region": "constant", "note": "identifier-like text: every value is distinct"}


def test_the_input_frame_is_not_modified(export):
    before = export.copy()
    prepare_table(export, "Churn")
    pd.testing.assert_frame_equal(export, before)


def test_bool_target_becomes_0_1_and_rows_without_a_target_are_dropped(export):
    frame = export.assign(Churn=[True, False, None] * 10)

    data, report = prepare_table(frame, "Churn")

    assert report.n_dropped_rows == 10
    assert set(data.frame["Churn"]) == {0, 1}


def test_numeric_target_with_many_values_is_regression(export):
    data, report = prepare_table(export.drop(columns="Churn"), "tenure")

    assert report.task == "regression"
    assert data.frame["tenure"].dtype == float


def test_two_text_levels_map_the_rarer_or_the_named_one_to_1(export):
    frame = export.assign(Churn=["gone", "stayed", "stayed"] * 10)

    _, rarer = prepare_table(frame, "Churn")
    data, named = prepare_table(frame, "Churn", positive_label="stayed")

    assert rarer.target_mapping == {"stayed": 0, "gone": 1}
    assert named.target_mapping == {"stayed": 1, "gone": 0}
    assert data.frame["Churn"].tolist()[:3] == [0, 1, 1]


def test_a_missing_target_column_is_named_with_the_columns_available(export):
    with pytest.raises(InputError, match=r"target column 'churned' is not in the table; its columns are: customer_id"):
        prepare_table(export, "churned")


def test_a_missing_id_column_is_named(export):
    with pytest.raises(InputError, match=r"id column 'cust' is not in the table"):
        prepare_table(export, "Churn", id_column="cust")


def test_a_constant_target_is_refused(export):
    with pytest.raises(InputError, match=r"target 'Churn' is constant"):
        prepare_table(export.assign(Churn="FALSE"), "Churn")


def test_a_multiclass_target_is_refused(export):
    with pytest.raises(InputError, match=r"target 'contract' has 3 classes"):
        prepare_table(export, "contract")


def test_an_unparseable_time_column_is_refused(export):
    with pytest.raises(InputError, match=r"time column 'contract' cannot be read as dates"):
        prepare_table(export, "Churn", time_column="contract")
