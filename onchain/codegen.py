"""Python modules generated from the compiled ABIs: typed enums, structs, events and errors.

``python -m onchain.compiler`` writes them after the artifacts, and
``python -m onchain.codegen`` writes them again from the committed artifacts
alone (no compiler, no network). One module per contract in ``onchain/abi/``:

* every enum the ABI refers to, as an ``IntEnum`` (members from the
  compiler's AST, saved in the artifact: the ABI only says ``uint8``);
* every struct, and the outputs of every view returning several values, as a
  frozen dataclass built by component name (fields in snake_case);
* every event as a frozen dataclass on ``onchain.events.EventBase``: typed
  fields under the ABI's argument names, ``TOPIC0`` and ``INDEXED``;
* every custom error as a subclass of ``onchain.errors.ContractRevert`` with
  typed attributes, and ``ERRORS``, the table from selector to class.

The output depends only on the artifact, so generation is deterministic, and
each file's header names the artifact's SHA-256: ``check_fresh`` fails when a
file differs from what the committed artifact gives.
"""

from __future__ import annotations

import argparse
import hashlib
import keyword
import re
import sys
import textwrap
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eth_utils.crypto import keccak

from onchain.abicodec import Param, signature
from onchain.artifacts import ARTIFACT_DIR, Artifact
from onchain.errors import ArtifactError

ABI_DIR = Path(__file__).resolve().parent / "abi"
WIDTH = 116
RESERVED = frozenset({"block_number", "tx_hash", "log_index", "address", "location", "event_name", "args",
                      "fields", "error_name", "contract_name", "with_traceback", "add_note"})


def module_name(contract: str) -> str:
    """``JobManager`` -> ``job_manager``."""
    return snake(contract)


def snake(name: str) -> str:
    """``tlsFingerprint`` -> ``tls_fingerprint``."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


def member_name(name: str) -> str:
    """An enum member's Python name: ``InputsCommitted`` -> ``INPUTS_COMMITTED``."""
    return snake(name).upper()


def arg_name(name: str, index: int) -> str:
    """An event or error argument's Python name: its ABI name (``from`` becomes ``from_``)."""
    name = name or f"arg{index}"
    return f"{name}_" if keyword.iskeyword(name) else name


def to_param(item: dict[str, Any]) -> Param:
    components = tuple(to_param(c) for c in item.get("components", []))
    return Param(item["name"], item["type"], components, bool(item.get("indexed", False)))


@dataclass(frozen=True)
class Typed:
    """A parameter's Python annotation and the expression converting its decoded value."""

    annotation: str
    expression: str


@dataclass
class Module:
    """What one generated module holds, in order, and the names it imports."""

    artifact: Artifact
    digest: str
    blocks: list[str] = field(default_factory=list)
    uses: set[str] = field(default_factory=set)
    names: set[str] = field(default_factory=set)

    def claim(self, name: str) -> str:
        if name in self.names:
            raise ArtifactError(f"{self.artifact.contract_name}: two generated classes would be named {name}")
        self.names.add(name)
        return name

    def typed(self, item: dict[str, Any], value: str, depth: int = 0) -> Typed:
        """How a value of ABI parameter ``item`` is typed and converted from ``value``."""
        kind, internal = item["type"], item.get("internalType", item["type"])
        if kind.endswith("]"):
            element = {**item, "type": kind[:kind.rindex("[")], "internalType": internal[:internal.rindex("[")]}
            var = f"v{depth}"
            inner = self.typed(element, var, depth + 1)
            return Typed(f"tuple[{inner.annotation}, ...]", f"tuple({inner.expression} for {var} in {value})")
        if kind == "tuple":
            name = internal.removeprefix("struct ").split(".")[-1]
            return Typed(name, f"{name}.from_abi({value})")
        if internal.startswith("enum "):
            name = internal.removeprefix("enum ").split(".")[-1]
            return Typed(name, f"{name}({value})")
        if kind == "address":
            self.uses.add("address")
            return Typed("str", f"address({value})")
        for prefix, python in (("uint", "int"), ("int", "int"), ("bool", "bool"), ("string", "str"),
                               ("bytes", "bytes")):
            if kind.startswith(prefix):
                return Typed(python, f"{python}({value})")
        raise ArtifactError(f"{self.artifact.contract_name}: no Python type for ABI type {kind}")


def generate(artifact: Artifact, digest: str) -> str:
    """The source of the module for ``artifact`` (whose file has SHA-256 ``digest``)."""
    mod = Module(artifact, digest)
    abi = artifact.abi
    for name, members in sorted(artifact.enums.items()):
        mod.blocks.append(_enum(mod, name, members))
    for name, struct in sorted(_structs(abi).items()):
        mod.blocks.append(_struct(mod, struct, name.split(".")[-1], f"The struct {name}."))
    for item in abi:
        if item["type"] == "function" and len(item["outputs"]) > 1:
            title = item["name"][0].upper() + item["name"][1:]
            mod.blocks.append(_struct(mod, item["outputs"], title, f"What {item['name']} returns."))
    events = [i for i in abi if i["type"] == "event"]
    errors = [i for i in abi if i["type"] == "error"]
    mod.blocks.append(_event_base(mod))
    mod.blocks += [_event(mod, item) for item in events]
    mod.blocks += [_error(mod, item) for item in errors]
    mod.blocks.append(_tables(mod, [i["name"] for i in events], [i["name"] for i in errors]))
    return _header(mod) + "\n\n\n".join(mod.blocks) + "\n"


def _structs(abi: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Every struct the ABI refers to: canonical name -> components."""
    found: dict[str, list[dict[str, Any]]] = {}

    def walk(param: dict[str, Any]) -> None:
        if param["type"].startswith("tuple"):
            name = param.get("internalType", "").removeprefix("struct ").split("[")[0]
            if not name or name == "tuple":
                raise ArtifactError(f"an ABI tuple without a struct name: {param.get('name')}")
            found[name] = param["components"]
        for component in param.get("components", []):
            walk(component)

    for item in abi:
        for param in item.get("inputs", []) + item.get("outputs", []):
            walk(param)
    return found


def _header(mod: Module) -> str:
    name = mod.artifact.contract_name
    imports = ["from __future__ import annotations", ""]
    if mod.artifact.enums:
        imports.append("import enum")
    imports += ["from collections.abc import Mapping", "from dataclasses import dataclass",
                "from typing import ClassVar, Self", ""]
    codec = sorted({"Param", "Values"} | ({"Struct"} if "Struct" in mod.uses else set())
                   | ({"address"} if "address" in mod.uses else set()), key=lambda n: (n[0].islower(), n))
    imports += [f"from onchain.abicodec import {', '.join(codec)}", "from onchain.errors import ContractRevert",
                "from onchain.events import EventBase, Location"]
    return "\n".join([
        f"# Generated by onchain.codegen from onchain/artifacts/{name}.json,",
        f"# sha256 {mod.digest}.",
        "# Do not edit: change contracts/ and run `python -m onchain.compiler`.",
        f'"""The chain data of {name}, typed: its enums, structs, events and custom errors."""',
        "", *imports, "", f'CONTRACT = "{name}"', f'ARTIFACT_SHA256 = "{mod.digest}"', "", "", ""])


def _doc(text: str, indent: str = "    ") -> list[str]:
    """A docstring for ``text``, wrapped to the line length."""
    text = " ".join(text.replace("\\", "\\\\").replace('"""', "'''").split())
    lines = textwrap.wrap(text, WIDTH - len(indent) - 6) or [""]
    if len(lines) == 1:
        return [f'{indent}"""{lines[0]}"""']
    return [f'{indent}"""{lines[0]}', *(f"{indent}{line}" for line in lines[1:]), f'{indent}"""']


def _params(params: Sequence[Param], indent: str = "        ") -> Iterator[str]:
    for p in params:
        yield f"{indent}{_param_literal(p, indent)},"


def _param_literal(p: Param, indent: str) -> str:
    extra = ", indexed=True" if p.indexed else ""
    if not p.components:
        return f'Param("{p.name}", "{p.type}"{extra})'
    inner = "\n".join(f"{indent}    {_param_literal(c, indent + '    ')}," for c in p.components)
    return f'Param("{p.name}", "{p.type}", (\n{inner}\n{indent}){extra})'


def _class_params(name: str, params: Sequence[Param]) -> list[str]:
    if not params:
        return [f"    {name}: ClassVar[tuple[Param, ...]] = ()"]
    return [f"    {name}: ClassVar[tuple[Param, ...]] = (", *_params(params), "    )"]


def _enum(mod: Module, canonical: str, members: list[str]) -> str:
    name = mod.claim(canonical.split(".")[-1])
    lines = [f"class {name}(enum.IntEnum):", *_doc(f"The enum {canonical}."), ""]
    lines += [f"    {member_name(m)} = {i}" for i, m in enumerate(members)]
    return "\n".join(lines)


def _struct(mod: Module, components: list[dict[str, Any]], name: str, doc: str) -> str:
    mod.claim(name)
    mod.uses.add("Struct")
    params = [to_param(c) for c in components]
    lines = ["@dataclass(frozen=True)", f"class {name}(Struct):", *_doc(doc), ""]
    lines += [*_class_params("COMPONENTS", params), ""]
    typed = [(snake(c["name"]), c["name"], mod.typed(c, f'values["{c["name"]}"]')) for c in components]
    lines += [f"    {py}: {t.annotation}" for py, _, t in typed]
    lines += ["", "    @classmethod", "    def from_abi(cls, values: Values) -> Self:", "        return cls("]
    lines += [f"            {py}={t.expression}," for py, _, t in typed]
    lines.append("        )")
    return "\n".join(lines)


def _event_base(mod: Module) -> str:
    name = mod.claim(f"{mod.artifact.contract_name}Event")
    return "\n".join(["@dataclass(frozen=True)", f"class {name}(EventBase):",
                      *_doc(f"An event of {mod.artifact.contract_name}."), "",
                      "    CONTRACT: ClassVar[str] = CONTRACT"])


def _arguments(mod: Module, item: dict[str, Any], source: str) -> list[tuple[str, Typed]]:
    found = []
    for i, p in enumerate(item["inputs"]):
        name = arg_name(p["name"], i)
        if name in RESERVED:
            raise ArtifactError(f"{mod.artifact.contract_name}.{item['name']}: argument {name} is reserved")
        param = to_param(p)
        if p.get("indexed") and param.dynamic:
            found.append((name, Typed("bytes", f'bytes({source}["{p["name"]}"])')))
        else:
            found.append((name, mod.typed(p, f'{source}["{p["name"]}"]')))
    return found


def _notice(mod: Module, section: str, sig: str, fallback: str) -> str:
    doc = mod.artifact.userdoc.get(section, {}).get(sig)
    if isinstance(doc, list):
        doc = doc[0] if doc else None
    notice = doc.get("notice") if isinstance(doc, dict) else None
    return notice if isinstance(notice, str) and notice.strip() else fallback


def _event(mod: Module, item: dict[str, Any]) -> str:
    name = mod.claim(item["name"])
    params = [to_param(p) for p in item["inputs"]]
    sig = signature(name, params)
    base = f"{mod.artifact.contract_name}Event"
    lines = ["@dataclass(frozen=True)", f"class {name}({base}):", *_doc(_notice(mod, "events", sig, sig)), ""]
    lines += [f'    SIGNATURE: ClassVar[str] = "{sig}"',
              f'    TOPIC0: ClassVar[bytes] = bytes.fromhex("{keccak(text=sig).hex()}")']
    lines += _class_params("INPUTS", params)
    indexed = [f'"{p.name}"' for p in params if p.indexed]
    lines.append(f"    INDEXED: ClassVar[tuple[str, ...]] = ({', '.join(indexed)}{',' if len(indexed) == 1 else ''})")
    args = _arguments(mod, item, "args")
    lines += ["", *(f"    {n}: {t.annotation}" for n, t in args)]
    lines += ["", "    @classmethod", "    def from_abi(cls, at: Location, args: Values) -> Self:",
              "        return cls(", "            *at,", *(f"            {n}={t.expression}," for n, t in args),
              "        )"]
    return "\n".join(lines)


def _error(mod: Module, item: dict[str, Any]) -> str:
    name = mod.claim(item["name"])
    params = [to_param(p) for p in item["inputs"]]
    sig = signature(name, params)
    lines = [f"class {name}(ContractRevert):", *_doc(_notice(mod, "errors", sig, sig)), ""]
    lines += ["    contract_name = CONTRACT", f'    error_name = "{name}"', f'    SIGNATURE: ClassVar[str] = "{sig}"',
              f'    SELECTOR: ClassVar[bytes] = bytes.fromhex("{keccak(text=sig)[:4].hex()}")']
    lines += _class_params("INPUTS", params)
    args = _arguments(mod, item, "args")
    if args:
        lines += ["", *(f"    {n}: {t.annotation}" for n, t in args), ""]
        lines.append(f"    def __init__(self, {', '.join(f'{n}: {t.annotation}' for n, t in args)}) -> None:")
        lines += [f"        self.{n} = {n}" for n, _ in args]
        lines.append(f"        super().__init__({{{', '.join(f'{_q(n)}: {n}' for n, _ in args)}}})")
    lines += ["", "    @classmethod", "    def from_abi(cls, args: Values) -> Self:"]
    if args:
        lines += ["        return cls(", *(f"            {n}={t.expression}," for n, t in args), "        )"]
    else:
        lines.append("        return cls()")
    return "\n".join(lines)


def _q(name: str) -> str:
    return f'"{name}"'


def _tables(mod: Module, events: list[str], errors: list[str]) -> str:
    contract = mod.artifact.contract_name
    mod.claim("Errors")
    lines = [f"EVENTS: tuple[type[{contract}Event], ...] = (", *(f"    {e}," for e in events), ")", ""]
    lines += ["ERRORS: Mapping[bytes, type[ContractRevert]] = {", *(f"    {e}.SELECTOR: {e}," for e in errors),
              "}", "", ""]
    lines += ["class Errors:", *_doc(f"The custom errors of {contract} by name; its client class inherits "
                                     f"them, so that callers write ``except {contract}.<Error>``."), ""]
    lines += [f"    {e} = {e}" for e in errors] or ["    pass"]
    return "\n".join(lines)


def expected(directory: Path = ARTIFACT_DIR) -> dict[Path, str]:
    """Every generated file and the text the artifact files in ``directory`` give it (read afresh)."""
    files: dict[Path, str] = {}
    for path in sorted(directory.glob("*.json")):
        raw = path.read_bytes()
        artifact = Artifact.model_validate_json(raw)
        files[ABI_DIR / f"{module_name(path.stem)}.py"] = generate(artifact, hashlib.sha256(raw).hexdigest())
    files[ABI_DIR / "__init__.py"] = _package(sorted(p.stem for p in directory.glob("*.json")))
    return files


def _package(names: list[str]) -> str:
    lines = ["# Generated by onchain.codegen. Do not edit: run `python -m onchain.compiler`.",
             '"""Typed chain data generated from the ABIs, one module per contract (see onchain.codegen)."""', "",
             "from __future__ import annotations", "", "from collections.abc import Mapping", "",
             "from onchain.abi import " + ", ".join(module_name(n) for n in names),
             "from onchain.errors import ContractRevert", "",
             "ERROR_TABLES: tuple[Mapping[bytes, type[ContractRevert]], ...] = (",
             *(f"    {module_name(n)}.ERRORS," for n in names), ")",
             '"""Every contract\'s errors by selector, to decode a revert that bubbled up from a called contract."""',
             ""]
    return "\n".join(lines)


def write(directory: Path = ARTIFACT_DIR) -> list[Path]:
    """Write every module and drop modules of contracts that are gone."""
    ABI_DIR.mkdir(exist_ok=True)
    files = expected(directory)
    for path, text in files.items():
        path.write_text(text)
    for stale in ABI_DIR.glob("*.py"):
        if stale not in files:
            stale.unlink()
    return sorted(files)


def check_fresh(directory: Path = ARTIFACT_DIR) -> None:
    """Raise ``ArtifactError`` if a generated module differs from what the artifacts in ``directory`` give."""
    for path, text in expected(directory).items():
        if not path.exists() or path.read_text() != text:
            raise ArtifactError(f"{path.name} in onchain/abi is stale or missing: it is not what the committed "
                                "artifacts give; run `python -m onchain.codegen` and commit onchain/abi/")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Generate onchain/abi/ from onchain/artifacts/")
    parser.parse_args(argv)
    for path in write():
        print(f"wrote {path.relative_to(ABI_DIR.parent.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
