//! CRM throughput: order-completed events (profile + points + tier)
//! applied to a real Redis, batched (one pipelined round trip of Lua loads
//! and one of Lua commits per 1,000 events) against the baseline of one
//! event at a time (two round trips each), in the same run; and the
//! embedded redb store batched (one write transaction per batch).
//!
//! Also: the review classifier against lowercasing alone, and account
//! manager assignment (one atomic team commit per customer).
//!
//! Run: `scripts/ensure-redis && cargo bench --bench crm`. Redis at
//! `WAIMAI_BENCH_REDIS` (default redis://127.0.0.1:6379/), under a key
//! prefix of its own, deleted nowhere: point it at a scratch server.

mod common;

use std::sync::Arc;

use common::crm_over;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use criterion::{Criterion, Throughput};
use waimai::config::Config;
use waimai::crm::feedback::{Channel, Submitted};
use waimai::crm::managers::{Event, Rule};
use waimai::crm::profile::{Delivered, Item};
use waimai::crm::store::{EmbeddedStore, RedisStore};
use waimai::crm::{Command, Request};

const CUSTOMERS: u64 = 100_000;
const BATCH: u64 = 1_000;
const START_SECS: i64 = 1_795_000_000;

/// The next `n` events: distinct orders, customers in rotation, the clock
/// moving a minute per batch (so tiers and windows move too).
struct Events {
    next: AtomicU64,
}

impl Events {
    fn take(&self, n: u64) -> (i64, Vec<Request>) {
        let first = self.next.fetch_add(n, Ordering::Relaxed);
        let now = START_SECS + (first / BATCH) as i64 * 60;
        let requests = (first..first + n)
            .map(|i| Request {
                customer: format!("c{}", i % CUSTOMERS),
                key: format!("order-{i}:delivered"),
                command: Command::Delivered {
                    order: format!("order-{i}"),
                    delivered: Delivered {
                        merchant: format!("m{}", i % 40),
                        amount_cents: 1500 + (i % 50) as i64 * 100,
                        items: vec![Item {
                            dish: format!("dish-{}", i % 30),
                            category: ["noodles", "rice", "spicy", "dessert"][(i % 4) as usize].into(),
                            quantity: 1,
                            price_cents: 1500,
                        }],
                        region: Some(format!("zone-{}", i % 12)),
                        rider: None,
                        late_secs: None,
                    },
                },
            })
            .collect();
        (now, requests)
    }
}

fn delivered_events(c: &mut Criterion) {
    let url = std::env::var("WAIMAI_BENCH_REDIS").unwrap_or("redis://127.0.0.1:6379/".into());
    let prefix = format!("waimai-bench:{}", std::process::id());
    let redis = crm_over(Arc::new(
        RedisStore::open(&url, &prefix).expect("a Redis to measure"),
    ));
    let dir = std::env::temp_dir().join(format!("waimai-bench-crm-{}", std::process::id()));
    let embedded = crm_over(Arc::new(
        EmbeddedStore::open(&dir.join("crm.redb")).expect("redb opens"),
    ));
    let events = Events {
        next: AtomicU64::new(0),
    };

    let mut g = c.benchmark_group("crm_delivered");
    g.measurement_time(Duration::from_secs(10));
    g.sample_size(20);
    g.throughput(Throughput::Elements(BATCH));
    g.bench_function("redis_batched_1000", |b| {
        b.iter(|| {
            let (now, requests) = events.take(BATCH);
            let out = redis.execute_batch(now, &requests);
            assert!(
                out.iter().all(|r| r.is_ok()),
                "{:?}",
                out.iter().find(|r| r.is_err())
            );
        })
    });
    g.bench_function("baseline_redis_one_at_a_time_1000", |b| {
        b.iter(|| {
            let (now, requests) = events.take(BATCH);
            for r in &requests {
                redis.execute(now, r).expect("applied");
            }
        })
    });
    g.bench_function("embedded_batched_1000", |b| {
        b.iter(|| {
            let (now, requests) = events.take(BATCH);
            let out = embedded.execute_batch(now, &requests);
            assert!(out.iter().all(|r| r.is_ok()));
        })
    });
    g.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

/// The review classifier on real-looking review text, against the floor of
/// lowercasing the same texts (which it must do anyway), same run.
fn classify_reviews(c: &mut Criterion) {
    let rules = Config::load_with_env(None, Vec::new())
        .expect("embedded config")
        .crm
        .feedback;
    let texts = [
        "The noodles were cold and the rider was rude to me.",
        "Waited over an hour, and the soup had spilled all over the bag.",
        "送餐太慢了，等了一个小时，汤还洒了",
        "麻辣香锅很好吃，分量足，骑手很热情",
        "Great spicy noodles, really fast delivery!",
        "ok",
    ];
    let reviews: Vec<Submitted> = (0..BATCH as usize)
        .map(|i| Submitted {
            merchant: "m1".into(),
            rider: Some("7".into()),
            channel: Channel::OrderRating,
            rating: (i % 3 != 0).then_some((i % 5) as u8 + 1),
            text: texts[i % texts.len()].into(),
            late_secs: None,
        })
        .collect();
    let mut g = c.benchmark_group("crm_feedback");
    g.throughput(Throughput::Elements(BATCH));
    g.bench_function("classify_1000", |b| {
        b.iter(|| reviews.iter().filter(|r| rules.classify(r).negative).count())
    });
    g.bench_function("baseline_lowercase_1000", |b| {
        b.iter(|| reviews.iter().map(|r| r.text.to_lowercase().len()).sum::<usize>())
    });
    g.finish();
}

/// New customers given owners by an even split (one atomic team commit
/// each) on the embedded store.
fn assign_owners(c: &mut Criterion) {
    let dir = std::env::temp_dir().join(format!("waimai-bench-teams-{}", std::process::id()));
    let crm = crm_over(Arc::new(
        EmbeddedStore::open(&dir.join("crm.redb")).expect("redb opens"),
    ));
    let members = (0..10).map(|i| format!("mgr{i}")).collect();
    crm.set_team("m1", members, Rule::EvenSplitDaily, 0)
        .expect("team");
    let next = AtomicU64::new(0);
    let mut g = c.benchmark_group("crm_teams");
    g.throughput(Throughput::Elements(100));
    g.bench_function("embedded_assign_100", |b| {
        b.iter(|| {
            for _ in 0..100 {
                let i = next.fetch_add(1, Ordering::Relaxed);
                crm.own(START_SECS, "m1", &format!("c{i}"), &Event::Assign)
                    .expect("assigned");
            }
        })
    });
    g.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    delivered_events(&mut c);
    classify_reviews(&mut c);
    assign_owners(&mut c);
    c.final_summary();
}
