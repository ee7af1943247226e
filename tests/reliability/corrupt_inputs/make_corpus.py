"""Regenerate the corrupt-input corpus in this folder (committed; run once).

    python tests/reliability/corrupt_inputs/make_corpus.py
"""
import json
import os
import os.path as osp
import sqlite3
import struct

import cv2
import numpy as np
import tifffile

HERE = osp.dirname(osp.abspath(__file__))


def java_point_blob() -> bytes:
    """A valid Java serialisation stream of a java.awt.Point (not an Orbit shape)."""
    def utf(s):
        return struct.pack('>H', len(s)) + s.encode()
    return (b'\xac\xed\x00\x05' + b'\x77\x04' + struct.pack('>i', -256)
            + b'\x73\x72' + utf('java.awt.Point') + struct.pack('>q', -5276940640259749850)
            + b'\x02' + struct.pack('>H', 2) + b'I' + utf('x') + b'I' + utf('y')
            + b'\x78\x70' + struct.pack('>ii', 3, 4))


def main():
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)
    ok, png = cv2.imencode('.png', rgb)
    open(osp.join(HERE, 'truncated.png'), 'wb').write(png.tobytes()[:len(png) * 6 // 10])
    tifffile.imwrite(osp.join(HERE, 'full.tiff'), rng.integers(0, 255, (256, 256, 3), np.uint8),
                     photometric='rgb', tile=(64, 64))
    data = open(osp.join(HERE, 'full.tiff'), 'rb').read()
    open(osp.join(HERE, 'truncated.tiff'), 'wb').write(data[:len(data) // 3])
    os.remove(osp.join(HERE, 'full.tiff'))
    open(osp.join(HERE, 'empty'), 'wb').close()
    cv2.imwrite(osp.join(HERE, 'gray16.png'), (rgb[..., 0].astype(np.uint16) * 257))
    cv2.imwrite(osp.join(HERE, 'rgb_mask.png'), rgb)
    labels = np.zeros((64, 64), np.uint8)
    labels[10:20, 10:20], labels[30:40, 30:40], labels[50:, 50:] = 1, 7, 255
    cv2.imwrite(osp.join(HERE, 'labels_beyond.png'), labels)
    cv2.imwrite(osp.join(HERE, 'small_mask.png'), labels[:32, :48])
    feature = {'type': 'Feature', 'properties': {'classification': {'name': 'Cortex'}}}
    json.dump([dict(feature, geometry={'type': 'Polygon'})],
              open(osp.join(HERE, 'no_coordinates.json'), 'w'))
    open(osp.join(HERE, 'nan_coordinates.json'), 'w').write(json.dumps([dict(
        feature, geometry={'type': 'Polygon',
                           'coordinates': [[[0, 0], [10, 0], [10, float('nan')], [0, 0]]]})]))
    db = osp.join(HERE, 'not_orbit.db')
    if osp.exists(db):
        os.remove(db)
    sqlite3.connect(db).execute('CREATE TABLE OTHER (A INTEGER)').connection.commit()
    open(osp.join(HERE, 'java_point.bin'), 'wb').write(java_point_blob())


if __name__ == '__main__':
    main()
