"""The agent runs on whatever Python the cluster offers, down to 3.8: its code and every
module of the contract it imports must not use anything newer, checked statically because
no 3.8 interpreter is installed here. The contract's other modules serve the services
only, on the appliance's own Python, and may use what it has (tomllib)."""

import ast
import subprocess
import sys
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[2]
AGENT_PACKAGE = REPOSITORY / "nodeagent" / "raycrafter_nodeagent"
CONTRACT_ROOT = REPOSITORY / "contract"


def module_file(name):
    """The file of the contract module ``name`` (dotted), or None if it is no module."""
    path = CONTRACT_ROOT.joinpath(*name.split("."))
    for candidate in (path.with_suffix(".py"), path / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def module_name(path):
    parts = path.relative_to(CONTRACT_ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def contract_imports(path, package):
    """The contract modules that the file at ``path`` (in ``package``) imports, with the
    packages that hold them (importing a module runs its packages' __init__ first)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    found = set()
    for name in names:
        parts = name.split(".")
        if parts[0] != "raycrafter_contract":
            continue
        for end in range(1, len(parts) + 1):
            file = module_file(".".join(parts[:end]))
            if file:
                found.add(file)
    return found


def contract_modules_the_agent_imports():
    pending = list(AGENT_PACKAGE.glob("*.py"))
    seen = set()
    while pending:
        path = pending.pop()
        package = "" if path.is_relative_to(AGENT_PACKAGE) else module_name(path)
        if path.name != "__init__.py" and package:
            package = package.rpartition(".")[0]
        for found in contract_imports(path, package) - seen:
            seen.add(found)
            pending.append(found)
    return seen


def vermin(*paths):
    return subprocess.run(
        [sys.executable, "-c", "import sys; from vermin import main; sys.exit(main())", "--target=3.8-", "--violations", "--eval-annotations",
         "--no-tips", "--no-parse-comments", *map(str, paths)],
        capture_output=True, text=True)


def test_the_agent_imports_what_the_closure_finds():
    modules = {module_name(path) for path in contract_modules_the_agent_imports()}
    # Imported by name, through a relative import, and as a package's module.
    assert {"raycrafter_contract", "raycrafter_contract.log_credentials",
            "raycrafter_contract.wire.records", "raycrafter_contract.utilities.backoff",
            "raycrafter_contract.utilities"} <= modules
    assert "raycrafter_contract.utilities.toml_file" not in modules


def test_agent_code_needs_nothing_newer_than_python_3_8():
    result = vermin(AGENT_PACKAGE, *contract_modules_the_agent_imports())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Minimum required versions: 3." in result.stdout


def test_the_check_does_catch_newer_syntax_and_library_calls(tmp_path):
    newer = tmp_path / "newer.py"
    newer.write_text(
        "def f(x: int | None) -> list[str]:\n"
        "    return [str(x).removeprefix('0')]\n")
    result = vermin(newer)
    assert result.returncode != 0
    assert "removeprefix" in result.stdout
