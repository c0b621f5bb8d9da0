"""Write ``.env`` from ``.env.example`` with a random secret for every ``change-me`` value.

Usage: ``python scripts/make_env.py [--example PATH] [--output PATH] [--force]``.
An existing output file is kept unless ``--force`` is given. The file is created with mode 600
(owner only) before a byte of it is written, so no secret is ever readable by others, not even
for an instant. Standard library only.
"""

from __future__ import annotations

import argparse
import base64
import os
import secrets
import sys
from pathlib import Path

PLACEHOLDER = "change-me"
ROOT = Path(__file__).resolve().parent.parent


def new_secret(key: str) -> str:
    """Return a random value for ``key``; a Fernet key needs base64 of exactly 32 bytes."""
    if key.endswith(("FERNET_KEY", "ENCRYPTION_KEY")):
        return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode("ascii")
    return secrets.token_urlsafe(32)


def render(example: str) -> str:
    """Return the text of ``example`` with every ``KEY=change-me`` line given a secret."""
    lines = []
    for line in example.splitlines():
        key, sep, value = line.partition("=")
        if sep and not key.lstrip().startswith("#") and value.strip().strip("\"'") == PLACEHOLDER:
            line = f"{key}={new_secret(key.strip())}"
        lines.append(line)
    return "\n".join(lines) + "\n"


def write_private(path: Path, text: str, overwrite: bool) -> None:
    """Write ``text`` to ``path`` with mode 600 from the first byte; refuse an existing file unless ``overwrite``.

    Raises:
        FileExistsError: ``path`` exists and ``overwrite`` is false.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | (0 if overwrite else os.O_EXCL)
    fd = os.open(path, flags, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        os.fchmod(fd, 0o600)  # an existing file keeps its mode when opened; set it before writing
        handle.write(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--example", type=Path, default=ROOT / ".env.example")
    parser.add_argument("--output", type=Path, default=ROOT / ".env")
    parser.add_argument("--force", action="store_true", help="overwrite an existing output file")
    args = parser.parse_args(argv)

    if not args.example.is_file():
        print(f"error: {args.example} not found", file=sys.stderr)
        return 1
    if args.output.exists() and not args.force:
        print(f"error: {args.output} exists; use --force to overwrite it", file=sys.stderr)
        return 1
    text = render(args.example.read_text(encoding="utf-8"))
    try:
        write_private(args.output, text, overwrite=args.force)
    except FileExistsError:
        print(f"error: {args.output} exists; use --force to overwrite it", file=sys.stderr)
        return 1
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
