#!/usr/bin/env python3
"""torch_logits.py — proof that imported weights compute what they computed at home,
without ImageNet: seeded random-weight models, imported, and dctrain's logits on the same
input tensors compared with PyTorch's. Run by ctest (cmake/import.cmake):

  torch_logits.py torchvision   torchvision's vgg16 (batch 1) and alexnet (batch 2) built by
                                torch with seeded random weights, saved as state_dicts,
                                imported by scripts/import_torchvision.py; dctrain's fc8
                                against torchvision's forward. Also: the parameter shapes of
                                nets/vgg16.net and nets/alexnet-torchvision.net are exactly
                                torchvision's, and the script's error paths.
  torch_logits.py caffe         nets/alexnet.net (Caffe's AlexNet: groups, LRN) with seeded
                                random weights, written through protobuf-c as a .caffemodel in
                                the `layer` format (BlobShape) and the V1 `layers` format
                                (legacy 4-D shapes), imported with `dctrain import caffe`
                                (bit-exact against the written weights), and dctrain's fc8
                                against a torch forward of the imported HDF5 built from the
                                Caffe net's definition (groups=2 convs, Caffe's LRN).

What is compared: the pre-softmax scores of fc8 (dc_forward reads the output of the layer
before softmax_loss), in eval mode (dropout off). The measured max |difference| is printed
beside max |logit| and asserted against TOL (relative to max |logit|), set to three to four
times what was measured on the reference machine; see README "Bringing trained weights
in". Exit 0 pass, 1 fail, 77 skipped (ctest shows the reason) when torch, torchvision,
h5py or numpy is missing or dctrain was built without protobuf-c.

Environment (set by ctest): DC_SOURCE_DIR, DC_DCTRAIN, DC_FORWARD (tests/import/dc_forward),
DC_CAFFE_WRITE (tests/import/caffe_write_tool; absent without protobuf-c). With
DC_SANITIZED=1 (scripts/test.sh's AddressSanitizer pass) vgg16 and the `layer`-format
caffemodel are left to the plain build: they run the same C code as the cases kept.
"""
import contextlib
import io
import os
import shutil
import subprocess
import sys
import tempfile
import time

SKIP = 77
# scripts/test.sh's second pass (AddressSanitizer + UBSan build): the same C code on fewer
# big models, to keep CI short
SANITIZED = os.environ.get("DC_SANITIZED") == "1"
# max |dctrain - torch| / max |torch logit| allowed; measured figures in README
TOL = {"vgg16": 1e-5, "alexnet": 1e-5, "caffe-alexnet": 1e-5}

try:
    import h5py
    import numpy as np
    import torch
    import torchvision
except ImportError as e:
    print(f"skipped: {sys.executable} cannot import {e.name} (Debian: python3-torch python3-torchvision "
          f"python3-h5py python3-numpy)")
    sys.exit(SKIP)

SRC = os.environ.get("DC_SOURCE_DIR", os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
sys.path.insert(0, os.path.join(SRC, "scripts"))
import import_torchvision as itv  # noqa: E402

FAILED = []


def check(ok, what):
    print(("ok    " if ok else "FAIL  ") + what, flush=True)
    if not ok:
        FAILED.append(what)


def run(cmd, expect=0):
    """Run cmd; return (exit status, stdout + stderr). A status other than expect fails."""
    p = subprocess.run(cmd, capture_output=True, text=True)
    out = p.stdout + p.stderr
    if expect is not None and p.returncode != expect:
        raise SystemExit(f"FAIL  {' '.join(cmd)} exited {p.returncode}, expected {expect}:\n{out}")
    return p.returncode, out


def tool(var):
    path = os.environ.get(var)
    if not path or not os.path.exists(path):
        raise SystemExit(f"FAIL  ${var} is not set to a built program (run under ctest)")
    return path


def write_input(path, x):
    with h5py.File(path, "w") as f:
        f.create_dataset("input", data=x.numpy().astype("<f4"))


def dctrain_logits(net, weights, inputs, tmp):
    """dctrain's fc8 outputs, and the net's parameter shapes as parse_shapes gives them."""
    out = os.path.join(tmp, "out.h5")
    _, text = run([tool("DC_FORWARD"), net, weights, inputs, out])
    with h5py.File(out, "r") as f:
        return torch.from_numpy(f["logits"][...]), parse_shapes(text)


def compare(name, ours, ref):
    diff = (ours - ref).abs().max().item()
    scale = ref.abs().max().item()
    rel = diff / scale
    top = (ours.argmax(1) == ref.argmax(1)).all().item()
    check(rel <= TOL[name] and top,
          f"{name}: max |dctrain - torch| = {diff:.3g} with max |logit| {scale:.3g}: relative {rel:.2g} "
          f"(tolerance {TOL[name]:.0e}), same top-1: {top}")


def reinit(model, seed):
    """Seeded weights that keep activations O(1) through ReLU stacks (uniform, variance
    2/fan_in) and biases large enough to matter (uniform in [-1, 1)): torchvision's own
    init leaves biases at 0, which would hide a swapped bias."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)):
                fan_in = m.weight[0].numel()
                a = (6.0 / fan_in) ** 0.5
                m.weight.copy_((torch.rand(m.weight.shape, generator=g) * 2 - 1) * a)
                m.bias.copy_(torch.rand(m.bias.shape, generator=g) * 2 - 1)


def parse_shapes(out):
    """({param name: shape}, total) of a dctrain net as dctrain builds it, from the lines
    dc_forward prints."""
    shapes, total = {}, None
    for line in out.split("\n"):
        if not line:
            continue
        name, dims = line.split()
        if name == "total":
            total = int(dims)
        else:
            shapes[name] = tuple(int(d) for d in dims.split("x"))
    return shapes, total


def torchvision_case(arch, batch, tmp):
    net = os.path.join(SRC, itv.MAPS[arch]["net"])
    t0 = time.time()
    torch.manual_seed(1)
    model = getattr(torchvision.models, arch)()
    reinit(model, 2)
    model.eval()
    sd = model.state_dict()

    pth, h5 = os.path.join(tmp, f"{arch}.pth"), os.path.join(tmp, f"{arch}.h5")
    torch.save(sd, pth)
    _, out = run([sys.executable, os.path.join(SRC, "scripts", "import_torchvision.py"), pth, h5, "--arch", arch])
    print("      " + out.strip())
    with h5py.File(h5, "r") as f:
        same = all(np.array_equal(f["params/" + k][...], sd[f"{m}.{p}"].numpy())
                   for m, layer in itv.MAPS[arch]["layers"] for p in ("weight", "bias") for k in [f"{layer}/{p}"])
        check(same and f["meta/format"][()] == itv.FORMAT.encode(),
              f"{arch}: the HDF5 holds the state_dict's values bit for bit and /meta/format")

    g = torch.Generator().manual_seed(3)
    x = torch.randn((batch, 3, 224, 224), generator=g)  # a normalized image's range
    inputs = os.path.join(tmp, "inputs.h5")
    write_input(inputs, x)
    with torch.no_grad():
        ref = model(x)
    ours, (shapes, total) = dctrain_logits(net, h5, inputs, tmp)
    compare(arch, ours, ref)
    # the net file's parameters are torchvision's, one for one
    mapped = {f"{layer}/{part}": tuple(sd[f"{module}.{part}"].shape)
              for module, layer in itv.MAPS[arch]["layers"] for part in ("weight", "bias")}
    n_torch = sum(p.numel() for p in model.parameters())
    check(shapes == mapped and total == n_torch and len(mapped) == len(sd),
          f"{arch}: {os.path.relpath(net, SRC)} has torchvision's {len(sd)} parameter tensors, "
          f"{n_torch} parameters, same shapes (dctrain: {total})")

    for f in (pth, h5):
        os.unlink(f)
    print(f"      ({time.time() - t0:.1f} s)")
    return sd if arch == "alexnet" else None


def script_errors(tmp, sd):
    """import_torchvision.py refuses what does not fit, in one line, leaving OUT alone."""
    out_h5 = os.path.join(tmp, "keep.h5")

    def call(args):
        """itv.main in this process (a new python would spend a second importing torch):
        its exit status and its stderr."""
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            try:
                code = itv.main(args)
            except SystemExit as e:  # argparse
                code = e.code
        return code, err.getvalue()

    def expect_error(name, obj, want, arch="alexnet", raw=None):
        pth = os.path.join(tmp, "bad.pth")
        if raw is not None:
            open(pth, "wb").write(raw)
        else:
            torch.save(obj, pth)
        open(out_h5, "w").write("old")
        code, out = call([pth, out_h5, "--arch", arch])
        line = out.strip()
        check(code == 1 and want in line and "\n" not in line and open(out_h5).read() == "old"
              and not os.path.exists(out_h5 + ".tmp"), f"script refuses {name}: {line}")

    small = {"features.0.weight": sd["features.0.weight"], "features.0.bias": sd["features.0.bias"]}
    expect_error("a missing layer", small, "no features.3.weight (dctrain layer 'conv2')")
    expect_error("an extra tensor", dict(small, **{"features.1.running_mean": torch.zeros(64)}),
                 "features.1.running_mean (1 tensor(s) in all) has no place in")
    expect_error("a mis-shaped tensor", {"features.0.weight": torch.zeros(64, 3, 5, 5)},
                 "features.0.weight is 64x3x5x5, expected 64x3x11x11 for 'conv1'")
    expect_error("vgg16 weights as alexnet", {"features.0.weight": torch.zeros(64, 3, 3, 3)},
                 "features.0.weight is 64x3x3x3, expected 64x3x11x11")
    buf = os.path.join(tmp, "whole.pth")
    torch.save(small, buf)
    raw = open(buf, "rb").read()
    expect_error("a truncated file", None, "not a PyTorch state_dict", raw=raw[: len(raw) // 2])
    expect_error("a file that is no .pth", None, "not a PyTorch state_dict", raw=b"[input]\nchannels = 3\n")
    code, out = call([os.path.join(tmp, "absent.pth"), out_h5, "--arch", "alexnet"])
    check(code == 1 and "cannot open" in out, f"script: a missing file: {out.strip()}")
    code, out = call([buf, out_h5, "--arch", "resnet50"])
    check(code == 2 and "invalid choice" in out, "script: an unknown --arch is a usage error (exit 2)")


def caffe_forward(W, x):
    """Caffe's AlexNet (bvlc_alexnet deploy.prototxt) in torch, from an imported HDF5:
    ReLU then LRN (local_size 5, alpha 1e-4, beta 0.75, k 1: torch's local_response_norm
    divides alpha by the size as Caffe does) then max pooling 3/2 rounded up, grouped
    conv2/4/5, fc on the (C, H, W)-flattened last feature map."""
    F = torch.nn.functional

    def conv(x, n, stride=1, pad=0, groups=1):
        return F.conv2d(x, W[n + "/weight"], W[n + "/bias"], stride, pad, 1, groups)

    def fc(x, n):
        return F.linear(x, W[n + "/weight"], W[n + "/bias"])

    def lrn(x):
        return F.local_response_norm(x, size=5, alpha=1e-4, beta=0.75, k=1.0)

    def pool(x):
        return F.max_pool2d(x, 3, 2, ceil_mode=True)

    x = pool(lrn(F.relu(conv(x, "conv1", stride=4))))
    x = pool(lrn(F.relu(conv(x, "conv2", pad=2, groups=2))))
    x = F.relu(conv(x, "conv3", pad=1))
    x = F.relu(conv(x, "conv4", pad=1, groups=2))
    x = pool(F.relu(conv(x, "conv5", pad=1, groups=2)))
    x = F.relu(fc(x.flatten(1), "fc6"))
    x = F.relu(fc(x, "fc7"))
    return fc(x, "fc8")


def caffe_case(tmp):
    writer = os.environ.get("DC_CAFFE_WRITE")
    if not writer:
        print("skipped: dctrain was built without protobuf-c (no caffemodel writer)")
        sys.exit(SKIP)
    net = os.path.join(SRC, "nets", "alexnet.net")
    g = torch.Generator().manual_seed(4)
    x = (torch.rand((2, 3, 227, 227), generator=g) * 2 - 1) * 128  # BGR pixels minus the mean
    inputs = os.path.join(tmp, "inputs.h5")
    write_input(inputs, x)
    formats = [("layer", [], "`layer` format, BlobShape shapes"),
               ("v1", ["legacy"], "V1 `layers` format, legacy num/channels/height/width")]
    if SANITIZED:
        formats = formats[1:]
        print("      (sanitizer build: the V1 format only; test_import_caffe covers every format there)")
    for fmt, extra, what in formats:
        t0 = time.time()
        model, ref_h5, h5 = (os.path.join(tmp, n) for n in ("alexnet.caffemodel", "ref.h5", "imported.h5"))
        run([writer, net, model, ref_h5, "5", fmt] + extra)
        _, out = run([tool("DC_DCTRAIN"), "import", "caffe", model, h5, "--net", net])
        print("      " + out.strip())
        with h5py.File(h5, "r") as a, h5py.File(ref_h5, "r") as b:
            names = []
            a["params"].visit(lambda n: names.append(n) if isinstance(a["params"][n], h5py.Dataset) else None)
            same = len(names) == 16 and all(np.array_equal(a["params"][n][...], b["params"][n][...]) for n in names)
            W = {n: torch.from_numpy(a["params"][n][...]) for n in names}
        check(same, f"caffe ({what}): the import holds the written blobs bit for bit (16 tensors)")
        with torch.no_grad():
            ref = caffe_forward(W, x)
        ours, _ = dctrain_logits(net, h5, inputs, tmp)
        compare("caffe-alexnet", ours, ref)
        for f in (model, ref_h5, h5):
            os.unlink(f)
        print(f"      ({time.time() - t0:.1f} s)")


def main():
    if len(sys.argv) != 2 or sys.argv[1] not in ("torchvision", "caffe"):
        print("usage: torch_logits.py torchvision|caffe", file=sys.stderr)
        return 2
    torch.set_num_threads(1)  # ctest runs two tests at a time on two cores
    tmp = tempfile.mkdtemp(prefix="dc_torch_logits_")
    try:
        if sys.argv[1] == "torchvision":
            sd = torchvision_case("alexnet", 2, tmp)
            script_errors(tmp, sd)
            if SANITIZED:
                print("      (sanitizer build: vgg16 left to the plain build; it runs the same code as alexnet)")
            else:
                torchvision_case("vgg16", 1, tmp)
        else:
            caffe_case(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if FAILED:
        print(f"{len(FAILED)} check(s) failed")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
