"""Key encoding: ids of any shape become valid, reversible Table keys.

Rules: "Characters disallowed in key fields" in Microsoft's "Understanding the Table service data model".
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.errors import StateLimitExceeded
from shared.state.keys import (
    MAX_KEY_UTF16_UNITS,
    decode_part,
    encode_part,
    is_forbidden_in_key,
    make_key,
    prefix_range,
    split_key,
    utf16_units,
)

HOSTILE_IDS = [
    "AAMkAGI2TG93AAA=/+x==",  # a Graph event id: base64 with / + =
    "a#b?c\\d/e",
    "ctrl\x00\x01\x1f\x7f\x80\x9fend",
    "~7E already looks escaped ~",
    "pipe|in|id",
    "quote ' and %2F percent",
    "Ünïcødé 会議 🎉",
]


@pytest.mark.parametrize("value", HOSTILE_IDS)
def test_hostile_id_round_trips_without_forbidden_characters(value: str) -> None:
    """Encoding keeps every id decodable and free of / \\ # ? and control characters (Table key rules)."""
    encoded = encode_part(value)
    assert decode_part(encoded) == value
    assert not any(is_forbidden_in_key(char) for char in encoded)
    assert "|" not in encoded


@given(st.text())
def test_any_text_round_trips_and_never_holds_a_forbidden_character(value: str) -> None:
    """Property: decode(encode(x)) == x and no forbidden key character survives (Table key rules)."""
    encoded = encode_part(value)
    assert decode_part(encoded) == value
    assert not any(is_forbidden_in_key(char) for char in encoded)


@given(st.lists(st.text(min_size=1), min_size=1, max_size=4))
def test_composite_key_splits_back_into_its_parts(parts: list[str]) -> None:
    """Property: a key of several ids splits back into exactly those ids, whatever they contain (R10 lookups)."""
    try:
        key = make_key(*parts)
    except StateLimitExceeded:
        return  # too long once encoded: refusing is the documented outcome
    assert split_key(key) == parts


@given(st.text(min_size=1, max_size=20), st.text(min_size=1, max_size=20), st.text(min_size=1, max_size=20))
def test_prefix_range_selects_exactly_the_keys_of_that_id(uid: str, other_uid: str, link_id: str) -> None:
    """Property: the iCalUId range query matches keys of that uid only, never of a longer uid (R10)."""
    low, high = prefix_range("ical", uid)
    assert low <= make_key("ical", uid, link_id) < high
    if other_uid != uid:
        assert not low <= make_key("ical", other_uid, link_id) < high


def test_key_over_one_kib_is_refused() -> None:
    """A key over 1 KiB (512 UTF-16 code units) is refused before the service sees it (Table key size)."""
    with pytest.raises(StateLimitExceeded, match="UTF-16"):
        make_key("x" * (MAX_KEY_UTF16_UNITS + 1), what="event id")


def test_escaping_counts_towards_the_key_size() -> None:
    """171 slashes fit as ids but not once each is escaped to three characters (Table key size)."""
    with pytest.raises(StateLimitExceeded):
        make_key("/" * 171)
    assert utf16_units(make_key("/" * 170)) == 510


def test_empty_id_is_refused() -> None:
    """An empty id cannot name a row; the store refuses it instead of writing an ambiguous key (Table key rules)."""
    with pytest.raises(StateLimitExceeded, match="empty"):
        make_key("user", "")


def test_malformed_escape_is_rejected_on_decode() -> None:
    """Decoding text the encoder cannot produce fails rather than return a wrong id (Table key rules)."""
    with pytest.raises(ValueError, match="malformed escape"):
        decode_part("abc~Z1")
