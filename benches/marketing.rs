//! Marketing: a segment evaluated over a million customers (the brief: under
//! 2 s), end to end from a real Redis and from the embedded store, against
//! the floor of matching facts already in memory, same run; and a campaign
//! issuing 100k coupons, its first run timed once and its idempotent re-run
//! (which must issue nothing) measured. Also the analytics report and the
//! zone forecast (pure).
//!
//! Run: `scripts/ensure-redis && cargo bench --bench marketing`. Customers:
//! `WAIMAI_BENCH_SEGMENT_CUSTOMERS` (default 1,000,000), seeded straight
//! through the store's commit (facts only, no profile);
//! `WAIMAI_BENCH_SEGMENT_ONLY=1` skips the campaign. Redis at
//! `WAIMAI_BENCH_REDIS` under a key prefix of its own, deleted at the end.

mod common;

use std::sync::Arc;

use common::crm_over;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use rayon::prelude::*;
use waimai::crm::coupons::{CouponKind, CouponTemplate};
use waimai::crm::loyalty::Tier;
use waimai::crm::marketing::{CampaignSpec, Facts, FactsView, Purpose, Segment};
use waimai::crm::profile::{Delivered, Grade, Item};
use waimai::crm::store::{Changes, Commit, CrmStore, EmbeddedStore, RedisStore};
use waimai::crm::{Command, Request};

const NOW: i64 = 1_795_000_000;
const DAY: i64 = 86_400;
const SEED_BATCH: usize = 5_000;
const CAMPAIGN_CUSTOMERS: usize = 100_000;

/// Customer `i`: a customer of m0 (and one of 40 others), a mix of tiers,
/// recencies, habits and zones.
fn facts(i: usize) -> Facts {
    let ago = (i % 120) as i64;
    let last_day = NOW / DAY - ago;
    let orders = (i % 9) as u32;
    Facts {
        tier: [Tier::Regular, Tier::Regular, Tier::Silver, Tier::Gold][i % 4],
        orders: u64::from(orders) * 3,
        last_order_secs: (orders > 0).then_some(last_day * DAY),
        days: (0..orders)
            .map(|d| (last_day - i64::from(d) * 3, 1, 2500))
            .collect(),
        tags: [&["likes:spicy"][..], &["likes:noodles", "likes:dessert"], &[]][i % 3]
            .iter()
            .map(|t| t.to_string())
            .collect(),
        regions: vec![format!("zone-{}", i % 12)],
        merchants: vec!["m0".into(), format!("m{}", 1 + i % 40)],
    }
}

fn seed(store: &dyn CrmStore, n: usize) {
    for start in (0..n).step_by(SEED_BATCH) {
        let commits: Vec<Commit> = (start..(start + SEED_BATCH).min(n))
            .map(|i| Commit {
                customer: format!("c{i:07}"),
                expected_version: 0,
                key: "seed".into(),
                stored: "{}".into(),
                docs: Changes::default(),
                entries: Vec::new(),
                index: Vec::new(),
                facts: facts(i),
            })
            .collect();
        store.commit(&commits).expect("seeded");
    }
}

fn win_back() -> Segment {
    Segment {
        grades: vec![Grade::B, Grade::C],
        tags_any: vec!["likes:spicy".into()],
        last_order_days_min: Some(14),
        ..Segment::default()
    }
}

fn segment_1m(c: &mut Criterion) {
    let n: usize = std::env::var("WAIMAI_BENCH_SEGMENT_CUSTOMERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let url = std::env::var("WAIMAI_BENCH_REDIS").unwrap_or("redis://127.0.0.1:6379/".into());
    let prefix = format!("waimai-bench-seg:{}", std::process::id());
    let redis_store: Arc<dyn CrmStore> =
        Arc::new(RedisStore::open(&url, &prefix).expect("a Redis to measure"));
    let dir = std::env::temp_dir().join(format!("waimai-bench-seg-{}", std::process::id()));
    let embedded_store: Arc<dyn CrmStore> =
        Arc::new(EmbeddedStore::open(&dir.join("crm.redb")).expect("redb opens"));
    let t = Instant::now();
    seed(redis_store.as_ref(), n);
    eprintln!(
        "seeded {n} customers into Redis in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let t = Instant::now();
    seed(embedded_store.as_ref(), n);
    eprintln!(
        "seeded {n} customers into redb in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let redis = crm_over(redis_store.clone());
    let embedded = crm_over(embedded_store);
    let segment = win_back();
    // The oracle: the same filter over the generated facts.
    let rules = redis.config().grades.clone();
    let expected = (0..n)
        .filter(|&i| segment.matches("m0", &facts(i), NOW, &rules))
        .count();
    let in_memory: Vec<String> = (0..n).map(|i| facts(i).encode()).collect();
    let prepared = segment.prepare("m0");

    let mut g = c.benchmark_group("segment_1m");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(20));
    g.throughput(Throughput::Elements(n as u64));
    g.bench_function("baseline_match_in_memory", |b| {
        b.iter(|| {
            let hits = in_memory
                .par_iter()
                .filter(|text| FactsView::parse(text).is_some_and(|v| prepared.matches(&v, NOW, &rules)))
                .count();
            assert_eq!(hits, expected);
        })
    });
    g.bench_function("baseline_redis_fetch_only", |b| {
        b.iter(|| {
            let seen = std::sync::atomic::AtomicUsize::new(0);
            redis_store
                .scan_facts(&|chunk| {
                    seen.fetch_add(chunk.len(), std::sync::atomic::Ordering::Relaxed);
                    Ok(())
                })
                .expect("scanned");
            assert_eq!(seen.into_inner(), n);
        })
    });
    g.bench_function("redis_end_to_end", |b| {
        b.iter(|| {
            assert_eq!(
                redis.segment("m0", &segment, NOW).expect("evaluated").len(),
                expected
            )
        })
    });
    g.bench_function("embedded_end_to_end", |b| {
        b.iter(|| {
            assert_eq!(
                embedded.segment("m0", &segment, NOW).expect("evaluated").len(),
                expected
            )
        })
    });
    g.finish();
    eprintln!("segment: {expected} of {n} customers");
    drop(redis);
    delete_prefix(&url, &prefix);
    let _ = std::fs::remove_dir_all(&dir);
}

/// 100k real customers of m0 (one delivered order each), then a campaign
/// giving each a coupon: the first run timed, the re-run measured.
fn campaign_100k(c: &mut Criterion) {
    if std::env::var_os("WAIMAI_BENCH_SEGMENT_ONLY").is_some() {
        return;
    }
    let url = std::env::var("WAIMAI_BENCH_REDIS").unwrap_or("redis://127.0.0.1:6379/".into());
    let prefix = format!("waimai-bench-cmp:{}", std::process::id());
    let crm = crm_over(Arc::new(
        RedisStore::open(&url, &prefix).expect("a Redis to measure"),
    ));
    let t = Instant::now();
    let requests: Vec<Request> = (0..CAMPAIGN_CUSTOMERS)
        .map(|i| Request {
            customer: format!("c{i:06}"),
            key: "o1".into(),
            command: Command::Delivered {
                order: format!("o{i}"),
                delivered: Delivered {
                    merchant: "m0".into(),
                    amount_cents: 2500,
                    items: vec![Item {
                        dish: "noodles".into(),
                        category: "noodles".into(),
                        quantity: 1,
                        price_cents: 2500,
                    }],
                    region: Some("zone-1".into()),
                    rider: None,
                    late_secs: None,
                },
            },
        })
        .collect();
    for chunk in requests.chunks(1000) {
        assert!(crm.execute_batch(NOW - 40 * DAY, chunk).iter().all(|r| r.is_ok()));
    }
    eprintln!(
        "seeded {CAMPAIGN_CUSTOMERS} customers in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    crm.put_template(CouponTemplate {
        id: "m0-back".into(),
        kind: CouponKind::Festival,
        merchant: Some("m0".into()),
        min_spend_cents: 0,
        off_cents: 500,
        valid_days: 30,
        starts_at_secs: None,
        ends_at_secs: None,
        per_customer_cap: 0,
        total_cap: None,
    })
    .expect("template");
    let spec = CampaignSpec {
        id: "back".into(),
        purpose: Purpose::WinBack,
        segment: Segment {
            last_order_days_min: Some(30),
            ..Segment::default()
        },
        template: Some("m0-back".into()),
        message: Some("We miss you".into()),
        holdout_percent: 0,
    };
    crm.define_campaign("m0", spec, NOW).expect("defined");
    let t = Instant::now();
    let first = crm.run_campaign("m0", "back", NOW).expect("ran");
    let secs = t.elapsed().as_secs_f64();
    assert_eq!(first.issued_now as usize, CAMPAIGN_CUSTOMERS);
    eprintln!(
        "campaign first run: {} coupons and {} messages in {secs:.2} s ({:.0} coupons/s)",
        first.issued_now,
        first.messages_new,
        first.issued_now as f64 / secs
    );
    let mut g = c.benchmark_group("campaign_100k");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(30));
    g.throughput(Throughput::Elements(CAMPAIGN_CUSTOMERS as u64));
    g.bench_function("redis_rerun_issues_nothing", |b| {
        b.iter(|| {
            let again = crm.run_campaign("m0", "back", NOW).expect("ran");
            assert_eq!((again.issued_now, again.messages_new), (0, 0));
            assert_eq!(again.already_issued as usize, CAMPAIGN_CUSTOMERS);
        })
    });
    g.finish();
    drop(crm);
    delete_prefix(&url, &prefix);
}

/// A busy merchant's 28 days (50k orders) into its report, against the
/// floor of summing the amounts; and a forecast over 500 zones × 14 days.
fn analytics_report(c: &mut Criterion) {
    use waimai::crm::analytics::{Sale, forecast, report};
    let sales: Vec<Sale> = (0..50_000i64)
        .map(|i| Sale {
            order: format!("o{i}"),
            merchant: "m0".into(),
            at_secs: NOW - (i * 48) % (28 * DAY),
            amount_cents: 1500 + i % 40 * 100,
            items: vec![(format!("dish-{}", i % 60), 1 + (i % 3) as u32, 1200)],
            zone: Some(format!("zone-{}", i % 12)),
            rider: Some(format!("{}", i % 80)),
            late_secs: Some(i % 900 - 600),
        })
        .collect();
    let ratings: Vec<(String, u8)> = (0..5_000)
        .map(|i| (format!("{}", i % 80), (i % 5 + 1) as u8))
        .collect();
    let demand: Vec<(String, i64, u64)> = (0..500 * 14 * 24)
        .map(|i: i64| {
            (
                format!("grid:{}", i % 500),
                NOW / 3600 - 1 - i / 500,
                (i % 7) as u64,
            )
        })
        .collect();
    // A real zone: every sale's local day and hour costs an offset lookup.
    let city = waimai::base::CityTime::new("Asia/Shanghai").expect("bundled zone");
    let mut g = c.benchmark_group("analytics");
    g.throughput(Throughput::Elements(sales.len() as u64));
    g.bench_function("baseline_sum_amounts_50k", |b| {
        b.iter(|| std::hint::black_box(sales.iter().map(|s| s.amount_cents).sum::<i64>()))
    });
    g.bench_function("report_50k_sales", |b| {
        b.iter(|| std::hint::black_box(report(&city, &sales, &ratings, NOW, 28)))
    });
    g.throughput(Throughput::Elements(demand.len() as u64));
    g.bench_function("forecast_500_zones_14_days", |b| {
        b.iter(|| std::hint::black_box(forecast(&city, &demand, NOW, 14, 3)))
    });
    g.finish();
}

/// Deletes the bench's keys (it shares the server with others).
fn delete_prefix(url: &str, prefix: &str) {
    let Ok(mut conn) = redis::Client::open(url).and_then(|c| c.get_connection()) else {
        return;
    };
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}:*"))
        .query(&mut conn)
        .unwrap_or_default();
    for chunk in keys.chunks(10_000) {
        let _: Result<(), _> = redis::cmd("UNLINK").arg(chunk).query(&mut conn);
    }
}

criterion::criterion_group!(benches, analytics_report, segment_1m, campaign_100k);

criterion::criterion_main!(benches);
