"""`python -m bench [SCENARIO ...] [options]`: run the named scenarios, or all of them (see bench/README.md)."""

from __future__ import annotations

import argparse
import importlib
import sys

from bench import SCENARIOS


def main(argv: list[str] | None = None) -> int:
    modules = {name: importlib.import_module(f"bench.{name}") for name in SCENARIOS}
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Run benchmark scenarios and print their figures.",
        epilog="scenarios: " + "; ".join(f"{name}: {module.describe}" for name, module in modules.items()),
    )
    parser.add_argument(
        "scenarios",
        nargs="*",
        metavar="SCENARIO",
        help=f"scenarios to run (default: all): {', '.join(SCENARIOS)}",
    )
    for module in modules.values():
        module.add_arguments(parser)
    args = parser.parse_args(argv)
    unknown = [name for name in args.scenarios if name not in modules]
    if unknown:
        parser.error(f"unknown scenario(s): {', '.join(unknown)}; known: {', '.join(SCENARIOS)}")
    status = 0
    for name in args.scenarios or SCENARIOS:
        print(f"=== bench {name} ===", flush=True)
        status = max(status, modules[name].run(args))
    return status


if __name__ == "__main__":
    sys.exit(main())
