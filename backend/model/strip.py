#!/usr/bin/env python3
"""Write botocore's ElastiCache model here with its doc strings removed.

Usage: python3 backend/model/strip.py   (uses the installed botocore; 1.44.8 when last run)
Only `documentation` keys go; everything else, and its order, is botocore's.
"""
import gzip
import json
import os

import botocore

src = os.path.join(os.path.dirname(botocore.__file__), "data/elasticache/2015-02-02/service-2.json")
opener = gzip.open if not os.path.exists(src) else open
model = json.load(opener(src + (".gz" if opener is gzip.open else ""), "rt"))


def strip(o):
    if isinstance(o, dict):
        return {k: strip(v) for k, v in o.items() if k != "documentation"}
    if isinstance(o, list):
        return [strip(v) for v in o]
    return o


dst = os.path.join(os.path.dirname(os.path.abspath(__file__)), "elasticache-2015-02-02.json")
with open(dst, "w") as f:
    f.write(json.dumps(strip(model), indent=1))
print(f"{dst}: botocore {botocore.__version__}, {len(model['operations'])} operations")
