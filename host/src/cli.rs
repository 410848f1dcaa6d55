//! The `switchboard` command line: `serve` runs the host, `plugin inspect`
//! reads a component. Every subcommand has `--help`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context as _, bail};
use clap::{Args, Parser, Subcommand};

use crate::engine::Engine;
use crate::output::print_line;
use crate::plugins::{ComponentInfo, Manifest, PluginRuntime, RuntimeConfig};
use crate::store::{Durability, SledStore};

/// switchboard: a contact-center rules platform. Routing policies, escalation
/// rules, compliance checks and KPI definitions run as sandboxed WebAssembly
/// components; the host owns contacts, agents, queues and the audit log.
#[derive(Debug, Parser)]
#[command(name = "switchboard", version, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,

    /// Log filter, e.g. `info`, `debug`, `switchboard=debug,tower_http=info`
    /// [default: info, or `log.level` of the config file]
    #[arg(long, global = true, env = "SWITCHBOARD_LOG")]
    pub log_level: Option<String>,

    /// Log format on stderr [default: text, or `log.format` of the config file]
    #[arg(long, global = true, env = "SWITCHBOARD_LOG_FORMAT", value_enum)]
    pub log_format: Option<LogFormat>,
}

pub use crate::config::LogFormat;

impl Cli {
    /// The log filter and format: flag or environment, else the config
    /// file's (for `serve --config`), else `info` as text.
    pub fn logging(&self) -> anyhow::Result<(String, LogFormat)> {
        let file = match &self.command {
            Command::Serve(args) => args.config_file()?,
            _ => None,
        };
        let file = file.unwrap_or_default().log;
        Ok((
            self.log_level
                .clone()
                .or(file.level)
                .unwrap_or_else(|| "info".into()),
            self.log_format.or(file.format).unwrap_or(LogFormat::Text),
        ))
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the switchboard server with the bundled plugins active.
    ///
    /// Data (the compile cache, and later contacts and the audit log) is kept
    /// in --data-dir, created if missing.
    Serve(ServeArgs),
    /// Work with plugin components.
    #[command(subcommand)]
    Plugin(PluginCommand),
    /// Read and check the audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// What would a candidate have decided? Run an uploaded version (not
    /// active) over the recorded inputs of the slot it would replace, in a
    /// window, and report what would change: routing decisions and queue
    /// volumes, escalation actions, compliance verdicts, KPI samples.
    ///
    /// Through a running server (`--server`, `--token`: an operator or
    /// admin token; the server runs it as a job) or offline from a data
    /// directory (`--data-dir`, the server stopped). Progress goes to
    /// stderr. Nothing is applied or recorded.
    Whatif(Box<WhatifArgs>),
    /// Query a KPI measure on a running server.
    Kpi(KpiArgs),
    /// Drive a running server with a seeded, realistic day: arrivals per
    /// channel on a daily curve, topics, tiers, repeat customers, agents on
    /// shifts answering what they are offered, abandons, transfers,
    /// surveys, drafts for the compliance checks and approvals.
    ///
    /// Start the server with `--simulated-clock <ms>` on a fresh data
    /// directory to run a day in minutes; progress goes to stderr.
    Simulate(crate::simulate::SimulateArgs),
    /// A simulated A/B day: the same seeded day twice, each on a fresh
    /// server of its own (simulated clock, temporary data directory), A
    /// with the plugins as shipped and B with a candidate component in its
    /// slot; then the KPIs side by side (service level, speed of answer,
    /// abandonment, occupancy, overall and per queue; complaints opened,
    /// clocks breached). Progress on stderr.
    Ab(Box<crate::ab::AbArgs>),
    /// The agent daily report (per agent and team: contacts handled, AHT,
    /// after-contact work, occupancy, utilization, CSAT, FCR, transfers,
    /// NPS, cost) from a running server.
    Report(ReportArgs),
    /// Print the OpenAPI 3.1 document of the HTTP API (what a running
    /// server serves at /openapi.json), e.g. to generate a client.
    Openapi,
    /// Create, list and revoke API tokens (with the server stopped; while it
    /// runs, use `POST /v1/tokens` with an admin token).
    #[command(subcommand)]
    Token(TokenCommand),
    /// Back up a running server: a point-in-time copy of its whole store
    /// (contacts, tokens, plugin versions, the audit chain) written into a
    /// new data directory, then checked with the audit chain's verification.
    ///
    /// Restore: stop the server, move its data directory aside, and start it
    /// with `--data-dir` on the backup (docs/operations.md).
    Backup(BackupArgs),
}

/// Options of `switchboard backup`.
#[derive(Debug, Args)]
pub struct BackupArgs {
    #[command(flatten)]
    pub remote: crate::client::Remote,
    /// The new data directory to write (must not exist).
    #[arg(long)]
    pub out: PathBuf,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Options of `switchboard kpi`.
#[derive(Debug, Args)]
pub struct KpiArgs {
    /// The measure, e.g. `service_level` (`--list` shows them).
    #[arg(required_unless_present_any = ["list", "backfill"])]
    pub measure: Option<String>,
    /// List the declared measures instead.
    #[arg(long)]
    pub list: bool,
    /// Instead: re-run the KPI definition calls that failed through their
    /// slots' current versions and apply the samples (each failed call
    /// once; safe to repeat). Needs an admin or operator token.
    #[arg(long, conflicts_with = "list")]
    pub backfill: bool,
    /// Window length back from now, in hours.
    #[arg(long, default_value_t = 24)]
    pub hours: i64,
    /// Bucket size in minutes.
    #[arg(long, default_value_t = 60)]
    pub bucket_mins: i64,
    /// Dimensions to group by (queue, agent, channel, team, topic).
    #[arg(long, value_delimiter = ',')]
    pub group_by: Vec<String>,
    /// The KPI definition's slot, when two define a measure of the same
    /// name (`--list` shows each measure's slot).
    #[arg(long)]
    pub slot: Option<String>,
    #[command(flatten)]
    pub remote: crate::client::Remote,
}

/// Options of `switchboard report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The day, `YYYY-MM-DD` (UTC) [default: today by the server's clock]
    #[arg(long)]
    pub day: Option<String>,
    /// Only the teams, not each agent.
    #[arg(long)]
    pub teams: bool,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub remote: crate::client::Remote,
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Issue a token and print it once (it cannot be shown again).
    Create {
        /// What the token may do.
        #[arg(long, value_enum)]
        role: crate::auth::Role,
        /// A note on who or what holds it.
        #[arg(long, default_value = "")]
        label: String,
        /// For `--role agent`: the agent id the token acts as (drafts are
        /// submitted and read as this agent only).
        #[arg(long)]
        agent_id: Option<String>,
        /// The server's data directory.
        #[arg(long, env = "SWITCHBOARD_DATA_DIR", default_value = "switchboard-data")]
        data_dir: PathBuf,
    },
    /// List tokens (ids, roles, labels; never secrets).
    List {
        #[arg(long, env = "SWITCHBOARD_DATA_DIR", default_value = "switchboard-data")]
        data_dir: PathBuf,
    },
    /// Revoke a token by id.
    Revoke {
        id: String,
        #[arg(long, env = "SWITCHBOARD_DATA_DIR", default_value = "switchboard-data")]
        data_dir: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Walk the hash chain and report the first broken link, if any.
    ///
    /// Exits 0 if every record verifies, 1 if the chain is broken (the
    /// message names the record and what is wrong with it). Stop the server
    /// on this data directory first: the store is locked while it runs.
    Verify {
        /// The server's data directory.
        #[arg(long, env = "SWITCHBOARD_DATA_DIR", default_value = "switchboard-data")]
        data_dir: PathBuf,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Re-run recorded plugin decisions through the component and config
    /// that made them, and compare the answers byte for byte.
    ///
    /// Offline against a data directory (`--data-dir`; stop the server
    /// first), or through a running server (`--server`, `--token`; any
    /// auditor token). Exits 0 when every replayed decision matches, 1
    /// when one differs (each is listed with a JSON-path diff). With
    /// `--candidate`, the recorded inputs go to another uploaded version
    /// instead, and every difference is what it would have decided.
    Replay(Box<ReplayArgs>),
}

/// Options of `switchboard audit replay`.
#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// One record, by sequence number.
    #[arg(long)]
    pub seq: Option<u64>,
    /// Decisions about this contact (or draft, or post).
    #[arg(long)]
    pub contact: Option<String>,
    /// Decisions made by this plugin: `id` or `id@version`.
    #[arg(long)]
    pub plugin: Option<String>,
    /// Recorded at or after (ms since the epoch).
    #[arg(long)]
    pub from: Option<i64>,
    /// Recorded before (ms since the epoch).
    #[arg(long)]
    pub to: Option<i64>,
    /// Replay at most this many decisions.
    #[arg(long)]
    pub limit: Option<u64>,
    /// Run the inputs through this uploaded version instead: `id@version`.
    #[arg(long)]
    pub candidate: Option<String>,
    /// The candidate's config, a JSON file (its manifest's default when
    /// absent).
    #[arg(long, requires = "candidate")]
    pub candidate_config: Option<PathBuf>,
    #[command(flatten)]
    pub source: RecordsSource,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Where `audit replay` and `whatif` read the recorded decisions: offline
/// from a data directory, or through a running server.
#[derive(Debug, Args)]
pub struct RecordsSource {
    /// Run offline from this data directory (the server stopped).
    #[arg(long, conflicts_with = "server")]
    pub data_dir: Option<PathBuf>,
    /// With `--data-dir`: the server's config file, for its plugin limits
    /// (a fuel budget raised there must be raised here to decide the same).
    #[arg(long, requires = "data_dir")]
    pub config: Option<PathBuf>,
    /// Run through this server (`audit replay`: any role that reads the
    /// audit log; `whatif`: operator or admin, as a job).
    #[arg(long, env = "SWITCHBOARD_SERVER")]
    pub server: Option<String>,
    /// A bearer token for `--server`.
    #[arg(long, env = "SWITCHBOARD_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
}

/// Options of `switchboard whatif`.
#[derive(Debug, Args)]
pub struct WhatifArgs {
    /// The uploaded version to try: `id@version`.
    #[arg(long)]
    pub candidate: String,
    /// Its config, a JSON file (its manifest's default when absent).
    #[arg(long)]
    pub candidate_config: Option<PathBuf>,
    /// The slot it would replace (`routing` for a routing policy).
    #[arg(long)]
    pub slot: Option<String>,
    /// Decisions recorded at or after (ms since the epoch).
    #[arg(long)]
    pub from: Option<i64>,
    /// Decisions recorded before (ms since the epoch).
    #[arg(long)]
    pub to: Option<i64>,
    #[command(flatten)]
    pub source: RecordsSource,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Options of `switchboard serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// A TOML config file (listen, data_dir, [log], [engine], [plugins]);
    /// flags and environment variables override it. `--print-config` shows
    /// every setting.
    #[arg(long, env = "SWITCHBOARD_CONFIG")]
    pub config: Option<PathBuf>,
    /// Address and port to listen on [default: 127.0.0.1:8080]
    #[arg(long, env = "SWITCHBOARD_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Directory for switchboard's data; created if missing [default: switchboard-data]
    #[arg(long, env = "SWITCHBOARD_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Print the effective configuration (file, flags and defaults merged)
    /// as TOML and exit.
    #[arg(long)]
    pub print_config: bool,
    /// Run on a simulated clock starting at this time (ms since the
    /// epoch) instead of wall time: it moves only by `POST /v1/clock`
    /// (what `switchboard simulate` does), and timers fire as it passes
    /// them. For simulations and demos, on a fresh --data-dir.
    #[arg(long, value_name = "START_MS")]
    pub simulated_clock: Option<i64>,
    /// When writes are acknowledged: `group` (on disk first; the default)
    /// or `deferred` (flushed within 500 ms; simulations and demos only)
    #[arg(long, env = "SWITCHBOARD_DURABILITY", value_enum)]
    pub durability: Option<crate::config::DurabilityMode>,
}

impl ServeArgs {
    fn config_file(&self) -> anyhow::Result<Option<crate::config::ConfigFile>> {
        self.config
            .as_deref()
            .map(crate::config::ConfigFile::load)
            .transpose()
    }

    /// The config file with the flags and environment applied over it.
    pub fn effective(&self) -> anyhow::Result<crate::config::ConfigFile> {
        let mut c = self.config_file()?.unwrap_or_default();
        c.listen = Some(
            self.listen
                .or(c.listen)
                .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080))),
        );
        if let Some(d) = self.durability {
            c.store.durability = d;
        }
        c.data_dir = Some(
            self.data_dir
                .clone()
                .or(c.data_dir)
                .unwrap_or_else(|| "switchboard-data".into()),
        );
        Ok(c)
    }
}

#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// Print what a component is: world, WIT version, imports, exports, size, digest.
    ///
    /// Exits non-zero if the file is not a component. With --manifest, also
    /// checks the component against the manifest exactly as the server would
    /// when loading it.
    Inspect {
        /// The `.wasm` component.
        file: PathBuf,
        /// A `manifest.json` to validate the component against.
        #[arg(long)]
        manifest: Option<PathBuf>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Scaffold a working plugin: the rule, manifest.json (config schema,
    /// default config, limits), fixtures that pass, a README and a
    /// .gitignore, in `<dir>/<name>/`.
    ///
    /// Then, in that directory: `switchboard plugin build`, `switchboard
    /// plugin test`. JavaScript, Python and C plugins get a copy of the WIT
    /// package in `wit/`; a Rust plugin depends on switchboard-sdk.
    New {
        /// The plugin's name, which becomes its id: lowercase letters,
        /// digits and '-' (e.g. vip-routing).
        name: String,
        /// What the plugin does: which WIT world it implements.
        #[arg(long, value_enum)]
        kind: crate::plugins::PluginKind,
        /// The language to write it in.
        #[arg(long, value_enum)]
        lang: crate::toolchain::Lang,
        /// The directory to create the plugin in.
        #[arg(long, default_value = ".")]
        dir: PathBuf,
        /// Rust only: depend on this switchboard `sdk/` checkout by path
        /// [default: the checkout this binary was built from, if present,
        /// else the registry]
        #[arg(long)]
        sdk_path: Option<PathBuf>,
    },
    /// Build the plugin in DIR into `DIR/build/<id>.wasm`, then check it as
    /// the server would (world, WIT version, imports, manifest).
    ///
    /// The language is read from the files (Cargo.toml: Rust, package.json:
    /// JavaScript, app.py: Python, *.c: C). The toolchain is installed on
    /// first use into $SWITCHBOARD_TOOLCHAINS: componentize-py from PyPI,
    /// jco and componentize-js from npm, clang and wasi-libc with apt-get,
    /// the wasm32-wasip2 target with rustup.
    Build {
        /// The plugin directory (holding manifest.json).
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// Where toolchains are installed [default: ~/.cache/switchboard/toolchains]
        #[arg(long, env = "SWITCHBOARD_TOOLCHAINS")]
        toolchains: Option<PathBuf>,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Run fixtures through a component in the real sandboxed runtime and
    /// report pass/fail with a diff for each failure; exits 1 if any fails.
    ///
    /// A fixture is a JSON file with `config` (null: the manifest's
    /// default), `call` (route, on-event, check, measures), `input` and
    /// `expected` (the plugin's answer, or {"error": "substring"}); see
    /// docs/plugins.md. With no arguments, in a plugin directory: the
    /// component `build/<id>.wasm` and the fixtures in `fixtures/`.
    Test {
        /// The `.wasm` component [default: build/<id>.wasm, id from
        /// ./manifest.json]. In a plugin directory, a single `.json` file or
        /// directory here is taken as the fixtures: `plugin test
        /// fixtures/02-vip.json` runs one fixture.
        component: Option<PathBuf>,
        /// A fixture file, or a directory of them (`*.json`) [default: fixtures]
        fixtures: Option<PathBuf>,
        /// The plugin's manifest [default: manifest.json beside the
        /// fixtures directory, else beside the component]
        #[arg(long)]
        manifest: Option<PathBuf>,
        /// Print the results as JSON.
        #[arg(long)]
        json: bool,
        /// Then time N warm calls of each passing fixture through the
        /// sandbox (limits on) and print the time per call; compare
        /// languages, or a change, on the same machine.
        #[arg(long, value_name = "N")]
        bench: Option<u32>,
    },
    /// List the plugins bundled in this binary.
    Bundled,
    /// Make an ed25519 signing key for plugins: writes the secret key to
    /// FILE (readable by you only) and prints the public key, which the
    /// operator adds to `[plugins] trusted_keys`.
    Keygen {
        /// Where to write the secret key.
        #[arg(long)]
        out: PathBuf,
    },
    /// Sign a component and its manifest with your key; writes
    /// `<component>.sig.json`, which `plugin push` sends along.
    Sign {
        /// The `.wasm` component.
        file: PathBuf,
        /// Its `manifest.json`.
        #[arg(long)]
        manifest: PathBuf,
        /// Your secret key file (`plugin keygen`).
        #[arg(long)]
        key: PathBuf,
        /// Where to write the signature [default: <component>.sig.json]
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Upload a component with its manifest to a running server (with
    /// `<component>.sig.json` when it exists, or --signature).
    #[command(alias = "upload")]
    Push {
        /// The `.wasm` component.
        file: PathBuf,
        /// Its `manifest.json`.
        #[arg(long)]
        manifest: PathBuf,
        /// A signature file from `plugin sign`.
        #[arg(long)]
        signature: Option<PathBuf>,
        #[command(flatten)]
        remote: crate::client::Remote,
    },
    /// Run an uploaded version in a slot (`routing`, or a named slot).
    Activate {
        slot: String,
        plugin: String,
        #[arg(value_name = "VERSION")]
        plugin_version: String,
        /// A JSON file with the configuration (default: the manifest's).
        #[arg(long)]
        config: Option<PathBuf>,
        #[command(flatten)]
        remote: crate::client::Remote,
    },
    /// Run a candidate beside a slot's live version on real traffic, see
    /// how often it agrees, promote it or stop it.
    ///
    /// `shadow SLOT PLUGIN VERSION` starts (the live version still
    /// answers; the candidate's answers are recorded, never applied);
    /// `shadow SLOT` shows the agreement; `--promote` makes the candidate
    /// the live version (an audited activation); `--stop` ends it.
    Shadow {
        slot: String,
        plugin: Option<String>,
        #[arg(value_name = "VERSION", requires = "plugin")]
        plugin_version: Option<String>,
        /// A JSON file with the candidate's configuration (default: the
        /// manifest's).
        #[arg(long, requires = "plugin_version")]
        config: Option<PathBuf>,
        /// The share of live decisions the candidate also makes, 0 to 1.
        #[arg(long, requires = "plugin_version")]
        sample: Option<f64>,
        /// Make the candidate the slot's live version, and stop the shadow.
        #[arg(long, conflicts_with_all = ["plugin", "stop"])]
        promote: bool,
        /// Stop the shadow.
        #[arg(long, conflicts_with = "plugin")]
        stop: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        remote: crate::client::Remote,
    },
    /// Put a slot's previous version back.
    Rollback {
        slot: String,
        #[command(flatten)]
        remote: crate::client::Remote,
    },
    /// List slots (what runs where) and uploaded versions.
    List {
        #[command(flatten)]
        remote: crate::client::Remote,
    },
    /// Print a plugin version's log buffer.
    Logs {
        plugin: String,
        #[arg(value_name = "VERSION")]
        plugin_version: String,
        #[command(flatten)]
        remote: crate::client::Remote,
    },
}

/// Run a parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    let log = cli.logging()?;
    match cli.command {
        Command::Serve(args) => serve(args, log),
        Command::Simulate(args) => crate::simulate::run(&args),
        Command::Ab(args) => {
            let report = crate::ab::run(&args)?;
            if args.json {
                print_line(&serde_json::to_string_pretty(&report)?);
            } else {
                print_line(&report.table());
            }
            Ok(())
        }
        Command::Report(args) => report(&args),
        Command::Openapi => {
            let doc = crate::server::openapi_document()
                .to_pretty_json()
                .context("rendering the OpenAPI document")?;
            print_line(&doc);
            Ok(())
        }
        Command::Plugin(PluginCommand::Inspect {
            file,
            manifest,
            json,
        }) => inspect(&file, manifest.as_deref(), json),
        Command::Plugin(PluginCommand::Test {
            component,
            fixtures,
            manifest,
            json,
            bench,
        }) => {
            // One argument that is a fixture file or a directory: the
            // fixtures, with the plugin directory's component.
            let (component, fixtures) = match (component, fixtures) {
                (Some(c), None) if c.is_dir() || c.extension().is_some_and(|x| x == "json") => {
                    (None, Some(c))
                }
                other => other,
            };
            let component = match component {
                Some(c) => c,
                None => default_component()?,
            };
            let fixtures = fixtures.unwrap_or_else(|| "fixtures".into());
            plugin_test(&component, &fixtures, manifest.as_deref(), json, bench)
        }
        Command::Plugin(PluginCommand::New {
            name,
            kind,
            lang,
            dir,
            sdk_path,
        }) => plugin_new(crate::toolchain::ScaffoldOptions {
            name,
            kind,
            lang,
            parent: dir,
            sdk_path,
        }),
        Command::Plugin(PluginCommand::Build {
            dir,
            toolchains,
            json,
        }) => plugin_build(&dir, toolchains, json),
        Command::Audit(AuditCommand::Verify { data_dir, json }) => audit_verify(&data_dir, json),
        Command::Audit(AuditCommand::Replay(args)) => audit_replay(&args),
        Command::Token(cmd) => token(cmd),
        Command::Kpi(args) => kpi(args),
        Command::Whatif(args) => whatif(&args),
        Command::Backup(args) => backup(&args),
        Command::Plugin(PluginCommand::Keygen { out }) => {
            anyhow::ensure!(
                !out.exists(),
                "{} exists; choose another path (a key is never overwritten)",
                out.display()
            );
            let key = crate::signing::generate()?;
            write_private(&out, &crate::signing::key_file_text(&key))?;
            print_line(&format!(
                "secret key written to {} (keep it secret)\npublic key: {}\n(the operator adds the public key to [plugins] trusted_keys)",
                out.display(),
                crate::signing::public_key_text(&key.verifying_key())
            ));
            Ok(())
        }
        Command::Plugin(PluginCommand::Sign {
            file,
            manifest,
            key,
            out,
        }) => {
            let (bytes, manifest) = read_plugin(&file, &manifest)?;
            let text = std::fs::read_to_string(&key)
                .with_context(|| format!("cannot read {}", key.display()))?;
            let key = crate::signing::parse_key_file(&text)
                .with_context(|| format!("in {}", key.display()))?;
            let sig = crate::signing::sign(&key, &bytes, &manifest);
            let out = out.unwrap_or_else(|| signature_path(&file));
            std::fs::write(&out, serde_json::to_string_pretty(&sig)? + "\n")
                .with_context(|| format!("cannot write {}", out.display()))?;
            print_line(&format!(
                "signed {} with key {}: {}",
                file.display(),
                sig.key,
                out.display()
            ));
            Ok(())
        }
        Command::Plugin(PluginCommand::Push {
            file,
            manifest,
            signature,
            remote,
        }) => {
            use base64::Engine as _;
            let (bytes, manifest) = read_plugin(&file, &manifest)?;
            let signature = match signature {
                Some(path) => Some(path),
                None => Some(signature_path(&file)).filter(|p| p.exists()),
            };
            let signature: Option<serde_json::Value> = signature
                .map(|path| -> anyhow::Result<serde_json::Value> {
                    let text = std::fs::read_to_string(&path)
                        .with_context(|| format!("cannot read {}", path.display()))?;
                    serde_json::from_str(&text)
                        .with_context(|| format!("{} is not a signature file", path.display()))
                })
                .transpose()?;
            let body = serde_json::json!({
                "manifest": manifest,
                "component": base64::engine::general_purpose::STANDARD.encode(&bytes),
                "signature": signature,
            });
            let v = remote.post("/v1/plugins", &body)?;
            print_line(&format!(
                "uploaded {}@{} ({}, {} bytes)",
                v["id"].as_str().unwrap_or("?"),
                v["version"].as_str().unwrap_or("?"),
                v["digest"].as_str().unwrap_or("?"),
                v["size_bytes"]
            ));
            Ok(())
        }
        Command::Plugin(PluginCommand::Activate {
            slot,
            plugin,
            plugin_version: version,
            config,
            remote,
        }) => {
            let config = match config {
                Some(path) => {
                    let text = std::fs::read_to_string(&path)
                        .with_context(|| format!("cannot read {}", path.display()))?;
                    Some(
                        serde_json::from_str::<serde_json::Value>(&text)
                            .with_context(|| format!("{} is not JSON", path.display()))?,
                    )
                }
                None => None,
            };
            let v = remote.post(
                &format!("/v1/slots/{slot}/activate"),
                &serde_json::json!({"plugin": plugin, "version": version, "config": config}),
            )?;
            print_line(&format!(
                "slot {slot}: {plugin}@{version} active (swap {} us)",
                v["swap_us"]
            ));
            Ok(())
        }
        Command::Plugin(PluginCommand::Shadow {
            slot,
            plugin,
            plugin_version,
            config,
            sample,
            promote,
            stop,
            json,
            remote,
        }) => {
            let path = format!("/v1/slots/{slot}/shadow");
            let v = match (plugin, plugin_version) {
                (Some(plugin), Some(version)) => {
                    let config = match config {
                        Some(f) => Some(
                            serde_json::from_str::<serde_json::Value>(
                                &std::fs::read_to_string(&f)
                                    .with_context(|| format!("cannot read {}", f.display()))?,
                            )
                            .with_context(|| format!("{} is not JSON", f.display()))?,
                        ),
                        None => None,
                    };
                    remote.put(
                        &path,
                        &serde_json::json!({"plugin": plugin, "version": version,
                                            "config": config, "sample": sample}),
                    )?
                }
                (Some(_), None) => {
                    bail!("name the candidate's version: shadow SLOT PLUGIN VERSION")
                }
                _ if promote => {
                    let v = remote.post(&format!("{path}/promote"), &serde_json::json!({}))?;
                    let cur = &v["slot"]["current"];
                    print_line(&format!(
                        "slot {slot}: {}@{} promoted, active (swap {} us); the shadow is stopped",
                        cur["plugin"].as_str().unwrap_or("?"),
                        cur["version"].as_str().unwrap_or("?"),
                        v["swap_us"]
                    ));
                    return Ok(());
                }
                _ if stop => remote.delete(&path)?,
                _ => remote.get(&path)?,
            };
            if json {
                print_line(&serde_json::to_string_pretty(&v)?);
            } else {
                print_line(&shadow_summary(&v));
            }
            Ok(())
        }
        Command::Plugin(PluginCommand::Rollback { slot, remote }) => {
            let v = remote.post(
                &format!("/v1/slots/{slot}/rollback"),
                &serde_json::json!({}),
            )?;
            let cur = &v["slot"]["current"];
            print_line(&format!(
                "slot {slot}: back to {}@{}",
                cur["plugin"].as_str().unwrap_or("?"),
                cur["version"].as_str().unwrap_or("?")
            ));
            Ok(())
        }
        Command::Plugin(PluginCommand::List { remote }) => {
            let slots = remote.get("/v1/slots")?;
            print_line(
                "SLOT                 KIND        CURRENT                       PREVIOUS                      CALLS  FAILED",
            );
            for s in slots["slots"].as_array().into_iter().flatten() {
                let v = |x: &serde_json::Value| {
                    x["plugin"].as_str().map_or("-".to_owned(), |p| {
                        format!("{p}@{}", x["version"].as_str().unwrap_or("?"))
                    })
                };
                print_line(&format!(
                    "{:<20} {:<11} {:<29} {:<29} {:>5} {:>7}",
                    s["slot"].as_str().unwrap_or("?"),
                    s["kind"].as_str().unwrap_or("?"),
                    v(&s["current"]),
                    v(&s["previous"]),
                    s["stats"]["calls"],
                    s["stats"]["failures"]
                ));
                let q = &s["quarantined"];
                if q.is_object() {
                    // Its fail policy answers until a version is activated.
                    print_line(&format!(
                        "  QUARANTINED {} after {} failures in a row: {}",
                        v(q),
                        q["consecutive_failures"],
                        q["reason"].as_str().unwrap_or("?")
                    ));
                }
            }
            let plugins = remote.get("/v1/plugins")?;
            print_line(
                "\nUPLOADED                                  KIND        DIGEST                   SIGNED BY",
            );
            for p in plugins["versions"].as_array().into_iter().flatten() {
                print_line(&format!(
                    "{:<41} {:<11} {:<24} {}",
                    format!(
                        "{}@{}",
                        p["id"].as_str().unwrap_or("?"),
                        p["version"].as_str().unwrap_or("?")
                    ),
                    p["kind"].as_str().unwrap_or("?"),
                    p["digest"]
                        .as_str()
                        .unwrap_or("?")
                        .chars()
                        .take(23)
                        .collect::<String>(),
                    p["signed_by"].as_str().unwrap_or("-")
                ));
            }
            Ok(())
        }
        Command::Plugin(PluginCommand::Logs {
            plugin,
            plugin_version: version,
            remote,
        }) => {
            let v = remote.get(&format!("/v1/plugins/{plugin}/{version}/log"))?;
            for line in v["lines"].as_array().into_iter().flatten() {
                print_line(&line.to_string());
            }
            Ok(())
        }
        Command::Plugin(PluginCommand::Bundled) => {
            for p in crate::bundled::BUNDLED {
                let m = Manifest::from_json(p.manifest)
                    .map_err(anyhow::Error::msg)
                    .with_context(|| format!("bundled plugin {}", p.crate_name))?;
                print_line(&format!(
                    "{:<24} {:<8} {:<11} {:>8} bytes  {}",
                    m.name(),
                    m.kind,
                    m.kind.world(),
                    p.wasm.len(),
                    m.description
                ));
            }
            Ok(())
        }
    }
}

/// `build/<id>.wasm` of the plugin in the current directory.
fn default_component() -> anyhow::Result<PathBuf> {
    let text = std::fs::read_to_string("manifest.json").context(
        "no component given and no manifest.json here: run in a plugin directory, or pass the component and fixtures",
    )?;
    let manifest = Manifest::from_json(&text)
        .map_err(anyhow::Error::msg)
        .context("in manifest.json")?;
    let component = PathBuf::from("build").join(format!("{}.wasm", manifest.id));
    anyhow::ensure!(
        component.is_file(),
        "{} does not exist: run `switchboard plugin build` first",
        component.display()
    );
    Ok(component)
}

/// The compile cache shared by `plugin build`, `plugin test` and
/// `plugin inspect`: `$SWITCHBOARD_CACHE_DIR`, else ~/.cache/switchboard.
fn cli_cache_dir() -> Option<PathBuf> {
    std::env::var_os("SWITCHBOARD_CACHE_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/switchboard")))
}

fn plugin_new(opts: crate::toolchain::ScaffoldOptions) -> anyhow::Result<()> {
    let (dir, files) = crate::toolchain::scaffold(&opts)?;
    let mut text = format!(
        "created {} plugin {} in {} ({})\n",
        opts.kind,
        opts.name,
        dir.display(),
        opts.lang
    );
    for f in files.iter().filter(|f| !f.starts_with("wit/")) {
        text.push_str(&format!("  {f}\n"));
    }
    if files.iter().any(|f| f.starts_with("wit/")) {
        text.push_str("  wit/ (the WIT package, switchboard:rules@");
        text.push_str(crate::plugins::WIT_VERSION);
        text.push_str(")\n");
    }
    if let Some(sdk) = std::fs::read_to_string(dir.join("Cargo.toml"))
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("switchboard-sdk"))
                .map(str::to_owned)
        })
    {
        text.push_str(&format!("the SDK: {sdk}\n"));
        if !sdk.contains("path") {
            text.push_str(
                "  (from crates.io; if cargo cannot find it there, point it at the `sdk` directory of a switchboard checkout: `plugin new --sdk-path`, or edit Cargo.toml)\n",
            );
        }
    }
    text.push_str(&format!(
        "next:\n  cd {}\n  switchboard plugin build\n  switchboard plugin test",
        dir.display()
    ));
    print_line(&text);
    Ok(())
}

fn plugin_build(dir: &Path, toolchains: Option<PathBuf>, json: bool) -> anyhow::Result<()> {
    let toolchains = match toolchains {
        Some(t) => t,
        None => crate::toolchain::toolchains_dir()?,
    };
    let report = crate::toolchain::build(dir, &toolchains, cli_cache_dir())?;
    if json {
        print_line(&serde_json::to_string_pretty(&report)?);
    } else {
        print_line(&format!(
            "built {} ({} KiB, {}) in {:.1} s; checked in {:.1} s\n{}",
            report.output.display(),
            report.size_bytes / 1024,
            report.lang,
            report.build_seconds,
            report.check_seconds,
            render_info(&report.component, None)
        ));
    }
    Ok(())
}

fn plugin_test(
    component: &std::path::Path,
    fixtures: &std::path::Path,
    manifest: Option<&std::path::Path>,
    json: bool,
    bench: Option<u32>,
) -> anyhow::Result<()> {
    let manifest = match manifest {
        Some(m) => m.to_owned(),
        None => {
            let dir = if fixtures.is_dir() {
                fixtures.to_owned()
            } else {
                fixtures.parent().map(Path::to_owned).unwrap_or_default()
            };
            [
                dir.parent().map(|p| p.join("manifest.json")),
                component.parent().map(|p| p.join("manifest.json")),
            ]
            .into_iter()
            .flatten()
            .find(|p| p.is_file())
            .context(
                "no manifest.json beside the fixtures directory or the component: pass --manifest",
            )?
        }
    };
    let text = std::fs::read_to_string(&manifest)
        .with_context(|| format!("cannot read {}", manifest.display()))?;
    let parsed = Manifest::from_json(&text)
        .map_err(anyhow::Error::msg)
        .with_context(|| format!("in {}", manifest.display()))?;
    let bytes =
        std::fs::read(component).with_context(|| format!("cannot read {}", component.display()))?;
    let runtime = PluginRuntime::new(RuntimeConfig {
        cache_dir: cli_cache_dir(),
        ..RuntimeConfig::default()
    })?;
    if bytes.len() > 4 << 20 {
        tracing::info!(
            size_mib = bytes.len() >> 20,
            "loading a large component: the first load compiles it (seconds), later ones read the compile cache"
        );
    }
    let plugin = runtime.load(parsed, &bytes).with_context(|| {
        format!(
            "{} does not load with {}",
            component.display(),
            manifest.display()
        )
    })?;
    let files = crate::fixtures::fixture_files(fixtures)?;
    let results = crate::fixtures::run(&plugin, &files);
    let passing: Vec<PathBuf> = files
        .iter()
        .zip(&results)
        .filter(|(_, r)| r.passed)
        .map(|(f, _)| f.clone())
        .collect();
    let timings = bench.map(|n| crate::fixtures::bench(&plugin, &passing, n));
    if json {
        let mut doc = serde_json::json!({ "results": results });
        if let Some(t) = &timings {
            doc["bench"] = serde_json::to_value(t)?;
        }
        print_line(&serde_json::to_string_pretty(&doc)?);
    } else {
        print_line(crate::fixtures::report(&plugin, &results).trim_end());
        if let Some(t) = &timings {
            print_line(crate::fixtures::bench_report(t).trim_end());
        }
    }
    let failed = results.iter().filter(|r| !r.passed).count();
    if failed > 0 {
        bail!("{failed} of {} fixtures failed", results.len());
    }
    Ok(())
}

fn inspect(
    file: &std::path::Path,
    manifest: Option<&std::path::Path>,
    json: bool,
) -> anyhow::Result<()> {
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let runtime = PluginRuntime::new(RuntimeConfig::default())?;
    let info = runtime
        .inspect(&bytes)
        .with_context(|| format!("{} is not a loadable component", file.display()))?;
    let checked = match manifest {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            let manifest = Manifest::from_json(&text)
                .map_err(anyhow::Error::msg)
                .with_context(|| format!("in {}", path.display()))?;
            let name = manifest.name();
            runtime
                .load(manifest, &bytes)
                .with_context(|| format!("{} does not match {}", file.display(), path.display()))?;
            Some(name)
        }
        None => None,
    };
    if json {
        print_line(&serde_json::to_string_pretty(&info)?);
    } else {
        print_line(&render_info(&info, checked.as_deref()));
    }
    Ok(())
}

fn render_info(info: &ComponentInfo, checked: Option<&str>) -> String {
    let mut s = String::new();
    let kind = info
        .kind
        .map_or("none (exports no switchboard interface)".to_owned(), |k| {
            format!("{k} (world {})", k.world())
        });
    s.push_str(&format!("kind:     {kind}\n"));
    s.push_str(&format!(
        "wit:      {}\n",
        info.wit_version
            .as_deref()
            .map_or("-".to_owned(), |v| format!("switchboard:rules@{v}"))
    ));
    s.push_str(&format!("size:     {} bytes\n", info.size_bytes));
    s.push_str(&format!("digest:   sha256:{}\n", info.digest));
    s.push_str("exports:\n");
    for e in &info.exports {
        s.push_str(&format!("  {e}\n"));
    }
    s.push_str("imports:\n");
    for i in &info.imports {
        s.push_str(&format!("  {i}\n"));
    }
    if let Some(name) = checked {
        s.push_str(&format!(
            "manifest: {name}: OK, loads as the server would load it\n"
        ));
    }
    s.trim_end().to_owned()
}

fn audit_verify(data_dir: &std::path::Path, json: bool) -> anyhow::Result<()> {
    let store = open_store(data_dir)?;
    let log = crate::audit::AuditLog::open(std::sync::Arc::new(store))?;
    let result = log.verify()?;
    if json {
        print_line(&serde_json::to_string_pretty(&result)?);
    } else {
        match &result.broken {
            None => print_line(&format!(
                "audit chain OK: {} records verified",
                result.records
            )),
            Some(b) => print_line(&format!(
                "audit chain BROKEN at {b} ({} records before it verified)",
                result.records
            )),
        }
    }
    if result.broken.is_some() {
        std::process::exit(1);
    }
    Ok(())
}

fn backup(args: &BackupArgs) -> anyhow::Result<()> {
    if args.out.exists() {
        anyhow::bail!(
            "{} already exists: a backup goes into a new directory",
            args.out.display()
        );
    }
    let body = args.remote.get_stream("/v1/backup")?;
    create_private_dir(&args.out)?;
    let db = args.out.join("db");
    let summary = match crate::store::restore_stream(body, &db) {
        Ok(s) => s,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&args.out);
            return Err(anyhow::Error::new(e).context("the backup was not written"));
        }
    };
    let store = open_store(&args.out)?;
    let verification = crate::audit::AuditLog::open(std::sync::Arc::new(store))?.verify()?;
    if let Some(broken) = &verification.broken {
        anyhow::bail!(
            "the backup in {} was written, but its audit chain is BROKEN at {broken}",
            args.out.display()
        );
    }
    if args.json {
        print_line(&serde_json::to_string_pretty(&serde_json::json!({
            "dir": args.out,
            "keyspaces": summary.keyspaces,
            "keys": summary.keys,
            "bytes": summary.bytes,
            "audit_records": verification.records,
        }))?);
    } else {
        print_line(&format!(
            "backup written to {}: {} keys in {} keyspaces ({} bytes); audit chain OK: {} records verified",
            args.out.display(),
            summary.keys,
            summary.keyspaces,
            summary.bytes,
            verification.records
        ));
    }
    Ok(())
}

/// Create `dir` readable by its owner only: a data directory holds
/// customer text.
fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("cannot restrict {} to its owner", dir.display()))?;
    }
    Ok(())
}

/// A shadow's status, for a terminal.
fn shadow_summary(v: &serde_json::Value) -> String {
    let c = &v["candidate"];
    let mut s = format!(
        "slot {}: shadowed by {}@{} (sample {}), since {} by {}\n",
        v["slot"].as_str().unwrap_or("?"),
        c["plugin"].as_str().unwrap_or("?"),
        c["version"].as_str().unwrap_or("?"),
        v["sample"],
        v["started_at"],
        v["started_by"].as_str().unwrap_or("?")
    );
    s.push_str(&format!(
        "{} offered, {} dropped, {} pending, {} compared: {} agree, {} differ{}\n",
        v["offered"],
        v["dropped"],
        v["pending"],
        v["compared"],
        v["agreed"],
        v["disagreed"],
        v["agreement"]
            .as_f64()
            .map_or(String::new(), |a| format!(" ({:.1}% agreement)", a * 100.0))
    ));
    if let Some(failed) = v["candidate_failed"].as_object()
        && !failed.is_empty()
    {
        let parts: Vec<String> = failed.iter().map(|(k, n)| format!("{n} {k}")).collect();
        s.push_str(&format!("the candidate failed: {}\n", parts.join(", ")));
    }
    for d in v["differences"].as_array().into_iter().flatten() {
        s.push_str(&format!(
            "  {:<30} {}\n",
            d["path"].as_str().unwrap_or("?"),
            d["count"]
        ));
    }
    for e in v["examples"].as_array().into_iter().flatten().take(5) {
        s.push_str(&format!(
            "  #{} {}: {}\n",
            e["live_seq"],
            e["subject"].as_str().unwrap_or("?"),
            e["diff"]
                .as_array()
                .map(|d| d
                    .iter()
                    .filter_map(|x| x.as_str())
                    .collect::<Vec<_>>()
                    .join("; "))
                .unwrap_or_default()
        ));
    }
    s.trim_end().to_owned()
}

/// `--candidate id@version` and `--candidate-config FILE`, read.
fn candidate(spec: &str, config: Option<&Path>) -> anyhow::Result<crate::replay::Candidate> {
    let (plugin, version) = spec
        .split_once('@')
        .context("--candidate is `id@version`, e.g. `skill-routing@1.1.0`")?;
    let config = match config {
        None => None,
        Some(f) => Some(
            serde_json::from_str(
                &std::fs::read_to_string(f)
                    .with_context(|| format!("cannot read {}", f.display()))?,
            )
            .with_context(|| format!("{} is not JSON", f.display()))?,
        ),
    };
    Ok(crate::replay::Candidate {
        plugin: plugin.to_owned(),
        version: version.to_owned(),
        config,
    })
}

/// The remote server of a command that runs offline with `--data-dir`.
fn remote_of(
    server: Option<&String>,
    token: Option<&String>,
) -> anyhow::Result<crate::client::Remote> {
    Ok(crate::client::Remote {
        server: server.cloned().unwrap_or_else(|| "http://127.0.0.1:8080".into()),
        token: token.cloned().context(
            "through a server this needs --token (or SWITCHBOARD_TOKEN); or run it offline with --data-dir",
        )?,
    })
}

/// Run `f` with the audit log and the stored versions of the data
/// directory `data_dir` (the server stopped), plugins limited as `config`
/// says.
fn offline<T>(
    data_dir: &Path,
    config: Option<&Path>,
    f: impl FnOnce(&crate::audit::AuditLog, &crate::replay::Loader<'_>) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    let store = Arc::new(open_store(data_dir)?);
    let audit = crate::audit::AuditLog::open(store.clone())?;
    let limits = match config {
        Some(f) => crate::config::ConfigFile::load(f)?,
        None => crate::config::ConfigFile::default(),
    };
    let runtime = PluginRuntime::new(limits.runtime_config(data_dir.join("cache")))?;
    let load = |id: &str, version: &str| {
        crate::registry::load_stored(&*store, &runtime, id, version).map_err(|e| e.to_string())
    };
    f(&audit, &load)
}

/// A progress line on stderr: redrawn in place on a terminal, a line per
/// tenth otherwise.
fn show_progress(done: u64, total: u64, last: &std::sync::atomic::AtomicU64) {
    use std::io::{IsTerminal as _, Write as _};
    let pct = (done * 100).checked_div(total).unwrap_or(100);
    let mut err = std::io::stderr();
    if err.is_terminal() {
        let bar = (pct / 5) as usize;
        let _ = write!(
            err,
            "\r[{}{}] {pct:>3}% ({done} of {total} records)",
            "#".repeat(bar),
            "-".repeat(20 - bar.min(20))
        );
        if done >= total {
            let _ = writeln!(err);
        }
    } else if pct / 10 > last.swap(pct / 10, std::sync::atomic::Ordering::Relaxed) || done == 0 {
        let _ = writeln!(err, "{pct}% ({done} of {total} records)");
    }
}

fn whatif(args: &WhatifArgs) -> anyhow::Result<()> {
    let request = crate::whatif::WhatIfRequest {
        candidate: candidate(&args.candidate, args.candidate_config.as_deref())?,
        slot: args.slot.clone(),
        from: args.from,
        to: args.to,
    };
    let last = std::sync::atomic::AtomicU64::new(0);
    let report: crate::whatif::WhatIfReport = match &args.source.data_dir {
        Some(dir) => offline(dir, args.source.config.as_deref(), |audit, load| {
            let progress = |p: crate::whatif::Progress| show_progress(p.done, p.total, &last);
            Ok(crate::whatif::run(audit, load, &request, &progress)?)
        })?,
        None => {
            let remote = remote_of(args.source.server.as_ref(), args.source.token.as_ref())?;
            let job = remote.post("/v1/whatif", &serde_json::to_value(&request)?)?;
            let id = job["id"]
                .as_str()
                .context("the server answered no job id")?
                .to_owned();
            loop {
                let job = remote.get(&format!("/v1/whatif/{id}"))?;
                let n = |k: &str| job[k].as_u64().unwrap_or(0);
                show_progress(n("done"), n("total"), &last);
                match job["state"].as_str() {
                    Some("running") => std::thread::sleep(std::time::Duration::from_millis(500)),
                    Some("done") => break serde_json::from_value(job["report"].clone())?,
                    _ => bail!(
                        "what-if {id} failed: {}",
                        job["error"].as_str().unwrap_or("no reason given")
                    ),
                }
            }
        }
    };
    if args.json {
        print_line(&serde_json::to_string_pretty(&report)?);
    } else {
        print_line(&report.summary());
    }
    Ok(())
}

fn audit_replay(args: &ReplayArgs) -> anyhow::Result<()> {
    let candidate = match &args.candidate {
        None => None,
        Some(c) => Some(candidate(c, args.candidate_config.as_deref())?),
    };
    let request = crate::replay::ReplayRequest {
        seq: args.seq,
        contact: args.contact.clone(),
        plugin: args.plugin.clone(),
        from: args.from,
        to: args.to,
        after: None,
        limit: args.limit,
        candidate,
    };
    let report: crate::replay::ReplayReport = match &args.source.data_dir {
        Some(data_dir) => offline(data_dir, args.source.config.as_deref(), |audit, load| {
            let mut replayer =
                crate::replay::Replayer::new(audit, load, request.candidate.as_ref())?;
            Ok(replayer.run(&request)?)
        })?,
        None => {
            let remote = remote_of(args.source.server.as_ref(), args.source.token.as_ref())?;
            let mut total = crate::replay::ReplayReport::default();
            let mut request = request;
            // The server replays a page at a time; go on until the
            // selection (or --limit) is done.
            loop {
                let page: crate::replay::ReplayReport = serde_json::from_value(
                    remote.post("/v1/audit/replay", &serde_json::to_value(&request)?)?,
                )?;
                let next = page.next_after;
                total.absorb(page);
                let done = total.replayed + total.skipped;
                match (next, args.limit) {
                    (Some(_), Some(l)) if done >= l => break,
                    (Some(n), l) => {
                        request.after = Some(n);
                        request.limit = l.map(|l| l - done);
                    }
                    (None, _) => break,
                }
            }
            total
        }
    };
    if args.json {
        print_line(&serde_json::to_string_pretty(&report)?);
    } else {
        print_line(&report.summary());
    }
    if report.mismatched > 0 {
        std::process::exit(1);
    }
    Ok(())
}

fn open_store(data_dir: &std::path::Path) -> anyhow::Result<SledStore> {
    if !data_dir.exists() {
        anyhow::bail!(
            "no data directory at {}: pass the server's --data-dir",
            data_dir.display()
        );
    }
    private_files();
    let db = data_dir.join("db");
    Ok(SledStore::open(&db, Durability::Group)?)
}

/// A component's bytes and its manifest.
fn read_plugin(file: &Path, manifest: &Path) -> anyhow::Result<(Vec<u8>, serde_json::Value)> {
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let text = std::fs::read_to_string(manifest)
        .with_context(|| format!("cannot read {}", manifest.display()))?;
    let manifest = serde_json::from_str(&text)
        .with_context(|| format!("{} is not JSON", manifest.display()))?;
    Ok((bytes, manifest))
}

/// `<component>.sig.json`.
fn signature_path(component: &Path) -> PathBuf {
    let mut name = component.as_os_str().to_owned();
    name.push(".sig.json");
    PathBuf::from(name)
}

/// Write a file only its owner may read.
fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut f = options
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    f.write_all(text.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))
}

/// `YYYY-MM-DD` (UTC) -> ms since the epoch at 00:00.
fn day_start(day: &str) -> anyhow::Result<i64> {
    let bad = || anyhow::anyhow!("`{day}` is not a day: write it as YYYY-MM-DD, e.g. 2026-11-23");
    let mut parts = day.split('-').map(|p| p.parse::<i64>().map_err(|_| bad()));
    let (Some(y), Some(m), Some(d), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad());
    };
    let (y, m, d) = (y?, m?, d?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return Err(bad());
    }
    // Days from the civil date (H. Hinnant's algorithm, proleptic Gregorian).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Ok((era * 146_097 + doe - 719_468) * 86_400_000)
}

fn report(args: &ReportArgs) -> anyhow::Result<()> {
    let path = match &args.day {
        Some(day) => {
            let from = day_start(day)?;
            format!("/v1/reports/agents?from={from}&to={}", from + 86_400_000)
        }
        None => "/v1/reports/agents".to_owned(),
    };
    let v = args.remote.get(&path)?;
    if args.json {
        print_line(&serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    let measures: Vec<&str> = v["measures"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m.as_str())
        .collect();
    let short = |m: &str| -> String {
        match m {
            "contacts_handled" => "handled",
            "average_handle_time" => "AHT s",
            "average_after_contact_work" => "ACW s",
            "occupancy" => "occup.",
            "agent_utilization" => "util.",
            "csat" => "CSAT",
            "first_contact_resolution" => "FCR",
            "transfer_rate" => "transf.",
            "nps" => "NPS",
            "cost_per_contact" => "cost",
            "missed_offers" => "missed",
            other => other,
        }
        .to_owned()
    };
    let header: Vec<String> = measures
        .iter()
        .map(|m| format!("{:>8}", short(m)))
        .collect();
    let sections: &[&str] = if args.teams {
        &["teams"]
    } else {
        &["agents", "teams"]
    };
    for section in sections {
        print_line(&format!("{:<20}{}", section, header.join("")));
        for row in v[*section].as_array().into_iter().flatten() {
            let cells: Vec<String> = measures
                .iter()
                .map(|m| match row["kpis"][*m].as_f64() {
                    None => format!("{:>8}", "-"),
                    Some(x)
                        if m.ends_with("rate")
                            || matches!(
                                *m,
                                "occupancy"
                                    | "agent_utilization"
                                    | "csat"
                                    | "first_contact_resolution"
                            ) =>
                    {
                        format!("{:>7.1}%", x * 100.0)
                    }
                    Some(x) => format!("{x:>8.1}"),
                })
                .collect();
            print_line(&format!(
                "{:<20}{}",
                row["id"].as_str().unwrap_or("?"),
                cells.join("")
            ));
        }
        print_line("");
    }
    Ok(())
}

fn kpi(args: KpiArgs) -> anyhow::Result<()> {
    if args.backfill {
        let r = args
            .remote
            .post("/v1/kpis/backfill", &serde_json::json!({}))?;
        print_line(&format!(
            "failed calls: {}, backfilled now: {} ({} samples), backfilled before: {}",
            r["failed"], r["backfilled"], r["samples"], r["already"]
        ));
        for f in r["still_failing"].as_array().into_iter().flatten() {
            print_line(&format!(
                "still failing: audit #{} slot {}: {}",
                f["seq"],
                f["slot"].as_str().unwrap_or("?"),
                f["error"].as_str().unwrap_or("?")
            ));
        }
        return Ok(());
    }
    if args.list {
        let v = args.remote.get("/v1/kpis/measures")?;
        for m in v["measures"].as_array().into_iter().flatten() {
            print_line(&format!(
                "{:<28} {:<16} {:<8} {:<10} {}",
                m["name"].as_str().unwrap_or("?"),
                m["slot"].as_str().unwrap_or("?"),
                m["aggregation"].as_str().unwrap_or("?"),
                m["unit"].as_str().unwrap_or("?"),
                m["description"].as_str().unwrap_or("")
            ));
        }
        return Ok(());
    }
    let bucket = args.bucket_mins.max(1) * 60_000;
    let to = (now_ms() / 60_000 + 1) * 60_000;
    let from = to - (args.hours.max(1) * 3_600_000 / bucket) * bucket;
    let v = args.remote.post(
        "/v1/kpis/query",
        &serde_json::json!({
            "measure": args.measure, "from": from, "to": to, "bucket_ms": bucket,
            "group_by": args.group_by, "slot": args.slot,
        }),
    )?;
    for p in v["points"].as_array().into_iter().flatten() {
        let group: Vec<String> = p["group"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
            .collect();
        print_line(&format!(
            "{}  {:<30} {:>12}  ({} samples)",
            p["start"],
            group.join(","),
            p["value"]
                .as_f64()
                .map_or("-".to_owned(), |x| format!("{x:.4}")),
            p["samples"]
        ));
    }
    Ok(())
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn token(cmd: TokenCommand) -> anyhow::Result<()> {
    use crate::auth::Tokens;
    match cmd {
        TokenCommand::Create {
            role,
            label,
            agent_id,
            data_dir,
        } => {
            let store = open_store(&data_dir)?;
            let t = Tokens::new(&store).create(role, &label, agent_id.as_deref(), now_ms())?;
            print_line(&t.token);
            tracing::info!(id = %t.info.id, role = %role, "token created; it is printed once, keep it safe");
        }
        TokenCommand::List { data_dir } => {
            let store = open_store(&data_dir)?;
            for t in Tokens::new(&store).list()? {
                print_line(&format!("{:<10} {:<9} {}", t.id, t.role, t.label));
            }
        }
        TokenCommand::Revoke { id, data_dir } => {
            let store = open_store(&data_dir)?;
            if !Tokens::new(&store).revoke(&id)? {
                anyhow::bail!("no token with id `{id}`; see `switchboard token list`");
            }
            print_line(&format!("revoked {id}"));
        }
    }
    Ok(())
}

/// On the first start, issue an admin token and write it to
/// `<data_dir>/admin-token` (readable only by this user); never log it.
fn first_admin_token(
    store: &dyn crate::store::Store,
    data_dir: &std::path::Path,
) -> anyhow::Result<()> {
    let tokens = crate::auth::Tokens::new(store);
    if !tokens.list()?.is_empty() {
        return Ok(());
    }
    let t = tokens.create(
        crate::auth::Role::Admin,
        "created at first start",
        None,
        now_ms(),
    )?;
    let path = data_dir.join("admin-token");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(&path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    std::io::Write::write_all(&mut file, format!("{}\n", t.token).as_bytes())?;
    tracing::info!(
        path = %path.display(),
        "first start: created an admin token; read it from this file (only this user can), e.g. TOKEN=$(cat {}), then send `Authorization: Bearer $TOKEN`",
        path.display()
    );
    Ok(())
}

/// Make everything this process creates from now on private to its user
/// (mode 0700 for directories, 0600 for files), create the data directory,
/// and warn about anything in it that others may read: it holds customer
/// text and tokens.
fn private_data_dir(data_dir: &Path) -> anyhow::Result<()> {
    private_files();
    let mut dir = std::fs::DirBuilder::new();
    dir.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut dir, 0o700);
    dir.create(data_dir)
        .with_context(|| format!("cannot create data directory {}", data_dir.display()))?;
    #[cfg(unix)]
    warn_if_readable_by_others(data_dir);
    Ok(())
}

/// Files and directories this process creates from now on are its user's
/// only (umask 077). The store and the plugin cache create their own files;
/// the umask is the one switch that covers them all.
fn private_files() {
    #[cfg(unix)]
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
}

/// A warning for each path in `data_dir` (itself included) whose mode
/// lets other users in, the first ten by name.
#[cfg(unix)]
fn warn_if_readable_by_others(data_dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let mut wide = Vec::new();
    let mut pending = vec![data_dir.to_path_buf()];
    while let Some(path) = pending.pop() {
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        let mode = meta.permissions().mode() & 0o7777;
        if mode & 0o077 != 0 {
            wide.push((path.clone(), mode));
        }
        if meta.is_dir()
            && let Ok(entries) = std::fs::read_dir(&path)
        {
            pending.extend(entries.filter_map(|e| e.ok().map(|e| e.path())));
        }
    }
    for (path, mode) in wide.iter().take(10) {
        tracing::warn!(
            path = %path.display(),
            mode = format!("{mode:04o}"),
            "other users may read the data directory (customer text, tokens): chmod it 0700 and its files 0600"
        );
    }
    if wide.len() > 10 {
        tracing::warn!(
            more = wide.len() - 10,
            data_dir = %data_dir.display(),
            "more paths in the data directory are readable by other users: chmod -R go-rwx it"
        );
    }
}

fn serve(args: ServeArgs, log: (String, LogFormat)) -> anyhow::Result<()> {
    let mut config = args.effective()?;
    if args.print_config {
        config.log.level = Some(log.0);
        config.log.format = Some(log.1);
        print_line(config.to_toml().trim_end());
        return Ok(());
    }
    let data_dir = config.data_dir.clone().unwrap_or_default();
    let listen = config
        .listen
        .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080)));
    private_data_dir(&data_dir)?;
    let runtime = PluginRuntime::new(config.runtime_config(data_dir.join("cache")))?;
    let db = data_dir.join("db");
    let durability = config.store.durability;
    if durability != crate::config::DurabilityMode::Group {
        tracing::warn!(
            ?durability,
            "writes are acknowledged before they are on disk: a crash loses up to the last half second (simulations and demos only)"
        );
    }
    // The error says what happened (locked, read-only, damaged) and what to do.
    let store: Arc<dyn crate::store::Store> = Arc::new(SledStore::open(&db, durability.store())?);
    // One audit log over the store, shared by the engine, the registry and
    // the server's admin actions.
    let audit = Arc::new(crate::audit::AuditLog::open(store.clone())?);
    let mut engine = Engine::with_parts(store.clone(), audit.clone(), config.engine_settings())?;
    let clock = args.simulated_clock.map(crate::engine::ManualClock::new);
    if let Some(clock) = clock.clone() {
        tracing::warn!(
            start = clock.now(),
            "running on a simulated clock: time moves only by POST /v1/clock"
        );
        engine = engine.with_clock(move || clock.now());
    }
    let engine = Arc::new(engine);
    first_admin_token(&*store, &data_dir)?;
    tracing::info!(data_dir = %data_dir.display(), "loading plugins (the first start compiles the bundled ones)");
    let registry = Arc::new(
        crate::registry::Registry::new(
            engine.clone(),
            store.clone(),
            audit.clone(),
            Arc::new(runtime),
        )
        .with_trust(config.trust().map_err(anyhow::Error::msg)?),
    );
    let slots = registry
        .restore_or_bootstrap()
        .map_err(anyhow::Error::msg)
        .context("activating the plugins of the stored slots")?;
    for s in &slots {
        if let Some(v) = &s.current {
            tracing::info!(slot = %s.slot, plugin = %v.plugin, version = %v.version, kind = %s.kind, "plugin active");
        }
    }
    let pending = engine.pending_timers()?.len();
    // On a simulated clock, moving the clock fires the timers.
    let timers = if clock.is_none() {
        let t = engine
            .start_timers()
            .context("cannot start the timer thread")?;
        tracing::info!(pending, "timer thread started");
        Some(t)
    } else {
        None
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let shadows = Arc::new(crate::shadow::Shadows::new(audit.clone()));
    let state = crate::server::AppState {
        engine: engine.clone(),
        registry: registry.clone(),
        clock,
        streams: crate::server::StreamControl::default(),
        tokens: Arc::new(
            crate::auth::TokenCache::load(store.clone()).context("cannot read the tokens")?,
        ),
        audit,
        whatif: Default::default(),
        shadows: shadows.clone(),
    };
    engine.on_commit(Some(Arc::new(
        move |records: &[crate::audit::AuditRecord]| shadows.offer(records),
    )));
    let served = rt.block_on(crate::server::run(listen, state, config.edge_limits()));
    engine.stop_timers();
    if let Some(t) = timers {
        let _ = t.join();
    }
    // A rollback made in the last moments is stored as it runs.
    if let Err(e) = registry.sync_auto_rollbacks() {
        tracing::error!(error = %e, "recording automatic rollbacks at shutdown failed");
    }
    store.flush().context("flushing the store at shutdown")?;
    tracing::info!("shut down cleanly; every acknowledged write is on disk");
    served
}

#[cfg(test)]
mod tests {
    use super::day_start;

    #[test]
    fn days_are_utc_midnights() {
        assert_eq!(day_start("1970-01-01").unwrap(), 0);
        assert_eq!(day_start("2025-11-23").unwrap(), 1_763_856_000_000);
        assert_eq!(day_start("2024-02-29").unwrap(), 1_709_164_800_000);
        assert_eq!(day_start("2000-03-01").unwrap(), 951_868_800_000);
        for bad in [
            "2025-13-01",
            "2025-11",
            "23/11/2025",
            "2025-11-23-1",
            "x-1-1",
        ] {
            assert!(day_start(bad).is_err(), "{bad}");
        }
    }
}
