"""One phase-aware training loop shared by every application."""
from .trainer import Phase, StepContext, Task, TrainDataset, Trainer, TrainerConfig, setup_distributed

__all__ = ["Phase", "StepContext", "Task", "TrainDataset", "Trainer", "TrainerConfig", "setup_distributed"]
