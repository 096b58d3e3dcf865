"""Contact sheets: tile layout, labels and the fallback font."""

from __future__ import annotations

import pytest
import torch

from dynamicnet.data import make_contact_sheet
from dynamicnet.errors import DynamicNetError


def test_contact_sheet_shape_and_labels() -> None:
    imgs = [torch.zeros(3, 32, 32), torch.ones(3, 32, 32), torch.full((3, 20, 32), 0.5)]
    plain = make_contact_sheet(imgs, padding=8)
    assert plain.shape == (3, 32 + 16, 3 * (32 + 8) + 8)
    labelled = make_contact_sheet(imgs, [f"α = {a}" for a in (0, 0.5, 1)], padding=8)
    assert labelled.shape[2] == plain.shape[2] and labelled.shape[1] > plain.shape[1]
    label_strip = labelled[:, 8 + 32 :, :]
    assert label_strip.min() < 0.5  # some dark text was drawn under the tiles
    grid = make_contact_sheet(torch.rand(5, 3, 16, 16), ["a"] * 5, ncols=2, padding=4)
    assert grid.shape[2] == 2 * (16 + 4) + 4
    assert grid.min() >= 0.0 and grid.max() <= 1.0


def test_contact_sheet_tile_size_and_errors() -> None:
    sheet = make_contact_sheet([torch.rand(3, 64, 128)], tile_size=32, padding=0)
    assert sheet.shape == (3, 16, 32)
    with pytest.raises(DynamicNetError, match="labels"):
        make_contact_sheet([torch.zeros(3, 4, 4)], ["a", "b"])
    with pytest.raises(DynamicNetError, match="no images"):
        make_contact_sheet([])


def test_contact_sheet_with_builtin_font_spells_out_greek(monkeypatch: pytest.MonkeyPatch) -> None:
    import dynamicnet.data.figures as figures

    monkeypatch.setattr(figures, "_SYSTEM_FONTS", ())
    font = figures._label_font(12, None)
    assert figures._drawable("α = 0.25", font) == "alpha = 0.25"
    assert make_contact_sheet([torch.zeros(3, 40, 40)], ["α = 1"]).shape[0] == 3
