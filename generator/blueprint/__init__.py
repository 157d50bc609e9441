"""Stage 1, load: a blueprint folder as written (YAML with line numbers, shape checks, confined
paths) and the appliance catalogue. Nothing here knows the resolved model."""
