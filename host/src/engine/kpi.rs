//! KPI samples and their aggregates. Samples emitted by KPI definitions are
//! stored (so corrections can find them and aggregates can be rebuilt at
//! start) and folded at once into in-memory per-minute buckets per
//! dimension set, so a query reads buckets, never samples.

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;

use serde::{Deserialize, Serialize};

use crate::plugins::kpi as wit;
use crate::store::{Store, StoreError, Writes};

pub(super) const SAMPLES: &str = "kpi_samples";
/// The finest bucket: one minute.
pub const BUCKET_MS: i64 = 60_000;
/// Roll-up levels kept for every measure: minutes, hours, days (UTC). A
/// query reads the coarsest level its window and bucket size align with.
const LEVELS: [i64; 3] = [BUCKET_MS, 3_600_000, 86_400_000];

/// Dimension sets in order, so a query sums them in the same order every
/// time (floating-point sums are then reproducible to the last bit).
type Level = BTreeMap<i64, BTreeMap<Dims, Agg>>;

/// How samples of a measure combine (mirrors the WIT `aggregation`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Aggregation {
    Sum,
    Mean,
    Ratio,
    Min,
    Max,
}

impl From<wit::Aggregation> for Aggregation {
    fn from(a: wit::Aggregation) -> Self {
        match a {
            wit::Aggregation::Sum => Aggregation::Sum,
            wit::Aggregation::Mean => Aggregation::Mean,
            wit::Aggregation::Ratio => Aggregation::Ratio,
            wit::Aggregation::Min => Aggregation::Min,
            wit::Aggregation::Max => Aggregation::Max,
        }
    }
}

/// A measure a KPI definition declared.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MeasureInfo {
    /// The slot (KPI definition) that produces it.
    pub slot: String,
    pub name: String,
    pub unit: String,
    pub aggregation: Aggregation,
    pub description: String,
}

/// A stored sample.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct Stored {
    pub at: i64,
    pub dims: Vec<(String, String)>,
    pub value: f64,
    pub denominator: f64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Agg {
    count: f64,
    sum: f64,
    denominator: f64,
    min: Option<f64>,
    max: Option<f64>,
}

impl Agg {
    fn add(&mut self, s: &Stored, sign: f64) {
        self.count += sign;
        self.sum += sign * s.value;
        self.denominator += sign * s.denominator;
        if sign > 0.0 {
            self.min = Some(self.min.map_or(s.value, |m| m.min(s.value)));
            self.max = Some(self.max.map_or(s.value, |m| m.max(s.value)));
        }
    }

    fn merge(&mut self, o: &Agg) {
        self.count += o.count;
        self.sum += o.sum;
        self.denominator += o.denominator;
        self.min = match (self.min, o.min) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.max = match (self.max, o.max) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
    }

    fn value(&self, how: Aggregation) -> Option<f64> {
        match how {
            Aggregation::Sum => Some(self.sum),
            Aggregation::Mean => (self.count > 0.0).then(|| self.sum / self.count),
            Aggregation::Ratio => (self.denominator != 0.0).then(|| self.sum / self.denominator),
            Aggregation::Min => self.min,
            Aggregation::Max => self.max,
        }
    }
}

type Dims = Vec<(String, String)>;

/// KPI aggregates in memory: (slot, measure) -> minute -> dimension set ->
/// running sum, count, denominator, min and max. What the engine folds
/// samples into and answers queries from.
#[derive(Debug, Default)]
pub struct Aggregates {
    series: HashMap<(String, String), [Level; 3]>,
    pub(super) measures: BTreeMap<(String, String), MeasureInfo>,
}

/// A change to apply to the aggregates once its commit succeeded.
#[derive(Debug, Clone)]
pub(super) struct Change {
    slot: String,
    measure: String,
    key: Vec<u8>,
    old: Option<Stored>,
    new: Option<Stored>,
}

fn sample_key(slot: &str, measure: &str, id: &str) -> Vec<u8> {
    let mut k = slot.as_bytes().to_vec();
    k.push(0);
    k.extend_from_slice(measure.as_bytes());
    k.push(0);
    k.extend_from_slice(id.as_bytes());
    k
}

fn stored(s: &wit::Sample, at: i64) -> Stored {
    let mut dims: Dims = s
        .dimensions
        .iter()
        .map(|kv| (kv.key.clone(), kv.value.clone()))
        .collect();
    dims.sort();
    Stored {
        at,
        dims,
        value: s.value,
        denominator: s.denominator,
    }
}

/// Turn `emissions` of slot `slot` at time `at` into writes and changes.
/// Corrections read the sample they replace; `pending` holds samples
/// written earlier in the same commit. Samples without an id can never be
/// corrected, so they are stored together, one key per call (a batch key:
/// empty measure), and nothing is read for them.
pub(super) fn plan(
    store: &dyn Store,
    slot: &str,
    emissions: Vec<wit::Emission>,
    at: i64,
    writes: &mut Writes,
    changes: &mut Vec<Change>,
) -> Result<(), StoreError> {
    let mut batch: Vec<(String, Stored)> = Vec::new();
    for e in emissions {
        if let wit::Emission::Record(s) = &e
            && s.id.is_none()
        {
            let new = stored(s, at);
            changes.push(Change {
                slot: slot.to_owned(),
                measure: s.measure.clone(),
                key: Vec::new(),
                old: None,
                new: Some(new.clone()),
            });
            batch.push((s.measure.clone(), new));
            continue;
        }
        let replace = matches!(e, wit::Emission::Replace(_));
        let (measure, id, new) = match e {
            wit::Emission::Record(s) => {
                let id = match &s.id {
                    Some(id) => format!("i:{id}"),
                    None => format!("n:{:016x}", store.generate_id()?),
                };
                (s.measure.clone(), id, Some(stored(&s, at)))
            }
            wit::Emission::Replace(s) => {
                let id = format!("i:{}", s.id.clone().unwrap_or_default());
                (s.measure.clone(), id, Some(stored(&s, at)))
            }
            wit::Emission::Retract(r) => (r.measure, format!("i:{}", r.id), None),
        };
        let key = sample_key(slot, &measure, &id);
        // A sample written earlier in this commit is the one to correct.
        let earlier = changes
            .iter()
            .rev()
            .find(|c| c.key == key)
            .map(|c| c.new.clone());
        let old: Option<Stored> = match earlier {
            Some(o) => o,
            None => store
                .get(SAMPLES, &key)?
                .map(|v| super::decode(&v, "kpi sample"))
                .transpose()?,
        };
        if replace && old.is_none() {
            // Nothing to replace (never recorded, or retracted): the WIT
            // says a replacement corrects an earlier sample, so none is
            // made up in the current bucket.
            continue;
        }
        let new = new.map(|mut n| {
            // A replacement stays in the bucket of the sample it replaces.
            if let Some(o) = &old {
                n.at = o.at;
            }
            n
        });
        match &new {
            Some(n) => writes.put(SAMPLES, key.clone(), super::encode(n)?),
            None => writes.remove(SAMPLES, key.clone()),
        }
        changes.push(Change {
            slot: slot.to_owned(),
            measure,
            key,
            old,
            new,
        });
    }
    if !batch.is_empty() {
        let id = format!("b:{:016x}", store.generate_id()?);
        writes.put(SAMPLES, sample_key(slot, "", &id), super::encode(&batch)?);
    }
    Ok(())
}

/// The slot of the measures the host itself records (not a KPI definition).
pub const HOST_SLOT: &str = "engine";
/// Offers that expired unanswered (a host measure: sum, one per missed offer).
pub const MISSED_OFFERS: &str = "missed_offers";

/// The measures the host records itself.
pub(super) fn host_measures() -> Vec<MeasureInfo> {
    vec![MeasureInfo {
        slot: HOST_SLOT.into(),
        name: MISSED_OFFERS.into(),
        unit: "count".into(),
        aggregation: Aggregation::Sum,
        description:
            "Offers that expired before the agent answered (the queue's offer_timeout_secs), \
                      by queue, agent, team and channel."
                .into(),
    }]
}

/// A sample the host records itself (`id` keeps it unique and replayable).
pub(super) fn plan_host_sample(
    measure: &str,
    id: &str,
    at: i64,
    mut dims: Vec<(String, String)>,
    value: f64,
    writes: &mut Writes,
    changes: &mut Vec<Change>,
) -> Result<(), StoreError> {
    dims.sort();
    let key = sample_key(HOST_SLOT, measure, &format!("i:{id}"));
    let new = Stored {
        at,
        dims,
        value,
        denominator: 0.0,
    };
    writes.put(SAMPLES, key.clone(), super::encode(&new)?);
    changes.push(Change {
        slot: HOST_SLOT.to_owned(),
        measure: measure.to_owned(),
        key,
        old: None,
        new: Some(new),
    });
    Ok(())
}

impl Aggregates {
    /// Declare a measure (as a KPI definition's `measures()` does).
    pub fn declare(&mut self, m: MeasureInfo) {
        self.measures.insert((m.slot.clone(), m.name.clone()), m);
    }

    /// Fold one new sample in (for imports and benchmarks; the engine
    /// folds what KPI definitions emit).
    pub fn record(
        &mut self,
        slot: &str,
        measure: &str,
        at: i64,
        mut dims: Vec<(String, String)>,
        value: f64,
        denominator: f64,
    ) {
        dims.sort();
        self.apply(&[Change {
            slot: slot.to_owned(),
            measure: measure.to_owned(),
            key: Vec::new(),
            old: None,
            new: Some(Stored {
                at,
                dims,
                value,
                denominator,
            }),
        }]);
    }

    pub(super) fn apply(&mut self, changes: &[Change]) {
        for c in changes {
            let series = self
                .series
                .entry((c.slot.clone(), c.measure.clone()))
                .or_default();
            for (s, sign) in [(&c.old, -1.0), (&c.new, 1.0)] {
                if let Some(s) = s {
                    for (level, width) in series.iter_mut().zip(LEVELS) {
                        level
                            .entry(s.at.div_euclid(width) * width)
                            .or_default()
                            .entry(s.dims.clone())
                            .or_default()
                            .add(s, sign);
                    }
                }
            }
        }
    }

    /// Rebuild from the stored samples.
    pub(super) fn load(&mut self, store: &dyn Store) -> Result<usize, StoreError> {
        let mut n = 0;
        for kv in store.scan(SAMPLES, (Bound::Unbounded, Bound::Unbounded), false) {
            let (k, v) = kv?;
            let mut parts = k.splitn(3, |b| *b == 0);
            let slot = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
            let measure = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
            if measure.is_empty() {
                // A batch of samples without ids, from one call.
                let batch: Vec<(String, Stored)> = super::decode(&v, "kpi sample batch")?;
                for (measure, s) in batch {
                    self.apply(&[Change {
                        slot: slot.clone(),
                        measure,
                        key: Vec::new(),
                        old: None,
                        new: Some(s),
                    }]);
                    n += 1;
                }
                continue;
            }
            let s: Stored = super::decode(&v, "kpi sample")?;
            self.apply(&[Change {
                slot,
                measure,
                key: Vec::new(),
                old: None,
                new: Some(s),
            }]);
            n += 1;
        }
        Ok(n)
    }

    /// Aggregate one measure over a window, in buckets, grouped and
    /// filtered by dimensions. Reads buckets, never samples.
    pub fn query(&self, q: &KpiQuery) -> Result<KpiSeries, String> {
        let matching: Vec<&MeasureInfo> = self
            .measures
            .values()
            .filter(|m| m.name == q.measure && q.slot.as_ref().is_none_or(|s| &m.slot == s))
            .collect();
        if matching.len() > 1 {
            let slots: Vec<&str> = matching.iter().map(|m| m.slot.as_str()).collect();
            return Err(format!(
                "KPI measure `{}` is defined by more than one KPI definition (slots {}): pass `slot` to say which",
                q.measure,
                slots.join(", ")
            ));
        }
        let info = matching.first().map(|m| (*m).clone()).ok_or_else(|| {
            let known: Vec<String> = self
                .measures
                .values()
                .map(|m| format!("{}/{}", m.slot, m.name))
                .collect();
            format!(
                "no KPI measure `{}`; declared measures: {}",
                q.measure,
                if known.is_empty() {
                    "none (is a KPI definition active?)".to_owned()
                } else {
                    known.join(", ")
                }
            )
        })?;
        if q.bucket_ms < BUCKET_MS || q.bucket_ms % BUCKET_MS != 0 {
            return Err(format!(
                "`bucket` must be a whole number of minutes ({BUCKET_MS} ms); got {} ms",
                q.bucket_ms
            ));
        }
        if q.to <= q.from {
            return Err("`to` must be after `from`".into());
        }
        let mut points: BTreeMap<(i64, Vec<(String, String)>), Agg> = BTreeMap::new();
        if let Some(levels) = self.series.get(&(info.slot.clone(), info.name.clone())) {
            // The coarsest level whose buckets tile the query's exactly.
            let (series, width) = levels
                .iter()
                .zip(LEVELS)
                .rev()
                .find(|(_, w)| q.from % w == 0 && q.to % w == 0 && q.bucket_ms % w == 0)
                .unwrap_or((&levels[0], BUCKET_MS));
            let start = q.from.div_euclid(width) * width;
            for (minute, by_dims) in series.range(start..q.to) {
                let bucket = q.from + (minute - q.from).div_euclid(q.bucket_ms) * q.bucket_ms;
                for (dims, agg) in by_dims {
                    if !q
                        .filter
                        .iter()
                        .all(|(k, v)| dims.iter().any(|(dk, dv)| dk == k && dv == v))
                    {
                        continue;
                    }
                    let group: Vec<(String, String)> = q
                        .group_by
                        .iter()
                        .map(|g| {
                            let v = dims
                                .iter()
                                .find(|(k, _)| k == g)
                                .map_or(String::new(), |(_, v)| v.clone());
                            (g.clone(), v)
                        })
                        .collect();
                    points
                        .entry((bucket.max(q.from), group))
                        .or_default()
                        .merge(agg);
                }
            }
        }
        Ok(KpiSeries {
            measure: info.clone(),
            points: points
                .into_iter()
                .map(|((start, group), agg)| KpiPoint {
                    start,
                    group: group.into_iter().collect(),
                    value: agg.value(info.aggregation),
                    samples: agg.count.round() as u64,
                })
                .collect(),
        })
    }
}

/// A KPI query: one measure over a time window, in buckets, grouped by
/// dimensions and filtered on dimension values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct KpiQuery {
    pub measure: String,
    /// The KPI definition slot, when two define the same measure name.
    #[serde(default)]
    pub slot: Option<String>,
    pub from: i64,
    pub to: i64,
    /// Bucket size in ms: whole minutes.
    pub bucket_ms: i64,
    #[serde(default)]
    pub group_by: Vec<String>,
    #[serde(default, deserialize_with = "crate::domain::unique_keys")]
    pub filter: BTreeMap<String, String>,
}

/// One bucket of one group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct KpiPoint {
    pub start: i64,
    pub group: BTreeMap<String, String>,
    /// `None` when undefined (a mean or ratio of nothing).
    pub value: Option<f64>,
    pub samples: u64,
}

/// The answer to a [`KpiQuery`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct KpiSeries {
    pub measure: MeasureInfo,
    pub points: Vec<KpiPoint>,
}
