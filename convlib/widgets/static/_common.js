// Shared helpers for convlib widgets. Prepended to each widget's ESM file, so
// every widget stays one self-contained module (live in Jupyter and in the
// static book alike). No imports, no network.

const CL_STYLE_ID = "convlib-widget-style";
const CL_CSS = `
.cl-root { font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1f2933;
  display: flex; flex-direction: column; gap: 10px; padding: 8px 6px;
  background: #fff; border-radius: 6px; color-scheme: light; }  /* a light card, also on a dark page */
.cl-root button, .cl-root select, .cl-root input { color: #1f2933; }
.cl-title { font-weight: 600; }
.cl-row { display: flex; flex-wrap: wrap; gap: 18px; align-items: flex-start; }
.cl-figure { display: flex; flex-direction: column; gap: 4px; align-items: center; }
.cl-caption { font-size: 12px; color: #52606d; }
.cl-grid { display: grid; gap: 2px; }
.cl-cell { min-width: 34px; height: 30px; padding: 0 3px; display: flex; align-items: center;
  justify-content: center; background: #f0f4f8; border: 1px solid #d9e2ec; border-radius: 3px;
  font-variant-numeric: tabular-nums; font-size: 13px; transition: background .08s; }
.cl-cell.cl-pad { background: #fff; color: #616e7c; border-style: dashed; }
.cl-cell.cl-win { background: #ffd166; border-color: #e0a800; }
.cl-cell.cl-win.cl-pad { background: #fff1c7; }
.cl-cell.cl-kernel { background: #c3dafe; border-color: #7f9cf5; }
.cl-cell.cl-done { background: #d3f9d8; border-color: #8ce99a; }
.cl-cell.cl-current { background: #51cf66; border-color: #2b8a3e; color: #1f2933; font-weight: 700; }
.cl-cell.cl-empty { color: transparent; }
.cl-cell.cl-pick { outline: 3px solid #e8590c; outline-offset: -1px; }
.cl-cell.cl-dim { background: #fafbfc; border-color: #e4e7eb; color: #616e7c; font-weight: normal; }  /* faded, yet legible (WCAG AA) */
.cl-cell[role="button"] { cursor: pointer; }
.cl-controls { display: flex; flex-wrap: wrap; gap: 14px; align-items: center; }
.cl-controls label { display: flex; gap: 6px; align-items: center; }
.cl-controls input[type="range"] { width: 160px; }
.cl-math { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 13px;
  background: #f8f9fa; border-left: 3px solid #ffd166; padding: 6px 8px; white-space: pre-wrap; }
.cl-stage:focus { outline: 2px solid #7f9cf5; outline-offset: 3px; }
.cl-hint { font-size: 12px; color: #52606d; }
.cl-body { display: contents; }
`;

// The numbers of a grid trait (nested arrays) as numbers. A live Jupyter kernel sends NaN and
// +-Infinity as the strings "nan", "inf" and "-inf" (they are not JSON); the static book writes
// the JavaScript literals itself. Either way the widget computes with numbers.
const CL_SPECIAL = { nan: NaN, inf: Infinity, "-inf": -Infinity };
function clNumbers(v) {
  if (Array.isArray(v)) return v.map(clNumbers);
  return typeof v === "string" ? (CL_SPECIAL[v.toLowerCase()] ?? Number(v)) : v;
}

// Add a stylesheet to the page once (by id): the shared one, or a widget's own.
function clStyle(id = CL_STYLE_ID, css = CL_CSS) {
  if (document.getElementById(id)) return;
  const style = document.createElement("style");
  style.id = id;
  style.textContent = css;
  document.head.appendChild(style);
}

function clEl(tag, props = {}, children = []) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child);
  return node;
}

// A number as a short string: integers stay integers, others get <= 3 decimals.
function clFmt(v) {
  if (!Number.isFinite(v)) return String(v);
  const r = Math.sign(v) * Math.round(Math.abs(v) * 1000) / 1000;  // halves away from zero, both signs alike
  return Object.is(r, -0) ? "0" : String(r);
}

// A rows x cols grid of cells; returns { figure, cells } where cells[i][j] is a div.
function clGrid(rows, cols, { caption = "", testid = "grid", values = null } = {}) {
  const grid = clEl("div", { class: "cl-grid", "data-testid": testid });
  grid.style.gridTemplateColumns = `repeat(${cols}, auto)`;
  const cells = [];
  for (let i = 0; i < rows; i++) {
    const row = [];
    for (let j = 0; j < cols; j++) {
      const cell = clEl("div", { class: "cl-cell", "data-testid": `${testid}-${i}-${j}` });
      if (values) cell.textContent = clFmt(values[i][j]);
      grid.append(cell);
      row.push(cell);
    }
    cells.push(row);
  }
  const figure = clEl("div", { class: "cl-figure" }, [grid, clEl("div", { class: "cl-caption", text: caption })]);
  return { figure, grid, cells };
}

// A labelled range input. onInput receives the integer value.
function clSlider({ label, min, max, value, testid, onInput }) {
  const input = clEl("input", {
    type: "range", min: String(min), max: String(max), step: "1", value: String(value),
    "aria-label": label, "data-testid": testid,
  });
  const shown = clEl("span", { class: "cl-value", text: String(value) });
  input.addEventListener("input", () => { shown.textContent = input.value; onInput(parseInt(input.value, 10)); });
  const wrap = clEl("label", {}, [clEl("span", { text: label }), input, shown]);
  return {
    el: wrap, input,
    // Writes only what changed: rewriting the value of a slider being dragged can disturb the drag.
    set(v, lo = Number(input.min), hi = Number(input.max)) {
      if (input.min !== String(lo)) input.min = String(lo);
      if (input.max !== String(hi)) input.max = String(hi);
      if (input.value !== String(v)) input.value = String(v);
      shown.textContent = String(v);
    },
  };
}

// Sliding windows: zero padding, stride, dilation. Returns the padded matrix,
// the output size and a function giving window taps for output (r, c).
// `extra` adds cells past the bottom/right padding (a ceil_mode window's
// overhang): taps there have `pad` and `over` set.
function clWindows(X, kh, kw, { padding = [0, 0], stride = [1, 1], dilation = [1, 1], extra = [0, 0] } = {}) {
  const H = X.length, W = X[0].length;
  const [ph, pw] = padding, [sh, sw] = stride, [dh, dw] = dilation, [eh, ew] = extra;
  const P = [];
  for (let i = 0; i < H + 2 * ph + eh; i++) {
    const row = [];
    for (let j = 0; j < W + 2 * pw + ew; j++) {
      const inside = i >= ph && i < H + ph && j >= pw && j < W + pw;
      row.push(inside ? X[i - ph][j - pw] : 0);
    }
    P.push(row);
  }
  const spanH = dh * (kh - 1) + 1, spanW = dw * (kw - 1) + 1;
  const outH = Math.floor((H + 2 * ph + eh - spanH) / sh) + 1;
  const outW = Math.floor((W + 2 * pw + ew - spanW) / sw) + 1;
  const taps = (r, c) => {
    const list = [];
    for (let a = 0; a < kh; a++) for (let b = 0; b < kw; b++) {
      const i = r * sh + a * dh, j = c * sw + b * dw;
      list.push({ a, b, i, j, x: P[i][j], pad: i < ph || i >= H + ph || j < pw || j >= W + pw,
                  over: i >= H + 2 * ph || j >= W + 2 * pw });
    }
    return list;
  };
  return { P, outH, outW, taps };
}

// Arrow keys move a cursor over rows x cols positions: left/right in reading order
// (as the position slider does), up/down by a row and not past the first or last row;
// Home/End jump to the ends.
function clKeys(target, { rows, cols, get, set }) {
  target.addEventListener("keydown", (event) => {
    const n = rows() * cols();
    let p = get();
    const step = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: cols(), ArrowUp: -cols() }[event.key];
    if (step !== undefined) {
      const pastEdgeRow = Math.abs(step) > 1 && (p + step < 0 || p + step > n - 1);  // up from the first row, down from the last
      if (!pastEdgeRow) p = Math.min(n - 1, Math.max(0, p + step));
    }
    else if (event.key === "Home") p = 0;
    else if (event.key === "End") p = n - 1;
    else return;
    event.preventDefault();
    set(p);
  });
}

// Subscribe to model events ({"change:a change:b": handler, ...}); returns the
// cleanup function a widget's render hands back.
function clListen(model, handlers) {
  const pairs = Object.entries(handlers);
  pairs.forEach(([names, cb]) => model.on(names, cb));
  return () => pairs.forEach(([names, cb]) => model.off(names, cb));
}
