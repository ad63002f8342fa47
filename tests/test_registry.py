import pytest

from lkbench.errors import LkbenchError, UnknownNameError
from lkbench.registry import Registry


def make():
    reg: Registry[int] = Registry("protocols")

    @reg.register("fid_interp")
    def _a():
        return 1

    reg.add("fid", 2)
    reg.add("cpd", 3, aliases=("disentanglement",))
    return reg


def test_lookup_aliases_and_listing():
    reg = make()
    assert reg.get("fid") == 2
    assert reg.get("disentanglement") == 3
    assert reg.resolve("disentanglement") == "cpd"
    assert reg.names() == ["cpd", "fid", "fid_interp"]
    assert "fid" in reg and "nope" not in reg and len(reg) == 3


def test_unknown_name_suggests_and_lists():
    reg = make()
    with pytest.raises(UnknownNameError) as e:
        reg.get("fid_intrp")
    msg = str(e.value)
    assert "unknown protocol 'fid_intrp'" in msg
    assert "did you mean 'fid_interp'" in msg
    assert "available: cpd, disentanglement, fid, fid_interp" in msg
    assert isinstance(e.value, LkbenchError)


def test_unknown_name_without_close_match_still_lists():
    with pytest.raises(UnknownNameError, match=r"unknown protocol 'zzzz'; available: cpd"):
        make().get("zzzz")


@pytest.mark.parametrize("name", ["fid", "disentanglement"])
def test_duplicates_rejected(name):
    reg = make()
    with pytest.raises(LkbenchError, match="already registered"):
        reg.add(name, 9)


@pytest.mark.parametrize("bad", ["", " x", "a/b"])
def test_invalid_names_rejected(bad):
    with pytest.raises(LkbenchError, match="invalid protocol name"):
        make().add(bad, 1)


class _EP:
    def __init__(self, name, value, obj=None, exc=None):
        self.name, self.value, self._obj, self._exc, self.loaded = name, value, obj, exc, 0

    def load(self):
        self.loaded += 1
        if self._exc:
            raise self._exc
        return self._obj


def test_entry_point_plugins_load_lazily(monkeypatch):
    ep = _EP("myproto", "pkg.mod:thing", obj=42)
    broken = _EP("broken", "pkg.bad:thing", exc=ImportError("no module named pkg.bad"))
    groups = {}

    def fake_entry_points(group):
        groups[group] = True
        return [ep, broken]

    monkeypatch.setattr("lkbench.registry.metadata.entry_points", fake_entry_points)
    reg = make()
    assert "myproto" in reg.names() and ep.loaded == 0  # listed without importing
    assert reg.get("myproto") == 42 and ep.loaded == 1
    assert reg.get("myproto") == 42 and ep.loaded == 1  # cached after first load
    assert list(groups) == ["lkbench.protocols"]
    with pytest.raises(LkbenchError, match="could not load protocol plugin 'broken'.*pkg.bad"):
        reg.get("broken")


def test_remove_takes_the_entry_and_its_aliases_out():
    reg = make()
    reg.add("x", 7, aliases=("ex", "xx"))
    assert reg.remove("ex") == 7        # an alias names the entry
    assert "x" not in reg and "ex" not in reg and "xx" not in reg
    reg.add("x", 8, aliases=("ex",))    # the names are free again
    assert reg.get("ex") == 8
    with pytest.raises(UnknownNameError, match="unknown protocol 'nope'"):
        reg.remove("nope")


def test_temporarily_registers_inside_the_block_only():
    reg = make()
    with reg.temporarily("tmp", 3, aliases=("t",)) as obj:
        assert obj == 3 and reg.get("t") == 3
    assert "tmp" not in reg and "t" not in reg
    with pytest.raises(RuntimeError):
        with reg.temporarily("tmp", 3):
            raise RuntimeError("boom")
    assert "tmp" not in reg


def test_in_order_keeps_registration_order():
    reg = make()
    for name in ("b", "a", "c"):
        reg.add(name, name.upper())
    assert reg.in_order()[-3:] == [("b", "B"), ("a", "A"), ("c", "C")]
