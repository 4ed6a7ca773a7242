"""Every harness over its seed corpus and the inputs that once failed it, without the fuzzing engine.

This is how the normal test suite exercises the harnesses (and keeps every
crash found as a regression test): each corpus file is one case. An input
must pass within a few seconds and without tracing more than `MAX_MEMORY`
bytes at its peak: the properties "terminates" and "bounded memory" of
README.md, on the inputs we have.
"""

from __future__ import annotations

import signal
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest

from .harnesses import HARNESSES, corpus, load

#: Peak memory one input may allocate; the harnesses' limits (max_size and
#: the like) keep every legitimate run far below it.
MAX_MEMORY = 64 * 2**20
#: Seconds one input may take, even on a slow CI machine.
MAX_SECONDS = 20


def cases() -> Iterator[object]:
    for name in HARNESSES:
        for path in sorted(corpus(name).iterdir()):
            yield pytest.param(name, path, id=f"{name}/{path.name}")


def test_every_harness_has_seeds() -> None:
    for name in HARNESSES:
        assert any(corpus(name).glob("seed-*")), f"no seeds for {name}: run python -m tests.fuzz.seeds"


@pytest.fixture
def deadline() -> Iterator[None]:
    def expire(signum: int, frame: object) -> None:
        raise TimeoutError(f"a harness ran over {MAX_SECONDS} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, MAX_SECONDS)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@pytest.mark.parametrize(("name", "path"), cases())
def test_corpus_input(name: str, path: Path, deadline: None) -> None:
    harness = load(name)
    data = path.read_bytes()
    tracemalloc.start()
    try:
        harness(data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < MAX_MEMORY, f"{peak} bytes at the peak"


def test_every_known_disagreement_has_an_example() -> None:
    """Each row of README.md's disagreement tables is shown by a ``disagreement-*`` file, and each file by a row."""
    from . import diff_http, diff_websocket

    found = {diff_http.classify(path.read_bytes()) for path in corpus("diff_http").glob("disagreement-*")}
    assert found == {known.name for known in diff_http.KNOWN}
    found = {
        diff_websocket.classify(*diff_websocket.split_input(path.read_bytes()))
        for path in corpus("diff_websocket").glob("disagreement-*")
    }
    assert found == {known.name for known in diff_websocket.KNOWN}


def test_fixed_disagreements_now_agree() -> None:
    """A ``fixed-*`` file shows a disagreement we once wrote down and fixed since: asgiws and h11 now agree on it."""
    from . import diff_http

    paths = sorted(corpus("diff_http").glob("fixed-*"))
    assert paths
    for path in paths:
        data = path.read_bytes()
        assert diff_http.disagreement(data) is None, path.name
        assert diff_http.ours(data).kind == "rejected", path.name  # both refuse: h11 was right
