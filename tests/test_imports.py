"""asgiws's modules import each other without a circle (every import, also inside functions)."""

from __future__ import annotations

import ast
import pathlib

PACKAGE = pathlib.Path(__file__).parents[1] / "asgiws"


def modules() -> dict[str, tuple[pathlib.Path, bool]]:
    """Dotted name -> (file, is a package) for every module of asgiws."""
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        found[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    return found


def import_graph() -> dict[str, set[str]]:
    """Each module -> the asgiws modules it imports."""
    known = modules()
    graph: dict[str, set[str]] = {}
    for name, (path, is_package) in known.items():
        imported: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported |= {alias.name for alias in node.names if alias.name in known}
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = name.split(".") if is_package else name.split(".")[:-1]
                    base = base[: len(base) - node.level + 1]
                    source = ".".join(base + ([node.module] if node.module else []))
                else:
                    source = node.module or ""
                for alias in node.names:
                    submodule = f"{source}.{alias.name}"
                    if submodule in known:
                        imported.add(submodule)
                    elif source in known:
                        imported.add(source)
        graph[name] = imported - {name}
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    found: list[list[str]] = []
    state: dict[str, str] = {}

    def visit(name: str, path: list[str]) -> None:
        state[name] = "open"
        for target in sorted(graph[name]):
            trail = [*path, name]
            if state.get(target) == "open":
                found.append([*trail[trail.index(target) :], target])
            elif target not in state:
                visit(target, trail)
        state[name] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [])
    return found


def test_graph_sees_imports():
    graph = import_graph()
    assert "asgiws.server.workers" in graph["asgiws.server.runner"]
    assert "asgiws.server.workers" in graph["asgiws.server.supervisor"]
    assert "asgiws.server.server" in graph["asgiws.workers"]
    assert "asgiws.server.server" in graph["asgiws.server.workers"]
    assert "asgiws.protocol.limits" in graph["asgiws.protocol.http11"]


def test_no_import_circle():
    assert circles(import_graph()) == []


def imported_layers(module: str, graph: dict[str, set[str]]) -> set[str]:
    """The asgiws packages (or top-level modules) `module` imports, itself left out."""
    own = module.split(".")[1] if module.count(".") else module
    return {name.split(".")[1] if name.count(".") else name for name in graph[module]} - {own}


def test_connection_layer_stands_on_the_protocol_core_alone():
    graph = import_graph()
    layer = [name for name in graph if name.startswith("asgiws.connection")]
    assert "asgiws.connection.websocket" in layer
    for module in layer:
        assert imported_layers(module, graph) <= {"protocol"}, module


def test_client_imports_only_the_protocol_core_and_the_connection_layer():
    assert imported_layers("asgiws.client", import_graph()) == {"protocol", "connection"}


def test_asgi_types_stand_alone_and_the_protocol_core_speaks_no_asgi():
    graph = import_graph()
    # Every layer may use the ASGI aliases because they import nothing of asgiws ...
    assert graph["asgiws.types"] == set()
    assert "asgiws.types" in graph["asgiws.app.requests"] and "asgiws.types" in graph["asgiws.server.http"]
    # ... but the sans-I/O core deals in bytes and events, not ASGI.
    assert not [name for name in graph if name.startswith("asgiws.protocol") and "asgiws.types" in graph[name]]
