"""Rebuild a Terraform provider schema from a prebuilt CDK provider package.

The CDK provider packages on PyPI (``cdktn-provider-google``, ``cdktf-cdktf-provider-google``
and their ``-beta`` twins) are generated from ``terraform providers schema -json`` of one exact
provider release and ship, inside a jsii tarball, one JavaScript module per resource. Each
module keeps what the generator knew about every attribute:

* ``// name - computed: B, optional: B, required: B`` comments before each accessor;
* ``synthesizeHclAttributes`` / ``<struct>ToHclTerraform`` tables giving, for every settable
  attribute, whether it is a block, its collection kind and its element type;
* accessors for read-only attributes (``getStringAttribute('x')``, ``new FooList(this, "x",
  wrapsSet)``...).

From these this module writes the same JSON document ``terraform providers schema -json``
prints for one provider (``provider``, ``resource_schemas``, ``data_source_schemas``), which
``server.py`` serves over the plugin protocol. What the packages do not carry is lost: provider
side validation (enums, regexes) and plan modifiers. Terraform itself still checks names,
types, required arguments and block shapes against this schema.

Run: ``python -m tests.terraform.schema_provider.jsii_schema WHEEL OUT.json``
"""

from __future__ import annotations

import io
import json
import re
import sys
import tarfile
import zipfile
from pathlib import Path
from typing import Any

_CLASS = re.compile(r"^class (\w+) extends ([\w.]+) \{", re.M)
_HCL_FN = re.compile(r"^function (\w+)ToHclTerraform\(struct\) \{", re.M)
_TOP_LEVEL = re.compile(r"^(?:class |function |exports\.|\w+\.tfResourceType|//# sourceMappingURL)", re.M)
_FLAGS = re.compile(r"// (\w+) - computed: (true|false), optional: (true|false), required: (true|false)")
_HCL_ENTRY = re.compile(
    r"(\w+): \{\s*value: [^\n]*,\s*isBlock: (true|false),\s*type: \"(\w+)\","
    r"\s*storageClassType: \"(\w+)\",\s*\}"
)
_RESOURCE_TYPE = re.compile(r"static tfResourceType = \"([\w-]+)\";")
_VERSION = re.compile(r"providerVersion: '([\w.\-]+)'")

_SCALARS = {"string": "string", "number": "number", "boolean": "bool"}
_COLLECTIONS = {
    "stringList": "string",
    "numberList": "number",
    "booleanList": "bool",
    "stringMap": "string",
    "numberMap": "number",
    "booleanMap": "bool",
}
_GETTERS = {
    "getStringAttribute": "string",
    "getNumberAttribute": "number",
    "getBooleanAttribute": "bool",
    "getListAttribute": ["list", "string"],
    "getNumberListAttribute": ["list", "number"],
    "getStringMapAttribute": ["map", "string"],
    "getNumberMapAttribute": ["map", "number"],
    "getBooleanMapAttribute": ["map", "bool"],
}


class SchemaExtractionError(Exception):
    """The package does not have the layout this extractor understands."""


class _Module:
    """One generated JavaScript module: its classes and its ``ToHclTerraform`` tables."""

    def __init__(self, text: str) -> None:
        self.text = text
        starts = sorted(m.start() for m in _TOP_LEVEL.finditer(text))
        self.classes: dict[str, str] = {}
        for m in _CLASS.finditer(text):
            self.classes[m.group(1)] = self._segment(m.start(), starts)
        self.hcl_tables: dict[str, str] = {}
        for m in _HCL_FN.finditer(text):
            self.hcl_tables[m.group(1).lower()] = self._segment(m.start(), starts)

    def _segment(self, start: int, starts: list[int]) -> str:
        later = [s for s in starts if s > start]
        return self.text[start : later[0] if later else len(self.text)]

    def block(self, struct: str, *, main_class: str | None = None, seen: tuple[str, ...] = ()) -> dict[str, Any]:
        """The schema block of ``struct`` (a nested struct name, or the resource's own class)."""
        if struct in seen:  # self-referencing blocks: cut off, as the generator does for read-only ones
            return {"attributes": {}, "block_types": {}}
        seen = (*seen, struct)
        if main_class is not None:
            accessors = self.classes.get(main_class, "")
            table = accessors[accessors.find("synthesizeHclAttributes") :]
        else:
            accessors = self.classes.get(f"{struct}OutputReference", "")
            table = self.hcl_tables.get(struct.lower(), "")
        flags = {m.group(1): (m.group(2), m.group(3), m.group(4)) for m in _FLAGS.finditer(accessors)}
        entries = {m.group(1): m.groups()[1:] for m in _HCL_ENTRY.finditer(table)}
        attributes: dict[str, Any] = {}
        block_types: dict[str, Any] = {}
        for name in list(entries) + [n for n in flags if n not in entries]:
            computed, optional, required = (v == "true" for v in flags.get(name, ("false", "true", "false")))
            if name in entries:
                is_block, kind, storage = entries[name]
                if is_block == "true":
                    block_types[name] = self._nested_block(name, kind, storage, accessors, required=required, seen=seen)
                    continue
                type_ = _settable_type(kind, storage)
            else:
                type_ = self._read_only_type(name, accessors)
                computed, optional, required = True, False, False
            if type_ is None:
                continue
            attr: dict[str, Any] = {"type": type_}
            if required:
                attr["required"] = True
            else:
                attr["optional" if optional else "computed"] = True
                if optional and computed:
                    attr["computed"] = True
            attributes[name] = attr
        return {"attributes": attributes, "block_types": block_types}

    def _nested_block(
        self, name: str, kind: str, storage: str, accessors: str, *, required: bool, seen: tuple[str, ...]
    ) -> dict[str, Any]:
        struct = storage[: -len("List")] if storage.endswith("List") and kind != "struct" else storage
        nested: dict[str, Any] = {
            "nesting_mode": {"list": "list", "set": "set", "struct": "single"}.get(kind, "list"),
            "block": self.block(struct, seen=seen),
        }
        if nested["nesting_mode"] != "single":
            if re.search(rf"new \w+OutputReference\(this, \"{name}\"\)", accessors):
                nested["max_items"] = 1
            if required:
                nested["min_items"] = 1
        return nested

    def _read_only_type(self, name: str, accessors: str, seen: tuple[str, ...] = ()) -> Any:
        getter = re.search(rf"this\.(\w+)\('{name}'\)", accessors)
        if getter and getter.group(1) in _GETTERS:
            return _GETTERS[getter.group(1)]
        built = re.search(rf"new ([\w.]+)\(this, \"{name}\"(?:, (true|false))?\)", accessors)
        if built is None:
            return None
        cls, wraps_set = built.group(1), built.group(2)
        if cls == "cdktn.StringMap":
            return ["map", "string"]
        if cls == "cdktn.StringMapList":
            return ["list", ["map", "string"]]
        if cls.endswith("OutputReference"):
            return ["list", self._object_type(cls[: -len("OutputReference")], seen)]
        if cls.endswith("List"):
            return ["set" if wraps_set == "true" else "list", self._object_type(cls[: -len("List")], seen)]
        return None

    def _object_type(self, struct: str, seen: tuple[str, ...]) -> list[Any]:
        if struct in seen:  # self-referencing types: the generator cuts them off the same way
            return ["object", {}]
        accessors = self.classes.get(f"{struct}OutputReference", "")
        fields = {}
        for m in _FLAGS.finditer(accessors):
            type_ = self._read_only_type(m.group(1), accessors, (*seen, struct))
            if type_ is not None:
                fields[m.group(1)] = type_
        return ["object", fields]


def _settable_type(kind: str, storage: str) -> Any:
    if kind == "simple":
        return _SCALARS.get(storage, "string")
    element = _COLLECTIONS.get(storage, "string")
    return [{"list": "list", "set": "set", "map": "map"}.get(kind, "list"), element]


def _jsii_tarball(wheel: Path) -> tarfile.TarFile:
    with zipfile.ZipFile(wheel) as zf:
        names = [n for n in zf.namelist() if n.endswith(".jsii.tgz")]
        if len(names) != 1:
            raise SchemaExtractionError(f"{wheel.name} holds {len(names)} jsii tarballs, expected exactly one.")
        return tarfile.open(fileobj=io.BytesIO(zf.read(names[0])), mode="r:gz")


def extract_schema(wheel: Path) -> dict[str, Any]:
    """Read a CDK provider wheel and return its provider schema (``providers schema -json`` shape)."""
    resources: dict[str, Any] = {}
    data_sources: dict[str, Any] = {}
    provider: dict[str, Any] | None = None
    version: str | None = None
    # Large resources keep their nested structs in lib/<name>/index-structs/*.js; a struct's
    # table may sit in any of those files, so each resource is read as one text.
    sources: dict[str, list[tuple[str, str]]] = {}
    with _jsii_tarball(wheel) as tar:
        for member in tar:
            parts = member.name.split("/")
            if len(parts) < 4 or parts[1] != "lib" or not parts[-1].endswith(".js"):
                continue
            resource_index = len(parts) == 4 and parts[3] == "index.js"
            if not resource_index and not (len(parts) == 5 and parts[3] == "index-structs"):
                continue
            text = tar.extractfile(member).read().decode()  # type: ignore[union-attr]
            sources.setdefault(parts[2], []).append((member.name, text))
    for name in sorted(sources):
        files = sorted(sources[name], key=lambda f: (not f[0].endswith(f"/{name}/index.js"), f[0]))
        if not files[0][0].endswith(f"/{name}/index.js"):
            continue
        text = "\n".join(t for _, t in files)
        kind = re.search(
            r"^class (\w+) extends cdktn\.(TerraformResource|TerraformDataSource|TerraformProvider)",
            text,
            re.M,
        ) or re.search(
            r"^class (\w+) extends cdktf\.(TerraformResource|TerraformDataSource|TerraformProvider)",
            text,
            re.M,
        )
        type_name = _RESOURCE_TYPE.search(text)
        if kind is None or type_name is None:
            continue
        module = _Module(text)
        block = module.block(kind.group(1), main_class=kind.group(1))
        if kind.group(2) == "TerraformProvider":
            provider = {"version": 0, "block": block}
            continue
        version = version or (_VERSION.search(text).group(1) if _VERSION.search(text) else None)
        target = data_sources if kind.group(2) == "TerraformDataSource" else resources
        target[type_name.group(1)] = {"version": 0, "block": block}
    if provider is None or not resources:
        raise SchemaExtractionError(f"{wheel.name} has no provider class or no resources: not a CDK provider package.")
    return {
        "provider_version": version,
        "provider": provider,
        "resource_schemas": dict(sorted(resources.items())),
        "data_source_schemas": dict(sorted(data_sources.items())),
    }


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: jsii_schema.py WHEEL OUT.json", file=sys.stderr)
        return 2
    schema = extract_schema(Path(argv[0]))
    Path(argv[1]).write_text(json.dumps(schema, sort_keys=True))
    print(
        f"{len(schema['resource_schemas'])} resources, {len(schema['data_source_schemas'])} data sources, "
        f"provider {schema['provider_version']}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
