"""Data-preparation tools (not needed at inference time).

datasets.synthetic  synthetic CORe50-like phone frames + VIA polygons
datasets.core50     CORe50 download, phone-object selection, session split
datasets/phone/     the bundled real CORe50 frames with VIA annotations
"""
