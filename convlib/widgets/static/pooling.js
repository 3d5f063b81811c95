// PoolingView: max or average pooling of X (H, W) with a window, stride,
// padding, ceil_mode and count_include_pad the reader can change. The window
// slides over the (padded) input; the winning cell (max) or the sum and count
// (average) are shown.

const CL_MINUS_INF = "−∞";
const PV_STYLE_ID = "convlib-pooling-style";
const PV_CSS = `
.cl-root .cl-cell.cl-over { border-style: dotted; border-width: 2px; }
.cl-check { display: inline-flex; align-items: center; gap: 4px; }
`;

// Output size along one axis, PyTorch's rule: floor, or with ceil_mode round up and
// keep a last window only if it starts inside the input or the left padding. `extra`
// is how far that window hangs past the padding (convlib.pool.pool_geometry).
function pvAxis(n, k, s, p, ceil) {
  const room = n + 2 * p - k;
  let out = (ceil ? Math.ceil(room / s) : Math.floor(room / s)) + 1;
  const dropped = ceil && (out - 1) * s >= n + p;
  if (dropped) out -= 1;
  return { out, extra: Math.max(0, (out - 1) * s + k - (n + 2 * p)), dropped };
}

function render({ model, el }) {
  clStyle();
  clStyle(PV_STYLE_ID, PV_CSS);
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
    const X = clNumbers(model.get("x")), H = X.length, W = X[0].length;
    const k = want.kernel_size, s = want.stride, p = want.padding.slice();
    const size = [H, W];
    for (const d of [0, 1]) {
      const lo = Math.max(0, Math.ceil((k[d] - size[d]) / 2)), hi = Math.floor(k[d] / 2);
      p[d] = Math.min(hi, Math.max(lo, p[d]));
    }
    const outH = pvAxis(H, k[0], s[0], p[0], want.ceil_mode).out;
    const outW = pvAxis(W, k[1], s[1], p[1], want.ceil_mode).out;
    const position = Math.min(outH * outW - 1, Math.max(0, want.position));
    return { kernel_size: k, stride: s, padding: p, ceil_mode: want.ceil_mode, position };
  }

  function current() {
    return {
      kernel_size: model.get("kernel_size").slice(), stride: model.get("stride").slice(),
      padding: model.get("padding").slice(), ceil_mode: model.get("ceil_mode"), position: model.get("position"),
    };
  }

  function change(key, d, v) {
    const want = current();
    want[key][d] = v;
    update(settle(want));
  }

  // A labelled checkbox for a boolean trait.
  function checkbox(label, key, testid, onChange) {
    const input = clEl("input", { type: "checkbox", "aria-label": label, "data-testid": testid });
    input.addEventListener("change", () => onChange(input.checked));
    return { input, el: clEl("label", { class: "cl-check" }, [input, clEl("span", { text: label })]) };
  }

  function build() {
    root.replaceChildren();
    const X = clNumbers(model.get("x")), H = X.length, W = X[0].length;
    const k0 = model.get("kernel_size"), s0 = model.get("stride");
    const limits = { k: [Math.max(H, k0[0]), Math.max(W, k0[1])], s: [Math.max(H, s0[0]), Math.max(W, s0[1])] };
    const mode = clEl("select", { "aria-label": "Pooling mode", "data-testid": "mode" }, [
      clEl("option", { value: "max", text: "max pooling" }),
      clEl("option", { value: "avg", text: "average pooling" }),
    ]);
    mode.addEventListener("change", () => update({ mode: mode.value }));
    const ceil = checkbox("ceil_mode (keep a last, partial window)", "ceil_mode", "ceil-mode",
      (on) => update(settle({ ...current(), ceil_mode: on })));
    const countPad = checkbox("count_include_pad (average: padded zeros count)", "count_include_pad",
      "count-include-pad", (on) => update({ count_include_pad: on }));
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
      clEl("div", { class: "cl-controls" }, [ceil.el, countPad.el]),
      stage,
      shape,
      clEl("div", { class: "cl-controls" }, [position.el, clEl("span", {}, [where, " = ", value])]),
      math,
      note,
      clEl("div", { class: "cl-hint", text: "Drag the sliders, click an output cell, or focus the grids and use the arrow keys." }),
    );
    ui = { X, H, W, mode, ceil, countPad, sliders, position, stage, where, value, math, shape, note };
    layout();
  }

  // Grids and output for the current window, stride, padding and mode.
  function layout() {
    const { X, H, W, sliders, stage } = ui;
    const k = model.get("kernel_size"), s = model.get("stride"), p = model.get("padding"), mode = model.get("mode");
    const ceilMode = model.get("ceil_mode"), countPad = model.get("count_include_pad");
    const axes = [pvAxis(H, k[0], s[0], p[0], ceilMode), pvAxis(W, k[1], s[1], p[1], ceilMode)];
    const extra = axes.map((a) => a.extra);
    const win = clWindows(X, k[0], k[1], { padding: p, stride: s, extra });
    const { outH, outW } = win;
    // The average divides by the real cells, plus the padding when count_include_pad; never the overhang.
    const counted = (taps) => taps.filter((t) => !t.pad || (countPad && !t.over)).length;
    const Y = [];
    for (let r = 0; r < outH; r++) {
      const row = [];
      for (let c = 0; c < outW; c++) {
        const taps = win.taps(r, c);
        row.push(mode === "max"
          ? Math.max(...taps.map((t) => (t.pad ? -Infinity : t.x)))
          : taps.reduce((acc, t) => acc + (t.pad ? 0 : t.x), 0) / counted(taps));
      }
      Y.push(row);
    }
    const caption = `input X (${H}×${W}), padding (${p[0]}, ${p[1]})` + (extra[0] || extra[1] ? ", dotted: past the padding" : "");
    const input = clGrid(H + 2 * p[0] + extra[0], W + 2 * p[1] + extra[1], { caption, testid: "x" });
    input.cells.forEach((row, i) => row.forEach((cell, j) => {
      const r = i - p[0], c = j - p[1];
      cell.dataset.r = String(r); cell.dataset.c = String(c);
      if (r < 0 || r >= H || c < 0 || c >= W) {
        const over = r >= H + p[0] || c >= W + p[1];
        cell.classList.add("cl-pad");
        cell.classList.toggle("cl-over", over);
        cell.textContent = mode === "max" ? CL_MINUS_INF : "0";
        cell.title = (over ? "past the padding (ceil_mode)" : "padding") + (mode === "max"
          ? ": −∞, never the maximum" : (countPad && !over ? ": counts as 0" : ": adds 0, not counted"));
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
    ui.ceil.input.checked = ceilMode;
    ui.countPad.input.checked = countPad;
    ui.countPad.input.disabled = mode === "max";  // max pooling never counts
    const [open, close] = ceilMode ? ["⌈", "⌉"] : ["⌊", "⌋"];
    const side = (n, d, what) => `${open}(${n} + 2·${p[d]} − ${k[d]}) / ${s[d]}${close} + 1`
      + (axes[d].dropped ? " − 1 (that window would start in the padding)" : "") + ` = ${axes[d].out} ${what}`;
    ui.shape.textContent = `output shape ${outH}×${outW}: ${side(H, 0, "rows")}, ${side(W, 1, "columns")}`;
    ui.note.textContent = mode === "max"
      ? "Max pooling pads with −∞: a padded cell can never be the maximum, so padding is ignored."
      : countPad
        ? "Average pooling pads with 0 and counts the padded cells (count_include_pad=True, F.avg_pool2d's " +
          "default): the divisor is k_h·k_w, less any cells a ceil_mode window hangs past the padding."
        : "Average pooling with count_include_pad=False: the padded zeros add nothing and do not count; " +
          "the divisor is the number of real cells in the window.";
    geo = { win, Y, outH, outW, input, output, mode, pad: p, counted };
    draw();
  }

  function go(p) {
    model.set("position", Math.min(geo.outH * geo.outW - 1, Math.max(0, p)));
    model.save_changes();
  }

  function draw() {
    const { win, Y, outW, input, output, mode, pad, counted } = geo;
    const p = model.get("position");
    const r = Math.floor(p / outW), c = p % outW;
    input.cells.flat().forEach((cell) => cell.classList.remove("cl-win", "cl-pick"));
    const taps = win.taps(r, c);
    taps.forEach((t) => input.cells[t.i][t.j].classList.add("cl-win"));
    output.cells.forEach((row, i) => row.forEach((cell, j) => cell.classList.toggle("cl-current", i === r && j === c)));
    const shown = (t) => (t.pad ? (mode === "max" ? CL_MINUS_INF : "0") : clFmt(t.x));
    if (mode === "max") {
      let best = null;
      // torch's rule, as PoolingView.argmax: a larger value or any NaN takes over (the first largest, the last NaN)
      for (const t of taps) if (!t.pad && (best === null || t.x > best.x || Number.isNaN(t.x))) best = t;
      input.cells[best.i][best.j].classList.add("cl-pick");
      ui.math.replaceChildren(
        `max(${taps.map(shown).join(", ")}) = ${clFmt(Y[r][c])}, taken from `,
        clEl("span", { "data-testid": "argmax", text: `X[${best.i - pad[0]}, ${best.j - pad[1]}]` }),
        Number.isNaN(best.x) ? " (outlined; the last NaN of the window)" : " (outlined; the first one on ties)",
      );
    } else {
      const sum = taps.reduce((acc, t) => acc + (t.pad ? 0 : t.x), 0);
      const count = counted(taps);
      ui.math.replaceChildren(
        `(${taps.map(shown).join(" + ")}) / ${count} = `,
        clEl("span", { "data-testid": "sum", text: clFmt(sum) }),
        " / ",
        clEl("span", { "data-testid": "count", text: String(count) }),
        ` = ${clFmt(Y[r][c])}`,
        count < taps.length ? ` (${taps.length - count} of the ${taps.length} cells not counted)` : "",
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
  for (const key of ["kernel_size", "stride", "padding", "mode", "ceil_mode", "count_include_pad"]) {
    events.push([`change:${key}`, onGeometry]);
  }
  events.forEach(([name, cb]) => model.on(name, cb));
  build();
  return () => events.forEach(([name, cb]) => model.off(name, cb));
}

export default { render };
