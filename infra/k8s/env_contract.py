"""Which PHOTOMESH_* variables each process reads (from the code) and each container of the
manifests is given (from a rendered overlay), so tests/deploy can compare the two.

A process reads:

* its own server settings (host, port, drain …, prefix ``PHOTOMESH_<PROCESS>_``) and its
  service's settings class, the second argument of the ``main(...)`` call in its module
  (``main("post", PostSettings, Needs(...), build)``), every field;
* the backend classes its ``Needs(...)`` asks for: services/runtime/backends.py loads each
  under ``if <need>:`` (found there, not assumed);
* every class passed to ``load(...)`` in its module or in any ``services.*`` module it
  imports, directly or not (the runtime's auth, telemetry and peer settings).

Each field is one variable, named as pydantic-settings names it: the field's alias, or the
class's env prefix plus the field name, upper-case.
"""

from __future__ import annotations

import ast
import importlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import AliasChoices, SecretStr
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings

from infra.services import SERVICE_PORTS, service_module

REPO = Path(__file__).resolve().parents[2]
BACKENDS_MODULE = "services.runtime.backends"
MIGRATIONS_MODULE = "services.runtime.migrations"

#: Every process that runs in the cluster -> its module (`python -m <module>`).
PROCESSES: dict[str, str] = {**{name: service_module(name) for name in SERVICE_PORTS},
                             "migrations": MIGRATIONS_MODULE}

#: Name fragments of settings whose values are secrets: they come from a Secret.
SECRET_WORDS = ("secret", "password", "access_key")


@dataclass(frozen=True)
class Setting:
    """One variable a process reads."""

    env: str
    cls: type[BaseSettings]
    field: str
    info: FieldInfo

    @property
    def secret(self) -> bool:
        if self.env.endswith("_PATH"):
            return False  # a path to a mounted Secret, not a secret itself
        return (SecretStr in _types(self.info.annotation)
                or any(word in self.field for word in SECRET_WORDS))

    @property
    def required(self) -> bool:
        return self.info.is_required()


def _types(annotation: Any) -> set[Any]:
    args = getattr(annotation, "__args__", None)
    return {annotation} if not args else {t for a in args for t in _types(a)}


# --- reading the code ----------------------------------------------------------------------

def module_file(module: str) -> Path:
    base = REPO / Path(*module.split("."))
    return base.with_suffix(".py") if base.with_suffix(".py").exists() else base / "__init__.py"


@cache
def _tree(module: str) -> ast.Module:
    return ast.parse(module_file(module).read_text())


def _is_module(name: str) -> bool:
    base = REPO / Path(*name.split("."))
    return base.with_suffix(".py").exists() or (base / "__init__.py").exists()


def imported_modules(module: str) -> set[str]:
    """The services.* modules `module` imports, at the top or inside functions."""
    found = set()
    for node in ast.walk(_tree(module)):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("services.")}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("services"):
            assert node.module is not None
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                found.add(sub if _is_module(sub) else node.module)
    return {m for m in found if _is_module(m)}


def closure(module: str) -> set[str]:
    seen, todo = set(), [module]
    while todo:
        current = todo.pop()
        if current not in seen:
            seen.add(current)
            todo.extend(imported_modules(current) - seen)
    return seen


def _loaded_names(nodes: Iterable[ast.AST]) -> list[str]:
    """Names passed to `load(X)` in these nodes."""
    names = []
    for root in nodes:
        for node in ast.walk(root):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                    and node.func.id == "load" and node.args
                    and isinstance(node.args[0], ast.Name)):
                names.append(node.args[0].id)
    return names


def _settings_class(module: str, name: str) -> type[BaseSettings] | None:
    value = getattr(importlib.import_module(module), name, None)
    if isinstance(value, type) and issubclass(value, BaseSettings):
        return value
    return None  # a parameter (`load(settings_cls)`), not a class


@cache
def needs_classes() -> dict[str, tuple[type[BaseSettings], ...]]:
    """`Needs` field -> the classes open_backends loads under ``if <field>:``."""
    found: dict[str, tuple[type[BaseSettings], ...]] = {}
    for node in ast.walk(_tree(BACKENDS_MODULE)):
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name):
            classes = [_settings_class(BACKENDS_MODULE, n) for n in _loaded_names(node.body)]
            if any(classes):
                found[node.test.id] = tuple(c for c in classes if c is not None)
    return found


def main_call(module: str) -> tuple[type[BaseSettings], tuple[str, ...]] | None:
    """The process's own settings class and its Needs(...) keywords, from `main(...)`."""
    for node in ast.walk(_tree(module)):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                and node.func.id == "main" and len(node.args) >= 3
                and isinstance(node.args[1], ast.Name) and isinstance(node.args[2], ast.Call)):
            own = _settings_class(module, node.args[1].id)
            assert own is not None, f"{module}: main's settings class not found"
            needs = tuple(k.arg for k in node.args[2].keywords
                          if k.arg and isinstance(k.value, ast.Constant) and k.value.value)
            return own, needs
    return None


def entry_module(process: str) -> str:
    """The module `python -m` runs: a package's ``__main__``."""
    module = PROCESSES[process]
    return f"{module}.__main__" if (REPO / Path(*module.split("."))).is_dir() else module


@cache
def classes_read(process: str) -> tuple[type[BaseSettings] | None, list[type[BaseSettings]]]:
    """(own server settings class or None, every class the process loads): its server's
    (prefix ``PHOTOMESH_<PROCESS>_``), its service's (`main`'s second argument), the
    backends its `Needs` asks for, and every class `load(...)`-ed in the modules it
    imports (the runtime's: auth, telemetry, peers)."""
    from services.processes import process as declared
    from services.runtime.settings import server_settings_class

    module = entry_module(process)
    found: list[type[BaseSettings]] = []
    own = None
    call = main_call(module)
    if call is not None:
        service_settings, needs = call
        own = server_settings_class(process, declared(process).port)
        found += [own, service_settings]
        for need in needs:
            found.extend(needs_classes()[need])
    for current in sorted(closure(module) - {BACKENDS_MODULE}):
        for name in _loaded_names([_tree(current)]):
            cls = _settings_class(current, name)
            if cls is not None and cls not in found:
                found.append(cls)
    return own, found


def env_name(cls: type[BaseSettings], field: str, info: FieldInfo) -> str:
    alias = info.validation_alias
    if isinstance(alias, str):
        return alias.upper()
    if isinstance(alias, AliasChoices):
        return str(alias.choices[0]).upper()
    return f"{cls.model_config.get('env_prefix', '')}{field}".upper()


@cache
def reads(process: str) -> dict[str, Setting]:
    """Every variable `process` reads, by name."""
    from services.runtime.settings import ServerSettings

    own, classes = classes_read(process)
    server_fields = set(ServerSettings.model_fields)
    found: dict[str, Setting] = {}
    for cls in classes:
        foreign_server = issubclass(cls, ServerSettings) and cls is not own
        for field, info in cls.model_fields.items():
            if foreign_server and field in server_fields:
                continue
            name = env_name(cls, field, info)
            found.setdefault(name, Setting(name, cls, field, info))
    return found


def where_to_set(setting: Setting, process: str) -> str:
    """Where in deploy/base a missing variable belongs (the convention of the manifests)."""
    from services.runtime.settings import ServerSettings

    deployment = process.replace("_", "-")
    own, _ = classes_read(process)
    if setting.secret:
        return (f"in the `env` of {deployment}'s container (deploy/base/), from a Secret "
                f"(`valueFrom.secretKeyRef`); a new Secret key is made by infra/k8s/secrets.py")
    if setting.cls is own and setting.field in ServerSettings.model_fields:
        return f"in the `env` of {deployment}'s container (deploy/base/)"
    prefix = str(setting.cls.model_config.get("env_prefix", ""))
    stem = prefix.removeprefix("PHOTOMESH_").strip("_").lower().replace("_", "-") or "peers"
    return (f"in deploy/base/settings/{stem}.env (ConfigMap settings-{stem}; a new file also "
            f"needs a configMapGenerator entry in deploy/base/kustomization.yaml and an "
            f"`envFrom` in every container that loads {setting.cls.__name__})")


# --- reading the manifests -----------------------------------------------------------------

@dataclass(frozen=True)
class Given:
    """One variable a container is given, and from where."""

    env: str
    source: str  # "value", "configmap:<name>", "secret:<name>/<key>", "field:<path>"
    value: str | None = None


def container_env(container: Mapping[str, Any],
                  configmaps: Mapping[str, Mapping[str, str]]) -> dict[str, Given]:
    """What a container's environment holds: `env` entries and every key of the
    ConfigMaps it takes with `envFrom` (later entries win, as in Kubernetes)."""
    given: dict[str, Given] = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            name = source["configMapRef"]["name"]
            for key, value in configmaps[name].items():
                given[key] = Given(key, f"configmap:{name}", value)
        elif "secretRef" in source:
            raise ValueError("take secrets key by key (env.valueFrom.secretKeyRef), so the "
                             "variables a container gets can be read from the manifest")
    for entry in container.get("env", []):
        name = entry["name"]
        ref = entry.get("valueFrom", {})
        if "secretKeyRef" in ref:
            given[name] = Given(name, f"secret:{ref['secretKeyRef']['name']}/"
                                      f"{ref['secretKeyRef']['key']}")
        elif "configMapKeyRef" in ref:
            cm = ref["configMapKeyRef"]
            given[name] = Given(name, f"configmap:{cm['name']}", configmaps[cm["name"]][cm["key"]])
        elif "fieldRef" in ref:
            given[name] = Given(name, f"field:{ref['fieldRef']['fieldPath']}")
        else:
            given[name] = Given(name, "value", str(entry.get("value", "")))
    return given


def process_of(container: Mapping[str, Any]) -> str | None:
    """Which process a container runs: `python -m <module>` in its command."""
    argv = [*container.get("command", []), *container.get("args", [])]
    if len(argv) >= 3 and argv[0] == "python" and argv[1] == "-m":
        for process, module in PROCESSES.items():
            if module == argv[2]:
                return process
        raise ValueError(f"container {container.get('name')} runs {argv[2]}, which is not a "
                         f"process of infra/services.py")
    return None
