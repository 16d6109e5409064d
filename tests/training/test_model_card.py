"""The model card says whether a model reads the total charge, from the model itself."""
import openmm_range
from openmm_range.training.model_card import _charge_text


def _text(path, name, charges):
    model = openmm_range.create_model(name, cutoff=5.0, hidden_channels=16, elements=[1, 6, 8])
    model.config.charges = charges  # as training sets them
    openmm_range.save_model(model, path)
    loaded = openmm_range.load_model(path)  # the card reads a saved model
    return _charge_text(loaded.metadata, loaded.use_charge)


def test_card_says_whether_total_charge_is_an_input(tmp_path):
    ranged, base = _text(tmp_path / "r.pt", "range-schnet", (-1, 0, 1)), _text(tmp_path / "s.pt", "schnet", (-1, 0, 1))
    assert "Total charge is an input" in ranged and "[-1, 0, 1]" in ranged
    assert "not an input" in base and "[-1, 0, 1]" in base and "Total charge is an input" not in base
    assert "neutral molecules only" in _text(tmp_path / "n.pt", "range-schnet", (0,))
    painn = _text(tmp_path / "p.pt", "painn", (0,))
    assert "not an input" in painn and "other than 0 is refused" in painn
