//! `switchboard plugin build`: source -> `build/<id>.wasm`, a component the
//! server loads, for each of the four languages.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context as _, bail};
use sha2::{Digest as _, Sha256};

use super::{Lang, apt_install, c_sources, on_path, run, step, works};
use crate::plugins::{ComponentInfo, Manifest, PluginRuntime, RuntimeConfig};

/// componentize-py from PyPI: the version the Python examples and
/// templates are tested with.
pub const COMPONENTIZE_PY_VERSION: &str = "0.25.1";
/// The Debian packages of the C toolchain (clang 19 is in Debian 12 and 13).
const C_PACKAGES: [&str; 4] = [
    "clang-19",
    "lld-19",
    "wasi-libc",
    "libclang-rt-19-dev-wasm32",
];

/// What a build made.
#[derive(Debug, serde::Serialize)]
pub struct BuildReport {
    pub lang: Lang,
    pub output: PathBuf,
    pub size_bytes: usize,
    /// Seconds the language toolchain took (installing it included).
    pub build_seconds: f64,
    /// Seconds the host took to compile and check the component (cached
    /// afterwards, for `plugin test` and a server on the same cache).
    pub check_seconds: f64,
    pub component: ComponentInfo,
}

/// Builds the plugin in `dir` (its `manifest.json` names it) into
/// `dir/build/<id>.wasm`, then loads it as the server would.
pub fn build(
    dir: &Path,
    toolchains: &Path,
    cache_dir: Option<PathBuf>,
) -> anyhow::Result<BuildReport> {
    let manifest_path = dir.join("manifest.json");
    let text = std::fs::read_to_string(&manifest_path).with_context(|| {
        format!(
            "cannot read {}: run `plugin build` in a plugin directory (one `switchboard plugin new` made), or pass it",
            manifest_path.display()
        )
    })?;
    let manifest = Manifest::from_json(&text)
        .map_err(anyhow::Error::msg)
        .with_context(|| format!("in {}", manifest_path.display()))?;
    let lang = Lang::detect(dir)?;
    let out_dir = dir.join("build");
    std::fs::create_dir_all(&out_dir)
        .with_context(|| format!("cannot create {}", out_dir.display()))?;
    let output = out_dir.join(format!("{}.wasm", manifest.id));
    let partial = out_dir.join(format!("{}.wasm.partial", manifest.id));
    let world = manifest.kind.world();
    step(&format!(
        "building {} {} ({lang}, world {world}, WIT {})",
        manifest.id, manifest.version, manifest.wit
    ));

    let t0 = Instant::now();
    let _ = std::fs::remove_file(&partial);
    match lang {
        Lang::Rust => build_rust(dir, &partial)?,
        Lang::Python => build_python(dir, world, toolchains, &partial)?,
        Lang::Js => build_js(dir, world, toolchains, &partial)?,
        Lang::C => build_c(dir, world, toolchains, &partial)?,
    }
    std::fs::rename(&partial, &output)
        .with_context(|| format!("cannot write {}", output.display()))?;
    let build_seconds = t0.elapsed().as_secs_f64();

    let bytes = std::fs::read(&output)?;
    step(&format!(
        "checking {} ({} KiB) as the server would: compiling it (cached afterwards)",
        output.display(),
        bytes.len() / 1024
    ));
    let t1 = Instant::now();
    let runtime = PluginRuntime::new(RuntimeConfig {
        cache_dir,
        ..RuntimeConfig::default()
    })?;
    let component = runtime.inspect(&bytes)?;
    runtime.load(manifest, &bytes).with_context(|| {
        format!(
            "{} built, but the server would refuse it with {}",
            output.display(),
            manifest_path.display()
        )
    })?;
    Ok(BuildReport {
        lang,
        size_bytes: bytes.len(),
        output,
        build_seconds,
        check_seconds: t1.elapsed().as_secs_f64(),
        component,
    })
}

// ---- Rust -------------------------------------------------------------------

fn build_rust(dir: &Path, out: &Path) -> anyhow::Result<()> {
    ensure_rust_target(dir)?;
    step("cargo build --release --target wasm32-wasip2");
    let mut child = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .current_dir(dir)
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-wasip2",
            "--message-format=json-render-diagnostics",
            "--manifest-path",
            "Cargo.toml",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .context("cannot run cargo: install Rust with rustup (https://rustup.rs)")?;
    let stdout = child.stdout.take().context("no cargo output")?;
    let mut wasm = None;
    for line in std::io::BufRead::lines(std::io::BufReader::new(stdout)) {
        let Ok(msg) = serde_json::from_str::<serde_json::Value>(&line?) else {
            continue;
        };
        if msg["reason"] != "compiler-artifact" {
            continue;
        }
        let cdylib = msg["target"]["kind"]
            .as_array()
            .is_some_and(|k| k.iter().any(|k| k == "cdylib"));
        if !cdylib {
            continue;
        }
        if let Some(files) = msg["filenames"].as_array() {
            wasm = files
                .iter()
                .filter_map(|f| f.as_str())
                .find(|f| f.ends_with(".wasm"))
                .map(PathBuf::from)
                .or(wasm);
        }
    }
    let status = child.wait()?;
    if !status.success() {
        bail!("cargo build failed ({status}): see the errors above");
    }
    let wasm = wasm.context(
        "cargo built no .wasm: Cargo.toml needs `[lib] crate-type = [\"cdylib\", ...]` (as `plugin new` writes it)",
    )?;
    std::fs::copy(&wasm, out).with_context(|| format!("cannot copy {}", wasm.display()))?;
    Ok(())
}

/// `rustup target add wasm32-wasip2` when the toolchain that builds `dir`
/// lacks it (without rustup, cargo says what is missing).
fn ensure_rust_target(dir: &Path) -> anyhow::Result<()> {
    let Ok(out) = Command::new("rustup")
        .current_dir(dir)
        .args(["target", "list", "--installed"])
        .output()
    else {
        return Ok(());
    };
    if String::from_utf8_lossy(&out.stdout)
        .lines()
        .any(|l| l.trim() == "wasm32-wasip2")
    {
        return Ok(());
    }
    step("rustup target add wasm32-wasip2 (once)");
    run(
        Command::new("rustup")
            .current_dir(dir)
            .args(["target", "add", "wasm32-wasip2"]),
        "rustup target add wasm32-wasip2",
    )
}

// ---- Python -----------------------------------------------------------------

fn build_python(dir: &Path, world: &str, toolchains: &Path, out: &Path) -> anyhow::Result<()> {
    let componentize_py = componentize_py(toolchains)?;
    step(&format!(
        "componentize-py: app.py -> component (world {world})"
    ));
    run(
        Command::new(&componentize_py)
            .current_dir(dir)
            // No __pycache__ in the plugin's directory; and a venv the
            // partner has active must not leak into the component.
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .env_remove("VIRTUAL_ENV")
            .args([
                "-d",
                "wit",
                "-w",
                world,
                "componentize",
                "--stub-wasi",
                "-p",
                ".",
                "app",
                "-o",
            ])
            .arg(out),
        "componentize-py",
    )
}

/// componentize-py in a venv under the toolchains directory, installed
/// from PyPI on first use.
fn componentize_py(toolchains: &Path) -> anyhow::Result<PathBuf> {
    let venv = toolchains.join(format!("componentize-py-{COMPONENTIZE_PY_VERSION}"));
    let exe = venv.join("bin/componentize-py");
    if works(&exe) {
        return Ok(exe);
    }
    let python = match on_path(&["python3"]) {
        Some(p) => p,
        None => {
            apt_install(&["python3", "python3-venv"], "Python 3 is not installed")?;
            on_path(&["python3"]).context("python3 still missing after apt-get install")?
        }
    };
    let version_ok = Command::new(&python)
        .args([
            "-c",
            "import sys; sys.exit(0 if sys.version_info >= (3, 9) else 1)",
        ])
        .status()
        .is_ok_and(|s| s.success());
    if !version_ok {
        bail!(
            "{} is older than Python 3.9, which componentize-py needs: install a newer python3 and put it first on PATH",
            python.display()
        );
    }
    step(&format!(
        "installing componentize-py {COMPONENTIZE_PY_VERSION} from PyPI into {} (once)",
        venv.display()
    ));
    let _ = std::fs::remove_dir_all(&venv);
    let venv_ok = Command::new(&python)
        .args(["-m", "venv"])
        .arg(&venv)
        .status()
        .is_ok_and(|s| s.success());
    if !venv_ok {
        apt_install(&["python3-venv"], "python3 cannot make a venv")?;
        run(
            Command::new(&python).args(["-m", "venv"]).arg(&venv),
            "python3 -m venv",
        )?;
    }
    run(
        Command::new(venv.join("bin/pip"))
            .args(["install", "--disable-pip-version-check", "--quiet"])
            .arg(format!("componentize-py=={COMPONENTIZE_PY_VERSION}")),
        "pip install componentize-py",
    )?;
    if !works(&exe) {
        bail!(
            "componentize-py does not run after installing it into {}",
            venv.display()
        );
    }
    Ok(exe)
}

// ---- JavaScript -------------------------------------------------------------

fn build_js(dir: &Path, world: &str, toolchains: &Path, out: &Path) -> anyhow::Result<()> {
    let package: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("package.json")).context("cannot read package.json")?,
    )
    .context("package.json is not JSON")?;
    let entry = package["main"].as_str().unwrap_or("plugin.js");
    if !dir.join(entry).is_file() {
        bail!(
            "{} has no {entry} (package.json `main`, default plugin.js)",
            dir.display()
        );
    }
    let jco = jco(dir, toolchains)?;
    step(&format!(
        "jco componentize: {entry} -> component (world {world}, no WASI)"
    ));
    run(
        Command::new(&jco)
            .current_dir(dir)
            .args([
                "componentize",
                entry,
                "--wit",
                "wit",
                "--world-name",
                world,
                "--disable",
                "all",
                "-o",
            ])
            .arg(out),
        "jco componentize",
    )
}

/// jco and componentize-js as `package.json` (and `package-lock.json`)
/// pin them, installed with npm once per distinct pinning under the
/// toolchains directory, so plugins share one install.
fn jco(dir: &Path, toolchains: &Path) -> anyhow::Result<PathBuf> {
    if on_path(&["node"]).is_none() || on_path(&["npm"]).is_none() {
        apt_install(&["nodejs", "npm"], "Node.js is not installed")?;
    }
    let major = Command::new("node")
        .args(["-p", "process.versions.node.split('.')[0]"])
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .trim()
                .parse::<u32>()
                .ok()
        })
        .context("cannot run node")?;
    if major < 18 {
        bail!("Node.js {major} is too old: jco needs 18 or newer");
    }
    // One install per pinning, shared by every plugin that pins the same
    // versions: the key and the installed package.json hold only what
    // decides the install (not the plugin's name or description).
    let package: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.join("package.json")).context("cannot read package.json")?,
    )
    .context("package.json is not JSON")?;
    let mut toolchain = serde_json::json!({"name": "switchboard-js-toolchain", "private": true});
    for field in ["dependencies", "devDependencies", "overrides"] {
        if let Some(v) = package.get(field) {
            toolchain[field] = v.clone();
        }
    }
    let lock = match std::fs::read(dir.join("package-lock.json")) {
        Ok(bytes) => {
            let mut lock: serde_json::Value =
                serde_json::from_slice(&bytes).context("package-lock.json is not JSON")?;
            lock["name"] = "switchboard-js-toolchain".into();
            if let Some(root) = lock.pointer_mut("/packages/") {
                *root = toolchain.clone();
            }
            serde_json::to_vec_pretty(&lock)?
        }
        Err(_) => Vec::new(),
    };
    let package = serde_json::to_vec_pretty(&toolchain)?;
    let mut hash = Sha256::new();
    hash.update(&package);
    hash.update(&lock);
    let key = hex::encode(hash.finalize());
    let prefix = toolchains.join("npm").join(&key[..16]);
    let exe = prefix.join("node_modules/.bin/jco");
    let done = prefix.join(".installed");
    if exe.is_file() && done.is_file() {
        return Ok(exe);
    }
    // One install at a time per pinning: a second `plugin build` waits for
    // the first, then finds it done.
    std::fs::create_dir_all(&prefix)?;
    let lock_file = std::fs::File::create(prefix.with_extension("lock"))?;
    lock_file
        .lock()
        .context("cannot lock the npm toolchain directory")?;
    if exe.is_file() && done.is_file() {
        return Ok(exe);
    }
    step(&format!(
        "npm install (jco, componentize-js as package.json pins them) into {} (once)",
        prefix.display()
    ));
    std::fs::create_dir_all(&prefix)?;
    std::fs::write(prefix.join("package.json"), &package)?;
    if !lock.is_empty() {
        std::fs::write(prefix.join("package-lock.json"), &lock)?;
    }
    run(
        Command::new("npm").current_dir(&prefix).args([
            "install",
            "--no-audit",
            "--no-fund",
            "--loglevel=error",
        ]),
        "npm install",
    )?;
    if !exe.is_file() {
        bail!(
            "npm install did not provide jco: package.json must list @bytecodealliance/jco and @bytecodealliance/componentize-js"
        );
    }
    std::fs::write(&done, b"")?;
    Ok(exe)
}

// ---- C ----------------------------------------------------------------------

struct CToolchain {
    clang: PathBuf,
    sysroot: PathBuf,
    triple: &'static str,
}

fn find_c_toolchain() -> Option<CToolchain> {
    let clang = on_path(&["clang-19", "clang-20", "clang-18", "clang"])?;
    let (sysroot, triple) = [
        "/usr",
        "/usr/share/wasi-sysroot",
        "/opt/wasi-sdk/share/wasi-sysroot",
    ]
    .into_iter()
    .map(PathBuf::from)
    .find_map(|root| {
        ["wasm32-wasi", "wasm32-wasip1"]
            .into_iter()
            .find(|t| root.join(format!("lib/{t}/libc.a")).is_file())
            .map(|t| (root.clone(), t))
    })?;
    let ask = |flag: &str| {
        Command::new(&clang)
            .args([&format!("--target={triple}"), flag])
            .output()
            .ok()
            .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()))
    };
    let linker = ask("-print-prog-name=wasm-ld")?;
    let linker_ok = linker.is_file() || on_path(&[&linker.to_string_lossy()]).is_some();
    let runtime_ok = ask("-print-libgcc-file-name")?.is_file();
    (linker_ok && runtime_ok).then_some(CToolchain {
        clang,
        sysroot,
        triple,
    })
}

fn build_c(dir: &Path, world: &str, _toolchains: &Path, out: &Path) -> anyhow::Result<()> {
    let tc = match find_c_toolchain() {
        Some(tc) => tc,
        None => {
            apt_install(
                &C_PACKAGES,
                "clang for wasm32, wasm-ld or wasi-libc is missing",
            )?;
            find_c_toolchain().context(
                "clang, wasm-ld, compiler-rt for wasm32 or wasi-libc is still missing after apt-get install",
            )?
        }
    };
    let bindings = dir.join("build/bindings");
    let _ = std::fs::remove_dir_all(&bindings);
    std::fs::create_dir_all(&bindings)?;
    step(&format!(
        "wit-bindgen c: wit/ -> build/bindings/ (world {world})"
    ));
    let generated = c_bindings(&dir.join("wit"), world)?;
    for (name, contents) in &generated {
        std::fs::write(bindings.join(name), contents)?;
    }
    let stem = world.replace('-', "_");
    let core = dir.join("build/core.wasm");
    let sources = c_sources(dir)?;
    step(&format!(
        "{}: {} -> core module ({}, reactor)",
        tc.clang
            .file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default(),
        sources
            .iter()
            .filter_map(|s| s.file_name())
            .map(|s| s.to_string_lossy())
            .collect::<Vec<_>>()
            .join(" "),
        tc.triple
    ));
    run(
        Command::new(&tc.clang)
            .current_dir(dir)
            .arg(format!("--target={}", tc.triple))
            .arg(format!("--sysroot={}", tc.sysroot.display()))
            .args([
                "-mexec-model=reactor",
                "-O2",
                "-std=c11",
                "-Wall",
                "-Wextra",
                "-Wl,--strip-debug",
            ])
            .arg("-I")
            .arg(&bindings)
            .arg("-I")
            .arg(dir)
            // The partner's own flags (`CFLAGS="-DKPI_DEBUG=1 -O3"`), last
            // so they win.
            .args(
                std::env::var("CFLAGS")
                    .unwrap_or_default()
                    .split_whitespace(),
            )
            .args(&sources)
            .arg(bindings.join(format!("{stem}.c")))
            .arg(bindings.join(format!("{stem}_component_type.o")))
            .arg("-o")
            .arg(&core),
        "clang",
    )?;
    step("componentizing the core module (wit-component)");
    let module = std::fs::read(&core)?;
    let component = wit_component::ComponentEncoder::default()
        .validate(true)
        .module(&module)
        .context(
            "the core module has no component type: was the bindings' _component_type.o linked?",
        )?
        .adapter(
            "wasi_snapshot_preview1",
            wasi_preview1_component_adapter_provider::WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER,
        )?
        .encode()
        .context("componentizing the core module")?;
    std::fs::write(out, component)?;
    Ok(())
}

/// wit-bindgen's C generator over the WIT package in `wit_dir`: the
/// header, the glue source and the component-type object, by file name.
fn c_bindings(wit_dir: &Path, world: &str) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
    let mut resolve = wit_parser::Resolve::default();
    let (package, _) = resolve
        .push_dir(wit_dir)
        .with_context(|| format!("reading the WIT package in {}", wit_dir.display()))?;
    let world = resolve.select_world(&[package], Some(world))?;
    let mut files = wit_bindgen_core::Files::default();
    wit_bindgen_c::Opts::default()
        .build()
        .generate(&mut resolve, world, &mut files)
        .context("generating C bindings")?;
    Ok(files
        .iter()
        .map(|(name, bytes)| (name.to_owned(), bytes.to_vec()))
        .collect())
}
