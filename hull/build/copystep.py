"""Planning COPY and ADD: their cache-key inputs and their file work.

The key covers exactly what the step reads: for context sources, the
checksum of the selected files (``ContextIndex.checksum``: content, mode,
owner, symlink targets; never mtimes), with per-file short hashes kept for
``--explain``; for ``--from``, the source stage's or image's layer chain;
for heredocs, their (expanded) text; for ADD URLs, the downloaded content's
digest. The flags after expansion are in the instruction text.
"""

from __future__ import annotations

import glob
import hashlib
import os
import posixpath
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hull.build import fsops
from hull.build.cache import file_hashes
from hull.build.dockerignore import Matcher
from hull.build.instructions import AddInstr, CopyInstr
from hull.build.state import BuildServices, FsContext, StageState, Step
from hull.errors import InvalidArgument, Unavailable

if TYPE_CHECKING:
    from hull.build.steps import Expander

__all__ = ["plan_copy"]


def _is_url(src: str) -> bool:
    return src.startswith(("http://", "https://"))


def _chmod(text: str) -> int | None:
    if not text:
        return None
    try:
        mode = int(text, 8)
    except ValueError:
        raise InvalidArgument(f"invalid chmod parameter: {text!r} (expected octal)") from None
    if not 0 <= mode <= 0o7777:
        raise InvalidArgument(f"invalid chmod parameter: {text!r}")
    return mode


def _download(url: str) -> tuple[bytes, str]:
    """The content at ``url`` and its digest (ADD of a URL)."""
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=60) as resp:
            data: bytes = resp.read()
    except OSError as exc:
        raise Unavailable(f"ADD {url}: download failed: {exc}") from exc
    return data, "sha256:" + hashlib.sha256(data).hexdigest()


def _url_name(url: str) -> str:
    from urllib.parse import urlsplit

    name = posixpath.basename(urlsplit(url).path.rstrip("/"))
    return name or "download"


def _fs_roots(root: Path, pattern: str) -> list[fsops.Source]:
    """Sources a ``--from`` path or glob names in a mounted image (resolved inside it)."""
    from hull.runtime.rootfs import secure_join

    clean = posixpath.normpath("/" + pattern).lstrip("/")
    base = str(root)
    if any(c in clean for c in "*?["):
        found = sorted(glob.glob(os.path.join(base, clean)))
        rels = [os.path.relpath(f, base) for f in found]
    else:
        rels = [clean]
    out = []
    for rel in rels:
        real = secure_join(base, rel) if rel not in ("", ".") else base
        if not os.path.lexists(real):
            raise InvalidArgument(f'failed to compute cache key: "/{clean}": not found')
        r = os.path.relpath(real, base)
        out.append(fsops.Source(base, "" if r == "." else r))
    if not out:
        raise InvalidArgument(f'failed to compute cache key: "/{clean}": not found')
    return out


def plan_copy(ins: CopyInstr | AddInstr, st: StageState, ex: Expander, svc: BuildServices) -> Step:
    """The step of a COPY or ADD."""
    add = isinstance(ins, AddInstr)
    word = "ADD" if add else "COPY"
    srcs = [ex.word(s) for s in ins.sources]
    dest = ex.word(ins.dest)
    chown = ex.word(ins.chown) if ins.chown else ""
    chmod = _chmod(ex.word(ins.chmod) if ins.chmod else "")
    from_ = ex.word(ins.from_) if isinstance(ins, CopyInstr) and ins.from_ else ""
    exclude = [ex.word(e) for e in ins.exclude]
    workdir = st.config.working_dir or "/"
    flags = [f"--{k}={v}" for k, v in (("from", from_), ("chown", chown)) if v]
    if chmod is not None:
        flags.append(f"--chmod={chmod:o}")
    flags += [f"--exclude={e}" for e in exclude]
    docs = [(h.name, ex.word(h.content) if h.expand else h.content) for h in ins.heredocs]
    shown = srcs + [f"<<{name}" for name, _ in docs]
    text = " ".join([word, *flags, *shown, dest])
    inputs: dict[str, Any] = {"instruction": text}
    if docs:
        inputs["heredocs"] = [[n, c] for n, c in docs]
    chain = None
    urls = [s for s in srcs if add and _is_url(s)]
    local = [s for s in srcs if s not in urls]
    downloads: dict[str, bytes] = {}
    if from_:
        ref, chain = svc.source_of(from_)
        inputs["source"] = f"{ref} {chain or 'empty'}"
    elif local:
        ctx = svc.context
        if ctx is None:
            raise InvalidArgument(f"{word} failed: no build context (the Dockerfile came alone)")
        inputs["files"] = str(ctx.checksum(local, exclude))
        inputs["_files"] = file_hashes(ctx.index.select(local, exclude))
    if urls:
        got = {}
        for u in urls:
            downloads[u], got[u] = _download(u)
        inputs["urls"] = got
    if ex.used:
        inputs["args"] = dict(sorted(ex.used.items()))
    excl = Matcher(exclude) if exclude else None

    def fs(fctx: FsContext) -> None:
        from hull.build.users import resolve_chown

        rootfs = str(fctx.rootfs)
        uid, gid = resolve_chown(rootfs, chown) if chown else (0, 0)
        opts = fsops.CopyOptions(uid, gid, chmod)
        full = fsops.dest_path(dest, workdir)
        count = len(docs) + len(urls)
        if from_:
            with svc.view(chain) as root:
                roots = [r for s in local for r in _fs_roots(root, s)]
                _check_count(count + len(roots), full)
                fsops.copy_sources(rootfs, roots, dest, workdir, opts, _allowed(None, excl),
                                   follow_top=True)  # fmt: skip
        elif local:
            ctx = svc.context
            assert ctx is not None
            roots = [fsops.Source(str(ctx.root), r) for s in local for r in ctx.index.roots(s)]
            _check_count(count + len(roots), full)
            if add:
                archives = [r for r in roots if r.rel and _archive(ctx.index, r)]
                for a in archives:
                    fsops.extract_archive(rootfs, Path(a.path), full.rstrip("/") or "/")
                roots = [r for r in roots if r not in archives]
            if roots:
                allowed = _allowed(set(ctx.index.entries), excl)
                fsops.copy_sources(rootfs, roots, dest, workdir, opts, allowed)
        else:
            _check_count(count, full)
        for name, content in docs:
            target = posixpath.join(full, name) if full.endswith("/") else full
            fsops.write_file(rootfs, target, content.encode(), opts)
        for u, data in downloads.items():
            target = posixpath.join(full, _url_name(u)) if full.endswith("/") else full
            fsops.write_file(rootfs, target, data, opts, mode=0o600)

    return Step("layer", text, inputs, fs=fs)


def _check_count(n: int, full: str) -> None:
    if n > 1 and not full.endswith("/"):
        raise InvalidArgument(
            "When using COPY with more than one source file, "
            "the destination must be a directory and end with a /"
        )


def _archive(index: Any, src: fsops.Source) -> bool:
    meta = index.entries.get(src.rel)
    return meta is not None and meta.type == "file" and fsops.is_archive(src.path)


def _allowed(entries: set[str] | None, excl: Matcher | None) -> fsops.Allowed:
    def check(rel_root: str, rel_inner: str) -> bool:
        if entries is not None and rel_root not in entries:
            return False
        return excl is None or not excl.matches(rel_inner)

    return check
