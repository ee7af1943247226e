"""Typed nuclei on slides (issue 26 §5): a synthetic slide with known nuclei
(touching, of one type, across tile cores' borders and the slide's edges)
predicted by stub models of both routes, whose probabilities are the
slide's colours: every nucleus comes back exactly once with its type, in
the GeoJSON (valid polygons, detections, classification names), the CSV,
the OME-TIFF's type channel and the summary's densities (by hand); objects
are streamed; tools/infer_slide.py runs both routes on tiny configs."""
import csv
import json
import weakref

import numpy as np
import pytest
import tifffile
import torch
from mmseg.models import SegDataPreProcessor

from crossspec_mmseg.converters.nuinsseg import contour_target
from crossspec_mmseg.demo import write_pyramid
from crossspec_mmseg.inference import (
    TYPED_CSV_COLUMNS,
    NucleusTypes,
    SlideOutputs,
    TypedNuclei,
    infer_slide,
    typed_nuclei,
)
from crossspec_mmseg.structures import LabelTree, TypedContourWatershed

TREE = LabelTree.build('nucleus')
LEAVES = TREE.leaves
MPP = 0.5
SHAPE = (176, 240)
TISSUE_WIDTH = 192  # columns of tissue; glass to the right (a multiple of the tissue map's block)
#: (x, y, radius, leaf) at scale 1. Tiles of 64 px at overlap 0.5 own x in [0, 48), [48, 80),
#: [80, 112), [112, 144), [144, 176), [176, 200), [200, 240); y in [0, 48), [48, 80),
#: [80, 112), [112, 136), [136, 176).
NUCLEI = [
    (43, 60, 5, 'lymphocyte'), (54, 60, 5, 'lymphocyte'),  # touching, one type, across x = 48
    (100, 75, 5, 'neoplastic_epithelial'), (100, 86, 5, 'neoplastic_epithelial'),
    (111, 86, 5, 'neoplastic_epithelial'),  # three touching, across y = 80 and near x = 112
    (80, 112, 6, 'fibroblast'),  # on the corner of four cores
    (4, 20, 4, 'macrophage'), (30, 171, 4, 'necrotic'),  # at the slide's edges
    (139, 30, 5, 'normal_epithelial'), (150, 30, 5, 'lymphocyte'),  # touching, two types
    (60, 131, 5, 'fibroblast'), (60, 142, 5, 'fibroblast'),  # touching, across y = 136
    (20, 140, 6, 'fibroblast'), (130, 150, 5, 'macrophage'), (170, 100, 5, 'neoplastic_epithelial'),
    (60, 20, 6, 'normal_epithelial'), (178, 140, 6, 'lymphocyte')]
#: The stub's colour per channel of a typed contour head: background, the 13 types, boundary.
PALETTE = np.array([
    (230, 150, 200), (255, 128, 0), (200, 0, 0), (0, 160, 0), (0, 0, 200), (200, 200, 0),
    (0, 200, 200), (128, 0, 128), (255, 0, 255), (100, 60, 0), (0, 90, 160), (160, 255, 160),
    (120, 200, 40), (255, 255, 120), (40, 0, 80)], np.float32)
GLASS = (245, 245, 245)


def draw(scale=1):
    """``(rgb, instance ids, leaf per id)``; ``scale`` multiplies every length
    (the boundary is ``scale`` px wide)."""
    height, width = SHAPE[0] * scale, SHAPE[1] * scale
    ids = np.zeros((height, width), np.int32)
    yy, xx = np.mgrid[:height, :width]
    for k, (x, y, r, _) in enumerate(NUCLEI, start=1):
        disc = (xx - x * scale) ** 2 + (yy - y * scale) ** 2 <= (r * scale) ** 2
        assert not ids[disc].any()  # no two nuclei overlap
        ids[disc] = k
    leaves = np.array([0] + [LEAVES.index(n[3]) for n in NUCLEI])
    contour = contour_target(ids, scale)
    rgb = np.empty((height, width, 3), np.uint8)
    rgb[:] = GLASS
    rgb[:, :TISSUE_WIDTH * scale] = PALETTE[0]
    inside = contour == 1
    rgb[inside] = PALETTE[leaves[ids[inside]]]
    rgb[contour == 2] = PALETTE[-1]
    return rgb, ids, leaves


@pytest.fixture(scope='module')
def slide(tmp_path_factory):
    rgb, ids, leaves = draw()
    path = str(tmp_path_factory.mktemp('typed') / 'slide.tif')
    write_pyramid(path, rgb, 'generic', MPP, downsamples=(1,), tile=64, compression='zlib')
    return path, ids, leaves


def channels(inputs):
    """Per pixel of RGB inputs ``(N, 3, h, w)``: the nearest palette channel
    (glass counts as background)."""
    colours = torch.from_numpy(np.concatenate([PALETTE, np.float32([GLASS])]))
    distance = ((inputs.float()[:, None] - colours[None, :, :, None, None]) ** 2).sum(2)
    nearest = distance.argmin(1)
    return torch.where(nearest == len(PALETTE), 0, nearest)


class ContourStub:
    """Route a: a typed contour head whose softmax is the slide's colours
    (10 logits for the pixel's channel): no context, so every tile sees the
    same probabilities the whole slide would."""

    def __init__(self, min_size=4):
        self.data_preprocessor = SegDataPreProcessor(mean=[0, 0, 0], std=[1, 1, 1],
                                                     bgr_to_rgb=True)
        self.instance_postprocess = TypedContourWatershed(min_size=min_size)
        self.calls = 0

    def inference(self, inputs, metas):
        self.calls += 1
        nearest = channels(inputs)
        return torch.nn.functional.one_hot(nearest, len(PALETTE)).permute(0, 3, 1, 2) * 10.0


class StarStub(ContourStub):
    """Route b: a StarDist segmentor's raw maps (object probability logit,
    star distances, leaf logits) computed from each tile's colours: its
    instances from the colours (the contour watershed), their star targets
    (stardist's helpers), the leaves of the interiors' colours."""

    n_rays = 32

    def __init__(self):
        super().__init__()
        self.postprocess_cfg = dict(prob_thresh=0.5, nms_thresh=0.4, border=2,
                                    candidate_stride=1, types_include_background=False,
                                    keep_star_dist=False)

    def inference(self, inputs, metas):
        from crossspec_mmseg.datasets.transforms.star_targets import star_targets
        self.calls += 1
        nearest = channels(inputs)
        maps = []
        for tile in nearest:
            probs = torch.nn.functional.one_hot(tile, len(PALETTE)).permute(2, 0, 1).float()
            ids, _ = self.instance_postprocess(probs.numpy())
            prob, dist = star_targets(ids, self.n_rays)
            prob = torch.logit(torch.from_numpy(prob).clamp(1e-4, 1 - 1e-4))
            leaves = torch.nn.functional.one_hot(tile.clamp(max=len(LEAVES) - 1) * (tile < 14),
                                                 len(LEAVES)).permute(2, 0, 1) * 10.0
            maps.append(torch.cat([prob[None], torch.from_numpy(dist).permute(2, 0, 1),
                                   leaves.float()]))
        return torch.stack(maps)


STUBS = dict(contour=ContourStub, stardist=StarStub)


def predict(slide, folder, route='contour', label_set=None, **kwargs):
    """Run a stub over the slide with every output; the paths and the result."""
    path = slide[0] if isinstance(slide, tuple) else slide
    out = dict(mask=folder / 'slide.tif', geojson=folder / 'slide.geojson',
               csv=folder / 'slide_objects.csv', ome=folder / 'slide.ome.tif',
               summary=folder / 'slide_nuclei.json')
    outputs = SlideOutputs(geojson=str(out['geojson']), objects_csv=str(out['csv']),
                           ome_tiff=str(out['ome']), tolerance=0)
    kwargs = dict(dict(tile=64, overlap=0.5, batch=3), **kwargs)
    result = infer_slide(STUBS[route](), path, str(out['mask']), outputs=outputs,
                         typed=TypedNuclei(label_set=label_set, summary=str(out['summary'])),
                         **kwargs)
    return out, result


def truth_table(ids, leaves, label_set=None, scale=1):
    """Per true nucleus: centroid (level-0 pixel corners), area, its label."""
    types = NucleusTypes(label_set=label_set)
    mapping = np.arange(len(LEAVES)) if label_set is None else TREE.leaf_to_label(
        label_set).numpy()
    rows = []
    for k in range(1, ids.max() + 1):
        ys, xs = np.nonzero(ids == k)
        rows.append(dict(x=xs.mean() + 0.5, y=ys.mean() + 0.5, area=len(xs),
                         label=int(mapping[leaves[k]])))
    return rows, types


def match(found, truth, tolerance=1.5):
    """Each truth row's found row (by centroid within ``tolerance`` px): one to one."""
    pairs = {}
    for i, t in enumerate(truth):
        near = [j for j, f in enumerate(found)
                if np.hypot(f['x'] - t['x'], f['y'] - t['y']) <= tolerance]
        assert len(near) == 1, f'true nucleus {i} at {t} found {len(near)} times'
        pairs[i] = near[0]
    assert len(set(pairs.values())) == len(found) == len(truth)
    return pairs


@pytest.fixture(scope='module')
def runs(slide, tmp_path_factory):
    """Each (route, label set) run once for the tests that read its outputs."""
    cache = {}

    def get(route, label_set=None):
        if (route, label_set) not in cache:
            folder = tmp_path_factory.mktemp(f'{route}_{label_set}')
            cache[route, label_set] = predict(slide, folder, route, label_set)
        return cache[route, label_set]
    return get


@pytest.mark.parametrize('route, label_set', [('contour', None), ('contour', 'pannuke'),
                                              ('stardist', None), ('stardist', 'monusac')])
def test_each_nucleus_once_with_its_type(slide, runs, route, label_set):
    """CSV rows = the true nuclei, one each (touching ones of one type apart,
    those across cores' borders once), with their types, areas, um columns,
    probabilities; the mask is the type map; the summary's densities are the
    counts over the tissue area computed by hand."""
    _, ids, leaves = slide
    out, result = runs(route, label_set)
    truth, types = truth_table(ids, leaves, label_set)
    with open(out['csv']) as f:
        rows = list(csv.DictReader(f))
    columns = [f'prob_{types.names[j]}' for j in types.columns]
    assert list(rows[0]) == [*TYPED_CSV_COLUMNS, *columns]
    found = [dict(x=float(r['centroid_x']), y=float(r['centroid_y']), row=r) for r in rows]
    # MoNuSAC never labels fibroblasts: they are its background, left out as the metric does.
    expected = [t for t in truth if t['label'] != types.background]
    pairs = match(found, expected)
    mask = tifffile.imread(out['mask'])
    for i, j in pairs.items():
        t, row = expected[i], found[j]['row']
        assert int(row['type_id']) == t['label'] and row['type'] == types.names[t['label']]
        probs = np.array([float(row[c]) for c in columns])
        assert probs.sum() == pytest.approx(1, abs=1e-3)
        assert columns[probs.argmax()] == f'prob_{row["type"]}'
        assert float(row['probability']) == pytest.approx(probs.max(), abs=1e-4)
        area = int(row['area_px'])
        assert abs(area - t['area']) <= 0.25 * t['area']
        assert float(row['area_um2']) == pytest.approx(area * MPP ** 2, abs=1e-3)
        assert float(row['centroid_x_um']) == pytest.approx(float(row['centroid_x']) * MPP,
                                                            abs=1e-2)
        assert mask[int(t['y']), int(t['x'])] == t['label']  # the mask is the type map
    assert [int(r['id']) for r in rows] == list(range(1, len(rows) + 1))
    # The summary: counts per type over the tissue (the slide's left 192 columns) in mm^2.
    summary = json.loads(out['summary'].read_text())
    tissue_mm2 = SHAPE[0] * TISSUE_WIDTH * MPP ** 2 / 1e6
    assert summary['tissue_area_mm2'] == pytest.approx(tissue_mm2)
    assert summary['nuclei'] == len(expected) == result.nuclei['nuclei']
    assert summary['not_in_label_set'] == len(truth) - len(expected)
    for j in types.columns:
        count = sum(t['label'] == j for t in expected)
        entry = summary['types'][types.names[j]]
        assert entry['count'] == count and entry['id'] == j
        assert entry['per_mm2'] == pytest.approx(count / tissue_mm2)
    assert summary['nuclei_per_mm2'] == pytest.approx(len(expected) / tissue_mm2)


@pytest.mark.parametrize('route, label_set', [('contour', 'pannuke'), ('stardist', 'monusac')])
def test_geojson_detections_read_back_with_shapely(slide, runs, route, label_set):
    """Valid polygons whose areas are the table's (exact outlines), detections
    classified by name and colour in the label set."""
    import shapely.geometry as shapely  # a reader we did not write (requirements/tests.txt)
    out, _ = runs(route, label_set)
    collection = json.loads(out['geojson'].read_text())
    with open(out['csv']) as f:
        rows = {r['id']: r for r in csv.DictReader(f)}
    types = NucleusTypes(label_set=label_set)
    assert len(collection['features']) == len(rows) > 0
    for feature in collection['features']:
        props = feature['properties']
        row = rows[feature['id']]
        assert props['objectType'] == 'detection'
        assert props['classification']['name'] == row['type']
        assert props['classification']['color'] == types.colours[int(row['type_id'])]
        assert set(props['measurements']) == {f'prob_{types.names[j]}' for j in types.columns}
        shape = shapely.shape(feature['geometry'])
        assert shape.is_valid and shape.area == int(row['area_px'])
        x, y, w, h = (int(row[k]) for k in ('bbox_x', 'bbox_y', 'bbox_width', 'bbox_height'))
        assert shape.bounds == (x, y, x + w, y + h)
        assert shape.centroid.distance(shapely.Point(float(row['centroid_x']),
                                                     float(row['centroid_y']))) < 1e-6


def test_ome_tiff_holds_nuclei_and_type_channels(slide, runs):
    out, _ = runs('contour')
    mask = tifffile.imread(out['mask'])
    with tifffile.TiffFile(out['ome']) as tif:
        series = tif.series[0]
        assert series.axes == 'CYX' and series.shape == (2, *SHAPE)
        nuclei, type_map = series.asarray()
    np.testing.assert_array_equal(type_map, mask)
    assert set(np.unique(nuclei)) == {0, 1, 2} and ((nuclei > 0) == (mask > 0)).all()
    # Touching nuclei of one type stay apart in the nuclei channel: outlines between them.
    _, ids, _ = slide
    assert nuclei[60, 48] == 2 and nuclei[60, 49] == 2 and nuclei[60, 43] == 1
    import ome_types
    pixels = ome_types.from_tiff(str(out['ome'])).images[0].pixels
    assert [c.name for c in pixels.channels] == ['nuclei', 'type']
    assert pixels.physical_size_x == pytest.approx(MPP) and pixels.size_c == 2


def test_device_thresholds_equal_the_post_processor():
    """Route a's tests on the device, the watershed on their masks and the
    means summed on the device give what TypedContourWatershed gives on the
    same probabilities."""
    rng = np.random.default_rng(0)
    rgb, _, _ = draw()
    tiles = np.ascontiguousarray(rgb[:96, :96].transpose(2, 0, 1)[None])
    noise = torch.from_numpy(rng.normal(0, 2.5, (1, len(PALETTE), 96, 96)).astype(np.float32))

    class Noisy(ContourStub):
        def inference(self, inputs, metas):
            return super().inference(inputs, metas) + noise

    model = Noisy(min_size=3)
    decoder = typed_nuclei._ContourDecoder(model, typed_nuclei.TilePredictor(model))
    ((_, ids, means),) = list(decoder(tiles))
    probs = model.inference(torch.from_numpy(tiles).float(), None).softmax(1)[0].numpy()
    expected_ids, expected_means = model.instance_postprocess(probs)
    assert ids.max() > 5
    np.testing.assert_array_equal(ids, expected_ids)
    np.testing.assert_allclose(means.numpy(), expected_means, atol=1e-5)


def test_objects_are_streamed_not_held(slide, tmp_path, monkeypatch):
    """Nuclei reach the GeoJSON as their tile finishes: the first is written
    before the last forward pass, and no more than a tile's nuclei are alive
    at any write."""
    events, written = [], []
    real = typed_nuclei.typed_geojson_file

    def spying(*args, **kwargs):
        import contextlib

        @contextlib.contextmanager
        def wrapped():
            with real(*args, **kwargs) as add:
                def spy(nucleus):
                    written.append(weakref.ref(nucleus))
                    events.append(('write', sum(ref() is not None for ref in written)))
                    add(nucleus)
                yield spy
        return wrapped()

    class Counting(ContourStub):
        def inference(self, inputs, metas):
            events.append(('forward', 0))
            return super().inference(inputs, metas)

    monkeypatch.setattr(typed_nuclei, 'typed_geojson_file', spying)
    monkeypatch.setitem(STUBS, 'contour', Counting)
    predict(slide, tmp_path, batch=1)
    kinds = [kind for kind, _ in events]
    writes = kinds.count('write')
    assert writes == len(NUCLEI)
    assert kinds.index('write') < len(kinds) - 1 - kinds[::-1].index('forward')
    assert max(n for kind, n in events if kind == 'write') <= 5  # at most one tile's nuclei


def test_model_at_half_the_slides_resolution(tmp_path):
    """scale 0.5 (a 0.25 um/px slide, a 0.5 um/px model): nuclei decided on
    32 px tiles come back at level 0, once each, with their types."""
    rgb, ids, leaves = draw(scale=2)
    path = str(tmp_path / 'fine.tif')
    write_pyramid(path, rgb, 'generic', MPP / 2, downsamples=(1,), tile=64, compression='zlib')
    out, result = predict(path, tmp_path, tile=64, scale=0.5)
    assert result.shape == ids.shape
    truth, _ = truth_table(ids, leaves)
    with open(out['csv']) as f:
        rows = list(csv.DictReader(f))
    found = [dict(x=float(r['centroid_x']), y=float(r['centroid_y']), row=r) for r in rows]
    for i, j in match(found, truth, tolerance=3).items():
        assert int(found[j]['row']['type_id']) == truth[i]['label']
    summary = json.loads(out['summary'].read_text())
    assert summary['tissue_area_mm2'] == pytest.approx(
        SHAPE[0] * TISSUE_WIDTH * 4 * (MPP / 2) ** 2 / 1e6)


@pytest.mark.parametrize('route', ['contour', 'stardist'])
def test_flip_tta_finds_the_same_nuclei(slide, runs, tmp_path, route):
    """The stubs are flip-equivariant, so TTA (route b: rays permuted) changes
    no nucleus nor type."""
    plain, _ = runs(route)
    flipped, _ = predict(slide, tmp_path, route, tta=True)
    read = []
    for out in (plain, flipped):
        with open(out['csv']) as f:
            read.append(list(csv.DictReader(f)))
    assert len(read[0]) == len(read[1]) == len(NUCLEI)
    for a, b in zip(*read):
        assert a['type'] == b['type']
        assert abs(float(a['centroid_x']) - float(b['centroid_x'])) < 1
        assert abs(float(a['centroid_y']) - float(b['centroid_y'])) < 1


def test_refusals_and_failures_leave_nothing(slide, tmp_path, monkeypatch):
    with pytest.raises(ValueError, match='no label set .*known: leaves.*pannuke'):
        TypedNuclei(label_set='kidney')
    with pytest.raises(ValueError, match='not blended'):
        predict(slide, tmp_path, blend='gaussian')

    class Plain(ContourStub):
        instance_postprocess = None

        def __init__(self):
            super().__init__()
            self.instance_postprocess = None
    with pytest.raises(ValueError, match='decides instances'):
        infer_slide(Plain(), slide[0], str(tmp_path / 'x.tif'), tile=64,
                    typed=TypedNuclei())
    assert not (tmp_path / 'x.tif').exists()

    class Broken(ContourStub):  # fails after two batches: nuclei were written already
        def inference(self, inputs, metas):
            if self.calls == 2:
                raise RuntimeError('out of memory')
            return super().inference(inputs, metas)
    monkeypatch.setitem(STUBS, 'contour', Broken)
    with pytest.raises(RuntimeError, match='out of memory'):
        predict(slide, tmp_path / 'broken')
    assert list((tmp_path / 'broken').iterdir()) == []  # no output, no scratch left


#: Tiny typed configs, self-contained (no dataset), random weights.
ROUTE_CONFIGS = dict(contour='''
mpp = 0.5  # as configs/_base_/datasets/nuclei_common.py: the tool reads slides at it
norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
    type='CrossSpeciesEncoderDecoder',
    data_preprocessor=dict(type='SegDataPreProcessor', mean=[123.675, 116.28, 103.53],
                           std=[58.395, 57.12, 57.375], bgr_to_rgb=True, pad_val=0,
                           seg_pad_val=255),
    backbone=dict(type='ResNetV1c', depth=18, base_channels=8, stem_channels=8,
                  out_indices=(0, 1, 2, 3), strides=(1, 2, 2, 2), dilations=(1, 1, 1, 1),
                  norm_cfg=norm_cfg, contract_dilation=True),
    decode_head=dict(type='FCNHead', in_channels=64, in_index=3, channels=8, num_convs=1,
                     concat_input=False, num_classes=15, norm_cfg=norm_cfg,
                     align_corners=False, loss_decode=dict(type='CrossEntropyLoss')),
    instance_postprocess=dict(type='TypedContourWatershed', min_size=10),
    train_cfg=dict(), test_cfg=dict(mode='whole'))
''', stardist='''
norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
    type='StarDistSegmentor',
    data_preprocessor=dict(type='SegDataPreProcessor', mean=[0, 0, 0], std=[1, 1, 1],
                           pad_val=0, seg_pad_val=255, size_divisor=16),
    backbone=dict(type='ResNetV1c', depth=18, base_channels=8, stem_channels=8,
                  out_indices=(0, 1, 2, 3), strides=(1, 2, 2, 2), dilations=(1, 1, 1, 1),
                  norm_cfg=norm_cfg, contract_dilation=True),
    decode_head=dict(type='StarDistHead', in_channels=[8, 16, 32, 64], channels=8,
                     decoder_channels=(16, 16, 8, 8), n_rays=8, num_classes=14,
                     norm_cfg=norm_cfg, dropout_ratio=0.0,
                     loss_decode=dict(type='HierarchicalFocalDiceLoss', label_tree='nucleus')),
    train_cfg=dict(),
    test_cfg=dict(mode='whole', prob_thresh=0.5, nms_thresh=0.4, border=1, candidate_stride=4))
''')


def write_route_checkpoint(route, folder):
    """The route's config and a checkpoint of its random weights (StarDist: the
    object probability and rays set constant, 0.7 and 8 px, so the untrained
    head finds nuclei)."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS
    config = folder / f'{route}.py'
    config.write_text(ROUTE_CONFIGS[route])
    init_default_scope('mmseg')
    torch.manual_seed(0)
    model = MODELS.build(Config.fromfile(str(config)).model)
    if route == 'stardist':
        head = model.decode_head
        for conv, bias in ((head.conv_prob, float(np.log(0.7 / 0.3))), (head.conv_dist, 8.0)):
            torch.nn.init.zeros_(conv.weight)
            torch.nn.init.constant_(conv.bias, bias)
    checkpoint = folder / f'{route}.pth'
    torch.save(dict(state_dict=model.state_dict(), meta=dict()), str(checkpoint))
    return str(config), str(checkpoint)


@pytest.mark.heavy
def test_cli_both_routes_on_tiny_random_configs(slide, tmp_path):
    """tools/infer_slide.py picks the typed path from the config: route a to a
    mask path (read at the config's mpp), route b into a folder with
    --label-set; the outputs parse, the summary is in the JSON line and the
    folder; --label-set on a class-mask config is refused before the model loads."""
    from helpers import TINY_CONFIG, run_tool
    outputs = ['--geojson', '--objects-csv', '--ome-tiff']
    records = {}
    for route, out, flags in (('contour', tmp_path / 'a' / 'slide.tif', []),
                              ('stardist', tmp_path / 'b', ['--label-set', 'pannuke'])):
        config, checkpoint = write_route_checkpoint(route, tmp_path)
        proc = run_tool(['tools/infer_slide.py', config, checkpoint, slide[0], '--out', str(out),
                         '--tile', '128', *outputs, *flags], str(tmp_path), fresh=False)
        records[route] = record = json.loads(proc.stdout.strip().splitlines()[-1])
        assert record['nuclei_summary'].endswith('slide_nuclei.json')
        with open(record['nuclei_summary']) as f:
            assert json.load(f) == record['nuclei']
        with open(record['geojson']) as f:
            collection = json.load(f)
        with open(record['objects_csv']) as f:
            rows = list(csv.DictReader(f))
        assert len(collection['features']) == len(rows) == record['nuclei']['nuclei']
        assert all(f['properties']['objectType'] == 'detection' for f in collection['features'])
        with tifffile.TiffFile(record['ome_tiff']) as tif:
            assert tif.series[0].shape == (2, *SHAPE)
        assert tifffile.imread(record['mask']).shape == SHAPE
    assert records['contour']['read_mpp'] == MPP  # the config's mpp
    assert records['stardist']['nuclei']['label_set'] == 'pannuke'
    assert records['stardist']['nuclei']['nuclei'] > 10
    assert set(records['stardist']['nuclei']['types']) == {
        'neoplastic', 'inflammatory', 'connective', 'dead', 'epithelial'}
    proc = run_tool(['tools/infer_slide.py', TINY_CONFIG, checkpoint, slide[0], '--out',
                     str(tmp_path / 'c.tif'), '--label-set', 'pannuke'], str(tmp_path),
                    check=False, fresh=False)
    assert proc.returncode == 1 and 'is not a typed nuclei model' in proc.stderr
    assert not (tmp_path / 'c.tif').exists()
