// TransposedConvView: step through the input cells of a transposed convolution.
// Each cell scales the kernel by its value and adds it into the output at
// (i·s, j·s); the output grid shows the running sums, the current patch in
// yellow, the border that padding cuts off dashed, and the rows and columns
// that output padding adds at the bottom and right dotted.

const TC_STYLE_ID = "convlib-transposed-style";
const TC_CSS = `
.cl-tc .cl-cell { min-width: 30px; height: 28px; font-size: 12px; }
.cl-tc .cl-cell.cl-tc-zero { color: #616e7c; }
.cl-tc-shape { font-weight: 600; font-variant-numeric: tabular-nums; }
.cl-tc .cl-cell.cl-tc-extra { border-style: dotted; border-width: 2px; }
`;
const TC_MAX_STRIDE = 3, TC_MAX_PADDING = 3;

// Everything the page shows, from X, K, stride, padding, output padding and the
// current input cell (the same arithmetic as convlib.widgets.TransposedConvView).
function tcGeometry(X, K, s, p, op, q) {
  const H = X.length, W = X[0].length, kh = K.length, kw = K[0].length;
  const full = [(H - 1) * s + kh, (W - 1) * s + kw];
  const grid = [full[0] + op, full[1] + op];  // output padding: zero rows/columns at the bottom/right
  const maxPad = Math.min(TC_MAX_PADDING, Math.floor((Math.min(...full) - 1) / 2));
  const out = [grid[0] - 2 * p, grid[1] - 2 * p];
  const i = Math.floor(q / W), j = q % W;
  const patch = [];
  for (let a = 0; a < kh; a++) for (let b = 0; b < kw; b++) patch.push([i * s + a, j * s + b]);
  const sums = Array.from({ length: grid[0] }, () => new Array(grid[1]).fill(0));
  for (let r = 0; r < H; r++) for (let c = 0; c < W; c++) {
    if (r * W + c > q) continue;
    for (let a = 0; a < kh; a++) for (let b = 0; b < kw; b++) sums[r * s + a][c * s + b] += X[r][c] * K[a][b];
  }
  const line = (n, k, o) => `(${n} − 1)·${s} − 2·${p} + ${k}${op ? ` + ${op}` : ""} = ${o}`;
  const hLine = line(H, kh, out[0]), wLine = line(W, kw, out[1]);
  const formula = hLine === wLine ? hLine : `height ${hLine}; width ${wLine}`;
  return { H, W, kh, kw, full, grid, maxPad, out, i, j, patch, sums, formula };
}

function render({ model, el }) {
  clStyle();
  clStyle(TC_STYLE_ID, TC_CSS);
  const root = clEl("div", { class: "cl-root cl-tc" });
  el.append(root);
  let parts = null;

  // The controls are made once and stay in place: rebuilding a slider while it is
  // dragged or focused would end the drag (or drop the focus) after one step.
  const title = clEl("div", { class: "cl-title" });
  const stride = clSlider({ label: "Stride s", min: 1, max: TC_MAX_STRIDE, value: model.get("stride"), testid: "stride",
    onInput: (v) => { model.set("stride", v); clampPadding(); model.save_changes(); } });
  const padding = clSlider({ label: "Padding p", min: 0, max: 0, value: model.get("padding"), testid: "padding",
    onInput: (v) => { model.set("padding", v); model.save_changes(); } });
  const outPad = clSlider({ label: "Output padding", min: 0, max: 0, value: model.get("output_padding"),
    testid: "output_padding", onInput: (v) => { model.set("output_padding", v); model.save_changes(); } });
  const position = clSlider({ label: "Input cell", min: 0, max: 0, value: model.get("position"),
    testid: "position", onInput: (q) => go(q) });
  const shape = clEl("span", { class: "cl-tc-shape", "data-testid": "out-shape" });
  const where = clEl("span", { "data-testid": "where" });
  const formula = clEl("div", { class: "cl-math", "data-testid": "formula", "aria-live": "polite" });
  const body = clEl("div", { class: "cl-body" });  // the grids: rebuilt when their sizes change
  root.append(
    title,
    clEl("div", { class: "cl-controls" }, [stride.el, padding.el, outPad.el]),
    clEl("div", { class: "cl-controls" }, [position.el, shape, where]),
    body,
    formula,
    clEl("div", { class: "cl-hint", text: "Each input cell adds (its value × kernel) into a patch of the output, s cells further per step; overlaps add up. Dashed cells are the border that padding cuts off; dotted cells are the zeros that output padding adds (it must stay below the stride). Arrow keys pick the input cell." }),
  );

  function build() {
    const X = clNumbers(model.get("x")), K = clNumbers(model.get("k"));
    const H = X.length, W = X[0].length;
    const g0 = tcGeometry(X, K, model.get("stride"), model.get("padding"), model.get("output_padding"), model.get("position"));
    title.textContent = model.get("title");
    title.hidden = !model.get("title");
    stride.set(model.get("stride"));
    const input = clGrid(H, W, { caption: `input ${H}×${W}: click a cell`, testid: "x", values: X });
    input.cells.forEach((row, i) => row.forEach((cell, j) => {
      cell.setAttribute("role", "button");
      cell.setAttribute("aria-label", `write the patch of input row ${i}, column ${j}`);
      cell.addEventListener("click", () => go(i * W + j));
    }));
    const kernel = clGrid(K.length, K[0].length, { caption: `kernel ${K.length}×${K[0].length}`, testid: "k", values: K });
    kernel.cells.flat().forEach((cell) => cell.classList.add("cl-kernel"));
    const output = clGrid(g0.grid[0], g0.grid[1], { caption: "", testid: "y" });
    const stage = clEl("div", {
      class: "cl-row cl-stage", tabindex: "0", role: "group",
      "aria-label": "Transposed convolution: arrow keys pick the input cell, Home and End jump to the first and last",
    }, [input.figure, kernel.figure, output.figure]);
    clKeys(stage, { rows: () => H, cols: () => W, get: () => model.get("position"), set: go });
    body.replaceChildren(stage);
    parts = { input, output, caption: output.figure.lastChild };  // what this build made
    draw();
  }

  function clampPadding() {
    const g = tcGeometry(clNumbers(model.get("x")), clNumbers(model.get("k")), model.get("stride"), 0, 0, model.get("position"));
    if (model.get("padding") > g.maxPad) model.set("padding", g.maxPad);
    if (model.get("output_padding") >= model.get("stride")) model.set("output_padding", model.get("stride") - 1);
  }

  function go(q) {
    const X = clNumbers(model.get("x"));
    model.set("position", Math.min(X.length * X[0].length - 1, Math.max(0, q)));
    model.save_changes();
  }

  function draw() {
    const X = clNumbers(model.get("x")), K = clNumbers(model.get("k"));
    const s = model.get("stride"), p = model.get("padding"), op = model.get("output_padding"), q = model.get("position");
    const g = tcGeometry(X, K, s, p, op, q);
    const { input, output, caption } = parts;
    if (output.cells.length !== g.grid[0] || output.cells[0].length !== g.grid[1]) { build(); return; }
    input.cells.forEach((row, i) => row.forEach((cell, j) => {
      const idx = i * g.W + j;
      cell.classList.toggle("cl-current", idx === q);
      cell.classList.toggle("cl-done", idx < q);
    }));
    const onPatch = new Set(g.patch.map(([r, c]) => `${r},${c}`));
    output.cells.forEach((row, r) => row.forEach((cell, c) => {
      const cut = r < p || r >= g.grid[0] - p || c < p || c >= g.grid[1] - p;
      cell.classList.toggle("cl-pad", cut);
      cell.classList.toggle("cl-tc-extra", r >= g.full[0] || c >= g.full[1]);
      cell.classList.toggle("cl-win", onPatch.has(`${r},${c}`));
      cell.classList.toggle("cl-tc-zero", g.sums[r][c] === 0);
      cell.textContent = clFmt(g.sums[r][c]);
    }));
    caption.textContent = `output: running sums on the full ${g.full[0]}×${g.full[1]} grid`
      + (op ? `, plus ${op} dotted row${op > 1 ? "s" : ""} and column${op > 1 ? "s" : ""} of output padding` : "")
      + (p ? `; padding ${p} cuts the dashed border, leaving ${g.out[0]}×${g.out[1]}` : "");
    padding.set(p, 0, g.maxPad);
    outPad.set(op, 0, s - 1);
    position.set(q, 0, g.H * g.W - 1);
    shape.textContent = `output ${g.out[0]}×${g.out[1]}`;
    const v = X[g.i][g.j];
    where.textContent = `cell (${g.i}, ${g.j}) = ${clFmt(v)} adds ${clFmt(v)} × kernel at (${g.i * s}, ${g.j * s})`;
    formula.dataset.formula = g.formula;
    formula.textContent = `output size = (n − 1)·s − 2p + k${op ? " + a   (a: output padding)" : ""}\n            = ${g.formula}`;
  }

  const rebuild = () => build();
  const cleanup = clListen(model, {
    "change:x change:k change:title": rebuild,
    "change:stride change:padding change:output_padding change:position": draw,
  });
  build();
  return cleanup;
}

export default { render };
