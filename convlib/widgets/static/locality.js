// LocalityView: pick one output; see the inputs and weights that make it, for a
// fully connected layer (every input, a weight of its own per pair) and for a
// convolution (a k x k window, the same k*k weights at every position).

const LV_STYLE_ID = "convlib-locality-style";
const LV_CSS = `
.cl-lv-panel { display: flex; flex-direction: column; gap: 6px; padding: 6px 10px;
  border: 1px solid #d9e2ec; border-radius: 6px; }
.cl-lv-name { font-weight: 600; }
.cl-lv-count { font-size: 13px; font-variant-numeric: tabular-nums; }
.cl-lv .cl-cell { min-width: 38px; font-size: 12px; }
.cl-lv-mgrid { display: grid; gap: 1px; background: #fff; }
.cl-lv-m { background: #f1f3f5; }
.cl-lv-m.cl-lv-row { outline: 1px solid #1f2933; }
.cl-lv-mwrap { display: flex; flex-direction: column; gap: 4px; }
`;

const lvTapColor = (t, kk) => `hsl(${Math.round((360 * t) / kk)}, 70%, 78%)`;
const lvFcColor = (id) => `hsl(${Math.round((id * 137.508) % 360)}, 60%, 82%)`;

// Weight ids for output p: FC ids p*H*W + m; conv tap ids a*k + b inside the window, -1 outside.
function lvIds(H, W, k, p) {
  const outW = W - k + 1;
  const r = Math.floor(p / outW), c = p % outW;
  const fc = [], conv = [];
  for (let i = 0; i < H; i++) {
    const fr = [], cr = [];
    for (let j = 0; j < W; j++) {
      fr.push(p * H * W + i * W + j);
      const a = i - r, b = j - c;
      cr.push(a >= 0 && a < k && b >= 0 && b < k ? a * k + b : -1);
    }
    fc.push(fr); conv.push(cr);
  }
  return { fc, conv, r, c };
}

function lvMatrix(rows, cols, testid, color) {
  const grid = clEl("div", { class: "cl-lv-mgrid", "data-testid": testid });
  const size = Math.max(5, Math.min(16, Math.floor(300 / cols)));  // small inputs get big cells
  grid.style.gridTemplateColumns = `repeat(${cols}, ${size}px)`;
  grid.style.gridAutoRows = `${size}px`;
  const cells = [];
  for (let r = 0; r < rows; r++) {
    const row = [];
    for (let m = 0; m < cols; m++) {
      const w = color(r, m);
      const cell = clEl("div", { class: "cl-lv-m", "data-testid": `${testid}-${r}-${m}`, "data-w": String(w.id) });
      if (w.id >= 0) { cell.style.background = w.bg; cell.title = `output ${r}, input ${m}: weight ${w.id}`; }
      grid.append(cell);
      row.push(cell);
    }
    cells.push(row);
  }
  return { grid, cells };
}

// "1 weight", "4 weights"; with count=false only the word.
function lvWeights(n, count = true) {
  const word = n === 1 ? "weight" : "weights";
  return count ? `${n} ${word}` : word;
}

function render({ model, el }) {
  clStyle();
  clStyle(LV_STYLE_ID, LV_CSS);
  const root = clEl("div", { class: "cl-root cl-lv" });
  el.append(root);
  let parts = null;

  // The controls are made once and stay in place: rebuilding a slider while it is
  // dragged or focused would end the drag (or drop the focus) after one step.
  const title = clEl("div", { class: "cl-title" });
  const kernelSlider = clSlider({
    label: "Kernel size", min: 1, max: 1, value: model.get("kernel_size"), testid: "kernel-size",
    onInput: (v) => { model.set("kernel_size", v); clampPosition(); model.save_changes(); },
  });
  const slider = clSlider({ label: "Output position", min: 0, max: 0, value: model.get("position"), testid: "position",
    onInput: (p) => go(p) });
  const where = clEl("span", { "data-testid": "where" });
  const body = clEl("div", { class: "cl-body" });  // both layers and their matrices: rebuilt when k changes
  root.append(
    title,
    clEl("div", { class: "cl-controls" }, [kernelSlider.el, slider.el, where]),
    body,
    clEl("div", { class: "cl-hint", text: "Drag the sliders, click an output cell, or focus the grids and use the arrow keys." }),
  );

  function build() {
    const H = model.get("height"), W = model.get("width"), k = model.get("kernel_size");
    title.textContent = model.get("title");
    title.hidden = !model.get("title");
    kernelSlider.set(k, 1, Math.min(H, W));
    const outH = H - k + 1, outW = W - k + 1, n = outH * outW, kk = k * k;

    const fcX = clGrid(H, W, { caption: `input ${H}×${W}: numbers are weight ids`, testid: "fc-x" });
    const convX = clGrid(H, W, { caption: `input ${H}×${W}: numbers are kernel tap ids`, testid: "conv-x" });
    const kernel = clGrid(k, k, { caption: `the kernel: ${lvWeights(kk)}, shared`, testid: "conv-k" });
    kernel.cells.forEach((row, a) => row.forEach((cell, b) => {
      cell.textContent = String(a * k + b);
      cell.style.background = lvTapColor(a * k + b, kk);
    }));
    const outputs = ["fc", "conv"].map((side) => {
      const g = clGrid(outH, outW, { caption: `outputs ${outH}×${outW}`, testid: `${side}-y` });
      g.cells.forEach((row, r) => row.forEach((cell, c) => {
        cell.setAttribute("role", "button");
        cell.setAttribute("aria-label", `pick output row ${r}, column ${c}`);
        cell.addEventListener("click", () => go(r * outW + c));
      }));
      return g;
    });
    const [fcY, convY] = outputs;
    const count = (testid) => clEl("strong", { "data-testid": testid });
    const fcThis = count("fc-this"), fcTotal = count("fc-total"), convThis = count("conv-this"), convTotal = count("conv-total");
    const fcPanel = clEl("div", { class: "cl-lv-panel", "data-testid": "fc" }, [
      clEl("div", { class: "cl-lv-name", text: "Fully connected layer" }),
      clEl("div", { class: "cl-row" }, [fcX.figure, fcY.figure]),
      clEl("div", { class: "cl-lv-count" }, ["this output: ", fcThis, " weights · layer: ", fcTotal,
        ` weights (${H * W} inputs × ${n} outputs)`]),
    ]);
    const convPanel = clEl("div", { class: "cl-lv-panel", "data-testid": "conv" }, [
      clEl("div", { class: "cl-lv-name", text: `Convolution layer, ${k}×${k} kernel` }),
      clEl("div", { class: "cl-row" }, [convX.figure, kernel.figure, convY.figure]),
      clEl("div", { class: "cl-lv-count" }, ["this output: ", convThis, ` ${lvWeights(kk, false)} · layer: `, convTotal,
        ` ${lvWeights(kk, false)}, shared by all ${n} ${n === 1 ? "output" : "outputs"}`]),
    ]);
    const fcM = lvMatrix(n, H * W, "fc-m", (r, m) => ({ id: r * H * W + m, bg: lvFcColor(r * H * W + m) }));
    const convM = lvMatrix(n, H * W, "conv-m", (r, m) => {
      const id = lvIds(H, W, k, r).conv[Math.floor(m / W)][m % W];
      return { id, bg: lvTapColor(id, kk) };
    });
    const matrices = clEl("div", { class: "cl-row" }, [
      clEl("div", { class: "cl-lv-mwrap" }, [fcM.grid, clEl("div", { class: "cl-caption",
        text: `FC weight matrix ${n}×${H * W}: every entry its own weight` })]),
      clEl("div", { class: "cl-lv-mwrap" }, [convM.grid, clEl("div", { class: "cl-caption",
        text: `conv as a matrix ${n}×${H * W}: mostly zeros, the same ${lvWeights(kk)} in every row` })]),
    ]);
    const stage = clEl("div", {
      class: "cl-row cl-stage", tabindex: "0", role: "group",
      "aria-label": "Locality view: arrow keys pick the output, Home and End jump to the ends",
    }, [fcPanel, convPanel]);
    clKeys(stage, { rows: () => outH, cols: () => outW, get: () => model.get("position"), set: go });
    body.replaceChildren(
      stage,
      clEl("div", { class: "cl-caption", text: "The same two layers as matrices (one row per output, one column per input; the picked output's row is outlined):" }),
      matrices,
    );
    parts = { H, W, k, kk, outH, outW, n, fcX, convX, fcY, convY, fcM, convM,  // what this build made
      fcThis, fcTotal, convThis, convTotal };
    draw();
  }

  function clampPosition() {
    const H = model.get("height"), W = model.get("width"), k = model.get("kernel_size");
    const n = (H - k + 1) * (W - k + 1);
    if (model.get("position") > n - 1) model.set("position", n - 1);
  }

  function go(p) {
    model.set("position", Math.min(parts.n - 1, Math.max(0, p)));
    model.save_changes();
  }

  function draw() {
    const { H, W, k, kk, outW, n, fcX, convX, fcY, convY, fcM, convM } = parts;
    const p = Math.min(n - 1, model.get("position"));
    const ids = lvIds(H, W, k, p);
    for (let i = 0; i < H; i++) for (let j = 0; j < W; j++) {
      const f = fcX.cells[i][j], c = convX.cells[i][j];
      f.textContent = String(ids.fc[i][j]);
      f.dataset.w = String(ids.fc[i][j]);
      f.style.background = lvFcColor(ids.fc[i][j]);
      f.classList.add("cl-win");
      const t = ids.conv[i][j];
      c.dataset.w = String(t);
      c.textContent = t >= 0 ? String(t) : "";
      c.style.background = t >= 0 ? lvTapColor(t, kk) : "";
      c.classList.toggle("cl-win", t >= 0);
      c.classList.toggle("cl-dim", t < 0);
    }
    for (const grid of [fcY, convY]) grid.cells.forEach((row, r) => row.forEach((cell, c) => {
      cell.classList.toggle("cl-current", r * outW + c === p);
    }));
    for (const m of [fcM, convM]) m.cells.forEach((row, r) => row.forEach((cell) => cell.classList.toggle("cl-lv-row", r === p)));
    parts.fcThis.textContent = String(H * W);
    parts.fcTotal.textContent = String(H * W * n);
    parts.convThis.textContent = String(kk);
    parts.convTotal.textContent = String(kk);
    slider.set(p, 0, n - 1);
    where.textContent = `output (${ids.r}, ${ids.c})`;
  }

  const onData = () => build();
  model.on("change:position", draw);
  model.on("change:height change:width change:kernel_size change:title", onData);
  build();
  return () => {
    model.off("change:position", draw);
    model.off("change:height change:width change:kernel_size change:title", onData);
  };
}

export default { render };
