"""Benchmark of neuralcircuits.science.patching against transformer_lens.patching, and lesson 04 end to end; writes build/bench.json.

``python -m neuralcircuits.tooling.bench`` (``make bench``). Two models:

- ``gpt2-shaped``: GPT-2 small's shape with random weights (12 layers, 12
  heads, d_model 768, d_vocab 50257; ``TransformerBridge.boot_native``), 8
  prompts of 24 random tokens, a logit-difference metric at the last position.
- ``toy-seq``: the course's model on its three tasks (``sequences.make_dataset``
  clean / corrupted pairs), when it is installed.

and ``lesson04`` (``--only lesson04``): lesson 04's solution run top to bottom
on GPT-2 small's shape (random weights, GPT-2's tokenizer, the correctness
filter bypassed so all 96 prompts per task stay) and on toy-seq, each in a
fresh process with an empty result cache, then again with the cache it filled
(``tooling.lesson_run``): wall and CPU time, peak memory, per-section times,
and the reference pass timed in the same process (one full forward pass of the
model over the lesson's 96 prompts, logits included), so that the lesson and
each section read as a number of forward passes, whatever the machine.

On a 2-core CPU one forward pass of the GPT-2-shaped model takes seconds, so
TransformerLens's full sweeps (one forward pass per cell: 144 cells for heads,
3,456 by position) would take hours. The GPT-2-shaped rows therefore time the
same *subset of cells* with both tools, chosen so that it has the sweep's
average cost (layers and positions spread evenly; every row says which):

- ours: the sweep restricted to the subset, median of ``--repeats`` runs;
- TransformerLens: its own ``generic_activation_patch`` on a few cells of the
  subset per run (every TL cell is one full forward pass with one hook, so its
  cost per cell is constant), median per-cell time of ``--repeats`` runs, times
  the number of cells in the subset, plus its clean ``run_with_cache``;
- ``full est.``: both scaled from the subset to the whole sweep (ours: its
  fixed cost per sweep, measured as a sweep over no cells, plus the rest
  scaled by cells).

Runs of the two tools alternate (ours, TL, ours, ...), and attribution
patching alternates with plain forward passes, so that a change in the
machine's load (other processes on the two cores) hits both sides of a ratio.

The largest difference compares the two tools' values on the cells TL ran.
Peak memory is the process's resident set size, sampled every 2 ms while the
method runs (model and inputs included). ``--full`` also times our complete
sweeps once. toy-seq rows are full sweeps for both tools.

The package: ``measure`` (time and peak memory), ``rows`` (a table row and the
table), ``sweeps`` (both tools on the same cells, attribution patching),
``gpt2_shaped``, ``toy_seq`` and ``lesson04`` (the three groups of rows),
``__main__`` (the command).
"""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
# TransformerLens's per-sweep bars; set before tqdm loads
os.environ.setdefault("TQDM_DISABLE", "1")
