"""The `raybee` command line."""

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="raybee")
    parser.add_subparsers(dest="command")
    args = parser.parse_args(argv)
    parser.print_help()
    return 0 if args.command is None else 2


if __name__ == "__main__":
    sys.exit(main())
