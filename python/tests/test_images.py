"""jess.render and image checkpoints: views equal the dataset's images, image models equal jess's."""
import os

import pytest
import torch

import jess
from conftest import run_cli


def test_a_rendered_view_equals_the_dataset_image(rendered):
    path = os.path.join(rendered, "dataset.h5")
    index = jess.render.read_index(path)
    assert index["views"] == 3 and index["size"] == 32 and len(index["objects"]) == 4
    images, factors = jess.render.read_object(path, 1)
    assert images.shape == (3, 32, 32, 3) and images.dtype == torch.uint8 and factors.shape == (3, 14)
    cls = index["classes"][index["labels"][1].item()]
    instance = 1  # the second object of its class
    renderer = jess.render.Renderer(size=32, seed=4)
    for v in range(3):
        assert torch.equal(renderer(cls, instance, factors[v]), images[v]), v


def test_views_follow_their_factors():
    r = jess.render.Renderer(size=48)
    a = r("mug", 0, rot_z=0.0)
    assert torch.equal(a, r("mug", 0, rot_z=0.0))  # deterministic
    assert not torch.equal(a, r("mug", 0, rot_z=1.0))  # the pose changes the image
    # A plain backdrop of grey level g fills the corners with g (no floor, no object there).
    plain = jess.render.Renderer(size=48, backgrounds="plain")("mug", 0, background=0, spot_theta=0.0)
    corner = plain[0, 0].float()
    assert (corner - corner.mean()).abs().max() < 2  # grey
    with pytest.raises(ValueError, match="unknown class"):
        r("not_a_class")
    with pytest.raises(ValueError, match="unknown factor"):
        r("mug", 0, rot_w=1.0)


def test_dataset_from_python_equals_the_cli(tmp_path, rendered):
    out = str(tmp_path / "py")
    s = jess.render.dataset(out, classes="chair,car", objects_per_class=2, views_per_object=3, image_size=32,
                            val_fraction=0.5, layout="packed", seed=4)
    assert s["images"] == 12
    for obj in range(4):
        a, fa = jess.render.read_object(os.path.join(out, "dataset.h5"), obj)
        b, fb = jess.render.read_object(os.path.join(rendered, "dataset.h5"), obj)
        assert torch.equal(a, b) and torch.equal(fa, fb)


def test_image_checkpoint_gives_jess_features_and_goes_back(tmp_path, image_run):
    model = jess.models.load(image_run)
    assert isinstance(model, jess.models.ImageEncoder) and model.method == "byol" and model.channels == 1
    assert "teacher_backbone.conv1.weight" in model.carried and "predictor.0.weight" in model.carried
    g = torch.Generator().manual_seed(0)
    images = torch.rand(6, 1, 28, 28, generator=g)
    ours = model.embed(images)
    theirs = jess._jess.vision_features(image_run, images)
    torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-6)
    # Changed in Python, written back: jess's own loader sees the change.
    with torch.no_grad():
        model.backbone.conv1.weight.mul_(0.5)
    path = str(tmp_path / "halved.pt")
    jess.models.save(model, path)
    torch.testing.assert_close(jess._jess.vision_features(path, images), model.embed(images), rtol=1e-5, atol=1e-6)
    assert not torch.allclose(jess._jess.vision_features(path, images), theirs)


def test_recipe_checkpoint_with_the_small_resnet_loads(workdir):
    """`jess train` without --config trains VICReg's Fashion-MNIST recipe (resnet_small: three stages of one
    block); Python rebuilds that network and gives jess's features."""
    if not os.path.isdir("/usr/share/datasets/fashion-mnist") and not os.environ.get("JESS_FMNIST"):
        pytest.skip("Debian's dataset-fashion-mnist is not installed")
    out = str(workdir / "vision_small")
    run_cli("train", "method=vicreg", "n_train=64", "batch=32", "width=2", "projector=16-16", "n_bank=64",
            "n_monitor=32", "train.epochs=1", "train.warmup_epochs=0", "--out", out)
    ckpt = os.path.join(out, "checkpoint.pt")
    model = jess.models.load(ckpt)
    assert model.backbone.output_dim == 8 and not hasattr(model.backbone, "layer4")  # 4 x width 2
    images = torch.rand(5, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(model.embed(images), jess._jess.vision_features(ckpt, images), rtol=1e-5, atol=1e-6)
