// dynamicnet demo page: no build step. Each tab keeps a server-side session (the prepared input) and
// renders α on demand. Slider moves are coalesced: one request in flight, only the latest α is sent next.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { models: [], maxSide: 512, examples: [] };
// Hooks for tests and the latency benchmark.
window.dn = { renders: 0, events: [] };

// One error banner; each tab clears only its own error, so one tab's success never hides another's failure.
function showError(message, source = "page") {
  const box = $("error");
  box.textContent = message;
  box.dataset.source = source;
  box.hidden = false;
}
function clearError(source = "page") {
  const box = $("error");
  if (box.dataset.source === source) box.hidden = true;
}

async function api(path, options) {
  const response = await fetch(path, options);
  if (!response.ok) {
    let message = `${response.status} ${response.statusText}`;
    try { message = (await response.json()).error || message; } catch (_) { /* not JSON */ }
    const error = new Error(message);
    error.status = response.status;
    throw error;
  }
  return response;
}

// One slider-driven renderer per tab. When a full frame takes long, a reduced-size preview is drawn first;
// when full frames are quick (e.g. a model whose only block feeds the linear output layer) the preview
// would only add a round trip, so it is skipped.
class Renderer {
  constructor(name, img, latencyEl, { preview = true } = {}) {
    Object.assign(this, { name, img, latencyEl, preview });
    this.session = null; this.pending = null; this.busy = false; this.url = null; this.lastFullServerMs = null;
  }
  request(alpha) { this.pending = { alpha, t0: performance.now() }; this.pump(); }
  get usePreview() { return this.preview && (this.lastFullServerMs === null || this.lastFullServerMs > 60); }
  async pump() {
    if (this.busy || !this.pending || !this.session) return;
    const job = this.pending; this.pending = null; this.busy = true;
    try {
      let previewMs = null;
      if (this.usePreview) {
        previewMs = await this.draw(job, true);
        if (this.pending) return;                 // a newer α arrived: skip this full frame
      }
      const fullMs = await this.draw(job, false);
      this.lastFullServerMs = parseFloat(this.serverMs);
      this.latencyEl.textContent = (previewMs === null ? "" : `preview ${previewMs.toFixed(0)} ms · `) +
        `full ${fullMs.toFixed(0)} ms (server ${this.serverMs} ms)`;
    } catch (error) {
      if (error.status !== 409) showError(error.message, this.name);
    } finally {
      this.busy = false;
      this.pump();
    }
  }
  async draw(job, preview) {
    const session = this.session;
    const response = await api(`/api/sessions/${session}/render`, {
      method: "POST", headers: { "Content-Type": "application/json" },
      // Preview frames as JPEG (small, quick); the final frame as PNG so it shows exactly what the model made.
      body: JSON.stringify({ alpha: job.alpha, preview, format: preview ? "jpeg" : "png" }),
    });
    this.serverMs = response.headers.get("X-Compute-Ms");
    const blob = await response.blob();
    if (session !== this.session) {  // another photo was loaded meanwhile: this frame is not its result
      const stale = new Error("superseded"); stale.status = 409; throw stale;
    }
    const url = URL.createObjectURL(blob);
    await new Promise((resolve, reject) => { this.img.onload = resolve; this.img.onerror = reject; this.img.src = url; });
    if (this.url) URL.revokeObjectURL(this.url);
    this.url = url;
    const ms = performance.now() - job.t0;
    this.img.dataset.alpha = JSON.stringify(job.alpha);
    this.img.dataset.kind = preview ? "preview" : "full";
    window.dn.renders += 1;
    if (!job.shown) window.dn.events.push({ tab: this.name, kind: "first", preview, alpha: job.alpha, ms });
    if (!preview) window.dn.events.push({ tab: this.name, kind: "full", alpha: job.alpha, ms });
    job.shown = true;
    clearError(this.name);
    return ms;
  }
}

// A new photo: what is on screen no longer describes it (tests and the benchmark wait for the new frame).
function forget(img) { delete img.dataset.kind; delete img.dataset.alpha; }

function fillModels(select, app) {
  select.innerHTML = "";
  for (const m of state.models.filter((m) => m.application === app)) {
    const option = document.createElement("option");
    option.value = m.name; option.textContent = `${m.name} — ${m.description}`;
    select.appendChild(option);
  }
}
const modelInfo = (name) => state.models.find((m) => m.name === name);

function setRange(slider, output, model) {
  const [lo, hi] = model.alpha_range;
  slider.min = lo; slider.max = hi; slider.value = 0; output.textContent = "0";
  // What the ends mean, in words: "Starry Night ↔ Starry Night, stronger", "sneaker ↔ ankle boot", …
  const labels = model.labels || {};
  const low = lo < 0 ? labels.lower : labels.main, high = labels.higher || model.sets[0] && labels[model.sets[0]];
  let ends = slider.parentElement.querySelector(".ends");
  if (!ends) {
    ends = document.createElement("span"); ends.className = "ends";
    slider.parentElement.appendChild(ends);
  }
  ends.textContent = low && high ? `α = ${lo}: ${low}${lo < 0 ? ` · α = 0: ${labels.main}` : ""} · α = ${hi}: ${high}` : "";
}

// ------------------------------------------------------------------------------------------------ style
const style = { file: null, renderer: null, uploads: 0 };

function styleAlpha() {
  if ($("per-block").checked) {
    return [...$("block-sliders").querySelectorAll("input")].map((s) => parseFloat(s.value));
  }
  return parseFloat($("alpha").value);
}

function buildBlockSliders(model) {
  const box = $("block-sliders");
  box.innerHTML = "";
  model.blocks.forEach((block, i) => {
    const label = document.createElement("label");
    const [lo, hi] = model.alpha_range;
    label.innerHTML = `α<sub>${i}</sub> (${block}) <input type="range" min="${lo}" max="${hi}" step="0.01" value="0" data-block="${i}"> <output>0</output>`;
    const slider = label.querySelector("input");
    slider.addEventListener("input", () => { label.querySelector("output").textContent = slider.value; style.renderer.request(styleAlpha()); });
    box.appendChild(label);
  });
}

async function styleModelChanged() {
  const model = modelInfo($("style-model").value);
  setRange($("alpha"), $("alpha-value"), model);
  buildBlockSliders(model);
  // Two thumbnails of one painting say nothing: then the end labels say what α changes, in words.
  const styles = model.styles || {};
  $("style-thumbs").hidden = styles.main === styles[model.sets[0]];
  if (!$("style-thumbs").hidden) {
    $("style-main").src = `/api/models/${model.name}/style/main`;
    $("style-tuned").src = `/api/models/${model.name}/style/${model.sets[0]}`;
  }
  if (style.file) await styleUpload(style.file);
}

async function styleUpload(file) {
  const ticket = ++style.uploads;  // the latest photo wins, whichever upload answers last
  style.file = file;
  forget($("style-result"));
  $("style-input").src = URL.createObjectURL(file);
  const form = new FormData();
  form.append("model", $("style-model").value);
  form.append("image", file, file.name || "upload.png");
  try {
    const info = await (await api("/api/sessions", { method: "POST", body: form })).json();
    if (ticket !== style.uploads) return;
    style.renderer.session = info.session;
    clearError("style");
    style.renderer.request(styleAlpha());
  } catch (error) {
    if (ticket !== style.uploads) return;
    // A failed upload must not leave the previous photo's result on screen as if it were this one's.
    style.renderer.session = null;
    $("style-result").removeAttribute("src");
    showError(error.message, "style");
  }
}

// Example photos (shipped with the package): one click, no upload needed; the first loads on its own.
async function exampleFile(name) {
  const blob = await (await api(`/api/examples/${name}`)).blob();
  return new File([blob], `${name}.jpg`, { type: blob.type || "image/jpeg" });
}

function addExamples(box, names, load) {
  for (const name of names) {
    const button = document.createElement("button");
    button.type = "button"; button.className = "example"; button.dataset.example = name; button.title = name;
    const thumb = document.createElement("img");
    thumb.src = `/api/examples/${name}`; thumb.alt = name;
    button.appendChild(thumb);
    button.addEventListener("click", async () => {
      try { load(await exampleFile(name)); } catch (error) { showError(error.message); }
    });
    box.appendChild(button);
  }
}

async function downloadPng(event) {
  event.preventDefault();
  if (!style.renderer.session) return;
  try {
    const response = await api(`/api/sessions/${style.renderer.session}/render`, {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ alpha: styleAlpha(), format: "png" }),
    });
    const a = document.createElement("a");
    a.href = URL.createObjectURL(await response.blob());
    a.download = "dynamicnet.png";
    a.click();
  } catch (error) { showError(error.message, "style"); }
}

async function startWebcam() {
  try {
    const stream = await navigator.mediaDevices.getUserMedia({ video: true });
    $("webcam").srcObject = stream; $("webcam").hidden = false; $("webcam-capture").hidden = false;
  } catch (error) { showError(`webcam unavailable: ${error.message}`, "style"); }
}

function captureWebcam() {
  const video = $("webcam");
  const canvas = document.createElement("canvas");
  canvas.width = video.videoWidth; canvas.height = video.videoHeight;
  canvas.getContext("2d").drawImage(video, 0, 0);
  canvas.toBlob((blob) => styleUpload(new File([blob], "webcam.png", { type: "image/png" })), "image/png");
}

function initStyle() {
  style.renderer = new Renderer("style", $("style-result"), $("latency"));
  fillModels($("style-model"), "style");
  $("style-model").addEventListener("change", styleModelChanged);
  $("style-file").addEventListener("change", (e) => e.target.files[0] && styleUpload(e.target.files[0]));
  $("alpha").addEventListener("input", () => { $("alpha-value").textContent = $("alpha").value; style.renderer.request(styleAlpha()); });
  $("per-block").addEventListener("change", () => {
    const on = $("per-block").checked;
    $("block-sliders").hidden = !on; $("alpha").disabled = on;
    style.renderer.request(styleAlpha());
  });
  $("download").addEventListener("click", downloadPng);
  $("webcam-start").addEventListener("click", startWebcam);
  $("webcam-capture").addEventListener("click", captureWebcam);
  const drop = $("drop");
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault(); drop.classList.remove("over");
    if (e.dataTransfer.files[0]) styleUpload(e.dataTransfer.files[0]);
  });
  addExamples($("style-examples"), state.examples, styleUpload);
  styleModelChanged().then(async () => {
    if (style.file || !state.examples.length) return;
    const file = await exampleFile(state.examples[0]);
    if (!style.file) await styleUpload(file);  // unless the user chose a photo while the example downloaded
  });
}

// ------------------------------------------------------------------------------------------------ DC-GAN
const dcgan = { renderer: null };

async function dcganSession() {
  const form = new FormData();
  form.append("model", $("dcgan-model").value);
  form.append("seed", $("dcgan-seed").value || "0");
  form.append("n", "16");
  try {
    const info = await (await api("/api/sessions", { method: "POST", body: form })).json();
    dcgan.renderer.session = info.session;
    clearError("dcgan");
    dcgan.renderer.request(parseFloat($("dcgan-alpha").value));
  } catch (error) { showError(error.message, "dcgan"); }
}

function initDcgan() {
  dcgan.renderer = new Renderer("dcgan", $("dcgan-result"), $("dcgan-latency"), { preview: false });
  fillModels($("dcgan-model"), "dcgan");
  const changed = () => { setRange($("dcgan-alpha"), $("dcgan-alpha-value"), modelInfo($("dcgan-model").value)); dcganSession(); };
  $("dcgan-model").addEventListener("change", changed);
  $("dcgan-seed").addEventListener("change", dcganSession);
  $("dcgan-new").addEventListener("click", () => { $("dcgan-seed").value = Math.floor(Math.random() * 1e6); dcganSession(); });
  $("dcgan-alpha").addEventListener("input", () => {
    $("dcgan-alpha-value").textContent = $("dcgan-alpha").value;
    dcgan.renderer.request(parseFloat($("dcgan-alpha").value));
  });
  changed();
}

// ------------------------------------------------------------------------------------------------ completion
// The photo lives in an offscreen canvas (scaled to the server's working size); a drawn hole is painted white on
// a second offscreen canvas. The visible canvas shows the photo with the hole the server fills painted grey
// (sent with the session: only the server knows the default hole), and in "draw" mode the strokes tinted red.
const completion = { renderer: null, image: null, mask: null, hole: null, drawing: false, uploads: 0, loads: 0 };

function completionRedraw() {
  const view = $("completion-canvas");
  const g = view.getContext("2d");
  g.drawImage(completion.image, 0, 0);
  if (completion.hole) g.drawImage(completion.hole, 0, 0);
  if ($("completion-mask").value === "draw") {
    g.globalAlpha = 0.5; g.drawImage(completion.maskTint, 0, 0); g.globalAlpha = 1;
  }
  view.dataset.hole = completion.hole ? "shown" : "none";
}

function completionShowHole(dataUrl) {
  const hole = new Image();
  hole.onload = () => { if (completion.holeUrl === dataUrl) { completion.hole = hole; completionRedraw(); } };
  completion.holeUrl = dataUrl;
  hole.src = dataUrl;
}

function canvasBlob(canvas) { return new Promise((resolve) => canvas.toBlob(resolve, "image/png")); }

async function completionSession() {
  if (!completion.image) return;
  const ticket = ++completion.uploads;
  forget($("completion-result"));
  completion.hole = null; completion.holeUrl = null;  // the previous hole no longer describes this input
  completionRedraw();
  const form = new FormData();
  form.append("model", $("completion-model").value);
  form.append("image", await canvasBlob(completion.image), "photo.png");
  if ($("completion-mask").value === "draw") form.append("mask_image", await canvasBlob(completion.mask), "mask.png");
  try {
    const info = await (await api("/api/sessions", { method: "POST", body: form })).json();
    if (ticket !== completion.uploads) return;
    completion.renderer.session = info.session;
    completionShowHole(info.hole);
    $("completion-suggested").textContent = "";
    clearError("completion");
    completion.renderer.request(parseFloat($("completion-alpha").value));
  } catch (error) {
    if (ticket !== completion.uploads) return;
    completion.renderer.session = null;
    $("completion-result").removeAttribute("src");
    showError(error.message, "completion");
  }
}

function completionLoad(file) {
  const ticket = ++completion.loads;
  const img = new Image();
  img.onload = () => {
    if (ticket !== completion.loads) return;  // a later photo was chosen while this one decoded
    const scale = Math.min(1, state.maxSide / Math.max(img.width, img.height));
    const w = Math.round(img.width * scale), h = Math.round(img.height * scale);
    for (const key of ["image", "mask", "maskTint"]) {
      completion[key] = document.createElement("canvas");
      completion[key].width = w; completion[key].height = h;
    }
    completion.image.getContext("2d").drawImage(img, 0, 0, w, h);
    const m = completion.mask.getContext("2d");
    m.fillStyle = "black"; m.fillRect(0, 0, w, h);
    $("completion-canvas").width = w; $("completion-canvas").height = h;
    completion.hole = null; completion.holeUrl = null;
    completionRedraw();
    if ($("completion-mask").value === "center") completionSession();
  };
  img.onerror = () => showError(`${file.name}: not an image the browser can read`, "completion");
  img.src = URL.createObjectURL(file);
}

function completionPaint(event) {
  if (!completion.drawing || $("completion-mask").value !== "draw" || !completion.mask) return;
  const view = $("completion-canvas");
  const box = view.getBoundingClientRect();
  const x = (event.clientX - box.left) * view.width / box.width, y = (event.clientY - box.top) * view.height / box.height;
  const r = Math.max(4, view.width / 24);
  for (const [key, color] of [["mask", "white"], ["maskTint", "red"]]) {
    const g = completion[key].getContext("2d");
    g.fillStyle = color; g.beginPath(); g.arc(x, y, r, 0, 2 * Math.PI); g.fill();
  }
  completionRedraw();
}

// What the server says about this session's heavy job, in words.
function jobProgress(job) {
  if (job.state === "queued") {
    return `choosing α for this image: waiting for ${job.ahead} other job${job.ahead === 1 ? "" : "s"}…`;
  }
  if (job.state === "running") return `choosing α for this image… ${Math.round(job.elapsed_s)} s`;
  return "choosing α for this image…";
}

async function completionAuto() {
  const session = completion.renderer.session;
  if (!session) return;
  // Auto α fills the hole at every α of a grid (seconds to minutes on a CPU) and may wait behind other users'
  // jobs: say where it is, and accept no second click meanwhile. The slider keeps working all along.
  const button = $("completion-auto"), text = $("completion-suggested");
  button.disabled = true;
  text.textContent = jobProgress({});
  const current = () => completion.renderer.session === session;
  const poll = setInterval(async () => {
    try {
      const job = await (await api(`/api/sessions/${session}/job`)).json();
      if (current() && button.disabled && job.state !== "idle") text.textContent = jobProgress(job);
    } catch (_) { /* the answer to the job itself reports errors */ }
  }, 500);
  try {
    const response = await api(`/api/sessions/${session}/auto`, { method: "POST" });
    const { alpha } = await response.json();
    if (!current()) return;  // another photo or hole was loaded meanwhile: this α was chosen for the old one
    $("completion-alpha").value = alpha; $("completion-alpha-value").textContent = alpha;
    text.textContent = `suggested α = ${alpha}`;
    completion.renderer.request(alpha);
  } catch (error) {
    if (!current()) return;
    text.textContent = "";
    showError(error.message, "completion");
  } finally {
    clearInterval(poll);
    button.disabled = false;
  }
}

function initCompletion() {
  completion.renderer = new Renderer("completion", $("completion-result"), $("completion-latency"), { preview: false });
  fillModels($("completion-model"), "completion");
  setRange($("completion-alpha"), $("completion-alpha-value"), modelInfo($("completion-model").value));
  $("completion-model").addEventListener("change", () => {
    setRange($("completion-alpha"), $("completion-alpha-value"), modelInfo($("completion-model").value));
    completionSession();
  });
  $("completion-file").addEventListener("change", (e) => e.target.files[0] && completionLoad(e.target.files[0]));
  $("completion-mask").addEventListener("change", () => {
    const draw = $("completion-mask").value === "draw";
    $("completion-apply").hidden = !draw;
    if (completion.image) { completionRedraw(); if (!draw) completionSession(); }
  });
  $("completion-apply").addEventListener("click", completionSession);
  $("completion-auto").addEventListener("click", completionAuto);
  const view = $("completion-canvas");
  view.addEventListener("pointerdown", (e) => { completion.drawing = true; completionPaint(e); });
  view.addEventListener("pointermove", completionPaint);
  window.addEventListener("pointerup", () => { completion.drawing = false; });
  $("completion-alpha").addEventListener("input", () => {
    $("completion-alpha-value").textContent = $("completion-alpha").value;
    completion.renderer.request(parseFloat($("completion-alpha").value));
  });
  addExamples($("completion-examples"), state.examples, completionLoad);
  if (state.examples.length) {
    exampleFile(state.examples[0])
      .then((file) => { if (completion.loads === 0) completionLoad(file); })  // a user's photo came first
      .catch((e) => showError(e.message));
  }
}

// ------------------------------------------------------------------------------------------------ tabs
const INIT = { style: initStyle, dcgan: initDcgan, completion: initCompletion };

function showTab(app) {
  for (const section of document.querySelectorAll(".tab")) section.hidden = section.dataset.app !== app;
  for (const button of document.querySelectorAll("#tabs button")) button.setAttribute("aria-selected", button.dataset.app === app);
}

async function main() {
  try {
    const info = await (await api("/api/models")).json();
    state.models = info.models; state.maxSide = info.max_side;
    $("device").textContent = `running on ${info.device}`;
    state.examples = (await (await api("/api/examples")).json()).examples;
  } catch (error) { showError(error.message); return; }
  const apps = [...new Set(state.models.map((m) => m.application))].filter((a) => $(`tab-${a}`));
  for (const app of apps) {
    const button = document.createElement("button");
    button.type = "button"; button.dataset.app = app; button.id = `tab-button-${app}`;
    button.textContent = { style: "Style", dcgan: "DC-GAN", completion: "Completion" }[app] || app;
    button.addEventListener("click", () => showTab(app));
    $("tabs").appendChild(button);
    if (INIT[app]) INIT[app]();
  }
  if (apps.length) showTab(apps[0]);
  window.dn.ready = true;
}
main();
