"""A small parser for the HogQL statement shapes the Beton exporter sends, compiled to DuckDB.

Grammar (lowercase or uppercase keywords)::

    select ITEM (, ITEM)* from TABLE
        [where COND (and COND)*]
        [order by COLUMN (, COLUMN)*]
        [limit N] [offset N]
    ITEM    := COLUMN | count() | NUMBER
    COND    := OPERAND OP OPERAND            OP := = | != | < | <= | > | >=
    OPERAND := COLUMN | 'string' | NUMBER | FUNC(args) | (OPERAND, OPERAND, ...)
    FUNC    := toDateTime64('…', 6[, 'tz']) | toDateTime('…'[, 'tz']) | toUUID('…')

Like PostHog it rejects OFFSET (personal API keys) and comparing a DateTime column with an ISO
string literal containing ``T``/``Z`` (``type_mismatch``). UUIDs compare the way ClickHouse
compares them (the second 8 bytes first), not in string order, so a client that compares
UUIDs locally gets caught.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo


class HogQLError(Exception):
    def __init__(self, code: str, detail: str):
        self.code = code
        self.detail = detail
        super().__init__(detail)


# column types per HogQL table; "uuid" columns compare by their ClickHouse key
TABLES: dict[str, dict[str, str]] = {
    "events": {
        "uuid": "uuid",
        "event": "string",
        "distinct_id": "string",
        "timestamp": "datetime",
        "properties": "json",
        "person_id": "uuid",
        "created_at": "datetime",  # when PostHog received the event
        # the event's key of each group type ('' when none), as PostHog derives it from $groups
        **{f"$group_{i}": "string" for i in range(5)},
    },
    "persons": {
        "id": "uuid",
        "created_at": "datetime",
        "properties": "json",
        "is_identified": "bool",
    },
    "person_distinct_ids": {"distinct_id": "string", "person_id": "uuid"},
    "groups": {"index": "int", "key": "string", "created_at": "datetime", "properties": "json"},
}

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<string>'(?:[^'\\]|\\.)*')
  | (?P<number>\d+(?:\.\d+)?)
  | (?P<ident>[A-Za-z_$][A-Za-z0-9_$]*)
  | (?P<op>>=|<=|!=|=|<|>|\(|\)|,|\*)
    """,
    re.VERBOSE | re.DOTALL,
)
_UNESCAPE = {
    "\\": "\\",
    "'": "'",
    "b": "\b",
    "f": "\f",
    "r": "\r",
    "n": "\n",
    "t": "\t",
    "0": "\0",
    "a": "\a",
    "v": "\v",
}


def ck_uuid_key(value: str) -> str:
    """The sort key under which ClickHouse orders a UUID: its low 64 bits, then its high 64."""
    hexa = value.replace("-", "").lower()
    if not re.fullmatch(r"[0-9a-f]{32}", hexa):
        raise HogQLError("value_error", f"Cannot parse UUID: {value!r}")
    return hexa[16:] + hexa[:16]


def _unescape(body: str) -> str:
    out, i = [], 0
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):
            out.append(_UNESCAPE.get(body[i + 1], body[i + 1]))
            i += 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)


@dataclass
class Tok:
    kind: str
    value: str


def tokenize(text: str) -> list[Tok]:
    pos, toks = 0, []
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise HogQLError("syntax_error", f"Syntax error at position {pos}: {text[pos : pos + 20]!r}")
        pos = m.end()
        kind = m.lastgroup
        if kind == "ws":
            continue
        value = m.group(kind)
        if kind == "string":
            value = _unescape(value[1:-1])
        toks.append(Tok(kind, value))
    return toks


@dataclass
class Value:
    type: str  # datetime | uuid | string | int
    value: Any
    raw: str | None = None  # the string literal as written, for type checks


@dataclass
class Column:
    name: str
    type: str


@dataclass
class Query:
    table: str
    select: list[str]  # column names, "count()" or a number
    where: list[tuple[Any, str, Any]]
    order: list[str]
    limit: int | None
    offset: int | None


class Parser:
    def __init__(self, text: str, timezone: str):
        self.toks = tokenize(text)
        self.i = 0
        self.tz = ZoneInfo(timezone)
        self.table: str | None = None

    def peek(self, offset: int = 0) -> Tok | None:
        j = self.i + offset
        return self.toks[j] if j < len(self.toks) else None

    def kw(self, word: str) -> bool:
        t = self.peek()
        if t is not None and t.kind == "ident" and t.value.lower() == word:
            self.i += 1
            return True
        return False

    def expect_kw(self, word: str) -> None:
        if not self.kw(word):
            raise HogQLError("syntax_error", f"Syntax error: expected {word.upper()}")

    def op(self, symbol: str) -> bool:
        t = self.peek()
        if t is not None and t.kind == "op" and t.value == symbol:
            self.i += 1
            return True
        return False

    def expect_op(self, symbol: str) -> None:
        if not self.op(symbol):
            raise HogQLError("syntax_error", f"Syntax error: expected {symbol!r}")

    def next(self, kind: str) -> str:
        t = self.peek()
        if t is None or t.kind != kind:
            raise HogQLError("syntax_error", f"Syntax error: expected {kind}")
        self.i += 1
        return t.value

    def parse(self) -> Query:
        self.expect_kw("select")
        items = [self.select_item()]
        while self.op(","):
            items.append(self.select_item())
        self.expect_kw("from")
        table = self.next("ident")
        if table not in TABLES:
            raise HogQLError("unknown_table", f"Unknown table `{table}`.")
        self.table = table
        for item in items:
            if item not in ("count()",) and not item.isdigit() and item not in TABLES[table]:
                raise HogQLError("unknown_field", f"Unable to resolve field: {item}")
        where = []
        if self.kw("where"):
            where.append(self.condition())
            while self.kw("and"):
                where.append(self.condition())
        order = []
        if self.kw("order"):
            self.expect_kw("by")
            order.append(self.column().name)
            while self.op(","):
                order.append(self.column().name)
        limit = offset = None
        if self.kw("limit"):
            limit = int(self.next("number"))
        if self.kw("offset"):
            offset = int(self.next("number"))
        if self.peek() is not None:
            raise HogQLError("syntax_error", f"Syntax error near {self.peek().value!r}")
        return Query(table, items, where, order, limit, offset)

    def select_item(self) -> str:
        t = self.peek()
        if t is not None and t.kind == "number":
            self.i += 1
            return t.value
        name = self.next("ident")
        if name.lower() == "count" and self.op("("):
            self.expect_op(")")
            return "count()"
        return name

    def column(self) -> Column:
        name = self.next("ident")
        columns = TABLES[self.table]
        if name not in columns:
            raise HogQLError("unknown_field", f"Unable to resolve field: {name}")
        return Column(name, columns[name])

    def operand(self) -> Any:
        t = self.peek()
        if t is None:
            raise HogQLError("syntax_error", "Syntax error: unexpected end of query")
        if t.kind == "op" and t.value == "(":
            self.i += 1
            items = [self.operand()]
            while self.op(","):
                items.append(self.operand())
            self.expect_op(")")
            return tuple(items) if len(items) > 1 else items[0]
        if t.kind == "string":
            self.i += 1
            return Value("string", t.value, raw=t.value)
        if t.kind == "number":
            self.i += 1
            return Value("int", int(float(t.value)))
        if t.kind == "ident" and self.peek(1) is not None and self.peek(1).value == "(":
            return self.function()
        return self.column()

    def function(self) -> Value:
        name = self.next("ident")
        self.expect_op("(")
        args = []
        if not self.op(")"):
            args.append(self.operand())
            while self.op(","):
                args.append(self.operand())
            self.expect_op(")")
        lname = name.lower()
        if lname in ("todatetime64", "todatetime"):
            if not args or not isinstance(args[0], Value) or args[0].type != "string":
                raise HogQLError("syntax_error", f"{name} needs a string argument")
            tz_arg = args[-1] if len(args) >= 2 and isinstance(args[-1], Value) and args[-1].type == "string" else None
            tz = ZoneInfo(tz_arg.value) if tz_arg else self.tz
            return Value("datetime", self.parse_datetime(args[0].value, tz, name))
        if lname == "touuid":
            if len(args) != 1 or not isinstance(args[0], Value) or args[0].type != "string":
                raise HogQLError("syntax_error", "toUUID needs one string argument")
            return Value("uuid", ck_uuid_key(args[0].value))
        raise HogQLError("unknown_function", f"Unsupported function {name} (test server)")

    @staticmethod
    def parse_datetime(text: str, tz: ZoneInfo, func: str = "comparison") -> datetime:
        if "T" in text or text.endswith("Z"):
            raise HogQLError(
                "type_mismatch",
                f"Cannot parse DateTime from '{text}' in {func}: use 'YYYY-MM-DD HH:MM:SS'",
            )
        try:
            naive = datetime.fromisoformat(text)
        except ValueError:
            raise HogQLError("value_error", f"Cannot parse DateTime from '{text}'") from None
        local = naive.replace(tzinfo=tz) if naive.tzinfo is None else naive
        return local.astimezone(ZoneInfo("UTC")).replace(tzinfo=None)

    def condition(self) -> tuple[Any, str, Any]:
        left = self.operand()
        t = self.peek()
        if t is None or t.kind != "op" or t.value not in ("=", "!=", "<", "<=", ">", ">="):
            raise HogQLError("syntax_error", "Syntax error: expected a comparison")
        self.i += 1
        right = self.operand()
        return left, t.value, right


# -- compile to DuckDB --------------------------------------------------------------------------

SERVER_TABLES = {
    "events": "srv_events",
    "persons": "srv_persons",
    "person_distinct_ids": "srv_pdi",
    "groups": "srv_groups",
}


def _col_sql(col: Column) -> str:
    if col.type == "uuid":
        return f"{col.name}_ck"
    if col.name == "index":
        return "group_index"
    if col.name == "key":
        return "group_key"
    if col.name == "timestamp":
        return "ts"
    return col.name


def _coerce(col: Column, value: Any, tz: ZoneInfo) -> Any:
    if not isinstance(value, Value):
        raise HogQLError("syntax_error", "Comparing two columns is not supported by the test server")
    if col.type == "datetime":
        if value.type == "datetime":
            return value.value
        if value.type == "string":
            return Parser.parse_datetime(value.value, tz)
        raise HogQLError("type_mismatch", f"Cannot compare DateTime with {value.type}")
    if col.type == "uuid":
        if value.type == "uuid":
            return value.value
        if value.type == "string":
            return ck_uuid_key(value.value)
        raise HogQLError("type_mismatch", f"Cannot compare UUID with {value.type}")
    if col.type == "int":
        if value.type != "int":
            raise HogQLError("type_mismatch", f"Cannot compare Int with {value.type}")
        return value.value
    if col.type == "string":
        if value.type != "string":
            raise HogQLError("type_mismatch", f"Cannot compare String with {value.type}")
        return value.value
    raise HogQLError("type_mismatch", f"Cannot compare {col.type} columns")


def _compare(left: list[str], op: str, right: list[Any], params: list[Any]) -> str:
    """Lexicographic tuple comparison expanded into plain comparisons."""
    if len(left) == 1:
        params.append(right[0])
        return f"{left[0]} {'<>' if op == '!=' else op} ?"
    if op in ("=", "!="):
        parts = []
        for l_sql, r_val in zip(left, right):
            params.append(r_val)
            parts.append(f"{l_sql} = ?")
        expr = "(" + " and ".join(parts) + ")"
        return expr if op == "=" else f"not {expr}"
    strict = op[0]  # '>' or '<'
    head, rest = left[0], left[1:]
    params.append(right[0])
    first = f"{head} {strict} ?"
    params.append(right[0])
    inner = _compare(rest, op, right[1:], params)
    return f"({first} or ({head} = ? and {inner}))"


def compile_query(text: str, timezone: str, max_rows: int) -> tuple[Query, str, list[Any], int | None, bool]:
    """(parsed, DuckDB SQL, params, effective limit, limit was explicit)."""
    parser = Parser(text, timezone)
    q = parser.parse()
    tz = ZoneInfo(timezone)
    if q.offset is not None:
        raise HogQLError(
            "hogql_query_error",
            "OFFSET is not supported for queries made with personal API keys. Use a keyset "
            "(cursor) condition such as `WHERE timestamp > …` instead.",
        )
    params: list[Any] = []
    where_sql = []
    for left, op, right in q.where:
        lcols = list(left) if isinstance(left, tuple) else [left]
        rvals = list(right) if isinstance(right, tuple) else [right]
        if not all(isinstance(c, Column) for c in lcols):
            raise HogQLError("syntax_error", "The test server wants the column on the left")
        if len(lcols) != len(rvals):
            raise HogQLError("type_mismatch", "Tuples of different sizes cannot be compared")
        coerced = [_coerce(c, v, tz) for c, v in zip(lcols, rvals)]
        where_sql.append(_compare([_col_sql(c) for c in lcols], op, coerced, params))
    explicit = q.limit is not None
    limit = min(q.limit, max_rows) if explicit else 100
    return q, " and ".join(where_sql), params, limit, explicit
