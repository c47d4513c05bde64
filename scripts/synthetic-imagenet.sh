#!/usr/bin/env bash
# scripts/synthetic-imagenet.sh — write a small synthetic ImageNet-layout tree of real
# JPEG files, for running experiments/alexnet.cfg and vgg16.cfg without ImageNet:
#
#   DIR/train/<wnid>/<wnid>_<k>.JPEG                 training images, class folders
#   DIR/val/<wnid>/ILSVRC2012_val_<8 digits>.JPEG    validation images, class folders
#   DIR/val.txt                                      Caffe list of val: "<wnid>/<file> <label>"
#
# The val images sit in class folders (so the default [data] reading works), and val.txt
# lists the same files relative to DIR/val with their labels (so `val_list = val.txt`
# reads them too, as Caffe's list of ImageNet's flat val/ would be read). Labels are the
# class indices in sorted wnid order, which is the order dctrain gives the train/
# folders. Class names look like ImageNet's WordNet ids (n + 8 digits).
#
# Like ImageNet: sizes from 150 to 500 pixels a side with aspect ratios 1:2 to 2:1,
# JPEG qualities 70-95 (some 4:4:4, some progressive), about 1 in 12 images greyscale
# JPEGs (at least one per split), and in each split one PNG file named .JPEG. Each class has its own colour,
# stripe direction and frequency under per-image noise, brightness and phase, so a net
# can learn something. The tree is a pure function of the arguments (seed included).
#
# usage: scripts/synthetic-imagenet.sh DIR [--classes N] [--per-class M]
#                                          [--val-per-class V] [--seed S]
#   --classes N        classes (default 10)
#   --per-class M      training images per class (default 20)
#   --val-per-class V  val images per class (default max(2, M/5))
#   --seed S           seed (default 1)
# DIR must not exist: the tree is written to DIR.partial and renamed when complete.
# Needs python3 with numpy and PIL (Debian: python3-numpy python3-pil).
set -euo pipefail

usage() { sed -n '/^# usage:/,/^# Needs/p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
[ $# -ge 1 ] || usage
dir=$1
shift
classes=10 per=20 val="" seed=1
while [ $# -gt 0 ]; do
  case $1 in
    --classes) classes=${2:?--classes needs a value}; shift 2 ;;
    --per-class) per=${2:?--per-class needs a value}; shift 2 ;;
    --val-per-class) val=${2:?--val-per-class needs a value}; shift 2 ;;
    --seed) seed=${2:?--seed needs a value}; shift 2 ;;
    -h|--help) usage ;;
    *) echo "synthetic-imagenet.sh: unknown argument '$1'" >&2; usage ;;
  esac
done
for v in "$classes" "$per" "$seed" ${val:+"$val"}; do
  [[ $v =~ ^[0-9]+$ ]] || { echo "synthetic-imagenet.sh: expected a non-negative integer, got '$v'" >&2; exit 2; }
done
[ "$classes" -ge 1 ] && [ "$per" -ge 1 ] || { echo "synthetic-imagenet.sh: --classes and --per-class must be >= 1" >&2; exit 2; }
[ -n "$val" ] || val=$(( per / 5 > 2 ? per / 5 : 2 ))
if [ -e "$dir" ]; then echo "synthetic-imagenet.sh: $dir exists; remove it or choose another DIR" >&2; exit 1; fi

# An interpreter with numpy and PIL: python3 on the PATH, else Debian's own.
py=""
for cand in python3 /usr/bin/python3; do
  if command -v "$cand" >/dev/null 2>&1 && "$cand" -c 'import numpy, PIL' 2>/dev/null; then py=$cand; break; fi
done
[ -n "$py" ] || { echo "synthetic-imagenet.sh: needs python3 with numpy and PIL (apt-get install python3-numpy python3-pil)" >&2; exit 1; }

rm -rf "$dir.partial"
"$py" - "$dir.partial" "$classes" "$per" "$val" "$seed" <<'PY'
import os, sys
import numpy as np
from PIL import Image, ImageFile

ImageFile.MAXBLOCK = 1 << 24  # progressive JPEGs are written in one block

out, ncls, per, nval, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
wnids = ["n%08d" % (1440764 + 12347 * c) for c in range(ncls)]  # sorted order = class index

def rng(*key):
    """A generator for one part of the tree: a pure function of (seed, key)."""
    return np.random.RandomState(np.random.SeedSequence([seed] + list(key)).generate_state(1)[0])

def class_style(c):
    r = rng(0, c)
    colour = r.uniform(40, 215, 3)
    angle = r.uniform(0, np.pi)
    freq = r.uniform(2, 9)          # stripes across the image
    return colour, angle, freq

styles = [class_style(c) for c in range(ncls)]

def picture(c, key):
    r = rng(1, *key)
    colour, angle, freq = styles[c]
    short = r.randint(150, 376)
    aspect = np.exp(r.uniform(np.log(0.5), np.log(2.0)))
    w, h = (int(short * aspect), short) if aspect >= 1 else (short, int(short / aspect))
    w, h = min(max(w, 64), 500), min(max(h, 64), 500)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    t = (xx * np.cos(angle) + yy * np.sin(angle)) / max(w, h)
    wave = 0.6 + 0.4 * np.sin(2 * np.pi * freq * t + r.uniform(0, 2 * np.pi))
    img = colour[None, None, :] * wave[:, :, None] * r.uniform(0.8, 1.2)
    img += r.normal(0, 18, (h, w, 3))
    return Image.fromarray(np.clip(img, 0, 255).astype(np.uint8), "RGB"), r

def save(img, r, path, png=False, grey=False):
    tmp = path + ".tmp"
    if png:
        img.save(tmp, format="PNG")  # a PNG behind a .JPEG name, as ImageNet has one
    else:
        if r.randint(12) == 0 or grey:
            img = img.convert("L")   # greyscale JPEG
        img.save(tmp, format="JPEG", quality=int(r.randint(70, 96)),
                 subsampling=0 if r.randint(4) == 0 else 2, progressive=bool(r.randint(6) == 0))
    os.replace(tmp, path)

for split in ("train", "val"):
    for w in wnids:
        os.makedirs(os.path.join(out, split, w))
count = 0
for c, w in enumerate(wnids):
    for k in range(per):
        img, r = picture(c, (0, c, k))
        save(img, r, os.path.join(out, "train", w, "%s_%d.JPEG" % (w, k + 1)),
             png=(c == 0 and k == 2 % per), grey=(c == ncls - 1 and k == 0))
        count += 1
# val: numbered over a seeded order of all val images, like ILSVRC2012_val_*
order = [(c, k) for c in range(ncls) for k in range(nval)]
perm = rng(2).permutation(len(order))
lines = []
for num, i in enumerate(perm):
    c, k = order[i]
    name = "ILSVRC2012_val_%08d.JPEG" % (num + 1)
    img, r = picture(c, (1, c, k))
    save(img, r, os.path.join(out, "val", wnids[c], name), png=(num == 1 % len(order)), grey=(num == 0))
    lines.append("%s/%s %d\n" % (wnids[c], name, c))
    count += 1
with open(os.path.join(out, "val.txt.tmp"), "w") as f:
    f.writelines(lines)
os.replace(os.path.join(out, "val.txt.tmp"), os.path.join(out, "val.txt"))
print("synthetic-imagenet: %d classes, %d train + %d val images" % (ncls, ncls * per, len(order)))
PY
mv "$dir.partial" "$dir"
echo "synthetic-imagenet: wrote $dir (train/, val/, val.txt)"
