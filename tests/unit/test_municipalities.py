"""Municipality numbers are checked against the date of the activity, across both reforms."""

from datetime import date

import pytest

from domain.municipalities import (
    _changes,
    county_of,
    ever_existed,
    is_valid_municipality,
    municipalities_on,
    municipality_name,
    place,
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


@pytest.mark.parametrize(
    ("number", "on", "name"),
    [
        ("1515", date(2024, 5, 1), "Herøy (Møre og Romsdal)"),
        ("1818", date(2019, 5, 1), "Herøy (Nordland)"),
        ("3419", date(2024, 5, 1), "Våler (Innlandet)"),
        ("3114", date(2024, 5, 1), "Våler (Østfold)"),
        ("3018", date(2021, 5, 1), "Våler (Viken)"),
        ("1514", date(2019, 5, 1), "Sande (Møre og Romsdal)"),
        ("1514", date(2021, 5, 1), "Sande"),
        ("0616", date(2019, 5, 1), "Nes (Buskerud)"),
    ],
)
def test_names_in_ssb_form_where_a_name_occurs_twice(number: str, on: date, name: str) -> None:
    assert municipality_name(number, on) == name


def test_no_two_municipalities_share_a_name_on_any_day() -> None:
    for day in (date(2019, 6, 1), date(2021, 6, 1), date(2024, 6, 1)):
        names = list(municipalities_on(day).values())
        assert len(names) == len(set(names)), day


@pytest.mark.parametrize(
    ("number", "on", "placed", "followed"),
    [
        ("5401", date(2024, 1, 2), "5501", True),
        ("5403", date(2024, 1, 2), "5601", True),  # Alta
        ("0136", date(2021, 1, 1), "3002", True),  # Rygge merged into Moss
        ("0136", date(2024, 1, 1), "3103", True),  # ... then renumbered
        ("1850", date(2021, 1, 1), None, False),  # Tysfjord split (Narvik, Hamarøy)
        ("0301", date(2024, 1, 2), "0301", False),
    ],
)
def test_a_changed_number_is_placed_under_its_one_successor(
    number: str, on: date, placed: str | None, followed: bool
) -> None:
    placement = place(number, on)
    assert (placement.number, placement.followed) == (placed, followed)


def test_every_change_leads_to_a_number_in_force() -> None:
    for old, changes in _changes().items():
        for new, when in changes:
            assert is_valid_municipality(new, when), (old, new, when)
            assert not is_valid_municipality(old, when), (old, new, when)
    assert ever_existed("5401") and ever_existed("1902") and not ever_existed("9999")
