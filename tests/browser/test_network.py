"""NetworkView in the built book: the page's forward pass, image picks and painting, against torch."""

from __future__ import annotations

import json

import pytest
import torch

from convlib.widgets.network import run_layers, unpack

pytestmark = pytest.mark.browser

PAGE = "notebooks/06_lenet.html"
NIN_PAGE = "notebooks/07_modern_cnns.html"


def widget_state(widget) -> dict:
    """The state the page started from: the JSON inlined in the widget's own script."""
    script = widget.evaluate("el => el.nextElementSibling.textContent")
    start = script.index("const state = ") + len("const state = ")
    end = script.index(";\nconst listeners")
    return json.loads(script[start:end])


def shown(widget) -> dict:
    # Painting recomputes the network once per animation frame: wait until it has caught up.
    widget.evaluate("""el => new Promise((done) => {
      const root = el.querySelector(".cl-nv");
      const check = () => (root.dataset.busy === "true" ? requestAnimationFrame(check) : done(true));
      check();
    })""")
    return widget.evaluate("""el => {
      const root = el.querySelector(".cl-nv");
      const q = (id) => el.querySelector(`[data-testid="${id}"]`);
      return { probs: JSON.parse(root.dataset.probs), scores: JSON.parse(root.dataset.scores),
               logits: [...el.querySelectorAll(".cl-nv-logit")].map((e) => Number(e.textContent)),
               pixels: JSON.parse(root.dataset.pixels),
               verdict: q("verdict").textContent,
               labels: [...el.querySelectorAll(".cl-nv-stage-label")].map((e) => e.textContent),
               maps: [...el.querySelectorAll(".cl-nv-maps")].map((e) => e.children.length),
               pressed: [...el.querySelectorAll(".cl-nv-thumb")].map((b) => b.getAttribute("aria-pressed")) };
    }""")


def expected(state: dict, pixels: list[float], index: int) -> tuple[list[torch.Tensor], torch.Tensor]:
    """Stage outputs and probabilities that torch computes from the page's own layer data."""
    shape = state["images"][index]["shape"]
    outs = run_layers(state["layers"], torch.tensor(pixels, dtype=torch.float32).reshape(shape))
    stages = [outs[s["end"]] for s in state["stages"]]
    return stages, torch.softmax(stages[-1], 0)


def assert_page_agrees(widget, state: dict, index: int) -> dict:
    s = shown(widget)
    stages, probs = expected(state, s["pixels"], index)
    torch.testing.assert_close(torch.tensor(s["probs"], dtype=torch.float32), probs, rtol=1e-4, atol=1e-5)
    # The scores z beside the bars are the last layer's outputs; softmax of them is the bars.
    torch.testing.assert_close(torch.tensor(s["scores"], dtype=torch.float32), stages[-1], rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(torch.tensor(s["logits"], dtype=torch.float64), stages[-1].double(), rtol=0, atol=6e-4)  # 3 decimals
    assert "softmax: p_k = exp(z_k)" in s["verdict"]
    top = int(probs.argmax())
    assert s["verdict"].startswith(f"prediction: {state['classes'][top]} ")
    assert f"true class: {state['classes'][state['labels'][index]]}" in s["verdict"]
    assert s["maps"] == [out.shape[0] if out.ndim == 3 else 1 for out in stages[:-1]]
    for label, stage, out in zip(s["labels"], state["stages"], stages):
        assert label.startswith(f"{stage['label']}: {'×'.join(map(str, out.shape))}, from ")
    assert s["pressed"] == [str(k == index).lower() for k in range(len(state["images"]))]
    return s


def drag(page, widget, points: list[tuple[float, float]]) -> None:
    """Drag the mouse over the input canvas through ``points`` (fractions of its width and height)."""
    box = widget.locator('[data-testid="input"]').bounding_box()
    xy = [(box["x"] + fx * box["width"], box["y"] + fy * box["height"]) for fx, fy in points]
    page.mouse.move(*xy[0])
    page.mouse.down()
    for x, y in xy[1:]:
        page.mouse.move(x, y, steps=6)
    page.mouse.up()


def test_every_image_matches_torch(book_page):
    book_page.open(PAGE)
    widget = book_page.widgets("NetworkView").first
    state = widget_state(widget)
    assert len(state["images"]) == 8 and len(state["classes"]) == 10
    assert_page_agrees(widget, state, 0)
    for k in range(len(state["images"])):
        widget.locator(f'[data-testid="thumb-{k}"]').click()
        s = assert_page_agrees(widget, state, k)
        # The pixels shown are the stored image, unchanged.
        torch.testing.assert_close(torch.tensor(s["pixels"], dtype=torch.float32), unpack(state["images"][k]).flatten())
    book_page.assert_clean()


def test_painting_changes_the_input_and_everything_follows(book_page):
    book_page.open(PAGE)
    widget = book_page.widgets("NetworkView").first
    state = widget_state(widget)
    widget.locator('[data-testid="thumb-1"]').click()
    before = shown(widget)
    widget.scroll_into_view_if_needed()
    drag(book_page.page, widget, [(0.1, 0.1), (0.9, 0.15), (0.5, 0.9)])
    after = assert_page_agrees(widget, state, 1)
    changed = [k for k, (a, b) in enumerate(zip(before["pixels"], after["pixels"])) if a != b]
    assert len(changed) > 30 and all(after["pixels"][k] >= before["pixels"][k] for k in changed)
    assert max(after["pixels"]) == 1.0
    # Erase over the same path: pixels only go down.
    widget.locator('[data-testid="tool-erase"]').click()
    assert widget.locator('[data-testid="tool-erase"]').get_attribute("aria-pressed") == "true"
    drag(book_page.page, widget, [(0.1, 0.1), (0.9, 0.15)])
    erased = assert_page_agrees(widget, state, 1)
    assert all(e <= a for e, a in zip(erased["pixels"], after["pixels"])) and erased["pixels"] != after["pixels"]
    # Reset brings back the stored image and its probabilities.
    widget.locator('[data-testid="reset"]').click()
    restored = assert_page_agrees(widget, state, 1)
    assert restored["pixels"] == before["pixels"] and restored["probs"] == before["probs"]
    book_page.screenshot("network_view.png")
    book_page.assert_clean()


def test_a_quick_stroke_paints_a_line_not_dots(book_page):
    """Pointer events arrive far apart in a fast stroke; every pixel between them gets painted."""
    book_page.open(PAGE)
    widget = book_page.widgets("NetworkView").first
    widget.locator('[data-testid="thumb-2"]').click()
    widget.scroll_into_view_if_needed()
    box = widget.locator('[data-testid="input"]').bounding_box()
    y = box["y"] + 0.5 * box["height"]
    mouse = book_page.page.mouse
    mouse.move(box["x"] + 0.1 * box["width"], y)
    mouse.down()
    mouse.move(box["x"] + 0.9 * box["width"], y, steps=1)  # one event for the whole stroke
    mouse.up()
    pixels = shown(widget)["pixels"]
    side = round(len(pixels) ** 0.5)  # LeNet: one 28x28 channel
    row = int(0.5 * side)
    assert all(pixels[row * side + j] == 1.0 for j in range(int(0.1 * side), int(0.9 * side) + 1))
    book_page.assert_clean()


def test_a_painted_dot_moves_first_layer_maps_only_nearby(book_page):
    # Locality, as the chapter says: a first-layer output sees a 5x5 window.
    book_page.open(PAGE)
    widget = book_page.widgets("NetworkView").first
    state = widget_state(widget)
    before = shown(widget)
    widget.scroll_into_view_if_needed()
    box = widget.locator('[data-testid="input"]').bounding_box()
    book_page.page.mouse.click(box["x"] + box["width"] * 14.5 / 28, box["y"] + box["height"] * 14.5 / 28)
    after = assert_page_agrees(widget, state, 0)
    first_before = expected(state, before["pixels"], 0)[0][0]  # (6, 28, 28)
    first_after = expected(state, after["pixels"], 0)[0][0]
    rows, cols = torch.nonzero((first_after - first_before).abs().amax(0) > 0, as_tuple=True)
    assert len(rows) > 0
    # The dot covers pixels 13..15; a 5x5 kernel with padding 2 spreads it by 2 more.
    assert int(rows.min()) >= 11 and int(rows.max()) <= 17 and int(cols.min()) >= 11 and int(cols.max()) <= 17
    book_page.assert_clean()


def test_controls_are_labelled(book_page):
    book_page.open(PAGE)
    widget = book_page.widgets("NetworkView").first
    labels = widget.evaluate("el => [...el.querySelectorAll('button, canvas[data-testid]')]"
                             ".map((e) => e.getAttribute('aria-label') || e.textContent)")
    assert all(labels) and "Reset image" in labels and any(lab.startswith("show image 0: ") for lab in labels)
    book_page.assert_clean()


def test_clicking_a_map_shows_its_kernels(book_page):
    book_page.open(PAGE)
    widget = book_page.widgets("NetworkView").first
    state = widget_state(widget)
    detail = lambda s: widget.evaluate(  # noqa: E731
        f"el => {{ const d = el.querySelector('[data-testid=\"detail-{s}\"]');"
        " return { kernels: d.dataset.kernels ? JSON.parse(d.dataset.kernels) : null, canvases: d.querySelectorAll('canvas').length }; }")
    weights = lambda layer: unpack(state["layers"][layer]["weight"])  # noqa: E731
    conv2 = next(i for i, layer in enumerate(state["layers"]) if layer["kind"] == "conv" and i > 0)
    widget.scroll_into_view_if_needed()
    widget.locator('[data-testid="map-0-2"]').click()
    d = detail(0)
    torch.testing.assert_close(torch.tensor(d["kernels"]), weights(0)[2].flatten())
    assert d["canvases"] == 1 + 1  # the enlarged map and one 5x5 kernel (one input channel)
    widget.locator('[data-testid="map-2-5"]').focus()
    book_page.page.keyboard.press("Enter")
    d = detail(2)
    torch.testing.assert_close(torch.tensor(d["kernels"]), weights(conv2)[5].flatten())
    assert d["canvases"] == 1 + 6 and detail(0)["kernels"] is None  # one detail at a time
    widget.locator('[data-testid="thumb-3"]').click()  # a new image keeps the pick, with new maps
    assert detail(2)["kernels"] == d["kernels"]
    widget.locator('[data-testid="map-2-5"]').click()  # a second click closes it
    assert detail(2) == {"kernels": None, "canvases": 0}
    widget.locator('[data-testid="map-1-0"]').click()  # a pooling map enlarges, with no kernels
    assert detail(1) == {"kernels": None, "canvases": 1}
    book_page.assert_clean()


def test_the_maps_are_one_tab_stop_per_stage(book_page):
    """Chapter 8's view shows 224 feature maps: Tab must not visit them one by one."""
    book_page.open("notebooks/08_cifar10.html")
    widget = book_page.widgets("NetworkView").first
    stops = widget.evaluate("el => [...el.querySelectorAll('canvas[role=button]')].filter((c) => c.tabIndex >= 0)"
                            ".map((c) => c.dataset.testid)")
    clickable_stages = widget.evaluate("el => new Set([...el.querySelectorAll('canvas[role=button]')]"
                                       ".map((c) => c.dataset.testid.split('-')[1])).size")
    assert len(stops) == clickable_stages and all(t.endswith("-0") for t in stops)
    first = widget.locator(f'[data-testid="{stops[0]}"]')
    widget.scroll_into_view_if_needed()
    first.focus()
    book_page.page.keyboard.press("ArrowRight")
    second = stops[0][:-1] + "1"
    assert widget.evaluate("el => document.activeElement.dataset.testid") == second
    assert widget.locator(f'[data-testid="{second}"]').get_attribute("tabindex") == "0"  # the stage's stop moved
    assert first.get_attribute("tabindex") == "-1"
    book_page.page.keyboard.press("Enter")
    assert widget.locator(f'[data-testid="{second}"]').get_attribute("aria-pressed") == "true"
    book_page.assert_clean()


def test_cifar_chapter_view_standardises_and_matches_torch(book_page):
    # Chapter 8: colour images, a normalisation step inside the page, three conv blocks.
    book_page.open("notebooks/08_cifar10.html")
    widget = book_page.widgets("NetworkView").first
    state = widget_state(widget)
    assert state["layers"][0]["kind"] == "normalize" and state["images"][0]["shape"] == [3, 32, 32]
    for k in (0, 3, 7):
        widget.locator(f'[data-testid="thumb-{k}"]').click()
        assert_page_agrees(widget, state, k)
    widget.scroll_into_view_if_needed()
    drag(book_page.page, widget, [(0.2, 0.5), (0.8, 0.5)])
    s = assert_page_agrees(widget, state, 7)
    assert max(s["pixels"]) == 1.0
    widget.locator('[data-testid="map-0-4"]').click()
    kernels = widget.evaluate("el => JSON.parse(el.querySelector('[data-testid=\"detail-0\"]').dataset.kernels)")
    torch.testing.assert_close(torch.tensor(kernels), unpack(state["layers"][1]["weight"])[4].flatten())
    widget.scroll_into_view_if_needed()
    book_page.screenshot("network_view_cifar.png")
    book_page.assert_clean()


@pytest.mark.parametrize(("page", "size", "channels"), [(PAGE, (28, 40), 1), ("notebooks/08_cifar10.html", (50, 32), 3)],
                         ids=["grey", "colour"])
def test_your_own_image_is_cropped_to_its_centre_and_classified(book_page, tmp_path, page, size, channels):
    """A file of the learner's: its central square, in the network's input size, goes through the network."""
    from PIL import Image

    h, w = size
    rgb = torch.randint(0, 256, (h, w, 3), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)
    path = tmp_path / "mine.png"
    Image.fromarray(rgb.numpy()).save(path)
    side = min(h, w)  # the central side x side square, already the input size: no resampling
    top, left = (h - side) // 2, (w - side) // 2
    crop = rgb[top : top + side, left : left + side].double().permute(2, 0, 1) / 255  # (3, side, side)
    want = (crop * torch.tensor([0.299, 0.587, 0.114], dtype=torch.float64)[:, None, None]).sum(0, keepdim=True) \
        if channels == 1 else crop  # (C, side, side)

    book_page.open(page)
    widget = book_page.widgets("NetworkView").first
    state = widget_state(widget)
    widget.evaluate("el => { el.dataset.before = el.querySelector('.cl-nv').dataset.pixels; }")
    widget.locator('[data-testid="upload"]').set_input_files(str(path))
    widget.evaluate("el => new Promise((done) => { const root = el.querySelector('.cl-nv');"  # the file is read asynchronously
                    " const check = () => (root.dataset.pixels !== el.dataset.before ? done(true) : setTimeout(check, 20)); check(); })")
    s = shown(widget)
    torch.testing.assert_close(torch.tensor(s["pixels"], dtype=torch.float64), want.flatten(), rtol=0, atol=1e-9)
    stages, probs = expected(state, s["pixels"], 0)
    torch.testing.assert_close(torch.tensor(s["probs"], dtype=torch.float32), probs, rtol=1e-4, atol=1e-5)
    assert "true class" not in s["verdict"] and s["pressed"] == ["false"] * len(state["images"])

    widget.locator('[data-testid="invert"]').click()  # dark on light <-> light on dark
    inverted = shown(widget)
    torch.testing.assert_close(torch.tensor(inverted["pixels"], dtype=torch.float64), 1 - want.flatten(), rtol=0, atol=1e-9)
    torch.testing.assert_close(torch.tensor(inverted["probs"], dtype=torch.float32),
                               expected(state, inverted["pixels"], 0)[1], rtol=1e-4, atol=1e-5)

    widget.locator('[data-testid="reset"]').click()  # back to the picked stored image, with its true class
    assert_page_agrees(widget, state, 0)
    book_page.assert_clean()


def opened_with_outputs(book_page, page: str):
    """The page's first NetworkView, its state, the shown image ``(C, H, W)`` and every layer's output for it."""
    book_page.open(page)
    widget = book_page.widgets("NetworkView").first
    state = widget_state(widget)
    widget.scroll_into_view_if_needed()
    pixels = torch.tensor(shown(widget)["pixels"], dtype=torch.float32).reshape(state["images"][0]["shape"])
    return widget, state, pixels, run_layers(state["layers"], pixels)


def pick_output(book_page, widget, s: int, pixel: tuple[int, int], size: tuple[int, int]) -> dict:
    """Click output ``pixel`` of stage ``s``'s enlarged map (``size`` = its H, W); return the page's account of it."""
    box = widget.locator(f'[data-testid="big-{s}"]').bounding_box()
    (i, j), (h, w) = pixel, size
    book_page.page.mouse.click(box["x"] + (j + 0.5) * box["width"] / w, box["y"] + (i + 0.5) * box["height"] / h)
    return json.loads(widget.evaluate(f"el => el.querySelector('[data-testid=\"detail-{s}\"]').dataset.neuron"))


def test_an_output_pixel_shows_the_sum_that_makes_it(book_page):
    """Click a pixel of an enlarged map: each input channel's window times its kernel, the bias, BatchNorm, activation."""
    widget, state, pixels, outs = opened_with_outputs(book_page, PAGE)
    neuron = lambda s: json.loads(widget.evaluate(f"el => el.querySelector('[data-testid=\"detail-{s}\"]').dataset.neuron"))  # noqa: E731
    for s, c, (i, j) in ((0, 2, (0, 0)), (2, 5, (3, 4))):  # the first reads padding at (0, 0)
        widget.locator(f'[data-testid="map-{s}-{c}"]').click()
        big = widget.locator(f'[data-testid="big-{s}"]')
        assert big.count() == 1 and widget.locator(f'[data-testid="neuron-{s}"]').count() == 0  # nothing picked yet
        got = pick_output(book_page, widget, s, (i, j), outs[state["stages"][s]["end"]].shape[1:])
        main = state["stages"][s]["main"]
        conv = state["layers"][main]
        weight, bias = unpack(conv["weight"]), unpack(conv["bias"])  # (C_out, C_in, k, k), (C_out,)
        x = pixels if main == 0 else outs[main - 1]  # (C_in, H, W): what the convolution reads
        (ph, pw), k = conv["padding"], weight.shape[2]
        padded = torch.nn.functional.pad(x, (pw, pw, ph, ph))
        windows = padded[:, i : i + k, j : j + k]  # (C_in, k, k), stride 1
        assert got["pixel"] == [i, j]
        torch.testing.assert_close(torch.tensor(got["windows"], dtype=torch.float32), windows.flatten(1))
        partials = (windows * weight[c]).sum((1, 2))  # (C_in,)
        torch.testing.assert_close(torch.tensor(got["partials"], dtype=torch.float32), partials, rtol=1e-4, atol=1e-5)
        assert got["bias"] == pytest.approx(float(bias[c]), abs=1e-6)
        assert got["z"] == pytest.approx(float(outs[main][c, i, j]), abs=1e-4)
        assert got["value"] == pytest.approx(float(outs[state["stages"][s]["end"]][c, i, j]), abs=1e-4)
        assert len(got["steps"]) == state["stages"][s]["end"] - main  # one step per layer after the convolution
        text = widget.locator(f'[data-testid="neuron-{s}"]').text_content()
        assert text.startswith(f"output ({i}, {j}): ") and "+ bias" in text
    big.focus()  # the arrow keys move the picked output
    book_page.page.keyboard.press("ArrowRight")
    assert neuron(2)["pixel"] == [3, 5]
    book_page.assert_clean()


@pytest.mark.parametrize("page", [PAGE, NIN_PAGE, "notebooks/08_cifar10.html"])
def test_a_pooled_pixel_shows_its_window_and_the_max_or_mean(book_page, page):
    """Click a pixel of an enlarged pooling map: the window it reads and the max (with its cell) or the mean."""
    widget, state, _, outs = opened_with_outputs(book_page, page)
    pools = [s for s, st in enumerate(state["stages"][:-1]) if state["layers"][st["main"]]["kind"] in ("maxpool", "avgpool")]
    assert pools
    for s in pools:
        main = state["stages"][s]["main"]
        pool, x = state["layers"][main], outs[main - 1]  # (C, H, W): what the pooling reads
        c, (h, w) = x.shape[0] - 1, outs[main].shape[1:]
        widget.locator(f'[data-testid="map-{s}-{c}"]').click()
        for i, j in ((0, 0), (h - 1, w // 2)):
            got = pick_output(book_page, widget, s, (i, j), (h, w))
            (kh, kw), (sh, sw), (ph, pw) = pool["kernel"], pool["stride"], pool["padding"]
            cells = [(i * sh + a - ph, j * sw + e - pw) for a in range(kh) for e in range(kw)]
            want = [float(x[c, r, q]) if 0 <= r < x.shape[1] and 0 <= q < x.shape[2] else None for r, q in cells]
            assert got["pixel"] == [i, j]
            assert got["window"] == pytest.approx(want, abs=1e-5)
            assert got["z"] == pytest.approx(float(outs[main][c, i, j]), abs=1e-5)
            assert got["value"] == pytest.approx(float(outs[state["stages"][s]["end"]][c, i, j]), abs=1e-5)
            text = widget.locator(f'[data-testid="neuron-{s}"]').text_content()
            if pool["kind"] == "maxpool":
                assert want[got["pick"]] == max(v for v in want if v is not None) and text.startswith(f"output ({i}, {j}): max(")
                picked = widget.locator(f'[data-testid="pool-window-{s}"] .cl-pick')
                assert picked.count() == 1
            else:
                assert got["pick"] is None and f") / {kh * kw} = " in text
    book_page.assert_clean()


def test_every_layer_shows_convolution_batchnorm_and_activation_apart(book_page):
    book_page.open(PAGE)
    widget = book_page.widgets("NetworkView").first
    state = widget_state(widget)
    button = widget.locator('[data-testid="every-layer"]')
    button.click()
    assert button.get_attribute("aria-pressed") == "true"
    s = shown(widget)
    outs = run_layers(state["layers"], torch.tensor(s["pixels"], dtype=torch.float32).reshape(state["images"][0]["shape"]))
    rows = state["layer_stages"][:-1]  # the last layer's scores are the bars, not a row of maps
    assert len(s["labels"]) == len(rows) and len(rows) > len(state["stages"]) - 1
    for label, stage in zip(s["labels"], rows):
        out = outs[stage["end"]]
        lo, hi = label.rsplit(", from ", 1)[1].split(" to ")
        assert label.startswith(stage["label"] + ": ")
        assert float(lo) == pytest.approx(min(0.0, float(out.min())), abs=1e-3)
        assert float(hi) == pytest.approx(float(out.max()), abs=1e-3)
    assert float(s["labels"][0].rsplit(", from ", 1)[1].split(" to ")[0]) < 0  # raw convolution: negatives show
    torch.testing.assert_close(torch.tensor(s["probs"], dtype=torch.float32), expected(state, s["pixels"], 0)[1],
                               rtol=1e-4, atol=1e-5)
    widget.locator('[data-testid="map-0-2"]').click()  # a convolution row still opens its kernels
    kernels = widget.evaluate("""el => JSON.parse(el.querySelector('[data-testid="detail-0"]').dataset.kernels)""")
    torch.testing.assert_close(torch.tensor(kernels), unpack(state["layers"][rows[0]["main"]]["weight"])[2].flatten())
    button.click()  # back to the grouped rows
    assert len(shown(widget)["labels"]) == len(state["stages"]) - 1
    book_page.assert_clean()

def test_nin_chapter_view_matches_torch_and_names_its_class_maps(book_page):
    """Chapter 7: the trained NiN, computed in the page for every image, painting included; its last block's
    maps named after their classes, each with the mean that global average pooling makes its score."""
    book_page.open(NIN_PAGE)
    widget = book_page.widgets("NetworkView").first
    state = widget_state(widget)
    kinds = [layer["kind"] for layer in state["layers"]]
    assert kinds[-2:] == ["adaptive_avgpool", "flatten"] and state["layers"][-2]["output"] == [1, 1]
    assert state["stages"][-1]["label"] == "global avg pool · flatten"
    assert len(state["images"]) == 10 and state["labels"] == list(range(10))  # one test image per class
    classes = state["classes"]
    stage = len(state["stages"]) - 2  # the last block's last row: the class maps
    for k in (0, 1, 5, 9):
        widget.locator(f'[data-testid="thumb-{k}"]').click()
        s = assert_page_agrees(widget, state, k)
        maps = expected(state, s["pixels"], k)[0][stage]  # (10, h, w), from the page's own layer data
        shown_maps = widget.evaluate("""el => {
          const stage = el.querySelector('.cl-nv').dataset.classStage;
          return { stage: Number(stage),
            names: [...el.querySelectorAll('.cl-nv-class')].map((f) => f.children[1].textContent),
            means: [...el.querySelectorAll('.cl-nv-mean')].map((m) => m.textContent),
            note: el.querySelector(`[data-testid="stage-note-${stage}"]`).textContent,
            labels: [...el.querySelectorAll('.cl-nv-class canvas')].map((c) => c.getAttribute('aria-label')) };
        }""")
        assert shown_maps["stage"] == stage and shown_maps["names"] == classes
        assert shown_maps["note"].startswith("Class maps: one per class")
        assert shown_maps["labels"][3].startswith(f"class map 3, {classes[3]}: show the kernels")
        means = [float(m.removeprefix("mean ")) for m in shown_maps["means"]]
        torch.testing.assert_close(torch.tensor(means, dtype=torch.float64), maps.mean((1, 2)).double(), rtol=0, atol=6e-4)
        torch.testing.assert_close(torch.tensor(s["scores"]), maps.mean((1, 2)), rtol=1e-4, atol=1e-4)  # z = the means
        assert "score z_k = the mean of class map k" in s["verdict"]
    widget.scroll_into_view_if_needed()
    drag(book_page.page, widget, [(0.1, 0.2), (0.9, 0.3)])  # painting: the class maps and the scores follow
    assert_page_agrees(widget, state, 9)
    # Every layer: the class-map row is then the last ReLU's row, still the one before the global pooling.
    widget.locator('[data-testid="every-layer"]').click()
    assert widget.evaluate("el => el.querySelector('.cl-nv').dataset.classStage") == str(len(state["layer_stages"]) - 2)
    assert widget.locator(".cl-nv-class").count() == len(classes)
    book_page.screenshot("network_view_nin.png")
    book_page.assert_clean()


def test_a_class_map_opens_its_1x1_kernels_and_sum(book_page):
    """Click a class map, then one of its cells: the 1x1 convolution's ten kernels and the sum behind the cell."""
    widget, state, pixels, outs = opened_with_outputs(book_page, NIN_PAGE)
    stage = len(state["stages"]) - 2
    main = state["stages"][stage]["main"]
    conv = state["layers"][main]
    widget.locator(f'[data-testid="map-{stage}-4"]').click()
    got = pick_output(book_page, widget, stage, (1, 0), outs[main].shape[1:])
    weight, bias = unpack(conv["weight"]), unpack(conv["bias"])  # (10, 10, 1, 1), (10,)
    x = outs[main - 1]  # (10, h, w): what the 1x1 convolution reads
    torch.testing.assert_close(torch.tensor(got["windows"], dtype=torch.float32), x[:, 1:2, 0:1].flatten(1))
    torch.testing.assert_close(torch.tensor(got["partials"], dtype=torch.float32), x[:, 1, 0] * weight[4, :, 0, 0],
                               rtol=1e-4, atol=1e-5)
    assert got["bias"] == pytest.approx(float(bias[4]), abs=1e-6)
    assert got["value"] == pytest.approx(float(outs[state["stages"][stage]["end"]][4, 1, 0]), abs=1e-4)
    inputs = json.loads(widget.evaluate(f"el => el.querySelector('[data-testid=\"detail-{stage}\"]').dataset.inputs"))
    assert inputs == list(range(10))  # no groups: every input channel
    book_page.assert_clean()
