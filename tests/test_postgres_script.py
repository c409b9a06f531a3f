"""scripts/postgres_local.py: a private PostgreSQL cluster started, reused, refused a taken port, and stopped.

Runs a real cluster on a free loopback port with its own data directory (about a second). Without
PostgreSQL's server programs the lifecycle test is skipped locally and fails with ``CI=true``.
"""

from __future__ import annotations

import os
import shutil
import socket

import pytest

from tests.helpers.servers import free_port, load_launcher

launcher = load_launcher("postgres_local")


def test_url_names_the_loopback_cluster(capsys):
    assert launcher.main(["url", "--port", "15999"]) == 0
    assert capsys.readouterr().out.strip() == "postgres://leitmotif:leitmotif-test@127.0.0.1:15999/leitmotif"


def test_missing_server_programs_say_what_to_install(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("POSTGRES_BINDIR", str(tmp_path))
    monkeypatch.setenv("LEITMOTIF_CACHE", str(tmp_path / "cache"))
    assert launcher.main(["start", "--port", str(free_port())]) == 1
    assert "apt-get install postgresql" in capsys.readouterr().err


def test_status_of_a_cluster_that_is_not_running(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("LEITMOTIF_CACHE", str(tmp_path))
    assert launcher.main(["status", "--port", str(free_port())]) == 1
    assert "not running" in capsys.readouterr().out


@pytest.fixture
def cluster_port(monkeypatch, tmp_path):
    try:
        launcher.bin_dir()
    except launcher.PostgresLauncherError as exc:
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(f"CI=true and {exc}")
        pytest.skip(str(exc))
    monkeypatch.setenv("LEITMOTIF_CACHE", str(tmp_path))
    port = free_port()
    yield port
    launcher.stop(port=port)
    shutil.rmtree(launcher.run_dir(port), ignore_errors=True)


def test_start_reuse_refuse_and_stop(cluster_port, capsys):
    import psycopg

    state = launcher.start(port=cluster_port)
    assert state["url"] == launcher.database_url(cluster_port) and state["already_running"] is False
    with psycopg.connect(state["url"], autocommit=True) as conn:
        assert conn.execute("SELECT current_user, current_database()").fetchone() == ("leitmotif", "leitmotif")
        # Django's test runner creates test_<name>: the role may create databases.
        conn.execute("CREATE DATABASE probe_db")
        conn.execute("DROP DATABASE probe_db")
        assert conn.execute("SHOW listen_addresses").fetchone() == ("127.0.0.1",)
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(state["url"].replace("leitmotif-test", "wrong"), connect_timeout=5).close()

    assert launcher.main(["start", "--port", str(cluster_port)]) == 0
    captured = capsys.readouterr()
    assert captured.out.strip() == state["url"] and "already running" in captured.err
    assert launcher.status(port=cluster_port)

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        other = taken.getsockname()[1]
        with pytest.raises(launcher.PostgresLauncherError, match="taken by another process"):
            launcher.start(port=other)

    assert launcher.stop(port=cluster_port) is True
    assert launcher.stop(port=cluster_port) is False
    assert not launcher.status(port=cluster_port)
    # Restarting an existing cluster keeps its role and data.
    assert launcher.start(port=cluster_port)["already_running"] is False
