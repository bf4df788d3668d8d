"""The data input layer: stream samples from local JSONL, JSON or Parquet files, folders, or Hub datasets.

``iter_samples(source)`` yields ``Sample`` or ``SampleError`` items one at a time and never holds the dataset in
memory: JSONL is read line by line, a JSON array is decoded object by object from a bounded buffer, Parquet by
record batches. A Hub id (``org/name``) is resolved with ``huggingface_hub`` (``HF_ENDPOINT`` is honoured):
its data files are listed, downloaded to the Hub cache and read by the same local readers.

Bad data never stops a stream: a line that is not JSON, not UTF-8 or larger than ``max_record_bytes`` becomes a
``SampleError`` for that record, and reading goes on. An empty file yields nothing.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from oda.errors import InputError
from scoring.samples import Sample, SampleError, normalize_record

DATA_SUFFIXES = (".jsonl", ".json", ".parquet", ".jsonl.gz")
DEFAULT_MAX_RECORD_BYTES = 512 * 1024
_READ_CHUNK = 1 << 20

RawItem = tuple[int, Any]  # (index, record dict) or (index, SampleError)


def _size_error(index: int, size: int, limit: int) -> SampleError:
    return SampleError(
        f"#{index}",
        f"record is {size / 1024:.0f} KiB; the limit is {limit / 1024:.0f} KiB (max_record_bytes)",
    )


def iter_jsonl_lines(
    path: Path, *, max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES
) -> Iterator[tuple[int, int, bytes | SampleError]]:
    """``(index, line number, raw line)`` for each non-blank line of a JSON Lines file; a line over
    ``max_record_bytes`` comes as a ``SampleError`` instead of its bytes."""
    opener: Any = open
    if path.name.endswith(".gz"):
        import gzip

        opener = gzip.open
    index = 0
    with opener(path, "rb") as fh:
        for lineno, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            if len(raw) > max_record_bytes:
                yield index, lineno, _size_error(index, len(raw), max_record_bytes)
            else:
                yield index, lineno, raw
            index += 1


def parse_jsonl_line(raw: bytes, index: int, lineno: int) -> Any:
    """The record on one JSON Lines line, or a ``SampleError`` saying why there is none."""
    try:
        # the fast parser accepts exactly valid UTF-8 JSON without lone surrogates; anything it refuses takes
        # the standard path below, which says what is wrong
        return orjson.loads(raw)
    except ValueError:
        pass
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        reason = f"line {lineno} is not valid UTF-8 (byte 0x{raw[exc.start]:02x} at {exc.start})"
        return SampleError(f"#{index}", reason)
    try:
        record = json.loads(text)
    except json.JSONDecodeError as exc:
        return SampleError(f"#{index}", f"line {lineno} is not valid JSON: {exc.msg} at column {exc.colno}")
    if (b"\\ud" in raw or b"\\uD" in raw) and _has_surrogates(record):
        return SampleError(f"#{index}", f"line {lineno} holds a lone UTF-16 surrogate escape")
    return record


def iter_jsonl(path: Path, *, max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES) -> Iterator[RawItem]:
    """Records of a JSON Lines file, one per non-blank line; bad lines become ``SampleError``."""
    for index, lineno, raw in iter_jsonl_lines(path, max_record_bytes=max_record_bytes):
        yield index, raw if isinstance(raw, SampleError) else parse_jsonl_line(raw, index, lineno)


def iter_json_array(path: Path, *, max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES) -> Iterator[RawItem]:
    """Objects of a top-level JSON array, decoded one at a time from a bounded buffer.

    A JSON Lines file saved as ``.json`` is detected and read as JSON Lines.
    """
    decoder = json.JSONDecoder()
    with open(path, "rb") as fh:
        head = fh.read(_READ_CHUNK)
        stripped = head.lstrip()
        if not stripped:
            return
        if not stripped.startswith(b"["):
            if stripped.startswith(b"{"):
                fh.close()
                yield from iter_jsonl(path, max_record_bytes=max_record_bytes)
                return
            raise InputError(f"{path}: expected a JSON array of records")
        buf = head.decode("utf-8", errors="surrogateescape")
        pos = buf.index("[") + 1
        index = 0
        eof = False
        while True:
            # skip separators
            while True:
                while pos < len(buf) and buf[pos] in " \t\r\n,":
                    pos += 1
                if pos < len(buf) or eof:
                    break
                more = fh.read(_READ_CHUNK)
                eof = not more
                buf = buf[pos:] + more.decode("utf-8", errors="surrogateescape")
                pos = 0
            if pos >= len(buf):
                raise InputError(f"{path}: truncated JSON array after {index} records")
            if buf[pos] == "]":
                return
            try:
                obj, end = decoder.raw_decode(buf, pos)
            except json.JSONDecodeError as exc:
                if not eof and len(buf) - pos <= max_record_bytes:
                    more = fh.read(_READ_CHUNK)
                    eof = not more
                    buf = buf[pos:] + more.decode("utf-8", errors="surrogateescape")
                    pos = 0
                    continue
                if len(buf) - pos > max_record_bytes:
                    raise InputError(
                        f"{path}: record #{index} is larger than {max_record_bytes} bytes; "
                        "convert the file to JSON Lines to skip oversized records"
                    ) from exc
                raise InputError(f"{path}: invalid JSON in record #{index}: {exc.msg}") from exc
            if end - pos > max_record_bytes:
                yield index, _size_error(index, end - pos, max_record_bytes)
            elif _has_surrogates(obj):
                yield index, SampleError(f"#{index}", "record contains bytes that are not valid UTF-8")
            else:
                yield index, obj
            index += 1
            pos = end
            if pos > _READ_CHUNK:
                buf, pos = buf[pos:], 0


def _has_surrogates(obj: Any) -> bool:
    if isinstance(obj, str):
        try:
            obj.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(obj, dict):
        return any(_has_surrogates(v) for v in obj.values())
    if isinstance(obj, list):
        return any(_has_surrogates(v) for v in obj)
    return False


def iter_parquet(path: Path, *, batch_size: int = 1024, **_: Any) -> Iterator[RawItem]:
    """Rows of a Parquet file, read one record batch at a time."""
    import pyarrow.parquet as pq

    index = 0
    try:
        parquet = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises ArrowInvalid/OSError with a clear message
        raise InputError(f"{path}: not a readable Parquet file: {exc}") from exc
    for batch in parquet.iter_batches(batch_size=batch_size):
        for row in batch.to_pylist():
            yield index, row
            index += 1


def data_files(folder: Path) -> list[Path]:
    """The data files under a folder, sorted by path."""
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.name.endswith(DATA_SUFFIXES))


def _reader_for(path: Path) -> Any:
    name = path.name.lower()
    if name.endswith((".jsonl", ".jsonl.gz", ".ndjson")):
        return iter_jsonl
    if name.endswith(".json"):
        return iter_json_array
    if name.endswith(".parquet"):
        return iter_parquet
    raise InputError(f"{path}: unsupported file type (expected .jsonl, .json or .parquet)")


def iter_records(
    paths: list[Path], *, max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES
) -> Iterator[tuple[str, int, Any]]:
    """``(file label, index within the stream, record or SampleError)`` over several files in turn."""
    offset = 0
    for path in paths:
        reader = _reader_for(path)
        last = -1
        for index, item in reader(path, max_record_bytes=max_record_bytes):
            last = index
            if isinstance(item, SampleError) and item.id.startswith("#"):
                item.id = f"#{offset + index}"
            yield path.name, offset + index, item
        offset += last + 1


def _hub_files(
    repo_id: str,
    *,
    split: str | None,
    revision: str | None,
    endpoint: str | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
) -> list[Path]:
    """Download a Hub dataset's data files (``.jsonl``, ``.json``, ``.parquet``) and return their local paths."""
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError

    # HF_ENDPOINT is read at call time (huggingface_hub reads it once, at import)
    endpoint = endpoint or os.environ.get("HF_ENDPOINT") or None
    api = HfApi(endpoint=endpoint, token=os.environ.get("HF_TOKEN") or False)
    where = endpoint or "the Hub"
    try:
        files = api.list_repo_files(repo_id, repo_type="dataset", revision=revision)
    except RepositoryNotFoundError as exc:
        raise InputError(f"dataset {repo_id} not found on {where}") from exc
    except (HfHubHTTPError, OSError) as exc:
        raise InputError(f"cannot list the files of {repo_id} on {where}: {exc}") from exc
    candidates = [f for f in files if f.lower().endswith(DATA_SUFFIXES) and not Path(f).name.startswith(".")]
    if split:
        chosen = [
            f
            for f in candidates
            if Path(f).name.startswith(split) or f"/{split}/" in f"/{f}" or f"-{split}" in f
        ]
        if not chosen:
            raise InputError(
                f"dataset {repo_id} has no data file for split {split!r}: {', '.join(candidates) or 'none'}"
            )
        candidates = chosen
    if not candidates:
        raise InputError(f"dataset {repo_id} has no .jsonl, .json or .parquet data files")
    paths = []
    for name in sorted(candidates):
        try:
            paths.append(
                Path(
                    api.hf_hub_download(
                        repo_id,
                        name,
                        repo_type="dataset",
                        revision=revision,
                        cache_dir=str(cache_dir) if cache_dir else None,
                    )
                )
            )
        except (HfHubHTTPError, OSError) as exc:
            raise InputError(f"cannot download {repo_id}/{name} from {where}: {exc}") from exc
    return paths


def resolve_source(
    source: str | os.PathLike[str],
    *,
    split: str | None = None,
    revision: str | None = None,
    endpoint: str | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
) -> list[Path]:
    """The local data files a source names: a file, a folder, or a Hub dataset id (downloaded)."""
    path = Path(source)
    if path.is_file():
        return [path]
    if path.is_dir():
        files = data_files(path)
        if not files:
            raise InputError(f"{path}: no .jsonl, .json or .parquet files in this folder")
        return files
    from graph_store.models import is_hf_id  # pydantic: not needed by workers that only parse lines

    text = str(source)
    if is_hf_id(text):
        return _hub_files(text, split=split, revision=revision, endpoint=endpoint, cache_dir=cache_dir)
    raise InputError(f"{text}: no such file or folder, and not a Hub dataset id (org/name)")


def iter_samples(
    source: str | os.PathLike[str],
    *,
    split: str | None = None,
    revision: str | None = None,
    max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES,
    limit: int | None = None,
    endpoint: str | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
) -> Iterator[Sample | SampleError]:
    """Stream normalized samples (or per-record errors) from a file, a folder or a Hub dataset id.

    >>> for item in iter_samples("data/train.jsonl"):
    ...     if isinstance(item, Sample):
    ...         print(item.id, item.instruction[:40])
    """
    files = resolve_source(source, split=split, revision=revision, endpoint=endpoint, cache_dir=cache_dir)
    yield from samples_from_files(files, max_record_bytes=max_record_bytes, limit=limit)


def samples_from_files(
    files: list[Path], *, max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES, limit: int | None = None
) -> Iterator[Sample | SampleError]:
    """``iter_samples`` over files already resolved."""
    seen = 0
    for label, index, item in iter_records(files, max_record_bytes=max_record_bytes):
        if limit is not None and seen >= limit:
            return
        seen += 1
        if isinstance(item, SampleError):
            item.source = label
            yield item
            continue
        result = normalize_record(item, index)
        if isinstance(result, SampleError):
            result.source = label
        yield result


def is_jsonl(path: Path) -> bool:
    """Whether ``path`` is read as JSON Lines."""
    return _reader_for(path) is iter_jsonl
