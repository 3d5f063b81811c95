"""Winograd's minimal filtering: a 3x3 convolution with fewer multiplications.

A 3-tap correlation computes each output from three products, so ``m`` outputs
cost ``3m`` multiplications. Winograd's algorithm F(m, 3) computes the same ``m``
outputs from ``m + 2`` inputs ``d`` with only ``m + 2`` multiplications::

    y = A^T [(G g) * (B^T d)]

``B^T d`` and ``A^T (...)`` are additions and subtractions with fixed small
coefficients (:func:`matrices`), ``G g`` depends on the kernel only, and ``*``
multiplies element by element: those are the ``m + 2`` multiplications. In two
dimensions the same matrices work on the rows and then the columns of a tile, and
turn an ``(m + 2) x (m + 2)`` input tile into an ``m x m`` output tile with
``(m + 2)^2`` multiplications instead of ``9 m^2`` (16 instead of 36 for ``m = 2``,
2.25 times fewer; 36 instead of 144 for ``m = 4``, 4 times fewer)::

    Y = A^T [(G g G^T) * (B^T d B)] A

For a layer, the sum over input channels commutes with the transforms, so it
moves into the middle: for each of the ``(m + 2)^2`` positions in a transformed
tile, one matrix product of every tile's transformed input (tiles x ``C_in``)
with the transformed kernels (``C_in x C_out``). :func:`conv2d_winograd` does
exactly that with tensor operations, and autograd differentiates it.
"""

from __future__ import annotations

import functools
import statistics
import time

import torch
import torch.nn.functional as F

from convlib._torchlike import is_image
from convlib.conv import _checked
from convlib.validate import ConvlibInputError, IntPair, check_int

__all__ = ["TILES", "conv2d_winograd", "filter_1d", "matrices", "multiplications_per_output", "stage_times",
           "transform_input", "transform_kernels", "transform_output"]

#: The output tile sizes ``m`` :func:`matrices` knows, for F(m, 3).
TILES = (2, 4)


def _check_tile(tile: object) -> int:
    if isinstance(tile, bool) or tile not in TILES:
        raise ConvlibInputError(
            f"tile: expected one of {TILES} (outputs per tile side), got {tile!r}. "
            f"Fix: tile=2 (16 multiplications per 2x2 outputs) or tile=4 (36 per 4x4)."
        )
    return int(tile)  # type: ignore[call-overload]


@functools.cache
def _matrices(tile: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    if tile == 2:  # interpolation points 0, 1, -1 and infinity
        bt = [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]]
        g = [[1, 0, 0], [1 / 2, 1 / 2, 1 / 2], [1 / 2, -1 / 2, 1 / 2], [0, 0, 1]]
        at = [[1, 1, 1, 0], [0, 1, -1, -1]]
    else:  # points 0, 1, -1, 2, -2 and infinity
        bt = [[4, 0, -5, 0, 1, 0], [0, -4, -4, 1, 1, 0], [0, 4, -4, -1, 1, 0],
              [0, -2, -1, 2, 1, 0], [0, 2, -1, -2, 1, 0], [0, 4, 0, -5, 0, 1]]
        g = [[1 / 4, 0, 0], [-1 / 6, -1 / 6, -1 / 6], [-1 / 6, 1 / 6, -1 / 6],
             [1 / 24, 1 / 12, 1 / 6], [1 / 24, -1 / 12, 1 / 6], [0, 0, 1]]
        at = [[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0], [0, 1, -1, 8, -8, 1]]
    return tuple(torch.tensor(m, dtype=torch.float64) for m in (bt, g, at))  # type: ignore[return-value]


def matrices(tile: int = 2) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """F(tile, 3)'s transforms ``(B^T, G, A^T)``, float64, shapes ``(a, a), (a, 3), (tile, a)`` with ``a = tile + 2``.

    ``B^T`` transforms an input tile, ``G`` a kernel, ``A^T`` the elementwise
    products back to outputs. For ``tile=2`` every entry is 0, 1, -1 or 1/2.

    >>> bt, g, at = matrices(2)
    >>> bt
    tensor([[ 1.,  0., -1.,  0.],
            [ 0.,  1.,  1.,  0.],
            [ 0., -1.,  1.,  0.],
            [ 0.,  1.,  0., -1.]], dtype=torch.float64)
    >>> tuple(g.shape), tuple(at.shape), tuple(matrices(4)[0].shape)
    ((4, 3), (2, 4), (6, 6))
    """
    return tuple(m.clone() for m in _matrices(_check_tile(tile)))  # type: ignore[return-value]


def multiplications_per_output(tile: int = 2) -> float:
    """Multiplications per output and channel pair of F(tile, 3) in 2-D: ``(tile + 2)^2 / tile^2`` (direct: 9).

    >>> multiplications_per_output(2), multiplications_per_output(4)
    (4.0, 2.25)
    """
    a = _check_tile(tile) + 2
    return a * a / (tile * tile)


def filter_1d(d: torch.Tensor, g: torch.Tensor, tile: int = 2) -> torch.Tensor:
    """``tile`` outputs of the correlation of ``d (tile + 2,)`` with a 3-tap kernel ``g (3,)``, Winograd's way.

    ``A^T [(G g) * (B^T d)]``: ``tile + 2`` multiplications (the ``*``) where
    the direct sums ``y[i] = d[i] g[0] + d[i+1] g[1] + d[i+2] g[2]`` take ``3 tile``.
    Computed in float64.

    >>> filter_1d(torch.tensor([1., 2., 3., 4.]), torch.tensor([1., 0., -1.]))
    tensor([-2., -2.], dtype=torch.float64)
    """
    m = _check_tile(tile)
    bt, gm, at = _matrices(m)
    d = torch.as_tensor(d, dtype=torch.float64)
    g = torch.as_tensor(g, dtype=torch.float64)
    if d.shape != (m + 2,) or g.shape != (3,):
        raise ConvlibInputError(
            f"filter_1d: expected d of shape ({m + 2},) and g of shape (3,) for tile={m}, got "
            f"{tuple(d.shape)} and {tuple(g.shape)}. Fix: a tile of {m} outputs reads {m + 2} inputs."
        )
    return at @ ((gm @ g) * (bt @ d))  # (m,)


def conv2d_winograd(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] | str = 0,
    *,
    tile: int = 2,
) -> torch.Tensor:
    """A 3x3, stride-1 convolution computed with Winograd's F(tile, 3) (the same numbers as ``F.conv2d``, rounded differently).

    Shapes: ``x (N, C_in, H, W)`` (or one image ``(C_in, H, W)``),
    ``weight (C_out, C_in, 3, 3)``, ``bias (C_out,)`` -> ``(N, C_out, H_out, W_out)``,
    ``H_out = H + 2 p_h - 2``. The arguments come in :func:`convlib.conv2d`'s order,
    ``padding`` as there; ``stride`` must be 1.
    The output is cut into ``tile x tile`` tiles, each read from a
    ``(tile + 2) x (tile + 2)`` input tile (tiles overlap by 2; the last row and column of
    tiles reach past the padded input into extra zeros and are cropped).
    Differentiable in all three (autograd records the tensor operations).
    ``tile=4`` needs 4 times fewer multiplications than the direct sums, ``tile=2``
    2.25 times fewer; the larger tile's transforms have larger coefficients, so
    its float32 rounding error is larger.

    >>> x = torch.arange(16.).reshape(1, 1, 4, 4)
    >>> w = torch.ones(1, 1, 3, 3)
    >>> conv2d_winograd(x, w)
    tensor([[[[45., 54.],
              [81., 90.]]]])
    >>> # 2 x 2 tiles, cropped
    >>> conv2d_winograd(torch.randn(2, 3, 7, 5), torch.randn(4, 3, 3, 3),
    ...                 padding=1, tile=4).shape
    torch.Size([2, 4, 7, 5])
    """
    m = _check_tile(tile)
    image = is_image(x)
    x, p, out_hw = _checked_3x3(x, weight, bias, padding, stride)  # x: (N, C_in, H, W)
    v = transform_input(x, p, out_hw, m)  # (a^2, N th tw, C_in)
    u = transform_kernels(weight, m)  # (a^2, C_in, C_out)
    prod = torch.bmm(v, u)  # (a^2, N th tw, C_out): per tile position, (tiles, C_in) @ (C_in, C_out)
    y = transform_output(prod, x.shape[0], out_hw, m)  # (N, C_out, H_out, W_out)
    if bias is not None:
        y = y + bias.view(1, -1, 1, 1)
    y = y.contiguous()
    return y[0] if image else y


def _checked_3x3(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None,
                 padding: int | tuple[int, int] | str, stride: int | tuple[int, int] = 1
                 ) -> tuple[torch.Tensor, IntPair, IntPair]:
    """:func:`convlib.conv._checked` for a stride-1 3x3 layer: ``x (N, C_in, H, W)``, padding, ``(H_out, W_out)``."""
    x, s, p, _, out_hw = _checked(x, weight, bias, stride, padding, 1)
    if s != (1, 1):
        raise ConvlibInputError(
            f"conv2d_winograd: expected stride 1, got {s}. Fix: its tiles cover every output "
            f"position; for a strided layer use cl.conv2d."
        )
    if tuple(weight.shape[2:]) != (3, 3):
        raise ConvlibInputError(
            f"conv2d_winograd: expected a 3x3 kernel, weight (C_out, C_in, 3, 3), got "
            f"{tuple(weight.shape[2:])} kernels. Fix: F(m, 3) is written for 3 taps; use cl.conv2d for other sizes."
        )
    return x, p, out_hw


def _tiles(out_hw: IntPair, m: int) -> IntPair:
    """Tiles per column and per row: the last ones reach past the output and are cropped."""
    return -(-out_hw[0] // m), -(-out_hw[1] // m)


def transform_input(x: torch.Tensor, padding: IntPair, out_hw: IntPair, tile: int = 2) -> torch.Tensor:
    """``B^T d B`` for every input tile ``d``: ``x (N, C_in, H, W)`` -> ``(a^2, N th tw, C_in)``, ``a = tile + 2``.

    Row ``i`` of the result holds position ``i`` (row-major in the ``a x a`` tile) of every
    transformed tile, tiles in the order (image, tile row, tile column), so the
    products for one position are one matrix product. ``th x tw`` tiles of
    ``tile x tile`` outputs cover ``out_hw``.

    >>> # 2 x 2 tiles of 2 x 2 outputs per image
    >>> transform_input(torch.ones(2, 3, 4, 4), (1, 1), (4, 4)).shape
    torch.Size([16, 8, 3])
    """
    m = _check_tile(tile)
    a = m + 2
    th, tw = _tiles(out_hw, m)
    bt = _matrices(m)[0].to(x.dtype)
    # the padding, plus zeros below and right so that every tile is whole
    xp = F.pad(x, (padding[1], padding[1] + tw * m - out_hw[1], padding[0], padding[0] + th * m - out_hw[0]))
    tiles = xp.unfold(2, a, m).unfold(3, a, m)  # (N, C_in, th, tw, a, a), a view: neighbours overlap by 2
    # B^T d B for all tiles at once, each a x a tile flattened: kron(B^T, B^T) @ vec(d)
    v = torch.kron(bt, bt) @ tiles.permute(4, 5, 0, 2, 3, 1).reshape(a * a, -1)  # (a^2, N th tw C_in)
    return v.view(a * a, -1, x.shape[1])  # (a^2, N th tw, C_in)


def transform_kernels(weight: torch.Tensor, tile: int = 2) -> torch.Tensor:
    """``G g G^T`` for every 3x3 kernel: ``weight (C_out, C_in, 3, 3)`` -> ``(a^2, C_in, C_out)``.

    >>> transform_kernels(torch.ones(5, 3, 3, 3), tile=4).shape
    torch.Size([36, 3, 5])
    """
    m = _check_tile(tile)
    g = _matrices(m)[1].to(weight.dtype)
    c_out, c_in = weight.shape[:2]
    u = torch.kron(g, g) @ weight.reshape(c_out * c_in, 9).T  # (a^2, C_out C_in)
    return u.view(-1, c_out, c_in).transpose(1, 2)  # (a^2, C_in, C_out)


def transform_output(prod: torch.Tensor, n: int, out_hw: IntPair, tile: int = 2) -> torch.Tensor:
    """``A^T M A`` for every tile: ``prod (a^2, N th tw, C_out)`` -> ``(N, C_out, H_out, W_out)`` (a view, cropped).

    >>> transform_output(torch.ones(16, 2 * 2 * 2, 5), 2, (3, 4)).shape
    torch.Size([2, 5, 3, 4])
    """
    m = _check_tile(tile)
    th, tw = _tiles(out_hw, m)
    at = _matrices(m)[2].to(prod.dtype)
    c_out = prod.shape[2]
    y = torch.kron(at, at) @ prod.reshape(prod.shape[0], -1)  # (m^2, N th tw C_out)
    y = y.view(m, m, n, th, tw, c_out).permute(2, 5, 3, 0, 4, 1).reshape(n, c_out, th * m, tw * m)
    return y[:, :, :out_hw[0], :out_hw[1]]  # (N, C_out, H_out, W_out)


def stage_times(x: torch.Tensor, weight: torch.Tensor, padding: int | tuple[int, int] | str = 0, *,
                tile: int = 2, repeats: int = 7) -> dict[str, float]:
    """Median milliseconds of each step of :func:`conv2d_winograd`'s forward pass, and of ``F.conv2d``'s.

    Keys: ``"input transform"``, ``"kernel transform"``, ``"products"``,
    ``"output transform"``, ``"total"`` (their sum) and ``"F.conv2d"``, each step timed
    in turn within every repeat (after one untimed warm-up), without autograd.

    >>> times = stage_times(torch.ones(1, 2, 6, 6), torch.ones(3, 2, 3, 3),
    ...                     repeats=1)
    >>> print(", ".join(sorted(times)))
    F.conv2d, input transform, kernel transform, output transform, products, total
    """
    m = _check_tile(tile)
    x, p, out_hw = _checked_3x3(x, weight, None, padding)
    steps = {
        "input transform": lambda: transform_input(x, p, out_hw, m),
        "kernel transform": lambda: transform_kernels(weight, m),
        "products": lambda: torch.bmm(v, u),
        "output transform": lambda: transform_output(prod, x.shape[0], out_hw, m).contiguous(),
        "F.conv2d": lambda: F.conv2d(x, weight, padding=p),
    }
    times: dict[str, list[float]] = {name: [] for name in steps}
    with torch.no_grad():
        v, u = transform_input(x, p, out_hw, m), transform_kernels(weight, m)
        prod = torch.bmm(v, u)
        for _ in range(check_int(repeats, "repeats", minimum=1)):
            for name, step in steps.items():
                step()  # warm-up: caches, allocator
                start = time.perf_counter()
                step()
                times[name].append((time.perf_counter() - start) * 1e3)
    medians = {name: statistics.median(t) for name, t in times.items()}
    medians["total"] = sum(v for k, v in medians.items() if k != "F.conv2d")
    return medians
