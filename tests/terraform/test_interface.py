"""What a fork's Terraform depends on, pinned in tests/snapshots/: the root module's variables (with the
attributes of object variables, as a tfvars file names them: ``function.factory``) and the state
addresses of its resources and module calls. Renaming either breaks a fork: a tfvars key stops
working, or ``terraform apply`` destroys and recreates an object unless a ``moved {}`` block
(terraform/moved.tf) takes it to its new address."""

from __future__ import annotations

import re
from pathlib import Path

from tests._fixtures.snapshot import assert_matches_snapshot

ROOT = Path(__file__).resolve().parents[2] / "terraform"
_BLOCK = re.compile(r'^variable "(?P<name>\w+)" \{\n(?P<body>.*?)^\}\n', re.M | re.S)
_TYPE = re.compile(r"^  type\s*=\s*", re.M)
_ATTRIBUTE = re.compile(r"^\s*(\w+)\s*=\s*")
_RESOURCE = re.compile(r'^resource "(\w+)" "(\w+)"', re.M)
_MODULE = re.compile(r'^module "(\w+)"', re.M)


def _balanced(text: str, start: int) -> str:
    """The text between the bracket at ``start`` and the one that closes it."""
    depth = 0
    for i in range(start, len(text)):
        depth += {"(": 1, "{": 1, "[": 1, ")": -1, "}": -1, "]": -1}.get(text[i], 0)
        if depth == 0:
            return text[start + 1 : i]
    raise ValueError(f"unbalanced brackets from {text[start : start + 40]!r}")


def _attributes(type_expr: str, prefix: str) -> list[str]:
    """``prefix.attr`` for each attribute of the first ``object({...})`` in ``type_expr``, recursively."""
    at = type_expr.find("object(")
    if at < 0:
        return []
    body = _balanced(type_expr, type_expr.index("{", at))
    found, depth, entry = [], 0, ""
    for char in body + "\n":
        if depth == 0 and char in ",\n":
            match = _ATTRIBUTE.match(entry)
            if match:
                found.append(f"{prefix}.{match[1]}")
                found += _attributes(entry[match.end() :], f"{prefix}.{match[1]}")
            entry = ""
            continue
        depth += {"(": 1, "{": 1, "[": 1, ")": -1, "}": -1, "]": -1}.get(char, 0)
        entry += char
    return found


def root_variables() -> list[str]:
    names = []
    for path in sorted(ROOT.glob("variables*.tf")):
        for block in _BLOCK.finditer(path.read_text()):
            names.append(block["name"])
            typed = _TYPE.search(block["body"])
            if typed:
                names += _attributes(block["body"][typed.end() :], block["name"])
    return names


def state_addresses() -> list[str]:
    """Resources and module calls of the root module, and the resources of its child modules (data
    sources hold no state a fork could lose)."""
    found = []
    for path in sorted(ROOT.glob("*.tf")):
        text = path.read_text()
        found += [f"{type_}.{name}" for type_, name in _RESOURCE.findall(text)]
        for module in _MODULE.findall(text):
            found.append(f"module.{module}")
            for child in sorted((ROOT / "modules" / module).glob("*.tf")):
                found += [f"module.{module}.{t}.{n}" for t, n in _RESOURCE.findall(child.read_text())]
    return found


def test_the_parsers_read_what_the_configuration_declares():
    variables = root_variables()
    assert "function" in variables and "function.factory" in variables and "region" in variables
    assert "google_cloudfunctions2_function.server" in state_addresses()
    assert "module.edge" in state_addresses()


def test_variable_names_are_pinned():
    assert_matches_snapshot(
        "terraform_variables.txt",
        root_variables(),
        what="Terraform variables (and object attributes)",
        how="keep a renamed variable's old name for one minor version, marked deprecated in its description",
    )


def test_state_addresses_are_pinned():
    assert_matches_snapshot(
        "terraform_addresses.txt",
        state_addresses(),
        what="Terraform state addresses",
        how="add a moved {} block from the old address to the new one in terraform/moved.tf",
    )
