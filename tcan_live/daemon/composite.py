"""A PNG comparing raw and super-resolved dual-colour frames of a tcan-live store."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tcan_live.preview.imaging import make_composite
from tcan_live.sinks.store_layout import ZarrArray, open_raw, open_sr, stored_layout

ZOOM_FRACTION = 0.25  # the inset shows this fraction of the field's side, enlarged


def _planes(array: ZarrArray, t: int) -> list[np.ndarray]:
    """Each channel of time point ``t`` as one plane: the maximum over its z slices."""
    return list(np.nan_to_num(np.asarray(array[t], dtype=np.float32)).max(axis=1))


def _last_complete_t(sr: ZarrArray) -> int:
    """Return the last time point whose every channel holds an enhanced frame (not fill values)."""
    for t in range(sr.shape[0] - 1, -1, -1):
        if all(float(frame.std()) > 0 for frame in _planes(sr, t)):
            return t
    raise ValueError("no time point has every channel super-resolved")


def write_composite(store: Path, target: Path, t: int | None = None) -> Path:
    """Write raw vs super-resolved composites of time point ``t`` (default: the last) to PNG.

    The store's first image (position) is shown; a z-stack as its maximum projection.

    Top row: the whole field, raw (left, shown on the output grid) and super-resolved (right);
    bottom row: the centre ``ZOOM_FRACTION`` of the field enlarged (the box drawn above).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    layout = stored_layout(store)
    if layout is None:
        raise ValueError(f"{store}: not a tcan-live store")
    sr_array, raw_array = open_sr(store), open_raw(store)
    t = _last_complete_t(sr_array) if t is None else t
    colors = [channel.color for channel in layout.channels]
    sr = make_composite(_planes(sr_array, t), colors)
    raw = make_composite(_planes(raw_array, t), colors)
    # Nearest-neighbour onto the output grid: the raw pixels stay visible as blocks.
    rows = np.arange(sr.shape[0]) * raw.shape[0] // sr.shape[0]
    cols = np.arange(sr.shape[1]) * raw.shape[1] // sr.shape[1]
    raw = raw[rows][:, cols]
    height, width = sr.shape[:2]
    box_h, box_w = max(1, int(height * ZOOM_FRACTION)), max(1, int(width * ZOOM_FRACTION))
    top, left = (height - box_h) // 2, (width - box_w) // 2
    zoom = (slice(top, top + box_h), slice(left, left + box_w))

    figure, axes = plt.subplots(2, 2, figsize=(10, 10.6), dpi=100)
    names = " + ".join(f"{c.name} (#{c.color})" for c in layout.channels)
    figure.suptitle(f"t = {t}: {names}", fontsize=11)
    panels = (
        (raw, f"raw, {layout.raw_pixel_size_nm:g} nm pixels"),
        (sr, f"super-resolved, {layout.sr_pixel_size_nm:g} nm pixels"),
    )
    for column, (image, title) in enumerate(panels):
        axes[0, column].imshow(image, interpolation="nearest")
        axes[0, column].set_title(title, fontsize=10)
        axes[0, column].add_patch(
            Rectangle((left, top), box_w, box_h, fill=False, edgecolor="yellow", linewidth=1.2)
        )
        axes[1, column].imshow(image[zoom], interpolation="nearest")
        axes[1, column].set_title(f"zoom x{1 / ZOOM_FRACTION:g} (yellow box)", fontsize=10)
    for axis in axes.flat:
        axis.set_axis_off()
    figure.tight_layout()
    target.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(target)
    plt.close(figure)
    return target
