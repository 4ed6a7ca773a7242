"""Builds the optional C accelerators; everything else is in pyproject.toml.

The extensions are optional: when no compiler is available the pure-Python
fallbacks are used (asgiws.protocol.mask for unmasking, asgiws.protocol.request_head
for request heads), as the `websockets` library does; see asgiws.protocol.native.
"""

import os

from setuptools import Extension, setup

ext_modules = []
if os.environ.get("ASGIWS_NO_EXTENSIONS") != "1":
    ext_modules = [
        Extension(
            f"asgiws.protocol.{name}", sources=[f"asgiws/protocol/{name}.c"], extra_compile_args=["-O3"], optional=True
        )
        for name in ("_speedups", "_http11")
    ]

setup(ext_modules=ext_modules)
