"""delve's checkpoints: safetensors (core/safetensors) with the config in the metadata
(experiments/run/checkpoint.cpp)."""
import json
import struct

import torch

from .errors import CheckpointError


def read_safetensors(path):
    """(tensors by name, metadata) of a safetensors file: u64 LE header length, JSON, raw data."""
    dtypes = {"F32": torch.float32, "F64": torch.float64, "I64": torch.int64, "I32": torch.int32}
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise CheckpointError(f"{path}: {e}")
    if len(raw) < 8:
        raise CheckpointError(f"{path}: not a safetensors file (shorter than its 8-byte header length)")
    n = struct.unpack("<Q", raw[:8])[0]
    try:
        header = json.loads(raw[8:8 + n])
    except (ValueError, UnicodeDecodeError):
        raise CheckpointError(f"{path}: not a safetensors file (no JSON header)")
    meta, tensors, data = header.pop("__metadata__", {}), {}, raw[8 + n:]
    for name, info in header.items():
        begin, end = info["data_offsets"]
        if info["dtype"] not in dtypes or end > len(data):
            raise CheckpointError(f"{path}: tensor {name}: dtype {info['dtype']} or offsets beyond the file")
        t = torch.frombuffer(bytearray(data[begin:end]), dtype=dtypes[info["dtype"]])
        tensors[name] = t.reshape(info["shape"])
    return tensors, meta


def load_checkpoint(path):
    """(config, weights) of a delve checkpoint (experiments/run/checkpoint.cpp): the resolved
    config from the metadata, the parameters without their momentum.* buffers."""
    tensors, meta = read_safetensors(path)
    if meta.get("format") != "delve-checkpoint" or "config" not in meta:
        raise CheckpointError(f'{path}: not a delve checkpoint (metadata "format" is not "delve-checkpoint")')
    weights = {k: v for k, v in tensors.items() if not k.startswith("momentum.")}
    return json.loads(meta["config"]), weights
