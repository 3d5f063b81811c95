// ChannelsView: cross-correlate a multi-channel input X (C_in, H, W) with
// kernels K (C_out, C_in, kh, kw). One row per input channel shows the window,
// that channel's kernel and its partial sum; the total is one output value.

function render({ model, el }) {
  clStyle();
  const root = clEl("div", { class: "cl-root" });
  el.append(root);
  let parts = null;

  // Partial sums for output channel o at output cell (r, c): one per input channel.
  function partials(X, K, win, o, r, c) {
    return X.map((_, ch) => win[ch].taps(r, c).reduce((s, t) => s + t.x * K[o][ch][t.a][t.b], 0));
  }

  function build() {
    root.replaceChildren();
    const X = clNumbers(model.get("x")), K = clNumbers(model.get("k"));
    const cin = X.length, cout = K.length, H = X[0].length, W = X[0][0].length;
    const kh = K[0][0].length, kw = K[0][0][0].length;
    const win = X.map((Xc) => clWindows(Xc, kh, kw));
    const outH = win[0].outH, outW = win[0].outW, n = outH * outW;
    // Every output value, computed here: Y[o][r][c] = sum over channels.
    const Y = K.map((_, o) => Array.from({ length: outH }, (_, r) =>
      Array.from({ length: outW }, (_, c) => partials(X, K, win, o, r, c).reduce((a, b) => a + b, 0))));

    const rows = [], inputs = [], kernels = [], terms = [], partialEls = [];
    for (let ch = 0; ch < cin; ch++) {
      const xg = clGrid(H, W, { caption: `input channel X[${ch}] (${H}×${W})`, testid: `x${ch}`, values: X[ch] });
      const kg = clGrid(kh, kw, { caption: "", testid: `k${ch}` });
      kg.cells.flat().forEach((cell) => cell.classList.add("cl-kernel"));
      const part = clEl("strong", { "data-testid": `partial-${ch}` });
      const term = clEl("div", { class: "cl-math", "data-testid": `terms-${ch}` });
      const sumBox = clEl("div", { class: "cl-figure" }, [
        clEl("div", {}, [clEl("span", { text: `channel ${ch} partial sum = ` }), part]),
        term,
      ]);
      sumBox.style.alignItems = "flex-start";
      const star = clEl("div", { text: "⋆", title: "cross-correlation", "aria-hidden": "true" });
      star.style.fontSize = "30px";
      const row = clEl("div", { class: "cl-row", "data-testid": `channel-row-${ch}` }, [xg.figure, star, kg.figure, sumBox]);
      row.style.alignItems = "center";
      rows.push(row); inputs.push(xg); kernels.push(kg); terms.push(term); partialEls.push(part);
    }
    const outputs = K.map((_, o) => {
      const g = clGrid(outH, outW, { caption: `output channel Y[${o}] (${outH}×${outW})`, testid: `y${o}`, values: Y[o] });
      g.cells.forEach((row, r) => row.forEach((cell, c) => {
        cell.setAttribute("role", "button");
        cell.setAttribute("aria-label", `output channel ${o}, row ${r}, column ${c}`);
        cell.addEventListener("click", () => { pick(o); go(r * outW + c); });
      }));
      return g;
    });
    const deck = clEl("div", { class: "cl-figure", "data-testid": "inputs" }, rows);
    deck.style.alignItems = "flex-start";
    const outCol = clEl("div", { class: "cl-row", "data-testid": "outputs" }, outputs.map((g) => g.figure));
    const stage = clEl("div", {
      class: "cl-row cl-stage", tabindex: "0", role: "group",
      "aria-label": "Channels view: arrow keys move the window, Page Up and Page Down change the output channel",
    }, [deck, outCol]);
    clKeys(stage, { rows: () => outH, cols: () => outW, get: () => model.get("position"), set: go });
    stage.addEventListener("keydown", (event) => {
      const step = { PageDown: 1, PageUp: -1 }[event.key];
      if (step === undefined) return;
      event.preventDefault();
      pick(model.get("out_channel") + step);
    });

    const select = clEl("select", { "aria-label": "Output channel", "data-testid": "out-channel" });
    K.forEach((_, o) => select.append(clEl("option", { value: String(o), text: `${o}: kernel stack K[${o}]` })));
    select.addEventListener("change", () => pick(parseInt(select.value, 10)));
    const slider = clSlider({
      label: "Window position", min: 0, max: n - 1, value: model.get("position"), testid: "position",
      onInput: (p) => go(p),
    });
    const total = clEl("strong", { "data-testid": "total" });
    const where = clEl("span", { "data-testid": "where" });
    const sumLine = clEl("div", { class: "cl-math", "data-testid": "sum-line", "aria-live": "polite" });
    const title = model.get("title");
    if (title) root.append(clEl("div", { class: "cl-title", text: title }));
    root.append(
      clEl("div", { class: "cl-controls" }, [
        clEl("label", {}, [clEl("span", { text: "Output channel" }), select]),
        slider.el,
        clEl("span", {}, [where, " = ", total]),
      ]),
      stage,
      sumLine,
      clEl("div", {
        class: "cl-hint",
        text: `Kernel tensor K: (C_out, C_in, k_h, k_w) = (${cout}, ${cin}, ${kh}, ${kw}). ` +
          "Every output channel has its own stack of C_in kernels; its value is the sum of one partial sum per input channel. " +
          "Drag the slider, click an output cell, or focus the grids and use the arrow keys (Page Up/Down: output channel).",
      }),
    );
    parts = { X, K, Y, win, inputs, kernels, terms, partialEls, outputs, select, slider, total, where, sumLine, n, outW, cout };
    draw();
  }

  function go(p) {
    model.set("position", Math.min(parts.n - 1, Math.max(0, p)));
    model.save_changes();
  }

  function pick(o) {
    model.set("out_channel", Math.min(parts.cout - 1, Math.max(0, o)));
    model.save_changes();
  }

  function draw() {
    const { X, K, Y, win, inputs, kernels, terms, partialEls, outputs, select, slider, total, where, sumLine, outW } = parts;
    const p = model.get("position"), o = model.get("out_channel");
    const r = Math.floor(p / outW), c = p % outW;
    const sums = partials(X, K, win, o, r, c);
    X.forEach((_, ch) => {
      inputs[ch].cells.flat().forEach((cell) => cell.classList.remove("cl-win"));
      const taps = win[ch].taps(r, c);
      taps.forEach((t) => inputs[ch].cells[t.i][t.j].classList.add("cl-win"));
      kernels[ch].cells.forEach((row, a) => row.forEach((cell, b) => { cell.textContent = clFmt(K[o][ch][a][b]); }));
      kernels[ch].figure.querySelector(".cl-caption").textContent = `kernel K[${o}, ${ch}]`;
      terms[ch].textContent = `${taps.map((t) => `${clFmt(t.x)}×${clFmt(K[o][ch][t.a][t.b])}`).join(" + ")} = ${clFmt(sums[ch])}`;
      partialEls[ch].textContent = clFmt(sums[ch]);
    });
    outputs.forEach((g, q) => g.cells.forEach((row, i) => row.forEach((cell, j) => {
      cell.classList.toggle("cl-dim", q !== o);
      cell.classList.toggle("cl-current", q === o && i === r && j === c);
    })));
    select.value = String(o);
    slider.set(p);
    where.textContent = `Y[${o}, ${r}, ${c}]`;
    total.textContent = clFmt(Y[o][r][c]);
    sumLine.textContent = `Y[${o}, ${r}, ${c}] = ${sums.map((s, ch) => `${clFmt(s)} (channel ${ch})`).join(" + ")} = ${clFmt(Y[o][r][c])}`;
  }

  build();
  return clListen(model, { "change:position change:out_channel": draw, "change:x change:k change:title": build });
}

export default { render };
