"""The lower layers import no business domain: domains register with them (panels, jobs, kinds).

The foundation is ``core``, ``web`` (layout, rendering, i18n), ``mail``, ``work`` (the queue),
``notifications``, and the two domains every screen needs, ``auth`` (the user, permissions) and
``audit``. They may use each other and the two registries at the top (``retento.models``,
``retento.jobs``, which name the domains' modules by string), never ``retento.customers``,
``retento.complaints`` and the like. ``retento.analytics`` imports nothing of the app at all.
"""

from __future__ import annotations

import ast
from pathlib import Path

import retento

ROOT = Path(retento.__file__).parent
LOWER = {"core", "web", "mail", "work", "notifications", "auth", "audit"}
REGISTRIES = {"models", "jobs"}


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    names += [
        n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and not n.level
    ]
    return [m for m in names if m == "retento" or m.startswith("retento.")]


def _top(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_lower_layers_import_no_domain():
    bad = []
    for layer in sorted(LOWER):
        for path in sorted((ROOT / layer).rglob("*.py")):
            for m in _imports(path):
                if _top(m) not in LOWER | REGISTRIES | {""}:
                    bad.append(f"{path.relative_to(ROOT)} imports {m}")
    assert bad == []


def test_analytics_imports_nothing_of_the_app():
    bad = [
        f"{path.relative_to(ROOT)} imports {m}"
        for path in sorted((ROOT / "analytics").rglob("*.py"))
        for m in _imports(path)
        if _top(m) != "analytics"
    ]
    assert bad == []


def test_the_check_sees_a_domain_import(tmp_path):
    """The walk reads ``from retento.x import y`` and ``import retento.x`` alike."""
    f = tmp_path / "m.py"
    f.write_text("import retento.customers.models\nfrom retento.orders import service\n")
    assert [_top(m) for m in _imports(f)] == ["customers", "orders"]
