"""``hull-runtime state`` prints JSON as ``json.dumps(indent=2)`` would, without importing json."""

from __future__ import annotations

import json
from typing import Any

import pytest

from hull.oci.fastjson import dumps_indented

CASES: list[Any] = [
    {},
    [],
    {"a": 1},
    [{"a": [1]}],
    "text",
    3,
    None,
    {
        "ociVersion": "1.0.2",
        "id": "c1",
        "pid": 4242,
        "status": "running",
        "bundle": "/var/lib/b",
        "annotations": {"k": 'v\u00e9\n"', "empty": {}, "l": [1, 2.5, True, None, [], {"x": []}]},
        "nested": {"deep": {"deeper": ["a", {"b": "c"}]}},
        "uni": "\u2603 snow",
        "ctrl": "\x01\t",
    },
]


@pytest.mark.parametrize("obj", CASES)
def test_matches_json_dumps_indent_2(obj: Any) -> None:
    assert dumps_indented(obj) == json.dumps(obj, indent=2)
