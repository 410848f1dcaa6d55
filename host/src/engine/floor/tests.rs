//! The indexed floor against the floor it replaced (`reference`, which
//! scans everything): the same seeded random sequence of agents, queues,
//! contacts, dispatches and clock moves (forward and back) must give the
//! same offers, snapshots, queue statuses and loads at every step. Then
//! what the indexes promise: relaxation re-files only what came due, and a
//! backlog nobody free can take is not walked.

use std::collections::BTreeMap;

use super::reference;
use super::{Floor, Offer};
use crate::domain::{
    Agent, AgentStatus, Channel, ContactState, PreferredSkill, Queue, Relaxation, RelaxationStep,
    RequiredSkill, Requirements, SelectionStrategy,
};
use crate::engine::{ContactRecord, MissedOffer};

const T0: i64 = 1_767_000_000_000;

/// xorshift64*: a seeded generator, so a failing sequence can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

const SKILLS: [&str; 3] = ["billing", "tech", "sales"];
const LANGUAGES: [&str; 3] = ["en", "fr", "de-CH"];
const TEAMS: [&str; 2] = ["red", "blue"];
/// `ghost` never gets a queue record: contacts may still wait in it.
const QUEUES: [&str; 5] = ["billing", "tech", "general", "vip", "ghost"];
const AGENTS: [&str; 7] = ["a0", "a1", "a2", "a3", "a4", "a5", "a6"];

fn agent(id: &str) -> Agent {
    Agent {
        id: id.into(),
        name: String::new(),
        skills: BTreeMap::new(),
        languages: vec!["en".into()],
        teams: vec![],
        capacity: BTreeMap::from([(Channel::Chat, 1)]),
        status: AgentStatus::Available,
        load: BTreeMap::new(),
        idle_since: 0,
        status_since: 0,
        period_since: 0,
    }
}

fn random_agent(rng: &mut Rng) -> Agent {
    let id: &&str = rng.pick(&AGENTS);
    let mut a = agent(id);
    for s in SKILLS {
        if rng.chance(60) {
            a.skills.insert(s.into(), 1 + rng.below(5) as u8);
        }
    }
    a.languages = LANGUAGES
        .iter()
        .filter(|_| rng.chance(50))
        .map(|l| l.to_string())
        .collect();
    a.teams = TEAMS
        .iter()
        .filter(|_| rng.chance(40))
        .map(|t| t.to_string())
        .collect();
    a.capacity = BTreeMap::new();
    for (channel, most) in [(Channel::Voice, 2), (Channel::Chat, 4), (Channel::Email, 3)] {
        if rng.chance(70) {
            a.capacity.insert(channel, rng.below(most) as u32);
        }
    }
    a.status = *rng.pick(&[
        AgentStatus::Available,
        AgentStatus::Available,
        AgentStatus::Busy,
        AgentStatus::Break,
        AgentStatus::Offline,
        AgentStatus::WrapUp,
    ]);
    a.idle_since = T0 + rng.below(50) as i64 * 1000;
    a
}

fn random_queue(rng: &mut Rng) -> Queue {
    let mut q: Queue = serde_json::from_value(serde_json::json!({
        "name": rng.pick(&QUEUES[..4]),
    }))
    .expect("queue");
    q.priority = rng.below(3) as u32;
    q.strategy = *rng.pick(&[
        SelectionStrategy::LongestIdle,
        SelectionStrategy::LeastOccupied,
        SelectionStrategy::RoundRobin,
        SelectionStrategy::MostSkilled,
    ]);
    q
}

fn random_requirements(rng: &mut Rng) -> Requirements {
    let mut r = Requirements {
        queue: rng.pick(&QUEUES).to_string(),
        priority: rng.below(4) as u32,
        ..Requirements::default()
    };
    for s in SKILLS {
        if rng.chance(35) {
            r.required.push(RequiredSkill {
                skill: s.into(),
                min: 1 + rng.below(5) as u8,
            });
        }
        if rng.chance(20) {
            r.preferred.push(PreferredSkill {
                skill: s.into(),
                min: 1 + rng.below(5) as u8,
                weight: 1 + rng.below(3) as u32,
            });
        }
    }
    if rng.chance(25) {
        r.team = Some(rng.pick(&TEAMS).to_string());
    }
    if rng.chance(50) {
        r.language = Some(rng.pick(&["en", "fr", "de"]).to_string());
    }
    if rng.chance(15) {
        r.preferred_agent = Some((rng.pick(&AGENTS).to_string(), *rng.pick(&[0, 10, 45, 120])));
    }
    for _ in 0..rng.below(4) {
        let mut actions = Vec::new();
        for _ in 0..1 + rng.below(2) {
            actions.push(match rng.below(6) {
                0 => Relaxation::DropPreferredSkills,
                1 => Relaxation::LowerProficiency(1 + rng.below(3) as u8),
                2 => Relaxation::DropRequiredSkill(rng.pick(&SKILLS).to_string()),
                3 => Relaxation::DropTeam,
                4 => Relaxation::RaisePriority(1 + rng.below(5) as u32),
                _ => Relaxation::Overflow(rng.pick(&QUEUES).to_string()),
            });
        }
        r.relaxation.push(RelaxationStep {
            after_secs: *rng.pick(&[0, 5, 20, 30, 60, 90, 300]),
            actions,
        });
    }
    r
}

fn contact(id: &str, state: ContactState, requirements: Requirements, at: i64) -> ContactRecord {
    let mut c: ContactRecord = serde_json::from_value(serde_json::json!({
        "id": id, "channel": "chat", "customer_id": "cust", "customer_tier": "standard",
        "language": "en", "topics": [], "text": "", "attributes": {}, "tags": [],
        "state": "new", "requirements": Requirements::default(),
        "created_at": at, "queued_at": at,
    }))
    .expect("contact");
    c.state = state;
    c.requirements = requirements;
    c
}

/// Both floors, driven alike.
struct Rig {
    floor: Floor,
    oracle: reference::Floor,
    now: i64,
    /// Contacts the rig has tracked, as last tracked.
    contacts: BTreeMap<String, ContactRecord>,
    /// Offers made by dispatch and not yet tracked.
    pending: Vec<Offer>,
    offers: usize,
    next_id: usize,
}

impl Rig {
    fn new() -> Self {
        Self {
            floor: Floor::default(),
            oracle: reference::Floor::default(),
            now: T0,
            contacts: BTreeMap::new(),
            pending: Vec::new(),
            offers: 0,
            next_id: 0,
        }
    }

    fn track(&mut self, c: ContactRecord) {
        self.floor.track(&c, self.now);
        self.oracle.track(&c, self.now);
        self.contacts.insert(c.id.clone(), c);
    }

    fn dispatch(&mut self) -> Vec<Offer> {
        let offers = self.floor.dispatch(self.now);
        let expected = self.oracle.dispatch(self.now);
        assert_eq!(offers, expected, "offers at {}", self.now - T0);
        self.offers += offers.len();
        offers
    }

    /// Every query of the floor gives what the reference gives.
    fn check(&self, step: usize) {
        let now = self.now;
        let at = format!("step {step}, t0 + {} ms", now - T0);
        assert_eq!(
            format!("{:?}", self.floor.snapshot(now)),
            format!("{:?}", self.oracle.snapshot(now)),
            "snapshot, {at}"
        );
        for q in QUEUES.iter().chain(&["", "nowhere"]) {
            assert_eq!(
                format!("{:?}", self.floor.queue_status(q, now)),
                format!("{:?}", self.oracle.queue_status(q, now)),
                "queue {q}, {at}"
            );
        }
        let agents = self.oracle.agents_with_load();
        assert_eq!(self.floor.agents_with_load(), agents, "agents, {at}");
        assert_eq!(self.floor.routable(now), self.oracle.routable(now), "{at}");
        for id in AGENTS {
            assert_eq!(
                self.floor.recorded_load(id),
                self.oracle.recorded_load(id),
                "recorded load of {id}, {at}"
            );
            assert_eq!(
                self.floor.agent(id).as_ref(),
                agents.iter().find(|a| a.id == id),
                "agent {id}, {at}"
            );
        }
        assert_eq!(self.floor.waiting(), self.oracle.waiting(), "{at}");
        let mut expected: BTreeMap<String, usize> = BTreeMap::new();
        for q in self.oracle.waiting_queues() {
            *expected.entry(q).or_default() += 1;
        }
        let mut queues: Vec<String> = self.floor.waiting_queues().collect();
        queues.sort();
        let mut oracle: Vec<String> = self.oracle.waiting_queues().collect();
        oracle.sort();
        assert_eq!(queues, oracle, "{at}");
        let per_queue: BTreeMap<String, usize> = self
            .floor
            .waiting_per_queue()
            .map(|(q, n)| (q.to_owned(), n))
            .collect();
        assert_eq!(per_queue, expected, "{at}");
        for q in QUEUES {
            assert_eq!(
                self.floor.waiting_in(q),
                expected.get(q).copied().unwrap_or(0),
                "{at}"
            );
        }
    }

    /// One random step.
    fn step(&mut self, rng: &mut Rng) {
        match rng.below(100) {
            // Agents come, change and go.
            0..=7 => {
                let a = random_agent(rng);
                self.floor.agents.insert(a.id.clone(), a.clone());
                self.oracle.agents.insert(a.id.clone(), a);
            }
            8 => {
                let id = rng.pick(&AGENTS);
                self.floor.agents.remove(*id);
                self.oracle.agents.remove(*id);
            }
            9..=10 => {
                let id = *rng.pick(&AGENTS);
                let status = *rng.pick(&[AgentStatus::Available, AgentStatus::Break]);
                let since = self.now;
                for agents in [&mut self.floor.agents, &mut self.oracle.agents] {
                    if let Some(a) = agents.get_mut(id) {
                        a.status = status;
                        a.period_since = since;
                    }
                }
            }
            // Queues.
            11..=13 => {
                let q = random_queue(rng);
                self.floor.queues.insert(q.name.clone(), q.clone());
                self.oracle.queues.insert(q.name.clone(), q);
            }
            14 => {
                let name = rng.pick(&QUEUES);
                self.floor.queues.remove(*name);
                self.oracle.queues.remove(*name);
            }
            // New contacts, waiting for up to five minutes already.
            15..=39 => {
                let id = format!("c{:04}", self.next_id);
                self.next_id += 1;
                let queued = self.now - rng.below(300_000) as i64;
                let mut c = contact(&id, ContactState::Queued, random_requirements(rng), queued);
                c.created_at = queued - rng.below(5_000) as i64;
                c.channel =
                    *rng.pick(&[Channel::Chat, Channel::Chat, Channel::Voice, Channel::Email]);
                if rng.chance(10) {
                    c.queued_at = None;
                }
                if rng.chance(15) {
                    c.missed_offer = Some(MissedOffer {
                        agent_id: rng.pick(&AGENTS).to_string(),
                        at: self.now,
                        retry_after: self.now + rng.below(60_000) as i64 - 20_000,
                    });
                }
                self.track(c);
            }
            // A waiting contact changes: re-routed, abandoned, transferred.
            40..=47 => {
                let waiting: Vec<String> = self
                    .contacts
                    .values()
                    .filter(|c| c.state == ContactState::Queued)
                    .map(|c| c.id.clone())
                    .collect();
                if waiting.is_empty() {
                    return;
                }
                let mut c = self.contacts[rng.pick(&waiting)].clone();
                match rng.below(3) {
                    0 => c.requirements = random_requirements(rng),
                    1 => c.state = ContactState::Abandoned,
                    _ => {
                        c.requirements.queue = rng.pick(&QUEUES).to_string();
                        c.queued_at = Some(self.now);
                    }
                }
                self.track(c);
            }
            // Handled contacts move on: answered, wrapped up, resolved,
            // transferred to another agent, or back in line.
            48..=62 => {
                let handled: Vec<String> = self
                    .contacts
                    .values()
                    .filter(|c| {
                        matches!(
                            c.state,
                            ContactState::Offered | ContactState::Assigned | ContactState::WrapUp
                        )
                    })
                    .map(|c| c.id.clone())
                    .collect();
                if handled.is_empty() {
                    return;
                }
                let mut c = self.contacts[rng.pick(&handled)].clone();
                match (c.state, rng.below(5)) {
                    (ContactState::Offered, 0) => {
                        c.missed_offer = c.agent_id.take().map(|agent_id| MissedOffer {
                            agent_id,
                            at: self.now,
                            retry_after: self.now + 30_000,
                        });
                        c.state = ContactState::Queued;
                    }
                    (ContactState::Offered, _) => c.state = ContactState::Assigned,
                    (ContactState::Assigned, 0) => {
                        c.agent_id = Some(rng.pick(&AGENTS).to_string());
                    }
                    (ContactState::Assigned, _) => c.state = ContactState::WrapUp,
                    _ => c.state = ContactState::Resolved,
                }
                self.track(c);
            }
            // Offers dispatch made are recorded (or fail and re-sync).
            63..=74 => {
                let pending = std::mem::take(&mut self.pending);
                for offer in pending {
                    let Some(mut c) = self.contacts.get(&offer.contact_id).cloned() else {
                        continue;
                    };
                    if rng.chance(85) {
                        c.state = ContactState::Offered;
                        c.agent_id = Some(offer.agent_id);
                    }
                    self.track(c);
                }
            }
            // The clock: mostly forward, sometimes back (late events).
            75..=86 => {
                self.now += match rng.below(10) {
                    0 => -(rng.below(100_000) as i64),
                    1 => rng.below(400_000) as i64,
                    _ => rng.below(15_000) as i64,
                };
            }
            _ => {
                let offers = self.dispatch();
                self.pending.extend(offers);
            }
        }
    }
}

#[test]
fn the_indexed_floor_decides_as_the_scanning_floor_did() {
    let mut offers = 0;
    for seed in 1..=8u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let mut rig = Rig::new();
        for step in 0..2_000 {
            rig.step(&mut rng);
            rig.check(step);
        }
        assert!(
            rig.floor.waiting() > 0,
            "seed {seed}: the line never empties"
        );
        offers += rig.offers;
    }
    // The sequences exercise matching, not just bookkeeping.
    assert!(offers > 1_000, "only {offers} offers made");
}

/// A floor with one agent and contacts waiting.
fn floor_with(agents: &[Agent]) -> (Floor, reference::Floor) {
    let (mut floor, mut oracle) = (Floor::default(), reference::Floor::default());
    for a in agents {
        floor.agents.insert(a.id.clone(), a.clone());
        oracle.agents.insert(a.id.clone(), a.clone());
    }
    (floor, oracle)
}

fn billing(min: u8) -> Requirements {
    Requirements {
        queue: "billing".into(),
        priority: 1,
        required: vec![RequiredSkill {
            skill: "billing".into(),
            min,
        }],
        ..Requirements::default()
    }
}

fn with_skill(id: &str, skill: &str, level: u8) -> Agent {
    let mut a = agent(id);
    a.skills.insert(skill.into(), level);
    a
}

#[test]
fn a_relaxation_step_refiles_its_contact_when_due_and_back_when_the_clock_goes_back() {
    // "junior" qualifies only once level 4 is lowered to 2 (after 90 s);
    // "sales" is free but qualifies for nothing, so every pass runs.
    let mut junior = with_skill("junior", "billing", 2);
    junior.status = AgentStatus::Break;
    let (mut floor, mut oracle) = floor_with(&[junior, with_skill("sales", "sales", 5)]);
    let mut req = billing(4);
    req.relaxation = vec![RelaxationStep {
        after_secs: 90,
        actions: vec![Relaxation::LowerProficiency(2)],
    }];
    let c = contact("c1", ContactState::Queued, req, T0);
    floor.track(&c, T0);
    oracle.track(&c, T0);
    let both = |floor: &mut Floor, oracle: &mut reference::Floor, t: i64| {
        let offers = floor.dispatch(t);
        assert_eq!(offers, oracle.dispatch(t), "at t0 + {} ms", t - T0);
        offers
    };
    assert!(both(&mut floor, &mut oracle, T0 + 89_999).is_empty());
    assert_eq!(floor.refiled, 0, "nothing came due before 90 s");
    // Due, but junior is on a break: re-filed at the lower level anyway.
    assert!(both(&mut floor, &mut oracle, T0 + 100_000).is_empty());
    assert_eq!(floor.refiled, 1, "the step came due");
    assert!(both(&mut floor, &mut oracle, T0 + 101_000).is_empty());
    assert_eq!(floor.refiled, 0, "filed once per step");
    for f in [&mut floor.agents, &mut oracle.agents] {
        f.get_mut("junior").expect("junior").status = AgentStatus::Available;
    }
    // A late event takes the clock back before the step: level 4 again.
    assert!(both(&mut floor, &mut oracle, T0 + 50_000).is_empty());
    assert_eq!(floor.refiled, 1, "back before the step");
    let offers = both(&mut floor, &mut oracle, T0 + 90_000);
    assert_eq!(
        offers,
        [Offer {
            contact_id: "c1".into(),
            agent_id: "junior".into()
        }]
    );
}

#[test]
fn raised_priority_and_overflow_reorder_the_line_when_due() {
    // One seat. "early" waits longest; "late" is raised by 5 after 30 s;
    // "moved" overflows to a queue of higher priority after 60 s.
    let setup = || {
        let (mut floor, mut oracle) = floor_with(&[with_skill("a", "billing", 5)]);
        let mut vip: Queue =
            serde_json::from_value(serde_json::json!({"name": "vip"})).expect("queue");
        vip.priority = 2;
        floor.queues.insert("vip".into(), vip.clone());
        oracle.queues.insert("vip".into(), vip);
        let mut late = billing(1);
        late.relaxation = vec![RelaxationStep {
            after_secs: 30,
            actions: vec![Relaxation::RaisePriority(5)],
        }];
        let mut moved = billing(1);
        moved.relaxation = vec![RelaxationStep {
            after_secs: 60,
            actions: vec![Relaxation::Overflow("vip".into())],
        }];
        for (id, req, queued) in [
            ("early", billing(1), T0),
            ("late", late, T0 + 5_000),
            ("moved", moved, T0 + 10_000),
        ] {
            let c = contact(id, ContactState::Queued, req, queued);
            floor.track(&c, queued);
            oracle.track(&c, queued);
        }
        (floor, oracle)
    };
    for (t, first) in [
        (T0 + 20_000, "early"),
        (T0 + 40_000, "late"),
        (T0 + 75_000, "moved"),
    ] {
        let (mut floor, mut oracle) = setup();
        let offers = floor.dispatch(t);
        assert_eq!(offers, oracle.dispatch(t), "at t0 + {} ms", t - T0);
        let ids: Vec<&str> = offers.iter().map(|o| o.contact_id.as_str()).collect();
        assert_eq!(ids, [first], "at t0 + {} ms", t - T0);
    }
    // The same floor through time: each step re-files one contact.
    let (mut floor, _) = setup();
    floor.agents.get_mut("a").expect("a").status = AgentStatus::Break;
    let mut other = with_skill("b", "sales", 1);
    other.status = AgentStatus::Available;
    floor.agents.insert("b".into(), other);
    assert!(floor.dispatch(T0 + 40_000).is_empty());
    assert_eq!(floor.refiled, 1, "late was raised");
    assert!(floor.dispatch(T0 + 75_000).is_empty());
    assert_eq!(floor.refiled, 1, "moved overflowed");
    floor.agents.get_mut("a").expect("a").status = AgentStatus::Available;
    let offers = floor.dispatch(T0 + 76_000);
    assert_eq!(offers[0].contact_id, "moved");
}

#[test]
fn a_backlog_no_free_agent_can_take_is_not_walked() {
    // 10,000 contacts for a skill nobody has, one billing contact.
    let (mut floor, _) = floor_with(&[with_skill("a", "billing", 5)]);
    let tech = Requirements {
        queue: "tech".into(),
        priority: 3,
        required: vec![RequiredSkill {
            skill: "tech".into(),
            min: 1,
        }],
        ..Requirements::default()
    };
    for i in 0..10_000 {
        let c = contact(
            &format!("t{i:05}"),
            ContactState::Queued,
            tech.clone(),
            T0 + i,
        );
        floor.track(&c, T0 + i);
    }
    assert!(floor.dispatch(T0 + 20_000).is_empty());
    assert_eq!(
        floor.walked, 0,
        "a lane nobody qualifies for is skipped whole"
    );
    let c = contact("b1", ContactState::Queued, billing(1), T0 + 20_000);
    floor.track(&c, T0 + 20_000);
    let offers = floor.dispatch(T0 + 20_000);
    assert_eq!(offers.len(), 1);
    assert_eq!(floor.walked, 1, "only the billing contact");
    // The agent is full: the next pass ends before it starts.
    assert!(floor.dispatch(T0 + 21_000).is_empty());
    assert_eq!(floor.walked, 0);
    assert_eq!(floor.waiting(), 10_000);
    assert_eq!(floor.waiting_in("tech"), 10_000);
}
