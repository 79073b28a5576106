"""Shared terminal output: one stdout console, one stderr console, one way to fail.

Exit statuses are the same for every command (the README's table):

- 0: done; a verdict that is valid / GOOD; ``operator status``: unsealed.
- 1: it went wrong while being done: the server refused or could not be reached, a file could
  not be read or written or holds the wrong thing, the storage could not be opened; and a
  verdict that is not valid / not GOOD.
- 2: the command line itself is wrong (unknown option, missing or malformed argument or
  option, options that do not go together, an environment variable it names is unset); and
  ``operator status``: sealed, as vault's.
"""

from pathlib import Path
from typing import NoReturn

import typer
from rich.console import Console
from rich.markup import escape

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2
EXIT_INVALID = EXIT_ERROR  # a verdict that is not valid / not GOOD
EXIT_SEALED = EXIT_USAGE  # vault's `operator status`: 0 unsealed, 1 error, 2 sealed


def fail(message: str, code: int = EXIT_ERROR) -> NoReturn:
    """Print a one-line error (never a traceback) and exit with ``code``."""
    err.print(f"[bold red]error:[/] {escape(one_line(message))}", markup=True)
    raise typer.Exit(code)


def usage_error(message: str) -> NoReturn:
    """The command line itself is wrong: one line, exit status 2."""
    fail(message, EXIT_USAGE)


def one_line(message: str) -> str:
    return " ".join(message.split())


def refuse_existing(path: Path, force: bool) -> None:
    """The one overwrite rule of every file the CLI writes: an existing file stays unless
    ``--force``."""
    if path.exists() and not force:
        fail(f"{path} exists; use --force to overwrite it")


def write_private_file(path: Path, data: bytes, *, force: bool) -> None:
    """Write ``data`` to ``path`` (mode 0600), under :func:`refuse_existing`'s rule."""
    import os

    refuse_existing(path, force)
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if force else os.O_EXCL)
    try:
        descriptor = os.open(path, flags, 0o600)
        os.fchmod(descriptor, 0o600)  # an overwritten file keeps its mode otherwise
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
    except FileExistsError:
        fail(f"{path} exists; use --force to overwrite it")
    except OSError as exc:
        fail(f"cannot write {path}: {exc.strerror}")
