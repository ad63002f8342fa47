"""300w on iBUG-format .pts fixtures with generated images."""
from __future__ import annotations

import pytest

from lkbench.data import get_dataset
from lkbench.data.check import check_dataset
from lkbench.data.files import AnnotationError, MissingDataError

H, W = 160, 200


@pytest.fixture
def w300(data_root, image_writer):
    root, copy = data_root
    tree = copy("300w")
    for i, pts in enumerate(sorted(tree.rglob("*.pts"))):
        suffix = ".png" if pts.parts[-3] == "lfpw" else ".jpg"
        image_writer(pts.with_suffix(suffix), H, W, seed=i)
    return root, tree


def get(root, split, **options):
    return get_dataset("300w", split=split, image_size=16, root=root, progress=False, **options)


def test_splits_and_subsets(w300):
    root, _ = w300
    fit = get(root, "fit")
    assert fit.image_ids == ["afw/1051618982_1.jpg", "helen/trainset/100032540_1.jpg",
                             "lfpw/trainset/image_0001.png"]
    assert get(root, "train").image_ids == fit.image_ids
    assert fit.labelled and not get(root, "train").labelled
    common = ["helen/testset/296814969_3.jpg", "lfpw/testset/image_0002.png"]
    challenging = ["ibug/image_003_1.jpg", "ibug/image_004_1.jpg"]
    assert get(root, "test").image_ids == common + challenging
    assert get(root, "test", subset="common").image_ids == common
    assert get(root, "test", subset="challenging").image_ids == challenging
    report = check_dataset("300w", root, progress=False)
    assert report.ok, report.problems
    assert [(s.split, s.listed, s.published) for s in report.splits] == [
        ("train", 3, 3148), ("fit", 3, 3148), ("test", 4, 689)]


def test_one_based_points_whole_image_and_landmark_crop(w300):
    root, _ = w300
    # ibug/image_003_1.pts point 1 = (61, 41) 1-based -> (60, 40) 0-based pixel centres
    kp, vis = get(root, "test", subset="challenging", crop="none").landmarks([0])
    assert kp[0, 0].tolist() == pytest.approx([121 / W - 1, 81 / H - 1], abs=1e-6)
    assert vis.all() and kp.shape == (1, 68, 2)
    # default crop: the points span x 60..140, y 40..120 -> square (50, 30)-(150, 130);
    # (60, 40) is (10, 10) inside it, (140, 120) is (90, 90): (2*10 + 1)/100 - 1, …
    ds = get(root, "test", subset="challenging")
    assert ds.index.boxes[0].tolist() == [50.0, 30.0, 150.0, 130.0]
    kp, _ = ds.landmarks([0])
    assert kp[0, 0].tolist() == pytest.approx([-0.79, -0.79], abs=1e-6)
    assert kp[0, 16].tolist() == pytest.approx([0.81, 0.81], abs=1e-6)
    assert ds.batch([0, 1]).images.shape == (2, 3, 16, 16)
    kp, _ = get(root, "test", subset="challenging", crop_scale=2.0).landmarks([0])
    # side 2 x 80 = 160: box (20, 0)-(180, 160), (60, 40) is (40, 40) inside it
    assert kp[0, 0].tolist() == pytest.approx([81 / 160 - 1] * 2, abs=1e-6)
    with pytest.raises(Exception, match="crop_scale must be a number in"):
        get(root, "test", crop_scale=0.5)
    with pytest.raises(Exception, match="subset must be one of full, common, challenging"):
        get(root, "test", subset="hard")


def test_meta_normaliser_and_mirror_pairs():
    from lkbench.data.w300 import IBUG_68
    assert IBUG_68.names.index(IBUG_68.normaliser[0]) == 36
    assert IBUG_68.names.index(IBUG_68.normaliser[1]) == 45
    pairs = dict(IBUG_68.flip_pairs)
    assert pairs[0] == 16 and pairs[36] == 45 and pairs[39] == 42 and pairs[48] == 54
    flat = [i for p in IBUG_68.flip_pairs for i in p]
    assert len(flat) == len(set(flat))                      # a permutation (no joint twice)


def test_broken_line_missing_image_and_truncated_file(w300):
    root, tree = w300
    pts = tree / "ibug" / "image_003_1.pts"
    original = pts.read_text()
    lines = original.splitlines()
    lines[6] = "12.0 abc"                                       # line 7 = point 4
    pts.write_text("\n".join(lines) + "\n")
    with pytest.raises(AnnotationError, match=r"image_003_1.pts:7: malformed point line "
                                              r"'12.0 abc'"):
        len(get(root, "test"))
    (tree / "lfpw" / "testset" / "image_0002.png").unlink()
    report = check_dataset("300w", root, progress=False)
    assert not report.ok
    assert any("image_003_1.pts:7: malformed point line" in p for p in report.problems)
    assert any("missing image for" in p and "image_0002.pts" in p for p in report.problems)
    pts.write_text(original)
    trunc = tree / "ibug" / "image_004_1.pts"
    trunc.write_text("\n".join(trunc.read_text().splitlines()[:30]))
    with pytest.raises(AnnotationError, match=r"image_004_1.pts: no closing"):
        len(get(root, "test", subset="challenging"))
    import shutil
    shutil.rmtree(tree / "afw")
    with pytest.raises(MissingDataError, match=r"missing folder .*300w/afw"):
        len(get(root, "fit"))
