"""CelebA in its published file formats: a tiny fixture written byte-for-byte like the real files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from cli_utils import run_cli
from PIL import Image

from dynamicnet.core import load_pretrained
from dynamicnet.data.celeba import CELEBA_ATTRIBUTES, CelebA, read_attributes
from dynamicnet.errors import DynamicNetError

N = 6
MALE = CELEBA_ATTRIBUTES.index("Male")
SMILING = CELEBA_ATTRIBUTES.index("Smiling")
CENTRE = (200, 40, 40)  # colour of the central 108 px square; the border around it is blue


def _values(i: int) -> list[int]:
    v = [1 if (i * 7 + j * 3) % 5 < 2 else -1 for j in range(40)]
    v[MALE] = 1 if i % 2 == 0 else -1  # images 2, 4, 6 male
    v[SMILING] = 1 if i < 2 else -1
    return v


def write_celeba(root: Path, layout: str = "flat", partition: bool = True) -> Path:
    """A CelebA folder with N aligned-size (178×218) JPEGs, list_attr_celeba.txt and list_eval_partition.txt."""
    img_dir = root / ("Img" if layout == "drive" else "") / "img_align_celeba"
    anno = root / ("Anno" if layout == "drive" else "")
    evald = root / ("Eval" if layout == "drive" else "")
    for d in (img_dir, anno, evald):
        d.mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(1, N + 1):
        name = f"{i:06d}.jpg"
        a = np.zeros((218, 178, 3), np.uint8)
        a[...] = (30, 30, 220)
        a[55:163, 35:143] = CENTRE  # the 108×108 centre square (rows 55..162, cols 35..142)
        Image.fromarray(a).save(img_dir / name, quality=95)
        # The real file right-aligns each value in a 2-character field: "000001.jpg -1  1  1 -1 …".
        rows.append(name + "".join(f" {v:2d}" for v in _values(i)))
    (anno / "list_attr_celeba.txt").write_text(f"{N}\n" + " ".join(CELEBA_ATTRIBUTES) + " \n" + "\n".join(rows) + "\n")
    if partition:
        parts = [0, 0, 0, 1, 2, 2]
        (evald / "list_eval_partition.txt").write_text(
            "".join(f"{i:06d}.jpg {p}\n" for i, p in zip(range(1, N + 1), parts))
        )
    return root


@pytest.fixture
def celeba(tmp_path):
    return write_celeba(tmp_path / "celeba")


def test_attribute_file_is_parsed_exactly(celeba):
    files, names, values = read_attributes(celeba / "list_attr_celeba.txt")
    assert files == [f"{i:06d}.jpg" for i in range(1, N + 1)]
    assert tuple(names) == CELEBA_ATTRIBUTES and len(names) == 40
    assert values.shape == (N, 40) and values.dtype == np.int8
    assert values.tolist() == [_values(i) for i in range(1, N + 1)]


def test_attribute_split_and_centre_crop(celeba):
    data = CelebA(celeba, size=64)
    assert len(data) == N and data.channels == 3
    male = data.labels.mask("Male", 1)
    assert male.tolist() == [False, True, False, True, False, True]
    assert data.labels.mask("male", "+1").tolist() == male.tolist()  # case and sign spellings are forgiven
    x = data.get(0, np.random.default_rng(0))
    assert x.shape == (3, 64, 64) and x.dtype == torch.float32
    # crop 108 → 64: only the centre square survives (no blue border), up to JPEG error
    assert torch.allclose(x.mean(dim=(1, 2)), torch.tensor(CENTRE) / 255.0, atol=0.03)


def test_partition_and_drive_layout(tmp_path):
    root = write_celeba(tmp_path / "drive", layout="drive")
    assert len(CelebA(root, partition="train")) == 3
    assert len(CelebA(root, partition="test")) == 2
    assert len(CelebA(root)) == N
    no_part = write_celeba(tmp_path / "nopart", partition=False)
    with pytest.raises(DynamicNetError, match="list_eval_partition.txt"):
        CelebA(no_part, partition="test")


def test_unknown_attribute_lists_the_valid_ones(celeba):
    with pytest.raises(DynamicNetError) as info:
        CelebA(celeba).labels.mask("Beard", 1)
    msg = str(info.value)
    assert "unknown attribute 'Beard'" in msg and "No_Beard" in msg and "Male" in msg and "\n" not in msg
    with pytest.raises(DynamicNetError, match="values present: -1, 1"):
        CelebA(celeba).labels.mask("Male", 2)


@pytest.mark.parametrize(
    ("corrupt", "message"),
    [
        (lambda t: t.replace("6\n", "seven\n", 1), "line 1"),
        (lambda t: t.replace("6\n", "7\n", 1), "7 images but 6 rows"),
        (
            lambda t: t.replace("000002.jpg  1", "000002.jpg  0", 1).replace("000002.jpg -1", "000002.jpg  0", 1),
            "line 4",
        ),
        (lambda t: t.rsplit(" ", 1)[0] + "\n", "line 8 has 39 values"),
    ],
)
def test_malformed_attribute_file_is_one_line(celeba, corrupt, message):
    path = celeba / "list_attr_celeba.txt"
    path.write_text(corrupt(path.read_text()))
    with pytest.raises(DynamicNetError, match=message):
        CelebA(celeba)


def test_missing_folder_or_files(tmp_path, celeba):
    with pytest.raises(DynamicNetError, match="does not exist"):
        CelebA(tmp_path / "nope")
    (celeba / "img_align_celeba" / "000006.jpg").unlink()
    with pytest.raises(DynamicNetError, match="000006.jpg"):
        CelebA(celeba)
    (celeba / "list_attr_celeba.txt").unlink()
    with pytest.raises(DynamicNetError, match="not a CelebA folder"):
        CelebA(celeba)


def test_train_dcgan_on_celeba_fixture_one_step_per_phase(capsys, celeba, tmp_path):
    code, out, err = run_cli(
        capsys,
        "train",
        "dcgan",
        "--data",
        f"celeba:{celeba}",
        "--attribute",
        "Male",
        "--value",
        "1",
        "--image-size",
        "32",
        "--ngf",
        "4",
        "--ndf",
        "4",
        "--batch-size",
        "2",
        "--steps",
        "1",
        "--out",
        tmp_path / "m",
        "--no-progress",
        "--device",
        "cpu",
    )
    assert code == 0, err
    _, config = load_pretrained(tmp_path / "m")
    # the train partition (images 1-3) is used for training: image 2 is male
    assert config["objectives"]["main"]["images"] == 1 and config["objectives"]["higher"]["images"] == 2
    assert config["objectives"]["higher"]["values"] == ["-1"]
    assert config["extra"]["description"] == "CelebA: Male = 1 (α=0) → Male = -1 (α=1)"
    assert "centre crop 108" in config["provenance"]["data"] and "train partition" in config["provenance"]["data"]


def test_train_dcgan_unknown_attribute_is_one_line(capsys, celeba, tmp_path):
    code, _, err = run_cli(
        capsys,
        "train",
        "dcgan",
        "--data",
        f"celeba:{celeba}",
        "--attribute",
        "Beard",
        "--value",
        "1",
        "--out",
        tmp_path / "m",
    )
    assert code == 1 and err.count("\n") == 1 and "Eyeglasses" in err and "Traceback" not in err
    assert not (tmp_path / "m").exists()
