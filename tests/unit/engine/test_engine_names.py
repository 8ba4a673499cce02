"""Random container names and ids, as Docker's namesgenerator and stringid."""

from __future__ import annotations

import re

from hull.engine import names
from hull.metadata.containers import _check_name


def test_word_lists_are_docker_sized_unique_and_lowercase() -> None:
    assert len(names.ADJECTIVES) >= 100
    assert len(names.SURNAMES) >= 200
    for words in (names.ADJECTIVES, names.SURNAMES):
        assert len(set(words)) == len(words)
        assert all(re.fullmatch(r"[a-z]+", w) for w in words)


def test_random_name_shape_and_validity() -> None:
    seen = set()
    for _ in range(500):
        n = names.random_name()
        adj, _, surname = n.partition("_")
        assert adj in names.ADJECTIVES and surname in names.SURNAMES
        assert n != "boring_wozniak"
        _check_name(n)  # a valid container name
        seen.add(n)
    assert len(seen) > 400  # random, not a short cycle


def test_retry_appends_a_digit() -> None:
    for _ in range(50):
        n = names.random_name(retry=1)
        assert re.fullmatch(r"[a-z]+_[a-z]+\d", n)


def test_ids_are_64_hex_and_unique() -> None:
    ids = {names.new_id() for _ in range(1000)}
    assert len(ids) == 1000
    for i in ids:
        assert re.fullmatch(r"[0-9a-f]{64}", i)
        assert not i[:12].isdigit()  # a short id that looks like a number is avoided
