"""Specifies drht_jax/evaluate.py (eval.py's library): the split report and the user-photo mode."""

import csv
import io
import json
import os

import flax
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from PIL import Image

from configs import default
from drht_jax import checkpointing, evaluate, hdr, imageio_utils, input_pipeline, models

STEP = 7


def fast_variables(model, seed=0):
  """Like `models.init_variables` (whose XLA compile takes ~25 s on 2 cores), from NumPy:
  He-normal kernels x 0.5, small output layers, identity BatchNorm statistics."""
  shapes = jax.eval_shape(lambda k: model.init(k, jnp.zeros((1, 64, 64, 3)), train=False),
                          jax.random.PRNGKey(0))
  rng = np.random.default_rng(seed)

  def draw(path, leaf):
    if path[-1] == "kernel":
      scale = 0.01 if path[-2] == f"decoder_{models.NUM_LEVELS - 1}" else 0.5
      return (rng.standard_normal(leaf.shape) * scale
              * np.sqrt(2.0 / np.prod(leaf.shape[:-1]))).astype(np.float32)
    return (np.ones if path[-1] in ("scale", "var") else np.zeros)(leaf.shape, np.float32)

  flat = flax.traverse_util.flatten_dict(shapes)
  return flax.traverse_util.unflatten_dict({k: draw(k, v) for k, v in flat.items()})


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
  """A training workdir with config.json and one Orbax checkpoint (step 7) of a tiny DRHT."""
  path = str(tmp_path_factory.mktemp("run"))
  config = default.get_config()
  config.model.width = 0.125
  checkpointing.write_config(path, config)
  variables = fast_variables(models.create_model(config.model))
  state = {"step": np.int32(STEP), "params": variables["params"],
           "batch_stats": variables["batch_stats"]}
  checkpointing.save(checkpointing.create_manager(path), STEP, state, None)
  return path


def _photo(height=45, width=70, seed=0):
  rng = np.random.default_rng(seed)
  y, x = np.mgrid[0:height, 0:width]
  base = (np.stack([x / width, y / height, 0.5 + 0 * x], -1) * 200
          + rng.uniform(0, 40, (height, width, 3)))
  return np.clip(base, 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
  """Three good photos (RGB JPEG, grayscale PNG, RGBA PNG; one size) and two bad files."""
  folder = tmp_path_factory.mktemp("photos")
  Image.fromarray(_photo()).save(folder / "good.jpg", quality=90)
  Image.fromarray(_photo(seed=1)[..., 0]).save(folder / "gray.png")
  rgba = np.concatenate([_photo(seed=2), np.full((45, 70, 1), 128, np.uint8)], -1)
  Image.fromarray(rgba).save(folder / "rgba.png")
  big = io.BytesIO()
  Image.fromarray(_photo(90, 120, seed=3)).save(big, format="JPEG", quality=90)
  (folder / "truncated.jpg").write_bytes(big.getvalue()[:len(big.getvalue()) // 2])
  (folder / "notimage.png").write_text("this is a text file, renamed\n")
  return folder


@pytest.fixture(scope="module")
def corrected(workdir, photos, tmp_path_factory):
  """Runs the photo mode once on the whole folder, --save-hdr on."""
  output = tmp_path_factory.mktemp("corrected")
  out, err = io.StringIO(), io.StringIO()
  code = evaluate.correct_photos(workdir, str(photos / "*"), str(output), save_hdr=True,
                                 out=out, err=err)
  return code, output, out.getvalue(), err.getvalue()


def test_photo_mode_writes_each_good_image_at_its_size_and_format(corrected):
  _, output, _, _ = corrected
  for name, fmt in [("good.jpg", "JPEG"), ("gray.png", "PNG"), ("rgba.png", "PNG")]:
    with Image.open(output / name) as img:
      assert (img.format, img.size, img.mode) == (fmt, (70, 45), "RGB")


def test_photo_mode_names_each_bad_file_once_and_exits_1(corrected):
  code, output, _, err = corrected
  errors = [line for line in err.splitlines() if line.startswith("error:")]
  assert code == 1
  assert len(errors) == 2, err
  assert any("truncated.jpg" in line for line in errors)
  assert any("notimage.png" in line for line in errors)
  assert not (output / "truncated.jpg").exists() and not (output / "notimage.exr").exists()


def test_photo_mode_reports_conversions_and_speed(corrected):
  _, _, out, _ = corrected
  assert "gray.png: " in out and "rgba.png: " in out
  assert "MP/s" in out and "ms per image" in out


def test_save_hdr_writes_a_readable_exr_of_the_image_size(corrected):
  _, output, _, _ = corrected
  radiance = imageio_utils.read_hdr(str(output / "good.exr"))
  assert radiance.shape == (45, 70, 3)
  assert np.all(np.isfinite(radiance)) and radiance.min() >= 0 and radiance.max() > 0


def test_photo_mode_exits_2_when_nothing_matches(workdir, tmp_path):
  err = io.StringIO()
  code = evaluate.correct_photos(workdir, str(tmp_path / "*.jpg"), str(tmp_path / "out"),
                                 out=io.StringIO(), err=err)
  assert code == 2 and "no files matched" in err.getvalue()


def _fake_examples(n):
  rng = np.random.default_rng(0)
  y, x = np.mgrid[0:64, 0:128]
  for i in range(n):
    radiance = (np.exp(3 * np.sin(x / 20 + i)[..., None] + rng.normal(0, 0.1, (64, 128, 3)))
                * np.array([1.0, 0.9, 0.7]) * (1 + y[..., None] / 64)).astype(np.float32)
    ldr_gt = np.asarray(hdr.ground_truth_ldr(radiance), np.float32)
    ldr = np.round(np.clip(ldr_gt * 0.4, 0, 1) * 255) / 255
    yield {"id": f"img{i}", "ldr": ldr.astype(np.float32), "hdr": radiance, "ldr_gt": ldr_gt}


@pytest.fixture(scope="module")
def report(workdir):
  with pytest.MonkeyPatch.context() as mp:
    mp.setattr(input_pipeline, "eval_examples",
               lambda data_config, split, max_examples=None: _fake_examples(3))
    summary = evaluate.evaluate_dataset(
        workdir, dataset="rendered/small", split="test",
        baselines="input,auto_exposure,histeq,f1_reinhard", grid_rows=2, out=io.StringIO())
  return summary, evaluate.report_dir(workdir, "rendered/small", "test")


def test_dataset_eval_writes_the_report_in_the_named_folder(report):
  _, folder = report
  assert folder.endswith(os.path.join("eval", "rendered-small-test"))
  text = open(os.path.join(folder, "report.md")).read()
  assert "Images: 3" in text and f"step {STEP}" in text and "split `test`" in text
  for label in ("Input (as is)", "Auto exposure / gamma", "Histogram equalisation",
                "f1 + Reinhard TMO", "DRHT (ours)", "PU21"):
    assert label in text
  table = [line for line in text.splitlines() if line.startswith("| ")]
  assert len(table) == 1 + 5   # header + 4 baselines + DRHT


def test_dataset_eval_metrics_json_has_means_n_and_step(report):
  _, folder = report
  data = json.load(open(os.path.join(folder, "metrics.json")))
  assert data["step"] == STEP and data["n"] == 3
  assert set(data["methods"]) == {"input", "auto_exposure", "histeq", "f1_reinhard", "drht"}
  assert data["methods"]["drht"]["n"] == 3
  assert 0 < data["methods"]["histeq"]["ssim"] <= 1
  assert data["methods"]["drht"]["pu21_psnr"] is not None
  assert "pu21_psnr" not in data["methods"]["input"]


def test_dataset_eval_per_image_csv_has_one_row_per_image_and_method(report):
  _, folder = report
  rows = list(csv.DictReader(open(os.path.join(folder, "per_image.csv"))))
  methods = ("input", "auto_exposure", "histeq", "f1_reinhard", "drht")
  assert len(rows) == 3 * len(methods)
  assert {(r["id"], r["method"]) for r in rows} == {
      (f"img{i}", m) for i in range(3) for m in methods}
  # The input row's PSNR is that of the input against the ground truth, recomputed here.
  example = next(_fake_examples(1))
  mse = np.mean((example["ldr"] - example["ldr_gt"]) ** 2)
  row = next(r for r in rows if r["id"] == "img0" and r["method"] == "input")
  assert float(row["psnr"]) == pytest.approx(10 * np.log10(1 / mse), abs=1e-3)


def test_dataset_eval_grid_has_one_row_per_image_and_one_column_per_method(report):
  _, folder = report
  grid = np.asarray(Image.open(os.path.join(folder, "grid.png")))
  # 2 rows of 64 px, 6 columns of 128 px (input, auto_exposure, histeq, f1 + TMO, DRHT,
  # ground truth), 2 px padding between cells.
  assert grid.shape == (2 * 66 - 2, 6 * 130 - 2, 3)


def _fake_stack_examples(n):
  """exposure_stacks-like examples: a middle-frame reference and a direction each."""
  for i, example in enumerate(_fake_examples(n)):
    example["ldr_mid"] = np.clip(example["ldr_gt"] * 0.9, 0, 1).astype(np.float32)
    example["direction"] = "under" if i < 2 else "over"
    yield example


@pytest.fixture(scope="module")
def stack_report(workdir):
  with pytest.MonkeyPatch.context() as mp:
    mp.setattr(input_pipeline, "eval_examples",
               lambda data_config, split, max_examples=None: _fake_stack_examples(3))
    summary = evaluate.evaluate_dataset(
        workdir, dataset="exposure_stacks", split="test", baselines="input",
        grid_rows=1, out=io.StringIO())
  return summary, evaluate.report_dir(workdir, "exposure_stacks", "test")


def test_stack_eval_reports_both_references_with_under_and_over_apart(stack_report):
  summary, folder = stack_report
  protocol = summary["exposure_protocol"]
  assert set(protocol) == {"fused", "middle"}
  for reference in protocol.values():
    assert reference["all"]["drht"]["n"] == 3
    assert reference["under"]["input"]["n"] == 2 and reference["over"]["input"]["n"] == 1
  # The input row against the middle frame, recomputed here for the over-exposed image.
  example = list(_fake_stack_examples(3))[2]
  mse = np.mean((example["ldr"] - example["ldr_mid"]) ** 2)
  assert protocol["middle"]["over"]["input"]["psnr"] == pytest.approx(
      10 * np.log10(1 / mse), abs=1e-3)
  # Against the fused reference (= ldr_gt), "all" is the main table's number.
  assert protocol["fused"]["all"]["drht"]["psnr"] == pytest.approx(
      summary["methods"]["drht"]["psnr"])
  text = open(os.path.join(folder, "report.md")).read()
  assert "against the stack's middle frame" in text and "2 under, 1 over" in text


def test_dataset_eval_with_no_baselines_reports_drht_alone(workdir):
  with pytest.MonkeyPatch.context() as mp:
    mp.setattr(input_pipeline, "eval_examples",
               lambda data_config, split, max_examples=None: _fake_examples(2))
    summary = evaluate.evaluate_dataset(workdir, dataset="rendered/small", split="alone",
                                        baselines="none", grid_rows=1, out=io.StringIO())
  assert list(summary["methods"]) == ["drht"]
  text = open(os.path.join(evaluate.report_dir(workdir, "rendered/small", "alone"),
                           "report.md")).read()
  assert "DRHT (ours)" in text and "Input (as is)" not in text


def test_dataset_eval_corruption_override_reaches_the_data_and_names_the_folder(workdir):
  seen = []

  def examples(data_config, split, max_examples=None):
    seen.append(data_config.corruption)
    return _fake_examples(1)

  with pytest.MonkeyPatch.context() as mp:
    mp.setattr(input_pipeline, "eval_examples", examples)
    evaluate.evaluate_dataset(workdir, dataset="rendered/small", split="test", baselines="none",
                              grid_rows=1, out=io.StringIO(), corruption="camera")
  assert seen == ["camera"]
  assert os.path.isfile(os.path.join(
      evaluate.report_dir(workdir, "rendered/small", "test-camera"), "report.md"))
