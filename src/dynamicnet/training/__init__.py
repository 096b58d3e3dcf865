"""One phase-aware training loop shared by every application, and what a network of one's own needs to use it:
a :class:`Task` base class and datasets from any map-style ``torch.utils.data.Dataset``."""

from .config import Phase, TrainerConfig
from .datasets import TorchDataset, TrainDataset
from .distributed import setup_distributed, shutdown_distributed
from .task import Task
from .trainer import StepContext, TaskProtocol, Trainer

__all__ = [
    "Phase",
    "StepContext",
    "Task",
    "TaskProtocol",
    "TorchDataset",
    "TrainDataset",
    "Trainer",
    "TrainerConfig",
    "setup_distributed",
    "shutdown_distributed",
]
