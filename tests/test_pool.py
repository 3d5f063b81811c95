"""convlib.pool: pool2d against F.max_pool2d, F.avg_pool2d and F.lp_pool2d."""

from __future__ import annotations

import itertools

import pytest
import torch
import torch.nn.functional as F
from hypothesis import assume, given, settings, strategies as st

import convlib as cl
from convlib.pool import adaptive_window, pool2d, windows2d
from convlib.validate import ConvlibInputError
from tests.integer_checks import random_integers

FAST = settings(max_examples=100, deadline=None)


@st.composite
def pool_case(draw: st.DrawFn) -> dict:
    """Shapes, window, stride (None = the window) and padding <= window // 2."""
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    square = draw(st.booleans())
    kernel = kh if square else (kh, kw)
    kw = kh if square else kw
    ph, pw = draw(st.integers(0, kh // 2)), draw(st.integers(0, kw // 2))
    padding = ph if square and ph == pw and draw(st.booleans()) else (ph, pw)
    stride = draw(st.one_of(st.none(), st.integers(1, 3), st.tuples(st.integers(1, 3), st.integers(1, 3))))
    h = draw(st.integers(max(1, kh - 2 * ph), kh + 6))
    w = draw(st.integers(max(1, kw - 2 * pw), kw + 6))
    n, c = draw(st.integers(1, 2)), draw(st.integers(1, 3))
    return dict(shape=(n, c, h, w), kernel=kernel, stride=stride, padding=padding,
                seed=draw(st.integers(0, 2**31 - 1)))


def _values_and_grads(fn, x0: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    x = x0.clone().requires_grad_()
    y = fn(x)
    up = torch.randn(y.shape, generator=torch.Generator().manual_seed(7), dtype=y.dtype)
    (y * up).sum().backward()
    return y, x.grad


@FAST
@given(pool_case(), st.sampled_from(["max", "avg"]))
def test_pool2d_matches_torch(case: dict, mode: str) -> None:
    # randn float64: no ties inside a window, so max-pool gradients are unique.
    x0 = torch.randn(case["shape"], generator=torch.Generator().manual_seed(case["seed"]),
                     dtype=torch.float64)  # (N, C, H, W)
    kw = dict(stride=case["stride"], padding=case["padding"])
    ref = F.max_pool2d if mode == "max" else F.avg_pool2d  # avg: count_include_pad=True
    y, gx = _values_and_grads(lambda x: pool2d(x, case["kernel"], mode=mode, **kw), x0)
    y_ref, gx_ref = _values_and_grads(lambda x: ref(x, case["kernel"], **kw), x0)
    assert y.shape == y_ref.shape
    torch.testing.assert_close(y, y_ref, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(gx, gx_ref, rtol=1e-12, atol=1e-12)


def test_stride_defaults_to_window() -> None:
    x = torch.randn(1, 2, 8, 6, dtype=torch.float64)
    assert pool2d(x, (2, 3)).shape == (1, 2, 4, 2)
    torch.testing.assert_close(pool2d(x, (2, 3)), F.max_pool2d(x, (2, 3)))
    torch.testing.assert_close(pool2d(x, 2, mode="avg"), F.avg_pool2d(x, 2))
    for empty in ((), []):  # torch reads an empty stride as "the window" too
        torch.testing.assert_close(pool2d(x, (2, 3), stride=empty), F.max_pool2d(x, (2, 3), stride=empty))
        torch.testing.assert_close(pool2d(x, 2, empty, mode="avg"), F.avg_pool2d(x, 2, empty))


@FAST
@given(pool_case(), st.sampled_from(["max", "avg"]))
def test_stride_and_padding_positional_as_in_torch(case: dict, mode: str) -> None:
    """pool2d(x, k, s, p) reads its arguments in F.max_pool2d's / F.avg_pool2d's order (they were keyword-only)."""
    x = torch.randn(case["shape"], generator=torch.Generator().manual_seed(case["seed"]), dtype=torch.float64)
    ref = F.max_pool2d if mode == "max" else F.avg_pool2d
    torch.testing.assert_close(pool2d(x, case["kernel"], case["stride"], case["padding"], mode=mode),
                               ref(x, case["kernel"], case["stride"], case["padding"]), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("mode", ["avg", "max", torch.amax])
def test_mode_in_stride_place_says_to_name_it(mode) -> None:
    """d2l writes pool2d(X, pool_size, mode); here the third positional argument is the stride."""
    with pytest.raises(ConvlibInputError, match=r"third positional argument is the stride.*mode="):
        pool2d(torch.ones(1, 1, 4, 4), 2, mode)


def test_worked_example() -> None:
    X = torch.arange(9.0).reshape(3, 3)
    assert torch.equal(pool2d(X, 2, stride=1), torch.tensor([[4.0, 5.0], [7.0, 8.0]]))
    assert torch.equal(pool2d(X, 2, stride=1, mode="avg"), torch.tensor([[2.0, 3.0], [5.0, 6.0]]))
    assert cl.pool2d is pool2d


@pytest.mark.parametrize("shape", [(5, 7), (3, 5, 7), (2, 3, 5, 7)])
@pytest.mark.parametrize("mode", ["max", "avg"])
def test_keeps_rank(shape: tuple[int, ...], mode: str) -> None:
    x = torch.randn(shape, dtype=torch.float64)
    y = pool2d(x, 2, mode=mode)
    assert y.shape == shape[:-2] + (2, 3)
    ref = (F.max_pool2d if mode == "max" else F.avg_pool2d)(x.reshape((1,) * (4 - x.ndim) + shape), 2)
    torch.testing.assert_close(y, ref.reshape(y.shape))


@FAST
@given(st.integers(1, 3), st.integers(0, 2**31 - 1))
def test_custom_reduction_l2_equals_lp_pool2d(k: int, seed: int) -> None:
    x = torch.randn(2, 3, 7, 8, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    y = pool2d(x, k, mode=lambda w: w.norm(dim=-1))  # (2, 3, H_out, W_out)
    torch.testing.assert_close(y, torch.sqrt(F.avg_pool2d(x**2, k) * k * k))
    torch.testing.assert_close(y, F.lp_pool2d(x, 2, k))


def test_custom_reduction_sees_windows() -> None:
    X = torch.arange(16.0).reshape(4, 4)
    med = pool2d(X, 3, stride=1, mode=lambda w: w.median(dim=-1).values)
    assert torch.equal(med, torch.tensor([[5.0, 6.0], [9.0, 10.0]]))


def test_windows2d() -> None:
    x = torch.arange(16.0).reshape(1, 1, 4, 4)
    win = windows2d(x, 2)  # stride 2 by default
    assert win.shape == (1, 1, 2, 2, 4)
    assert win[0, 0, 1, 1].tolist() == [10.0, 11.0, 14.0, 15.0]
    padded = windows2d(x, 3, stride=1, padding=1, pad_value=-1.0)  # (1, 1, 4, 4, 9)
    assert padded.shape == (1, 1, 4, 4, 9)
    assert padded[0, 0, 0, 0].tolist() == [-1, -1, -1, -1, 0, 1, -1, 4, 5]


def test_max_padding_never_wins() -> None:
    x = -torch.ones(1, 1, 2, 2)  # all negative: zero padding would win, -inf never does
    assert torch.equal(pool2d(x, 3, stride=1, padding=1), -torch.ones(1, 1, 2, 2))


@pytest.mark.parametrize("values", ["ties", "-inf", "nan"])
@pytest.mark.parametrize("geometry", [dict(padding=1, stride=1), dict(padding=1, stride=2, ceil_mode=True),
                                      dict(stride=1, dilation=2)], ids=str)
def test_max_gradient_goes_to_the_cell_torch_picks(values: str, geometry: dict) -> None:
    """Ties, windows of -inf next to padding, several NaNs: the gradient lands where F.max_pool2d sends it."""
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 3, (2, 2, 6, 5), generator=g).double()  # (N, C, H, W): many ties
    if values == "-inf":
        x[x < 2] = float("-inf")
    elif values == "nan":
        x[x < 1] = float("nan")
    grads = []
    for pool in (lambda t: pool2d(t, 3, **geometry), lambda t: F.max_pool2d(t, 3, **geometry)):
        leaf = x.clone().requires_grad_()
        out = pool(leaf)  # (N, C, H_out, W_out)
        out.backward(torch.arange(out.numel(), dtype=x.dtype).reshape(out.shape) + 1)  # each window's own weight
        grads.append((out.detach(), leaf.grad))
    torch.testing.assert_close(grads[0][0], grads[1][0], equal_nan=True)
    torch.testing.assert_close(grads[0][1], grads[1][1])


def test_bad_mode() -> None:
    with pytest.raises(ConvlibInputError, match=r"mode: expected 'max', 'avg' or a function of the windows, got 'mean'\. Fix: mode='max'"):
        pool2d(torch.ones(4, 4), 2, mode="mean")  # type: ignore[arg-type]


def test_padding_more_than_half_window() -> None:
    with pytest.raises(ConvlibInputError, match=r"padding: expected at most half the window \(1, 1\).*got \(2, 2\)\. Fix: use padding <= kernel_size // 2"):
        pool2d(torch.ones(1, 1, 4, 4), 2, padding=2)


@st.composite
def torch_option_case(draw: st.DrawFn) -> dict:
    """``ceil_mode``, ``dilation`` (max only, as in torch) and ``count_include_pad`` (avg only)."""
    mode = draw(st.sampled_from(["max", "avg"]))
    k = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    d = (draw(st.integers(1, 3)), draw(st.integers(1, 3))) if mode == "max" else (1, 1)
    span = (d[0] * (k[0] - 1) + 1, d[1] * (k[1] - 1) + 1)
    p = (draw(st.integers(0, span[0] // 2)), draw(st.integers(0, span[1] // 2)))
    s = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    size = [draw(st.integers(max(1, span[i] - 2 * p[i]), span[i] + 7)) for i in range(2)]
    return dict(shape=(draw(st.integers(1, 2)), 2, *size), mode=mode, kernel=k, stride=s, padding=p, dilation=d,
                ceil_mode=draw(st.booleans()), count_include_pad=draw(st.booleans()),
                seed=draw(st.integers(0, 2**31 - 1)))


@FAST
@given(torch_option_case())
def test_torch_options_match(case: dict) -> None:
    x0 = torch.randn(case["shape"], generator=torch.Generator().manual_seed(case["seed"]), dtype=torch.float64)
    kw = dict(stride=case["stride"], padding=case["padding"], ceil_mode=case["ceil_mode"])
    _assume_torch_geometry(x0, case, dict(kw, dilation=case["dilation"]))
    if case["mode"] == "max":
        ref = lambda x: F.max_pool2d(x, case["kernel"], dilation=case["dilation"], **kw)  # noqa: E731
        ours = lambda x: pool2d(x, case["kernel"], dilation=case["dilation"], **kw)  # noqa: E731
    else:
        ref = lambda x: F.avg_pool2d(x, case["kernel"], count_include_pad=case["count_include_pad"], **kw)  # noqa: E731
        ours = lambda x: pool2d(x, case["kernel"], mode="avg", count_include_pad=case["count_include_pad"], **kw)  # noqa: E731
    y, gx = _values_and_grads(ours, x0)
    y_ref, gx_ref = _values_and_grads(ref, x0)
    assert y.shape == y_ref.shape
    torch.testing.assert_close(y, y_ref, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(gx, gx_ref, rtol=1e-12, atol=1e-12)


def test_ceil_mode_keeps_the_partial_window() -> None:
    x = torch.arange(25.).reshape(5, 5)
    assert pool2d(x, 2).shape == (2, 2)  # floor: the last row and column are never read
    kept = pool2d(x, 2, ceil_mode=True)  # (3, 3): the last window holds the leftover cells
    assert kept.shape == (3, 3) and kept[2, 2] == 24 and kept[0, 2] == 9
    assert pool2d(x, 2, mode="avg", ceil_mode=True)[2, 2] == 24  # averaged over the one real cell
    assert windows2d(x[None, None], 2, ceil_mode=True, pad_value=-1.0)[0, 0, 2, 2].tolist() == [24, -1, -1, -1]


def test_avg_count_include_pad() -> None:
    x = torch.ones(1, 1, 3, 3)
    assert pool2d(x, 3, stride=1, padding=1, mode="avg")[0, 0, 0, 0] == pytest.approx(4 / 9)  # zeros count
    assert pool2d(x, 3, stride=1, padding=1, mode="avg", count_include_pad=False)[0, 0, 0, 0] == 1.0


def test_dilated_window() -> None:
    x = torch.arange(16.).reshape(1, 1, 4, 4)
    assert windows2d(x, 2, stride=1, dilation=2)[0, 0, 0, 0].tolist() == [0, 2, 8, 10]  # every other cell
    with pytest.raises(ConvlibInputError, match=r"padding: expected at most half the window \(1, 1\).*"
                                                r"Fix: use padding <= kernel_size // 2"):
        pool2d(x, 2, dilation=2, padding=2)  # torch's rule: half the window, however dilated


def test_window_of_padding_only_is_minus_infinity_as_in_torch() -> None:
    """A dilated window that reads padding only: -inf, as F.max_pool2d gives, and no gradient;
    its index would lie outside the input, so return_indices refuses it."""
    x = torch.ones(1, 1, 1, 1, requires_grad=True)
    geometry = dict(stride=1, padding=(0, 1), dilation=(1, 2))  # cells -1 and 1 of a 1-wide input
    y = pool2d(x, (1, 2), **geometry)
    assert torch.equal(y.detach(), F.max_pool2d(x.detach(), (1, 2), **geometry))
    assert y.isneginf().all()
    y.sum().backward()
    assert torch.equal(x.grad, torch.zeros_like(x))
    with pytest.raises(ConvlibInputError, match=r"^return_indices: expected every window to hold at least one input "
                                                r"cell, got output column 0 reading only padding .*Fix: drop return_indices"):
        pool2d(x, (1, 2), return_indices=True, **geometry)
    mixed = torch.arange(4.).reshape(1, 1, 2, 2)  # -inf where a window misses the input, the max elsewhere
    torch.testing.assert_close(pool2d(mixed, 2, stride=1, padding=1, dilation=3),
                               F.max_pool2d(mixed, 2, stride=1, padding=1, dilation=3))


def test_every_small_geometry_agrees_with_torch() -> None:
    """Sizes 1-7, windows 1-3, strides 1-3, every padding torch allows, dilation 1-2 (max), floor and ceil:
    the same output as torch, or both refuse. Ceil mode keeps a window larger than the input, as torch does,
    and a dilated window on padding alone gives -inf in both."""
    for size, k, s, d, mode in itertools.product(range(1, 8), range(1, 4), range(1, 4), (1, 2), ("max", "avg")):
        if mode == "avg" and d != 1:
            continue  # F.avg_pool2d has no dilation
        for p, ceil in itertools.product(range(k // 2 + 1), (False, True)):
            x = torch.randn(1, 1, size, size, dtype=torch.float64)
            try:
                ref = (F.max_pool2d(x, k, s, p, d, ceil_mode=ceil) if mode == "max"
                       else F.avg_pool2d(x, k, s, p, ceil_mode=ceil))
            except RuntimeError:
                ref = None
            try:
                ours = pool2d(x, k, stride=s, padding=p, dilation=d, ceil_mode=ceil, mode=mode)
            except ConvlibInputError:
                assert ref is None, (size, k, s, p, d, ceil, mode)
                continue
            assert ref is not None, (size, k, s, p, d, ceil, mode)
            torch.testing.assert_close(ours, ref)
    assert pool2d(torch.ones(2, 2), 3, stride=2, ceil_mode=True).tolist() == [[1.0]]  # the window outgrows the input


@FAST
@given(st.integers(1, 12), st.integers(1, 12), st.integers(1, 8), st.integers(1, 8), st.integers(0, 2**31 - 1))
def test_adaptive_window_is_torch_adaptive_pooling(h: int, w: int, oh: int, ow: int, seed: int) -> None:
    """Each output of F.adaptive_avg_pool2d / adaptive_max_pool2d is the mean / max of its adaptive_window cells,
    for any sizes: shrinking, global (1), equal, and growing (windows then repeat cells)."""
    x = torch.randn(2, 3, h, w, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)  # (N, C, H, W)
    rows, cols = [adaptive_window(h, oh, i) for i in range(oh)], [adaptive_window(w, ow, j) for j in range(ow)]
    avg = torch.stack([torch.stack([x[..., r0:r1, c0:c1].mean((-2, -1)) for c0, c1 in cols], -1)
                       for r0, r1 in rows], -2)  # (N, C, oh, ow)
    top = torch.stack([torch.stack([x[..., r0:r1, c0:c1].amax((-2, -1)) for c0, c1 in cols], -1)
                       for r0, r1 in rows], -2)
    torch.testing.assert_close(avg, F.adaptive_avg_pool2d(x, (oh, ow)), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(top, F.adaptive_max_pool2d(x, (oh, ow)), rtol=0, atol=0)
    assert rows[0][0] == 0 and rows[-1][1] == h  # the windows cover the input, in order
    assert all(1 <= r1 - r0 <= -(-h // oh) + 1 and r0 < r1 for r0, r1 in rows)


def test_adaptive_window_worked_example_and_bad_input() -> None:
    assert [adaptive_window(5, 2, i) for i in range(2)] == [(0, 3), (2, 5)]  # overlapping by one cell
    assert adaptive_window(7, 1, 0) == (0, 7) and adaptive_window(2, 4, 3) == (1, 2)  # global; growing
    with pytest.raises(ConvlibInputError, match=r"^i: expected an output index from 0 to 1, got 2\. Fix: i in range"):
        adaptive_window(5, 2, 2)
    with pytest.raises(ConvlibInputError, match=r"^out_size: expected an int >= 1, got 0\. Fix: pass a side length"):
        adaptive_window(5, 0, 0)
    with pytest.raises(ConvlibInputError, match=r"^in_size: expected an int >= 1, got 2\.5 \(a float\)\. Fix"):
        adaptive_window(2.5, 1, 0)  # type: ignore[arg-type]


@pytest.mark.parametrize(("mode", "torch_pool"), [("max", F.max_pool2d), ("avg", F.avg_pool2d)])
@pytest.mark.parametrize("kwargs", [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)])
def test_one_image_matches_torch_with_gradients(mode: str, torch_pool, kwargs: dict) -> None:
    """(C, H, W) straight into F.max_pool2d / F.avg_pool2d, which take one image: values and gradient."""
    x = torch.randn(3, 7, 6, generator=torch.Generator().manual_seed(3), dtype=torch.float64, requires_grad=True)
    k = kwargs["kernel_size"]
    out = pool2d(x, k, mode=mode, **{n: v for n, v in kwargs.items() if n != "kernel_size"})
    ref = torch_pool(x, **kwargs)
    assert out.shape == ref.shape and out.ndim == 3
    torch.testing.assert_close(out, ref)
    up = torch.randn(ref.shape, dtype=torch.float64)
    torch.testing.assert_close(torch.autograd.grad(out, x, up)[0], torch.autograd.grad(ref, x, up)[0])


@pytest.mark.parametrize("mode", ["max", "avg"])
def test_channels_last_stays_channels_last(mode: str) -> None:
    """As torch's pools: a channels-last batch gives a channels-last result."""
    x = torch.randn(2, 4, 7, 6, generator=torch.Generator().manual_seed(7)).contiguous(memory_format=torch.channels_last)
    ref = (F.max_pool2d if mode == "max" else F.avg_pool2d)(x, 3, stride=2, padding=1, ceil_mode=True)
    got = pool2d(x, 3, stride=2, padding=1, ceil_mode=True, mode=mode)
    torch.testing.assert_close(got, ref)
    assert got.stride() == ref.stride()


@pytest.mark.parametrize(("mode", "got"), [
    (lambda w: w, r"shape \(1, 1, 2, 2, 4\)"),                      # reduced nothing
    (lambda w: w.sum(), r"shape \(\)"),                            # reduced everything
    (lambda w: w.sum(dim=-1).tolist(), r"a list"),                  # not a tensor
])
def test_custom_mode_that_does_not_reduce_the_last_axis_names_the_shape(mode, got: str) -> None:
    """mode=lambda t: t raised a raw reshape RuntimeError from deep inside pool2d."""
    with pytest.raises(ConvlibInputError, match=r"^mode: expected a function that reduces the windows' last axis, returning "
                                                r"shape \(1, 1, 2, 2\) from windows of shape \(1, 1, 2, 2, 4\) "
                                                rf"\(N, C, H_out, W_out, k_h\*k_w\), got {got}\. Fix: reduce dim=-1"):
        pool2d(torch.randn(1, 1, 4, 4), 2, mode=mode)


@pytest.mark.parametrize("value", ["yes", 1, None])
@pytest.mark.parametrize(("name", "torch_pool"), [("ceil_mode", F.max_pool2d), ("count_include_pad", F.avg_pool2d)])
def test_flags_must_be_bools_as_in_torch(name: str, torch_pool, value: object) -> None:
    """pool2d(x, 2, ceil_mode="yes") ran (a truthy string); torch raises TypeError: must be bool."""
    x = torch.randn(1, 1, 5, 5)
    with pytest.raises(TypeError, match="must be bool"):
        torch_pool(x, 2, **{name: value})
    with pytest.raises(TypeError, match=rf"^{name}: expected True or False, got {value!r}.*Fix: {name}=True or {name}=False"):
        pool2d(x, 2, mode="max" if name == "ceil_mode" else "avg", **{name: value})
    if name == "ceil_mode":
        with pytest.raises(TypeError, match="^ceil_mode: expected True or False"):
            windows2d(x, 2, ceil_mode=value)


@pytest.mark.parametrize("mode", ["max", "avg"])
@pytest.mark.parametrize("shape", [(1, 0, 4, 4), (2, 0, 4, 4), (0, 0, 4, 4), (0, 4, 4)])
def test_no_channels_is_an_error_as_in_torch(mode: str, shape: tuple) -> None:
    """A 0-channel input gave an empty result; F.max_pool2d and F.avg_pool2d raise (only N may be 0)."""
    torch_pool = F.max_pool2d if mode == "max" else F.avg_pool2d
    with pytest.raises(RuntimeError):
        torch_pool(torch.zeros(shape), 2)
    with pytest.raises(ConvlibInputError, match=r"^x: expected at least one channel, got shape .*\(C = 0"):
        pool2d(torch.zeros(shape), 2, mode=mode)
    empty_batch = torch.zeros(0, 3, 4, 4)
    assert torch.equal(pool2d(empty_batch, 2, mode=mode), torch_pool(empty_batch, 2))


@FAST
@given(pool_case(), st.sampled_from([1, 3, -2]), st.booleans())
def test_divisor_override_matches_torch(case: dict, divisor: int, ceil_mode: bool) -> None:
    """F.avg_pool2d's divisor_override (every window's sum divided by one number) was refused as an
    unexpected keyword."""
    x0 = torch.randn(case["shape"], generator=torch.Generator().manual_seed(case["seed"]), dtype=torch.float64)
    kw = dict(stride=case["stride"], padding=case["padding"], ceil_mode=ceil_mode, divisor_override=divisor)
    y, gx = _values_and_grads(lambda x: pool2d(x, case["kernel"], mode="avg", **kw), x0)
    y_ref, gx_ref = _values_and_grads(lambda x: F.avg_pool2d(x, case["kernel"], **kw), x0)
    torch.testing.assert_close(y, y_ref, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(gx, gx_ref, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(("mode", "value", "message"), [
    ("avg", 0, r"^divisor_override: expected None or a nonzero int, got 0\..*Fix:"),
    ("avg", 2.5, r"^divisor_override: expected None or a nonzero int, got 2\.5 \(a float\)\..*Fix:"),
    ("max", 4, r"^divisor_override: expected None for mode='max', got 4\..*Fix: .*mode='avg'"),
])
def test_bad_divisor_override_says_why(mode: str, value: object, message: str) -> None:
    with pytest.raises(ConvlibInputError, match=message):
        pool2d(torch.randn(1, 1, 4, 4), 2, mode=mode, divisor_override=value)


@FAST
@given(pool_case(), st.sampled_from(["max", "avg"]))
def test_channels_last_gradient_is_channels_last(case: dict, mode: str) -> None:
    """As F.max_pool2d / F.avg_pool2d: a channels-last batch gets a channels-last gradient from
    torch.autograd.grad (it came back NCHW; .backward() hides that, x.grad takes x's layout)."""
    x0 = torch.randn(case["shape"], generator=torch.Generator().manual_seed(case["seed"]),
                     dtype=torch.float64).contiguous(memory_format=torch.channels_last)
    assume(not x0.is_contiguous())  # a 1x1 map (or one channel) is stored alike either way
    kw = dict(stride=case["stride"], padding=case["padding"])
    ref = F.max_pool2d if mode == "max" else F.avg_pool2d
    x = x0.requires_grad_()
    y, y_ref = pool2d(x, case["kernel"], mode=mode, **kw), ref(x, case["kernel"], **kw)
    up = torch.randn(y.shape, generator=torch.Generator().manual_seed(7), dtype=y.dtype)
    (gx,), (gx_ref,) = torch.autograd.grad(y, x, up), torch.autograd.grad(y_ref, x, up)
    torch.testing.assert_close(gx, gx_ref, rtol=1e-12, atol=1e-12)
    assert y.is_contiguous(memory_format=torch.channels_last) and gx.stride() == gx_ref.stride()


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated")  # torch.func's own import
@pytest.mark.parametrize("mode", ["max", "avg"])
def test_vmap_and_func_grad_match_torch(mode: str) -> None:
    """torch.func.vmap over a batch of (N, C, H, W) raised "NYI: querying is_contiguous inside of vmap"
    (pool2d asked for channels-last); a channels-last batch under torch.func.grad goes through too."""
    torch_pool = F.max_pool2d if mode == "max" else F.avg_pool2d
    xs = torch.randn(3, 2, 2, 6, 6, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    torch.testing.assert_close(torch.func.vmap(lambda x: pool2d(x, 3, stride=2, padding=1, mode=mode))(xs),
                               torch.func.vmap(lambda x: torch_pool(x, 3, stride=2, padding=1))(xs))
    x = xs[0].contiguous(memory_format=torch.channels_last)
    grads = [torch.func.grad(lambda t: f(t).pow(2).sum())(x)
             for f in (lambda t: pool2d(t, 2, mode=mode), lambda t: torch_pool(t, 2))]
    torch.testing.assert_close(*grads)


def _assume_torch_geometry(x: torch.Tensor, case: dict, kw: dict) -> None:
    """Skip a drawn case torch and convlib treat differently: padding over half the undilated window
    (both refuse it), or a dilated window of padding only: torch returns an index outside the input there,
    which convlib refuses, and its backward pass writes outside the gradient (both give -inf forward, see
    test_window_of_padding_only_is_minus_infinity_as_in_torch and test_every_small_geometry_agrees_with_torch)."""
    assume(all(p <= k // 2 for p, k in zip(case["padding"], case["kernel"])))
    try:
        windows2d(x, case["kernel"], **kw)
    except ConvlibInputError:
        assume(False)
    geometry = cl.pool._parse(case["kernel"], kw["stride"], kw["padding"], kw["dilation"])
    assume(cl.pool._padding_only_window(tuple(x.shape[-2:]), *geometry, kw["ceil_mode"]) is None)


@FAST
@given(torch_option_case(), st.sampled_from(["randn", "ties", "nan"]), st.booleans())
def test_return_indices_match_torch(case: dict, values: str, channels_last: bool) -> None:
    """F.max_pool2d's return_indices (the flat input cell of each maximum, F.max_unpool2d's input) was an
    unexpected keyword; ties and NaN pick torch's cell."""
    x = torch.randn(case["shape"], generator=torch.Generator().manual_seed(case["seed"]), dtype=torch.float64)
    if values == "ties":
        x = x.round()
    elif values == "nan":
        x[..., 0, 0] = float("nan")
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    kw = dict(stride=case["stride"], padding=case["padding"], dilation=case["dilation"], ceil_mode=case["ceil_mode"])
    _assume_torch_geometry(x, case, kw)
    (y, indices), (y_ref, indices_ref) = (pool2d(x, case["kernel"], return_indices=True, **kw),
                                          F.max_pool2d(x, case["kernel"], return_indices=True, **kw))
    torch.testing.assert_close(y, y_ref, equal_nan=True)
    assert indices.dtype == torch.int64 and torch.equal(indices, indices_ref)
    assert indices.is_contiguous(memory_format=torch.channels_last) == indices_ref.is_contiguous(memory_format=torch.channels_last)
    one = pool2d(x[0, 0], case["kernel"], return_indices=True, **kw)[1]  # one map (H, W): indices of its own shape
    assert torch.equal(one, indices_ref[0, 0])


def test_return_indices_only_for_max() -> None:
    with pytest.raises(ConvlibInputError, match=r"^return_indices: expected False for mode='avg', got True\..*Fix:"):
        pool2d(torch.randn(1, 1, 4, 4), 2, mode="avg", return_indices=True)
    with pytest.raises(TypeError, match=r"^return_indices: expected True or False"):
        pool2d(torch.randn(1, 1, 4, 4), 2, return_indices="yes")


@FAST
@given(torch_option_case(), st.sampled_from(cl.pool.INTEGER_DTYPES), st.sampled_from([None, 3, -2]))
def test_integer_tensors_pool_as_in_torch(case: dict, dtype: torch.dtype, divisor: int | None) -> None:
    """Integers keep their dtype: a maximum (and where it came from, ties included) as F.max_pool2d finds it
    for every integer dtype, an average rounded toward zero as F.avg_pool2d rounds int64 (on the CPU, torch
    averages no other integer dtype; convlib averages them the same way)."""
    x = random_integers(case["shape"], dtype, torch.Generator().manual_seed(case["seed"]))
    geometry = dict(stride=case["stride"], padding=case["padding"], ceil_mode=case["ceil_mode"])
    _assume_torch_geometry(x, case, dict(geometry, dilation=case["dilation"]))  # dilation (1, 1) when averaging
    if case["mode"] == "max":
        kw = dict(geometry, dilation=case["dilation"])
        (y, indices), (y_ref, indices_ref) = (pool2d(x, case["kernel"], return_indices=True, **kw),
                                              F.max_pool2d(x, case["kernel"], return_indices=True, **kw))
        assert y.dtype == dtype and torch.equal(y, y_ref) and torch.equal(indices, indices_ref)
        return
    kw = dict(geometry, count_include_pad=case["count_include_pad"], divisor_override=divisor)
    y = pool2d(x, case["kernel"], mode="avg", **kw)
    y_ref = F.avg_pool2d(x.long(), case["kernel"], **kw).to(dtype)
    assert y.dtype == dtype and torch.equal(y, y_ref)


@pytest.mark.parametrize("dtype", [torch.bool, torch.complex64])
def test_other_dtypes_are_refused_with_a_fix(dtype: torch.dtype) -> None:
    with pytest.raises(TypeError, match=rf"^x: expected a floating-point or integer tensor, got dtype {dtype}\. Fix: x\.float\(\)"):
        pool2d(torch.ones(1, 1, 4, 4, dtype=dtype), 2)
