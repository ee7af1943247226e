"""Objects traced band by band are whole across band borders; the GeoJSON
rasterises back to the mask; the OME-TIFF reads back with levels and um/px;
the object table's areas are the pixel counts."""
import csv
import json

import numpy as np
import pytest
import tifffile
from skimage.draw import polygon as fill_polygon
from skimage.measure import label as reference_label

from crossspec_mmseg.inference import SlideOutputs, disk_mask, exports, trace_objects, write_outputs
from crossspec_mmseg.slides import SlideReader

SHAPE = (700, 900)
MPP = 0.5


@pytest.fixture(scope='module')
def mask():
    """Discs of two classes, a ring with a hole holding another class, a
    horseshoe that closes diagonally, and a band of rows spanning the width."""
    rng = np.random.default_rng(7)
    out = np.zeros(SHAPE, np.uint8)
    yy, xx = np.ogrid[:SHAPE[0], :SHAPE[1]]
    for _ in range(30):
        y, x, r = rng.integers(0, SHAPE[0]), rng.integers(0, SHAPE[1]), rng.integers(15, 70)
        out[(yy - y) ** 2 + (xx - x) ** 2 < r * r] = rng.integers(1, 3)
    out[40:200, 40:200] = 1
    out[80:160, 80:160] = 0
    out[110:130, 110:130] = 2
    out[600:690, 10:890] = 2  # one object over the whole width
    return out


def rasterise(rings, shape):
    """Independent even-odd fill of GeoJSON rings (pixel-corner coordinates)."""
    canvas = np.zeros(shape, bool)
    for ring in rings:
        ring = np.asarray(ring)
        rows, cols = fill_polygon(ring[:, 1] - 0.5, ring[:, 0] - 0.5, shape)
        canvas[rows, cols] ^= True
    return canvas


def signed_area(ring):
    """Shoelace area: positive for counter-clockwise rings in the (x, y) plane."""
    x, y = np.asarray(ring, float).T
    return (x @ np.roll(y, -1) - np.roll(x, -1) @ y) / 2


def truth_objects(mask):
    """Reference objects: 4-connected components per class, keyed by a pixel."""
    return {label: reference_label(mask == label, connectivity=1) for label in (1, 2)}


@pytest.mark.parametrize('band_rows', [SHAPE[0], 64, 7])
def test_band_borders_do_not_split_objects(mask, band_rows):
    bands = ((top, mask[top:top + band_rows]) for top in range(0, SHAPE[0], band_rows))
    objects = trace_objects(bands, SHAPE[1], tolerance=0)
    truth = truth_objects(mask)
    assert len(objects) == sum(t.max() for t in truth.values())
    for obj in objects:  # exact outlines: each object rasterises to its component
        canvas = rasterise(obj.rings, SHAPE)
        component = truth[obj.label][canvas]
        assert (component == component[0]).all() and component[0] > 0
        assert canvas.sum() == obj.area == (truth[obj.label] == component[0]).sum()
        x, y, w, h = obj.bbox
        assert canvas[y:y + h, x:x + w].sum() == obj.area


@pytest.mark.parametrize('seed', range(3))
@pytest.mark.parametrize('band_rows', [1, 7, 60])
def test_noisy_masks_match_scikit_image(seed, band_rows):
    """Speckle of three classes (diagonal contacts, holes, one-pixel objects):
    every object's exact outline, area, centroid, bbox and number against
    scikit-image's 4-connected labelling."""
    rng = np.random.default_rng(seed)
    mask = rng.choice(4, (60, 45), p=[0.45, 0.35, 0.1, 0.1]).astype(np.uint8)
    bands = ((top, mask[top:top + band_rows]) for top in range(0, 60, band_rows))
    objects = trace_objects(bands, 45, tolerance=0)
    truth = np.zeros(mask.shape, np.int64)
    for label in (1, 2, 3):
        component = reference_label(mask == label, connectivity=1)
        truth[component > 0] = component[component > 0] + truth.max()
    assert [obj.id for obj in objects] == list(range(1, truth.max() + 1))
    # Numbered as they end: each object by the band that reads the row below its
    # last (after the last band for the mask's last row), ties by first pixel.
    regions = np.arange(1, truth.max() + 1)
    first_pixel = [np.flatnonzero(truth == r)[0] for r in regions]
    last_row = [np.nonzero(truth == r)[0].max() for r in regions]
    ends = [(row + 1) // band_rows if row < 59 else 60 // band_rows + 1 for row in last_row]
    for obj, region in zip(objects, regions[np.lexsort((first_pixel, ends))]):
        pixels = truth == region
        assert (rasterise(obj.rings, mask.shape) == pixels).all()
        assert obj.label == mask[pixels][0] and obj.area == pixels.sum()
        ys, xs = np.nonzero(pixels)
        assert obj.centroid == pytest.approx((xs.mean() + 0.5, ys.mean() + 0.5))
        assert obj.bbox == (xs.min(), ys.min(), xs.max() + 1 - xs.min(), ys.max() + 1 - ys.min())
        # A ring per 8-connected region of the rest around the object (4-connected
        # objects meet diagonally only through the background): outer first.
        x, y, w, h = obj.bbox
        rest = np.pad(~pixels[y:y + h, x:x + w], 1, constant_values=True)
        assert len(obj.rings) == reference_label(rest, connectivity=2).max()
        areas = [signed_area(ring) for ring in obj.rings]
        assert areas[0] > 0 and all(a < 0 for a in areas[1:]) and sum(areas) == obj.area


@pytest.fixture(scope='module')
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


@pytest.fixture(scope='module')
def written(mask, tmp_path_factory, monkeypatch_module):
    folder = tmp_path_factory.mktemp('exports')
    monkeypatch_module.setattr(disk_mask, 'BAND_PIXELS', 50 * SHAPE[1])  # 14 bands
    outputs = SlideOutputs(geojson=str(folder / 'objects.geojson'),
                           ome_tiff=str(folder / 'mask.ome.tif'),
                           objects_csv=str(folder / 'objects.csv'),
                           classes=('background', 'glomerulus', 'tubule'),
                           palette=[[0, 0, 0], [255, 0, 0], [0, 0, 255]])
    write_outputs(mask, MPP, outputs)
    return outputs


def test_geojson_rasterises_back_to_each_object(mask, written):
    with open(written.geojson) as f:
        collection = json.load(f)
    assert collection['type'] == 'FeatureCollection'
    truth = truth_objects(mask)
    assert len(collection['features']) == sum(t.max() for t in truth.values())
    for feature in collection['features']:
        props = feature['properties']
        assert props['objectType'] == 'annotation'
        label = {'glomerulus': 1, 'tubule': 2}[props['classification']['name']]
        assert props['classification']['color'] == written.palette[label]
        rings = feature['geometry']['coordinates']
        assert feature['geometry']['type'] == 'Polygon'
        assert all(ring[0] == ring[-1] for ring in rings)  # closed, as GeoJSON requires
        canvas = rasterise(rings, SHAPE)
        ids, counts = np.unique(truth[label][canvas], return_counts=True)
        component = truth[label] == ids[np.argmax(counts)]
        iou = (component & canvas).sum() / (component | canvas).sum()
        assert iou >= 0.99  # simplified within 0.5 px


def test_object_table(mask, written):
    with open(written.objects_csv, newline='') as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == list(exports.CSV_COLUMNS)
    assert sum(int(r['area_px']) for r in rows) == int((mask > 0).sum())
    for row in rows:
        assert float(row['area_um2']) == pytest.approx(int(row['area_px']) * MPP ** 2)
        assert float(row['perimeter_um']) == pytest.approx(float(row['perimeter_px']) * MPP,
                                                           abs=0.01)
        x, y = float(row['centroid_x']), float(row['centroid_y'])
        assert int(row['bbox_x']) <= x <= int(row['bbox_x']) + int(row['bbox_width'])
        assert int(row['bbox_y']) <= y <= int(row['bbox_y']) + int(row['bbox_height'])
    wide = [r for r in rows if int(r['bbox_x']) <= 10 and int(r['bbox_width']) >= 880 - int(
        r['bbox_x'])]  # the band over the whole width, crossing 2 band borders
    assert len(wide) == 1 and wide[0]['class'] == 'tubule'


def test_ome_tiff_reads_back_with_levels_and_mpp(mask, written):
    with tifffile.TiffFile(written.ome_tiff) as tif:
        assert tif.is_ome
        levels = tif.series[0].levels
        assert [lv.shape for lv in levels] == [(700, 900), (350, 450)]
        assert (levels[0].asarray() == mask).all()
        assert (levels[1].asarray() == mask[::2, ::2]).all()
        assert tif.pages[0].is_tiled and tif.pages[0].compression == 8  # zlib
    with SlideReader(written.ome_tiff) as reader:
        assert reader.mpp == pytest.approx(MPP) and len(reader.levels) == 2
