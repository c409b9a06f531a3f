"""The base of every Leitmotif management command: a :class:`~core.errors.LeitmotifError` ends it in one line.

Why one base class: the work of a command lives in a service that raises numbered
:class:`~core.errors.LeitmotifError` s (``[E006] data/x.csv: ...``) with a message that says what to
fix. Django prints a ``CommandError`` as one ``CommandError: <message>`` line and exits with status 1,
while any other exception is a traceback wall. Every command used to wrap its ``handle`` in the same
``try``/``except LeitmotifError``; :class:`LeitmotifCommand` does it once, around ``execute`` (what both
``manage.py`` and ``call_command`` run), so a command's ``handle`` is only its work.

A command whose message differs (a prefix such as ``"Nothing published: "``, or the bare message
without the code) overrides :meth:`LeitmotifCommand.error_message`. A worker loop that must survive a
failed round catches ``(CommandError, LeitmotifError)`` and prints :meth:`LeitmotifCommand.command_error`,
which is the same line the command would have ended with.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from core.errors import LeitmotifError


def one_line(text: str) -> str:
    """``text`` with line breaks turned into spaces, so a multi-line error stays one terminal line."""
    return text.replace("\n", " ")


class LeitmotifCommand(BaseCommand):
    """A ``BaseCommand`` that turns a :class:`LeitmotifError` raised anywhere in it into a ``CommandError``.

    The ``CommandError`` carries :meth:`error_message` of the error (by default ``"[E0xx] message"`` on
    one line) and hides the original exception (``from None``): the message already says what to do.
    Exit status and output are Django's for a ``CommandError`` (status 1, one line on stderr).
    """

    def execute(self, *args: Any, **options: Any) -> str | None:
        try:
            return super().execute(*args, **options)
        except LeitmotifError as exc:
            raise self.command_error(exc) from None

    def error_message(self, exc: LeitmotifError) -> str:
        """The ``CommandError`` text for ``exc``: its code and message on one line. Override to reword."""
        return one_line(str(exc))

    def command_error(self, exc: LeitmotifError | CommandError) -> CommandError:
        """``exc`` as the ``CommandError`` this command ends with: a ``CommandError`` as it is, a ``LeitmotifError`` converted."""
        if isinstance(exc, CommandError):
            return exc
        return CommandError(self.error_message(exc))
