//! The partner toolchain behind `switchboard plugin new` and `plugin build`:
//! scaffolds a plugin in one of four languages and builds it into a
//! component, installing the language's toolchain from its package registry
//! on first use.
//!
//! | language | scaffold | build |
//! |---|---|---|
//! | Rust | `Cargo.toml`, `src/lib.rs` on `switchboard-sdk` | `cargo build --release --target wasm32-wasip2` |
//! | Python | `app.py` | componentize-py (PyPI), `--stub-wasi` |
//! | JavaScript | `plugin.js`, `package.json` | jco + componentize-js (npm), `--disable all` |
//! | C | `plugin.c` | clang + wasi-libc (Debian), bindings and componentization in-process |

mod build;
mod scaffold;

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, bail};

pub use build::{BuildReport, build};
pub use scaffold::{ScaffoldOptions, scaffold};

/// The languages a plugin can be written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    Rust,
    #[value(alias = "javascript")]
    Js,
    #[value(alias = "py")]
    Python,
    C,
}

impl Lang {
    pub const ALL: [Lang; 4] = [Lang::Rust, Lang::Js, Lang::Python, Lang::C];

    /// The name used for the templates directory and on the command line.
    pub fn id(self) -> &'static str {
        match self {
            Lang::Rust => "rust",
            Lang::Js => "js",
            Lang::Python => "python",
            Lang::C => "c",
        }
    }

    fn display_name(self) -> &'static str {
        match self {
            Lang::Rust => "Rust",
            Lang::Js => "JavaScript",
            Lang::Python => "Python",
            Lang::C => "C",
        }
    }

    /// The file holding the rule, relative to the plugin directory.
    fn source_file(self) -> &'static str {
        match self {
            Lang::Rust => "src/lib.rs",
            Lang::Js => "plugin.js",
            Lang::Python => "app.py",
            Lang::C => "plugin.c",
        }
    }

    /// The language of the plugin in `dir`, from the files it holds.
    pub fn detect(dir: &Path) -> anyhow::Result<Lang> {
        if dir.join("Cargo.toml").is_file() {
            return Ok(Lang::Rust);
        }
        if dir.join("package.json").is_file() {
            return Ok(Lang::Js);
        }
        if dir.join("app.py").is_file() {
            return Ok(Lang::Python);
        }
        if !c_sources(dir)?.is_empty() {
            return Ok(Lang::C);
        }
        bail!(
            "cannot tell the language of the plugin in {}: expected Cargo.toml (Rust), package.json (JavaScript), \
             app.py (Python) or *.c files (C). `switchboard plugin new` makes one.",
            dir.display()
        )
    }
}

impl std::fmt::Display for Lang {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.display_name())
    }
}

/// The `.c` files directly in `dir`, sorted.
fn c_sources(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "c") && path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// Where toolchains are installed: `$SWITCHBOARD_TOOLCHAINS`, else
/// `~/.cache/switchboard/toolchains`.
pub fn toolchains_dir() -> anyhow::Result<PathBuf> {
    if let Some(dir) = std::env::var_os("SWITCHBOARD_TOOLCHAINS") {
        return Ok(PathBuf::from(dir));
    }
    let home = std::env::var_os("HOME")
        .context("neither SWITCHBOARD_TOOLCHAINS nor HOME is set: set SWITCHBOARD_TOOLCHAINS to a writable directory")?;
    Ok(PathBuf::from(home).join(".cache/switchboard/toolchains"))
}

/// A progress line on stderr (stdout is kept for results).
fn step(message: &str) {
    #[allow(clippy::print_stderr)]
    {
        eprintln!("==> {message}");
    }
}

/// Runs `cmd`, its output going to our stderr, and fails with what to do if
/// it cannot start or exits non-zero.
fn run(cmd: &mut Command, what: &str) -> anyhow::Result<()> {
    tracing::debug!(?cmd, "running");
    let status = cmd
        .stdout(std::process::Stdio::from(std::io::stderr()))
        .status()
        .with_context(|| format!("cannot run {what} ({:?})", cmd.get_program()))?;
    if !status.success() {
        bail!("{what} failed ({status})");
    }
    Ok(())
}

/// Whether `program` runs (`program --version` exits 0).
fn works(program: &Path) -> bool {
    Command::new(program)
        .arg("--version")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The first of `names` found on PATH.
fn on_path(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    names.iter().find_map(|name| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    })
}

/// Installs Debian packages with apt-get (as root, or through sudo), for a
/// toolchain that is missing; says what to install otherwise.
fn apt_install(packages: &[&str], why: &str) -> anyhow::Result<()> {
    let list = packages.join(" ");
    if on_path(&["apt-get"]).is_none() {
        bail!("{why}: install {list} (or your system's equivalent) and run the command again");
    }
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0");
    let sudo = if root {
        None
    } else if on_path(&["sudo"]).is_some() {
        Some("sudo")
    } else {
        bail!("{why}: install {list} as root (`apt-get install {list}`) and run the command again");
    };
    step(&format!("{why}: apt-get install {list}"));
    let apt = |args: &[&str]| {
        let mut cmd = match sudo {
            Some(s) => {
                let mut c = Command::new(s);
                c.arg("apt-get");
                c
            }
            None => Command::new("apt-get"),
        };
        cmd.env("DEBIAN_FRONTEND", "noninteractive").args(args);
        cmd
    };
    run(&mut apt(&["update", "-qq"]), "apt-get update")?;
    let mut install = apt(&["install", "-y", "-qq", "--no-install-recommends"]);
    install.args(packages);
    run(&mut install, &format!("apt-get install {list}"))
}
