"""Data and data-preparation scripts (not needed at inference time).

datasets/phone/       the bundled real CORe50 frames with VIA annotations
datasets/videos/      the bundled demo clip and the script that makes it
datasets/synthetic.py script over phone.synthetic (synthetic CORe50-like frames)
datasets/core50.py    script over phone.core50 (CORe50 download, session split)
"""
