"""Commands that talk to a server: ``operator``, ``trustee``, ``claim`` and ``sign``.

Like the vault CLI they read ``TRUSTEE_ADDR`` / ``TRUSTEE_TOKEN`` (``VAULT_*`` as fall-backs).
Secrets never come in as plain arguments that land in shell history and ``ps``: keystore
passphrases and private keys are read from a named environment variable or a hidden prompt.
Server errors become one line on stderr and exit status 1 (``remote.connected``); the token
is never printed.
"""

import base64
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.table import Table

from trustee.cli.console import (
    EXIT_ERROR,
    EXIT_INVALID,
    EXIT_OK,
    EXIT_SEALED,
    err,
    fail,
    out,
    usage_error,
    write_private_file,
)
from trustee.cli.remote import connected

MAX_INPUT_BYTES = 1024 * 1024

JsonOption = Annotated[bool, typer.Option("--json", help="Print the answer's data as JSON.")]
KeystoreOption = Annotated[
    Path | None, typer.Option("--keystore", help="Ethereum V3 keystore JSON file (- = stdin).")
]
PassphraseEnvOption = Annotated[
    str | None,
    typer.Option("--passphrase-env", help="Environment variable holding the passphrase."),
]


# -- plumbing ------------------------------------------------------------------------------


def print_json(value: Any) -> None:
    sys.stdout.write(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode() + "\n")


def print_fields(data: dict[str, Any], fields: list[str] | None = None) -> None:
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    for key in fields or list(data):
        if key not in data:
            continue
        value = data[key]
        text = orjson.dumps(value).decode() if isinstance(value, dict | list) else str(value)
        table.add_row(key, text)
    out.print(table)


def secret_from_env(variable: str, what: str) -> str:
    value = os.environ.get(variable)
    if not value:
        usage_error(f"environment variable {variable} (the {what}) is not set or empty")
    return value


def secret_from_prompt(what: str, *, confirm: bool = False, instead: str) -> str:
    """A secret typed without echo; without a terminal, a usage error naming ``instead`` (the
    command's own non-interactive way)."""
    if not sys.stdin.isatty():
        usage_error(f"no terminal to ask for the {what}: {instead}")
    value = typer.prompt(what.capitalize(), hide_input=True, confirmation_prompt=confirm)
    if not value:
        usage_error(f"empty {what}")
    return value


def read_input(
    source: str, what: str, limit: int = MAX_INPUT_BYTES, *, code: int = EXIT_ERROR
) -> bytes:
    """The bytes of a file, or of standard input for ``-``, at most ``limit`` (1 MiB unless
    given); a file that cannot be read, or is larger, ends the command with ``code``."""
    try:
        if source == "-":
            data = sys.stdin.buffer.read(limit + 1)
        else:
            with open(source, "rb") as handle:
                data = handle.read(limit + 1)
    except OSError as exc:
        fail(f"cannot read {what} {source}: {exc.strerror}", code)
    if len(data) > limit:
        fail(f"{what} {source} is larger than {limit:,} bytes", code)
    return data


def read_json(source: str, what: str) -> Any:
    try:
        return orjson.loads(read_input(source, what))
    except orjson.JSONDecodeError:
        fail(f"{what} {source} is not valid JSON")


# -- trustee operator ------------------------------------------------------------------------

operator_app = typer.Typer(
    help="Initialise, unseal and seal a server (like `vault operator`).",
    no_args_is_help=True,
    rich_markup_mode=None,
)


@operator_app.command("init")
def operator_init(
    key_shares: Annotated[
        int, typer.Option("--key-shares", min=1, max=10, help="Unseal shares to make.")
    ] = 5,
    key_threshold: Annotated[
        int, typer.Option("--key-threshold", min=1, max=10, help="Shares needed to unseal.")
    ] = 3,
    as_json: JsonOption = False,
) -> None:
    """Initialise a new server: prints the unseal shares and the root token, once."""
    if key_threshold > key_shares:
        usage_error("--key-threshold cannot exceed --key-shares")
    with connected() as client:
        answer = client.init(key_shares, key_threshold)
    keys, root_token = answer.get("keys") or [], answer.get("root_token") or ""
    if as_json:
        print_json({"keys": keys, "root_token": root_token, "threshold": key_threshold})
    else:
        for number, key in enumerate(keys, 1):
            out.print(f"Unseal Key {number}: {key}")
        out.print(f"\nInitial Root Token: {root_token}")
    err.print(
        f"\n[bold yellow]warning:[/] these {len(keys)} unseal keys and the root token are shown "
        f"this once and stored nowhere. Give each key to a different person; any {key_threshold} "
        "of them unseal the server. Revoke the root token once other tokens exist."
    )


@operator_app.command("unseal")
def operator_unseal(
    key: Annotated[
        str | None,
        typer.Argument(
            help="One unseal share (hex); - reads it from standard input. Omit to be "
            "prompted without echo."
        ),
    ] = None,
    reset: Annotated[bool, typer.Option("--reset", help="Forget the shares given so far.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Give the server one unseal share; once the threshold is reached it unseals."""
    if reset:
        share = None
    elif key == "-":
        share = read_input("-", "unseal key").decode("utf-8", "replace").strip()
    elif key is None:
        share = secret_from_prompt(
            "unseal key", instead="pipe it in with `trustee operator unseal -`"
        )
    else:
        share = key.strip()
    if not reset and not share:
        usage_error("empty unseal key")
    with connected() as client:
        status = client.unseal(share, reset=reset)
    _print_status(_seal_fields(status), as_json)


@operator_app.command("seal")
def operator_seal() -> None:
    """Seal the server: it forgets its key and answers 503 until unsealed again (needs sudo)."""
    with connected() as client:
        client.seal()
    err.print("sealed")


@operator_app.command("wait")
def operator_wait(
    timeout: Annotated[
        float, typer.Option("--timeout", min=0, help="Give up after this many seconds.")
    ] = 30.0,
    unsealed: Annotated[
        bool, typer.Option("--unsealed", help="Wait until it is also unsealed.")
    ] = False,
) -> None:
    """Wait until the server at TRUSTEE_ADDR answers (after `trustee server ... &`).

    Exit status 0 once it answers (and, with --unsealed, is unsealed); 1 after --timeout.
    """
    import time

    from trustee.client import ConnectionFailed

    deadline = time.monotonic() + timeout
    last = "no answer"
    with connected() as client:
        while True:
            try:
                status = client.seal_status()
                if not unsealed or status.get("sealed") is False:
                    return
                last = "sealed"
            except ConnectionFailed as error:
                last = error.reason
            if time.monotonic() >= deadline:
                fail(f"{client.address} did not answer within {timeout:g} s ({last})")
            time.sleep(0.1)


@operator_app.command("status")
def operator_status(as_json: JsonOption = False) -> None:
    """Seal status. Exit status 0 when unsealed, 2 when sealed, 1 on error (as vault's)."""
    with connected(EXIT_INVALID) as client:
        status = _seal_fields(client.seal_status())
    _print_status(status, as_json)
    raise typer.Exit(EXIT_SEALED if status.get("sealed", True) else EXIT_OK)


def _seal_fields(answer: dict[str, Any]) -> dict[str, Any]:
    data = answer.get("data") or answer
    keys = ("type", "initialized", "sealed", "t", "n", "progress", "version")
    return {key: data[key] for key in keys if key in data}


def _print_status(status: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(status)
        return
    rows = {
        "Seal Type": status.get("type"),
        "Initialized": status.get("initialized"),
        "Sealed": status.get("sealed"),
        "Total Shares": status.get("n"),
        "Threshold": status.get("t"),
        "Unseal Progress": f"{status.get('progress')}/{status.get('t')}",
        "Version": status.get("version"),
    }
    print_fields({key: value for key, value in rows.items() if value is not None})


# -- trustee trustee -------------------------------------------------------------------------

trustee_app = typer.Typer(
    help="Named secp256k1 identities held by the server.",
    no_args_is_help=True,
    rich_markup_mode=None,
)

TRUSTEE_FIELDS = ["name", "address", "public_key", "created_time", "metadata"]
NameArgument = Annotated[str, typer.Argument(help="The trustee's name.")]


@trustee_app.command("create")
def trustee_create(
    name: NameArgument,
    metadata_json: Annotated[
        str | None, typer.Option("--metadata-json", help="File with a JSON object (- = stdin).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Create a trustee with a fresh key; prints its address."""
    metadata = read_json(metadata_json, "metadata") if metadata_json else None
    if metadata is not None and not isinstance(metadata, dict):
        fail("metadata must be a JSON object")
    with connected() as client:
        data = client.create_trustee(name, metadata)
    if as_json:
        print_json(data)
    else:
        print_fields(data, TRUSTEE_FIELDS)


@trustee_app.command("read")
def trustee_read(name: NameArgument, as_json: JsonOption = False) -> None:
    """Show a trustee: address, public key, creation time."""
    with connected() as client:
        data = client.read_trustee(name)
    if as_json:
        print_json(data)
    else:
        print_fields(data, TRUSTEE_FIELDS)


@trustee_app.command("list")
def trustee_list(as_json: JsonOption = False) -> None:
    """The trustees' names, one a line."""
    with connected() as client:
        names = client.list_trustees()
    if as_json:
        print_json(names)
    else:
        for name in names:
            out.print(name)


@trustee_app.command("delete")
def trustee_delete(name: NameArgument) -> None:
    """Delete a trustee and its key (irreversible unless you exported it)."""
    with connected() as client:
        client.delete_trustee(name)
    err.print(f"deleted trustee {name!r}")


@trustee_app.command("import")
def trustee_import(
    name: NameArgument,
    keystore: KeystoreOption = None,
    passphrase_env: PassphraseEnvOption = None,
    private_key_env: Annotated[
        str | None,
        typer.Option("--private-key-env", help="Environment variable holding the hex key."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Import an existing key, from a keystore file or a hex key in an environment variable."""
    if (keystore is None) == (private_key_env is None):
        usage_error("give exactly one of --keystore FILE or --private-key-env VAR")
    with connected() as client:
        if keystore is not None:
            document = read_json(str(keystore), "keystore")
            if not isinstance(document, dict):
                fail("the keystore must be a JSON object")
            passphrase = (
                secret_from_env(passphrase_env, "keystore passphrase")
                if passphrase_env
                else secret_from_prompt("keystore passphrase", instead="use --passphrase-env VAR")
            )
            data = client.import_keystore(name, document, passphrase)
        else:
            if passphrase_env:
                usage_error("--passphrase-env goes with --keystore")
            key = secret_from_env(private_key_env or "", "private key").strip()
            data = client.import_private_key(name, key)
    if as_json:
        print_json(data)
    else:
        print_fields(data, TRUSTEE_FIELDS)


@trustee_app.command("export")
def trustee_export(
    name: NameArgument,
    out_file: Annotated[
        Path | None,
        typer.Option(
            "--out", "-o", help="Write the V3 keystore to this file (mode 0600), not stdout."
        ),
    ] = None,
    passphrase_env: PassphraseEnvOption = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite --out if it exists.")] = False,
) -> None:
    """Export a trustee's key as a passphrase-encrypted V3 keystore (needs sudo).

    The keystore goes to standard output, or to --out FILE, which must not exist unless --force.
    """
    if out_file is not None and out_file.exists() and not force:
        fail(f"{out_file} exists; use --force to overwrite it")
    passphrase = (
        secret_from_env(passphrase_env, "keystore passphrase")
        if passphrase_env
        else secret_from_prompt(
            "keystore passphrase", confirm=True, instead="use --passphrase-env VAR"
        )
    )
    with connected() as client:
        keystore = client.export_keystore(name, passphrase)
    text = orjson.dumps(keystore, option=orjson.OPT_INDENT_2) + b"\n"
    if out_file is None:
        sys.stdout.write(text.decode())
        return
    write_private_file(out_file, text, force=force)
    err.print(f"wrote the keystore of {name!r} ({keystore.get('address', '?')}) to {out_file}")


# -- trustee claim / sign --------------------------------------------------------------------


def parse_claims(pairs: list[str], claims_json: str | None) -> dict[str, Any] | None:
    """``--claims-json`` first, then each ``--claim k=v`` (values are strings) over it."""
    claims: dict[str, Any] = {}
    if claims_json:
        loaded = read_json(claims_json, "claims")
        if not isinstance(loaded, dict):
            fail("--claims-json must hold a JSON object")
        claims.update(loaded)
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            usage_error(f"--claim takes KEY=VALUE, got {pair!r}")
        claims[key] = value
    return claims or None


def claim_command(
    name: NameArgument,
    claim: Annotated[
        list[str] | None,
        typer.Option("--claim", help="A claim KEY=VALUE, a string (repeatable)."),
    ] = None,
    claims_json: Annotated[
        str | None,
        typer.Option("--claims-json", help="File with a JSON object of claims (- = stdin)."),
    ] = None,
    audience: Annotated[
        list[str] | None, typer.Option("--audience", help="Intended recipient (repeatable).")
    ] = None,
    subject: Annotated[str | None, typer.Option("--subject", help="sub, default iss.")] = None,
    ttl: Annotated[str, typer.Option("--ttl", help='Lifetime: "1h", "90s" or seconds.')] = "1h",
    not_before: Annotated[
        int | None, typer.Option("--not-before", help="nbf, unix seconds.")
    ] = None,
    legacy_eth_claim: Annotated[
        bool,
        typer.Option("--legacy-eth-claim", help="Add the eth claim of the Vault trustee plugin."),
    ] = False,
    did: Annotated[
        bool,
        typer.Option("--did", help="iss as did:ethr:0x… (did-jwt's verifyJWT resolves it)."),
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print jwt and claims as JSON, not the bare JWT.")
    ] = False,
) -> None:
    """Have a trustee sign a JWT. Prints only the JWT, so it pipes into `trustee verify -`."""
    claims = parse_claims(claim or [], claims_json)
    aud: str | list[str] | None = None
    if audience:
        aud = audience[0] if len(audience) == 1 else list(audience)
    with connected() as client:
        data = client.claim(
            name,
            claims=claims,
            subject=subject,
            audience=aud,
            ttl=ttl,
            not_before=not_before,
            legacy_eth_claim=legacy_eth_claim,
            issuer_format="did:ethr" if did else None,
        )
    if as_json:
        print_json(data)
    else:
        sys.stdout.write(data["jwt"] + "\n")


def sign_command(
    name: NameArgument,
    data: Annotated[
        str | None,
        typer.Argument(help="What to sign, in --encoding (for eip712: the typed-data JSON)."),
    ] = None,
    encoding: Annotated[
        str, typer.Option("--encoding", help="How DATA is written: utf8, hex or base64.")
    ] = "utf8",
    scheme: Annotated[
        str, typer.Option("--scheme", help="eip191 (personal_sign), keccak256 or eip712.")
    ] = "eip191",
    data_file: Annotated[
        str | None,
        typer.Option(
            "--data-file",
            help="Sign this file's exact bytes instead (- = stdin); for eip712 its JSON.",
        ),
    ] = None,
) -> None:
    """Have a trustee sign data; prints signature, hash and address as JSON."""
    if encoding not in ("utf8", "hex", "base64"):
        usage_error("--encoding is utf8, hex or base64")
    if scheme not in ("eip191", "keccak256", "eip712"):
        usage_error("--scheme is eip191, keccak256 or eip712")
    if (data is None) == (data_file is None):
        usage_error("give DATA or --data-file (one of them)")
    payload: str | dict[str, Any]
    if scheme == "eip712":
        if data_file is not None:
            payload = read_json(data_file, "typed data")
        else:
            try:
                payload = orjson.loads(data or "")
            except orjson.JSONDecodeError:
                usage_error("for eip712, DATA must be the typed-data JSON object")
        if not isinstance(payload, dict):
            fail("eip712 typed data must be a JSON object")
    elif data_file is not None:
        payload, encoding = base64.b64encode(read_input(data_file, "data")).decode(), "base64"
    else:
        payload = data or ""
    with connected() as client:
        answer = client.sign(name, payload, encoding=encoding, scheme=scheme)
    print_json(answer)
