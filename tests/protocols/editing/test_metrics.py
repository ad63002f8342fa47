"""Attribute-edit metrics (protocols/editing.py) on hand-made cases, and edit-eval end to end."""
from __future__ import annotations

import json

import pytest
import torch
from click.testing import CliRunner

from lkbench.cli import cli
from lkbench.data import FACE_LANDMARKS, get_dataset
from lkbench.errors import CheckpointError, ConfigError, DataError
from lkbench.protocols.editing.judge import (AttributeClassifier,
                                                    classifier_from_config, load_classifier,
                                                    save_classifier)
from lkbench.protocols.editing.metrics import (EditMeasurements, IdentityEditor, attribute_hits,
                                       image_distance, interocular, keypoint_distance,
                                       split_image_error)
from lkbench.records import RecordStore


def test_image_distance_by_hand():
    a = torch.zeros(2, 3, 2, 2)
    b = a.clone()
    b[0, 0, 0, 0] = 1.0            # one value of 12 differs by 1 ([-1,1] units) = ½ intensity
    b[1] = -1.0                    # every value differs by 1
    assert image_distance(a, b).tolist() == pytest.approx([0.5 / 12, 0.5])
    with pytest.raises(DataError, match="one shape"):
        image_distance(a, b[:, :, :1])


def test_keypoint_distance_and_interocular_by_hand():
    kp = torch.tensor([[[-0.3, 0.0], [0.3, 0.0], [0.0, 0.2], [-0.2, 0.5], [0.2, 0.5]]])
    assert interocular(kp, FACE_LANDMARKS).tolist() == pytest.approx([0.6])
    moved = kp.clone()
    moved[0, 2] += torch.tensor([0.03, 0.04])        # nose moves by 0.05
    d = keypoint_distance(moved, kp, interocular(kp, FACE_LANDMARKS))
    assert d.tolist() == pytest.approx([0.05 / 5 / 0.6])
    with pytest.raises(DataError, match=r"\[N,K,2\]"):
        keypoint_distance(moved, kp[:, :4], torch.ones(1))


def test_attribute_hits():
    p = torch.tensor([0.9, 0.2, 0.6, 0.4])
    assert attribute_hits(p, torch.tensor([True, False, False, True])).tolist() == \
        [True, True, False, False]


class _Judges:
    """Stand-in classifier and detector with known behaviour: the classifier reads the mean
    red value of the mouth area, the detector returns a fixed function of the image."""

    @staticmethod
    def classify(images):
        return torch.sigmoid(images[:, 0].mean((1, 2)) * 50)

    @staticmethod
    def detect(images):
        m = images.mean((1, 2, 3))[:, None, None]
        return FACE_LANDMARKS_KP.expand(images.shape[0], -1, -1) + m * 0.1


FACE_LANDMARKS_KP = torch.tensor([[[-0.3, 0.0], [0.3, 0.0], [0.0, 0.2], [-0.2, 0.5],
                                   [0.2, 0.5]]])


@pytest.fixture(scope="module")
def faces():
    ds = get_dataset("synthetic", split="test", image_size=32, size=16)
    batch = ds.batch(range(16))
    labels = ds.attributes(range(16))[:, ds.attribute_index("smiling")]
    cf = ds.counterfactual(range(16), "smiling").images
    return batch, labels, cf


def test_identity_edit_scores_zero_displacement_and_the_flip_distance(faces):
    batch, labels, cf = faces
    edits = IdentityEditor().edit(batch.images, labels.long())
    m = EditMeasurements.measure(batch.images, edits, labels, batch.keypoints, FACE_LANDMARKS,
                                 _Judges.classify, _Judges.detect, cf)
    s = m.summary()
    assert s["keypoint_displacement"][0] == 0 and s["image_distance"][0] == 0
    # counterfactual error of the identity edit = the distance between face and flipped face
    expected = (batch.images - cf).abs().flatten(1).mean(1) / 2
    assert torch.allclose(m.cf_image, expected)
    assert s["counterfactual_image_error"][0] == pytest.approx(float(expected.mean()))
    assert s["counterfactual_image_error"][0] > 0
    assert m.references()["source_counterfactual_distance"] == pytest.approx(
        float(expected.mean()))
    # attribute accuracy of the identity edit: the classifier says "source label" = wrong
    hits = ((_Judges.classify(batch.images) > 0.5) == ~labels).float().mean()
    assert s["attribute_accuracy"][0] == pytest.approx(float(hits))


def test_perfect_edit_has_zero_counterfactual_error(faces):
    batch, labels, cf = faces
    m = EditMeasurements.measure(batch.images, cf, labels, batch.keypoints, FACE_LANDMARKS,
                                 _Judges.classify, _Judges.detect, cf)
    s = m.summary()
    assert s["counterfactual_image_error"][0] == 0
    assert s["counterfactual_keypoint_error"][0] == 0
    assert s["image_distance"][0] > 0
    # measured in two batches, the numbers are the same
    halves = [EditMeasurements.measure(batch.images[sl], cf[sl], labels[sl],
                                       batch.keypoints[sl], FACE_LANDMARKS, _Judges.classify,
                                       _Judges.detect, cf[sl])
              for sl in (slice(0, 5), slice(5, 16))]
    joined = EditMeasurements.concat(halves).summary()
    assert joined.keys() == s.keys()
    for name in s:
        assert joined[name] == pytest.approx(s[name], abs=1e-7)


def test_split_error_by_hand():
    """One 1×2×2 face per row: the counterfactual changes pixel (0, 0) only."""
    src = torch.zeros(3, 3, 2, 2)
    cf = src.clone()
    cf[:, :, 0, 0] = 1.0
    edit_cf, identity = cf.clone(), src.clone()
    other = cf.clone()
    other[:, :, 1, 1] = -0.5          # the attribute right, one kept pixel off by 0.5 (¼ in [0,1])
    other[2, 0, 0, 0] = 0.0           # row 2 also half-wrong in one channel of the changed pixel
    for edits, correct, preserve in ((edit_cf, [0, 0, 0], [0, 0, 0]),
                                     (identity, [0.5, 0.5, 0.5], [0, 0, 0]),
                                     (other, [0, 0, 0.5 / 3], [0.25 / 3] * 3)):
        c, p = split_image_error(edits, cf, src)
        assert torch.allclose(c, torch.tensor(correct, dtype=torch.float32))
        assert torch.allclose(p, torch.tensor(preserve, dtype=torch.float32))
    # a counterfactual that changes nothing: correctness undefined, preservation measured
    c, p = split_image_error(other, src, src)
    assert torch.isnan(c).all() and torch.allclose(p, (other - src).abs().mean((1, 2, 3)) / 2)
    with pytest.raises(DataError, match="one shape"):
        split_image_error(src, cf[:, :, :1], src)


def test_split_error_on_faces_against_an_independent_computation(faces):
    """Identity edit: 0 preservation error and the full distance over changed pixels as
    correctness error; the exact counterfactual: 0 on both; a noisy edit against numpy."""
    batch, labels, cf = faces
    src = batch.images

    def measure(edits):
        return EditMeasurements.measure(src, edits, labels, batch.keypoints, FACE_LANDMARKS,
                                        _Judges.classify, _Judges.detect, cf)
    ident, exact = measure(src.clone()), measure(cf.clone())
    assert float(ident.cf_preserve.abs().max()) == 0 and float(exact.cf_preserve.max()) == 0
    assert float(exact.cf_correct.max()) == 0
    gen = torch.Generator().manual_seed(0)
    noisy = (cf + 0.2 * torch.randn(cf.shape, generator=gen)).clamp(-1, 1)
    m = measure(noisy)
    a, b, x = (t.double().numpy() for t in (noisy, cf, src))
    for i in range(len(a)):
        changed = (b[i] != x[i]).any(0)
        err = abs(a[i] - b[i]).mean(0) / 2
        full = abs(x[i] - b[i]).mean(0) / 2
        assert float(ident.cf_correct[i]) == pytest.approx(full[changed].mean(), rel=1e-5)
        assert float(m.cf_correct[i]) == pytest.approx(err[changed].mean(), rel=1e-5)
        assert float(m.cf_preserve[i]) == pytest.approx(err[~changed].mean(), rel=1e-5)
    # the whole-image error is the pixel-count-weighted mix of the two parts
    share = (cf != src).any(1).flatten(1).double().mean(1)
    mix = share * m.cf_correct.double() + (1 - share) * m.cf_preserve.double()
    assert torch.allclose(mix, m.cf_image.double(), atol=1e-6)
    s = m.summary()
    assert s["counterfactual_correctness_error"][0] == pytest.approx(float(m.cf_correct.mean()))
    assert m.counts()["counterfactual_preservation_error"] == 16


def test_summary_leaves_out_undefined_values():
    m = EditMeasurements(target=torch.tensor([True, False, True]), p_source=torch.zeros(3),
                         p_edit=torch.zeros(3), displacement=torch.zeros(3),
                         distance=torch.zeros(3), p_counterfactual=torch.zeros(3),
                         cf_image=torch.zeros(3), cf_keypoint=torch.zeros(3),
                         cf_distance=torch.zeros(3),
                         cf_correct=torch.tensor([0.2, float("nan"), 0.4]),
                         cf_preserve=torch.tensor([0.0, 0.1, 0.2]))
    s, n = m.summary(), m.counts()
    assert s["counterfactual_correctness_error"][0] == pytest.approx(0.3)
    assert s["counterfactual_correctness_error"][1] == pytest.approx(0.02 ** 0.5 / 2 ** 0.5)
    assert n["counterfactual_correctness_error"] == 2 and n["attribute_accuracy"] == 3


def test_standard_error_by_hand():
    m = EditMeasurements(target=torch.tensor([True, True, False, False]),
                         p_source=torch.zeros(4), p_edit=torch.tensor([0.9, 0.1, 0.2, 0.3]),
                         displacement=torch.tensor([0.0, 0.1, 0.2, 0.3]),
                         distance=torch.zeros(4))
    s = m.summary()
    assert s["attribute_accuracy"][0] == pytest.approx(0.75)
    assert s["keypoint_displacement"] == pytest.approx((0.15, 0.1290994 / 2), abs=1e-6)
    assert "counterfactual_image_error" not in s


def test_classifier_save_load_and_wrong_attribute(tmp_path):
    torch.manual_seed(0)
    model = AttributeClassifier("smiling", 32).eval()
    path = save_classifier(tmp_path / "c.pt", model, steps=3)
    again = load_classifier(path, "smiling")
    x = torch.rand(3, 3, 32, 32) * 2 - 1
    assert torch.equal(model.predict(x), again.predict(x))
    assert model.predict(torch.rand(2, 3, 64, 64)).shape == (2,)      # resized to 32
    with pytest.raises(CheckpointError, match="classifies 'smiling', not 'hair'"):
        load_classifier(path, "hair")


def test_classifiers_saved_before_first_stride_rebuild_with_stride_two():
    torch.manual_seed(0)
    legacy = AttributeClassifier("smiling", 32, (16, 32, 64, 64), first_stride=2).eval()
    # the config such a classifier was saved with had no first_stride (conv weights have the
    # same shapes at either stride, so a wrong default would load silently)
    rebuilt = classifier_from_config({"attribute": "smiling", "image_size": 32,
                                      "widths": [16, 32, 64, 64]})
    rebuilt.load_state_dict(legacy.state_dict())
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    assert torch.equal(rebuilt.eval().predict(x), legacy.predict(x))
    assert AttributeClassifier("smiling", 32).first_stride == 1
    with pytest.raises(ConfigError, match="first_stride"):
        AttributeClassifier("smiling", 32, first_stride=3)


def test_edit_eval_cli_identity_and_checkpoint(tmp_path):
    """The smoke preset end to end: identity edit, then a 1-step l2m-gan checkpoint reusing
    the cached judges; records, metrics.json and the grid land where they should."""
    run = CliRunner()
    res = run.invoke(cli, ["edit-eval", "--identity", "--attribute", "smiling", "--preset",
                           "smoke", "--results", str(tmp_path / "res"), "--out",
                           str(tmp_path / "id"), "--device", "cpu"])
    assert res.exit_code == 0, res.output
    metrics = json.loads((tmp_path / "id" / "metrics.json").read_text())
    assert metrics["metrics"]["keypoint_displacement"]["value"] == 0
    assert metrics["metrics"]["image_distance"]["value"] == 0
    assert metrics["metrics"]["counterfactual_image_error"]["value"] == pytest.approx(
        metrics["references"]["source_counterfactual_distance"])
    assert (tmp_path / "id" / "edit_grid.png").stat().st_size > 1000
    records = RecordStore(tmp_path / "res" / "editing.jsonl").read(strict=True)
    assert {r.metric for r in records} == {
        "attribute_accuracy", "keypoint_displacement", "image_distance",
        "counterfactual_image_error", "counterfactual_keypoint_error",
        "counterfactual_correctness_error", "counterfactual_preservation_error"}
    by_metric = {r.metric: r for r in records}
    assert by_metric["counterfactual_preservation_error"].value == 0
    assert by_metric["counterfactual_correctness_error"].value > \
        by_metric["counterfactual_image_error"].value > 0
    assert all(r.model == "baseline:identity" and r.extra["attribute"] == "smiling"
               and r.n == 16 for r in records)
    cached = sorted(p.name for p in (tmp_path / "res" / "cache").iterdir())
    assert len(cached) == 2

    res = run.invoke(cli, ["train", "--model", "l2m-gan", "--preset", "smoke", "--out",
                           str(tmp_path / "l2m"), "--no-progress", "--set", "loop.steps=1"])
    assert res.exit_code == 0, res.output
    ckpt = tmp_path / "l2m" / "ckpt" / "step-0000001.pt"
    res = run.invoke(cli, ["edit-eval", "--checkpoint", str(ckpt), "--attribute", "smiling",
                           "--preset", "smoke", "--results", str(tmp_path / "res"),
                           "--device", "cpu"])
    assert res.exit_code == 0, res.output
    assert "reusing the attribute classifier" in res.output
    records = RecordStore(tmp_path / "res" / "editing.jsonl").read(strict=True)
    # 7 identity rows, then 7 of the editor and 7 of its α = 0 control
    assert len(records) == 21 and [r.model for r in records[7:]] == \
        ["l2m-gan"] * 7 + ["l2m-gan α=0 control"] * 7
    assert records[-1].checkpoint_sha256 is not None
    assert {r.extra["alpha"] for r in records[14:]} == {0.0}
    assert {r.extra["control_of"] for r in records[14:]} == {"l2m-gan"}
    # the α = 0 control in the references (and its rows) is what a separate α = 0 run measures
    refs = records[7].extra["references"]
    control_rows = {r.metric: r.value for r in records[14:]}
    assert "control_attribute_accuracy" not in records[0].extra["references"]   # identity
    res = run.invoke(cli, ["edit-eval", "--checkpoint", str(ckpt), "--attribute", "smiling",
                           "--preset", "smoke", "--results", str(tmp_path / "res"), "--set",
                           "alpha=0", "--set", "control=false", "--out", str(tmp_path / "a0"),
                           "--device", "cpu"])
    assert res.exit_code == 0, res.output
    at0 = json.loads((tmp_path / "a0" / "metrics.json").read_text())
    assert "control_attribute_accuracy" not in at0["references"]
    for name in ("attribute_accuracy", "keypoint_displacement", "image_distance",
                 "counterfactual_correctness_error", "counterfactual_preservation_error"):
        assert refs[f"control_{name}"] == pytest.approx(at0["metrics"][name]["value"], abs=1e-6)
        assert control_rows[name] == pytest.approx(refs[f"control_{name}"])
    # the report's attribute-editing table: both split columns, identity and control rows
    res = run.invoke(cli, ["report", "--results", str(tmp_path / "res" / "editing.jsonl")])
    assert res.exit_code == 0, res.output
    table = res.output.split("## Attribute editing: synthetic")[1].split("\n## ")[0]
    header = next(line for line in table.splitlines() if line.startswith("| Method"))
    assert "correctness (cf error, changed px)" in header
    assert "preservation (cf error, kept px)" in header
    rows = [line for line in table.splitlines() if line.startswith("| ") and "Method" not in line]
    # (the second l2m-gan row is the separate --set alpha=0 run: another edit strength)
    assert [r.split("|")[1].strip() for r in rows] == [
        "baseline:identity (smiling)", "l2m-gan (smiling)", "l2m-gan (smiling)",
        "l2m-gan α=0 control (smiling)"]
    # errors: an editor trained on another attribute, neither/both editors, a non-editor
    res = run.invoke(cli, ["edit-eval", "--checkpoint", str(ckpt), "--attribute", "hair",
                           "--preset", "smoke", "--results", str(tmp_path / "res")])
    assert res.exit_code == 2 and "trained to edit 'smiling', not 'hair'" in res.output
    res = run.invoke(cli, ["edit-eval", "--attribute", "hair"])
    assert res.exit_code == 2 and "either --checkpoint CKPT or --identity" in res.output
    res = run.invoke(cli, ["edit-eval", "--identity", "--attribute", "hair", "--preset",
                           "smoek"])
    assert res.exit_code == 2 and "did you mean 'smoke'" in res.output
    res = run.invoke(cli, ["edit-eval", "--identity", "--attribute", "smilling", "--preset",
                           "smoke", "--results", str(tmp_path / "res")])
    assert res.exit_code == 2 and "did you mean 'smiling'" in res.output
    clf = next((tmp_path / "res" / "cache").glob("attribute-classifier-*.pt"))
    res = run.invoke(cli, ["edit-eval", "--checkpoint", str(clf), "--attribute", "smiling",
                           "--preset", "smoke", "--results", str(tmp_path / "res")])
    assert res.exit_code == 2 and "not an attribute editor" in res.output


def test_edit_fid_per_task_against_an_independent_computation():
    """Fréchet distance per target domain, averaged; checked with numpy/scipy directly."""
    import numpy as np
    from scipy import linalg

    from lkbench.protocols.editing.fid import TaskStats, metric_name
    from lkbench.protocols.generation.fid import image_features
    from lkbench.protocols.generation.inception import build_extractor

    assert metric_name("inception") == "fid" and metric_name("random-conv") == "fd_random_conv"
    ds = get_dataset("synthetic", split="train", image_size=32, size=24)
    images = ds.batch(range(24)).images
    labels = ds.attributes(range(24))[:, ds.attribute_index("hair")].long()
    ext = build_extractor("random-conv", "clean", torch.device("cpu"))
    stats = TaskStats(ext, "clean", torch.device("cpu"))
    edits = images.flip(-1) * 0.8
    stats.add_edits(edits[:10], labels[:10])
    stats.add_edits(edits[10:], labels[10:])            # batches merge
    stats.add_real([(images, labels)])
    mean, per_task, counts = stats.distance()

    fe, fr = image_features(edits, ext, "clean", torch.device("cpu")).double().numpy(), \
        image_features(images, ext, "clean", torch.device("cpu")).double().numpy()

    def fd(a, b):
        m1, m2 = a.mean(0), b.mean(0)
        s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
        covmean = linalg.sqrtm(s1 @ s2).real
        return float(((m1 - m2) ** 2).sum() + np.trace(s1 + s2 - 2 * covmean))

    lab = labels.numpy()
    for t in (0, 1):
        assert counts[t] == (int((lab == t).sum()),) * 2
        assert per_task[t] == pytest.approx(fd(fe[lab == t], fr[lab == t]), rel=1e-3, abs=1e-6)
    assert mean == pytest.approx((per_task[0] + per_task[1]) / 2)
    same = TaskStats(ext, "clean", torch.device("cpu"))
    same.add_edits(images, labels)
    same.add_real([(images, labels)])
    assert same.distance()[0] == pytest.approx(0, abs=1e-4)
