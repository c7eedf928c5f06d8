import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from bot.text import escape, fold, nfc, normalise_phone, search_key, split_message, vietnamese_sort_key


def test_fold_strips_marks_and_maps_d():
    assert fold("Đường Hòa Bình") == "duong hoa binh"
    assert fold("ĐỊNH") == "dinh"
    assert fold("TP. Hồ Chí Minh!") == "tp ho chi minh"


def test_old_and_new_tone_placement_fold_alike():
    assert nfc("hoà") != nfc("hòa")
    assert fold("hoà") == fold("hòa") == "hoa"


def test_decomposed_input_is_normalised():
    decomposed = unicodedata.normalize("NFD", "Nguyễn Văn Đức")
    assert nfc(decomposed) == "Nguyễn Văn Đức"
    assert fold(decomposed) == "nguyen van duc"


def test_abbreviations_meet_full_words():
    assert search_key("bhxh") == search_key("Bảo hiểm xã hội")
    assert search_key("tp hcm") == search_key("thành phố Hồ Chí Minh")
    assert search_key("cty may") == "cong ty may"


def test_phone_numbers():
    assert normalise_phone("0912 345 678") == "+84912345678"
    assert normalise_phone("+84 91-234-5678") == "+84912345678"
    assert normalise_phone("84912345678") == "+84912345678"
    assert normalise_phone("0321234567") == "+84321234567"
    assert normalise_phone("0312345678") is None
    assert normalise_phone("0212345678") is None
    assert normalise_phone("091234567") is None
    assert normalise_phone("abc") is None


def test_escape_user_text():
    assert escape("<b>Lan & Minh</b>") == "&lt;b&gt;Lan &amp; Minh&lt;/b&gt;"


@given(st.text(max_size=300))
def test_fold_is_idempotent_and_ascii_for_vietnamese(text):
    assert fold(fold(text)) == fold(text)


@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=20000), st.integers(min_value=50, max_value=4096))
def test_split_message_parts_fit_and_keep_the_words(text, limit):
    parts = split_message(text, limit)
    assert all(len(p.encode("utf-16-le")) // 2 <= limit for p in parts)
    assert "".join(parts).split() == text.split() or "".join("".join(parts).split()) == "".join(text.split())


def test_vietnamese_dictionary_order():
    names = ["Cần Thơ", "Cao Bằng", "Cà Mau", "Đà Nẵng", "Điện Biên", "Dak Lak", "An Giang", "Ăn", "Ân"]
    assert sorted(names, key=vietnamese_sort_key) == [
        "An Giang", "Ăn", "Ân", "Cà Mau", "Cao Bằng", "Cần Thơ", "Dak Lak", "Đà Nẵng", "Điện Biên"]
