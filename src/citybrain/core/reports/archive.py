"""The report archive: every generated report kept under ``<data_dir>/reports/<id>/`` with an entry
in ``<data_dir>/reports/manifest.json`` (kind, period, language, when and by whom it was made, its
files with size and SHA-256, its sections, the seconds it took).

Durable and crash-safe: a report's files are written into a staging folder, flushed to disk and
moved into place by one rename; the manifest is rewritten whole into a temporary file, flushed and
swapped in by ``os.replace``, so a crash leaves the old manifest or the new one, never half of one.
One writer at a time, across threads and processes (a server and the CLI beside it): an exclusive
``flock`` on ``manifest.lock``. Regenerating a month adds a version (``monthly-2026-11-zh-v2``);
the earlier ones stay. A file is read back only when its bytes still have the listed SHA-256."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import msgspec

from citybrain.core.errors import ConflictError, NotFoundError, StoreError

__all__ = ["Archive", "ChecksumError", "Entry", "ReportFile"]

MANIFEST = "manifest.json"
STAGING = ".staging-"
STALE_STAGING_S = 3_600.0  # a staging folder this old was left by a crash (renders take seconds)
MEDIA_TYPES = {".pdf": "application/pdf", ".html": "text/html; charset=utf-8"}


class ChecksumError(ConflictError):
    """An archived file whose bytes no longer have the SHA-256 its entry lists: refused."""


class ReportFile(msgspec.Struct, frozen=True):
    name: str
    media_type: str
    size: int
    sha256: str


class Entry(msgspec.Struct, frozen=True):
    id: str  # <kind>-<period>-<language>-v<version>
    kind: str  # "monthly"
    period: str  # "2026-11"
    language: str  # "zh" | "en"
    version: int  # 1 for the period's and language's first report, then 2, 3 ...
    generated_ts: int  # epoch ms
    generated_by: str  # "schedule", "cli" or the person's (or token's) name
    seconds: float  # how long the generation took
    sections: list[str]  # the scenes whose sections it holds
    files: list[ReportFile]

    def file(self, name: str) -> ReportFile:
        found = next((f for f in self.files if f.name == name), None)
        if found is None:
            raise NotFoundError(
                f"report {self.id} has no file {name!r}; it has {[f.name for f in self.files]}"
            )
        return found


class _Manifest(msgspec.Struct):
    format: int = 1
    entries: list[Entry] = msgspec.field(default_factory=list)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class Archive:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._lock = threading.Lock()  # flock is per open file: threads of one process queue here first
        root.mkdir(parents=True, exist_ok=True)
        self._clean_staging()

    # -- reading ---------------------------------------------------------------------------------
    def entries(self, kind: str = "", period: str = "", language: str = "") -> list[Entry]:
        """Entries, newest first, of one kind / period / language when given."""
        found = [
            e
            for e in self._read().entries
            if (not kind or e.kind == kind)
            and (not period or e.period == period)
            and (not language or e.language == language)
        ]
        return sorted(found, key=lambda e: (e.generated_ts, e.version), reverse=True)

    def get(self, entry_id: str) -> Entry:
        found = next((e for e in self._read().entries if e.id == entry_id), None)
        if found is None:
            raise NotFoundError(f"report {entry_id!r} is not in the archive")
        return found

    def read(self, entry_id: str, name: str) -> tuple[ReportFile, bytes]:
        """A file of an entry, its bytes checked against the SHA-256 listed for it."""
        entry = self.get(entry_id)
        meta = entry.file(name)
        path = self.root / entry.id / meta.name
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise ChecksumError(f"report file {entry.id}/{name} is missing from {self.root}") from None
        digest = hashlib.sha256(data).hexdigest()
        if digest != meta.sha256:
            raise ChecksumError(
                f"report file {entry.id}/{name} does not match its checksum (listed sha256 {meta.sha256}, "
                f"the file now has {digest}, {len(data)} bytes): refused; it was changed after it was "
                "archived, so generate the month again"
            )
        return meta, data

    def _read(self) -> _Manifest:
        path = self.root / MANIFEST
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return _Manifest()
        try:
            return msgspec.json.decode(raw, type=_Manifest)
        except msgspec.DecodeError as err:
            raise StoreError(f"the report manifest {path} cannot be read: {err}") from err

    # -- writing ---------------------------------------------------------------------------------
    def staging(self) -> Path:
        """A new empty folder to write a report's files into before ``add`` moves it in place."""
        path = self.root / f"{STAGING}{os.getpid()}-{time.time_ns()}"
        path.mkdir()
        return path

    def add(
        self,
        staged: Path,
        files: Sequence[Path],
        *,
        kind: str,
        period: str,
        language: str,
        generated_ts: int,
        generated_by: str,
        seconds: float,
        sections: Sequence[str],
    ) -> Entry:
        """Archive ``files`` (written in ``staged``, from ``staging()``) as the next version of
        ``kind``/``period``/``language``: flushed, moved into ``<root>/<id>/`` and listed."""
        metas = []
        for path in files:
            with path.open("rb") as f:
                os.fsync(f.fileno())
            media = MEDIA_TYPES.get(path.suffix, "application/octet-stream")
            metas.append(ReportFile(path.name, media, path.stat().st_size, _sha256(path)))
        for other in staged.iterdir():  # e.g. the .sha256 file: flushed too, kept beside them
            if other not in files:
                with other.open("rb") as f:
                    os.fsync(f.fileno())
        _fsync_dir(staged)
        with self._writing() as manifest:
            version = 1 + max(
                (e.version for e in manifest.entries
                 if (e.kind, e.period, e.language) == (kind, period, language)),
                default=0,
            )  # fmt: skip
            entry = Entry(
                f"{kind}-{period}-{language}-v{version}", kind, period, language, version, generated_ts,
                generated_by, round(seconds, 3), list(sections), metas,
            )  # fmt: skip
            target = self.root / entry.id
            if target.exists():  # a crash between the folder's rename and the manifest: not listed
                shutil.rmtree(target)
            staged.rename(target)
            _fsync_dir(self.root)
            manifest.entries.append(entry)
        return entry

    @contextlib.contextmanager
    def _writing(self) -> Iterator[_Manifest]:
        """The manifest to change, written back atomically when the block ends without error."""
        with self._lock, (self.root / "manifest.lock").open("a+b") as lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            try:
                manifest = self._read()
                yield manifest
                tmp = self.root / f"{MANIFEST}.tmp"
                with tmp.open("wb") as f:
                    f.write(msgspec.json.format(msgspec.json.encode(manifest), indent=1))
                    f.flush()
                    os.fsync(f.fileno())
                os.replace(tmp, self.root / MANIFEST)
                _fsync_dir(self.root)
            finally:
                fcntl.flock(lock.fileno(), fcntl.LOCK_UN)

    def _clean_staging(self) -> None:
        """Remove staging folders a crash left (old ones only: another process may be rendering)."""
        now = time.time()
        for path in self.root.glob(f"{STAGING}*"):
            with contextlib.suppress(OSError):
                if now - path.stat().st_mtime > STALE_STAGING_S:
                    shutil.rmtree(path)
