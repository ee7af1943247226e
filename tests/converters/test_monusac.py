"""MoNuSAC converter on a synthetic download in the distributed layout (SVS +
ImageScope XML); outputs checked against the XML rasterised here with
ElementTree + skimage and the SVS read with tifffile."""
import csv
import os
import os.path as osp
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

import cv2
import numpy as np
import pytest
import tifffile
from PIL import Image
from skimage.draw import polygon

from crossspec_mmseg.converters.errors import BadDownloadError, BadInputError
from crossspec_mmseg.converters.monusac import (
    AMBIGUOUS_REGIONS,
    CLIPPED,
    DEGENERATE,
    HIDDEN,
    MONUSAC_CLASSES,
    parse_monusac_xml,
    patient_barcode,
    rasterise_regions,
    read_organs,
)
from crossspec_mmseg.demo.downloads.monusac import TEST_FOLDER, TRAIN_FOLDER, write_monusac_raw
from helpers import REPO, run_tool, tree_digest

CLI = 'tools/dataset_converters/monusac.py'
CLASSES = {'epithelial': 1, 'lymphocyte': 2, 'neutrophil': 3, 'macrophage': 4, 'ambiguous': 255}


def converter(*args):
    """The CLI in this interpreter: ``(exit code, stdout, stderr)``."""
    proc = run_tool([CLI, *map(str, args)], '', check=False, fresh=False)
    return proc.returncode, proc.stdout, proc.stderr


def rows_of(out):
    with open(osp.join(out, 'manifest.csv'), newline='') as f:
        return list(csv.DictReader(f))


def region_xml(*annotations):
    """An ImageScope XML: ``(class, [polygon, ...])`` per annotation."""
    parts = ['<?xml version="1.0"?><Annotations MicronsPerPixel="0.252100">']
    for name, polygons in annotations:
        parts.append(f'<Annotation Id="1"><Attributes><Attribute Name="{name}" Id="0" Value=""/>'
                     '</Attributes><Regions><RegionAttributeHeaders><AttributeHeader Id="9999" '
                     'Name="Region"/></RegionAttributeHeaders>')
        for points in polygons:
            vertices = ''.join(f'<Vertex X="{x}" Y="{y}" Z="0"/>' for x, y in points)
            parts.append(f'<Region Id="1"><Attributes/><Vertices>{vertices}</Vertices></Region>')
        parts.append('</Regions><Plots/></Annotation>')
    return ''.join(parts + ['</Annotations>'])


def square(x0, y0, x1, y1):
    return [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]


def expected_maps(xml, shape):
    """Instances and types by the MoNuSAC reference rule (skimage polygons in
    file order, later over earlier, one id per non-ambiguous region with an area)."""
    ids, types, n = np.zeros(shape, np.int64), np.zeros(shape, np.uint8), 0
    for annotation in ET.parse(xml).getroot().findall('Annotation'):
        label = CLASSES[annotation.find('Attributes/Attribute').get('Name').lower()]
        for region in annotation.find('Regions').findall('Region'):
            pts = np.array([[float(v.get('X')), float(v.get('Y'))] for v in region.iter('Vertex')])
            if len(pts) < 3:  # no area: skipped (skimage would paint its vertices)
                continue
            rr, cc = polygon(pts[:, 1], pts[:, 0], shape)
            n += label != 255
            ids[rr, cc] = 0 if label == 255 else n
            types[rr, cc] = label
    return ids, types


def test_xml_regions_in_file_order(tmp_path):
    assert MONUSAC_CLASSES == ('background', 'epithelial', 'lymphocyte', 'neutrophil',
                               'macrophage')  # MoNuSAC's n-ary order
    path = tmp_path / 'a.xml'
    path.write_text(region_xml(('Epithelial', [square(1, 1, 5, 5), square(8, 1, 9, 3)]),
                               ('lymphocyte', [square(2.5, 2.5, 7, 7)])))
    regions = parse_monusac_xml(str(path))
    assert [(r.label, r.annotation, r.index) for r in regions] == [(1, 1, 1), (1, 1, 2),
                                                                   (2, 2, 1)]
    assert regions[2].points.tolist() == [list(p) for p in square(2.5, 2.5, 7, 7)]


def test_overlaps_ambiguous_and_counted_quirks(tmp_path):
    path = tmp_path / 'a.xml'
    path.write_text(region_xml(
        ('Epithelial', [square(1, 1, 6, 6), square(20, 20, 22, 22), [(3, 3), (4, 4)]]),
        ('Macrophage', [square(4, 4, 9, 9), square(19, 19, 23, 23), square(-3, 10, 2, 14)]),
        ('Ambiguous', [square(8, 1, 12, 5)])))
    shape = (24, 26)
    instances, types, quirks = rasterise_regions(parse_monusac_xml(str(path)), shape, str(path))
    ids, expected = expected_maps(str(path), shape)
    assert (instances == ids).all() and (types == expected).all()
    assert instances[2, 2] == 1 and instances[5, 5] == 3 and types[5, 5] == 4  # later wins
    assert instances[3, 9] == 0 and types[3, 9] == 255  # Ambiguous over a macrophage
    assert 2 not in instances  # hidden under id 4
    assert quirks == {DEGENERATE: 1, HIDDEN: 1, CLIPPED: 1, AMBIGUOUS_REGIONS: 1}


@pytest.mark.parametrize('xml, problem', [
    (region_xml(('Epithelial', [square(1, 1, 4, 4)]), ('Neutrophil', [square(30, 2, 40, 6)])),
     'annotation 2 region 1 lies outside the image (x 30..40, y 2..6; the image spans '
     'x 0..24, y 0..16)'),
    (region_xml(('Plasma cell', [square(1, 1, 4, 4)])), "unknown class 'Plasma cell'"),
    (region_xml(('Epithelial', [[(1, 1), (2, 'nan'), (3, 1)]])),
     "region 1 (Id=1) vertex 2: Y='nan' is not a finite number"),
    (region_xml(('Epithelial', [square(1, 1, 4, 4)]))[:-30], 'unreadable XML'),
    ('<Annotations><Annotation><Regions/></Annotation></Annotations>',
     'annotation 1 has no Attributes/Attribute@Name'),
])
def test_bad_xml_named(tmp_path, xml, problem):
    path = tmp_path / 'bad.xml'
    path.write_text(xml)
    with pytest.raises(BadInputError) as err:
        rasterise_regions(parse_monusac_xml(str(path)), (16, 24), str(path))
    assert str(err.value).startswith(f'{path}: ') and problem in str(err.value)


def test_patients_and_organ_table(tmp_path):
    assert patient_barcode('tcga-55-1594-01Z-00-DX1') == 'TCGA-55-1594'
    with pytest.raises(BadInputError, match='TCGA patient barcode'):
        patient_barcode('Abhijit_Lung')
    table = tmp_path / 'organs.csv'
    table.write_text('patient;organ\nTCGA-55-1594-01Z-00-DX1;Lung\nTCGA-A2-0001;breast\n')
    assert read_organs(str(table)) == {'TCGA-55-1594': 'lung', 'TCGA-A2-0001': 'breast'}
    table.write_text('patient,organ\nTCGA-55-1594,lung\nTCGA-55-1594-01Z,kidney\n')
    with pytest.raises(BadDownloadError, match='listed twice'):
        read_organs(str(table))


@pytest.fixture(scope='module')
def raw(tmp_path_factory):
    root = tmp_path_factory.mktemp('monusac_raw')
    names = write_monusac_raw(str(root), train_patients=4, test_patients=2, shape=(80, 96),
                              seed=7)
    organs = root / 'organs.csv'
    organs.write_text('patient,organ\nTCGA-10-1000,Lung\nTCGA-11-1001,lung\n'
                      'TCGA-12-1002,kidney\nTCGA-13-1003,kidney\n')
    return str(root), names, str(organs)


@pytest.fixture(scope='module')
def converted(raw, tmp_path_factory):
    root, _, organs = raw
    out = str(tmp_path_factory.mktemp('monusac_out') / 'out')
    code, stdout, stderr = converter(root, out, '--tile', 64, '--organs', organs)
    assert code == 0, stderr
    return out, stdout


def test_tiles_match_svs_and_xml(raw, converted):
    root, names, _ = raw
    out, stdout = converted
    rows = rows_of(out)
    assert {r['slide'] for r in rows} == set(names)
    ambiguous = 0
    for row in rows:
        slide = row['slide'][:-4]
        top = TRAIN_FOLDER if names[row['slide']] == 'train' else TEST_FOLDER
        stem = osp.join(root, top, slide, row['slide'])
        rgb = tifffile.imread(f'{stem}.svs')
        ids, types = expected_maps(f'{stem}.xml', rgb.shape[:2])
        x, y = int(row['x']), int(row['y'])
        window = np.s_[y:y + 64, x:x + 64]
        tile = cv2.cvtColor(cv2.imread(osp.join(out, row['image'])), cv2.COLOR_BGR2RGB)
        assert (tile == rgb[window]).all()
        mask = np.asarray(Image.open(osp.join(out, row['mask'])))
        assert (mask == types[window]).all()
        ambiguous += (mask == 255).sum()
        instance = cv2.imread(osp.join(out, row['instance']), cv2.IMREAD_UNCHANGED)
        assert instance.dtype == np.uint16 and (instance == ids[window]).all()
        assert (row['dataset'], row['species'], row['origin'], row['fold'], row['mpp']) == (
            'monusac', 'human', 'tcga', '', '0.252')
        assert row['patient'] == row['case'] == row['slide'][:12]
    assert ambiguous > 0 and f'{AMBIGUOUS_REGIONS}: 6' in stdout


def test_splits_keep_patients_together(raw, converted):
    rows = rows_of(converted[0])
    by_patient = {}
    for row in rows:
        by_patient.setdefault(row['patient'], set()).add((row['split'], row['organ']))
    assert all(len(v) == 1 for v in by_patient.values()), by_patient  # DX1 + DX2 too
    splits = {p: next(iter(v)) for p, v in by_patient.items()}
    assert {s for p, (s, _) in splits.items() if p.startswith('TCGA-6')} == {'test'}
    train = [(s, o) for p, (s, o) in splits.items() if not p.startswith('TCGA-6')]
    assert sorted(train) == [('train', 'kidney'), ('train', 'lung'), ('val', 'kidney'),
                             ('val', 'lung')]  # one val patient per organ
    assert {o for p, (_, o) in splits.items() if p.startswith('TCGA-6')} == {''}  # not in table


@pytest.mark.heavy
def test_cli_in_a_fresh_interpreter_gives_the_same_bytes(raw, converted, tmp_path):
    root, _, organs = raw
    out = str(tmp_path / 'out')
    proc = subprocess.run([sys.executable, CLI, root, out, '--tile', '64', '--organs', organs],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert tree_digest(out) == tree_digest(converted[0])


def test_rerun_resumes_byte_identical(raw, converted, tmp_path):
    root, _, organs = raw
    out = str(tmp_path / 'out')
    shutil.copytree(converted[0], out)
    rows = rows_of(out)
    os.remove(osp.join(out, rows[-1]['instance']))
    os.remove(osp.join(out, '.journal', f'{rows[-1]["slide"]}.csv'))
    code, stdout, stderr = converter(root, out, '--tile', 64, '--organs', organs)
    assert code == 0 and 'tiles already present' in stdout, stderr
    assert tree_digest(out) == tree_digest(converted[0])


BAD = 'TCGA-60-1000-01Z-00-DX1_001'


@pytest.mark.parametrize('fault, ext, problem', [
    ('non_numeric_vertex', 'xml', "X='12,5' is not a finite number"),
    ('outside', 'xml', 'lies outside the image'),
    ('unknown_class', 'xml', "unknown class 'Plasma'"),
    ('unreadable_xml', 'xml', 'unreadable XML'),
    ('missing_svs', 'svs', 'is missing'),
    ('missing_xml', 'xml', 'is missing'),
    ('no_mpp', 'svs', 'no usable level-0 resolution'),
])
def test_bad_input_named_then_skipped(tmp_path, fault, ext, problem):
    raw = str(tmp_path / 'raw')
    write_monusac_raw(raw, train_patients=1, test_patients=1, images_per_slide=1,
                      shape=(40, 48), faults={BAD: fault})
    out = str(tmp_path / 'out')
    code, _, stderr = converter(raw, out)
    lines = stderr.strip().splitlines()
    assert code == 1 and 'Traceback' not in stderr, stderr
    path = osp.join(raw, TEST_FOLDER, BAD[:-4], f'{BAD}.{ext}')
    assert lines[0].startswith(f'error: {path}') and problem in lines[0], stderr
    code, stdout, stderr = converter(raw, out, '--skip-bad')
    assert code == 0 and '1 bad inputs skipped' in stdout, stderr
    assert len({r['slide'] for r in rows_of(out)}) == 3 and BAD not in stdout
    with open(osp.join(out, 'skipped.csv')) as f:
        assert problem in f.read()


def test_base_mpp_and_test_folder_alone(tmp_path):
    raw = str(tmp_path / 'raw')
    write_monusac_raw(raw, test_patients=1, images_per_slide=1, shape=(40, 48),
                      faults={BAD: 'no_mpp'}, splits=('test',))
    code, stdout, stderr = converter(raw, tmp_path / 'out', '--base-mpp', 0.25, '--tile', 32)
    assert code == 0, stderr
    rows = rows_of(tmp_path / 'out')
    assert {r['split'] for r in rows} == {'test'}
    assert {r['mpp'] for r in rows if r['slide'] == BAD} == {'0.25'}


def test_crossing_the_border_is_clipped_and_counted(tmp_path):
    raw = str(tmp_path / 'raw')
    write_monusac_raw(raw, test_patients=1, images_per_slide=1, shape=(40, 48),
                      faults={BAD: 'crosses_border'}, splits=('test',))
    code, stdout, stderr = converter(raw, tmp_path / 'out')
    assert code == 0 and f'{CLIPPED}: 1' in stdout, stderr


def test_region_touching_the_right_edge_paints_nothing(tmp_path):
    path = tmp_path / 'a.xml'
    path.write_text(region_xml(('Epithelial', [square(24, 2, 30, 6), square(1, 1, 3, 3)])))
    instances, _, quirks = rasterise_regions(parse_monusac_xml(str(path)), (8, 24), str(path))
    assert set(np.unique(instances)) == {0, 2} and quirks == {CLIPPED: 1, HIDDEN: 1}


def test_slide_folder_without_barcode_named_then_skipped(tmp_path):
    raw = tmp_path / 'raw'
    write_monusac_raw(str(raw), train_patients=1, images_per_slide=1, shape=(40, 48),
                      splits=('train',))
    source = raw / TRAIN_FOLDER / 'TCGA-10-1000-01Z-00-DX1'
    shutil.copytree(source, raw / TRAIN_FOLDER / 'Abhijit_Lung')
    code, _, stderr = converter(raw, tmp_path / 'out')
    assert code == 1 and 'Abhijit_Lung' in stderr.splitlines()[0], stderr
    assert 'TCGA patient barcode' in stderr
    code, stdout, stderr = converter(raw, tmp_path / 'out', '--skip-bad')
    assert code == 0 and '1 bad inputs skipped' in stdout, stderr
    assert 'Abhijit_Lung' in (tmp_path / 'out' / 'skipped.csv').read_text()
