"""GFN2-xTB reference-data generator: spec files, RDKit conformers, GFN-FF / GFN2-xTB
Langevin sampling, tblite labelling, resumable parallel runs, force spot checks."""
