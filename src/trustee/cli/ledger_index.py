"""``trustee ledger index``: build the attribute index of a database migrated with data in it.

A server builds it too, in the background, from its start; this command does it in the
foreground with a progress bar (for a large ledger, before starting the servers). Either
resumes where an interrupted build stopped, and both may run at once (each batch holds the
append lock). See :mod:`trustee.ledger.terms`.
"""

from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from trustee.cli.console import err, fail
from trustee.defaults import DEFAULT_STORAGE_URL
from trustee.ledger.terms import IndexState, build_index
from trustee.storage import open_database


def index_command(
    storage: Annotated[
        str, typer.Option("--storage", help=f"Database URL, default {DEFAULT_STORAGE_URL}.")
    ] = DEFAULT_STORAGE_URL,
    batch: Annotated[
        int, typer.Option("--batch", min=100, help="Events indexed per transaction.")
    ] = 5000,
) -> None:
    """Build the attribute index of events and assets stored before it existed."""
    try:
        db = open_database(storage)  # applies the migration that creates the index
    except Exception as exc:
        fail(f"cannot open storage: {exc}")
    try:
        state = IndexState(db)
        done, total, _ = state.progress()
        if state.ready():
            err.print("the attribute index is complete")
            return
        columns = (
            TextColumn("indexing events"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
        )
        with Progress(*columns, console=err) as progress:
            task = progress.add_task("events", total=total, completed=done)
            build_index(
                db,
                batch=batch,
                progress=lambda done, total: progress.update(task, completed=done, total=total),
            )
        err.print("the attribute index is complete")
    finally:
        db.close()
