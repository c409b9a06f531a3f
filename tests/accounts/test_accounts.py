import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from accounts.services import CURATOR_GROUP, demo_curator_ensure


@pytest.mark.django_db
def test_demo_curator_is_created_once_and_password_is_reprinted(tmp_path):
    secret = tmp_path / "pw"
    first = demo_curator_ensure(username="curator", password=None, secret_file=secret)
    second = demo_curator_ensure(username="curator", password=None, secret_file=secret)
    assert first.created and not second.created
    assert first.password == second.password
    user = get_user_model().objects.get(username="curator")
    assert user.is_staff and not user.is_superuser
    assert user.groups.filter(name=CURATOR_GROUP).exists()
    assert user.check_password(first.password)
    assert user.has_perm("catalog.change_artist")


@pytest.mark.django_db
def test_curator_can_log_into_admin(client, tmp_path):
    login = demo_curator_ensure(username="cur", password="a-long-demo-password", secret_file=tmp_path / "pw")
    assert client.login(username=login.username, password=login.password)
    assert client.get("/admin/").status_code == 200


@pytest.mark.django_db
def test_command_prints_login(capsys, monkeypatch, settings, tmp_path):
    settings.BASE_DIR = tmp_path
    monkeypatch.setenv("DEMO_CURATOR_PASSWORD", "given-password-123")
    call_command("create_demo_curator")
    assert "username=curator password=given-password-123" in capsys.readouterr().out


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url",
    [
        "/admin/catalog/artist/",
        "/admin/catalog/listen/",
        "/admin/catalog/tag/",
        "/admin/kg/entity/",
        "/admin/kg/relation/",
    ],
)
def test_curator_sees_catalog_and_graph_admin_pages(client, tmp_path, url):
    login = demo_curator_ensure(username="cur", password="a-long-demo-password", secret_file=tmp_path / "pw")
    client.login(username=login.username, password=login.password)
    assert client.get(url).status_code == 200


@pytest.mark.django_db
def test_a_learner_cannot_reach_the_admin(client):
    get_user_model().objects.create_user(username="learner", password="a-long-learner-password")
    client.login(username="learner", password="a-long-learner-password")
    response = client.get("/admin/kg/entity/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
