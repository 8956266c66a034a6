"""`beton plan`: what the working copy's rule files would do to each punch list, before a build.

The punch lists in the warehouse were built by the last run at its ``as_of`` (insp_rule_runs).
The plan evaluates every rule file as it is now at that same ``as_of``: dbt compiles each rule's
model body inline (``dbt compile --inline``, as `beton rules show --sql` does), over the rollups
already built, and the SQL is run as a plain select through the warehouse connection. Nothing is
created or replaced: not the punch lists, not the rollups, not models/. A rule whose event filter
(event names and property filters) is not the one its built filtered rollup holds, or that has
none yet, reads its filtered events from a subquery of the same rollup SQL instead
(macros/rollups/filtered_rollup.sql), so the plan never reads rows built for another filter.

The result, per rule: ``added`` (no built punch list), ``removed`` (built, no rule file any
more), ``changed`` or ``unchanged``, with the entities that would enter or leave and the score
and rank changes of those that stay.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from .errors import BetonError, WarehouseError
from .project import Project
from .rules import Rule
from .rules.compile import compile_inline, dbt_project_name, filter_fingerprint, jinja_literal, layout_for

RUNS_TABLE = "insp_rule_runs"
SCORE_TOLERANCE = 1e-9  # a score change smaller than this is float noise, not a change
_SPLIT = "-- beton plan: next rule"


@dataclass
class RulePlan:
    """What the working copy would do to one punch list."""

    key: str
    status: str  # added | removed | changed | unchanged
    level: str | None
    before: int  # findings in the built punch list
    after: int  # findings the working copy gives
    entered: pd.DataFrame = field(default_factory=pd.DataFrame)  # entity_id, rank, score
    left: pd.DataFrame = field(default_factory=pd.DataFrame)  # entity_id, previous_rank, previous_score
    rescored: pd.DataFrame = field(default_factory=pd.DataFrame)  # entity_id, previous/new rank and score
    note: str | None = None


@dataclass
class Plan:
    as_of: pd.Timestamp
    rules: list[RulePlan]

    @property
    def changes(self) -> int:
        return sum(p.status != "unchanged" for p in self.rules)


def built_state(
    project: Project, keys: list[str]
) -> tuple[pd.Timestamp, list[str], dict[str, pd.DataFrame], dict[str, set[str]]]:
    """The last run's as_of, the rules it recorded, the built punch lists (of those rules and of
    ``keys``) and the filter fingerprints each built filtered rollup holds."""
    from .warehouse import connect, require

    with connect(project) as conn:
        schema, table = require(conn, project, "inspections", RUNS_TABLE)
        runs = conn.read_table(schema, table)
        if runs.empty:
            raise WarehouseError(f"{schema}.{table} records no run yet: run `beton run` first")
        as_of = pd.Timestamp(runs["as_of"].max())
        recorded = sorted(runs.loc[runs["as_of"] == runs["as_of"].max(), "rule_key"].astype(str))
        inspections, _ = project.relation("inspections", "")
        intermediate, _ = project.relation("intermediate", "")
        punch_lists: dict[str, pd.DataFrame] = {}
        fingerprints: dict[str, set[str]] = {}
        for key in dict.fromkeys([*recorded, *keys]):
            if conn.exists(inspections, f"insp_{key}"):
                punch_lists[key] = conn.read_table(inspections, f"insp_{key}")
            rollup = f"int_filtered_activity__{key}"
            if conn.exists(intermediate, rollup):
                rows = conn.rows(f"select distinct filter_fingerprint from {conn.table(intermediate, rollup)}")
                fingerprints[key] = {str(r[0]) for r in rows}
    return as_of, recorded, punch_lists, fingerprints


def inline_body(rules: list[Rule], reuse_rollup: set[str], project_name: str) -> str:
    """One dbt inline query holding every rule's punch-list select, split by ``_SPLIT``.

    A rule with property filters reads its built filtered rollup when it is in ``reuse_rollup``
    (built for exactly this filter), else that rollup's SQL as a subquery."""
    parts = []
    for i, rule in enumerate(rules):
        name = f"plan_relations_{i}"
        lines = [
            f"{{%- set {name} = beton.activity_relations() -%}}",
            f"{{%- do {name}.update({{'users': ref('beton', 'beton_int_users'), "
            f"'accounts': ref('beton', 'beton_stg_posthog__accounts')}}) -%}}",
            f"{{%- set plan_rule_{i} = {jinja_literal(rule.normalised)} -%}}",
        ]
        if rule.has_property_filters:
            if rule.key in reuse_rollup:
                lines.append(
                    f"{{%- do {name}.update({{'filtered': ref('{project_name}', '{rule.filtered_model_name}')}}) -%}}"
                )
            else:
                rule_filter = {k: rule.normalised[k] for k in ("format", "key", "event_names", "property_filters")}
                lines += [
                    f"{{%- set plan_filtered_{i} -%}}",
                    f"{{{{ beton.filtered_rollup_model({jinja_literal(rule_filter)}, "
                    f"'{filter_fingerprint(rule)}') }}}}",
                    "{%- endset -%}",
                    f"{{%- do {name}.update({{'filtered': '(' ~ plan_filtered_{i} ~ ')'}}) -%}}",
                ]
        lines.append(f"{{{{ beton.render_inspection(plan_rule_{i}, {name}) }}}}")
        parts.append("\n".join(lines))
    return f"\n{_SPLIT}\n".join(parts)


def compute_plan(project: Project, rules: list[Rule], *, vars: dict | None = None) -> Plan:
    """Evaluate the working copy's ``rules`` at the last run's as_of and compare."""
    from .cli.options import instant_text
    from .warehouse import connect

    as_of, recorded, built, fingerprints = built_state(project, [r.key for r in rules])
    reuse = {
        r.key
        for r in rules
        if r.has_property_filters
        and fingerprints.get(r.key) == {filter_fingerprint(r)}
        and (project.dir / layout_for(project.dir).filtered_dir / f"{r.filtered_model_name}.sql").is_file()
    }
    new: dict[str, pd.DataFrame] = {}
    if rules:
        compiled = compile_inline(
            project,
            inline_body(rules, reuse, dbt_project_name(project.dir) or "beton"),
            vars={**(vars or {}), "beton_as_of": instant_text(as_of.to_pydatetime())},
        )
        if not compiled.strip():
            raise BetonError("dbt compiled no SQL for the plan; run `beton rules check` and try again")
        pieces = compiled.split(_SPLIT)
        if len(pieces) != len(rules):
            raise BetonError(f"the plan's compiled SQL has {len(pieces)} part(s) for {len(rules)} rule(s)")
        with connect(project) as conn:
            for rule, sql in zip(rules, pieces):
                new[rule.key] = conn.query(sql)
    plans = []
    for rule in rules:
        entity = "account_id" if rule.level == "account" else "user_id"
        after = new[rule.key]
        if rule.key not in built:
            plans.append(_diff(rule.key, "added", rule.level, _empty(), after.rename(columns={entity: "entity_id"})))
            continue
        before = built[rule.key].rename(columns={entity: "entity_id"})
        note = None
        if not before.empty and pd.Timestamp(before["as_of"].max()) != as_of:
            note = f"built at {before['as_of'].max()}, not at the last run's as_of"
        plan = _diff(rule.key, "changed", rule.level, before, after.rename(columns={entity: "entity_id"}))
        plan.note = note
        plans.append(plan)
    for key in recorded:
        if key not in {r.key for r in rules} and key in built:
            frame = built[key]
            entity = "account_id" if "account_id" in frame.columns else "user_id"
            level = "account" if entity == "account_id" else "user"
            plans.append(_diff(key, "removed", level, frame.rename(columns={entity: "entity_id"}), _empty()))
    return Plan(as_of, plans)


def _empty() -> pd.DataFrame:
    return pd.DataFrame({"entity_id": pd.Series(dtype=object), "rank": [], "score": []})


def _diff(key: str, status: str, level: str | None, before: pd.DataFrame, after: pd.DataFrame) -> RulePlan:
    old = before[["entity_id", "rank", "score"]].astype({"entity_id": str})
    new = after[["entity_id", "rank", "score"]].astype({"entity_id": str})
    both = old.merge(new, on="entity_id", how="outer", suffixes=("_before", "_after"), indicator=True)
    entered = both[both["_merge"] == "right_only"].rename(columns={"rank_after": "rank", "score_after": "score"})
    left = both[both["_merge"] == "left_only"].rename(
        columns={"rank_before": "previous_rank", "score_before": "previous_score"}
    )
    stayed = both[both["_merge"] == "both"]
    moved = stayed[
        ((stayed["score_after"] - stayed["score_before"]).abs() > SCORE_TOLERANCE)
        | (stayed["rank_after"] != stayed["rank_before"])
    ]
    if status == "changed" and entered.empty and left.empty and moved.empty:
        status = "unchanged"
    return RulePlan(
        key=key,
        status=status,
        level=level,
        before=len(old),
        after=len(new),
        entered=entered[["entity_id", "rank", "score"]].sort_values("rank").reset_index(drop=True),
        left=left[["entity_id", "previous_rank", "previous_score"]].sort_values("previous_rank").reset_index(drop=True),
        rescored=moved[["entity_id", "rank_before", "rank_after", "score_before", "score_after"]]
        .sort_values("rank_after")
        .reset_index(drop=True),
    )
