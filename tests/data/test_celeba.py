"""celeba-wild / celeba-aligned on the fixture tree (real MAFL lists, generated images)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from lkbench.data import get_dataset
from lkbench.data.files import AnnotationError, CorruptImageError, MissingDataError

def _sizes(tree):
    return {line.split()[0]: (int(line.split()[1]), int(line.split()[2]))
            for line in (tree / "list_imsize_celeba.txt").read_text().splitlines()}


@pytest.fixture
def celeba(data_root, image_writer):
    root, copy = data_root
    tree = copy("celeba")
    write_image = image_writer
    for i, (name, (h, w)) in enumerate(sorted(_sizes(tree).items())):
        write_image(tree / "Img" / "img_celeba" / name, h, w, seed=i)
        write_image(tree / "Img" / "img_align_celeba" / name, 218, 178, seed=i)
    return root, tree


def test_wild_splits_follow_the_face_box_filter(celeba):
    root, _ = celeba
    fit = get_dataset("celeba-wild", split="fit", image_size=16, root=root, progress=False)
    test = get_dataset("celeba-wild", split="test", image_size=16, root=root, progress=False)
    train = get_dataset("celeba-wild", split="train", image_size=16, root=root, progress=False)
    # fit list: 142977 039119 000003 185568 089662; 039119 (50000 < 0.3*1000*667) and
    # 000003 (91*126 < 0.3*281*500) have face boxes below 30 % of the image.
    assert fit.image_ids == ["142977.jpg", "185568.jpg", "089662.jpg"]
    assert fit.index.listed == 5
    assert test.image_ids == ["051636.jpg", "004509.jpg"]
    # train = partition 0 minus MAFL test (004509), then the box filter drops 000001..000003
    assert train.image_ids == ["004508.jpg", "004510.jpg"]
    assert fit.labelled and test.labelled and not train.labelled


def test_train_list_matches_ganseg_celebA_training(celeba):
    root, tree = celeba
    ds = get_dataset("celeba-wild", split="train", image_size=16, root=root, progress=False)
    from lkbench.data.files import Problems
    names = ds.split_names(Problems())
    real = (tree / "celebA_training_excerpt.txt").read_text().split()
    listed = [n for n in names if "000001.jpg" <= n <= "004511.jpg"]
    # every GANSeg name in range is ours, and the MAFL test image 004509 is in neither
    assert set(real) - {"000003.jpg", "004511.jpg"} <= set(listed) | {"000002.jpg"}
    assert "004509.jpg" not in names and "004509.jpg" not in real
    assert [n for n in names if n in real] == [n for n in real if n in names]


def test_wild_keypoints_non_square_image_hand_worked(celeba):
    root, _ = celeba
    fit = get_dataset("celeba-wild", split="fit", image_size=16, root=root, progress=False)
    kp, vis = fit.landmarks([0])                       # 142977.jpg: H=666, W=700
    # left eye (x, y) = (300, 250) px: x_n = (2*300+1)/700 - 1, y_n = (2*250+1)/666 - 1
    assert kp[0, 0].tolist() == pytest.approx([601 / 700 - 1, 501 / 666 - 1], abs=1e-6)
    # right mouth (395, 388)
    assert kp[0, 4].tolist() == pytest.approx([791 / 700 - 1, 777 / 666 - 1], abs=1e-6)
    assert vis.all()
    # in GANSeg's stored 128-px (row, col) = (y*128/H, x*128/W) the same point is the centre
    # of the same continuous position: col/128 = (x_n + 1)/2 up to the half-pixel convention
    col = 300 * 128 / 700
    assert (kp[0, 0, 0].item() + 1) / 2 * 128 == pytest.approx(col + 64 / 700, abs=1e-4)


def test_alk_swap_compat_scales_columns_by_height(celeba):
    root, _ = celeba
    ds = get_dataset("celeba-wild", split="fit", image_size=16, root=root, compat="alk-swap",
                     progress=False)
    kp, _ = ds.landmarks([0])
    assert kp[0, 0].tolist() == pytest.approx([601 / 666 - 1, 501 / 700 - 1], abs=1e-6)
    with pytest.raises(Exception, match="compat must be one of none, alk-swap"):
        get_dataset("celeba-wild", split="fit", root=root, compat="alk")


def test_wild_images_are_whole_image_resizes(celeba):
    root, tree = celeba
    ds = get_dataset("celeba-wild", split="test", image_size=16, root=root, progress=False)
    images, kp, vis = ds.batch([0, 1])
    assert images.shape == (2, 3, 16, 16) and images.dtype == torch.float32
    from PIL import Image
    src = Image.open(tree / "Img" / "img_celeba" / "051636.jpg").convert("RGB")
    expect = np.array(src.resize((16, 16), Image.Resampling.BILINEAR)).transpose(2, 0, 1)
    assert torch.allclose(images[0], torch.from_numpy(expect).float() / 127.5 - 1)


def test_aligned_imm_crop(celeba):
    root, _ = celeba
    ds = get_dataset("celeba-aligned", split="fit", image_size=32, root=root, progress=False)
    assert ds.image_ids == ["142977.jpg", "039119.jpg", "000003.jpg", "185568.jpg",
                            "089662.jpg"]          # no box filter on aligned images
    kp, _ = ds.landmarks([0])
    # IMM: 178x218 -> 160x160, centre 128x128 crop (offset 16). Left eye (70, 110):
    # at 160 px the continuous position is (70.5*160/178, 110.5*160/218); minus 16; over 128.
    x = (70.5 * 160 / 178 - 16) / 128 * 2 - 1
    y = (110.5 * 160 / 218 - 16) / 128 * 2 - 1
    assert kp[0, 0].tolist() == pytest.approx([x, y], abs=1e-6)
    whole = get_dataset("celeba-aligned", split="fit", image_size=32, root=root, crop="none",
                        progress=False)
    kw, _ = whole.landmarks([0])
    assert torch.allclose(kp, kw / 0.8, atol=1e-6)      # the crop scales coordinates by 1/0.8
    images, _, _ = ds.batch([0])
    assert images.shape == (1, 3, 32, 32)
    train = get_dataset("celeba-aligned", split="train", image_size=32, root=root)
    assert train.image_ids == ["000001.jpg", "000002.jpg", "000003.jpg", "004508.jpg",
                               "004510.jpg"]


def test_attributes(celeba):
    root, _ = celeba
    ds = get_dataset("celeba-aligned", split="test", image_size=32, root=root)
    assert len(ds.attribute_names) == 40 and ds.attribute_names[20] == "Male"
    att = ds.attributes([0, 1])
    assert att.shape == (2, 40) and att.dtype == torch.bool
    assert ds.attribute_index("Smiling") == 31
    # fixture rows: value = 1 iff (row + j) % 3 == 0, rows sorted by name; 051636 is row 7
    names = sorted(_sizes(celeba[1]))
    for r, name in enumerate(ds.image_ids):
        i = names.index(name)
        assert att[r].tolist() == [(i + j) % 3 == 0 for j in range(40)]
    (celeba[1] / "Anno" / "list_attr_celeba.txt").unlink()
    with pytest.raises(MissingDataError, match="Anno/list_attr_celeba.txt"):
        get_dataset("celeba-aligned", split="test", root=root).attributes([0])


def test_cache_round_trip(celeba, tmp_path):
    root, tree = celeba
    ds = get_dataset("celeba-wild", split="test", image_size=16, root=root, progress=False)
    first = ds.batch([0, 1])
    cache = tmp_path / "cache" / "celeba-wild"
    entries = sorted(p.name.split("-")[0] for p in cache.iterdir())
    assert entries == ["images", "index"]
    # a second object reads the cache: deleting the source images no longer matters for the
    # index, and the image cache is keyed by the file stats, so it is still valid
    again = get_dataset("celeba-wild", split="test", image_size=16, root=root, progress=False)
    second = again.batch([0, 1])
    for a, b in zip(first, second):
        assert torch.equal(a, b)
    # another size is another entry
    get_dataset("celeba-wild", split="test", image_size=20, root=root, progress=False).batch([0])
    assert len([p for p in cache.iterdir() if p.name.startswith("images")]) == 2
    # changing an annotation file changes the key
    lm = tree / "Anno" / "list_landmarks_celeba.txt"
    lm.write_text(lm.read_text() + "\n")
    get_dataset("celeba-wild", split="test", image_size=16, root=root).landmarks([0])
    assert len([p for p in cache.iterdir() if p.name.startswith("index")]) == 2
    assert not [p for p in cache.iterdir() if p.name.endswith(".tmp")]


def test_missing_folder_and_file_messages(data_root, celeba):
    root, tree = celeba
    with pytest.raises(MissingDataError, match="pass --root DIR"):
        get_dataset("celeba-wild", split="fit")
    with pytest.raises(MissingDataError, match="dataset folder not found: .*nowhere/celeba"):
        get_dataset("celeba-wild", split="fit", root=root / "nowhere")
    (tree / "Anno" / "list_bbox_celeba.txt").unlink()
    ds = get_dataset("celeba-wild", split="fit", root=root)
    with pytest.raises(MissingDataError, match=r"missing file .*Anno/list_bbox_celeba.txt.*CelebA"):
        len(ds)


def test_malformed_line_and_corrupt_image(celeba):
    root, tree = celeba
    lm = tree / "Anno" / "list_landmarks_celeba.txt"
    lines = lm.read_text().splitlines()
    lines[4] = lines[4].rsplit(" ", 1)[0]            # line 5 loses a number
    lm.write_text("\n".join(lines) + "\n")
    with pytest.raises(AnnotationError, match=r"list_landmarks_celeba.txt:5: malformed line"):
        len(get_dataset("celeba-wild", split="fit", root=root))
    img = tree / "Img" / "img_align_celeba" / "051636.jpg"
    img.write_bytes(img.read_bytes()[:300])          # truncated JPEG
    ds = get_dataset("celeba-aligned", split="test", image_size=16, root=root, progress=False)
    with pytest.raises(CorruptImageError, match="corrupt image .*051636.jpg"):
        ds.batch([0])
