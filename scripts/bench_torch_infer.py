#!/usr/bin/python3
"""PyTorch peer for scripts/bench-infer.sh: batch-1 inference latency of LeNet-300-100 and LeNet-5.

The same nets as dctrain's (and scripts/bench_torch.py's), dense fp32, eval mode under torch.no_grad(),
one 1x28x28 sample per call, torch.set_num_threads(THREADS). After a warm-up, the mean latency of a
call over about SECONDS/REPEATS seconds, REPEATS times; the median is printed as
    torch NET latency_us VALUE
Debian's torch only imports under /usr/bin/python3, hence the shebang.
"""
import argparse
import statistics
import sys
import time

import torch
import torch.nn as nn


def lenet300():
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 300), nn.ReLU(), nn.Linear(300, 100), nn.ReLU(),
                         nn.Linear(100, 10), nn.Softmax(dim=1))


def lenet5():
    return nn.Sequential(nn.Conv2d(1, 20, 5), nn.MaxPool2d(2, 2), nn.Conv2d(20, 50, 5), nn.MaxPool2d(2, 2),
                         nn.Flatten(), nn.Linear(800, 500), nn.ReLU(), nn.Linear(500, 10), nn.Softmax(dim=1))


def main(argv):
    p = argparse.ArgumentParser()
    p.add_argument("--net", choices=("lenet300", "lenet5", "all"), default="all")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seconds", type=float, default=1.0)
    p.add_argument("--repeats", type=int, default=5)
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    print("torch version", torch.__version__)
    for name in (("lenet300", "lenet5") if a.net == "all" else (a.net,)):
        net = (lenet300 if name == "lenet300" else lenet5)().eval()
        x = torch.rand(1, 1, 28, 28)
        with torch.no_grad():
            t0 = time.perf_counter()
            n = 0
            while time.perf_counter() - t0 < 0.2 or n < 10:
                net(x)
                n += 1
            per = (time.perf_counter() - t0) / n
            iters = max(1, int(a.seconds / a.repeats / per))
            r = []
            for _ in range(a.repeats):
                t = time.perf_counter()
                for _ in range(iters):
                    net(x)
                r.append((time.perf_counter() - t) / iters * 1e6)
        print("torch", name, "latency_us", "%.1f" % statistics.median(r))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
