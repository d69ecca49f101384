"""``hfcompress <command>``: parses arguments, calls the library, prints.

Commands live in ``hfcompress/cli/cmd_<name>.py``, each with ``register(subparsers)``; they are
found by name, so adding a command means adding a module, nothing here. User errors
(:class:`hfcompress.errors.HfCompressError`) print one line and exit with status 2; bugs keep
their traceback.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from typing import Optional, Sequence

from hfcompress import __version__
from hfcompress.errors import HfCompressError

EXIT_USER_ERROR = 2


def command_modules() -> list[str]:
    import hfcompress.cli as package

    return sorted(m.name for m in pkgutil.iter_modules(package.__path__) if m.name.startswith("cmd_"))


class ExactParser(argparse.ArgumentParser):
    """An ArgumentParser that matches options exactly: argparse's default prefix matching would turn a
    mistyped or future flag (``--mac`` for ``--mac-reduction``) silently into another one."""

    def __init__(self, *args, **kwargs):
        kwargs["allow_abbrev"] = False
        super().__init__(*args, **kwargs)


def build_parser() -> argparse.ArgumentParser:
    parser = ExactParser(prog="hfcompress",
                         description="Distil, prune and quantize Hugging Face models, then measure them.")
    parser.add_argument("--version", action="version", version=f"hfcompress {__version__}")
    # every subparser (created by the cmd modules with sub.add_parser) is an ExactParser too
    sub = parser.add_subparsers(dest="command", required=True, parser_class=ExactParser)
    for name in command_modules():
        importlib.import_module(f"hfcompress.cli.{name}").register(sub)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except HfCompressError as exc:
        print(f"hfcompress {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print(f"hfcompress {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
