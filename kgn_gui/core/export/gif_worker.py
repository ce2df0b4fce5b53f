"""GIF frame encoding, in this process or in worker processes (numpy and Pillow only: a worker starts
in ~0.1 s and never imports torch, Qt or the caller's main module).

Pillow's LZW encoder is the fastest at hand (8 ms for a 932×932 frame here, FFmpeg's 13 ms) but holds
the GIL, so long exports run it in ``python -m kgn_gui.core.export.gif_worker`` processes that read frames
on stdin and write their LZW data on stdout, beside the chain computing in the caller.
"""

from __future__ import annotations

import concurrent.futures
import os
import struct
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np

from ..picture.render import zoom

_HEADER = struct.Struct("<5I")  # small height, width, scale, band height, width


def encode_frame(band: np.ndarray, small: np.ndarray, scale: int) -> bytes:
    """A GIF frame's rectangle: ``band`` (rows of palette indices at full resolution, may be none) above
    ``small`` (indices at 1×, zoomed by ``scale``) → its LZW data as GIF sub-blocks (without the terminator)."""
    from PIL import Image

    grid = zoom(small, scale)
    idx = grid if not band.shape[0] else np.concatenate([band, grid]) if grid.shape[0] else band
    return Image.fromarray(np.ascontiguousarray(idx), mode="P").tobytes("gif", "P")


class InProcess:
    """Encodes in one thread of this process (small exports: starting processes would cost more)."""

    def __init__(self):
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="kgn-gif")

    def encode(self, band, small, scale) -> concurrent.futures.Future:
        return self._pool.submit(encode_frame, band, small, scale)

    def close(self, cancel: bool = False) -> None:
        self._pool.shutdown(wait=True, cancel_futures=cancel)


class WorkerProcesses:
    """``n`` worker processes; each frame goes to the one with the fewest waiting, and a reader thread
    per worker resolves the futures in order. A worker that dies fails its frames with RuntimeError."""

    def __init__(self, n: int):
        root = str(Path(__file__).resolve().parents[2])
        env = dict(
            os.environ,
            PYTHONPATH=os.pathsep.join([root, os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep),
            OMP_NUM_THREADS="1",
        )
        self._procs = [
            subprocess.Popen(
                [sys.executable, "-m", "kgn_gui.core.export.gif_worker"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                env=env,
            )
            for _ in range(n)
        ]
        self._waiting: list[list[concurrent.futures.Future]] = [[] for _ in range(n)]
        self._lock = threading.Lock()
        self._readers = [
            threading.Thread(target=self._read, args=(k,), name=f"kgn-gif-{k}", daemon=True) for k in range(n)
        ]
        for r in self._readers:
            r.start()

    def encode(self, band, small, scale) -> concurrent.futures.Future:
        fut: concurrent.futures.Future = concurrent.futures.Future()
        with self._lock:
            k = min(range(len(self._procs)), key=lambda j: len(self._waiting[j]))
            self._waiting[k].append(fut)
        try:
            w = self._procs[k].stdin
            w.write(_HEADER.pack(small.shape[0], small.shape[1], scale, band.shape[0], band.shape[1]))
            w.write(np.ascontiguousarray(small, np.uint8).tobytes())
            w.write(np.ascontiguousarray(band, np.uint8).tobytes())
            w.flush()
        except OSError as e:
            self._fail(k, RuntimeError(f"a GIF worker stopped: {e}"))
        return fut

    def _read(self, k: int) -> None:
        r = self._procs[k].stdout
        while True:
            head = r.read(4)
            if len(head) < 4:
                break
            data = r.read(struct.unpack("<I", head)[0])
            with self._lock:
                fut = self._waiting[k].pop(0) if self._waiting[k] else None
            if fut is not None and not fut.cancelled():
                fut.set_result(data)
        self._fail(k, RuntimeError("a GIF worker stopped"))

    def _fail(self, k: int, err: Exception) -> None:
        with self._lock:
            waiting, self._waiting[k] = self._waiting[k], []
        for fut in waiting:
            if not fut.done():
                fut.set_exception(err)

    def close(self, cancel: bool = False) -> None:
        for p in self._procs:
            try:
                if cancel:
                    p.kill()
                else:
                    p.stdin.close()
            except OSError:
                pass
        for p in self._procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        for r in self._readers:
            r.join(5)
        for p in self._procs:
            for f in (p.stdin, p.stdout):
                try:
                    f.close()
                except OSError:
                    pass


def main() -> None:
    inp, out = sys.stdin.buffer, sys.stdout.buffer
    while len(head := inp.read(_HEADER.size)) == _HEADER.size:
        h, w, scale, bh, bw = _HEADER.unpack(head)
        small = np.frombuffer(inp.read(h * w), np.uint8).reshape(h, w)
        band = np.frombuffer(inp.read(bh * bw), np.uint8).reshape(bh, bw)
        data = encode_frame(band, small, scale)
        out.write(struct.pack("<I", len(data)))
        out.write(data)
        out.flush()


if __name__ == "__main__":
    main()
