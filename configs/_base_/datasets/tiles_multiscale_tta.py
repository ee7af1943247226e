# tiles.py with multi-scale test-time augmentation: x0.75, x1, x1.25 times the
# three flips (glomeruli and kidney layers vary in size across species and
# scanners; nuclei keep the single-scale default).
_base_ = ['./tiles.py']
tta_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='TestTimeAug', transforms=[
        [dict(type='Resize', scale_factor=s, keep_ratio=True) for s in (0.75, 1.0, 1.25)],
        {{_base_.tta_flips}}, [dict(type='LoadAnnotations')],
        [dict(type='PackSegInputs', meta_keys={{_base_.meta_keys}})]]),
]
