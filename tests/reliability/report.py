"""docs/reliability.md from the reliability tests themselves, so the table cannot
drift from the suite (tests/reliability/test_report.py checks it).

    python tests/reliability/report.py > docs/reliability.md
"""
import importlib
import os.path as osp
import sys

HERE = osp.dirname(osp.abspath(__file__))


def _modules():
    sys.path[:0] = [HERE, osp.dirname(HERE)]
    names = ('test_interrupted_conversion', 'test_interrupted_training', 'test_corrupt_inputs',
             'test_untrusted_files', 'test_distributed_faults')
    return {n: importlib.import_module(n) for n in names}


def render() -> str:
    m = _modules()
    conv, train, corrupt = (m['test_interrupted_conversion'], m['test_interrupted_training'],
                            m['test_corrupt_inputs'])
    untrusted, dist = m['test_untrusted_files'], m['test_distributed_faults']
    n_files = len(corrupt.CONVERTER_CASES) + len(corrupt.DATASET_CASES) + 1
    rows = [
        ('1. Interrupted conversion: a converter killed at random points resumes to '
         'byte-identical tiles and manifest, no temporary file left',
         [conv.test_sigkill_at_random_points_then_rerun_is_byte_identical],
         f'{conv.KILL_POINTS} SIGKILLs of `tools/dataset_converters/hubmap.py` per run at random '
         'tile counts, then a rerun: SHA-256 of every file equal to an uninterrupted run'),
        ('2. Interrupted training: `--resume` continues with the same iteration, optimiser, '
         'scheduler and sample stream; a checkpoint being written is never resumed from',
         [train.test_sigkill_then_resume_continues_the_same_run,
          train.test_corrupt_latest_checkpoint_is_never_resumed,
          train.test_checkpoint_writes_are_atomic,
          train.test_fallback_ignores_best_checkpoints_and_temporaries],
         'SIGKILL of `tools/train.py` (cross-species sampler) after `iter_4.pth`; iterations, '
         'per-iteration samples, scheduler state and learning rates equal the uninterrupted '
         'run; a truncated latest checkpoint is skipped for the previous one'),
        ('3. Corrupt inputs: each gets an error naming the file/record and the fix; '
         '`--skip-bad` lists skipped items in `skipped.csv`; datasets check tiles when built',
         [corrupt.test_converter_names_bad_input_and_skip_bad_lists_it,
          corrupt.test_duplicate_image_names_are_named,
          corrupt.test_dataset_rejects_bad_tiles_when_built,
          corrupt.test_tile_checks_are_remembered_and_redone_when_a_file_changes,
          conv.test_cli_reports_bad_input_then_skip_bad],
         f'{n_files} corrupt inputs ({len(corrupt.CONVERTER_CASES)} into the three converters, '
         f'{len(corrupt.DATASET_CASES)} into a converted dataset, 1 duplicate name) from the '
         'corpus in `tests/reliability/corrupt_inputs/`'),
        ('4. Untrusted files: checkpoints load weights-only with only mmengine\'s classes '
         'allowed; orbit.db opened read-only, blobs parsed; manifest paths stay in the root',
         [untrusted.test_a_bad_checkpoint_is_refused_in_one_line_by_every_tool,
          untrusted.test_only_mmengines_own_classes_are_allow_listed,
          untrusted.test_orbit_db_is_opened_read_only],
         'a pickle payload in a checkpoint, and random bytes, refused by `tools/test.py`, '
         '`infer_slide.py` and `load_from` in one line naming the file (the payload never '
         'runs; no advice to load it unsafely); '
         'orbit.db bytes and mtime unchanged (file made read-only); path escape and foreign '
         'Java class are corrupt-input cases'),
        ('5. Distributed faults: when one rank of a 2-process CPU run dies, the other exits '
         'with an error in bounded time; the run resumes',
         [dist.test_a_dead_rank_ends_the_run_in_bounded_time_and_it_resumes,
          dist.test_without_a_launcher_the_survivor_errors_out],
         f'SIGKILL of rank 1 under `tools/dist_train.sh` and under a bare (scheduler-style) '
         f'launch: rank 0 gone within the {dist.BOUND_S} s bound; `--resume` continues'),
    ]
    lines = ['# Reliability guarantees', '',
             'Generated from the tests in `tests/reliability/` by '
             '`python tests/reliability/report.py > docs/reliability.md`; '
             '`tests/reliability/test_report.py` fails if this page and the suite disagree. '
             'Every test listed runs in the default suite (`make test`), so a passing CI run '
             'means every row holds.', '',
             '| guarantee | tests | what is tried |', '|---|---|---|']
    for guarantee, tests, figures in rows:
        names = '<br>'.join(f'`{t.__module__}.py::{t.__name__}`' for t in tests)
        lines.append(f'| {guarantee} | {names} | {figures} |')
    return '\n'.join(lines) + '\n'


if __name__ == '__main__':
    sys.stdout.write(render())
