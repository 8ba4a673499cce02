"""OCI lifecycle hooks: run each with the container state on stdin.

prestart, createRuntime, createContainer and startContainer failures fail
the operation; poststart and poststop failures are logged as warnings and
the lifecycle goes on, as the runtime spec requires.
"""

from __future__ import annotations

import os

from hull.errors import FailedPrecondition

TYPE_CHECKING = False
if TYPE_CHECKING:
    from hull.oci.runtime_spec import Hook

WARN_ONLY = ("poststart", "poststop")


def run_hooks(hooks: list[Hook], kind: str, state: bytes) -> None:
    """Run hooks in order; raise FailedPrecondition on the first that fails."""
    import subprocess

    for hook in hooks:
        argv = hook.args or [hook.path]
        try:
            res = subprocess.run(
                argv,
                executable=hook.path,
                input=state,
                env=dict(e.split("=", 1) for e in hook.env if "=" in e),
                capture_output=True,
                timeout=hook.timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            msg = f"{kind} hook {hook.path} timed out after {hook.timeout}s"
        except OSError as exc:
            msg = f"{kind} hook {hook.path}: {exc.strerror}"
        else:
            if res.returncode == 0:
                continue
            err = res.stderr.decode("utf-8", "replace").strip()
            msg = f"{kind} hook {hook.path} exited with status {res.returncode}"
            if err:
                msg += f": {err}"
        if kind in WARN_ONLY:
            os.write(2, f"hull-runtime: warning: {msg}\n".encode())
            continue
        raise FailedPrecondition(msg)
