"""Live previews as napari layers: one layer per kind, channel and image, newest frame only."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import napari
import numpy as np

from tcan_live.napari.display import (
    channel_colormap,
    contrast_limits,
    corner_translate,
    qc_layer_options,
)
from tcan_live.preview.protocol import Preview

# Kinds shown as layers; composites and z projections duplicate what these layers show.
LAYER_KINDS = ("raw", "sr", "qc")
_KIND_TITLE = {"raw": "raw", "sr": "SR", "qc": "confidence"}


def layer_name(preview: Preview) -> str:
    """Return the layer of a preview: ``"SR microtubules"``, ``"raw actin p1"``, ..."""
    image = str(preview.header.get("image", ""))
    return f"{_KIND_TITLE[preview.kind]} {preview.channel}" + (f" {image}" if image else "")


def _figure(value: float) -> str:
    """Format a figure for reading at a glance: whole numbers whole, others to 3 digits.

    Latencies in ms and counts reach thousands, where ``.3g`` would print ``3.31e+04``.
    """
    # From 999.5, ``.3g`` rounds to ``1e+03``.
    if isinstance(value, int) or 999.5 <= abs(value) < 1e9:
        return f"{value:.0f}"
    return f"{value:.3g}"


def qc_figures(header: dict[str, Any]) -> dict[str, str]:
    """Return the displayable QC figures of a header: numbers, strings and flags, formatted.

    Unknown keys are shown as they come; values of other types (lists, objects) are left out.
    Empty strings are kept, so that a frame's empty reason replaces an earlier frame's
    (:func:`figures_lines` leaves them out of the text).
    """
    shown: dict[str, str] = {}
    qc = header.get("qc")
    for key, value in (qc if isinstance(qc, dict) else {}).items():
        if isinstance(value, bool):
            shown[str(key)] = "yes" if value else "no"
        elif isinstance(value, (int, float)):
            shown[str(key)] = _figure(value)
        elif isinstance(value, str):
            shown[str(key)] = value
    return shown


def figures_lines(figures: dict[str, dict[str, str]]) -> str:
    """Return the latest QC figures as text, one line per channel; empty figures left out."""
    lines = []
    for channel, values in sorted(figures.items()):
        shown = (f"{key} {value}" for key, value in sorted(values.items()) if value)
        lines.append(f"{channel}: " + ", ".join(shown))
    return "\n".join(lines)


def _placement(preview: Preview) -> dict[str, Any]:
    """Return a preview's layer ``scale``, ``translate`` (um) and ``units``, from its pixel size.

    Without a stated pixel size the layer counts in pixels.
    """
    pixel_nm = preview.header.get("pixel_size_nm")
    pixel_um = float(pixel_nm) / 1000.0 if isinstance(pixel_nm, (int, float)) else None
    shift = corner_translate(pixel_um or 1.0)
    unit = "pixel" if pixel_um is None else "micrometer"
    scale = pixel_um or 1.0
    return {"scale": (scale, scale), "translate": (shift, shift), "units": (unit, unit)}


@dataclass
class LiveLayers:
    """Puts previews into a viewer's layers.

    Attributes
    ----------
    viewer
        The napari viewer the layers live in.
    show_raw, show_qc
        Whether new raw and confidence layers start visible (super-resolved ones always do).
    frames
        Previews given to each layer so far, per layer name (a hidden layer holds its
        newest, see ``held``).
    figures
        The latest QC figures per channel (SR and confidence headers merged).
    seqs
        The publisher's sequence numbers of the previews given to each layer (gaps: previews
        this viewer never received, or merged before showing).
    grid
        Whether raw and SR are shown side by side (:meth:`side_by_side`).
    held
        The newest preview of each hidden layer, drawn when the layer is made visible.
    """

    viewer: napari.Viewer
    show_raw: bool = False
    show_qc: bool = False
    frames: Counter[str] = field(default_factory=Counter)
    figures: dict[str, dict[str, str]] = field(default_factory=dict)
    seqs: dict[str, list[int]] = field(default_factory=dict)
    grid: bool = False
    held: dict[str, Preview] = field(default_factory=dict)

    def show(self, preview: Preview) -> str | None:
        """Show ``preview`` in its layer (made on first use); return the layer name.

        A hidden layer keeps the newest preview and draws it when it is made visible: slicing,
        thumbnails and contrast of images nobody sees would take CPU from the daemon.
        Previews of other kinds (composites, projections) are ignored and return None.
        """
        if preview.kind not in LAYER_KINDS:
            return None
        name = layer_name(preview)
        if name in self.viewer.layers:
            layer = self.viewer.layers[name]
            if layer.visible:
                self._draw(layer, preview)
            else:
                self.held[name] = preview
        else:
            self._add(name, preview)
        if name not in self.frames and self.grid:
            self.side_by_side(True)  # a new layer: order and cells again
        self.frames[name] += 1
        self.seqs.setdefault(name, []).append(int(preview.header["seq"]))
        figures = qc_figures(preview.header)
        if figures:
            self.figures.setdefault(preview.channel, {}).update(figures)
        return name

    def _add(self, name: str, preview: Preview) -> None:
        image = np.asarray(preview.image)
        where = _placement(preview) | {"axis_labels": ("y", "x")}
        if preview.kind == "qc":
            layer = self.viewer.add_image(
                image,
                name=name,
                **where,
                visible=self.show_qc,
                **qc_layer_options(),
            )
        else:
            layer = self.viewer.add_image(
                image,
                name=name,
                **where,
                colormap=channel_colormap(preview.header.get("color")),
                contrast_limits=contrast_limits(image),
                blending="additive",
                visible=preview.kind == "sr" or self.show_raw,
            )

        def draw_held(event: Any) -> None:
            held = self.held.pop(name, None) if layer.visible else None
            if held is not None:
                self._draw(layer, held)

        layer.events.visible.connect(draw_held)

    @staticmethod
    def _draw(layer: Any, preview: Preview) -> None:
        image = np.asarray(preview.image)
        where = _placement(preview)
        layer.data = image
        if not np.allclose(layer.scale, where["scale"]):  # each change re-lays the canvas out
            layer.scale = where["scale"]
        if not np.allclose(layer.translate, where["translate"]):
            layer.translate = where["translate"]
        if tuple(str(u) for u in layer.units) != where["units"]:  # a pixel size stated or dropped
            layer.units = where["units"]
        if preview.kind != "qc":
            layer.contrast_limits = contrast_limits(image)

    def figures_text(self) -> str:
        """Return the QC figures as lines of text, one per channel."""
        return figures_lines(self.figures)

    def side_by_side(self, enabled: bool) -> None:
        """Show raw and SR in two grid cells, each with every channel blended (or overlay).

        Layers are ordered raw first, then SR, then confidence, so a grid stride of one cell
        per kind puts all raw channels in one cell and all SR channels in the next; the
        confidence layers are hidden in grid mode (hidden layers take no cell).
        """
        self.grid = enabled
        layers = self.viewer.layers
        kinds = {"raw": 0, "SR": 1, "confidence": 2}
        order = sorted(layers, key=lambda layer: kinds.get(layer.name.split(" ")[0], 3))
        for layer in order:  # each to the end, so the list ends up in ``order``
            layers.move(layers.index(layer), len(layers))
        raw = [layer for layer in layers if layer.name.startswith("raw ")]
        for layer in layers:
            if layer.name.startswith("raw "):
                layer.visible = enabled or self.show_raw
            if layer.name.startswith("confidence ") and enabled:
                layer.visible = False
        grid = self.viewer.canvas.grid  # napari 0.9: the grid moved from the viewer to its canvas
        grid.stride = max(1, len(raw))
        grid.enabled = enabled
