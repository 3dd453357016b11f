"""`hotline models pull` machinery against a real HTTP server on loopback (the official host is unreachable here)."""

from __future__ import annotations

import hashlib
import http.server
import io
import socket
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from asr.models import PullError, installed_models, looks_like_model, model_view, pull, with_dither
from config.asr import ModelSource

NAME = "vosk-model-small-cn-0.22"


def model_zip(name: str = NAME, extra: dict[str, bytes] | None = None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for rel in ("am/final.mdl", "conf/mfcc.conf", "conf/model.conf", "graph/HCLr.fst", "graph/Gr.fst"):
            zf.writestr(f"{name}/{rel}", b"--use-energy=false\n" if rel.endswith("mfcc.conf") else b"x" * 64)
        for rel, data in (extra or {}).items():
            zf.writestr(rel, data)
    return buf.getvalue()


@pytest.fixture()
def server() -> Iterator[tuple[str, dict[str, bytes]]]:
    files: dict[str, bytes] = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = files.get(self.path)
            if body is None:
                self.send_response(404)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", files
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_pull_verifies_pinned_sha256_and_unpacks(server: tuple[str, dict[str, bytes]], tmp_path: Path) -> None:
    base, files = server
    data = model_zip()
    files["/m.zip"] = data
    digest = hashlib.sha256(data).hexdigest()
    result = pull(ModelSource(name=NAME, url=f"{base}/m.zip", sha256=digest), tmp_path)
    assert result.pinned and result.sha256 == digest
    assert looks_like_model(tmp_path / NAME) == []
    assert installed_models(tmp_path) == [tmp_path / NAME]
    again = pull(ModelSource(name=NAME, url=f"{base}/m.zip", sha256=digest), tmp_path)
    assert "already installed" in again.notes[0]


def test_pull_rejects_a_wrong_digest(server: tuple[str, dict[str, bytes]], tmp_path: Path) -> None:
    base, files = server
    files["/m.zip"] = model_zip()
    with pytest.raises(PullError, match="SHA-256 mismatch"):
        pull(ModelSource(name=NAME, url=f"{base}/m.zip", sha256="0" * 64), tmp_path)
    assert not (tmp_path / NAME).exists()
    assert [p.name for p in tmp_path.iterdir()] == []  # nothing half-downloaded left behind


def test_unpinned_pull_records_the_digest_then_checks_it(server: tuple[str, dict[str, bytes]], tmp_path: Path) -> None:
    base, files = server
    files["/m.zip"] = model_zip()
    source = ModelSource(name=NAME, url=f"{base}/m.zip")
    first = pull(source, tmp_path)
    assert not first.pinned and "recorded" in first.notes[0]
    assert (tmp_path / f"{NAME}.sha256").read_text().split()[0] == first.sha256
    files["/m.zip"] = model_zip(extra={"README": b"changed upstream"})
    with pytest.raises(PullError, match="mismatch"):
        pull(source, tmp_path, force=True)


def test_pull_without_network_fails_clearly(tmp_path: Path) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(PullError, match=r"cannot download .* no internet access"):
        pull(ModelSource(name=NAME, url=f"http://127.0.0.1:{port}/m.zip"), tmp_path, timeout=2)


def test_pull_refuses_bad_archives(server: tuple[str, dict[str, bytes]], tmp_path: Path) -> None:
    base, files = server
    files["/slip.zip"] = model_zip(extra={"../evil.txt": b"x"})
    files["/junk.zip"] = b"not a zip"
    files["/empty.zip"] = _zip_with({"x/readme": b"x"})
    with pytest.raises(PullError, match="unsafe path"):
        pull(ModelSource(name=NAME, url=f"{base}/slip.zip"), tmp_path / "a")
    assert not (tmp_path / "evil.txt").exists()
    with pytest.raises(PullError, match="not a zip"):
        pull(ModelSource(name=NAME, url=f"{base}/junk.zip"), tmp_path / "b")
    with pytest.raises(PullError, match="not a Vosk model"):
        pull(ModelSource(name=NAME, url=f"{base}/empty.zip"), tmp_path / "c")
    with pytest.raises(PullError, match="HTTP 404"):
        pull(ModelSource(name=NAME, url=f"{base}/missing.zip"), tmp_path / "d")


def _zip_with(entries: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for rel, data in entries.items():
            zf.writestr(rel, data)
    return buf.getvalue()


def test_with_dither_patches_only_mfcc_conf(tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "conf").mkdir(parents=True)
    (src / "am").mkdir()
    (src / "conf" / "mfcc.conf").write_text("--use-energy=false\n--dither=1.0\n")
    (src / "conf" / "model.conf").write_text("--beam=10\n")
    (src / "am" / "final.mdl").write_bytes(b"m")
    view = with_dither(src, 0.0, tmp_path / "views")
    assert (view / "conf" / "mfcc.conf").read_text() == "--use-energy=false\n--dither=0\n"
    assert (view / "am").is_symlink() and (view / "conf" / "model.conf").read_text() == "--beam=10\n"
    assert (src / "conf" / "mfcc.conf").read_text().endswith("--dither=1.0\n")


def test_model_view_overrides_decoder_options(tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "conf").mkdir(parents=True)
    (src / "conf" / "mfcc.conf").write_text("--use-energy=false\n")
    (src / "conf" / "model.conf").write_text("--max-active=3000\n--beam=10.0\n--lattice-beam=2.0\n")
    view = model_view(src, tmp_path / "views", decoder={"max-active": "1500", "beam": "8"})
    assert (view / "conf" / "model.conf").read_text() == "--lattice-beam=2.0\n--max-active=1500\n--beam=8\n"
    assert model_view(src, tmp_path / "views") != view  # different options, different view
