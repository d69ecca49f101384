"""The method registry and the run contract: what every compression method is and how it runs.

Everything that needs the list of methods (recipes, pipelines, sweeps, the CLI, the loader's
plugins, the benchmarks) reads :mod:`hfcompress.methods.registry`; nothing else lists them.
:mod:`hfcompress.methods.contract` says what every runner takes and returns. (Nothing is imported
here, so that reading the registry stays cheap: ``hfcompress --help`` imports no torch.)
"""
