// PaddingStrideExplorer: change input size, kernel size, padding, stride and
// dilation; watch the padded grid, the window's taps, the output grid and the
// output-size formula update. Cells show how many windows read them.

const PS_STYLE_ID = "convlib-padding-stride-style";
const PS_CSS = `
.cl-ps .cl-cell { min-width: 26px; height: 26px; font-size: 12px; position: relative; }
.cl-ps .cl-cell.cl-ps-span { box-shadow: inset 0 0 0 2px #e0a800; }
.cl-ps .cl-cell.cl-ps-start::after { content: ""; position: absolute; top: 2px; left: 2px;
  width: 5px; height: 5px; border-radius: 50%; background: #c92a2a; }
.cl-ps-message { color: #c92a2a; font-weight: 600; }
.cl-ps-message:empty { display: none; }
.cl-ps-shape { font-weight: 600; font-variant-numeric: tabular-nums; }
@media (max-width: 480px) {  /* a phone: a 20x20 padded grid still fits */
  .cl-ps .cl-cell { min-width: 15px; height: 17px; padding: 0 1px; font-size: 9px; } }
`;

const PS_LIMITS = { size: [1, 12], kernel_size: [1, 7], padding: [0, 4], stride: [1, 4], dilation: [1, 3] };
const PS_LABELS = { size: "Input size n", kernel_size: "Kernel size k", padding: "Padding p", stride: "Stride s",
  dilation: "Dilation d" };

// Everything the page shows, from the five settings (the formula of convlib.conv_output_size).
function psGeometry(n, k, p, s, d) {
  const span = d * (k - 1) + 1, padded = n + 2 * p;
  const raw = Math.floor((n + 2 * p - d * (k - 1) - 1) / s) + 1;
  const valid = span <= padded;
  const out = valid ? raw : 0;
  const taps = (r, c) => {
    const list = [];
    for (let a = 0; a < k; a++) for (let b = 0; b < k; b++) list.push([r * s + a * d, c * s + b * d]);
    return list;
  };
  const usage = Array.from({ length: padded }, () => new Array(padded).fill(0));
  for (let r = 0; r < out; r++) for (let c = 0; c < out; c++) for (const [i, j] of taps(r, c)) usage[i][j] += 1;
  const formula = `floor((${n} + 2·${p} − ${d}·(${k}−1) − 1) / ${s}) + 1 = ${raw}`;
  const message = valid ? "" : `No output: the window spans ${span} cells but the padded input has only ${padded}. `
    + "Use a smaller kernel or dilation, more padding, or a larger input.";
  return { span, padded, valid, out, taps, usage, formula, message };
}

function render({ model, el }) {
  clStyle();
  clStyle(PS_STYLE_ID, PS_CSS);
  const root = clEl("div", { class: "cl-root cl-ps" });
  el.append(root);
  let parts = null;
  const setting = (name) => model.get(name);

  // The controls are made once and stay in place: rebuilding a slider while it is
  // dragged or focused would end the drag (or drop the focus) after one step.
  const title = clEl("div", { class: "cl-title" });
  const sliders = Object.fromEntries(Object.keys(PS_LIMITS).map((name) => [name, clSlider({
    label: PS_LABELS[name], min: PS_LIMITS[name][0], max: PS_LIMITS[name][1], value: setting(name),
    testid: name.replace("_", "-"),
    onInput: (v) => { model.set(name, v); clampPosition(); model.save_changes(); },
  })]));
  const position = clSlider({ label: "Window position", min: 0, max: 0, value: 0, testid: "position",
    onInput: (q) => go(q) });
  const shape = clEl("span", { class: "cl-ps-shape", "data-testid": "out-shape" });
  const where = clEl("span", { "data-testid": "where" });
  const message = clEl("div", { class: "cl-ps-message", "data-testid": "message", role: "alert" });
  const body = clEl("div", { class: "cl-body" });  // the grids and the formula: rebuilt when a setting changes
  root.append(
    title,
    clEl("div", { class: "cl-controls" }, Object.values(sliders).map((sl) => sl.el)),
    clEl("div", { class: "cl-controls" }, [position.el, shape, where]),
    message,
    body,
    clEl("div", { class: "cl-hint", text: "Dashed cells are padding (zeros). The window's taps are yellow; a red dot marks where each window starts. Arrow keys move the window." }),
  );

  function build() {
    const n = setting("size"), k = setting("kernel_size"), p = setting("padding");
    const s = setting("stride"), d = setting("dilation");
    const g = psGeometry(n, k, p, s, d);
    title.textContent = model.get("title");
    title.hidden = !model.get("title");
    for (const [name, sl] of Object.entries(sliders)) {
      sl.set(setting(name), PS_LIMITS[name][0], Math.max(PS_LIMITS[name][1], setting(name)));
    }
    const maxUse = Math.max(1, ...g.usage.flat());
    const grid = clGrid(g.padded, g.padded, {
      caption: `padded input ${g.padded}×${g.padded} (${n}×${n} + padding ${p}); numbers: windows reading each cell`,
      testid: "xp",
    });
    const starts = new Set();
    for (let r = 0; r < g.out; r++) for (let c = 0; c < g.out; c++) starts.add(`${r * s},${c * s}`);
    grid.cells.forEach((row, i) => row.forEach((cell, j) => {
      const pad = i < p || i >= n + p || j < p || j >= n + p;
      cell.classList.toggle("cl-pad", pad);
      cell.classList.toggle("cl-ps-start", starts.has(`${i},${j}`));
      cell.dataset.use = String(g.usage[i][j]);
      cell.textContent = String(g.usage[i][j]);
      cell.dataset.tint = g.usage[i][j] ? `rgba(28, 126, 214, ${(0.06 + (0.4 * g.usage[i][j]) / maxUse).toFixed(3)})` : "";
    }));
    const output = clGrid(g.out, g.out, { caption: g.valid ? `output ${g.out}×${g.out}` : "no output", testid: "y" });
    output.cells.forEach((row, r) => row.forEach((cell, c) => {
      cell.setAttribute("role", "button");
      cell.setAttribute("aria-label", `move window to output row ${r}, column ${c}`);
      cell.addEventListener("click", () => go(r * g.out + c));
    }));
    const nWin = g.out * g.out;
    position.input.disabled = !g.valid;
    const stage = clEl("div", {
      class: "cl-row cl-stage", tabindex: "0", role: "group",
      "aria-label": "Padding and stride explorer: arrow keys move the window, Home and End jump to the ends",
    }, [grid.figure, output.figure]);
    clKeys(stage, { rows: () => g.out, cols: () => g.out, get: () => setting("position"),
      set: (q) => { if (g.valid) go(q); } });
    shape.textContent = g.valid ? `output ${g.out}×${g.out}` : "no output";
    const formula = clEl("div", { class: "cl-math", "data-testid": "formula", "aria-live": "polite",
      text: `output size = floor((n + 2p − d·(k−1) − 1) / s) + 1\n            = ${g.formula}` });
    formula.dataset.formula = g.formula;
    message.textContent = g.message;
    body.replaceChildren(stage, formula);
    parts = { g, grid, output, nWin };  // what this build made; the controls are the constants above
    draw();
  }

  function clampPosition() {
    const g = psGeometry(setting("size"), setting("kernel_size"), setting("padding"), setting("stride"), setting("dilation"));
    const last = Math.max(0, g.out * g.out - 1);
    if (setting("position") > last) model.set("position", last);
  }

  function go(q) {
    if (!parts.g.valid) return;
    model.set("position", Math.min(parts.nWin - 1, Math.max(0, q)));
    model.save_changes();
  }

  function draw() {
    const { g, grid, output } = parts;
    const q = Math.min(setting("position"), Math.max(0, parts.nWin - 1));
    const onTap = new Set(), inSpan = new Set();
    let r = 0, c = 0;
    if (g.valid) {
      r = Math.floor(q / g.out); c = q % g.out;
      const taps = g.taps(r, c);
      taps.forEach(([i, j]) => onTap.add(`${i},${j}`));
      const [i0, j0] = taps[0];
      for (let i = i0; i < i0 + g.span; i++) for (let j = j0; j < j0 + g.span; j++) inSpan.add(`${i},${j}`);
    }
    grid.cells.forEach((row, i) => row.forEach((cell, j) => {
      const key = `${i},${j}`, tap = onTap.has(key);
      cell.classList.toggle("cl-win", tap);
      cell.classList.toggle("cl-ps-span", !tap && inSpan.has(key));
      cell.style.background = tap ? "" : cell.dataset.tint;
    }));
    output.cells.forEach((row, i) => row.forEach((cell, j) => cell.classList.toggle("cl-current", i === r && j === c)));
    position.set(q, 0, Math.max(0, parts.nWin - 1));
    where.textContent = g.valid ? `window (${r}, ${c})` : "";
  }

  const names = ["size", "kernel_size", "padding", "stride", "dilation", "title"].map((x) => `change:${x}`).join(" ");
  const onData = () => build();
  model.on("change:position", draw);
  model.on(names, onData);
  build();
  return () => {
    model.off("change:position", draw);
    model.off(names, onData);
  };
}

export default { render };
