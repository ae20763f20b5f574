#!/usr/bin/python3
"""Training memory of segmentation nets (issue 13): a standard U-Net and torchvision's
fcn_resnet50, and PyTorch's own peak for the U-Net at high resolution.

  table        exports both nets in training mode (opset 13, random weights, dropout off) at
               --size into --cache and prints bench/zoo_memory.py's table: layerwise against the
               smallest plan with exact BatchNorm (--memory-budget 1 names it), activation part,
               ratio, work ratio. lrc-compile appends the per-pixel softmax cross-entropy (the
               outputs are [N,K,H,W]).
  torch-peak   one SGD step of the U-Net in PyTorch (float32, 1 thread, batch --batch, --size),
               in this process; prints its max RSS (resource.getrusage) in MiB. Run it under
               `prlimit --as=BYTES` to cap it: past the cap it fails with an allocation error.
  export       writes the U-Net's training ONNX to PATH (compile it at any size with
               lrc-compile --input-shape 3,H,W: the graph has no size in it but the input's).

U-Net: Ronneberger et al.'s design with BatchNorm and padded convs, as most reimplementations:
4 down levels of two conv3x3-BN-ReLU (64, 128, 256, 512 channels, 1024 at the bottom),
2x2 max pool, ConvTranspose 2x2 stride 2 up, the skip map concatenated, two conv3x3-BN-ReLU,
a 1x1 head to 2 classes (the paper's). fcn_resnet50: torchvision's, 21 classes, aux off,
its Dropout(0.1) replaced by an identity (the parity tests' rule).

  /usr/bin/python3 bench/unet_memory.py table --batch 2 --size 512
  /usr/bin/python3 bench/unet_memory.py torch-peak --size 1024
"""
import argparse
import os
import resource
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from zoo_memory import print_table, table_rows  # noqa: E402


def unet(classes=2):
    import torch
    import torch.nn as nn

    def double_conv(cin, cout):
        return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(),
                             nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU())

    class UNet(nn.Module):
        def __init__(self):
            super().__init__()
            widths = [64, 128, 256, 512, 1024]
            self.down = nn.ModuleList([double_conv(3, 64)] +
                                      [double_conv(a, b) for a, b in zip(widths, widths[1:])])
            self.up = nn.ModuleList([nn.ConvTranspose2d(b, a, 2, stride=2) for a, b in zip(widths, widths[1:])])
            self.dec = nn.ModuleList([double_conv(2 * a, a) for a in widths[:-1]])
            self.head = nn.Conv2d(64, classes, 1)

        def forward(self, x):
            skips = []
            for i, block in enumerate(self.down):
                x = block(x if i == 0 else nn.functional.max_pool2d(x, 2))
                skips.append(x)
            x = skips.pop()
            for i in reversed(range(len(self.up))):
                x = self.dec[i](torch.cat([skips[i], self.up[i](x)], 1))
            return self.head(x)

    return UNet()


def fcn_resnet50():
    import torch.nn as nn
    from torchvision.models.segmentation import fcn_resnet50 as build

    class Out(nn.Module):  # torchvision's FCN returns {"out": ...}
        def __init__(self):
            super().__init__()
            self.net = build(weights=None, weights_backbone=None, num_classes=21, aux_loss=False)
            for parent in list(self.net.modules()):
                for name, child in parent.named_children():
                    if isinstance(child, nn.Dropout):
                        setattr(parent, name, nn.Identity())

        def forward(self, x):
            return self.net(x)["out"]

    return Out()


MODELS = {"unet": unet, "fcn_resnet50": fcn_resnet50}


def export(name, size, path):
    import torch
    sys.path.insert(0, os.path.join(os.path.dirname(HERE), "test", "e2e"))
    from parity import export_training_onnx
    torch.manual_seed(0)
    export_training_onnx(MODELS[name]().train(), torch.randn(1, 3, size, size), path + ".tmp", 13)
    os.replace(path + ".tmp", path)


def torch_peak(batch, size, classes=2):
    import torch
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = unet(classes).train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    x = torch.randn(batch, 3, size, size)
    y = torch.randint(0, classes, (batch, size, size))
    start = time.time()
    opt.zero_grad()
    torch.nn.functional.cross_entropy(model(x), y).backward()
    opt.step()
    seconds = time.time() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(f"pytorch unet batch {batch} {size}x{size}: max RSS {peak:.0f} MiB, step {seconds:.1f} s", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("what", choices=["table", "torch-peak", "export"])
    ap.add_argument("path", nargs="?", help="export: the ONNX file to write")
    ap.add_argument("--models", default="unet,fcn_resnet50")
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--cache", default=os.path.join(tempfile.gettempdir(), "lrc-seg"))
    ap.add_argument("--extra", default="", help="extra lrc-compile flags for both plans")
    args = ap.parse_args()
    if args.what == "torch-peak":
        torch_peak(args.batch, args.size)
        return 0
    if args.what == "export":
        export("unet", args.size, args.path)
        return 0
    rows = table_rows(args.models.split(","), args.cache, args.size, args.batch, args.extra.split(),
                      lambda name, onnx: export(name, args.size, onnx))
    print_table("bench/unet_memory.py", args.batch, args.size, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
