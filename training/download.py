"""Fetching files into the cache: streamed, verified, extracted safely, renamed into place.

``fetch_file(urls, target, ...)`` streams the first URL that answers into a
temporary file beside ``target``, checks its length and checksum (md5, or the
sha256 prefix torchvision writes in its file names) and renames it into place;
any failure removes the temporary file and the next URL is tried. Every failure
is a ``UserError`` naming the URL and the reason, raised within the connect and
read timeouts (:class:`Settings`, ``SKIPWIRE_CONNECT_TIMEOUT`` /
``SKIPWIRE_READ_TIMEOUT``, defaults 10 s + 20 s). ``ensure_dataset(name)``
builds ``datasets/NAME`` from its source under a lock (:mod:`training.cache`).

``safe_extract(tar_path, dest)`` admits only regular files and folders with
relative paths and no ``..``; links, devices and oversized members are refused.
"""

from __future__ import annotations

import hashlib
import http.client
import itertools
import os
import socket
import ssl
import tarfile
import threading
import time
import urllib.parse
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from graph.atomic import atomic_write
from graph.errors import UserError
from training import cache, sources
from training.cache import DownloadCancelled

CHUNK = 1 << 20
MB = 1 << 20  # sizes are shown in MB of 2**20 bytes, as the CIFAR page gives them (162 MB)
MAX_REDIRECTS = 5
MAX_MEMBER_BYTES = 1 << 30  # one file in an archive
MAX_ARCHIVE_BYTES = 4 << 30  # all of them
_counter = itertools.count()

Progress = Callable[[str, int, int | None], None]  # (file name, bytes so far, total or None)


@dataclass(frozen=True)
class Settings:
    connect_timeout: float = 10.0
    read_timeout: float = 20.0  # no byte for this long: give up

    @classmethod
    def from_env(cls) -> Settings:
        def num(name: str, default: float) -> float:
            raw = os.environ.get(name, "").strip()
            if not raw:
                return default
            try:
                v = float(raw)
            except ValueError:
                raise UserError(f"{name} must be a number of seconds, not {raw!r}") from None
            if not 0 < v <= 300:
                raise UserError(f"{name} must be between 0 and 300 seconds, not {raw}")
            return v

        return cls(
            num("SKIPWIRE_CONNECT_TIMEOUT", cls.connect_timeout),
            num("SKIPWIRE_READ_TIMEOUT", cls.read_timeout),
        )


class FetchError(Exception):
    """One URL failed (the next one may be tried)."""


# ----------------------------------------------------------------------- HTTP
def _resolve(host: str, port: int, timeout: float) -> list:
    """getaddrinfo, bounded by ``timeout`` (it ignores socket timeouts; a broken resolver can hang)."""
    box: dict = {}

    def run() -> None:
        try:
            box["ok"] = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            box["err"] = exc

    t = threading.Thread(target=run, name="skipwire-resolve", daemon=True)
    t.start()
    t.join(timeout)
    if "err" in box:
        exc = box["err"]
        raise FetchError(f"cannot resolve {host} ({getattr(exc, 'strerror', None) or exc}); offline?")
    if "ok" not in box:
        raise FetchError(f"cannot resolve {host} within {timeout:g} s; offline?")
    return box["ok"]


def _connect(host: str, port: int, https: bool, settings: Settings) -> socket.socket:
    deadline = time.monotonic() + settings.connect_timeout
    last: Exception | None = None
    for family, type_, proto, _name, addr in _resolve(host, port, settings.connect_timeout):
        left = deadline - time.monotonic()
        if left <= 0:
            break
        sock = socket.socket(family, type_, proto)
        sock.settimeout(left)
        try:
            sock.connect(addr)
            if https:
                sock = ssl.create_default_context().wrap_socket(sock, server_hostname=host)
            return sock
        except ConnectionRefusedError as exc:
            last = exc
        except (OSError, ssl.SSLError) as exc:
            last = exc
        sock.close()
    if isinstance(last, ConnectionRefusedError):
        raise FetchError("connection refused")
    if last is None or isinstance(last, TimeoutError):
        raise FetchError(f"no connection within {settings.connect_timeout:g} s")
    raise FetchError(f"cannot connect: {getattr(last, 'strerror', None) or last}")


def _open(url: str, settings: Settings):
    """(connection, response) for a GET of ``url``, following redirects."""
    for _ in range(MAX_REDIRECTS + 1):
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise FetchError(f"not an http(s) URL: {url}")
        https = parts.scheme == "https"
        port = parts.port or (443 if https else 80)
        sock = _connect(parts.hostname, port, https, settings)
        conn = (http.client.HTTPSConnection if https else http.client.HTTPConnection)(parts.hostname, port)
        conn.sock = sock  # connected (and, for https, wrapped) within the connect timeout
        sock.settimeout(settings.read_timeout)
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        try:
            conn.request("GET", path, headers={"User-Agent": "skipwire", "Accept-Encoding": "identity"})
            resp = conn.getresponse()
        except TimeoutError:
            conn.close()
            raise FetchError(f"no answer within {settings.read_timeout:g} s") from None
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            raise FetchError(f"the server broke off: {exc}") from None
        if resp.status in (301, 302, 303, 307, 308) and resp.getheader("Location"):
            url = urllib.parse.urljoin(url, resp.getheader("Location"))
            conn.close()
            continue
        if resp.status != 200:
            conn.close()
            raise FetchError(f"HTTP {resp.status} {resp.reason}".rstrip())
        return conn, resp
    raise FetchError(f"more than {MAX_REDIRECTS} redirects")


def _stream(
    url: str,
    tmp: Path,
    settings: Settings,
    on_progress: Progress | None,
    should_cancel: Callable[[], bool] | None,
    label: str,
) -> tuple[str, str]:
    """Write ``url`` to ``tmp``; return (md5, sha256) hex digests."""
    conn, resp = _open(url, settings)
    md5, sha = hashlib.md5(usedforsecurity=False), hashlib.sha256()
    length = resp.getheader("Content-Length")
    total = int(length) if length and length.isdigit() else None
    done = 0
    try:
        with open(tmp, "wb") as f:
            if on_progress:
                on_progress(label, 0, total)
            while True:
                if should_cancel is not None and should_cancel():
                    raise DownloadCancelled()
                try:
                    chunk = resp.read1(CHUNK)
                except TimeoutError:
                    raise FetchError(
                        f"stalled: no data for {settings.read_timeout:g} s after {done:,} bytes"
                    ) from None
                except (OSError, http.client.HTTPException) as exc:
                    raise FetchError(f"the connection broke after {done:,} bytes: {exc}") from None
                if not chunk:
                    break
                f.write(chunk)
                md5.update(chunk)
                sha.update(chunk)
                done += len(chunk)
                if on_progress:
                    on_progress(label, done, total)
    finally:
        conn.close()
    if total is not None and done != total:
        raise FetchError(f"truncated: {done:,} of {total:,} bytes arrived")
    return md5.hexdigest(), sha.hexdigest()


def fetch_file(
    urls: list[str],
    target: Path,
    md5: str | None = None,
    sha256_prefix: str | None = None,
    size: int = 0,
    settings: Settings | None = None,
    on_progress: Progress | None = None,
    should_cancel: Callable[[], bool] | None = None,
    manual: str = "",
    where: str = "",
) -> Path:
    """Download the first of ``urls`` that works to ``target`` (the caller holds the lock).

    The file is written beside ``target`` under a temporary name, verified, and renamed.
    ``where`` names the cache entry in messages (default: ``target``)."""
    settings = settings or Settings.from_env()
    target = Path(target)
    cache.ensure_dir(target.parent)
    cache.check_free_space(target.parent, int(size * 1.05) + (1 << 20), target.name)
    problems = []
    for url in urls:
        digests: list[str] = []

        def write(tmp: str, url: str = url, digests: list = digests) -> None:
            digests[:] = _stream(url, Path(tmp), settings, on_progress, should_cancel, target.name)

        def check(_tmp: str, digests: list = digests) -> None:
            got_md5, got_sha = digests
            if md5 and got_md5 != md5.lower():
                raise FetchError(f"wrong checksum: md5 {got_md5}, expected {md5}")
            if sha256_prefix and not got_sha.startswith(sha256_prefix.lower()):
                raise FetchError(
                    f"wrong checksum: sha256 {got_sha[:16]}..., the file name says {sha256_prefix}..."
                )

        try:  # a temporary file beside the target, checked, flushed, renamed (graph.atomic)
            atomic_write(target, write, check)
            return target
        except FetchError as exc:
            problems.append(f"{url}: {exc}")
    how = f"; or {manual}" if manual else ""
    raise UserError(f"cannot download {target.name} for {where or target}: {'; '.join(problems)}{how}")


def remove_stale_parts(folder: Path, name: str) -> None:
    """Temporary files and folders a killed fetch of ``name`` left (call with the lock held):
    ``.NAME.partial-*`` staging folders and graph.atomic's ``.NAME.*.tmp`` files."""
    if not folder.is_dir():
        return
    for p in folder.iterdir():
        if p.name.startswith(f".{name}.partial-") or (
            p.name.startswith(f".{name}.") and p.name.endswith(".tmp")
        ):
            cache.remove_tree(p)


# ------------------------------------------------------------------ extraction
def _member_path(dest: Path, member: tarfile.TarInfo, archive: str) -> Path:
    name = member.name
    parts = Path(name).parts
    if not name or name.startswith(("/", "\\")) or Path(name).is_absolute() or (parts and ":" in parts[0]):
        raise UserError(f"{archive} is refused: member {name!r} has an absolute path")
    if ".." in parts or "\\" in name:
        raise UserError(f"{archive} is refused: member {name!r} points outside the folder")
    if not (member.isreg() or member.isdir()):
        what = "a link" if (member.issym() or member.islnk()) else "a device or special file"
        raise UserError(f"{archive} is refused: member {name!r} is {what}")
    if member.size > MAX_MEMBER_BYTES:
        raise UserError(f"{archive} is refused: member {name!r} is {member.size:,} bytes")
    return dest.joinpath(*[p for p in parts if p not in ("", ".")])


def safe_extract(tar_path: Path, dest: Path, should_cancel: Callable[[], bool] | None = None) -> None:
    """Extract a .tar(.gz) into ``dest`` (which must not exist yet), streaming (bounded memory)."""
    label = tar_path.name
    dest.mkdir(parents=True)
    total = 0
    try:
        with tarfile.open(tar_path, mode="r|*") as tf:
            for member in tf:
                out = _member_path(dest, member, label)
                if member.isdir():
                    out.mkdir(parents=True, exist_ok=True)
                    continue
                total += member.size
                if total > MAX_ARCHIVE_BYTES:
                    raise UserError(
                        f"{label} is refused: it unpacks to more than {MAX_ARCHIVE_BYTES:,} bytes"
                    )
                if should_cancel is not None and should_cancel():
                    raise DownloadCancelled()
                out.parent.mkdir(parents=True, exist_ok=True)
                src = tf.extractfile(member)
                written = 0
                with open(out, "wb") as f:
                    while chunk := src.read(CHUNK):
                        f.write(chunk)
                        written += len(chunk)
                if written != member.size:
                    raise UserError(f"{label} is truncated inside {member.name!r}")
    except (tarfile.TarError, EOFError, zlib.error) as exc:
        raise UserError(f"{label} is not a readable tar.gz archive: {exc}") from None
    except OSError as exc:
        if exc.errno is None:  # gzip.BadGzipFile and the like
            raise UserError(f"{label} is not a readable tar.gz archive: {exc}") from None
        raise UserError(f"cannot extract {label} into {dest}: {exc.strerror or exc}") from None


# ------------------------------------------------------------------- datasets
def dataset_path(name: str) -> Path:
    return cache.datasets_dir() / name


def is_cached(name: str) -> bool:
    return dataset_path(name).is_dir()


def ensure_dataset(
    name: str,
    settings: Settings | None = None,
    on_progress: Progress | None = None,
    should_cancel: Callable[[], bool] | None = None,
    on_wait: Callable[[], None] | None = None,
) -> Path:
    """``datasets/NAME`` in the cache, downloaded, verified and extracted first if missing."""
    src = sources.dataset_source(name)
    final = dataset_path(name)
    if final.is_dir():
        return final
    root = cache.ensure_dir(cache.datasets_dir())
    manual = f"fetch {', '.join(f.name for f in src.files)} from {src.bases[0]} yourself and use {name}:DIR"
    with cache.CacheLock(root / f"{name}.lock", on_wait=on_wait, should_cancel=should_cancel):
        if final.is_dir():  # another process finished it while we waited
            return final
        remove_stale_parts(root, name)
        cache.check_free_space(
            root, src.download_size + src.extracted + (1 << 20), f"{src.title} ({name}) in {root}"
        )
        staging = root / f".{name}.partial-{os.getpid()}-{next(_counter)}"
        try:
            files = staging / "files"
            files.mkdir(parents=True)
            for f in src.files:
                fetch_file(
                    sources.urls(src, f),
                    files / f.name,
                    md5=f.md5,
                    size=f.size,
                    settings=settings,
                    on_progress=on_progress,
                    should_cancel=should_cancel,
                    manual=manual,
                    where=f"the cache {final}",
                )
            if src.archive:
                data = staging / "data"
                for f in src.files:
                    try:
                        safe_extract(files / f.name, data, should_cancel)
                    except DownloadCancelled:
                        raise
                    except UserError as exc:
                        raise UserError(
                            f"{exc.message}; nothing was kept for the cache {final}; or {manual}"
                        ) from None
                    (files / f.name).unlink()
            else:
                data = files
            os.replace(data, final)
        finally:
            cache.remove_tree(staging)
    return final


def dataset_status(name: str) -> dict:
    src = sources.dataset_source(name)
    path = dataset_path(name)
    cached = path.is_dir()
    return {
        "name": name,
        "title": src.title,
        "cached": cached,
        "size": cache.tree_size(path) if cached else 0,
        "download_size": src.download_size,
        "path": str(path),
        "shape": list(src.shape),
        "classes": src.classes,
        "urls": [u for f in src.files for u in sources.urls(src, f)[:1]],
    }


# ------------------------------------------------------------------ CLI progress
class CliProgress:
    """``  cifar-10-binary.tar.gz  45.1/162.2 MB  38.2 MB/s  ETA 0:03`` on stderr (redrawn on a tty)."""

    def __init__(self, stream) -> None:
        self.stream = stream
        self.tty = hasattr(stream, "isatty") and stream.isatty()
        self.t0 = time.perf_counter()
        self.last = 0.0
        self.label = ""
        self.next_plain = 0.0

    def __call__(self, label: str, done: int, total: int | None) -> None:
        now = time.perf_counter()
        if label != self.label:
            self.label, self.t0, self.next_plain = label, now, 0.0
        finished = total is not None and done >= total
        if not finished and now - self.last < 0.1 and done:
            return
        self.last = now
        rate = done / max(now - self.t0, 1e-6)
        mb = f"{done / MB:.1f}" + (f"/{total / MB:.1f}" if total else "") + " MB"
        eta = ""
        if total and rate > 0 and not finished:
            s = int((total - done) / rate)
            eta = f"  ETA {s // 60}:{s % 60:02d}"
        text = f"  {label}  {mb}  {rate / MB:.1f} MB/s{eta}"
        if self.tty:
            self.stream.write("\r" + text.ljust(78) + ("\n" if finished else ""))
        else:
            frac = done / total if total else 0.0
            if not (finished or done == 0 or frac >= self.next_plain):
                return
            self.next_plain = frac + 0.25
            self.stream.write(text + "\n")
        self.stream.flush()
