"""JSON schemas kubeconform validates the manifests against, vendored in deploy/schemas/.

kubeconform fetches schemas from the internet by default; here they are in the repo, made
by this module from the pinned sources (both Go modules, fetched with `go mod download`
from the Go module proxy and checked against the hashes below):

* Kubernetes' own kinds: ``api/openapi-spec/swagger.json`` of k8s.io/kubernetes
  (KUBERNETES_VERSION), into ``deploy/schemas/kubernetes/<version>/<kind>-<group>-<v>.json``;
* custom resources: the CRD YAML of the operator that serves them (CRDS), e.g. ScyllaCluster
  from github.com/scylladb/scylla-operator, into ``deploy/schemas/crds/<group>/<kind>_<v>.json``.

Conversion: every ``$ref`` inlined, descriptions and defaults dropped, and
``additionalProperties: false`` on each object that lists its properties, so that
``kubeconform -strict`` rejects any field the API does not have; int-or-string fields and
quantities accept both forms. Only the kinds the overlays use are written
(`./photomesh k8s schemas` renders them to find out).
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
SCHEMAS = REPO / "deploy" / "schemas"

KUBERNETES_MODULE = "k8s.io/kubernetes"
KUBERNETES_VERSION = "v1.34.4"
KUBERNETES_SUM = "h1:Yy6R4QB8C9kJPp25GFqEvX5XQwY5qzKeqD0Xx6oAcmk="
KUBERNETES_SPEC = "api/openapi-spec/swagger.json"


@dataclass(frozen=True)
class CrdSource:
    """A CRD file in a pinned Go module. `sum` is the module's go.sum hash (checked here,
    as the checksum database does not list every tag)."""

    module: str
    version: str
    sum: str
    path: str


CRDS: tuple[CrdSource, ...] = (
    CrdSource("github.com/scylladb/scylla-operator", "v1.18.0",
              "h1:Pv6IkFWtc0h9TUqQH0CO7/rdJBoxglYp0sKqYMnKLic=",
              "pkg/api/scylla/v1/scylla.scylladb.com_scyllaclusters.yaml"),
)

#: Fields kept from a schema node; everything else (descriptions, defaults, x-* hints) goes.
KEPT = ("type", "format", "enum", "required", "pattern", "minimum", "maximum", "minLength",
        "maxLength", "minItems", "maxItems", "exclusiveMinimum", "exclusiveMaximum")
INT_OR_STRING = {"oneOf": [{"type": "string"}, {"type": "integer"}]}
QUANTITY = {"oneOf": [{"type": "string"}, {"type": "number"}]}


def kubernetes_dir(version: str = KUBERNETES_VERSION) -> Path:
    return SCHEMAS / "kubernetes" / version


def kind_file(api_version: str, kind: str, version: str = KUBERNETES_VERSION) -> Path:
    """Where kubeconform looks for a built-in kind (its `{{ .ResourceKind }}{{ .KindSuffix
    }}.json` naming) or, for a custom resource, `crds/{{ .Group }}/{{ .ResourceKind }}_{{
    .ResourceAPIVersion }}.json`."""
    group, _, ver = api_version.rpartition("/")
    if is_custom(group):
        return SCHEMAS / "crds" / group / f"{kind.lower()}_{ver}.json"
    suffix = f"-{group.split('.')[0]}-{ver}" if group else f"-{ver}"
    return kubernetes_dir(version) / f"{kind.lower()}{suffix}.json"


def is_custom(group: str) -> bool:
    """Groups served by CRDs rather than by Kubernetes itself."""
    return any(crd_group(source) == group for source in CRDS)


def crd_group(source: CrdSource) -> str:
    return source.path.rsplit("/", 1)[-1].split("_", 1)[0]


def schema_locations(version: str = KUBERNETES_VERSION) -> list[str]:
    """kubeconform -schema-location values (local files only, never the network)."""
    return [str(kubernetes_dir(version)) + "/{{ .ResourceKind }}{{ .KindSuffix }}.json",
            str(SCHEMAS / "crds") + "/{{ .Group }}/{{ .ResourceKind }}_{{ .ResourceAPIVersion }}"
            ".json"]


# --- conversion --------------------------------------------------------------------------

def _convert(node: Mapping[str, Any], definitions: Mapping[str, Any],
             seen: tuple[str, ...] = ()) -> dict[str, Any]:
    if "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        if name.endswith("util.intstr.IntOrString"):
            return dict(INT_OR_STRING)
        if name.endswith("api.resource.Quantity"):
            return dict(QUANTITY)
        if name in seen:
            raise ValueError(f"recursive schema {' -> '.join((*seen, name))}")
        return _convert(definitions[name], definitions, (*seen, name))
    if node.get("x-kubernetes-int-or-string") or node.get("format") == "int-or-string":
        return dict(INT_OR_STRING)
    out = {key: node[key] for key in KEPT if key in node}
    if out.get("format") == "int-or-string":
        del out["format"]
    if node.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
    if "items" in node:
        out["items"] = _convert(node["items"], definitions, seen)
    for key in ("oneOf", "anyOf", "allOf"):
        if key in node:
            out[key] = [_convert(item, definitions, seen) for item in node[key]]
    if "properties" in node:
        out["properties"] = {name: _convert(prop, definitions, seen)
                             for name, prop in node["properties"].items()}
    extra = node.get("additionalProperties")
    if isinstance(extra, Mapping):
        out["additionalProperties"] = _convert(extra, definitions, seen)
    elif extra is not None:
        out["additionalProperties"] = extra
    elif "properties" in node and not node.get("x-kubernetes-preserve-unknown-fields"):
        out["additionalProperties"] = False
    return out


def _pin_kind(schema: dict[str, Any], api_version: str, kind: str) -> dict[str, Any]:
    props = schema.setdefault("properties", {})
    props["apiVersion"] = {"type": "string", "enum": [api_version]}
    props["kind"] = {"type": "string", "enum": [kind]}
    return schema


def kubernetes_schema(spec: Mapping[str, Any], api_version: str, kind: str) -> dict[str, Any]:
    """The strict, self-contained schema of one built-in kind from swagger.json."""
    group, _, version = api_version.rpartition("/")
    definitions = spec["definitions"]
    for name, definition in definitions.items():
        for gvk in definition.get("x-kubernetes-group-version-kind", []):
            if (gvk["group"], gvk["version"], gvk["kind"]) == (group, version, kind):
                return _pin_kind(_convert(definition, definitions, (name,)), api_version, kind)
    raise KeyError(f"{api_version} {kind} is not in Kubernetes {KUBERNETES_VERSION}")


def crd_schemas(crd: Mapping[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    """(apiVersion, kind) -> strict schema, for every served version of one CRD."""
    group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
    found = {}
    for version in crd["spec"]["versions"]:
        if version.get("served", True):
            api_version = f"{group}/{version['name']}"
            schema = _convert(version["schema"]["openAPIV3Schema"], {})
            found[(api_version, kind)] = _pin_kind(schema, api_version, kind)
    return found


# --- sources -----------------------------------------------------------------------------

def module_dir(module: str, version: str, expected_sum: str) -> Path:
    """`go mod download` of one module version (cached by Go); checks its hash."""
    from infra.install import _go

    env = dict(os.environ, GOFLAGS="-mod=mod", GONOSUMDB=module)
    done = subprocess.run([_go(), "mod", "download", "-json", f"{module}@{version}"],
                          env=env, capture_output=True, text=True, cwd="/", timeout=900)
    info = json.loads(done.stdout or "{}")
    if done.returncode != 0 or "Error" in info:
        raise RuntimeError(f"go mod download {module}@{version}: "
                           f"{info.get('Error') or done.stderr.strip()}")
    if info.get("Sum") != expected_sum:
        raise RuntimeError(f"{module}@{version} has hash {info.get('Sum')}, expected "
                           f"{expected_sum}: refusing to use it")
    return Path(info["Dir"])


def _write(path: Path, schema: dict[str, Any], source: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    body = {"$comment": f"generated by infra/k8s/schemas.py from {source}", **schema}
    path.write_text(json.dumps(body, sort_keys=True, separators=(",", ":")) + "\n")


def vendor(kinds: Iterable[tuple[str, str]]) -> list[Path]:
    """Write the schemas of `kinds` ((apiVersion, kind) pairs) into deploy/schemas/, and
    remove vendored schemas no longer used. Returns the files written."""
    import yaml

    wanted = set(kinds)
    written: list[Path] = []
    builtin = sorted(k for k in wanted if not is_custom(k[0].rpartition("/")[0]))
    if builtin:
        root = module_dir(KUBERNETES_MODULE, KUBERNETES_VERSION, KUBERNETES_SUM)
        spec = json.loads((root / KUBERNETES_SPEC).read_text())
        source = f"{KUBERNETES_MODULE}@{KUBERNETES_VERSION} {KUBERNETES_SPEC}"
        for api_version, kind in builtin:
            path = kind_file(api_version, kind)
            _write(path, kubernetes_schema(spec, api_version, kind), source)
            written.append(path)
    for crd_source in CRDS:
        crd = yaml.safe_load((module_dir(crd_source.module, crd_source.version, crd_source.sum)
                              / crd_source.path).read_text())
        for (api_version, kind), schema in crd_schemas(crd).items():
            if (api_version, kind) in wanted:
                path = kind_file(api_version, kind)
                _write(path, schema, f"{crd_source.module}@{crd_source.version} "
                                     f"{crd_source.path}")
                written.append(path)
    missing = {kind_file(*k) for k in wanted} - set(written)
    if missing:
        raise RuntimeError(f"no source for {sorted(str(p) for p in missing)}: add its CRD to "
                           f"CRDS in infra/k8s/schemas.py")
    for stale in set(SCHEMAS.rglob("*.json")) - set(written):
        stale.unlink()
    return written
