import json
import pickle
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from tcan_live.model import (
    CheckpointError,
    NormalizationSpec,
    build_generator,
    load_checkpoint,
    read_checkpoint_meta,
    save_checkpoint,
)


class Payload:
    """Stands for any object a pickle could smuggle in."""


def _save_small(path: Path) -> Path:
    generator = build_generator("small", 2)
    return save_checkpoint(
        path,
        generator,
        pixel_size_nm=50.0,
        normalization=NormalizationSpec(low_percentile=2.0, high_percentile=99.5),
        model_name="test-model",
        data={"structure": "microtubules"},
        training={"epochs": 1},
        extra_tensors={"discriminator.weight": torch.arange(6.0)},
    )


def test_round_trip_is_bit_exact(tmp_path: Path) -> None:
    generator = build_generator("small", 2)
    path = save_checkpoint(tmp_path / "m.safetensors", generator, pixel_size_nm=50.0)
    loaded = load_checkpoint(path)
    original, restored = generator.state_dict(), loaded.generator.state_dict()
    assert original.keys() == restored.keys()
    for key, value in original.items():
        assert value.dtype == restored[key].dtype
        assert torch.equal(value, restored[key]), key
    x = torch.rand(1, 1, 32, 32)
    with torch.inference_mode():
        assert torch.equal(generator.eval()(x), loaded.generator(x))


def test_metadata_describes_the_model(tmp_path: Path) -> None:
    path = _save_small(tmp_path / "m.safetensors")
    meta = read_checkpoint_meta(path)
    assert meta.scale == 2 and meta.pixel_size_nm == 50.0
    assert meta.architecture.preset == "small"
    assert meta.normalization.low_percentile == 2.0
    assert meta.data == {"structure": "microtubules"}
    loaded = load_checkpoint(path, spectrum="matmul")
    assert loaded.meta == meta
    assert loaded.generator.spectrum_kind == "matmul"
    assert torch.equal(loaded.extra_tensors["discriminator.weight"], torch.arange(6.0))


def test_pickled_torch_file_is_refused(tmp_path: Path) -> None:
    zipped = tmp_path / "zip.pt"
    torch.save({"payload": Payload()}, zipped)
    with pytest.raises(CheckpointError, match=r"pickle-based torch file.*never unpickles"):
        load_checkpoint(zipped)
    raw = tmp_path / "raw.pkl"
    raw.write_bytes(pickle.dumps(Payload()))
    with pytest.raises(CheckpointError, match="pickle-based"):
        load_checkpoint(raw)


def test_other_bad_files_get_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="no such checkpoint file"):
        load_checkpoint(tmp_path / "missing.safetensors")
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all}")
    with pytest.raises(CheckpointError, match="not a safetensors checkpoint"):
        load_checkpoint(garbage)
    bare = tmp_path / "bare.safetensors"
    save_file({"w": torch.zeros(2)}, str(bare))
    with pytest.raises(CheckpointError, match="without 'tcan_live' metadata"):
        load_checkpoint(bare)


def test_invalid_metadata_names_the_field(tmp_path: Path) -> None:
    path = _save_small(tmp_path / "m.safetensors")
    meta = json.loads(read_checkpoint_meta(path).model_dump_json())
    meta["pixel_size_nm"] = -5
    tampered = tmp_path / "tampered.safetensors"
    metadata = {"tcan_live": json.dumps(meta)}
    save_file({"generator.x": torch.zeros(1)}, str(tampered), metadata=metadata)
    with pytest.raises(CheckpointError, match="pixel_size_nm"):
        load_checkpoint(tampered)


def test_weights_that_do_not_fit_the_architecture(tmp_path: Path) -> None:
    path = _save_small(tmp_path / "m.safetensors")
    meta = json.loads(read_checkpoint_meta(path).model_dump_json())
    meta["architecture"]["dfcan_features"] = 24
    lying = tmp_path / "lying.safetensors"
    generator = build_generator("small", 2)
    tensors = {f"generator.{k}": v.contiguous() for k, v in generator.state_dict().items()}
    save_file(tensors, str(lying), metadata={"tcan_live": json.dumps(meta)})
    with pytest.raises(CheckpointError, match="weights do not fit the architecture"):
        load_checkpoint(lying)
