"""Builds the optional C accelerator; everything else is in pyproject.toml.

The extension is optional: when no compiler is available the pure-Python
fallback in asgiws.protocol.mask is used (the `websockets` library does the same).
"""

import os

from setuptools import Extension, setup

ext_modules = []
if os.environ.get("ASGIWS_NO_EXTENSIONS") != "1":
    ext_modules.append(
        Extension(
            "asgiws.protocol._speedups",
            sources=["asgiws/protocol/_speedups.c"],
            extra_compile_args=["-O3"],
            optional=True,
        )
    )

setup(ext_modules=ext_modules)
