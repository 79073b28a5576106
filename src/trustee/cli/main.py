"""Entry point of the ``trustee`` command."""

import typer

from trustee.cli import keys, ledger, remote_commands
from trustee.cli.server import server_command
from trustee.cli.verify import verify_command

app = typer.Typer(
    name="trustee",
    help="Verify-then-trust: address-verifiable tokens, key custody and signed records.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,  # locals may hold keys
    add_completion=False,
)
app.command("verify")(verify_command)
app.add_typer(keys.app, name="keys")
app.command("server")(server_command)
app.add_typer(remote_commands.operator_app, name="operator")
app.add_typer(remote_commands.trustee_app, name="trustee")
app.command("claim")(remote_commands.claim_command)
app.command("sign")(remote_commands.sign_command)
app.add_typer(ledger.app, name="ledger")


@app.command("demo")
def demo() -> None:
    """Run the whole story on an embedded server and say GOOD / BAD for each record."""
    from trustee.cli.demo import run_demo

    raise typer.Exit(run_demo())


def main() -> None:
    app()
