"""Fuzz target `address`: see fuzzbodies.check_address for what it checks."""

from harness import main

if __name__ == "__main__":
    main("address")
