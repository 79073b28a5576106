"""``python -m trustee`` runs the command line."""

from trustee.cli.main import main

main()
