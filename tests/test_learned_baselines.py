"""Zero-DCE (neuro-low-light's weights) in JAX: matches the package's torch forward, brightens,
fails clearly on a missing or corrupt weights file."""

import os

import numpy as np
import pytest

from drht_jax import learned_baselines as lb

# The package's own torch forward (neuro_low_light/model.py ZeroDCEPP + its best_model.pth, torch
# 1.13 CPU, output clamped as its EnhanceModel does) on `_fixed_input()`, computed once.
_REF_PIXELS = {
    (0, 0): [0.0, 0.0339213, 0.0933509],
    (0, 7): [0.1435512, 0.1537049, 0.2487484],
    (3, 4): [0.8282204, 0.0, 0.1852213],
    (7, 0): [0.4505866, 0.4489979, 0.0],
    (7, 7): [0.0824751, 0.1110938, 0.1657488],
    (5, 2): [0.5621289, 0.5839557, 0.7403176],
    (1, 1): [0.603616, 0.6188588, 0.7691467],
}
_REF_MEAN = 0.4559457128


def _fixed_input():
  return ((np.arange(8 * 8 * 3).reshape(8, 8, 3) % 17) / 64.0).astype(np.float32)


def _dark_photo():
  rng = np.random.default_rng(1)
  ramp = np.linspace(0.02, 0.2, 40, dtype=np.float32)[None, :, None]
  return np.clip(ramp + 0.03 * rng.random((32, 40, 3), dtype=np.float32), 0.0, 1.0)


def test_zero_dce_is_registered_as_a_learned_method():
  from drht_jax import methods  # pylint: disable=g-import-not-at-top
  assert [(m.name, m.fn) for m in methods.of_kind(methods.LEARNED)] == [("zero_dce",
                                                                         lb.zero_dce)]


def test_matches_the_packages_torch_forward():
  out = lb.zero_dce(_fixed_input())
  for (i, j), ref in _REF_PIXELS.items():
    np.testing.assert_allclose(out[i, j], ref, atol=2e-6, err_msg=f"pixel {(i, j)}")
  assert abs(float(out.astype(np.float64).mean()) - _REF_MEAN) < 1e-6


def test_shape_range_and_brightens_a_dark_photo():
  img = _dark_photo()
  out = lb.zero_dce(img)
  assert out.shape == img.shape and out.dtype == np.float32
  assert np.all(np.isfinite(out)) and out.min() >= 0.0 and out.max() <= 1.0
  assert out.mean() > img.mean() + 0.2          # from ~0.13 to ~0.5
  # monotone along the ramp: a brighter input column stays brighter on average
  cols = out.mean(axis=(0, 2))
  assert cols[-1] > cols[0]


def test_row_strips_equal_one_pass():
  img = _dark_photo()
  np.testing.assert_allclose(lb.zero_dce(img, max_pixels=1, strip_rows=9), lb.zero_dce(img),
                             atol=1e-6)


def test_rejects_bad_input():
  with pytest.raises(ValueError, match="expected one"):
    lb.zero_dce(np.zeros((8, 8), np.float32))
  with pytest.raises(ValueError, match="float"):
    lb.zero_dce(np.zeros((8, 8, 3), np.uint8))


def test_weights_file_provenance_and_size():
  assert os.path.getsize(lb.WEIGHTS_PATH) < 1 << 20
  with np.load(lb.WEIGHTS_PATH) as data:
    assert "neuro-low-light 0.1.0" in str(data["source"])
    assert "MIT License" in str(data["license"])
    assert len(str(data["source_sha256"])) == 64


def test_missing_weights_file_is_named(tmp_path):
  path = str(tmp_path / "nowhere.npz")
  with pytest.raises(FileNotFoundError, match="nowhere.npz"):
    lb.zero_dce(_fixed_input(), weights_path=path)


def test_corrupt_weights_file_is_named(tmp_path):
  garbage = tmp_path / "garbage.npz"
  garbage.write_bytes(b"not an npz at all")
  with pytest.raises(ValueError, match="garbage.npz"):
    lb.zero_dce(_fixed_input(), weights_path=str(garbage))
  with np.load(lb.WEIGHTS_PATH) as data:
    arrays = {k: data[k] for k in data.files}
  arrays["conv3_w"] = arrays["conv3_w"][:, :, :16]           # truncated layer
  truncated = tmp_path / "truncated.npz"
  np.savez(truncated, **arrays)
  with pytest.raises(ValueError, match="truncated.npz.*conv3"):
    lb.zero_dce(_fixed_input(), weights_path=str(truncated))
  del arrays["conv7_b"]
  np.savez(tmp_path / "incomplete.npz", **arrays)
  with pytest.raises(ValueError, match="incomplete.npz"):
    lb.zero_dce(_fixed_input(), weights_path=str(tmp_path / "incomplete.npz"))


def test_converter_rejects_a_non_checkpoint(tmp_path):
  bad = tmp_path / "bad.pth"
  bad.write_bytes(b"\x00" * 64)
  with pytest.raises(ValueError, match="bad.pth"):
    lb.convert(str(bad), str(tmp_path / "out.npz"))


def _package_pth():
  try:
    import neuro_low_light  # pylint: disable=import-outside-toplevel
  except ImportError:
    return os.environ.get("NEURO_LOW_LIGHT_PTH")
  return os.path.join(os.path.dirname(neuro_low_light.__file__), "weights", "best_model.pth")


@pytest.mark.skipif(not (_package_pth() and os.path.exists(_package_pth())),
                    reason="neuro-low-light's best_model.pth not here (set NEURO_LOW_LIGHT_PTH)")
def test_converter_reproduces_the_committed_weights(tmp_path):
  out = lb.convert(_package_pth(), str(tmp_path / "w.npz"))
  with np.load(out) as new, np.load(lb.WEIGHTS_PATH) as old:
    for key in old.files:
      np.testing.assert_array_equal(new[key], old[key], err_msg=key)
