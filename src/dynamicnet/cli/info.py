"""``dynamicnet info``, ``models`` and ``weights``: inspect model folders, bundled models and VGG weights."""

from __future__ import annotations

import argparse
import json

from .common import add_output


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("info", help="summarise a model folder")
    p.add_argument("model", metavar="MODEL", help="bundled model name (see `dynamicnet models`) or model folder")
    p.add_argument("--json", action="store_true", help="print the whole config.json")
    p.set_defaults(func=run_info)

    p = sub.add_parser(
        "export",
        help="one ONNX file with α as an input (any ONNX runtime moves the slider)",
        description="Inputs: the image (or z, or image and mask) with dynamic batch/height/width, and "
        "α as a (sets, blocks) matrix; metadata in the file says how (see docs).",
    )
    p.add_argument("model", metavar="MODEL", help="bundled model name (see `dynamicnet models`) or model folder")
    p.add_argument("--format", choices=["onnx"], default="onnx", help="the file format")
    add_output(p, "FILE", "the .onnx file to write (appears only when complete)")
    p.set_defaults(func=run_export)

    p = sub.add_parser("models", help="list the bundled models")
    p.set_defaults(func=run_models)

    p = sub.add_parser("weights", help="where the VGG16 perceptual-loss weights come from; prepare the cache")
    p.add_argument("network", choices=["vgg16"], metavar="NETWORK", help="the perceptual network: vgg16")
    p.add_argument("--vgg-weights", default=None, help="a torchvision-format .pth/.safetensors file")
    p.add_argument("--check", action="store_true", help="only report, do not convert or download")
    p.set_defaults(func=run_weights)


def run_info(args: argparse.Namespace) -> int:
    from ..core.checkpoint import read_config
    from ..models import resolve_model

    folder = resolve_model(args.model)
    config = read_config(folder)
    if args.json:
        print(json.dumps(config, indent=2, ensure_ascii=False))
        return 0
    dyn = config["dynamic"]
    prov = config.get("provenance", {})
    print(f"model:        {folder}")
    dtype = config.get("dtype", "float32")
    if "main_dtype" in config:
        dtype = f"blocks {dtype}, θ {config['main_dtype']}"
    print(
        f"application:  {config['application']}  (format {config['format_version']}, "
        f"dynamicnet {config.get('library_version', '?')}, {dtype})"
    )
    for entry in config.get("shared_weights", []):
        print(f"shared:       {entry['file']} (SHA-256 {entry['sha256'][:16]}…)")
    print(f"architecture: {config['architecture'].get('name')} {config['architecture'].get('kwargs', {})}")
    print(f"blocks:       {', '.join(f'{p} ({c} ch)' for p, c in zip(dyn['insertion_points'], dyn['channels']))}")
    print(f"sets:         {', '.join(dyn['sets'])}   α range: {dyn.get('alpha_range')}")
    for name, obj in config.get("objectives", {}).items():
        print(f"objective {name}: {json.dumps(obj, sort_keys=True, ensure_ascii=False)}")
    phases = ", ".join(f"{p['name']}×{p['steps']}" for p in prov.get("phases", []))
    print(
        f"trained:      {phases or '?'}  seed={prov.get('seed')}  batch={prov.get('batch_size')}  "
        f"{prov.get('train_seconds', '?')} s on {prov.get('device', '?')}"
    )
    if prov.get("data"):
        print(f"data:         {prov['data']}")
    if prov.get("command"):
        print(f"command:      {prov['command']}")
    return 0


def run_export(args: argparse.Namespace) -> int:
    from ..export import export_onnx
    from .common import check_output, print_path

    check_output(args.output, (".onnx",))
    print_path(export_onnx(args.model, args.output))
    return 0


def run_models(args: argparse.Namespace) -> int:
    from ..models import bundled_models, describe

    models = bundled_models()
    if not models:
        print("no bundled models")
    width = max((len(name) for name in models), default=0)
    for folder in models.values():
        print(describe(folder, width))
    return 0


def run_weights(args: argparse.Namespace) -> int:
    from ..losses import describe_vgg16_weights, prepare_vgg16_weights

    if not args.check:
        prepare_vgg16_weights(args.vgg_weights)
    print(describe_vgg16_weights(args.vgg_weights))
    return 0
