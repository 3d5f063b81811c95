"""convlib.check: each exercise check with a right answer, a wrong one and the stored None."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import convlib as cl
from convlib.check import (
    CheckResult,
    flipped_kernel,
    horizontal_edge_kernel,
    output_shape,
    same_values,
    stacked_receptive_field,
    verdict,
)

CASES = {
    output_shape: ([(220, 220), [220, 220], torch.tensor([220, 220]), np.array([220, 220])],
                   [(224, 224), (219, 219), (220,), 220, "220 x 220"]),
    horizontal_edge_kernel: ([[[1.0], [-1.0]], [[-1], [1]], torch.tensor([[2.0], [-2.0]]) / 2],
                             [[[1.0, -1.0]], [[1.0], [1.0]], [[2.0], [-2.0]], [[1.0], [-1.0], [0.0]], [1.0, -1.0],
                              [[1.0] * 9] * 9]),
    flipped_kernel: ([[[3, 2], [1, 0]], torch.tensor([[3.0, 2.0], [1.0, 0.0]]),
                      torch.flip(torch.tensor([[0.0, 1.0], [2.0, 3.0]]), (0, 1))],
                     [[[0, 1], [2, 3]], [[1, 0], [3, 2]], [[2, 3], [0, 1]], [3, 2, 1, 0]]),
    stacked_receptive_field: ([5, 5.0, torch.tensor(5)], [3, 6, (5, 5), "5"]),
    # The later chapter-2 checks; tests/test_check_ch01_ch03.py has their specific hints.
    cl.check.diagonal_edges: ([(6, 5, 5), [6, 5, 5], np.array([6, 5, 5])], [(6, 0, 0), (6, 6, 6), 16]),
    cl.check.third_derivative_kernel: ([[1, -3, 3, -1], [-1, 3, -3, 1], torch.tensor([[0.5, -1.5, 1.5, -0.5]])],
                                       [[1, -2, 1], [1, -4, 6, -4, 1], [0, 0, 0, 0]]),
}


def _id(fn) -> str:
    return fn.__name__


@pytest.mark.parametrize("check", list(CASES), ids=_id)
def test_right_answers(check) -> None:
    for answer in CASES[check][0]:
        result = check(answer)
        assert isinstance(result, CheckResult)
        assert result, (check.__name__, answer, result)
        assert repr(result).startswith("✅ Right: ")
        assert not result.message.startswith("Hint")


@pytest.mark.parametrize("check", list(CASES), ids=_id)
def test_wrong_answers(check) -> None:
    for answer in CASES[check][1]:
        result = check(answer)
        assert not result, (check.__name__, answer, result)
        assert repr(result).startswith("❌ Not yet: Hint: ")


@pytest.mark.parametrize("check", list(CASES), ids=_id)
def test_stored_none_gives_a_hint(check) -> None:
    result = check(None)
    assert isinstance(result, CheckResult) and not result
    assert result.message.startswith("Hint: ") and len(result.message) > 20


def test_every_public_check_is_tested() -> None:
    import convlib.check.cross_correlation as mod

    assert {getattr(mod, name) for name in mod.__all__} == set(CASES)
    assert all(getattr(cl.check, name) is getattr(mod, name) for name in mod.__all__)


def test_edge_kernel_hint_names_the_problem() -> None:
    assert "vertical neighbours" in horizontal_edge_kernel([[1.0, -1.0]]).message
    bad = horizontal_edge_kernel([[1.0] * 9] * 9)  # larger than the 8x6 image
    assert "K must be a small 2-D kernel" in bad.message


def test_edge_kernel_accepts_int_and_float64_tensors() -> None:
    # an int or float64 kernel is a right answer too, not a dtype clash with an image the learner never saw
    for K in (torch.tensor([[1], [-1]]), torch.tensor([[1.0], [-1.0]], dtype=torch.float64), np.array([[-1], [1]])):
        assert horizontal_edge_kernel(K).ok, K
    assert not horizontal_edge_kernel(torch.tensor([[1, -1]])).ok


def test_check_result() -> None:
    right, wrong = CheckResult(True, "5 x 5."), CheckResult(False, "Count <the> rows & columns.")
    assert bool(right) is True and bool(wrong) is False
    assert repr(right) == "✅ Right: 5 x 5."
    assert repr(wrong) == "❌ Not yet: Count <the> rows & columns."
    assert right._repr_html_() == '<div style="color:#2b8a3e"><strong>✅ Right:</strong> 5 x 5.</div>'
    assert wrong._repr_html_() == (
        '<div style="color:#c92a2a"><strong>❌ Not yet:</strong> Count &lt;the&gt; rows &amp; columns.</div>'
    )
    with pytest.raises(AttributeError):
        right.ok = False  # type: ignore[misc]  # frozen


def test_verdict() -> None:
    assert verdict(True, "because", "try again") == CheckResult(True, "because")
    assert verdict(0, "because", "try again") == CheckResult(False, "Hint: try again")
    assert verdict(np.bool_(True), "a", "b").ok is True


@pytest.mark.parametrize(
    ("answer", "expected", "want"),
    [
        ([[1, 2]], torch.tensor([[1.0, 2.0]]), True),
        (np.array([1.0, 2.0]), (1, 2), True),
        (5, 5.00001, True),           # within atol 1e-4
        (5, 5.001, False),
        ((6, 7), (7, 6), False),
        ([[1, 2]], [1, 2], False),     # same values, shape mismatch
        ([1, 2, 3], [1, 2], False),
        ([], [], True),
        (None, 5, False),              # non-numeric
        ("abc", [1, 2, 3], False),
        ([[1, 2], [3]], [[1, 2], [3, 4]], False),  # ragged
        ({"a": 1}, 1, False),
        (float("nan"), float("nan"), False),
        (torch.tensor([1.0], requires_grad=True), [1.0], True),
    ],
)
def test_same_values(answer, expected, want: bool) -> None:
    assert same_values(answer, expected) is want


def test_same_values_atol() -> None:
    assert same_values(1.0, 1.05, atol=0.1)
    assert not same_values(1.0, 1.05)


def test_notebook_prose_names_only_existing_check_attributes() -> None:
    """Markdown that tells the learner to use ``cl.check.<name>`` names something that exists."""
    import json
    import re
    from pathlib import Path

    missing = []
    for path in sorted((Path(__file__).parent.parent / "notebooks").glob("*.ipynb")):
        for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
            if cell["cell_type"] != "markdown":
                continue
            for dotted in re.findall(r"cl\.check\.([A-Za-z_][\w.]*\w)", "".join(cell["source"])):
                obj = cl.check
                for part in dotted.split("."):
                    obj = getattr(obj, part, None)
                if obj is None:
                    missing.append(f"{path.name}: cl.check.{dotted}")
    assert not missing, missing


@pytest.mark.parametrize(
    ("check", "right"),
    [
        (cl.check.conv_layer_params, 1792),
        (cl.check.mlp_photo_weights, 10**9),
        (cl.check.padded_dataset_mb, 388.8),
        (cl.check.cat_accuracy, 0.571),
        (cl.check.lenet_flatten_size, 256),
        (cl.check.padded_output_size, 16),
        (cl.check.inception_channels, 480),
        (cl.check.stacked_receptive_field, 5),
    ],
)
def test_a_number_typed_as_text_gets_the_same_hint_everywhere(check, right) -> None:
    """``"1792"`` is refused with a hint about the type, never accepted nor hinted about the content."""
    result = check(str(right))
    assert not result.ok
    assert result.message == f'Hint: give a number, not text (e.g. {right}, not "{right}").'
    assert check(right).ok


def _check_modules() -> list:
    import importlib
    import pkgutil

    return [importlib.import_module(f"convlib.check.{m.name}") for m in pkgutil.iter_modules(cl.check.__path__)]


def test_the_text_hint_has_one_home() -> None:
    """The two-line guard ``if (text := text_number_hint(answer)) ...`` stood in 49 checks;
    @wants_a_number now says it once, so a new numeric check cannot forget it in another wording."""
    from pathlib import Path

    copies = [f"{Path(mod.__file__).name}:{n}" for mod in _check_modules() if not mod.__name__.endswith("_core")
              for n, line in enumerate(Path(mod.__file__).read_text(encoding="utf-8").splitlines(), 1)
              if "text_number_hint(" in line]
    assert not copies, f"decorate the check with @wants_a_number instead: {copies}"


def test_decorated_checks_keep_their_doctests() -> None:
    """doctest skips a function it takes for another module's; functools.wraps keeps each check's own
    ``__module__`` and docstring, so every check's examples still run (under Python 3.11 too)."""
    import doctest

    decorated = 0
    for mod in _check_modules():
        found = {t.name for t in doctest.DocTestFinder().find(mod) if t.examples}
        for name in getattr(mod, "__all__", []):
            check = getattr(mod, name)
            if hasattr(check, "__wrapped__"):
                decorated += 1
                assert check.__module__ == mod.__name__ and check.__doc__ == check.__wrapped__.__doc__
            if ">>>" in (check.__doc__ or ""):
                assert f"{mod.__name__}.{name}" in found, name
    assert decorated >= 49


def test_diagonal_edges_hints_about_the_first_wrong_count() -> None:
    assert "K.t() compares each pixel with the one below" in cl.check.diagonal_edges((6, 5, 6)).message
    assert "X.t()" in cl.check.diagonal_edges((6, 6, 5)).message
    assert "right neighbour" in cl.check.diagonal_edges((5, 5, 5)).message


def test_third_derivative_kernel_wants_1d_at_any_scale() -> None:
    assert cl.check.third_derivative_kernel([1e-7, -3e-7, 3e-7, -1e-7]).ok
    assert cl.check.third_derivative_kernel(torch.tensor([1e6, -3e6, 3e6, -1e6])).ok
    assert cl.check.third_derivative_kernel([[1, -3, 3, -1]]).ok  # one row, as corr2d takes a kernel
    for two_d in ([[1, -3], [3, -1]], [[1], [-3], [3], [-1]]):  # flattened, these read as the right weights
        result = cl.check.third_derivative_kernel(two_d)
        assert not result.ok and "1-D" in result.message, two_d


def _public_checks() -> list:
    """Every exercise check that takes the answer alone (nin_class_map_values also takes a model and images)."""
    skip = {"CheckResult", "verdict", "same_values", "nin_class_map_values"}
    return [getattr(cl.check, name) for name in cl.check.__all__ if name not in skip]


@pytest.mark.parametrize("check", _public_checks(), ids=_id)
def test_stored_none_says_fill_in_then_hints(check) -> None:
    """The cell as stored (answer = None) gave only the content hint, as if None were a wrong answer."""
    message = check(None).message
    assert message.startswith("Hint: fill in your answer: it is still None"), message
    assert "To work it out: " in message and len(message.split("To work it out: ")[1]) > 20


@pytest.mark.parametrize("check", _public_checks(), ids=_id)
@pytest.mark.parametrize(
    "answer",
    [10**400, -(10**400), torch.zeros(2, 2, device="meta"), torch.zeros(1, device="meta"), complex(1, 2)],
    ids=["huge-int", "huge-negative-int", "meta-2x2", "meta-1", "complex"],
)
def test_unusable_numbers_get_a_hint_not_an_exception(check, answer) -> None:
    """An int past float64's range raised OverflowError (from torch.as_tensor or float) in most checks,
    and a meta tensor raised torch's device mismatch in max_pool_by_hand and trans_conv_by_hand."""
    result = check(answer)
    assert isinstance(result, CheckResult) and not result.ok and result.message.startswith("Hint: ")


def test_nin_class_map_values_none_and_meta() -> None:
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 3, 3), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d((1, 1)),
                              torch.nn.Flatten())
    x = torch.rand(2, 1, 6, 6)
    assert cl.check.nin_class_map_values(None, net, x).message.startswith("Hint: fill in your answer")
    assert not cl.check.nin_class_map_values(torch.zeros(2, 3, device="meta"), net, x).ok
    assert "got shape (). Take" in cl.check.nin_class_map_values(3, net, x).message


@pytest.mark.parametrize(
    ("check", "right"),
    [(cl.check.cifar_flatten_size, 2048), (cl.check.speedrun_steps, 576), (cl.check.padded_avg_corner, 4 / 9),
     (cl.check.loop_epoch_hours, 5.2), (cl.check.lenet_conv2_params, 2416)],
    ids=lambda v: getattr(v, "__name__", str(v)),
)
def test_a_right_number_in_a_one_element_list_or_tensor_counts(check, right) -> None:
    """[2048] or tensor([2048]) (e.g. a .shape[1:] or a sum kept 1-D) got the content hint, as if the value were wrong."""
    for boxed in ([right], (right,), torch.tensor([right]), np.array([right]), torch.tensor([[right]])):
        result = check(boxed)
        assert result.ok and "the number itself" in result.message, (boxed, result)
    assert not check([right, right]).ok and not check([right + 1]).ok


def test_numbers_typed_with_separators_or_percent_get_the_text_hint() -> None:
    assert cl.check.cat_accuracy("57.1%").message == 'Hint: give a number, not text (e.g. 57.1, not "57.1%").'
    assert cl.check.conv_layer_params("1,792").message == 'Hint: give a number, not text (e.g. 1792, not "1,792").'


def test_gpu_like_answers_are_read_on_the_host() -> None:
    """same_values/numbers read tensors through host_float64: float64 straight from Python floats (no float32
    rounding of 1e-7 steps), and torch.allclose never sees two devices."""
    from convlib.check._core import host_float64

    assert host_float64([0.1]).item() == 0.1
    assert host_float64(torch.zeros(1, device="meta")) is None and host_float64(10**400) is None
    assert same_values(torch.tensor([[1.0, 2.0]]), [[1, 2]]) and not same_values(torch.zeros(1, 2, device="meta"), [[0, 0]])


@pytest.mark.parametrize(
    ("check", "right"),
    [
        (cl.check.max_pool_by_hand, lambda: F.max_pool2d(torch.tensor(cl.check.pooling.HAND_X, dtype=torch.float32)[None, None], 2)),
        (cl.check.trans_conv_by_hand, lambda: F.conv_transpose2d(torch.tensor([[[[1.0, 2], [3, 4]]]]), torch.ones(1, 1, 2, 2))),
        (cl.check.reflect_padding, lambda: F.pad(torch.tensor([[[1.0, 2, 3, 4]]]), (2, 2), mode="reflect")),
        (cl.check.flipped_kernel, lambda: torch.flip(torch.tensor([[0.0, 1], [2, 3]]), (0, 1))[None, None]),
        (cl.check.horizontal_edge_kernel, lambda: torch.tensor([[1.0], [-1.0]])[None, None]),
        (cl.check.third_derivative_kernel, lambda: torch.tensor([1.0, -3, 3, -1])[None, None]),
    ],
    ids=lambda v: getattr(v, "__name__", ""),
)
def test_a_right_array_with_torchs_batch_and_channel_axes_counts(check, right) -> None:
    """F.max_pool2d(X[None, None], 2) is a learner's way to the answer; its (1, 1, H, W) result got the content hint."""
    answer = right()
    assert answer.shape[:2] == (1, 1)
    assert check(answer).ok, check(answer)
    assert not check(answer + 1).ok


def test_shapes_with_torchs_batch_axis_get_a_hint_about_it() -> None:
    """(1, 1, 220, 220), the .shape of torch's output, got the formula hint, as if the sizes were wrong."""
    assert "without batch or channel axes" in cl.check.output_shape(torch.Size([1, 1, 220, 220])).message
    assert "drop the batch axis" in cl.check.pooled_shape(torch.Size([1, 6, 13, 13])).message
    assert not cl.check.output_shape((1, 1, 220, 220)).ok and not cl.check.pooled_shape((1, 6, 13, 13)).ok


def test_a_tuple_of_tensors_that_carry_gradients_reads_quietly() -> None:
    """torch.as_tensor warned 'Converting a tensor with requires_grad=True to a scalar' into the learner's cell."""
    import warnings

    true = torch.tensor(0.41, requires_grad=True) * 2
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert cl.check.smoothed_targets((true, torch.tensor(0.02))).ok
