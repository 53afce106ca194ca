"""``phone serve``: the cached ONNX export, the HTTP server, the page in a
real browser (Debian's headless chromium driven by selenium + chromedriver).

Fast (no browser, no TensorFlow): the onnxruntime-web vendoring, the export
cache (a stub exporter), the server's routes and headers, a taken port,
Ctrl-C. Slow (one real export, one server and one browser for the module):
the page's mask of every bundled frame against ``phone segment``'s, the
fake camera fed the bundled clip, and the page's error messages.

The browser tests install chromium + chromium-driver with apt-get where they
are missing and we are root; otherwise they are skipped, saying so.
"""
import base64
import glob
import hashlib
import http.client
import json
import os
import pathlib
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading

import numpy as np
import pytest

from video_frames import read_frames

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
PHONE_DATA = REPO_ROOT / "datasets" / "phone"
FRAMES = sorted(os.path.relpath(p, PHONE_DATA)
                for p in glob.glob(os.path.join(PHONE_DATA, "*", "*.png")))


# ------------------------------------------------------------------ helpers
def _get(url_or_server, path, method="GET"):
    """(status, headers dict (lower-case names), body bytes)."""
    host, port = url_or_server.server_address[:2]
    conn = http.client.HTTPConnection(host, port, timeout=30)
    try:
        conn.request(method, path)
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def _serving(server):
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                              daemon=True)
    thread.start()
    return thread


def _stop(server, thread):
    server.shutdown()
    server.server_close()
    thread.join(10)


def _sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


@pytest.fixture(scope="module")
def shipped_model():
    from phone.model import PhoneModel
    return PhoneModel("shipped", say=False)


# ------------------------------------------------------------------ vendoring
def _fake_npm_tree(root, version="1.2.3", pinned="1.2.3"):
    from phone.web.assets import ORT_FILES, ORT_PACKAGE
    root.mkdir(parents=True)
    (root / "package.json").write_text(json.dumps({"dependencies": {ORT_PACKAGE: pinned}}))
    pkg = root / "node_modules" / ORT_PACKAGE
    (pkg / "dist").mkdir(parents=True)
    (pkg / "package.json").write_text(json.dumps({"version": version}))
    for i, name in enumerate(ORT_FILES + ("ort.min.js", "ort-wasm-simd-threaded.jsep.wasm")):
        (pkg / "dist" / name).write_bytes(f"{name} {i}".encode() * 100)
    return pkg / "dist"


def test_write_y4m_is_a_clip_cv2_reads_back_with_its_colours(tmp_path):
    """The fake-camera file of phone.web.testing: header and size by hand
    (4:2:0 is w*h*3/2 bytes a frame), the same bytes from BGR frames with
    bgr=True, and an independent reader (OpenCV's FFmpeg) gives the
    frames back: count, fps and colour within chroma rounding."""
    import cv2
    from phone.web.testing import write_y4m
    rgb = np.zeros((16, 24, 3), np.uint8)
    rgb[:, :12] = (200, 40, 10)
    rgb[:, 12:] = (20, 180, 90)
    path = write_y4m([rgb, rgb, rgb], tmp_path / "a.y4m", fps=5)
    data = path.read_bytes()
    header = b"YUV4MPEG2 W24 H16 F5:1 Ip A1:1 C420jpeg\n"
    assert data.startswith(header)
    assert len(data) == len(header) + 3 * (len(b"FRAME\n") + 24 * 16 * 3 // 2)
    write_y4m([rgb[:, :, ::-1].copy()] * 3, tmp_path / "b.y4m", fps=5, bgr=True)
    assert (tmp_path / "b.y4m").read_bytes() == data
    assert cv2.VideoCapture(str(path)).get(cv2.CAP_PROP_FPS) == 5
    frames = read_frames(path)
    assert len(frames) == 3
    assert np.abs(frames[1][8, 4].astype(int) - (10, 40, 200)).max() <= 3      # BGR
    assert np.abs(frames[1][8, 20].astype(int) - (90, 180, 20)).max() <= 3
    with pytest.raises(ValueError, match="no frames"):
        write_y4m([], tmp_path / "c.y4m")


def test_vendoring_copies_only_the_files_the_page_loads(tmp_path):
    from phone.web.assets import ORT_FILES, vendor_ort
    dist = _fake_npm_tree(tmp_path / "repo")
    said = []
    dest = tmp_path / "build" / "phone" / "web" / "vendor"
    files = vendor_ort(str(dest), root=str(tmp_path / "repo"), npm="npm-not-needed",
                       say=said.append)
    assert said == []
    assert sorted(os.listdir(dest)) == sorted(ORT_FILES)      # no jsep, no ort.min.js, no temp
    assert [os.path.basename(f) for f in files] == list(ORT_FILES)
    for name in ORT_FILES:
        assert (dest / name).read_bytes() == (dist / name).read_bytes()
        assert os.stat(dest / name).st_mode & 0o444 == 0o444   # readable once installed


def test_vendoring_without_npm_is_one_line(tmp_path):
    from phone.web.assets import vendor_ort
    root = tmp_path / "repo"
    _fake_npm_tree(root, version="1.2.3", pinned="9.9.9")     # node_modules is stale: npm ci
    said = []
    dest = tmp_path / "vendor"
    assert vendor_ort(str(dest), root=str(root), npm="no-such-npm-here", say=said.append) == []
    assert len(said) == 1 and "no-such-npm-here not found" in said[0], said
    assert not dest.exists()


def test_missing_runtime_files_are_one_line_naming_them(tmp_path):
    from phone.errors import ServeError
    from phone.serve import check_page_files
    from phone.web.assets import ORT_FILES, missing_vendor_files
    (tmp_path / ORT_FILES[0]).write_bytes(b"x")
    with pytest.raises(ServeError) as e:
        check_page_files(vendor_dir=str(tmp_path))
    message = str(e.value)
    assert "\n" not in message and message.startswith(f"{tmp_path / ORT_FILES[1]}: missing")
    assert "make venv" in message and "npm" in message
    if not missing_vendor_files():    # this checkout's page (after make venv) is complete
        check_page_files()


def test_the_page_loads_the_pinned_release_and_only_the_vendored_files():
    from phone.web.assets import ORT_FILES, ORT_PACKAGE, pinned_version
    with open(REPO_ROOT / "package-lock.json") as f:
        lock = json.load(f)
    pinned = pinned_version(str(REPO_ROOT))
    assert pinned and pinned[0].isdigit()                   # an exact version, not a range
    assert lock["packages"][f"node_modules/{ORT_PACKAGE}"]["version"] == pinned
    app = (REPO_ROOT / "phone" / "web" / "app.js").read_text()
    assert f"const RUNTIME = './vendor/{ORT_FILES[0]}';" in app
    # no CDN at run time: every script, style and fetch of the page is relative
    html = (REPO_ROOT / "phone" / "web" / "index.html").read_text()
    assert re.findall(r'(?:src|href)="([^"]+)"', html) == ["style.css", "app.js"]
    fetched = re.findall(r"(?:fetch|fetchJSON|import)\((['`])([^'`]*)\1", app)
    assert sorted(u for _, u in fetched) == ["info.json", "model.onnx", "samples.json"]


# ------------------------------------------------------------------ the export cache
@pytest.fixture
def stub_export(monkeypatch, shipped_model):
    """phone.export.export_model replaced by a stub writing b'onnx N';
    shipped_model.segmenter by a stand-in (no TensorFlow). Returns the
    list of calls (``calls.stub.fail = True`` makes it raise)."""
    import phone.export
    import phone.serve

    class Calls(list):
        pass
    calls = Calls()

    def export_model(seg, fmt, out, quiet=False, **kw):
        calls.append((seg, fmt, out))
        if getattr(export_model, "fail", False):
            raise phone.export.ExportError(f"{out}: export does not match detect()")
        with open(out, "wb") as f:
            f.write(f"onnx {len(calls)}".encode())
        return {"verification": {"min_iou": 0.995, "frames": [{}] * 12}}
    monkeypatch.setattr(phone.export, "export_model", export_model)
    monkeypatch.setattr(phone.serve, "_browser_graph", lambda path, seg, say: (0, None))
    monkeypatch.setattr(shipped_model, "segmenter",
                        lambda batch, score=None, image_size=None: ("segmenter", score))
    calls.stub = export_model
    return calls


def test_export_is_cached_per_weights_sha256_and_settings(stub_export, shipped_model):
    from phone.serve import cached_onnx_export
    home = os.environ["MRCNN_HOME"]          # tests/conftest.py: a throw-away user cache
    shutil.rmtree(os.path.join(home, "serve"), ignore_errors=True)
    quiet = [].append
    path, info = cached_onnx_export(shipped_model, say=quiet)
    weights_sha = _sha256(shipped_model.path)
    assert os.path.dirname(path) == os.path.join(home, "serve", weights_sha)
    assert path.endswith(".onnx") and open(path, "rb").read() == b"onnx 1"
    assert len(stub_export) == 1 and stub_export[0][1:] == ("onnx", path)
    assert info["cached"] is False and info["weights_sha256"] == weights_sha
    with open(path[:-5] + ".json") as f:
        stored = json.load(f)
    assert stored["onnx_sha256"] == hashlib.sha256(b"onnx 1").hexdigest()
    assert stored["min_iou"] == 0.995 and stored["frames"] == 12
    assert sorted(os.listdir(os.path.dirname(path))) == sorted(
        [os.path.basename(path), os.path.basename(path)[:-5] + ".json"])   # no temp files

    again, info = cached_onnx_export(shipped_model, say=quiet)            # reused
    assert again == path and info["cached"] is True and len(stub_export) == 1

    with open(path, "wb") as f:                                           # changed behind our back
        f.write(b"onnx X")
    assert cached_onnx_export(shipped_model, say=quiet)[1]["cached"] is False
    assert len(stub_export) == 2 and open(path, "rb").read() == b"onnx 2"

    other, _ = cached_onnx_export(shipped_model, score=0.9, say=quiet)    # other settings
    assert other != path and os.path.dirname(other) == os.path.dirname(path)
    assert stub_export[-1][0] == ("segmenter", 0.9)
    assert cached_onnx_export(shipped_model, say=quiet, refresh=True)[1]["cached"] is False
    assert len(stub_export) == 4


def test_a_failed_export_leaves_nothing_in_the_cache(stub_export, shipped_model, tmp_path):
    from phone.errors import ExportError
    from phone.serve import cached_onnx_export
    stub_export.stub.fail = True
    with pytest.raises(ExportError, match="does not match"):
        cached_onnx_export(shipped_model, cache_root=str(tmp_path / "cache"), say=[].append)
    left = [f for _, _, fs in os.walk(tmp_path / "cache") for f in fs]
    assert left == []


def test_dense_convs_become_one_gemm_with_the_same_output(tmp_path):
    """A conv whose kernel covers its input becomes Flatten -> Gemm ->
    Unsqueeze; a padded 3x3 conv stays; outputs equal numpy's sums."""
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper
    from phone.serve import dense_convs_as_gemm
    rng = np.random.default_rng(0)
    w3 = rng.normal(size=(3, 3, 3, 3)).astype(np.float32)
    w5 = rng.normal(size=(4, 3, 5, 5)).astype(np.float32)
    b5 = rng.normal(size=4).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w3"], ["h"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
         helper.make_node("Conv", ["h", "w5", "b5"], ["y"], kernel_shape=[5, 5])],
        "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 3, 5, 5])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 4, 1, 1]),
         helper.make_tensor_value_info("h", TensorProto.FLOAT, ["n", 3, 5, 5])],
        [numpy_helper.from_array(w3, "w3"), numpy_helper.from_array(w5, "w5"),
         numpy_helper.from_array(b5, "b5")])
    src, dst = tmp_path / "a.onnx", tmp_path / "b.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), src)
    assert dense_convs_as_gemm(str(src), str(dst)) == 1
    out = onnx.load(dst)
    assert [n.op_type for n in out.graph.node] == ["Conv", "Flatten", "Gemm", "Unsqueeze"]
    assert "w5" not in {i.name for i in out.graph.initializer}      # the 4-D kernel is gone
    x = rng.normal(size=(6, 3, 5, 5)).astype(np.float32)
    got, h = ort.InferenceSession(str(dst)).run(["y", "h"], {"x": x})
    want = np.einsum("nchw,fchw->nf", h.astype(np.float64), w5.astype(np.float64)) + b5
    assert got.shape == (6, 4, 1, 1)
    np.testing.assert_allclose(got[:, :, 0, 0], want, rtol=1e-4, atol=1e-4)
    assert dense_convs_as_gemm(str(dst), str(tmp_path / "c.onnx")) == 0   # nothing left
    assert not (tmp_path / "c.onnx").exists()


# ------------------------------------------------------------------ the server
@pytest.fixture
def fake_server(tmp_path):
    """A server of the real page, fake runtime files and a fake model."""
    from phone.serve import make_server
    from phone.web.assets import ORT_FILES
    vendor = tmp_path / "vendor"
    vendor.mkdir()
    for name in ORT_FILES:
        (vendor / name).write_bytes(b"\0asm fake " + name.encode())
    model = tmp_path / "phone-x.onnx"
    model.write_bytes(b"fake onnx model" * 100)
    server = make_server(str(model), info={"weights": "/x/w.h5", "bytes": 1500}, port=0,
                         vendor_dir=str(vendor), samples_dir=str(PHONE_DATA))
    thread = _serving(server)
    yield server, vendor, model
    _stop(server, thread)


def test_server_routes_types_and_isolation_headers(fake_server):
    server, vendor, model = fake_server
    status, h, body = _get(server, "/")
    assert status == 200 and h["content-type"].startswith("text/html")
    assert body == (REPO_ROOT / "phone" / "web" / "index.html").read_bytes()
    assert h["cross-origin-opener-policy"] == "same-origin"
    assert h["cross-origin-embedder-policy"] == "require-corp"
    status, h, body = _get(server, "/vendor/ort-wasm-simd-threaded.wasm")
    assert status == 200 and h["content-type"] == "application/wasm"
    assert body == (vendor / "ort-wasm-simd-threaded.wasm").read_bytes()
    status, h, _ = _get(server, "/vendor/ort.wasm.bundle.min.mjs")
    assert status == 200 and h["content-type"].startswith("text/javascript")
    assert _get(server, "/app.js")[1]["content-type"].startswith("text/javascript")
    status, h, body = _get(server, "/model.onnx")
    assert status == 200 and body == model.read_bytes()
    status, h, body = _get(server, "/model.onnx", method="HEAD")
    assert status == 200 and int(h["content-length"]) == model.stat().st_size and body == b""
    status, _, body = _get(server, "/samples.json")
    assert json.loads(body) == FRAMES and len(FRAMES) >= 4
    status, h, body = _get(server, "/samples/val/C_01_08_000.png")
    assert status == 200 and h["content-type"] == "image/png"
    assert body == (PHONE_DATA / "val" / "C_01_08_000.png").read_bytes()
    assert json.loads(_get(server, "/info.json")[2])["weights"] == "w.h5"
    for bad in ("/vendor/ort.min.js", "/samples/../../setup.py", "/samples/%2e%2e/%2e%2e/setup.py",
                "/../setup.py", "/phone/web/app.js", "/vendor/../../serve.py", "/nope"):
        assert _get(server, bad)[0] == 404, bad


def test_a_missing_model_is_a_404_saying_what_to_do(fake_server):
    server, _, model = fake_server
    server.set_model(None)
    status, _, body = _get(server, "/model.onnx")
    assert status == 503 and b"being exported" in body
    server.set_model(str(model))
    model.unlink()
    status, _, body = _get(server, "/model.onnx")
    assert status == 404 and b"restart phone serve" in body and str(model).encode() in body


@pytest.mark.parametrize("host", ["127.0.0.1", "192.0.2.1"])   # 192.0.2.1: TEST-NET, not ours
def test_an_address_that_cannot_be_used_is_one_line_exit_2(capsys, host):
    from phone.commands import main
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        rc = main(["serve", "--host", host, "--port", str(port), "--weights", "shipped"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1, err
    assert err[0].startswith(f"phone serve: error: {host}:{port}: ")
    assert ("port already in use" if host == "127.0.0.1" else "cannot listen there") in err[0]


def test_bad_port_is_a_usage_error(capsys):
    from phone.commands import main
    assert main(["serve", "--port", "70000"]) == 2
    assert "invalid port '70000'" in capsys.readouterr().err


def test_ctrl_c_stops_the_server_cleanly(tmp_path, shipped_model):
    """`phone serve` in a subprocess with a cached export (planted: no
    TensorFlow, no export): it serves, and SIGINT ends it with status 0."""
    from phone.serve import cache_paths, export_settings
    home = tmp_path / "home"
    model_path, info_path = cache_paths(_sha256(shipped_model.path),
                                        export_settings(shipped_model), str(home / "serve"))
    os.makedirs(os.path.dirname(model_path))
    with open(model_path, "wb") as f:
        f.write(b"planted onnx")
    with open(info_path, "w") as f:
        json.dump({"weights_sha256": _sha256(shipped_model.path),
                   "settings": export_settings(shipped_model), "bytes": 12,
                   "onnx_sha256": hashlib.sha256(b"planted onnx").hexdigest(),
                   "min_iou": 1.0, "frames": 12}, f)
    env = dict(os.environ, MRCNN_HOME=str(home), PYTHONPATH=os.pathsep.join(
        [str(REPO_ROOT), str(REPO_ROOT / "Mask_RCNN")]))
    # SIGINT back to its default in the child: a suite started in the
    # background of a script, or a pytest-xdist worker, has it ignored, the
    # child inherits that, and Python then never raises KeyboardInterrupt.
    proc = subprocess.Popen([sys.executable, "-m", "phone", "serve", "--weights", "shipped",
                             "--port", "0"], cwd=tmp_path, env=env, stderr=subprocess.PIPE,
                            text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        lines = []
        for line in proc.stderr:
            lines.append(line)
            if line.startswith("phone serve: http://"):
                break
        assert lines and lines[-1].startswith("phone serve: http://"), "".join(lines)
        hostport = lines[-1].split("http://")[1].split("/")[0]
        conn = http.client.HTTPConnection(hostport, timeout=10)
        conn.request("GET", "/model.onnx")
        assert conn.getresponse().read() == b"planted onnx"
        conn.close()
        proc.send_signal(signal.SIGINT)
        _, rest = proc.communicate(timeout=60)      # a server that ignored it: fails here
        assert proc.returncode == 0, rest
    finally:
        if proc.poll() is None:
            proc.kill()
    assert rest.strip() == "phone serve: stopped" and "Traceback" not in rest
    assert any("cached ONNX export" in ln for ln in lines), lines


# ------------------------------------------------------------------ the browser
def _chromium_tools():
    return shutil.which("chromium"), shutil.which("chromedriver")


@pytest.fixture(scope="session")
def chromium():
    """(chromium, chromedriver) paths; apt-get installs them where missing
    and we are root, else the test is skipped saying why."""
    pytest.importorskip("selenium", reason="selenium is not installed (pip install "
                                           "'mrcnn-phone[dev]')")
    browser, driver = _chromium_tools()
    if not (browser and driver) and os.geteuid() == 0 and shutil.which("apt-get"):
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run("apt-get update -qq && apt-get install -y -qq chromium chromium-driver",
                       shell=True, env=env, capture_output=True, timeout=1800)
        browser, driver = _chromium_tools()
    if not (browser and driver):
        pytest.skip("chromium and chromium-driver are missing and cannot be installed here "
                    "(needs root and apt-get: apt-get install chromium chromium-driver)")
    return browser, driver


def _y4m_of(video, out):
    """The clip as YUV4MPEG2 (4:2:0), what chromium's fake camera reads."""
    from phone.web.testing import write_y4m
    frames = read_frames(video)
    assert frames, f"{video}: no frames"
    return write_y4m(frames, out, fps=10, bgr=True)


@pytest.fixture(scope="module")
def exported(shipped_model, tmp_path_factory):
    """The shipped model's verified ONNX export (the real one), once."""
    from phone.serve import cached_onnx_export
    path, info = cached_onnx_export(shipped_model, cache_root=str(tmp_path_factory.mktemp("c")),
                                    say=[].append)
    return path, info


@pytest.fixture(scope="module")
def page(exported):
    from phone.serve import check_page_files, make_server
    check_page_files()
    server = make_server(exported[0], info=exported[1], port=0, samples_dir=str(PHONE_DATA))
    thread = _serving(server)
    yield server
    _stop(server, thread)


@pytest.fixture(scope="module")
def browser(chromium, tmp_path_factory):
    from phone.web.testing import headless_chromium
    clip = _y4m_of(REPO_ROOT / "datasets" / "videos" / "phone_demo.mp4",
                   tmp_path_factory.mktemp("clip") / "clip.y4m")
    driver = headless_chromium(clip, binary=chromium[0], driver=chromium[1])
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def segmenter(shipped_model):
    """The Segmenter ``phone segment`` uses (the expected masks)."""
    return shipped_model.segmenter(1)


def _wait(driver, done, timeout=90):
    from phone.web.testing import wait_for_page
    return wait_for_page(driver, done, timeout=timeout)


def _open(driver, server, query):
    """Load the page; wait until it is ready (with ?image=: done) or failed."""
    driver.get(server.url + query)
    final = ("done", "error") if "image=" in query else ("ready", "error")
    return _wait(driver, lambda d: d.get("state") in final)


def _png(data_url):
    """A canvas / link data URL as a [H, W] uint8 (first channel) or RGB."""
    import cv2
    assert data_url.startswith("data:image/png;base64,"), data_url[:40]
    image = cv2.imdecode(np.frombuffer(base64.b64decode(data_url.split(",", 1)[1]), np.uint8),
                         cv2.IMREAD_UNCHANGED)
    return image


@pytest.mark.slow
@pytest.mark.parametrize("frame", FRAMES)
def test_page_mask_equals_phone_segment(page, browser, segmenter, frame, tmp_path):
    from mrcnn.core.metrics import mask_iou
    from phone.segment import segment_file
    mask_path, _, expected = segment_file(segmenter, str(PHONE_DATA / frame), str(tmp_path),
                                          style=None)
    assert (expected == 255).sum() > 1000        # every bundled frame shows a phone
    data = _open(browser, page, f"?image=samples/{frame}")
    assert data["state"] == "done", data.get("error")
    link = browser.find_element("id", "download")
    assert link.get_attribute("download") == os.path.basename(mask_path)   # phone segment's name
    got = _png(link.get_attribute("href"))
    assert got.ndim == 3 and (got[..., 0] == got[..., 1]).all() and (got[..., 0] == got[..., 2]).all()
    got = got[..., 0]
    assert got.shape == expected.shape and set(np.unique(got)) <= {0, 255}
    assert mask_iou(got == 255, expected == 255) >= 0.98
    want = int((expected == 255).sum())
    reported = int(data["phonePixels"])
    assert reported == int((got == 255).sum())
    assert abs(reported - want) <= 0.03 * max(want, 1)
    assert float(data["ms"]) > 0 and (int(data["height"]), int(data["width"])) == expected.shape


@pytest.mark.slow
def test_served_model_is_the_verified_gemm_form(exported):
    import onnx
    path, info = exported
    assert info["convs_as_gemm"] == 1 and info["min_iou"] >= 0.99 and info["frames"] >= 8
    ops = [n.op_type for n in onnx.load(path).graph.node]
    assert ops.count("Gemm") >= 1 and "Flatten" in ops
    assert info["onnx_sha256"] == _sha256(path) and info["bytes"] == os.path.getsize(path)


@pytest.mark.slow
def test_camera_page_segments_the_fake_camera_clip(page, browser, segmenter):
    import cv2
    from mrcnn.core.metrics import mask_iou
    _open(browser, page, "")
    browser.find_element("id", "camera").click()
    data = _wait(browser, lambda d: int(d.get("frames", 0)) >= 5 or d.get("state") == "error")
    assert "error" not in data, data["error"]
    assert float(data["fps"]) > 0 and int(data["frames"]) >= 5
    browser.find_element("id", "camera").click()
    data = _wait(browser, lambda d: d.get("state") in ("stopped", "error"))
    assert data["state"] == "stopped", data.get("error")
    # the last frame the page fed the model, and its mask
    frame = _png(browser.execute_script("return document.getElementById('frame').toDataURL()"))
    frame = cv2.cvtColor(frame, cv2.COLOR_BGRA2RGB)
    assert frame.shape == (256, 256, 3) and frame.std() > 10     # the clip, not a blank frame
    mask = _png(browser.execute_script("return document.getElementById('mask').toDataURL()"))
    bw, _ = segmenter.segment_image(frame)
    assert mask_iou(mask[..., 0] == 255, bw == 255) >= 0.98
    assert int(data["phonePixels"]) == int((mask[..., 0] == 255).sum())


@pytest.mark.slow
@pytest.mark.parametrize("query, message", [
    ("?image=data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAIAAAACA",
     "image: not an image the browser can decode"),
    ("?image=samples/val/no_such_frame.png", "samples/val/no_such_frame.png: HTTP 404"),
])
def test_a_broken_image_is_a_readable_message(page, browser, query, message):
    data = _open(browser, page, query)
    assert data["state"] == "error" and data["error"].startswith(message), data
    box = browser.find_element("id", "error")
    assert box.is_displayed() and box.text == data["error"]
    assert "phonePixels" not in data


@pytest.mark.slow
def test_a_missing_model_is_a_readable_message(page, browser, exported):
    path = exported[0]
    os.rename(path, path + ".away")
    try:
        data = _open(browser, page, "?image=samples/val/C_01_08_000.png")
    finally:
        os.rename(path + ".away", path)
    assert data["state"] == "error", data
    assert data["error"].startswith("Cannot load the model (model.onnx): HTTP 404")
    assert "restart phone serve" in data["error"]
    box = browser.find_element("id", "error")
    assert box.is_displayed() and box.text == data["error"]
    assert "phonePixels" not in data
