"""Checkpoints and exact resume: never overwritten without resume, refused when damaged or written with other
settings, and a run killed at any point resumes bit-identically."""

import json
import signal

import pytest
import torch
from safetensors.torch import load_file
from toy import fit_toy, run_toy, wait_for_checkpoint

from dynamicnet.core import load_pretrained
from dynamicnet.errors import DynamicNetError


def test_existing_checkpoint_is_never_overwritten_without_resume(tmp_path):
    fit_toy(tmp_path)
    with pytest.raises(DynamicNetError, match=r"TrainerConfig\(resume=True\)") as caught:
        fit_toy(tmp_path)
    assert "pass --resume" in caught.value.cli  # what the command line shows instead


def test_resume_with_other_settings_is_refused(tmp_path):
    fit_toy(tmp_path)
    with pytest.raises(DynamicNetError, match="different settings"):
        fit_toy(tmp_path, steps=7, resume=True)


def test_resume_without_checkpoint_is_a_clear_error(tmp_path):
    with pytest.raises(DynamicNetError, match="no checkpoint to resume"):
        fit_toy(tmp_path, resume=True)


@pytest.mark.slow
@pytest.mark.parametrize("kill_at", [(0, 4), (1, 2)])
def test_sigkilled_run_resumes_bit_identically(tmp_path, kill_at):
    ref = run_toy(tmp_path / "ref")
    assert ref.wait(120) == 0, ref.communicate()
    proc = run_toy(tmp_path / "killed", env={"TOY_STEP_SLEEP": "0.15"})
    state = wait_for_checkpoint(tmp_path / "killed" / "train" / "checkpoint.pt", proc, *kill_at)
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    assert not (tmp_path / "killed" / "model.safetensors").exists(), "the run finished before it was killed"
    assert (state["phase_index"], state["step"]) < (2, 8)
    resumed = run_toy(tmp_path / "killed", "--resume")
    assert resumed.wait(120) == 0, resumed.communicate()
    a = load_file(tmp_path / "ref" / "model.safetensors")
    b = load_file(tmp_path / "killed" / "model.safetensors")
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key

    def losses(run):  # the log of the resumed run has each step once, with the same losses
        lines = (tmp_path / run / "train" / "metrics.jsonl").read_text().splitlines()
        return [{k: v for k, v in json.loads(line).items() if k != "time"} for line in lines]

    assert losses("killed") == losses("ref")


@pytest.mark.slow
def test_provenance_lists_every_process_of_a_resumed_run(tmp_path):
    proc = run_toy(tmp_path, env={"TOY_STEP_SLEEP": "0.1"})
    wait_for_checkpoint(tmp_path / "train" / "checkpoint.pt", proc, 0, 4)
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    resumed = run_toy(tmp_path, "--resume")
    assert resumed.wait(120) == 0, resumed.communicate()
    _, config = load_pretrained(tmp_path)
    runs = config["provenance"]["runs"]
    assert len(runs) == 2 and "--resume" in runs[1]["command"] and "--resume" not in runs[0]["command"]
    assert runs[0]["from_step"] == 0 and (runs[1]["from_phase"], runs[1]["from_step"]) >= (0, 4)


def test_damaged_checkpoint_is_refused_on_resume(tmp_path):
    fit_toy(tmp_path)
    ckpt = tmp_path / "train" / "checkpoint.pt"
    assert (tmp_path / "train" / "checkpoint.pt.sha256").is_file()
    data = bytearray(ckpt.read_bytes())
    mid = len(data) // 2
    data[mid : mid + 64] = bytes(b ^ 0xFF for b in data[mid : mid + 64])  # 64 flipped bytes used to resume silently
    ckpt.write_bytes(bytes(data))
    with pytest.raises(DynamicNetError, match="damaged"):
        fit_toy(tmp_path, resume=True)


def test_resume_removes_the_temporaries_a_killed_run_left(tmp_path):
    fit_toy(tmp_path)
    stale = [
        tmp_path / "train" / ".checkpoint.pt.k3j4.tmp.pt",
        tmp_path / ".model.safetensors.x9.tmp",
        tmp_path / "train" / ".checkpoint.pt.sha256.q1.tmp",
    ]
    for p in stale:
        p.write_bytes(b"half-written")
    mine = tmp_path / "train" / ".notes.txt"  # not a file the run writes: left alone
    mine.write_text("keep")
    fit_toy(tmp_path, resume=True)
    assert not any(p.exists() for p in stale) and mine.exists()
