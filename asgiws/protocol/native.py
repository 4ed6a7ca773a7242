"""Whether the optional C accelerators are used: the one switch for all of them.

The package works without its C extensions (``_speedups`` for unmasking,
``_http11`` for request heads): each module that has one imports it when it
was built and falls back to its pure-Python version otherwise. Setting
``ASGIWS_NO_EXTENSIONS=1`` skips them when building (setup.py) and, read
here once at import, when running: how the tests run the pure-Python paths
on a machine where the extensions are built.
"""

from __future__ import annotations

import os

__all__ = ["ENABLED"]

#: False when ASGIWS_NO_EXTENSIONS=1: use the pure-Python versions even where the C ones are built.
ENABLED = os.environ.get("ASGIWS_NO_EXTENSIONS") != "1"
