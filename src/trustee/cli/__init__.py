"""The ``trustee`` command line: offline tools, the server, and commands that talk to it."""
