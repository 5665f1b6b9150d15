"""A schema-only Terraform provider, served over the plugin protocol (v6) with PyPI ``tf``.

It answers with a real provider's schema (the JSON ``jsii_schema.py`` writes, or the output of
``terraform providers schema -json`` for one provider) so that ``terraform init``, ``validate``
and ``plan`` run without the registry: Terraform checks every name, type, required argument
and block shape itself. Planning marks every computed value the configuration leaves unset as
"known after apply", as a real provider does on create. Anything that would touch a cloud
(apply, import, refresh of existing state) answers with an error saying so.

Started by Terraform (through the launcher ``toolchain.py`` installs), never by hand:
``python server.py --schema SCHEMA.json``. ``--compile`` turns the JSON into the cached
protobuf answer once, ahead of time.
"""

from __future__ import annotations

import argparse
import base64
import datetime
import json
import os
import sys
import tempfile
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from tf.gen import grpc_controller_pb2, grpc_controller_pb2_grpc, grpc_stdio_pb2_grpc
from tf.gen import tfplugin_pb2 as pb
from tf.gen import tfplugin_pb2_grpc as rpc
from tf.types import Unknown
from tf.utils import read_dynamic_value, to_dynamic_value

_MAGIC_COOKIE = ("TF_PLUGIN_MAGIC_COOKIE", "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2")
_NESTING = {
    "single": pb.Schema.NestedBlock.NestingMode.SINGLE,
    "list": pb.Schema.NestedBlock.NestingMode.LIST,
    "set": pb.Schema.NestedBlock.NestingMode.SET,
    "map": pb.Schema.NestedBlock.NestingMode.MAP,
    "group": pb.Schema.NestedBlock.NestingMode.GROUP,
}
_NO_CLOUD = (
    "This is a schema-only stand-in for the real provider: it validates and plans, nothing more. "
    "Run this command with the real provider (terraform init with registry access)."
)


def _block_pb(block: dict[str, Any]) -> pb.Schema.Block:
    attributes = [
        pb.Schema.Attribute(
            name=name,
            type=json.dumps(attr["type"]).encode(),
            description=attr.get("description", ""),
            required=bool(attr.get("required")),
            optional=bool(attr.get("optional")),
            computed=bool(attr.get("computed")),
            sensitive=bool(attr.get("sensitive")),
        )
        for name, attr in sorted(block.get("attributes", {}).items())
    ]
    nested = [
        pb.Schema.NestedBlock(
            type_name=name,
            nesting=_NESTING[spec["nesting_mode"]],
            block=_block_pb(spec["block"]),
            min_items=spec.get("min_items", 0),
            max_items=spec.get("max_items", 0),
        )
        for name, spec in sorted(block.get("block_types", {}).items())
    ]
    return pb.Schema.Block(attributes=attributes, block_types=nested)


def _schema_pb(schema: dict[str, Any]) -> pb.Schema:
    return pb.Schema(version=schema.get("version", 0), block=_block_pb(schema["block"]))


def compile_schema(doc: dict[str, Any]) -> bytes:
    """The serialized ``GetProviderSchema`` answer for a provider schema document."""
    response = pb.GetProviderSchema.Response(
        provider=_schema_pb(doc["provider"]),
        provider_meta=pb.Schema(block=pb.Schema.Block()),
        resource_schemas={k: _schema_pb(v) for k, v in doc["resource_schemas"].items()},
        data_source_schemas={k: _schema_pb(v) for k, v in doc.get("data_source_schemas", {}).items()},
        server_capabilities=pb.ServerCapabilities(plan_destroy=True),
    )
    return response.SerializeToString()


def load_document(path: Path) -> dict[str, Any]:
    """Accept our own schema JSON or ``terraform providers schema -json`` (first provider in it)."""
    doc = json.loads(path.read_text())
    if "provider_schemas" in doc:
        doc = next(iter(doc["provider_schemas"].values()))
    return doc


def _planned(block: dict[str, Any], value: Any) -> Any:
    """Mark computed attributes the configuration left null as unknown, through nested blocks."""
    if not isinstance(value, dict):
        return value
    out = dict(value)
    for name, attr in block.get("attributes", {}).items():
        if attr.get("computed") and out.get(name) is None:
            out[name] = Unknown
    for name, spec in block.get("block_types", {}).items():
        nested = out.get(name)
        if nested is None or nested is Unknown:
            continue
        if spec["nesting_mode"] in ("single", "group"):
            out[name] = _planned(spec["block"], nested)
        elif spec["nesting_mode"] == "map":
            out[name] = {k: _planned(spec["block"], v) for k, v in nested.items()}
        else:
            out[name] = [_planned(spec["block"], v) for v in nested]
    return out


def _placeholder(type_: Any) -> Any:
    if type_ == "string":
        return ""
    if type_ == "number":
        return 0
    if type_ == "bool":
        return False
    if isinstance(type_, list) and type_[0] in ("list", "set", "tuple"):
        return []
    if isinstance(type_, list) and type_[0] == "map":
        return {}
    if isinstance(type_, list) and type_[0] == "object":
        return {k: _placeholder(v) for k, v in type_[1].items()}
    return None


def _read_data(block: dict[str, Any], value: dict[str, Any]) -> dict[str, Any]:
    """A data source's result: the configuration, with empty values where the cloud would answer."""
    out = dict(value)
    for name, attr in block.get("attributes", {}).items():
        if attr.get("computed") and out.get(name) is None:
            out[name] = _placeholder(attr["type"])
    return out


def _error(summary: str, detail: str = _NO_CLOUD) -> list[pb.Diagnostic]:
    return [pb.Diagnostic(severity=pb.Diagnostic.ERROR, summary=summary, detail=detail)]


class SchemaOnlyProvider(rpc.ProviderServicer):
    def __init__(self, doc: dict[str, Any], compiled: bytes) -> None:
        self._doc = doc
        self._compiled = compiled

    def _resource(self, type_name: str) -> dict[str, Any]:
        return self._doc["resource_schemas"][type_name]["block"]

    def GetMetadata(self, request, context):
        return pb.GetMetadata.Response(
            server_capabilities=pb.ServerCapabilities(plan_destroy=True),
            resources=[pb.GetMetadata.ResourceMetadata(type_name=t) for t in self._doc["resource_schemas"]],
            data_sources=[
                pb.GetMetadata.DataSourceMetadata(type_name=t) for t in self._doc.get("data_source_schemas", {})
            ],
        )

    def GetProviderSchema(self, request, context):
        return pb.GetProviderSchema.Response.FromString(self._compiled)

    def ValidateProviderConfig(self, request, context):
        return pb.ValidateProviderConfig.Response()

    def ValidateResourceConfig(self, request, context):
        return pb.ValidateResourceConfig.Response()

    def ValidateDataResourceConfig(self, request, context):
        return pb.ValidateDataResourceConfig.Response()

    def ConfigureProvider(self, request, context):
        return pb.ConfigureProvider.Response()

    def UpgradeResourceState(self, request, context):
        state = json.loads(request.raw_state.json) if request.raw_state.json else None
        return pb.UpgradeResourceState.Response(upgraded_state=to_dynamic_value(state))

    def ReadResource(self, request, context):
        return pb.ReadResource.Response(new_state=request.current_state, private=request.private)

    def PlanResourceChange(self, request, context):
        prior = read_dynamic_value(request.prior_state)
        proposed = read_dynamic_value(request.proposed_new_state)
        if proposed is None or prior is not None:
            return pb.PlanResourceChange.Response(planned_state=request.proposed_new_state)
        planned = _planned(self._resource(request.type_name), proposed)
        return pb.PlanResourceChange.Response(planned_state=to_dynamic_value(planned))

    def ApplyResourceChange(self, request, context):
        return pb.ApplyResourceChange.Response(diagnostics=_error(f"Cannot apply {request.type_name}"))

    def ImportResourceState(self, request, context):
        return pb.ImportResourceState.Response(diagnostics=_error(f"Cannot import {request.type_name}"))

    def MoveResourceState(self, request, context):
        return pb.MoveResourceState.Response(diagnostics=_error(f"Cannot move {request.target_type_name}"))

    def ReadDataSource(self, request, context):
        config = read_dynamic_value(request.config) or {}
        block = self._doc["data_source_schemas"][request.type_name]["block"]
        return pb.ReadDataSource.Response(state=to_dynamic_value(_read_data(block, config)))

    def GetFunctions(self, request, context):
        return pb.GetFunctions.Response()

    def CallFunction(self, request, context):
        return pb.CallFunction.Response(error=pb.FunctionError(text=f"Cannot call {request.name}: {_NO_CLOUD}"))

    def StopProvider(self, request, context):
        return pb.StopProvider.Response()


def _certificate() -> tuple[bytes, bytes, bytes]:
    """A throwaway self-signed certificate for go-plugin's TLS: (key PEM, cert PEM, cert DER)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return (
        key_pem,
        cert.public_bytes(serialization.Encoding.PEM),
        cert.public_bytes(serialization.Encoding.DER),
    )


class _Controller(grpc_controller_pb2_grpc.GRPCControllerServicer):
    def __init__(self, server_ref: list[grpc.Server]) -> None:
        self._server_ref = server_ref

    def Shutdown(self, request, context):
        self._server_ref[0].stop(grace=0.2)
        return grpc_controller_pb2.Empty()


def serve(doc: dict[str, Any], compiled: bytes) -> None:
    if os.environ.get(_MAGIC_COOKIE[0]) != _MAGIC_COOKIE[1]:
        print("This is a Terraform provider plugin: Terraform starts it, not you.", file=sys.stderr)
        raise SystemExit(1)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    rpc.add_ProviderServicer_to_server(SchemaOnlyProvider(doc, compiled), server)
    grpc_controller_pb2_grpc.add_GRPCControllerServicer_to_server(_Controller([server]), server)
    grpc_stdio_pb2_grpc.add_GRPCStdioServicer_to_server(grpc_stdio_pb2_grpc.GRPCStdioServicer(), server)
    key_pem, cert_pem, cert_der = _certificate()
    credentials = grpc.ssl_server_credentials([(key_pem, cert_pem)], require_client_auth=False)
    with tempfile.TemporaryDirectory(prefix="tfschema-") as tmp:
        socket = f"{tmp}/plugin.sock"
        server.add_secure_port(f"unix://{socket}", credentials)
        server.start()
        cert = base64.b64encode(cert_der).decode().rstrip("=")
        print(f"1|6|unix|{socket}|grpc|{cert}", flush=True)
        server.wait_for_termination()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--schema", type=Path, required=True, help="provider schema JSON")
    parser.add_argument("--compile", action="store_true", help="write SCHEMA.pb beside the JSON and exit")
    args = parser.parse_args(argv)
    compiled_path = args.schema.with_suffix(".pb")
    doc = load_document(args.schema)
    if args.compile or not compiled_path.exists():
        compiled_path.write_bytes(compile_schema(doc))
        if args.compile:
            return 0
    serve(doc, compiled_path.read_bytes())
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
