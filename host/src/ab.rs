//! `switchboard ab`: a simulated A/B day (issue 20). The same seeded day
//! runs twice, each on a fresh server of its own (`serve
//! --simulated-clock`, a temporary data directory): A with the bundled
//! plugins as they ship, B with a candidate component activated in its
//! slot. The KPIs of both days are then read over the API and reported
//! side by side: service level, speed of answer, abandonment, occupancy,
//! overall and per queue, with complaints opened and complaint clocks
//! breached. "What would this routing policy do to my service level?",
//! answered before anyone is affected.
//!
//! Unlike a what-if over recorded history, the candidate here makes the
//! day: its routing decisions change which agent is free for the next
//! contact, who abandons, which clocks breach.

use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context as _, bail};
use serde::Serialize;
use serde_json::{Value, json};

use crate::client::Remote;

/// 2025-11-23T00:00:00Z: both days start here.
const DAY: i64 = 1_763_856_000_000;
const HOUR: i64 = 3_600_000;

/// The measures compared (all declared by the bundled `core-kpis`).
const MEASURES: [&str; 4] = [
    "service_level",
    "average_speed_of_answer",
    "abandonment_rate",
    "occupancy",
];

/// Options of `switchboard ab`.
#[derive(Debug, clap::Args)]
pub struct AbArgs {
    /// The candidate component (`.wasm`); without it, day B runs the
    /// slot's shipped version with `--config`.
    #[arg(long, requires = "manifest")]
    pub candidate: Option<PathBuf>,
    /// The candidate's manifest.
    #[arg(long, requires = "candidate")]
    pub manifest: Option<PathBuf>,
    /// The config on day B, a JSON file (the manifest's default when
    /// absent).
    #[arg(long, required_unless_present = "candidate")]
    pub config: Option<PathBuf>,
    /// The slot it takes on day B (`routing` for a routing policy).
    #[arg(long, default_value = "routing")]
    pub slot: String,
    /// The day (the same on both).
    #[command(flatten)]
    pub day: crate::simulate::DayArgs,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// One measure, both days.
#[derive(Debug, Clone, Serialize)]
pub struct Side {
    pub a: Option<f64>,
    pub b: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct MeasureRow {
    pub measure: String,
    pub overall: Side,
    /// Per queue (a queue either day used).
    pub by_queue: BTreeMap<String, Side>,
}

/// The two days side by side.
#[derive(Debug, Clone, Serialize)]
pub struct AbReport {
    pub seed: u64,
    pub from: i64,
    pub to: i64,
    /// `id@version` in the slot on day A, and on day B.
    pub a: String,
    pub b: String,
    /// The config on day B, when one was given.
    pub b_config: Option<Value>,
    pub slot: String,
    pub measures: Vec<MeasureRow>,
    /// Contacts marked as complaints.
    pub complaints: Side,
    /// Complaint (deadline) clocks that breached.
    pub breached: Side,
    /// Contacts per queue at the end of the day.
    pub contacts_by_queue: BTreeMap<String, Side>,
    /// The simulator's summaries of each day.
    pub day_a: Value,
    pub day_b: Value,
}

/// A server of our own on a temporary data directory.
struct Server {
    child: Child,
    remote: Remote,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn start() -> anyhow::Result<Self> {
        let dir = tempfile::tempdir().context("cannot make a temporary data directory")?;
        let exe = std::env::current_exe().context("cannot find the switchboard binary")?;
        let mut child = Command::new(exe)
            .args(["serve", "--listen", "127.0.0.1:0", "--log-format", "json"])
            .args(["--simulated-clock", &DAY.to_string()])
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .env("SWITCHBOARD_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .context("cannot start a server for the day")?;
        let stderr = child.stderr.take().context("the server's stderr")?;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            // Keep draining so the server never blocks on a full pipe.
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Ok(v) = serde_json::from_str::<Value>(&line)
                    && let Some(addr) = v["fields"]["address"].as_str()
                    && let Some(tx) = tx.take()
                {
                    let _ = tx.send(addr.to_owned());
                }
            }
        });
        let addr = rx.recv_timeout(Duration::from_secs(120)).context(
            "the day's server did not start (its log says why: run `switchboard serve` to see it)",
        )?;
        let token = std::fs::read_to_string(dir.path().join("data/admin-token"))
            .context("the day's server wrote no admin token")?;
        Ok(Self {
            child,
            remote: Remote {
                server: format!("http://{addr}"),
                token: token.trim().to_owned(),
            },
            _dir: dir,
        })
    }

    /// `id@version` running in `slot`.
    fn running(&self, slot: &str) -> anyhow::Result<String> {
        let slots = self.remote.get("/v1/slots")?;
        let s = (slots["slots"].as_array().into_iter().flatten())
            .find(|s| s["slot"] == slot)
            .with_context(|| format!("slot `{slot}` is empty on the server as shipped"))?;
        let c = &s["current"];
        Ok(format!(
            "{}@{}",
            c["plugin"].as_str().unwrap_or("?"),
            c["version"].as_str().unwrap_or("?")
        ))
    }

    fn day(&self, args: &AbArgs) -> anyhow::Result<Value> {
        let sim = crate::simulate::SimulateArgs {
            day: args.day.clone(),
            speed: 0.0,
            json: false,
            classic: false,
            log: None,
            remote: self.remote.clone(),
        };
        Ok(serde_json::to_value(crate::simulate::day(&sim)?)?)
    }

    /// `measure` over the day, overall and per queue.
    fn kpi(
        &self,
        measure: &str,
        from: i64,
        to: i64,
    ) -> anyhow::Result<(Option<f64>, BTreeMap<String, f64>)> {
        let query = |group: bool| {
            self.remote.post(
                "/v1/kpis/query",
                &json!({"measure": measure, "from": from, "to": to, "bucket_ms": to - from,
                        "group_by": if group { vec!["queue"] } else { vec![] }}),
            )
        };
        let overall = query(false)?["points"][0]["value"].as_f64();
        let mut by_queue = BTreeMap::new();
        for p in query(true)?["points"].as_array().into_iter().flatten() {
            if let (Some(q), Some(v)) = (p["group"]["queue"].as_str(), p["value"].as_f64()) {
                by_queue.insert(q.to_owned(), v);
            }
        }
        Ok((overall, by_queue))
    }

    /// Complaints opened, clocks breached and contacts per queue, from
    /// the contacts themselves.
    fn contacts(&self) -> anyhow::Result<(u64, u64, BTreeMap<String, u64>)> {
        let (mut complaints, mut breached) = (0, 0);
        let mut queues = BTreeMap::new();
        let mut after: Option<String> = None;
        loop {
            let path = match &after {
                Some(a) => format!("/v1/contacts?limit=1000&after={a}"),
                None => "/v1/contacts?limit=1000".to_owned(),
            };
            let page = self.remote.get(&path)?;
            for c in page["contacts"].as_array().into_iter().flatten() {
                complaints += u64::from(!c["complaint"].is_null());
                breached += (c["deadlines"].as_array().into_iter().flatten())
                    .filter(|d| !d["breached_at"].is_null())
                    .count() as u64;
                if let Some(q) = c["requirements"]["queue"].as_str() {
                    *queues.entry(q.to_owned()).or_default() += 1;
                }
            }
            match page["next_after"].as_str() {
                Some(n) => after = Some(n.to_owned()),
                None => return Ok((complaints, breached, queues)),
            }
        }
    }
}

/// Put the candidate in `args.slot` on `server`; its `id@version`.
fn install(server: &Server, args: &AbArgs) -> anyhow::Result<String> {
    use base64::Engine as _;
    let config = args.config.as_deref().map(read_json).transpose()?;
    let (id, version) = match (&args.candidate, &args.manifest) {
        (Some(wasm), Some(manifest)) => {
            let bytes =
                std::fs::read(wasm).with_context(|| format!("cannot read {}", wasm.display()))?;
            let up = server.remote.post(
                "/v1/plugins",
                &json!({"manifest": read_json(manifest)?,
                        "component": base64::engine::general_purpose::STANDARD.encode(bytes)}),
            )?;
            (up["id"].clone(), up["version"].clone())
        }
        _ => {
            let running = server.running(&args.slot)?;
            let (id, version) = running.split_once('@').unwrap_or((&running, ""));
            (Value::from(id), Value::from(version))
        }
    };
    server.remote.post(
        &format!("/v1/slots/{}/activate", args.slot),
        &json!({"plugin": id, "version": version, "config": config}),
    )?;
    Ok(format!(
        "{}@{}",
        id.as_str().unwrap_or("?"),
        version.as_str().unwrap_or("?")
    ))
}

fn read_json(path: &Path) -> anyhow::Result<Value> {
    serde_json::from_str(
        &std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?,
    )
    .with_context(|| format!("{} is not JSON", path.display()))
}

/// Run both days and compare them.
pub fn run(args: &AbArgs) -> anyhow::Result<AbReport> {
    if args.day.hours == 0 {
        bail!("--hours must be at least 1");
    }
    let (from, to) = (DAY, DAY + i64::from(args.day.hours) * HOUR);
    eprintln!("day A: the plugins as shipped");
    let a = Server::start()?;
    let live = a.running(&args.slot).unwrap_or_else(|_| "(empty)".into());
    let day_a = a.day(args)?;
    eprintln!(
        "day B: {} in slot `{}`",
        args.candidate.as_deref().map_or_else(
            || "the shipped version with the given config".to_owned(),
            |p| p.display().to_string()
        ),
        args.slot
    );
    let b = Server::start()?;
    let candidate = install(&b, args)?;
    let day_b = b.day(args)?;
    let mut measures = Vec::new();
    for m in MEASURES {
        let (oa, qa) = a.kpi(m, from, to)?;
        let (ob, qb) = b.kpi(m, from, to)?;
        let mut by_queue: BTreeMap<String, Side> = BTreeMap::new();
        for (q, v) in qa {
            by_queue.entry(q).or_insert(Side { a: None, b: None }).a = Some(v);
        }
        for (q, v) in qb {
            by_queue.entry(q).or_insert(Side { a: None, b: None }).b = Some(v);
        }
        measures.push(MeasureRow {
            measure: m.to_owned(),
            overall: Side { a: oa, b: ob },
            by_queue,
        });
    }
    let (ca, ba, qa) = a.contacts()?;
    let (cb, bb, qb) = b.contacts()?;
    let mut contacts_by_queue: BTreeMap<String, Side> = BTreeMap::new();
    for (q, n) in qa {
        contacts_by_queue
            .entry(q)
            .or_insert(Side { a: None, b: None })
            .a = Some(n as f64);
    }
    for (q, n) in qb {
        contacts_by_queue
            .entry(q)
            .or_insert(Side { a: None, b: None })
            .b = Some(n as f64);
    }
    Ok(AbReport {
        seed: args.day.seed,
        from,
        to,
        a: live,
        b: candidate,
        b_config: args.config.as_deref().map(read_json).transpose()?,
        slot: args.slot.clone(),
        measures,
        complaints: Side {
            a: Some(ca as f64),
            b: Some(cb as f64),
        },
        breached: Side {
            a: Some(ba as f64),
            b: Some(bb as f64),
        },
        contacts_by_queue,
        day_a,
        day_b,
    })
}

fn cell(v: Option<f64>) -> String {
    match v {
        None => "-".to_owned(),
        Some(v) if v.fract() == 0.0 && v.abs() >= 1.0 => format!("{v:.0}"),
        Some(v) => format!("{v:.3}"),
    }
}

fn queue_name(q: &str) -> &str {
    if q.is_empty() { "(no queue)" } else { q }
}

impl AbReport {
    /// The report as a table, for a terminal.
    pub fn table(&self) -> String {
        let mut s = format!(
            "seed {}, slot `{}`: A = {}, B = {}\n{:<28} {:<16} {:>12} {:>12}\n",
            self.seed, self.slot, self.a, self.b, "measure", "queue", "A", "B"
        );
        for m in &self.measures {
            s.push_str(&format!(
                "{:<28} {:<16} {:>12} {:>12}\n",
                m.measure,
                "(all)",
                cell(m.overall.a),
                cell(m.overall.b)
            ));
            for (q, v) in &m.by_queue {
                s.push_str(&format!(
                    "{:<28} {:<16} {:>12} {:>12}\n",
                    "",
                    queue_name(q),
                    cell(v.a),
                    cell(v.b)
                ));
            }
        }
        for (q, v) in &self.contacts_by_queue {
            s.push_str(&format!(
                "{:<28} {:<16} {:>12} {:>12}\n",
                "contacts",
                queue_name(q),
                cell(v.a),
                cell(v.b)
            ));
        }
        s.push_str(&format!(
            "{:<28} {:<16} {:>12} {:>12}\n{:<28} {:<16} {:>12} {:>12}",
            "complaints opened",
            "(all)",
            cell(self.complaints.a),
            cell(self.complaints.b),
            "complaint clocks breached",
            "(all)",
            cell(self.breached.a),
            cell(self.breached.b)
        ));
        s
    }
}
