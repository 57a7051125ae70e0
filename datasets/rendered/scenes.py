"""Procedural HDR scenes for Mitsuba 3: streets under sun and sky, sunsets, overcast days,
back-lit views, interiors lit through a window, and night streets with lamps.

`scene_dict(seed, index, height, width, spp)` is a pure function of its arguments: scene `index`
of seed `seed` is the same scene on every machine, and its content does not depend on the image
size (only the film does). `scene_kind(seed, index)` names the kind it drew from `SCENE_KINDS`.
`render(scene)` returns linear radiance `[H, W, 3] float32 >= 0` (Mitsuba's scalar_rgb variant,
CPU, no download); `render_scenes(seed, indices, ...)` renders many scenes on a process pool, in
order. The world is Z-up, the frame of Mitsuba's `sunsky` emitter (Hosek-Wilkie sky with a
physically scaled sun disc). Textures (bricks, tiles, window grids, noise, stripes, planks,
grass) are generated here in numpy and handed to Mitsuba as raw (linear) bitmaps.
"""

import math
import multiprocessing
import os
from typing import Iterable, Iterator, Tuple

import numpy as np

MITSUBA_VARIANT = "scalar_rgb"

# (name, probability, what it is). `scene_kind` draws from this table; the data README quotes it.
SCENE_KINDS = (
    ("clear", 0.20, "clear day (turbidity 2-4.5), sun 15-75 deg anywhere, textured streets"),
    ("hazy", 0.08, "hazy day (turbidity 6-10), sun 8-60 deg: veiled, lower contrast"),
    ("low_sun", 0.10, "sun 4-15 deg: long shadows, raking light on facades"),
    ("sunset", 0.10, "sun 3-6 deg above the horizon, warm; camera faces it half the time"),
    ("overcast", 0.10, "uniform grey sky (constant emitter) or a sunsky with the sun dimmed"),
    ("backlit", 0.14, "sun in view (3-25 deg) behind buildings and spheres, bright glints"),
    ("interior", 0.14, "room lit through a window by sun and sky, camera inside: extreme range"),
    ("night", 0.14, "very dim sky, street lamps, spot/point lights, glowing windows"),
)
# Kinds lit mostly indirectly are noisier per sample: they get this many times the spp asked for
# (the noise per kind: datasets/rendered/README.md, "Scenes").
KIND_SPP_FACTOR = {"interior": 4, "night": 2}
KIND_NAMES = tuple(k for k, _, _ in SCENE_KINDS)
KIND_PROBS = np.array([p for _, p, _ in SCENE_KINDS])
assert abs(KIND_PROBS.sum() - 1.0) < 1e-9

# Albedos of common outdoor surfaces (linear RGB): asphalt, concrete, grass, sand, brick, paint.
GROUND_ALBEDOS = ((0.06, 0.06, 0.065), (0.3, 0.29, 0.27), (0.08, 0.14, 0.04),
                  (0.45, 0.38, 0.26), (0.2, 0.09, 0.06))
METALS = ("Al", "Cu", "Au", "Cr", "Ag")
TEXTURE_SIZE = 128  # texels per side of a procedural texture tile
# Mitsuba seeds each image block; its automatic block size depends on the thread count (smaller
# blocks for small images on many threads). A fixed size makes the image independent of threads.
BLOCK_SIZE = 32


def _mitsuba():
  import mitsuba as mi  # pylint: disable=g-import-not-at-top
  if mi.variant() != MITSUBA_VARIANT:
    mi.set_variant(MITSUBA_VARIANT)
  return mi


def _rgb(value):
  return {"type": "rgb", "value": [float(v) for v in value]}


def _random_colour(rng, val=(0.05, 0.8)):
  """A saturated or muted linear colour, as facades and cars come."""
  hue = rng.uniform(0, 1)
  sat = rng.choice([0.1, 0.4, 0.8])
  v = rng.uniform(*val)
  rgb = np.array([abs(((hue * 6 + k) % 6) - 3) - 1 for k in (0, 4, 2)]).clip(0, 1)
  return v * ((1 - sat) + sat * rgb)


def _direction(azimuth, elevation):
  return [math.cos(elevation) * math.cos(azimuth), math.cos(elevation) * math.sin(azimuth),
          math.sin(elevation)]


# --- Procedural textures: numpy [T, T, 3] float32 linear albedo in [0, 0.9], tileable.

def _noise(rng, size=TEXTURE_SIZE, cells=8, octaves=3):
  """Tileable value noise (fractal sum of bilinear-interpolated random grids): [T, T] in ~[0, 1]."""
  out = np.zeros((size, size), np.float32)
  amp, total = 1.0, 0.0
  for o in range(octaves):
    n = cells * 2**o
    grid = rng.uniform(0, 1, (n, n)).astype(np.float32)
    t = np.arange(size, dtype=np.float32) * n / size
    i0 = t.astype(int) % n
    i1 = (i0 + 1) % n
    f = t - np.floor(t)
    f = f * f * (3 - 2 * f)
    rows = grid[i0] * (1 - f)[:, None] + grid[i1] * f[:, None]
    out += amp * (rows[:, i0] * (1 - f)[None] + rows[:, i1] * f[None])
    total += amp
    amp *= 0.5
  return out / total


def _tint(gray, colour, contrast):
  """Albedo `colour` modulated by a [T, T] field around 1 with the given contrast."""
  mod = 1 + contrast * (gray - gray.mean())
  return (mod[..., None] * np.asarray(colour, np.float32)[None, None]).clip(0, 0.9)


def _bricks(rng, colour, rows=8, cols=4):
  """Running-bond bricks with mortar joints and per-brick colour jitter."""
  t = TEXTURE_SIZE
  y, x = np.mgrid[0:t, 0:t].astype(np.float32) / t
  row = np.floor(y * rows)
  xs = x * cols + 0.5 * (row % 2)
  col = np.floor(xs) % cols
  jitter = rng.uniform(0.75, 1.25, (rows, cols)).astype(np.float32)[row.astype(int),
                                                                      col.astype(int)]
  mortar = ((y * rows) % 1 < 0.12) | ((xs % 1) < 0.06)
  out = np.asarray(colour, np.float32) * jitter[..., None]
  out = out * (0.85 + 0.3 * _noise(rng, cells=16, octaves=2))[..., None]
  out[mortar] = rng.uniform(0.25, 0.5) * np.array([1.0, 0.97, 0.92], np.float32)
  return out.clip(0, 0.9)


def _tiles(rng, colour, n=4):
  """Square tiles (or a checker of two colours) with grout lines."""
  t = TEXTURE_SIZE
  y, x = np.mgrid[0:t, 0:t].astype(np.float32) / t
  other = np.asarray(colour) * rng.uniform(0.3, 1.0) if rng.uniform() < 0.5 else colour
  checker = ((np.floor(x * n) + np.floor(y * n)) % 2).astype(bool)
  out = np.where(checker[..., None], np.asarray(other, np.float32),
                 np.asarray(colour, np.float32))
  out = out * (0.9 + 0.2 * _noise(rng, cells=8, octaves=2))[..., None]
  grout = ((x * n) % 1 < 0.05) | ((y * n) % 1 < 0.05)
  out[grout] = rng.uniform(0.1, 0.4)
  return out.clip(0, 0.9)


def _stripes(rng, colour, n=None):
  """Stripes (wallpaper, awnings, planks) along the texture's u axis."""
  n = n or int(rng.integers(3, 12))
  t = TEXTURE_SIZE
  x = np.arange(t, dtype=np.float32) / t
  other = np.asarray(_random_colour(rng, (0.1, 0.7)), np.float32)
  band = ((x * n) % 1 < rng.uniform(0.3, 0.7))
  out = np.where(band[None, :, None], np.asarray(colour, np.float32)[None, None], other)
  out = np.broadcast_to(out, (t, t, 3)) * (0.9 + 0.2 * _noise(rng, cells=4))[..., None]
  return out.astype(np.float32).clip(0, 0.9)


def _planks(rng, colour):
  """Wooden floor: planks along u with grain noise and joints."""
  t = TEXTURE_SIZE
  y, x = np.mgrid[0:t, 0:t].astype(np.float32) / t
  n = 6
  plank = np.floor(y * n)
  shade = rng.uniform(0.7, 1.3, n).astype(np.float32)[plank.astype(int)]
  grain = _noise(rng, cells=4, octaves=3)
  grain = 0.8 + 0.4 * np.sin(40 * y + 6 * grain) * 0.5
  out = np.asarray(colour, np.float32) * (shade * grain)[..., None]
  out[(y * n) % 1 < 0.04] *= 0.4
  return out.clip(0, 0.9)


def _windows(rng, wall, floors=4, bays=4):
  """A facade tile of `floors` x `bays` windows: (albedo [T, T, 3], window layout).

  Texture rows run upwards from the bottom of a wall and columns left to right as seen from the
  front (measured on Mitsuba 3.9.1 rectangles built by `_rect`). The layout (`w0`, `w1`, `h0`,
  `h1`: a pane's bounds inside its cell; `lit`: [floors, bays] bools) places the lamps of the
  windows lit at night (`_window_lights`).
  """
  t = TEXTURE_SIZE
  y, x = np.mgrid[0:t, 0:t].astype(np.float32) / t
  fy, fx = (y * floors) % 1, (x * bays) % 1
  w0, w1 = rng.uniform(0.15, 0.3), rng.uniform(0.7, 0.85)
  h0, h1 = rng.uniform(0.2, 0.35), rng.uniform(0.75, 0.9)
  glass = (fx > w0) & (fx < w1) & (fy > h0) & (fy < h1)
  frame = (fx > w0 - 0.04) & (fx < w1 + 0.04) & (fy > h0 - 0.04) & (fy < h1 + 0.04) & ~glass
  cell = (np.floor(y * floors) * bays + np.floor(x * bays)).astype(int)
  pane = rng.uniform(0.02, 0.12, floors * bays).astype(np.float32)[cell]  # glass / blinds
  out = _tint(_noise(rng, cells=8), wall, 0.4)
  out[frame] = rng.uniform(0.05, 0.6)
  out[glass] = pane[glass, None] * np.array([0.9, 0.95, 1.0], np.float32)
  lit = rng.uniform(size=(floors, bays)) < rng.uniform(0.2, 0.7)
  return out.clip(0, 0.9), {"w0": w0, "w1": w1, "h0": h0, "h1": h1, "lit": lit}


def _window_lights(mi, scene, name, layout, tile_m, centre, normal, along, height, radiance,
                   budget):
  """Lit windows of one wall as small emissive rectangles 2 cm in front of their panes (at most
  `budget`): each samples well as a light, where one emissive wall would mostly sample dark
  wall and leave fireflies. Returns how many were added."""
  floors, bays = layout["lit"].shape
  u_m, v_m = tile_m
  right = np.cross(-normal, [0.0, 0.0, 1.0])  # a viewer facing the wall looks along -normal
  pane_w = (layout["w1"] - layout["w0"]) / bays * u_m
  pane_h = (layout["h1"] - layout["h0"]) / floors * v_m
  added = 0
  for tv in range(int(math.ceil(height / v_m))):
    for tu in range(int(math.ceil(along / u_m))):
      for fl, ba in zip(*np.nonzero(layout["lit"])):
        u = (tu + (ba + (layout["w0"] + layout["w1"]) / 2) / bays) * u_m
        v = (tv + (fl + (layout["h0"] + layout["h1"]) / 2) / floors) * v_m
        if u + pane_w / 2 > along or v + pane_h / 2 > height or added >= budget:
          continue
        pos = centre + right * (u - along / 2) + np.array([0, 0, v - height / 2]) + 0.02 * normal
        scene[f"{name}_win{added}"] = _rect(
            mi, pos, normal, pane_w, pane_h, {"type": "diffuse", "reflectance": _rgb([0.0] * 3)},
            {"type": "area", "radiance": _rgb(radiance)})
        added += 1
  return added


def _bitmap(mi, array, repeat=(1.0, 1.0)):
  """A raw (linear) bitmap texture tiled `repeat` times over the shape's uv square."""
  return {"type": "bitmap", "bitmap": mi.Bitmap(np.ascontiguousarray(array, np.float32)),
          "raw": True, "filter_type": "bilinear", "wrap_mode": "repeat",
          "to_uv": mi.ScalarTransform4f().scale([float(repeat[0]), float(repeat[1]), 1.0])}


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


def _textured(texture, rng):
  """A diffuse or glossy (rough plastic) BSDF whose albedo is `texture`."""
  if rng.uniform() < 0.75:
    return {"type": "diffuse", "reflectance": texture}
  return {"type": "roughplastic", "diffuse_reflectance": texture,
          "alpha": float(rng.uniform(0.1, 0.4))}


def _box(mi, centre, size, yaw_deg, bsdf):
  to_world = (mi.ScalarTransform4f().translate([float(c) for c in centre])
              .rotate([0, 0, 1], float(yaw_deg)).scale([float(s) / 2 for s in size]))
  return {"type": "cube", "to_world": to_world, "bsdf": bsdf}


def _rect(mi, centre, normal, width, height, bsdf, emitter=None):
  """A rectangle facing `normal` (its front side), uv u along its width, v along the up axis."""
  centre = np.asarray(centre, float)
  normal = np.asarray(normal, float)
  up = [0, 0, 1] if abs(normal[2]) < 0.9 else [1, 0, 0]
  shape = {"type": "rectangle", "bsdf": bsdf,
           "to_world": mi.ScalarTransform4f().look_at(
               origin=centre.tolist(), target=(centre + normal).tolist(), up=up)
                       .scale([float(width) / 2, float(height) / 2, 1.0])}
  if emitter is not None:
    shape["emitter"] = emitter
  return shape


def _sky(kind, rng, sun_az, sun_el_deg):
  """The sky emitter of an outdoor or interior scene (radiance in sunsky's physical units).

  Mitsuba's Hosek-Wilkie sun turns negative in blue below ~3 degrees of elevation, and its sky
  slightly negative below ~5 degrees at high turbidity (measured on 3.9.1): low suns get a clear
  sky (turbidity <= 3) and never go below 3 degrees; hazy skies keep the sun above 8 degrees.
  """
  assert sun_el_deg >= 3, sun_el_deg
  turbidity = {"hazy": (6, 10), "sunset": (2, 3), "overcast": (8, 10)}.get(kind, (2, 4.5))
  turbidity = float(rng.uniform(*turbidity))
  if sun_el_deg < 5:
    turbidity = min(turbidity, 3.0)
  elif sun_el_deg < 8:
    turbidity = min(turbidity, 5.0)
  sky = {"type": "sunsky", "sun_direction": _direction(sun_az, math.radians(sun_el_deg)),
         "turbidity": turbidity, "albedo": float(rng.uniform(0.1, 0.4))}
  if kind == "overcast":
    if rng.uniform() < 0.5:
      grey = rng.uniform(0.3, 1.5) * np.array([1.0, 1.0, rng.uniform(1.0, 1.15)])
      return {"type": "constant", "radiance": _rgb(grey)}
    sky["sun_scale"] = float(rng.uniform(0.0, 0.05))
  return sky


# --- Scene parts.

def _camera(mi, rng, height, width, spp, eye, yaw, pitch, hfov, roll_deg):
  forward = np.array(_direction(yaw, pitch))
  to_world = (mi.ScalarTransform4f().look_at(
      origin=[float(e) for e in eye], target=(np.asarray(eye) + forward).tolist(), up=[0, 0, 1])
              @ mi.ScalarTransform4f().rotate([0, 0, 1], float(roll_deg)))
  return {
      "type": "perspective",
      "fov": float(hfov), "fov_axis": "x",
      "to_world": to_world,
      "film": {"type": "hdrfilm", "width": width, "height": height,
               "pixel_format": "rgb", "rfilter": {"type": "box"}},
      # Low-discrepancy samples when the count is a power of 4 (what ldsampler supports),
      # else multi-jittered ones.
      "sampler": {"type": "ldsampler" if 4**round(math.log(spp, 4)) == spp else "multijitter",
                  "sample_count": spp,
                  "seed": int(rng.integers(2**31))},
  }


def _ground(mi, rng, extent=400.0):
  """A large ground plane with a tiled procedural texture (asphalt, grass, sand, pavers...)."""
  colour = np.array(GROUND_ALBEDOS[rng.integers(len(GROUND_ALBEDOS))]) * rng.uniform(0.7, 1.3)
  pattern = rng.choice(["noise", "noise", "tiles", "bricks", "plain"])
  tile_m = rng.uniform(2, 6)
  if pattern == "noise":
    tex = _tint(_noise(rng, cells=int(rng.integers(4, 16))), colour, rng.uniform(0.3, 0.9))
  elif pattern == "tiles":
    tex = _tiles(rng, colour, n=int(rng.integers(2, 8)))
  elif pattern == "bricks":
    tex = _bricks(rng, colour, rows=int(rng.integers(6, 16)), cols=int(rng.integers(3, 8)))
  else:
    return {"type": "rectangle", "to_world": mi.ScalarTransform4f().scale([extent] * 2 + [1]),
            "bsdf": {"type": "diffuse", "reflectance": _rgb(colour)}}
  rep = 2 * extent / tile_m
  return {"type": "rectangle", "to_world": mi.ScalarTransform4f().scale([extent] * 2 + [1]),
          "bsdf": {"type": "diffuse", "reflectance": _bitmap(mi, tex, (rep, rep))}}


def _facade(rng):
  """A building's wall texture and metres per tile: (albedo, window layout or None, (u_m, v_m))."""
  wall = _random_colour(rng, (0.1, 0.7))
  pattern = rng.choice(["windows", "bricks", "plaster", "stripes"], p=[0.55, 0.2, 0.15, 0.1])
  if pattern == "windows":
    floors, bays = 4, 4
    tex, layout = _windows(rng, wall, floors, bays)
    return tex, layout, (bays * rng.uniform(2.5, 4.5), floors * rng.uniform(2.8, 3.6))
  if pattern == "bricks":
    return _bricks(rng, wall), None, (rng.uniform(0.8, 1.2),) * 2
  if pattern == "plaster":
    return _tint(_noise(rng, cells=8), wall, rng.uniform(0.2, 0.6)), None, (4.0, 4.0)
  return _stripes(rng, wall), None, (rng.uniform(2, 8), 4.0)


MAX_LIT_WINDOWS = 60  # per building at night


def _building(mi, scene, name, rng, centre_xy, size, yaw, eye, glow=0.0):
  """Four textured walls and a roof; `glow` > 0 lights windows on the walls facing the camera.
  Returns the number of lit windows added."""
  tex, layout, (u_m, v_m) = _facade(rng)
  glossy = rng.uniform() < 0.25
  roof = {"type": "diffuse", "reflectance": _rgb(_random_colour(rng, (0.05, 0.4)))}
  cx, cy = centre_xy
  sx, sy, sz = size
  c, s = math.cos(math.radians(yaw)), math.sin(math.radians(yaw))
  warm = np.array([1.0, rng.uniform(0.6, 0.85), rng.uniform(0.3, 0.6)])
  lit = 0
  for k, (nx, ny, half, along) in enumerate(((1, 0, sx / 2, sy), (-1, 0, sx / 2, sy),
                                             (0, 1, sy / 2, sx), (0, -1, sy / 2, sx))):
    normal = np.array([c * nx - s * ny, s * nx + c * ny, 0.0])
    centre = np.array([cx, cy, sz / 2]) + normal * half
    texture = _bitmap(mi, tex, (along / u_m, sz / v_m))
    bsdf = ({"type": "roughplastic", "diffuse_reflectance": texture, "alpha": 0.2}
            if glossy else {"type": "diffuse", "reflectance": texture})
    scene[f"{name}_wall{k}"] = _rect(mi, centre, normal, along, sz, bsdf)
    if glow > 0 and layout is not None and np.dot(normal, np.asarray(eye) - centre) > 0:
      lit += _window_lights(mi, scene, f"{name}_wall{k}", layout, (u_m, v_m), centre, normal,
                            along, sz, glow * warm, MAX_LIT_WINDOWS - lit)
  scene[f"{name}_roof"] = _box(mi, [cx, cy, sz], [sx, sy, 0.2], yaw, roof)
  return lit


def _lamp(mi, scene, name, rng, position, radiance_scale):
  """A street lamp: a pole and a small emissive sphere (sometimes a spot light under it)."""
  x, y = position
  h = rng.uniform(3, 6)
  scene[f"{name}_pole"] = _box(mi, [x, y, h / 2], [0.12, 0.12, h], 0,
                               {"type": "diffuse", "reflectance": _rgb([0.05] * 3)})
  colour = np.array([1.0, rng.uniform(0.55, 0.95), rng.uniform(0.2, 0.8)])
  scene[f"{name}_bulb"] = {
      "type": "sphere", "center": [float(x), float(y), float(h + 0.2)],
      "radius": float(rng.uniform(0.1, 0.3)),
      "bsdf": {"type": "diffuse", "reflectance": _rgb([0.8] * 3)},
      "emitter": {"type": "area", "radiance": _rgb(radiance_scale * colour)}}
  if rng.uniform() < 0.4:
    scene[f"{name}_spot"] = {
        "type": "spot", "intensity": _rgb(radiance_scale * 0.5 * colour),
        "cutoff_angle": float(rng.uniform(30, 60)),
        "to_world": mi.ScalarTransform4f().look_at(
            origin=[float(x), float(y), float(h - 0.05)], target=[float(x), float(y), 0.0],
            up=[1, 0, 0])}


def _street(mi, scene, rng, kind, eye, yaw, hfov, sun_az):
  """Buildings, spheres, overhangs (and lamps at night) in front of a camera at `eye`."""
  forward = np.array([math.cos(yaw), math.sin(yaw), 0.0])
  side = np.array([-forward[1], forward[0], 0.0])
  night = kind == "night"
  n_glow = int(rng.integers(1, 4)) if night else 0
  for k in range(int(rng.integers(4, 13))):
    size = [rng.uniform(4, 20), rng.uniform(4, 20), rng.uniform(4, 35)]
    if kind == "backlit" and k < 3:  # in front of the sun: silhouettes and a partly hidden sun
      az = sun_az + rng.uniform(-0.15, 0.15) * math.radians(hfov)
      dist = rng.uniform(0.75 * math.hypot(*size[:2]) + 4, 80)
      centre = np.asarray(eye[:2]) + dist * np.array([math.cos(az), math.sin(az)])
    else:
      dist, lateral = rng.uniform(0.75 * math.hypot(*size[:2]) + 4, 80), rng.uniform(-0.9, 0.9)
      centre = np.asarray(eye[:2]) + (forward * dist + side * lateral * dist)[:2]
    glow = rng.uniform(0.5, 6.0) if k < n_glow else 0.0
    _building(mi, scene, f"building{k}", rng, centre, size, rng.uniform(0, 90), eye, glow)
  windows = [key for key in scene if "_win" in key]
  for key in windows:  # all lit windows together are picked for light samples like 2 lamps
    scene[key]["emitter"]["sampling_weight"] = 2.0 / len(windows)
  for k in range(int(rng.integers(0, 5))):
    radius = rng.uniform(0.3, 2.5)
    dist, lateral = rng.uniform(3 + 3 * radius, 30), rng.uniform(-0.7, 0.7)
    centre = np.asarray(eye) * [1, 1, 0] + forward * dist + side * lateral * dist
    centre[2] = radius
    bsdf = (_material(rng) if rng.uniform() < 0.6 or kind != "backlit"
            else {"type": "conductor", "material": str(rng.choice(METALS))})
    scene[f"sphere{k}"] = {"type": "sphere", "center": centre.tolist(),
                           "radius": float(radius), "bsdf": bsdf}
  for k in range(int(rng.integers(0, 2))):
    dist, lateral = rng.uniform(4, 12), rng.choice([-1, 1]) * rng.uniform(0.3, 0.8)
    size = [rng.uniform(3, 8), rng.uniform(3, 8), 0.2]
    centre = (np.asarray(eye) * [1, 1, 0] + forward * dist + side * lateral * dist
              + np.array([0, 0, rng.uniform(4, 8)]))
    scene[f"overhang{k}"] = _box(mi, centre, size, rng.uniform(0, 90),
                                 _textured(_bitmap(mi, _stripes(rng, _random_colour(rng)),
                                                   (2, 1)), rng))
  if night:
    for k in range(int(rng.integers(2, 8))):
      dist, lateral = rng.uniform(3, 40), rng.uniform(-0.8, 0.8)
      p = np.asarray(eye[:2]) + (forward * dist + side * lateral * dist)[:2]
      _lamp(mi, scene, f"lamp{k}", rng, p, rng.uniform(20, 400))
    for k in range(int(rng.integers(0, 3))):
      p = (np.asarray(eye) * [1, 1, 0] + forward * rng.uniform(5, 30)
           + side * rng.uniform(-10, 10) + np.array([0, 0, rng.uniform(0.5, 8)]))
      scene[f"point{k}"] = {"type": "point", "position": p.tolist(), "intensity": _rgb(
          rng.uniform(5, 200) * np.array([1.0, rng.uniform(0.5, 1.0), rng.uniform(0.3, 1.0)]))}
  # Small very bright sources (lamps, glints of the sun on glass): rare by day, common back-lit.
  if not night and rng.uniform() < (0.4 if kind == "backlit" else 0.1):
    for k in range(int(rng.integers(1, 3))):
      p = (np.asarray(eye) * [1, 1, 0] + forward * rng.uniform(6, 40)
           + side * rng.uniform(-8, 8) + np.array([0, 0, rng.uniform(0.5, 6)]))
      scene[f"glint{k}"] = {"type": "sphere", "center": p.tolist(),
                            "radius": float(rng.uniform(0.03, 0.15)),
                            "emitter": {"type": "area",
                                        "radiance": _rgb([rng.uniform(1e3, 3e4)] * 3)}}


def _outdoor(mi, rng, kind, height, width, spp):
  elevated = rng.uniform() < 0.25
  eye = np.array([0.0, 0.0, rng.uniform(4, 15) if elevated else rng.uniform(1.2, 3.0)])
  hfov = rng.uniform(40, 95)
  vfov = 2 * math.degrees(math.atan(math.tan(math.radians(hfov) / 2) * height / width))
  yaw = rng.uniform(0, 2 * math.pi)
  pitch = math.radians(rng.uniform(-25, 5) if elevated else rng.uniform(-10, 20))
  roll = float(np.clip(rng.normal(0, 2), -6, 6))
  if kind == "backlit" or (kind == "clear" and rng.uniform() < 0.2):
    sun_el = rng.uniform(3, 25)
    pitch = math.radians(float(np.clip(sun_el - rng.uniform(0.1, 0.4) * vfov, -10, 25)))
    sun_az = yaw + math.radians(rng.uniform(-0.4, 0.4) * hfov)
  else:
    sun_el = {"clear": (15, 75), "hazy": (8, 60), "low_sun": (4, 15), "sunset": (3, 6),
              "overcast": (10, 70), "night": (10, 70)}[kind]
    sun_el = rng.uniform(*sun_el)
    sun_az = rng.uniform(0, 2 * math.pi)
    if kind == "sunset" and rng.uniform() < 0.5:
      sun_az = yaw + math.radians(rng.uniform(-0.45, 0.45) * hfov)
      pitch = math.radians(rng.uniform(-5, 0.25 * vfov))
  scene = {
      "type": "scene",
      # Three bounces and a low-discrepancy sampler: little noise at low spp.
      "integrator": {"type": "path", "max_depth": 3, "block_size": BLOCK_SIZE},
      "sensor": _camera(mi, rng, height, width, spp, eye, yaw, pitch, hfov, roll),
      "ground": _ground(mi, rng),
  }
  if kind == "night":
    tint = np.array([rng.uniform(0.5, 1.0), rng.uniform(0.6, 1.0), 1.0])
    scene["sky"] = {"type": "constant", "radiance": _rgb(tint * 10 ** rng.uniform(-3.5, -2))}
  else:
    scene["sky"] = _sky(kind, rng, sun_az, sun_el)
  _street(mi, scene, rng, kind, eye, yaw, hfov, sun_az)
  return scene


def _interior(mi, rng, height, width, spp):
  """A room (x in [0, D], y in [-W/2, W/2], z in [0, H]) with a window in the wall x = D.

  Walls are one-sided rectangles facing inwards (opaque from outside); sun and sky light the room
  through the opening; outside there are ground and buildings.
  """
  d, w, h = rng.uniform(3.5, 8), rng.uniform(3, 8), rng.uniform(2.5, 3.5)
  wall_colour = _random_colour(rng, (0.3, 0.8))
  wall_pattern = rng.choice(["plain", "plaster", "stripes"])
  if wall_pattern == "plain":
    wall = {"type": "diffuse", "reflectance": _rgb(wall_colour)}
  elif wall_pattern == "plaster":
    wall = {"type": "diffuse", "reflectance": _bitmap(
        mi, _tint(_noise(rng), wall_colour, 0.3), (2, 1))}
  else:
    wall = {"type": "diffuse", "reflectance": _bitmap(mi, _stripes(rng, wall_colour), (3, 1))}
  floor_colour = _random_colour(rng, (0.1, 0.6))
  floor_tex = (_planks(rng, floor_colour) if rng.uniform() < 0.5
               else _tiles(rng, floor_colour, n=int(rng.integers(2, 6))))
  floor = _textured(_bitmap(mi, floor_tex, (d / 2, w / 2)), rng)
  ceiling = {"type": "diffuse", "reflectance": _rgb([rng.uniform(0.5, 0.85)] * 3)}

  # Window opening in the wall x = d: y in [y0, y1], z in [z0, z1].
  ww = rng.uniform(0.3, 0.8) * w
  y0 = rng.uniform(-w / 2 + 0.1, w / 2 - 0.1 - ww)
  y1 = y0 + ww
  z0 = rng.uniform(0.0, 1.0)
  z1 = min(h - 0.1, z0 + rng.uniform(0.4, 0.8) * h)
  scene = {"type": "scene",
           "integrator": {"type": "path", "max_depth": 4, "block_size": BLOCK_SIZE}}
  scene["floor"] = _rect(mi, [d / 2, 0, 0], [0, 0, 1], d, w, floor)
  scene["ceiling"] = _rect(mi, [d / 2, 0, h], [0, 0, -1], d, w, ceiling)
  scene["back"] = _rect(mi, [0, 0, h / 2], [1, 0, 0], w, h, wall)
  scene["left"] = _rect(mi, [d / 2, w / 2, h / 2], [0, -1, 0], d, h, wall)
  scene["right"] = _rect(mi, [d / 2, -w / 2, h / 2], [0, 1, 0], d, h, wall)
  # The window wall, in four pieces around the opening (each skipped when empty).
  pieces = {"win_left": ((w / 2 + y1) / 2, h / 2, w / 2 - y1, h),
            "win_right": ((y0 - w / 2) / 2, h / 2, y0 + w / 2, h),
            "win_below": ((y0 + y1) / 2, z0 / 2, ww, z0),
            "win_above": ((y0 + y1) / 2, (z1 + h) / 2, ww, h - z1)}
  for name, (cy, cz, sw, sh) in pieces.items():
    if sw > 1e-3 and sh > 1e-3:
      scene[name] = _rect(mi, [d, cy, cz], [-1, 0, 0], sw, sh, wall)
  if rng.uniform() < 0.5:  # mullions
    frame = {"type": "diffuse", "reflectance": _rgb([rng.uniform(0.05, 0.8)] * 3)}
    scene["mullion_v"] = _box(mi, [d, (y0 + y1) / 2, (z0 + z1) / 2], [0.1, 0.06, z1 - z0], 0,
                              frame)
    scene["mullion_h"] = _box(mi, [d, (y0 + y1) / 2, (z0 + z1) / 2], [0.1, ww, 0.06], 0, frame)
  for k in range(int(rng.integers(1, 6))):  # furniture
    size = [rng.uniform(0.4, 2), rng.uniform(0.4, 2), rng.uniform(0.4, 2)]
    centre = [rng.uniform(0.3 * d, d - 0.5), rng.uniform(-w / 2 + 0.5, w / 2 - 0.5), size[2] / 2]
    scene[f"furniture{k}"] = _box(mi, centre, size, rng.uniform(0, 90), _material(rng))
  for k in range(int(rng.integers(0, 3))):
    r = rng.uniform(0.1, 0.4)
    scene[f"ball{k}"] = {"type": "sphere", "radius": float(r), "bsdf": _material(rng),
                         "center": [float(rng.uniform(0.3 * d, d - 0.5)),
                                    float(rng.uniform(-w / 2 + 0.5, w / 2 - 0.5)), float(r)]}
  if rng.uniform() < 0.5:  # a lamp, far dimmer than the sun patch
    scene["lamp"] = {"type": "point", "position": [d / 2, 0.0, 0.7 * h],
                     "intensity": _rgb(10 ** rng.uniform(-1.5, 0) * np.array([1.0, 0.85, 0.6]))}

  # Outside: sun and sky, ground, a few buildings across the street.
  if rng.uniform() < 0.4:  # sun shining in through the window (else skylight only)
    sun_az, sun_el = math.radians(rng.uniform(-60, 60)), rng.uniform(8, 45)
  else:
    sun_az, sun_el = math.radians(rng.uniform(100, 260)), rng.uniform(10, 70)
  sky_kind = rng.choice(["clear", "hazy", "low_sun", "overcast"], p=[0.5, 0.2, 0.15, 0.15])
  scene["sky"] = _sky(str(sky_kind), rng, sun_az, sun_el)
  scene["ground"] = _ground(mi, rng)
  for k in range(int(rng.integers(0, 5))):
    size = [rng.uniform(5, 20), rng.uniform(5, 20), rng.uniform(5, 30)]
    centre = [d + rng.uniform(15, 60), rng.uniform(-40, 40)]
    _building(mi, scene, f"outside{k}", rng, centre, size, rng.uniform(0, 90),
              [d, 0.0, 1.5])

  eye = [rng.uniform(0.3, 0.4 * d), rng.uniform(-0.3 * w, 0.3 * w), rng.uniform(1.2, 1.7)]
  target_y = (y0 + y1) / 2
  yaw = math.atan2(target_y - eye[1], d - eye[0]) + math.radians(rng.uniform(-30, 30))
  pitch = math.radians(rng.uniform(-10, 10))
  hfov = rng.uniform(60, 95)
  roll = float(np.clip(rng.normal(0, 2), -6, 6))
  scene["sensor"] = _camera(mi, rng, height, width, spp, eye, yaw, pitch, hfov, roll)
  return scene


def scene_kind(seed: int, index: int) -> str:
  """The kind (a name of `SCENE_KINDS`) of scene `index` of seed `seed`."""
  rng = np.random.default_rng([seed, index])
  return KIND_NAMES[int(rng.choice(len(KIND_NAMES), p=KIND_PROBS))]


def scene_spp(seed: int, index: int, spp: int) -> int:
  """Samples per pixel scene `index` is rendered with when `spp` is asked (`KIND_SPP_FACTOR`)."""
  return spp * KIND_SPP_FACTOR.get(scene_kind(seed, index), 1)


def scene_dict(seed: int, index: int, height: int, width: int, spp: int) -> dict:
  """Mitsuba scene dictionary of scene `index` (a pure function of the arguments).

  The kind is drawn first from `SCENE_KINDS` (the same draw as `scene_kind`), then everything
  else from the same generator. Outdoor kinds: camera 1.2-3 m above the ground (a quarter of
  them 4-15 m, looking down), horizontal field of view 40-95 degrees, pitch -25 to 25, roll of a
  few degrees; 4-12 buildings with textured facades, 0-4 spheres, 0-1 textured overhang, a
  textured ground. Interiors: a room with one window, furniture, sun and sky outside.
  `spp` is multiplied by the kind's `KIND_SPP_FACTOR` (see `scene_spp`).
  """
  mi = _mitsuba()
  rng = np.random.default_rng([seed, index])
  kind = KIND_NAMES[int(rng.choice(len(KIND_NAMES), p=KIND_PROBS))]
  spp = spp * KIND_SPP_FACTOR.get(kind, 1)
  if kind == "interior":
    return _interior(mi, rng, height, width, spp)
  return _outdoor(mi, rng, kind, height, width, spp)


def render(scene: dict) -> np.ndarray:
  """Renders a scene dictionary: `[H, W, 3] float32` linear radiance. Non-finite samples (rare
  path-tracing fireflies) are set to 0 so no NaN ever reaches a data set."""
  mi = _mitsuba()
  # optimize=False: with Mitsuba's merging of identical objects, night scenes (many emitters)
  # differed from run to run (Mitsuba 3.9.1). Serial loading is a further guard, at no
  # noticeable cost (the scene load is mostly the kd-tree build).
  scene = mi.load_dict(scene, parallel=False, optimize=False)
  image = np.array(mi.render(scene), dtype=np.float32)[..., :3]
  return np.where(np.isfinite(image), np.maximum(image, 0.0), 0.0).astype(np.float32)


# --- Rendering many scenes.

def _init_worker(threads):
  import drjit as dr  # pylint: disable=g-import-not-at-top
  _mitsuba()
  dr.set_thread_count(threads)


def _render_one(args):
  seed, index, height, width, spp = args
  return index, render(scene_dict(seed, index, height, width, spp))


def render_scenes(seed: int, indices: Iterable[int], height: int, width: int, spp: int,
                  workers=None, progress=True) -> Iterator[Tuple[int, np.ndarray]]:
  """Renders scenes `indices` of seed `seed`: yields `(index, radiance [H, W, 3] float32)` in
  the order of `indices`.

  `workers` processes (default: one per core, at most one per scene) each render whole scenes
  with Mitsuba's threads limited so that workers x threads = cores; `workers=1` renders in this
  process with all cores. Results do not depend on `workers` (Mitsuba seeds each image block,
  not each thread; bit-identical on a rerun). `progress` shows a tqdm bar. The pool starts its
  processes with `spawn` (safe beside JAX's threads), which re-imports the caller's main module:
  a script calling this needs the usual `if __name__ == "__main__":` guard.
  """
  import tqdm  # pylint: disable=g-import-not-at-top
  indices = [int(i) for i in indices]
  cores = os.cpu_count() or 1
  workers = max(1, min(workers or cores, len(indices)))
  jobs = [(seed, i, height, width, spp) for i in indices]
  bar = tqdm.tqdm(total=len(jobs), desc=f"render {height}x{width} {spp} spp", unit="scene",
                  disable=not progress)
  try:
    if workers == 1:
      _init_worker(cores)
      for job in jobs:
        yield _render_one(job)
        bar.update()
      return
    # spawn, not fork: the caller may hold JAX/XLA threads, which fork does not survive.
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(workers, initializer=_init_worker,
                  initargs=(max(1, cores // workers),)) as pool:
      for result in pool.imap(_render_one, jobs, chunksize=1):
        yield result
        bar.update()
  finally:
    bar.close()
