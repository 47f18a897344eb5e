"""What every ``jobsched`` command shares: the one place where errors become exit codes
and one line on stderr, and the parsers and shell completions of arguments."""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Sequence
from typing import Annotated, Any

import typer
from jobsched.core import InvalidInputError, JobschedError
from jobsched.core.config import MAX_SECONDS
from rich.markup import escape
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

from .escape import visible
from .settings import load_settings

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


# --- the one place where errors become exit codes ------------------------------------------


class _Interrupted(Exception):
    """Ctrl-C inside a command, carried past Typer's own handling (a silent exit 130)."""


# --- help that reads like hand-written help ----------------------------------------------


class _NamedArgument(TyperArgument):
    """An argument shown by its metavar alone: ``ID...`` rather than ``ID... <list[int]>``
    in the table and ``{ID...}...`` in the usage line."""

    def display_type_rich(self, ctx: Any) -> str | None:
        return None

    def _rich_display_name(self) -> str:
        return self.display_name_raw

    def _usage_display_name(self) -> str:
        name = self.display_name_raw
        if self.nargs != 1 and not name.endswith("..."):
            name += "..."
        return name if self.required else f"[{name}]"


def _readable(params: Sequence[Any]) -> None:
    """Drop Typer's type placeholders: flags take no value (no ``<bool>``), and an
    argument with a metavar is named by it alone."""
    for param in params:
        if isinstance(param, TyperArgument) and param.metavar:
            param.__class__ = _NamedArgument
        elif isinstance(param, TyperOption) and (param.is_flag or param.count):
            param.metavar = param.metavar or ""


def plain_help(text: str | None) -> str | None:
    """Help text as it is written: Typer renders help through Rich, whose markup would
    swallow a configuration table's name (``config: [web] token`` printed ``config:
    token``). No help of jobsched's is markup."""
    return None if text is None else escape(text)


class _ReadableHelp:
    params: list[Any]
    help: str | None

    def _make_readable(self) -> None:
        """Once, as the command is built: metavars, and help shown as written."""
        _readable(self.params)
        self.help = plain_help(self.help)
        for param in self.params:
            if isinstance(param, TyperOption | TyperArgument):
                param.help = plain_help(param.help)

    def get_params(self, ctx: Any) -> list[Any]:
        params: list[Any] = super().get_params(ctx)  # type: ignore[misc]
        _readable(params)  # also the completion options Typer adds to the group
        return params

    def get_help_option(self, ctx: Any) -> Any:
        option = super().get_help_option(ctx)  # type: ignore[misc]
        if option is not None:
            option.metavar = ""
        return option


class JobschedCommand(_ReadableHelp, TyperCommand):
    """A command whose help shows metavars (``ID...``, ``SECONDS``), not Python types."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._make_readable()


class JobschedGroup(_ReadableHelp, TyperGroup):
    """Runs a command and turns every way it can end into an exit code and one line."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._make_readable()

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            raise _Interrupted() from None

    def main(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        code = self._run(args, prog_name, complete_var, **extra)
        if standalone_mode:
            sys.exit(code)
        return code

    def _run(
        self,
        args: Sequence[str] | None,
        prog_name: str | None,
        complete_var: str | None,
        **extra: Any,
    ) -> int:
        try:
            result = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except JobschedError as exc:
            return _fail(exc.message, exc.exit_code)
        except typer.TyperException as exc:  # usage errors: unknown command, bad option value
            if type(exc).__name__ == "NoArgsIsHelpError":
                typer.echo(exc.format_message(), err=True)
                return EXIT_USAGE
            hint = ""
            ctx = getattr(exc, "ctx", None)
            if ctx is not None:
                hint = f" Try '{ctx.command_path} --help'."
            return _fail(_one_line(exc.format_message()).rstrip(".") + "." + hint, exc.exit_code)
        except (_Interrupted, KeyboardInterrupt, typer.Abort):
            return _fail("interrupted.", EXIT_INTERRUPTED)
        except Exception as exc:
            if os.environ.get("JOBSCHED_DEBUG"):
                raise
            return _fail(
                f"unexpected {type(exc).__name__}: {_one_line(str(exc))}. "
                "This is a bug; set JOBSCHED_DEBUG=1 to see the traceback and report it",
                1,
            )
        return result if isinstance(result, int) else 0


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _fail(message: str, code: int) -> int:
    # An error may quote a task's error text or a name read from a store: escaped.
    typer.echo(f"Error: {visible(_one_line(message))}", err=True)
    return code


def seconds_option(option: str, value: float | None) -> float | None:
    """A ``--grace``/``--for``/``--timeout`` value: finite, 0 or more, at most MAX_SECONDS."""
    if value is not None and (not math.isfinite(value) or not 0 <= value <= MAX_SECONDS):
        raise InvalidInputError(
            option,
            value,
            f"must be a finite number of seconds from 0 to ten years ({MAX_SECONDS:,.0f} s)",
            "Use e.g. 30",
        )
    return value


#: Whole numbers on the command line fit a signed 64-bit integer (task ids are one).
LARGEST_WHOLE = 2**63 - 1


def whole_number(text: str) -> int:
    """Parse a whole-number argument, naming the value when it is not one or when it is
    beyond what any store holds (a signed 64-bit integer)."""
    try:
        value = int(text)
    except ValueError:
        raise typer.BadParameter(f"{visible(text[:40])!r} is not a whole number") from None
    if not -LARGEST_WHOLE <= value <= LARGEST_WHOLE:
        raise typer.BadParameter(
            f"{text[:30]}{'...' if len(text) > 30 else ''} is out of range "
            f"(at most {LARGEST_WHOLE})"
        )
    return value


def parse_task_id(text: str) -> int:
    """Parse a task id: a whole number of 1 or more. The commands that take ids let
    ``-1`` through as an argument (see ACCEPT_NEGATIVE) so that it is refused here, with
    the reason, rather than taken for an unknown option."""
    if text.startswith("-") and not text[1:].isdigit():
        raise typer.BadParameter(f"no such option: {text}")
    value = whole_number(text)
    if value < 1:
        raise typer.BadParameter(f"no task {value}: ids are positive")
    return value


#: Context settings of a command whose arguments may be negative numbers ("-1"), so
#: that they reach the argument's validation instead of "No such option: -1".
ACCEPT_NEGATIVE = {"ignore_unknown_options": True}


def number(text: str) -> float:
    """Parse a number argument (``nan`` and ``inf`` parse; commands reject them)."""
    try:
        return float(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a number") from None


def complete_categories(incomplete: str) -> list[str]:
    """Shell completion: configured category names (from JOBSCHED_CONFIG or the default)."""
    try:
        names = list(load_settings().config.categories)
    except JobschedError:
        return []
    return [n for n in names if n.startswith(incomplete)]


def complete_handlers(incomplete: str) -> list[str]:
    """Shell completion: handlers registered by the configured modules."""
    try:
        from .root import build_client

        names = sorted(build_client(load_settings()).handlers)
    except Exception:  # completion must never print a traceback into the shell
        return []
    return [n for n in names if n.startswith(incomplete)]


JsonFlag = Annotated[bool, typer.Option("--json", help="Print plain JSON on stdout.")]
FullFlag = Annotated[
    bool, typer.Option("--full", help="Print long values whole instead of cutting them.")
]
WaitTimeout = Annotated[
    float | None,
    typer.Option(
        "--timeout",
        metavar="SECONDS",
        parser=number,
        help="Give up waiting after this long (exit 5).",
    ),
]
