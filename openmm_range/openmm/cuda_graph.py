"""CUDA-graph replay of an exported module for the PythonForce backend.

A CUDA graph records the kernels of one call of ``module(positions, box)`` (forward and
the autograd backward inside it) and replays them with new inputs copied into the same
static buffers, removing per-kernel launch overhead. It requires static shapes and no
host synchronisation, so the module must be exported with ``check_errors=False`` and
``static_shapes=True``.
"""
from typing import Optional, Tuple

import torch


class GraphedModule:
    """Captured ``module(positions, box) -> (energy kJ/mol, forces kJ/mol/nm)`` on a CUDA device.

    Args:
        module: exported with ``return_forces=True, check_errors=False, static_shapes=True``,
            on the device.
        positions: (N, 3) nm example input (shape, dtype and device are fixed from now on).
        box: (3, 3) nm example box, or None for a non-periodic module.
        warmup_calls: eager calls on a side stream before capture (lets TorchScript's
            profiling executor settle and the allocator warm up).

    Raises whatever capture raises; the caller falls back to eager execution.
    """

    def __init__(self, module: torch.jit.ScriptModule, positions: torch.Tensor, box: Optional[torch.Tensor],
                 warmup_calls: int = 3):
        self.module = module
        self.positions = positions.detach().clone()
        self.box = None if box is None else box.detach().clone()
        side = torch.cuda.Stream(device=positions.device)
        side.wait_stream(torch.cuda.current_stream(positions.device))
        with torch.cuda.stream(side):
            for _ in range(max(1, int(warmup_calls))):
                module(self.positions, self.box)
        torch.cuda.current_stream(positions.device).wait_stream(side)
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph):
            self.energy, self.forces = module(self.positions, self.box)

    def __call__(self, positions: torch.Tensor, box: Optional[torch.Tensor]) -> Tuple[torch.Tensor, torch.Tensor]:
        """Replay with new inputs. The returned tensors are overwritten by the next call."""
        self.positions.copy_(positions)
        if self.box is not None and box is not None:
            self.box.copy_(box)
        self.graph.replay()
        return self.energy, self.forces
