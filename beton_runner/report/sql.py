"""The SQL each punch list ran: the compiled code of its model, from the dbt target's
manifest.json (written by the build that made the tables), else from one `dbt compile` of the
missing models at the punch lists' as_of."""

from __future__ import annotations

import json
from pathlib import Path

from ..dbt import run_dbt
from ..errors import BetonError
from ..project import Project


def manifest_sql(manifest_path: Path, adapter_type: str, model_names: list[str]) -> dict[str, str]:
    """Compiled SQL per model found in a manifest built for this adapter ({} if there is none)."""
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}
    if manifest.get("metadata", {}).get("adapter_type") != adapter_type:
        return {}  # compiled for the other warehouse: its SQL is not what this one ran
    out: dict[str, str] = {}
    for name in model_names:
        node = manifest.get("nodes", {}).get(f"model.beton.{name}") or {}
        code = node.get("compiled_code")
        if code:
            out[name] = code.strip() + "\n"
    return out


def rule_sql(
    project: Project, model_names: list[str], *, as_of: str | None, compile_missing: bool = True
) -> tuple[dict[str, str], str | None]:
    """(SQL per model, a note when some could not be had)."""
    manifest = project.dbt_target_path / "manifest.json"
    found = manifest_sql(manifest, project.engine, model_names)
    missing = [m for m in model_names if m not in found]
    if not missing or not compile_missing:
        return found, None if not missing else "the compiled SQL is not in the dbt manifest: run `beton run`"
    vars_ = {"beton_as_of": as_of} if as_of else None
    try:
        run_dbt(project, ["compile"], vars=vars_, select=missing)
    except BetonError as exc:
        return found, f"dbt compile failed, so the SQL is not shown: {str(exc).splitlines()[0]}"
    found.update(manifest_sql(manifest, project.engine, missing))
    return found, None
