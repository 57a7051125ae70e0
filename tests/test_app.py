"""The before/after page (drht_jax/app.py) in a real headless Chromium driven by Selenium.

Needs Debian's `chromium` + `chromium-driver` and requirements-app.txt (.ci/run installs them
and sets DRHT_REQUIRE_BROWSER=1, so there a missing browser fails instead of skipping).
The server runs in a thread of this process on a free port of 127.0.0.1, with the released
model (`pretrained/`).
"""

import os
import shutil
import threading
import time

import numpy as np
import pytest

from drht_jax import api, app, imageio_utils

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
REQUIRED = os.environ.get("DRHT_REQUIRE_BROWSER") == "1"

try:
  from selenium import webdriver
  from selenium.webdriver.common.by import By
  from selenium.webdriver.support import expected_conditions as EC
  from selenium.webdriver.support.ui import WebDriverWait
  HAVE_SELENIUM = True
except ImportError:
  HAVE_SELENIUM = False

_MISSING = [name for name, ok in [("selenium", HAVE_SELENIUM), ("chromium", CHROMIUM),
                                  ("chromedriver", CHROMEDRIVER)] if not ok]
if _MISSING and not REQUIRED:
  pytest.skip(f"not installed: {', '.join(_MISSING)} (see requirements-app.txt)",
              allow_module_level=True)

pytestmark = pytest.mark.slow
TIMEOUT_S = 180   # a wait bound for the first correction (XLA compilation), not a timing assert


@pytest.fixture(scope="module")
def corrector():
  return api.load(os.path.join(REPO, "pretrained"))


@pytest.fixture(scope="module")
def server(corrector):
  httpd = app.make_server(corrector, port=0)
  thread = threading.Thread(target=httpd.serve_forever, daemon=True)
  thread.start()
  yield f"http://127.0.0.1:{httpd.server_address[1]}"
  httpd.shutdown()
  httpd.server_close()
  thread.join()


@pytest.fixture(scope="module")
def downloads(tmp_path_factory):
  return tmp_path_factory.mktemp("downloads")


@pytest.fixture(scope="module")
def browser(tmp_path_factory, downloads):
  assert not _MISSING, f"not installed: {_MISSING}"
  options = webdriver.ChromeOptions()
  options.binary_location = CHROMIUM
  for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run",
               "--disable-dev-shm-usage", "--window-size=1280,1000",
               f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):
    options.add_argument(flag)
  options.add_experimental_option("prefs", {
      "download.default_directory": str(downloads), "download.prompt_for_download": False,
      "safebrowsing.enabled": False})
  driver = webdriver.Chrome(options=options,
                            service=webdriver.ChromeService(executable_path=CHROMEDRIVER))
  yield driver
  driver.quit()


def _photo(path, height=96, width=160):
  """An under-exposed PNG with smooth content and a sharp edge, uint8."""
  y, x = np.mgrid[0:height, 0:width]
  image = np.stack([0.25 + 0.2 * np.sin(x / 9.0), 0.2 + 0.15 * np.cos(y / 7.0),
                    np.where(x > width // 2, 0.35, 0.05) + 0.0 * y], axis=-1)
  pixels = np.round(np.clip(image, 0, 1) * 255).astype(np.uint8)
  imageio_utils.write_ldr(str(path), pixels)
  return pixels


def _upload(browser, server, path):
  browser.get(server + "/")
  browser.find_element(By.ID, "files").send_keys(str(path))


def _wait_for_file(folder, name):
  """Waits (bounded) until Chromium has finished writing `name` into `folder`."""
  path = os.path.join(folder, name)
  deadline = time.monotonic() + 60
  while time.monotonic() < deadline:
    if os.path.exists(path) and not any(f.endswith(".crdownload") for f in os.listdir(folder)):
      return path
    time.sleep(0.1)   # polling a download folder: a bounded wait, not a timing assumption
  raise AssertionError(f"{name} was not downloaded into {folder}: {os.listdir(folder)}")


def test_page_shows_input_and_output_and_downloads_the_corrected_file(
    browser, server, corrector, downloads, tmp_path):
  pixels = _photo(tmp_path / "dark.png")
  _upload(browser, server, tmp_path / "dark.png")
  wait = WebDriverWait(browser, TIMEOUT_S)
  output = wait.until(EC.visibility_of_element_located((By.CSS_SELECTOR, ".card img.output")))
  wait.until(lambda d: d.execute_script("return arguments[0].complete && "
                                        "arguments[0].naturalWidth > 0", output))
  assert browser.find_element(By.CSS_SELECTOR, ".card img.input").get_attribute("src")
  assert browser.find_element(By.CSS_SELECTOR, ".card input.slider")
  link = browser.find_element(By.CSS_SELECTOR, ".card a.download")
  assert link.get_attribute("download") == "dark.png"
  link.click()
  downloaded = imageio_utils.read_ldr(_wait_for_file(str(downloads), "dark.png")).pixels
  expected = corrector.correct(pixels)       # uint8 in -> uint8 out, PNG is lossless
  assert downloaded.shape == (96, 160, 3)
  np.testing.assert_array_equal(np.round(downloaded * 255).astype(np.uint8), expected)
  assert not np.array_equal(expected, pixels)  # the download is the correction, not the input


def test_page_shows_a_readable_error_for_a_file_that_is_not_an_image(browser, server, tmp_path):
  bad = tmp_path / "notes.jpg"
  bad.write_text("this is not a JPEG")
  _upload(browser, server, bad)
  error = WebDriverWait(browser, TIMEOUT_S).until(
      EC.visibility_of_element_located((By.CSS_SELECTOR, ".card .error")))
  assert "notes.jpg" in error.text and "not an image" in error.text
  assert not browser.find_elements(By.CSS_SELECTOR, ".card img.output")


def test_server_binds_to_localhost_only():
  httpd = app.make_server(corrector=None, port=0)
  try:
    assert httpd.server_address[0] == "127.0.0.1"
  finally:
    httpd.server_close()
