"""Draw chunks in a child process while this one writes them.

On SQLite the database work runs in our own process and takes the GIL back after every row,
so a thread cannot overlap it with drawing; a second process can, on a second core. The
child is `python -m navreme.demo.pipeline`: it reads a pickled DrawPlan on stdin and writes
length-prefixed pickled chunks on stdout (a full pipe makes it wait: at most a chunk ahead).
"""

from __future__ import annotations

import pickle  # only between this process and its own child  # nosec B403
import struct
import subprocess  # starts our own interpreter, no shell  # nosec B404
import sys
import traceback
from collections.abc import Iterator
from typing import IO

from navreme.demo.draw import Chunk, DrawPlan, draw_chunks
from navreme.demo.persons import SeedError

_LENGTH = struct.Struct("<Q")
_CHUNK, _FAILED, _DONE = b"C", b"F", b"D"


def draw_in_subprocess(plan: DrawPlan) -> Iterator[Chunk]:
    """The same chunks as `draw_chunks(plan)`, drawn by a child process."""
    child = subprocess.Popen(  # noqa: S603 - our interpreter, no shell  # nosec B603
        [sys.executable, "-m", "navreme.demo.pipeline"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
    )  # fmt: skip
    plan_in, chunks_out = child.stdin, child.stdout
    if plan_in is None or chunks_out is None:  # cannot happen with PIPE; keeps types exact
        raise SeedError("no pipes to the drawing subprocess")
    try:
        plan_in.write(pickle.dumps(plan))
        plan_in.close()
        yield from _receive(chunks_out)
    finally:
        if child.poll() is None:
            child.kill()
        child.wait()
        chunks_out.close()


def _receive(stream: IO[bytes]) -> Iterator[Chunk]:
    while True:
        kind, payload = _read_frame(stream)
        if kind == _DONE:
            return
        if kind == _FAILED:
            raise SeedError(f"drawing people failed in the subprocess:\n{payload.decode()}")
        yield pickle.loads(payload)  # noqa: S301 - from our own child  # nosec B301


def _read_frame(stream: IO[bytes]) -> tuple[bytes, bytes]:
    header = stream.read(1 + _LENGTH.size)
    if len(header) < 1 + _LENGTH.size:
        raise SeedError("the drawing subprocess stopped without finishing (see its stderr)")
    (length,) = _LENGTH.unpack(header[1:])
    return header[:1], stream.read(length)


def _write_frame(stream: IO[bytes], kind: bytes, payload: bytes) -> None:
    stream.write(kind + _LENGTH.pack(len(payload)))
    stream.write(payload)
    stream.flush()


def main() -> None:
    """The child's side: read the plan, write every chunk, then a done (or failed) frame."""
    out = sys.stdout.buffer
    sys.stdout = sys.stderr  # a stray print must not corrupt the frames
    try:
        plan = pickle.loads(sys.stdin.buffer.read())  # noqa: S301 - from our parent  # nosec B301
        for chunk in draw_chunks(plan):
            _write_frame(out, _CHUNK, pickle.dumps(chunk, protocol=pickle.HIGHEST_PROTOCOL))
    except Exception:  # reported to the parent, which raises it
        _write_frame(out, _FAILED, traceback.format_exc().encode())
        return
    _write_frame(out, _DONE, b"")


if __name__ == "__main__":
    main()
