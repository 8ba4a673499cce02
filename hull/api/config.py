"""The daemon's configuration: what ``hulld``'s flags set, as one value."""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

from hull.errors import InvalidArgument

from .http import Limits

DEFAULT_DATA_ROOT = Path("/var/lib/hull")
DEFAULT_EXEC_ROOT = Path("/run/hull")
DEFAULT_HOST = "unix:///run/hull/hull.sock"
DEFAULT_RUNTIME = "hull-runtime"
LOG_LEVELS = ("debug", "info", "warn", "error")


def builtin_runtimes() -> dict[str, str]:
    """hull-runtime (the launcher beside this interpreter if any) and runc if installed."""
    beside = Path(sys.executable).parent / "hull-runtime"
    out = {"hull-runtime": str(beside) if beside.exists() else "hull-runtime"}
    runc = shutil.which("runc")
    if runc:
        out["runc"] = runc
    return out


@dataclass
class Config:
    """Everything ``hulld`` is told; ``Daemon`` reads nothing else."""

    data_root: Path = DEFAULT_DATA_ROOT
    exec_root: Path = DEFAULT_EXEC_ROOT
    hosts: list[str] = field(default_factory=lambda: [DEFAULT_HOST])
    log_level: str = "info"
    default_runtime: str = DEFAULT_RUNTIME
    runtimes: dict[str, str] = field(default_factory=builtin_runtimes)
    pidfile: Path | None = None
    shutdown_timeout: float = 10.0
    limits: Limits = field(default_factory=Limits)
    # containers become the daemon's children: it must reap orphans (off for in-process tests)
    subreaper: bool = True

    @property
    def pidfile_path(self) -> Path:
        return self.pidfile if self.pidfile is not None else self.exec_root / "hulld.pid"

    def validate(self) -> None:
        """InvalidArgument naming the flag that is wrong."""
        if self.log_level not in LOG_LEVELS:
            raise InvalidArgument(
                f"invalid --log-level {self.log_level!r}: expected one of {', '.join(LOG_LEVELS)}"
            )
        if self.default_runtime not in self.runtimes:
            raise InvalidArgument(
                f"specified default runtime '{self.default_runtime}' does not exist "
                f"(known: {', '.join(sorted(self.runtimes))}; add one with --add-runtime NAME=PATH)"
            )
        if not self.hosts:
            raise InvalidArgument("no -H/--host to listen on")
        for h in self.hosts:
            if not (h.startswith("unix://") or h.startswith("tcp://")):
                raise InvalidArgument(f"invalid -H {h!r}: expected unix:///PATH or tcp://HOST:PORT")


def config_from_env() -> Config:
    """Defaults, with ``HULL_DATA_ROOT`` applied."""
    cfg = Config()
    env = os.environ.get("HULL_DATA_ROOT")
    if env:
        cfg.data_root = Path(env)
    return cfg


__all__ = [
    "DEFAULT_DATA_ROOT",
    "DEFAULT_EXEC_ROOT",
    "DEFAULT_HOST",
    "DEFAULT_RUNTIME",
    "LOG_LEVELS",
    "Config",
    "builtin_runtimes",
    "config_from_env",
]
