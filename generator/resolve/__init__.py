"""Stage 2, resolve: blueprint + appliances -> the frozen :class:`generator.model.Lab`. Every
check of the blueprint happens here, so ``gns3lab validate`` catches all of them; only what
depends on the host or the build's options (base images present, programs installed,
``--redact`` needing a controller) is checked in :mod:`generator.build`, still before any work."""
