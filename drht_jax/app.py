"""A local before/after page: drop photos, see input and DRHT's output side by side.

    python -m drht_jax.app [--workdir=pretrained] [--port=8019]    (or: drht-correct --serve)

then open http://127.0.0.1:8019/. The server binds to 127.0.0.1 only (nothing is reachable
from another machine) and keeps the last `MAX_RESULTS` results in memory, nothing on disk.

Why the standard library (`http.server`) and one static page (`static/index.html`), not
Gradio: the page needs an upload, two images, a slider and a download link, which ~150 lines
of HTML/JS do; Gradio would add some 50 packages (FastAPI, uvicorn, pydantic, httpx, ...)
to a project whose pinned set is otherwise JAX + imaging, and its front end loads assets
that a browser test would have to wait for.

HTTP interface (used by the page; JSON replies):
  GET  /                      the page
  POST /api/correct?name=F[&extras=1]   body: the image file's bytes ->
       {"name", "width", "height", "seconds", "input", "output", "download", "download_name",
        "hdr", "baselines": {label: data URL}}   (the last two only with extras=1)
       `input`/`output`/`hdr`/baselines are JPEG data URLs of previews (long side <=
       `PREVIEW_SIDE`); the full-resolution result is at `download`. A file that cannot be
       read -> 400 {"error": "<name>: <what is wrong>"}.
  GET  /download/<id>         the corrected file, full resolution, the input's format (JPEG
                              in -> JPEG out, PNG in -> 8-bit PNG out), same base name.
"""

import argparse
import base64
import collections
import http.server
import io
import json
import os
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid

import numpy as np

HOST = "127.0.0.1"
DEFAULT_PORT = 8019
PREVIEW_SIDE = 1600       # previews in the page; downloads are full resolution
BASELINE_SIDE = 512       # baselines run on a preview this size (some are slow at 12 MP)
MAX_RESULTS = 32
MAX_UPLOAD_BYTES = 200 * 1024 * 1024
STATIC_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "static")


def _preview(image: np.ndarray, side: int) -> np.ndarray:
  """`[H, W, 3]` float in [0, 1] -> area-downscaled so the long side is <= `side`."""
  from drht_jax import inference  # pylint: disable=g-import-not-at-top
  height, width = image.shape[:2]
  scale = side / max(height, width)
  if scale >= 1.0:
    return image
  return inference.area_downscale(image, max(1, round(height * scale)),
                                  max(1, round(width * scale)))


def _data_url(image: np.ndarray) -> str:
  from PIL import Image  # pylint: disable=g-import-not-at-top
  pixels = np.round(np.clip(image, 0.0, 1.0) * 255.0).astype(np.uint8)
  buffer = io.BytesIO()
  Image.fromarray(pixels).save(buffer, format="JPEG", quality=90)
  return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


class PhotoService:
  """What the server does with an uploaded file; separate from HTTP so tests can call it.

  `corrector`: an `api.Corrector`. Thread-safe: one correction at a time (`lock`).
  """

  def __init__(self, corrector):
    self.corrector = corrector
    self.lock = threading.Lock()
    self.results = collections.OrderedDict()   # id -> (bytes, file name, MIME type)

  def correct_upload(self, name: str, data: bytes, extras: bool = False) -> dict:
    """Reads `data` as the image file `name`, corrects it, stores the full-resolution result.
    Raises ValueError (message starts with `name`) for a file that is not a readable image."""
    from drht_jax import evaluate, hdr, imageio_utils  # pylint: disable=g-import-not-at-top
    name = os.path.basename(name or "photo.jpg") or "photo.jpg"
    with tempfile.TemporaryDirectory(prefix="drht-app-") as folder:
      source = os.path.join(folder, "in", name)
      os.makedirs(os.path.dirname(source))
      with open(source, "wb") as f:
        f.write(data)
      try:
        image = imageio_utils.read_ldr(source)
      except (OSError, ValueError) as e:
        message = str(e).replace(source, name)
        raise ValueError(message if message.startswith(name) else f"{name}: {message}") from e
      start = time.perf_counter()
      with self.lock:
        corrected, radiance = self.corrector.correct_and_hdr(image.pixels)
      seconds = time.perf_counter() - start
      target = evaluate.output_paths(source, os.path.join(folder, "out"))["ldr"]
      imageio_utils.write_ldr(target, corrected)
      with open(target, "rb") as f:
        payload = f.read()
    ident = uuid.uuid4().hex
    download_name = os.path.basename(target)
    mime = "image/png" if download_name.lower().endswith(".png") else "image/jpeg"
    with self.lock:
      self.results[ident] = (payload, download_name, mime)
      while len(self.results) > MAX_RESULTS:
        self.results.popitem(last=False)
    reply = {"name": name, "width": int(corrected.shape[1]), "height": int(corrected.shape[0]),
             "seconds": round(seconds, 3),
             "input": _data_url(_preview(image.pixels, PREVIEW_SIDE)),
             "output": _data_url(_preview(corrected, PREVIEW_SIDE)),
             "download": f"/download/{ident}", "download_name": download_name}
    if extras:
      reply["hdr"] = _data_url(_preview(np.asarray(hdr.ground_truth_ldr(radiance)),
                                        PREVIEW_SIDE))
      reply["baselines"] = self._baselines(image.pixels)
    return reply

  @staticmethod
  def _baselines(pixels: np.ndarray) -> dict:
    from drht_jax import methods  # pylint: disable=g-import-not-at-top
    small = _preview(pixels, BASELINE_SIDE)
    return {m.label: _data_url(np.asarray(m.apply(small)))
            for m in methods.of_kind(methods.CLASSICAL) if m.name != "input"}

  def download(self, ident: str):
    """The stored result `ident` (`/download/<ident>`) -> `(payload bytes, file name, MIME
    type)`, or None once it has been evicted (`MAX_RESULTS`) or never existed."""
    with self.lock:
      return self.results.get(ident)


def _handler(service: PhotoService):

  class Handler(http.server.BaseHTTPRequestHandler):
    server_version = "drht-jax"

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
      pass   # quiet: the page shows what happened

    def _send(self, status, body: bytes, mime: str, extra_headers=()):
      self.send_response(status)
      self.send_header("Content-Type", mime)
      self.send_header("Content-Length", str(len(body)))
      self.send_header("Cache-Control", "no-store")
      for key, value in extra_headers:
        self.send_header(key, value)
      self.end_headers()
      self.wfile.write(body)

    def _json(self, status, obj):
      self._send(status, json.dumps(obj).encode("utf-8"), "application/json")

    def do_GET(self):  # pylint: disable=invalid-name
      path = urllib.parse.urlparse(self.path).path
      if path in ("/", "/index.html"):
        with open(os.path.join(STATIC_DIR, "index.html"), "rb") as f:
          return self._send(200, f.read(), "text/html; charset=utf-8")
      if path.startswith("/download/"):
        found = service.download(path[len("/download/"):])
        if found is None:
          return self._json(404, {"error": "no such result (the server keeps the last "
                                           f"{MAX_RESULTS})"})
        payload, name, mime = found
        quoted = urllib.parse.quote(name)
        return self._send(200, payload, mime, [
            ("Content-Disposition", f"attachment; filename*=UTF-8''{quoted}")])
      return self._json(404, {"error": f"{path}: not found"})

    def do_POST(self):  # pylint: disable=invalid-name
      url = urllib.parse.urlparse(self.path)
      if url.path != "/api/correct":
        return self._json(404, {"error": f"{url.path}: not found"})
      query = urllib.parse.parse_qs(url.query)
      name = query.get("name", ["photo.jpg"])[0]
      length = int(self.headers.get("Content-Length") or 0)
      if length <= 0:
        return self._json(400, {"error": f"{name}: empty upload"})
      if length > MAX_UPLOAD_BYTES:
        return self._json(413, {"error": f"{name}: larger than {MAX_UPLOAD_BYTES >> 20} MB"})
      data = self.rfile.read(length)
      try:
        reply = service.correct_upload(name, data, extras=query.get("extras") == ["1"])
      except ValueError as e:
        return self._json(400, {"error": str(e).splitlines()[0]})
      except Exception as e:  # pylint: disable=broad-except
        return self._json(500, {"error": f"{name}: {type(e).__name__}: {e}"})
      return self._json(200, reply)

  return Handler


def make_server(corrector, port: int = DEFAULT_PORT) -> http.server.ThreadingHTTPServer:
  """An HTTP server on 127.0.0.1:`port` (0 = any free port; see `.server_address`)."""
  return http.server.ThreadingHTTPServer((HOST, port), _handler(PhotoService(corrector)))


def serve(workdir: str = "pretrained", port: int = DEFAULT_PORT, step=None,
          working_size=None, mode: str = "guided") -> int:
  """Loads the model and serves the page until Ctrl-C. Returns the exit code."""
  from drht_jax import api, inference  # pylint: disable=g-import-not-at-top
  corrector = api.load(workdir, step=step, mode=mode,
                       working_size=working_size or inference.DEFAULT_WORKING_SIZE)
  server = make_server(corrector, port)
  print(f"{corrector}\nopen http://{HOST}:{server.server_address[1]}/ (Ctrl-C stops)",
        flush=True)
  try:
    server.serve_forever()
  except KeyboardInterrupt:
    pass
  finally:
    server.server_close()
  return 0


def main(argv=None) -> int:
  """`python -m drht_jax.app [--workdir=pretrained] [--port=N] ...`: serves the photo page
  until interrupted. `argv`: the arguments (None: sys.argv). Returns the exit code."""
  p = argparse.ArgumentParser(prog="python -m drht_jax.app", description=__doc__.split("\n")[0])
  p.add_argument("--workdir", default="pretrained")
  p.add_argument("--port", type=int, default=DEFAULT_PORT)
  p.add_argument("--step", type=int, default=None)
  p.add_argument("--working-size", "--working_size", dest="working_size", type=int,
                 default=None)
  p.add_argument("--mode", choices=("guided", "full"), default="guided")
  args = p.parse_args(argv)
  from drht_jax import allocator  # pylint: disable=g-import-not-at-top
  allocator.keep_freed_memory()
  from absl import logging  # pylint: disable=g-import-not-at-top
  logging.set_verbosity(logging.WARNING)
  from drht_jax import inference  # pylint: disable=g-import-not-at-top
  inference.enable_compilation_cache()
  return serve(args.workdir, args.port, args.step, args.working_size, args.mode)


if __name__ == "__main__":
  sys.exit(main())
