# lit configuration for lrc: *.lrir pass tests and *.test tool tests.
import os
import lit.formats

config.name = "lrc"
config.test_format = lit.formats.ShTest(execute_external=False)
config.suffixes = [".lrir", ".test"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.lrc_build_dir, "test", "lit-out")
config.excludes = ["CMakeLists.txt", "lit.cfg.py", "lit.site.cfg.py.in", "inputs"]

# The lrc tools first, then FileCheck and not from llvm-14-tools.
config.environment["PATH"] = os.pathsep.join(
    [config.lrc_tools_dir, config.llvm_tools_dir, config.environment.get("PATH", os.environ["PATH"])])
config.substitutions.append(("%models", config.lrc_models_dir))
config.substitutions.append(("%inputs", os.path.join(config.test_source_root, "inputs")))

# "gpu": a CUDA device answers (nvidia-smi lists one). Tests of the no-GPU errors skip there.
import shutil
import subprocess
if shutil.which("nvidia-smi"):
    try:
        if subprocess.run(["nvidia-smi", "-L"], capture_output=True, timeout=30).stdout.strip():
            config.available_features.add("gpu")
    except (OSError, subprocess.SubprocessError):
        pass
