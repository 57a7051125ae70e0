"""drht_jax/formats/scene_codec.py: radiance maps as compact bytes (scene records)."""

import numpy as np
import pytest

from drht_jax.formats import scene_codec


def test_radiance_codec_round_trip_error_is_below_half_a_code_step():
  rng = np.random.default_rng(0)
  radiance = np.exp2(rng.uniform(-30, 30, size=(32, 64, 3))).astype(np.float32)
  radiance[0, 0] = 0.0
  back = scene_codec.decode_radiance(scene_codec.encode_radiance(radiance), radiance.shape)
  assert back.dtype == np.float32 and back[0, 0].tolist() == [0.0, 0.0, 0.0]
  rel = np.abs(back[1:] - radiance[1:]) / radiance[1:]
  bound = 2.0 ** (0.5 / scene_codec.STEPS_PER_STOP) - 1   # 1.4e-3
  assert rel.max() <= bound * 1.001 and rel.mean() < 0.6 * bound


def test_zero_and_tiny_radiance_decode_to_zero():
  radiance = np.array([[[0.0, 2.0 ** -40, 1.0]]], np.float32)
  back = scene_codec.decode_radiance(scene_codec.encode_radiance(radiance), radiance.shape)
  assert back[0, 0, 0] == 0.0 and back[0, 0, 1] == 0.0 and back[0, 0, 2] == pytest.approx(1.0)


def test_truncated_bytes_raise():
  data = scene_codec.encode_radiance(np.ones((4, 4, 3), np.float32))
  with pytest.raises(Exception):
    scene_codec.decode_codes(data[:-3], (4, 4, 3))


def test_wrong_shape_raises_a_value_error():
  data = scene_codec.encode_radiance(np.ones((4, 4, 3), np.float32))
  with pytest.raises(ValueError, match="expected"):
    scene_codec.decode_codes(data, (4, 5, 3))
