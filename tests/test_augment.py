"""Training-set augmentation: random translations, applied to training images only, seeded."""

import pytest
import torch
import torch.nn.functional as F

from neuroff import engine
from neuroff.data import load_dataset
from neuroff.data.augment import check_shiftable, random_shift, shift_flat_images
from neuroff.engine.options import FFConfig
from neuroff.errors import NeuroffError


def test_every_flat_image_is_its_own_translation():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(16, 7 * 5, generator=g)
    assert shift_flat_images(x, (7, 5), 0, g) is x
    y = shift_flat_images(x, (7, 5), 2, g)
    padded = F.pad(x.view(16, 7, 5), (2, 2, 2, 2))
    offsets = set()
    for i in range(16):
        hits = [(dy, dx) for dy in range(5) for dx in range(5) if torch.equal(y[i].view(7, 5), padded[i, dy : dy + 7, dx : dx + 5])]
        assert hits, i
        offsets.add(hits[0])
    assert len(offsets) > 3  # the offsets are drawn per image
    assert torch.equal(random_shift(x.view(16, 1, 7, 5), 2, torch.Generator().manual_seed(1)).reshape(16, -1),
                       shift_flat_images(x, (7, 5), 2, torch.Generator().manual_seed(1)))


def test_shift_must_fit_a_2d_image():
    check_shiftable((8, 8), 0, "digits")
    check_shiftable((3,), 0, "flat")
    with pytest.raises(NeuroffError, match="2-D images"):
        check_shiftable((64,), 1, "flat")
    with pytest.raises(NeuroffError, match="below 8"):
        check_shiftable((8, 8), 8, "digits")


def test_augmented_training_is_seeded_and_changes_what_is_learned():
    ds = load_dataset("digits", seed=0).subset(300, 100)
    def weights(shift: int, seed: int = 0) -> list[torch.Tensor]:
        cfg = FFConfig(dataset="digits", epochs=1, layers=[30], augment_shift=shift, seed=seed)
        return [w.clone() for w in engine.train(cfg, dataset=ds, progress=False).model.weights]

    plain, shifted, again = weights(0), weights(1), weights(1)
    assert all(torch.equal(a, b) for a, b in zip(shifted, again))  # the same command twice: identical weights
    assert not all(torch.equal(a, b) for a, b in zip(plain, shifted))


def test_validation_and_test_images_are_not_shifted(monkeypatch):
    """Only the training chunks pass through the shift (the evaluation reads the stored images)."""
    import neuroff.engine.training as training

    seen = []
    real = training.shift_flat_images
    monkeypatch.setattr(training, "shift_flat_images", lambda x, *a: seen.append(len(x)) or real(x, *a))
    ds = load_dataset("digits", seed=0).subset(200, 50)
    engine.train(FFConfig(dataset="digits", epochs=1, layers=[20], augment_shift=1, validation=40), dataset=ds, progress=False)
    assert sum(seen) == 160  # the 160 kept training samples, once each; never the 40 held out or the 50 tested
