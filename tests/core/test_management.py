"""The base command: a LeitmotifError ends any command as one CommandError line with exit status 1."""

from __future__ import annotations

from importlib import import_module
from pathlib import Path

import pytest
from django.core.management import call_command, get_commands, load_command_class
from django.core.management.base import CommandError

from core.errors import ConfigurationError, DataFileError, LeitmotifError
from core.management import LeitmotifCommand, one_line

REPO = Path(__file__).resolve().parents[2]


class Raising(LeitmotifCommand):
    """Raises whatever the test hands it, after writing a line (to show output before the error stays)."""

    help = "test command"
    requires_system_checks = []

    def __init__(self, error: BaseException | None = None, **kwargs):
        super().__init__(**kwargs)
        self.error = error

    def handle(self, *args, **options) -> None:
        self.stdout.write("working")
        if self.error is not None:
            raise self.error
        self.stdout.write("done")


class Prefixed(Raising):
    def error_message(self, exc: LeitmotifError) -> str:
        return one_line(f"Nothing done: {exc}")


def test_a_leitmotif_error_becomes_a_one_line_command_error_with_its_code():
    error = DataFileError("bad row\nsecond line", path="data/x.csv", line=3)
    with pytest.raises(CommandError) as caught:
        call_command(Raising(error))
    assert str(caught.value) == "[E006] data/x.csv:3: bad row second line"
    assert caught.value.returncode == 1
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_a_command_can_reword_the_message():
    with pytest.raises(CommandError, match=r"^Nothing done: \[E001\] no such thing$"):
        call_command(Prefixed(ConfigurationError("no such thing")))


@pytest.mark.parametrize("error", [CommandError("--every must be positive.", returncode=3), ValueError("a bug")])
def test_other_exceptions_pass_through_unchanged(error):
    with pytest.raises(type(error)) as caught:
        call_command(Raising(error))
    assert caught.value is error


def test_a_command_without_errors_runs_as_before(capsys):
    call_command(Raising())
    assert capsys.readouterr().out == "working\ndone\n"


def test_command_error_is_what_a_worker_loop_prints():
    command = Raising()
    already = CommandError("as it is")
    assert command.command_error(already) is already
    assert str(command.command_error(ConfigurationError("two\nlines"))) == "[E001] two lines"
    assert str(Prefixed().command_error(ConfigurationError("x"))) == "Nothing done: [E001] x"


def test_from_the_command_line_it_is_one_stderr_line_and_exit_status_1(capsys):
    command = Raising(ConfigurationError("Unknown thing 'x'; choose one of: a, b."))
    with pytest.raises(SystemExit) as exited:
        command.run_from_argv(["manage.py", "raising"])
    assert exited.value.code == 1
    captured = capsys.readouterr()
    assert captured.out == "working\n"
    assert captured.err == "CommandError: [E001] Unknown thing 'x'; choose one of: a, b.\n"


def test_every_leitmotif_management_command_uses_the_base():
    def in_this_repository(app: str) -> bool:
        path = Path(import_module(app).__file__).resolve()
        return path.is_relative_to(REPO) and "site-packages" not in path.parts

    ours = {name: app for name, app in get_commands().items() if in_this_repository(app)}
    assert {"load_lastfm", "create_api_client", "train_kge", "evaluate"} <= set(ours)
    for name, app in ours.items():
        assert isinstance(load_command_class(app, name), LeitmotifCommand), f"{app}: {name}"
