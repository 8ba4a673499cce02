#!/bin/sh
# Unpacking a gzip layer into tmpfs: hull (hull.archive.apply_layer) side by
# side with `tar -xzf`, `pigz -dc | tar -x` and `umoci unpack`, one hyperfine
# run per layer:
#   debian  a debootstrap --variant=minbase rootfs (thousands of small files),
#           from bootstrap_debian's cached tarball, gzipped
#   random  ~200 MB of random data in 10 MB files
# Inputs are cached under $HULL_BENCH_ROOT (default /var/tmp/hull-bench);
# targets live in /dev/shm. umoci unpacks an OCI layout made by our
# `save --format oci` (it also writes config.json and an mtree manifest).
set -e
cd "$(dirname "$0")/.."
RUNS=${RUNS:-7}
ROOT=${HULL_BENCH_ROOT:-/var/tmp/hull-bench}
PY=$PWD/.venv/bin/python
scripts/apt-install.sh hyperfine pigz umoci debootstrap
mkdir -p "$ROOT/layers"
work=$(mktemp -d /dev/shm/hull-unpack.XXXXXX)
trap 'rm -rf "$work"' EXIT

# -- inputs (cached) ------------------------------------------------------------------
if [ ! -f "$ROOT/layers/debian.tar.gz" ]; then
    tarball=$("$PY" -c 'import sys
from pathlib import Path
from hull.images import ImageService
from hull.images.bootstrap import debootstrap_tarball
with ImageService(Path(sys.argv[1]) / "store") as s:
    print(debootstrap_tarball(s, "bookworm"))' "$ROOT")
    pigz -6 -c "$tarball" > "$ROOT/layers/debian.tar.gz.tmp"
    mv "$ROOT/layers/debian.tar.gz.tmp" "$ROOT/layers/debian.tar.gz"
fi
if [ ! -f "$ROOT/layers/random.tar.gz" ]; then
    src=$(mktemp -d /var/tmp/hull-random.XXXXXX)
    for i in $(seq -w 1 20); do head -c 10M /dev/urandom > "$src/file$i"; done
    tar -C "$src" --sort=name --numeric-owner -cf - . | pigz -6 > "$ROOT/layers/random.tar.gz.tmp"
    mv "$ROOT/layers/random.tar.gz.tmp" "$ROOT/layers/random.tar.gz"
    rm -rf "$src"
fi
for layer in debian random; do
    if [ ! -d "$ROOT/layers/$layer-oci" ]; then
        "$PY" - "$ROOT" "$layer" <<'PY'
import json, sys, tarfile
from pathlib import Path
from hull.images import ImageService, import_rootfs, save
root, layer = Path(sys.argv[1]), sys.argv[2]
with ImageService(root / "store") as s:
    import_rootfs(s, root / "layers" / f"{layer}.tar.gz", reference=f"bench-{layer}:latest")
    out = root / "layers" / f"{layer}-oci.tar"
    with open(out, "wb") as f:
        save(s, [f"bench-{layer}:latest"], f, format="oci")
layout = root / "layers" / f"{layer}-oci.tmp"
with tarfile.open(out) as t:
    t.extractall(layout, filter="data")
index = json.loads((layout / "index.json").read_text())
for m in index["manifests"]:  # umoci reads "path:tag"; a tag without ':'
    m["annotations"]["org.opencontainers.image.ref.name"] = "latest"
(layout / "index.json").write_text(json.dumps(index))
layout.rename(root / "layers" / f"{layer}-oci")
out.unlink()
PY
    fi
done

# -- the runs -------------------------------------------------------------------------
HULL_APPLY='import sys; from pathlib import Path; from hull.archive import apply_layer; apply_layer(open(sys.argv[1], "rb"), Path(sys.argv[2]))'
for layer in debian random; do
    in="$ROOT/layers/$layer.tar.gz"
    t="$work/target"
    hyperfine --warmup 1 --runs "$RUNS" --export-json "$work/$layer.json" \
        --prepare "rm -rf $t; mkdir $t" \
        -n hull "$PY -c '$HULL_APPLY' $in $t" \
        -n "tar -xzf" "tar -xzf $in -C $t" \
        -n "pigz -dc | tar -x" "pigz -dc $in | tar -x -C $t" \
        -n "umoci unpack" "rm -rf $t && umoci unpack --image $ROOT/layers/$layer-oci:latest $t" \
        >/dev/null
done
rm -rf "$work/target"
"$PY" - "$work" "$ROOT" <<'PY'
import json, os, statistics, sys
work, root = sys.argv[1], sys.argv[2]
print(f"{'layer':<8}{'tool':<20}{'median ms':>10}{'hull / it':>11}")
for layer in ("debian", "random"):
    res = {r["command"]: statistics.median(r["times"]) * 1000
           for r in json.load(open(f"{work}/{layer}.json"))["results"]}
    size = os.path.getsize(f"{root}/layers/{layer}.tar.gz") / 1e6
    hull = res["hull"]
    for name, ms in res.items():
        print(f"{layer:<8}{name:<20}{ms:>10.1f}{hull / ms:>11.2f}")
    print(f"{layer:<8}({size:.0f} MB gzip) targets: hull <= 1.3x pigz ({hull / res['pigz -dc | tar -x']:.2f}x),"
          f" hull < umoci ({hull / res['umoci unpack']:.2f}x)")
PY
