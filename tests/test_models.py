"""Behaviour of f1, f2 and DRHT (paper Sec. 3.2-3.4)."""

import flax
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from configs import default
from drht_jax import hdr, models

TINY = 1 / 16


def tiny_config(**overrides):
  cfg = default.model_config()
  cfg.width = TINY
  cfg.update(overrides)
  return cfg


@pytest.fixture(scope="module")
def tiny():
  model = models.create_model(tiny_config())
  return model, models.init_variables(model, jax.random.PRNGKey(0), (64, 128))


def _ldr(shape, seed=1):
  return jax.random.uniform(jax.random.PRNGKey(seed), shape)


def _zero_output_layer(params, net):
  """The learned branch ends in `decoder_5`; zeroing it zeroes the branch exactly."""
  flat = flax.traverse_util.flatten_dict(params)
  for path in flat:
    if path[:3] == (net, "body", f"decoder_{models.NUM_LEVELS - 1}"):
      flat[path] = jnp.zeros_like(flat[path])
  return flax.traverse_util.unflatten_dict(flat)


@pytest.mark.parametrize("size", [(64, 128), (256, 512)])
def test_drht_outputs_have_input_shape_and_float32(tiny, size):
  model, variables = tiny
  out = jax.jit(lambda v, x: model.apply(v, x, train=False))(variables, _ldr((2, *size, 3)))
  assert set(out) == {"s_hat", "i_hat"}
  for value in out.values():
    assert value.shape == (2, *size, 3) and value.dtype == jnp.float32


@pytest.mark.parametrize("size", [(64, 128), (256, 512)])
def test_f1_and_f2_alone_map_images_to_images(size):
  x = _ldr((1, *size, 3))
  for net in (models.HDREstimationNet(width=TINY), models.LDRCorrectionNet(width=TINY)):
    variables = net.init(jax.random.PRNGKey(0), x, train=False)
    y = net.apply(variables, x, train=False)
    assert y.shape == x.shape and y.dtype == jnp.float32


def test_estimate_hdr_method_returns_f1_output(tiny):
  model, variables = tiny
  x = _ldr((1, 64, 128, 3))
  s_hat = model.apply(variables, x, train=False, method="estimate_hdr")
  np.testing.assert_array_equal(s_hat, model.apply(variables, x, train=False)["s_hat"])


def test_zeroed_f1_returns_the_linearised_input_in_eq2_domain(tiny):
  model, variables = tiny
  x = _ldr((1, 64, 128, 3))
  params = _zero_output_layer(variables["params"], "f1")
  s_hat = model.apply({**variables, "params": params}, x, train=False, method="estimate_hdr")
  np.testing.assert_allclose(s_hat, hdr.ALPHA * (x ** 2.2) ** hdr.GAMMA, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("variant", ["paper", "released"])
def test_zeroed_f2_returns_its_residual_of_the_hdr_input(variant):
  net = models.LDRCorrectionNet(variant=variant, width=TINY)
  radiance = jnp.exp(jax.random.normal(jax.random.PRNGKey(2), (1, 64, 128, 3)))
  x = hdr.log_compress(radiance)
  variables = net.init(jax.random.PRNGKey(0), x, train=False)
  params = _zero_output_layer({"f2": variables["params"]}, "f2")["f2"]
  y = net.apply({**variables, "params": params}, x, train=False)
  if variant == "paper":
    expected = jnp.clip(radiance, 0, 1) ** (1 / 2.2)
  else:
    expected = radiance ** (1 / 2.2) / 30
  np.testing.assert_allclose(y, expected, rtol=1e-4, atol=1e-5)


def test_zeroed_drht_gives_back_the_input_photo(tiny):
  model, variables = tiny
  x = _ldr((1, 64, 128, 3)) * 0.98 + 0.01
  params = _zero_output_layer(_zero_output_layer(variables["params"], "f1"), "f2")
  out = model.apply({**variables, "params": params}, x, train=False)
  np.testing.assert_allclose(out["i_hat"], x, atol=2e-3)


def test_train_mode_updates_batch_stats(tiny):
  model, variables = tiny
  _, updated = model.apply(variables, _ldr((2, 64, 128, 3)), train=True,
                           mutable=["batch_stats"])
  before = jax.tree_util.tree_leaves(variables["batch_stats"])
  after = jax.tree_util.tree_leaves(updated["batch_stats"])
  assert len(before) == len(after)
  assert all(not np.array_equal(a, b) for a, b in zip(before, after))


def test_eval_mode_leaves_batch_stats_and_is_deterministic(tiny):
  model, variables = tiny
  x = _ldr((2, 64, 128, 3))
  out1, state = model.apply(variables, x, train=False, mutable=["batch_stats"])
  out2 = model.apply(variables, x, train=False)
  for a, b in zip(jax.tree_util.tree_leaves(state), jax.tree_util.tree_leaves(
      variables["batch_stats"])):
    np.testing.assert_array_equal(a, b)
  np.testing.assert_array_equal(out1["i_hat"], out2["i_hat"])


def test_same_key_gives_bit_identical_parameters():
  model = models.create_model(tiny_config())
  a = models.init_variables(model, jax.random.PRNGKey(7))
  b = models.init_variables(model, jax.random.PRNGKey(7))
  for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)):
    np.testing.assert_array_equal(x, y)


def test_different_key_gives_different_parameters():
  model = models.create_model(tiny_config())
  a = models.init_variables(model, jax.random.PRNGKey(7))["params"]
  b = models.init_variables(model, jax.random.PRNGKey(8))["params"]
  kernels = [(x, y) for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b))
             if x.ndim == 4]
  assert kernels and all(not np.array_equal(x, y) for x, y in kernels)


@pytest.mark.parametrize("shape, message", [
    ((1, 48, 128, 3), "multiples of 32"),
    ((1, 64, 100, 3), "multiples of 32"),
    ((1, 64, 128, 4), "3 channels"),
    ((1, 64, 128, 1), "3 channels"),
    ((64, 128, 3), "batch"),
])
def test_bad_input_shapes_raise_clear_value_error(tiny, shape, message):
  model, variables = tiny
  with pytest.raises(ValueError, match=message):
    model.apply(variables, jnp.zeros(shape), train=False)


@pytest.mark.parametrize("kernel", [1, 3, 5, 7, 9])
def test_subpixel_deconv_equals_transposed_conv(kernel):
  x = jax.random.normal(jax.random.PRNGKey(3), (2, 4, 8, 6))
  sub = models.Deconv(5, kernel, 2, "subpixel")
  variables = sub.init(jax.random.PRNGKey(4), x)
  y_sub = sub.apply(variables, x)
  y_t = models.Deconv(5, kernel, 2, "transpose").apply(variables, x)
  y_flax = flax.linen.ConvTranspose(5, (kernel, kernel), (2, 2), "SAME").apply(variables, x)
  assert y_sub.shape == (2, 8, 16, 5)
  np.testing.assert_allclose(y_sub, y_t, atol=1e-5)
  np.testing.assert_allclose(y_t, y_flax, atol=1e-6)


def test_deconv_implementations_share_parameters():
  shapes = []
  for impl in ("subpixel", "transpose"):
    model = models.create_model(tiny_config(deconv=impl))
    variables = jax.eval_shape(lambda m=model: models.init_variables(m, jax.random.PRNGKey(0)))
    shapes.append(jax.tree_util.tree_map(lambda a: a.shape, variables))
  assert shapes[0] == shapes[1]


def test_concat_fusion_adds_one_by_one_convs():
  model = models.create_model(tiny_config(fusion="concat"))
  variables = models.init_variables(model, jax.random.PRNGKey(0))
  assert "decoder_0_fuse" in variables["params"]["f2"]["body"]
  out = model.apply(variables, _ldr((1, 64, 128, 3)), train=False)
  assert out["i_hat"].shape == (1, 64, 128, 3)


def test_bfloat16_compute_keeps_float32_params_and_outputs():
  model = models.create_model(tiny_config(dtype="bfloat16"))
  variables = models.init_variables(model, jax.random.PRNGKey(0))
  assert all(p.dtype == jnp.float32 for p in jax.tree_util.tree_leaves(variables["params"]))
  out = model.apply(variables, _ldr((1, 64, 128, 3)), train=False)
  assert out["i_hat"].dtype == jnp.float32


@pytest.mark.parametrize("variant, expected", [("paper", 9_036_550), ("released", 9_464_582)])
def test_full_size_parameter_counts_match_readme(variant, expected):
  model = models.create_model(tiny_config(width=1.0, variant=variant))
  variables = jax.eval_shape(lambda: models.init_variables(model, jax.random.PRNGKey(0)))
  assert sum(p.size for p in jax.tree_util.tree_leaves(variables["params"])) == expected


def test_paper_layout_has_no_global_context_layer(tiny):
  _, variables = tiny
  for net in ("f1", "f2"):
    assert not [k for k in variables["params"][net]["body"] if k.endswith("_global")]


@pytest.mark.parametrize("global_context", [False, True])
def test_only_global_context_lets_a_far_pixel_change_the_output(global_context):
  # 32x512: the left and right ends are ~480 px apart, beyond the nets' receptive field
  # (~150 px), so without global context a change at one end cannot reach the other.
  model = models.create_model(tiny_config(global_context=global_context))
  variables = models.init_variables(model, jax.random.PRNGKey(0), (32, 512))
  x = _ldr((1, 32, 512, 3))
  x_far = x.at[:, :, -32:].set(1.0 - x[:, :, -32:])
  apply = jax.jit(lambda v, x: model.apply(v, x, train=False)["i_hat"])
  change = np.abs(np.asarray(apply(variables, x_far) - apply(variables, x)))[0, :, :32]
  if global_context:
    assert change.max() > 0
  else:
    assert change.max() == 0


def test_conv_grads_is_read_from_the_config_and_from_runs_that_called_it_weight_grad():
  config = default.model_config()
  config.conv_grads = "im2col"
  assert models.create_model(config).conv_grads == "im2col"
  legacy = default.model_config().to_dict()
  del legacy["conv_grads"]
  legacy["weight_grad"] = "im2col"       # config.json of a run from before the rename
  assert models.create_model(ml_collections.ConfigDict(legacy)).conv_grads == "im2col"


# --- Selectable upsampling (issue 17 item 0) and the central-claim ablation nets (item 5).


@pytest.mark.parametrize("variant, expected", [("paper", 9_036_550), ("released", 9_464_582)])
def test_resize_conv_keeps_the_full_size_parameter_counts(variant, expected):
  model = models.create_model(tiny_config(width=1.0, variant=variant, upsample="resize_conv",
                                          padding="edge"))
  variables = jax.eval_shape(lambda: models.init_variables(model, jax.random.PRNGKey(0)))
  assert sum(p.size for p in jax.tree_util.tree_leaves(variables["params"])) == expected


def test_resize_conv_outputs_have_input_shape():
  model = models.create_model(tiny_config(upsample="resize_conv", resize_method="bilinear"))
  variables = models.init_variables(model, jax.random.PRNGKey(0))
  out = model.apply(variables, _ldr((1, 64, 128, 3)), train=False)
  assert out["i_hat"].shape == (1, 64, 128, 3) and out["s_hat"].shape == (1, 64, 128, 3)


def test_runs_saved_without_the_new_keys_read_as_the_paper_model():
  legacy = default.model_config().to_dict()
  for key in ("upsample", "resize_method", "padding", "arch"):
    del legacy[key]
  model = models.create_model(ml_collections.ConfigDict(legacy))
  assert (model.upsample, model.padding, model.arch) == ("deconv", "zeros", "drht")


@pytest.mark.parametrize("field, value", [("upsample", "pixelshuffle"), ("padding", "wrap"),
                                          ("resize_method", "cubic"), ("arch", "unet")])
def test_unknown_model_choice_raises_naming_it(field, value):
  model = models.create_model(tiny_config(**{"upsample": "resize_conv", field: value}))
  with pytest.raises(ValueError, match=value):
    models.init_variables(model, jax.random.PRNGKey(0))


def _count(params):
  return sum(p.size for p in jax.tree_util.tree_leaves(params))


@pytest.mark.parametrize("width", [1.0, 0.25])
def test_single_net_matches_drhts_parameter_count_within_2_percent(width):
  counts = {}
  for arch in ("drht", "single"):
    model = models.create_model(tiny_config(width=width, arch=arch))
    counts[arch] = _count(jax.eval_shape(
        lambda m=model: models.init_variables(m, jax.random.PRNGKey(0)))["params"])
  assert abs(counts["single"] / counts["drht"] - 1) < 0.02


@pytest.mark.parametrize("fusion, global_context", [("add_mul", False), ("concat", True)])
def test_analytic_parameter_count_equals_the_modules(fusion, global_context):
  model = models.create_model(tiny_config(width=0.25, fusion=fusion,
                                          global_context=global_context))
  params = jax.eval_shape(lambda: models.init_variables(model, jax.random.PRNGKey(0)))["params"]
  widths = models.scaled_widths(0.25)
  assert _count(params["f1"]) == models.encoder_decoder_param_count(
      widths, models.PAPER_KERNELS, fusion, global_context)


def test_f2_only_has_exactly_drhts_f2_parameters(tiny):
  _, drht_variables = tiny
  model = models.create_model(tiny_config(arch="f2_only"))
  variables = models.init_variables(model, jax.random.PRNGKey(0))
  assert set(variables["params"]) == {"f2"}
  shapes = lambda t: jax.tree_util.tree_map(lambda a: a.shape, t)  # noqa: E731
  assert shapes(variables["params"]["f2"]) == shapes(drht_variables["params"]["f2"])


@pytest.mark.parametrize("arch", ["single", "f2_only"])
def test_ablation_net_returns_the_linearised_input_as_s_hat(arch):
  model = models.create_model(tiny_config(arch=arch))
  variables = models.init_variables(model, jax.random.PRNGKey(0))
  x = _ldr((1, 64, 128, 3))
  out = model.apply(variables, x, train=False)
  assert set(out) == {"s_hat", "i_hat"} and out["i_hat"].shape == x.shape
  np.testing.assert_allclose(out["s_hat"], models.f1_residual(x), rtol=1e-6)
  assert set(variables["params"]) == {"f2"}   # hierarchical supervision's f2 groups apply


@pytest.mark.parametrize("arch", ["single", "f2_only"])
def test_zeroed_ablation_net_gives_back_the_input_photo(arch):
  model = models.create_model(tiny_config(arch=arch))
  variables = models.init_variables(model, jax.random.PRNGKey(0))
  x = _ldr((1, 64, 128, 3)) * 0.98 + 0.01
  params = _zero_output_layer(variables["params"], "f2")
  out = model.apply({**variables, "params": params}, x, train=False)
  np.testing.assert_allclose(out["i_hat"], x, atol=2e-3)


def test_ablation_net_has_no_f1_to_pretrain():
  model = models.create_model(tiny_config(arch="single"))
  variables = models.init_variables(model, jax.random.PRNGKey(0))
  with pytest.raises(ValueError, match="joint"):
    model.apply(variables, _ldr((1, 64, 128, 3)), train=False, method="estimate_hdr")


# --- Structure: one EncoderDecoder built from ModuleDefs, the config's fields declared once.


@pytest.mark.parametrize("upsample, layer, padding", [
    ("deconv", models.Deconv, "zeros"),           # the paper's deconv always zero-pads
    ("balanced_deconv", models.Deconv, "edge"),
    ("resize_conv", models.ResizeConv, "edge"),
])
def test_upsampling_moduledef_follows_the_config(upsample, layer, padding):
  conv_def, upsample_def, norm_def = models.HDREstimationNet(
      upsample=upsample, padding="edge", dtype=jnp.bfloat16, conv_grads="im2col").layers()
  assert upsample_def.func is layer and upsample_def.keywords["padding"] == padding
  assert conv_def.func is models.Conv and conv_def.keywords["padding"] == "edge"
  for module_def in (conv_def, upsample_def, norm_def):
    assert module_def.keywords["dtype"] == jnp.bfloat16
  assert upsample_def.keywords["conv_grads"] == conv_def.keywords["conv_grads"] == "im2col"


@pytest.mark.parametrize("arch", models.ARCHS)
def test_drht_hands_every_config_field_to_its_nets(arch):
  model = models.create_model(tiny_config(arch=arch, variant="released", fusion="concat",
                                          padding="edge", upsample="resize_conv",
                                          global_context=True), axis_name="batch")
  bound = model.bind({})
  nets = [bound.f1, bound.f2] if arch == "drht" else [bound.f2]
  for net in nets:
    assert net.shared_fields() == model.shared_fields()
