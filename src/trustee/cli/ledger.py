"""``trustee ledger``: the offline auditor, and the signed-records API from the terminal."""

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from trustee.cli.console import (
    EXIT_INVALID,
    EXIT_OK,
    err,
    fail,
    out,
    refuse_existing,
    usage_error,
)
from trustee.cli.remote import connected, status_line
from trustee.client import Client, default_token
from trustee.ledger.audit import AuditReport, audit_bundle
from trustee.ledger.note import NoteError, parse_verifier_key

app = typer.Typer(
    name="ledger",
    help="Signed records: assets, device-signed events, the transparency log and its audit.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
asset_app = typer.Typer(
    help="Assets and their device keys.", no_args_is_help=True, rich_markup_mode=None
)
event_app = typer.Typer(help="Device-signed events.", no_args_is_help=True, rich_markup_mode=None)
app.add_typer(asset_app, name="asset")
app.add_typer(event_app, name="event")

MAX_BUNDLE_BYTES = 512 * 1024 * 1024


# --- offline audit -------------------------------------------------------------------------


def _read_text(path: Path, what: str) -> str:
    try:
        if path.stat().st_size > MAX_BUNDLE_BYTES:
            fail(f"{what} {path} is larger than {MAX_BUNDLE_BYTES} bytes")
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"cannot read {what} {path}: {getattr(exc, 'strerror', None) or exc}")


def _load_bundle(path: Path) -> dict[str, Any]:
    text = sys.stdin.read() if str(path) == "-" else _read_text(path, "bundle")
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        fail("the bundle is not JSON")
    if isinstance(value, dict) and isinstance(value.get("data"), dict) and "kind" not in value:
        value = value["data"]  # the whole API answer was saved: take its data
    if not isinstance(value, dict):
        fail("the bundle is a JSON object")
    return value


def _older_note(path: Path) -> str:
    text = _read_text(path, "older checkpoint")
    stripped = text.lstrip()
    if stripped.startswith("{"):
        try:
            value = orjson.loads(stripped)
        except orjson.JSONDecodeError:
            fail("the older checkpoint file is neither a signed note nor JSON")
        value = value.get("data", value) if isinstance(value, dict) else value
        if not isinstance(value, dict) or not isinstance(value.get("checkpoint"), str):
            fail('older checkpoint JSON needs a "checkpoint" member')
        return value["checkpoint"]
    return text


def print_report(report: AuditReport) -> None:
    table = Table(title="ledger audit", show_lines=False)
    table.add_column("log index", justify="right")
    table.add_column("event")
    table.add_column("included")
    table.add_column("signature")
    table.add_column("verdict")
    table.add_column("reason")
    for row in report.rows:
        colour = "green" if row.status == "GOOD" else "red"
        table.add_row(
            str(row.log_index),
            row.identity.rsplit("/", 1)[-1],
            "yes" if row.included else "[red]no[/]",
            row.signature,
            f"[bold {colour}]{row.status}[/]",
            row.reason,
        )
    out.print(table)
    mark = "[green]verified[/]" if report.checkpoint_ok else "[red]NOT verified[/]"
    out.print(f"checkpoint: {mark} ({report.checkpoint_reason}), size {report.size}")
    if report.consistency_ok is not None:
        mark = "[green]consistent[/]" if report.consistency_ok else "[red]NOT consistent[/]"
        out.print(f"older checkpoint: {mark} ({report.consistency_reason})")
    for problem in report.problems:
        out.print(f"[red]problem:[/] {problem}")
    good = sum(row.status == "GOOD" for row in report.rows)
    verdict = "[bold green]ALL GOOD[/]" if report.all_ok else "[bold red]AUDIT FAILED[/]"
    out.print(f"{verdict}: {good}/{len(report.rows)} events good")


@app.command("audit")
def audit_command(
    bundle: Annotated[Path, typer.Argument(help="Bundle JSON from ledger/assets/:uuid/bundle.")],
    log_key: Annotated[
        str, typer.Option("--log-key", help="The log's verifier key (name+id+base64).")
    ],
    older_checkpoint: Annotated[
        Path | None,
        typer.Option(
            "--older",
            "--older-checkpoint",
            help="A checkpoint seen earlier (note text or its JSON): prove consistency.",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    workers: Annotated[
        int | None,
        typer.Option("--workers", min=1, help="Processes auditing events (default: every core)."),
    ] = None,
) -> None:
    """Verify an audit bundle offline: checkpoint signature, inclusion, device signatures."""
    try:
        parse_verifier_key(log_key)
    except NoteError as exc:
        usage_error(f"--log-key: {exc}")
    data = _load_bundle(bundle)
    older = _older_note(older_checkpoint) if older_checkpoint is not None else None
    total = len(data.get("events") or []) if isinstance(data.get("events"), list) else 0
    with Progress(
        TextColumn("auditing"),
        BarColumn(),
        MofNCompleteColumn(),
        console=err,
        transient=True,
        disable=as_json,
    ) as progress:
        task = progress.add_task("events", total=total)
        report = audit_bundle(
            data,
            log_key,
            older,
            on_event=lambda _row: progress.advance(task),
            workers=workers,
        )
    if as_json:
        out.print_json(orjson.dumps(report.to_dict()).decode("utf-8"))
    else:
        print_report(report)
    raise typer.Exit(EXIT_OK if report.all_ok else EXIT_INVALID)


# --- talking to a server -------------------------------------------------------------------


@contextmanager
def _server() -> Iterator[Client]:
    """A client for the configured server, refusing to start without a token (every ledger
    route needs one); its errors become ``server answered <status>: …`` and exit status 1."""
    if not default_token():
        usage_error("set TRUSTEE_TOKEN (or VAULT_TOKEN)")
    describe = partial(status_line, no_detail="no detail")
    with connected(EXIT_INVALID, describe=describe, timeout=30) as client:
        yield client


def _print(data: Any) -> None:
    out.print_json(orjson.dumps(data).decode("utf-8"))


def _json_option(text: str | None, what: str) -> dict[str, Any]:
    if not text:
        return {}
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        usage_error(f"{what} must be a JSON object")
    if not isinstance(value, dict):
        usage_error(f"{what} must be a JSON object")
    return value


def _device_key(alg: str | None, public_key: str | None, key_file: Path | None) -> Any:
    """``{alg, public_key}`` from the options, or None when no key was given."""
    if key_file is not None:
        if public_key:
            usage_error("give --public-key or --public-key-file, not both")
        public_key = _read_text(key_file, "public key file")
    if not (alg or public_key):
        return None
    if not (alg and public_key):
        usage_error("give both --alg and --public-key (or --public-key-file)")
    return {"alg": alg, "public_key": public_key.strip()}


@asset_app.command("create")
def asset_create(
    attributes: Annotated[str | None, typer.Option(help="JSON object.")] = None,
    alg: Annotated[str | None, typer.Option(help="ES256K, EdDSA or ES256.")] = None,
    public_key: Annotated[
        str | None, typer.Option(help="The device's public key: hex, PEM, JWK or address.")
    ] = None,
    public_key_file: Annotated[
        Path | None, typer.Option(help="A file holding the public key (PEM or JWK).")
    ] = None,
    require_signature: Annotated[
        bool,
        typer.Option("--require-signature", help="Refuse unsigned or badly signed events (400)."),
    ] = False,
) -> None:
    """Create an asset, optionally with its device's public key."""
    asset_attributes = _json_option(attributes, "--attributes")
    key = _device_key(alg, public_key, public_key_file)
    with _server() as client:
        created = client.create_asset(asset_attributes, key, require_signature=require_signature)
    _print(created)


@asset_app.command("rotate")
def asset_rotate(
    asset: str,
    alg: Annotated[str, typer.Option(help="ES256K, EdDSA or ES256.")],
    public_key: Annotated[str | None, typer.Option(help="Hex, PEM, JWK or address.")] = None,
    public_key_file: Annotated[Path | None, typer.Option(help="PEM or JWK file.")] = None,
) -> None:
    """Give the asset a new device key from the next log index on (history is kept)."""
    key = _device_key(alg, public_key, public_key_file)
    with _server() as client:
        _print(client.rotate_device_key(asset, key))


@asset_app.command("verify")
def asset_verify(asset: str) -> None:
    """Verdicts on every event of an asset; exit 0 only when all are GOOD."""
    with _server() as client:
        data = client.verify_asset(asset)
    _print(data)
    events = data.get("events") or []
    raise typer.Exit(EXIT_OK if all(e.get("status") == "GOOD" for e in events) else EXIT_INVALID)


@asset_app.command("list")
def asset_list(
    page_size: int = 100,
    page_token: Annotated[str | None, typer.Option(help="next_page_token of a page.")] = None,
) -> None:
    """Asset ids, a page at a time."""
    with _server() as client:
        _print(client.list_assets(page_size, page_token or None))


@asset_app.command("read")
def asset_read(asset: str) -> None:
    """An asset: attributes, current device key and key history."""
    with _server() as client:
        _print(client.read_asset(asset))


@event_app.command("post")
def event_post(
    asset: str,
    evidence: Annotated[str | None, typer.Option(help="arc_evidence text.")] = None,
    signature: Annotated[str | None, typer.Option(help="arc_evidence_signature.")] = None,
    attributes: Annotated[str | None, typer.Option(help="More event attributes, JSON.")] = None,
    operation: str = "Record",
    behaviour: str = "RecordEvidence",
) -> None:
    """Post an event (the device signs the evidence; this only carries it)."""
    event_attributes = _json_option(attributes, "--attributes")
    if evidence is not None:
        event_attributes["arc_evidence"] = evidence
    if signature is not None:
        event_attributes["arc_evidence_signature"] = signature
    with _server() as client:
        posted = client.post_event(
            asset, event_attributes, operation=operation, behaviour=behaviour
        )
    _print(posted)


@event_app.command("list")
def event_list(
    asset: Annotated[str, typer.Argument(help="Asset id, or - for every asset.")],
    page_size: int = 100,
    page_token: Annotated[str | None, typer.Option(help="next_page_token of a page.")] = None,
    attr: Annotated[
        list[str] | None, typer.Option(help="Filter NAME=VALUE on event attributes (repeat).")
    ] = None,
    since: Annotated[str | None, typer.Option(help="Accepted at or after (RFC 3339).")] = None,
    before: Annotated[str | None, typer.Option(help="Accepted before (RFC 3339).")] = None,
) -> None:
    """Events in log order, filtered, a page at a time."""
    filters: dict[str, str] = {}
    for item in attr or []:
        name, sep, value = item.partition("=")
        if not sep or not name:
            usage_error(f"--attr takes NAME=VALUE, got {item!r}")
        filters[name] = value
    with _server() as client:
        page = client.list_events(
            asset,
            event_attributes=filters,
            since=since or None,
            before=before or None,
            page_size=page_size,
            page_token=page_token or None,
        )
    _print(page)


@event_app.command("verify")
def event_verify(event: str) -> None:
    """GOOD, BAD, UNSIGNED or NO_KEY with the reason; exit 0 only for GOOD."""
    with _server() as client:
        data = client.verify_event(event)
    _print(data)
    raise typer.Exit(EXIT_OK if data.get("status") == "GOOD" else EXIT_INVALID)


@app.command("checkpoint")
def checkpoint_command() -> None:
    """Print the log's current signed checkpoint."""
    with _server() as client:
        note = client.checkpoint()["checkpoint"]
    sys.stdout.write(note)


@app.command("public-key")
def public_key_command() -> None:
    """Print the log's verifier key (give it to auditors: `ledger audit --log-key`)."""
    with _server() as client:
        key = client.log_public_key()["key"]
    sys.stdout.write(key + "\n")


@app.command("proof")
def proof_command(
    index: Annotated[int | None, typer.Option(help="Inclusion proof of this leaf.")] = None,
    size: Annotated[int | None, typer.Option(help="Tree size (default: current).")] = None,
    first: Annotated[int | None, typer.Option(help="Consistency proof from this size.")] = None,
) -> None:
    """An inclusion proof (--index) or a consistency proof (--first) from the server."""
    if (index is None) == (first is None):
        usage_error("give --index or --first")
    with _server() as client:
        if index is not None:
            proof = client.inclusion_proof(index, size)
        else:
            proof = client.consistency_proof(first or 0, size)
    _print(proof)


@app.command("bundle")
def bundle_command(
    asset: str,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write the bundle to this file, not stdout."),
    ] = None,
    older_size: Annotated[int | None, typer.Option(help="Add a consistency proof.")] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite --output if it exists.")
    ] = False,
) -> None:
    """Fetch an asset's audit bundle (for `trustee ledger audit`)."""
    if output is not None:
        refuse_existing(output, force)
    with _server() as client:
        data = client.bundle(asset, older_size)
    text = orjson.dumps(data, option=orjson.OPT_INDENT_2).decode("utf-8")
    if output is None:
        sys.stdout.write(text + "\n")
    else:
        try:
            output.write_text(text + "\n", encoding="utf-8")
        except OSError as exc:
            fail(f"cannot write {output}: {exc.strerror}")
        err.print(f"wrote {output} ({len(data.get('events', []))} events)")


# Registered here, written apart: it opens the database, where the rest talks to a server.
from trustee.cli.ledger_index import index_command  # noqa: E402

app.command("index")(index_command)
