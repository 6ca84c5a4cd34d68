"""load_results names the folder to evaluate into when the results are missing (folder or file path)."""

from __future__ import annotations

import pytest

from patchworld.results import load_results


@pytest.mark.parametrize("given, folder", [("never-made", "never-made"), ("empty", "empty"),
                                           ("never-made/results.parquet", "never-made")])
def test_missing_results_name_the_folder_evaluate_should_write(tmp_path, given, folder):
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError) as err:
        load_results(tmp_path / given)
    assert str(err.value) == (f"{tmp_path / folder / 'results.parquet'}: no results file "
                              f"(run `patchworld evaluate --out {tmp_path / folder}` first)")
