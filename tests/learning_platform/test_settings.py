"""Settings come from the environment and fail loudly when production would be insecure."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.errors import UnknownBackendError
from kg.stores import available_backends, get_store, resolve_backend_name

REPO = Path(__file__).resolve().parents[2]


def run_django(env_overrides: dict[str, str], code: str = "import django; django.setup(); print('ok')"):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL"))}
    env.update({"DJANGO_SETTINGS_MODULE": "learning_platform.settings", **env_overrides})
    return subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)


def test_debug_off_without_secret_key_is_a_clear_error():
    result = run_django({"DJANGO_DEBUG": "false"})
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is not set" in result.stderr


def test_debug_off_with_secret_key_starts():
    result = run_django({"DJANGO_DEBUG": "false", "DJANGO_SECRET_KEY": "x" * 50})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_unparseable_boolean_names_the_variable():
    result = run_django({"DJANGO_DEBUG": "maybe"})
    assert result.returncode != 0
    assert "DJANGO_DEBUG='maybe' is not a boolean" in result.stderr


def test_database_url_selects_postgresql():
    code = "import django; django.setup(); from django.conf import settings; print(settings.DATABASES['default']['ENGINE'], settings.DATABASES['default']['NAME'])"
    result = run_django({"DATABASE_URL": "postgres://u:p@127.0.0.1:5432/leitmotif"}, code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["django.db.backends.postgresql", "leitmotif"]


def test_sqlite_is_the_default():
    code = "import django; django.setup(); from django.conf import settings; print(settings.DATABASES['default']['ENGINE'])"
    result = run_django({}, code)
    assert result.stdout.strip() == "django.db.backends.sqlite3"


def test_backend_registry_resolves_aliases_and_versioned_names():
    assert available_backends() == ["neo4j", "sql"]
    assert resolve_backend_name("SQL") == "kg.store.sql.v1"
    assert resolve_backend_name("kg.store.neo4j.v1") == "kg.store.neo4j.v1"


@pytest.mark.parametrize("name", ["mongodb", "", "neo5j"])
def test_unknown_backend_name_lists_the_choices(name):
    with pytest.raises(UnknownBackendError) as info:
        get_store(name)
    assert "choose one of: neo4j, sql" in str(info.value)


def test_https_settings_come_from_the_environment_and_satisfy_check_deploy():
    base = {"DJANGO_DEBUG": "false", "DJANGO_SECRET_KEY": "k" * 60, "DJANGO_ALLOWED_HOSTS": "leitmotif.example"}
    check = "import django, sys; django.setup(); from django.core.management import call_command; call_command('check', '--deploy')"
    insecure = run_django(base, check)
    assert "security.W004" in insecure.stderr and "security.W008" in insecure.stderr
    secure = run_django(
        {
            **base,
            "DJANGO_HSTS_SECONDS": "31536000",
            "DJANGO_HSTS_INCLUDE_SUBDOMAINS": "true",
            "DJANGO_SSL_REDIRECT": "true",
        },
        check,
    )
    assert "security.W004" not in secure.stderr and "security.W008" not in secure.stderr, secure.stderr
    assert secure.returncode == 0, secure.stderr


def test_a_non_numeric_lockout_limit_names_the_variable():
    result = run_django({"LOGIN_FAILURE_LIMIT": "many"})
    assert result.returncode != 0
    assert "LOGIN_FAILURE_LIMIT='many' is not a whole number" in result.stderr
