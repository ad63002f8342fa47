"""What the ``--help`` pages list (presets, baselines, conventions, operations, metrics, the
choices of ``--compat``, ``--convention``, ``--features``, ``--op``), written out here so that
``lkbench COMMAND --help`` imports no torch: the registries these come from live in modules that
do.

:data:`CATALOG` is a copy; :func:`current` reads the registries themselves (importing torch), and
``tests/test_cli.py`` checks that the two agree, so a preset, baseline or op added to a registry
fails that test until it is listed here too. ``python -m lkbench.cli.catalog`` prints the
current value to paste below. Parsing still checks a choice against the registry itself.
"""
from __future__ import annotations

from typing import Any


def current() -> dict[str, Any]:
    """The catalog as the registries have it now (imports torch)."""
    from lkbench.protocols.editing.metrics import METRICS
    from lkbench.protocols.editing.run_edit_eval import PRESET_HELP as EDIT_EVAL_PRESETS
    from lkbench.protocols.generation.inception import FEATURES
    from lkbench.protocols.landmarks.baselines import BASELINES
    from lkbench.protocols.landmarks.config import PRESET_HELP as DETECT_PRESETS
    from lkbench.protocols.landmarks.predictions import describe_conventions
    from lkbench.protocols.landmarks.solvers import SOLVERS
    from lkbench.trainers.latent_keypoint_gan.edit_ops import EDIT_OPS
    from lkbench.trainers.loop import TRAINERS

    return {
        "train_presets": {model: dict(getattr(TRAINERS.get(model), "presets", {}))
                          for model in TRAINERS.names()},
        "detect_presets": dict(DETECT_PRESETS),
        "baselines": {name: BASELINES.get(name).description for name in BASELINES.names()},
        "solvers": list(SOLVERS.names()),
        "conventions": dict(line.split(": ", 1)
                            for line in describe_conventions().splitlines()),
        "features": list(FEATURES.names()),
        "edit_ops": {name: (op.help, op.needs_donor) for name, op in EDIT_OPS.items()},
        "edit_eval_presets": dict(EDIT_EVAL_PRESETS),
        "metrics": {name: (info.unit, info.higher_is_better) for name, info in METRICS.items()},
    }


def literal(value: Any, indent: int = 0, width: int = 99) -> str:
    """``value`` (dicts, lists, tuples, strings, bools) as Python source, one entry a line,
    long strings split into adjacent literals: how :data:`CATALOG` below is written."""
    pad, inner = " " * indent, " " * (indent + 4)
    if isinstance(value, dict):
        items = [f"{inner}{k!r}: {literal(v, indent + 4, width).lstrip()}," for k, v in
                 value.items()]
        return pad + "{\n" + "\n".join(items) + f"\n{pad}}}"
    if isinstance(value, (list, tuple)):
        body = ", ".join(literal(v, 0, width) for v in value)
        one = pad + ("[" if isinstance(value, list) else "(") + body + (
            "]" if isinstance(value, list) else ")")
        return one
    if isinstance(value, str) and len(pad) + len(repr(value)) > width - 30:
        words, lines, line = value.split(" "), [], ""
        for word in words:
            if line and len(line) + len(word) + 1 > width - 40:
                lines.append(line + " ")
                line = word
            else:
                line = f"{line} {word}" if line else word
        lines.append(line)
        return pad + ("\n" + inner).join(repr(part) for part in lines)
    return pad + repr(value)


# Written by `python -m lkbench.cli.catalog` (tests/test_cli.py checks it against current()).
CATALOG: dict[str, Any] = {
    'train_presets': {
        'keypoint-gan': {
            'smoke': 'seconds on a CPU: 32 px, K=5, b=8, 2 eta pre-training + 2 '
                'main steps (tests)',
            'demo': 'synthetic video pairs (difficulty pose) on a 2-core CPU: 32 '
                'px, K=5, b=8, pixel L1, adversary weight 1, 300 eta + 6500 '
                'main steps (~30-75 min)',
            'paper-h36m': 'released settings on Simplified Human3.6M: 128 px, K=32, '
                'frame pairs, VGG-19 (needs --vgg-weights) (GPU)',
            'paper-300w': 'released settings on 300-W: 128 px, K=68, TPS pairs, VGG-19 '
                '(needs --vgg-weights) (GPU)',
        },
        'l2m-gan': {
            'smoke': 'seconds on a CPU: 32 px, widths 8-32, style 8, 4 steps '
                '(tests)',
            'demo': 'synthetic edit faces (all with hair), dark_hair, on a '
                '2-core CPU: 32 px, widths 16-64, style 64, batch 16, rec 5, '
                'mismatch 1, 5000 steps',
            'paper-celeba-hq': 'spec settings on CelebA-HQ: 256 px, widths 64-512, style '
                '64, batch 8, 100k steps, ImageNet ResNet-18 perceptual net '
                '(GPU)',
        },
        'latent-keypoint-gan': {
            'smoke': 'seconds on a CPU: 32 px, K=4, tiny widths, 4 steps (tests)',
            'demo': 'synthetic easy faces on a 2-core CPU: 32 px, K=8, G 1.8 M + '
                'D 0.9 M params, 6000 steps',
            'paper-300w': 'published settings for 300w: 128 px, K=10, batch 64, 30k '
                'steps (GPU)',
            'paper-celeba-aligned': 'published settings for celeba-aligned: 128 px, K=10, batch '
                '64, 30k steps (GPU)',
            'paper-celeba-wild': 'published settings for celeba-wild: 128 px, K=8, batch 64, '
                '30k steps (GPU)',
            'paper-cub-001': 'published settings for cub-001: 128 px, K=4, batch 64, 30k '
                'steps (GPU)',
            'paper-cub-002': 'published settings for cub-002: 128 px, K=4, batch 64, 30k '
                'steps (GPU)',
            'paper-cub-003': 'published settings for cub-003: 128 px, K=4, batch 64, 30k '
                'steps (GPU)',
            'paper-cub-aligned': 'published settings for cub-aligned: 128 px, K=10, batch 64, '
                '30k steps (GPU)',
            'paper-cub-all': 'published settings for cub-all: 128 px, K=4, batch 64, 30k '
                'steps (GPU)',
            'paper-deepfashion': 'published settings for deepfashion: 128 px, K=10, batch 64, '
                '30k steps (GPU)',
            'paper-h36m-simplified': 'published settings for h36m-simplified: 128 px, K=10, batch '
                '64, 30k steps (GPU)',
            'paper-synthetic-pose': 'published settings for synthetic-pose: 128 px, K=10, batch '
                '64, 30k steps (GPU)',
            'paper-taichi': 'published settings for taichi: 128 px, K=10, batch 64, 30k '
                'steps (GPU)',
        },
    },
    'detect_presets': {
        'smoke': 'seconds on a CPU: tiny compact detector, 1 x 128 pairs '
            '(tests)',
        'demo': 'synthetic benchmark on a 2-core CPU in minutes: 4 x 4096 '
            'pairs, batch 32',
        'paper': "GANSeg's budget and network: deeplabv3_resnet50, 10 x 64000 "
            'pairs, batch 64, Adam 3e-4 (GPU)',
    },
    'baselines': {
        'mean-shape': "the fit split's mean landmark shape (regression from a "
            'constant)',
        'random-detector': "the detector at random init, then the benchmark's "
            'regression',
        'supervised': "the detector trained on the fit split's ground truth (the "
            'ceiling)',
    },
    'solvers': ['alk', 'exact'],
    'conventions': {
        'align-corners': '(x, y) in [-1, 1] with -1/+1 at the centres of the outer '
            'pixels of an S grid',
        'lkbench': '(x, y) in [-1, 1], -1/+1 at the image edges (grid_sample '
            'align_corners=False)',
        'pixels-rowcol': "(row, col) 0-based pixels, pixel i's centre at i, of an S x "
            'S image',
        'pixels-xy': "(x, y) 0-based pixels, pixel i's centre at i, of an S x S "
            'image',
        'unit': '(x, y) in [0, 1], 0/1 at the image edges (top-left origin)',
    },
    'features': ['inception', 'random-conv'],
    'edit_ops': {
        'move': ('move --part by (--dx, --dy)', False),
        'move-all': ('scale all keypoints by --scale about their centroid', False),
        'swap-parts': ("donor's embeddings for --parts (default: --part)", True),
        'swap-global': ("donor's global appearance (all part embeddings)", True),
        'swap-background': ("donor's background embedding", True),
        'remove': ('remove --part (the background fills in)', False),
        'add': ('add a copy of --part at its position + (--dx, --dy)', False),
        'interpolate': ('lerp everything towards the donor in --steps columns', True),
        'resize': ("multiply --part's heatmap width tau by --factor", False),
    },
    'edit_eval_presets': {
        'smoke': '16 images, judges trained on ~100 samples (seconds; tests)',
        'demo': '500 test images; attribute classifier trained on 120 000 '
            'samples, keypoint detector on 12 000 (minutes on a CPU)',
    },
    'metrics': {
        'attribute_accuracy': ('fraction', True),
        'keypoint_displacement': ('fraction_of_inter_ocular', False),
        'image_distance': ('mean_abs_intensity', False),
        'counterfactual_image_error': ('mean_abs_intensity', False),
        'counterfactual_keypoint_error': ('fraction_of_inter_ocular', False),
        'counterfactual_correctness_error': ('mean_abs_intensity', False),
        'counterfactual_preservation_error': ('mean_abs_intensity', False),
    },
}

if __name__ == "__main__":  # pragma: no cover
    print("CATALOG: dict[str, Any] = " + literal(current()))
