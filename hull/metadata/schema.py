"""The metadata schema as numbered migrations.

``MIGRATIONS[n]`` turns a version ``n-1`` database into version ``n``; they
run in one write transaction on open, so a crash mid-migration leaves the
previous version. Never edit a released migration: add the next one.

Digests are stored as text (``sha256:<hex>``), times as Unix seconds (REAL),
JSON documents as text, the image configuration as the exact bytes whose
digest is the image ID.
"""

from __future__ import annotations

_V1 = (
    """
    CREATE TABLE images (
        id              TEXT PRIMARY KEY,   -- config digest: Docker's image ID
        manifest_digest TEXT,               -- NULL for images never pushed or pulled
        config          BLOB NOT NULL,      -- the configuration blob, byte for byte
        created         REAL,               -- the config's "created", Unix seconds
        size            INTEGER NOT NULL DEFAULT 0,
        parent          TEXT REFERENCES images(id) ON DELETE SET NULL,
        labels          TEXT NOT NULL DEFAULT '{}',
        last_tagged     REAL,
        added           REAL NOT NULL
    ) STRICT
    """,
    "CREATE INDEX images_parent ON images(parent)",
    "CREATE INDEX images_manifest ON images(manifest_digest)",
    """
    CREATE TABLE image_layers (
        image_id   TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
        idx        INTEGER NOT NULL,        -- 0 = bottom layer
        diff_id    TEXT NOT NULL,
        chain_id   TEXT NOT NULL,
        digest     TEXT,                    -- the (compressed) blob, if one exists
        media_type TEXT,
        size       INTEGER NOT NULL DEFAULT 0,  -- blob size
        diff_size  INTEGER NOT NULL DEFAULT 0,  -- uncompressed size
        PRIMARY KEY (image_id, idx)
    ) STRICT, WITHOUT ROWID
    """,
    "CREATE INDEX image_layers_chain ON image_layers(chain_id)",
    "CREATE INDEX image_layers_digest ON image_layers(digest)",
    """
    CREATE TABLE tags (
        reference TEXT PRIMARY KEY,         -- full form: docker.io/library/busybox:latest
        image_id  TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
        created   REAL NOT NULL
    ) STRICT
    """,
    "CREATE INDEX tags_image ON tags(image_id)",
    """
    CREATE TABLE leases (
        id      TEXT PRIMARY KEY,
        created REAL NOT NULL,
        expires REAL,                       -- NULL: until deleted
        labels  TEXT NOT NULL DEFAULT '{}'
    ) STRICT
    """,
    "CREATE INDEX leases_expires ON leases(expires)",
    """
    CREATE TABLE lease_resources (
        lease_id TEXT NOT NULL REFERENCES leases(id) ON DELETE CASCADE,
        kind     TEXT NOT NULL,             -- content | snapshot | ingest
        key      TEXT NOT NULL,
        PRIMARY KEY (lease_id, kind, key)
    ) STRICT, WITHOUT ROWID
    """,
    "CREATE INDEX lease_resources_kind ON lease_resources(kind, key)",
)

# Containers and volumes. Documents the engine owns (Docker's Config,
# HostConfig, State, NetworkSettings) are stored as JSON text; the columns
# are what lookups need. No foreign key to images: Docker lets `rmi -f` remove
# an image that stopped containers still name.
_V2 = (
    """
    CREATE TABLE containers (
        id               TEXT PRIMARY KEY,  -- 64 hex characters
        name             TEXT NOT NULL UNIQUE,  -- without Docker's leading "/"
        image_id         TEXT NOT NULL,
        image_ref        TEXT NOT NULL,     -- what the user asked for
        created          REAL NOT NULL,
        config           TEXT NOT NULL,     -- Docker's Config
        host_config      TEXT NOT NULL,     -- Docker's HostConfig
        network_settings TEXT NOT NULL DEFAULT '{}',
        state            TEXT NOT NULL DEFAULT '{}',  -- Docker's State
        restart_count    INTEGER NOT NULL DEFAULT 0,
        runtime          TEXT NOT NULL,
        snapshot_key     TEXT
    ) STRICT
    """,
    "CREATE INDEX containers_image ON containers(image_id)",
    """
    CREATE TABLE volumes (
        name       TEXT PRIMARY KEY,
        driver     TEXT NOT NULL DEFAULT 'local',
        mountpoint TEXT NOT NULL,
        created    REAL NOT NULL,
        labels     TEXT NOT NULL DEFAULT '{}',
        options    TEXT NOT NULL DEFAULT '{}',
        anonymous  INTEGER NOT NULL DEFAULT 0
    ) STRICT
    """,
    """
    CREATE TABLE volume_refs (
        volume       TEXT NOT NULL REFERENCES volumes(name) ON DELETE CASCADE,
        container_id TEXT NOT NULL REFERENCES containers(id) ON DELETE CASCADE,
        PRIMARY KEY (volume, container_id)
    ) STRICT, WITHOUT ROWID
    """,
    "CREATE INDEX volume_refs_container ON volume_refs(container_id)",
)

# The build cache (``hull/build``): one row per build step whose result is known.
# ``key`` digests every input of the step (its parent step's key included), so
# a row is found by its key alone; ``parent`` and ``inputs`` are what
# ``--explain`` compares a missed step against. A layer step names its layer;
# the build-cache lease holds those blobs and snapshots against GC.
_V3 = (
    """
    CREATE TABLE build_cache (
        key        TEXT PRIMARY KEY,        -- sha256:… of the step's inputs
        parent     TEXT NOT NULL,           -- the previous step's key ('' for FROM)
        kind       TEXT NOT NULL,           -- from | layer | meta
        chain_id   TEXT,                    -- layer steps: the layer made
        diff_id    TEXT,
        digest     TEXT,                    -- its blob
        media_type TEXT,
        size       INTEGER NOT NULL DEFAULT 0,
        diff_size  INTEGER NOT NULL DEFAULT 0,
        history    TEXT NOT NULL DEFAULT '{}',  -- the image-config history entry
        inputs     TEXT NOT NULL DEFAULT '{}',  -- what explain compares
        created    REAL NOT NULL,
        last_used  REAL NOT NULL
    ) STRICT
    """,
    "CREATE INDEX build_cache_parent ON build_cache(parent, last_used)",
)

# Version 4: the network layer's state (hull.network.store), whose tables the
# store used to create itself: "IF NOT EXISTS", since databases written
# before this migration already hold them, with these very columns.
_V4 = (
    """
    CREATE TABLE IF NOT EXISTS net_networks (
        id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, bridge TEXT NOT NULL UNIQUE,
        subnet TEXT NOT NULL, gateway TEXT NOT NULL, internal INTEGER NOT NULL,
        icc INTEGER NOT NULL, labels TEXT NOT NULL, created REAL NOT NULL,
        is_default INTEGER NOT NULL)
    """,
    """
    CREATE TABLE IF NOT EXISTS net_leases (
        network_id TEXT NOT NULL, address TEXT NOT NULL, owner TEXT NOT NULL,
        PRIMARY KEY (network_id, address))
    """,
    """
    CREATE TABLE IF NOT EXISTS net_endpoints (
        network_id TEXT NOT NULL, container_id TEXT NOT NULL, ip TEXT NOT NULL,
        prefixlen INTEGER NOT NULL, gateway TEXT NOT NULL, mac TEXT NOT NULL,
        host_veth TEXT NOT NULL, ifname TEXT NOT NULL, netns_path TEXT NOT NULL,
        name TEXT NOT NULL, aliases TEXT NOT NULL,
        PRIMARY KEY (network_id, container_id))
    """,
    """
    CREATE TABLE IF NOT EXISTS net_ports (
        protocol TEXT NOT NULL, host_ip TEXT NOT NULL, host_port INTEGER NOT NULL,
        container_id TEXT NOT NULL, network_id TEXT NOT NULL, container_ip TEXT NOT NULL,
        container_port INTEGER NOT NULL,
        PRIMARY KEY (protocol, host_ip, host_port))
    """,
)

MIGRATIONS: dict[int, tuple[str, ...]] = {1: _V1, 2: _V2, 3: _V3, 4: _V4}
SCHEMA_VERSION = max(MIGRATIONS)

__all__ = ["MIGRATIONS", "SCHEMA_VERSION"]
