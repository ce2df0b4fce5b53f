"""Exports: frames of a chain → GIF, APNG, MP4 (H.264), WebM (VP9) or a folder of PNG frames (no Qt).

Frames are recomputed deterministically from (model, start, noise, ε, seed), so any step range can be
exported whether or not a window ever showed it. Every output is written under a temporary name in
the target's folder and renamed at the end: a cancelled or failed export leaves nothing behind. A folder
of PNG frames may replace a previous frame export (a folder holding only ``frame_*.png``): the new folder is
swapped in as a unit, so a failure leaves the old frames whole; a folder holding anything else is refused.
No output may be one of the export's inputs (``inputs=``: the model file, a start array).
Step texts are counted before any list is built (options.parse_steps; at most MAX_FRAMES frames).

Frames travel small (:class:`Mosaic`: the 1× mosaic, the zoom and the label) and are expanded by each
encoder in its own thread, while the chain computes the next ones. GIF, MP4 and WebM use PyAV, whose
wheels carry FFmpeg with libx264 (GPL) and libvpx; GIF frames share one palette (grey data: 248 exact
greys; colour: Pillow's octree palette of the first frame, no dithering). APNG and PNG use Pillow.

The modules: options (the format, its options and the steps), targets (where it writes), mosaic (frames
that travel small), encode (APNG, PNG, MP4, WebM), gif (the GIF encoder) and gif_worker (its worker
processes), animation (the exports of a chain, states, the Points view), bundle (run bundles).
"""
