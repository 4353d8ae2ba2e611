"""Scene layout check (run by `make lint`), in the spirit of Home Assistant's hassfest.

For every scene built on the SDK (``citybrain.sdk.Scene``) under src/citybrain/scenes/ (or the
folders given on the command line):
- the folder has the fixed file set: __init__, settings, events, processors, api, panel, report,
  sim (a module or a package), rules (when the scene declares alert rules) and gateway (when it
  runs servers);
- its modules import from citybrain only the SDK (``citybrain.sdk``), the generic servers
  (``citybrain.gateways``), the pure codecs (``citybrain.protocols``, ``citybrain.geo``) and the
  scene's own package: the core is behind the SDK;
- no module keeps mutable state at module level (a dict/list/set assigned at top level and
  mutated anywhere in the module: state belongs in processors, the runtime or the store);
- every setting of the scene's settings type and every route of its router is named in its page,
  docs/scenes/<name>.md (settings as `name`, routes by their path);
- the scene itself is sound (``scene.check()``: names, panel).
Scenes not yet on the SDK are listed and skipped. Exit status 1 when anything is wrong.
"""

from __future__ import annotations

import ast
import importlib
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCENES = ROOT / "src" / "citybrain" / "scenes"
DOCS = ROOT / "docs" / "scenes"
REQUIRED = ("__init__", "settings", "events", "processors", "api", "panel", "report")
MUTATORS = {"append", "extend", "update", "setdefault", "pop", "popitem", "clear", "add", "discard",
            "remove", "insert", "__setitem__"}  # fmt: skip
MUTABLE_CALLS = {"dict", "list", "set", "defaultdict", "OrderedDict", "deque", "Counter"}


def _has(folder: Path, name: str) -> bool:
    return (folder / f"{name}.py").is_file() or (folder / name / "__init__.py").is_file()


def mutable_globals(path: Path) -> list[str]:
    """Module-level mutable containers that the module mutates (``NAME[k] = v``, ``NAME.add(...)``,
    ``global NAME``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    candidates: dict[str, int] = {}
    for node in tree.body:
        targets = (
            node.targets
            if isinstance(node, ast.Assign)
            else [node.target]
            if isinstance(node, ast.AnnAssign)
            else []
        )
        value = getattr(node, "value", None)
        mutable = isinstance(
            value, ast.Dict | ast.List | ast.Set | ast.DictComp | ast.ListComp | ast.SetComp
        ) or (
            isinstance(value, ast.Call)
            and getattr(value.func, "id", getattr(value.func, "attr", "")) in MUTABLE_CALLS
        )
        if mutable:
            for t in targets:
                if isinstance(t, ast.Name):
                    candidates[t.id] = node.lineno
    found: set[str] = set()
    for any_node in ast.walk(tree):
        if isinstance(any_node, ast.Global):
            found.update(n for n in any_node.names if n in candidates)
        elif isinstance(any_node, ast.Subscript) and isinstance(any_node.ctx, ast.Store | ast.Del):
            found.add(getattr(any_node.value, "id", ""))
        elif isinstance(any_node, ast.Call) and getattr(any_node.func, "attr", "") in MUTATORS:
            found.add(getattr(getattr(any_node.func, "value", None), "id", ""))
    found &= set(candidates)
    return [f"{path.name}:{candidates[n]} module-level {n} is mutated: keep state out of module globals"
            for n in sorted(found)]  # fmt: skip


ALLOWED_IMPORTS = (
    "citybrain.sdk",
    "citybrain.gateways",
    "citybrain.protocols",
    "citybrain.geo",
    "citybrain.data",
)


def foreign_imports(path: Path, own: str) -> list[str]:
    """Imports of citybrain modules a scene may not use (anything behind the SDK, other scenes)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names = [node.module or ""]
        else:
            continue
        for name in names:
            if name == "citybrain":
                name = "citybrain." + ",".join(a.name for a in node.names)
            if not name.startswith("citybrain") or name.startswith((own, *ALLOWED_IMPORTS)):
                continue
            found.append(f"{path.name}:{node.lineno} imports {name}: a scene uses citybrain.sdk")
    return found


def check_scene(folder: Path, module: str, docs: Path = DOCS) -> list[str]:
    from citybrain.sdk import Scene

    mod = importlib.import_module(module)
    scene = getattr(mod, "scene", None)
    if not isinstance(scene, Scene):
        return []
    problems = [f"missing {n}.py" for n in REQUIRED if not _has(folder, n)]
    if not _has(folder, "sim"):
        problems.append("missing sim.py (or sim/)")
    if scene.alert_rules and not _has(folder, "rules"):
        problems.append("missing rules.py (the scene declares alert rules)")
    if scene.servers is not None and not _has(folder, "gateway"):
        problems.append("missing gateway.py (the scene runs servers)")
    for py in sorted(folder.rglob("*.py")):
        problems += mutable_globals(py) + foreign_imports(py, module)
    page = docs / f"{scene.name}.md"
    if not page.is_file():
        problems.append(f"no page {page.relative_to(ROOT) if page.is_relative_to(ROOT) else page}")
    else:
        text = page.read_text(encoding="utf-8")
        problems += [f"{page.name}: setting `{f}` is not documented"
                     for f in scene.settings_type.__struct_fields__ if f"`{f}`" not in text]  # fmt: skip
        routes = [getattr(r, "path", "") for r in (scene.router.routes if scene.router else [])]
        problems += [f"{page.name}: route {p} is not documented" for p in routes if p and p not in text]
    problems += scene.check()
    return problems


def main(argv: list[str]) -> int:
    sys.path.insert(0, str(ROOT / "src"))
    folders = [Path(a) for a in argv] or sorted(p for p in SCENES.iterdir() if (p / "__init__.py").is_file())
    failed, legacy = 0, []
    for folder in folders:
        module = f"citybrain.scenes.{folder.name}" if folder.parent == SCENES else folder.name
        if folder.parent != SCENES:
            sys.path.insert(0, str(folder.parent))
        problems = check_scene(folder, module)
        mod = sys.modules[module]
        from citybrain.sdk import Scene

        if not isinstance(getattr(mod, "scene", None), Scene):
            legacy.append(folder.name)
            continue
        for p in problems:
            print(f"scene {folder.name}: {p}")
        failed += bool(problems)
    if legacy:
        print(f"not on the SDK yet (not checked): {', '.join(legacy)}")
    print(f"{len(folders) - len(legacy) - failed} scene(s) sound, {failed} with problems")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
