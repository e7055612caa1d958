"""Packaging: DeliveryFeedback's Lambda code is found through the import system, in the
``lambda_src`` package that the distribution ships beside ``constructs_lib``.
(tools/check_package.sh checks the installed wheel itself; it is too slow for this suite.)"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

import pytest

import lambda_src
from constructs_lib import feedback
from constructs_lib.feedback import HANDLER_DIRECTORY

ROOT = Path(__file__).resolve().parents[2]


def test_the_handler_directory_holds_the_handler_inside_the_importable_lambda_src_package() -> None:
    assert (HANDLER_DIRECTORY / "handler.py").is_file()
    packages = [Path(p).resolve() for p in lambda_src.__path__]
    assert any(HANDLER_DIRECTORY.is_relative_to(p) for p in packages), (HANDLER_DIRECTORY, packages)
    assert HANDLER_DIRECTORY.relative_to(packages[0]) == Path("delivery_status")


def test_the_distribution_ships_every_handler_package() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    shipped = set(pyproject["tool"]["setuptools"]["packages"])
    on_disk = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for init in (ROOT / "lambda_src").rglob("__init__.py")
        if "__pycache__" not in init.parts
    }
    assert {"constructs_lib", "lambda_src", "lambda_src.delivery_status"} <= shipped
    assert on_disk <= shipped, f"not shipped: {sorted(on_disk - shipped)}"


def test_fails_when_another_lambda_src_hides_the_handler(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "lambda_src").mkdir()
    (tmp_path / "lambda_src" / "__init__.py").write_text("")
    for name in [n for n in sys.modules if n == "lambda_src" or n.startswith("lambda_src.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ImportError) as raised:
        feedback._handler_directory()
    message = str(raised.value)
    assert message.startswith("DeliveryFeedback: no handler.py in the Lambda handler package "
                              "lambda_src.delivery_status")
    assert str(tmp_path / "lambda_src") in message
