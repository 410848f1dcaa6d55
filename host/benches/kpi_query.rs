//! KPI queries over the aggregates of 1,000,000 contacts (one service-level
//! sample each, over 30 days, 10 queues x 5 channels x 200 agents): the
//! window, bucket and grouping a dashboard asks for.
//! `cargo bench -p switchboard --bench kpi_query`

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use switchboard::engine::{Aggregates, Aggregation, KpiQuery, MeasureInfo};

const DAY: i64 = 86_400_000;
/// Midnight UTC, 2023-11-14: dashboards ask for whole hours and days.
const T0: i64 = 19_675 * DAY;
const CONTACTS: i64 = 1_000_000;

fn aggregates() -> Aggregates {
    let mut agg = Aggregates::default();
    agg.declare(MeasureInfo {
        slot: "core-kpis".into(),
        name: "service_level".into(),
        unit: "ratio".into(),
        aggregation: Aggregation::Ratio,
        description: String::new(),
    });
    let channels = ["voice", "email", "chat", "sms", "social"];
    for i in 0..CONTACTS {
        let at = T0 + i * (30 * DAY / CONTACTS);
        let dims = vec![
            ("queue".to_owned(), format!("q{}", i % 10)),
            ("channel".to_owned(), channels[(i % 5) as usize].to_owned()),
            ("agent".to_owned(), format!("a{}", i % 200)),
        ];
        agg.record(
            "core-kpis",
            "service_level",
            at,
            dims,
            (i % 5 != 0) as u8 as f64,
            1.0,
        );
    }
    agg
}

fn query(from: i64, to: i64, bucket_ms: i64, group_by: &[&str]) -> KpiQuery {
    KpiQuery {
        measure: "service_level".into(),
        slot: None,
        from,
        to,
        bucket_ms,
        group_by: group_by.iter().map(|g| g.to_string()).collect(),
        filter: Default::default(),
    }
}

fn bench(c: &mut Criterion) {
    let agg = aggregates();
    let mut g = c.benchmark_group("kpi_query_1m_contacts");
    let today = query(T0 + 29 * DAY, T0 + 30 * DAY, 3_600_000, &["queue"]);
    g.bench_function("one day, hourly, by queue", |b| {
        b.iter(|| black_box(agg.query(black_box(&today)).expect("query")))
    });
    let month = query(T0, T0 + 30 * DAY, DAY, &["queue"]);
    g.bench_function("30 days, daily, by queue", |b| {
        b.iter(|| black_box(agg.query(black_box(&month)).expect("query")))
    });
    let total = query(T0, T0 + 30 * DAY, 30 * DAY, &[]);
    g.bench_function("30 days, one number", |b| {
        b.iter(|| black_box(agg.query(black_box(&total)).expect("query")))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
