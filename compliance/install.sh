#!/usr/bin/env bash
# Install Autobahn|Testsuite's `wstest` (Python 2.7 only) into compliance/.venv27.
# Idempotent: a second run only checks that wstest starts. Prints wstest's path.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="$here/.venv27"
wstest="$venv/bin/wstest"

if [ -x "$wstest" ] && "$wstest" --autobahnversion >/dev/null 2>&1; then
    echo "wstest: $wstest"
    exit 0
fi

# A Python 2.7 interpreter: $PYTHON27, pyenv's 2.7.18, or python2.7 on PATH.
py27="${PYTHON27:-}"
if [ -z "$py27" ]; then
    for candidate in "${PYENV_ROOT:-$HOME/.pyenv}/versions/2.7.18/bin/python" \
                     "$(command -v python2.7 || true)"; do
        if [ -n "$candidate" ] && [ -x "$candidate" ]; then py27="$candidate"; break; fi
    done
fi
if [ -z "$py27" ]; then
    echo "install.sh: no Python 2.7 found (set PYTHON27=/path/to/python2.7)" >&2
    exit 1
fi

# Python 2.7's pip warns about each local index directory it cannot use
# and about 2.7's end of life; show only the rest.
quiet() {
    "$@" 2>&1 | grep -v -e "is ignored: it is neither a file nor a directory" -e "DEPRECATION:" || true
}

# virtualenv 20.15 is the last release that runs on Python 2.7.
if ! "$py27" -m virtualenv --version >/dev/null 2>&1; then
    quiet "$py27" -m pip install -q --disable-pip-version-check 'virtualenv<20.16'
fi
rm -rf "$venv"
"$py27" -m virtualenv -q "$venv"
quiet "$venv/bin/pip" install -q --disable-pip-version-check --no-python-version-warning \
    -r "$here/requirements-py27.txt"
"$wstest" --autobahnversion >/dev/null
echo "wstest: $wstest"
