"""Atomic file writes and output folders.

Every file cyclr writes goes through :func:`atomic_write`: the content is
written to a temporary file in the destination's folder, flushed and synced,
then renamed over the destination with :func:`os.replace`. A failure part-way
(a full disk, Ctrl-C) leaves the old file as it was and no partial file behind.

A set of files written together (``cyclr find``, ``cyclr reproduce``) goes
through :class:`OutputSet`: an ``INCOMPLETE`` marker is written first and
removed only after the last file, so a folder without the marker holds a
whole set.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

INCOMPLETE = "INCOMPLETE"
_PROBE = ".cyclr-write-probe"


@contextlib.contextmanager
def atomic_write(
    path: str | os.PathLike[str], mode: str = "w", *, overwrite: bool = True, **open_kwargs: Any
) -> Iterator[IO[Any]]:
    """Open a temporary file next to ``path``; on a clean exit, sync it and rename it to ``path``.

    Args:
        path: the destination; its folder must exist.
        mode: ``"w"`` (text) or ``"wb"`` (binary).
        overwrite: replace an existing ``path``; if False, FileExistsError when it exists.
        open_kwargs: passed to :func:`open` (``encoding``, ``newline``).

    Raises:
        FileExistsError: ``path`` exists and ``overwrite`` is False.
        OSError: the write failed; ``path`` is untouched and the temporary file removed.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"mode must be 'w' or 'wb', got mode={mode!r}")
    target = Path(path)
    if not overwrite and target.exists():
        raise FileExistsError(errno.EEXIST, "file exists; pass overwrite=True to replace it", str(target))
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with open(fd, mode, **open_kwargs) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        _keep_permissions(target, tmp)
        if not overwrite and target.exists():  # appeared while writing
            raise FileExistsError(errno.EEXIST, "file exists; pass overwrite=True to replace it", str(target))
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _sync_folder(target.parent)


def write_text(path: str | os.PathLike[str], text: str, *, overwrite: bool = True) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically; see :func:`atomic_write`."""
    with atomic_write(path, "w", overwrite=overwrite, encoding="utf-8") as f:
        f.write(text)


def save_figure(fig: Any, path: str | os.PathLike[str], *, overwrite: bool = True, **savefig_kwargs: Any) -> Path:
    """Save a matplotlib figure to ``path`` atomically; return the path written.

    The format comes from the suffix (the temporary name has none, so it is
    passed explicitly); a path without a suffix is refused rather than given one.

    Raises:
        ValueError: the suffix is missing or not a format matplotlib can write.
    """
    target = Path(path)
    fmt = figure_format(target, fig)
    with atomic_write(target, "wb", overwrite=overwrite) as f:
        fig.savefig(f, format=fmt, **savefig_kwargs)
    return target


def figure_format(path: Path, fig: Any = None) -> str:
    """The image format named by ``path``'s suffix; ValueError listing the supported ones otherwise."""
    supported = supported_figure_formats(fig)
    fmt = path.suffix[1:].lower()
    if fmt not in supported:
        got = f"{path.name!r} has no extension" if not fmt else f"got {path.name!r}"
        raise ValueError(f"output must end in one of {', '.join('.' + s for s in supported)}; {got}")
    return fmt


def supported_figure_formats(fig: Any = None) -> list[str]:
    """The file extensions matplotlib can save to, sorted."""
    if fig is None:
        from matplotlib.figure import Figure

        fig = Figure()
    return sorted(fig.canvas.get_supported_filetypes())


def _keep_permissions(target: Path, tmp: str) -> None:
    """mkstemp makes a 0600 file: give it the mode a plain ``open`` would (or the old file's)."""
    try:
        mode = target.stat().st_mode & 0o7777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    os.chmod(tmp, mode)


def _sync_folder(folder: Path) -> None:
    """Make the rename durable; not every platform can open a folder, which is fine."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


# --- output folders ------------------------------------------------------------------


def fresh_folder(name: str, parent: str | os.PathLike[str] = ".") -> Path:
    """Create and return ``parent/name``, or ``name-2``, ``name-3``, ... if taken.

    The folder is created here (``os.mkdir``), so two runs started at the same
    moment never share one.
    """
    base = Path(parent)
    n = 1
    while True:
        path = base / (name if n == 1 else f"{name}-{n}")
        try:
            os.mkdir(path)
        except FileExistsError:
            n += 1
            continue
        return path


def prepare_output_folder(path: str | os.PathLike[str], *, force: bool = False) -> Path:
    """Create ``path`` if needed and check that files can be written in it.

    Raises:
        ValueError: ``path`` is a file, or a folder that is not empty and
            ``force`` is False, or it cannot be created or written to (the
            message says why, in one line).
    """
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"out must be a folder, got a file: {str(folder)!r}")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValueError(f"out cannot be created: {str(folder)!r} ({_reason(exc)})") from None
    if not force and any(p.name != _PROBE for p in folder.iterdir()):
        raise ValueError(f"out is not empty: {str(folder)!r}; give --force to write into it anyway")
    check_writable(folder)
    return folder


def check_writable(folder: Path) -> None:
    """ValueError unless a file can be created, written and removed in ``folder``."""
    probe = folder / _PROBE
    try:
        with open(probe, "wb") as f:
            f.write(b"probe")
            f.flush()
            os.fsync(f.fileno())
    except OSError as exc:
        raise ValueError(f"out is not writable: {str(folder)!r} ({_reason(exc)})") from None
    finally:
        with contextlib.suppress(OSError):
            probe.unlink()


def _reason(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


class OutputSet:
    """Files written together into one folder; the folder says ``INCOMPLETE`` until the last one is in.

    Use as a context manager and :meth:`write` each file, the ``manifest`` last.
    On entry the marker is written and an earlier manifest removed, so after a
    failure the folder holds the marker and no manifest: its files (each one
    whole, as every write is atomic) cannot be mistaken for a finished set.
    """

    def __init__(self, folder: str | os.PathLike[str], manifest: str) -> None:
        self.folder = Path(folder)
        self.manifest = manifest
        self.written: dict[str, Path] = {}

    @property
    def marker(self) -> Path:
        """The ``INCOMPLETE`` file, present while the set is written and after a failure."""
        return self.folder / INCOMPLETE

    def __enter__(self) -> OutputSet:
        write_text(self.marker, "writing this folder did not finish: its files may be missing or stale\n")
        with contextlib.suppress(FileNotFoundError):
            (self.folder / self.manifest).unlink()
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self.marker.unlink()
            _sync_folder(self.folder)

    def write(self, key: str, name: str, writer: Callable[[Path], object]) -> Path:
        """Call ``writer(path)`` for ``folder/name`` (the writer must write atomically); remember it as ``key``."""
        path = self.folder / name
        writer(path)
        self.written[key] = path
        return path
