"""The README runs as written: its ```sh and ```python blocks, in order, as a reader pastes them.

How the blocks are run:

- Every fenced block whose info string is ``sh`` or ``python`` runs, in README order, in one
  temporary working directory that holds a link ``examples`` to the repository's folder (a
  reader works in a clone). Other blocks (``hcl``, plain text) are not code to paste.
- A block is left out when the line before its fence is ``<!-- not run: <why> -->``: for
  commands that install, need production hosts or system paths, or are synopses with
  placeholders. Other sessions' blocks that need tools these machines may lack (node) use
  the same marker. The test counts the blocks that ran and compares with the README's own
  count, so it cannot silently run nothing.
- Shell blocks run under ``bash -euo pipefail`` with the venv's ``bin`` first on PATH, and
  carry their shell variables to the next block (as one terminal does): each block sources the
  state the previous one left and writes its own at exit. Python blocks run with the venv's
  interpreter and the environment the shell blocks exported (``TRUSTEE_ADDR``,
  ``TRUSTEE_TOKEN``). No ``TRUSTEE_*`` or ``VAULT_*`` variable comes from outside: the README
  sets them.
- ``127.0.0.1:8200`` (the dev server) and ``127.0.0.1:8300`` (the example agency) are
  replaced by free ports in every block, so the test never meets another server.
- Processes a block starts in the background (``trustee server ... &``) are killed at the end:
  each block runs in its own process group. Each block has 60 s.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
NOT_RUN = re.compile(r"^<!--\s*not run:\s*(?P<why>.+?)\s*-->$")
FENCE = re.compile(r"^```(?P<info>[\w+-]*)\s*$")
RUN_LANGUAGES = ("sh", "python")
BLOCK_SECONDS = 60

# At the end of each shell block: its shell variables (readonly ones cannot be sourced again)
# for the next block, and its exported environment for the Python blocks.
SAVE_STATE = r"""
__trustee_readme_save() {
    declare -p | grep -Ev '^declare -[a-zA-Z]*r' \
        | grep -Ev '^declare -[a-zA-Z-]* (BASH|FUNCNAME|PIPESTATUS|GROUPS|DIRSTACK|COMP_|_=)' \
        > "$__README_STATE" || true
    env -0 > "$__README_ENV"
}
trap __trustee_readme_save EXIT
"""


@dataclass
class Block:
    language: str
    code: str
    line: int
    skipped: str | None  # why, when a marker leaves it out


def readme_blocks(text: str) -> list[Block]:
    """Every fenced block of ``text`` with its language, first line and skip marker."""
    blocks: list[Block] = []
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if not opening:
            index += 1
            continue
        previous = next((line.strip() for line in reversed(lines[:index]) if line.strip()), "")
        marker = NOT_RUN.match(previous)
        body: list[str] = []
        start = index + 1
        index += 1
        while index < len(lines) and lines[index].rstrip() != "```":
            body.append(lines[index])
            index += 1
        index += 1
        blocks.append(
            Block(
                language=opening["info"],
                code="\n".join(body) + "\n",
                line=start,
                skipped=marker["why"] if marker else None,
            )
        )
    return blocks


def runnable(blocks: list[Block]) -> list[Block]:
    return [b for b in blocks if b.language in RUN_LANGUAGES and b.skipped is None]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_blocks_are_found_and_markers_understood() -> None:
    sample = "\n".join(
        [
            "```sh",
            "echo one",
            "```",
            "<!-- not run: needs a production database -->",
            "",
            "```python",
            "print(2)",
            "```",
            "```hcl",
            'path "x" {}',
            "```",
        ]
    )
    blocks = readme_blocks(sample)
    assert [(b.language, b.skipped) for b in blocks] == [
        ("sh", None),
        ("python", "needs a production database"),
        ("hcl", None),
    ]
    assert [b.code for b in runnable(blocks)] == ["echo one\n"]


def test_every_left_out_block_says_why() -> None:
    blocks = readme_blocks(README.read_text(encoding="utf-8"))
    for block in blocks:
        if block.skipped is not None:
            assert len(block.skipped) > 5, f"README line {block.line}: say why it is not run"
    assert len(runnable(blocks)) >= 12, "most of the README's examples must run"


class Reader:
    """One reader at one terminal: a working directory, shell state, background processes."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.state = folder / ".readme-state"
        self.env_file = folder / ".readme-env"
        self.groups: list[int] = []
        self.ports = {"127.0.0.1:8200": free_port(), "127.0.0.1:8300": free_port()}
        (folder / "examples").symlink_to(ROOT / "examples")
        bin_dir = str(Path(sys.executable).parent)
        self.env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("TRUSTEE_", "VAULT_"))
        }
        self.env["PATH"] = bin_dir + os.pathsep + self.env.get("PATH", "")
        self.env["COLUMNS"] = "200"
        self.state.write_text("")

    def localise(self, code: str) -> str:
        for address, port in self.ports.items():
            code = code.replace(address, f"127.0.0.1:{port}")
        return code

    def run(self, block: Block, number: int) -> subprocess.CompletedProcess[str]:
        code = self.localise(block.code)
        out = self.folder / f".block-{number}.out"
        if block.language == "sh":
            script = f'{SAVE_STATE}\nsource "$__README_STATE"\nset -euo pipefail\n{code}'
            argv = ["bash", "-c", script]
            env = self.env | {
                "__README_STATE": str(self.state),
                "__README_ENV": str(self.env_file),
            }
        else:
            argv = [sys.executable, "-c", code]
            env = self.exported()
        with out.open("w") as sink:
            process = subprocess.Popen(
                argv,
                cwd=self.folder,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=sink,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own group: background jobs are killed with it
            )
            self.groups.append(process.pid)
            try:
                status = process.wait(timeout=BLOCK_SECONDS)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
                status = -1
        return subprocess.CompletedProcess(argv, status, out.read_text(errors="replace"), "")

    def exported(self) -> dict[str, str]:
        """The environment the last shell block exported (its PATH and TRUSTEE_* included)."""
        if not self.env_file.exists():
            return dict(self.env)
        pairs = self.env_file.read_bytes().split(b"\0")
        env = {}
        for pair in pairs:
            name, sep, value = pair.decode(errors="replace").partition("=")
            if sep and not name.startswith("__README"):
                env[name] = value
        return env

    def close(self) -> None:
        for group in self.groups:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(group, signal.SIGTERM)
        deadline = time.monotonic() + 10
        for group in self.groups:
            while time.monotonic() < deadline:
                try:
                    os.killpg(group, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.05)
            else:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(group, signal.SIGKILL)


def run_readme(text: str, folder: Path) -> int:
    """Run ``text``'s blocks as a reader would; the number that ran. Fails at the first
    block that exits non-zero, naming its README line and showing its output."""
    blocks = runnable(readme_blocks(text))
    reader = Reader(folder)
    try:
        for number, block in enumerate(blocks):
            result = reader.run(block, number)
            if result.returncode != 0:
                pytest.fail(
                    f"README block at line {block.line} ({block.language}) exited "
                    f"{result.returncode}:\n--- block ---\n{block.code}--- output ---\n"
                    f"{result.stdout[-6000:]}",
                    pytrace=False,
                )
    finally:
        reader.close()
    return len(blocks)


def needs_tools() -> None:
    missing = [tool for tool in ("bash", "curl", "jq") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"the README's examples need {', '.join(missing)} (.ci/run installs them)")


@pytest.mark.integration
def test_the_readme_runs_as_written(tmp_path: Path) -> None:
    needs_tools()
    text = README.read_text(encoding="utf-8")
    ran = run_readme(text, tmp_path)
    assert ran == len(runnable(readme_blocks(text))) >= 12


@pytest.mark.integration
def test_a_broken_example_fails_the_readme_test(tmp_path: Path) -> None:
    """The harness is not blind: a wrong command, or one whose server is not up, fails it."""
    needs_tools()
    broken = "\n".join(
        [
            "```sh",
            "export TRUSTEE_ADDR=http://127.0.0.1:8200 TRUSTEE_TOKEN=root",
            "trustee server --dev --dev-root-token root --listen 127.0.0.1:8200 &",
            "trustee operator wait",
            "trustee trustee create broken-example",
            "```",
            "```python",
            "from trustee.client import Client",
            "with Client() as client:",
            "    assert client.read_trustee('broken-example')['name'] == 'broken-example'",
            "```",
            "```sh",
            "trustee trustee create broken-example   # a second time: 409, exit 1",
            "```",
        ]
    )
    with pytest.raises(pytest.fail.Exception, match=r"line 12 \(sh\) exited 1"):
        run_readme(broken, tmp_path)
