// KernelSlider: slide a kernel K over an input X (stride 1, no padding) and
// watch each output of the cross-correlation being computed.

function render({ model, el }) {
  clStyle();
  const root = clEl("div", { class: "cl-root" });
  el.append(root);
  let parts = null;

  function build() {
    root.replaceChildren();
    const X = clNumbers(model.get("x")), K = clNumbers(model.get("k"));
    const kh = K.length, kw = K[0].length;
    const win = clWindows(X, kh, kw);
    const Y = [];
    for (let r = 0; r < win.outH; r++) {
      const row = [];
      for (let c = 0; c < win.outW; c++) row.push(win.taps(r, c).reduce((s, t) => s + t.x * K[t.a][t.b], 0));
      Y.push(row);
    }
    const input = clGrid(X.length, X[0].length, { caption: `input X (${X.length}×${X[0].length})`, testid: "x", values: X });
    const kernel = clGrid(kh, kw, { caption: `kernel K (${kh}×${kw})`, testid: "k", values: K });
    kernel.cells.flat().forEach((cell) => cell.classList.add("cl-kernel"));
    const output = clGrid(win.outH, win.outW, { caption: `output Y (${win.outH}×${win.outW})`, testid: "y", values: Y });
    const n = win.outH * win.outW;
    output.cells.forEach((row, r) => row.forEach((cell, c) => {
      cell.setAttribute("role", "button");
      cell.setAttribute("aria-label", `move window to output row ${r}, column ${c}`);
      cell.addEventListener("click", () => go(r * win.outW + c));
    }));
    const slider = clSlider({
      label: "Window position", min: 0, max: n - 1, value: model.get("position"), testid: "position",
      onInput: (p) => go(p),
    });
    const math = clEl("div", { class: "cl-math", "data-testid": "products", "aria-live": "polite" });
    const sum = clEl("strong", { "data-testid": "sum" });
    const where = clEl("span", { "data-testid": "where" });
    const stage = clEl("div", {
      class: "cl-row cl-stage", tabindex: "0", role: "group",
      "aria-label": "Kernel slider: arrow keys move the window, Home and End jump to the ends",
    }, [input.figure, kernel.figure, output.figure]);
    clKeys(stage, { rows: () => win.outH, cols: () => win.outW, get: () => model.get("position"), set: go });
    const title = model.get("title");
    if (title) root.append(clEl("div", { class: "cl-title", text: title }));
    root.append(
      stage,
      clEl("div", { class: "cl-controls" }, [slider.el, clEl("span", {}, [where, " = ", sum])]),
      math,
      clEl("div", { class: "cl-hint", text: "Drag the slider, click an output cell, or focus the grids and use the arrow keys." }),
    );
    parts = { X, K, Y, win, input, output, slider, math, sum, where, n };
    draw();
  }

  function go(p) {
    const q = Math.min(parts.n - 1, Math.max(0, p));
    model.set("position", q);
    model.save_changes();
  }

  function draw() {
    const { K, Y, win, input, output, slider, math, sum, where } = parts;
    const p = model.get("position");
    const r = Math.floor(p / win.outW), c = p % win.outW;
    input.cells.flat().forEach((cell) => cell.classList.remove("cl-win"));
    const taps = win.taps(r, c);
    taps.forEach((t) => input.cells[t.i][t.j].classList.add("cl-win"));
    output.cells.forEach((row, i) => row.forEach((cell, j) => {
      const q = i * win.outW + j;
      cell.classList.toggle("cl-done", q < p);
      cell.classList.toggle("cl-current", q === p);
      cell.classList.toggle("cl-empty", q > p);
    }));
    slider.set(p);
    const terms = taps.map((t) => `${clFmt(t.x)}×${clFmt(K[t.a][t.b])}`);
    math.textContent = `${terms.join(" + ")} = ${clFmt(Y[r][c])}`;
    where.textContent = `Y[${r}, ${c}]`;
    sum.textContent = clFmt(Y[r][c]);
  }

  build();
  return clListen(model, { "change:position": draw, "change:x change:k change:title": build });
}

export default { render };
