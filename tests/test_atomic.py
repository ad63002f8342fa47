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
