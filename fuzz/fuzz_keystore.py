"""Fuzz target `keystore`: see fuzzbodies.check_keystore for what it checks."""

from harness import main

if __name__ == "__main__":
    main("keystore")
