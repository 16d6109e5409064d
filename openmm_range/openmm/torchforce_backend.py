"""The TorchForce backend: openmm-torch runs the exported TorchScript module in C++.

TorchForce passes the positions of *all* particles (nm; float64 on Reference/CPU,
float32 on CUDA single/mixed precision) and, when periodic, the box vectors (3, 3) nm.
:class:`AtomSubset` picks the ML atoms out of them in the order of ``indices`` and
calls the exported module, which returns the energy in kJ/mol; openmm-torch
back-propagates it to the forces.
"""
import logging
from typing import Dict, Optional, Sequence, Set

import openmm
import torch

logger = logging.getLogger("openmm_range.openmm")
_RELOADED: Set[str] = set()


class AtomSubset(torch.nn.Module):
    """``forward(positions (P, 3) nm, box (3, 3) nm = None) -> energy (kJ/mol)`` of the ML atoms.

    ``indices`` (N,) are the particle indices of the ML atoms; position ``k`` handed to
    the wrapped module is that of particle ``indices[k]``.
    """

    def __init__(self, module: torch.jit.ScriptModule, indices: Sequence[int]):
        super().__init__()
        self.module = module
        self.register_buffer("indices", torch.tensor(list(indices), dtype=torch.long))

    def forward(self, positions: torch.Tensor, box: Optional[torch.Tensor] = None) -> torch.Tensor:
        return self.module(positions.index_select(0, self.indices), box)


def load_torch_plugins() -> None:
    """Load openmm-torch's platform plugins if ``import openmm`` ran before ``import torch``.

    OpenMM loads every plugin in its plugin directory when it is imported; openmm-torch's
    kernels (``libOpenMMTorchReference.so`` etc.) link against torch's libraries and fail
    to load if torch was not imported yet, which later surfaces as "Specified a Platform
    for a Context which does not support all required kernels". With torch imported,
    loading them again succeeds. Plugins that still cannot load (e.g. OpenCL without an
    OpenCL runtime) are skipped.
    """
    prefix = "Error loading library "
    for failure in openmm.Platform.getPluginLoadFailures():
        if "OpenMMTorch" not in failure or not failure.startswith(prefix):
            continue
        path = failure[len(prefix):].split(": ", 1)[0]
        if path in _RELOADED:
            continue
        _RELOADED.add(path)
        try:
            openmm.Platform.loadPluginLibrary(path)
            logger.debug("loaded openmm-torch plugin %s after importing torch", path)
        except Exception as exc:  # a platform this machine cannot run (e.g. no OpenCL runtime)
            logger.debug("openmm-torch plugin %s cannot be loaded here: %s", path, exc)


def torchforce_properties(cuda_graphs: bool, warmup_steps: int) -> Dict[str, str]:
    """openmm-torch properties; they take effect on the CUDA platform only."""
    if int(warmup_steps) < 1:
        raise ValueError(f"cudaGraphWarmupSteps must be a positive integer, got {warmup_steps!r}")
    return {"useCUDAGraphs": "true" if cuda_graphs else "false", "CUDAGraphWarmupSteps": str(int(warmup_steps))}


def build_torch_force(module: torch.jit.ScriptModule, indices: Sequence[int], periodic: bool, force_group: int,
                      cuda_graphs: bool, warmup_steps: int):
    """An ``openmmtorch.TorchForce`` evaluating ``module`` on the particles ``indices``.

    ``module`` must be an energy-only exported module (``return_forces=False``); with
    ``cuda_graphs`` it must also have been exported with ``check_errors=False`` so that
    nothing in it synchronises with the host.
    """
    import openmmtorch  # torch is already imported, as openmmtorch requires

    load_torch_plugins()
    wrapped = torch.jit.script(AtomSubset(module, indices))
    force = openmmtorch.TorchForce(wrapped, torchforce_properties(cuda_graphs, warmup_steps))
    force.setUsesPeriodicBoundaryConditions(bool(periodic))
    force.setOutputsForces(False)
    force.setForceGroup(int(force_group))
    force.setName("RANGE TorchForce")
    return force
