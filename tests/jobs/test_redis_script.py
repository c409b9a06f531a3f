"""``scripts/redis_local.py``: a private Redis on loopback, started, reused, refused and stopped with clear messages."""

from __future__ import annotations

import shutil
import socket

import pytest

from tests.helpers.servers import free_port, load_launcher


@pytest.fixture(scope="module")
def launcher():
    return load_launcher("redis_local", module_name="redis_local_under_test")


def test_start_reuse_status_and_stop(launcher, monkeypatch, tmp_path):
    monkeypatch.setenv("LEITMOTIF_CACHE", str(tmp_path))
    port = free_port()
    try:
        state = launcher.start(port=port)
    except launcher.RedisLauncherError as exc:
        pytest.skip(f"redis-server cannot start here: {exc}")
    try:
        assert state["url"] == f"redis://:leitmotif-test@127.0.0.1:{port}/0" and not state["already_running"]
        assert launcher.status(port=port)
        assert launcher.start(port=port)["already_running"]  # idempotent
        assert not launcher.status(port=port, password="wrong")  # a password is required
    finally:
        assert launcher.stop(port=port)
    assert not launcher.status(port=port)
    assert launcher.stop(port=port) is False
    shutil.rmtree(launcher.run_dir(port), ignore_errors=True)


def test_a_port_taken_by_another_program_is_refused_with_a_message(launcher, monkeypatch, tmp_path):
    monkeypatch.setenv("LEITMOTIF_CACHE", str(tmp_path))
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        with pytest.raises(launcher.RedisLauncherError, match="taken by another process; choose another with --port"):
            launcher.start(port=port)


def test_a_missing_redis_server_says_how_to_install_it(launcher, monkeypatch, tmp_path):
    monkeypatch.setenv("LEITMOTIF_CACHE", str(tmp_path))
    monkeypatch.setenv("REDIS_SERVER", str(tmp_path / "no-redis-server"))
    with pytest.raises(launcher.RedisLauncherError, match="apt-get install redis-server"):
        launcher.start(port=free_port())
    assert launcher.main(["start", "--port", str(free_port())]) == 1
