"""Fuzz target `device_key`: see fuzzbodies.check_device_key for what it checks."""

from harness import main

if __name__ == "__main__":
    main("device_key")
