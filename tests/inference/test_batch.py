"""Many slides in the library (crossspec_mmseg.inference.batch): one naming rule
for every output path, collisions refused before anything is written, resume
that never takes another slide's outputs for its own, the slide list file,
the um/px decision, and scratch that a rerun removes after a killed run."""
import json
import multiprocessing
import os
import signal

import numpy as np
import pytest
import tifffile
import torch
from stubs import BrightStub

from crossspec_mmseg.errors import BadInputError
from crossspec_mmseg.inference import (
    OutputCollisionError,
    SlideSettings,
    expand_slides,
    plan_slides,
    remove_dead_scratch,
    run_slides,
    scratch_folder,
    slide_name,
)
from crossspec_mmseg.inference import scratch as scratch_module
from crossspec_mmseg.slides import open_slide


def write_slide(path, seed=0, shape=(150, 190)):
    rng = np.random.default_rng(seed)
    image = np.where(rng.random(shape + (1,)) < 0.3, 220, 40).astype(np.uint8).repeat(3, 2)
    tifffile.imwrite(path, image, photometric='rgb', resolution=(1e4 / 0.5, 1e4 / 0.5),
                     resolutionunit='CENTIMETER')  # 0.5 um/px, uncompressed
    return str(path)


def listing(folder):
    return sorted(os.listdir(folder))


@pytest.mark.parametrize('path, name', [('scans/x.ome.tif', 'x'), ('X.OME.TIFF', 'X'),
                                        ('a.b.svs', 'a.b'), ('a.ndpi', 'a'), ('c', 'c')])
def test_slide_name_strips_multipart_extensions(path, name):
    assert slide_name(path) == name


def test_outputs_are_named_by_one_rule(tmp_path):
    slides = [write_slide(tmp_path / 'x.ome.tif'), write_slide(tmp_path / 'y.svs')]
    out = tmp_path / 'pred'
    first, second = plan_slides(slides, str(out), geojson='', ome_tiff='', objects_csv='',
                                rle=True)
    assert first.name == 'x' and first.paths == {
        'mask': f'{out}/x.tif', 'geojson': f'{out}/x.geojson', 'ome_tiff': f'{out}/x.ome.tif',
        'objects_csv': f'{out}/x_objects.csv', 'rle': f'{out}/x.csv'}
    assert second.paths['mask'] == f'{out}/y.tif' and second.scratch_dir == str(out)
    one, = plan_slides(slides[:1], str(tmp_path / 'm.tif'), geojson=str(tmp_path / 'g.json'),
                       scratch_dir=str(tmp_path / 's'))
    assert one.paths == {'mask': str(tmp_path / 'm.tif'), 'geojson': str(tmp_path / 'g.json')}
    assert one.scratch_dir == str(tmp_path / 's') and one.record is None
    folder, = plan_slides(slides[:1], str(out) + '/')  # one slide into a folder
    assert folder.paths == {'mask': f'{out}/x.tif'} and folder.record is not None
    assert not out.exists()  # planning writes nothing


@pytest.mark.parametrize('names, flags, path, kinds', [
    (('slide.svs', 'slide.ome.tif'), dict(ome_tiff=''), 'slide.tif', ('mask', 'mask')),
    (('a.svs', 'a.ndpi'), {}, 'a.tif', ('mask', 'mask')),
    (('x.svs', 'x.ome.svs'), dict(ome_tiff=''), 'x.ome.tif', ('mask', 'OME-TIFF')),
    (('a.svs', 'a_objects.svs'), dict(objects_csv='', rle=True), 'a_objects.csv',
     ('RLE row', 'object table')),
])
def test_outputs_sharing_a_path_are_refused_before_anything_is_written(tmp_path, names, flags,
                                                                       path, kinds):
    slides = [write_slide(tmp_path / n) for n in names]
    out = tmp_path / 'pred'
    with pytest.raises(OutputCollisionError) as caught:
        plan_slides(slides, str(out), **flags)
    message = str(caught.value)
    assert all(s in message for s in slides) and str(out / path) in message
    assert f'(the {kinds[0]} of {slides[1]} and the {kinds[1]} of {slides[0]})' in message
    assert 'collide' in message and '\n' not in message and not out.exists()


def test_an_output_over_a_slide_or_over_another_output_is_refused(tmp_path):
    slides = [write_slide(tmp_path / 'a.tif'), write_slide(tmp_path / 'x.ome.tif')]
    with pytest.raises(OutputCollisionError, match='is the slide .*a.tif'):
        plan_slides(slides, str(tmp_path))  # a.tif's mask would be a.tif itself
    with pytest.raises(OutputCollisionError, match='is the slide .*x.ome.tif'):
        plan_slides(slides[1:], str(tmp_path / 'x.tif'), ome_tiff='')
    with pytest.raises(OutputCollisionError, match='GeoJSON .* and its mask would both be'):
        plan_slides(slides[:1], str(tmp_path / 'm.tif'), geojson=str(tmp_path / 'm.tif'))
    with pytest.raises(BadInputError, match='2 slides: --out must be a folder and --geojson'):
        plan_slides(slides, str(tmp_path / 'p'), geojson='g.json')


def test_slide_list_and_expansion(tmp_path):
    scans = tmp_path / 'scans'
    scans.mkdir()
    for name in ('a.svs', 'b.ndpi', 'notes.txt'):
        (scans / name).write_bytes(b'x')
    (tmp_path / 'lists').mkdir()
    listed = tmp_path / 'lists' / 'slides.txt'
    listed.write_text('# batch 1\n\n  ../scans/b.ndpi  \n../scans\n# ../scans/missing.svs\n')
    slides = expand_slides([str(scans / 'a.svs')], [str(listed)])
    assert [os.path.basename(s) for s in slides] == ['a.svs', 'b.ndpi']  # each slide once
    listed.write_text('../scans/a.svs\nmissing.svs\n')
    with pytest.raises(BadInputError, match=f'missing.svs not found .*listed in {listed}'):
        expand_slides([], [str(listed)])
    with pytest.raises(BadInputError, match='slide list .*absent.txt'):
        expand_slides([], [str(tmp_path / 'absent.txt')])


@pytest.mark.parametrize('settings, known, unknown', [
    (dict(mpp=2.0), 2.0, 2.0),                    # --mpp always (unknown: an error later)
    (dict(train_mpp=1.0), 1.0, None),            # the config's, when the slide knows its own
    (dict(train_mpp=1.0, scale=0.5), None, None),  # --scale wins over train_mpp
    ({}, None, None),
])
def test_reading_resolution_decision(tmp_path, settings, known, unknown):
    slide = write_slide(tmp_path / 'a.tif')
    bare = tmp_path / 'bare.tif'
    tifffile.imwrite(bare, np.zeros((8, 8, 3), np.uint8), photometric='rgb')
    with open_slide(slide) as reader, open_slide(str(bare)) as bare_reader:
        assert SlideSettings(**settings).read_mpp(reader) == known
        assert SlideSettings(**settings).read_mpp(bare_reader) == unknown


@pytest.mark.parametrize('bad, name', [(dict(tile=0), 'tile'), (dict(overlap=1.0), 'overlap'),
                                       (dict(batch=0), 'batch'), (dict(mpp=-1.0), 'mpp'),
                                       (dict(scale=float('nan')), 'scale'),
                                       (dict(scale=0.0), 'scale')])
def test_settings_out_of_range_named_in_one_line(bad, name):
    with pytest.raises(ValueError, match=f'^invalid {name}=') as caught:
        SlideSettings(**bad)
    assert '\n' not in str(caught.value)


def test_resume_skips_done_slides_and_refuses_another_slides_outputs(tmp_path, monkeypatch):
    first, second = tmp_path / 'run1', tmp_path / 'run2'
    first.mkdir()
    second.mkdir()
    slide = write_slide(first / 'a.svs')
    out = tmp_path / 'pred'
    settings = SlideSettings(tile=64, batch=2, train_mpp=1.0)
    jobs = plan_slides([slide], str(out) + '/', geojson='', rle=True)
    opened, real = [], tifffile.TiffFile
    monkeypatch.setattr(tifffile, 'TiffFile', lambda *a, **k: opened.append(a[0]) or real(*a, **k))
    record, = run_slides(BrightStub(), jobs, settings)
    assert opened == [slide]  # once: for its um/px (read at train_mpp) and its pixels alike
    assert record['read_mpp'] == 1.0 and record['level'] == 0 and record['slide_mpp'] == 0.5
    assert record['mask'] == str(out / 'a.tif') and 'error' not in record
    assert (out / 'a.csv').read_text().splitlines()[0] == 'id,predicted'
    assert (out / 'a.csv').read_text().splitlines()[1].startswith('a,')
    again, = run_slides(BrightStub(), plan_slides([slide], str(out) + '/', geojson='', rle=True),
                        settings)
    assert again == dict(slide=slide, done=True, **jobs[0].paths)
    other = write_slide(second / 'a.svs', seed=1, shape=(120, 100))  # same name, another slide
    with pytest.raises(OutputCollisionError, match='written for another slide'):
        plan_slides([other], str(out) + '/', geojson='', rle=True)
    (out / '.a.tif.slide.json').unlink()  # outputs from before records: taken as done
    assert plan_slides([other], str(out) + '/', geojson='', rle=True)[0].done()


def test_unreadable_slide_is_one_error_record_and_the_next_goes_on(tmp_path):
    broken = tmp_path / 'broken.svs'
    broken.write_bytes(b'II*\x00 not really a tiff')
    good = write_slide(tmp_path / 'good.tif')
    records = list(run_slides(BrightStub(), plan_slides([str(broken), good], str(tmp_path / 'o')),
                              SlideSettings(tile=64)))
    assert records[0]['slide'] == str(broken) and str(broken) in records[0]['error']
    assert 'error' not in records[1] and os.path.isfile(records[1]['mask'])


def test_scratch_of_a_live_run_stays_a_dead_runs_goes(tmp_path):
    with scratch_folder(str(tmp_path), 'a.tif') as live:
        assert remove_dead_scratch(str(tmp_path)) == [] and os.path.isdir(live)
        dead = tmp_path / (os.path.basename(live)[:-8] + 'deadbeef')
        dead.mkdir()
        (dead / 'lock').write_bytes(b'')
        (dead / 'mask.u8').write_bytes(b'\0' * 64)
        assert remove_dead_scratch(str(tmp_path), 'b.tif') == []  # another output's only
        assert remove_dead_scratch(str(tmp_path)) == [str(dead)] and os.path.isdir(live)
    assert listing(tmp_path) == []


def test_without_file_locks_scratch_is_judged_by_host_and_pid(tmp_path, monkeypatch):
    def no_locks(fd, operation):
        raise OSError(37, 'No locks available')  # ENOLCK, as an NFS mount without lockd
    monkeypatch.setattr(scratch_module.fcntl, 'flock', no_locks)
    host = scratch_module._host()
    dead_pid = multiprocessing.get_context('fork').Process(target=lambda: None)
    dead_pid.start()
    dead_pid.join()
    names = {'live': f'.a.tif.scratch-{host}-{os.getpid()}-abc', 'dead':
             f'.a.tif.scratch-{host}-{dead_pid.pid}-abc', 'elsewhere':
             f'.a.tif.scratch-otherhost-{dead_pid.pid}-abc'}
    for name in names.values():
        (tmp_path / name).mkdir()
        (tmp_path / name / 'lock').write_bytes(b'')
    assert remove_dead_scratch(str(tmp_path)) == [str(tmp_path / names['dead'])]
    assert listing(tmp_path) == sorted([names['live'], names['elsewhere']])


def _predict_slowly(slide, out, started):
    """In a forked child: the library's batch run, with a model that stops
    mid-slide (after its first batch) until killed."""
    torch.set_num_threads(1)  # the parent's thread pool does not survive the fork

    class Slow(BrightStub):
        calls = 0

        def inference(self, inputs, metas):
            Slow.calls += 1
            if Slow.calls == 2:
                started.set()
                import time
                time.sleep(600)
            return super().inference(inputs, metas)

    list(run_slides(Slow(), plan_slides([slide], out, geojson='', rle=True),
                    SlideSettings(tile=32, batch=2)))


def test_killed_run_leaves_scratch_that_a_rerun_removes_with_identical_outputs(tmp_path):
    slide = write_slide(tmp_path / 'slide.ome.tif')
    out, reference = tmp_path / 'pred', tmp_path / 'reference'
    context = multiprocessing.get_context('fork')
    started = context.Event()
    child = context.Process(target=_predict_slowly, args=(slide, str(out) + '/', started))
    child.start()
    try:
        for _ in range(600):  # until its second batch (a child that fails fails the test)
            if started.wait(0.1) or not child.is_alive():
                break
        assert started.is_set(), f'the child ended ({child.exitcode}) before its second batch'
        scratch, = listing(out)
        assert scratch.startswith('.slide.tif.scratch-') and listing(out / scratch) == [
            'lock', 'mask.u8']
        assert remove_dead_scratch(str(out)) == []  # alive: left alone
        os.kill(child.pid, signal.SIGKILL)
    finally:
        if child.exitcode is None:  # a failed check above: the child is killed all the same
            child.kill()
        child.join()
    assert child.exitcode == -signal.SIGKILL and listing(out) == [scratch]  # the leftover
    settings = SlideSettings(tile=32, batch=2)
    for folder in (out, reference):
        record, = run_slides(BrightStub(), plan_slides([slide], str(folder) + '/', geojson='',
                                                   rle=True), settings)
        assert 'error' not in record
    assert scratch not in listing(out)  # removed by the rerun
    assert listing(out) == listing(reference) == ['.slide.tif.slide.json', 'slide.csv',
                                                  'slide.geojson', 'slide.tif']
    for name in listing(out):
        assert (out / name).read_bytes() == (reference / name).read_bytes(), name
    assert json.loads((out / '.slide.tif.slide.json').read_text())['slide'] == 'slide.ome.tif'
