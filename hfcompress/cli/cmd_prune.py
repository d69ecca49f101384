"""``hfcompress prune``: see ``hfcompress prune --help`` (flags generated from its config)."""

from hfcompress.cli.method import method_command

register = method_command("prune")
