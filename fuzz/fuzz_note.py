"""Fuzz target `note`: see fuzzbodies.check_note for what it checks."""

from harness import main

if __name__ == "__main__":
    main("note")
