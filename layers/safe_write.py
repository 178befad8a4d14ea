"""Writing outputs without ever damaging a file: the guards every export goes through.

- an output that is, or links to, any file the project reads is refused before anything is computed;
- an output is written in a temporary folder beside it and renamed into place, so an interrupted or
  failed write leaves the old file (or nothing), never half a file;
- temporaries carry the writer's process id in their name, so a later run can recognise and remove
  what a killed run left behind (a GeoPackage build can leave hundreds of megabytes of R-tree data);
- a new file gets the user's umask, a replaced file keeps its mode;
- every failure is one line naming the file.

No GIS or plotting imports here: the command line validates its options with this module before
the heavy libraries load.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import stat
import tempfile
import time
from pathlib import Path

from .errors import SkiktError
from .sysmem import available_memory

TEMP_PREFIX = ".skikt-tmp-"
_TEMP_NAME = re.compile(r"^\.skikt-tmp-(\d+)-")
# Temporaries of Skikt versions before the PID was in the name: ".<stem>.<8 mkstemp chars><suffix>",
# plus SQLite's journal files and GDAL's background R-tree database beside them.
_LEGACY_TEMP = r"^\.{stem}\.[a-z0-9_]{{8}}{suffix}(-journal|-wal|-shm|\.tmp_rtree_.*\.db)?$"
_LEGACY_MIN_AGE_S = 3600.0
# After a reboot the dead writer's PID may belong to another process; no write takes a day.
_PID_REUSED_AFTER_S = 86_400.0
_FULL_BELOW_BYTES = 1 << 20  # a write failing with less than this left is a full disk, whatever GDAL says  # without a PID we only know a legacy temporary is stale once it is old

# Files a shapefile is made of, and the files SQLite keeps beside a GeoPackage: writing over any of
# them damages the layer as surely as writing over the .shp.
_SHAPEFILE_PARTS = (".shp", ".shx", ".dbf", ".prj", ".cpg", ".qix", ".sbn", ".sbx", ".fix", ".qmd",
                    ".shp.xml", ".aih", ".ain", ".atx")
_SQLITE_COMPANIONS = ("-journal", "-wal", "-shm")

# compose: the page is rendered as one RGBA buffer; saving a PNG holds about two more copies.
PAGE_MIN = (200, 150)
PAGE_MAX_SIDE = 20_000
PAGE_BYTES_PER_PIXEL = 4 * 3
DPI_RANGE = (50, 1200)
PAPERS = {"A4": (297.0, 210.0), "A3": (420.0, 297.0)}  # landscape width × height, millimetres (ISO 216)


# ------------------------------------------------------------------------------------------------
# What the project reads


def project_inputs(project) -> dict[Path, str]:
    """Every file the project reads (as given, not resolved), with what it is for the message.

    The project file, each layer's file, its ``.meta.toml`` sidecar, a shapefile's other parts
    and a GeoPackage's SQLite companions. Join tables are layers, so they are included."""
    inputs: dict[Path, str] = {}
    if getattr(project, "path", None):
        inputs[Path(project.path)] = "project"
    for spec in project.layers:
        path = Path(project.resolve(spec.path))
        inputs.setdefault(path, spec.id)
        inputs.setdefault(Path(str(path) + ".meta.toml"), spec.id)
        companions = _SQLITE_COMPANIONS if path.suffix.lower() in (".gpkg", ".sqlite") else ()
        for tail in companions:
            inputs.setdefault(Path(str(path) + tail), spec.id)
        if path.suffix.lower() == ".shp":
            for part in _shapefile_parts(path):
                inputs.setdefault(part, spec.id)
    return inputs


def _shapefile_parts(shp: Path) -> list[Path]:
    """The sibling files of a shapefile in any letter case (.DBF next to .shp is common)."""
    stem = shp.name[: -len(shp.suffix)].lower()
    wanted = {stem + ext for ext in _SHAPEFILE_PARTS}
    parts = [shp.with_name(shp.name[: -len(shp.suffix)] + ext) for ext in _SHAPEFILE_PARTS]
    try:
        parts += [p for p in shp.parent.iterdir() if p.name.lower() in wanted]
    except OSError:
        pass  # an unreadable folder: loading will say so
    return parts


def _identity(path: Path):
    """(device, inode) of what ``path`` points to, None if it does not exist."""
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return (st.st_dev, st.st_ino)


def refuse_input_overwrite(project, out) -> None:
    """Refuse an output that resolves to a file the project reads: the same path, a symlink to it,
    or a hard link to it (same device and inode)."""
    out = Path(out)
    out_real = os.path.normcase(os.path.realpath(out))
    out_id = _identity(out)
    for path, what in project_inputs(project).items():
        same_path = os.path.normcase(os.path.realpath(path)) == out_real
        if same_path or (out_id is not None and _identity(path) == out_id):
            if what == "project":
                raise SkiktError.of("oerr_out_is_project", out)
            raise SkiktError.of("oerr_out_is_input", out, layer=what)


# ------------------------------------------------------------------------------------------------
# Where the output goes


def check_output_path(out, extensions: tuple[str, ...], key_format: str) -> Path:
    """Refuse, before any work, an output that cannot be written: a wrong extension, a folder, a
    name longer than the file system allows, a folder without write permission."""
    out = Path(out)
    _check_name_length(out)
    if os.path.isdir(out):
        raise SkiktError.of("oerr_out_is_folder", out)
    if out.suffix.lower() not in extensions:
        raise SkiktError.of(key_format, out, ext=out.suffix or "–", known=", ".join(extensions))
    folder = _existing_ancestor(out.parent)
    if not folder.is_dir():
        raise SkiktError.of("oerr_folder_not_folder", out, folder=str(folder))
    if not os.access(folder, os.W_OK | os.X_OK):
        raise SkiktError.of("oerr_read_only", out, folder=str(folder))
    return out


def _check_name_length(out: Path) -> None:
    try:
        limit = os.pathconf(_existing_ancestor(out.parent), "PC_NAME_MAX")
    except (OSError, ValueError, AttributeError):
        limit = 255
    length = len(os.fsencode(out.name))
    if length > limit:
        raise SkiktError.of("oerr_name_too_long", _short(out), n=length, max=limit)


def _short(path: Path) -> str:
    """A name that fits in one readable line."""
    name = path.name
    return name if len(name) <= 60 else f"{name[:40]}…{name[-12:]}"


def _existing_ancestor(folder: Path) -> Path:
    folder = Path(os.path.abspath(folder))
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return folder


# ------------------------------------------------------------------------------------------------
# Temporaries


def clean_stale_temporaries(folder, *, keep=(), now: float | None = None) -> list[Path]:
    """Remove what killed runs left in ``folder``: Skikt temporaries older than this run whose writer
    process is gone, or that are a day old (the PID may be another process's by then). Returns what
    was removed. Never touches ``keep`` (the inputs)."""
    folder = Path(folder)
    now = time.time() if now is None else now
    keep_real = {os.path.realpath(p) for p in keep}
    removed = []
    try:
        entries = list(folder.iterdir())
    except OSError:
        return removed
    for entry in entries:
        match = _TEMP_NAME.match(entry.name)
        if not match or os.path.realpath(entry) in keep_real:
            continue
        age = now - _mtime(entry)
        if age <= 0 or (age < _PID_REUSED_AFTER_S and _process_alive(int(match.group(1)))):
            continue
        if _remove(entry):
            removed.append(entry)
    return removed


def clean_legacy_temporaries(out, *, keep=(), now: float | None = None) -> list[Path]:
    """Temporaries of ``out`` written by Skikt versions without the PID in the name, once they are
    an hour old (a live writer touches its file far more often than that)."""
    out = Path(out)
    now = time.time() if now is None else now
    pattern = re.compile(_LEGACY_TEMP.format(stem=re.escape(out.stem), suffix=re.escape(out.suffix)))
    keep_real = {os.path.realpath(p) for p in keep}
    removed = []
    try:
        entries = list(out.parent.iterdir())
    except OSError:
        return removed
    for entry in entries:
        if (pattern.match(entry.name) and entry.is_file() and os.path.realpath(entry) not in keep_real
                and now - _mtime(entry) > _LEGACY_MIN_AGE_S and _remove(entry)):
            removed.append(entry)
    return removed


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    if os.name == "nt":  # os.kill would terminate the process there, not probe it
        return _windows_process_alive(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True  # someone else's process, or we cannot tell: leave it
    return True


def _windows_process_alive(pid: int) -> bool:
    import ctypes

    query_limited_information, still_active = 0x1000, 259
    kernel32 = ctypes.windll.kernel32
    handle = kernel32.OpenProcess(query_limited_information, False, pid)
    if not handle:
        return ctypes.GetLastError() == 5  # access denied: it exists, it is someone else's
    try:
        code = ctypes.c_ulong()
        return not kernel32.GetExitCodeProcess(handle, ctypes.byref(code)) or code.value == still_active
    finally:
        kernel32.CloseHandle(handle)


def _mtime(path: Path) -> float:
    try:
        return path.lstat().st_mtime
    except OSError:
        return float("inf")


def _remove(path: Path) -> bool:
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
        return True
    except OSError:
        return False


# ------------------------------------------------------------------------------------------------
# Modes


def current_umask() -> int:
    """The process umask, read without changing it where the system allows (changing it is not
    thread-safe, and the app exports from a worker thread)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def output_mode(path: Path) -> int:
    """The mode a finished output gets: a replaced file keeps its own, a new one gets the umask's."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        return 0o666 & ~current_umask()


# ------------------------------------------------------------------------------------------------
# The write itself


def atomic_write(path, write, *, keep=()) -> Path:
    """Write ``path`` through ``write(tmp_path)`` in a temporary folder beside it, then rename.

    The folder holds everything the writer makes (SQLite journals, GDAL's R-tree database), and
    its name carries our PID so the next run can remove it if we are killed. Any failure, a full
    disk included, is one line naming ``path`` and leaves no trace."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _write_error(path, exc) from None
    clean_stale_temporaries(path.parent, keep=keep)
    clean_legacy_temporaries(path, keep=keep)
    try:
        tmpdir = Path(tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}{os.getpid()}-", dir=path.parent))
    except OSError as exc:
        raise _write_error(path, exc) from None
    try:
        tmp = tmpdir / ("out" + path.suffix)
        write(tmp)
        _fsync(tmp)
        os.chmod(tmp, output_mode(path))
        os.replace(tmp, path)
        _fsync_folder(path.parent)
    except SkiktError:
        raise
    except MemoryError:
        raise SkiktError.of("oerr_memory", path) from None
    except (OSError, RuntimeError, ValueError) as exc:
        # RuntimeError: GDAL/pyogrio's errors (a full disk inside SQLite comes as one);
        # ValueError: what matplotlib and Pillow raise for a page they cannot encode.
        raise _write_error(path, exc) from None
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
    return path


def _write_error(path: Path, exc: BaseException) -> SkiktError:
    """Called while the temporary still exists: a disk it filled still shows as full."""
    code = getattr(exc, "errno", None)
    if code == errno.ENOSPC or "disk is full" in str(exc).lower() or _nearly_full(path.parent):
        return SkiktError.of("oerr_disk_full", _short(path))
    if code in (errno.EACCES, errno.EPERM, errno.EROFS):
        return SkiktError.of("oerr_read_only", _short(path), folder=str(path.parent))
    if code == errno.ENAMETOOLONG:
        return SkiktError.of("oerr_name_too_long", _short(path), n=len(os.fsencode(path.name)), max=255)
    reason = os.strerror(code) if code else (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return SkiktError.of("oerr_write", _short(path), reason=reason)


def _nearly_full(folder: Path) -> bool:
    # GDAL reports a full disk inside SQLite as whatever failed next ("cannot rollback"), so ask
    # the file system itself.
    try:
        return shutil.disk_usage(folder).free < _FULL_BELOW_BYTES
    except OSError:
        return False


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_folder(folder: Path) -> None:
    """Make the rename durable; not every system can open a folder, and that is fine."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# ------------------------------------------------------------------------------------------------
# compose: page size and resolution


def check_page(width: int, height: int, dpi: int, paper: str | None = None) -> None:
    """Refuse a page that is too small to draw, larger than the renderer allows, or would not fit in
    the memory available now; and a resolution outside ``DPI_RANGE``. ``paper`` names the sheet
    in the message when the pixels come from ``--paper`` and ``--dpi`` rather than ``--size``."""
    if not DPI_RANGE[0] <= dpi <= DPI_RANGE[1]:
        raise SkiktError.of("oerr_dpi", None, value=dpi, low=DPI_RANGE[0], high=DPI_RANGE[1])
    if width < PAGE_MIN[0] or height < PAGE_MIN[1] or width > PAGE_MAX_SIDE or height > PAGE_MAX_SIDE:
        raise SkiktError.of("oerr_size_range", None, width=width, height=height, min_w=PAGE_MIN[0],
                            min_h=PAGE_MIN[1], max=PAGE_MAX_SIDE)
    need = width * height * PAGE_BYTES_PER_PIXEL
    free = available_memory()
    if free is not None and need > free:
        key = "oerr_paper_memory" if paper else "oerr_size_memory"
        raise SkiktError.of(key, None, width=width, height=height, need=need // 2**20, free=free // 2**20,
                            paper=paper, dpi=dpi)
