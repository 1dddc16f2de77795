"""3DIEBench-style rendering with jess's OpenGL renderer (Mesa OSMesa, headless): single views as
tensors, whole datasets and robustness factor sets as files (``jess render dataset | factors``).

A view is described by the 14 factors the datasets record (``factor_names()``): extrinsic xyz Euler
angles, floor hue, spot theta/phi/hue, position x/y, scale, background, light hue/saturation/intensity.
"""
from typing import Dict, List, Optional, Sequence, Tuple

import torch

from . import _jess
from ._keys import overrides

_DEFAULT_FACTORS = dict(rot_x=0.0, rot_y=0.0, rot_z=0.0, floor_hue=0.0, spot_theta=0.0, spot_phi=0.0,
                        spot_hue=-1.0, position_x=0.0, position_y=0.0, scale=1.0, background=-1.0,
                        light_hue=0.0, light_saturation=0.0, light_intensity=1.0)


def classes() -> List[str]:
    """The procedural object classes (3DIEBench's 55 ShapeNet classes' stand-ins)."""
    return list(_jess.render_classes())


def factor_names() -> List[str]:
    """The 14 factors of a view, in the order of the datasets' ``factors`` columns."""
    return list(_jess.render_factor_names())


class Renderer:
    """Renders views of the dataset commands' objects (the same class, instance and seed give the same
    mesh, so a view rendered here equals the dataset's image with the same factors).

    ``Renderer(size=128)(\"mug\", instance=3, rot_z=0.5)`` -> (size, size, 3) uint8 tensor.
    ``objects``: "procedural" or a folder of meshes <folder>/<class>/<files>; ``backgrounds``: the list
    that factor ``background`` indexes ("plain:0.3,checker,noise,folder:PATH", as the CLI's key).
    """

    def __init__(self, size: int = 128, samples: int = 1, objects: str = "procedural", backgrounds: str = "",
                 seed: int = 0) -> None:
        self._r = _jess.SceneRenderer(size, samples, objects, backgrounds, seed)

    @property
    def gl(self) -> str:
        """The OpenGL implementation in use."""
        return self._r.gl

    def __call__(self, cls: str, instance: int = 0, factors: Optional[Sequence[float]] = None, **named) -> torch.Tensor:
        if factors is not None and named:
            raise ValueError("give either the 14 factors or named ones, not both")
        if factors is None:
            unknown = set(named) - set(_DEFAULT_FACTORS)
            if unknown:
                raise ValueError(f"unknown factor(s) {sorted(unknown)}; known: {factor_names()}")
            factors = [float(named.get(k, v)) for k, v in _DEFAULT_FACTORS.items()]
        if isinstance(factors, torch.Tensor):
            factors = factors.double().tolist()
        return self._r.image(cls, instance, list(factors))


def image(cls: str, instance: int = 0, size: int = 128, **factors) -> torch.Tensor:
    """One view as a (size, size, 3) uint8 tensor (a new renderer per call: use ``Renderer`` for many)."""
    return Renderer(size)(cls, instance, **factors)


def dataset(out: str, **keys) -> Dict[str, object]:
    """Renders a dataset into the folder ``out`` as ``jess render dataset`` does (3DIEBench's layout plus
    dataset.h5); keys: classes, objects_per_class, views_per_object, image_size, layout, seed, ..."""
    return _jess.render_dataset(out, overrides(keys))


def factor_sets(out: str, **keys) -> Dict[str, object]:
    """Renders the robustness benchmark's one-factor-at-a-time sets into the HDF5 file ``out``."""
    return _jess.render_factor_sets(out, overrides(keys))


def read_index(path: str) -> Dict[str, object]:
    """A packed dataset's index (dataset.h5): classes, objects, labels, split, views, size."""
    return _jess.render_read_index(path)


def read_object(path: str, obj: int) -> Tuple[torch.Tensor, torch.Tensor]:
    """The views of one object of a packed dataset: images (views, S, S, 3) uint8 and factors (views, 14)."""
    return _jess.render_read_object(path, obj)
