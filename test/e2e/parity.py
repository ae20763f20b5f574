#!/usr/bin/python3
"""End-to-end parity with PyTorch (llm.c's test_gpt2 pattern).

For one model: build it in torch with a fixed seed, export it to ONNX in training mode,
run k SGD steps (momentum, weight decay) in torch on a fixed batch, then compile the ONNX
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

Usage: parity.py --bin BUILD/tools --work DIR MODEL [--steps 3] [--bn exact|frozen]
                 [extra lrc-compile flags]
Exit status 0 when everything is within tolerance; the report names every mismatch.
"""
import argparse
import copy
import json
import os
import subprocess
import sys

import numpy as np
import onnx
import onnx.numpy_helper
import torch
import torch.nn as nn
import torch.nn.functional as F

LOSS_RTOL = 1e-4
PARAM_TOL = 1e-3  # of the parameter's max abs value
LR, MOMENTUM, WEIGHT_DECAY = 0.05, 0.9, 1e-3


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


MODELS = {"small_vgg": SmallVGG, "small_resnet": SmallResNet, "odd_net": OddNet}


def run(cmd):
    result = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if result.returncode != 0:
        sys.exit(f"FAILED: {' '.join(cmd)}\n{result.stdout}")
    return result.stdout


def torch_reference(model, x, y, steps, dtype, bn):
    model = copy.deepcopy(model).to(dtype).train()
    if bn == "frozen":
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.eval()
    x = x.to(dtype)
    opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM, weight_decay=WEIGHT_DECAY)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        losses.append(loss.item())
        loss.backward()
        opt.step()
    return losses, {k: v.detach().double().numpy().copy() for k, v in model.state_dict().items()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model", choices=sorted(MODELS))
    ap.add_argument("--bin", required=True, help="folder holding lrc-compile and lrc-run")
    ap.add_argument("--work", required=True)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--opset", type=int, default=13)
    ap.add_argument("--bn", choices=["exact", "frozen"], default="exact",
                    help="lrc-compile's --bn and the reference's BatchNorm mode")
    ap.add_argument("compile_flags", nargs="*", help="extra lrc-compile flags (after --)")
    args = ap.parse_args()
    os.makedirs(args.work, exist_ok=True)
    torch.manual_seed(0)
    torch.set_num_threads(1)

    cls = MODELS[args.model]
    model = cls().train()
    shape = cls.input_shape
    x = torch.randn(*shape)
    classes = model(x).shape[1]
    y = torch.randint(0, classes, (shape[0],))

    onnx_path = os.path.join(args.work, f"{args.model}.onnx")
    torch.onnx.export(model, x, onnx_path, opset_version=args.opset,
                      training=torch.onnx.TrainingMode.TRAINING, do_constant_folding=False)
    initial = {k: v.detach().clone() for k, v in model.state_dict().items()}
    x_path, y_path = (os.path.join(args.work, n) for n in ("x.npy", "y.npy"))
    np.save(x_path, x.numpy())
    np.save(y_path, y.numpy().astype(np.int64))

    # Start torch from exactly the exported initializers (the export traces a forward pass
    # in training mode, which must not leave BatchNorm statistics different from the file).
    model.load_state_dict(initial)
    exported = {t.name: onnx.numpy_helper.to_array(t) for t in onnx.load(onnx_path).graph.initializer}
    with torch.no_grad():
        for name, value in model.state_dict().items():
            if name in exported:
                value.copy_(torch.from_numpy(exported[name].copy()).reshape(value.shape))
    torch_losses, torch_state = torch_reference(model, x, y, args.steps, torch.float64, args.bn)
    f32_losses, f32_state = torch_reference(model, x, y, args.steps, torch.float32, args.bn)

    plan = os.path.join(args.work, "plan.bin")
    metrics = os.path.join(args.work, "metrics.jsonl")
    trained = os.path.join(args.work, "trained.onnx")
    run([os.path.join(args.bin, "lrc-compile"), onnx_path, "-o", plan, "--bn", args.bn] + args.compile_flags)
    run([os.path.join(args.bin, "lrc-run"), plan, "--data", f"npy:{x_path},{y_path}",
         "--steps", str(args.steps), "--lr", str(LR), "--momentum", str(MOMENTUM),
         "--weight-decay", str(WEIGHT_DECAY), "--metrics", metrics, "--save-onnx", trained,
         "--threads", "1"])

    with open(metrics) as f:
        records = [json.loads(line) for line in f]
    lrc_losses = [r["loss"] for r in records if "loss" in r]
    peak = [r for r in records if "measured_peak_bytes" in r][-1]
    lrc_state = {t.name: onnx.numpy_helper.to_array(t) for t in onnx.load(trained).graph.initializer}

    failures = []
    if len(lrc_losses) != args.steps:
        failures.append(f"lrc reported {len(lrc_losses)} losses, expected {args.steps}")
    rel_err = lambda a, b: abs(a - b) / max(abs(b), 1e-12)
    for step, (a, b) in enumerate(zip(lrc_losses, torch_losses)):
        rel = rel_err(a, b)
        print(f"step {step}: loss lrc {a:.7f} torch {b:.7f} rel err {rel:.2e} "
              f"(torch float32: {rel_err(f32_losses[step], b):.2e})")
        if rel > LOSS_RTOL:
            failures.append(f"step {step} loss: lrc {a} torch {b} (rel err {rel:.2e} > {LOSS_RTOL})")
    compared = 0
    for name, ref in torch_state.items():
        if name.endswith("num_batches_tracked"):
            continue  # not part of the ONNX export
        if name not in lrc_state:
            failures.append(f"{name}: missing from lrc's trained model")
            continue
        got = lrc_state[name].reshape(ref.shape)
        scale = max(float(np.abs(ref).max()), 1e-12)
        err = float(np.abs(got - ref).max()) / scale
        moved = float(np.abs(ref - initial[name].numpy()).max()) / scale
        f32_err = float(np.abs(f32_state[name] - ref).max()) / scale
        compared += 1
        print(f"{name:40s} rel max err {err:.2e} (torch float32: {f32_err:.2e}; moved {moved:.2e})")
        if err > PARAM_TOL:
            failures.append(f"{name}: max abs err {err:.2e} of its max abs value > {PARAM_TOL}")
    if peak["measured_peak_bytes"] != peak["predicted_peak_bytes"]:
        failures.append(f"arena peak: measured {peak['measured_peak_bytes']} != predicted {peak['predicted_peak_bytes']}")
    print(f"{args.model}: {len(lrc_losses)} losses, {compared} tensors compared, "
          f"peak {peak['measured_peak_bytes']} bytes measured = predicted")
    if failures:
        print("MISMATCH:\n  " + "\n  ".join(failures))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
