#!/usr/bin/python3
"""PyTorch peer for dctrain's benchmark: LeNet-5, LeNet-300-100, AlexNet and VGG-16 throughput and peak RSS.

What it measures
    The nets dctrain trains, built in PyTorch, on random inputs of their shape, with softmax
    cross-entropy and SGD momentum 0.9, weight decay 5e-4:
      lenet5    Caffe's LeNet, 1x28x28, 10 classes: conv 20 5x5 -> maxpool 2/2 -> conv 50 5x5 -> maxpool 2/2
                -> fc 500 -> ReLU -> fc 10   (1x28x28 -> 20x24x24 -> 20x12x12 -> 50x8x8 -> 50x4x4 = 800 -> 500 -> 10)
      lenet300  1x28x28, 10 classes: 784 -> 300 -> ReLU -> 100 -> ReLU -> 10
      alexnet   Caffe's AlexNet (nets/alexnet.net), rebuilt layer for layer: 3x227x227, conv1 96 11x11/4, ReLU,
                LRN 5 (alpha 1e-4, beta 0.75), maxpool 3/2; conv2 256 5x5 pad 2 groups 2, ReLU, LRN, maxpool;
                conv3 384 3x3; conv4 384 groups 2; conv5 256 groups 2 (each + ReLU), maxpool; fc6 4096, ReLU,
                dropout; fc7 4096, ReLU, dropout; fc8 1000. (Not torchvision's alexnet, which is another net.)
      vgg16     torchvision.models.vgg16() (random weights), 3x224x224, 1000 classes: exactly nets/vgg16.net
    Default batch: 64 for lenet5, lenet300 and alexnet, 16 for vgg16 (--batch overrides).
    For each net and mode, after a warm-up, images/s over a fixed time (or iteration count) per repeat,
    median of several repeats:
      train  forward + loss + backward + optimizer step (train mode)
      infer  forward only, eval mode, under torch.no_grad()
    Then the peak RSS of this process (resource.getrusage ru_maxrss); it includes the PyTorch import
    itself (about 226 MiB of it) and the largest of the nets run; no data set is held.

Which Python
    Debian's torch (apt-get install python3-torch) only imports under Debian's /usr/bin/python3, not a
    pyenv python3 that may come first in PATH, hence the shebang and the invocations below.

Which BLAS (the fair peer)
    Debian's torch resolves sgemm_ from whatever libblas.so.3 the dynamic linker finds; the system
    alternative may be the reference BLAS, about 4x slower. The fair peer selects the OpenMP build of
    OpenBLAS (apt-get install libopenblas0-openmp) for this one process only, without touching the
    system alternative, by putting its directory first on LD_LIBRARY_PATH. OPENBLAS_CORETYPE and
    OPENBLAS_L2_SIZE, if set in the environment, are unset for this command only, so OpenBLAS picks
    its kernel by probing the CPU:

        env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE \\
            LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} \\
            /usr/bin/python3 scripts/bench_torch.py --threads 2 --net all

    The script checks what was really loaded (dlsym of sgemm_ through libtorch_cpu's own handle, then
    dladdr of that address, cross-checked with /proc/self/maps) and, with --blas openblas-openmp (the
    default), refuses to benchmark against any other BLAS. --blas any measures whatever is loaded
    (e.g. the reference BLAS, for comparison). Note that installing libopenblas0-openmp also moves the
    libblas.so.3 / liblapack.so.3 alternatives in auto mode to it (priority 95); the LD_LIBRARY_PATH
    selection makes the run independent of where the alternative points.
    Where the time goes: the convolutions run in oneDNN (Debian's libdnnl2, jit:avx512_core, the same
    library dctrain uses; DNNL_VERBOSE=1 shows it), the fully connected layers in OpenBLAS's sgemm.

Output (stdout), one record per line, every line starts with "torch":
    torch version 1.13.0a0                       informational lines: torch KEY VALUE
    torch blas /usr/lib/x86_64-linux-gnu/openblas-openmp/libblas.so.3     the file providing sgemm_
    torch blas_mapped /usr/lib/.../openblasp-r0.3.21.so   each BLAS/LAPACK file in /proc/self/maps
    torch blas_core SkylakeX                     OpenBLAS's kernel (openblas_get_corename), if OpenBLAS
    torch threads 2
    torch sgemm_gflops 160.2                     with --sgemm: GFLOP/s of a 4096^3 torch.mm (best of 5)
    torch batch lenet5 64                        the batch of each net run
    torch gflop_per_image lenet5 0.0046 0.0136   GFLOP of one image's forward, and of its training step
                                                 (forward + backward-data but into the input + backward-weights;
                                                 conv and linear layers only)
    torch lenet5 train 4512.3                    figures: torch NET MODE IMAGES_PER_S (4 fields)
    torch lenet5 infer 15000.0
    torch peak_rss_mib 512.0
    A shell benchmark can take the figures with: awk '$1 == "torch" && NF == 4 { print $2, $3, $4 }'
    Exit status: 0 on success, 2 on a bad option or when the requested BLAS is not the one loaded.
"""

import argparse
import ctypes
import ctypes.util
import os
import re
import resource
import statistics
import sys
import time

OPENMP_OPENBLAS_DIR = "/usr/lib/x86_64-linux-gnu/openblas-openmp"
NETS = ("lenet5", "lenet300", "alexnet", "vgg16")
# per net: input (C, H, W), classes, default batch, default warm-up iterations
SHAPES = {"lenet5": ((1, 28, 28), 10, 64, 20), "lenet300": ((1, 28, 28), 10, 64, 20),
          "alexnet": ((3, 227, 227), 1000, 64, 3), "vgg16": ((3, 224, 224), 1000, 16, 2)}


def parse_args(argv):
    p = argparse.ArgumentParser(description="PyTorch peer for dctrain's benchmark.")
    p.add_argument("--net", choices=NETS + ("all",), default="all")
    p.add_argument("--batch", type=int, default=0, help="batch (default: 64, VGG-16 16)")
    p.add_argument("--sgemm", action="store_true",
                   help="first measure the BLAS's sgemm rate (4096^3, best of 5): torch sgemm_gflops X")
    p.add_argument("--mode", choices=("train", "infer", "all"), default="all")
    p.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (default 2)")
    p.add_argument("--warmup", type=int, default=-1,
                   help="untimed iterations before each measurement (default 20, AlexNet 3, VGG-16 2)")
    p.add_argument("--seconds", type=float, default=1.0,
                   help="timed seconds per repeat (used unless --iters is given)")
    p.add_argument("--iters", type=int, default=0, help="timed iterations per repeat (overrides --seconds)")
    p.add_argument("--repeats", type=int, default=5, help="repeats; the median is reported")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--blas", choices=("openblas-openmp", "any"), default="openblas-openmp",
                   help="refuse to run unless this BLAS is the one torch calls (default openblas-openmp)")
    a = p.parse_args(argv)
    if a.threads < 1 or a.warmup < -1 or a.repeats < 1 or a.iters < 0 or a.seconds <= 0 or a.batch < 0:
        p.error("--threads and --repeats must be >= 1, --warmup, --iters and --batch >= 0, --seconds > 0")
    return a


class DlInfo(ctypes.Structure):
    """glibc's Dl_info, filled by dladdr()."""
    _fields_ = [("dli_fname", ctypes.c_char_p), ("dli_fbase", ctypes.c_void_p),
                ("dli_sname", ctypes.c_char_p), ("dli_saddr", ctypes.c_void_p)]


def mapped_files():
    """Paths of the shared objects mapped into this process, from /proc/self/maps."""
    paths = set()
    with open("/proc/self/maps") as f:
        for line in f:
            fields = line.split(None, 5)
            if len(fields) == 6 and fields[5].startswith("/"):
                paths.add(fields[5].strip())
    return paths


def blas_in_use(torch):
    """Which file provides the sgemm_ that libtorch_cpu calls, and OpenBLAS's kernel name if any.

    Returns (path, corename or None). sgemm_ is looked up through libtorch_cpu's own handle (its
    dependency order: that is how its undefined sgemm_ was bound), then dladdr names the file.
    """
    lib_dir = os.path.join(os.path.dirname(torch.__file__), "lib")
    torch_cpu = ctypes.CDLL(os.path.join(lib_dir, "libtorch_cpu.so"), mode=os.RTLD_NOLOAD | os.RTLD_LAZY)
    addr = ctypes.cast(torch_cpu.sgemm_, ctypes.c_void_p).value
    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    libc.dladdr.argtypes = [ctypes.c_void_p, ctypes.POINTER(DlInfo)]
    info = DlInfo()
    if not libc.dladdr(addr, ctypes.byref(info)) or not info.dli_fname:
        return ("unknown", None)
    path = os.path.realpath(info.dli_fname.decode())
    corename = None
    try:
        blas = ctypes.CDLL(path, mode=os.RTLD_NOLOAD | os.RTLD_LAZY)
        blas.openblas_get_corename.restype = ctypes.c_char_p
        corename = blas.openblas_get_corename().decode()
    except (OSError, AttributeError):
        pass  # not OpenBLAS (e.g. the reference BLAS): no kernel name to report
    return (path, corename)


def build_net(torch, name):
    nn = torch.nn
    if name == "lenet5":
        return nn.Sequential(
            nn.Conv2d(1, 20, 5), nn.MaxPool2d(2, 2),       # 20x24x24 -> 20x12x12
            nn.Conv2d(20, 50, 5), nn.MaxPool2d(2, 2),      # 50x8x8 -> 50x4x4
            nn.Flatten(), nn.Linear(800, 500), nn.ReLU(), nn.Linear(500, 10))
    if name == "lenet300":
        return nn.Sequential(
            nn.Flatten(), nn.Linear(784, 300), nn.ReLU(), nn.Linear(300, 100), nn.ReLU(), nn.Linear(100, 10))
    if name == "alexnet":
        # Caffe's LRN divides alpha by the size, as torch's local_response_norm does
        lrn = lambda: nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=1.0)
        return nn.Sequential(
            nn.Conv2d(3, 96, 11, stride=4), nn.ReLU(), lrn(), nn.MaxPool2d(3, 2),             # 96x55x55 -> 27
            nn.Conv2d(96, 256, 5, padding=2, groups=2), nn.ReLU(), lrn(), nn.MaxPool2d(3, 2),  # 256x27x27 -> 13
            nn.Conv2d(256, 384, 3, padding=1), nn.ReLU(),
            nn.Conv2d(384, 384, 3, padding=1, groups=2), nn.ReLU(),
            nn.Conv2d(384, 256, 3, padding=1, groups=2), nn.ReLU(), nn.MaxPool2d(3, 2),        # 256x13x13 -> 6
            nn.Flatten(), nn.Linear(9216, 4096), nn.ReLU(), nn.Dropout(0.5),
            nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(0.5), nn.Linear(4096, 1000))
    import torchvision
    return torchvision.models.vgg16()


def flops_per_image(torch, net, shape):
    """Multiply-adds x 2 of one image's forward pass through the conv and linear layers (the
    rest is noise at this size), and of a training step: forward, backward-data (not into the
    first layer's input) and backward-weights, each as many as the forward of its layer."""
    nn = torch.nn
    per = []

    def hook(m, inp, out):
        if isinstance(m, nn.Conv2d):
            k = m.kernel_size[0] * m.kernel_size[1] * (m.in_channels // m.groups)
            per.append(2.0 * k * out[0].numel())
        elif isinstance(m, nn.Linear):
            per.append(2.0 * m.in_features * m.out_features)

    handles = [m.register_forward_hook(hook) for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    with torch.no_grad():
        net.eval()
        net(torch.zeros(1, *shape))
    for h in handles:
        h.remove()
    fwd = sum(per)
    return fwd, 3 * fwd - per[0]


def sgemm_gflops(torch, n=4096, repeats=5):
    """Best GFLOP/s of an n x n x n float32 matrix product (torch.mm: the BLAS torch calls)."""
    a, b = torch.rand(n, n), torch.rand(n, n)
    torch.mm(a, b)
    best = 0.0
    for _ in range(repeats):
        t0 = time.perf_counter()
        torch.mm(a, b)
        best = max(best, 2.0 * n ** 3 / (time.perf_counter() - t0) / 1e9)
    return best


def measure(step, args, batch, warmup):
    """Median images/s of step() (one batch) over args.repeats timed runs after `warmup` calls."""
    for _ in range(warmup):
        step()
    rates = []
    for _ in range(args.repeats):
        n = 0
        t0 = time.perf_counter()
        while True:
            step()
            n += 1
            elapsed = time.perf_counter() - t0
            if (args.iters and n >= args.iters) or (not args.iters and elapsed >= args.seconds):
                break
        rates.append(n * batch / elapsed)
    return statistics.median(rates)


def bench_net(torch, name, args):
    torch.manual_seed(args.seed)
    shape, classes, batch, warmup = SHAPES[name]
    batch = args.batch or batch
    warmup = warmup if args.warmup < 0 else args.warmup
    print("torch batch %s %d" % (name, batch), flush=True)
    net = build_net(torch, name)
    fwd, train = flops_per_image(torch, net, shape)
    print("torch gflop_per_image %s %.4f %.4f" % (name, fwd / 1e9, train / 1e9), flush=True)
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    loss_fn = torch.nn.CrossEntropyLoss()
    # A few fixed random input batches, cycled (data loading is not part of what is measured), each
    # paired with FRESH random labels. With fixed (input, label) pairs the net memorises them within
    # seconds, the loss falls to ~0.01, the gradients turn denormal and a step gets up to 70x slower
    # (microcode assists in the GEMMs): a pathology, not the cost of training. Fresh labels keep the
    # loss near ln(classes) and every step the same work; torch.randint of the labels costs microseconds.
    pool = [torch.rand(batch, *shape) for _ in range(8 if batch * shape[1] * shape[2] < 1 << 20 else 2)]
    it = [0]

    def next_batch():
        it[0] = (it[0] + 1) % len(pool)
        return pool[it[0]], torch.randint(0, classes, (batch,))

    def train_step():
        x, y = next_batch()
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(net(x), y)
        loss.backward()
        opt.step()

    def infer_step():
        x, _ = next_batch()
        with torch.no_grad():
            net(x)

    if args.mode in ("train", "all"):
        net.train()
        print("torch %s train %.1f" % (name, measure(train_step, args, batch, warmup)), flush=True)
    if args.mode in ("infer", "all"):
        net.eval()
        print("torch %s infer %.1f" % (name, measure(infer_step, args, batch, warmup)), flush=True)


def main(argv):
    args = parse_args(argv)
    try:
        import torch
    except ImportError as e:
        sys.stderr.write("bench_torch: cannot import torch under %s (%s); run it with Debian's "
                         "/usr/bin/python3 after apt-get install python3-torch\n" % (sys.executable, e))
        return 2
    torch.set_num_threads(args.threads)

    blas_path, corename = blas_in_use(torch)
    maps = mapped_files()
    openmp_mapped = any(p.startswith(OPENMP_OPENBLAS_DIR + "/") for p in maps)
    print("torch version %s" % torch.__version__)
    print("torch blas %s" % blas_path)
    for p in sorted(maps):
        if re.search(r"blas|lapack", os.path.basename(p)):
            print("torch blas_mapped %s" % p)
    if corename:
        print("torch blas_core %s" % corename)
    print("torch threads %d" % torch.get_num_threads())
    for var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OMP_NUM_THREADS"):
        if var in os.environ:
            print("torch env %s=%s" % (var, os.environ[var]))
    sys.stdout.flush()
    if args.blas == "openblas-openmp" and not (blas_path.startswith(OPENMP_OPENBLAS_DIR + "/")
                                               and openmp_mapped):
        sys.stderr.write(
            "bench_torch: torch calls sgemm_ from %s, not the OpenMP OpenBLAS in %s; run with "
            "LD_LIBRARY_PATH=%s (apt-get install libopenblas0-openmp), or pass --blas any\n"
            % (blas_path, OPENMP_OPENBLAS_DIR, OPENMP_OPENBLAS_DIR))
        return 2

    if args.sgemm:
        print("torch sgemm_gflops %.1f" % sgemm_gflops(torch), flush=True)
    nets = NETS if args.net == "all" else (args.net,)
    for name in nets:
        bench_net(torch, name, args)
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print("torch peak_rss_mib %.1f" % (peak_kib / 1024.0))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
