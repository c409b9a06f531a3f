"""What the fixtures of real servers share: loading a ``scripts/*_local.py`` launcher, CI detection, test ports.

The launchers are scripts (standard library only, so they run before the virtual environment exists), not
a package: a test loads one by path. A test session holds a lock on its server's port for its whole run,
so a second session running at the same time (another checkout, a helper) gets a free port and a server
of its own instead of sharing, and clearing, the first one's data.
"""

from __future__ import annotations

import fcntl
import importlib.util
import os
import socket
from pathlib import Path
from types import ModuleType
from typing import IO, Any

REPO = Path(__file__).resolve().parents[2]


def in_ci() -> bool:
    """``CI=true``: a server or browser that cannot start fails the run instead of skipping its tests."""
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def load_launcher(script: str, *, module_name: str | None = None) -> ModuleType:
    """The module of ``scripts/<script>.py`` (e.g. ``"neo4j_local"``)."""
    spec = importlib.util.spec_from_file_location(module_name or script, REPO / "scripts" / f"{script}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def claim_test_port(launcher: Any, *, lock_prefix: str, share_if_taken: bool = False) -> tuple[int, IO[str]]:
    """The launcher's default port if no other session holds its lock, else a free loopback port; with the held lock.

    ``share_if_taken`` (a port pinned by the user): a held default port is shared, as asked, instead.
    ``flock`` locks vanish with their process, so a crashed session never blocks the port.
    """
    locks = launcher.cache_root()
    locks.mkdir(parents=True, exist_ok=True)
    port = launcher.DEFAULT_PORT
    while True:
        handle = open(locks / f"{lock_prefix}-{port}.lock", "w")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return port, handle
        except BlockingIOError:
            handle.close()
            if share_if_taken:
                return port, open(os.devnull, "w")
            port = free_port()
