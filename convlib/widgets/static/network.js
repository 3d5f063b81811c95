// NetworkView: a trained network's feature maps, computed here in the page.
// The network arrives as data (layers with base-64 float32 weights, BatchNorm
// already folded into a scale and shift); pick an image (or open one of your
// own), paint on it, and the forward pass runs again: every stage's maps and
// the class probabilities.

const NV_STYLE_ID = "convlib-network-style";
const NV_CSS = `
.cl-nv canvas { image-rendering: pixelated; border: 1px solid #d9e2ec; border-radius: 2px;
  max-width: 100%; height: auto; }  /* a wide strip (LeNet's flatten stage) shrinks on a phone */
.cl-nv-thumbs { display: flex; flex-wrap: wrap; gap: 6px; }
.cl-nv-thumb { display: flex; flex-direction: column; align-items: center; gap: 2px; padding: 3px;
  border: 2px solid transparent; border-radius: 4px; background: none; cursor: pointer; font: inherit; font-size: 11px; }
.cl-nv-thumb[aria-pressed="true"] { border-color: #2b8a3e; background: #ebfbee; }
.cl-nv-input canvas { cursor: crosshair; touch-action: none; }
.cl-nv-stage { display: flex; flex-direction: column; gap: 4px; }
.cl-nv-stage-label { font-size: 12px; color: #52606d; }
.cl-nv-note { font-size: 12px; color: #52606d; max-width: 60em; }
.cl-nv-note:empty { display: none; }
.cl-nv-class { gap: 1px; }
.cl-nv-maps { display: flex; flex-wrap: wrap; gap: 3px; align-items: flex-end; }
.cl-nv-probs { display: grid; grid-template-columns: max-content 160px max-content max-content; gap: 2px 8px; align-items: center;
  font-size: 12px; }
.cl-nv-head { font-size: 11px; color: #52606d; }
.cl-nv-bar { height: 12px; background: #e4e7eb; border-radius: 2px; overflow: hidden; }
.cl-nv-bar > div { height: 100%; background: #7f9cf5; }
.cl-nv-probs .cl-nv-top { font-weight: 700; }
.cl-nv-probs .cl-nv-top .cl-nv-bar > div, .cl-nv-bar.cl-nv-top > div { background: #2b8a3e; }
.cl-nv-maps canvas[role="button"] { cursor: pointer; }
.cl-nv-maps canvas.cl-nv-picked { outline: 3px solid #e8590c; outline-offset: 1px; }
.cl-nv-rows { display: flex; flex-direction: column; gap: 10px; }
.cl-nv-detail { display: flex; gap: 14px; align-items: flex-start; flex-wrap: wrap; }
.cl-nv-detail:empty { display: none; }
.cl-nv-kernels { display: flex; flex-direction: column; gap: 4px; }
.cl-nv-big { position: relative; align-self: flex-start; }
.cl-nv-big canvas { cursor: crosshair; }
.cl-nv-big canvas:focus { outline: 2px solid #7f9cf5; outline-offset: 2px; }
.cl-nv-mark { position: absolute; box-sizing: border-box; border: 2px solid #e8590c; pointer-events: none; }
.cl-nv-sum { font-size: 12px; font-variant-numeric: tabular-nums; }
.cl-nv-tools { display: flex; gap: 8px; align-items: center; flex-wrap: wrap; }
.cl-nv-tools button { font: inherit; font-size: 12px; padding: 2px 8px; border: 1px solid #9aa5b1; border-radius: 4px;
  background: #fff; cursor: pointer; }
.cl-nv-tools button[aria-pressed="true"] { background: #c3dafe; border-color: #7f9cf5; }
.cl-nv-tools input[type="file"] { position: absolute; width: 1px; height: 1px; opacity: 0; overflow: hidden; }
@media (max-width: 480px) {  /* a phone: a shorter bar, so the scores column fits */
  .cl-nv-probs { grid-template-columns: max-content 72px max-content max-content; gap: 2px 5px; } }
`;

// Base-64 float32 (little-endian) -> { shape, data: Float32Array }.
function nvUnpack(packed) {
  const bin = atob(packed.b64);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return { shape: packed.shape, data: new Float32Array(bytes.buffer) };
}

function nvDecodeLayers(layers) {
  return layers.map((layer) => {
    const out = { ...layer };
    for (const key of ["weight", "bias", "scale", "shift"]) if (layer[key]) out[key] = nvUnpack(layer[key]);
    return out;
  });
}

// Outputs along one axis of n cells for a window of k cells spaced d apart, stride s, padding p:
// rounded down, or in ceil mode up, keeping a last window only if it starts inside the input or its
// left padding (PyTorch's rule; convlib.pool.pool_geometry).
function nvOutSize(n, k, s, p, d = 1, ceil = false) {
  const room = n + 2 * p - (d * (k - 1) + 1);
  const o = (ceil ? Math.ceil(room / s) : Math.floor(room / s)) + 1;
  return ceil && (o - 1) * s >= n + p ? o - 1 : o;
}

// Which cell of a side of n a convolution reads at position r (-1 for a zero of the padding): the
// cell itself inside the input; beyond it, under padding_mode, the cell the padding copies
// (reflect: mirrored about the edge cell; replicate: the edge cell; circular: wrapped around).
function nvPadIndex(r, n, mode = "zeros") {
  if (r >= 0 && r < n) return r;
  if (mode === "reflect") return r < 0 ? -r : 2 * (n - 1) - r;
  if (mode === "replicate") return r < 0 ? 0 : n - 1;
  if (mode === "circular") return ((r % n) + n) % n;
  return -1;
}

// A convolution's settings, with the defaults of a plain one filled in.
function nvConvGeometry(conv) {
  const [O, I, kh, kw] = conv.weight.shape, groups = conv.groups ?? 1;
  return { O, I, kh, kw, stride: conv.stride, padding: conv.padding, dilation: conv.dilation ?? [1, 1],
    mode: conv.padding_mode ?? "zeros", perGroup: O / groups };
}

// For each output position along one axis and each kernel tap, the input cell read (-1: a zero).
function nvTaps(n, out, k, s, p, d, mode) {
  const taps = new Int32Array(out * k);
  for (let i = 0; i < out; i++) for (let a = 0; a < k; a++) taps[i * k + a] = nvPadIndex(i * s + a * d - p, n, mode);
  return taps;
}

function nvIsPool(kind) {
  return kind === "maxpool" || kind === "avgpool" || kind === "adaptive_maxpool" || kind === "adaptive_avgpool";
}

// [H_out, W_out] of a pooling layer on an H x W map (an adaptive side given as null keeps the input's).
function nvPoolSize(pool, H, W) {
  if (pool.kind.startsWith("adaptive")) return [pool.output[0] ?? H, pool.output[1] ?? W];
  const d = pool.dilation ?? [1, 1];
  return [0, 1].map((a) => nvOutSize([H, W][a], pool.kernel[a], pool.stride[a], pool.padding[a], d[a], !!pool.ceil_mode));
}

// The input rows (axis 0) or columns (axis 1) that output i of a pooling layer reads, n cells on that
// axis, out outputs: adaptive pooling's floor(i n / out) to ceil((i + 1) n / out) - 1
// (convlib.pool.adaptive_window), else k cells spaced d apart from i s - p. A position outside
// 0..n-1 is padding, or, in ceil mode, past it.
function nvPoolAxis(pool, axis, n, out, i) {
  if (pool.kind.startsWith("adaptive")) {
    const start = Math.floor((i * n) / out), end = Math.ceil(((i + 1) * n) / out);
    return Array.from({ length: end - start }, (_, a) => start + a);
  }
  const k = pool.kernel[axis], s = pool.stride[axis], p = pool.padding[axis], d = (pool.dilation ?? [1, 1])[axis];
  return Array.from({ length: k }, (_, a) => i * s + a * d - p);
}

// Output (i, j) of channel c of a pooling layer on x ({ shape: [C, H, W] }), with how it comes about:
// the input rows and columns of its window, its values (null off the input), the max (and which cell
// gave it) or the sum over the divisor. The divisor is F.avg_pool2d's: divisor_override if set, else the
// cells inside the input and its padding (count_include_pad, padded zeros count), or inside the input only;
// cells a ceil_mode window hangs past the padding never count. Adaptive windows hold input cells only.
function nvPoolCell(pool, x, c, [i, j], [Ho, Wo]) {
  const [, H, W] = x.shape, isMax = pool.kind.endsWith("maxpool");
  const rows = nvPoolAxis(pool, 0, H, Ho, i), cols = nvPoolAxis(pool, 1, W, Wo, j);
  const window = [];
  for (const r of rows) for (const q of cols) window.push(r >= 0 && r < H && q >= 0 && q < W ? x.data[(c * H + r) * W + q] : null);
  let pick = null, z, divisor = null;
  if (isMax) {
    window.forEach((v, k) => { if (v !== null && (pick === null || v > window[pick])) pick = k; });
    z = pick === null ? -Infinity : window[pick];
  } else {
    const [ph, pw] = pool.padding ?? [0, 0];
    const inside = (cells, n, p) => cells.filter((r) => r >= -p && r < n + p).length;  // input or its padding
    if (pool.divisor != null) divisor = pool.divisor;
    else if (pool.count_include_pad ?? true) divisor = inside(rows, H, ph) * inside(cols, W, pw);
    else divisor = inside(rows, H, 0) * inside(cols, W, 0);
    z = window.reduce((acc, v) => acc + (v ?? 0), 0) / divisor;
  }
  return { rows, cols, window, pick, z, divisor };
}

// One layer on one image. Tensors are { shape: [C, H, W] or [n], data: Float64Array }.
function nvApply(layer, x) {
  const [C, H, W] = x.shape;
  if (layer.kind === "conv") {
    const { O, I, kh, kw, stride: [sh, sw], padding: [ph, pw], dilation: [dh, dw], mode, perGroup } = nvConvGeometry(layer);
    const w = layer.weight.data, b = layer.bias.data;
    const Ho = nvOutSize(H, kh, sh, ph, dh), Wo = nvOutSize(W, kw, sw, pw, dw);
    const rows = nvTaps(H, Ho, kh, sh, ph, dh, mode), cols = nvTaps(W, Wo, kw, sw, pw, dw, mode);
    const y = new Float64Array(O * Ho * Wo);
    for (let o = 0; o < O; o++) {
      const first = Math.floor(o / perGroup) * I;  // the first input channel of o's group
      for (let i = 0; i < Ho; i++) for (let j = 0; j < Wo; j++) {
        let acc = b[o];
        for (let c = 0; c < I; c++) for (let a = 0; a < kh; a++) {
          const r = rows[i * kh + a];
          if (r < 0) continue;
          for (let e = 0; e < kw; e++) {
            const q = cols[j * kw + e];
            if (q >= 0) acc += w[((o * I + c) * kh + a) * kw + e] * x.data[((first + c) * H + r) * W + q];
          }
        }
        y[(o * Ho + i) * Wo + j] = acc;
      }
    }
    return { shape: [O, Ho, Wo], data: y };
  }
  if (layer.kind === "affine" || layer.kind === "normalize") {
    const per = x.shape.length === 3 ? H * W : 1, s = layer.scale.data, t = layer.shift.data;
    return { shape: x.shape, data: x.data.map((v, k) => v * s[Math.floor(k / per)] + t[Math.floor(k / per)]) };
  }
  if (layer.kind === "relu") return { shape: x.shape, data: x.data.map((v) => (v > 0 ? v : 0)) };
  if (layer.kind === "sigmoid") return { shape: x.shape, data: x.data.map((v) => 1 / (1 + Math.exp(-v))) };
  if (layer.kind === "tanh") return { shape: x.shape, data: x.data.map(Math.tanh) };
  if (nvIsPool(layer.kind)) {
    const [Ho, Wo] = nvPoolSize(layer, H, W);
    const y = new Float64Array(C * Ho * Wo);
    for (let c = 0; c < C; c++) for (let i = 0; i < Ho; i++) for (let j = 0; j < Wo; j++) {
      y[(c * Ho + i) * Wo + j] = nvPoolCell(layer, x, c, [i, j], [Ho, Wo]).z;
    }
    return { shape: [C, Ho, Wo], data: y };
  }
  if (layer.kind === "flatten") return { shape: [x.data.length], data: x.data };
  // linear
  const [O, I] = layer.weight.shape, w = layer.weight.data, b = layer.bias.data;
  const y = new Float64Array(O);
  for (let o = 0; o < O; o++) {
    let acc = b[o];
    for (let i = 0; i < I; i++) acc += w[o * I + i] * x.data[i];
    y[o] = acc;
  }
  return { shape: [O], data: y };
}

// Every layer's output for image x ({ shape: [C, H, W], data }).
function nvForward(layers, x) {
  const outs = [];
  let h = { shape: x.shape, data: Float64Array.from(x.data) };
  for (const layer of layers) { h = nvApply(layer, h); outs.push(h); }
  return outs;
}

function nvSoftmax(v) {
  const m = Math.max(...v), e = Array.from(v, (z) => Math.exp(z - m)), s = e.reduce((a, b) => a + b, 0);
  return e.map((z) => z / s);
}

// Draw channel(s) of a map on a canvas: gray/RGB for images, a colour scale for activations.
function nvPaint(canvas, t, { channel = null, lo = 0, hi = 1, scale = 2 } = {}) {
  const [C, H, W] = t.shape.length === 3 ? t.shape : [1, 1, t.shape[0]];
  canvas.width = W; canvas.height = H;
  canvas.style.width = `${W * scale}px`;
  canvas.style.height = t.shape.length === 3 ? `${H * scale}px` : "12px";  // a vector: one tall strip
  const ctx = canvas.getContext("2d"), img = ctx.createImageData(W, H);
  const span = hi - lo || 1, signed = lo < 0;
  for (let k = 0; k < H * W; k++) {
    let rgb;
    if (channel === null) {  // the image itself
      const at = (c) => Math.round(255 * Math.min(1, Math.max(0, t.data[c * H * W + k])));
      rgb = C === 3 ? [at(0), at(1), at(2)] : [at(0), at(0), at(0)];
    } else {
      const v = t.data[channel * H * W + k];
      if (signed) {  // blue below zero, red above
        const u = Math.min(1, Math.abs(v) / Math.max(Math.abs(lo), Math.abs(hi), 1e-12));
        rgb = v < 0 ? [255 * (1 - u), 255 * (1 - u * 0.6), 255] : [255, 255 * (1 - u * 0.8), 255 * (1 - u)];
      } else {  // white to dark blue
        const u = Math.min(1, Math.max(0, (v - lo) / span));
        rgb = [255 - 230 * u, 255 - 200 * u, 255 - 110 * u];
      }
    }
    img.data.set([Math.round(rgb[0]), Math.round(rgb[1]), Math.round(rgb[2]), 255], 4 * k);
  }
  ctx.putImageData(img, 0, 0);
}

// How output (i, j) of channel o of a conv layer comes about, for input x ({ shape: [C, H, W] }):
// for each input channel of o's group (all of them without groups), the window its kernel meets
// (cells spaced by the dilation; where it hangs over the padding, zeros or the cells padding_mode
// copies) and its sum against the kernel; the bias, z = their total, then each following
// per-channel layer (BatchNorm, activation) applied to z.
function nvNeuron(conv, x, o, [i, j], after) {
  const { I, kh, kw, stride: [sh, sw], padding: [ph, pw], dilation: [dh, dw], mode, perGroup } = nvConvGeometry(conv);
  const [, H, W] = x.shape, w = conv.weight.data, first = Math.floor(o / perGroup) * I;
  const windows = [], partials = [], channels = [];
  for (let c = 0; c < I; c++) {
    const win = new Float64Array(kh * kw);
    let acc = 0;
    for (let a = 0; a < kh; a++) for (let e = 0; e < kw; e++) {
      const r = nvPadIndex(i * sh + a * dh - ph, H, mode), q = nvPadIndex(j * sw + e * dw - pw, W, mode);
      const v = r >= 0 && q >= 0 ? x.data[((first + c) * H + r) * W + q] : 0;
      win[a * kw + e] = v;
      acc += v * w[((o * I + c) * kh + a) * kw + e];
    }
    windows.push({ shape: [1, kh, kw], data: win });
    partials.push(acc);
    channels.push(first + c);
  }
  const bias = conv.bias.data[o], z = partials.reduce((a, b) => a + b, bias);
  return { windows, partials, channels, bias, z, ...nvSteps(after, o, z) };
}

// How output (i, j) of channel c of a pooling layer comes about (nvPoolCell, the computation
// nvApply runs), then any per-channel layers after it.
function nvPoolNeuron(pool, x, c, [i, j], after) {
  const cell = nvPoolCell(pool, x, c, [i, j], nvPoolSize(pool, x.shape[1], x.shape[2]));
  return { ...cell, ...nvSteps(after, c, cell.z) };
}

// The row of class maps, or -1: when the last stage is global average pooling (then at most a
// flatten) over one map per class, as in NiN, the maps of the stage before it are class maps and
// each class's score is the mean of its map (NetworkView.class_map_stage, in Python).
function nvClassMapStage(layers, stages, outs, classes) {
  if (stages.length < 2) return -1;
  const last = stages[stages.length - 1], pool = layers[last.main];
  const plain = layers.slice(last.main + 1, last.end + 1).every((layer) => layer.kind === "flatten");
  if (pool.kind !== "adaptive_avgpool" || pool.output[0] !== 1 || pool.output[1] !== 1 || !plain) return -1;
  const maps = outs[stages[stages.length - 2].end];
  return maps.shape.length === 3 && maps.shape[0] === classes ? stages.length - 2 : -1;
}

// The per-channel layers after a stage's first layer (BatchNorm, activation) applied to one
// value z of channel o: each step's name and result, and the final value.
function nvSteps(after, o, z) {
  let value = z;
  const steps = after.map((layer) => {
    value = layer.kind === "affine" ? value * layer.scale.data[o] + layer.shift.data[o]
      : nvApply(layer, { shape: [1], data: Float64Array.of(value) }).data[0];
    return { name: nvStepName(layer, o), value };
  });
  return { steps, value };
}

function nvStepName(layer, o) {
  if (layer.kind === "affine") return `BatchNorm: × ${clFmt(layer.scale.data[o])} + ${clFmt(layer.shift.data[o])}`;
  return { relu: "ReLU: max(0, ·)", sigmoid: "sigmoid", tanh: "tanh" }[layer.kind] ?? layer.kind;
}

// An image file -> { shape: [C, H, W], data } in [0, 1]: its central square, scaled to H x W
// (grey as 0.299 R + 0.587 G + 0.114 B when C is 1). An image of exactly H x W comes through unchanged.
async function nvReadImage(file, [C, H, W]) {
  const bitmap = await createImageBitmap(file);
  const side = Math.min(bitmap.width, bitmap.height);
  const canvas = document.createElement("canvas");
  canvas.width = W;
  canvas.height = H;
  const ctx = canvas.getContext("2d");
  ctx.imageSmoothingQuality = "high";
  ctx.drawImage(bitmap, (bitmap.width - side) / 2, (bitmap.height - side) / 2, side, side, 0, 0, W, H);
  const rgba = ctx.getImageData(0, 0, W, H).data, n = H * W;
  const data = new Float64Array(C * n);
  for (let i = 0; i < n; i++) {
    const r = rgba[4 * i] / 255, g = rgba[4 * i + 1] / 255, b = rgba[4 * i + 2] / 255;
    if (C === 1) data[i] = 0.299 * r + 0.587 * g + 0.114 * b;
    else [data[i], data[n + i], data[2 * n + i]] = [r, g, b];
  }
  return { shape: [C, H, W], data };
}

function render({ model, el }) {
  clStyle();
  clStyle(NV_STYLE_ID, NV_CSS);
  const root = clEl("div", { class: "cl-root cl-nv" });
  el.append(root);
  const layers = nvDecodeLayers(model.get("layers"));
  const classes = model.get("classes"), labels = model.get("labels");
  let stages = model.get("stages");  // rows of maps: grouped (conv · BatchNorm · ReLU) or one per layer
  const images = model.get("images").map(nvUnpack);
  let pixels = null, brush = 1, painting = false, own = false;  // own: the learner's image, no true class

  const title = model.get("title");
  if (title) root.append(clEl("div", { class: "cl-title", text: title }));
  const thumbs = images.map((img, k) => {
    const canvas = clEl("canvas");
    nvPaint(canvas, img, { scale: 1.5 });
    const name = labels[k] >= 0 ? classes[labels[k]] : `image ${k}`;
    return clEl("button", { class: "cl-nv-thumb", type: "button", "data-testid": `thumb-${k}`,
      "aria-label": `show image ${k}: ${name}`, onclick: () => { model.set("image", k); model.save_changes(); } },
    [canvas, clEl("span", { text: name })]);
  });
  const input = clEl("canvas", { "data-testid": "input", "aria-label": "the input image: drag to paint on it" });
  const tool = (label, value) => clEl("button", { type: "button", "data-testid": `tool-${label.toLowerCase()}`,
    "aria-pressed": String(brush === value), text: label,
    onclick: () => { brush = value; tools.forEach((b) => b.setAttribute("aria-pressed", String(b === (value ? paintBtn : eraseBtn)))); } });
  const paintBtn = tool("Paint", 1), eraseBtn = tool("Erase", 0);
  const tools = [paintBtn, eraseBtn];
  const reset = clEl("button", { type: "button", "data-testid": "reset", text: "Reset image", onclick: () => load() });
  const invert = clEl("button", { type: "button", "data-testid": "invert", text: "Invert",
    "aria-label": "invert the image: dark becomes light", onclick: () => { pixels.data = pixels.data.map((v) => 1 - v); update(); } });
  const file = clEl("input", { type: "file", accept: "image/*", "data-testid": "upload", tabindex: "-1",
    "aria-label": "open an image file of your own" });
  const open = clEl("button", { type: "button", "data-testid": "open", text: "Your image…",
    "aria-label": "open an image of your own: its central square is scaled to the network's input size",
    onclick: () => file.click() });
  file.addEventListener("change", async () => {
    const chosen = file.files[0];
    file.value = "";
    if (!chosen) return;
    try {
      pixels = await nvReadImage(chosen, pixels.shape);
    } catch (error) {
      verdict.textContent = `could not read ${chosen.name} as an image`;
      return;
    }
    own = true;
    thumbs.forEach((b) => b.setAttribute("aria-pressed", "false"));
    update();
  });
  const probs = clEl("div", { class: "cl-nv-probs", "data-testid": "probs", role: "group", "aria-label": "class probabilities and scores" });
  const verdict = clEl("div", { class: "cl-math", "data-testid": "verdict", "aria-live": "polite" });
  let picked = null;  // { stage, channel } whose kernels are shown, or null
  const makeViews = () => stages.slice(0, -1).map((stage, s) => {
    const first = layers[stage.main];
    const maps = clEl("div", { class: "cl-nv-maps", "data-testid": `stage-${s}` });
    const detail = clEl("div", { class: "cl-nv-detail", "data-testid": `detail-${s}` });
    const label = clEl("div", { class: "cl-nv-stage-label", "data-testid": `stage-label-${s}` });
    const note = clEl("div", { class: "cl-nv-note", "data-testid": `stage-note-${s}` });
    return { maps, detail, note, canvases: [], built: "", conv: first.kind === "conv" ? first : null,
      pool: nvIsPool(first.kind) ? first : null,
      el: clEl("div", { class: "cl-nv-stage" }, [label, note, maps, detail]) };
  });
  let stageViews = makeViews();
  const rows = clEl("div", { class: "cl-nv-rows" }, stageViews.map((v) => v.el));
  const everyLayer = clEl("button", { type: "button", "data-testid": "every-layer", "aria-pressed": "false",
    text: "Every layer", "aria-label": "show every layer as its own row: convolution, BatchNorm and activation apart",
    onclick: () => {
      const on = everyLayer.getAttribute("aria-pressed") !== "true";
      everyLayer.setAttribute("aria-pressed", String(on));
      stages = model.get(on ? "layer_stages" : "stages");
      picked = null;
      stageViews = makeViews();
      rows.replaceChildren(...stageViews.map((v) => v.el));
      update();
    } });
  root.append(
    clEl("div", { class: "cl-nv-thumbs" }, thumbs),
    clEl("div", { class: "cl-row" }, [
      clEl("div", { class: "cl-figure cl-nv-input" }, [input,
        clEl("div", { class: "cl-nv-tools" }, [paintBtn, eraseBtn, reset]),
        clEl("div", { class: "cl-nv-tools" }, [open, file, invert]),
        clEl("div", { class: "cl-nv-tools" }, [everyLayer])]),
      clEl("div", { class: "cl-figure" }, [probs, verdict]),
    ]),
    rows,
    clEl("div", { class: "cl-hint", text: "Click an image to load it; drag on the large copy to paint (or erase) pixels. Each row shows one stage's output, one small map per channel (darker = larger), on a shared scale; click a map of a convolution stage to see the kernels that make it, or of a pooling stage to see its windows; \"Every layer\" splits each row into its layers (a convolution's raw output, blue below zero, then BatchNorm, then the activation). The last stage's scores become the probabilities. \"Your image…\" scales a photo's central square down to the input size"
      + (images[0].shape[0] === 1 ? "; the training images are light objects on a dark background, so a photo on white wants Invert." : ".") }),
  );

  function load() {
    const img = images[model.get("image")];
    pixels = { shape: img.shape, data: Float64Array.from(img.data) };
    own = false;
    thumbs.forEach((b, k) => b.setAttribute("aria-pressed", String(k === model.get("image"))));
    update();
  }

  function update() {
    nvPaint(input, pixels, { scale: 6 });
    const outs = nvForward(layers, pixels);
    const z = outs[stages[stages.length - 1].end].data;
    const classRow = nvClassMapStage(layers, stages, outs, classes.length);
    stageViews.forEach((view, s) => {
      const out = outs[stages[s].end];
      const lo = Math.min(0, ...out.data), hi = Math.max(...out.data);
      const per = out.shape.length === 3 ? out.shape[0] : 1, isClass = s === classRow;
      view.el.querySelector(".cl-nv-stage-label").textContent = `${stages[s].label}: ${out.shape.join("×")}`
        + `, from ${clFmt(lo)} to ${clFmt(hi)}`;
      view.note.textContent = isClass ? "Class maps: one per class, named under it. Global average pooling turns "
        + "each map into its class's score z, the mean of its cells (under the name): the darker a region of a map, "
        + "the more it votes for that class." : "";
      if (view.built !== `${per} ${isClass}`) {
        // One Tab stop per stage (a CIFAR stage has up to 128 maps): arrow keys move between its maps.
        const what = (c) => (isClass ? `class map ${c}, ${classes[c]}` : `channel ${c}`);
        view.canvases = Array.from({ length: per }, (_, c) => (view.conv || view.pool
          ? clEl("canvas", { title: what(c), role: "button", tabindex: c === 0 ? "0" : "-1",
            "aria-pressed": "false", "data-testid": `map-${s}-${c}`,
            "aria-label": view.conv ? `${what(c)}: show the kernels that make it (arrow keys: other channels)`
              : `${what(c)}: enlarge it to see its pooling windows (arrow keys: other channels)`,
            onclick: () => pick(s, c), onkeydown: (e) => mapKey(e, view, s, c) })
          : clEl("canvas", { title: what(c) })));
        view.means = isClass ? view.canvases.map(() => clEl("div", { class: "cl-caption cl-nv-mean" })) : [];
        view.maps.replaceChildren(...(isClass ? view.canvases.map((canvas, c) => clEl("div", { class: "cl-figure cl-nv-class",
          "data-testid": `class-map-${c}` }, [canvas, clEl("div", { class: "cl-caption", text: classes[c] }), view.means[c]]))
          : view.canvases));
        view.built = `${per} ${isClass}`;
      }
      const scale = out.shape.length === 3 ? Math.max(1, Math.round(56 / out.shape[1])) : 4;
      view.canvases.forEach((canvas, c) => nvPaint(canvas, out, { channel: out.shape.length === 3 ? c : 0, lo, hi, scale }));
      view.means.forEach((mean, c) => { mean.textContent = `mean ${clFmt(z[c])}`; });
      drawDetail(view, s, out, lo, hi, scale, outs);
    });
    const p = nvSoftmax(z);
    const top = p.indexOf(Math.max(...p)), truth = own ? -1 : labels[model.get("image")];
    const head = ["class", "probability", "", "score z"].map((t) => clEl("span", { class: "cl-nv-head", text: t }));
    probs.replaceChildren(...head, ...p.flatMap((v, k) => {
      const cls = k === top ? "cl-nv-top" : "";
      const bar = clEl("div", { class: `cl-nv-bar ${cls}` }, [clEl("div")]);
      bar.firstChild.style.width = `${(100 * v).toFixed(1)}%`;
      return [clEl("span", { class: cls, text: classes[k] + (k === truth ? " (true)" : "") }), bar,
        clEl("span", { class: cls, text: `${(100 * v).toFixed(1)}%` }),
        clEl("span", { class: `cl-nv-logit ${cls}`, text: clFmt(z[k]) })];
    }));
    verdict.textContent = `prediction: ${classes[top]} (${(100 * p[top]).toFixed(1)}%)`
      + (truth >= 0 ? `; true class: ${classes[truth]}` : "")
      + "\nsoftmax: p_k = exp(z_k) / (exp(z_1) + … + exp(z_" + p.length + "))"
      + (classRow >= 0 ? "\nscore z_k = the mean of class map k (global average pooling)" : "");
    root.dataset.classStage = String(classRow);
    root.dataset.busy = "false";
    root.dataset.probs = JSON.stringify(p);
    root.dataset.scores = JSON.stringify(Array.from(z));
    root.dataset.pixels = JSON.stringify(Array.from(pixels.data));
  }

  // Enter or Space picks a map; arrows move the focus (and the stage's one Tab stop) to a neighbour.
  function mapKey(event, view, s, c) {
    if (event.key === "Enter" || event.key === " ") { event.preventDefault(); pick(s, c); return; }
    const step = { ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1 }[event.key];
    const maps = view.canvases;
    const next = step === undefined ? -1 : c + step;
    if (next < 0 || next >= maps.length) return;
    event.preventDefault();
    maps.forEach((m, k) => m.setAttribute("tabindex", k === next ? "0" : "-1"));
    maps[next].focus();
  }

  function pick(s, c) {
    picked = picked && picked.stage === s && picked.channel === c ? null : { stage: s, channel: c, pixel: null };
    update();
  }

  // Under a conv or pooling stage: the picked channel enlarged. Click (or arrow keys on) the enlarged
  // map to pick one output. A convolution shows its kernels (one per input channel) and, for the picked
  // output, each input channel's window, the window times the kernel summed, the bias, then the stage's
  // BatchNorm and activation; a pooling layer shows the output's window and its max or average.
  function drawDetail(view, s, out, lo, hi, scale, outs) {
    view.canvases.forEach((canvas, c) => {
      const on = !!picked && picked.stage === s && picked.channel === c;
      canvas.classList.toggle("cl-nv-picked", on);
      if (view.conv || view.pool) canvas.setAttribute("aria-pressed", String(on));
    });
    if (!picked || picked.stage !== s || !(view.conv || view.pool)) {
      view.detail.replaceChildren();
      delete view.detail.dataset.kernels;
      delete view.detail.dataset.neuron;
      return;
    }
    const c = picked.channel, [, Ho, Wo] = out.shape, zoom = scale * 2;
    const big = clEl("canvas", { tabindex: "0", "data-testid": `big-${s}`,
      "aria-label": `channel ${c} enlarged: click a pixel, or use the arrow keys, to see how that output is computed` });
    nvPaint(big, out, { channel: c, lo, hi, scale: zoom });
    const choose = (i, j) => { picked.pixel = [Math.min(Ho - 1, Math.max(0, i)), Math.min(Wo - 1, Math.max(0, j))]; update(); };
    big.addEventListener("click", (e) => {
      const box = big.getBoundingClientRect();
      choose(Math.floor(((e.clientY - box.top) / box.height) * Ho), Math.floor(((e.clientX - box.left) / box.width) * Wo));
    });
    big.addEventListener("keydown", (e) => {
      const step = { ArrowRight: [0, 1], ArrowLeft: [0, -1], ArrowDown: [1, 0], ArrowUp: [-1, 0] }[e.key];
      if (!step) return;
      e.preventDefault();
      const [i, j] = picked.pixel ?? [0, 0];
      choose(i + step[0], j + step[1]);
      view.detail.querySelector(`[data-testid="big-${s}"]`)?.focus();
    });
    const figure = clEl("div", { class: "cl-figure cl-nv-big" }, [big, clEl("div", { class: "cl-caption", text: `channel ${c}` })]);
    if (picked.pixel) {
      const [i, j] = picked.pixel;
      const mark = clEl("div", { class: "cl-nv-mark" });
      Object.assign(mark.style, { left: `${j * zoom}px`, top: `${i * zoom}px`, width: `${zoom}px`, height: `${zoom}px` });
      figure.append(mark);
    }
    const main = stages[s].main, input = main === 0 ? pixels : outs[main - 1];  // what the layer reads
    const after = layers.slice(main + 1, stages[s].end + 1);
    if (view.pool) { drawPoolDetail(view, s, figure, input, c, after); return; }
    const [, I, kh, kw] = view.conv.weight.shape, size = I * kh * kw;
    const k = { shape: [I, kh, kw], data: view.conv.weight.data.subarray(c * size, (c + 1) * size) };
    const m = Math.max(...Array.from(k.data, Math.abs), 1e-12);
    const neuron = picked.pixel ? nvNeuron(view.conv, input, c, picked.pixel, after) : null;
    const iMax = neuron ? Math.max(...neuron.windows.flatMap((w) => Array.from(w.data, Math.abs)), 1e-12) : 0;
    const geo = nvConvGeometry(view.conv), first = Math.floor(c / geo.perGroup) * I;  // o's group reads channels first..first+I-1
    const kernels = Array.from({ length: I }, (_, i) => {
      const canvas = clEl("canvas", { title: `input channel ${first + i}` });
      const px = Math.max(4, Math.floor(40 / kh));
      nvPaint(canvas, k, { channel: i, lo: -m, hi: m, scale: px });
      const parts = [canvas, clEl("div", { class: "cl-caption", text: `from ${first + i}` })];
      if (neuron) {
        const win = clEl("canvas", { title: `the window of input channel ${first + i}` });
        nvPaint(win, neuron.windows[i], { channel: 0, lo: -iMax, hi: iMax, scale: px });
        parts.unshift(win, clEl("div", { class: "cl-caption", text: "window ⋆" }));
        parts.push(clEl("div", { class: "cl-nv-sum", text: `= ${clFmt(neuron.partials[i])}` }));
      }
      return clEl("div", { class: "cl-figure" }, parts);
    });
    const C = geo.O / geo.perGroup * I, [dh, dw] = geo.dilation;
    const whose = I === C ? "one per input channel" : `one per input channel of its group, channels ${first} to ${first + I - 1} of ${C}`;
    const spread = dh === 1 && dw === 1 ? "" : `; the window's cells lie ${dh === dw ? dh : `${dh} rows and ${dw} columns`} apart (dilation)`;
    const padded = geo.mode === "zeros" ? "" : `; past the edge the window reads the cells that ${geo.mode} padding copies`;
    const words = `its ${I} kernel${I > 1 ? "s" : ""} (${kh}×${kw}), ${whose}, summed; red positive, blue negative`
      + `${spread}${padded}; bias ${clFmt(view.conv.bias.data[c])}`;
    const sum = neuron
      ? clEl("div", { class: "cl-math", "data-testid": `neuron-${s}`, "aria-live": "polite",
        text: `output (${picked.pixel.join(", ")}): ${neuron.partials.map(clFmt).join(" + ")} + bias ${clFmt(neuron.bias)} = ${clFmt(neuron.z)}`
          + neuron.steps.map((step) => `\n${step.name} → ${clFmt(step.value)}`).join("") })
      : clEl("div", { class: "cl-hint", text: "Click a pixel of the enlarged map to see how it is computed." });
    view.detail.replaceChildren(
      figure,
      clEl("div", { class: "cl-nv-kernels" }, [
        clEl("div", { class: "cl-nv-stage-label", text: neuron ? `each input channel's window ⋆ its kernel, summed: ${words}` : words }),
        clEl("div", { class: "cl-nv-maps" }, kernels), sum]),
    );
    view.detail.dataset.kernels = JSON.stringify(Array.from(k.data));
    view.detail.dataset.channel = String(c);
    view.detail.dataset.inputs = JSON.stringify(Array.from({ length: I }, (_, i) => first + i));
    if (neuron) view.detail.dataset.neuron = JSON.stringify({ pixel: picked.pixel, partials: neuron.partials, bias: neuron.bias,
      z: neuron.z, steps: neuron.steps, value: neuron.value, windows: neuron.windows.map((w) => Array.from(w.data)) });
    else delete view.detail.dataset.neuron;
  }

  // A pooling stage's picked output: its window (a grid of numbers, the winning cell marked for max
  // pooling) and the max or average, then any layers after the pooling.
  function drawPoolDetail(view, s, figure, input, c, after) {
    delete view.detail.dataset.kernels;
    view.detail.dataset.channel = String(c);
    const pool = view.pool, isMax = pool.kind.endsWith("maxpool"), adaptive = pool.kind.startsWith("adaptive");
    const neuron = picked.pixel ? nvPoolNeuron(pool, input, c, picked.pixel, after) : null;
    const [, H, W] = input.shape, [Ho, Wo] = nvPoolSize(pool, H, W);
    const does = isMax ? "takes the largest value of" : "averages";
    if (!neuron) {
      const size = adaptive ? `adaptive window (${H}×${W} cells shared out among ${Ho}×${Wo} outputs)` : `${pool.kernel.join("×")} window`;
      view.detail.replaceChildren(figure, clEl("div", { class: "cl-hint",
        text: `Click a pixel of the enlarged map to see the ${size} of channel ${c} it ${does}.` }));
      delete view.detail.dataset.neuron;
      return;
    }
    // A cell off the input: padding, which max pooling skips (as if −∞) and an average counts as 0 when
    // count_include_pad; or a ceil_mode window's overhang past the padding, never counted ("·").
    const [ph, pw] = pool.padding ?? [0, 0], { rows, cols } = neuron;
    const counted = (k) => {
      const r = rows[Math.floor(k / cols.length)], q = cols[k % cols.length];
      return !isMax && pool.divisor == null && (pool.count_include_pad ?? true) && r >= -ph && r < H + ph && q >= -pw && q < W + pw;
    };
    const shown = (v, k) => (v !== null ? clFmt(v) : isMax ? "−∞" : counted(k) ? "0" : "·");
    const span = (cells, n) => `${cells[0]}–${cells[cells.length - 1]}` + (cells.some((r) => r < 0 || r >= n) ? ` (0–${n - 1} real)` : "");
    const grid = clGrid(rows.length, cols.length, { testid: `pool-window-${s}`,
      caption: `window of channel ${c} (previous stage): rows ${span(rows, H)}, columns ${span(cols, W)}` });
    grid.cells.flat().forEach((cell, k) => {
      cell.textContent = shown(neuron.window[k], k);
      cell.classList.toggle("cl-pad", neuron.window[k] === null);
      cell.classList.toggle("cl-pick", k === neuron.pick);
    });
    let terms = neuron.window.map(shown).filter((t) => t !== "·");
    if (terms.length > 16) terms = [...terms.slice(0, 3), `… (${terms.length} values)`, terms[terms.length - 1]];
    const by = pool.divisor != null ? `${neuron.divisor} (divisor_override)` : String(neuron.divisor);
    const formula = isMax ? `max(${terms.join(", ")}) = ${clFmt(neuron.z)}` : `(${terms.join(" + ")}) / ${by} = ${clFmt(neuron.z)}`;
    const [i, j] = picked.pixel;
    const rule = adaptive ? `\nadaptive window: rows floor(${i}·${H}/${Ho}) = ${rows[0]} to ceil(${i + 1}·${H}/${Ho}) − 1 = ${rows[rows.length - 1]}, `
      + `columns floor(${j}·${W}/${Wo}) = ${cols[0]} to ceil(${j + 1}·${W}/${Wo}) − 1 = ${cols[cols.length - 1]}` : "";
    view.detail.replaceChildren(figure, clEl("div", { class: "cl-nv-kernels" }, [
      grid.figure,
      clEl("div", { class: "cl-math", "data-testid": `neuron-${s}`, "aria-live": "polite",
        text: `output (${i}, ${j}): ${formula}${rule}` + neuron.steps.map((step) => `\n${step.name} → ${clFmt(step.value)}`).join("") }),
    ]));
    view.detail.dataset.neuron = JSON.stringify({ pixel: picked.pixel, window: neuron.window, pick: neuron.pick,
      rows, cols, divisor: neuron.divisor, z: neuron.z, steps: neuron.steps, value: neuron.value });
  }

  // One dab of the brush, centred on pixel (i, j).
  function stamp(i, j) {
    const [C, H, W] = pixels.shape;
    for (let a = -1; a <= 1; a++) for (let b = -1; b <= 1; b++) {
      const r = i + a, q = j + b;
      if (r < 0 || r >= H || q < 0 || q >= W) continue;
      const edge = a !== 0 && b !== 0;  // a soft round brush: corners get half strength
      for (let c = 0; c < C; c++) {
        const k = (c * H + r) * W + q;
        pixels.data[k] = brush ? Math.max(pixels.data[k], edge ? 0.5 : 1) : (edge ? Math.min(pixels.data[k], 0.5) : 0);
      }
    }
  }

  // Pointer events arrive far apart in a quick stroke: dab every pixel on the line
  // from the previous event's pixel, so the stroke comes out as a line, not dots.
  let last = null;
  function paintAt(event) {
    const box = input.getBoundingClientRect(), [, H, W] = pixels.shape;
    const i = Math.floor(((event.clientY - box.top) / box.height) * H), j = Math.floor(((event.clientX - box.left) / box.width) * W);
    const [i0, j0] = last ?? [i, j];
    const steps = Math.max(Math.abs(i - i0), Math.abs(j - j0), 1);
    for (let t = 1; t <= steps; t++) stamp(Math.round(i0 + ((i - i0) * t) / steps), Math.round(j0 + ((j - j0) * t) / steps));
    last = [i, j];
    schedule();
  }

  // The stroke shows at once; the network (millions of multiply-adds for CIFAR) runs at most once per frame.
  let queued = false;
  function schedule() {
    nvPaint(input, pixels, { scale: 6 });
    if (queued) return;
    queued = true;
    root.dataset.busy = "true";
    requestAnimationFrame(() => { queued = false; update(); });
  }

  input.addEventListener("pointerdown", (e) => { painting = true; last = null; input.setPointerCapture?.(e.pointerId); paintAt(e); });
  input.addEventListener("pointermove", (e) => { if (painting) paintAt(e); });
  const stop = () => { painting = false; last = null; };
  input.addEventListener("pointerup", stop);
  input.addEventListener("pointercancel", stop);

  const cleanup = clListen(model, { "change:image": load });
  load();
  return cleanup;
}

export default { render };
