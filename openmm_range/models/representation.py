"""The interface between a local message-passing model and the RANGE block.

A base model ("representation") provides, for a given :class:`ModelConfig`:

* ``embed(types) -> (s, v)``: initial scalar features s (N, h) and any extra per-atom
  state v (vector features for PaiNN; an empty tensor for SchNet);
* ``local_layers``: one module per interaction, each
  ``forward(s, v, edge_src, edge_dst, rbf, fcut, unit, both_ways) -> (s, v)``; with
  ``both_ways`` each listed pair carries messages in both directions (``unit`` flips sign
  for the reverse one), so per-pair work such as the filter is done once per pair;
* ``num_rbf``: the number of radial basis functions it expects.

RANGE only reads and replaces the scalar features ``s`` after each local update, so a
new base model is one file implementing this interface plus one line in
``openmm_range/registry.py``.
"""
