#!/usr/bin/env python3
"""Start and stop a private Redis server on loopback, the Celery broker for tests and local runs (Debian's redis-server).

The server is the project's own: its config, data directory, log and pid file live outside the repository
(``$LEITMOTIF_CACHE/redis-<port>`` or ``~/.cache/leitmotif/redis-<port>``), it listens on ``127.0.0.1:<port>``
only, with a password (``requirepass``) so another local user cannot read or inject tasks, and without
persistence (a broker for tests and development: a restart starts empty). ``start`` daemonises the server,
waits until an authenticated ``PING`` answers ``PONG`` and prints the ``redis://`` URL; it is idempotent.

As root (CI containers), the server runs as the unprivileged ``redis`` user made by Debian's
``redis-server`` package (``REDIS_OS_USER`` names another) through ``runuser``, and its directory belongs
to it; ``/root`` is closed to other users, so as root the directory is ``/var/lib/leitmotif/redis-<port>``
unless ``LEITMOTIF_CACHE`` points somewhere that user can reach. Without such a user it runs as root
(Redis allows it), bound to loopback as always.

Usage::

    python scripts/redis_local.py start [--port N]   # start (or reuse), print the broker URL
    python scripts/redis_local.py stop [--port N]
    python scripts/redis_local.py status [--port N]  # exit 0 when it answers, 1 otherwise
    python scripts/redis_local.py url [--port N]     # the URL, without starting anything

``--port`` defaults to ``$REDIS_TEST_PORT`` or 16379; ``--fresh`` wipes the directory before starting.
``REDIS_SERVER`` names the ``redis-server`` binary if it is not on ``PATH``. Only the standard library is
used, so it runs before the virtual environment exists.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import pwd
import shutil
import socket
import stat
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

DEFAULT_PORT = int(os.environ.get("REDIS_TEST_PORT", "16379"))
DEFAULT_PASSWORD = "leitmotif-test"
ROOT_FALLBACK = Path("/var/lib/leitmotif")
INSTALL_HINT = (
    "install Debian's Redis server (apt-get install redis-server, or bash scripts/install_system_deps.sh), "
    "or set REDIS_SERVER to the redis-server binary"
)


class RedisLauncherError(RuntimeError):
    """Raised with a message that says what to do; the CLI prints it without a traceback."""


# --- where things are ---------------------------------------------------------------------------------


def cache_root() -> Path:
    return Path(os.environ.get("LEITMOTIF_CACHE", Path.home() / ".cache" / "leitmotif"))


def os_user() -> pwd.struct_passwd | None:
    """The account that runs the server when this script runs as root (``None``: the caller, or root itself)."""
    if os.geteuid() != 0:
        return None
    try:
        account = pwd.getpwnam(os.environ.get("REDIS_OS_USER", "redis"))
    except KeyError:
        return None
    return None if account.pw_uid == 0 else account


def _reachable_by(path: Path, account: pwd.struct_passwd) -> bool:
    """True if ``account`` can enter every existing ancestor of ``path``."""
    for parent in [path, *path.parents]:
        if not parent.exists():
            continue
        info = parent.stat()
        if info.st_uid == account.pw_uid:
            allowed = info.st_mode & stat.S_IXUSR
        elif info.st_gid == account.pw_gid:
            allowed = info.st_mode & stat.S_IXGRP
        else:
            allowed = info.st_mode & stat.S_IXOTH
        if not allowed:
            return False
    return True


def run_dir(port: int) -> Path:
    """The server's directory: ``redis.conf``, ``server.log``, ``redis.pid``, ``state.json``."""
    path = cache_root() / f"redis-{port}"
    account = os_user()
    if account is not None and not _reachable_by(path, account):
        path = ROOT_FALLBACK / f"redis-{port}"
    return path


def server_binary() -> str:
    binary = os.environ.get("REDIS_SERVER") or shutil.which("redis-server")
    if not binary or not Path(binary).is_file():
        raise RedisLauncherError(f"'redis-server' was not found; {INSTALL_HINT}.")
    return binary


def broker_url(port: int, password: str = DEFAULT_PASSWORD, db: int = 0) -> str:
    return f"redis://:{password}@127.0.0.1:{port}/{db}"


# --- talking to the server (RESP, enough for AUTH, PING and SHUTDOWN) -----------------------------------


def _command(port: int, password: str, *args: str, timeout: float = 2.0) -> bytes:
    """Send AUTH then one command; return the raw reply to the command (b"" if the server closed the line)."""

    def encode(*parts: str) -> bytes:
        out = [f"*{len(parts)}\r\n".encode()]
        for part in parts:
            data = part.encode()
            out.append(b"$%d\r\n%s\r\n" % (len(data), data))
        return b"".join(out)

    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as conn:
        handle = conn.makefile("rb")
        conn.sendall(encode("AUTH", password))
        auth = handle.readline()
        if not auth.startswith(b"+OK"):
            raise RedisLauncherError(
                f"Redis on 127.0.0.1:{port} refused the password: {auth.decode(errors='replace').strip()}"
            )
        conn.sendall(encode(*args))
        try:
            return handle.readline()
        except OSError:
            return b""


def _answers(port: int, password: str) -> bool:
    try:
        return _command(port, password, "PING").startswith(b"+PONG")
    except (OSError, RedisLauncherError):
        return False


def _port_taken(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


@contextmanager
def _locked(port: int):
    """One start/stop at a time per port."""
    root = cache_root()
    root.mkdir(parents=True, exist_ok=True)
    with open(root / f"redis-{port}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def _write_config(home: Path, port: int, password: str) -> Path:
    config = home / "redis.conf"
    config.write_text(
        "# Written by scripts/redis_local.py on every start\n"
        f"port {port}\n"
        "bind 127.0.0.1\n"
        "protected-mode yes\n"
        f'requirepass "{password}"\n'
        "daemonize yes\n"
        f"pidfile {home / 'redis.pid'}\n"
        f"logfile {home / 'server.log'}\n"
        f"dir {home}\n"
        # A disposable broker: no snapshots, no append-only file.
        'save ""\n'
        "appendonly no\n"
        "maxmemory 256mb\n"
        "loglevel warning\n"
    )
    return config


def _chown(path: Path) -> None:
    account = os_user()
    if account is not None:
        os.chown(path, account.pw_uid, account.pw_gid)


def start(
    port: int = DEFAULT_PORT, password: str = DEFAULT_PASSWORD, timeout: float = 30.0, fresh: bool = False
) -> dict:
    """Start the server (or reuse the one running on ``port`` with this password); return its details."""
    with _locked(port):
        home = run_dir(port)
        if fresh:
            _stop(port, password)
            shutil.rmtree(home, ignore_errors=True)
        running = _answers(port, password)
        if not running:
            if _port_taken(port):
                raise RedisLauncherError(
                    f"Port 127.0.0.1:{port} is taken by another process; choose another with --port (or REDIS_TEST_PORT)."
                )
            binary = server_binary()
            home.mkdir(parents=True, exist_ok=True)
            home.chmod(0o700)
            _chown(home)
            config = _write_config(home, port, password)
            _chown(config)
            account = os_user()
            cmd = [binary, str(config)]
            if account is not None:
                runuser = shutil.which("runuser")
                if runuser is None:
                    raise RedisLauncherError("'runuser' (util-linux) is needed to run Redis as an unprivileged user.")
                cmd = [runuser, "-u", account.pw_name, "--", *cmd]
            result = subprocess.run(cmd, capture_output=True, text=True, cwd="/", start_new_session=True)
            if result.returncode != 0:
                raise RedisLauncherError(
                    f"redis-server failed (exit {result.returncode}): {(result.stderr or result.stdout).strip()[-1500:]}"
                )
            deadline = time.monotonic() + timeout
            while not _answers(port, password):
                if time.monotonic() > deadline:
                    log = home / "server.log"
                    tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
                    raise RedisLauncherError(
                        f"Redis did not answer on 127.0.0.1:{port} within {timeout:.0f}s; server log ({log}) tail:\n{tail}"
                    )
                time.sleep(0.1)
        state = {
            "url": broker_url(port, password),
            "port": port,
            "password": password,
            "dir": str(home),
            "log": str(home / "server.log"),
            "already_running": running,
        }
        (home / "state.json").write_text(json.dumps(state))
        return state


def _stop(port: int, password: str, timeout: float = 15.0) -> bool:
    if not _answers(port, password):
        return False
    try:
        _command(port, password, "SHUTDOWN", "NOSAVE")
    except OSError:
        pass  # the server closes the connection as it exits
    deadline = time.monotonic() + timeout
    while _port_taken(port):
        if time.monotonic() > deadline:
            raise RedisLauncherError(f"Redis on 127.0.0.1:{port} did not stop within {timeout:.0f}s.")
        time.sleep(0.1)
    return True


def stop(port: int = DEFAULT_PORT, password: str = DEFAULT_PASSWORD) -> bool:
    """Stop the server (nothing is saved); ``False`` if it was not running."""
    with _locked(port):
        return _stop(port, password)


def status(port: int = DEFAULT_PORT, password: str = DEFAULT_PASSWORD) -> bool:
    return _answers(port, password)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=["start", "stop", "status", "url"])
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--password", default=DEFAULT_PASSWORD)
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for the server to start")
    parser.add_argument("--fresh", action="store_true", help="wipe the server's directory before starting")
    parser.add_argument("--json", action="store_true", help="start: print all details as JSON")
    args = parser.parse_args(argv)
    try:
        if args.action == "start":
            state = start(port=args.port, password=args.password, timeout=args.timeout, fresh=args.fresh)
            word = "already running" if state["already_running"] else "started"
            print(f"Redis {word} on 127.0.0.1:{args.port} (dir: {state['dir']})", file=sys.stderr)
            print(json.dumps(state) if args.json else state["url"])
        elif args.action == "stop":
            print("stopped" if stop(port=args.port, password=args.password) else "not running")
        elif args.action == "url":
            print(broker_url(args.port, args.password))
        else:
            running = status(port=args.port, password=args.password)
            if running:
                print(f"running: {broker_url(args.port, args.password)}")
            else:
                print(f"Redis on 127.0.0.1:{args.port} is not running (start it: {sys.argv[0]} start)")
            return 0 if running else 1
    except RedisLauncherError as exc:
        print(f"redis_local: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
