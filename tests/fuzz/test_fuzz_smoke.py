"""Each atheris target for a few thousand inputs, in its own process: the harness itself
(instrumentation, seeding, the per-input bound) works, and no input in the smoke run fails.
The long run is ``python fuzz/longrun.py`` (fuzz/README.md)."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("atheris", reason="atheris has no wheel for this platform")

FUZZ_DIR = Path(__file__).resolve().parents[2] / "fuzz"
RUNS = 3000
TARGETS = ("token", "keystore", "address", "device_key", "note", "statement")


def test_every_target_runs_clean(tmp_path):
    # Started together, waited for together: two cores finish five short runs sooner.
    processes = {
        name: subprocess.Popen(
            [
                sys.executable,
                str(FUZZ_DIR / f"fuzz_{name}.py"),
                str(tmp_path / name),
                f"-runs={RUNS}",
                "-seed=1",
                f"-artifact_prefix={tmp_path}/",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for name in TARGETS
    }
    outputs = {name: process.communicate(timeout=300)[0] for name, process in processes.items()}
    for name, process in processes.items():
        output = outputs[name].decode(errors="replace")
        assert process.returncode == 0, f"{name}:\n{output[-4000:]}"
        assert re.search(rf"Done {RUNS} runs", output), f"{name}:\n{output[-2000:]}"
    assert not list(tmp_path.glob("crash-*"))
