"""The method registry is the one list of methods: every entry imports, and everything reads it."""

import dataclasses
import importlib
import subprocess
import sys
import typing

import pytest

from hfcompress.methods import registry


def _get(spec):
    module, _, attr = spec.partition(":")
    return getattr(importlib.import_module(module), attr)


@pytest.mark.parametrize("name", list(registry.FAMILIES))
def test_every_family_entry_imports_and_its_fields_exist(name):
    fam = registry.FAMILIES[name]
    cls = registry.config_class(name)
    assert callable(registry.runner(name))
    fields = {f.name for f in dataclasses.fields(cls)}
    assert fam.input_field in fields and {"task", "output_dir"} <= fields
    hints = typing.get_type_hints(cls)
    for field in fam.sweepable:
        assert field in fields, f"{name}.sweepable names {field!r}, not a field of {cls.__name__}"
        assert any(t in (int, float) for t in (hints[field], *typing.get_args(hints[field]))), field
    if fam.evaluations:
        assert callable(_get(fam.evaluations))


@pytest.mark.parametrize("key", list(registry.VARIANTS))
def test_every_variant_imports_and_rebuilds_what_it_reshapes(key):
    impl = registry.variant_impl(*key)
    if getattr(impl, "rebuilds", False):
        assert callable(impl.rebuild)
    assert registry.VARIANTS[key].stage in registry.known_stages()


def test_every_loader_plugin_exists():
    for name in registry.LOADER_PLUGINS:
        importlib.import_module(name)  # a missing plugin is an error, never skipped


def test_config_method_choices_are_the_registry_variants():
    from hfcompress.prune.config import PruneConfig
    from hfcompress.quantize.config import QuantizeConfig

    for family, cls in (("prune", PruneConfig), ("quantize", QuantizeConfig)):
        choices = typing.get_args(typing.get_type_hints(cls)["method"])
        assert set(choices) == set(registry.variants_of(family))


def test_recipe_sections_pipeline_stages_and_sweeps_come_from_the_registry():
    from hfcompress.config.recipe import SECTIONS
    from hfcompress.sweep.grid import SWEEPABLE

    assert set(registry.FAMILIES) <= set(SECTIONS) and set(SWEEPABLE) == set(registry.FAMILIES)


@pytest.mark.parametrize("name", list(registry.FAMILIES))
def test_cli_has_a_flag_for_every_config_field(name):
    """The CLI is generated from the configs: every field can be set from the command line."""
    from hfcompress.cli.main import build_parser

    cls = registry.config_class(name)
    parser = build_parser()
    sub = parser._subparsers._group_actions[0].choices[name]
    flags = {opt for action in sub._actions for opt in action.option_strings}
    for f in dataclasses.fields(cls):
        assert f"--{f.name.replace('_', '-')}" in flags, f"hfcompress {name} has no --{f.name}"


def test_help_imports_no_torch_or_evaluate():
    code = ("import sys; from hfcompress.cli.main import build_parser; build_parser(); "
            "print(sorted(m for m in ('torch', 'transformers', 'evaluate', 'datasets') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_every_loss_name_has_one_term_builder():
    from hfcompress.distill.config import LOSS_NAMES
    from hfcompress.distill.distiller import TERMS

    assert set(TERMS) == set(LOSS_NAMES)


def test_record_stage_params_come_back_as_typed_configs():
    from hfcompress.hub.record import CompressionRecord
    from hfcompress.prune.config import PruneConfig

    cfg = PruneConfig(task="sst2", model="m", output_dir="o", method="heads", amount=0.5)
    stage = CompressionRecord().with_stage("prune_heads", cfg.to_dict()).stages[-1]
    assert stage.config() == cfg
    assert registry.family_of_stage("quantize") == "quantize" and registry.family_of_stage("finetune") == "train"
