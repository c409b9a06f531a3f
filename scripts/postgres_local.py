#!/usr/bin/env python3
"""Start and stop a private PostgreSQL cluster on loopback, for tests and local runs (Debian's PostgreSQL).

The cluster is the project's own: ``initdb`` into a data directory outside the repository
(``$LEITMOTIF_CACHE/postgres-<port>`` or ``~/.cache/leitmotif/postgres-<port>``), listening on
``127.0.0.1:<port>`` only, with its Unix socket in a directory only the cluster's owner may enter. It is
started with ``pg_ctl``, the script waits until it accepts connections, creates the application role and
database (idempotent) and prints the ``DATABASE_URL`` to use. Host connections need the password
(scram-sha-256); the cluster is disposable test data, so it runs with ``fsync`` off.

``initdb`` and the server refuse to run as root: as root, they run as the unprivileged ``postgres`` user
made by Debian's ``postgresql`` package (``POSTGRES_OS_USER`` names another), through ``runuser``, and the
cluster's directories belong to it. ``/root`` is closed to other users, so as root the data lives under
``/var/lib/leitmotif/postgres-<port>`` unless ``LEITMOTIF_CACHE`` points somewhere that user can reach.

Usage::

    python scripts/postgres_local.py start [--port N]   # start (or reuse), print the DATABASE_URL
    python scripts/postgres_local.py stop [--port N]
    python scripts/postgres_local.py status [--port N]  # exit 0 when it answers, 1 otherwise
    python scripts/postgres_local.py url [--port N]     # the DATABASE_URL, without starting anything

``--port`` defaults to ``$POSTGRES_TEST_PORT`` or 15432; ``--fresh`` wipes the cluster before starting.
``POSTGRES_BINDIR`` names the directory of ``initdb``/``pg_ctl`` if they are not in
``/usr/lib/postgresql/<version>/bin`` or on ``PATH``. Only the standard library is used, so it runs before
the virtual environment exists.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import pwd
import re
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

DEFAULT_PORT = int(os.environ.get("POSTGRES_TEST_PORT", "15432"))
DEFAULT_USER = "leitmotif"
DEFAULT_PASSWORD = "leitmotif-test"
DEFAULT_DATABASE = "leitmotif"
#: The cluster's bootstrap superuser (reached only through the private Unix socket).
SUPERUSER = "postgres"
ROOT_FALLBACK = Path("/var/lib/leitmotif")
INSTALL_HINT = (
    "install Debian's PostgreSQL server (apt-get install postgresql, or bash scripts/install_system_deps.sh), "
    "or set POSTGRES_BINDIR to the directory holding initdb and pg_ctl"
)

SERVER_SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    "unix_socket_permissions": "0700",
    "max_connections": "100",
    "shared_buffers": "128MB",
    # Disposable test data: durability is traded for speed (a crash may lose the cluster; --fresh rebuilds it).
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "logging_collector": "off",
    "log_min_messages": "warning",
    "timezone": "'UTC'",
}


class PostgresLauncherError(RuntimeError):
    """Raised with a message that says what to do; the CLI prints it without a traceback."""


# --- where things are ---------------------------------------------------------------------------------


def cache_root() -> Path:
    return Path(os.environ.get("LEITMOTIF_CACHE", Path.home() / ".cache" / "leitmotif"))


def is_root() -> bool:
    return os.geteuid() == 0


def os_user() -> pwd.struct_passwd | None:
    """The account that owns and runs the cluster when this script runs as root (``None`` otherwise)."""
    if not is_root():
        return None
    name = os.environ.get("POSTGRES_OS_USER", "postgres")
    try:
        account = pwd.getpwnam(name)
    except KeyError:
        raise PostgresLauncherError(
            f"PostgreSQL refuses to run as root and there is no '{name}' user to run it as: install Debian's "
            f"PostgreSQL server, which creates the 'postgres' user (apt-get install postgresql, or bash "
            f"scripts/install_system_deps.sh), or set POSTGRES_OS_USER to an existing unprivileged user."
        ) from None
    if account.pw_uid == 0:
        raise PostgresLauncherError(f"POSTGRES_OS_USER={name} is root; name an unprivileged user.")
    return account


def _reachable_by(path: Path, account: pwd.struct_passwd) -> bool:
    """True if ``account`` can enter every existing ancestor of ``path`` (what the server needs)."""
    groups = {account.pw_gid} | {g.gr_gid for g in _groups_of(account.pw_name)}
    for parent in [path, *path.parents]:
        if not parent.exists():
            continue
        info = parent.stat()
        if info.st_uid == account.pw_uid:
            allowed = info.st_mode & stat.S_IXUSR
        elif info.st_gid in groups:
            allowed = info.st_mode & stat.S_IXGRP
        else:
            allowed = info.st_mode & stat.S_IXOTH
        if not allowed:
            return False
    return True


def _groups_of(name: str):
    import grp

    return [g for g in grp.getgrall() if name in g.gr_mem]


def run_dir(port: int) -> Path:
    """The cluster's directory: ``data/`` (the cluster), ``socket/``, ``server.log``, ``state.json``."""
    path = cache_root() / f"postgres-{port}"
    account = os_user()
    if account is not None and not _reachable_by(path, account):
        path = ROOT_FALLBACK / f"postgres-{port}"
    return path


def bin_dir() -> Path:
    """Where ``initdb``, ``pg_ctl`` and ``psql`` live: POSTGRES_BINDIR, the newest Debian version, or PATH."""
    if os.environ.get("POSTGRES_BINDIR"):
        candidates = [Path(os.environ["POSTGRES_BINDIR"])]
    else:
        debian = Path("/usr/lib/postgresql")
        versions = sorted(
            (p for p in debian.glob("*/bin") if p.parent.name.isdigit()),
            key=lambda p: int(p.parent.name),
            reverse=True,
        )
        candidates = list(versions)
        on_path = shutil.which("initdb")
        if on_path:
            candidates.append(Path(on_path).resolve().parent)
    for directory in candidates:
        if all((directory / tool).is_file() for tool in ("initdb", "pg_ctl", "psql")):
            return directory
    raise PostgresLauncherError(f"PostgreSQL server programs (initdb, pg_ctl, psql) were not found; {INSTALL_HINT}.")


def database_url(port: int, user: str = DEFAULT_USER, password: str = DEFAULT_PASSWORD) -> str:
    return f"postgres://{user}:{password}@127.0.0.1:{port}/{DEFAULT_DATABASE}"


# --- running programs as the cluster's owner ----------------------------------------------------------


def _as_owner(cmd: list[str]) -> list[str]:
    account = os_user()
    if account is None:
        return cmd
    runuser = shutil.which("runuser")
    if runuser is None:
        raise PostgresLauncherError("'runuser' (util-linux) is needed to run PostgreSQL as an unprivileged user.")
    return [runuser, "-u", account.pw_name, "--", *cmd]


def _run(cmd: list[str], *, what: str, input: str | None = None, new_session: bool = False) -> str:
    result = subprocess.run(
        _as_owner(cmd),
        input=input,
        capture_output=True,
        text=True,
        cwd="/",  # the owner may not be allowed into the caller's working directory
        start_new_session=new_session,
        env=dict(os.environ, LC_ALL="C", LANG="C"),
    )
    if result.returncode != 0:
        output = (result.stderr.strip() or result.stdout.strip())[-1500:]
        raise PostgresLauncherError(f"{what} failed (exit {result.returncode}): {output}")
    return result.stdout


def _chown(path: Path) -> None:
    account = os_user()
    if account is not None:
        os.chown(path, account.pw_uid, account.pw_gid)


# --- state --------------------------------------------------------------------------------------------


def _port_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def _server_running(home: Path) -> bool:
    """``pg_ctl status``: 0 running, 3 not running, 4 no usable data directory."""
    data = home / "data"
    if not (data / "PG_VERSION").exists():
        return False
    result = subprocess.run(
        _as_owner([str(bin_dir() / "pg_ctl"), "status", "-D", str(data)]), capture_output=True, text=True, cwd="/"
    )
    return result.returncode == 0


def _server_version(directory: Path) -> str:
    output = subprocess.run([str(directory / "pg_ctl"), "--version"], capture_output=True, text=True).stdout
    match = re.search(r"(\d+)", output)
    return match.group(1) if match else ""


@contextmanager
def _locked(port: int):
    """One start/stop at a time per port (two test sessions starting together must not both run initdb)."""
    root = cache_root()
    root.mkdir(parents=True, exist_ok=True)
    with open(root / f"postgres-{port}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


# --- the cluster ----------------------------------------------------------------------------------------


def _init_cluster(home: Path, port: int) -> None:
    binaries = bin_dir()
    data, sockets = home / "data", home / "socket"
    version_file = data / "PG_VERSION"
    if version_file.exists():
        have, want = version_file.read_text().strip(), _server_version(binaries)
        if want and have != want:
            raise PostgresLauncherError(
                f"{data} holds a PostgreSQL {have} cluster but the server programs are version {want}; "
                f"start with --fresh to rebuild it (its data is lost), or set POSTGRES_BINDIR to version {have}."
            )
        return
    if data.exists():  # an interrupted initdb: nothing worth keeping
        shutil.rmtree(data)
    for directory in (home, sockets):
        directory.mkdir(parents=True, exist_ok=True)
        _chown(directory)
    home.chmod(0o700)
    sockets.chmod(0o700)
    account = os_user()
    if account is not None and not _reachable_by(home, account):
        raise PostgresLauncherError(
            f"The user '{account.pw_name}' cannot reach {home}; set LEITMOTIF_CACHE to a directory it can enter."
        )
    # The superuser's password is only a formality (its only door is the private socket): a random one.
    with tempfile.NamedTemporaryFile("w", dir=home, delete=False) as pwfile:
        pwfile.write(os.urandom(16).hex() + "\n")
    _chown(Path(pwfile.name))
    try:
        _run(
            [
                str(binaries / "initdb"),
                "-D",
                str(data),
                "--username",
                SUPERUSER,
                "--pwfile",
                pwfile.name,
                "--auth-local",
                "trust",
                "--auth-host",
                "scram-sha-256",
                "--encoding",
                "UTF8",
                "--locale",
                "C",
                "--no-instructions",
            ],
            what="initdb",
        )
    finally:
        Path(pwfile.name).unlink(missing_ok=True)
    # Only the private socket (trust: its directory is the owner's alone) and password logins on IPv4 loopback.
    hba = data / "pg_hba.conf"
    hba.write_text(
        "# Written by scripts/postgres_local.py\n"
        "local   all   all                  trust\n"
        "host    all   all   127.0.0.1/32   scram-sha-256\n"
    )
    _chown(hba)


def _write_config(home: Path, port: int) -> None:
    data = home / "data"
    settings = dict(SERVER_SETTINGS, port=str(port), unix_socket_directories=f"'{home / 'socket'}'")
    conf = data / "leitmotif.conf"
    conf.write_text(
        "# Written by scripts/postgres_local.py on every start\n" + "".join(f"{k} = {v}\n" for k, v in settings.items())
    )
    _chown(conf)
    main_conf = data / "postgresql.conf"
    include = "include = 'leitmotif.conf'\n"
    text = main_conf.read_text()
    if include not in text:
        main_conf.write_text(text + "\n" + include)


def _psql(home: Path, port: int, sql: str) -> str:
    cmd = [
        str(bin_dir() / "psql"),
        "-X",
        "-q",
        "-v",
        "ON_ERROR_STOP=1",
        "-h",
        str(home / "socket"),
        "-p",
        str(port),
        "-U",
        SUPERUSER,
        "-d",
        "postgres",
    ]
    return _run(cmd, what="psql", input=sql)


def _sql_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _ensure_role_and_database(home: Path, port: int, user: str, password: str) -> None:
    """The application role (it may create databases: Django's test runner makes ``test_<name>``) and its database."""
    name, secret = f'"{user}"', _sql_literal(password)
    _psql(
        home,
        port,
        f"SELECT 'CREATE ROLE {name} LOGIN CREATEDB' WHERE NOT EXISTS "
        f"(SELECT 1 FROM pg_roles WHERE rolname = {_sql_literal(user)})\\gexec\n"
        f"ALTER ROLE {name} LOGIN CREATEDB PASSWORD {secret};\n"
        f"SELECT 'CREATE DATABASE {DEFAULT_DATABASE} OWNER {name}' WHERE NOT EXISTS "
        f"(SELECT 1 FROM pg_database WHERE datname = {_sql_literal(DEFAULT_DATABASE)})\\gexec\n",
    )


def _accepts_login(port: int, user: str, password: str) -> bool:
    """A password login over TCP, the way the application connects (psql, as the caller)."""
    env = dict(os.environ, PGPASSWORD=password, PGCONNECT_TIMEOUT="3")
    cmd = [str(bin_dir() / "psql"), "-X", "-q", "-h", "127.0.0.1", "-p", str(port), "-U", user, "-d"]
    cmd += [DEFAULT_DATABASE, "-tAc", "SELECT 1"]
    result = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd="/")
    return result.returncode == 0 and result.stdout.strip() == "1"


def start(
    port: int = DEFAULT_PORT,
    user: str = DEFAULT_USER,
    password: str = DEFAULT_PASSWORD,
    timeout: float = 60.0,
    fresh: bool = False,
) -> dict:
    """Start the cluster (or reuse the running one), make sure the role and database exist, return the details."""
    with _locked(port):
        home = run_dir(port)
        if fresh:
            _stop(home)
            shutil.rmtree(home, ignore_errors=True)
        running = _server_running(home)
        if not running and _port_answers(port):
            raise PostgresLauncherError(
                f"Port 127.0.0.1:{port} is taken by another process; choose another with --port (or POSTGRES_TEST_PORT)."
            )
        if not running:
            _init_cluster(home, port)
            _write_config(home, port)
            log = home / "server.log"
            if not log.exists():
                log.touch()
                _chown(log)
            pg_ctl = [str(bin_dir() / "pg_ctl"), "start", "-D", str(home / "data"), "-l", str(log)]
            try:
                # -w: wait until the server accepts connections; a new session so Ctrl-C in the caller's
                # terminal does not reach the server.
                _run([*pg_ctl, "-w", "-t", str(int(timeout))], what="pg_ctl start", new_session=True)
            except PostgresLauncherError as exc:
                tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
                raise PostgresLauncherError(f"{exc}\nServer log ({log}) tail:\n{tail}") from None
        deadline = time.monotonic() + timeout
        while not _port_answers(port):
            if time.monotonic() > deadline:
                raise PostgresLauncherError(
                    f"PostgreSQL did not answer on 127.0.0.1:{port} within {timeout:.0f}s; see {home / 'server.log'}."
                )
            time.sleep(0.2)
        _ensure_role_and_database(home, port, user, password)
        if not _accepts_login(port, user, password):
            raise PostgresLauncherError(
                f"PostgreSQL runs on 127.0.0.1:{port} but '{user}' cannot log in with the password; "
                f"restart with --fresh to rebuild the cluster."
            )
        state = {
            "url": database_url(port, user, password),
            "port": port,
            "user": user,
            "password": password,
            "database": DEFAULT_DATABASE,
            "data_dir": str(home / "data"),
            "log": str(home / "server.log"),
            "already_running": running,
        }
        (home / "state.json").write_text(json.dumps(state))
        return state


def _stop(home: Path) -> bool:
    if not _server_running(home):
        return False
    _run(
        [str(bin_dir() / "pg_ctl"), "stop", "-D", str(home / "data"), "-m", "fast", "-w", "-t", "60"],
        what="pg_ctl stop",
    )
    return True


def stop(port: int = DEFAULT_PORT) -> bool:
    """Stop the cluster (fast shutdown: open sessions are disconnected); ``False`` if it was not running."""
    with _locked(port):
        return _stop(run_dir(port))


def status(port: int = DEFAULT_PORT) -> bool:
    return _server_running(run_dir(port)) and _port_answers(port)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=["start", "stop", "status", "url"])
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--user", default=DEFAULT_USER)
    parser.add_argument("--password", default=DEFAULT_PASSWORD)
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for the server to start")
    parser.add_argument("--fresh", action="store_true", help="wipe the cluster before starting")
    parser.add_argument("--json", action="store_true", help="start: print all connection details as JSON")
    args = parser.parse_args(argv)
    try:
        if args.action == "start":
            state = start(
                port=args.port, user=args.user, password=args.password, timeout=args.timeout, fresh=args.fresh
            )
            word = "already running" if state["already_running"] else "started"
            print(f"PostgreSQL {word} on 127.0.0.1:{args.port} (data: {state['data_dir']})", file=sys.stderr)
            print(json.dumps(state) if args.json else state["url"])
        elif args.action == "stop":
            print("stopped" if stop(port=args.port) else "not running")
        elif args.action == "url":
            print(database_url(args.port, args.user, args.password))
        else:
            running = status(port=args.port)
            if running:
                print(f"running: {database_url(args.port, args.user, args.password)}")
            else:
                print(f"PostgreSQL on 127.0.0.1:{args.port} is not running (start it: {sys.argv[0]} start)")
            return 0 if running else 1
    except PostgresLauncherError as exc:
        print(f"postgres_local: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
