"""gns3lab: build a lab written as code into a self-building GNS3 portable project."""

__version__ = "0.1.0"
