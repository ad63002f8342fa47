"""Checkpoints: round trip, atomic save, every load error, RNG resume, ``--resume auto``."""
from __future__ import annotations

import argparse
import io
import logging
import os
import pickletools
import zipfile
from pathlib import Path

import pytest
import torch

from lkbench.checkpoint import (FORMAT_VERSION, Checkpoint, build_model, checkpoint_path,
                                latest_checkpoint, load_checkpoint, load_model, restore_rng,
                                rng_state, save_checkpoint)
from lkbench.errors import CheckpointError
from lkbench.models import MODELS

TINY = "_test_tiny_linear"
CONFIG = {"in_dim": 3, "hidden": 4, "tags": ["a", "b"], "opts": {"bias": True, "scale": 0.5}}


class TinyNet(torch.nn.Module):
    def __init__(self, in_dim: int, hidden: int, tags=(), opts=None):
        super().__init__()
        self.fc1 = torch.nn.Linear(in_dim, hidden)
        self.fc2 = torch.nn.Linear(hidden, 2)
        self.register_buffer("offset", torch.zeros(2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(torch.relu(self.fc1(x))) + self.offset


def tiny_factory(config: dict) -> torch.nn.Module:
    return TinyNet(**config)


@pytest.fixture(scope="module", autouse=True)
def tiny_model():
    """Register the test model for this module only (Registry has no public remove)."""
    MODELS.add(TINY, tiny_factory)
    yield TINY
    MODELS._items.pop(TINY, None)


def make_net(seed: int = 0) -> TinyNet:
    gen = torch.Generator().manual_seed(seed)
    net = TinyNet(**CONFIG)
    with torch.no_grad():
        for p in list(net.parameters()) + list(net.buffers()):
            p.copy_(torch.randn(p.shape, generator=gen))
    return net


def save_tiny(path: Path, *, step: int = 0, seed: int = 0, **kw) -> TinyNet:
    g, g_ema = make_net(seed), make_net(seed + 1)
    opt = torch.optim.Adam(g.parameters(), lr=1e-3)
    save_checkpoint(path, model=TINY, config=CONFIG, step=step,
                    state={"G": g.state_dict(), "G_ema": g_ema.state_dict(),
                           "opt_G": opt.state_dict()}, **kw)
    return g_ema


# -- round trip ------------------------------------------------------------------------------

def test_round_trip_gives_identical_parameters_and_outputs(tmp_path):
    path = tmp_path / "run" / "ckpt" / "step-0000010.pt"  # parent folders are created
    original = save_tiny(path, step=10, extra={"images_seen": 640})
    ckpt = load_checkpoint(path)
    assert (ckpt.model, ckpt.config, ckpt.step, ckpt.format) == (TINY, CONFIG, 10, FORMAT_VERSION)
    assert ckpt.extra == {"images_seen": 640} and ckpt.lkbench_version
    assert set(ckpt.state) == {"G", "G_ema", "opt_G"}

    model = load_model(path)  # defaults to G_ema
    assert isinstance(model, TinyNet) and not model.training
    for (name, a), (_, b) in zip(original.state_dict().items(), model.state_dict().items()):
        assert torch.equal(a, b), name
    x = torch.randn(5, 3, generator=torch.Generator().manual_seed(1))
    assert torch.equal(original.eval()(x), model(x))
    assert torch.equal(load_model(path, key="G").fc1.weight, make_net(0).fc1.weight)


def test_build_model_falls_back_to_G_and_names_missing_state(tmp_path):
    path = tmp_path / "g.pt"
    save_checkpoint(path, model=TINY, config=CONFIG, state={"G": make_net(3).state_dict()},
                    step=0)
    assert torch.equal(load_model(path).fc2.bias, make_net(3).fc2.bias)
    with pytest.raises(CheckpointError, match=r"no 'D' state \(it has 'G'\)"):
        load_model(path, key="D")
    save_checkpoint(path, model=TINY, config=CONFIG, state={"D": {}}, step=0)
    with pytest.raises(CheckpointError, match="no 'G_ema' or 'G' state"):
        load_model(path)


def test_file_holds_no_pickled_classes(tmp_path):
    path = tmp_path / "c.pt"
    save_tiny(path, rng=rng_state({"z": torch.Generator().manual_seed(0)}, include_global=True))
    torch.load(path, weights_only=True)  # raises if anything beyond the safe set is inside
    with zipfile.ZipFile(path) as zf:
        pkl = zf.read(next(n for n in zf.namelist() if n.endswith("data.pkl")))
    ops = [(op.name, arg) for op, arg, _ in pickletools.genops(pkl)]
    assert "STACK_GLOBAL" not in {name for name, _ in ops}  # every global is a GLOBAL op below
    modules = {arg.split()[0] for name, arg in ops if name == "GLOBAL"}
    assert modules and {m.split(".")[0] for m in modules} <= {"torch", "collections"}


def test_alias_is_stored_as_canonical_name(tmp_path):
    MODELS.add("_test_tiny_canonical", tiny_factory, aliases=("_test_tiny_alias",))
    try:
        path = save_checkpoint(tmp_path / "a.pt", model="_test_tiny_alias", config=CONFIG,
                               state={"G": make_net().state_dict()}, step=1)
        assert load_checkpoint(path).model == "_test_tiny_canonical"
    finally:
        MODELS._items.pop("_test_tiny_canonical")
        MODELS._aliases.pop("_test_tiny_alias")


# -- atomic save -----------------------------------------------------------------------------

def test_interrupted_save_keeps_previous_checkpoint_and_no_temp_file(tmp_path, monkeypatch):
    path = tmp_path / "ckpt" / "latest.pt"
    save_tiny(path, step=100)
    real_save = torch.save

    def dies_midway(obj, f, *args, **kwargs):
        buf = io.BytesIO()
        real_save(obj, buf)
        f.write(buf.getvalue()[: len(buf.getvalue()) // 2])  # half the bytes reach the disk
        raise KeyboardInterrupt("killed during save")

    monkeypatch.setattr(torch, "save", dies_midway)
    with pytest.raises(KeyboardInterrupt):
        save_tiny(path, step=200, seed=5)
    monkeypatch.undo()
    assert load_checkpoint(path).step == 100
    assert sorted(p.name for p in path.parent.iterdir()) == ["latest.pt"]


@pytest.mark.parametrize("config, where", [
    ({"lr": __import__("numpy").float64(0.1)}, r"config\['lr'\] is a numpy\.float64"),
    ({"args": argparse.Namespace(lr=1)}, r"config\['args'\] is a argparse\.Namespace"),
    ({"sizes": [1, {2: "x"}]}, "non-string key 2"),
])
def test_save_rejects_config_that_is_not_plain_data(tmp_path, config, where):
    with pytest.raises(CheckpointError, match=where) as info:
        save_checkpoint(tmp_path / "c.pt", model=TINY, config=config, state={}, step=0)
    assert "weights_only=True" in str(info.value) or "JSON" in str(info.value)
    assert not list(tmp_path.iterdir())


def test_save_rejects_unsafe_state_unknown_model_and_bad_step(tmp_path):
    with pytest.raises(CheckpointError, match=r"state\['sched'\]\['x'\] is a builtins\.object"):
        save_checkpoint(tmp_path / "c.pt", model=TINY, config={}, step=0,
                        state={"sched": {"x": object()}})
    with pytest.raises(CheckpointError, match="unknown model '_test_tiny_linaer'; did you mean "
                                              "'_test_tiny_linear'"):
        save_checkpoint(tmp_path / "c.pt", model="_test_tiny_linaer", config={}, state={}, step=0)
    with pytest.raises(CheckpointError, match="step must be an int >= 0"):
        save_checkpoint(tmp_path / "c.pt", model=TINY, config={}, state={}, step=-1)


# -- load errors -----------------------------------------------------------------------------

def test_missing_file_and_folder(tmp_path):
    with pytest.raises(CheckpointError, match=r"checkpoint not found: .*nope\.pt; check the path"):
        load_checkpoint(tmp_path / "nope.pt")
    with pytest.raises(CheckpointError, match="is a folder, not a checkpoint file"):
        load_checkpoint(tmp_path)


@pytest.mark.parametrize("cut", [0.5, 0.0, 0.99])
def test_truncated_file(tmp_path, cut):
    path = tmp_path / "c.pt"
    save_tiny(path)
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * cut)])
    with pytest.raises(CheckpointError, match=r"c\.pt: the file is truncated or corrupt .*re-save "
                                              "it, or use an earlier checkpoint"):
        load_checkpoint(path)


def test_garbage_file(tmp_path):
    path = tmp_path / "notes.pt"
    path.write_text("hello, this is not a checkpoint")
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        load_checkpoint(path)


def test_bare_state_dict_is_not_a_checkpoint(tmp_path):
    path = tmp_path / "weights.pt"
    torch.save(make_net().state_dict(), path)
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    msg = str(info.value)
    assert "weights.pt is not an lkbench checkpoint" in msg
    assert "missing key(s) 'format', 'model', 'config', 'state', 'step'" in msg
    assert "'fc1.weight'" in msg and "lkbench train" in msg


def test_non_dict_file_is_not_a_checkpoint(tmp_path):
    path = tmp_path / "t.pt"
    torch.save(torch.zeros(3), path)
    with pytest.raises(CheckpointError, match="not an lkbench checkpoint: it holds a Tensor"):
        load_checkpoint(path)


def test_file_needing_unsafe_unpickling_is_refused(tmp_path):
    path = tmp_path / "rosinality.pt"  # the classic: argparse args pickled into the checkpoint
    torch.save({"format": 1, "model": TINY, "config": {}, "state": {}, "step": 0,
                "args": argparse.Namespace(lr=0.002)}, path)
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    msg = str(info.value)
    assert "not an lkbench checkpoint" in msg and "argparse.Namespace" in msg
    assert "will not unpickle code" in msg and "truncated" not in msg


def test_unknown_model_name_suggests_and_mentions_plugins(tmp_path):
    path = tmp_path / "c.pt"
    torch.save({"format": 1, "model": "_test_tiny_linaer", "config": CONFIG, "state": {},
                "step": 0}, path)
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    msg = str(info.value)
    assert "unknown model '_test_tiny_linaer'; did you mean '_test_tiny_linear'?" in msg
    assert "plugin" in msg and "lkbench.models" in msg


def test_format_from_the_future(tmp_path):
    path = tmp_path / "c.pt"
    torch.save({"format": 2, "model": TINY, "weights": {}}, path)
    with pytest.raises(CheckpointError, match=r"written by a newer lkbench \(format 2, this "
                                              r"lkbench reads <= 1\); upgrade lkbench"):
        load_checkpoint(path)


def test_malformed_fields(tmp_path):
    path = tmp_path / "c.pt"
    torch.save({"format": 1, "model": TINY, "config": {}, "state": {}, "step": "10"}, path)
    with pytest.raises(CheckpointError, match="malformed lkbench checkpoint: 'step' is a str"):
        load_checkpoint(path)


def test_state_that_does_not_fit_the_model(tmp_path):
    path = tmp_path / "c.pt"
    wider = {**CONFIG, "hidden": 6}
    save_checkpoint(path, model=TINY, config=CONFIG, step=0,
                    state={"G": TinyNet(**wider).state_dict()})
    with pytest.raises(CheckpointError) as info:
        load_model(path)
    msg = str(info.value)
    assert f"checkpoint state 'G' does not match model '{TINY}' built from its config" in msg
    assert "shape mismatch: fc1.weight (checkpoint [6, 3], model [4, 3])" in msg

    renamed = {k.replace("fc2", "head"): v for k, v in make_net().state_dict().items()}
    save_checkpoint(path, model=TINY, config=CONFIG, step=0, state={"G": renamed})
    with pytest.raises(CheckpointError, match="missing keys: fc2.weight, fc2.bias; unexpected "
                                              "keys: head.weight, head.bias"):
        load_model(path)


def test_config_the_factory_rejects(tmp_path):
    path = tmp_path / "c.pt"
    save_checkpoint(path, model=TINY, config={**CONFIG, "depth": 3}, step=0,
                    state={"G": make_net().state_dict()})
    with pytest.raises(CheckpointError, match="could not rebuild model .* from the checkpoint's "
                                              "config .*depth"):
        load_model(path)


# -- random state and resume -----------------------------------------------------------------

def test_restored_generator_continues_bit_for_bit(tmp_path):
    gen = torch.Generator().manual_seed(1234)
    torch.randn(100, generator=gen)
    path = save_checkpoint(tmp_path / "c.pt", model=TINY, config={}, state={}, step=1,
                           rng=rng_state({"z": gen}))
    uninterrupted = torch.randn(1000, generator=gen)

    fresh = torch.Generator().manual_seed(999)
    restore_rng(load_checkpoint(path).rng, {"z": fresh})
    assert torch.equal(torch.randn(1000, generator=fresh), uninterrupted)


def test_global_cpu_state_is_captured_only_when_asked():
    with torch.random.fork_rng():
        torch.manual_seed(7)
        assert "torch_cpu" not in rng_state({})
        saved = rng_state({}, include_global=True)
        expected = torch.rand(10)
        torch.rand(50)
        restore_rng(saved, {})
        assert torch.equal(torch.rand(10), expected)


def test_restore_rng_errors(caplog):
    saved = rng_state({"z": torch.Generator(), "data": torch.Generator()})
    with pytest.raises(CheckpointError, match="no random state for generator 'init'"):
        restore_rng(saved, {"init": torch.Generator()})
    with caplog.at_level(logging.WARNING, logger="lkbench.checkpoint"):
        restore_rng(saved, {"z": torch.Generator()})
    assert "data" in caplog.text
    saved["generators"]["z"]["state"] = torch.zeros(3, dtype=torch.uint8)
    with pytest.raises(CheckpointError, match="cannot restore generator 'z'"):
        restore_rng(saved, {"z": torch.Generator()})
    saved["generators"]["z"]["device"] = "cuda:0"
    with pytest.raises(CheckpointError, match="saved on cuda:0 but is being restored on cpu"):
        restore_rng(saved, {"z": torch.Generator()})


def train(model, opt, gen, steps):
    for _ in range(steps):
        x = torch.randn(8, 3, generator=gen)
        loss = model(x).square().mean() + torch.nn.functional.dropout(x, 0.5).sum() * 1e-3
        opt.zero_grad()
        loss.backward()
        opt.step()


def test_resume_continues_training_bit_for_bit(tmp_path):
    """Train 6 steps straight vs 3 steps, checkpoint, rebuild everything, 3 more steps."""
    def fresh():
        model = make_net(0).train()
        return model, torch.optim.Adam(model.parameters(), lr=1e-2), torch.Generator()

    with torch.random.fork_rng():
        torch.manual_seed(0)  # dropout draws from the global CPU generator
        model, opt, gen = fresh()
        gen.manual_seed(5)
        train(model, opt, gen, 6)
        straight = [p.detach().clone() for p in model.parameters()]

        torch.manual_seed(0)
        model, opt, gen = fresh()
        gen.manual_seed(5)
        train(model, opt, gen, 3)
        path = save_checkpoint(checkpoint_path(tmp_path, 3), model=TINY, config=CONFIG, step=3,
                               state={"G": model.state_dict(), "opt_G": opt.state_dict()},
                               rng=rng_state({"data": gen}, include_global=True))
        torch.manual_seed(123)  # whatever happened after the save must not matter

        ckpt = load_checkpoint(latest_checkpoint(tmp_path))
        model, opt, gen = fresh()
        model.load_state_dict(ckpt.state["G"])
        opt.load_state_dict(ckpt.state["opt_G"])
        restore_rng(ckpt.rng, {"data": gen})
        train(model, opt, gen, 6 - ckpt.step)
    assert ckpt.path == path
    for a, b in zip(straight, model.parameters()):
        assert torch.equal(a, b)


def test_latest_checkpoint_uses_the_stored_step(tmp_path, caplog):
    assert latest_checkpoint(tmp_path / "absent") is None
    assert latest_checkpoint(tmp_path) is None
    ckpt_dir = tmp_path / "ckpt"
    save_tiny(ckpt_dir / "step-0000900.pt", step=100)  # names lie on purpose
    save_tiny(ckpt_dir / "step-0000100.pt", step=900)
    save_tiny(ckpt_dir / "step-0000500.pt", step=500)
    (ckpt_dir / ".step-0001000.pt.123-abcd.tmp").write_bytes(b"half a save")
    assert latest_checkpoint(tmp_path) == ckpt_dir / "step-0000100.pt"

    broken = ckpt_dir / "step-0002000.pt"
    save_tiny(broken, step=2000)
    broken.write_bytes(broken.read_bytes()[:100])
    with caplog.at_level(logging.WARNING, logger="lkbench.checkpoint"):
        assert latest_checkpoint(tmp_path) == ckpt_dir / "step-0000100.pt"
    assert "step-0002000.pt" in caplog.text and "truncated or corrupt" in caplog.text


def test_latest_checkpoint_reads_only_metadata(tmp_path, monkeypatch):
    """--resume auto must not read every tensor of every checkpoint: loads use mmap."""
    save_tiny(tmp_path / "a.pt", step=1)
    calls = []
    real_load = torch.load
    monkeypatch.setattr(torch, "load", lambda *a, **kw: calls.append(kw) or real_load(*a, **kw))
    assert latest_checkpoint(tmp_path) == tmp_path / "a.pt"
    assert calls and all(kw.get("mmap") and kw.get("weights_only") for kw in calls)


def test_checkpoint_dataclass_is_frozen(tmp_path):
    path = tmp_path / "c.pt"
    save_tiny(path)
    ckpt = load_checkpoint(path)
    assert isinstance(ckpt, Checkpoint) and ckpt.path == path
    with pytest.raises(AttributeError):
        ckpt.step = 5  # type: ignore[misc]
    assert build_model(ckpt, "G").training is False
    assert os.path.basename(checkpoint_path("run", 42)) == "step-0000042.pt"
