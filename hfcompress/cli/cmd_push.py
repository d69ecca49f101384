"""``hfcompress push``: publish a compressed model folder to the Hub (explicit, never automatic)."""

from __future__ import annotations

import argparse


def run(args: argparse.Namespace) -> int:
    from hfcompress.hub.push import push_to_hub

    url = push_to_hub(args.model, args.repo_id, private=not args.public, token=args.token)
    print(f"pushed {args.model} to {args.repo_id}: {url}")
    print(f"load it with: hfcompress evaluate --task <task> --model {args.repo_id}")
    return 0


def register(sub) -> None:
    p = sub.add_parser("push", help="upload a compressed model folder to the Hugging Face Hub", allow_abbrev=False)
    p.add_argument("--model", required=True, help="a folder hfcompress saved")
    p.add_argument("--repo-id", dest="repo_id", required=True, help="e.g. my-org/minilm-sst2-int8")
    p.add_argument("--public", action="store_true", help="create a public repo (default: private)")
    p.add_argument("--token", help="Hub token (default: the logged-in one)")
    p.set_defaults(func=run)
