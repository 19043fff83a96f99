"""Uppföljningspipeline för samordningsförbund (Finsam).

The Python API for notebooks (see `pipeline.api`)::

    import pipeline as fp
    episoder = fp.load_episodes("data/processed")
    katalog = fp.load_catalog("data/raw")
    tabeller = fp.compute_tables(episoder, katalog, fp.Period.year(2025))
"""

from pipeline.api import *  # noqa: F403 (the API is the package's public face)
from pipeline.api import __all__  # noqa: F401
