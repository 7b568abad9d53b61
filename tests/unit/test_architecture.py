"""The package's shape, checked: no import loop, a vocabulary that imports nothing of the project's, I/O libraries
only in the adapters, modules small enough to read, and the planner's table in the docs as the code has it."""

from __future__ import annotations

import ast
import json
from pathlib import Path

from reconcile.decide import ACTIONS, RULES, rules_markdown
from reconcile.model import Action, State

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "reconcile"
MODULE_LINE_LIMIT = 300
IO_LIBRARIES = {"kubernetes": {"reconcile.adapters.kube"}, "subprocess": {"reconcile.adapters.helm"}}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def imports(module: str) -> set[str]:
    """Every module ``module`` imports, the project's and others' (a ``from x import y`` of a submodule is y)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(MODULES[module].read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names if f"{node.module}.{a.name}" in MODULES)
    return found


def project_imports(module: str) -> set[str]:
    return {name for name in imports(module) if name in MODULES and name != module}


def test_no_import_loop() -> None:
    graph = {module: project_imports(module) for module in MODULES}
    done: set[str] = set()

    def visit(module: str, path: tuple[str, ...]) -> None:
        if module in path:
            raise AssertionError("import loop: " + " → ".join((*path[path.index(module) :], module)))
        if module in done:
            return
        for dependency in sorted(graph[module]):
            visit(dependency, (*path, module))
        done.add(module)

    for module in sorted(graph):
        visit(module, ())


VOCABULARY = {"reconcile.model", "reconcile.livereport"}


def test_the_vocabulary_imports_nothing_of_the_project() -> None:
    for module in VOCABULARY:
        assert project_imports(module) <= VOCABULARY, module


def test_io_libraries_are_imported_only_by_their_adapter() -> None:
    for library, allowed in IO_LIBRARIES.items():
        users = {m for m in MODULES if any(n == library or n.startswith(library + ".") for n in imports(m))}
        assert users <= allowed, f"{library} imported by {sorted(users - allowed)}"


def test_every_module_is_small_enough_to_read() -> None:
    sizes = {module: len(path.read_text().splitlines()) for module, path in MODULES.items()}
    assert {m: n for m, n in sizes.items() if n > MODULE_LINE_LIMIT} == {}


def test_every_state_maps_to_exactly_one_action() -> None:
    assert set(ACTIONS) == set(State)
    assert all(ACTIONS[rule.state] is rule.action for rule in RULES)


def test_the_docs_show_the_decision_table_the_code_has() -> None:
    assert rules_markdown() in (ROOT / "docs" / "planner.md").read_text()


def test_the_report_schema_names_every_state_and_action() -> None:
    schema = json.loads((ROOT / "docs" / "schemas" / "report.schema.json").read_text())
    outcome = schema["properties"]["outcomes"]["items"]["properties"]
    assert outcome["state"]["enum"] == [str(state) for state in State]
    assert outcome["action"]["enum"] == [str(action) for action in Action]
