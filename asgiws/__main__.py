"""The `asgiws` command line (`asgiws module:attr` and `python -m asgiws`)."""

import sys


def main(argv: list[str] | None = None) -> int:
    print("usage: asgiws MODULE:ATTR [options]  (the server is being built)", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
