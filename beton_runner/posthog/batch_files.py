"""Load PostHog batch-export files (Parquet or JSON lines) from a folder or an S3-compatible
bucket into the warehouse, through the same destinations as the API ingest.

For history beyond what the query API allows (50,000 rows a query, about 2,400 queries an
hour), PostHog's batch exports and its file-download API write files of the ``events`` model
(immutable: one row per event) or the ``persons`` model (mutable: one row per distinct id with
its person, for the persons changed in an interval). Names follow
``{prefix}/{interval_start}-{interval_end}[-{n}].{parquet|jsonl}[.{gz|br|zst|lz4|sz}]``, next to
a ``..._manifest.json``. For Parquet the compression suffix names the codec *inside* the file;
for JSON lines (gzip or brotli) the whole file is compressed.

* Events go through :meth:`Destination.write_events`, which drops every uuid already stored:
  PostHog may deliver an event twice, and files overlap. Re-running adds nothing.
* Persons and their distinct ids are merged (:meth:`Destination.merge_snapshot`): the latest
  version of each person and each distinct id read in this run replaces the stored one,
  deleted persons go, everybody else stays.
* Each file is checked whole before anything from it is written (a corrupt file is an error
  naming it; nothing of it is loaded). Rows that cannot be used (no uuid, a timestamp that is
  not one, properties that are not a JSON object) are skipped, counted and named by file and
  row/line number.
* A record of every loaded file (its address, size and modification time) lives in the sync
  state table (stream ``file:<address>``): an unchanged file is skipped on the next run. The
  record only saves time; the uuid is what makes loading exact.

Files are read in pages (Parquet by row batch, JSON lines line by line), so memory stays flat
whatever their size; a file in S3 is first copied to a temporary file (on disk, never whole in
memory), so that checking it and loading it read the same bytes.
"""

from __future__ import annotations

import glob
import io
import json
import os
import posixpath
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from beton_runner.errors import ConfigError, IngestError
from beton_runner.posthog.accounts import DEFAULT_ACCOUNT_PROPERTY
from beton_runner.posthog.progress import NullReporter, Reporter
from beton_runner.posthog.stream import Destination, StreamState, parse_timestamp

FORMATS = ("auto", "parquet", "jsonl")
KINDS = ("auto", "events", "persons")
PAGE_ROWS = 50_000
RECORD_PREFIX = "file:"  # sync-state stream of a loaded file: file:<address>
RECORD_COLUMN = "batch_export_file"  # its cursor_column; cursor_uuid holds size:mtime
MAX_BAD_EXAMPLES = 20

# compression suffix -> Arrow codec (for JSON lines; inside Parquet, Arrow reads the codec itself)
_COMPRESSIONS = {".gz": "gzip", ".br": "brotli", ".zst": "zstd", ".lz4": "lz4", ".sz": None}
_FORMAT_SUFFIXES = {".parquet": "parquet", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl"}
_EVENT_COLUMNS = {"uuid", "event", "timestamp"}
# the columns of PostHog's models that are loaded (the others, e.g. person_properties, are not read)
MODEL_COLUMNS = {
    "events": ("uuid", "event", "distinct_id", "timestamp", "properties", "person_id"),
    "persons": (
        "distinct_id",
        "person_id",
        "properties",
        "created_at",
        "person_version",
        "person_distinct_id_version",
        "is_deleted",
    ),
}
_PERSON_COLUMNS = {"person_id", "distinct_id"}


@dataclass(frozen=True)
class ExportFile:
    """One file of the source: ``path`` for the filesystem, ``address`` for people and records."""

    path: str
    address: str
    size: int
    mtime: datetime | None

    @property
    def signature(self) -> str:
        stamp = self.mtime.strftime("%Y-%m-%dT%H:%M:%S.%f") if self.mtime else "?"
        return f"{self.size}:{stamp}"

    @property
    def record(self) -> str:
        return RECORD_PREFIX + self.address


@dataclass
class FilesOptions:
    format: str = "auto"
    kind: str = "auto"
    page_rows: int = PAGE_ROWS
    account_property: str = DEFAULT_ACCOUNT_PROPERTY  # accounts when the warehouse has none yet


@dataclass
class BadRow:
    address: str
    position: str  # "line 12" / "row 7"
    reason: str

    def __str__(self) -> str:
        return f"{self.address}, {self.position}: {self.reason}"


@dataclass
class FilesResult:
    files: int = 0  # export files found
    loaded: int = 0
    unchanged: int = 0  # skipped: loaded before, same size and time
    ignored: list[str] = field(default_factory=list)  # not export files (manifests, others)
    events_read: int = 0
    events_new: int = 0
    persons_read: int = 0
    bad_rows: int = 0
    bad_examples: list[BadRow] = field(default_factory=list)
    snapshots: dict[str, int] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def bad(self, address: str, position: str, reason: str) -> None:
        self.bad_rows += 1
        if len(self.bad_examples) < MAX_BAD_EXAMPLES:
            self.bad_examples.append(BadRow(address, position, reason))


class CorruptFileError(IngestError):
    """A file could not be read to its end; nothing of it was loaded."""


# -- where the files are ---------------------------------------------------------------------


class FileSource:
    """A local folder/file/glob or an ``s3://bucket/prefix``, read through a pyarrow filesystem."""

    def __init__(self, source: str, endpoint_url: str | None = None, environ: dict[str, str] | None = None):
        from pyarrow import fs

        env = os.environ if environ is None else environ
        self.source = source
        self.is_s3 = source.lower().startswith("s3://")
        if self.is_s3:
            parts = urlsplit(source)
            self.bucket, self.prefix = parts.netloc, parts.path.lstrip("/")
            if not self.bucket:
                raise ConfigError(f"'{source}' names no bucket: write s3://BUCKET/PREFIX.")
            endpoint = endpoint_url or env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL") or None
            options: dict[str, Any] = {}
            if endpoint:
                url = urlsplit(endpoint if "://" in endpoint else f"https://{endpoint}")
                if url.scheme not in ("http", "https") or not url.netloc:
                    raise ConfigError(
                        f"--endpoint-url '{endpoint}' is not an http(s) address, e.g. http://localhost:9000"
                    )
                options.update(endpoint_override=url.netloc, scheme=url.scheme)
                self.endpoint = f"{url.scheme}://{url.netloc}"
            else:
                self.endpoint = None
            region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")
            if region:
                options["region"] = region
            # credentials: the AWS SDK's standard chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY
            # /AWS_SESSION_TOKEN, AWS_PROFILE and ~/.aws, instance roles); never read here
            self.fs = fs.S3FileSystem(**options)
        else:
            self.fs = fs.LocalFileSystem()
            self.endpoint = None

    def describe(self) -> str:
        if self.is_s3 and self.endpoint:
            return f"{self.source} (at {self.endpoint})"
        return self.source

    def _fail(self, exc: BaseException) -> IngestError:
        where = self.describe()
        hint = (
            "Check the bucket and prefix, --endpoint-url for a non-AWS store (MinIO, R2...), and the "
            "credentials (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE)."
            if self.is_s3
            else "Check the path."
        )
        detail = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
        return IngestError(f"Could not list the files of {where}: {detail}. {hint}")

    def files(self) -> list[ExportFile]:
        """Every file under the source, in name order (PostHog's names start with the interval)."""
        from pyarrow import fs

        if not self.is_s3:
            return self._local_files()
        base = f"{self.bucket}/{self.prefix}".rstrip("/")
        try:
            info = self.fs.get_file_info(base)
            if info.type == fs.FileType.File:
                infos = [info]
            elif info.type == fs.FileType.Directory:
                infos = self.fs.get_file_info(fs.FileSelector(base, recursive=True))
            else:  # a key prefix that is no "folder": list its folder, keep the names it starts
                parent = posixpath.dirname(base) or self.bucket
                infos = [
                    i
                    for i in self.fs.get_file_info(fs.FileSelector(parent, recursive=True, allow_not_found=True))
                    if i.path.startswith(base)
                ]
        except OSError as exc:
            raise self._fail(exc) from None
        found = [
            ExportFile(i.path, f"s3://{i.path}", int(i.size or 0), _utc(i.mtime))
            for i in infos
            if i.type == fs.FileType.File
        ]
        return sorted(found, key=lambda f: f.address)

    def _local_files(self) -> list[ExportFile]:
        source = os.path.expanduser(self.source)
        if glob.has_magic(source):
            paths = [Path(p) for p in glob.glob(source, recursive=True)]
        elif Path(source).is_dir():
            paths = [p for p in Path(source).rglob("*")]
        elif Path(source).is_file():
            paths = [Path(source)]
        else:
            raise ConfigError(
                f"'{self.source}' is no file, folder or glob that exists. Give the folder the batch "
                "export files are in, a glob like 'exports/**/*.parquet', or s3://BUCKET/PREFIX."
            )
        found = []
        for p in paths:
            if p.is_file():
                stat = p.stat()
                path = str(p.resolve())
                found.append(ExportFile(path, path, stat.st_size, datetime.fromtimestamp(stat.st_mtime, timezone.utc)))
        return sorted(found, key=lambda f: f.address)

    @contextmanager
    def local_copy(self, file: ExportFile) -> Iterator[str]:
        """A local path with the file's bytes: the file itself, or a temporary copy of an S3
        object (streamed to disk in 8 MiB pieces), removed afterwards."""
        if not self.is_s3:
            yield file.path
            return
        handle, tmp = tempfile.mkstemp(prefix="beton-export-", suffix=_suffix_of(file.address))
        try:
            with os.fdopen(handle, "wb") as out:
                try:
                    with self.fs.open_input_stream(file.path, compression=None) as stream:
                        while chunk := stream.read(8 << 20):
                            out.write(chunk)
                except OSError as exc:
                    detail = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
                    raise IngestError(
                        f"Could not download {file.address}: {detail}. Nothing of it was loaded; "
                        "check the connection and credentials and run again."
                    ) from None
            yield tmp
        finally:
            try:
                os.unlink(tmp)
            except OSError:
                pass


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.astimezone(timezone.utc) if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _suffix_of(name: str) -> str:
    base = posixpath.basename(name)
    return base[base.find(".") :] if "." in base else ""


def file_format(name: str, forced: str = "auto") -> tuple[str, str | None] | None:
    """(format, JSON-lines compression) of a file by its name, or None: not an export file."""
    base = posixpath.basename(name).lower()
    if base.endswith("_manifest.json") or base.startswith("."):
        return None
    stem, compression = base, None
    for suffix, codec in _COMPRESSIONS.items():
        if stem.endswith(suffix):
            stem, compression = stem[: -len(suffix)], codec or "snappy"
            break
    fmt = next((f for s, f in _FORMAT_SUFFIXES.items() if stem.endswith(s)), None)
    if forced != "auto":
        fmt = forced
    if fmt is None:
        return None
    if fmt == "jsonl" and compression == "snappy":
        return None  # PostHog writes JSON lines with gzip or brotli only
    return fmt, (compression if fmt == "jsonl" else None)


# -- reading one file ----------------------------------------------------------------------------


def _open_lines(path: str, compression: str | None) -> io.BufferedReader:
    import pyarrow as pa

    stream = pa.input_stream(path, compression=compression)
    return io.BufferedReader(stream, buffer_size=1 << 20)


def check_file(path: str, address: str, fmt: str, compression: str | None) -> None:
    """Read the whole file (decompress, decode Parquet pages) without keeping it: raise
    :class:`CorruptFileError` when it cannot be read to its end."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        if fmt == "parquet":
            for batch in pq.ParquetFile(path).iter_batches(batch_size=PAGE_ROWS):
                _check_batch(batch)
        else:
            with _open_lines(path, compression) as lines:
                while lines.read(8 << 20):
                    pass
    except (OSError, pa.ArrowException, EOFError, ValueError) as exc:
        what = "Parquet file" if fmt == "parquet" else f"JSON-lines file ({compression or 'uncompressed'})"
        detail = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
        raise CorruptFileError(
            f"{address} is not a readable {what}: {detail}. Nothing of it was loaded (files before "
            "it are loaded and kept). Export or download that file again, or move it out of the "
            "source, then run the same command again."
        ) from None


def _check_batch(batch: Any) -> None:
    """Catch what decodes but cannot be real (Parquet pages carry no checksum by default):
    invalid UTF-8 or offsets, timestamps outside the years 1-9999."""
    import pyarrow as pa
    import pyarrow.compute as pc

    batch.validate(full=True)
    for name, column, kind in zip(batch.schema.names, batch.columns, batch.schema.types):
        if pa.types.is_timestamp(kind) and column.null_count < len(column):
            low, high = pc.min_max(column.cast(pa.int64())).values()
            unit = {"s": 1, "ms": 10**3, "us": 10**6, "ns": 10**9}[kind.unit]
            if not _MIN_EPOCH * unit <= low.as_py() <= high.as_py() <= _MAX_EPOCH * unit:
                raise ValueError(f"column {name} holds impossible timestamps")


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MIN_EPOCH = int((datetime(1, 1, 2, tzinfo=timezone.utc) - _EPOCH).total_seconds())
_MAX_EPOCH = int((datetime(9999, 12, 30, tzinfo=timezone.utc) - _EPOCH).total_seconds())


def _timestamps_as_text(batch: Any) -> Any:
    """Timestamp columns as naive-UTC text, converted by Arrow (Python datetimes are slow)."""
    import pyarrow as pa

    columns = []
    for column, kind in zip(batch.columns, batch.schema.types):
        if pa.types.is_timestamp(kind):
            column = column.cast(pa.timestamp(kind.unit)).cast(pa.string())  # the values are UTC
        columns.append(column)
    return pa.RecordBatch.from_arrays(columns, names=batch.schema.names)


def read_records(
    path: str, fmt: str, compression: str | None, page_rows: int, columns: Sequence[str] | None = None
) -> Iterator[list[tuple[str, Any]]]:
    """Pages of ``(position, record)``: a dict per row, or an error text for a line that is not
    a JSON object. ``columns``: read only these of a Parquet file."""
    if fmt == "parquet":
        import pyarrow.parquet as pq

        parquet = pq.ParquetFile(path)
        present = set(parquet.schema_arrow.names)
        wanted = None if columns is None else [c for c in columns if c in present]
        row = 0
        for batch in parquet.iter_batches(batch_size=page_rows, columns=wanted):
            records = _timestamps_as_text(batch).to_pylist()
            yield [(f"row {row + i + 1}", r) for i, r in enumerate(records)]
            row += len(records)
        return
    page: list[tuple[str, Any]] = []
    with _open_lines(path, compression) as lines:
        for number, raw in enumerate(lines, start=1):
            if not raw.strip():
                continue
            try:
                record = json.loads(raw)
            except ValueError as exc:
                record = f"not a JSON line ({exc})"
            if not isinstance(record, (dict, str)):
                record = "not a JSON object"
            page.append((f"line {number}", record))
            if len(page) >= page_rows:
                yield page
                page = []
    if page:
        yield page


def columns_of(path: str, fmt: str, compression: str | None) -> set[str]:
    """The column names of a file (Parquet: its schema; JSON lines: the first object's keys)."""
    if fmt == "parquet":
        import pyarrow.parquet as pq

        return set(pq.ParquetFile(path).schema_arrow.names)
    with _open_lines(path, compression) as lines:
        for raw in lines:
            if raw.strip():
                try:
                    first = json.loads(raw)
                except ValueError:
                    return set()
                return set(first) if isinstance(first, dict) else set()
    return set()


def file_kind(columns: set[str], forced: str) -> str | None:
    """events / persons by the columns of PostHog's models (None: another model, e.g. sessions)."""
    if forced != "auto":
        return forced
    if columns >= _EVENT_COLUMNS:
        return "events"
    if columns >= _PERSON_COLUMNS and "uuid" not in columns:
        return "persons"
    return None


# -- records -> rows -------------------------------------------------------------------------------


def _timestamp_text(value: Any) -> str:
    """A timestamp (datetime or text) as naive-UTC ISO text; ValueError when it is not one."""
    if value is None or value == "":
        raise ValueError("no timestamp")
    if isinstance(value, str) and value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"  # Python 3.10's fromisoformat knows no Z
    try:
        return parse_timestamp(value).isoformat(sep=" ")
    except (TypeError, ValueError):
        raise ValueError(f"unparsable timestamp {str(value)[:40]!r}") from None


def _properties_text(value: Any) -> str:
    """Properties as JSON object text (PostHog writes them as JSON text, null when empty)."""
    if value is None or value == "":
        return "{}"
    if isinstance(value, dict):
        return json.dumps(value, separators=(",", ":"))
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except ValueError:
            raise ValueError("properties are not JSON") from None
        if isinstance(parsed, dict):
            return value
    raise ValueError("properties are not a JSON object")


def _text(value: Any) -> str | None:
    return None if value is None else value if isinstance(value, str) else str(value)


def event_row(record: dict) -> list[Any]:
    """An events-model record as an events page row (uuid, event, distinct_id, timestamp,
    properties, person_id); ValueError names what is wrong with it."""
    uuid = _text(record.get("uuid"))
    if not uuid or not uuid.strip():
        raise ValueError("no uuid")
    return [
        uuid.strip(),
        _text(record.get("event")) or "",
        _text(record.get("distinct_id")) or "",
        _timestamp_text(record.get("timestamp")),
        _properties_text(record.get("properties")),
        _text(record.get("person_id")),
    ]


@dataclass
class _Persons:
    """The latest version of each person and each distinct id read in this run."""

    people: dict[str, tuple[int, str | None, str, bool]] = field(default_factory=dict)
    ids: dict[str, tuple[int, str]] = field(default_factory=dict)

    def add(self, record: dict) -> None:
        person = _text(record.get("person_id"))
        distinct = _text(record.get("distinct_id"))
        if not person or not distinct:
            raise ValueError("no person_id" if not person else "no distinct_id")
        created = record.get("created_at")
        created_text = _timestamp_text(created) if created not in (None, "") else None
        properties = _properties_text(record.get("properties"))
        version = _version(record.get("person_version"))
        deleted = bool(record.get("is_deleted"))
        if person not in self.people or version >= self.people[person][0]:
            self.people[person] = (version, created_text, properties, deleted)
        id_version = _version(record.get("person_distinct_id_version"))
        if distinct not in self.ids or id_version >= self.ids[distinct][0]:
            self.ids[distinct] = (id_version, person)

    def rows(self) -> tuple[list[list[Any]], list[str], list[list[Any]], list[str]]:
        """(person rows, deleted person ids, distinct-id rows, distinct ids to drop)."""
        persons, gone = [], []
        for person, (_, created, properties, deleted) in self.people.items():
            if deleted:
                gone.append(person)
            else:
                persons.append([person, created, properties, None])
        gone_set = set(gone)
        ids, dropped = [], []
        for distinct, (_, person) in self.ids.items():
            if person in gone_set:
                dropped.append(distinct)
            else:
                ids.append([distinct, person])
        return persons, gone, ids, dropped


def _version(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return -1


# -- the run ---------------------------------------------------------------------------------------


def _pages(rows: Sequence[list[Any]], size: int) -> Iterator[Sequence[list[Any]]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def run_files_ingest(
    source: FileSource,
    destination: Destination,
    options: FilesOptions | None = None,
    reporter: Reporter | None = None,
) -> FilesResult:
    """Load every export file of ``source`` into ``destination`` (already open)."""
    options = options or FilesOptions()
    if options.format not in FORMATS:
        raise ConfigError(f"--format must be one of {', '.join(FORMATS)}, not '{options.format}'.")
    if options.kind not in KINDS:
        raise ConfigError(f"--kind must be one of {', '.join(KINDS)}, not '{options.kind}'.")
    reporter = reporter or NullReporter()
    started = time.monotonic()
    result = FilesResult()

    todo: list[tuple[ExportFile, str, str | None]] = []
    for file in source.files():
        shape = file_format(file.address, options.format)
        if shape is None:
            result.ignored.append(file.address)
            continue
        result.files += 1
        state = destination.get_state(file.record)
        if state is not None and state.complete and state.cursor_uuid == file.signature:
            result.unchanged += 1
            continue
        todo.append((file, *shape))
    if result.files == 0:
        raise IngestError(
            f"No batch-export files in {source.describe()}: expected names ending in .parquet or "
            ".jsonl (optionally .gz/.br/.zst), as PostHog's S3 batch export and file-download "
            "API write them."
        )

    persons = _Persons()
    person_files: list[ExportFile] = []
    reporter.start("events", "events from files")
    reporter.start("persons", "persons from files")
    try:
        for file, fmt, compression in todo:
            with source.local_copy(file) as path:
                check_file(path, file.address, fmt, compression)
                kind = file_kind(columns_of(path, fmt, compression), options.kind)
                if kind is None:
                    result.notes.append(f"{file.address}: neither the events nor the persons model; skipped.")
                    result.ignored.append(file.address)
                    continue
                local = _Local(file, path, fmt, compression, kind)
                if kind == "events":
                    _load_events(destination, local, options, result, reporter)
                else:
                    _read_persons(persons, local, options, result, reporter)
                    person_files.append(file)
        reporter.finish("events")
        if person_files:
            _merge_persons(destination, persons, options, result)
            for file in person_files:
                destination.save_state(_record(file, complete=True))
        reporter.finish("persons")
    finally:
        for table in ("persons", "person_distinct_id"):
            if table not in result.snapshots:
                try:
                    destination.discard_snapshot(table)
                except Exception:  # noqa: BLE001 - cleanup only; the next run replaces it
                    pass
        result.seconds = time.monotonic() - started
    result.counts = destination.counts()
    if result.counts.get("accounts", 0) == 0 and (result.counts.get("events") or result.counts.get("persons")):
        # no accounts yet (no API ingest ran): derive them as the API ingest does without groups
        result.snapshots["accounts"] = destination.accounts_from_property(options.account_property)
        result.counts["accounts"] = result.snapshots["accounts"]
        result.notes.append(
            f"Accounts come from the '{options.account_property}' property of persons and events "
            "(the warehouse had none); `beton ingest posthog` replaces them by your group type's."
        )
    result.seconds = time.monotonic() - started
    return result


def _record(file: ExportFile, complete: bool) -> StreamState:
    return StreamState(file.record, cursor_uuid=file.signature, complete=complete, cursor_column=RECORD_COLUMN)


@dataclass(frozen=True)
class _Local:
    """An export file being loaded: where its bytes are now, and how to read them."""

    file: ExportFile
    path: str
    fmt: str
    compression: str | None
    kind: str


def _usable(
    local: _Local, options: FilesOptions, result: FilesResult, convert: Callable[[dict], Any]
) -> Iterator[list[Any]]:
    """Pages of ``convert(record)`` for the file's usable rows; the others are counted as bad
    (``convert`` raises ValueError saying what is wrong)."""
    file = local.file
    columns = MODEL_COLUMNS[local.kind]
    for page in read_records(local.path, local.fmt, local.compression, options.page_rows, columns):
        converted = []
        for position, record in page:
            try:
                if isinstance(record, str):  # a line that is no JSON object
                    raise ValueError(record)
                converted.append(convert(record))
            except ValueError as exc:
                result.bad(file.address, position, str(exc))
        yield converted


def _load_events(
    destination: Destination, local: _Local, options: FilesOptions, result: FilesResult, reporter: Reporter
) -> None:
    in_progress = _record(local.file, complete=False)
    for rows in _usable(local, options, result, event_row):
        if rows:
            result.events_new += destination.write_events(rows, in_progress)
            result.events_read += len(rows)
        reporter.page("events", len(rows))
    destination.save_state(_record(local.file, complete=True))
    result.loaded += 1


def _read_persons(
    persons: _Persons, local: _Local, options: FilesOptions, result: FilesResult, reporter: Reporter
) -> None:
    for added in _usable(local, options, result, persons.add):
        result.persons_read += len(added)
        reporter.page("persons", len(added))
    result.loaded += 1


def _merge_persons(destination: Destination, persons: _Persons, options: FilesOptions, result: FilesResult) -> None:
    people, gone, ids, dropped = persons.rows()
    for table, rows, remove in (("persons", people, gone), ("person_distinct_id", ids, dropped)):
        destination.start_snapshot(table)
        for page in _pages(rows, options.page_rows):
            destination.write_snapshot(table, page)
        result.snapshots[table] = destination.merge_snapshot(table, remove)
