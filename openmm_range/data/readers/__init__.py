"""Readers for public dataset layouts; each returns :class:`openmm_range.data.frames.Frames` in Å, eV, eV/Å."""
from openmm_range.data.readers.ase_formats import read_ase_db, read_extxyz
from openmm_range.data.readers.qm7x import read_aqm, read_qm7x
from openmm_range.data.readers.sgdml import read_sgdml

__all__ = ["read_sgdml", "read_qm7x", "read_aqm", "read_extxyz", "read_ase_db"]
