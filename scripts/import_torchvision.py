#!/usr/bin/env python3
"""import_torchvision.py — a torchvision vgg16 or alexnet state_dict as dctrain HDF5 weights.

    scripts/import_torchvision.py IN.pth OUT.h5 --arch vgg16|alexnet [--net NET.net]

Reads IN.pth (a state_dict as torch.save(model.state_dict()) writes it, e.g. torchvision's
vgg16-397923af.pth / alexnet-owt-7be5be79.pth; also a whole saved model, a checkpoint
dict holding "state_dict", and DataParallel's "module." prefixes) and writes OUT.h5 in
dctrain's checkpoint layout: /params/<layer>/weight and /params/<layer>/bias (float32)
and /meta/format, as `dctrain import caffe` and `dctrain export` do, so `weights =`,
--weights and `dctrain eval` take it.

torchvision's modules are mapped to the dctrain layer names by position (features.0 ->
conv1_1, classifier.6 -> fc8, ...; see MAPS), and every tensor's shape is checked against
the shapes NET.net gives (default nets/vgg16.net, nets/alexnet-torchvision.net): a tensor
the net lacks, a layer the file lacks and a wrong shape are one-line errors. Layouts need no
conversion: torch's conv weight is (out, in/groups, kh, kw) and its linear weight (out, in)
like dctrain's, and torch flattens the last feature map in (C, H, W) order, which is how
dctrain's fc reads a 4-D input.

Writing is atomic (OUT.h5.tmp, then renamed). Needs python3-torch (to unpickle the
.pth) and python3-h5py. Exit status 0, 1 on a bad file (one line on stderr), 2 on bad
arguments.
"""
import argparse
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FORMAT = "dctrain-checkpoint 1"  # /meta/format of dctrain checkpoints (dc/ckpt.h)

# torchvision module -> dctrain layer, in the order of torchvision's model definitions
# (torchvision/models/vgg.py cfg "D", torchvision/models/alexnet.py).
MAPS = {
    "vgg16": {
        "net": "nets/vgg16.net",
        "layers": [("features.0", "conv1_1"), ("features.2", "conv1_2"),
                   ("features.5", "conv2_1"), ("features.7", "conv2_2"),
                   ("features.10", "conv3_1"), ("features.12", "conv3_2"), ("features.14", "conv3_3"),
                   ("features.17", "conv4_1"), ("features.19", "conv4_2"), ("features.21", "conv4_3"),
                   ("features.24", "conv5_1"), ("features.26", "conv5_2"), ("features.28", "conv5_3"),
                   ("classifier.0", "fc6"), ("classifier.3", "fc7"), ("classifier.6", "fc8")],
    },
    "alexnet": {
        "net": "nets/alexnet-torchvision.net",
        "layers": [("features.0", "conv1"), ("features.3", "conv2"), ("features.6", "conv3"),
                   ("features.8", "conv4"), ("features.10", "conv5"),
                   ("classifier.1", "fc6"), ("classifier.4", "fc7"), ("classifier.6", "fc8")],
    },
}


class Refused(Exception):
    """A one-line reason the import cannot go on."""


def parse_net(path):
    """The weighted layers of a dctrain net file: {name: (weight shape, bias shape or None)}
    in file order, by the same shape rules as dctrain (conv output floor((in+2p-k)/s)+1,
    pooling rounded up as in Caffe, fc flattening its input)."""
    try:
        text = open(path, encoding="utf-8").read()
    except OSError as e:
        raise Refused(f"{path}: cannot open: {e.strerror}")
    sections = []
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = re.sub(r"(^|\s)[#;].*$", "", raw).strip()
        if not line:
            continue
        m = re.fullmatch(r"\[([a-z0-9_./-]+)\]", line)
        if m:
            sections.append((m.group(1), {}, lineno))
        elif "=" in line and sections:
            k, v = line.split("=", 1)
            sections[-1][1][k.strip()] = v.strip()
        else:
            raise Refused(f"{path}:{lineno}: cannot read '{raw.strip()}'")
    if not sections or sections[0][0] != "input":
        raise Refused(f"{path}: the first section must be [input]")

    def num(sec, key, default=None):
        kind, kv, lineno = sec
        if key not in kv:
            if default is None:
                raise Refused(f"{path}:{lineno}: [{kind}] needs {key}")
            return default
        try:
            return int(kv[key])
        except ValueError:
            raise Refused(f"{path}:{lineno}: [{kind}] {key}: expected an integer, got '{kv[key]}'")

    c, h, w = (num(sections[0], k) for k in ("channels", "height", "width"))
    layers = {}
    for sec in sections[1:]:
        kind, kv, lineno = sec
        if kind == "conv":
            o, k, s, p, g = (num(sec, "num_output"), num(sec, "kernel"), num(sec, "stride", 1),
                             num(sec, "pad", 0), num(sec, "group", 1))
            bias = kv.get("bias_term", "true") != "false"
            layers[kv["name"]] = ((o, c // g, k, k), (o,) if bias else None)
            c, h, w = o, (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
        elif kind == "fc":
            o = num(sec, "num_output")
            bias = kv.get("bias_term", "true") != "false"
            layers[kv["name"]] = ((o, c * h * w), (o,) if bias else None)
            c, h, w = o, 1, 1
        elif kind in ("maxpool", "avgpool"):
            k = num(sec, "kernel")
            s, p = num(sec, "stride", k), num(sec, "pad", 0)
            h, w = (h + 2 * p - k + s - 1) // s + 1, (w + 2 * p - k + s - 1) // s + 1
    return layers


def load_state_dict(path):
    try:
        import torch
    except ImportError:
        raise Refused("PyTorch is needed to read .pth files (Debian: apt-get install python3-torch)")
    try:
        obj = torch.load(path, map_location="cpu")
    except FileNotFoundError:
        raise Refused(f"{path}: cannot open: No such file or directory")
    except Exception as e:  # a truncated or foreign file: torch raises many kinds
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise Refused(f"{path}: not a PyTorch state_dict: {first}")
    if isinstance(obj, torch.nn.Module):
        obj = obj.state_dict()
    if isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict) or not all(torch.is_tensor(v) for v in obj.values()):
        raise Refused(f"{path}: not a PyTorch state_dict (a dict of tensors)")
    return {re.sub(r"^module\.", "", k): v for k, v in obj.items()}


def convert(sd, arch, net_path, in_path):
    """[(dctrain param name, float32 numpy array)] after every check."""
    want = parse_net(net_path)
    mapping = MAPS[arch]["layers"]
    targets = [layer for _, layer in mapping]
    for name in want:
        if name not in targets:
            raise Refused(f"{net_path}: weighted layer '{name}' is not one of torchvision {arch}'s "
                               f"({', '.join(targets)})")
    expected = {f"{module}.{part}" for module, layer in mapping
                for part, shape in zip(("weight", "bias"), want.get(layer, ((), None))) if shape is not None}
    extra = [k for k in sd if k not in expected]
    if extra:
        raise Refused(f"{in_path}: {extra[0]} ({len(extra)} tensor(s) in all) has no place in "
                      f"{net_path}: not a plain torchvision {arch} (batch norm? another net?)")
    out = []
    for module, layer in mapping:
        if layer not in want:
            raise Refused(f"{net_path}: has no weighted layer '{layer}' (torchvision {arch}'s {module})")
        for part, shape in zip(("weight", "bias"), want[layer]):
            key = f"{module}.{part}"
            if shape is None:
                continue
            if key not in sd:
                raise Refused(f"{in_path}: no {key} (dctrain layer '{layer}'): not a torchvision {arch}?")
            t = sd[key]
            if tuple(t.shape) != tuple(shape):
                have = "x".join(map(str, t.shape)) or "()"
                raise Refused(f"{in_path}: {key} is {have}, expected {'x'.join(map(str, shape))} "
                              f"for '{layer}' of {net_path}")
            if not t.is_floating_point():
                raise Refused(f"{in_path}: {key} holds {t.dtype}, not floating-point numbers")
            out.append((f"{layer}/{part}", t.detach().to("cpu").float().contiguous().numpy()))
    return out


def write_h5(path, params):
    try:
        import h5py
        import numpy as np
    except ImportError as e:
        raise Refused(f"{e.name} is needed to write HDF5 files (Debian: apt-get install python3-h5py)")
    tmp = path + ".tmp"
    try:
        with h5py.File(tmp, "w") as f:
            f.create_dataset("meta/format", data=np.bytes_(FORMAT.encode()))
            for name, a in params:
                f.create_dataset("params/" + name, data=a, dtype="<f4")
        fd = os.open(tmp, os.O_RDONLY)  # on disk before the rename makes it visible
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except OSError as e:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise Refused(f"{path}: cannot write: {e.strerror or e}")


def main(argv=None):
    ap = argparse.ArgumentParser(
        prog="import_torchvision.py",
        description="Write a torchvision vgg16/alexnet state_dict as dctrain HDF5 weights "
                    "(/params/<layer>/weight|bias), checked against a dctrain net file.")
    ap.add_argument("input", metavar="IN.pth", help="torchvision state_dict (torch.save(model.state_dict()))")
    ap.add_argument("output", metavar="OUT.h5", help="dctrain weights, written atomically")
    ap.add_argument("--arch", required=True, choices=sorted(MAPS), help="the torchvision model")
    ap.add_argument("--net", metavar="NET.net",
                    help="dctrain net to check against (default: nets/vgg16.net or nets/alexnet-torchvision.net)")
    a = ap.parse_args(argv)
    net = a.net or os.path.join(ROOT, MAPS[a.arch]["net"])
    try:
        try:
            import h5py  # noqa: F401  (fail before the long load, not after it)
        except ImportError:
            raise Refused("h5py is needed to write HDF5 files (Debian: apt-get install python3-h5py)")
        sd = load_state_dict(a.input)
        params = convert(sd, a.arch, net, a.input)
        write_h5(a.output, params)
    except Refused as e:
        print(f"import_torchvision.py: {e}", file=sys.stderr)
        return 1
    n = sum(p.size for _, p in params)
    layers = sum(name.endswith("/weight") for name, _ in params)
    print(f"{a.input} (torchvision {a.arch}): {layers} weighted layers, {n} parameters "
          f"checked against {net} -> {a.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
