"""The science: one module per idea, importing nothing from teaching or tooling.

Lesson 01: ``linear_maps``, ``toy_classifier``, ``analogies``, ``superposition``.
Lesson 02: ``relu_circuits``, ``relu_training``.
Lesson 03: ``attention_only`` (a one-layer attention-only model, its corpus and
circuits), ``induction`` (previous-token and induction heads by hand, composition
scores), ``transformer_parts`` (one head, LayerNorm, the last-member head).
Lesson 04: ``sequences`` (the paper's data), ``models`` and ``toy_seq`` (loading,
the embedded model), ``hooks`` (hook names and hook functions), ``patching``
(activation and attribution patching, ablation, logit lens), ``ablation``
(the logit difference with components mean-ablated, for circuit discovery),
``final_position`` (one clean run per prompt set, kept at the final
position, for every reading that looks there), ``circuit_discovery``,
``head_roles``, ``surgery``, ``circuit_study``.
"""
