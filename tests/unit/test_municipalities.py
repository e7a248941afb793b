"""Municipality numbers are checked against the date of the activity, across both reforms."""

from datetime import date

import pytest

from domain.municipalities import (
    county_of,
    is_valid_municipality,
    municipalities_on,
    municipality_name,
)


@pytest.mark.parametrize(
    ("number", "on", "valid"),
    [
        ("0301", date(2010, 5, 1), True),
        ("0301", date(2019, 6, 1), True),
        ("0301", date(2025, 6, 1), True),
        ("1201", date(2019, 6, 1), True),
        ("1201", date(2019, 12, 31), True),
        ("1201", date(2021, 3, 1), False),
        ("4601", date(2019, 12, 31), False),
        ("4601", date(2021, 3, 1), True),
        ("4601", date(2025, 1, 1), True),
        ("3001", date(2021, 3, 1), True),
        ("3001", date(2024, 1, 1), False),
        ("3101", date(2023, 12, 31), False),
        ("3101", date(2024, 1, 1), True),
        ("0101", date(2019, 1, 1), True),
        ("0101", date(2020, 1, 1), False),
        ("1507", date(2022, 1, 1), True),
        ("1507", date(2024, 2, 1), False),
        ("1580", date(2024, 2, 1), True),
        ("5061", date(2019, 2, 1), True),
        ("9999", date(2021, 1, 1), False),
        ("301", date(2021, 1, 1), False),
    ],
)
def test_validity_follows_the_date(number: str, on: date, valid: bool) -> None:
    assert is_valid_municipality(number, on) is valid


def test_counts_per_period_match_ssb() -> None:
    assert len(municipalities_on(date(2019, 6, 1))) == 422
    assert len(municipalities_on(date(2021, 6, 1))) == 356
    assert len(municipalities_on(date(2024, 6, 1))) == 357


def test_names_keep_norwegian_letters() -> None:
    assert municipality_name("1201", date(2019, 1, 1)) == "Bergen"
    assert municipality_name("3101", date(2024, 5, 1)) == "Halden"
    assert municipality_name("3430", date(2024, 5, 1)) == "Os"
    assert municipality_name("5401", date(2021, 5, 1)) == "Tromsø"
    assert municipality_name("1201", date(2021, 5, 1)) is None


def test_county_has_its_own_validity() -> None:
    assert county_of("1201", date(2019, 1, 1)) == ("12", "Hordaland")
    assert county_of("4601", date(2021, 1, 1)) == ("46", "Vestland")
    assert county_of("3001", date(2021, 1, 1)) == ("30", "Viken")
    assert county_of("3101", date(2024, 1, 1)) == ("31", "Østfold")
    assert county_of("3801", date(2022, 1, 1)) == ("38", "Vestfold og Telemark")
    assert county_of("5501", date(2024, 1, 1)) == ("55", "Troms")
    assert county_of("0301", date(2024, 1, 1)) == ("03", "Oslo")
    assert county_of("3101", date(2023, 1, 1)) is None
