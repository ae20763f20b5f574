#!/usr/bin/python3
"""End-to-end parity with PyTorch (llm.c's test_gpt2 pattern).

For one model: build it in torch with a fixed seed, export it to ONNX in training mode,
run k optimizer steps (SGD with momentum and weight decay by default) in torch on a fixed batch, then compile the ONNX
file with lrc-compile and train it with lrc-run on the same batch, and compare every step's
loss (relative error) and every updated parameter and BatchNorm running statistic (max abs
error relative to the parameter's max abs value), read back from lrc-run --save-onnx.

The reference is PyTorch in float64, started from the same float32 values: lrc computes in
float32, and so does PyTorch by default, but two float32 runs may pick different maxima
where a pooling window holds near-equal values (rounding decides), which moves whole
gradient entries; double precision settles those. PyTorch's own float32 run is compared
with the same reference and printed beside lrc's for scale.

With --bn frozen, lrc-compile gets --bn frozen and the reference trains with every
nn.BatchNorm2d in eval() mode (running statistics as a fixed affine transform, never
updated; gradients flow through it): exactly lrc's frozen BatchNorm.

With --vs-layerwise, the same ONNX file is also compiled with the default (layerwise)
strategy (the extra flags less --strategy/--strips/--bp-strips) and trained on the same
batch for the same steps; the plan under test (typically a row plan, --strategy 2ps|overl)
must then also match it closely: losses within LAYERWISE_LOSS_RTOL relative, every
parameter and running statistic within LAYERWISE_TOL of the tensor's max abs value.
Both plans must measure exactly their predicted arena peak, with the evaluation program run
too (lrc-run --val on the same batch after every step: the predicted arena is the larger of
the two programs'). Against float64 and against the
layerwise plan, a tensor's bound is never below F32_NOISE x PyTorch float32's own error on it
(float32's noise: it matters only where float32 is ill-conditioned, as on a torchvision
ResNet's near-zero BatchNorm biases). --f32-samples K measures that error in K summation
orders of PyTorch float32 (f32_variant) and --f32-pool shares it among repeated layers'
tensors (pooled): one float32 run's error is one draw of the noise (DenseNet-121).

--device cpu|cuda|cuda-emulated goes to every lrc-run, and cuda or cuda-emulated also makes
lrc-compile write plans for the CUDA backend (--device cuda: conv scratch for several
images per launch), so the layerwise comparison is between two such plans (the reference
stays PyTorch on the CPU in float64). With --device cuda and no usable GPU, the run is skipped: exit status 77
(ctest's SKIP_RETURN_CODE), after saying why. "No usable GPU" takes two witnesses that
agree: lrc-run refuses with its one-line "--device cuda: ..." error, and this machine shows
no NVIDIA GPU of its own accord (nvidia-smi -L lists none and there is no /dev/nvidia<N>).
Where a GPU is visible, any lrc-run failure is a failure, never a skip.

--optimizer adamw trains with torch.optim.AdamW and lrc-compile --optimizer adamw (ADAMW_*
below), --nesterov with torch.optim.SGD(nesterov=True) and lrc-run --nesterov; --schedule
adds an lr schedule to both (SCHEDULES below).

Usage: parity.py --bin BUILD/tools --work DIR [--steps 3] [--bn exact|frozen] [--vs-layerwise]
                 [--optimizer sgd|adamw] [--nesterov] [--schedule step|cosine-warmup]
                 [--device cpu|cuda|cuda-emulated] MODEL [-- extra lrc-compile flags]
Exit status 0 when everything is within tolerance, 77 when skipped (above); the report
names every mismatch.
"""
import argparse
import copy
import glob
import inspect
import json
import os
import re
import shlex
import subprocess
import sys

import numpy as np
import onnx
import onnx.numpy_helper
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "models"))
import zoo  # noqa: E402  (test/models/zoo.py: the torchvision classifiers' table)

LOSS_RTOL = 1e-4
IGNORE_INDEX = -100  # F.cross_entropy's and lrc-compile's default
PARAM_TOL = 1e-3  # of the parameter's max abs value
# Against PyTorch float64 a bound is also at least F32_NOISE x PyTorch float32's own error:
# where float32 drifts past the fixed bounds (the near-zero BatchNorm biases of a torchvision
# ResNet after 3 steps: 2e-2 of their max for both PyTorch float32 and lrc), lrc must stay at
# float32's noise level, not at an arbitrary figure (observed: lrc's error 0.2x to 1.1x
# PyTorch float32's on ResNet-18).
F32_NOISE = 2.0
# Tensors that are mathematically (near) zero, whatever the plan: a BatchNorm bias whose
# gradient cancels because another BatchNorm follows its 1x1 conv (MobileNetV3's projection
# BatchNorms, 1e-12 after 3 steps), a running mean of a zero-mean map (5e-10). Their values
# are float32 rounding noise, so an absolute difference below ABS_FLOOR passes whatever the
# tensor's scale; every tensor that trains is 1e-5 or more (lr 1e-4, 3 steps), where the
# floor is 1e-3 of it.
ABS_FLOOR = 1e-8
LAYERWISE_LOSS_RTOL = 1e-5  # --vs-layerwise: row plan against the layerwise plan
LAYERWISE_TOL = 1e-5  # of the tensor's max abs value
# --device cuda: the GPU sums in other orders than the CPU does (cuBLAS picks a kernel, its
# K tiling and any split-K per GEMM shape, so a strip's GEMM and the whole map's GEMM reduce
# differently; BatchNorm and bias reductions run as fixed block trees, not the CPU's loops,
# and their segments change with the strip). Each float32 sum then differs by
# about sqrt(K) * 2^-24 of its magnitude: 2e-6 for the longest sums here (weight gradients
# over N*H*W = 4*16*16 = 1024 terms), and by more where the terms cancel. Against PyTorch
# in float64 the CPU bounds already allow for float32 (observed ~1e-7 on the CPU, bound
# 1e-4/1e-3) and stay; row plan against layerwise plan (CPU observed ~2e-7, bound 1e-5) gets
# 10x: the two GPU runs each carry their own reordering, and a wrong halo, strip or
# recompute typically moves tensors by 1e-2 and more. cuda-emulated runs serial loops and a
# reference SGEMM on the host and keeps the CPU's bounds.
CUDA_LAYERWISE_LOSS_RTOL = 1e-4
CUDA_LAYERWISE_TOL = 1e-4
SKIP = 77  # ctest's SKIP_RETURN_CODE for the cuda entries
ROW_FLAGS = ("--strategy", "--strips", "--bp-strips", "--cut", "--keep", "--pipeline-strips", "--reuse-last", "--remat", "--remat-every",
             "--pipeline-strategy", "--recompute-points")
ROW_SWITCHES = ("--chain-points", "--clone-skips")  # row-plan flags without a value
LR, MOMENTUM, WEIGHT_DECAY = 0.05, 0.9, 1e-3
# --optimizer adamw: torch.optim.AdamW's hyper-parameters (lr large enough to move every
# parameter visibly in 3 steps; beta2 short enough that the bias correction still matters;
# weight decay large enough that the decoupled decay alone moves parameters past PARAM_TOL).
ADAMW_LR, ADAMW_BETAS, ADAMW_EPS, ADAMW_WEIGHT_DECAY = 0.01, (0.9, 0.99), 1e-8, 0.5
# --schedule: a torch.optim.lr_scheduler (stepped after every optimizer step, as lrc-run steps
# its schedules per training step) and the lrc-run flags of the same schedule.
SCHEDULES = {
    "step": (lambda opt, steps: torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5),
             ["--lr-schedule", "step", "--lr-step-size", "1", "--lr-gamma", "0.5"]),
    "cosine-warmup": (lambda opt, steps: torch.optim.lr_scheduler.SequentialLR(
        opt, [torch.optim.lr_scheduler.LinearLR(opt, start_factor=0.5, total_iters=1),
              torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps - 1)], milestones=[1]),
        ["--lr-schedule", "cosine", "--warmup-steps", "1"]),
}


def make_optimizer(args, params):
    """The reference optimizer of --optimizer (and --nesterov)."""
    if args.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=ADAMW_LR, betas=ADAMW_BETAS, eps=ADAMW_EPS,
                                 weight_decay=ADAMW_WEIGHT_DECAY)
    return torch.optim.SGD(params, lr=LR, momentum=MOMENTUM, weight_decay=WEIGHT_DECAY, nesterov=args.nesterov)


def optimizer_flags(args):
    """lrc-run's flags for make_optimizer's hyper-parameters, and the schedule's."""
    if args.optimizer == "adamw":
        flags = ["--lr", str(ADAMW_LR), "--beta1", str(ADAMW_BETAS[0]), "--beta2", str(ADAMW_BETAS[1]),
                 "--eps", str(ADAMW_EPS), "--weight-decay", str(ADAMW_WEIGHT_DECAY)]
    else:
        flags = ["--lr", str(LR), "--momentum", str(MOMENTUM), "--weight-decay", str(WEIGHT_DECAY)]
        flags += ["--nesterov"] if args.nesterov else []
    return flags + (SCHEDULES[args.schedule][1] if args.schedule else [])


class SmallVGG(nn.Module):
    """Conv-ReLU stacks with max pooling and a linear classifier."""
    input_shape = (4, 3, 16, 16)

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(),
            nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.classifier = nn.Linear(16 * 4 * 4, 10)

    def forward(self, x):
        return self.classifier(torch.flatten(self.features(x), 1))


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(y)) + self.shortcut(x))


class SmallResNet(nn.Module):
    """BatchNorm everywhere, residual Adds, a stride-2 stage with a 1x1 shortcut, odd size."""
    input_shape = (3, 3, 15, 15)

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU())
        self.layer1 = BasicBlock(8, 8, 1)
        self.layer2 = BasicBlock(8, 16, 2)
        self.fc = nn.Linear(16, 5)

    def forward(self, x):
        y = self.layer2(self.layer1(self.stem(x)))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(y, 1), 1))


class OddNet(nn.Module):
    """Stride 2, dilation, asymmetric padding, groups, ceil_mode max pooling, padded average
    pooling with count_include_pad, a residual Add, odd input sizes."""
    input_shape = (2, 3, 17, 13)

    def __init__(self):
        super().__init__()
        self.pad = nn.ZeroPad2d((1, 0, 2, 1))  # left, right, top, bottom
        self.conv1 = nn.Conv2d(3, 8, 3, stride=2)
        self.conv2 = nn.Conv2d(8, 8, 3, padding=2, dilation=2, groups=2)
        self.pool1 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.conv3 = nn.Conv2d(8, 12, (3, 2), padding=(1, 0))
        self.pool2 = nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=True)
        self.fc = nn.Linear(12 * 2 * 1, 6)

    def forward(self, x):
        y = F.relu(self.conv1(self.pad(x)))
        y = F.relu(self.conv2(y)) + y
        y = self.pool1(y)
        y = self.pool2(F.relu(self.conv3(y)))
        return self.fc(torch.flatten(y, 1))


class FireNet(nn.Module):
    """Concat and channel slices (issue 13): a SqueezeNet fire module (squeeze 1x1, ReLU, expand
    1x1 and 3x3, ReLU of their cat on channels), a DenseNet step (cat([y, conv(y)])), a channel
    split (torch.split: ONNX Split) and a channel slice (b[:, 2:]: ONNX Slice), pooled apart."""
    input_shape = (2, 3, 12, 11)

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1)
        self.squeeze = nn.Conv2d(8, 4, 1)
        self.expand1 = nn.Conv2d(4, 6, 1)
        self.expand3 = nn.Conv2d(4, 6, 3, padding=1)
        self.dense = nn.Conv2d(12, 4, 3, padding=1)
        self.fc = nn.Linear(14, 5)

    def forward(self, x):
        y = F.relu(self.stem(x))
        s = F.relu(self.squeeze(y))
        y = F.relu(torch.cat([self.expand1(s), self.expand3(s)], 1))
        y = torch.cat([y, F.relu(self.dense(y))], 1)
        a, b = torch.split(y, [10, 6], dim=1)
        y = torch.cat([F.max_pool2d(a, 2), F.avg_pool2d(b[:, 2:], 2)], 1)
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(y, 1), 1))
class ShrinkNet(nn.Module):
    """A SqueezeNet-like net whose one row pipeline shrinks its map from 31 stem rows to 7
    (test/lit/inputs/make_deep_shrink.py): conv3x3 stride 2, max pool 3x3 stride 2 (ceil), two
    fire modules, max pool, a fire module, conv1x1, global average pool. One output row
    needs half the stem: its 2PS strips are balanced at the input side (strips with no output
    row, more strips than output rows)."""
    input_shape = (2, 3, 64, 64)

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 32, 3, stride=2)
        self.fires = nn.ModuleList()
        for cin in (32, 16, 16):
            self.fires.append(nn.ModuleList([nn.Conv2d(cin, 4, 1), nn.Conv2d(4, 8, 1), nn.Conv2d(4, 8, 3, padding=1)]))
        self.head = nn.Conv2d(16, 10, 1)
        # He initialization and positive biases: every ReLU passes gradient (PyTorch's default
        # draw leaves the last squeeze dead, and nothing before it would train).
        for conv in self.modules():
            if isinstance(conv, nn.Conv2d):
                nn.init.kaiming_normal_(conv.weight, nonlinearity="relu")
                nn.init.uniform_(conv.bias, 0.0, 0.1)

    def fire(self, i, x):
        squeeze, expand1, expand3 = self.fires[i]
        s = F.relu(squeeze(x))
        return F.relu(torch.cat([expand1(s), expand3(s)], 1))

    def forward(self, x):
        y = F.max_pool2d(F.relu(self.stem(x)), 3, 2, ceil_mode=True)
        y = F.max_pool2d(self.fire(1, self.fire(0, y)), 3, 2, ceil_mode=True)
        y = self.head(self.fire(2, y))
        return torch.flatten(F.adaptive_avg_pool2d(y, 1), 1)


class ActNet(nn.Module):
    """The activations of issue 13 between convolutions: Sigmoid, Hardsigmoid (torch's alpha
    1/6), Hardswish (one ONNX op from opset 14: export with --opset 14) and ReLU6 (Clip with
    constant min and max inputs). The last convolution's weights are scaled so that ReLU6 sees
    values on both sides of both bounds, and Hardsigmoid and Hardswish of +-3; a smaller
    learning rate keeps the larger weights' steps well conditioned."""
    input_shape = (2, 3, 16, 16)
    lr = 0.002

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1), nn.Sigmoid(),
            nn.Conv2d(8, 8, 3, padding=1), nn.Hardsigmoid(),
            nn.Conv2d(8, 8, 3, padding=1), nn.Hardswish(),
            nn.Conv2d(8, 8, 3, padding=1), nn.ReLU6(), nn.MaxPool2d(2))
        with torch.no_grad():
            self.features[2].weight.mul_(12)
            self.features[4].weight.mul_(6)
            self.features[6].weight.mul_(6)
        self.classifier = nn.Linear(8 * 8 * 8, 10)

    def forward(self, x):
        return self.classifier(torch.flatten(self.features(x), 1))


class SqueezeExcite(nn.Module):
    """x * gate(x's mean over H, W): the gate of mobilenet_v3, efficientnet and regnet_y, here
    ending in ReLU rather than a sigmoid."""

    def __init__(self, channels, squeezed):
        super().__init__()
        self.reduce = nn.Conv2d(channels, squeezed, 1)
        self.expand = nn.Conv2d(squeezed, channels, 1)

    def forward(self, x):
        g = F.relu(self.reduce(x.mean([2, 3], keepdim=True)))
        return x * F.relu(self.expand(g))


class SENet(nn.Module):
    """A squeeze-and-excitation block (ReduceMean over H, W with keepdims, Mul by a per-channel
    gate), Sub of a per-channel parameter and Div by a constant, and a head that averages with
    ReduceMean without keepdims (x.mean([2, 3])), odd sizes."""
    input_shape = (3, 3, 13, 11)

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.se = SqueezeExcite(8, 4)
        self.conv2 = nn.Conv2d(8, 8, 3, padding=1)
        self.shift = nn.Parameter(torch.linspace(-0.2, 0.2, 8).reshape(8, 1, 1))
        self.fc = nn.Linear(8, 5)

    def forward(self, x):
        y = self.se(F.relu(self.conv1(x)))
        y = (self.conv2(y) - self.shift) / 2
        y = F.max_pool2d(F.relu(y), 2)
        return self.fc(y.mean([2, 3]))


class MBConvSENet(nn.Module):
    """Two MobileNetV3-style blocks: expand 1x1 conv, BatchNorm, Hardswish, depthwise 3x3 conv,
    BatchNorm, Hardswish, a squeeze-and-excitation gate as torchvision's (adaptive_avg_pool2d
    to 1x1: ONNX GlobalAveragePool, 1x1 convs, ReLU, Hardsigmoid), project 1x1 conv, BatchNorm;
    the second with a residual add. The SE means are reduction points next to BatchNorm's
    (--recompute-points all)."""
    input_shape = (2, 3, 12, 10)

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 4, 3, padding=1)
        self.blocks = nn.ModuleList([self._block(4, 12, 4), self._block(4, 12, 4)])
        self.fc = nn.Linear(4, 5)

    @staticmethod
    def _block(c, e, out):
        return nn.ModuleDict({
            "expand": nn.Conv2d(c, e, 1, bias=False), "bn1": nn.BatchNorm2d(e),
            "dw": nn.Conv2d(e, e, 3, padding=1, groups=e, bias=False), "bn2": nn.BatchNorm2d(e),
            "reduce": nn.Conv2d(e, 3, 1), "gate": nn.Conv2d(3, e, 1),
            "project": nn.Conv2d(e, out, 1, bias=False), "bn3": nn.BatchNorm2d(out)})

    def forward(self, x):
        y = F.relu(self.stem(x))
        for i, b in enumerate(self.blocks):
            h = F.hardswish(b["bn1"](b["expand"](y)))
            h = F.hardswish(b["bn2"](b["dw"](h)))
            g = F.hardsigmoid(b["gate"](F.relu(b["reduce"](F.adaptive_avg_pool2d(h, 1)))))
            h = b["bn3"](b["project"](h * g))
            y = y + h if i else h
        return self.fc(F.adaptive_avg_pool2d(y, 1).flatten(1))


class SegNet(nn.Module):
    """A small fully convolutional segmentation net (conv, BatchNorm, ReLU, conv, ReLU, a 1x1
    conv to K classes, no pooling) whose output is [N,K,H,W]: lrc-compile appends the
    per-pixel loss (pixel_xent), and main() gives it label maps [N,H,W] with about a fifth of
    the pixels at PyTorch's default ignore_index -100."""
    input_shape = (2, 3, 12, 10)

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 8, 3, padding=1)
        self.head = nn.Conv2d(8, 4, 1)

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        return self.head(F.relu(self.conv2(y)))


def conv_bn_relu(cin, cout):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU())


class UNetSeg(nn.Module):
    """A small U-Net (issue 13) trained with the per-pixel loss: two encoder levels of
    conv-BN-ReLU pairs with max pooling, a bottleneck, two decoder levels each a ConvTranspose2d
    (kernel 2, stride 2) and a concat with the encoder's skip map, a 1x1 head to 3 classes at the
    input's size; about a fifth of the labels ignored (main())."""
    input_shape = (2, 3, 16, 12)

    def __init__(self):
        super().__init__()
        self.enc1 = nn.Sequential(conv_bn_relu(3, 6), conv_bn_relu(6, 6))
        self.enc2 = nn.Sequential(conv_bn_relu(6, 8), conv_bn_relu(8, 8))
        self.mid = conv_bn_relu(8, 12)
        self.up2 = nn.ConvTranspose2d(12, 8, 2, stride=2)
        self.dec2 = conv_bn_relu(16, 8)
        self.up1 = nn.ConvTranspose2d(8, 6, 2, stride=2)
        self.dec1 = conv_bn_relu(12, 6)
        self.head = nn.Conv2d(6, 3, 1)

    def forward(self, x):
        s1 = self.enc1(x)
        s2 = self.enc2(F.max_pool2d(s1, 2))
        y = self.mid(F.max_pool2d(s2, 2))
        y = self.dec2(torch.cat([s2, self.up2(y)], 1))
        y = self.dec1(torch.cat([s1, self.up1(y)], 1))
        return self.head(y)


class FCNSeg(nn.Module):
    """A small FCN (issue 13), as torchvision's FCN heads: a strided conv-BN-ReLU backbone (total
    stride 4), a conv-BN-ReLU head, a 1x1 classifier to 4 classes, and F.interpolate back to the
    input's size (bilinear, align_corners=False); the per-pixel loss with ignored labels."""
    input_shape = (2, 3, 16, 20)

    def __init__(self):
        super().__init__()
        self.backbone = nn.Sequential(conv_bn_relu(3, 8), nn.MaxPool2d(2), conv_bn_relu(8, 12),
                                      nn.Conv2d(12, 12, 3, stride=2, padding=1), nn.BatchNorm2d(12), nn.ReLU())
        self.head = nn.Sequential(conv_bn_relu(12, 8), nn.Conv2d(8, 4, 1))

    def forward(self, x):
        y = self.head(self.backbone(x))
        return F.interpolate(y, size=x.shape[-2:], mode="bilinear", align_corners=False)


def channel_shuffle(x, groups):
    """torchvision's ShuffleNet v2 channel shuffle (view, transpose, view: ONNX Reshape,
    Transpose perm=[0,2,1,3,4], Reshape), which lrc recognises as one channel_shuffle."""
    n, c, h, w = x.size()
    x = x.view(n, groups, c // groups, h, w)
    x = torch.transpose(x, 1, 2).contiguous()
    return x.view(n, -1, h, w)


class ShuffleNet(nn.Module):
    """A ShuffleNet v2 unit at a small size: conv, channel shuffle (groups 2), x.chunk(2, dim=1)
    (ONNX Split or Slice), a branch of 1x1 conv, depthwise 3x3 conv with BatchNorm, 1x1 conv,
    their concat, a second shuffle; then a channels-last round trip as ConvNeXt's LayerNorm
    makes one (permute to NHWC, centre and scale over the last axis, permute back: two ONNX
    Transposes), the global mean (x.mean([2, 3])) and a linear layer."""
    input_shape = (2, 3, 12, 11)

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1)
        self.branch = nn.Sequential(
            nn.Conv2d(4, 4, 1), nn.ReLU(),
            nn.Conv2d(4, 4, 3, padding=1, groups=4, bias=False), nn.BatchNorm2d(4),
            nn.Conv2d(4, 4, 1), nn.ReLU())
        self.gain = nn.Parameter(torch.linspace(0.5, 1.5, 8))
        self.fc = nn.Linear(8, 5)

    def forward(self, x):
        y = channel_shuffle(F.relu(self.stem(x)), 2)
        a, b = y.chunk(2, dim=1)
        y = channel_shuffle(torch.cat([a, self.branch(b)], 1), 2)
        z = y.permute(0, 2, 3, 1)
        y = ((z - z.mean(-1, keepdim=True)) * self.gain).permute(0, 3, 1, 2)
        return self.fc(y.mean([2, 3]))


class UNetTiny(nn.Module):
    """A tiny U-Net (issue 13): conv+BN+ReLU, max pool, conv+BN+ReLU, ConvTranspose2d stride 2
    (kernel 3, padding 1, output_padding 1: PyTorch's exact 2x upsampler), torch.cat with the
    skip map, conv, global mean, linear. In row plans the transposed convolution sits in the
    decoder's pipeline (--expect-pipeline-op conv_transpose2d), whose strips need not start on
    its stride's grid."""
    input_shape = (2, 3, 12, 10)

    def __init__(self):
        super().__init__()
        self.enc1 = nn.Sequential(nn.Conv2d(3, 6, 3, padding=1), nn.BatchNorm2d(6), nn.ReLU())
        self.enc2 = nn.Sequential(nn.Conv2d(6, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU())
        self.up = nn.ConvTranspose2d(8, 6, 3, stride=2, padding=1, output_padding=1)
        self.dec = nn.Conv2d(12, 8, 3, padding=1)
        self.fc = nn.Linear(8, 5)

    def forward(self, x):
        skip = self.enc1(x)
        y = self.up(self.enc2(F.max_pool2d(skip, 2)))
        y = self.dec(torch.cat([skip, y], 1))
        return self.fc(y.mean([2, 3]))


class UpNet(nn.Module):
    """Upsampling in the middle of a network, as FCN and U-Net decoders do: conv, max pool,
    conv, bilinear x2 (F.interpolate align_corners=False: Resize linear half_pixel, scales),
    conv, nearest x2 (Resize nearest asymmetric floor), conv, bilinear to a smaller size with
    align_corners=True (Resize sizes, folded from Shape/Slice/Concat), conv, global mean,
    linear; odd sizes."""
    input_shape = (2, 3, 14, 10)

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.conv2 = nn.Conv2d(8, 8, 3, padding=1)
        self.conv3 = nn.Conv2d(8, 8, 3, padding=1)
        self.conv4 = nn.Conv2d(8, 8, 3, padding=1)
        self.conv5 = nn.Conv2d(8, 8, 3, padding=1)
        self.fc = nn.Linear(8, 5)

    def forward(self, x):
        y = F.max_pool2d(F.relu(self.conv1(x)), 2)  # 7x5
        y = F.interpolate(F.relu(self.conv2(y)), scale_factor=2, mode="bilinear", align_corners=False)  # 14x10
        y = F.interpolate(F.relu(self.conv3(y)), scale_factor=2, mode="nearest")  # 28x20
        y = F.interpolate(F.relu(self.conv4(y)), size=(19, 13), mode="bilinear", align_corners=True)
        return self.fc(F.relu(self.conv5(y)).mean([2, 3]))


class ChannelsLastLinear(nn.Module):
    """A Linear on the last axis whose weight is stored [in, out]: y @ w + b exports as a MatMul
    of the map by the weight initializer itself (nn.Linear's w.t() would be a Transpose)."""

    def __init__(self, cin, cout):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(cin, cout) / cin ** 0.5)
        self.bias = nn.Parameter(torch.linspace(-0.1, 0.1, cout))

    def forward(self, x):
        return x @ self.weight + self.bias


class LnNet(nn.Module):
    """ConvNeXt's ops without its permutes: LayerNorm over the last axis of an NCHW map
    (normalized_shape [W]: at opset 13 ReduceMean(-1), Sub, Pow 2, ReduceMean, Add eps, Sqrt,
    Div, Mul, Add; at opset 17 one LayerNormalization), a Linear on that axis (MatMul of a 4-D
    map by a 2-D weight, Add bias), exact GELU (Div, Erf, Add, Mul, Mul), sqrt(y^2 + 1), a
    global mean and a linear head."""
    input_shape = (2, 3, 9, 8)

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.norm = nn.LayerNorm(8)
        self.mix = ChannelsLastLinear(8, 8)
        self.conv2 = nn.Conv2d(8, 8, 3, padding=1)
        self.gelu = nn.GELU()
        self.fc = nn.Linear(8, 5)

    def forward(self, x):
        y = self.mix(self.norm(self.conv1(x)))
        y = self.gelu(self.conv2(y))
        y = torch.sqrt(y.pow(2) + 1)
        return self.fc(y.mean([2, 3]))


class ConvNextBlockNet(nn.Module):
    """A ConvNeXt block at a small size (issue 13): a stem conv, then depthwise conv 7x7,
    permute to channels-last, LayerNorm over the channels, Linear 8->32, exact GELU, Linear
    32->8, a per-channel layer scale, permute back, the residual add; a global mean and a linear
    head. canonicalize turns the channels-last round trip into NCHW ops (layer_norm over the
    channel axis, 1x1 convolutions by the Linears' own weights), so row plans run the whole
    block in one pipeline (--expect-pipeline-op layer_norm)."""
    input_shape = (2, 3, 11, 9)

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1)
        self.dwconv = nn.Conv2d(8, 8, 7, padding=3, groups=8)
        self.norm = nn.LayerNorm(8, eps=1e-6)
        self.pwconv1 = nn.Linear(8, 32)
        self.act = nn.GELU()
        self.pwconv2 = nn.Linear(32, 8)
        self.gamma = nn.Parameter(torch.linspace(0.5, 1.5, 8))
        self.fc = nn.Linear(8, 5)

    def forward(self, x):
        x = self.stem(x)
        y = self.dwconv(x).permute(0, 2, 3, 1)
        y = self.gamma * self.pwconv2(self.act(self.pwconv1(self.norm(y))))
        x = x + y.permute(0, 3, 1, 2)
        return self.fc(x.mean([2, 3]))


def torchvision_model(arch):
    """A torchvision classifier of test/models/zoo.py (random initialization, 10 outputs,
    dropout and stochastic depth off) at the zoo's size and learning rate: there PyTorch's own
    float32 run stays close to its float64 run over the 3 steps (docs/benchmarks.md, issue 12:
    at lr 0.05 ResNet-18 at 96x96 batch 16 is 7e-3 apart by step 3)."""
    def make():
        return zoo.build(arch)
    make.input_shape = zoo.ZOO[arch][1]
    make.lr = zoo.ZOO[arch][2]
    make.seed = zoo.SEEDS.get(arch, 0)
    if arch in zoo.F32_NOISE:
        make.f32_noise = zoo.F32_NOISE[arch]
    return make


MODELS = {"small_vgg": SmallVGG, "small_resnet": SmallResNet, "odd_net": OddNet, "fire_net": FireNet,
          "shrink_net": ShrinkNet,
          "act_net": ActNet, "se_net": SENet, "mbconv_se_net": MBConvSENet, "shuffle_net": ShuffleNet, "seg_net": SegNet,
          "unet_tiny": UNetTiny, "up_net": UpNet,
          "unet_seg": UNetSeg, "fcn_seg": FCNSeg, "ln_net": LnNet,
          "convnext_block": ConvNextBlockNet}
# No size was found where ResNet-50's float32 stays within 1e-4 of float64 (at 64x64 batch 16
# one backward already puts some gradients 29% apart): its bounds, as every zoo model's, are the
# float32 floors (F32_NOISE x PyTorch float32's own error) where those are larger.
MODELS.update({arch: torchvision_model(arch) for arch in zoo.ZOO})


def run(cmd):
    result = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if result.returncode != 0:
        sys.exit(f"FAILED: {' '.join(cmd)}\n{result.stdout}")
    return result.stdout


def visible_gpus():
    """The NVIDIA GPUs this machine shows, asked without lrc: nvidia-smi -L's "GPU N: ..."
    lines, else the /dev/nvidia<N> device nodes. Empty when there is none."""
    try:
        out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=120).stdout
        gpus = [line.strip() for line in out.splitlines() if line.startswith("GPU ")]
        if gpus:
            return gpus
    except (OSError, subprocess.SubprocessError):
        pass
    return sorted(glob.glob("/dev/nvidia[0-9]*"))


def run_lrc(cmd, device):
    """Runs lrc-run. With --device cuda, lrc-run's "--device cuda: ..." refusal on a machine
    that shows no GPU ends the test as skipped (exit status 77); every other failure fails."""
    result = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if result.returncode != 0:
        refused = [l for l in result.stdout.splitlines() if l.startswith("lrc-run: error: --device cuda:")]
        if device == "cuda" and refused and not visible_gpus():
            print(f"SKIPPED: no usable GPU: {refused[0][len('lrc-run: error: '):]} "
                  "(and nvidia-smi -L lists no GPU, no /dev/nvidia<N>)")
            sys.exit(SKIP)
        sys.exit(f"FAILED: {' '.join(cmd)}\n{result.stdout}")
    return result.stdout


def export_training_onnx(model, x, path, opset):
    """torch.onnx.export in training mode with the TorchScript exporter: torch >= 2.9 defaults
    to the torch.export-based one (dynamo=True), which ignores `training`; torch 1.13 (Debian)
    has no `dynamo` argument."""
    extra = {"dynamo": False} if "dynamo" in inspect.signature(torch.onnx.export).parameters else {}
    torch.onnx.export(model, x, path, opset_version=opset, training=torch.onnx.TrainingMode.TRAINING,
                      do_constant_folding=False, **extra)


def export_model_and_data(model, x_export, x, y, work, name, opset):
    """Exports `model` (traced on x_export) to WORK/NAME.onnx and saves x, y as WORK/x.npy,
    WORK/y.npy; then sets the model to exactly the exported initializers (the export traces a
    forward pass in training mode, which must not leave BatchNorm statistics different from the
    file). Returns the three paths."""
    onnx_path = os.path.join(work, f"{name}.onnx")
    # A copy of the state dict itself: it keeps the modules' version metadata, which some
    # modules need to load it back (torchvision's MNASNet refuses a state without it).
    initial = copy.deepcopy(model.state_dict())
    export_training_onnx(model, x_export, onnx_path, opset)
    x_path, y_path = (os.path.join(work, n) for n in ("x.npy", "y.npy"))
    np.save(x_path, x.numpy())
    np.save(y_path, y.numpy().astype(np.int64))
    model.load_state_dict(initial)
    exported = {t.name: onnx.numpy_helper.to_array(t) for t in onnx.load(onnx_path).graph.initializer}
    with torch.no_grad():
        for key, value in model.state_dict().items():
            if key in exported:
                value.copy_(torch.from_numpy(exported[key].copy()).reshape(value.shape))
    return onnx_path, x_path, y_path


def torch_reference(model, x, y, steps, dtype, bn, args, variant=None):
    """PyTorch's training run of `steps` steps in `dtype`: its losses and its state. variant
    (f32_variant's) changes only the order float32 sums in: the batch permuted, channels_last
    tensors, oneDNN's convolutions off."""
    perm, channels_last, mkldnn = variant or (None, False, True)
    model = copy.deepcopy(model).to(dtype).train()
    if bn == "frozen":
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.eval()
    x = x.to(dtype)
    if perm is not None:
        x, y = x[perm], y[perm]
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    opt = make_optimizer(args, model.parameters())
    scheduler = SCHEDULES[args.schedule][0](opt, steps) if args.schedule else None
    losses = []
    with torch.backends.mkldnn.flags(enabled=mkldnn):
        for _ in range(steps):
            opt.zero_grad()
            loss = F.cross_entropy(model(x), y, ignore_index=IGNORE_INDEX)
            losses.append(loss.item())
            loss.backward()
            opt.step()
            if scheduler:
                scheduler.step()
    return losses, {k: v.detach().double().contiguous().numpy().copy() for k, v in model.state_dict().items()}


def f32_variant(i, batch):
    """The summation order of PyTorch float32's sample i (--f32-samples): (batch permutation or
    None, channels_last, oneDNN on). Sample 0 is PyTorch's default run. The others permute the
    batch (a mean loss and batch statistics do not depend on the images' order, float32's sums
    over them do) with a fixed permutation each, and in turn run the convolutions without
    oneDNN (PyTorch's own im2col and the BLAS's GEMM: another blocking of every K sum) or in
    channels_last (oneDNN's NHWC kernels). Every variant is the same computation in exact
    arithmetic."""
    if i == 0:
        return None, False, True
    perm = torch.randperm(batch, generator=torch.Generator().manual_seed(i)) if batch > 1 else None
    return perm, i % 3 == 0, i % 3 != 2


def f32_noise_of(samples, f64_losses, f64_state):
    """PyTorch float32's noise, per loss step (relative) and per tensor (of the float64 tensor's
    max abs value), from its samples (f32_variant's runs): the largest of each sample's error
    from float64 and of the samples' differences from each other. One sample is one draw of
    float32's rounding; where a tensor's value hangs on which way float32 decides a few ReLU
    inputs near 0 (DenseNet-121's BatchNorm biases of 1e-6), another float32 run (lrc's) can be
    off by several times that draw, and the samples' spread shows how far."""
    loss_noise = [max([rel_err(s[0][k], f64_losses[k]) for s in samples]
                      + [abs(a[0][k] - b[0][k]) / max(abs(f64_losses[k]), 1e-12)
                         for i, a in enumerate(samples) for b in samples[i + 1:]])
                  for k in range(len(f64_losses))]
    tensor_noise = {}
    for name, ref in f64_state.items():
        scale = max(float(np.abs(ref).max()), 1e-12)
        states = [s[1][name] for s in samples]
        tensor_noise[name] = max([float(np.abs(t - ref).max()) for t in states]
                                 + [float(np.abs(a - b).max()) for i, a in enumerate(states)
                                    for b in states[i + 1:]]) / scale
    return loss_noise, tensor_noise


def pooled(tensor_noise, pattern):
    """tensor_noise with each tensor's noise raised to the largest of its kind (--f32-pool):
    tensors whose names are equal once `pattern` (a regular expression) is replaced share their
    float32 noise. For the tensors of repeated layers (DenseNet-121's denselayerN: the same
    sums over the same maps, 64 to 256 terms a channel): which of them a float32 run's few
    decided ReLU inputs land in is chance, so what any of them shows in K samples is what each
    can show in another run; one tensor's own K samples often miss it (a tensor that no sample
    moves, lrc's run moves by 4e-2 of its max)."""
    if not pattern:
        return tensor_noise
    kind = lambda name: re.sub(pattern, "*", name)
    largest = {}
    for name, noise in tensor_noise.items():
        largest[kind(name)] = max(largest.get(kind(name), 0.0), noise)
    return {name: largest[kind(name)] for name in tensor_noise}


def lrc_train(args, tag, onnx_path, x_path, y_path, compile_flags):
    """Compile onnx_path with compile_flags, train it with lrc-run on the saved batch, and
    return its losses, its trained initializers and its last arena peak record."""
    path = lambda name: os.path.join(args.work, tag + name)
    plan, metrics, trained = path("plan.bin"), path("metrics.jsonl"), path("trained.onnx")
    # A plan for the CUDA backend (lrc-compile --device cuda: conv scratch for image chunks)
    # whenever it runs there or on its host emulation.
    target = ["--device", "cuda"] if args.device in ("cuda", "cuda-emulated") else []
    # Nesterov reads the gradient apart from the momentum buffer: its plan keeps the gradients.
    unfused = ["--no-fuse-sgd-grads"] if args.nesterov else []
    run([os.path.join(args.bin, "lrc-compile"), onnx_path, "-o", plan, "--bn", args.bn,
         "--optimizer", args.optimizer] + target + unfused + compile_flags)
    # --val on the same batch: the evaluation program runs too (after every step: one step per
    # epoch), so the measured peak covers the whole arena the plan predicts, which is the larger
    # of its two programs' (a CUDA plan's evaluation strips can reach past its training step's
    # buffers: unet_seg with recomputed points).
    out = run_lrc([os.path.join(args.bin, "lrc-run"), plan, "--data", f"npy:{x_path},{y_path}",
                   "--val", f"npy:{x_path},{y_path}", "--steps", str(args.steps)] + optimizer_flags(args) +
                  ["--metrics", metrics, "--save-onnx", trained, "--threads", "1", "--device", args.device], args.device)
    if args.device == "cuda":  # the GPU backend names its device: proof that the run was on it
        named = [line for line in out.splitlines() if line.startswith("device memory on ")]
        if not named:
            sys.exit(f"FAILED: lrc-run --device cuda printed no 'device memory on <GPU>' line\n{out}")
        print(f"{tag.rstrip('-') or 'plan'}: {named[0]}")
    with open(metrics) as f:
        records = [json.loads(line) for line in f]
    losses = [r["loss"] for r in records if "loss" in r]
    peak = [r for r in records if "measured_peak_bytes" in r][-1]
    state = {t.name: onnx.numpy_helper.to_array(t) for t in onnx.load(trained).graph.initializer}
    return losses, state, peak


def expect_pipeline_op(args, onnx_path, kind, flags):
    """The failures (none or one) of requiring an op of IR kind `kind` inside a row pipeline of
    the plan lrc-compile --emit rows describes with `flags`: the lines under a "pipeline K:"
    header name each op and its kind."""
    rows = run([os.path.join(args.bin, "lrc-compile"), onnx_path, "--emit", "rows", "--bn", args.bn]
               + flags)
    inside, found = False, []
    for line in rows.splitlines():
        if line.startswith("pipeline "):
            inside = True
        elif not line.startswith(" "):
            inside = False
        elif inside and len(line.split()) >= 2 and line.split()[1] == kind:
            found.append(line.split()[0])
    print(f"--expect-pipeline-op {kind}: in pipelines: {', '.join(found) or 'none'}")
    return [] if found else [f"no {kind} inside a row pipeline:\n{rows}"]


def expect_rows(args, onnx_path, text):
    """The failures (none or one) of requiring a line of lrc-compile --emit rows for the plan
    under test that contains `text` (runs of spaces count as one)."""
    rows = run([os.path.join(args.bin, "lrc-compile"), onnx_path, "--emit", "rows", "--bn", args.bn]
               + args.compile_flags)
    want = " ".join(text.split())
    found = [line for line in rows.splitlines() if want in " ".join(line.split())]
    print(f"--expect-rows {want!r}: {'found' if found else 'not found'}")
    return [] if found else [f"no line of --emit rows holds {want!r}:\n{rows}"]


def expect_recomputed_points(args, onnx_path, count):
    """The failures (none or one) of requiring `count` reduction points recomputed in strips in
    the plan under test (lrc-compile --report's reduction_points[].how with the same flags):
    the pipeline runs through them, and their maps are not kept."""
    report = os.path.join(args.work, "recompute-report.json")
    run([os.path.join(args.bin, "lrc-compile"), onnx_path, "-o", os.path.join(args.work, "recompute-plan.bin"),
         "--report", report, "--bn", args.bn] + args.compile_flags)
    with open(report) as f:
        points = json.load(f).get("reduction_points", [])
    strips = [p["op"] for p in points if p["how"] == "recomputed in strips"]
    print(f"--expect-recomputed-points {count}: recomputed in strips: {', '.join(strips) or 'none'}; "
          f"{len(points) - len(strips)} other")
    return [] if len(strips) == count else [f"{len(strips)} reduction points recomputed in strips, expected {count}: {points}"]


def without_row_flags(flags):
    """The lrc-compile flags less the row-plan flags (ROW_FLAGS) and their values; the layerwise
    plan is asked for explicitly (--strategy layerwise), since auto may choose a row plan."""
    kept, i = [], 0
    while i < len(flags):
        if flags[i] in ROW_FLAGS:
            i += 2
        elif flags[i] in ROW_SWITCHES:
            i += 1
        else:
            kept.append(flags[i])
            i += 1
    return kept + ["--strategy", "layerwise"]


def rel_err(a, b):
    return abs(a - b) / max(abs(b), 1e-12)


def compare(what, losses, state, ref_losses, ref_state, loss_tol, tensor_tol, failures,
            loss_note=lambda step: "", tensor_note=lambda name, ref, scale: "",
            loss_floor=lambda step: 0.0, tensor_floor=lambda name, ref, scale: 0.0):
    """Print and check losses (relative error) and tensors (max abs error relative to the
    reference tensor's max abs value) of one lrc run against a reference; append every
    mismatch to failures, prefixed with what. A bound is the larger of the fixed tolerance and
    the floor (against PyTorch float64: F32_NOISE x PyTorch float32's own error, where float32
    itself drifts past the fixed tolerance, as small-batch BatchNorm nets do). Returns the number of tensors compared."""
    if len(losses) != len(ref_losses):
        failures.append(f"{what}: {len(losses)} losses, expected {len(ref_losses)}")
    for step, (a, b) in enumerate(zip(losses, ref_losses)):
        rel = rel_err(a, b)
        print(f"step {step}: loss lrc {a:.7f} {what} {b:.7f} rel err {rel:.2e}{loss_note(step)}")
        bound = max(loss_tol, loss_floor(step))
        if rel > bound:
            failures.append(f"{what}: step {step} loss: {a} vs {b} (rel err {rel:.2e} > {bound:.2e})")
    compared = 0
    for name, ref in ref_state.items():
        if name.endswith("num_batches_tracked"):
            continue  # not part of the ONNX export
        if name not in state:
            failures.append(f"{what}: {name} missing from lrc's trained model")
            continue
        got = state[name].reshape(ref.shape)
        scale = max(float(np.abs(ref).max()), 1e-12)
        err = float(np.abs(got - ref).max()) / scale
        compared += 1
        print(f"{name:40s} rel max err {err:.2e} vs {what} (max abs {scale:.1e}){tensor_note(name, ref, scale)}")
        bound = max(tensor_tol, tensor_floor(name, ref, scale), ABS_FLOOR / scale)
        if err > bound:
            failures.append(f"{what}: {name}: max abs err {err:.2e} of its max abs value > {bound:.2e}")
    return compared


def check_peak(what, peak, failures):
    measured, predicted = peak["measured_peak_bytes"], peak["predicted_peak_bytes"]
    print(f"{what}: arena peak measured {measured} bytes, predicted {predicted}")
    if measured != predicted:
        failures.append(f"{what}: arena peak: measured {measured} != predicted {predicted}")


def draw(name, seed=None):
    """Model NAME in training mode, its batch and its labels as every parity run draws them
    (seed: the model's own where it has one (torchvision_model), else 0); sets LR to the model's
    own learning rate where it has one."""
    global LR
    cls = MODELS[name]
    torch.manual_seed(getattr(cls, "seed", 0) if seed is None else seed)
    torch.set_num_threads(1)
    LR = getattr(cls, "lr", LR)
    model = cls().train()
    shape = cls.input_shape
    x = torch.randn(*shape)
    out = model(x)
    classes = out.shape[1]
    if out.dim() == 4:  # a label per pixel, some ignored (cross_entropy's default ignore_index)
        y = torch.randint(0, classes, (shape[0],) + tuple(out.shape[2:]))
        y[torch.rand(y.shape) < 0.2] = IGNORE_INDEX
    else:
        y = torch.randint(0, classes, (shape[0],))
    return model, x, y


def main():
    global F32_NOISE
    ap = argparse.ArgumentParser()
    ap.add_argument("model", choices=sorted(MODELS))
    ap.add_argument("--bin", required=True, help="folder holding lrc-compile and lrc-run")
    ap.add_argument("--work", required=True)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--seed", type=int,
                    help="the draw's seed (weights, batch, labels; default the model's own, else 0)")
    ap.add_argument("--opset", type=int, default=13)
    ap.add_argument("--bn", choices=["exact", "frozen"], default="exact",
                    help="lrc-compile's --bn and the reference's BatchNorm mode")
    ap.add_argument("--device", choices=["cpu", "cuda", "cuda-emulated"], default="cpu",
                    help="lrc-run's --device (cuda without a GPU: exit status 77, skipped)")
    ap.add_argument("--optimizer", choices=["sgd", "adamw"], default="sgd",
                    help="lrc-compile's --optimizer; the reference is torch.optim.SGD or torch.optim.AdamW")
    ap.add_argument("--nesterov", action="store_true", help="SGD with Nesterov momentum (both sides)")
    ap.add_argument("--schedule", choices=sorted(SCHEDULES),
                    help="an lr schedule: lrc-run's --lr-schedule flags, a torch.optim.lr_scheduler")
    ap.add_argument("--vs-layerwise", action="store_true",
                    help="also train the layerwise plan of the same model and require the plan "
                         "under test to match it (losses and tensors within 1e-5; 1e-4 with --device cuda)")
    ap.add_argument("--row-plans", nargs="*", default=[], metavar="STRATEGY/STRIPS",
                    help="after the plan under test (give it --strategy layerwise), train these row "
                         "plans (e.g. 2ps/3 overl/3, or the row-plan flags as one argument: "
                         "'--strategy 2ps --strips 4 --cut 2') and require each to match it as "
                         "--vs-layerwise does")
    ap.add_argument("--f32-noise", type=float,
                    help=f"the float32 floor's factor (default {F32_NOISE}, or the model's own: "
                         "test/models/zoo.py F32_NOISE): the torchvision zoo's "
                         "deep nets have tensors whose gradients nearly cancel (BatchNorm biases of "
                         "1e-5 after 3 steps), where two float32 computations differ by up to 4x "
                         "PyTorch float32's own error")
    ap.add_argument("--f32-samples", type=int, default=1, metavar="K",
                    help="PyTorch float32 runs that sample float32's noise for the floor (default 1): "
                         "sample 0 as PyTorch runs, the others with the batch permuted and, in turn, "
                         "without oneDNN's convolutions or in channels_last; a tensor's float32 error is "
                         "the largest of the samples' errors from float64 and of their differences")
    ap.add_argument("--f32-pool", metavar="REGEX",
                    help="tensors whose names are equal once REGEX is replaced (e.g. 'denselayer[0-9]+') "
                         "share the float32 floor: each gets the largest noise of its kind")
    ap.add_argument("--plan-tol", type=float,
                    help="the bound between plans (losses and tensors; default 1e-5, 1e-4 with "
                         "--device cuda): the torchvision zoo's deep nets sum weight gradients "
                         "over strips in another order at 2-4x PyTorch float32's own error")
    ap.add_argument("--expect-pipeline-op", metavar="KIND",
                    help="require an op of this IR kind (e.g. conv_transpose2d) inside a row pipeline of the "
                         "plan under test (lrc-compile --emit rows with the same flags), or of each of "
                         "--row-plans when given")
    ap.add_argument("--expect-rows", metavar="TEXT", action="append", default=[],
                    help="require a line of lrc-compile --emit rows for the plan under test that "
                         "holds TEXT (repeatable)")
    ap.add_argument("--expect-recomputed-points", metavar="N", type=int,
                    help="require N reduction points recomputed in strips in the plan under test "
                         "(lrc-compile --report's reduction_points with the same flags)")
    ap.epilog = "Extra lrc-compile flags go last, after --: MODEL -- --strategy 2ps --strips 3"
    # Split at "--" by hand: argparse would otherwise tie a trailing flag list to the first
    # positional chunk and refuse it when options stand between MODEL and "--".
    argv = sys.argv[1:]
    cut = argv.index("--") if "--" in argv else len(argv)
    args = ap.parse_args(argv[:cut])
    args.compile_flags = argv[cut + 1:]
    F32_NOISE = args.f32_noise or getattr(MODELS[args.model], "f32_noise", F32_NOISE)
    os.makedirs(args.work, exist_ok=True)
    model, x, y = draw(args.model, args.seed)

    onnx_path, x_path, y_path = export_model_and_data(model, x, x, y, args.work, args.model, args.opset)
    initial = {k: v.detach().clone() for k, v in model.state_dict().items()}
    torch_losses, torch_state = torch_reference(model, x, y, args.steps, torch.float64, args.bn, args)
    samples = [torch_reference(model, x, y, args.steps, torch.float32, args.bn, args, f32_variant(i, x.shape[0]))
               for i in range(args.f32_samples)]
    f32_losses, f32_state = samples[0]
    loss_noise, tensor_noise = f32_noise_of(samples, torch_losses, torch_state)
    tensor_noise = pooled(tensor_noise, args.f32_pool)

    lrc_losses, lrc_state, peak = lrc_train(args, "", onnx_path, x_path, y_path, args.compile_flags)

    failures = []
    if args.expect_pipeline_op and not args.row_plans:  # else: each of the row plans below
        failures += expect_pipeline_op(args, onnx_path, args.expect_pipeline_op, args.compile_flags)
    if args.expect_recomputed_points is not None:
        failures += expect_recomputed_points(args, onnx_path, args.expect_recomputed_points)
    for text in args.expect_rows:
        failures += expect_rows(args, onnx_path, text)
    moved = lambda name, ref, scale: float(np.abs(ref - initial[name].numpy()).max()) / scale
    spread = lambda noise, pool=True: (f", {args.f32_samples} samples{' pooled' if pool and args.f32_pool else ''} "
                                       f"{noise:.2e}" if args.f32_samples > 1 or args.f32_pool else "")
    compared = compare(
        "torch", lrc_losses, lrc_state, torch_losses, torch_state, LOSS_RTOL, PARAM_TOL, failures,
        loss_note=lambda step: f" (torch float32: {rel_err(f32_losses[step], torch_losses[step]):.2e}{spread(loss_noise[step], False)})",
        tensor_note=lambda name, ref, scale: (
            f" (torch float32: {float(np.abs(f32_state[name] - ref).max()) / scale:.2e}{spread(tensor_noise[name])};"
            f" moved {moved(name, ref, scale):.2e})"),
        loss_floor=lambda step: F32_NOISE * loss_noise[step],
        tensor_floor=lambda name, ref, scale: F32_NOISE * tensor_noise[name])
    check_peak("plan", peak, failures)

    def against_layerwise(what, row, lw):
        """Compares one row plan's run with a layerwise plan's run (losses, state, peak) of the
        same model; returns the number of tensors compared."""
        (row_losses, row_state), (lw_losses, lw_state) = row, lw
        # The tensors of the torch comparison (parameters and running statistics), as the
        # layerwise plan left them.
        lw_ref = {n: lw_state[n].reshape(torch_state[n].shape) for n in torch_state if n in lw_state}
        missing = [n for n in torch_state if n not in lw_state and not n.endswith("num_batches_tracked")]
        failures.extend(f"layerwise: {n} missing from its trained model" for n in missing)
        gpu = args.device == "cuda"
        # Floors: float32's own noise on each tensor (F32_NOISE x PyTorch float32 against
        # float64, in the tensor's scale there): two float32 plans that sum in other orders
        # differ by that much where a tensor is rounding noise (a torchvision ResNet's
        # near-zero BatchNorm biases: 2e-3 of their max between plans, 2e-2 for PyTorch's
        # float32), and by the fixed 1e-5 wherever float32 is well conditioned.
        return compare(what, row_losses, row_state, lw_losses, lw_ref,
                       args.plan_tol or (CUDA_LAYERWISE_LOSS_RTOL if gpu else LAYERWISE_LOSS_RTOL),
                       args.plan_tol or (CUDA_LAYERWISE_TOL if gpu else LAYERWISE_TOL), failures,
                       loss_floor=lambda step: F32_NOISE * loss_noise[step],
                       tensor_floor=lambda name, ref, scale: F32_NOISE * tensor_noise[name])

    compared_lw = 0
    if args.vs_layerwise:
        print(f"--vs-layerwise: {' '.join(args.compile_flags) or '(default flags)'} against layerwise")
        lw_losses, lw_state, lw_peak = lrc_train(args, "layerwise-", onnx_path, x_path, y_path,
                                                 without_row_flags(args.compile_flags))
        compared_lw = against_layerwise("layerwise", (lrc_losses, lrc_state), (lw_losses, lw_state))
        check_peak("layerwise plan", lw_peak, failures)
    for n, spec in enumerate(args.row_plans):
        if spec.startswith("--"):  # the row-plan flags themselves
            flags, tag = without_row_flags(args.compile_flags)[:-2] + shlex.split(spec), f"rows{n}-"
        else:
            strategy, strips = spec.split("/")
            flags = without_row_flags(args.compile_flags)[:-2] + ["--strategy", strategy, "--strips", strips]
            tag = f"{strategy}-{strips}-"
        print(f"--row-plans: {' '.join(flags)} against the plan above")
        if args.expect_pipeline_op:
            failures += expect_pipeline_op(args, onnx_path, args.expect_pipeline_op, flags)
        row_losses, row_state, row_peak = lrc_train(args, tag, onnx_path, x_path, y_path, flags)
        compared_lw = against_layerwise(tag.rstrip("-"), (row_losses, row_state), (lrc_losses, lrc_state))
        check_peak(f"{tag.rstrip('-')} plan", row_peak, failures)

    print(f"{args.model} (--device {args.device}): {len(lrc_losses)} losses, {compared} tensors compared"
          + (f" ({compared_lw} also between plans)" if compared_lw else ""))
    if failures:
        print("MISMATCH:\n  " + "\n  ".join(failures))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
