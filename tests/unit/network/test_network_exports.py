from __future__ import annotations

import hull.network


def test_public_api_is_complete() -> None:
    for name in hull.network.__all__:
        assert hasattr(hull.network, name), name
    public = {n for n in vars(hull.network) if not n.startswith("_")}
    modules = {
        "dns",
        "files",
        "hostports",
        "ipam",
        "manager",
        "models",
        "naming",
        "netlink",
        "nft",
        "ports",
        "store",
    }
    assert public - modules - {"annotations"} == set(hull.network.__all__)
