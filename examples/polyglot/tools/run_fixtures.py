#!/usr/bin/env python3
"""Run an example plugin's fixtures against its built component.

    run_fixtures.py COMPONENT.wasm MANIFEST.json FIXTURE.json...
                    [--bench N] [--probe-memory] [--wasi]

A stand-in for the host's own integration test, so the examples can be
checked without compiling the host: it loads the component with wasmtime-py
(PyPI `wasmtime`), links only `switchboard:rules/log` (no WASI at all, so a
component that imports WASI fails here), applies the host's per-store limits
(`memory_mib` from the manifest, 20,000 table elements), calls `configure`
and the fixture's function, and compares the result with `expected`.
`--wasi` links WASI preview 2 too (no files, env or network; stderr goes to
the plugin log), for debug builds that print.

Fixture JSON uses exactly the serde format of the host's WIT bindings
(host/src/plugins/bindings.rs: wasmtime `bindgen!` types with
`serde::Serialize/Deserialize` derived): record fields in snake_case
(`customer_tier`), enum cases and variant cases in UpperCamelCase (`"Chat"`,
`"NeedsApproval"`), variants with a payload externally tagged
(`{"Answered": "a-1"}`), options as `null` or the value, `s64` timestamps as
JSON integers. So the host test can `serde_json::from_value` the `input` and
compare `serde_json::to_value(output)` with `expected`.

A fixture:
    {"description": "...", "config": {...} | null (manifest default_config),
     "call": "route" | "check" | "on-event" | "measures",
     "input": {...} | null,
     "expected": <ok value>            -- or --
     "expected_configure_error_contains": "..."  -- or --
     "expected_error_contains": "..."}
"""

import hashlib
import json
import os
import sys
import time

import wasmtime
from wasmtime import component as wc
from wasmtime.component import _types as wt

# Make every variant, option and result a tagged `Variant` so conversion is
# unambiguous (wasmtime-py otherwise guesses from the payload's Python type).
wt.VariantLikeType._tagged = lambda self: True

WIT = "0.1.0"
HOST_TABLE_ELEMENTS = 20_000  # host/src/plugins/limits.rs: default table_elements


def camel(kebab):
    return "".join(p[:1].upper() + p[1:] for p in kebab.split("-"))


def snake(kebab):
    return kebab.replace("-", "_")


def to_wasm(ty, v, path="$"):
    """serde JSON value -> wasmtime-py component value of type `ty`."""
    if isinstance(ty, wt.RecordType):
        if not isinstance(v, dict):
            raise TypeError("%s: expected an object, got %r" % (path, v))
        r = wt.Record()
        names = set()
        for name, fty in ty.fields:
            key = snake(name)
            names.add(key)
            if key not in v:
                raise KeyError("%s: missing field %s" % (path, key))
            setattr(r, name, to_wasm(fty, v[key], path + "." + key))
        extra = set(v) - names
        if extra:
            raise KeyError("%s: unknown fields %s" % (path, sorted(extra)))
        return r
    if isinstance(ty, wt.ListType):
        return [to_wasm(ty.element, x, "%s[%d]" % (path, i)) for i, x in enumerate(v)]
    if isinstance(ty, wt.OptionType):
        if v is None:
            return wt.Variant("none")
        return wt.Variant("some", to_wasm(ty.payload, v, path))
    if isinstance(ty, wt.EnumType):
        for name in ty.names:
            if camel(name) == v:
                return name
        raise ValueError("%s: %r is not one of %s" % (path, v, [camel(n) for n in ty.names]))
    if isinstance(ty, wt.VariantType):
        for name, pty in ty.cases:
            if pty is None and v == camel(name):
                return wt.Variant(name)
            if pty is not None and isinstance(v, dict) and list(v) == [camel(name)]:
                return wt.Variant(name, to_wasm(pty, v[camel(name)], path + "." + camel(name)))
        raise ValueError("%s: %r is no case of %s" % (path, v, [camel(n) for n, _ in ty.cases]))
    if isinstance(ty, (wt.F32, wt.F64)):
        return float(v)
    if isinstance(ty, (wt.S8, wt.S16, wt.S32, wt.S64, wt.U8, wt.U16, wt.U32, wt.U64)):
        if isinstance(v, bool) or not isinstance(v, int):
            raise TypeError("%s: expected an integer, got %r" % (path, v))
        return v
    if isinstance(ty, wt.Bool):
        return bool(v)
    if isinstance(ty, wt.String):
        if not isinstance(v, str):
            raise TypeError("%s: expected a string, got %r" % (path, v))
        return v
    raise TypeError("%s: unsupported type %r" % (path, ty))


def from_wasm(ty, v):
    """wasmtime-py component value of type `ty` -> serde JSON value."""
    if isinstance(ty, wt.RecordType):
        return {snake(name): from_wasm(fty, getattr(v, name)) for name, fty in ty.fields}
    if isinstance(ty, wt.ListType):
        return [from_wasm(ty.element, x) for x in v]
    if isinstance(ty, wt.OptionType):
        return None if v.tag == "none" else from_wasm(ty.payload, v.payload)
    if isinstance(ty, wt.EnumType):
        return camel(v)
    if isinstance(ty, wt.VariantType):
        for name, pty in ty.cases:
            if name == v.tag:
                return camel(name) if pty is None else {camel(name): from_wasm(pty, v.payload)}
    if isinstance(ty, wt.F32):
        # serde_json prints an f32 by its shortest f32 representation.
        import struct

        f = struct.unpack("f", struct.pack("f", v))[0]
        for digits in range(1, 10):
            s = float("%.*g" % (digits, f))
            if struct.unpack("f", struct.pack("f", s))[0] == f:
                return s
        return f
    if isinstance(ty, wt.F64):
        return float(v)
    return v


class Plugin:
    def __init__(self, wasm_path, manifest, cache_dir, wasi=False):
        self.manifest = manifest
        self.wasi = wasi
        self.kind = manifest["kind"]
        self.iface = "switchboard:rules/%s@%s" % (self.kind, WIT)
        cfg = wasmtime.Config()
        cfg.epoch_interruption = True
        self.engine = wasmtime.Engine(cfg)
        wasm = open(wasm_path, "rb").read()
        digest = hashlib.sha256(wasm).hexdigest()
        os.makedirs(cache_dir, exist_ok=True)
        from importlib.metadata import version

        # Keyed by component digest and wasmtime version: an artifact only
        # loads in the engine build that wrote it.
        cached = os.path.join(cache_dir, "%s-wasmtime-%s.cwasm" % (digest[:16], version("wasmtime")))
        t = time.perf_counter()
        if os.path.exists(cached):
            self.component = wc.Component.deserialize_file(self.engine, cached)
            how = "deserialized"
        else:
            self.component = wc.Component(self.engine, wasm)
            with open(cached, "wb") as f:
                f.write(self.component.serialize())
            how = "compiled"
        self.compile_ms = (time.perf_counter() - t) * 1000
        print("  %s %s in %.0f ms (%d bytes)" % (how, os.path.basename(wasm_path), self.compile_ms, len(wasm)))
        self.linker = wc.Linker(self.engine)
        if wasi:
            self.linker.add_wasip2()
        self.logs = []
        with self.linker.root() as root:
            with root.add_instance("switchboard:rules/log@%s" % WIT) as log:
                log.add_func("log", self._log)

    def _log(self, _store, level, message):
        self.logs.append("%s: %s" % (level, message))

    def instantiate(self, config_json, memory_mib=None):
        store = wasmtime.Store(self.engine)
        if self.wasi:
            cfg = wasmtime.WasiConfig()
            cfg.stderr_custom = lambda data: self.logs.append("stderr: " + bytes(data).decode("utf-8", "replace").rstrip())
            store.set_wasi(cfg)
        mib = memory_mib or self.manifest.get("limits", {}).get("memory_mib", 32)
        store.set_limits(memory_size=mib << 20, table_elements=HOST_TABLE_ELEMENTS)
        store.set_epoch_deadline(1 << 40)
        t = time.perf_counter()
        instance = self.linker.instantiate(store, self.component)
        t_inst = time.perf_counter() - t
        idx = instance.get_export_index(store, self.iface)
        if idx is None:
            raise RuntimeError("component does not export %s" % self.iface)
        funcs = {}
        for name in ("configure", "route", "check", "on-event", "measures"):
            fidx = instance.get_export_index(store, name, idx)
            if fidx is not None:
                funcs[name] = instance.get_func(store, fidx)
        t = time.perf_counter()
        res = self.call(store, funcs, "configure", config_json)
        t_conf = time.perf_counter() - t
        return store, funcs, res, t_inst * 1000, t_conf * 1000

    def call(self, store, funcs, name, *args):
        f = funcs[name]
        fty = f.type(store)
        params = [to_wasm(ty, a) if not isinstance(a, str) else a for (_, ty), a in zip(fty.params, args)]
        out = f(store, *params)
        f.post_return(store)
        rty = fty.result
        if rty is None:
            return {"Ok": None}
        if isinstance(rty, wt.ResultType):
            if out.tag == "ok":
                return {"Ok": from_wasm(rty.ok, out.payload) if rty.ok else None}
            return {"Err": out.payload}
        return {"Ok": from_wasm(rty, out)}


def main(argv):
    bench = 0
    if "--bench" in argv:
        i = argv.index("--bench")
        bench = int(argv[i + 1])
        del argv[i : i + 2]
    probe = "--probe-memory" in argv
    if probe:
        argv.remove("--probe-memory")
    wasi = "--wasi" in argv
    if wasi:
        argv.remove("--wasi")
    wasm_path, manifest_path, *fixtures = argv
    manifest = json.load(open(manifest_path))
    cache_dir = os.environ.get("FIXTURE_CACHE", os.path.join(os.path.dirname(os.path.abspath(wasm_path)), ".fixture-cache"))
    plugin = Plugin(wasm_path, manifest, cache_dir, wasi)
    default = json.dumps(manifest["default_config"])
    passed = failed = 0
    instances = {}
    for path in fixtures:
        fx = json.load(open(path))
        name = os.path.basename(path)
        config = default if fx.get("config") is None else json.dumps(fx["config"])
        try:
            if config not in instances:
                instances[config] = plugin.instantiate(config)
                _, _, res, ti, tc = instances[config]
                print("  instantiate %.1f ms, configure %.1f ms" % (ti, tc))
            store, funcs, conf, _, _ = instances[config]
            if "expected_configure_error_contains" in fx:
                want = fx["expected_configure_error_contains"]
                ok = "Err" in conf and want in conf["Err"]
                got = conf
            elif "Err" in conf:
                ok, got = False, conf
            else:
                args = [] if fx["call"] == "measures" else [fx["input"]]
                got = plugin.call(store, funcs, fx["call"], *args)
                if "expected_error_contains" in fx:
                    ok = "Err" in got and fx["expected_error_contains"] in got["Err"]
                else:
                    ok = got == {"Ok": fx["expected"]}
                    if ok and bench:
                        t = time.perf_counter()
                        for _ in range(bench):
                            plugin.call(store, funcs, fx["call"], *args)
                        us = (time.perf_counter() - t) / bench * 1e6
                        print("    %s: %.0f us per call (wasmtime-py, incl. Python-side conversion)" % (name, us))
        except Exception as e:  # noqa: BLE001
            ok, got = False, {"exception": repr(e)}
        if ok:
            passed += 1
            print("  ok   %s" % name)
        else:
            failed += 1
            print("  FAIL %s\n    got:      %s\n    expected: %s" % (
                name, json.dumps(got, ensure_ascii=False),
                json.dumps(fx.get("expected", fx.get("expected_error_contains", fx.get("expected_configure_error_contains"))), ensure_ascii=False)))
    if probe:
        for mib in (1, 2, 4, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256):
            try:
                plugin.instantiate(default, memory_mib=mib)
                print("  smallest memory_mib that instantiates and configures: %d" % mib)
                break
            except Exception:  # noqa: BLE001
                continue
    for line in plugin.logs[-5:]:
        print("  plugin log: %s" % line)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
