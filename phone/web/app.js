// The `phone serve` page: the ONNX export of the phone segmenter run in the
// browser by onnxruntime-web (WASM backend). The page feeds the RGB uint8
// pixels of a frame at its own size; resizing, the score threshold and the
// mask rule are inside the model, so its mask is `phone segment`'s.
//
//   /?image=URL   segment that image; when done <body> has data-phone-pixels
//                 (the mask's count of 255 pixels) and data-ms (model time);
//                 on failure data-error, and the message is shown on the page
//   /?threads=N   WASM threads (default: the server's, /info.json, else one
//                 per core, at most 4); N > 1 needs cross-origin isolation,
//                 which the server's headers give
//
// <body data-state>: loading, ready, running, done, camera, stopped, error.
// Camera runs also keep data-frames, data-fps, data-ms and data-phone-pixels
// of the last frame up to date.

const params = new URLSearchParams(location.search);
const body = document.body;
const $ = (id) => document.getElementById(id);
const RUNTIME = './vendor/ort.wasm.bundle.min.mjs';

let ort = null;
let session = null;
let camera = null;               // {stream, running, done}
let queue = Promise.resolve();   // one session.run at a time

function setState(state) { body.dataset.state = state; }
function setStatus(text) { $('status').textContent = text; }
function sleep(ms) { return new Promise((resolve) => setTimeout(resolve, ms)); }

function showError(message) {
  body.dataset.error = message;
  const box = $('error');
  box.textContent = message;
  box.hidden = false;
  setState('error');
}

function clearResult() {
  for (const key of ['error', 'phonePixels', 'ms', 'width', 'height', 'instances']) {
    delete body.dataset[key];
  }
  $('error').hidden = true;
}

async function fetchJSON(url) {
  const resp = await fetch(url);
  if (!resp.ok) throw new Error(`${url}: HTTP ${resp.status}`);
  return resp.json();
}

// ------------------------------------------------------------------ the model
async function loadModel() {
  const info = await fetchJSON('info.json').catch(() => ({}));
  let threads = info.threads || Math.min(4, navigator.hardwareConcurrency || 1);
  if (params.has('threads')) threads = Math.max(1, parseInt(params.get('threads'), 10) || 1);
  try {
    ort = await import(RUNTIME);
  } catch (e) {
    throw new Error(`Cannot load onnxruntime-web (${RUNTIME.slice(2)}): ${e.message}. ` +
      'Reinstall phone with npm on the PATH, or run make venv in a checkout.');
  }
  // threads need SharedArrayBuffer, i.e. a cross-origin isolated page
  ort.env.wasm.numThreads = self.crossOriginIsolated ? threads : 1;
  const size = info.onnx_bytes ? ` (${(info.onnx_bytes / 1e6).toFixed(1)} MB)` : '';
  setStatus(`Loading the model${size}…`);
  let resp;
  try {
    resp = await fetch('model.onnx');
  } catch (e) {
    throw new Error(`Cannot load the model (model.onnx): ${e.message}; is phone serve still running?`);
  }
  if (!resp.ok) {
    const text = (await resp.text().catch(() => '')).trim();
    throw new Error(`Cannot load the model (model.onnx): HTTP ${resp.status}` +
      (text ? `: ${text}` : ''));
  }
  const bytes = new Uint8Array(await resp.arrayBuffer());
  try {
    session = await ort.InferenceSession.create(bytes, {executionProviders: ['wasm']});
  } catch (e) {
    throw new Error(`Cannot load the model (model.onnx, ${bytes.length} bytes): ${e.message || e}`);
  }
  body.dataset.threads = String(ort.env.wasm.numThreads);
  const parts = [];
  if (info.weights) {
    parts.push(`Model: ${info.weights}` +
      (info.weights_sha256 ? ` (sha256 ${info.weights_sha256.slice(0, 12)}…)` : ''));
  }
  if (info.min_iou != null) {
    parts.push(`ONNX export verified against phone segment on ${info.verified_frames} frames ` +
      `(lowest mask IoU ${Number(info.min_iou).toFixed(4)})`);
  }
  const version = (ort.env.versions && ort.env.versions.web) || '';
  parts.push(`onnxruntime-web ${version} WASM, ${ort.env.wasm.numThreads} thread(s)`);
  $('info').textContent = parts.join(' · ');
}

function rgbOf(image) {
  const {data, width, height} = image;
  const rgb = new Uint8Array(width * height * 3);
  for (let i = 0, j = 0; i < data.length; i += 4, j += 3) {
    rgb[j] = data[i];
    rgb[j + 1] = data[i + 1];
    rgb[j + 2] = data[i + 2];
  }
  return rgb;
}

// Runs the model on an ImageData (RGBA at the frame's size).
function runModel(image) {
  const job = queue.then(async () => {
    const {width: w, height: h} = image;
    const input = new ort.Tensor('uint8', rgbOf(image), [h, w, 3]);
    const t0 = performance.now();
    const out = await session.run({image: input}, ['mask', 'boxes', 'scores']);
    const ms = performance.now() - t0;
    const mask = out.mask.data;
    let pixels = 0;
    for (let i = 0; i < mask.length; i++) if (mask[i] === 255) pixels++;
    return {w, h, mask, boxes: out.boxes.data, scores: out.scores.data,
            n: out.scores.dims[0], ms, pixels};
  });
  queue = job.catch(() => {});
  return job;
}

// ------------------------------------------------------------------ drawing
// The pixels of `source` at w x h, alpha composited on black (as
// phone.imageio.read_image does); kept in the hidden #frame canvas.
function framePixels(source, w, h) {
  const canvas = $('frame');
  canvas.width = w;
  canvas.height = h;
  const ctx = canvas.getContext('2d', {willReadFrequently: true});
  ctx.fillStyle = '#000';
  ctx.fillRect(0, 0, w, h);
  ctx.drawImage(source, 0, 0, w, h);
  return ctx.getImageData(0, 0, w, h);
}

function render(image, r) {
  const maskCanvas = $('mask');
  maskCanvas.width = r.w;
  maskCanvas.height = r.h;
  const mctx = maskCanvas.getContext('2d');
  const bw = mctx.createImageData(r.w, r.h);
  const over = new ImageData(new Uint8ClampedArray(image.data), r.w, r.h);
  for (let i = 0; i < r.mask.length; i++) {
    const v = r.mask[i];
    const k = 4 * i;
    bw.data[k] = bw.data[k + 1] = bw.data[k + 2] = v;
    bw.data[k + 3] = 255;
    if (v) {   // the phone tinted green
      over.data[k] = over.data[k] * 0.6;
      over.data[k + 1] = over.data[k + 1] * 0.6 + 100;
      over.data[k + 2] = over.data[k + 2] * 0.6 + 40;
    }
  }
  mctx.putImageData(bw, 0, 0);
  const overlay = $('overlay');
  overlay.width = r.w;
  overlay.height = r.h;
  const octx = overlay.getContext('2d');
  octx.putImageData(over, 0, 0);
  const line = Math.max(1, Math.round(Math.min(r.w, r.h) / 128));
  octx.lineWidth = line;
  octx.strokeStyle = '#ffd400';
  const size = Math.max(9, 7 * line);
  octx.font = `${size}px sans-serif`;
  octx.textBaseline = 'top';
  for (let k = 0; k < r.n; k++) {
    const [y1, x1, y2, x2] = Array.from(r.boxes.slice(4 * k, 4 * k + 4));
    octx.strokeRect(x1 + line / 2, y1 + line / 2, x2 - x1 - line, y2 - y1 - line);
    const label = Number(r.scores[k]).toFixed(2);   // the score, on the box's corner
    octx.fillStyle = '#ffd400';
    octx.fillRect(x1, y1, octx.measureText(label).width + 2 * line, size + line);
    octx.fillStyle = '#000';
    octx.fillText(label, x1 + line, y1 + line / 2);
  }
}

function report(r) {
  body.dataset.phonePixels = String(r.pixels);
  body.dataset.ms = r.ms.toFixed(1);
  body.dataset.width = String(r.w);
  body.dataset.height = String(r.h);
  body.dataset.instances = String(r.n);
}

// ------------------------------------------------------------------ images
function stemOf(name) {
  const base = name.split(/[?#]/)[0].split('/').pop() || 'image';
  return base.replace(/\.[^.]*$/, '') || 'image';
}

async function segmentBlob(blob, name) {
  if (!session) throw new Error('The model is not loaded yet.');
  let bitmap;
  try {
    bitmap = await createImageBitmap(blob, {colorSpaceConversion: 'none',
                                             premultiplyAlpha: 'none'});
  } catch (e) {
    throw new Error(`${name}: not an image the browser can decode ` +
      `(${blob.type || 'unknown type'}, ${blob.size} bytes)`);
  }
  const image = framePixels(bitmap, bitmap.width, bitmap.height);
  bitmap.close();
  const r = await runModel(image);
  render(image, r);
  const link = $('download');
  link.href = $('mask').toDataURL('image/png');
  link.download = `${stemOf(name)}_mask.png`;
  link.hidden = false;
  report(r);
  setStatus(`${name}: ${r.w}×${r.h}, ${r.n} phone(s), ${r.pixels} mask pixels, ` +
            `model ${r.ms.toFixed(0)} ms`);
  setState('done');
}

async function segmentURL(url) {
  const shown = url.startsWith('data:') ? 'the data: URL' : url;
  let resp;
  try {
    resp = await fetch(url);
  } catch (e) {
    throw new Error(`${shown}: cannot fetch it (${e.message}); an image on another site ` +
      'must allow CORS (Access-Control-Allow-Origin)');
  }
  if (!resp.ok) throw new Error(`${shown}: HTTP ${resp.status} ${resp.statusText}`.trim());
  await segmentBlob(await resp.blob(), url.startsWith('data:') ? 'image' : url);
}

async function job(fn) {
  if (camera) await stopCamera();
  clearResult();
  setState('running');
  try {
    await fn();
  } catch (e) {
    showError(e.message || String(e));
  }
}

// ------------------------------------------------------------------ camera
async function startCamera() {
  if (!window.isSecureContext || !navigator.mediaDevices ||
      !navigator.mediaDevices.getUserMedia) {
    throw new Error(`No camera on ${location.origin}: browsers allow the camera only on ` +
      'https:// or localhost pages (run phone serve on this machine, or behind https).');
  }
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia(
      {video: {width: {ideal: 640}, height: {ideal: 480}}, audio: false});
  } catch (e) {
    throw new Error(`Camera: ${e.name}: ${e.message}`);
  }
  const video = $('video');
  video.srcObject = stream;
  await video.play();
  camera = {stream, running: true};
  camera.done = cameraLoop(camera);
  $('camera').textContent = 'Stop camera';
  $('download').hidden = true;
  setState('camera');
}

async function cameraLoop(cam) {
  const video = $('video');
  const times = [];
  let frames = 0;
  body.dataset.frames = '0';
  body.dataset.fps = '0';
  try {
    while (cam.running) {
      if (video.readyState < 2 || !video.videoWidth) {
        await sleep(10);
        continue;
      }
      const image = framePixels(video, video.videoWidth, video.videoHeight);
      const r = await runModel(image);
      render(image, r);
      frames += 1;
      const now = performance.now();
      times.push(now);
      if (times.length > 30) times.shift();
      const fps = times.length > 1 ? (times.length - 1) * 1000 / (now - times[0]) : 0;
      report(r);
      body.dataset.frames = String(frames);
      body.dataset.fps = fps.toFixed(2);
      setStatus(`Camera: ${fps.toFixed(1)} fps · model ${r.ms.toFixed(0)} ms · ` +
                `${r.w}×${r.h} · ${r.n} phone(s) · frame ${frames}`);
      await sleep(0);
    }
  } catch (e) {
    cam.running = false;
    showError(`Camera frame: ${e.message || e}`);
  }
}

async function stopCamera() {
  const cam = camera;
  if (!cam) return;
  cam.running = false;
  await cam.done;
  for (const track of cam.stream.getTracks()) track.stop();
  camera = null;
  $('camera').textContent = 'Start camera';
  if (body.dataset.state !== 'error') setState('stopped');
}

// ------------------------------------------------------------------ wiring
function wire() {
  $('camera').addEventListener('click', async () => {
    if (camera) {
      await stopCamera();
      return;
    }
    clearResult();
    try {
      await startCamera();
    } catch (e) {
      showError(e.message || String(e));
    }
  });
  $('file').addEventListener('change', (ev) => {
    const file = ev.target.files[0];
    if (file) job(() => segmentBlob(file, file.name));
    ev.target.value = '';
  });
  document.addEventListener('dragover', (ev) => {
    ev.preventDefault();
    body.classList.add('dragging');
  });
  document.addEventListener('dragleave', () => body.classList.remove('dragging'));
  document.addEventListener('drop', (ev) => {
    ev.preventDefault();
    body.classList.remove('dragging');
    const file = ev.dataTransfer.files[0];
    if (file) job(() => segmentBlob(file, file.name));
  });
  window.addEventListener('unhandledrejection', (ev) => {
    showError(`Unexpected error: ${(ev.reason && ev.reason.message) || ev.reason}`);
  });
}

async function listSamples() {
  const names = await fetchJSON('samples.json').catch(() => []);
  const box = $('samples');
  if (!names.length) return;
  box.append('Samples: ');
  for (const name of names) {
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'sample';
    button.textContent = stemOf(name);
    button.title = name;
    button.addEventListener('click', () => job(() => segmentURL(`samples/${name}`)));
    box.append(button);
  }
}

async function main() {
  wire();
  try {
    await loadModel();
  } catch (e) {
    setStatus('The model could not be loaded.');
    showError(e.message || String(e));
    return;
  }
  $('camera').disabled = false;
  setStatus('Ready: start the camera, choose or drop an image, or click a sample.');
  setState('ready');
  await listSamples();
  const url = params.get('image');
  if (url) await job(() => segmentURL(url));
}

main();
