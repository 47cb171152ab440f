"""The guests' bytecode cache for zip imports (lab/guest/files/lab_zipimport_cache.py), on the host's
Python: a source is compiled once, a changed source again, and code keeps the archive it came from."""
from __future__ import annotations

import importlib.util
import zipfile
import zipimport
from pathlib import Path

import pytest

HOOK = Path(__file__).resolve().parents[2] / "lab" / "guest" / "files" / "lab_zipimport_cache.py"
SOURCE = "def outer():\n    def inner():\n        raise ValueError('from inner')\n    return inner\n"


@pytest.fixture()
def hook(tmp_path, monkeypatch):
    """The hook loaded as in a guest (it wraps zipimport on import), with its cache in tmp_path; the
    real compile is counted."""
    calls = []
    real = zipimport._compile_source

    def counted(pathname, source):
        calls.append(pathname)
        return real(pathname, source)

    monkeypatch.setattr(zipimport, "_compile_source", counted)
    spec = importlib.util.spec_from_file_location("lab_zipimport_cache_under_test", HOOK)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "CACHE_DIR", str(tmp_path / "cache"))
    assert zipimport._compile_source.uncached is counted
    module.calls = calls
    return module


def archive(folder: Path, name: str, source: str) -> Path:
    path = folder / name
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("payload_mod.py", source)
    return path


def import_from(path: Path):
    spec = zipimport.zipimporter(str(path)).find_spec("payload_mod")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_second_archive_with_the_same_source_is_not_compiled_again(hook, tmp_path):
    first = import_from(archive(tmp_path, "one.zip", SOURCE))
    second_zip = archive(tmp_path, "two.zip", SOURCE)
    second = import_from(second_zip)
    assert len(hook.calls) == 1, hook.calls
    assert len(list((tmp_path / "cache").iterdir())) == 1
    assert first.outer()  # both work
    # the cached code names the archive it was loaded from this time, nested functions too
    inner = second.outer()
    assert inner.__code__.co_filename == str(second_zip / "payload_mod.py")
    with pytest.raises(ValueError) as caught:
        inner()
    assert str(caught.traceback[-1].path) == str(second_zip / "payload_mod.py")


def test_a_changed_source_is_compiled_afresh(hook, tmp_path):
    import_from(archive(tmp_path, "one.zip", SOURCE))
    changed = import_from(archive(tmp_path, "two.zip", SOURCE.replace("from inner", "changed")))
    assert len(hook.calls) == 2
    with pytest.raises(ValueError, match="changed"):
        changed.outer()()


def test_an_unwritable_cache_still_imports(hook, tmp_path, monkeypatch):
    (tmp_path / "file").write_text("")
    monkeypatch.setattr(hook, "CACHE_DIR", str(tmp_path / "file" / "cache"))  # a folder under a file
    module = import_from(archive(tmp_path, "one.zip", SOURCE))
    assert module.outer()
    assert hook.calls  # compiled, as without the hook


def test_a_corrupt_cache_entry_is_compiled_again(hook, tmp_path):
    import_from(archive(tmp_path, "one.zip", SOURCE))
    (entry,) = (tmp_path / "cache").iterdir()
    entry.write_bytes(b"\x00garbage")
    assert import_from(archive(tmp_path, "two.zip", SOURCE)).outer()
    assert len(hook.calls) == 2  # once for the first archive, once more for the unreadable entry


@pytest.mark.parametrize("folder", ["other-and-longer-folder", "/".join(["x" * 100] * 3), "n\u00e4me"])
def test_code_is_renamed_for_an_archive_path_of_any_length_or_alphabet(hook, tmp_path, folder, monkeypatch):
    """The in-place rename (a short ASCII name of another length) and its fallback (a name longer than
    255 bytes, or not ASCII): every nested code object names the new archive."""
    first_zip = archive(tmp_path, "one.zip", SOURCE)
    import_from(first_zip)
    rebuilt = []
    real_rebuild = hook._with_filename
    monkeypatch.setattr(hook, "_with_filename", lambda code, name: rebuilt.append(name) or real_rebuild(code, name))
    (tmp_path / folder).mkdir(parents=True)
    second_zip = archive(tmp_path / folder, "two.zip", SOURCE)
    second = import_from(second_zip)
    assert len(hook.calls) == 1, hook.calls
    outer, inner = second.outer.__code__, second.outer().__code__
    assert {outer.co_filename, inner.co_filename} == {str(second_zip / "payload_mod.py")}
    (entry,) = (tmp_path / "cache").iterdir()
    assert entry.read_bytes().startswith(hook.MAGIC)
    # only what cannot be renamed in place is rebuilt object by object
    assert bool(rebuilt) == (folder != "other-and-longer-folder"), rebuilt


def test_the_rename_refuses_a_name_it_cannot_place_exactly(hook):
    code = compile(SOURCE, "/a/one.zip/payload_mod.py", "exec")
    import marshal

    body = marshal.dumps(code)
    renamed = hook._renamed(body, "/a/one.zip/payload_mod.py", "/bb/two.zip/payload_mod.py")
    assert marshal.loads(renamed).co_consts[0].co_filename == "/bb/two.zip/payload_mod.py"
    assert hook._renamed(body, "/not/in/the/code.py", "/x.py") is None
    assert hook._renamed(body + body, "/a/one.zip/payload_mod.py", "/x.py") is None  # written twice
    assert hook._renamed(body, "/a/one.zip/payload_mod.py", "/" + "y" * 300) is None
