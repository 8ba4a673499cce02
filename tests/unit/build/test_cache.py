"""Cache keys and the explanation of a miss (no kernel needed)."""

from __future__ import annotations

from pathlib import Path

from hull import metadata as md
from hull.build.cache import explain, explain_miss, file_hashes, step_key
from hull.build.context import FileMeta


def test_key_depends_on_parent_kind_and_inputs_but_not_explain_only_fields() -> None:
    base = {"instruction": "COPY a .", "files": "sha256:1"}
    k = step_key("p", "layer", base)
    assert k.startswith("sha256:") and len(k) == 71
    assert step_key("p", "layer", dict(base)) == k
    assert step_key("q", "layer", base) != k
    assert step_key("p", "meta", base) != k
    assert step_key("p", "layer", {**base, "files": "sha256:2"}) != k
    assert step_key("p", "layer", {**base, "args": {"X": "1"}}) != k
    # _files is for explain only
    assert step_key("p", "layer", {**base, "_files": {"a": "x"}}) == k
    # key order does not matter
    assert step_key("p", "layer", {"files": "sha256:1", "instruction": "COPY a ."}) == k


def test_file_hashes_ignore_nothing_but_mtime() -> None:
    a = FileMeta("a", "file", 0o644, 0, 0, 1, "aa")
    assert file_hashes([a]) == file_hashes([FileMeta("a", "file", 0o644, 0, 0, 1, "aa")])
    assert file_hashes([a]) != file_hashes([FileMeta("a", "file", 0o600, 0, 0, 1, "aa")])
    assert file_hashes([a]) != file_hashes([FileMeta("a", "file", 0o644, 1, 0, 1, "aa")])
    assert file_hashes([a]) != file_hashes([FileMeta("a", "file", 0o644, 0, 0, 1, "bb")])


def test_explain_names_each_changed_input() -> None:
    old = {
        "instruction": "COPY . /app",
        "files": "sha256:1",
        "_files": {"a.txt": "1", "b.txt": "2", "gone": "3"},
        "args": {"X": "1", "Y": "1"},
    }
    new = {
        "instruction": "COPY . /app",
        "files": "sha256:2",
        "_files": {"a.txt": "1", "b.txt": "9", "new": "4"},
        "args": {"X": "2", "Y": "1", "Z": "z"},
    }
    assert explain(old, new) == [
        'build arg X changed: "1" → "2"',
        'build arg Z changed: unset → "z"',
        "files changed: b.txt",
        "files added: new",
        "files removed: gone",
    ]
    assert explain({"instruction": "RUN a"}, {"instruction": "RUN b"}) == [
        'instruction changed: "RUN a" → "RUN b"'
    ]
    assert explain(
        {"from": "busybox", "base": "sha256:a"}, {"from": "busybox", "base": "sha256:b"}
    ) == ["base image busybox changed: sha256:a → sha256:b"]
    assert explain(new, new) == []


def test_explain_lists_at_most_ten_paths() -> None:
    old = {"files": "1", "_files": {f"f{i:02}": "a" for i in range(25)}}
    new = {"files": "2", "_files": {f"f{i:02}": "b" for i in range(25)}}
    (line,) = explain(old, new)
    assert line.startswith("files changed: f00, f01") and line.endswith("(15 more)")


def test_explain_miss_compares_with_the_last_step_after_the_same_parent(tmp_path: Path) -> None:
    with md.Database.open(tmp_path / "hull.db") as db:
        assert md.get_cache_entry(db, "nope") is None
        assert explain_miss(db, "p", "layer", {"instruction": "RUN x"}) == [
            "no earlier build of this step after the same previous step"
        ]
        md.put_cache_entry(db, md.CacheEntry("k1", "p", "meta", inputs={"instruction": "ENV A=1"}))
        md.put_cache_entry(
            db,
            md.CacheEntry(
                "k2", "p", "layer", inputs={"instruction": "RUN echo 1", "args": {"V": "1"}}
            ),
        )
        reasons = explain_miss(db, "p", "layer", {"instruction": "RUN echo 1", "args": {"V": "2"}})
        assert reasons == ['build arg V changed: "1" → "2"']
        # an ENV miss is compared with the ENV row
        assert explain_miss(db, "p", "meta", {"instruction": "ENV A=2"}) == [
            'instruction changed: "ENV A=1" → "ENV A=2"'
        ]
        md.put_cache_entry(
            db, md.CacheEntry("f1", "", "from", inputs={"from": "busybox", "base": "sha256:a"})
        )
        assert explain_miss(db, "", "from", {"from": "busybox", "base": "sha256:b"}) == [
            "base image busybox changed: sha256:a → sha256:b"
        ]
        assert explain_miss(db, "", "from", {"from": "alpine", "base": "sha256:c"}) == [
            "no earlier build from alpine"
        ]
        md.touch_cache_entries(db, ["k1"], now=1.0)
        assert next(e.key for e in md.list_cache_entries(db)) == "k1"
        assert md.delete_cache_entries(db, ["k1", "k2", "zz"]) == 2
        assert md.get_cache_entry(db, "k2") is None
