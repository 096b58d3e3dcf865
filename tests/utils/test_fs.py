import os
import stat

import pytest

from dynamicnet.errors import DynamicNetError
from dynamicnet.utils.device import resolve_device
from dynamicnet.utils.fs import atomic_path, atomic_write_text


def test_atomic_write_replaces_whole_file_with_normal_permissions(tmp_path):
    target = tmp_path / "sub" / "out.txt"
    atomic_write_text(target, "one")
    atomic_write_text(target, "two")
    assert target.read_text() == "two"
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~_umask()
    assert os.listdir(target.parent) == ["out.txt"]


def test_mode_survives_writers_that_replace_the_temp_file(tmp_path):
    import torch
    from safetensors.torch import save_file

    target = tmp_path / "w.safetensors"
    with atomic_path(target) as tmp:
        save_file({"x": torch.zeros(2)}, str(tmp))
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~_umask()


def test_failed_write_leaves_target_and_no_temp(tmp_path):
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")

    def crashing_writer() -> None:
        with atomic_path(target) as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("writer crashed")

    with pytest.raises(RuntimeError, match="writer crashed"):
        crashing_writer()
    assert target.read_bytes() == b"old" and os.listdir(tmp_path) == ["out.bin"]


def test_temp_keeps_extension_for_format_detection(tmp_path):
    with atomic_path(tmp_path / "x.png") as tmp:
        assert tmp.suffix == ".png" and tmp.parent == tmp_path
        tmp.write_bytes(b"")


@pytest.mark.parametrize("spec", ["gpu", "cuda:x", "", "cpu0"])
def test_bad_device_strings(spec):
    with pytest.raises(DynamicNetError, match="invalid device"):
        resolve_device(spec)


def test_auto_and_cpu_devices():
    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type in ("cpu", "cuda")


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask
