"""Reusable model test suite (like nequip's model_tests_basic): apply it to an architecture
by subclassing :class:`ModelTestSuite` and providing a ``model_name`` fixture."""
import io

import pytest
import torch

import openmm_range
from helpers import random_molecule, random_rotation, small_model


class ModelTestSuite:
    @pytest.fixture
    def model(self, model_name):
        return small_model(model_name)

    def test_forces_match_central_differences(self, model):
        z, pos = random_molecule(8, seed=1)
        _, forces = model.energy_and_forces(z, pos)
        h = 1e-5
        numeric = torch.zeros_like(pos)
        with torch.no_grad():
            for i in range(pos.shape[0]):
                for k in range(3):
                    plus, minus = pos.clone(), pos.clone()
                    plus[i, k] += h
                    minus[i, k] -= h
                    numeric[i, k] = -(model(z, plus) - model(z, minus)).item() / (2 * h)
        torch.testing.assert_close(forces, numeric, rtol=1e-5, atol=1e-7)

    def test_rotation_and_translation_invariance(self, model):
        z, pos = random_molecule(10, seed=2)
        e0, f0 = model.energy_and_forces(z, pos)
        rot = random_rotation(3)
        moved = pos @ rot.T + torch.tensor([3.0, -7.5, 12.25], dtype=pos.dtype)
        e1, f1 = model.energy_and_forces(z, moved)
        torch.testing.assert_close(e1, e0, rtol=1e-10, atol=1e-10)
        torch.testing.assert_close(f1, f0 @ rot.T, rtol=1e-8, atol=1e-10)

    def test_permutation_invariance(self, model):
        z, pos = random_molecule(10, seed=4)
        e0, f0 = model.energy_and_forces(z, pos)
        perm = torch.randperm(10, generator=torch.Generator().manual_seed(5))
        e1, f1 = model.energy_and_forces(z[perm], pos[perm])
        torch.testing.assert_close(e1, e0, rtol=1e-10, atol=1e-10)
        torch.testing.assert_close(f1, f0[perm], rtol=1e-8, atol=1e-10)

    def test_energy_and_forces_continuous_across_cutoff(self, model):
        rc = model.cutoff
        z = torch.tensor([6, 8, 1])
        base = torch.tensor([[0.0, 0.0, 0.0], [1.2, 0.0, 0.0], [0.0, 0.0, 0.0]], dtype=torch.float64)

        def at(distance):
            pos = base.clone()
            pos[2] = torch.tensor([-distance, 0.0, 0.0])  # atom 2 crosses the cutoff of atom 0 only
            return model.energy_and_forces(z, pos)

        e_in, f_in = at(rc - 1e-7)
        e_out, f_out = at(rc + 1e-7)
        assert abs(float(e_in.detach() - e_out.detach())) < 1e-9
        assert float((f_in - f_out).abs().max()) < 1e-6
        e_far, _ = at(rc - 0.5)
        assert abs(float(e_far.detach() - e_in.detach())) > 1e-9  # the pair really contributes inside the cutoff

    def test_small_and_large_systems(self, model):
        for n in (3, 1000):
            z, pos = random_molecule(n, seed=n, spacing=1.0)
            energy, forces = model.energy_and_forces(z, pos)
            assert energy.shape == (1,) and forces.shape == (n, 3)
            assert torch.isfinite(energy).all() and torch.isfinite(forces).all()
            assert float(forces.abs().max()) > 0

    def test_batch_equals_one_by_one(self, model):
        mols = [random_molecule(n, seed=10 + n) for n in (4, 9, 6)]
        z = torch.cat([m[0] for m in mols])
        pos = torch.cat([m[1] for m in mols])
        batch = torch.cat([torch.full((len(m[0]),), k) for k, m in enumerate(mols)])
        energies, forces = model.energy_and_forces(z, pos, batch)
        singles = [model.energy_and_forces(*m) for m in mols]
        torch.testing.assert_close(energies, torch.cat([s[0] for s in singles]), rtol=1e-10, atol=1e-10)
        torch.testing.assert_close(forces, torch.cat([s[1] for s in singles]), rtol=1e-8, atol=1e-10)

    def test_export_matches_batched_path(self, model):
        z, pos = random_molecule(12, seed=7)
        energy, forces = model.energy_and_forces(z, pos)
        module = openmm_range.export(model, z.tolist(), return_forces=True)
        e_kj, f_kj = module(pos / openmm_range.units.ANGSTROM_PER_NM)
        k = openmm_range.units.KJ_PER_MOL_PER_EV
        torch.testing.assert_close(e_kj / k, energy[0], rtol=1e-10, atol=1e-10)
        torch.testing.assert_close(f_kj / (k * openmm_range.units.ANGSTROM_PER_NM), forces, rtol=1e-8, atol=1e-10)

    @pytest.mark.parametrize("periodic", [False, True])
    def test_pairs_once_equal_pairs_both_ways(self, model, periodic):
        """The training path lists each pair once and sends messages both ways; the exported one
        lists both directions. Same energy and forces (PaiNN: the unit vector flips for the reverse)."""
        from openmm_range.neighbors import neighbor_pairs

        n = 130 if periodic else 14  # periodic: a box wider than two cutoffs at the molecule's density
        z, pos = random_molecule(n, seed=11)
        box = torch.eye(3, dtype=pos.dtype) * (float(pos.max()) + 1.0) if periodic else None
        if periodic:
            assert 2 * model.cutoff < float(box[0, 0])
        pos = pos.clone().requires_grad_(True)
        types = model.types_from_z(z)
        zero = torch.zeros(n, dtype=torch.long)
        (src, dst), shift = neighbor_pairs(pos.detach(), model.cutoff, zero, box)
        once = src < dst
        assert int(once.sum()) * 2 == src.numel() > 0
        if periodic:
            assert bool((shift != 0).any())  # some pairs really go through the boundary

        def energy(s, d, sh, both_ways):
            vec = pos[s] - pos[d] + sh
            empty = torch.zeros(0, dtype=torch.long)
            out = model.energy_from_edges(types, pos, zero, 1, s, d, vec, pos, zero, 1, torch.zeros(1, dtype=pos.dtype),
                                          empty, empty, torch.zeros(0, 3, dtype=pos.dtype), None, both_ways=both_ways)
            (grad,) = torch.autograd.grad(out.sum(), pos)
            return out, -grad

        e_both, f_both = energy(src, dst, shift, False)
        e_once, f_once = energy(src[once], dst[once], shift[once], True)
        torch.testing.assert_close(e_once, e_both, rtol=1e-10, atol=1e-10)
        torch.testing.assert_close(f_once, f_both, rtol=1e-8, atol=1e-10)
        e_half, _ = energy(src[once], dst[once], shift[once], False)  # one way only is a different model
        assert float((e_half - e_both).abs().detach()) > 1e-6

    def test_script_save_load_identical(self, model, tmp_path):
        z, pos = random_molecule(9, seed=8)
        module = openmm_range.export(model, z.tolist(), return_forces=True)
        buffer = io.BytesIO()
        torch.jit.save(module, buffer)
        buffer.seek(0)
        loaded = torch.jit.load(buffer)
        path = tmp_path / "model.pt"
        openmm_range.save_model(model, path)
        rebuilt = openmm_range.export(openmm_range.load_model(path), z.tolist(), return_forces=True)
        pos_nm = pos / 10.0
        # TorchScript's profiling executor re-optimises the graph after the first calls, which
        # may change the last bits; compare modules in the same (warmed-up) state.
        results = []
        for m in (module, loaded, rebuilt):
            for _ in range(3):
                out = m(pos_nm)
            results.append(out)
        for e, f in results[1:]:
            assert torch.equal(results[0][0], e) and torch.equal(results[0][1], f)

    def test_float32_and_float64_positions(self, model):
        z, pos = random_molecule(7, seed=9)
        module = openmm_range.export(model.float(), z.tolist())
        e64 = module(pos / 10.0)
        e32 = module((pos / 10.0).float())
        assert e64.dtype == e32.dtype == torch.float64  # energies come back in float64 (shifts summed there)
        torch.testing.assert_close(e32.double(), e64, rtol=1e-5, atol=1e-4)
