"""The canvas geometry and its measure moved to :mod:`generator.resolve.canvas_quality` (the
placement at resolution uses the same geometry). This name stays for ``read/inspect.py``,
which imports ``measure_canvas`` from here."""

from generator.resolve.canvas_quality import CanvasQuality, measure_canvas

__all__ = ["CanvasQuality", "measure_canvas"]
