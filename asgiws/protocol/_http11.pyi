"""Types of the C accelerator built from `_http11.c` (see `request_head.py`)."""

from collections.abc import Set

def parse_request_head(
    buf: bytes | bytearray, line_end: int, end: int, max_headers: int, special_names: Set[bytes], /
) -> tuple[str, bytes, str, list[tuple[bytes, bytes]], dict[bytes, list[bytes]]] | int:
    """The request line and field lines of a head, or the code of the first rule they break."""
