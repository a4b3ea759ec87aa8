"""The benchmark studies, one module each, run from the repository root as ``python -m benchmarks.<name>``
(``ablation``, ``stabilizers``, ``robgan``, ``lr_sensitivity``, ``toy2d``, ``mnist_dcgan``, ``speed``,
``eval_speed``, ``scale``); what they share is in :mod:`benchmarks.harness`. Results: ``benchmarks/RESULTS.md``."""
