import pytest

from bot.services.provinces import all_provinces, get_province, is_valid_province, match_provinces


def test_there_are_34_provinces_from_the_package():
    provinces = all_provinces()
    assert len(provinces) == 34
    assert get_province(1).name == "Thành phố Hà Nội" and get_province(1).short_name == "Hà Nội"
    assert is_valid_province(79) and not is_valid_province(2)


@pytest.mark.parametrize(("typed", "code"), [
    ("ha noi", 1), ("Hà Nội", 1), ("hn", 1), ("HA NOI", 1), ("ha noii", 1),
    ("hcm", 79), ("tp hcm", 79), ("tphcm", 79), ("tp.hcm", 79), ("sai gon", 79), ("Hồ Chí Minh", 79),
    ("bac ninh", 24), ("bac nin", 24), ("da nang", 48), ("đà nẵng", 48), ("hue", 46),
])
def test_typed_names_match_without_diacritics(typed, code):
    assert match_provinces(typed)[0].code == code


@pytest.mark.parametrize("typed", ["xyz", "", "   ", "1234"])
def test_nonsense_matches_nothing(typed):
    assert match_provinces(typed) == []
