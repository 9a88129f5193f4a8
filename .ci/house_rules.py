"""The house rules import-linter cannot see: no `_private` name imported across packages, no module
of bot/ over 600 lines, no package reading another's tables, no constructor in bot/ over 8
parameters, no comment or docstring that names an issue instead of saying why.

Exits non-zero, listing each breach, when any rule is broken.
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MAX_LINES = 600
MAX_INIT_PARAMETERS = 8
ISSUE = re.compile(r"\b(issues?|tasks?) #\d+|\(#\d+\)|\bfinding #?\d+", re.IGNORECASE)


def package_of(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:2])


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def private_imports(path: Path, tree: ast.AST) -> list[str]:
    here = module_name(path)
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.ImportFrom) or node.level or not node.module:
            continue
        if node.module.startswith("bot") and package_of(node.module) != package_of(here):
            for alias in node.names:
                name = alias.name
                if name.startswith("_") and not name.startswith("__"):
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}: imports {name} from {node.module}")
            if any(part.startswith("_") and not part.startswith("__") for part in node.module.split(".")):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}: imports from private {node.module}")
    return found


def foreign_tables(path: Path, tree: ast.AST) -> list[str]:
    """A feature asks another feature's store for its facts, never reads that feature's tables."""
    here = package_of(module_name(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and not node.level and node.module:
            modules = [node.module]
        elif isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        else:
            continue
        for module in modules:
            owner = package_of(module)
            if module.endswith(".schema") and owner not in (here, "bot.db") and here != "bot.tables":
                found.append(
                    f"{path.relative_to(ROOT)}:{node.lineno}: reads another package's tables: {module}"
                )
    return found


def wide_constructors(path: Path, tree: ast.AST) -> list[str]:
    """A constructor takes at most `MAX_INIT_PARAMETERS` besides self: collaborators that always
    travel together become one object, pacing knobs one frozen dataclass with defaults."""
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.ClassDef):
            continue
        for item in node.body:
            if not isinstance(item, ast.FunctionDef) or item.name != "__init__":
                continue
            args = item.args
            count = len(args.posonlyargs) + len(args.args) + len(args.kwonlyargs) - 1
            count += (args.vararg is not None) + (args.kwarg is not None)
            if count > MAX_INIT_PARAMETERS:
                found.append(
                    f"{path.relative_to(ROOT)}:{item.lineno}: {node.name}.__init__ takes {count} "
                    f"parameters besides self (at most {MAX_INIT_PARAMETERS})"
                )
    return found


def issue_mentions(path: Path, text: str) -> list[str]:
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        if ISSUE.search(line):
            found.append(f"{path.relative_to(ROOT)}:{number}: names an issue: {line.strip()[:100]}")
    return found


def main() -> int:
    breaches: list[str] = []
    for path in sorted((ROOT / "bot").rglob("*.py")):
        text = path.read_text()
        lines = text.count("\n")
        if lines > MAX_LINES:
            breaches.append(f"{path.relative_to(ROOT)}: {lines} lines (at most {MAX_LINES})")
        tree = ast.parse(text)
        breaches += private_imports(path, tree)
        breaches += foreign_tables(path, tree)
        breaches += wide_constructors(path, tree)
    for folder in ("bot", "tests", "bench"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            breaches += issue_mentions(path, path.read_text())
    for line in breaches:
        print(line)
    print(f"house rules: {len(breaches)} breach(es)")
    return 1 if breaches else 0


if __name__ == "__main__":
    sys.exit(main())
