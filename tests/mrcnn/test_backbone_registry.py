"""A backbone of any registered class survives save and load of the
configuration (mrcnn.backbones.register_backbone), not only LightResNet;
an unregistered one is reported and falls back to the base's."""
import warnings

import pytest

from mrcnn.backbones import BACKBONES, LightResNet, register_backbone
from mrcnn.config import Config, config_from_dict


class WideStem(LightResNet):
    """A LightResNet variant under its own name, with one more argument."""

    def __init__(self, stem_scale=2, **kw):
        super().__init__(**kw)
        self.stem_scale = int(stem_scale)

    def get_config(self):
        return dict(super().get_config(), stem_scale=self.stem_scale)

    @classmethod
    def from_config(cls, config):
        keys = ("widths", "blocks", "stem", "norm", "groups", "strides", "stem_scale")
        return cls(**{k: config[k] for k in keys if k in config})


def _config(backbone):
    return type("C", (Config,), {"NAME": "t", "BACKBONE": backbone,
                                 "COMPUTE_BACKBONE_SHAPE": backbone.compute_backbone_shape})()


@pytest.fixture
def registry():
    saved = dict(BACKBONES)
    yield BACKBONES
    BACKBONES.clear()
    BACKBONES.update(saved)


def test_a_registered_backbone_survives_the_json_round_trip(registry):
    backbone = WideStem(stem_scale=3, widths=(8, 16, 32, 64), stem=16)
    with pytest.warns(UserWarning, match="register_backbone"):
        lost = config_from_dict(_config(backbone).to_json_dict())
    assert type(lost.BACKBONE) is not WideStem                 # unregistered: not rebuilt

    assert register_backbone(WideStem) is WideStem
    stored = _config(backbone).to_json_dict()
    assert stored["BACKBONE"]["class"] == "WideStem" and stored["BACKBONE"]["stem_scale"] == 3
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        back = config_from_dict(stored)
    assert type(back.BACKBONE) is WideStem
    assert back.BACKBONE.get_config() == backbone.get_config()
    assert back.COMPUTE_BACKBONE_SHAPE([128, 128, 3]).tolist() == \
        backbone.compute_backbone_shape([128, 128, 3]).tolist()


def test_register_backbone_checks_its_class(registry):
    class NoConfig:
        def __call__(self, *a):
            return a
    with pytest.raises(ValueError, match="get_config"):
        register_backbone(NoConfig)
    register_backbone(WideStem)
    with pytest.raises(ValueError, match="already"):
        register_backbone(LightResNet, name="WideStem")
    assert BACKBONES["LightResNet"] is LightResNet
