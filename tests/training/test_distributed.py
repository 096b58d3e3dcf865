"""DistributedDataParallel under torchrun: two processes train what one process does."""

import subprocess
import sys

import pytest
import torch
from factories import free_port
from safetensors.torch import load_file
from toy import RUNNER, run_toy


@pytest.mark.slow
def test_ddp_two_processes_match_one_process(tmp_path):
    single = run_toy(tmp_path / "single", "--batch-size", "4")
    assert single.wait(120) == 0, single.communicate()
    ddp = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nproc_per_node",
            "2",
            "--master_port",
            str(free_port()),
            str(RUNNER),
            str(tmp_path / "ddp"),
            "--batch-size",
            "4",
        ],
        capture_output=True,
        timeout=300,
    )
    assert ddp.returncode == 0, ddp.stderr.decode()[-3000:]
    a = load_file(tmp_path / "single" / "model.safetensors")
    b = load_file(tmp_path / "ddp" / "model.safetensors")
    for key in a:
        torch.testing.assert_close(b[key], a[key], rtol=0, atol=1e-5, msg=key)


def test_shutdown_ends_only_the_group_setup_started(tmp_path, monkeypatch):
    """A group the caller created stays theirs; one setup_distributed created is destroyed by shutdown."""
    import torch.distributed as dist

    from dynamicnet.training import setup_distributed, shutdown_distributed

    real_init = dist.init_process_group

    def init(store: str) -> None:  # a one-process gloo group (a fresh store file each time, as torch asks)
        real_init("gloo", init_method=f"file://{tmp_path / store}", rank=0, world_size=1)

    init("caller")  # the caller's own group: setup_distributed joins it and shutdown leaves it alone
    try:
        assert setup_distributed(torch.device("cpu")) == (torch.device("cpu"), True)
        shutdown_distributed()
        assert dist.is_initialized()
    finally:
        dist.destroy_process_group()

    # As under torchrun: the environment names a 2-process job and setup creates the group itself.
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setattr(dist, "init_process_group", lambda backend: init("setup"))
    try:
        assert setup_distributed(torch.device("cpu")) == (torch.device("cpu"), True)
        shutdown_distributed()
        assert not dist.is_initialized()
    finally:  # a failure above leaves neither a group nor the module's flag to later tests
        if dist.is_initialized():
            dist.destroy_process_group()
        monkeypatch.setattr("dynamicnet.training.distributed._started_here", False)
