"""The long fuzz run: every target for a while, restarting after a failing input.

    python fuzz/longrun.py --seconds 600 [--targets token,note] [--work DIR]

Each target keeps its corpus in ``DIR/corpus/<target>`` (so a second run resumes where the
first stopped) and its failing inputs in ``DIR/artifacts/<target>/``. At the end a table says,
per target, how many inputs ran and how many failing inputs were saved; the exit status is 1
when any input failed.
"""

import argparse
import re
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
TARGETS = ("token", "keystore", "address", "device_key", "note")
_RUNS = re.compile(rb"stat::number_of_executed_units: (\d+)")


def run_target(name: str, seconds: float, work: Path) -> tuple[int, list[Path]]:
    """Fuzz ``name`` for ``seconds``; returns (inputs run, failing inputs saved)."""
    corpus = work / "corpus" / name
    artifacts = work / "artifacts" / name
    artifacts.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + seconds
    runs = 0
    while (left := deadline - time.monotonic()) > 1:
        process = subprocess.run(
            [
                sys.executable,
                str(HERE / f"fuzz_{name}.py"),
                str(corpus),
                f"-max_total_time={int(left)}",
                "-print_final_stats=1",
                f"-artifact_prefix={artifacts}/",
            ],
            capture_output=True,
            check=False,
        )
        runs += sum(int(count) for count in _RUNS.findall(process.stderr))
        (work / f"{name}.log").write_bytes(process.stderr[-200_000:])
        if process.returncode == 0:
            break
    return runs, sorted(artifacts.glob("*"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=600, help="per target")
    parser.add_argument("--targets", default=",".join(TARGETS))
    parser.add_argument("--work", type=Path, default=HERE / "work")
    options = parser.parse_args()
    failed = False
    print(f"{'target':<12}{'inputs':>12}{'failing':>9}")
    for name in options.targets.split(","):
        runs, found = run_target(name, options.seconds, options.work)
        failed = failed or bool(found)
        print(f"{name:<12}{runs:>12,}{len(found):>9}", flush=True)
        for path in found:
            print(f"    {path}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
