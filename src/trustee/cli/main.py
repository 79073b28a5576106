"""Entry point of the ``trustee`` command.

Every failure ends as one line on stderr and an exit status of the table in
:mod:`trustee.cli.console`: click's usage errors too (``error: No such option: --x (see
trustee --help)``, status 2), and an unexpected exception (a bug: ``TRUSTEE_DEBUG=1`` shows its
traceback). Help is click's plain layout, where a flag reads as a flag.
"""

import os
import sys
from importlib.metadata import PackageNotFoundError, version
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from trustee.cli import keys, ledger, remote_commands, scitt, siwe
from trustee.cli.console import EXIT_ERROR, EXIT_USAGE, err, one_line
from trustee.cli.server import server_command
from trustee.cli.verify import verify_command

try:  # typer 0.2x vendors click; before, it used click itself
    from typer._click import exceptions as click_exceptions  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover
    from click import exceptions as click_exceptions

NoArgsIsHelp = getattr(click_exceptions, "NoArgsIsHelpError", ())


def _error_line(message: str) -> None:
    err.print("[bold red]error:[/] ", end="", markup=True)
    err.print(one_line(message), markup=False)


class OneLineErrors(TyperGroup):
    """The root group: runs the command and words whatever escapes it as one line."""

    def main(  # type: ignore[override]
        self,
        args: Any = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        try:
            result = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
            code = result if isinstance(result, int) else 0
        except NoArgsIsHelp as error:  # a group named alone: its help, as click does
            error.show()
            code = EXIT_USAGE
        except click_exceptions.UsageError as error:
            command = error.ctx.command_path if error.ctx else "trustee"
            _error_line(f"{error.format_message()} (see {command} --help)")
            code = EXIT_USAGE
        except click_exceptions.ClickException as error:
            _error_line(error.format_message())
            code = error.exit_code
        except typer.Abort:
            _error_line("aborted")
            code = EXIT_ERROR
        except Exception as error:
            if os.environ.get("TRUSTEE_DEBUG"):
                raise
            _error_line(
                f"unexpected {type(error).__name__}: {error} (a bug; TRUSTEE_DEBUG=1 shows where)"
            )
            code = EXIT_ERROR
        if standalone_mode:
            sys.exit(code)
        return code


def package_version() -> str:
    try:
        return version("trustee")
    except PackageNotFoundError:  # pragma: no cover - running from a bare source tree
        return "unknown"


def _show_version(value: bool) -> None:
    if value:
        sys.stdout.write(f"trustee {package_version()}\n")
        raise typer.Exit(0)


app = typer.Typer(
    name="trustee",
    help="Verify-then-trust: address-verifiable tokens, key custody and signed records.",
    epilog=(
        "Exit status, every command: 0 done (valid, GOOD, unsealed); 1 failed (the server "
        "refused or is unreachable, a file cannot be read or written, not valid, not GOOD); "
        "2 the command line is wrong (and operator status: sealed)."
    ),
    cls=OneLineErrors,
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def root(
    show_version: Annotated[
        bool,
        typer.Option(
            "--version",
            is_eager=True,
            callback=_show_version,
            help="Print trustee's version and exit.",
        ),
    ] = False,
) -> None:
    """Verify-then-trust: address-verifiable tokens, key custody and signed records."""


app.command("verify")(verify_command)
app.add_typer(keys.app, name="keys")
app.command("server")(server_command)
app.add_typer(remote_commands.operator_app, name="operator")
app.add_typer(remote_commands.trustee_app, name="trustee")
app.command("claim")(remote_commands.claim_command)
app.command("sign")(remote_commands.sign_command)
app.add_typer(ledger.app, name="ledger")
app.add_typer(scitt.app, name="scitt")
app.add_typer(siwe.login_app, name="login")
app.add_typer(siwe.siwe_app, name="siwe")


@app.command("demo")
def demo() -> None:
    """Run the whole story on an embedded server and say GOOD / BAD for each record."""
    from trustee.cli.demo import run_demo

    raise typer.Exit(run_demo())


def main() -> None:
    app(prog_name="trustee")  # `python -m trustee` too: messages name the command users type
