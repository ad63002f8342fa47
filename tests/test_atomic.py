import pytest

from lkbench.atomic import atomic_write


def test_replaces_only_on_success_and_leaves_no_temp(tmp_path):
    path = tmp_path / "sub" / "f.bin"
    with atomic_write(path) as fh:
        fh.write(b"old")
    with pytest.raises(KeyboardInterrupt):
        with atomic_write(path) as fh:
            fh.write(b"half of the new cont")
            raise KeyboardInterrupt
    assert path.read_bytes() == b"old"
    assert [p.name for p in path.parent.iterdir()] == ["f.bin"]
    with atomic_write(path) as fh:
        fh.write(b"new")
    assert path.read_bytes() == b"new"


# -- file-system refusals become one line naming the path and the fix (issue 25) -------------

import errno  # noqa: E402
import os  # noqa: E402

from lkbench.atomic import FileWriteError, remove_stale_temps, write_error  # noqa: E402


def _refuse_under(monkeypatch, folder, code):
    """``os.open`` of anything under ``folder`` fails with ``code`` (a read-only mount, a full
    disk); everything else opens as usual."""
    real = os.open

    def fake(path, flags, *args, **kwargs):
        if str(path).startswith(str(folder)):
            raise OSError(code, os.strerror(code), str(path))
        return real(path, flags, *args, **kwargs)
    monkeypatch.setattr(os, "open", fake)


@pytest.mark.parametrize("code,words", [(errno.EROFS, "the file system is read-only"),
                                        (errno.ENOSPC, "no space left on the device"),
                                        (errno.EACCES, "permission denied")])
def test_refused_open_is_one_line_naming_the_path(tmp_path, monkeypatch, code, words):
    _refuse_under(monkeypatch, tmp_path, code)
    with pytest.raises(FileWriteError) as info:
        with atomic_write(tmp_path / "out" / "f.png") as fh:
            fh.write(b"x")
    msg = str(info.value)
    assert msg.startswith(f"cannot write {tmp_path / 'out' / 'f.png'}: {words}") and "; " in msg
    assert "\n" not in msg and ".tmp" not in msg
    assert info.value.__suppress_context__          # no chained traceback under it


def test_disk_full_mid_write_keeps_the_old_file_and_no_temp(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.pt"
    path.write_bytes(b"old")

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(FileWriteError, match="no space left on the device; free some space"):
        with atomic_write(path) as fh:
            fh.write(b"new")
    assert path.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["ckpt.pt"]


def test_a_failing_cleanup_adds_no_second_error(tmp_path, monkeypatch):
    from pathlib import Path

    def no_unlink(self, missing_ok=False):
        raise PermissionError(errno.EACCES, "denied", str(self))
    monkeypatch.setattr(Path, "unlink", no_unlink)
    with pytest.raises(KeyboardInterrupt) as info:
        with atomic_write(tmp_path / "f.bin") as fh:
            fh.write(b"x")
            raise KeyboardInterrupt
    assert info.value.__context__ is None


def test_a_folder_in_the_way(tmp_path):
    (tmp_path / "d").mkdir()
    with pytest.raises(FileWriteError, match=r"d: it is a folder, not a file; give a file name"):
        with atomic_write(tmp_path / "d") as fh:
            fh.write(b"x")
    (tmp_path / "f").write_text("")
    with pytest.raises(FileWriteError, match="a part of the path is a file, not a folder"):
        with atomic_write(tmp_path / "f" / "sub" / "x.png") as fh:
            fh.write(b"x")


def test_torch_save_reporting_a_full_disk_as_runtime_error_is_translated():
    inner = OSError(errno.ENOSPC, "No space left on device")
    try:
        try:
            raise inner
        except OSError:
            raise RuntimeError("PytorchStreamWriter failed writing file data/0")
    except RuntimeError as exc:
        err = write_error(exc, "run/ckpt/step-0000010.pt")
    assert isinstance(err, FileWriteError) and "run/ckpt/step-0000010.pt" in str(err)
    assert write_error(RuntimeError("a bug"), "x") is None
    assert write_error(FileNotFoundError(errno.ENOENT, "missing"), "x") is None


def test_stale_temps_of_dead_processes_are_removed(tmp_path):
    dead = tmp_path / ".step-0000040.pt.999999999-deadbeef.tmp"   # no such pid
    mine = tmp_path / f".step-0000050.pt.{os.getpid()}-cafe0000.tmp"
    keep = tmp_path / "step-0000040.pt"
    for p in (dead, mine, keep):
        p.write_bytes(b"x")
    assert remove_stale_temps(tmp_path) == [dead]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([mine.name, keep.name])


@pytest.mark.parametrize("command", [
    ["edit", "demo", "--op", "render", "--out", "{ro}/edit.png"],
    ["report", "--out", "{ro}/leaderboard.md"],
    ["datasets", "show", "synthetic", "--num", "2", "--out", "{ro}/grid.png"],
    ["export", "demo", "{ro}/g.pt"],
])
def test_cli_writers_on_a_read_only_folder_print_one_line(tmp_path, monkeypatch, command):
    from click.testing import CliRunner

    from lkbench.cli import cli

    ro = tmp_path / "ro"
    _refuse_under(monkeypatch, ro, errno.EROFS)
    monkeypatch.chdir(tmp_path)
    res = CliRunner().invoke(cli, [a.format(ro=ro) for a in command])
    lines = [ln for ln in res.output.strip().splitlines() if ln.startswith("Error")]
    assert res.exit_code == 2 and lines, res.output
    assert lines[0].startswith(f"Error: cannot write {ro}") and "read-only" in lines[0]
    assert "Traceback" not in res.output and not list(tmp_path.rglob("*.tmp"))


def test_cli_last_resort_names_the_file_the_os_names(tmp_path, monkeypatch):
    """A writer that does not go through atomic_write (a records append creating its folder)
    still ends in one line, naming the records file."""
    import numpy as np
    from click.testing import CliRunner
    from pathlib import Path

    from lkbench.cli import cli

    ro = tmp_path / "ro"
    real_mkdir = Path.mkdir

    def mkdir(self, *args, **kwargs):
        if str(self).startswith(str(ro)):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(self))
        return real_mkdir(self, *args, **kwargs)
    monkeypatch.setattr(Path, "mkdir", mkdir)
    np.savez(tmp_path / "p.npz", test=np.zeros((500, 5, 2), np.float32))
    res = CliRunner().invoke(cli, ["score", "--benchmark", "synthetic", "--predictions",
                                   str(tmp_path / "p.npz"), "--no-regression", "--results",
                                   str(ro), "--out", str(tmp_path / "fig")])
    assert res.exit_code == 2, res.output
    assert res.output.strip().splitlines()[-1].startswith(
        f"Error: cannot append to {ro / 'landmarks.jsonl'}: the file system is read-only")
