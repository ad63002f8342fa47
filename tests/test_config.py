import tomllib
from dataclasses import dataclass, field
from typing import Literal, Optional

import pytest

from lkbench.config import (DataConfig, from_dict, parse_override, register_preset, resolve,
                            to_dict, write_config)
from lkbench.errors import ConfigError, UnknownNameError


@dataclass(frozen=True)
class Optim:
    lr: float = 2e-4
    betas: tuple[float, float] = (0.0, 0.99)


@dataclass(frozen=True)
class Train:
    steps: int = 100
    ema: bool = True
    mode: Literal["full", "bottleneck"] = "full"
    note: Optional[str] = None
    optim: Optim = field(default_factory=Optim)


register_preset("_test_fast", Train, {"steps": 5, "optim": {"lr": 1e-3}})


def test_defaults_and_nested_from_dict():
    cfg = from_dict(Train, {"optim": {"lr": 1}, "mode": "bottleneck"})
    assert cfg == Train(mode="bottleneck", optim=Optim(lr=1.0))
    assert isinstance(cfg.optim.lr, float)  # ints are accepted for floats
    assert from_dict(Train, {"optim": {"betas": [0.5, 0.9]}}).optim.betas == (0.5, 0.9)


def test_unknown_key_suggests_the_closest():
    with pytest.raises(ConfigError, match=r"unknown config key 'optim.l'; did you mean 'optim.lr'"):
        from_dict(Train, {"optim": {"l": 1.0}})
    with pytest.raises(ConfigError, match=r"unknown config key 'stepz'; did you mean 'steps'.*in Train"):
        from_dict(Train, {"stepz": 1})


@pytest.mark.parametrize("data, msg", [
    ({"steps": "ten"}, r"steps: 'ten' is not a valid int"),
    ({"steps": True}, r"steps: True is not a valid int"),
    ({"steps": 1.5}, r"steps: 1.5 is not a valid int"),
    ({"ema": 1}, r"ema: 1 is not a valid bool"),
    ({"mode": "cyclegan"}, r"mode: 'cyclegan' is not one of 'full', 'bottleneck'"),
    ({"optim": {"betas": [0.5]}}, r"optim.betas: expected 2 items, got 1"),
    ({"optim": 3}, r"optim: expected a table of settings"),
])
def test_type_errors_name_the_key(data, msg):
    with pytest.raises(ConfigError, match=msg):
        from_dict(Train, data)


def test_override_parsing():
    assert parse_override("optim.lr=0.5") == {"optim": {"lr": 0.5}}
    assert parse_override("ema=false") == {"ema": False}
    assert parse_override("name=cub") == {"name": "cub"}  # bare word → string
    assert parse_override('note="a b"') == {"note": "a b"}
    assert parse_override("optim.betas=[0.1, 0.2]") == {"optim": {"betas": [0.1, 0.2]}}
    for bad in ["lr", "=3", "a..b=1"]:
        with pytest.raises(ConfigError, match="--set expects KEY=VALUE"):
            parse_override(bad)


def test_precedence_defaults_preset_file_set(tmp_path):
    f = tmp_path / "run.toml"
    f.write_text('steps = 7\nema = true\n[optim]\nlr = 0.1\n')
    cfg = resolve(Train, preset="_test_fast", files=[f], overrides=["ema=false"])
    # file beats preset (steps, lr); --set false beats file's true
    assert (cfg.steps, cfg.optim.lr, cfg.ema) == (7, 0.1, False)
    assert resolve(Train, preset="_test_fast").steps == 5


def test_unknown_preset_and_bad_files(tmp_path):
    with pytest.raises(UnknownNameError, match="unknown preset 'smok'; did you mean 'smoke'"):
        resolve(DataConfig, preset="smok")
    with pytest.raises(ConfigError, match=r"config file not found: .*missing.toml"):
        resolve(Train, files=[tmp_path / "missing.toml"])
    bad = tmp_path / "bad.toml"
    bad.write_text("steps = = 3")
    with pytest.raises(ConfigError, match=r"bad.toml is not valid TOML"):
        resolve(Train, files=[bad])


def test_post_init_checks_become_config_errors():
    with pytest.raises(ConfigError, match="image_size must be in"):
        resolve(DataConfig, overrides=["image_size=4"])


def test_resolved_config_written_and_reloads(tmp_path):
    cfg = resolve(Train, overrides=["optim.betas=[0.5, 0.9]"])
    path = write_config(cfg, tmp_path / "run")
    with path.open("rb") as fh:
        data = tomllib.load(fh)
    assert data == {k: v for k, v in to_dict(cfg).items() if v is not None}
    assert from_dict(Train, data) == cfg
    assert [p.name for p in path.parent.iterdir()] == ["config.toml"]  # no temp file left


def test_presets_exist_for_data():
    assert resolve(DataConfig, preset="smoke").image_size == 32
    assert resolve(DataConfig, preset="demo").image_size == 64


# -- non-finite and out-of-range values fail before any work (issue 25) -----------------------

@pytest.mark.parametrize("text", ["nan", "inf", "-inf", "+nan"])
def test_non_finite_floats_are_refused_everywhere(text):
    with pytest.raises(ConfigError, match=rf"optim.lr: {text.lstrip('+')} is not a finite "
                                          r"number"):
        resolve(Train, overrides=[f"optim.lr={text}"])


def test_non_finite_in_a_union_says_so():
    from lkbench.trainers.latent_keypoint_gan import LKGRunConfig

    with pytest.raises(ConfigError, match=r"^model.tau: nan is not a finite number"):
        resolve(LKGRunConfig, overrides=["model.tau=nan"])


def test_train_cli_refuses_nan_tau_before_training(tmp_path):
    from click.testing import CliRunner

    from lkbench.cli import cli

    res = CliRunner().invoke(cli, ["train", "--model", "latent-keypoint-gan", "--preset",
                                   "smoke", "--out", str(tmp_path / "r"), "--set",
                                   "model.tau=nan"])
    assert res.exit_code == 2 and "model.tau: nan is not a finite number" in res.output
    assert "diverged" not in res.output and not (tmp_path / "r").exists()


def test_edit_eval_refuses_nan_alpha_before_training_judges(tmp_path):
    from click.testing import CliRunner

    from lkbench.cli import cli

    res = CliRunner().invoke(cli, ["edit-eval", "--identity", "--attribute", "smiling",
                                   "--results", str(tmp_path), "--set", "alpha=nan"])
    assert res.exit_code == 2 and "alpha: nan is not a finite number" in res.output
    assert list(tmp_path.iterdir()) == []


def test_the_example_in_a_malformed_set_is_one_that_works():
    from lkbench.config import example_setting

    with pytest.raises(ConfigError, match=r"e.g. --set image_size=64\b"):
        resolve(DataConfig, overrides=["image_size"])
    resolve(DataConfig, overrides=[example_setting(DataConfig)])
    from lkbench.trainers.latent_keypoint_gan import LKGRunConfig
    assert example_setting(LKGRunConfig).startswith("model.")
    resolve(LKGRunConfig, overrides=[example_setting(LKGRunConfig)])


@pytest.mark.parametrize("size,ok", [(31, False), (32, True), (256, True), (257, False),
                                     (1024, False)])
def test_datasets_show_image_size_is_the_documented_range(size, ok):
    if ok:
        assert resolve(DataConfig, overrides=[f"image_size={size}"]).image_size == size
    else:
        with pytest.raises(ConfigError, match=r"image_size must be in \[32, 256\] pixels"):
            resolve(DataConfig, overrides=[f"image_size={size}"])
