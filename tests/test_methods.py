"""drht_jax.methods: the one registry of comparison methods (classical, learned, f1 + TMO)."""

import numpy as np
import pytest

from drht_jax import baselines, hdr, methods


def test_every_method_has_a_known_kind_and_a_unique_name_and_label():
  assert {m.kind for m in methods.METHODS} <= set(methods.KINDS)
  assert len({m.name for m in methods.METHODS}) == len(methods.METHODS)
  assert len({m.label for m in methods.METHODS} | {methods.DRHT_LABEL}) == len(
      methods.METHODS) + 1


def test_baselines_dict_is_the_registry_s_classical_methods_in_table_order():
  assert list(baselines.BASELINES.items()) == [
      (m.name, m.fn) for m in methods.METHODS if m.kind == methods.CLASSICAL]
  from drht_jax.baselines import BASELINES  # pylint: disable=g-import-not-at-top
  assert BASELINES == baselines.BASELINES


def test_parse_returns_table_order_and_handles_all_and_none():
  assert methods.parse("f1_reinhard, input") == ["input", "f1_reinhard"]
  assert methods.parse("all") == [m.name for m in methods.METHODS]
  assert methods.parse("none") == methods.parse("") == methods.parse(None) == []


def test_unknown_method_name_is_rejected_listing_the_available_ones():
  with pytest.raises(ValueError, match="available"):
    methods.parse("input,nope")
  with pytest.raises(ValueError, match="available"):
    methods.get("nope")


def test_f1_tmo_tone_maps_the_radiance_and_classical_methods_read_the_photo():
  rng = np.random.default_rng(0)
  ldr = rng.uniform(0.0, 1.0, (8, 8, 3)).astype(np.float32)
  radiance = rng.uniform(0.0, 4.0, (8, 8, 3)).astype(np.float32)
  np.testing.assert_array_equal(methods.get("f1_reinhard").apply(ldr, radiance),
                                np.asarray(hdr.ground_truth_ldr(radiance)))
  np.testing.assert_array_equal(methods.get("input").apply(ldr, radiance), ldr)


def test_label_of_drht_and_of_an_unregistered_name():
  assert methods.label(methods.DRHT) == "DRHT (ours)"
  assert methods.label("clahe") == "CLAHE"
  assert methods.label("something_else") == "something_else"
