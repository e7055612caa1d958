"""A consumer app that uses every public construct of notify-cdk, synthesizes it and checks the
cloud assembly: the DeliveryFeedback Lambda asset must be staged and hold handler.py.

tools/check_package.sh runs it from an empty directory with a fresh venv that has notify-cdk
installed (not editable), fed on stdin so that nothing of the checkout is on ``sys.path``::

    python - --require-installed --outdir cdk.out < tools/package_smoke_app.py

From the checkout (``.venv/bin/python -m tools.package_smoke_app``) it checks the same assembly
built from the working tree. Exits non-zero, saying what is missing, when a check fails.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_ses as ses

import constructs_lib
import lambda_src
from constructs_lib import DeliveryFeedback, NotificationApi, NotificationMonitoring, NotificationWorkflow
from constructs_lib.feedback import ASSET_EXCLUDE, HANDLER_DIRECTORY

STACK_NAME = "PackageSmoke"
SENDER = "orders@shop.example.net"


class SmokeStack(cdk.Stack):
    """Every public construct, wired as NotificationStack wires them (without cdk-nag, which is
    not a dependency of the library)."""

    def __init__(self, scope: cdk.App, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        configuration_set = ses.ConfigurationSet(self, "EmailConfigurationSet")
        workflow = NotificationWorkflow(
            self, "Workflow", sender=SENDER, email_identities=[SENDER],
            configuration_set_name=configuration_set.configuration_set_name,
        )
        NotificationApi(
            self, "Api", workflow=workflow, encryption_key=workflow.encryption_key,
        )
        DeliveryFeedback(
            self, "DeliveryFeedback", workflow=workflow,
            configuration_set_name=configuration_set.configuration_set_name,
            encryption_key=workflow.encryption_key,
        )
        NotificationMonitoring(
            self, "Monitoring", workflow=workflow, encryption_key=workflow.encryption_key,
        )


def fail(message: str) -> None:
    print(f"package smoke app FAILED: {message}", file=sys.stderr)
    sys.exit(1)


def check_sources(*, require_installed: bool) -> None:
    """Where the library and the handler were imported from."""
    for module in (constructs_lib, lambda_src):
        origin = Path(module.__file__ or "").resolve()
        print(f"{module.__name__} imports from {origin.parent}")
        if require_installed and "site-packages" not in origin.parts:
            fail(f"{module.__name__} came from {origin.parent}, not from the installed package")
    if not HANDLER_DIRECTORY.is_relative_to(Path(lambda_src.__file__ or "").resolve().parent):
        fail(f"HANDLER_DIRECTORY {HANDLER_DIRECTORY} is not inside the imported lambda_src package")


def check_assembly(assembly: cdk.cx_api.CloudAssembly) -> str:
    """Every Lambda function's code asset is staged in the assembly; the feedback handler's holds
    handler.py and no bytecode. Returns the handler asset's hash."""
    outdir = Path(assembly.directory)
    stack = assembly.get_stack_by_name(STACK_NAME)
    functions = {name: resource for name, resource in stack.template["Resources"].items()
                 if resource["Type"] == "AWS::Lambda::Function"}
    handlers = {name: f for name, f in functions.items() if f["Properties"].get("Handler") == "handler.handler"}
    if len(handlers) != 1:
        fail(f"expected one function with Handler handler.handler, found {sorted(handlers)}")
    handler_hash = ""
    manifest = json.loads((outdir / f"{STACK_NAME}.assets.json").read_text())
    for name, function in functions.items():
        asset_hash = function["Properties"]["Code"]["S3Key"].removesuffix(".zip")
        source = manifest["files"].get(asset_hash, {}).get("source", {})
        staged = outdir / source.get("path", f"asset.{asset_hash}")
        if not staged.is_dir():
            fail(f"{name}: the code asset {staged} is not in the cloud assembly")
        if name in handlers:
            contents = sorted(p.name for p in staged.iterdir())
            print(f"{name}: asset {staged.name} holds {contents}")
            if "handler.py" not in contents:
                fail(f"{name}: the code asset {staged} has no handler.py (it holds {contents})")
            if "__pycache__" in contents or any(c.endswith(".pyc") for c in contents):
                fail(f"{name}: the code asset {staged} holds bytecode ({contents})")
            handler_hash = asset_hash
    return handler_hash


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--outdir", type=Path, help="cloud assembly directory (default: a temporary one)")
    parser.add_argument("--require-installed", action="store_true",
                        help="fail unless constructs_lib and lambda_src come from site-packages")
    parser.add_argument("--same-asset-as", type=Path, metavar="DIR",
                        help="fail unless the handler asset hash equals that of this handler directory")
    args = parser.parse_args()
    check_sources(require_installed=args.require_installed)
    outdir = str(args.outdir) if args.outdir else tempfile.mkdtemp(prefix="notify-cdk-smoke.")
    app = cdk.App(outdir=outdir, analytics_reporting=False)
    SmokeStack(app, STACK_NAME)
    asset_hash = check_assembly(app.synth())
    if args.same_asset_as is not None:
        expected = cdk.FileSystem.fingerprint(str(args.same_asset_as), exclude=ASSET_EXCLUDE)
        if asset_hash != expected:
            fail(f"the handler asset hash {asset_hash} differs from {expected} of {args.same_asset_as}")
        print(f"handler asset hash {asset_hash} equals that of {args.same_asset_as}")
    used = (NotificationWorkflow, NotificationApi, DeliveryFeedback, NotificationMonitoring)
    print(f"ok: {STACK_NAME} ({', '.join(c.__name__ for c in used)}) synthesized to {outdir}")


if __name__ == "__main__":
    main()
