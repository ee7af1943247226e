# Nuclei types across label sets (issue 26 §3; docs/study.md, "Nuclei across label
# sets"): the seeds' tables as one study of the StarDist route (configs/nuclei/).
#   Table 2: B alone vs A then B (every layer kept, the head included), for B in PanNuke,
#            MoNuSAC and CoNSeP and A each of the others: read B's columns.
#   Table 4: A alone vs A then B, tested on the unseen C (the third dataset): read C's.
# Every cell is tested on the three test splits, each in its own labels, so each row has
# PQ, bPQ and mPQ for every dataset (study.json); the runner's paired tests compare each
# row with its group's baseline ("alone, equal iterations") per dataset and metric.
# Needs data/pannuke, data/consep and data/monusac converted at 0.5 um/px (the study
# stops before training, naming the one missing and its converter command) and GPUs:
#     python tools/run_study.py studies/nuclei_label_sets.py --dry-run   # the cells
#     python tools/run_study.py studies/nuclei_label_sets.py --gpus 4
work_dir = 'work_dirs/study_nuclei_label_sets'
# Replicates: three seeds. No folds: every config keeps its own splits (folding one
# manifest would fold PanNuke only), and each cell is tested on the best checkpoint its
# config keeps on its validation split (docs/study.md).
folds = None
seeds = [0, 1, 2]
baseline = 'alone, equal iterations'
report = ['dataset/pannuke', 'dataset/consep', 'dataset/monusac']
# The typed keys of GroupInstanceMetric(types=True): bPQ first (the paper's "PQ", and the
# table's last column: the gain in PanNuke bPQ; the other datasets' gains are in study.json).
metrics = dict(bPQ='bPQ', PQ='PQ', mPQ='mPQ')

iters = 20000  # one schedule (the configs'): each stage of A then B, and the paper's row
# The baseline with as many iterations as A then B together: one schedule stretched over
# 2 * iters (the same warm-up and decay shape, not a second warm restart).
stretched = {
    'stardist_r50': [
        dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0, end=1500),
        dict(type='PolyLR', power=1.0, begin=1500, end=2 * iters, eta_min=0.0, by_epoch=False)],
    'contour_deeplabv3plus': [
        dict(type='CosineAnnealingLR', eta_min_ratio=0.01, begin=0, end=2 * iters,
             by_epoch=False)],
}
# The seeds' model; add route a (twice the cells) with
#     models['DeepLabV3+ R-50 typed contour'] = 'contour_deeplabv3plus'
models = {'StarDist R-50': 'stardist_r50'}
names = {'pannuke': 'PanNuke', 'monusac': 'MoNuSAC', 'consep': 'CoNSeP'}

runs = []
for title, prefix in models.items():
    equal = {'train_cfg.max_iters': 2 * iters, 'param_scheduler': stretched[prefix]}
    # Table 2: B alone (equal iterations; one schedule, as the paper) vs A then B.
    for b in names:
        group = f'{title}, B={names[b]}'
        runs += [
            dict(model=group, arm='alone, equal iterations',
                 config=f'configs/nuclei/{prefix}_{b}.py', options=equal),
            dict(model=group, arm='alone, one schedule', config=f'configs/nuclei/{prefix}_{b}.py')]
        runs += [dict(model=group, arm=f'{names[a]} then {names[b]}',
                      config=f'configs/nuclei/{prefix}_{a}-then-{b}.py',
                      pretrain=f'configs/nuclei/{prefix}_{a}.py')
                 for a in names if a != b]
    # Table 4: A alone vs A then B, on the unseen C.
    for c in names:
        for a in names:
            if a == c:
                continue
            b = next(n for n in names if n not in (a, c))
            group = f'{title}, A={names[a]}, unseen {names[c]}'
            runs += [
                dict(model=group, arm='alone, equal iterations',
                     config=f'configs/nuclei/{prefix}_{a}.py', options=equal),
                dict(model=group, arm='alone, one schedule',
                     config=f'configs/nuclei/{prefix}_{a}.py'),
                dict(model=group, arm=f'{names[a]} then {names[b]}',
                     config=f'configs/nuclei/{prefix}_{a}-then-{b}.py',
                     pretrain=f'configs/nuclei/{prefix}_{a}.py')]
