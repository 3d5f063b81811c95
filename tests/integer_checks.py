"""Shared by the op tests: an op on integer tensors against PyTorch's, wrap-around included."""

from __future__ import annotations

from collections.abc import Callable

import torch


def random_integers(shape: tuple[int, ...], dtype: torch.dtype, g: torch.Generator) -> torch.Tensor:
    """Integers of ``dtype`` in -60 .. 59 (0 .. 59 for uint8): a few products overflow uint8 and int8 (their sums wrap)."""
    low = 0 if dtype == torch.uint8 else -60
    return torch.randint(low, 60, shape, generator=g).to(dtype)


def assert_integer_op_as_torch(ours: Callable[..., torch.Tensor], torchs: Callable[..., torch.Tensor],
                               *tensors: torch.Tensor | None) -> None:
    """``ours(*tensors)`` keeps the dtype and equals ``torchs`` computed in int64 and wrapped back into it.

    Where torch has a CPU kernel for that dtype and these arguments (it has them for int64
    everywhere, for the narrower dtypes only in some cases), ``ours`` equals that too, which
    checks that wrapping back is what torch's own narrow sums do.
    """
    dtype = tensors[0].dtype
    got = ours(*tensors)
    want = torchs(*(None if t is None else t.long() for t in tensors)).to(dtype)
    assert got.dtype == dtype and got.shape == want.shape
    assert torch.equal(got, want)
    try:
        native = torchs(*tensors)
    except (NotImplementedError, RuntimeError) as err:  # "... not implemented for 'Char'"
        assert "not implemented" in str(err), err
        return
    assert torch.equal(got, native)
