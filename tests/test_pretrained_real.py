"""The released model on camera-like frames the test makes itself (issue 17's release check).

A radiance map (scikit-image's coffee photo linearised, its top quarter made 6x brighter, as a
window or a sky) is photographed by `drht_jax.camera.capture` 3 stops under and 2 stops over,
with sensor noise, an sRGB curve and JPEG, as the training recipe's camera corruption does. The
reference is the recipe's target of the same radiance. `pretrained/` must beat the input and
every classical baseline there in PSNR and SSIM, and keep a constant image constant.
`DRHT_RELEASE_WORKDIR` points the checks at a candidate workdir before it is exported.

The under-exposed case is issue 17's release gate. LIME is the closest baseline there (20.58
dB); v6 (2026-12-02) was the first release to pass it (20.93), v7 scores 20.65; v3 scored
19.94, v2 20.37 and v1 18.78. The constant-image check: v3's phase-balanced deconvolutions with edge padding
keep a constant constant (v2 painted 0.03 peak to peak).
"""

import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import skimage.data
import skimage.transform

from drht_jax import api, baselines, camera, hdr, metrics, recipe

WORKDIR = os.environ.get("DRHT_RELEASE_WORKDIR", "pretrained")
SIZE = (256, 384)
BORDER = 16
EXPOSURES = {"under": -3.0, "over": 2.0}


def radiance_map():
  """`[256, 384, 3]` float32 linear radiance, log-average luminance 0.18, ~6 stops of range."""
  photo = skimage.transform.resize(skimage.data.coffee() / 255.0, SIZE, anti_aliasing=True)
  radiance = np.asarray(hdr.srgb_decode(photo.astype(np.float32)), np.float32)
  radiance[:SIZE[0] // 4] *= 6.0
  return np.asarray(hdr.normalize_exposure(jnp.asarray(radiance)), np.float32)


def camera_frame(radiance, ev, seed=0):
  params = {"ev": jnp.float32(ev), "full_well": jnp.float32(30_000.0),
            "read_noise": jnp.float32(4.0),
            "crf_kind": jnp.int32(camera.CRF_NAMES.index("srgb")),
            "crf_param": jnp.float32(2.2), "crf_index": jnp.int32(0),
            "jpeg_quality": jnp.int32(90), "wb_gains": jnp.ones(3, jnp.float32)}
  return np.asarray(camera.capture(jax.random.PRNGKey(seed), jnp.asarray(radiance), params))


@pytest.fixture(scope="module")
def corrector():
  return api.load(WORKDIR)


@pytest.fixture(scope="module")
def scene():
  radiance = radiance_map()
  reference = np.asarray(recipe.targets(jnp.asarray(radiance))["ldr_gt"])
  return radiance, reference


@pytest.mark.slow
@pytest.mark.parametrize("direction", ["over", "under"])
def test_release_beats_the_input_and_every_baseline_on_a_camera_frame(corrector, scene,
                                                                      direction):
  radiance, reference = scene
  frame = camera_frame(radiance, EXPOSURES[direction])
  scores = {}
  for name, fn in baselines.BASELINES.items():
    out = np.asarray(fn(frame), np.float32)
    scores[name] = (float(metrics.psnr(out, reference)), float(metrics.ssim(out, reference)))
  drht = corrector.correct(frame)
  psnr, ssim = float(metrics.psnr(drht, reference)), float(metrics.ssim(drht, reference))
  best_psnr = max(scores.items(), key=lambda kv: kv[1][0])
  best_ssim = max(scores.items(), key=lambda kv: kv[1][1])
  assert psnr > best_psnr[1][0], (psnr, best_psnr)
  assert ssim > best_ssim[1][1], (ssim, best_ssim)


@pytest.mark.parametrize("value", [1.0, 0.5])
def test_release_maps_a_constant_image_to_a_constant(corrector, value):
  out = corrector.correct(np.full((256, 512, 3), value, np.float32))
  interior = out[BORDER:-BORDER, BORDER:-BORDER].reshape(-1, 3)
  assert float(np.ptp(interior, axis=0).max()) <= 1 / 255
