"""The `asgiws` command line (`asgiws module:attr` and `python -m asgiws`); see asgiws.server.cli."""

import sys

from .server.cli import main

if __name__ == "__main__":
    sys.exit(main())
