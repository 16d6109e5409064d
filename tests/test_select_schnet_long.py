"""scripts/select_schnet_long.py: the lowest validation error wins among finished candidates, and
the table says which missing candidates the campaign still trains and which it never trains."""
import importlib.util
import json
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("select_schnet_long", REPO / "scripts" / "select_schnet_long.py")
select = importlib.util.module_from_spec(spec)
spec.loader.exec_module(select)


def _tree(root: Path, finished: dict, campaign: list) -> None:
    (root / "configs" / "campaigns").mkdir(parents=True)
    for c in (7, 9, 12):
        (root / "configs" / f"schnet-long-{c}.yaml").write_text("{}\n")
    (root / "configs" / "campaigns" / "shipped.yaml").write_text(
        "name: shipped\nruns:\n" + "".join(f"  - configs/schnet-long-{c}.yaml\n" for c in campaign))  # as the real one
    for c, mae in finished.items():
        run = root / "runs" / "shipped" / f"schnet-long-{c}"
        run.mkdir(parents=True)
        (run / "summary.json").write_text(json.dumps({"best_val_force_mae_mev_a": mae}))


def test_lowest_error_wins_and_missing_candidates_are_labelled(tmp_path, capsys):
    _tree(tmp_path, {12: 114.2, 9: 110.5}, campaign=[12, 9])
    assert select.main([], root=tmp_path) == 1  # 7 Å missing and not allowed
    assert select.main(["--allow-missing"], root=tmp_path) == 0
    assert capsys.readouterr().out.strip().endswith("schnet-long-9")
    table = (tmp_path / "runs" / "shipped" / "schnet-long-selection.md").read_text()
    assert "| 9 | 110.50 (chosen) |" in table and "| 12 | 114.20 |" in table
    assert "| 7 | not trained (not in configs/campaigns/shipped.yaml)" in table


def test_a_missing_candidate_of_the_campaign_is_reported_unfinished(tmp_path, capsys):
    _tree(tmp_path, {12: 114.2}, campaign=[12, 9])
    assert select.main(["--allow-missing"], root=tmp_path) == 0
    table = (tmp_path / "runs" / "shipped" / "schnet-long-selection.md").read_text()
    assert "the only one finished" in table and "| 12 | 114.20 (chosen) |" in table
    assert "| 9 | in the campaign, not finished" in table and "| 7 | not trained" in table
