"""Model management: download with a verified SHA-256, unpack, inspect; deterministic copies for tests.

Nothing here downloads at run time: the service only opens the directory the configuration names.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from config.asr import ModelSource

REQUIRED = ("am/final.mdl", "conf/mfcc.conf", "conf/model.conf")
GRAPH_ANY = ("graph/HCLG.fst", "graph/HCLr.fst")


class PullError(Exception):
    """The model could not be fetched or verified; the message says why and what to do."""


def looks_like_model(path: Path) -> list[str]:
    """Problems that keep ``path`` from being a Vosk model directory (empty list = looks fine)."""
    if not path.is_dir():
        return [f"{path} is not a directory"]
    problems = [f"missing {rel}" for rel in REQUIRED if not (path / rel).is_file()]
    if not any((path / rel).is_file() for rel in GRAPH_ANY):
        problems.append("missing graph/HCLG.fst or graph/HCLr.fst")
    return problems


def installed_models(models_dir: Path) -> list[Path]:
    if not models_dir.is_dir():
        return []
    return sorted(p for p in models_dir.iterdir() if p.is_dir() and not looks_like_model(p))


def _set_options(text: str, options: dict[str, str]) -> str:
    keys = {f"--{k}" for k in options}
    lines = [ln for ln in text.splitlines() if ln.strip().split("=", 1)[0] not in keys]
    lines += [f"--{k}={v}" for k, v in options.items()]
    return "\n".join(lines) + "\n"


def _link(link: Path, target: Path) -> None:
    try:
        link.symlink_to(target)
    except FileExistsError:  # another process made the same view at the same time
        pass


def model_view(
    model: Path, root: Path, *, mfcc: dict[str, str] | None = None, decoder: dict[str, str] | None = None
) -> Path:
    """A view of ``model`` with options changed in conf/mfcc.conf and conf/model.conf (symlinks for the rest).

    The model directory itself is never modified; the view's name depends on the model path and the options.
    """
    mfcc, decoder = mfcc or {}, decoder or {}
    model = model.resolve()
    key = hashlib.sha1(repr((str(model), sorted(mfcc.items()), sorted(decoder.items()))).encode()).hexdigest()[:10]
    dest = root / f"{model.name}-{key}"
    conf = dest / "conf"
    conf.mkdir(parents=True, exist_ok=True)
    for child in model.iterdir():
        if child.name != "conf" and not (dest / child.name).exists():
            _link(dest / child.name, child)
    for item in (model / "conf").iterdir():
        target = conf / item.name
        options = mfcc if item.name == "mfcc.conf" else decoder if item.name == "model.conf" else None
        if options:
            tmp = conf / f".{item.name}.{os.getpid()}"
            tmp.write_text(_set_options(item.read_text(), options))
            os.replace(tmp, target)
        elif not target.exists():
            _link(target, item)
    return dest


def with_dither(model: Path, dither: float, root: Path) -> Path:
    """A view of ``model`` whose conf/mfcc.conf sets ``--dither`` (tests use 0 for run-to-run determinism)."""
    return model_view(model, root, mfcc={"dither": f"{dither:g}"})


@dataclass
class PullResult:
    path: Path
    sha256: str
    pinned: bool  # verified against a pinned digest (else recorded on first use)
    notes: list[str] = field(default_factory=list)


Opener = Callable[..., IO[bytes]]


def _download(url: str, dest: Path, opener: Opener, timeout: float) -> str:
    digest = hashlib.sha256()
    try:
        with opener(url, timeout=timeout) as resp, dest.open("wb") as out:
            while chunk := resp.read(1 << 20):
                digest.update(chunk)
                out.write(chunk)
    except urllib.error.HTTPError as exc:
        raise PullError(f"download failed: {url}: HTTP {exc.code} {exc.reason}") from exc
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        reason = getattr(exc, "reason", exc)
        raise PullError(
            f"cannot download {url}: {reason}. This machine may have no internet access: download the archive "
            f"elsewhere and unpack it into the models directory, then run `hotline models check`."
        ) from exc
    return digest.hexdigest()


def _unzip(archive: Path, into: Path, name: str) -> Path:
    try:
        with zipfile.ZipFile(archive) as zf:
            root = into.resolve()
            for member in zf.namelist():
                target = (into / member).resolve()
                if root not in target.parents and target != root:
                    raise PullError(f"unsafe path in archive: {member}")
            zf.extractall(into)
    except zipfile.BadZipFile as exc:
        raise PullError(f"not a zip archive: {exc}") from exc
    unpacked = into / name
    if not unpacked.is_dir():
        tops = [p for p in into.iterdir() if p.is_dir()]
        if len(tops) != 1:
            raise PullError(f"archive does not contain the directory {name}/")
        unpacked = tops[0]
    return unpacked


def pull(
    source: ModelSource,
    models_dir: Path,
    *,
    sha256: str | None = None,
    opener: Opener | None = None,
    timeout: float = 60.0,
    force: bool = False,
) -> PullResult:
    """Download ``source`` into ``models_dir/<name>`` after checking its SHA-256.

    The digest is ``sha256`` or the source's pinned one; with neither, the digest recorded next to the model by an
    earlier pull (``<name>.sha256``) is checked, and a first pull records it (trust on first use).
    """
    opener = opener or urllib.request.urlopen
    models_dir.mkdir(parents=True, exist_ok=True)
    target = models_dir / source.name
    record = models_dir / f"{source.name}.sha256"
    expected = (sha256 or source.sha256 or "").lower() or None
    pinned = expected is not None
    if expected is None and record.is_file():
        expected = record.read_text().split()[0].lower()
    if target.exists() and not force:
        problems = looks_like_model(target)
        if not problems:
            return PullResult(target, expected or "", pinned, [f"already installed at {target}"])
    with tempfile.TemporaryDirectory(dir=models_dir, prefix=".pull-") as tmp:
        archive = Path(tmp) / "model.zip"
        got = _download(source.url, archive, opener, timeout)
        if expected is not None and got != expected:
            raise PullError(f"SHA-256 mismatch for {source.url}: expected {expected}, got {got}; file discarded")
        staging = Path(tmp) / "unpacked"
        staging.mkdir()
        unpacked = _unzip(archive, staging, source.name)
        problems = looks_like_model(unpacked)
        if problems:
            raise PullError(f"archive is not a Vosk model: {', '.join(problems)}")
        if target.exists():
            shutil.rmtree(target)
        os.replace(unpacked, target)
    notes = []
    if not pinned:
        if not record.is_file():
            record.write_text(f"{got}  {source.url}\n")
            notes.append(f"no pinned SHA-256: recorded {got} in {record} (checked on later pulls)")
    return PullResult(target, got, pinned, notes)


def check_model(path: Path, groups: dict[str, list[str]], *, rate: int = 8000) -> dict[str, Any]:
    """Load the model and report its unknown token and the words of ``groups`` missing from its vocabulary."""
    from asr.grammar import check_vocabulary
    from asr.recognizer import VoskModel

    problems = looks_like_model(path)
    if problems:
        return {"path": str(path), "ok": False, "problems": problems}
    try:
        model = VoskModel(str(path), rate=rate)
    except Exception as exc:  # a broken model is reported, not raised
        return {"path": str(path), "ok": False, "problems": [f"failed to load: {exc}"]}
    missing = check_vocabulary(groups, model.has_word)
    return {"path": str(path), "ok": True, "unk": model.unk, "missing_words": missing}
