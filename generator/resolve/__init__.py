"""Stage 2, resolve: blueprint + appliances -> the frozen :class:`generator.model.Lab`. Every
check a build makes happens here, so ``gns3lab validate`` catches all of them."""
