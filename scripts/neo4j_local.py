#!/usr/bin/env python3
"""Fetch, start and stop a real Neo4j 5.26 Community server on loopback, for tests and local runs.

Why a script and not Docker: CI and developer machines here have no container engine, but they
have Java 17 and Maven with Maven Central. The server jars (``org.neo4j:neo4j``) are resolved by
Maven into a cache outside the repository (``$LEITMOTIF_CACHE`` or ``~/.cache/leitmotif``) and the
server is started through ``org.neo4j.server.CommunityEntryPoint`` with its own home and config
directories, Bolt on ``127.0.0.1:<port>``, HTTP off, and a small page cache.

Usage::

    python scripts/neo4j_local.py fetch            # download jars once (idempotent)
    python scripts/neo4j_local.py start [--port N] # start, wait for Bolt, print the URI
    python scripts/neo4j_local.py stop
    python scripts/neo4j_local.py status

Only the standard library is used, so it runs before the virtual environment exists.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

NEO4J_VERSION = os.environ.get("NEO4J_VERSION", "5.26.30")
DEFAULT_PORT = int(os.environ.get("NEO4J_TEST_PORT", "17687"))
DEFAULT_PASSWORD = "leitmotif-test"
ENTRY_POINT = "org.neo4j.server.CommunityEntryPoint"

POM_TEMPLATE = """<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>leitmotif</groupId>
  <artifactId>neo4j-runtime</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.neo4j</groupId>
      <artifactId>neo4j</artifactId>
      <version>{version}</version>
    </dependency>
  </dependencies>
</project>
"""


class Neo4jLauncherError(RuntimeError):
    """Raised with a message that says what to do; the CLI prints it without a traceback."""


def cache_root() -> Path:
    return Path(os.environ.get("LEITMOTIF_CACHE", Path.home() / ".cache" / "leitmotif"))


def lib_dir(version: str = NEO4J_VERSION) -> Path:
    return cache_root() / f"neo4j-{version}" / "lib"


def run_dir(port: int) -> Path:
    return cache_root() / f"neo4j-run-{port}"


def fetch(version: str = NEO4J_VERSION, quiet: bool = False) -> Path:
    """Resolve the server jars with Maven into the cache; a completed fetch is reused."""
    target = lib_dir(version)
    marker = target / ".complete"
    if marker.exists():
        return target
    if shutil.which("mvn") is None:
        raise Neo4jLauncherError("Maven ('mvn') is not installed; install it (apt-get install maven) and retry.")
    work = target.parent
    work.mkdir(parents=True, exist_ok=True)
    pom = work / "pom.xml"
    pom.write_text(POM_TEMPLATE.format(version=version))
    tmp = work / "lib.partial"
    shutil.rmtree(tmp, ignore_errors=True)
    cmd = [
        "mvn",
        "-B",
        "-f",
        str(pom),
        "dependency:copy-dependencies",
        f"-DoutputDirectory={tmp}",
        "-DincludeScope=runtime",
    ]
    if quiet:
        cmd.insert(2, "-q")
    print(f"Fetching Neo4j {version} from Maven Central into {target} ...", file=sys.stderr)
    result = subprocess.run(cmd, stdout=sys.stderr if not quiet else subprocess.DEVNULL, stderr=sys.stderr)
    if result.returncode != 0:
        raise Neo4jLauncherError(f"Maven could not resolve org.neo4j:neo4j:{version} (exit {result.returncode}).")
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)
    marker.write_text(version)
    return target


def _write_config(home: Path, port: int) -> Path:
    conf = home / "conf"
    conf.mkdir(parents=True, exist_ok=True)
    for sub in ("data", "logs", "run", "import", "plugins", "licenses", "lib"):
        (home / sub).mkdir(exist_ok=True)
    settings = {
        "server.directories.data": home / "data",
        "server.directories.logs": home / "logs",
        "server.directories.run": home / "run",
        "server.directories.import": home / "import",
        "server.directories.plugins": home / "plugins",
        "server.directories.licenses": home / "licenses",
        "server.directories.lib": lib_dir(),
        "server.default_listen_address": "127.0.0.1",
        "server.bolt.enabled": "true",
        "server.bolt.listen_address": f"127.0.0.1:{port}",
        "server.bolt.advertised_address": f"127.0.0.1:{port}",
        "server.http.enabled": "false",
        "server.https.enabled": "false",
        "server.memory.pagecache.size": "64m",
        "server.memory.heap.initial_size": "256m",
        "server.memory.heap.max_size": "1g",
        "dbms.security.auth_enabled": "true",
        "server.jvm.additional": "-XX:+UseSerialGC",
        "dbms.usage_report.enabled": "false",
        "db.tx_log.rotation.retention_policy": "1 files",
    }
    (conf / "neo4j.conf").write_text("".join(f"{k}={v}\n" for k, v in settings.items()))
    return conf


def _bolt_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def _set_initial_password(home: Path, conf: Path, password: str) -> None:
    """Set the neo4j user's password before first start (what `neo4j-admin dbms set-initial-password` does)."""
    auth_dir = home / "data" / "dbms"
    remembered = home / "initial-password"
    if (auth_dir / "auth.ini").exists() or (auth_dir / "auth").exists():
        # The password is set once per data directory: starting it again with another one would only time
        # out on authentication, so say so at once.
        if remembered.exists() and remembered.read_text() != password:
            raise Neo4jLauncherError(
                f"The Neo4j data in {home} was initialised with another password; start it with that password, "
                "or with --fresh to wipe it and begin again."
            )
        return
    classpath = f"{lib_dir()}/*"
    cmd = [
        "java",
        "-cp",
        classpath,
        "org.neo4j.server.startup.Neo4jAdminCommand",
        "dbms",
        "set-initial-password",
        password,
    ]
    env = dict(os.environ, NEO4J_HOME=str(home), NEO4J_CONF=str(conf))
    result = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise Neo4jLauncherError(f"Could not set the initial Neo4j password: {result.stderr.strip()[-800:]}")
    remembered.write_text(password)
    remembered.chmod(0o600)


def start(
    port: int = DEFAULT_PORT, password: str = DEFAULT_PASSWORD, timeout: float = 120.0, fresh: bool = False
) -> dict:
    """Start a server (or reuse a running one on the same port) and return its connection details."""
    home = run_dir(port)
    state_file = home / "state.json"
    if state_file.exists() and _bolt_answers(port):
        return json.loads(state_file.read_text())
    if _bolt_answers(port):
        raise Neo4jLauncherError(f"Port 127.0.0.1:{port} is taken by another process; choose another with --port.")
    fetch(quiet=True)
    if fresh:
        shutil.rmtree(home, ignore_errors=True)
    conf = _write_config(home, port)
    _set_initial_password(home, conf, password)
    java = shutil.which("java")
    if java is None:
        raise Neo4jLauncherError(
            "Java 17 ('java') is not installed; install it (apt-get install openjdk-17-jre-headless)."
        )
    log_path = home / "logs" / "console.log"
    cmd = [
        java,
        "-Xms256m",
        "-Xmx1g",
        "-XX:+UseSerialGC",
        "-cp",
        f"{lib_dir()}/*",
        ENTRY_POINT,
        f"--home-dir={home}",
        f"--config-dir={conf}",
    ]
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, cwd=home)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log_path.read_text(errors="replace")[-2000:]
            raise Neo4jLauncherError(f"Neo4j exited with code {proc.returncode} while starting. Log tail:\n{tail}")
        if _bolt_answers(port) and _bolt_ready(port, password):
            state = {
                "pid": proc.pid,
                "uri": f"bolt://127.0.0.1:{port}",
                "user": "neo4j",
                "password": password,
                "port": port,
            }
            state_file.write_text(json.dumps(state))
            return state
        time.sleep(0.5)
    os.killpg(proc.pid, signal.SIGTERM)
    raise Neo4jLauncherError(f"Neo4j did not answer on bolt://127.0.0.1:{port} within {timeout:.0f}s; see {log_path}.")


def _bolt_ready(port: int, password: str) -> bool:
    """True once a Bolt session can run a query (the port opens a little before the database is online)."""
    try:
        from neo4j import GraphDatabase  # available inside the project's virtual environment
    except ImportError:
        return True
    try:
        with GraphDatabase.driver(f"bolt://127.0.0.1:{port}", auth=("neo4j", password)) as driver:
            driver.execute_query("RETURN 1")
        return True
    except Exception:
        return False


def stop(port: int = DEFAULT_PORT, timeout: float = 60.0) -> bool:
    state_file = run_dir(port) / "state.json"
    if not state_file.exists():
        return False
    pid = json.loads(state_file.read_text())["pid"]
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        state_file.unlink(missing_ok=True)
        return False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _pid_alive(pid):
        time.sleep(0.3)
    if _pid_alive(pid):
        os.killpg(pid, signal.SIGKILL)
    state_file.unlink(missing_ok=True)
    return True


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie child still "exists"; treat it as gone.
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split()[2] != "Z"
    except OSError:
        return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=["fetch", "start", "stop", "status"])
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--password", default=DEFAULT_PASSWORD)
    parser.add_argument("--fresh", action="store_true", help="wipe the server's data directory before starting")
    args = parser.parse_args(argv)
    try:
        if args.action == "fetch":
            print(fetch())
        elif args.action == "start":
            print(json.dumps(start(port=args.port, password=args.password, fresh=args.fresh)))
        elif args.action == "stop":
            print("stopped" if stop(port=args.port) else "not running")
        else:
            running = _bolt_answers(args.port)
            print(f"bolt://127.0.0.1:{args.port} {'answers' if running else 'is not answering'}")
            return 0 if running else 1
    except Neo4jLauncherError as exc:
        print(f"neo4j_local: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
