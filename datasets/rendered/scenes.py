"""Procedural outdoor scenes (sun and sky, ground, buildings, spheres, occluders) for Mitsuba 3.

`scene_dict(seed, index, height, width, spp)` is a pure function of its arguments: scene `index`
of seed `seed` is the same scene on every machine. `render(scene)` returns linear radiance
`[H, W, 3] float32 >= 0` (Mitsuba's scalar_rgb variant, CPU, no download). The world is Z-up,
the frame of Mitsuba's `sunsky` emitter (Hosek-Wilkie sky with a physically scaled sun disc).
"""

import math

import numpy as np

MITSUBA_VARIANT = "scalar_rgb"

# Albedos of common outdoor surfaces (linear RGB): asphalt, concrete, grass, sand, brick, paint.
GROUND_ALBEDOS = ((0.06, 0.06, 0.065), (0.3, 0.29, 0.27), (0.08, 0.14, 0.04),
                  (0.45, 0.38, 0.26), (0.2, 0.09, 0.06))
METALS = ("Al", "Cu", "Au", "Cr", "Ag")


def _mitsuba():
  import mitsuba as mi  # pylint: disable=g-import-not-at-top
  if mi.variant() != MITSUBA_VARIANT:
    mi.set_variant(MITSUBA_VARIANT)
  return mi


def _rgb(value):
  return {"type": "rgb", "value": [float(v) for v in value]}


def _random_colour(rng):
  """A saturated or muted linear colour, as façades and cars come."""
  hue = rng.uniform(0, 1)
  sat = rng.choice([0.1, 0.4, 0.8])
  val = rng.uniform(0.05, 0.8)
  rgb = np.array([abs(((hue * 6 + k) % 6) - 3) - 1 for k in (0, 4, 2)]).clip(0, 1)
  return val * ((1 - sat) + sat * rgb)


def _material(rng):
  kind = rng.choice(["diffuse", "plastic", "roughplastic", "roughconductor", "conductor"],
                    p=[0.4, 0.15, 0.25, 0.15, 0.05])
  colour = _random_colour(rng)
  if kind == "diffuse":
    return {"type": "diffuse", "reflectance": _rgb(colour)}
  if kind == "plastic":
    return {"type": "plastic", "diffuse_reflectance": _rgb(colour)}
  if kind == "roughplastic":
    return {"type": "roughplastic", "diffuse_reflectance": _rgb(colour),
            "alpha": float(rng.uniform(0.05, 0.4))}
  metal = str(rng.choice(METALS))
  if kind == "conductor":
    return {"type": "conductor", "material": metal}
  return {"type": "roughconductor", "material": metal, "alpha": float(rng.uniform(0.05, 0.3))}


def _box(mi, centre, size, yaw_deg, bsdf):
  to_world = (mi.ScalarTransform4f().translate([float(c) for c in centre])
              .rotate([0, 0, 1], float(yaw_deg)).scale([float(s) / 2 for s in size]))
  return {"type": "cube", "to_world": to_world, "bsdf": bsdf}


def _direction(azimuth, elevation):
  return [math.cos(elevation) * math.cos(azimuth), math.cos(elevation) * math.sin(azimuth),
          math.sin(elevation)]


def scene_dict(seed: int, index: int, height: int, width: int, spp: int) -> dict:
  """Mitsuba scene dictionary of scene `index` (a pure function of the arguments).

  Camera 1.2-3 m above ground, horizontal field of view 55-85 degrees, pitch -5 to 20 degrees;
  the sun in view in about a third of the scenes (low in the frame), elsewhere anywhere above
  the horizon; 4-14 buildings, 0-4 spheres, 0-1 overhang casting deep shadows near the camera.
  """
  mi = _mitsuba()
  rng = np.random.default_rng([seed, index])
  yaw = rng.uniform(0, 2 * math.pi)
  pitch = math.radians(rng.uniform(-5, 20))
  hfov = rng.uniform(55, 85)
  vfov = 2 * math.degrees(math.atan(math.tan(math.radians(hfov) / 2) * height / width))
  eye = np.array([0.0, 0.0, rng.uniform(1.2, 3.0)])
  forward = np.array(_direction(yaw, pitch))

  sun_in_view = rng.uniform() < 0.35
  if sun_in_view:
    sun_az = yaw + math.radians(rng.uniform(-0.4, 0.4) * hfov)
    top = max(2.0, math.degrees(pitch) + 0.4 * vfov)
    sun_el = math.radians(rng.uniform(1.5, top))
  else:
    sun_az = rng.uniform(0, 2 * math.pi)
    sun_el = math.radians(rng.uniform(5, 75))
  scene = {
      "type": "scene",
      # Three bounces and a low-discrepancy sampler: little noise at 16-64 spp.
      "integrator": {"type": "path", "max_depth": 3},
      "sensor": {
          "type": "perspective",
          "fov": float(hfov), "fov_axis": "x",
          "to_world": mi.ScalarTransform4f().look_at(
              origin=eye.tolist(), target=(eye + forward).tolist(), up=[0, 0, 1]),
          "film": {"type": "hdrfilm", "width": width, "height": height,
                   "pixel_format": "rgb", "rfilter": {"type": "box"}},
          "sampler": {"type": "ldsampler", "sample_count": spp,
                      "seed": int(rng.integers(2**31))},
      },
      "sky": {"type": "sunsky", "sun_direction": _direction(sun_az, sun_el),
              "turbidity": float(rng.uniform(2, 8)),
              "albedo": float(rng.uniform(0.1, 0.4))},
      "ground": {"type": "rectangle",
                 "to_world": mi.ScalarTransform4f().scale([400, 400, 1]),
                 "bsdf": {"type": "diffuse", "reflectance": _rgb(
                     np.array(GROUND_ALBEDOS[rng.integers(len(GROUND_ALBEDOS))])
                     * rng.uniform(0.7, 1.3))}},
  }

  side = np.array([-forward[1], forward[0], 0.0]) / max(1e-6, math.hypot(*forward[:2]))
  ahead = np.array([forward[0], forward[1], 0.0]) / max(1e-6, math.hypot(*forward[:2]))
  for k in range(int(rng.integers(4, 15))):
    size = [rng.uniform(3, 20), rng.uniform(3, 20), rng.uniform(3, 30)]
    # Far enough that no building swallows the camera (half-diagonal plus a margin).
    dist, lateral = rng.uniform(0.75 * math.hypot(*size[:2]) + 2, 70), rng.uniform(-0.9, 0.9)
    centre = ahead * dist + side * lateral * dist + np.array([0, 0, size[2] / 2])
    scene[f"building_{k}"] = _box(mi, centre, size, rng.uniform(0, 90), _material(rng))
  for k in range(int(rng.integers(0, 5))):
    radius = rng.uniform(0.3, 2.5)
    dist, lateral = rng.uniform(3, 25), rng.uniform(-0.7, 0.7)
    centre = ahead * dist + side * lateral * dist + np.array([0, 0, radius])
    scene[f"sphere_{k}"] = {"type": "sphere", "center": centre.tolist(), "radius": float(radius),
                            "bsdf": _material(rng)}
  for k in range(int(rng.integers(0, 2))):
    dist, lateral = rng.uniform(4, 12), rng.choice([-1, 1]) * rng.uniform(0.3, 0.8)
    size = [rng.uniform(3, 8), rng.uniform(3, 8), 0.2]
    centre = ahead * dist + side * lateral * dist + np.array([0, 0, rng.uniform(4, 8)])
    scene[f"overhang_{k}"] = _box(mi, centre, size, rng.uniform(0, 90),
                                  {"type": "diffuse", "reflectance": _rgb(_random_colour(rng))})
  return scene


def render(scene: dict) -> np.ndarray:
  """Renders a scene dictionary: `[H, W, 3] float32` linear radiance. Non-finite samples (rare
  path-tracing fireflies) are set to 0 so no NaN ever reaches a data set."""
  mi = _mitsuba()
  image = np.array(mi.render(mi.load_dict(scene)), dtype=np.float32)[..., :3]
  return np.where(np.isfinite(image), np.maximum(image, 0.0), 0.0).astype(np.float32)
