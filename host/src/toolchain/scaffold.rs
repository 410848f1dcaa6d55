//! `switchboard plugin new`: a working plugin of any kind in any language,
//! from the templates compiled into the binary (`host/templates`).

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use include_dir::{Dir, include_dir};

use super::Lang;
use crate::plugins::{PluginKind, WIT_VERSION};

static TEMPLATES: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/templates");
/// The current WIT package, copied into JavaScript, Python and C plugins
/// (their bindings generators read it).
static WIT: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/../wit");

/// What `plugin new` was asked for.
#[derive(Debug, Clone)]
pub struct ScaffoldOptions {
    pub name: String,
    pub kind: PluginKind,
    pub lang: Lang,
    /// The directory to create the plugin in (`<parent>/<name>`).
    pub parent: PathBuf,
    /// For Rust: the switchboard `sdk/` directory to depend on by path
    /// instead of the registry.
    pub sdk_path: Option<PathBuf>,
}

/// Creates `<parent>/<name>/` and returns it, with the files written
/// (relative paths).
pub fn scaffold(opts: &ScaffoldOptions) -> anyhow::Result<(PathBuf, Vec<String>)> {
    check_name(&opts.name)?;
    let dir = opts.parent.join(&opts.name);
    if dir.exists()
        && std::fs::read_dir(&dir)
            .with_context(|| format!("cannot read {}", dir.display()))?
            .next()
            .is_some()
    {
        bail!(
            "{} exists and is not empty: choose another name or --dir",
            dir.display()
        );
    }
    let files = files(opts)?;
    for (rel, text) in &files {
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok((dir, files.into_iter().map(|(rel, _)| rel).collect()))
}

/// Plugin ids are what the server's URLs and the audit log carry.
fn check_name(name: &str) -> anyhow::Result<()> {
    let ok = name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.ends_with('-');
    if !ok {
        bail!(
            "{name:?} is not a plugin name: use lowercase letters, digits and '-', starting with a letter \
             (e.g. vip-routing); it becomes the plugin id"
        );
    }
    Ok(())
}

/// Every file of the plugin, as (relative path, text).
fn files(opts: &ScaffoldOptions) -> anyhow::Result<Vec<(String, String)>> {
    let kind = opts.kind.interface();
    let lang = opts.lang.id();
    let world = opts.kind.world();
    let vars: Vec<(&str, String)> = vec![
        ("name", opts.name.clone()),
        ("crate", opts.name.replace('-', "_")),
        ("kind", kind.to_owned()),
        ("world", world.to_owned()),
        ("world_snake", world.replace('-', "_")),
        ("wit_version", WIT_VERSION.to_owned()),
        ("lang_name", opts.lang.display_name().to_owned()),
        ("source", opts.lang.source_file().to_owned()),
        ("sdk_dependency", sdk_dependency(opts)?),
        ("extra_files", extra_files(opts.lang).to_owned()),
        ("toolchain", toolchain(opts.lang).to_owned()),
        ("lang_notes", lang_notes(opts.lang).to_owned()),
    ];
    let render = |path: &str| -> anyhow::Result<String> {
        let text = TEMPLATES
            .get_file(path)
            .and_then(|f| f.contents_utf8())
            .with_context(|| format!("template {path} missing from this build"))?;
        Ok(fill(text, &vars))
    };

    let mut out = vec![
        (
            "manifest.json".to_owned(),
            render(&format!("kinds/{kind}/manifest.json"))?,
        ),
        ("README.md".to_owned(), render("README.md")?),
        (
            ".gitignore".to_owned(),
            render(&format!("lang/{lang}/gitignore"))?,
        ),
        (
            opts.lang.source_file().to_owned(),
            render(&format!("lang/{lang}/{kind}.{}", extension(opts.lang)))?,
        ),
    ];
    let fixtures = TEMPLATES
        .get_dir(format!("kinds/{kind}/fixtures"))
        .context("fixture templates missing from this build")?;
    for file in fixtures.files() {
        let path = file.path().to_string_lossy().into_owned();
        let name = file
            .path()
            .file_name()
            .map(|n| n.to_string_lossy().into_owned());
        out.push((
            format!("fixtures/{}", name.unwrap_or_default()),
            render(&path)?,
        ));
    }
    match opts.lang {
        Lang::Rust => out.push(("Cargo.toml".into(), render("lang/rust/Cargo.toml")?)),
        Lang::Js => out.push(("package.json".into(), render("lang/js/package.json")?)),
        Lang::Python | Lang::C => {}
    }
    if opts.lang != Lang::Rust {
        for file in WIT.files() {
            if file.path().extension().is_some_and(|e| e == "wit") {
                let name = file.path().to_string_lossy().into_owned();
                let text = file.contents_utf8().context("a WIT file is not UTF-8")?;
                out.push((format!("wit/{name}"), text.to_owned()));
            }
        }
    }
    out.sort();
    Ok(out)
}

fn extension(lang: Lang) -> &'static str {
    match lang {
        Lang::Rust => "rs",
        Lang::Js => "js",
        Lang::Python => "py",
        Lang::C => "c",
    }
}

/// Replaces every `{{key}}` by its value.
fn fill(text: &str, vars: &[(&str, String)]) -> String {
    let mut out = text.to_owned();
    for (key, value) in vars {
        out = out.replace(&format!("{{{{{key}}}}}"), value);
    }
    out
}

/// The `switchboard-sdk` line of a Rust plugin's Cargo.toml: by path with
/// `--sdk-path`, else the one in the checkout this binary was built from
/// when it is still there, else the registry.
fn sdk_dependency(opts: &ScaffoldOptions) -> anyhow::Result<String> {
    let built_from = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sdk");
    let path = match &opts.sdk_path {
        Some(p) => {
            if !p.join("Cargo.toml").is_file() {
                bail!(
                    "--sdk-path {}: no Cargo.toml there; pass the `sdk` directory of a switchboard checkout",
                    p.display()
                );
            }
            Some(p.clone())
        }
        None if opts.lang == Lang::Rust && built_from.join("Cargo.toml").is_file() => {
            Some(built_from)
        }
        None => None,
    };
    Ok(match path {
        Some(p) => {
            let p = std::fs::canonicalize(&p).unwrap_or(p);
            let p = p.to_string_lossy().replace('\\', "/");
            format!("switchboard-sdk = {{ path = \"{p}\" }}")
        }
        None => format!("switchboard-sdk = \"{}\"", env!("CARGO_PKG_VERSION")),
    })
}

fn extra_files(lang: Lang) -> &'static str {
    match lang {
        Lang::Rust => {
            "| `Cargo.toml` | a standalone crate on `switchboard-sdk`; `cargo test` runs the unit tests natively |\n"
        }
        Lang::Js => {
            "| `package.json` | pins jco and componentize-js, which `plugin build` installs |\n| `wit/` | the WIT package the bindings come from (do not edit) |\n"
        }
        Lang::Python | Lang::C => {
            "| `wit/` | the WIT package the bindings come from (do not edit) |\n"
        }
    }
}

fn toolchain(lang: Lang) -> &'static str {
    match lang {
        Lang::Rust => "cargo, target wasm32-wasip2",
        Lang::Js => "jco + componentize-js from npm",
        Lang::Python => "componentize-py from PyPI",
        Lang::C => "clang + wasi-libc, bindings by wit-bindgen",
    }
}

fn lang_notes(lang: Lang) -> &'static str {
    match lang {
        Lang::Rust => {
            "\nThe SDK turns the WIT types into plain Rust types and the `export_*!` macro\n\
             wires your type to the world; `cargo test` runs the unit tests in\n\
             `src/lib.rs` natively, `plugin test` runs the fixtures in the sandbox.\n"
        }
        Lang::Js => {
            "\nNeeds Node.js 18 or newer (installed with apt-get when missing). The\n\
             component embeds a JavaScript engine: about 12 MB, compiled once by the\n\
             server and cached. `plugin.js` must be one ES module (bundle first if you\n\
             import packages). jco is installed once per pinning (package.json's\n\
             devDependencies) under the toolchains directory, not here.\n"
        }
        Lang::Python => {
            "\nNeeds Python 3.9 or newer with `venv` (installed with apt-get when\n\
             missing). The component embeds CPython: about 18 MB, compiled once by\n\
             the server and cached. `print` has nowhere to go in the sandbox and\n\
             traps: use `log`. Only the standard\n\
             library is available unless you vendor pure-Python packages next to `app.py`.\n"
        }
        Lang::C => {
            "\nNeeds clang with the wasm32 target, wasm-ld and wasi-libc (Debian:\n\
             `clang-19 lld-19 wasi-libc libclang-rt-19-dev-wasm32`, installed with\n\
             apt-get when missing). The bindings (the header in `build/bindings/`)\n\
             are regenerated from `wit/` on every build. Every `.c` file in this\n\
             directory is compiled.\n"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(kind: PluginKind, lang: Lang) -> ScaffoldOptions {
        ScaffoldOptions {
            name: "my-rule".into(),
            kind,
            lang,
            parent: PathBuf::new(),
            sdk_path: None,
        }
    }

    #[test]
    fn every_kind_and_language_renders_without_leftover_placeholders() {
        for kind in PluginKind::ALL {
            for lang in Lang::ALL {
                let files = files(&opts(kind, lang)).expect("renders");
                assert!(files.iter().any(|(p, _)| p == lang.source_file()));
                assert!(files.iter().any(|(p, _)| p.starts_with("fixtures/")));
                assert_eq!(
                    files.iter().any(|(p, _)| p == "wit/worlds.wit"),
                    lang != Lang::Rust
                );
                for (path, text) in &files {
                    assert!(
                        !text.contains("{{") || path.starts_with("wit/"),
                        "{kind}/{lang:?}: {path} keeps a placeholder"
                    );
                }
                let manifest = &files
                    .iter()
                    .find(|(p, _)| p == "manifest.json")
                    .expect("manifest")
                    .1;
                let parsed =
                    crate::plugins::Manifest::from_json(manifest).expect("a valid manifest");
                assert_eq!(parsed.kind, kind);
                assert_eq!(parsed.id, "my-rule");
            }
        }
    }

    #[test]
    fn names_that_cannot_be_plugin_ids_are_refused() {
        for bad in ["", "My-Rule", "1rule", "rule-", "ru le", "rüle"] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
        check_name("vip-routing2").expect("a good name");
    }
}
