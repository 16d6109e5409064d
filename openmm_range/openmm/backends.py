"""Choosing how the exported module runs inside OpenMM: TorchForce or PythonForce.

* ``'torchforce'``: openmm-torch's ``TorchForce`` runs the TorchScript module in C++ (no
  Python in the MD loop; CUDA graphs on the CUDA platform).
* ``'python'``: ``openmm.PythonForce`` calls the module from Python each step. Slower per
  step for small systems, but its force pickles, so XML serialisation, ``copy.deepcopy``
  and ``createMixedSystem(..., interpolate=True)`` (a CustomCVForce) all work.
* ``'auto'`` (default): PythonForce, on every platform. openmm-ml 1.8 runs its own
  models through ``openmm.PythonForce`` too, and openmm-torch calls TorchForce deprecated.

TorchForce is an opt-in for the lowest per-step overhead (CUDA graphs inside OpenMM's
C++ loop). Asking for it logs a warning, because openmmtorch 1.5 crashes the process
when such a System is XML-deserialised, deep-copied or interpolated. Whether TorchForce
works at all is checked once per process by running ``torchforce_probe.py`` in a child
process: a broken openmmtorch/torch pairing can crash instead of raising, and that must
never take the user's process down.
"""
import logging
import subprocess
import sys
from pathlib import Path
from typing import Optional, Tuple

logger = logging.getLogger("openmm_range.openmm")

#: Accepted values of createSystem(..., backend=...).
BACKENDS = ("auto", "torchforce", "python")

_PROBE_SCRIPT = Path(__file__).resolve().with_name("torchforce_probe.py")
_PROBE_TIMEOUT_S = 300
# Memoised result of the probe, (usable, reason): it depends only on the installed packages.
_probe_result: Optional[Tuple[bool, str]] = None

COPY_REASON = ("the force is being built into a temporary System to be copied into another one (openmm-ml does "
               "this for createMixedSystem(..., interpolate=True), where it goes inside a CustomCVForce), and "
               "openmmtorch 1.5 crashes when a TorchForce is copied or placed in a CustomCVForce")


def torchforce_status() -> Tuple[bool, str]:
    """``(usable, reason)``: can openmm-torch's TorchForce evaluate a module in this environment?"""
    global _probe_result
    if _probe_result is None:
        _probe_result = _run_probe()
    return _probe_result


def _run_probe() -> Tuple[bool, str]:
    try:
        import importlib.util

        if importlib.util.find_spec("openmmtorch") is None:
            return False, "openmmtorch is not installed (pip install openmmtorch==1.5 with torch 2.9.x)"
    except (ImportError, ValueError):
        return False, "openmmtorch is not importable"
    try:
        done = subprocess.run([sys.executable, str(_PROBE_SCRIPT)], capture_output=True, text=True,
                              timeout=_PROBE_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, f"the TorchForce self-test could not run ({exc})"
    if done.returncode == 0 and "TORCHFORCE-OK" in done.stdout:
        return True, "openmmtorch evaluates TorchScript modules with the installed torch"
    tail = (done.stdout + done.stderr).strip().splitlines()[-1:] or ["no output"]
    how = f"crashed with signal {-done.returncode}" if done.returncode < 0 else f"failed (exit {done.returncode})"
    return False, f"the TorchForce self-test {how}: {tail[0]} (openmmtorch 1.5 needs torch 2.9.x)"


def check_backend(backend: str) -> str:
    """Validate a backend name; raises ValueError listing the accepted ones."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; accepted: {', '.join(BACKENDS)}")
    return backend


def choose_backend(requested: str, will_be_copied: bool) -> Tuple[str, str]:
    """The backend to use, ``'torchforce'`` or ``'python'``, and why.

    Args:
        requested: ``'auto'``, ``'torchforce'`` or ``'python'``.
        will_be_copied: the force is built into a throwaway System and will be copied
            elsewhere (openmm-ml's interpolation); TorchForce must not be used then.

    Raises ValueError when ``'torchforce'`` is requested but cannot be used safely.
    """
    check_backend(requested)
    if requested != "torchforce":
        return "python", f"backend={requested!r}: PythonForce, the default on every platform"
    if will_be_copied:
        raise ValueError(f"backend='torchforce' cannot be used here: {COPY_REASON}; use backend='python' "
                         f"or backend='auto'")
    usable, reason = torchforce_status()
    if not usable:
        raise ValueError(f"backend='torchforce' is not usable: {reason}; use backend='python' or 'auto'")
    logger.warning("backend='torchforce': openmmtorch 1.5 crashes the process when this System is deserialised "
                   "from XML, deep-copied or interpolated (createMixedSystem(interpolate=True)); copies and pickles "
                   "of it are refused. Use the default backend for Systems you save or copy.")
    return "torchforce", "backend='torchforce' was requested"
