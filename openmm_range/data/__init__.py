"""Reference data: readers for public dataset layouts, the package's own dataset files,
the ``AtomsDataset`` used for training, and the GFN2-xTB data generator (``generate/``).

Everything here is in the internal units of :mod:`openmm_range.units`: Å, eV, eV/Å.
"""
from openmm_range.data.dataset import AtomsDataset, concat_datasets
from openmm_range.data.frames import Frames, concat_frames
from openmm_range.data.load import FORMATS, load_dataset, read_frames, sniff_format
from openmm_range.data.store import load_frames_npz, save_frames

__all__ = [
    "AtomsDataset",
    "Frames",
    "FORMATS",
    "concat_datasets",
    "concat_frames",
    "load_dataset",
    "load_frames_npz",
    "read_frames",
    "save_frames",
    "sniff_format",
]
