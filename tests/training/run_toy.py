"""Train the toy task; used by the resume (SIGKILL) and DDP tests as a real separate process."""

import argparse
import os
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from toy import PairDataset, ToyTask, tiny_dynamic  # noqa: E402

from dynamicnet.training import Phase, Trainer, TrainerConfig, setup_distributed, shutdown_distributed  # noqa: E402


class SlowToyTask(ToyTask):
    def training_step(self, ctx, batch):
        time.sleep(float(os.environ.get("TOY_STEP_SLEEP", "0")))
        return super().training_step(ctx, batch)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--norm", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(1)
    device, _ = setup_distributed(torch.device("cpu"))
    model = tiny_dynamic(sets=("higher", "lower"), norm=args.norm)
    phases = [
        Phase("main", "main", args.steps, 1e-2, objective="main"),
        Phase("higher", "tuning", args.steps, 1e-2, objective="higher", sets=("higher",), alpha=1.0),
        Phase("lower", "tuning", args.steps, 1e-2, objective="lower", sets=("lower",), alpha=-1.0),
    ]
    config = TrainerConfig(
        Path(args.out),
        batch_size=args.batch_size,
        seed=3,
        device=device,
        log_every=1,
        checkpoint_every=2,
        sample_every=0,
        progress=False,
        resume=args.resume,
    )
    Trainer(SlowToyTask(model), PairDataset(n=10), phases, config).fit()
    shutdown_distributed()


if __name__ == "__main__":
    main()
