"""The canvas moved to resolve (:mod:`generator.resolve.canvas`): positions are decided once, at
resolution, and stored on the model. This name stays for the modules that still import
``tier_of`` from here (``render/readme.py``, tests); a renderer reads ``node.tier``."""

from generator.resolve.canvas import tier_of

__all__ = ["tier_of"]
