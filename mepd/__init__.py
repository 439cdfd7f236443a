"""mepd: an MEP gateway for OSGP smart electricity meters."""

__version__ = "0.1.0"
