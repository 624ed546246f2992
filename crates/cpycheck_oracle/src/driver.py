"""Runtime oracle driver: imports one compiled fixture and measures its `call`.

Run by the oracle in a fresh debug interpreter:

    python3.11d -X dev driver.py '{"module": ..., "path": ..., "setup": ..., "call": ...,
                                   "warmup": 10, "repeat": 1000}'

It reports its progress as `ORACLE {json}` lines on stdout, so that a crash can be
attributed to a stage: `imported`, `setup`, `warmed-up`, then `done` with the measurement:
the growth of `sys.gettotalrefcount()` and `sys.getallocatedblocks()` over each of
`windows` consecutive runs of `repeat` calls. A real per-call leak grows in every window;
a one-off cache fill shows in one window only.
Exceptions raised by the call are expected (error paths are what most fixtures exercise);
they are counted by type, not fatal.
"""

import gc
import importlib.util
import json
import sys


def report(stage, **data):
    data["stage"] = stage
    sys.stdout.write("ORACLE " + json.dumps(data, sort_keys=True) + "\n")
    sys.stdout.flush()


def main():
    config = json.loads(sys.argv[1])
    spec = importlib.util.spec_from_file_location(config["module"], config["path"])
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    report("imported")

    namespace = {"mod": mod, "__builtins__": __builtins__}
    exec(compile(config["setup"], "<setup>", "exec"), namespace)
    report("setup")

    call = compile(config["call"], "<call>", "eval")
    exceptions = {}

    def run(times):
        for _ in range(times):
            try:
                eval(call, namespace)
            except Exception as exc:  # noqa: BLE001 - error paths are the point
                name = type(exc).__name__
                exceptions[name] = exceptions.get(name, 0) + 1

    run(config["warmup"])
    report("warmed-up")

    windows = []
    for _ in range(config["windows"]):
        gc.collect()
        refs_before = sys.gettotalrefcount()
        blocks_before = sys.getallocatedblocks()
        run(config["repeat"])
        gc.collect()
        refs = sys.gettotalrefcount() - refs_before
        blocks = sys.getallocatedblocks() - blocks_before
        windows.append({"refs": refs, "blocks": blocks})

    report("done", calls=config["repeat"], windows=windows, exceptions=exceptions)


if __name__ == "__main__":
    main()
