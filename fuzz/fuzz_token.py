"""Fuzz target `token`: see fuzzbodies.check_token for what it checks."""

from harness import main

if __name__ == "__main__":
    main("token")
