"""Uppföljningspipeline för samordningsförbund (Finsam).

The Python API for analysts' notebooks is re-exported from `pipeline.api`.
"""
