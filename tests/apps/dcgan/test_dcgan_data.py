"""--data specs, the generic folder + CSV split, attribute/value matching and the Fréchet distance."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from dynamicnet.apps.dcgan.data import open_source, parse_data_spec, split_by_attribute
from dynamicnet.apps.dcgan.evaluate import frechet_distance
from dynamicnet.data.labels import LabelledImageFolder, LabelTable, normalise_value
from dynamicnet.errors import DynamicNetError


def test_data_specs():
    assert str(parse_data_spec("fashion-mnist")) == "fashion-mnist:sneaker,ankle_boot"
    spec = parse_data_spec("fashion-mnist:pullover,coat")
    assert spec.classes == ("pullover", "coat") and spec.default_value == "pullover"
    assert parse_data_spec("celeba:/data/CelebA").path == "/data/CelebA"
    assert parse_data_spec("folder:/x:y").path == "/x:y"
    for bad, msg in [("imagenet", "unknown --data"), ("celeba", "celeba:PATH"), ("fashion-mnist:coat", "two")]:
        with pytest.raises(DynamicNetError, match=msg):
            parse_data_spec(bad)


def test_value_spellings():
    assert normalise_value("1") == normalise_value("+1") == normalise_value("1.0") == normalise_value(1)
    assert normalise_value("Ankle boot") == normalise_value("ankle-boot") == "ankle_boot"
    table = LabelTable({"Smiling": [1, -1, 1], "hair": ["blond", "dark", "Blond"]}, "t")
    assert table.mask("smiling", "1").tolist() == [True, False, True]
    assert table.mask("hair", "BLOND").tolist() == [True, False, True]
    with pytest.raises(DynamicNetError, match="values present: blond, dark"):
        table.mask("hair", "red")


@pytest.fixture
def folder(tmp_path):
    d = tmp_path / "imgs"
    (d / "sub").mkdir(parents=True)
    rows = ["file,glasses,hair"]
    for i in range(6):
        name = f"sub/{i}.png" if i % 3 == 0 else f"{i}.png"
        Image.fromarray(np.full((40, 60, 3), 40 * i, np.uint8)).save(d / name)
        rows.append(f"{name},{'yes' if i < 2 else 'no'},{'dark' if i % 2 else 'blond'}")
    (d / "labels.csv").write_text("\n".join(rows) + "\n")
    return d


def test_folder_csv_split(folder):
    source = open_source(f"folder:{folder}", 32)
    assert isinstance(source, LabelledImageFolder) and len(source) == 6
    split = split_by_attribute(source, "Glasses", "yes")
    assert split.main.tolist() == [0, 1] and split.tuning.tolist() == [2, 3, 4, 5]
    assert split.other_values() == ["no"]
    x = source.get(3, np.random.default_rng(0))
    assert x.shape == (3, 32, 32) and torch.allclose(x, torch.full_like(x, 120 / 255), atol=1 / 255)


def test_folder_errors_are_one_line(folder, tmp_path):
    with pytest.raises(DynamicNetError, match="unknown attribute 'age'; valid attributes: glasses, hair"):
        split_by_attribute(open_source(f"folder:{folder}", 32), "age", 1)
    with pytest.raises(DynamicNetError, match="nothing left"):
        split_by_attribute(_all_same(folder), "hair", "blond")
    (folder / "sub" / "3.png").unlink()
    with pytest.raises(DynamicNetError, match=r"1 listed image\(s\) missing .*\(first: sub/3.png\)"):
        LabelledImageFolder(folder)
    with pytest.raises(DynamicNetError, match="label CSV not found"):
        LabelledImageFolder(tmp_path)
    with pytest.raises(DynamicNetError, match="image folder does not exist"):
        open_source(f"folder:{tmp_path / 'nope'}", 32)


def _all_same(folder):
    (folder / "same.csv").write_text("file,hair\n1.png,blond\n2.png,blond\n")
    return LabelledImageFolder(folder, folder / "same.csv", size=8)


def test_frechet_distance():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(4000, 3, generator=g, dtype=torch.float64)
    assert frechet_distance(a, a) < 1e-9
    # N(0, I) vs N(μ, 4I): ‖μ‖² + 3·(1 + 4 − 2·2) = ‖μ‖² + 3
    mu = torch.tensor([1.0, 2.0, 0.0], dtype=torch.float64)
    b = torch.randn(4000, 3, generator=g, dtype=torch.float64) * 2 + mu
    assert abs(frechet_distance(a, b) - 8.0) < 0.4
    with pytest.raises(ValueError, match="same D"):
        frechet_distance(a, b[:, :2])
