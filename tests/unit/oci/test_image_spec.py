import hashlib
import json

import pytest

from hull.errors import InvalidArgument
from hull.oci import media_types as mt
from hull.oci.digest import Digest, digest_bytes
from hull.oci.image_config import (
    ContainerConfig,
    HealthConfig,
    History,
    ImageConfig,
    RootFS,
    chain_ids,
    image_id,
)
from hull.oci.image_spec import (
    MAX_MANIFEST_SIZE,
    Descriptor,
    Index,
    Manifest,
    Platform,
    canonical_json,
    parse_manifest_or_index,
)

D1 = "sha256:" + "a" * 64
D2 = "sha256:" + "b" * 64
D3 = "sha256:" + "c" * 64

DOCKER_MANIFEST = {
    "schemaVersion": 2,
    "mediaType": mt.DOCKER_MANIFEST,
    "config": {"mediaType": mt.DOCKER_CONFIG, "size": 1457, "digest": D1},
    "layers": [
        {"mediaType": mt.DOCKER_LAYER_GZIP, "size": 2218926, "digest": D2},
    ],
}

OCI_INDEX = {
    "schemaVersion": 2,
    "mediaType": mt.OCI_INDEX,
    "manifests": [
        {
            "mediaType": mt.OCI_MANIFEST,
            "digest": D1,
            "size": 610,
            "platform": {"architecture": "amd64", "os": "linux"},
        },
        {
            "mediaType": mt.OCI_MANIFEST,
            "digest": D2,
            "size": 610,
            "platform": {"architecture": "arm64", "os": "linux", "variant": "v8"},
            "annotations": {"org.opencontainers.image.ref.name": "latest"},
        },
    ],
}

# Shaped like `docker inspect`'s source: what `docker build` writes.
DOCKER_CONFIG = {
    "architecture": "amd64",
    "config": {
        "Hostname": "",  # unknown to us: ignored
        "User": "app",
        "ExposedPorts": {"80/tcp": {}, "443/tcp": {}},
        "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
        "Entrypoint": None,
        "Cmd": ["sh"],
        "Volumes": {"/data": {}},
        "WorkingDir": "/srv",
        "Labels": {"b": "2", "a": "1"},
        "StopSignal": "SIGQUIT",
        "Healthcheck": {
            "Test": ["CMD-SHELL", "true"],
            "Interval": 30000000000,
            "Timeout": 5000000000,
            "StartPeriod": 1000000000,
            "Retries": 3,
        },
        "OnBuild": None,
        "Shell": ["/bin/sh", "-c"],
        "ArgsEscaped": True,
    },
    "created": "2024-01-02T03:04:05.123456789Z",
    "docker_version": "24.0.7",
    "history": [
        {"created": "2024-01-02T03:04:05Z", "created_by": "ADD file:x in / "},
        {"created": "2024-01-02T03:04:05Z", "created_by": 'CMD ["sh"]', "empty_layer": True},
    ],
    "os": "linux",
    "rootfs": {"type": "layers", "diff_ids": [D2, D3]},
}


# -- chain IDs and IDs -----------------------------------------------------------


def test_chain_ids_follow_the_spec() -> None:
    a, b, c = Digest.parse(D1), Digest.parse(D2), Digest.parse(D3)
    ab = "sha256:" + hashlib.sha256(f"{D1} {D2}".encode()).hexdigest()
    abc = "sha256:" + hashlib.sha256(f"{ab} {D3}".encode()).hexdigest()
    assert chain_ids([a, b, c]) == [a, Digest.parse(ab), Digest.parse(abc)]
    assert chain_ids([]) == []
    assert chain_ids([a]) == [a]


def test_image_id_is_the_config_digest() -> None:
    raw = json.dumps(DOCKER_CONFIG).encode()
    assert image_id(raw) == digest_bytes(raw)
    cfg = ImageConfig.from_bytes(raw)
    assert cfg.digest() == digest_bytes(cfg.to_bytes())
    assert cfg.chain_ids() == chain_ids(cfg.rootfs.diff_ids)


# -- canonical serialisation ---------------------------------------------------------


def test_canonical_json_is_compact_and_escapes_like_go() -> None:
    assert canonical_json({"a": [1, "x"], "b": {}}) == b'{"a":[1,"x"],"b":{}}'
    assert canonical_json("<&>") == b'"\\u003c\\u0026\\u003e"'
    assert canonical_json("é\u2028") == '"é\\u2028"'.encode()
    with pytest.raises(ValueError):
        canonical_json(float("nan"))


def test_manifest_serialisation_order_and_digest_are_stable() -> None:
    m = Manifest.from_json(DOCKER_MANIFEST)
    assert m.to_bytes() == (
        b'{"schemaVersion":2,"mediaType":"' + mt.DOCKER_MANIFEST.encode() + b'",'
        b'"config":{"mediaType":"'
        + mt.DOCKER_CONFIG.encode()
        + b'","digest":"'
        + D1.encode()
        + b'","size":1457},"layers":[{"mediaType":"'
        + mt.DOCKER_LAYER_GZIP.encode()
        + b'","digest":"'
        + D2.encode()
        + b'","size":2218926}]}'
    )
    assert Manifest.from_bytes(m.to_bytes()) == m
    assert m.digest() == digest_bytes(m.to_bytes())
    desc = m.descriptor()
    assert desc.media_type == mt.DOCKER_MANIFEST
    assert desc.size == len(m.to_bytes())
    assert desc.digest == m.digest()


def test_annotations_and_labels_are_sorted() -> None:
    a = Manifest(
        config=Descriptor(mt.OCI_CONFIG, Digest.parse(D1), 2),
        layers=(),
        annotations={"z": "1", "a": "2"},
    )
    b = Manifest(
        config=Descriptor(mt.OCI_CONFIG, Digest.parse(D1), 2),
        layers=(),
        annotations={"a": "2", "z": "1"},
    )
    assert a.to_bytes() == b.to_bytes()
    assert b'"annotations":{"a":"2","z":"1"}' in a.to_bytes()


def test_index_round_trip() -> None:
    idx = Index.from_json(OCI_INDEX)
    assert len(idx.manifests) == 2
    p = idx.manifests[1].platform
    assert p == Platform("arm64", "linux", variant="v8")
    assert idx.manifests[1].annotations == {"org.opencontainers.image.ref.name": "latest"}
    assert Index.from_bytes(idx.to_bytes()) == idx
    assert json.loads(idx.to_bytes()) == OCI_INDEX


# -- image config ---------------------------------------------------------------------


def test_docker_config_parses_with_extensions() -> None:
    cfg = ImageConfig.from_json(DOCKER_CONFIG)
    assert cfg.architecture == "amd64"
    assert cfg.os == "linux"
    assert cfg.created == "2024-01-02T03:04:05.123456789Z"
    c = cfg.config
    assert c.user == "app"
    assert c.exposed_ports == ("443/tcp", "80/tcp")
    assert c.env == ("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",)
    assert c.entrypoint is None
    assert c.cmd == ("sh",)
    assert c.volumes == ("/data",)
    assert c.working_dir == "/srv"
    assert c.labels == {"a": "1", "b": "2"}
    assert c.stop_signal == "SIGQUIT"
    assert c.healthcheck == HealthConfig(
        test=("CMD-SHELL", "true"),
        interval=30_000_000_000,
        timeout=5_000_000_000,
        start_period=1_000_000_000,
        retries=3,
    )
    assert c.on_build is None
    assert c.shell == ("/bin/sh", "-c")
    assert c.args_escaped is True
    assert cfg.rootfs == RootFS((Digest.parse(D2), Digest.parse(D3)))
    assert cfg.history[1] == History(
        created="2024-01-02T03:04:05Z", created_by='CMD ["sh"]', empty_layer=True
    )
    assert cfg.platform() == Platform("amd64", "linux")
    # the canonical form parses back to the same value
    assert ImageConfig.from_bytes(cfg.to_bytes()) == cfg


def test_config_field_order_follows_the_go_struct() -> None:
    cfg = ImageConfig.from_json(DOCKER_CONFIG)
    keys = list(json.loads(cfg.to_bytes()))
    assert keys == ["created", "architecture", "os", "config", "rootfs", "history"]
    ckeys = list(json.loads(cfg.to_bytes())["config"])
    assert ckeys == [
        "User",
        "ExposedPorts",
        "Env",
        "Cmd",
        "Volumes",
        "WorkingDir",
        "Labels",
        "StopSignal",
        "ArgsEscaped",
        "Healthcheck",
        "Shell",
    ]
    assert list(json.loads(cfg.to_bytes())["history"][1]) == [
        "created",
        "created_by",
        "empty_layer",
    ]


def test_empty_entrypoint_differs_from_absent() -> None:
    cleared = ContainerConfig(entrypoint=())
    absent = ContainerConfig()
    assert cleared.to_json() == {"Entrypoint": []}
    assert absent.to_json() == {}
    base = {"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}}
    parsed = ImageConfig.from_json({**base, "config": {"Entrypoint": []}})
    assert parsed.config.entrypoint == ()
    assert ImageConfig.from_json(base).config.entrypoint is None


def test_minimal_config_round_trip() -> None:
    cfg = ImageConfig(architecture="arm64", os="linux", rootfs=RootFS())
    assert cfg.to_bytes() == (
        b'{"architecture":"arm64","os":"linux","config":{},'
        b'"rootfs":{"type":"layers","diff_ids":[]}}'
    )
    assert ImageConfig.from_bytes(cfg.to_bytes()) == cfg


# -- validation -------------------------------------------------------------------------


def _with(doc: dict[str, object], path: list[object], value: object) -> dict[str, object]:
    doc = json.loads(json.dumps(doc))
    target: object = doc
    for key in path[:-1]:
        target = target[key]  # type: ignore[index]
    if value is _DELETE:
        del target[path[-1]]  # type: ignore[attr-defined]
    else:
        target[path[-1]] = value  # type: ignore[index]
    return doc


_DELETE = object()


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (["config"], _DELETE, "image manifest: config: required field is missing"),
        (["layers"], _DELETE, "image manifest: layers: required field is missing"),
        (["layers"], {}, "image manifest: layers: expected an array of objects"),
        (["layers", 0], "x", "image manifest: layers[0]: expected an object"),
        (
            ["layers", 0, "size"],
            -1,
            "image manifest: layers[0].size: expected a non-negative integer",
        ),
        (["layers", 0, "size"], "12", "image manifest: layers[0].size: expected an integer"),
        (["layers", 0, "size"], True, "image manifest: layers[0].size: expected an integer"),
        (["layers", 0, "size"], _DELETE, "image manifest: layers[0].size: required field"),
        (["config", "digest"], "sha256:abc", "image manifest: config.digest: invalid digest"),
        (["config", "digest"], "md5:" + "a" * 32, "config.digest: invalid digest"),
        (["config", "mediaType"], 5, "image manifest: config.mediaType: expected a string"),
        (["schemaVersion"], 3, "image manifest: schemaVersion: unsupported schema version 3"),
        (["schemaVersion"], _DELETE, "image manifest: schemaVersion: required field"),
        (["schemaVersion"], "2", "image manifest: schemaVersion: expected an integer"),
        (["mediaType"], mt.OCI_INDEX, "image manifest: mediaType: expected"),
        (["annotations"], {"a": 1}, "image manifest: annotations.a: expected a string"),
    ],
)
def test_manifest_errors_name_the_field(path: list[object], value: object, message: str) -> None:
    with pytest.raises(InvalidArgument) as exc:
        Manifest.from_json(_with(DOCKER_MANIFEST, path, value))
    assert message in str(exc.value)


@pytest.mark.parametrize(
    "doc",
    [
        {**DOCKER_MANIFEST, "schemaVersion": 1},
        {**DOCKER_MANIFEST, "mediaType": mt.DOCKER_SCHEMA1_MANIFEST},
        {**DOCKER_MANIFEST, "mediaType": mt.DOCKER_SCHEMA1_SIGNED_MANIFEST, "schemaVersion": 1},
    ],
)
def test_schema1_is_refused(doc: dict[str, object]) -> None:
    with pytest.raises(InvalidArgument, match="schema 1 manifests are not supported"):
        Manifest.from_json(doc)
    with pytest.raises(InvalidArgument, match="schema 1 manifests are not supported"):
        parse_manifest_or_index(json.dumps(doc).encode())


def test_schema1_content_type_is_refused() -> None:
    with pytest.raises(InvalidArgument, match="schema 1 manifests are not supported"):
        parse_manifest_or_index(b"{}", mt.DOCKER_SCHEMA1_SIGNED_MANIFEST)


def test_oversized_manifest_is_refused() -> None:
    big = json.dumps({**DOCKER_MANIFEST, "annotations": {"x": "y" * MAX_MANIFEST_SIZE}})
    with pytest.raises(InvalidArgument, match="too big"):
        Manifest.from_bytes(big.encode())
    with pytest.raises(InvalidArgument, match="too big"):
        Index.from_bytes(big.encode())
    with pytest.raises(InvalidArgument, match="too big"):
        parse_manifest_or_index(big.encode())


def test_invalid_json_and_non_objects() -> None:
    with pytest.raises(InvalidArgument, match="image manifest: invalid JSON"):
        Manifest.from_bytes(b"{")
    with pytest.raises(InvalidArgument, match="image manifest: invalid JSON"):
        Manifest.from_bytes(b"\xff")
    with pytest.raises(InvalidArgument, match="image manifest: document: expected an object"):
        Manifest.from_bytes(b"[]")
    with pytest.raises(InvalidArgument, match="image config: document: expected an object"):
        ImageConfig.from_json("x")


def test_an_index_is_not_a_manifest() -> None:
    doc = {k: v for k, v in OCI_INDEX.items() if k != "mediaType"}
    with pytest.raises(InvalidArgument, match="image index, not a manifest"):
        Manifest.from_json(doc)
    with pytest.raises(InvalidArgument, match="mediaType: expected"):
        Index.from_json(DOCKER_MANIFEST)


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        (_with(DOCKER_CONFIG, ["architecture"], _DELETE), "image config: architecture: required"),
        (_with(DOCKER_CONFIG, ["os"], 1), "image config: os: expected a string"),
        (_with(DOCKER_CONFIG, ["rootfs"], _DELETE), "image config: rootfs: required"),
        (_with(DOCKER_CONFIG, ["rootfs", "type"], "tar"), "rootfs.type: expected 'layers'"),
        (_with(DOCKER_CONFIG, ["rootfs", "diff_ids"], _DELETE), "rootfs.diff_ids: required"),
        (_with(DOCKER_CONFIG, ["rootfs", "diff_ids", 1], "nope"), "rootfs.diff_ids[1]: invalid"),
        (_with(DOCKER_CONFIG, ["config", "Env", 0], 1), "config.Env[0]: expected a string"),
        (_with(DOCKER_CONFIG, ["config", "Cmd"], "sh"), "config.Cmd: expected an array"),
        (_with(DOCKER_CONFIG, ["config", "ExposedPorts"], ["80"]), "ExposedPorts: expected an"),
        (_with(DOCKER_CONFIG, ["config", "ArgsEscaped"], 1), "config.ArgsEscaped: expected true"),
        (
            _with(DOCKER_CONFIG, ["config", "Healthcheck", "Retries"], "3"),
            "config.Healthcheck.Retries: expected an integer",
        ),
        (
            _with(DOCKER_CONFIG, ["history", 0, "empty_layer"], "yes"),
            "history[0].empty_layer: expected true or false",
        ),
        (_with(DOCKER_CONFIG, ["history"], {}), "image config: history: expected an array"),
    ],
)
def test_config_errors_name_the_field(doc: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidArgument) as exc:
        ImageConfig.from_json(doc)
    assert message in str(exc.value)


def test_descriptor_checks() -> None:
    with pytest.raises(InvalidArgument, match="size must be >= 0"):
        Descriptor(mt.OCI_LAYER, Digest.parse(D1), -1)
    data = b'{"a":1}'
    d = Descriptor.from_json(
        {
            "mediaType": mt.OCI_CONFIG,
            "digest": str(digest_bytes(data)),
            "size": len(data),
            "data": "eyJhIjoxfQ==",
            "urls": ["https://example.com/layer"],
            "artifactType": "application/x-test",
        }
    )
    assert d.data == data
    assert d.urls == ("https://example.com/layer",)
    assert Descriptor.from_json(d.to_json()) == d
    with pytest.raises(InvalidArgument, match="data: does not match"):
        Descriptor.from_json({**d.to_json(), "size": 3})
    with pytest.raises(InvalidArgument, match="data: expected base64"):
        Descriptor.from_json({**d.to_json(), "data": "!!"})
    # hashable and equal by value
    assert len({d, Descriptor.from_json(d.to_json())}) == 1


def test_platform_requires_arch_and_os() -> None:
    with pytest.raises(InvalidArgument, match=r"image index: manifests\[0\]\.platform\.os"):
        Index.from_json(_with(OCI_INDEX, ["manifests", 0, "platform", "os"], _DELETE))


# -- manifest or index --------------------------------------------------------------------


def test_parse_manifest_or_index_dispatch() -> None:
    assert isinstance(parse_manifest_or_index(json.dumps(DOCKER_MANIFEST)), Manifest)
    assert isinstance(parse_manifest_or_index(json.dumps(OCI_INDEX)), Index)
    # OCI 1.0 documents without mediaType: told apart by their fields
    bare_index = {k: v for k, v in OCI_INDEX.items() if k != "mediaType"}
    bare_manifest = {k: v for k, v in DOCKER_MANIFEST.items() if k != "mediaType"}
    assert isinstance(parse_manifest_or_index(json.dumps(bare_index)), Index)
    got = parse_manifest_or_index(json.dumps(bare_manifest))
    assert isinstance(got, Manifest)
    assert got.media_type is None
    # the Content-Type decides when the document does not say
    assert isinstance(
        parse_manifest_or_index(json.dumps(bare_index), mt.OCI_INDEX + "; charset=utf-8"), Index
    )
    with pytest.raises(InvalidArgument, match="does not match the Content-Type"):
        parse_manifest_or_index(json.dumps(DOCKER_MANIFEST), mt.OCI_MANIFEST)
    with pytest.raises(InvalidArgument, match="unsupported media type"):
        parse_manifest_or_index(json.dumps({**DOCKER_MANIFEST, "mediaType": "text/plain"}))


# -- platforms and media types ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("linux/amd64", "linux/amd64"),
        ("linux/x86_64", "linux/amd64"),
        ("linux/aarch64", "linux/arm64"),
        ("linux/arm64/v8", "linux/arm64"),
        ("linux/arm", "linux/arm/v7"),
        ("linux/armhf", "linux/arm/v7"),
        ("linux/armel", "linux/arm/v6"),
        ("linux/arm/6", "linux/arm/v6"),
        ("Linux/AMD64", "linux/amd64"),
        ("linux/i386", "linux/386"),
        ("arm64", "linux/arm64"),
        ("linux/s390x", "linux/s390x"),
    ],
)
def test_platform_parse(spec: str, expected: str) -> None:
    assert str(Platform.parse(spec)) == expected


@pytest.mark.parametrize("spec", ["", "linux/", "a/b/c/d", "/amd64"])
def test_platform_parse_errors(spec: str) -> None:
    with pytest.raises(InvalidArgument, match="invalid platform"):
        Platform.parse(spec)


def test_platform_json() -> None:
    p = Platform("amd64", "windows", os_version="10.0.17763.1", os_features=("win32k",))
    assert p.to_json() == {
        "architecture": "amd64",
        "os": "windows",
        "os.version": "10.0.17763.1",
        "os.features": ["win32k"],
    }
    assert Platform.from_json(p.to_json()) == p


def test_media_type_classes() -> None:
    assert mt.is_manifest(mt.OCI_MANIFEST) and mt.is_manifest(mt.DOCKER_MANIFEST)
    assert mt.is_index(mt.OCI_INDEX) and mt.is_index(mt.DOCKER_MANIFEST_LIST)
    assert mt.is_config(mt.DOCKER_CONFIG) and not mt.is_config(mt.OCI_MANIFEST)
    assert mt.is_schema1(mt.DOCKER_SCHEMA1_SIGNED_MANIFEST)
    assert mt.layer_compression(mt.DOCKER_LAYER_GZIP) == "gzip"
    assert mt.layer_compression(mt.OCI_LAYER_ZSTD) == "zstd"
    assert mt.layer_compression(mt.OCI_LAYER) == "none"
    assert mt.is_non_distributable(mt.DOCKER_FOREIGN_LAYER_GZIP)
    assert mt.is_non_distributable(mt.OCI_LAYER_NONDIST_GZIP)
    assert not mt.is_non_distributable(mt.OCI_LAYER_GZIP)
    assert mt.is_layer(mt.OCI_LAYER_NONDIST_ZSTD) and not mt.is_layer(mt.OCI_CONFIG)
    with pytest.raises(KeyError):
        mt.layer_compression(mt.OCI_CONFIG)
