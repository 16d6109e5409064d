"""The README's table of shipped models states what the shipped files and their cards say.

Each row's epochs, data size, all-test and DHA-test force MAE are read back from
``serialized_models/<name>.md`` (written by ``openmm-range publish`` from the run) and the
file's own metadata, so that republishing a model without updating the README fails here.
"""
import re
from pathlib import Path

import pytest

from openmm_range.registry import POTENTIAL_NAMES
from openmm_range.serialization import read_metadata

ROOT = Path(__file__).resolve().parents[1]
ROW = re.compile(r"^\| `([\w-]+)`[^|]*\|[^|]*\| ([\d,]+) \| (\d+) \| ([\d.]+) \| ([\d.]+) \|", re.M)


def _readme_rows():
    text = (ROOT / "README.md").read_text()
    section = text.split("## Shipped models", 1)[1].split("\n## ", 1)[0]
    return {m[1]: (int(m[2].replace(",", "")), int(m[3]), float(m[4]), float(m[5])) for m in ROW.finditer(section)}


def _card_numbers(name):
    card = (ROOT / "serialized_models" / f"{name}.md").read_text()
    epochs = int(re.search(r"^- epochs run: (\d+)", card, re.M)[1])
    used = re.search(r"^- structures used: (\d+) for training; split \[([\d.]+),", card, re.M)
    train, split0 = int(used[1]), float(used[2])
    dha = float(re.search(r"^\| data/dha-xtb \| \d+ \| [\d.]+ \| ([\d.]+) \|", card, re.M)[1])
    return epochs, train, split0, dha


def test_readme_lists_every_shipped_potential():
    assert set(_readme_rows()) == set(POTENTIAL_NAMES)


@pytest.mark.parametrize("name", sorted(POTENTIAL_NAMES))
def test_readme_row_matches_card_and_file(name):
    data, epochs, all_test, dha_test = _readme_rows()[name]
    card_epochs, train, split0, card_dha = _card_numbers(name)
    meta = read_metadata(ROOT / "serialized_models" / f"{name}.pt")
    assert epochs == card_epochs, f"README says {epochs} epochs for {name}, its card {card_epochs}"
    assert abs(data * split0 - train) <= 1, f"README says {data} structures for {name}; {train} trained on ({split0})"
    assert all_test == pytest.approx(meta["test_metrics"]["force_mae_mev_a"], abs=0.051), name
    assert dha_test == pytest.approx(card_dha, abs=0.051), name
