"""Fuzz target `statement`: see fuzzbodies.check_statement for what it checks."""

from harness import main

if __name__ == "__main__":
    main("statement")
