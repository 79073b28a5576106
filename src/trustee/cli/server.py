"""``trustee server``: the HTTP API under uvicorn (h11: httptools rejects Vault's LIST verb).

The server stack (uvicorn, FastAPI, the Core) is imported inside the functions that run it, so
every other ``trustee`` command starts without loading it.
"""

from __future__ import annotations

import atexit
import copy
import json
import os
import signal
import socket
import sys
import tempfile
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from trustee.cli.console import err, fail, usage_error
from trustee.crypto.encoding import hex_decode
from trustee.crypto.errors import CryptoError
from trustee.defaults import DEFAULT_STORAGE_URL
from trustee.secret import Secret

if TYPE_CHECKING:
    from fastapi import FastAPI

    from trustee.core import Core
    from trustee.server.asgi.audit_device import AuditDevice

GRACEFUL_SHUTDOWN_SECONDS = 30
WORKER_SETTINGS_ENV = "TRUSTEE_SERVER_WORKER"
SCITT_TRUST_LIST_ENV = "TRUSTEE_SCITT_TRUST_LIST"
SCITT_POLICY_ENV = "TRUSTEE_SCITT_POLICY"
SCITT_POLICIES = ("open", "registered")
"""Hands each ``--workers`` process its settings: uvicorn starts workers by import string."""


def _exit_cleanly(_signum: int, _frame: object) -> None:
    sys.exit(0)


def parse_listen(listen: str) -> tuple[str, int]:
    host, _, port = listen.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        usage_error(f"--listen takes HOST:PORT, got {listen!r}")
    return host.strip("[]"), int(port)


def load_config(path: Path) -> dict[str, Any]:
    """A TOML file with ``storage``, ``listen`` and ``unseal_key_file`` (all optional)."""
    try:
        config = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        fail(f"cannot read config {path}: {exc}")
    known = {
        "storage",
        "listen",
        "unseal_key_file",
        "audit_file",
        "audit_key_file",
        "audit_clear_values",
        "scitt_trust_list",
        "scitt_policy",
    }
    unknown = set(config) - known
    if unknown:
        fail(f"unknown settings in {path}: {', '.join(sorted(unknown))}")
    return config


STORAGE_FORMS = (
    "sqlite:///relative/path.db, sqlite:////absolute/path.db or "
    "postgresql://user@host:port/database"
)


def open_core(storage_url: str) -> Core:
    """The Core over ``storage_url``, or one line that says what is wrong with it: a URL that
    is none, a scheme other than SQLite's or PostgreSQL's (with the accepted forms), or a
    database that does not answer (its host and port, never a password)."""
    import sqlalchemy as sa
    from sqlalchemy.exc import ArgumentError, SQLAlchemyError

    from trustee.core import Core
    from trustee.errors import StorageUnavailable

    try:
        parsed = sa.make_url(storage_url)
    except ArgumentError:
        usage_error(f"storage {storage_url!r} is not a URL: use {STORAGE_FORMS}")
    shown = parsed.render_as_string(hide_password=True)
    scheme = parsed.get_backend_name()
    if scheme not in ("sqlite", "postgresql", "postgres"):
        usage_error(f"storage {shown}: unsupported scheme {scheme!r}; use {STORAGE_FORMS}")
    if scheme == "sqlite" and parsed.host:
        path = parsed.host + ("/" + parsed.database if parsed.database else "")
        usage_error(
            f"storage {shown}: a SQLite URL has three slashes before a relative path; "
            f"did you mean sqlite:///{path}?"
        )
    try:
        return Core.open(storage_url)
    except StorageUnavailable as exc:
        where = f"{parsed.host or 'localhost'}:{parsed.port or 5432}"
        fail(f"cannot reach the database at {where} ({shown}): {_first_line(exc.__cause__ or exc)}")
    except OSError as exc:
        fail(f"cannot open storage {shown}: {exc.strerror or exc}")
    except (ValueError, SQLAlchemyError) as exc:
        fail(f"cannot open storage {shown}: {_first_line(exc)}")


def _first_line(exc: BaseException) -> str:
    inner = getattr(exc, "orig", None) or exc
    lines = str(inner).strip().splitlines()
    return lines[0] if lines else type(inner).__name__


def auto_unseal(core: Core, key_file: str | None, *, keep_env: bool = False) -> None:
    """Unseal from an operator-provided key (file or TRUSTEE_UNSEAL_KEY), for automation.

    The variable is removed once read, unless ``keep_env``: worker processes inherit it.
    """
    name = "TRUSTEE_UNSEAL_KEY"
    text = os.environ.get(name) if keep_env else os.environ.pop(name, None)
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


def uvicorn_options(host: str, port: int, log_level: str) -> dict[str, Any]:
    """Settings shared by one process and ``--workers`` (and by the benchmark's baseline).

    The protocol is uvicorn's h11 with bounded connections (see
    :mod:`trustee.server.connections`; named by import string, as each worker loads it
    itself), and the logging is uvicorn's with two filters, which every worker installs:
    token-like query parameters are redacted from the access log, and asyncio's traceback per
    failed ``accept()`` becomes one line now and then.
    """
    from trustee.server import connections

    return {
        "host": host,
        "port": port,
        "http": f"{connections.__name__}:{connections.BoundedH11Protocol.__name__}",
        "ws": "none",
        "log_level": log_level,
        "log_config": log_config(),
        "timeout_keep_alive": connections.KEEP_ALIVE_SECONDS,
        "limit_concurrency": connections.connection_cap(),
        "backlog": connections.BACKLOG,
        "timeout_graceful_shutdown": GRACEFUL_SHUTDOWN_SECONDS,
        "server_header": False,
    }


def log_config() -> dict[str, Any]:
    """uvicorn's logging configuration with trustee's filters on the access and asyncio loggers."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["filters"] = {
        "redact_query": {"()": "trustee.server.access_log.RedactQueryFilter"},
        "descriptor_storm": {"()": "trustee.server.connections.DescriptorStormFilter"},
    }
    config["loggers"]["uvicorn.access"]["filters"] = ["redact_query"]
    config["loggers"]["asyncio"] = {
        "handlers": ["default"],
        "propagate": False,
        "filters": ["descriptor_storm"],
    }
    return config


def run_workers(app: str, workers: int, **options: Any) -> None:
    """Serve the import string ``app`` from ``workers`` processes under uvicorn's supervisor.

    The supervisor binds the socket, starts the workers and, on SIGTERM, lets each finish its
    in-flight requests. uvicorn binds with ``proto`` 0, and asyncio sets TCP_NODELAY only on
    connections accepted from an IPPROTO_TCP listener: without it every keep-alive answer
    after the first waits ~40 ms for a delayed ACK (Kludex/uvicorn#3149). So the bound
    socket is rewrapped with its protocol named.
    """
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    config = uvicorn.Config(app, workers=workers, **options)
    bound = config.bind_socket()
    if bound.family in (socket.AF_INET, socket.AF_INET6):
        bound = socket.socket(bound.family, bound.type, socket.IPPROTO_TCP, bound.detach())
    Multiprocess(config, sockets=[bound]).run()


def worker_app() -> FastAPI:
    """The app of one ``--workers`` process, built by uvicorn in that process.

    Seal state lives in each process's memory, so every worker opens its own Core over the
    shared storage and unseals itself with the key its parent already checked.
    """
    from trustee.server import create_app

    settings = json.loads(os.environ[WORKER_SETTINGS_ENV])
    core = open_core(settings["storage"])
    auto_unseal(core, settings["unseal_key_file"])
    scitt_policy(core)
    atexit.register(core.close)  # wipe the barrier key when the worker exits
    return create_app(core, audit_device(settings["audit"], settings["storage"]))


def scitt_policy(core: Core) -> None:
    """The SCITT registration policy from ``--scitt-policy`` and ``--scitt-trust-list`` (their
    variables, or the config, as :func:`scitt_settings` left them for every worker)."""
    from trustee.scitt.registry import RegistrationPolicy

    core.scitt.policy = RegistrationPolicy(
        trust_list=os.environ.get(SCITT_TRUST_LIST_ENV) or None,
        registered_keys=os.environ.get(SCITT_POLICY_ENV) == "registered",
    )


def scitt_settings(policy: str | None, trust_list: str | None) -> None:
    """Check the SCITT policy options and leave them in the environment, where workers read
    them. A trust list alone means the production policy (``registered``): it admits the
    list's addresses and the registered issuer keys."""
    if policy is not None and policy not in SCITT_POLICIES:
        fail(f"--scitt-policy must be one of {', '.join(SCITT_POLICIES)}, not {policy!r}")
    if policy == "open" and trust_list:
        fail("--scitt-policy open admits every issuer: it cannot go with --scitt-trust-list")
    if trust_list:
        os.environ[SCITT_TRUST_LIST_ENV] = trust_list
        policy = "registered"
    if policy is not None:
        os.environ[SCITT_POLICY_ENV] = policy


def audit_device(
    audit: tuple[str, str | None, bool] | None, storage_url: Any
) -> AuditDevice | None:
    """The ``--audit-file`` device (with its ``--audit-key-file`` and
    ``--audit-clear-values``), or None; fails cleanly."""
    from trustee.server.asgi.audit_device import AuditUnavailable, open_audit_device

    if audit is None:
        return None
    path, key, clear_values = audit
    try:
        return open_audit_device(path, key, storage_url, clear_values=clear_values)
    except ValueError as exc:
        fail(str(exc))
    except AuditUnavailable as exc:
        fail(f"cannot open the audit log {path}: {exc}")


def shared_dev_storage(root_token: str | None) -> tuple[str, str, str]:
    """A dev database every worker can open: its storage URL, unseal key file and root token.

    One share of threshold one is the unseal key itself; it goes to a file readable by its
    owner only, in the private temporary folder that also holds the database.
    """
    from trustee.core import Core

    folder = Path(tempfile.mkdtemp(prefix="trustee-dev-"))
    storage_url = f"sqlite:///{folder / 'trustee.db'}"
    key_file = folder / "unseal.key"
    core = Core.open(storage_url)
    try:
        (key,) = core.barrier.initialize(1, 1)
        with os.fdopen(os.open(key_file, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600), "w") as f:
            f.write(key)
        token = core.tokens.create_root_token(client_token=root_token).client_token
    finally:
        core.close()
    return storage_url, str(key_file), token


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
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            min=1,
            help="Server processes; above 1 each unseals itself, so an unseal key is needed.",
        ),
    ] = 1,
    audit_file: Annotated[
        Path | None, typer.Option("--audit-file", help="Audit log: JSON lines, secrets hashed.")
    ] = None,
    audit_key_file: Annotated[
        Path | None,
        typer.Option("--audit-key-file", help="Audit HMAC key (default: the data folder)."),
    ] = None,
    audit_clear_values: Annotated[
        bool,
        typer.Option(
            "--audit-clear-values",
            help="Audit non-secret values in clear (secret fields and credentials stay hashed).",
        ),
    ] = False,
    scitt_trust_list: Annotated[
        str | None,
        typer.Option(
            "--scitt-trust-list",
            envvar=SCITT_TRUST_LIST_ENV,
            help="Register SCITT statements only from registered issuer keys and ES256K "
            "issuers on this trust list (implies --scitt-policy registered).",
        ),
    ] = None,
    scitt_policy_name: Annotated[
        str | None,
        typer.Option(
            "--scitt-policy",
            envvar=SCITT_POLICY_ENV,
            help="SCITT registration policy: 'open' (the default: any statement whose signature "
            "verifies under the key it carries) or 'registered' (only issuer keys registered "
            "at /v1/scitt/issuers, and the --scitt-trust-list addresses).",
        ),
    ] = None,
) -> None:
    """Run the HTTP API. Without --dev it starts sealed: `trustee operator init`, `unseal`."""
    import uvicorn

    from trustee.core import Core
    from trustee.server import create_app

    settings = load_config(config) if config else {}
    scitt_settings(
        scitt_policy_name or settings.get("scitt_policy"),
        scitt_trust_list or settings.get("scitt_trust_list"),
    )
    host, port = parse_listen(listen or settings.get("listen", "127.0.0.1:8200"))
    if dev and workers > 1:
        storage, key_file, root_token = shared_dev_storage(dev_root_token)
        err.print(f"{workers} workers share {storage}, unsealed with the key in {key_file}")
    elif dev:
        core, root_token = Core.dev(root_token=dev_root_token)
    if dev:
        err.print(
            "[bold yellow]dev mode[/]: in-memory barrier, temporary storage, never for real keys"
        )
        err.print(f"Root Token: {root_token}")
        err.print(f"export TRUSTEE_ADDR=http://{host}:{port}")
    else:
        if dev_root_token:
            usage_error("--dev-root-token goes with --dev")
        storage = storage or settings.get("storage", DEFAULT_STORAGE_URL)
        key_file = str(unseal_key_file or settings.get("unseal_key_file") or "") or None
        core = open_core(storage)
        auto_unseal(core, key_file, keep_env=workers > 1)
        state = core.barrier.status()
        if workers > 1:
            core.close()  # each worker opens its own
            if state.sealed:
                usage_error(
                    "with --workers above 1 every worker must unseal itself, and sys/unseal "
                    "reaches only one: give --unseal-key-file or TRUSTEE_UNSEAL_KEY (of an "
                    "initialized storage; initialise it with one worker first)"
                )
        if not state.initialized:
            err.print("not initialized: run `trustee operator init`")
        elif state.sealed:
            err.print("sealed: run `trustee operator unseal` with a threshold of shares")
    options = uvicorn_options(host, port, log_level)
    audit_path = audit_file or settings.get("audit_file")
    audit_key = audit_key_file or settings.get("audit_key_file")
    clear_values = audit_clear_values or settings.get("audit_clear_values") is True
    audit = (
        (str(audit_path), str(audit_key) if audit_key else None, clear_values)
        if audit_path
        else None
    )
    if workers > 1:
        audit_device(audit, storage)  # refuse to start here rather than in every worker
        os.environ[WORKER_SETTINGS_ENV] = json.dumps(
            {"storage": storage, "unseal_key_file": key_file, "audit": audit}
        )
        run_workers(f"{__name__}:worker_app", workers, factory=True, **options)
        return
    scitt_policy(core)
    app = create_app(core, audit_device(audit, core.db.engine.url))
    server = uvicorn.Server(uvicorn.Config(app, **options))
    # uvicorn finishes in-flight requests on SIGTERM, then re-raises the signal: let that
    # re-raise end the process with status 0, as a completed graceful shutdown should.
    signal.signal(signal.SIGTERM, _exit_cleanly)
    try:
        server.run()
    finally:
        core.close()
