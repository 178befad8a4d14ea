"""Pack a project and every file it uses into one zip, and unpack such a zip safely.

``pack`` puts the project file at the root of the zip and each data file beside it, keeping the
folder layout under the project's folder; files from elsewhere go under ``files/<folder>/``. The
packed project's layer paths are rewritten to those relative paths with tomlkit, which keeps
comments and layout; paths that already point to the right place are left as written.

``unpack`` treats the zip as untrusted: it checks every entry before writing anything and
refuses (one line, nothing written) an entry that would land outside the target folder, an
absolute path, a link or other special file, a name that occurs twice, a file that already
exists in the target, too many entries, and an archive whose unpacked size passes a limit. The
size is counted while extracting (declared sizes can lie), into a staging folder that is
removed on refusal, so a refused archive leaves nothing behind.
"""

from __future__ import annotations

import os
import posixpath
import re
import shutil
import stat
import tempfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from .errors import SkiktError
from .project import read_project
from .safe_write import atomic_write, check_output_path, project_inputs, refuse_input_overwrite

MAX_UNPACKED_BYTES = 2 * 1024**3  # 2 GiB: far above any project we know, far below a zip bomb
MAX_ENTRIES = 10_000
_CHUNK = 1024 * 1024
# Every file a shapefile may consist of; GDAL reads them by the .shp's stem.
_SHAPEFILE_PARTS = (".shp", ".shx", ".dbf", ".prj", ".cpg", ".qpj", ".sbn", ".sbx", ".fbn", ".fbx",
                    ".ain", ".aih", ".atx", ".ixs", ".mxs", ".shp.xml", ".qix", ".qmd")
_SIDECAR = ".meta.toml"


class PackError(SkiktError):
    """A project could not be packed, or an archive is refused on unpacking."""


@dataclass
class PackResult:
    path: Path
    files: list[str]  # archive names, project file first
    bytes: int  # total uncompressed size


@dataclass
class UnpackResult:
    folder: Path
    files: list[Path]
    project: Path | None  # the project file at the archive's root, when there is exactly one
    bytes: int


# ------------------------------------------------------------------------------------------------
# Packing


def _files_of(data_path: Path) -> list[Path]:
    """The files a layer path stands for: the file, a shapefile's siblings, a folder's content,
    and a ``.meta.toml`` sidecar."""
    if data_path.is_dir():
        found = sorted(p for p in data_path.rglob("*") if p.is_file())
    else:
        found = [data_path]
        if data_path.suffix.lower() == ".shp":
            stem = data_path.name[: -len(".shp")]
            for sibling in sorted(data_path.parent.iterdir()):
                name = sibling.name
                if sibling != data_path and name[: len(stem)] == stem and sibling.is_file() \
                        and name[len(stem):].lower() in _SHAPEFILE_PARTS:
                    found.append(sibling)
    sidecar = Path(str(data_path) + _SIDECAR)
    if sidecar.is_file():
        found.append(sidecar)
    return found


def _inside_name(root: Path, source: Path) -> str | None:
    """The archive name of a file under the project folder (its relative path), else None."""
    try:
        return source.relative_to(root).as_posix()
    except ValueError:
        return None


class _Names:
    """Archive names for source files: under the project folder they keep their relative path;
    others go to ``files/<their folder's name>/`` (``-2``, ``-3``… when that name is taken by
    another outside folder or by the project's own files)."""

    def __init__(self, root: Path, inside: set[str]):
        self.root = root
        self.inside = inside  # archive names of the files under the project folder
        self.by_folder: dict[Path, str] = {}

    def _free(self, name: str) -> bool:
        return name not in self.by_folder.values() and not any(n.startswith(name + "/") for n in self.inside)

    def folder_name(self, folder: Path) -> str:
        if folder not in self.by_folder:
            stem = re.sub(r"[^\w.-]+", "_", folder.name) or "root"
            name, n = f"files/{stem}", 1
            while not self._free(name):
                n += 1
                name = f"files/{stem}-{n}"
            self.by_folder[folder] = name
        return self.by_folder[folder]

    def name(self, source: Path, anchor: Path) -> str:
        """``anchor`` is the layer path's own file or folder: its siblings share its new folder."""
        inside = _inside_name(self.root, source)
        if inside is not None:
            return inside
        base = anchor.parent
        return f"{self.folder_name(base)}/{source.relative_to(base).as_posix()}"


def _rewritten_text(text: str, new_paths: dict[int, str]) -> str:
    """The project text with ``layers[i].path`` set to ``new_paths[i]``; comments kept."""
    import tomlkit

    doc = tomlkit.parse(text)
    layers = doc.get("layers")
    for i, new in new_paths.items():
        layers[i]["path"] = new
    return tomlkit.dumps(doc)


def _used_files(project) -> list[tuple[int, Path, list[Path]]]:
    """Per layer: its index, its absolute path, and the absolute paths of every file it uses."""
    used = []
    for i, spec in enumerate(project.layers):
        data_path = project.resolve(spec.path)
        if not data_path.exists():
            raise PackError.of("pack_missing", data_path, id=spec.id)
        data_path = Path(os.path.abspath(data_path))
        used.append((i, data_path, [Path(os.path.abspath(f)) for f in _files_of(data_path)]))
    return used


def pack(project_path, out_zip) -> PackResult:
    """Write ``out_zip`` holding the project and every file it uses, with relative paths."""
    project_path = Path(project_path)
    if Path(out_zip).suffix.lower() != ".zip":
        raise PackError.of("pack_out_zip", out_zip)
    out_zip = check_output_path(out_zip, (".zip",), "pack_out_zip")
    project = read_project(project_path)  # validates and resolves every layer path
    refuse_input_overwrite(project, out_zip)  # a zipped layer (a .zip shapefile) is an input too
    used = _used_files(project)  # [(layer index, layer path, its files)], all absolute
    root = project.base_dir.resolve()
    names = _Names(root, {n for _, _, files in used for f in files if (n := _inside_name(root, f)) is not None})
    members: dict[str, Path] = {}  # archive name → source file
    new_paths: dict[int, str] = {}
    for i, data_path, files in used:
        for source in files:
            members.setdefault(names.name(source, data_path), source)
        packed = names.name(data_path, data_path)
        if PurePosixPath(project.layers[i].path.replace("\\", "/")) != PurePosixPath(packed):
            new_paths[i] = packed
    text = project_path.read_text(encoding="utf-8")
    if new_paths:
        text = _rewritten_text(text, new_paths)
    project_name = project_path.name
    members.pop(project_name, None)  # the project file is written from the (rewritten) text
    out_abs = Path(os.path.abspath(out_zip))
    members = {n: s for n, s in members.items() if Path(os.path.abspath(s)) != out_abs}
    total = len(text.encode("utf-8")) + sum(s.stat().st_size for s in members.values())

    def write(tmp: Path) -> None:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            zf.writestr(project_name, text)
            for name in sorted(members):
                zf.write(members[name], name)

    atomic_write(out_zip, write, keep=project_inputs(project))
    return PackResult(out_zip, [project_name, *sorted(members)], total)


# ------------------------------------------------------------------------------------------------
# Unpacking


def _is_link_or_special(info: zipfile.ZipInfo) -> bool:
    """Unix mode bits live in the high 16 bits of external_attr: a symlink or device is refused.
    Zips made on Windows carry no mode (0), which is a plain file."""
    mode = info.external_attr >> 16
    if mode == 0:
        return False
    kind = stat.S_IFMT(mode)
    return kind not in (0, stat.S_IFREG, stat.S_IFDIR)


def _safe_parts(entry: str, folder: Path) -> tuple[str, ...]:
    """The entry's path parts, or a refusal if it is absolute or would leave ``folder``."""
    name = entry.replace("\\", "/")
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name) or PurePosixPath(name).is_absolute():
        raise PackError.of("unpack_absolute", None, entry=entry)
    parts = tuple(p for p in name.split("/") if p not in ("", "."))
    if not parts or ".." in parts:
        raise PackError.of("unpack_outside", None, entry=entry, dir=str(folder))
    if any("\x00" in p for p in parts):
        raise PackError.of("unpack_outside", None, entry=entry, dir=str(folder))
    return parts


def _planned(zf: zipfile.ZipFile, folder: Path, max_bytes: int, max_entries: int, overwrite: bool):
    """Check every entry before anything is written; returns [(info, parts)] of the files."""
    infos = zf.infolist()
    if len(infos) > max_entries:
        raise PackError.of("unpack_too_many", None, n=len(infos), limit=max_entries)
    plan, seen, declared = [], set(), 0
    files, folders = {}, {}  # case-folded path → the entry that makes it a file / a folder
    for info in infos:
        is_dir = info.filename.endswith(("/", "\\"))  # ZipInfo.is_dir() fails on an empty name
        if is_dir and info.filename.replace("\\", "/").strip("/") in ("", "."):
            continue  # "./" from some zip tools: the folder itself
        parts = _checked_entry(info, folder)
        key = "/".join(parts).casefold()  # one file on case-insensitive disks (macOS, Windows)
        if key in seen:
            raise PackError.of("unpack_duplicate", None, entry=info.filename)
        seen.add(key)
        (folders if is_dir else files)[key] = info.filename
        for k in range(1, len(parts)):
            folders.setdefault("/".join(parts[:k]).casefold(), info.filename)
        _check_target(folder, parts, info.filename, is_dir, overwrite)
        if not is_dir:
            declared += info.file_size
            if declared > max_bytes:
                raise PackError.of("unpack_too_big", None, limit=_size_text(max_bytes))
            plan.append((info, parts))
    clash = next((k for k in files if k in folders), None)
    if clash is not None:
        raise PackError.of("unpack_file_folder", None, entry=folders[clash], other=files[clash])
    return plan


def _checked_entry(info: zipfile.ZipInfo, folder: Path) -> tuple[str, ...]:
    """The entry's path parts; refuses absolute paths, ways out, links and encrypted entries."""
    parts = _safe_parts(info.filename, folder)
    if _is_link_or_special(info):
        raise PackError.of("unpack_link", None, entry=info.filename)
    if info.flag_bits & 0x1:
        raise PackError.of("unpack_encrypted", None, entry=info.filename)
    return parts


def _check_target(folder: Path, parts: tuple[str, ...], entry: str, is_dir: bool, overwrite: bool) -> None:
    """Where the entry would land must stay inside ``folder`` (an existing symlink there could
    lead out) and must not be a file that exists already (or a folder, for a file entry)."""
    target = folder.joinpath(*parts)
    real_folder = Path(os.path.realpath(folder))
    real_target = Path(os.path.realpath(target))
    if real_target != real_folder and real_folder not in real_target.parents:
        raise PackError.of("unpack_outside", None, entry=entry, dir=str(folder))
    for k in range(1, len(parts)):
        above = folder.joinpath(*parts[:k])
        if above.exists() and not above.is_dir():
            raise PackError.of("unpack_exists", None, entry="/".join(parts[:k]), dir=str(folder))
    if is_dir:
        if target.exists() and not target.is_dir():
            raise PackError.of("unpack_exists", None, entry=entry, dir=str(folder))
    elif target.exists() and (target.is_dir() or not overwrite):
        raise PackError.of("unpack_exists", None, entry=entry, dir=str(folder))


def _size_text(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:g} {unit}" if unit == "B" else f"{n:.3g} {unit}"
        n /= 1024
    return str(n)


def _nearest_existing(folder: Path) -> Path:
    p = folder
    while not p.exists():
        p = p.parent
    return p


def unpack(zip_path, to_dir, *, overwrite: bool = False, max_bytes: int = MAX_UNPACKED_BYTES,
           max_entries: int = MAX_ENTRIES) -> UnpackResult:
    """Restore a packed project into ``to_dir`` (created if missing). Refusals are described in
    the module docstring; each raises :class:`PackError` before anything lands in ``to_dir``."""
    zip_path, folder = Path(zip_path), Path(os.path.abspath(to_dir))
    if not zip_path.is_file():
        raise PackError.of("unpack_not_found", zip_path)
    if folder.exists() and not folder.is_dir():
        raise PackError.of("unpack_not_dir", folder)
    try:
        zf = zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, OSError):
        raise PackError.of("unpack_bad_zip", zip_path) from None
    with zf:
        try:
            plan = _planned(zf, folder, max_bytes, max_entries, overwrite)
        except PackError as exc:
            raise _about(exc, zip_path) from None
        try:
            staging = Path(tempfile.mkdtemp(prefix=".skikt-unpack-", dir=_nearest_existing(folder)))
        except OSError as exc:
            raise PackError.of("unpack_cannot_write", folder, detail=exc.strerror or type(exc).__name__) from None
        try:
            written = _extract(zf, plan, staging, max_bytes, zip_path)
            files = _move_into(staging, folder, plan, overwrite)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    roots = [f for f in files if f.parent == folder and f.suffix == ".toml" and not f.name.endswith(_SIDECAR)]
    return UnpackResult(folder, files, roots[0] if len(roots) == 1 else None, written)


def _about(exc: PackError, zip_path: Path) -> PackError:
    """The same refusal, naming the archive."""
    err = PackError.of(exc.key, zip_path, **exc.params)
    return err


def _extract(zf: zipfile.ZipFile, plan, staging: Path, max_bytes: int, zip_path: Path) -> int:
    """Copy each planned entry into ``staging``, counting the bytes actually produced."""
    written = 0
    for info, parts in plan:
        target = staging.joinpath(*parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            with zf.open(info) as src, open(target, "xb") as dst:
                while chunk := src.read(_CHUNK):
                    written += len(chunk)
                    if written > max_bytes:
                        raise PackError.of("unpack_too_big", zip_path, limit=_size_text(max_bytes))
                    dst.write(chunk)
        except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError) as exc:
            raise PackError.of("unpack_bad_entry", zip_path, entry=info.filename,
                               detail=" ".join(str(exc).split()) or type(exc).__name__) from None
    return written


def _move_into(staging: Path, folder: Path, plan, overwrite: bool) -> list[Path]:
    """Move the checked files from staging into ``folder``; an existing file is replaced only
    with ``overwrite`` (checked again here, in case one appeared meanwhile)."""
    moves = [(staging.joinpath(*parts), folder.joinpath(*parts)) for _, parts in plan]
    if not overwrite:
        clash = next((dst for _, dst in moves if dst.exists()), None)
        if clash is not None:
            raise PackError.of("unpack_exists", folder, entry=clash.relative_to(folder).as_posix(), dir=str(folder))
    folder.mkdir(parents=True, exist_ok=True)
    done = []
    for src, dst in moves:
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(src, dst)
        done.append(dst)
    return done
