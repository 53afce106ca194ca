"""Driving the ``phone serve`` page in a headless chromium, for tests and
benchmarks (ours: tests/phone/test_serve.py, benchmarks/bench_browser.py;
and yours, if you change the page).

The page reports its state on ``<body>`` as data attributes: ``data-state``
(ready, running, done, camera, stopped, error), per image ``data-phone-pixels``,
``data-ms``, ``data-width``, ``data-height``, ``data-instances``, on the
camera ``data-frames`` and ``data-fps``, and ``data-error``, ``data-threads``;
:func:`page_state` reads them and :func:`wait_for_page` polls them. :func:`headless_chromium`
starts chromium through selenium and chromedriver with a fake camera fed
from a YUV4MPEG2 file (:func:`write_y4m`), or chromium's own test pattern.

selenium is imported only when a browser is started (``pip install
selenium``; the ``dev`` extra has it); chromium and chromedriver come from
the system (Debian: ``apt-get install chromium chromium-driver``).
"""
import shutil
import time

__all__ = ["write_y4m", "headless_chromium", "page_state", "wait_for_page"]


def write_y4m(frames, path, fps=30, bgr=False):
    """Writes frames as YUV4MPEG2 4:2:0, the file chromium's fake camera
    reads (``--use-file-for-fake-video-capture``) and loops.

    frames: [height, width, 3] uint8 images, RGB (BGR with ``bgr=True``,
        as cv2 reads them), all the same size, at least one.
    Returns ``path``.
    """
    import cv2
    frames = list(frames)
    if not frames:
        raise ValueError(f"{path}: no frames to write")
    h, w = frames[0].shape[:2]
    code = cv2.COLOR_BGR2YUV_I420 if bgr else cv2.COLOR_RGB2YUV_I420
    with open(path, "wb") as f:
        f.write(f"YUV4MPEG2 W{w} H{h} F{int(fps)}:1 Ip A1:1 C420jpeg\n".encode())
        for frame in frames:
            f.write(b"FRAME\n" + cv2.cvtColor(frame, code).tobytes())
    return path


def headless_chromium(y4m=None, size=(1200, 900), binary=None, driver=None):
    """A selenium WebDriver of a headless chromium whose camera is fake:
    ``y4m`` (a file from :func:`write_y4m`), else chromium's 640x480 test
    pattern; camera permission is granted without asking.

    binary, driver: paths of chromium and chromedriver (default: found on
        PATH). Raises FileNotFoundError naming what is missing.
    """
    binary = binary or shutil.which("chromium")
    driver = driver or shutil.which("chromedriver")
    if not (binary and driver):
        raise FileNotFoundError("chromium / chromedriver not found (Debian: apt-get install "
                                "chromium chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                f"--window-size={size[0]},{size[1]}", "--use-fake-ui-for-media-stream",
                "--use-fake-device-for-media-stream", "--hide-scrollbars"):
        options.add_argument(arg)
    if y4m:
        options.add_argument(f"--use-file-for-fake-video-capture={y4m}")
    return webdriver.Chrome(service=Service(driver), options=options)


def page_state(driver):
    """The page's ``<body>`` data attributes as a dict of strings
    (``{"state": "ready", "frames": "12", ...}``)."""
    return driver.execute_script("return Object.assign({}, document.body.dataset)")


def wait_for_page(driver, done, timeout=120, poll=0.05):
    """Polls :func:`page_state` until ``done(state)`` is true and returns
    that state; TimeoutError with the last state after ``timeout`` s."""
    t0 = time.monotonic()
    while True:
        state = page_state(driver)
        if done(state):
            return state
        if time.monotonic() - t0 > timeout:
            raise TimeoutError(f"the page did not get there in {timeout} s: {state}")
        time.sleep(poll)
