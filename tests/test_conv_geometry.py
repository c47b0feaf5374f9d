"""ConvGeometry: the one computation of a convolution's or pooling's output size and padding."""
import dataclasses

import pytest

from gpuflow.backend.geometry import ConvGeometry, conv_output_size
from gpuflow.ops import nn_ops


@pytest.mark.parametrize("padding, pads, out", [
    ("valid", (0, 0, 0, 0), (3, 3)),  # (7 - 3) // 2 + 1, (8 - 3) // 2 + 1 (the 2-wide kernel dilated by 2 spans 3)
    ("SAME", (1, 1, 0, 1), (4, 4)),  # ceil(7 / 2), ceil(8 / 2); 2 and 1 pixels of padding, the odd one after
    ([[2, 0], [1, 3]], (2, 0, 1, 3), (4, 5)),
    ([[0, 0], [2, 0], [1, 3], [0, 0]], (2, 0, 1, 3), (4, 5)),
])
def test_of_resolves_keras_padding_into_pads_and_the_output_size(padding, pads, out):
    g = ConvGeometry.of((2, 7, 8, 3), (3, 2), (2, 2), (1, 2), padding)
    assert g == ConvGeometry((2, 7, 8, 3), (3, 2), (2, 2), (1, 2), pads)
    assert (g.pads, g.output_hw) == (pads, out)
    assert g.padded_hw == (7 + pads[0] + pads[1], 8 + pads[2] + pads[3])
    assert g.output_shape(5) == (2,) + out + (5,)


def test_it_is_frozen_and_hashable():
    g = ConvGeometry((1, 4, 4, 1), (2, 2))
    with pytest.raises(dataclasses.FrozenInstanceError):
        g.pads = (1, 1, 1, 1)
    assert hash(g) == hash(ConvGeometry((1, 4, 4, 1), [2, 2])) and g.output_hw == (3, 3)


def test_errors_name_the_op_and_the_arguments():
    with pytest.raises(ValueError, match=r"my_conv: the input is too small .* input size 2 .* window 3"):
        ConvGeometry.of((1, 2, 9, 1), (3, 3), op="my_conv")
    with pytest.raises(ValueError, match=r"Expected 'SAME' or 'VALID'.*padding='full'"):
        ConvGeometry.of((1, 5, 5, 1), (3, 3), padding="full")
    with pytest.raises(ValueError, match=r"expected pads of 4 ints. Received: pads=\(1, 1\)"):
        ConvGeometry((1, 5, 5, 1), (3, 3), pads=(1, 1))


def test_nn_ops_keeps_the_one_conv_output_size():
    assert nn_ops.conv_output_size is conv_output_size
