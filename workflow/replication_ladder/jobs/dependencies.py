"""The code a job runs, found by reading the source: its entry module and every module of
the package that one imports, at module level or inside a function, followed to the end
(and, for a report, the modules its notebook's cells import).

The rules list these files as inputs, so that editing a module reruns exactly the jobs
whose code imports it. Nothing is imported to find them (a walk over the syntax tree), so
the Snakefile stays quick to parse.
"""

import ast
import json
from functools import cache
from pathlib import Path

PACKAGE = "replication_ladder"
PACKAGE_DIR = Path(__file__).resolve().parents[1]


def module_file(name: str) -> Path | None:
    """The source file of a module of the package (None for anything else)."""
    head, *parts = name.split(".")
    if head != PACKAGE:
        return None
    base = PACKAGE_DIR.joinpath(*parts)
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _absolute(node: ast.ImportFrom, package: str) -> str:
    """The module an `from ... import` names, relative to `package`."""
    if not node.level:
        return node.module or ""
    parts = package.split(".")
    anchor = parts[: len(parts) - (node.level - 1)]
    return ".".join([*anchor, *([node.module] if node.module else [])])


def imported_names(source: str, package: str) -> set[str]:
    """Every module name an import statement in `source` (code of a module in `package`)
    may load: `import a.b` loads `a` and `a.b`; `from a import b` loads `a` and, when `b`
    is a module, `a.b`."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(node, package)
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    # Importing a.b.c runs the __init__ of a and of a.b first.
    return {".".join(name.split(".")[:i]) for name in names for i in range(1, name.count(".") + 2)}


@cache
def _module_imports(name: str, path: Path) -> frozenset[str]:
    """What a package module may import, read once per process: each rule's closure
    walks the same modules (the Snakefile's parse read each about four times)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    return frozenset(imported_names(path.read_text(encoding="utf-8"), package))


def _closure(start: set[str]) -> tuple[Path, ...]:
    seen: dict[str, Path] = {}
    # Importing a.b.c runs the __init__ of a and of a.b first.
    pending = [".".join(n.split(".")[:i]) for n in start for i in range(1, n.count(".") + 2)]
    while pending:
        name = pending.pop()
        path = module_file(name)
        if path is None or name in seen:
            continue
        seen[name] = path
        pending.extend(_module_imports(name, path) - seen.keys())
    return tuple(sorted(set(seen.values())))


@cache
def module_closure(module: str) -> tuple[Path, ...]:
    """The source files of `module` and of every package module it imports, transitively."""
    if module_file(module) is None:
        raise ValueError(f"{module!r} is not a module of {PACKAGE}")
    return _closure({module})


def notebook_closure(path: str | Path) -> tuple[Path, ...]:
    """The package modules a notebook's code cells import, transitively (a report runs
    them in its kernel)."""
    cells = json.loads(Path(path).read_text(encoding="utf-8"))["cells"]
    source = "\n".join("".join(cell["source"]) for cell in cells if cell["cell_type"] == "code")
    return _closure({name for name in imported_names(source, PACKAGE) if name.startswith(PACKAGE)})


def package_modules() -> list[str]:
    """Every module of the package, by dotted name."""
    names = []
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        parts = path.relative_to(PACKAGE_DIR).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names.append(".".join([PACKAGE, *parts]))
    return names
