"""The report's Plotly figures, as plain JSON-able dicts ({"data": [...], "layout": {...}}) that
plotly.js draws in the page. Each function returns None when there is nothing to draw.

Plotly renders its labels (tick labels, legend names, hover text) as a subset of HTML: ``<b>``,
``<i>``, ``<br>``, ``<a href>``, entities. Names in the data (events, emails, accounts) come from
the product and the CRM, so every data string placed in a label goes through :func:`label`
(``<``, ``>`` and ``&`` as entities, which plotly shows as those characters) and is never glued
into a ``hovertemplate`` (whose ``%{…}`` it could also hijack): templates refer to it as
``%{y}`` or ``%{fullData.name}``."""

from __future__ import annotations

import html

import pandas as pd
import plotly.graph_objects as go

from ..columns import SCORE_TERM_LABELS, SIGNAL_TERM_PREFIX

PALETTE = ["#2563eb", "#f59e0b", "#10b981", "#ef4444", "#8b5cf6", "#06b6d4", "#ec4899", "#84cc16", "#94a3b8"]
TOP_EVENTS_STACKED = 8
TOP_BARS = 15


def label(value: object) -> str:
    """A data string as plotly label text: shown as written, never as markup."""
    return html.escape(str(value), quote=False)


def _layout(**extra) -> dict:
    layout = dict(
        template="plotly_white",
        colorway=PALETTE,
        font=dict(family="system-ui, -apple-system, Segoe UI, Roboto, sans-serif", size=12, color="#1f2937"),
        margin=dict(l=10, r=10, t=10, b=10),
        height=320,
        legend=dict(orientation="h", yanchor="bottom", y=1.02, xanchor="left", x=0),
        hoverlabel=dict(namelength=-1),
    )
    layout.update(extra)
    return layout


def _figure(fig: go.Figure) -> dict:
    return fig.to_plotly_json()


def events_per_day(daily: pd.DataFrame, volume: pd.DataFrame) -> dict | None:
    """Stacked daily bars: the window's most frequent events, the rest as 'other events'."""
    if daily is None or daily.empty:
        return None
    dates = pd.to_datetime(daily["event_date"]).dt.strftime("%Y-%m-%d").tolist()
    fig = go.Figure()
    if volume is not None and not volume.empty:
        vol = volume.assign(day=pd.to_datetime(volume["event_date"]).dt.strftime("%Y-%m-%d"))
        totals = vol.groupby("event_name")["events"].sum().sort_values(ascending=False, kind="stable")
        top = list(totals.index[:TOP_EVENTS_STACKED])
        vol["series"] = vol["event_name"].where(vol["event_name"].isin(top), "other events")
        pivot = vol.pivot_table(index="day", columns="series", values="events", aggfunc="sum").reindex(dates).fillna(0)
        for name in top + (["other events"] if "other events" in pivot.columns else []):
            fig.add_bar(
                x=dates,
                y=[int(v) for v in pivot[name]],
                name=label(name),
                hovertemplate="%{x}<br>%{fullData.name}: %{y:,}<extra></extra>",
            )
    else:
        fig.add_bar(x=dates, y=[int(v) for v in daily["events"]], name="events")
    fig.update_layout(**_layout(barmode="stack", yaxis=dict(title="events"), xaxis=dict(type="date")))
    fig.update_layout(legend=dict(traceorder="normal"))
    return _figure(fig)


def active_per_day(daily: pd.DataFrame) -> dict | None:
    if daily is None or daily.empty:
        return None
    dates = pd.to_datetime(daily["event_date"]).dt.strftime("%Y-%m-%d").tolist()
    fig = go.Figure()
    fig.add_scatter(x=dates, y=[int(v) for v in daily["active_users"]], name="active users", mode="lines+markers")
    fig.add_scatter(x=dates, y=[int(v) for v in daily["active_accounts"]], name="active accounts", mode="lines+markers")
    fig.update_layout(**_layout(yaxis=dict(title="per day", rangemode="tozero"), xaxis=dict(type="date")))
    return _figure(fig)


def ranked_bars(
    frame: pd.DataFrame,
    label_column: str,
    value_column: str,
    *,
    fallback_label: str | None = None,
    color_column: str | None = None,
    colors: tuple[str, str] = ("not in library", "standard event"),
    value_label: str = "events",
) -> dict | None:
    """Horizontal bars of the first TOP_BARS rows (already ranked), #1 at the top."""
    if frame is None or frame.empty:
        return None
    top = frame.head(TOP_BARS)
    labels = top[label_column].astype(object)
    if fallback_label is not None:
        labels = labels.where(labels.notna() & (labels.astype(str) != ""), top[fallback_label])
    labels = [str(v) for v in labels]
    ids = (
        [str(v) for v in top[fallback_label]]
        if fallback_label is not None
        else [str(i + 1) for i in range(len(labels))]
    )
    labels = [f"{text} ({ids[i]})" if labels.count(text) > 1 else text for i, text in enumerate(labels)]  # one bar each
    labels = [label(text) for text in labels]
    values = [int(v) for v in top[value_column]]
    fig = go.Figure()
    flags = [bool(v) for v in top[color_column]] if color_column is not None and color_column in top.columns else []
    two_groups = len(set(flags)) == 2
    if flags:
        for flag, name, color in ((True, colors[1], PALETTE[0]), (False, colors[0], PALETTE[3])):
            xs = [v for v, f in zip(values, flags) if f == flag]
            if xs:
                fig.add_bar(
                    x=xs,
                    y=[text for text, f in zip(labels, flags) if f == flag],
                    orientation="h",
                    name=name,
                    marker_color=color,
                    hovertemplate="%{y}: %{x:,} " + value_label + "<extra></extra>",
                )
    else:
        fig.add_bar(
            x=values,
            y=labels,
            orientation="h",
            name=value_label,
            marker_color=PALETTE[0],
            hovertemplate="%{y}: %{x:,} " + value_label + "<extra></extra>",
        )
    fig.update_layout(
        **_layout(
            height=max(220, 26 * len(labels) + 60),
            showlegend=two_groups,
            yaxis=dict(autorange="reversed", automargin=True, categoryorder="array", categoryarray=labels),
            xaxis=dict(title=value_label),
            barmode="overlay",
        )
    )
    return _figure(fig)


BREAKDOWN_FINDINGS = 25


def score_terms(frame: pd.DataFrame) -> list[str]:
    """The punch list's score-term columns (docs/rules.md, "Why"), in table order: they sum to
    `score`."""
    return [c for c in frame.columns if c.startswith("score_")]


def term_name(column: str) -> str:
    """A score-term column as the chart's legend names it: score_signal_x -> 'signal x'."""
    if column in SCORE_TERM_LABELS:
        return SCORE_TERM_LABELS[column]
    if column.startswith(SIGNAL_TERM_PREFIX):
        return "signal " + column.removeprefix(SIGNAL_TERM_PREFIX)
    return column.removeprefix("score_").replace("_", " ")


def score_breakdown(frame: pd.DataFrame, label_column: str, fallback_label: str) -> dict | None:
    """Why each finding scored what it did: one horizontal bar per finding (best first, the top
    BREAKDOWN_FINDINGS), split by score term; negative terms (a recency penalty, a negative fit
    or signal weight) extend to the left of zero, so a bar's right end minus its left end is the
    score. Says something at one finding, unlike a histogram."""
    if frame is None or frame.empty or "score" not in frame.columns:
        return None
    terms = [t for t in score_terms(frame) if frame[t].fillna(0).astype(float).ne(0).any()]
    if not terms:
        return None
    top = frame.head(BREAKDOWN_FINDINGS)
    labels = []
    for position, (_, row) in enumerate(top.iterrows(), start=1):
        name = row.get(label_column)
        if name is None or (not isinstance(name, str) and pd.isna(name)):
            name = row.get(fallback_label)
        labels.append(f"{position}. {label(name)}")
    totals = [f"{float(s):.2f}" for s in top["score"]]
    fig = go.Figure()
    for n, term in enumerate(terms):
        fig.add_bar(
            x=[float(v) for v in top[term].fillna(0)],
            y=labels,
            orientation="h",
            name=label(term_name(term)),
            customdata=totals,
            marker_color=PALETTE[n % len(PALETTE)],
            hovertemplate="%{y}<br>%{fullData.name}: %{x:.2f} of score %{customdata}<extra></extra>",
        )
    fig.update_layout(
        **_layout(
            height=max(200, 28 * len(labels) + 90),
            barmode="relative",
            yaxis=dict(autorange="reversed", automargin=True, categoryorder="array", categoryarray=labels),
            xaxis=dict(title="score points", zeroline=True, zerolinecolor="#6b7280"),
        )
    )
    return _figure(fig)


def health_shares(health: pd.Series) -> dict | None:
    """How much of the data is wired: events linked to a person, to an account, named in the library."""
    if health is None:
        return None
    items = []
    for label, column in (
        ("linked to a person", "share_linked_to_person"),
        ("linked to an account", "share_linked_to_account"),
    ):
        value = health.get(column)
        if value is not None and pd.notna(value):
            items.append((label, float(value)))
    unknown = health.get("share_unknown_events")
    if unknown is not None and pd.notna(unknown):
        items.append(("named in the events library", 1.0 - float(unknown)))
    if not items:
        return None
    fig = go.Figure()
    fig.add_bar(
        x=[round(v * 100, 2) for _, v in items],
        y=[label for label, _ in items],
        orientation="h",
        marker_color=[PALETTE[2] if v >= 0.9 else PALETTE[1] if v >= 0.5 else PALETTE[3] for _, v in items],
        text=[f"{v * 100:.1f}%" for _, v in items],
        textposition="auto",
        hovertemplate="%{y}: %{x:.1f}% of events<extra></extra>",
    )
    fig.update_layout(
        **_layout(
            height=170,
            showlegend=False,
            xaxis=dict(range=[0, 100], title="% of events"),
            yaxis=dict(autorange="reversed", automargin=True),
        )
    )
    return _figure(fig)


def rule_trends(trends: pd.DataFrame, names: dict[str, str] | None = None) -> dict | None:
    """Findings per rule per run (mart_rule_trends): a line per rule over the runs' as_of, the
    findings that entered and exited at each run in the hover. None with fewer than two runs."""
    if trends is None or trends.empty or trends["as_of"].nunique() < 2:
        return None
    names = names or {}
    fig = go.Figure()
    for rule_key, runs in trends.sort_values(["rule_key", "as_of"], kind="stable").groupby("rule_key", sort=True):
        name = names.get(str(rule_key)) or str(runs["rule_name"].iloc[-1] or rule_key)
        fig.add_scatter(
            x=pd.to_datetime(runs["as_of"]).dt.strftime("%Y-%m-%d %H:%M:%S").tolist(),
            y=[int(v) for v in runs["findings"]],
            customdata=[[int(e), int(x)] for e, x in zip(runs["entered"], runs["exited"])],
            name=label(name),
            mode="lines+markers",
            hovertemplate="%{fullData.name}<br>%{x}: %{y:,} findings"
            "<br>%{customdata[0]:,} entered, %{customdata[1]:,} left<extra></extra>",
        )
    yaxis = dict(title="findings", rangemode="tozero")
    if trends["findings"].max() <= 10:
        yaxis["dtick"] = 1
    fig.update_layout(**_layout(height=360, yaxis=yaxis, xaxis=dict(type="date", title="run (as_of)")))
    return _figure(fig)


def backtest_lift(backtests: pd.DataFrame) -> dict | None:
    """`beton backtest`'s lift per rule per as_of (beton_backtest.backtests): a line per rule, a
    gap where the lift is n/a (none flagged, or no conversion among those not flagged), the
    counts behind each point in the hover, and a dotted line at 1 (no better than not flagged)."""
    if backtests is None or backtests.empty:
        return None
    fig = go.Figure()
    for rule_key, rows in backtests.sort_values(["rule_key", "as_of"], kind="stable").groupby("rule_key", sort=True):
        fig.add_scatter(
            x=pd.to_datetime(rows["as_of"]).dt.strftime("%Y-%m-%d %H:%M:%S").tolist(),
            y=[None if pd.isna(v) else round(float(v), 4) for v in rows["lift"]],
            customdata=[
                [int(a), int(b), int(c), int(d)]
                for a, b, c, d in zip(
                    rows["flagged_converted"], rows["flagged"], rows["not_flagged_converted"], rows["not_flagged"]
                )
            ],
            name=label(rows["rule_name"].iloc[-1] or rule_key),
            mode="lines+markers",
            connectgaps=False,
            hovertemplate="%{fullData.name}<br>as_of %{x}: lift %{y:.2f}"
            "<br>flagged: %{customdata[0]} of %{customdata[1]} converted"
            "<br>not flagged: %{customdata[2]} of %{customdata[3]} converted<extra></extra>",
        )
    fig.add_hline(y=1, line_dash="dot", line_color="#94a3b8")
    fig.update_layout(
        **_layout(height=360, yaxis=dict(title="lift", rangemode="tozero"), xaxis=dict(type="date", title="as_of"))
    )
    return _figure(fig)
