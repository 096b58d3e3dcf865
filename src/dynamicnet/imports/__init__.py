"""Networks someone else trained, as θ: load them (ONNX, TorchScript, ``module:Class`` + safetensors) and find
where tuning blocks can go. Application-neutral, like the core, which knows nothing of this package."""
from .loaders import ImportedNetwork, InputSpec, example_inputs, image_input_index, load_network
from .probe import InsertionPoint, Inspection, find_insertion_points

__all__ = ["ImportedNetwork", "InputSpec", "Inspection", "InsertionPoint", "example_inputs", "find_insertion_points",
           "image_input_index", "load_network"]
