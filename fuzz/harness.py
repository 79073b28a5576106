"""Run one fuzz target under atheris (libFuzzer for Python): ``python fuzz/fuzz_token.py``.

Arguments are libFuzzer's (``-runs=N``, ``-max_total_time=S``, corpus folders, a crash file to
replay). Without a corpus folder the seeds go to a fresh temporary one; with one, the seeds are
added to the first folder. A failing input is written as ``crash-<sha1>`` where libFuzzer is
told (``-artifact_prefix=``), and the process exits non-zero.
"""

import sys
import tempfile
from pathlib import Path

import atheris

DEFAULT_MAX_LEN = {"token": 20_000, "keystore": 8_192}


def main(name: str) -> None:
    with atheris.instrument_imports(include=["trustee"]):
        import fuzzbodies

    check = fuzzbodies.TARGETS[name]

    def test_one_input(data: bytes) -> None:
        fuzzbodies.run_bounded(check, data)

    argv = list(sys.argv)
    folders = [arg for arg in argv[1:] if not arg.startswith("-")]
    replaying = any(Path(arg).is_file() for arg in folders)
    if not replaying:
        if folders:
            corpus = Path(folders[0])
            corpus.mkdir(parents=True, exist_ok=True)
        else:
            corpus = Path(tempfile.mkdtemp(prefix=f"trustee-fuzz-{name}-"))
            argv.append(str(corpus))
        for index, seed in enumerate(fuzzbodies.SEEDS[name]):
            (corpus / f"seed-{index:03d}").write_bytes(seed)
    if not any(arg.startswith("-max_len=") for arg in argv):
        argv.append(f"-max_len={DEFAULT_MAX_LEN.get(name, 4096)}")
    if not any(arg.startswith("-timeout=") for arg in argv):
        argv.append("-timeout=10")  # libFuzzer's own backstop; the 100 ms bound is ours
    atheris.Setup(argv, test_one_input)
    atheris.Fuzz()
