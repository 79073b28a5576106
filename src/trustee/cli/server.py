"""``trustee server``: the HTTP API under uvicorn (h11: httptools rejects Vault's LIST verb)."""

import os
import signal
import sys
import tomllib
from pathlib import Path
from typing import Annotated, Any

import typer
import uvicorn

from trustee.cli.console import err, fail
from trustee.core import DEFAULT_STORAGE_URL, Core
from trustee.crypto.encoding import hex_decode
from trustee.crypto.errors import CryptoError
from trustee.secret import Secret
from trustee.server import create_app

GRACEFUL_SHUTDOWN_SECONDS = 30


def _exit_cleanly(_signum: int, _frame: object) -> None:
    sys.exit(0)


def parse_listen(listen: str) -> tuple[str, int]:
    host, _, port = listen.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        fail(f"--listen takes HOST:PORT, got {listen!r}")
    return host.strip("[]"), int(port)


def load_config(path: Path) -> dict[str, Any]:
    """A TOML file with ``storage``, ``listen`` and ``unseal_key_file`` (all optional)."""
    try:
        config = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        fail(f"cannot read config {path}: {exc}")
    unknown = set(config) - {"storage", "listen", "unseal_key_file"}
    if unknown:
        fail(f"unknown settings in {path}: {', '.join(sorted(unknown))}")
    return config


def auto_unseal(core: Core, key_file: str | None) -> None:
    """Unseal from an operator-provided key (file or TRUSTEE_UNSEAL_KEY), for automation."""
    text = os.environ.pop("TRUSTEE_UNSEAL_KEY", None)
    if key_file:
        try:
            text = Path(key_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            fail(f"cannot read unseal key file: {exc.strerror}")
    if not text or not core.barrier.initialized:
        return
    try:
        core.barrier.unseal_with_key(Secret(hex_decode(text, length=32, what="unseal key")))
    except CryptoError as exc:
        fail(str(exc))
    err.print("unsealed with the operator-provided key")


def server_command(
    dev: Annotated[bool, typer.Option("--dev", help="Fresh embedded server, unsealed.")] = False,
    dev_root_token: Annotated[
        str | None, typer.Option("--dev-root-token", help="Root token value for --dev.")
    ] = None,
    listen: Annotated[
        str | None, typer.Option("--listen", help="HOST:PORT, default 127.0.0.1:8200.")
    ] = None,
    storage: Annotated[
        str | None, typer.Option("--storage", help=f"Database URL, default {DEFAULT_STORAGE_URL}.")
    ] = None,
    config: Annotated[Path | None, typer.Option("--config", help="TOML config file.")] = None,
    unseal_key_file: Annotated[
        Path | None, typer.Option("--unseal-key-file", help="Auto-unseal with this key file.")
    ] = None,
    log_level: Annotated[str, typer.Option("--log-level")] = "info",
) -> None:
    """Run the HTTP API. Without --dev it starts sealed: `trustee operator init`, `unseal`."""
    settings = load_config(config) if config else {}
    host, port = parse_listen(listen or settings.get("listen", "127.0.0.1:8200"))
    if dev:
        core, root_token = Core.dev(root_token=dev_root_token)
        err.print(
            "[bold yellow]dev mode[/]: in-memory barrier, temporary storage, never for real keys"
        )
        err.print(f"Root Token: {root_token}")
        err.print(f"export TRUSTEE_ADDR=http://{host}:{port}")
    else:
        if dev_root_token:
            fail("--dev-root-token goes with --dev")
        core = Core.open(storage or settings.get("storage", DEFAULT_STORAGE_URL))
        auto_unseal(core, str(unseal_key_file or settings.get("unseal_key_file") or "") or None)
        state = core.barrier.status()
        if not state.initialized:
            err.print("not initialized: run `trustee operator init`")
        elif state.sealed:
            err.print("sealed: run `trustee operator unseal` with a threshold of shares")
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(core),
            host=host,
            port=port,
            http="h11",
            log_level=log_level,
            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
            server_header=False,
        )
    )
    # uvicorn finishes in-flight requests on SIGTERM, then re-raises the signal: let that
    # re-raise end the process with status 0, as a completed graceful shutdown should.
    signal.signal(signal.SIGTERM, _exit_cleanly)
    try:
        server.run()
    finally:
        core.close()
