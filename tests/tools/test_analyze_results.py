"""tools/analyze_results.py: metric bars per species and regime, loss curves, qualitative panel."""
import json
import os
import os.path as osp
import shutil

import cv2
import pytest

from crossspec_mmseg.structures import read_manifest


def fake_run(root, name, dice):
    work = root / name
    (work / '20260101_000000' / 'vis_data').mkdir(parents=True)
    json.dump({'species/human/mDice': dice, 'species/mouse/mDice': dice - 5, 'mDice': dice},
              open(work / 'metrics.json', 'w'))
    with open(work / '20260101_000000' / 'vis_data' / 'scalars.json', 'w') as f:
        for it in range(1, 6):
            f.write(json.dumps(dict(iter=it * 10, loss=1.0 / it, lr=0.01)) + '\n')
    return str(work)


@pytest.mark.heavy
def test_plots_are_written(demo_data, tmp_path):
    from helpers import run_tool
    runs = [f'separate={fake_run(tmp_path, "a", 70.0)}',
            f'combined={fake_run(tmp_path, "b", 80.0)}']
    preds = tmp_path / 'preds'
    preds.mkdir()
    humans = [r for r in read_manifest(osp.join(demo_data, 'manifest.csv'))
              if r['species'] == 'human'][:3]
    for row in humans:
        shutil.copy(osp.join(demo_data, row['mask']), preds / osp.basename(row['image']))
    proc = run_tool(['tools/analyze_results.py', '--runs', *runs, '--out', str(tmp_path / 'plots'),
                     '--panel', demo_data, f'separate={preds}', f'combined={preds}',
                     '--tiles', '3', '--species', 'human'], demo_data, fresh=False)
    written = proc.stdout.split()
    assert [osp.basename(p) for p in written] == ['metrics_per_species.png', 'loss_curves.png',
                                                  'panel.png']
    for path in written:
        image = cv2.imread(path)
        assert image is not None and min(image.shape[:2]) > 200
    panel = cv2.imread(written[2])
    assert panel.shape[1] > 1.2 * panel.shape[0]  # 3 human tiles x (image, truth, 2 regimes)
    assert sorted(os.listdir(tmp_path / 'plots')) == ['loss_curves.png', 'metrics_per_species.png',
                                                      'panel.png']
