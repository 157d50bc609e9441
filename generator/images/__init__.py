"""Base images: recipes, the reproducible image build, and the content-addressed image cache."""
