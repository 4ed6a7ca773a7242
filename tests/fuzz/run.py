"""Run a harness under atheris (libFuzzer), coverage-guided.

    python -m tests.fuzz.run NAME [libFuzzer flags] [corpus folders]
    python -m tests.fuzz.run --all [libFuzzer flags]

Without corpus folders, a harness starts from its seeds (``corpus/NAME``)
and writes what it discovers to ``$FUZZ_WORKDIR/NAME`` (default
``/tmp/asgiws-fuzz``, kept between runs), never into the repository;
failing inputs go to ``$FUZZ_WORKDIR/NAME/crash-*`` (libFuzzer's
`-artifact_prefix`). With ``--keep-going=FOLDER`` a failing input is
written to FOLDER (one per kind of failure) and the run goes on: how the
long runs collect every disagreement in one go. `--all` runs every harness in turn, each in its own
process (libFuzzer exits when it is done), with the same flags, each from
a fresh work folder: the bounded run of `.ci/run`. Its exit status is 1 if
any harness found something. See README.md for the flags that matter.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import traceback
from collections.abc import Callable
from pathlib import Path

from .harnesses import HARNESSES, corpus, load

#: Most failing inputs `--keep-going` writes down in one run.
MAX_KEPT = 100

#: Memory and time a single input may take: beyond, libFuzzer reports a finding.
DEFAULT_FLAGS = ["-rss_limit_mb=1024", "-timeout=10"]


def keep_going(harness: Callable[[bytes], None], folder: Path) -> Callable[[bytes], None]:
    """`harness`, writing each failing input of a new kind to `folder` instead of stopping.

    The kind is where it failed and, for a differential harness, the two
    verdicts (`signature`): one input per kind, at most `MAX_KEPT` in all.
    """
    folder.mkdir(parents=True, exist_ok=True)
    seen: set[tuple[object, ...]] = set()

    def wrapped(data: bytes) -> None:
        try:
            harness(data)
        except Exception as exc:
            where = traceback.extract_tb(exc.__traceback__)[-1]
            kind = (type(exc).__name__, where.filename, where.lineno, repr(getattr(exc, "signature", None)))
            if kind not in seen and len(seen) < MAX_KEPT:
                seen.add(kind)
                (folder / f"failure-{hashlib.sha1(data).hexdigest()}").write_bytes(data)
                print(f"\n== kept a failure of a new kind ({len(seen)}): {kind}\n{exc}", flush=True)

    return wrapped


def fuzz(name: str, args: list[str]) -> None:
    """Fuzz harness `name` in this process (never returns)."""
    import atheris

    keep = next((arg.split("=", 1)[1] for arg in args if arg.startswith("--keep-going=")), None)
    args = [arg for arg in args if not arg.startswith("--keep-going=")]
    flags = [arg for arg in args if arg.startswith("-")]
    folders = [arg for arg in args if not arg.startswith("-")]
    workdir = Path(os.environ.get("FUZZ_WORKDIR", Path(tempfile.gettempdir()) / "asgiws-fuzz")) / name
    if not folders:
        workdir.mkdir(parents=True, exist_ok=True)
        folders = [str(workdir), str(corpus(name))]
    if not any(flag.startswith("-artifact_prefix=") for flag in flags):
        workdir.mkdir(parents=True, exist_ok=True)
        flags.append(f"-artifact_prefix={workdir}/")
    with atheris.instrument_imports(include=["asgiws", "h11", "wsproto"]):
        harness = load(name)
    if keep is not None:
        harness = keep_going(harness, Path(keep))
    atheris.Setup([sys.argv[0], *DEFAULT_FLAGS, *flags, *folders], harness)
    atheris.Fuzz()


def fuzz_all(args: list[str]) -> int:
    """Every harness in turn, each from a fresh work folder; how many found something."""
    failures = 0
    with tempfile.TemporaryDirectory(prefix="asgiws-fuzz-") as root:
        for name in HARNESSES:
            env = dict(os.environ, FUZZ_WORKDIR=root)
            print(f"== fuzzing {name}", flush=True)
            done = subprocess.run([sys.executable, "-m", __spec__.name, name, *args], env=env)
            if done.returncode:
                failures += 1
                print(f"== {name}: FAILED (exit {done.returncode}); the input is in the log above", flush=True)
    # The closing line CI reads, as pytest's own.
    print(f"fuzz: {len(HARNESSES) - failures} passed, {failures} failed", flush=True)
    return failures


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        print("harnesses:", ", ".join(HARNESSES))
        return 0
    if argv[0] == "--all":
        return 1 if fuzz_all(argv[1:]) else 0
    if argv[0] not in HARNESSES:
        print(f"unknown harness {argv[0]!r}; harnesses: {', '.join(HARNESSES)}", file=sys.stderr)
        return 2
    fuzz(argv[0], argv[1:])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
