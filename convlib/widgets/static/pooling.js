// PoolingView: max or average pooling of X (H, W) with a window, stride and
// padding the reader can change. The window slides over the (padded) input;
// the winning cell (max) or the sum and count (average) are shown.

const CL_MINUS_INF = "−∞";

function render({ model, el }) {
  clStyle();
  const root = clEl("div", { class: "cl-root" });
  el.append(root);
  let ui = null, geo = null, busy = false;

  // Set several traits at once; listeners wait until all are set.
  function update(changes) {
    busy = true;
    for (const [key, value] of Object.entries(changes)) model.set(key, value);
    busy = false;
    model.save_changes();
    layout();
  }

  // A consistent geometry from a wanted one: padding <= half the window, the
  // window inside the padded input, the position inside the output.
  function settle(want) {
    const X = model.get("x"), H = X.length, W = X[0].length;
    const k = want.kernel_size, s = want.stride, p = want.padding.slice();
    const size = [H, W];
    for (const d of [0, 1]) {
      const lo = Math.max(0, Math.ceil((k[d] - size[d]) / 2)), hi = Math.floor(k[d] / 2);
      p[d] = Math.min(hi, Math.max(lo, p[d]));
    }
    const outH = Math.floor((H + 2 * p[0] - k[0]) / s[0]) + 1;
    const outW = Math.floor((W + 2 * p[1] - k[1]) / s[1]) + 1;
    const position = Math.min(outH * outW - 1, Math.max(0, want.position));
    return { kernel_size: k, stride: s, padding: p, position };
  }

  function change(key, d, v) {
    const want = {
      kernel_size: model.get("kernel_size").slice(), stride: model.get("stride").slice(),
      padding: model.get("padding").slice(), position: model.get("position"),
    };
    want[key][d] = v;
    update(settle(want));
  }

  function build() {
    root.replaceChildren();
    const X = model.get("x"), H = X.length, W = X[0].length;
    const k0 = model.get("kernel_size"), s0 = model.get("stride");
    const limits = { k: [Math.max(H, k0[0]), Math.max(W, k0[1])], s: [Math.max(H, s0[0]), Math.max(W, s0[1])] };
    const mode = clEl("select", { "aria-label": "Pooling mode", "data-testid": "mode" }, [
      clEl("option", { value: "max", text: "max pooling" }),
      clEl("option", { value: "avg", text: "average pooling" }),
    ]);
    mode.addEventListener("change", () => update({ mode: mode.value }));
    const mk = (label, testid, key, d, max) => narrow(clSlider({
      label, min: key === "padding" ? 0 : 1, max, value: model.get(key)[d], testid,
      onInput: (v) => change(key, d, v),
    }));
    const narrow = (slider) => { slider.input.style.width = "90px"; return slider; };
    const sliders = {
      kernel_size: [mk("Window height", "kernel-h", "kernel_size", 0, limits.k[0]), mk("Window width", "kernel-w", "kernel_size", 1, limits.k[1])],
      stride: [mk("Stride (rows)", "stride-h", "stride", 0, limits.s[0]), mk("Stride (columns)", "stride-w", "stride", 1, limits.s[1])],
      padding: [mk("Padding (rows)", "padding-h", "padding", 0, 1), mk("Padding (columns)", "padding-w", "padding", 1, 1)],
    };
    const position = clSlider({
      label: "Window position", min: 0, max: 0, value: model.get("position"), testid: "position",
      onInput: (p) => go(p),
    });
    const stage = clEl("div", {
      class: "cl-row cl-stage", tabindex: "0", role: "group",
      "aria-label": "Pooling view: arrow keys move the window, Home and End jump to the ends",
    });
    clKeys(stage, { rows: () => geo.outH, cols: () => geo.outW, get: () => model.get("position"), set: go });
    const where = clEl("span", { "data-testid": "where" });
    const value = clEl("strong", { "data-testid": "value" });
    const math = clEl("div", { class: "cl-math", "data-testid": "detail", "aria-live": "polite" });
    const shape = clEl("div", { class: "cl-caption", "data-testid": "out-shape" });
    const note = clEl("div", { class: "cl-hint", "data-testid": "pad-note" });
    const title = model.get("title");
    if (title) root.append(clEl("div", { class: "cl-title", text: title }));
    root.append(
      clEl("div", { class: "cl-controls" }, [clEl("label", {}, [clEl("span", { text: "Mode" }), mode]), ...sliders.kernel_size.map((s) => s.el)]),
      clEl("div", { class: "cl-controls" }, [...sliders.stride, ...sliders.padding].map((s) => s.el)),
      stage,
      shape,
      clEl("div", { class: "cl-controls" }, [position.el, clEl("span", {}, [where, " = ", value])]),
      math,
      note,
      clEl("div", { class: "cl-hint", text: "Drag the sliders, click an output cell, or focus the grids and use the arrow keys." }),
    );
    ui = { X, H, W, mode, sliders, position, stage, where, value, math, shape, note };
    layout();
  }

  // Grids and output for the current window, stride, padding and mode.
  function layout() {
    const { X, H, W, sliders, stage } = ui;
    const k = model.get("kernel_size"), s = model.get("stride"), p = model.get("padding"), mode = model.get("mode");
    const win = clWindows(X, k[0], k[1], { padding: p, stride: s });
    const { outH, outW } = win;
    const Y = [];
    for (let r = 0; r < outH; r++) {
      const row = [];
      for (let c = 0; c < outW; c++) {
        const taps = win.taps(r, c);
        row.push(mode === "max"
          ? Math.max(...taps.map((t) => (t.pad ? -Infinity : t.x)))
          : taps.reduce((acc, t) => acc + (t.pad ? 0 : t.x), 0) / taps.length);
      }
      Y.push(row);
    }
    const input = clGrid(H + 2 * p[0], W + 2 * p[1], { caption: `input X (${H}×${W}), padding (${p[0]}, ${p[1]})`, testid: "x" });
    input.cells.forEach((row, i) => row.forEach((cell, j) => {
      const r = i - p[0], c = j - p[1];
      cell.dataset.r = String(r); cell.dataset.c = String(c);
      if (r < 0 || r >= H || c < 0 || c >= W) {
        cell.classList.add("cl-pad");
        cell.textContent = mode === "max" ? CL_MINUS_INF : "0";
        cell.title = mode === "max" ? "padding: −∞, never the maximum" : "padding: counts as 0";
      } else cell.textContent = clFmt(X[r][c]);
    }));
    const output = clGrid(outH, outW, { caption: `output (${outH}×${outW})`, testid: "y", values: Y });
    output.cells.forEach((row, r) => row.forEach((cell, c) => {
      cell.setAttribute("role", "button");
      cell.setAttribute("aria-label", `move window to output row ${r}, column ${c}`);
      cell.addEventListener("click", () => go(r * outW + c));
    }));
    stage.replaceChildren(input.figure, output.figure);
    const size = [H, W];
    for (const d of [0, 1]) {
      sliders.kernel_size[d].set(k[d]);
      sliders.stride[d].set(s[d]);
      sliders.padding[d].set(p[d], Math.max(0, Math.ceil((k[d] - size[d]) / 2)), Math.floor(k[d] / 2));
    }
    ui.mode.value = mode;
    ui.shape.textContent =
      `output shape ${outH}×${outW}: ⌊(${H} + 2·${p[0]} − ${k[0]}) / ${s[0]}⌋ + 1 = ${outH} rows, ` +
      `⌊(${W} + 2·${p[1]} − ${k[1]}) / ${s[1]}⌋ + 1 = ${outW} columns`;
    ui.note.textContent = mode === "max"
      ? "Max pooling pads with −∞: a padded cell can never be the maximum, so padding is ignored."
      : "Average pooling pads with 0 and counts the padded cells: the divisor is always k_h·k_w " +
        "(F.avg_pool2d's default, count_include_pad=True).";
    geo = { win, Y, outH, outW, input, output, mode, pad: p };
    draw();
  }

  function go(p) {
    model.set("position", Math.min(geo.outH * geo.outW - 1, Math.max(0, p)));
    model.save_changes();
  }

  function draw() {
    const { win, Y, outW, input, output, mode, pad } = geo;
    const p = model.get("position");
    const r = Math.floor(p / outW), c = p % outW;
    input.cells.flat().forEach((cell) => cell.classList.remove("cl-win", "cl-pick"));
    const taps = win.taps(r, c);
    taps.forEach((t) => input.cells[t.i][t.j].classList.add("cl-win"));
    output.cells.forEach((row, i) => row.forEach((cell, j) => cell.classList.toggle("cl-current", i === r && j === c)));
    const shown = (t) => (t.pad ? (mode === "max" ? CL_MINUS_INF : "0") : clFmt(t.x));
    if (mode === "max") {
      let best = null;
      for (const t of taps) if (!t.pad && (best === null || t.x > best.x)) best = t;
      input.cells[best.i][best.j].classList.add("cl-pick");
      ui.math.replaceChildren(
        `max(${taps.map(shown).join(", ")}) = ${clFmt(Y[r][c])}, taken from `,
        clEl("span", { "data-testid": "argmax", text: `X[${best.i - pad[0]}, ${best.j - pad[1]}]` }),
        " (outlined; the first one on ties)",
      );
    } else {
      const sum = taps.reduce((acc, t) => acc + (t.pad ? 0 : t.x), 0);
      ui.math.replaceChildren(
        `(${taps.map(shown).join(" + ")}) / ${taps.length} = `,
        clEl("span", { "data-testid": "sum", text: clFmt(sum) }),
        " / ",
        clEl("span", { "data-testid": "count", text: String(taps.length) }),
        ` = ${clFmt(Y[r][c])}`,
      );
    }
    ui.position.set(p, 0, geo.outH * geo.outW - 1);
    ui.where.textContent = `Y[${r}, ${c}]`;
    ui.value.textContent = clFmt(Y[r][c]);
  }

  const onGeometry = () => { if (!busy && ui) layout(); };
  const onPosition = () => { if (!busy && geo) draw(); };
  const onData = () => { if (!busy) build(); };
  const events = [["change:position", onPosition], ["change:x", onData], ["change:title", onData]];
  for (const key of ["kernel_size", "stride", "padding", "mode"]) events.push([`change:${key}`, onGeometry]);
  events.forEach(([name, cb]) => model.on(name, cb));
  build();
  return () => events.forEach(([name, cb]) => model.off(name, cb));
}

export default { render };
