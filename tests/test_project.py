"""Project-level checks: lint clean, hints checked, public surface stable, bench harness alive."""

import subprocess
import sys
from pathlib import Path

import trustee.tokens

ROOT = Path(__file__).resolve().parents[1]


def test_ruff_clean() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "src", "tests", "bench", "examples"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr


def test_ruff_formatted() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--check", "src", "tests", "bench", "examples"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr


def test_mypy_clean() -> None:
    """The package ships py.typed; ``[tool.mypy]`` in pyproject.toml names what is checked."""
    completed = subprocess.run(
        [sys.executable, "-m", "mypy"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr


def test_token_public_surface() -> None:
    assert sorted(trustee.tokens.__all__) == [
        "DEFAULT_LEEWAY_SECONDS",
        "IssuedToken",
        "KeyCache",
        "LEGACY_ALGORITHM",
        "Reason",
        "TokenError",
        "TrustList",
        "VerificationResult",
        "issue_token",
        "verify_token",
    ]


def test_benchmark_smoke(tmp_path: Path) -> None:
    """A seconds-long run of the harness so it never rots; goals are judged only in full runs."""
    completed = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--results", str(tmp_path / "r.json")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "verify_token" in completed.stdout and (tmp_path / "r.json").exists()
