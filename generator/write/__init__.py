"""Stage 4, write (thin): rendered content onto disk: qcow2 overlays, seed ISOs, libguestfs
injection, the lab key, the archive. External programs run through :mod:`generator.tools`."""
