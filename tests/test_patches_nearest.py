"""A SEARCH block that does not match names the nearest block, found line-level first (bounded work)."""

import pytest

from patchworld.patches import Edit, Patch, PatchError, apply_patch, nearest_block


def long_source(n: int = 800) -> str:
    return "\n".join(f"    value_{i} = compute(x_{i}, y_{i}) + {i}" for i in range(n)) + "\n"


def test_nearest_block_in_a_long_source_is_the_paraphrased_one():
    search = "\n".join(f"    value_{i} = compute(x_{i}, y_{i}) - {i}" for i in range(400, 430))
    first, last, ratio, block = nearest_block(long_source(), search)
    assert (first, last) == (401, 430)
    assert 0.9 < ratio < 1.0 and block.startswith("    value_400 =")


def test_failed_edit_message_quotes_nearest_lines():
    source = long_source(300)
    patch = Patch(edits=(Edit("    value_123 = compute(x_123, y_123) * 123\n", "    pass\n"),), parent="p")
    with pytest.raises(PatchError) as err:
        apply_patch(source, patch)
    assert "lines 124-124" in str(err.value) and "value_123" in err.value.nearest
