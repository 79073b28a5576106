"""``trustee ledger index``: bring the attribute index up to the log, with a progress bar.

A server indexes behind its appends by itself (:mod:`trustee.ledger.indexer`), from its
start; after migrating a large ledger, this command does the catching up in the foreground
(before starting the servers, or beside them). It resumes where an interrupted run stopped,
and it may run beside servers and other runs: each batch locks the index's marker. Once
every event is in, it merges the index's closed segments (:mod:`trustee.ledger.compaction`).
"""

from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from trustee.cli.console import err, fail
from trustee.defaults import DEFAULT_STORAGE_URL
from trustee.ledger.indexer import DEFAULT_BATCH, build_index
from trustee.ledger.terms import IndexState
from trustee.storage import open_database


def index_command(
    storage: Annotated[
        str, typer.Option("--storage", help=f"Database URL, default {DEFAULT_STORAGE_URL}.")
    ] = DEFAULT_STORAGE_URL,
    batch: Annotated[
        int, typer.Option("--batch", min=100, help="Log indexes per transaction.")
    ] = DEFAULT_BATCH,
) -> None:
    """Index every event and asset not in the attribute index yet (after a migration)."""
    try:
        db = open_database(storage)  # applies the migration that creates the index
    except Exception as exc:
        fail(f"cannot open storage: {exc}")
    try:
        done, total, _ = IndexState(db).progress()
        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
        )
        with Progress(*columns, console=err) as progress:
            task = progress.add_task("indexing events", total=total, completed=done)

            def advanced(done: int, total: int) -> None:
                # After the last batch, the index's closed segments are merged.
                described = "merging segments" if done >= total else "indexing events"
                progress.update(task, completed=done, total=total, description=described)

            build_index(db, batch=batch, progress=advanced)
        err.print("the attribute index is up to date")
    finally:
        db.close()
