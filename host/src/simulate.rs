//! `switchboard simulate`: a seeded, realistic contact-center day driven
//! through a running server's HTTP API, to demo the product and to test it.
//!
//! Arrivals follow a daily curve per channel; contacts have topics,
//! customer tiers, languages and repeat customers; agents work shifts with
//! a break, have skills, languages and teams, and handle what the server
//! offers them with realistic talk, hold and wrap-up times; customers
//! abandon when they wait too long and some answer a survey; agents send
//! drafts (some with card numbers or promises) that the compliance checks
//! judge, and a supervisor approves or rejects what waits for approval.
//!
//! Time: on a server started with `--simulated-clock`, the simulator moves
//! the server's clock itself (`POST /v1/clock`) and every request carries
//! `occurred_at`, so a day runs as fast as the server answers (`--speed
//! 0`) or paced for watching (`--speed 60`: a minute per second). On a
//! wall-clock server only `--speed 1` makes sense.
//!
//! Every action happens in time order, one at a time, each at its own
//! millisecond: a run is a reproducible replay, and the KPI cross-check
//! test recomputes every KPI from the events it leaves behind.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution, Exp, LogNormal};
use serde_json::{Value, json};

const SEC: i64 = 1000;
const MIN: i64 = 60 * SEC;
const HOUR: i64 = 60 * MIN;
/// The simulated clock is moved at least this often (timers fire then).
const CLOCK_STEP: i64 = 5 * SEC;

/// The day to simulate (`switchboard simulate`, `switchboard ab`).
#[derive(Debug, Clone, clap::Args)]
pub struct DayArgs {
    /// Seed of every random choice: the same seed replays the same day.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Contacts arriving over the day.
    #[arg(long, default_value_t = 2_000)]
    pub contacts: usize,
    /// Agents on the roster (shifts spread over the day).
    #[arg(long, default_value_t = 40)]
    pub agents: usize,
    /// Hours simulated, from the server's clock.
    #[arg(long, default_value_t = 24)]
    pub hours: u32,
}

/// Options of `switchboard simulate`.
#[derive(Debug, clap::Args)]
pub struct SimulateArgs {
    #[command(flatten)]
    pub day: DayArgs,
    /// Simulated seconds per wall second; 0 runs as fast as the server
    /// answers. Anything but 1 needs a server on `--simulated-clock`.
    #[arg(long, default_value_t = 0.0)]
    pub speed: f64,
    /// Print the summary as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Only the classic stream: contacts over `POST /v1/contacts`, no
    /// schedules, goals, incident, social or review intake, IVR or bot
    /// hand-offs, or accepted suggestions (the KPI cross-check models it).
    #[arg(long)]
    pub classic: bool,
    /// Write the simulator's own log to this file: one JSON line per
    /// request, `{at, method, path, body, status}` (`at`: the simulated
    /// time it was made at). A check independent of the server's records
    /// (the KPI cross-check test) reads what the client asked for here.
    #[arg(long, value_name = "FILE")]
    pub log: Option<std::path::PathBuf>,
    #[command(flatten)]
    pub remote: crate::client::Remote,
}

/// A blocking client with one keep-alive connection.
struct Api {
    agent: ureq::Agent,
    base: String,
    auth: String,
    requests: u64,
    /// The client's own log (`--log`) and the simulated time of requests.
    log: Option<std::io::BufWriter<std::fs::File>>,
    now: i64,
}

/// A refused request: the status and the problem's detail.
#[derive(Debug)]
struct Refused {
    status: u16,
    detail: String,
}

impl Api {
    fn call(
        &mut self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<Result<Value, Refused>> {
        self.requests += 1;
        let url = format!("{}{path}", self.base);
        let res = match (method, body) {
            ("GET", _) => self
                .agent
                .get(&url)
                .header("Authorization", &self.auth)
                .call(),
            ("PUT", Some(b)) => self
                .agent
                .put(&url)
                .header("Authorization", &self.auth)
                .send_json(b),
            (_, b) => self
                .agent
                .post(&url)
                .header("Authorization", &self.auth)
                .send_json(b.cloned().unwrap_or(json!({}))),
        };
        let mut res = res.with_context(|| format!("cannot reach the server at {}", self.base))?;
        let status = res.status().as_u16();
        let text = res.body_mut().read_to_string().unwrap_or_default();
        let value: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if let Some(log) = &mut self.log {
            use std::io::Write as _;
            let line = json!({"at": self.now, "method": method, "path": path,
                "body": body, "status": status});
            writeln!(log, "{line}").context("cannot write the --log file")?;
        }
        if status >= 500 {
            bail!("{method} {path} failed ({status}): {text}");
        }
        if status == 401 || status == 403 {
            bail!(
                "{method} {path} was refused ({status}): {}; the simulator needs an admin or operator token with write access (--token)",
                value["detail"]
            );
        }
        if status >= 400 {
            return Ok(Err(Refused {
                status,
                detail: value["detail"].as_str().unwrap_or(&text).to_owned(),
            }));
        }
        Ok(Ok(value))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Waiting,
    Offered,
    Talking,
    Done,
}

#[derive(Debug, Clone)]
struct SimContact {
    id: String,
    channel: &'static str,
    stage: Stage,
    /// How long the customer waits before hanging up (none: never).
    patience: Option<i64>,
    talk: i64,
    wrap: i64,
    transfer_to: Option<&'static str>,
    transferred: bool,
    hold: Option<(i64, i64)>,
    draft: Option<&'static str>,
    survey: bool,
    waited: i64,
    arrived: i64,
    agent: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Action {
    Arrive(usize),
    Answer(usize),
    Hold(usize),
    Resume(usize),
    Transfer(usize),
    WrapUp(usize),
    Resolve(usize),
    Abandon(usize),
    Survey(usize),
    Draft(usize, bool),
    Decide(String, bool),
    Accept(usize, String),
    Status(usize, &'static str),
    /// Declare (true) or close (false) the day's incident.
    Incident(bool),
    /// A social post delivered again (its JSON).
    Redeliver(String),
}

/// What a simulated day did (`--json` prints it).
#[derive(Debug, Default, serde::Serialize)]
pub struct Summary {
    contacts: usize,
    answered: usize,
    abandoned: usize,
    transferred: usize,
    resolved: usize,
    surveys: usize,
    drafts: BTreeMap<String, usize>,
    approvals: usize,
    rejections: usize,
    /// Drafts revised by accepting the suggested rephrasing.
    suggestions_accepted: usize,
    /// Social posts and reviews taken in, discarded as noise, re-delivered.
    social_posts: usize,
    noise_discarded: usize,
    duplicates: usize,
    /// IVR and bot hand-offs, and bot sessions resolved in self-service.
    handoffs: usize,
    contained: usize,
    /// Contacts that got the incident's proactive message.
    incident_messages: usize,
    status_changes: usize,
    timers_fired: usize,
    /// Requests the server refused (409 races such as answering a contact
    /// the customer just abandoned), by status.
    refused: BTreeMap<u16, usize>,
    requests: u64,
    wall_secs: f64,
    simulated_hours: u32,
}

const TOPICS: [(&str, f64); 6] = [
    ("billing", 0.30),
    ("technical", 0.28),
    ("refund", 0.12),
    ("account", 0.12),
    ("sales", 0.10),
    ("complaint", 0.08),
];
const CHANNELS: [(&str, f64); 5] = [
    ("voice", 0.42),
    ("chat", 0.30),
    ("email", 0.16),
    ("sms", 0.05),
    ("social", 0.07),
];
/// Share of the day's contacts per hour (00-23), peaking late morning and
/// mid-afternoon.
const CURVE: [f64; 24] = [
    0.3, 0.2, 0.15, 0.15, 0.2, 0.4, 1.0, 2.5, 5.0, 7.5, 8.5, 8.0, 6.5, 7.0, 7.5, 7.0, 6.0, 5.0,
    3.5, 2.5, 2.0, 1.5, 1.0, 0.6,
];

fn pick<T: Copy>(rng: &mut StdRng, items: &[(T, f64)]) -> T {
    let total: f64 = items.iter().map(|(_, w)| w).sum();
    let mut x = rng.random::<f64>() * total;
    for (item, w) in items {
        if x < *w {
            return *item;
        }
        x -= w;
    }
    items[items.len() - 1].0
}

fn text_for(topic: &str, rng: &mut StdRng) -> (String, f32) {
    let options: &[(&str, f32)] = match topic {
        "billing" => &[
            ("I was charged twice for my subscription this month", -0.4),
            ("Can you explain the extra fee on my invoice?", -0.1),
            ("My invoice is wrong again, this is unacceptable", -0.7),
        ],
        "technical" => &[
            ("The app crashes when I open my statement", -0.3),
            ("I cannot log in since the update", -0.4),
            ("Your service is down, not working for anyone here", -0.8),
        ],
        "refund" => &[
            ("I would like a refund for the cancelled order", -0.2),
            ("Still no refund after three weeks, I am disappointed", -0.7),
        ],
        "account" => &[
            ("Please update the address on my account", 0.1),
            ("How do I close my account?", -0.1),
        ],
        "sales" => &[
            ("What does the premium plan include?", 0.4),
            ("Is there a discount for families?", 0.3),
        ],
        _ => &[
            (
                "This is a formal complaint, I want to speak to a manager",
                -0.8,
            ),
            ("I will take legal action if this is not fixed", -0.9),
            ("Terrible service, I am complaining to the ombudsman", -0.9),
        ],
    };
    let (text, sentiment) = options[rng.random_range(0..options.len())];
    (text.to_owned(), sentiment)
}

const DRAFTS: [&str; 6] = [
    "Unfortunately the fix takes a day; we will send the new invoice asap.",
    "Thanks for your patience, I have corrected the invoice and you will see it on your next statement.",
    "I can confirm the refund. Your card 4111 1111 1111 1111 will be credited.",
    "We guarantee this will never happen again.",
    "I have escalated your case to our legal team, who will contact you.",
    "Please restart the app; if it still crashes, reply and we will look further.",
];

struct Sim {
    api: Api,
    rng: StdRng,
    queue: BinaryHeap<Reverse<(i64, u64, Action)>>,
    seq: u64,
    contacts: Vec<SimContact>,
    by_id: BTreeMap<String, usize>,
    agents: Vec<String>,
    summary: Summary,
    /// The last millisecond an action used (each gets its own).
    last: i64,
    clock: i64,
    simulated: bool,
    classic: bool,
    incident: Option<String>,
}

/// Public posts that are not for the contact center.
const NOISE_POSTS: [&str; 3] = [
    "Giveaway time! follow back and get a promo code",
    "click here for free followers",
    "dm for collab, check out my page",
];

/// The IVR menu path for a topic.
fn menu_path(topic: &str) -> Vec<&'static str> {
    match topic {
        "billing" | "refund" => vec!["billing", "invoice"],
        "technical" => vec!["support", "app"],
        "account" => vec!["account", "details"],
        "sales" => vec!["sales"],
        _ => vec!["other"],
    }
}

impl Sim {
    fn at(&mut self, t: i64, a: Action) {
        self.seq += 1;
        self.queue.push(Reverse((t, self.seq, a)));
    }

    fn refused(&mut self, r: &Refused) {
        *self.summary.refused.entry(r.status).or_default() += 1;
        tracing::debug!(status = r.status, detail = %r.detail, "refused");
    }

    /// Schedule answers for offers the server made at `t`.
    fn offers(&mut self, t: i64, offers: &Value) {
        for o in offers.as_array().into_iter().flatten() {
            let (Some(cid), Some(agent)) = (o[0].as_str(), o[1].as_str()) else {
                continue;
            };
            let Some(&i) = self.by_id.get(cid) else {
                continue;
            };
            let c = &mut self.contacts[i];
            if c.stage == Stage::Waiting {
                c.stage = Stage::Offered;
                c.agent = Some(agent.to_owned());
                let ring = self.rng.random_range(2 * SEC..10 * SEC);
                self.at(t + ring, Action::Answer(i));
            }
        }
    }

    /// Move the simulated clock to `t` (timers fire, contacts are offered).
    fn advance(&mut self, t: i64) -> anyhow::Result<()> {
        if !self.simulated || t <= self.clock {
            return Ok(());
        }
        self.api.now = t;
        let moved = self
            .api
            .call("POST", "/v1/clock", Some(&json!({ "now": t })))?
            .map_err(|r| anyhow::anyhow!("moving the clock failed: {}", r.detail))?;
        self.clock = t;
        self.summary.timers_fired += moved["timers_fired"].as_u64().unwrap_or(0) as usize;
        self.offers(t, &moved["offers"]);
        Ok(())
    }

    fn event(&mut self, i: usize, t: i64, body: Value) -> anyhow::Result<Option<Value>> {
        let mut body = body;
        if self.simulated {
            body["occurred_at"] = json!(t);
        }
        let id = self.contacts[i].id.clone();
        match self
            .api
            .call("POST", &format!("/v1/contacts/{id}/events"), Some(&body))?
        {
            Ok(v) => {
                self.offers(t, &v["offers"]);
                Ok(Some(v))
            }
            Err(r) => {
                self.refused(&r);
                Ok(None)
            }
        }
    }

    fn run_action(&mut self, t: i64, action: Action) -> anyhow::Result<()> {
        self.api.now = t;
        match action {
            Action::Arrive(i) => self.arrive(i, t)?,
            Action::Answer(i) => {
                if self.contacts[i].stage != Stage::Offered {
                    return Ok(());
                }
                if self.event(i, t, json!({"type": "answer"}))?.is_some() {
                    self.summary.answered += 1;
                    let c = &mut self.contacts[i];
                    c.stage = Stage::Talking;
                    c.waited = t - c.arrived;
                    let c = c.clone();
                    if let Some((after, len)) = c.hold {
                        self.at(t + after, Action::Hold(i));
                        self.at(t + after + len, Action::Resume(i));
                    }
                    if c.transfer_to.is_some() && !c.transferred {
                        self.at(t + c.talk / 2, Action::Transfer(i));
                    } else {
                        if c.draft.is_some() {
                            self.at(t + c.talk / 2, Action::Draft(i, false));
                        }
                        let hold = c.hold.map_or(0, |(_, l)| l);
                        self.at(t + c.talk + hold, Action::WrapUp(i));
                    }
                }
            }
            Action::Hold(i) => {
                if self.contacts[i].stage == Stage::Talking {
                    self.event(i, t, json!({"type": "hold"}))?;
                }
            }
            Action::Resume(i) => {
                if self.contacts[i].stage == Stage::Talking {
                    self.event(i, t, json!({"type": "resume"}))?;
                }
            }
            Action::Transfer(i) => {
                let queue = self.contacts[i].transfer_to.unwrap_or("general");
                self.contacts[i].stage = Stage::Waiting;
                self.contacts[i].transferred = true;
                self.contacts[i].hold = None;
                if self
                    .event(i, t, json!({"type": "transfer", "queue": queue}))?
                    .is_some()
                {
                    self.summary.transferred += 1;
                } else {
                    self.contacts[i].stage = Stage::Done;
                }
            }
            Action::WrapUp(i) => {
                if self.event(i, t, json!({"type": "wrap_up"}))?.is_some() {
                    let wrap = self.contacts[i].wrap;
                    self.at(t + wrap, Action::Resolve(i));
                }
            }
            Action::Resolve(i) => {
                if self.event(i, t, json!({"type": "resolve"}))?.is_some() {
                    self.summary.resolved += 1;
                    self.contacts[i].stage = Stage::Done;
                    if self.contacts[i].survey {
                        let later = self.rng.random_range(MIN..30 * MIN);
                        self.at(t + later, Action::Survey(i));
                    }
                }
            }
            Action::Abandon(i) => {
                if self.contacts[i].stage == Stage::Waiting
                    && self.event(i, t, json!({"type": "abandon"}))?.is_some()
                {
                    self.summary.abandoned += 1;
                    self.contacts[i].stage = Stage::Done;
                }
            }
            Action::Survey(i) => {
                let waited = self.contacts[i].waited;
                let base: f64 = if waited < 30 * SEC {
                    4.3
                } else if waited < 3 * MIN {
                    3.6
                } else {
                    2.6
                };
                let csat = (base + self.rng.random_range(-1.5..1.5))
                    .round()
                    .clamp(1.0, 5.0) as u8;
                let nps = ((f64::from(csat) - 1.0) * 2.5 + self.rng.random_range(-1.0..1.0))
                    .round()
                    .clamp(0.0, 10.0) as u8;
                let ces = (8.0 - f64::from(csat) * 1.3 + self.rng.random_range(-1.0..1.0))
                    .round()
                    .clamp(1.0, 7.0) as u8;
                if self
                    .event(
                        i,
                        t,
                        json!({"type": "survey", "csat": csat, "nps": nps, "ces": ces}),
                    )?
                    .is_some()
                {
                    self.summary.surveys += 1;
                }
            }
            Action::Draft(i, clean) => {
                let c = &self.contacts[i];
                let (Some(agent), Some(text)) = (c.agent.clone(), c.draft) else {
                    return Ok(());
                };
                let text = if clean { DRAFTS[0] } else { text };
                let id = c.id.clone();
                match self.api.call(
                    "POST",
                    &format!("/v1/contacts/{id}/drafts"),
                    Some(&json!({"agent_id": agent, "text": text})),
                )? {
                    Ok(d) => {
                        let state = d["state"].as_str().unwrap_or("unknown").to_owned();
                        *self.summary.drafts.entry(state.clone()).or_default() += 1;
                        match state.as_str() {
                            "pending_approval" => {
                                let approve = self.rng.random_bool(0.75);
                                let draft = d["id"].as_str().unwrap_or_default().to_owned();
                                self.at(t + 2 * MIN, Action::Decide(draft, approve));
                            }
                            "needs_revision" if !self.classic && has_suggestions(&d) => {
                                let draft = d["id"].as_str().unwrap_or_default().to_owned();
                                self.at(t + 30 * SEC, Action::Accept(i, draft));
                            }
                            "needs_revision" | "blocked" if !clean => {
                                self.at(t + MIN, Action::Draft(i, true));
                            }
                            _ => {}
                        }
                    }
                    Err(r) => self.refused(&r),
                }
            }
            Action::Decide(draft, approve) => {
                let (verb, comment) = if approve {
                    ("approve", "fine to send")
                } else {
                    (
                        "reject",
                        "please do not promise what legal has not confirmed",
                    )
                };
                match self.api.call(
                    "POST",
                    &format!("/v1/drafts/{draft}/{verb}"),
                    Some(&json!({"comment": comment})),
                )? {
                    Ok(_) if approve => self.summary.approvals += 1,
                    Ok(_) => self.summary.rejections += 1,
                    Err(r) => self.refused(&r),
                }
            }
            Action::Accept(i, draft) => {
                match self.api.call(
                    "POST",
                    &format!("/v1/drafts/{draft}/accept-suggestions"),
                    Some(&json!({})),
                )? {
                    Ok(d) => {
                        self.summary.suggestions_accepted += 1;
                        let state = d["state"].as_str().unwrap_or("unknown").to_owned();
                        *self.summary.drafts.entry(state.clone()).or_default() += 1;
                        if state == "pending_approval" {
                            let draft = d["id"].as_str().unwrap_or_default().to_owned();
                            self.at(t + 2 * MIN, Action::Decide(draft, true));
                        } else if state != "approved" {
                            self.at(t + MIN, Action::Draft(i, true));
                        }
                    }
                    Err(r) => self.refused(&r),
                }
            }
            Action::Incident(declare) => self.incident(t, declare)?,
            Action::Redeliver(post) => {
                let post: Value = serde_json::from_str(&post)?;
                match self.api.call("POST", "/v1/intake/social", Some(&post))? {
                    Ok(v) if v["duplicate"] == true => self.summary.duplicates += 1,
                    Ok(v) => bail!("a re-delivered post made a second contact: {v}"),
                    Err(r) => self.refused(&r),
                }
            }
            Action::Status(a, status) => {
                let id = self.agents[a].clone();
                let mut body = json!({ "status": status });
                if self.simulated {
                    body["occurred_at"] = json!(t);
                }
                match self
                    .api
                    .call("POST", &format!("/v1/agents/{id}/status"), Some(&body))?
                {
                    Ok(v) => {
                        self.summary.status_changes += 1;
                        self.offers(t, &v["offers"]);
                    }
                    Err(r) => self.refused(&r),
                }
            }
        }
        Ok(())
    }

    /// Where a contact comes in outside the classic stream: social
    /// contacts as posts and reviews (some noise, some re-delivered), a
    /// third of the voice calls through the IVR and of the chats through
    /// the bot (a quarter of those resolved in self-service).
    fn intake_body(&mut self, contact: Value, topic: &str, t: i64) -> (&'static str, Value) {
        let channel = contact["channel"].as_str().unwrap_or_default();
        let rng = &mut self.rng;
        let n = self.summary.contacts;
        match channel {
            "social" => {
                self.summary.social_posts += 1;
                let review = rng.random_bool(0.3);
                let text = if rng.random_bool(0.2) {
                    NOISE_POSTS[rng.random_range(0..NOISE_POSTS.len())].to_owned()
                } else {
                    format!("@acme {}", contact["text"].as_str().unwrap_or_default())
                };
                let mut post = json!({
                    "source": if review { "app-store" } else { "twitter" },
                    "post_id": format!("post-{n}"),
                    "author": format!("@{}", contact["customer_id"].as_str().unwrap_or("someone")),
                    "text": text,
                    "url": format!("https://social.example/post-{n}"),
                    "topics": contact["topics"],
                    "sentiment": contact["sentiment"],
                    "language": contact["language"],
                });
                if review {
                    post["rating"] = json!(rng.random_range(1..=5));
                }
                if self.simulated {
                    post["posted_at"] = json!(t);
                }
                if rng.random_bool(0.1) {
                    let later = t + rng.random_range(MIN..10 * MIN);
                    self.at(later, Action::Redeliver(post.to_string()));
                }
                ("/v1/intake/social", post)
            }
            "voice" | "chat" if rng.random_bool(1.0 / 3.0) => {
                self.summary.handoffs += 1;
                let bot = channel == "chat";
                let mut h = json!({
                    "source": if bot { "bot" } else { "ivr" },
                    "external_id": format!("session-{n}"),
                    "customer_id": contact["customer_id"],
                    "customer_tier": contact["customer_tier"],
                    "language": contact["language"],
                    "text": contact["text"],
                    "sentiment": contact["sentiment"],
                    "auth_level": pick(rng, &[("strong", 0.6), ("basic", 0.3), ("none", 0.1)]),
                    "resolved": bot && rng.random_bool(0.25),
                });
                if bot {
                    h["intent"] = json!(topic);
                } else {
                    h["menu_path"] = json!(menu_path(topic));
                    h["topics"] = contact["topics"].clone();
                }
                if self.simulated {
                    h["occurred_at"] = json!(t);
                }
                ("/v1/intake/handoffs", h)
            }
            _ => ("/v1/contacts", contact),
        }
    }

    /// Declare the day's incident (a login outage after the app update),
    /// or close it.
    fn incident(&mut self, t: i64, declare: bool) -> anyhow::Result<()> {
        if declare {
            let mut body = json!({
                "title": "Log-in failures after the app update",
                "keywords": ["cannot log in", "is down"],
                "products": ["app"],
                "message": "We know log-in fails since this morning's update; a fix is rolling out. No need to reset your password.",
            });
            if self.simulated {
                body["started_at"] = json!(t);
            }
            match self.api.call("POST", "/v1/incidents", Some(&body))? {
                Ok(v) => self.incident = v["id"].as_str().map(str::to_owned),
                Err(r) => self.refused(&r),
            }
        } else if let Some(id) = self.incident.take() {
            let body = if self.simulated {
                json!({ "ended_at": t })
            } else {
                json!({})
            };
            if let Err(r) =
                self.api
                    .call("POST", &format!("/v1/incidents/{id}/close"), Some(&body))?
            {
                self.refused(&r);
            }
        }
        Ok(())
    }

    fn arrive(&mut self, i: usize, t: i64) -> anyhow::Result<()> {
        let rng = &mut self.rng;
        let topic = pick(rng, &TOPICS);
        let channel = self.contacts[i].channel;
        let (text, sentiment) = text_for(topic, rng);
        // A third of the contacts come from returning customers.
        let pool = (self.contacts.len() / 3).max(1);
        let customer = format!("cust-{}", rng.random_range(0..pool));
        let tier = pick(rng, &[("standard", 0.80), ("gold", 0.15), ("vip", 0.05)]);
        let language = pick(rng, &[("en", 0.85), ("ko", 0.10), ("es", 0.05)]);
        let mut attributes = BTreeMap::new();
        if rng.random_bool(0.05) {
            attributes.insert("flags", "legacy");
        }
        let mut body = json!({
            "channel": channel,
            "customer_id": customer,
            "customer_tier": tier,
            "language": language,
            "topics": [topic],
            "text": text,
            "sentiment": sentiment,
            "attributes": attributes,
        });
        if self.simulated {
            body["occurred_at"] = json!(t);
        }
        let (path, body) = if self.classic {
            ("/v1/contacts", body)
        } else {
            self.intake_body(body, topic, t)
        };
        self.summary.contacts += 1;
        let created = match self.api.call("POST", path, Some(&body))? {
            Ok(v) if path == "/v1/contacts" => v,
            Ok(v) => {
                if v["outcome"] == "discarded" {
                    self.summary.noise_discarded += 1;
                    self.contacts[i].stage = Stage::Done;
                    return Ok(());
                }
                v["ingested"].clone()
            }
            Err(r) => {
                self.refused(&r);
                return Ok(());
            }
        };
        if created.get("proactive_message").is_some() {
            self.summary.incident_messages += 1;
        }
        if created["contact"]["state"] == "resolved" {
            self.summary.contained += 1;
            self.contacts[i].stage = Stage::Done;
            return Ok(());
        }
        let id = created["contact"]["id"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        self.by_id.insert(id.clone(), i);
        self.contacts[i].id = id;
        self.contacts[i].arrived = t;
        if let Some(agent) = created["offered_to"].as_str() {
            let pair = json!([[self.contacts[i].id, agent]]);
            self.offers(t, &pair);
        }
        if let Some(p) = self.contacts[i].patience {
            self.at(t + p, Action::Abandon(i));
        }
        Ok(())
    }
}

fn has_suggestions(draft: &Value) -> bool {
    draft["check"]["findings"]
        .as_array()
        .is_some_and(|f| f.iter().any(|f| f["suggestion"].is_string()))
}

fn millis(d: f64) -> i64 {
    d.round() as i64
}

/// Every agent's planned shift (on the queue, with a 30-minute break in
/// the middle; they start up to ten minutes late) and the floor's goals
/// (`csat` is the share of 4-5 answers).
fn plan_the_day(
    api: &mut Api,
    agents: &[String],
    shifts: &[(usize, i64, i64)],
    t0: i64,
) -> anyhow::Result<()> {
    for &(a, start, length) in shifts {
        let s = t0 + start;
        let brk = s + length / 2;
        let body = json!({"activities": [
            {"activity": "available", "start": s, "end": brk},
            {"activity": "break", "start": brk, "end": brk + 30 * MIN},
            {"activity": "available", "start": brk + 30 * MIN, "end": s + length},
        ]});
        let id = &agents[a];
        if let Err(r) = api.call("PUT", &format!("/v1/agents/{id}/schedule"), Some(&body))? {
            bail!("planning {id}'s shift failed: {}", r.detail);
        }
    }
    for (id, goal) in [
        (
            "adherence",
            json!({"scope": "all", "measure": "adherence", "target": 0.9}),
        ),
        (
            "csat",
            json!({"scope": "all", "measure": "csat", "target": 0.8}),
        ),
        (
            "tier1-aht",
            json!({"scope": {"team": "tier1"}, "measure": "average_handle_time", "target": 420.0}),
        ),
    ] {
        if let Err(r) = api.call("PUT", &format!("/v1/goals/{id}"), Some(&goal))? {
            bail!("setting goal {id} failed: {}", r.detail);
        }
    }
    Ok(())
}

/// Run the simulation; prints progress on stderr and the summary at the end.
pub fn run(args: &SimulateArgs) -> anyhow::Result<()> {
    let s = day(args)?;
    if args.json {
        crate::output::print_line(&serde_json::to_string_pretty(&s)?);
    }
    Ok(())
}

/// Run the day `args` describes against its server; progress on stderr.
pub fn day(args: &SimulateArgs) -> anyhow::Result<Summary> {
    let started = Instant::now();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(120)))
        .build()
        .into();
    let mut api = Api {
        agent,
        base: args.remote.server.trim_end_matches('/').to_owned(),
        auth: format!("Bearer {}", args.remote.token),
        requests: 0,
        log: match &args.log {
            Some(path) => Some(std::io::BufWriter::new(
                std::fs::File::create(path)
                    .with_context(|| format!("cannot create {}", path.display()))?,
            )),
            None => None,
        },
        now: 0,
    };
    let clock = api
        .call("GET", "/v1/clock", None)?
        .map_err(|r| anyhow::anyhow!("reading the server's clock failed: {}", r.detail))?;
    let simulated = clock["simulated"].as_bool().unwrap_or(false);
    if !simulated && (args.speed - 1.0).abs() > f64::EPSILON {
        bail!(
            "the server runs on wall time, so only --speed 1 (real time) works; for a faster day start it with `switchboard serve --simulated-clock <ms>` on a fresh --data-dir"
        );
    }
    let t0 = clock["now"].as_i64().unwrap_or(0);
    api.now = t0;
    let end = t0 + i64::from(args.day.hours) * HOUR;
    let mut rng = StdRng::seed_from_u64(args.day.seed);

    // Queues the bundled routing and escalation plugins use.
    for (name, priority) in [
        ("general", 1),
        ("billing", 2),
        ("tech-support", 2),
        ("complaints", 5),
        ("triage", 3),
        ("incident", 4),
        ("verification", 2),
    ] {
        let body = json!({"name": name, "priority": priority,
            "service_level": {"share": 0.8, "within_secs": 30}});
        if let Err(r) = api.call("PUT", &format!("/v1/queues/{name}"), Some(&body))? {
            bail!("creating queue {name} failed: {}", r.detail);
        }
    }
    // The roster: skills, languages, teams, capacities, a shift with a break.
    let mut agents = Vec::new();
    let mut shifts = Vec::new();
    for a in 0..args.day.agents {
        let id = format!("sim-agent-{a:03}");
        let team = ["tier1", "tier1", "tier2", "legacy"][a % 4];
        let mut skills = serde_json::Map::new();
        skills.insert("billing".into(), json!(rng.random_range(2..=5)));
        skills.insert("technical".into(), json!(rng.random_range(1..=5)));
        if a % 3 == 0 {
            skills.insert("sales".into(), json!(3));
        }
        let mut languages = vec!["en"];
        if a % 7 == 0 {
            languages.push("ko");
        }
        if a % 11 == 0 {
            languages.push("es");
        }
        let body = json!({
            "id": id, "name": format!("Agent {a}"), "skills": skills,
            "languages": languages, "teams": [team],
            "capacity": {"voice": 1, "chat": 3, "email": 2, "sms": 2, "social": 2},
            "status": "offline",
        });
        if let Err(r) = api.call("PUT", &format!("/v1/agents/{id}"), Some(&body))? {
            bail!("creating agent {id} failed: {}", r.detail);
        }
        // Shifts start between 06:00 and 14:00 (a few cover the night).
        let start = if a % 10 == 9 {
            0
        } else {
            6 * HOUR + (a as i64 % 9) * HOUR
        };
        let length = 8 * HOUR;
        shifts.push((a, start, length));
        agents.push(id);
    }

    let mut sim = Sim {
        api,
        rng,
        queue: BinaryHeap::new(),
        seq: 0,
        contacts: Vec::with_capacity(args.day.contacts),
        by_id: BTreeMap::new(),
        agents,
        summary: Summary {
            simulated_hours: args.day.hours,
            ..Summary::default()
        },
        last: t0,
        clock: t0,
        simulated,
        classic: args.classic,
        incident: None,
    };
    if !args.classic {
        plan_the_day(&mut sim.api, &sim.agents, &shifts, t0)?;
        if args.day.hours > 12 {
            sim.at(t0 + 10 * HOUR, Action::Incident(true));
            sim.at(t0 + 12 * HOUR, Action::Incident(false));
        }
    }
    for &(a, start, length) in &shifts {
        let s = t0 + start + sim.rng.random_range(0..10 * MIN);
        let brk = s + length / 2;
        for (t, status) in [
            (s, "available"),
            (brk, "break"),
            (brk + 30 * MIN, "available"),
            (s + length, "offline"),
        ] {
            if t < end {
                sim.at(t, Action::Status(a, status));
            }
        }
    }
    // Arrivals: hour by the daily curve, then uniform within the hour.
    let hours = args.day.hours.clamp(1, 24) as usize;
    let curve: Vec<(usize, f64)> = CURVE.iter().copied().enumerate().take(hours).collect();
    let mut arrivals: Vec<i64> = (0..args.day.contacts)
        .map(|_| {
            let h = pick(&mut sim.rng, &curve) as i64;
            t0 + h * HOUR + sim.rng.random_range(0..HOUR)
        })
        .collect();
    arrivals.sort_unstable();
    let patience = Exp::new(1.0 / 150.0).map_err(|e| anyhow::anyhow!("{e}"))?;
    let talk = LogNormal::from_mean_cv(360.0, 0.6).map_err(|e| anyhow::anyhow!("{e}"))?;
    for (i, t) in arrivals.into_iter().enumerate() {
        let channel = pick(&mut sim.rng, &CHANNELS);
        let rng = &mut sim.rng;
        let patient = matches!(channel, "email" | "social");
        let scale = match channel {
            "chat" => 1.4,
            "email" => 0.8,
            "sms" => 0.6,
            _ => 1.0,
        };
        let c = SimContact {
            id: String::new(),
            channel,
            stage: Stage::Waiting,
            patience: (!patient).then(|| millis(patience.sample(rng) * 1000.0) + 5 * SEC),
            talk: millis(talk.sample(rng) * scale * 1000.0).clamp(20 * SEC, 90 * MIN),
            wrap: rng.random_range(15 * SEC..120 * SEC),
            transfer_to: rng
                .random_bool(0.06)
                .then(|| ["billing", "tech-support", "general"][rng.random_range(0..3)]),
            transferred: false,
            hold: (channel == "voice" && rng.random_bool(0.15)).then(|| {
                (
                    rng.random_range(30 * SEC..120 * SEC),
                    rng.random_range(20 * SEC..180 * SEC),
                )
            }),
            draft: (channel != "voice" && rng.random_bool(0.3))
                .then(|| DRAFTS[rng.random_range(0..DRAFTS.len())]),
            survey: rng.random_bool(0.35),
            waited: 0,
            arrived: t,
            agent: None,
        };
        sim.contacts.push(c);
        sim.at(t, Action::Arrive(i));
    }

    let total = args.day.contacts.max(1);
    let mut next_report = 0.1;
    eprintln!(
        "simulating {} h with {} contacts and {} agents (seed {}, {})",
        args.day.hours,
        args.day.contacts,
        args.day.agents,
        args.day.seed,
        if simulated {
            "simulated clock"
        } else {
            "wall clock"
        }
    );
    while let Some(Reverse((t, _, action))) = sim.queue.pop() {
        if t >= end {
            break;
        }
        if args.speed > 0.0 {
            let due =
                started + Duration::from_secs_f64((t - t0).max(0) as f64 / 1000.0 / args.speed);
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
        }
        // Every action at its own millisecond, after the clock.
        if sim.simulated && t > sim.clock + CLOCK_STEP {
            let tc = t.max(sim.last + 1);
            sim.advance(tc)?;
            sim.last = tc;
        }
        let t = t.max(sim.last + 1);
        sim.last = t;
        sim.run_action(t, action)?;
        let done = sim.summary.contacts as f64 / total as f64;
        if done >= next_report {
            let waiting = sim
                .contacts
                .iter()
                .filter(|c| c.stage == Stage::Waiting && !c.id.is_empty())
                .count();
            let mins = (t - t0) / MIN;
            eprintln!(
                "  {:>3.0}%  +{:02}:{:02}  {} contacts, {} answered, {} abandoned, {} waiting, {} requests ({:.0}/s)",
                done * 100.0,
                mins / 60,
                mins % 60,
                sim.summary.contacts,
                sim.summary.answered,
                sim.summary.abandoned,
                waiting,
                sim.api.requests,
                sim.api.requests as f64 / started.elapsed().as_secs_f64()
            );
            next_report += 0.1;
        }
    }
    let final_t = end.max(sim.last + 1);
    sim.advance(final_t)?;
    sim.summary.requests = sim.api.requests;
    if let Some(log) = &mut sim.api.log {
        use std::io::Write as _;
        log.flush().context("cannot write the --log file")?;
    }
    sim.summary.wall_secs = started.elapsed().as_secs_f64();
    let s = &sim.summary;
    eprintln!(
        "done: {} contacts, {} answered, {} abandoned, {} transferred, {} resolved, {} surveys; drafts {:?}, {} approved, {} rejected, {} revised by accepting suggestions; {} social posts ({} noise, {} re-delivered), {} hand-offs ({} contained), {} incident messages; {} agent status changes, {} timers fired; {} requests in {:.1} s ({:.0}/s); refused {:?}",
        s.contacts,
        s.answered,
        s.abandoned,
        s.transferred,
        s.resolved,
        s.surveys,
        s.drafts,
        s.approvals,
        s.rejections,
        s.suggestions_accepted,
        s.social_posts,
        s.noise_discarded,
        s.duplicates,
        s.handoffs,
        s.contained,
        s.incident_messages,
        s.status_changes,
        s.timers_fired,
        s.requests,
        s.wall_secs,
        s.requests as f64 / s.wall_secs.max(1e-9),
        s.refused
    );
    Ok(sim.summary)
}
