"""Training-set augmentation: random translations of images (pure functions of a generator)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from neuroff.errors import NeuroffError


def random_shift(x: torch.Tensor, max_shift: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Every image of x [B, C, H, W] translated by its own random (dy, dx) in
    [-max_shift, max_shift]^2, zero-filled: torchvision's RandomAffine(translate) on a pixel grid.
    ``max_shift`` 0 returns x itself and draws nothing (a run without it keeps its random stream)."""
    if max_shift <= 0:
        return x
    b, _, h, w = x.shape
    padded = F.pad(x, (max_shift,) * 4).permute(0, 2, 3, 1)  # [B, H + 2k, W + 2k, C]
    dy = torch.randint(0, 2 * max_shift + 1, (b,), generator=generator)
    dx = torch.randint(0, 2 * max_shift + 1, (b,), generator=generator)
    rows = (dy[:, None] + torch.arange(h))[:, :, None]
    cols = (dx[:, None] + torch.arange(w))[:, None, :]
    return padded[torch.arange(b)[:, None, None], rows, cols].permute(0, 3, 1, 2)


def check_shiftable(image_shape: tuple[int, ...], max_shift: int, dataset: str) -> None:
    """Refuse a shift that cannot apply: the images must be 2-D (H, W) and wider than the shift."""
    if max_shift <= 0:
        return
    if len(image_shape) != 2:
        raise NeuroffError(
            f"--augment-shift translates 2-D images, and {dataset}'s samples have shape {image_shape}; pass --augment-shift 0"
        )
    if max_shift >= min(image_shape):
        raise NeuroffError(
            f"--augment-shift {max_shift} would move {dataset}'s {image_shape[0]}x{image_shape[1]} images out of "
            f"the frame; pass a shift below {min(image_shape)}"
        )


def shift_flat_images(
    x: torch.Tensor, image_shape: tuple[int, int], max_shift: int, generator: torch.Generator | None = None
) -> torch.Tensor:
    """``random_shift`` on flattened images x [B, H * W] -> [B, H * W]."""
    if max_shift <= 0:
        return x
    return random_shift(x.view(x.shape[0], 1, *image_shape), max_shift, generator).reshape(x.shape[0], -1)
