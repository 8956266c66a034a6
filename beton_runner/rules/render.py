"""The SQL of one rule model rendered in-process with plain Jinja, as dbt compiles it, without
starting dbt (`beton rules show --sql`: dbt's start-up and parse are most of its time).

It emulates the small part of dbt's compile context the rule macros use, the way dbt builds it
(dbt-core ``dbt/context/providers.py`` and ``macros.py``, dbt-common ``clients/jinja.py``):

- a sandboxed Jinja environment with the ``do`` and ``loopcontrols`` extensions; each macro is
  compiled from its own ``{% macro %}…{% endmacro %}`` block and called with the model's
  context, ``return(x)`` ending it with ``x``;
- the macro namespace: the project's macros/ (flat and as ``beton.``), dbt's global project and
  the adapter's own macros (as ``dbt.`` and flat; the adapter's win), with macros shadowing the
  context's members as in dbt; ``adapter.dispatch(name, ns)`` searching the packages dbt searches
  (the root project, then the namespace) for ``<adapter>__name``, then ``default__name``;
- ``ref``: the relation computed as dbt computes it from the referenced node's config in the last
  parse's target/manifest.json (database: its own or the target's; schema: the project's
  ``generate_schema_name`` rendered here; identifier: its alias), only while no file that
  configures that node changed since;
- ``var`` (dbt_project.yml's vars under the CLI's), ``env_var`` (the environment dbt would get),
  ``target``, ``modules``, ``run_started_at``, ``adapter.quote``, ``api.Column.translate_type``,
  ``tojson``, ``local_md5``; ``run_query`` and ``adapter.get_relation`` over the warehouse
  connection the caller opened (the macros ask the size of the event-name dictionary);
- relations as dbt-duckdb (``"db"."schema"."name"``) and dbt-clickhouse (`` `schema`.`name` ``)
  render them.

Anything else (another adapter, a host project, an undefined name, ``graph``, a compiler error a
macro raises, a stale manifest…) raises ``Unsupported``: the caller then asks dbt (never a
guess: an error here means "ask dbt", not "the rule is wrong"). tests/rules/test_rules_readable.py
and tests/punch_lists/test_clickhouse.py compare the output with dbt's, byte for byte.
"""

from __future__ import annotations

import datetime
import decimal
import hashlib
import itertools
import json
import re
from collections.abc import Callable, Mapping
from functools import cached_property
from pathlib import Path
from typing import Any

import jinja2
import jinja2.ext
import jinja2.sandbox
import yaml

ROOT = "beton"


def _double_quoted(part: str) -> str:
    return f'"{part}"'


def _backquoted(part: str) -> str:
    # dbt-clickhouse's quote_identifier: kept when already quoted, else `…` with \ ' ` escaped
    if part[0] in '`"' and part[-1] == part[0]:
        return part
    return "`" + "".join(f"\\{c}" if c in "\\'`" else c for c in part) + "`"


# Per adapter: whether a relation names its database, how each part is quoted, and the Column
# class's TYPE_LABELS (api.Column.translate_type): dbt-adapters' base Column, which dbt-duckdb
# keeps; dbt-clickhouse's ClickHouseColumn (relation.py, query.py, column.py of each adapter).
DIALECTS: dict[str, tuple[bool, Callable[[str], str], dict[str, str]]] = {
    "duckdb": (True, _double_quoted, {"STRING": "TEXT"}),
    "clickhouse": (
        False,
        _backquoted,
        {"STRING": "String", "TIMESTAMP": "DateTime", "FLOAT": "Float32", "INTEGER": "Int32"},
    ),
}
_BLOCK = re.compile(
    r"\{#.*?#\}"  # a comment: nothing in it is a block
    r"|\{%-?\s*raw\s*-?%\}.*?\{%-?\s*endraw\s*-?%\}"
    r"|\{%-?\s*(macro|endmacro|materialization|endmaterialization|test|endtest|docs|enddocs)\b(.*?)-?%\}",
    re.DOTALL,
)
_MACRO_NAME = re.compile(r"\s*(\w+)\s*\(")
_RENDER_CHARS = ("{{", "{%", "{#")
_PROBED = ("unsafe_callable", "alters_data", "jinja_pass_arg")  # what Jinja's sandbox asks of any object


class Unsupported(Exception):
    """Something the renderer does not emulate: compile with dbt instead."""


class _MacroReturn(Exception):
    def __init__(self, value: Any) -> None:
        self.value = value


def _return(value: Any = None) -> None:
    raise _MacroReturn(value)


class _Strict:
    """An emulated dbt object: an attribute it does not have is Unsupported (the sandbox's own
    probes and Python's dunders are plain AttributeErrors)."""

    _label = "object"

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name in _PROBED:
            raise AttributeError(name)
        raise Unsupported(f"{self._label}.{name} is not emulated")


class _Refused(_Strict):
    """A context member dbt has and this renderer does not: any use of it is Unsupported."""

    def __init__(self, name: str) -> None:
        self._label = name

    def _refuse(self, *_args: Any, **_kwargs: Any) -> Any:
        raise Unsupported(f"`{self._label}` is not emulated")

    __call__ = __str__ = __iter__ = __bool__ = __len__ = __getitem__ = _refuse


class _Macro:
    """One macro, compiled on its first call (dbt's MacroGenerator)."""

    def __init__(self, renderer: Renderer, name: str, source: str) -> None:
        self.renderer, self.name, self.source = renderer, name, source
        self._template: jinja2.Template | None = None

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self._template is None:
            self._template = self.renderer.jinja.from_string(self.source)
        module = self._template.make_module(vars=self.renderer.context)
        try:
            return getattr(module, self.name)(*args, **kwargs)
        except _MacroReturn as returned:
            return returned.value


def _macro_blocks(text: str) -> list[tuple[str, str]]:
    """(name, source) of every top-level ``{% macro %}`` block, as dbt extracts them."""
    out, start, name = [], None, None
    for match in _BLOCK.finditer(text):
        tag = match.group(1)
        if tag is None:
            continue
        if tag == "macro" and start is None:
            found = _MACRO_NAME.match(match.group(2))
            if not found:
                raise Unsupported("a macro tag this renderer cannot read")
            start, name = match.start(), found.group(1)
        elif tag == "endmacro" and start is not None:
            out.append((name, text[start : match.end()]))
            start = None
    if start is not None:
        raise Unsupported("an unterminated macro block")
    return out


def _package_macros(renderer: Renderer, folder: Path) -> dict[str, _Macro]:
    macros: dict[str, _Macro] = {}
    for path in sorted(folder.rglob("*.sql")):
        for name, source in _macro_blocks(path.read_text(encoding="utf-8")):
            if name in macros:
                raise Unsupported(f"macro {name} is defined twice")  # dbt refuses the project
            macros[name] = _Macro(renderer, name, source)
    return macros


def _internal_macro_dirs(adapter_type: str) -> list[Path]:
    """dbt's internal packages, the adapter's first (dbt-core include paths): dbt-duckdb's
    include/duckdb/macros, then the global project's."""
    import importlib.util

    dirs = []
    for module in (f"dbt.include.{adapter_type}", "dbt.include.global_project"):
        spec = importlib.util.find_spec(module)
        if spec is None or not spec.submodule_search_locations:
            raise Unsupported(f"{module} is not installed")
        dirs.append(Path(list(spec.submodule_search_locations)[0]) / "macros")
    return dirs


class Relation:
    """A relation as the adapter renders it (DIALECTS): dbt-duckdb's "db"."schema"."name",
    dbt-clickhouse's `schema`.`name`."""

    def __init__(self, adapter_type: str, database: str, schema: str, identifier: str) -> None:
        self.adapter_type = adapter_type
        self.database, self.schema, self.identifier = database, schema, identifier

    @property
    def name(self) -> str:
        return self.identifier

    def __str__(self) -> str:
        with_database, quote, _labels = DIALECTS[self.adapter_type]
        parts = (self.database, self.schema, self.identifier) if with_database else (self.schema, self.identifier)
        return ".".join(quote(part) for part in parts if part)

    def render(self) -> str:
        return str(self)


class _Adapter(_Strict):
    _label = "adapter"

    def __init__(self, renderer: Renderer) -> None:
        self._renderer = renderer

    def type(self) -> str:
        return self._renderer.adapter_type

    def quote(self, identifier: str) -> str:
        return f'"{identifier}"'  # dbt-adapters' SQLAdapter.quote, which both adapters keep

    def dispatch(self, macro_name: str, macro_namespace: str | None = None, packages: Any = None) -> Callable:
        return self._renderer.dispatch(macro_name, macro_namespace, packages)

    def get_relation(self, database: str, schema: str, identifier: str) -> Relation | None:
        return self._renderer.get_relation(database, schema, identifier)


class _Column(_Strict):
    _label = "api.Column"

    def __init__(self, labels: dict[str, str]) -> None:
        self._labels = labels

    def translate_type(self, dtype: str) -> str:
        return self._labels.get(dtype.upper(), dtype)


class _Table:
    """What run_query returns, as far as the macros read it (agate: numbers are Decimals)."""

    def __init__(self, rows: list[tuple]) -> None:
        self.rows = [tuple(_agate_value(v) for v in row) for row in rows]
        width = len(self.rows[0]) if self.rows else 0
        self.columns = [_TableColumn(tuple(row[i] for row in self.rows)) for i in range(width)]


class _TableColumn:
    def __init__(self, values: tuple) -> None:
        self._values = values

    def values(self) -> tuple:
        return self._values


def _agate_value(value: Any) -> Any:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return decimal.Decimal(value)
    raise Unsupported(f"a query result of type {type(value).__name__}")  # agate's conversion is not emulated


class _Exceptions:
    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name in _PROBED:
            raise AttributeError(name)

        def refuse(*_args: Any, **_kwargs: Any) -> None:
            # dbt's message (file, node, stack) is dbt's to give: compile with dbt
            raise Unsupported(f"exceptions.{name} was called")

        return refuse


def _templated_naming(config: Any) -> bool:
    """Whether a dbt_project.yml config tree sets schema, alias or database through Jinja."""
    if not isinstance(config, dict):
        return False
    for key, value in config.items():
        if str(key).lstrip("+") in ("schema", "alias", "database") and any(c in str(value) for c in _RENDER_CHARS):
            return True
        if isinstance(value, dict) and _templated_naming(value):
            return True
    return False


def _tojson(value: Any, default: Any = None, sort_keys: bool = False) -> Any:
    try:
        return json.dumps(value, sort_keys=sort_keys)
    except ValueError:
        return default


def _local_md5(value: str) -> str:
    return hashlib.md5(value.encode("utf-8")).hexdigest()


class Renderer:
    """Renders model SQL of ``project_dir`` (the root project ``beton``) for one target.

    ``target``: dbt's target context (profile_name, name, type, schema, database, threads…);
    ``cli_vars``: the vars dbt is given (--vars), ``env``: the environment dbt is run with;
    ``manifest_path``: the last parse's manifest.json (the refs' configs); ``warehouse``: an
    open warehouse Connection for the macros' queries (``run_query``, ``adapter.get_relation``)."""

    def __init__(
        self,
        project_dir: Path,
        *,
        target: Mapping[str, Any],
        cli_vars: Mapping[str, Any],
        env: Mapping[str, str],
        manifest_path: Path,
        warehouse: Any = None,
    ) -> None:
        self.project_dir = project_dir
        self.adapter_type = str(target.get("type"))
        if self.adapter_type not in DIALECTS:
            raise Unsupported(f"the {self.adapter_type} adapter is not emulated")
        self.target = dict(target)
        self.env = dict(env)
        self.manifest_path = manifest_path
        self.warehouse = warehouse
        project = yaml.safe_load((project_dir / "dbt_project.yml").read_text(encoding="utf-8")) or {}
        if project.get("name") != ROOT or project.get("dispatch") or project.get("quoting"):
            raise Unsupported("only Beton's own project (no dispatch or quoting config) is emulated")
        if _templated_naming(project):
            # the manifest's schema/alias/database were rendered with that parse's vars and env
            raise Unsupported("dbt_project.yml sets a schema, alias or database with Jinja")
        if (project_dir / "packages.yml").exists() or (project_dir / "dependencies.yml").exists():
            raise Unsupported("a project with packages is not emulated")
        if project.get("macro-paths", ["macros"]) != ["macros"]:
            raise Unsupported("macro-paths other than macros/ are not emulated")
        project_vars = project.get("vars") or {}
        if any(isinstance(v, dict) and k in (ROOT, "dbt") for k, v in project_vars.items()):
            raise Unsupported("package-scoped vars are not emulated")
        # dbt parses --vars as YAML (of the JSON beton writes), CLI vars over the project's
        self.vars = {**project_vars, **(yaml.safe_load(json.dumps(dict(cli_vars), sort_keys=True)) or {})}
        self.jinja = jinja2.sandbox.SandboxedEnvironment(
            extensions=["jinja2.ext.do", "jinja2.ext.loopcontrols"], undefined=jinja2.StrictUndefined
        )
        self.beton = _package_macros(self, project_dir / "macros")
        if any(n in self.beton for n in ("generate_alias_name", "generate_database_name", "ref", "source")):
            raise Unsupported("an override of ref or of dbt's naming macros is not emulated")
        internal: dict[str, _Macro] = {}
        for folder in reversed(_internal_macro_dirs(self.adapter_type)):  # the adapter's macros win
            internal.update(_package_macros(self, folder))
        self.internal = internal
        self.context = self._context()

    def _context(self) -> dict[str, Any]:
        now = datetime.datetime.now(datetime.timezone.utc)
        context: dict[str, Any] = {
            "return": _return,
            "var": self.var,
            "env_var": self.env_var,
            "target": self.target,
            "project_name": ROOT,
            "execute": True,
            "modules": {"datetime": datetime, "re": re, "itertools": itertools, "pytz": _Refused("modules.pytz")},
            "exceptions": _Exceptions(),
            "adapter": _Adapter(self),
            "api": {"Column": _Column(DIALECTS[self.adapter_type][2])},
            "ref": self.ref,
            "config": _Config(),
            "model": {"package_name": ROOT, "resource_type": "model"},
            "run_started_at": now,
            "tojson": _tojson,
            "local_md5": _local_md5,
            "log": lambda *_a, **_k: "",
            "zip": zip,
            "set": set,
        }
        for refused in (
            "this", "source", "graph", "statement", "load_result", "flags", "invocation_id",
            "builtins", "store_result", "store_raw_result", "fromjson", "fromyaml", "toyaml", "print",
            "is_incremental", "selected_resources", "metric", "schemas", "database", "schema", "sql",
        ):  # fmt: skip
            context[refused] = _Refused(refused)
        # dbt's macro namespace: the node's package, the root project, packages by name, `dbt`,
        # then the internal packages flat; macros shadow context members of the same name
        namespace: dict[str, Any] = {}
        for layer in (self.internal, {"dbt": self.internal}, {ROOT: self.beton}, self.beton):
            namespace.update(layer)
        context.update(namespace)
        context["run_query"] = self.run_query  # the global project's macro, over the connection
        return context

    # -- dbt's context functions --------------------------------------------------------------

    def var(self, name: str, default: Any = ...) -> Any:
        if name in self.vars:
            value = self.vars[name]
            if isinstance(value, str) and any(chars in value for chars in _RENDER_CHARS):
                raise Unsupported(f"var {name} holds Jinja")
            return value
        if default is ...:
            raise Unsupported(f"var {name} is not set")  # dbt's error names the node: dbt says it
        return default

    def env_var(self, name: str, default: str | None = None) -> str:
        if name.startswith("DBT_ENV_SECRET"):
            raise Unsupported("a secret env var")
        if name in self.env:
            return self.env[name]
        if default is not None:
            return default
        raise Unsupported(f"env var {name} is not set")

    def dispatch(self, macro_name: str, namespace: str | None, packages: Any) -> Callable:
        if "." in macro_name or packages is not None:
            raise Unsupported("adapter.dispatch with a dotted name or packages")
        # dbt: the namespace's search order from the root project's `dispatch:` (none here);
        # a namespace dbt loaded (root, internal) is searched after the root project
        if namespace is None:
            searched: list[dict[str, _Macro] | None] = [None]
        elif namespace == ROOT:
            searched = [self.beton, self.beton]
        elif namespace == "dbt":
            searched = [self.beton, self.internal]
        else:
            raise Unsupported(f"dispatch into namespace {namespace}")
        for package in searched:
            for prefix in (self.adapter_type, "default"):
                name = f"{prefix}__{macro_name}"
                found = self.context.get(name) if package is None else package.get(name)
                if isinstance(found, _Macro):
                    return found
        raise Unsupported(f"no macro for dispatch of {macro_name}")

    def get_relation(self, database: str, schema: str, identifier: str) -> Relation | None:
        if self.warehouse is None or database != self.target.get("database"):
            raise Unsupported("adapter.get_relation without the warehouse, or in another database")
        exists = self.warehouse.exists(schema, identifier)
        return Relation(self.adapter_type, database, schema, identifier) if exists else None

    def run_query(self, sql: str) -> _Table:
        if self.warehouse is None:
            raise Unsupported("run_query without the warehouse")
        return _Table(self.warehouse.rows(str(sql)))

    def ref(self, *args: str, **kwargs: Any) -> Relation:
        if kwargs or len(args) not in (1, 2):
            raise Unsupported("ref with a version or keyword arguments")
        package, name = (args[0], args[1]) if len(args) == 2 else (None, args[0])
        if package not in (None, ROOT):
            raise Unsupported(f"ref into package {package}")
        node = self._nodes.get(name)
        if node is None:
            raise Unsupported(f"ref('{name}') is not in the last parse's manifest")
        return self._relation(node)

    @cached_property
    def _manifest(self) -> dict:
        try:
            manifest = json.loads(self.manifest_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            raise Unsupported(f"no readable {self.manifest_path}") from None
        if manifest.get("metadata", {}).get("adapter_type") != self.adapter_type:
            raise Unsupported("the manifest was parsed for another adapter")
        return manifest

    @cached_property
    def _nodes(self) -> dict[str, dict]:
        nodes: dict[str, dict] = {}
        for unique_id, node in self._manifest.get("nodes", {}).items():
            kind = unique_id.split(".", 1)[0]
            if kind in ("model", "seed", "snapshot") and node.get("package_name") == ROOT:
                if node.get("name") in nodes:
                    raise Unsupported(f"two nodes are named {node.get('name')}")  # versions, or a model and a seed
                nodes[node["name"]] = node
        return nodes

    def _relation(self, node: dict) -> Relation:
        config = node.get("config") or {}
        if config.get("materialized") == "ephemeral" or node.get("version") is not None:
            raise Unsupported("a ref to an ephemeral or versioned model")
        self._check_fresh(node)
        code = node.get("raw_code") or ""
        if "config(" in code and ("var(" in code or "env_var(" in code):
            raise Unsupported(f"{node['name']} configures itself with vars or env vars")  # maybe not as parsed
        database = config.get("database") or self.target.get("database") or ""
        schema = str(self.context["generate_schema_name"](config.get("schema"), node)).strip()
        alias = config.get("alias")
        identifier = alias.strip() if alias else node["name"]
        # a DuckDB relation names its database; a ClickHouse one has none (dbt-clickhouse)
        if bool(database) != DIALECTS[self.adapter_type][0] or not schema or not isinstance(identifier, str):
            raise Unsupported("a relation whose database, schema or name is not as the adapter has them")
        return Relation(self.adapter_type, str(database), schema, identifier)

    @cached_property
    def _macro_files(self) -> list[Path]:
        return list((self.project_dir / "macros").rglob("*.sql"))

    def _check_fresh(self, node: dict) -> None:
        """The node's config in the manifest holds while nothing that sets it changed since the
        parse: dbt_project.yml, its own file, its properties file, the macros."""
        try:
            parsed = self.manifest_path.stat().st_mtime
            root = self.project_dir
            files = [root / "dbt_project.yml", root / node["original_file_path"]]
            if node.get("patch_path"):
                files.append(root / node["patch_path"].split("://", 1)[-1])
            if any(f.stat().st_mtime > parsed for f in files + self._macro_files):
                raise Unsupported(f"{node['name']} may have changed since the last parse")
        except (OSError, KeyError):
            raise Unsupported("the manifest does not match the project") from None

    # -- rendering -----------------------------------------------------------------------------

    def render(self, sql: str) -> str:
        """``sql`` (a model's body) rendered as dbt compiles it; ``Unsupported`` when in doubt."""
        try:
            return self.jinja.from_string(sql, globals=self.context).render()
        except Unsupported:
            raise
        except Exception as exc:  # noqa: BLE001 - any other failure is dbt's to report
            raise Unsupported(f"{type(exc).__name__}: {exc}") from None


class _Config(_Strict):
    """``config(...)`` in a model compiles to nothing (dbt's compile-time config)."""

    _label = "config"

    def __call__(self, *_args: Any, **_kwargs: Any) -> str:
        return ""
