"""Make the fuzz bodies in ``fuzz/`` importable: the tests and the atheris targets share them."""

import sys
from pathlib import Path

FUZZ_DIR = Path(__file__).resolve().parents[2] / "fuzz"
sys.path.insert(0, str(FUZZ_DIR))
